//! Crash-safe training for real: `snn train` crashes mid-run (the hidden
//! `--stop-after-images N` aborts it, after the first label window, with an unfinished
//! checkpoint write left beside it), resumed with `--resume`, crashed and resumed again,
//! and its final network must equal an uninterrupted run's byte for byte, also when it moves
//! between the backends. Also: a resume that contradicts the checkpoint is refused with the
//! reason.

use crate::common::{json_ok, snn, tmp};

use snn_wgpu::experiments::diehl_cook::checkpoint::{load_checkpoint, CHECKPOINT_FILE};
use snn_wgpu::experiments::diehl_cook::io::load_network;
use std::path::Path;
use std::process::{Command, Stdio};

fn run_ok(cmd: &mut Command) -> serde_json::Value {
    json_ok(&cmd.output().unwrap())
}

fn temp_file_in(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|it| {
        it.flatten()
            .any(|e| e.file_name().to_string_lossy().contains(".tmp."))
    })
}

/// Runs `cmd` with `--stop-after-images at`: it must crash (abort) there. Then leaves an
/// unfinished checkpoint write beside the checkpoint, as a crash during one would, and
/// returns the images of the checkpoint it kept.
fn crash_at(cmd: &mut Command, dir: &Path, at: usize) -> usize {
    let status = cmd
        .args(["--stop-after-images", &at.to_string()])
        .status()
        .unwrap();
    assert!(!status.success(), "the run did not crash at image {at}");
    assert!(
        !temp_file_in(dir),
        "an abort between writes leaves no temporary file"
    );
    std::fs::write(
        dir.join(format!(".{CHECKPOINT_FILE}.tmp.{}.0", std::process::id())),
        b"PK\x03\x04 half a checkpoint",
    )
    .unwrap();
    load_checkpoint(dir).unwrap().train.stats.images
}

fn same_network(a: &Path, b: &Path) {
    let (x, y) = (load_network(a).unwrap(), load_network(b).unwrap());
    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(x.weights.as_slice().unwrap()),
        bits(y.weights.as_slice().unwrap()),
        "weights differ"
    );
    assert_eq!(bits(&x.theta_mv), bits(&y.theta_mv), "theta differs");
    assert_eq!(x.assignments, y.assignments, "assignments differ");
}

fn train_args(cmd: &mut Command, backend: &str, samples: &str, dir: &Path) {
    let gpu = backend == "gpu";
    let sizes = if gpu { ("30", "20") } else { ("100", "50") };
    train_args_sized(cmd, backend, samples, sizes, dir);
}

/// [`train_args`] with `(labelling, test)` image counts.
fn train_args_sized(
    cmd: &mut Command,
    backend: &str,
    samples: &str,
    (label, test): (&str, &str),
    dir: &Path,
) {
    cmd.args([
        "train",
        "--preset",
        "dc100",
        "--backend",
        backend,
        "--train-samples",
        samples,
        "--label-samples",
        label,
        "--test-samples",
        test,
        "--seed",
        "7",
        "--quiet",
    ])
    .arg("--out")
    .arg(dir);
    if backend == "gpu" {
        // Series of presentations in one submission (llvmpipe's default is one at a time;
        // the resumed runs take the default): series end on the checkpoint multiples.
        cmd.args(["--presentations-per-submission", "16"]);
    }
}

