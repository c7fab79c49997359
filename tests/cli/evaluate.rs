//! `snn evaluate` labels the neurons on the training split and tests on the test split.
//!
//! A labelling on the test split would score higher than the real one (the neurons' labels
//! would be fitted to the very images they are scored on) and no other test would notice.
//! Here one trained network is evaluated on two data directories holding the same images:
//! the embedded subset as it is, and a copy whose *training* labels are shifted by one
//! (digit d labelled d + 1 mod 10). Labelled on the training split, the copy moves every
//! neuron's label by one, so nearly every test prediction is wrong; labelled on the test
//! split, the copy would score exactly as the original.

use crate::common::{json_ok, snn, tmp};
use flate2::read::GzDecoder;
use std::io::Read;
use std::path::Path;

const SUBSET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist-subset");

/// The embedded subset's file `name`, unpacked.
fn subset_file(name: &str) -> Vec<u8> {
    let gz = std::fs::read(Path::new(SUBSET).join(format!("{name}.gz"))).unwrap();
    let mut out = vec![];
    GzDecoder::new(&gz[..]).read_to_end(&mut out).unwrap();
    out
}

/// The subset, unpacked into `dir`, with the training labels shifted by `shift` (mod 10).
pub(crate) fn write_subset(dir: &Path, shift: u8) {
    std::fs::create_dir_all(dir).unwrap();
    for name in [
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ] {
        let mut bytes = subset_file(name);
        if name == "train-labels-idx1-ubyte" {
            // IDX: 8 header bytes (magic, count), then one byte per label.
            for l in &mut bytes[8..] {
                *l = (*l + shift) % 10;
            }
        }
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

fn evaluate(run: &Path, data: &Path) -> f64 {
    let out = snn()
        .args(["evaluate", "--quiet", "--label-samples", "300"])
        .args(["--test-samples", "200", "--run"])
        .arg(run)
        .arg("--data")
        .arg(data)
        .output()
        .unwrap();
    let j = json_ok(&out);
    assert_eq!(j["label_images"], 300, "{j}");
    assert_eq!(j["test_images"], 200, "{j}");
    j["accuracy_all_activity"].as_f64().unwrap()
}

pub fn evaluate_labels_on_the_training_split() {
    let dir = tmp("evaluate-split");
    let run = dir.join("run");
    let out = snn()
        .args(["train", "--preset", "dc100", "--seed", "3", "--quiet"])
        .args(["--train-samples", "300", "--label-samples", "300"])
        .args(["--test-samples", "50", "--out"])
        .arg(&run)
        .output()
        .unwrap();
    json_ok(&out);

    let (plain, shifted) = (dir.join("plain"), dir.join("shifted"));
    write_subset(&plain, 0);
    write_subset(&shifted, 1);
    let acc_plain = evaluate(&run, &plain);
    let acc_shifted = evaluate(&run, &shifted);
    eprintln!("accuracy: plain labels {acc_plain:.3}, training labels shifted {acc_shifted:.3}");
    // Chance is 10 %; 300 images teach 100 neurons enough to pass 40 %.
    assert!(
        acc_plain >= 0.4,
        "accuracy {acc_plain} with the plain subset"
    );
    assert!(
        acc_shifted <= 0.15,
        "accuracy {acc_shifted} with shifted training labels (plain {acc_plain}): \
         the labels did not come from the training split"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
