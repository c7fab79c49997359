//! The run directory: locked against a second run, checked before the data is read, never
//! left empty by a run that failed, and `--networks` bounded before anything is written.

use super::helpers::*;

pub fn a_second_run_into_a_locked_directory_is_refused_at_once() {
    let t = TempDir::new("lock");
    let run = t.path("run");
    let mut first = snn(&["train", "--out", run.to_str().unwrap(), "--quiet"]);
    first.args([
        "--train-samples",
        "300",
        "--label-samples",
        "2",
        "--test-samples",
        "2",
    ]);
    let mut first = first.stdout(std::process::Stdio::null()).spawn().unwrap();
    // Wait until the first run holds its lock.
    let lock = run.join(".snn-lock");
    let t0 = std::time::Instant::now();
    while !lock.exists() {
        assert!(
            t0.elapsed().as_secs() < 60,
            "the first run never locked {run:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut second = snn(&["train", "--out", run.to_str().unwrap()]);
    second.args(TINY);
    let err = fails(second);
    has_all(
        &err,
        &[
            run.to_str().unwrap(),
            "in use by another snn process",
            "--out",
        ],
    );
    assert!(first.wait().unwrap().success(), "the first run failed");
    assert!(run.join(NETWORK_FILE).is_file());
}

pub fn a_data_error_leaves_no_empty_run_directory() {
    let t = TempDir::new("nodir");
    let run = t.path("run");
    let mut c = snn(&["train", "--out", run.to_str().unwrap()]);
    c.args(["--data", t.path("no-such-mnist").to_str().unwrap()]);
    c.args(TINY);
    fails(c);
    assert!(!run.exists(), "left behind: {:?}", t.entries("run"));
}

pub fn too_many_networks_are_refused_before_anything_is_written() {
    let t = TempDir::new("networks");
    let run = t.path("run");
    let mut c = snn(&[
        "train",
        "--networks",
        "100000000",
        "--out",
        run.to_str().unwrap(),
    ]);
    c.args(TINY);
    // Refused before the networks' configs are made (10^8 of them do not fit in memory).
    let err = fails(c);
    has_all(&err, &["--networks 100000000", "at most"]);
    assert!(!run.exists(), "written: {:?}", t.entries("run"));
}

/// A run whose training would pass the step clock (32 bits) is refused before it starts, not
/// after its hours of training: 100 s presentations (200,000 steps of 0.5 ms) of 10,000
/// images over 3 epochs.
pub fn a_run_past_the_step_clock_is_refused_before_training() {
    let t = TempDir::new("clock");
    let cfg = preset_toml(&t, "long.toml", |s| {
        s.replace("present_ms = 350.0", "present_ms = 100000.0")
    });
    assert!(
        std::fs::read_to_string(&cfg)
            .unwrap()
            .contains("present_ms = 100000.0"),
        "the preset's present_ms was not replaced"
    );
    let mut c = snn(&["train", "--config", cfg.to_str().unwrap(), "--quiet"]);
    c.args(["--train-samples", "10000", "--epochs", "3"]);
    c.arg("--out").arg(t.path("run"));
    let e = fails(c);
    has_all(&e, &["10000 images", "step clock", "fewer epochs"]);
    assert!(!t.path("run").join("checkpoint.npz").exists());
}

pub fn seeds_that_would_wrap_are_refused() {
    let mut c = snn(&["train", "--seed", "4294967295", "--networks", "2"]);
    c.args(TINY);
    let err = fails(c);
    has_all(&err, &["--seed", "4294967295", "at most 4294967294"]);
}

pub fn more_training_images_than_the_set_holds_are_refused() {
    let t = TempDir::new("clamp");
    let mut c = snn(&["train", "--out", t.path("run").to_str().unwrap()]);
    c.args(["--train-samples", "100000", "--quiet"]);
    let err = fails(c);
    has_all(&err, &["--train-samples 100000", "only 10000 images"]);
}

/// Networks of the largest layer a run takes (16,384 excitatory neurons, whose lateral
/// inhibition has n·(n − 1) synapses), as many as no machine holds: refused before
/// anything is allocated or written.
pub fn a_cpu_network_larger_than_memory_is_refused_before_allocating() {
    let t = TempDir::new("huge");
    let cfg = preset_toml(&t, "huge.toml", |s| {
        s.replace("n_exc = 100", "n_exc = 16384")
    });
    let mut c = snn(&[
        "train",
        "--networks",
        "64",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    c.args(TINY).arg("--out").arg(t.path("run"));
    let e = fails(c);
    has_all(
        &e,
        &["--networks 64", "of memory", "16384 excitatory neurons"],
    );
    assert!(!t.path("run").exists());
}

/// A layer larger than a checkpoint holds (the lateral inhibition's n·(n − 1) weights in
/// one array of at most 1 GiB) is refused before training, not after hours of it, when the
/// run could not resume; so is one whose synapses pass 32-bit indices.
pub fn a_layer_past_what_a_checkpoint_holds_is_refused() {
    let t = TempDir::new("layer");
    for n in ["16385", "4000000000"] {
        let cfg = preset_toml(&t, &format!("n{n}.toml"), |s| {
            s.replace("n_exc = 100", &format!("n_exc = {n}"))
        });
        let mut c = snn(&["train", "--config", cfg.to_str().unwrap()]);
        c.args(TINY).arg("--out").arg(t.path("run"));
        let e = fails(c);
        has_all(&e, &["n_exc", n, "at most 16384", "checkpoint"]);
        assert!(!t.path("run").exists());
    }
}

pub fn a_checkpoint_that_counts_past_the_run_is_refused_on_resume() {
    use snn_wgpu::experiments::diehl_cook::checkpoint::{load_checkpoint, save_checkpoint};
    let t = TempDir::new("meta");
    let run = t.path("run");
    let mut c = snn(&["train"]);
    c.args(TINY).arg("--out").arg(&run);
    succeeds(c);
    let mut ck = load_checkpoint(&run).unwrap();
    let whole = ck.clone();
    ck.train.stats.images = 1_000_000_000;
    save_checkpoint(&run, &ck).unwrap();
    let e = fails(snn(&[
        "train",
        "--resume",
        run.to_str().unwrap(),
        "--quiet",
    ]));
    has_all(
        &e,
        &[
            "checkpoint.npz",
            "1000000000 images trained of a run of 4 (2 per epoch x 2 epochs)",
        ],
    );
    // The training loop's state past what the loop leaves: a silent run longer than the
    // images trained (its message counted images from before the first), a pending retry
    // at an intensity no retry reaches; the advice is to start again, not to resume.
    let mut ck = whole;
    ck.train.silent_run = 5000;
    save_checkpoint(&run, &ck).unwrap();
    let resume = || {
        fails(snn(&[
            "train",
            "--resume",
            run.to_str().unwrap(),
            "--quiet",
        ]))
    };
    has_all(
        &resume(),
        &[
            "checkpoint.npz",
            "5000 silent images in a row, of 4 trained",
        ],
    );
    ck.train.silent_run = 0;
    ck.train.pending = Some(snn_wgpu::experiments::diehl_cook::train::Retry {
        retry: 1,
        intensity: -5.0,
    });
    save_checkpoint(&run, &ck).unwrap();
    let e = resume();
    has_all(
        &e,
        &[
            "checkpoint.npz",
            "pending retry 1 at intensity -5",
            "--overwrite",
        ],
    );
    assert!(!e.contains("no usable checkpoint (a run killed"), "{e}");
}