/// Trains `samples` images straight, then crashed at `kill_at[0]`, resumed and crashed at
/// `kill_at[1]`, resumed to the end: the same network and results. With `batch`, the first
/// runs label and test in frozen batches of that size and the resumes are not told it (a
/// resume takes the run's batch size, which decides the keys of retried images).
fn kill_resume_kill_resume(
    backend: &str,
    samples: &str,
    every: &str,
    kill_at: [usize; 2],
    batch: Option<&str>,
) {
    let want_batch: u64 = batch.map_or(256, |b| b.parse().unwrap());
    let batch: Vec<&str> = batch.map_or(vec![], |b| vec!["--batch", b]);
    let straight = tmp(&format!("{backend}-straight"));
    let mut cmd = snn();
    train_args(&mut cmd, backend, samples, &straight);
    let want = run_ok(cmd.args(["--checkpoint-every", "0"]).args(&batch));

    let dir = tmp(&format!("{backend}-killed"));
    let mut cmd = snn();
    train_args(&mut cmd, backend, samples, &dir);
    cmd.args(&batch)
        .args(["--checkpoint-every", every])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let at1 = crash_at(&mut cmd, &dir, kill_at[0]);
    assert_eq!(
        at1, kill_at[0],
        "the checkpoint due at the crash was written"
    );
    let mut cmd = snn();
    cmd.args(["train", "--quiet", "--checkpoint-every", every])
        .arg("--resume")
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let at2 = crash_at(&mut cmd, &dir, kill_at[1]);
    assert!(at2 > at1, "the resumed run made progress ({at1} -> {at2})");

    let got = run_ok(snn().args(["train", "--quiet", "--resume"]).arg(&dir));
    assert_eq!(got["resumed_from_image"], serde_json::json!(at2));
    assert_eq!(
        got["batch"],
        serde_json::json!(want_batch),
        "the run's batch size"
    );
    same_network(&straight, &dir);
    for k in [
        "accuracy_all_activity",
        "accuracy_proportion",
        "retries",
        "train_images",
        "learning_curve",
    ] {
        assert_eq!(got[k], want[k], "{k}");
    }
    let left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp."))
        .collect();
    assert!(left.is_empty(), "stale temporary files left: {left:?}");
    let _ = std::fs::remove_dir_all(&straight);
    let _ = std::fs::remove_dir_all(&dir);
}

pub fn cpu_crash_then_resume_is_bit_identical() {
    // 1200 images: the running-accuracy window (1000) fills, so the checkpoint carries
    // assignments and hits; the second kill comes after it.
    // In frozen batches of 7 (the default is 256).
    kill_resume_kill_resume("cpu", "1200", "100", [300, 1000], Some("7"));
}

pub fn gpu_crash_then_resume_is_bit_identical() {
    kill_resume_kill_resume("gpu", "24", "6", [6, 12], None);
}

/// A run started on the GPU, crashed, resumed on the CPU, crashed again and finished on the
/// GPU: the checkpoints hold either engine's state, and on a software adapter (which rounds
/// as the CPU does) the network equals an uninterrupted CPU run's byte for byte.
pub fn a_run_moves_between_the_backends() {
    let sizes = ("30", "20");
    let straight = tmp("moves-straight");
    let mut cmd = snn();
    train_args_sized(&mut cmd, "cpu", "18", sizes, &straight);
    let want = run_ok(cmd.args(["--checkpoint-every", "0"]));

    let dir = tmp("moves");
    let quiet = |c: &mut Command| {
        c.stdout(Stdio::null()).stderr(Stdio::null());
    };
    let mut cmd = snn();
    train_args_sized(&mut cmd, "gpu", "18", sizes, &dir);
    cmd.args(["--checkpoint-every", "6"]);
    quiet(&mut cmd);
    assert_eq!(crash_at(&mut cmd, &dir, 6), 6);
    assert_eq!(load_checkpoint(&dir).unwrap().trained_on, "gpu");
    let mut cmd = snn();
    cmd.args([
        "train",
        "--quiet",
        "--checkpoint-every",
        "6",
        "--backend",
        "cpu",
    ])
    .arg("--resume")
    .arg(&dir);
    quiet(&mut cmd);
    assert_eq!(crash_at(&mut cmd, &dir, 12), 12);
    assert_eq!(load_checkpoint(&dir).unwrap().trained_on, "cpu");
    let got = run_ok(
        snn()
            .args(["train", "--quiet", "--backend", "gpu", "--resume"])
            .arg(&dir),
    );
    assert_eq!(got["resumed_from_image"], 12);
    assert!(got["adapter"].as_str().unwrap_or("").contains('('), "{got}");
    if crate::common::gpu_ctx().is_software() {
        same_network(&straight, &dir);
        for k in ["accuracy_all_activity", "retries", "learning_curve"] {
            assert_eq!(got[k], want[k], "{k}");
        }
    }
    let _ = std::fs::remove_dir_all(&straight);
    let _ = std::fs::remove_dir_all(&dir);
}

pub fn a_resume_that_contradicts_the_checkpoint_is_refused() {
    let dir = tmp("contradict");
    let mut cmd = snn();
    train_args(&mut cmd, "cpu", "20", &dir);
    run_ok(cmd.args(["--checkpoint-every", "10"]));
    let err = |args: &[&str]| {
        let out = snn()
            .args(["train", "--quiet", "--resume"])
            .arg(&dir)
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} was accepted");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = err(&["--preset", "dc400"]);
    assert!(
        e.contains("--preset") && e.contains("dc400") && e.contains("dc100"),
        "{e}"
    );
    let e = err(&["--seed", "8"]);
    assert!(e.contains("--seed") && e.contains('7'), "{e}");
    let e = err(&["--data", "/nonexistent-mnist"]);
    assert!(e.contains("/nonexistent-mnist"), "{e}");
    // A resume goes on where the run is: --out and --overwrite are refused, the run kept.
    let before = std::fs::read(dir.join(CHECKPOINT_FILE)).unwrap();
    let elsewhere = tmp("contradict-out");
    let e = err(&["--out", elsewhere.to_str().unwrap()]);
    assert!(e.contains("--out") && !elsewhere.exists(), "{e}");
    let e = err(&["--overwrite"]);
    assert!(e.contains("--overwrite"), "{e}");
    assert_eq!(std::fs::read(dir.join(CHECKPOINT_FILE)).unwrap(), before);
    // Training afresh into a directory that holds a run is refused too.
    let mut cmd = snn();
    train_args(&mut cmd, "cpu", "20", &dir);
    let out = cmd.output().unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && e.contains("--resume") && e.contains("--overwrite"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A resume with `--data` goes on only where the images it labels and tests on are the
/// run's: the embedded subset's files in a directory of their own resume a run started on
/// the subset; the same files with the test labels shifted are refused, naming the images,
/// before any training (the training images alone were compared before, and the run tested
/// on the other test set). A run started with a relative `--data` resumes from another
/// working directory (its data directory is kept absolute).
pub fn a_resume_on_other_test_images_is_refused() {
    let dir = tmp("resume-other-test");
    let run = dir.join("run");
    let mut cmd = snn();
    train_args_sized(&mut cmd, "cpu", "20", ("20", "20"), &run);
    let out = cmd
        .args(["--checkpoint-every", "10", "--stop-after-images", "10"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "the run did not stop");
    let (same, other) = (dir.join("same"), dir.join("other"));
    crate::evaluate::write_subset(&same, 0);
    crate::evaluate::write_subset(&other, 0);
    let labels = other.join("t10k-labels-idx1-ubyte");
    let mut bytes = std::fs::read(&labels).unwrap();
    for l in &mut bytes[8..] {
        *l = (*l + 1) % 10;
    }
    std::fs::write(&labels, bytes).unwrap();
    let resume = |data: &Path| {
        snn()
            .args(["train", "--quiet", "--resume"])
            .arg(&run)
            .arg("--data")
            .arg(data)
            .output()
            .unwrap()
    };
    let before = std::fs::read(run.join(CHECKPOINT_FILE)).unwrap();
    let out = resume(&other);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && e.contains("labelling or test images"),
        "{e}"
    );
    assert_eq!(std::fs::read(run.join(CHECKPOINT_FILE)).unwrap(), before);
    let j = json_ok(&resume(&same));
    assert_eq!(j["resumed_from_image"], 10, "{j}");
    // A run started with a relative --data resumes from another working directory.
    let mut cmd = snn();
    train_args_sized(&mut cmd, "cpu", "20", ("20", "20"), Path::new("run2"));
    let out = cmd
        .current_dir(&dir)
        .args([
            "--data",
            "same",
            "--checkpoint-every",
            "10",
            "--stop-after-images",
            "10",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success(), "the run did not stop");
    let out = snn()
        .current_dir("/")
        .args(["train", "--quiet", "--resume"])
        .arg(dir.join("run2"))
        .output()
        .unwrap();
    let j = json_ok(&out);
    assert_eq!(j["resumed_from_image"], 10, "{j}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A resume is checked as a fresh run is: a run of two networks whose manifest now lists 65,
/// resumed on one thread (64 networks per thread), is refused naming `--networks` and the
/// run, before any network trains (it trained all 65 before).
pub fn a_resume_past_this_machine_is_refused() {
    let dir = tmp("resume-past-machine");
    let mut cmd = snn();
    train_args_sized(&mut cmd, "cpu", "10", ("10", "5"), &dir);
    run_ok(cmd.args(["--networks", "2"]));
    let path = dir.join("networks.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut m: serde_json::Value = serde_json::from_str(&text).unwrap();
    m["networks"] = serde_json::Value::Array(vec![m["networks"][0].clone(); 65]);
    std::fs::write(&path, m.to_string()).unwrap();
    let out = snn()
        .env("RAYON_NUM_THREADS", "1")
        .args(["train", "--quiet", "--resume"])
        .arg(&dir)
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && e.contains("--networks 65") && e.contains("cannot resume"),
        "{e}"
    );
    assert!(!dir.join("net2").exists(), "a network trained");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A checkpoint written by the first CPU engine (commit c595672, snapshot kind `cpu`, at
/// image 20 of 60; `tests/fixtures/first_cpu_checkpoint`) resumes on the general engine and
/// saves the network that an uninterrupted run of that commit saved: θ and the labels bit for
/// bit, the weights within 32 ulps (21 at most when the blocks came), since the engines sum a column's
/// normalisation in blocks (`NORM_BLOCK`) where the first engine made one running sum (byte
/// for byte before).
pub fn a_checkpoint_of_the_first_cpu_engine_resumes_with_its_spikes() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/first_cpu_checkpoint");
    let dir = tmp("first-cpu-checkpoint");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture.join(CHECKPOINT_FILE), dir.join(CHECKPOINT_FILE)).unwrap();
    assert_eq!(load_checkpoint(&dir).unwrap().snapshot.backend, "cpu");
    let out = run_ok(snn().args(["train", "--quiet", "--resume"]).arg(&dir));
    assert_eq!(out["resumed_from_image"], 20);
    assert_eq!(out["train_images"], 60);
    // The first engine's network, as a run directory.
    let first = tmp("first-cpu-network");
    std::fs::create_dir_all(&first).unwrap();
    std::fs::copy(
        fixture.join("network_uninterrupted.npz"),
        first.join("network.npz"),
    )
    .unwrap();
    std::fs::copy(dir.join("config.json"), first.join("config.json")).unwrap();
    let (got, want) = (load_network(&dir).unwrap(), load_network(&first).unwrap());
    let ulps = got
        .weights
        .iter()
        .zip(&want.weights)
        .map(|(a, b)| (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs())
        .max();
    // θ carries every spike of the run: bit for bit.
    assert_eq!(
        got.theta_mv, want.theta_mv,
        "θ differs from the first engine's"
    );
    assert_eq!(got.assignments, want.assignments);
    assert!(
        ulps.is_some_and(|u| u <= 32),
        "weights {ulps:?} ulps from the first engine's"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&first).unwrap();
}

/// `--overwrite` replaces the whole run: a run of two networks overwritten by one network
/// that crashes before its first checkpoint leaves nothing that a resume would take for the
/// old run (its manifest, its networks' directories, its results). A directory holding a
/// file that a run writes (a user's `config.json`) is not trained into without
/// `--overwrite`, and the file stays as it was. A manifest that lists no network is an
/// error that says so.
pub fn overwrite_replaces_the_whole_run() {
    let dir = tmp("overwrite");
    let mut cmd = snn();
    train_args_sized(&mut cmd, "cpu", "10", ("10", "5"), &dir);
    run_ok(cmd.args(["--networks", "2"]));
    assert!(dir.join("networks.json").is_file() && dir.join("net1").is_dir());
    // The manifest, emptied, in a run of its own.
    let empty = tmp("empty-manifest");
    std::fs::create_dir_all(&empty).unwrap();
    let text = std::fs::read_to_string(dir.join("networks.json")).unwrap();
    let mut m: serde_json::Value = serde_json::from_str(&text).unwrap();
    m["networks"] = serde_json::json!([]);
    std::fs::write(empty.join("networks.json"), m.to_string()).unwrap();
    let out = snn()
        .args(["train", "--quiet", "--resume"])
        .arg(&empty)
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && e.contains("lists no network") && !e.contains("panicked"),
        "{e}"
    );
    // An --overwrite that fails before the new run writes anything (here at the CPU
    // engine's options) leaves the old run as it was.
    let mut cmd = snn();
    train_args_sized(&mut cmd, "cpu", "10", ("10", "5"), &dir);
    let out = cmd
        .args(["--overwrite", "--cpu-chunk-neurons", "17"])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && e.contains("17"), "{e}");
    assert!(
        dir.join("networks.json").is_file() && dir.join("net1").join(CHECKPOINT_FILE).is_file(),
        "a failed --overwrite removed the old run: {e}"
    );
    // One network over the two, crashing before its first checkpoint.
    let mut cmd = snn();
    train_args_sized(&mut cmd, "cpu", "10", ("10", "5"), &dir);
    cmd.args([
        "--overwrite",
        "--checkpoint-every",
        "100",
        "--stop-after-images",
        "5",
    ]);
    assert!(!cmd.status().unwrap().success(), "the run did not crash");
    for f in [
        "networks.json",
        "net0",
        "net1",
        CHECKPOINT_FILE,
        "results.json",
    ] {
        assert!(!dir.join(f).exists(), "{f} outlived --overwrite");
    }
    let out = snn()
        .args(["train", "--quiet", "--resume"])
        .arg(&dir)
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && e.contains("no usable checkpoint"),
        "{e}"
    );
    // A user's file where a run writes one.
    let user = tmp("user-files");
    std::fs::create_dir_all(&user).unwrap();
    std::fs::write(user.join("config.json"), "{\"mine\": true}").unwrap();
    let mut cmd = snn();
    train_args_sized(&mut cmd, "cpu", "10", ("10", "5"), &user);
    let out = cmd.output().unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && e.contains("config.json") && e.contains("--overwrite"),
        "{e}"
    );
    let kept = std::fs::read_to_string(user.join("config.json")).unwrap();
    assert_eq!(kept, "{\"mine\": true}");
    for d in [dir, empty, user] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// A resumed run reports its rate from the resume on: under `--json` its first progress line
/// counted the images trained before the crash as done in no time (a rate of about 10^9 per
/// second and an ETA of a blink).
pub fn a_resumed_run_reports_its_own_rate() {
    let dir = tmp("rate");
    let mut cmd = snn();
    train_args_sized(&mut cmd, "cpu", "400", ("10", "5"), &dir);
    cmd.args(["--checkpoint-every", "100"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    crash_at(&mut cmd, &dir, 300);
    let out = snn()
        .args(["train", "--json", "--resume"])
        .arg(&dir)
        .output()
        .unwrap();
    json_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    let rates: Vec<f64> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == "progress" && v["phase"] == "train")
        .filter_map(|v| v["per_second"].as_f64())
        .collect();
    assert!(!rates.is_empty(), "no training progress line: {text}");
    assert!(rates.iter().all(|&r| r < 1e5), "{rates:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
