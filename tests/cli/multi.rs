//! `snn train --networks K` and `--sweep FILE` end to end on the embedded subset: the JSON
//! line (per-network and ensemble accuracies), the run directory (one single-run directory
//! per network that `snn evaluate` takes, the same bytes as a single run with that seed),
//! and clear errors for bad sweeps.

use crate::common::{json_ok as json_line, snn, tmp};

use std::path::Path;
use std::process::Output;

const SMALL: [&str; 9] = [
    "--epochs",
    "1",
    "--train-samples",
    "30",
    "--label-samples",
    "30",
    "--test-samples",
    "20",
    "--quiet",
];

fn train(extra: &[&str], out: &Path) -> Output {
    snn()
        .arg("train")
        .args(SMALL)
        .args(extra)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

pub fn two_networks_report_each_and_the_ensemble_and_save_single_runs() {
    let run = tmp("two");
    let j = json_line(&train(&["--networks", "2"], &run));
    assert_eq!(j["n_networks"], 2);
    assert_eq!(j["test_images"], 20);
    assert_eq!(j["train_images"], 60);
    let nets = j["networks"].as_array().unwrap();
    assert_eq!(nets.len(), 2);
    for (k, n) in nets.iter().enumerate() {
        assert_eq!(n["seed"], k as u64);
        assert_eq!(n["train_images"], 30);
        for key in ["accuracy_all_activity", "accuracy_proportion"] {
            let a = n[key].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&a), "{key} = {a}");
        }
    }
    for key in [
        "ensemble_accuracy_all_activity",
        "ensemble_accuracy_proportion",
        "ensemble_accuracy_majority",
    ] {
        let a = j[key]
            .as_f64()
            .unwrap_or_else(|| panic!("missing {key} in {j}"));
        assert!((0.0..=1.0).contains(&a), "{key} = {a}");
    }
    assert!(j["train_images_per_s"].as_f64().unwrap() > 0.0);
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["networks"], j["networks"]);
    assert!(results["ensemble_confusion_all_activity"].is_array());
    for k in 0..2 {
        for f in [
            "network.npz",
            "config.json",
            "receptive_fields.png",
            "results.json",
        ] {
            assert!(
                run.join(format!("net{k}")).join(f).is_file(),
                "net{k}/{f} missing"
            );
        }
    }
    // Network 1 is the single run with seed 1, byte for byte.
    let single = tmp("single");
    let s = json_line(&train(&["--seed", "1"], &single));
    assert_eq!(s["accuracy_all_activity"], nets[1]["accuracy_all_activity"]);
    assert_eq!(
        std::fs::read(single.join("network.npz")).unwrap(),
        std::fs::read(run.join("net1/network.npz")).unwrap()
    );
    // Each network directory is a run that `snn evaluate` takes.
    let out = snn()
        .args([
            "evaluate",
            "--label-samples",
            "20",
            "--test-samples",
            "10",
            "--quiet",
            "--run",
        ])
        .arg(run.join("net0"))
        .output()
        .unwrap();
    assert_eq!(json_line(&out)["test_images"], 10);
    // The run's own directory is not one network: `snn evaluate` names where they are.
    let out = snn()
        .args(["evaluate", "--quiet", "--run"])
        .arg(&run)
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && e.contains("several networks") && e.contains("net0"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&run);
    let _ = std::fs::remove_dir_all(&single);
}

pub fn a_sweep_file_sets_each_network_and_bad_ones_are_refused() {
    let dir = tmp("sweep");
    std::fs::create_dir_all(&dir).unwrap();
    let sweep = dir.join("sweep.toml");
    std::fs::write(
        &sweep,
        "[[network]]\nseed = 5\n[[network]]\ntheta_plus_mv = 0.1\nn_exc = 12\n",
    )
    .unwrap();
    let j = json_line(&train(
        &["--sweep", sweep.to_str().unwrap(), "--seed", "3"],
        &dir.join("run"),
    ));
    let seeds: Vec<u64> = j["networks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["seed"].as_u64().unwrap())
        .collect();
    assert_eq!(seeds, [5, 4]);
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("run/net1/config.json")).unwrap()).unwrap();
    assert_eq!(cfg["n_exc"], 12);
    assert!((cfg["theta_plus_mv"].as_f64().unwrap() - 0.1).abs() < 1e-6);

    std::fs::write(&sweep, "[[network]]\n[[network]]\ntheta_plus = 0.1\n").unwrap();
    let out = train(&["--sweep", sweep.to_str().unwrap()], &dir.join("bad"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("network[1].theta_plus") && err.contains("unknown key"),
        "{err}"
    );
    std::fs::write(&sweep, "[[network]]\n[[network]]\n").unwrap();
    let out = train(
        &["--sweep", sweep.to_str().unwrap(), "--networks", "3"],
        &dir.join("bad"),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--networks"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The images of `dir/net{k}`'s last checkpoint (0 without one).
fn checkpoint_images(dir: &Path, k: usize) -> usize {
    snn_wgpu::experiments::diehl_cook::checkpoint::load_checkpoint(&dir.join(format!("net{k}")))
        .map_or(0, |c| c.train.stats.images)
}

/// Trains two networks on `backend` straight, and again killed once both have checkpointed
/// past `kill_after` of their `samples` images and resumed: the same bytes and figures.
fn kill_and_resume(backend: &str, samples: &str, every: &str, kill_after: usize) {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let n: usize = samples.parse().unwrap();
    let args = [
        "train",
        "--backend",
        backend,
        "--networks",
        "2",
        "--train-samples",
        samples,
        "--label-samples",
        "60",
        "--test-samples",
        "40",
        "--seed",
        "5",
        "--quiet",
    ];
    let straight = tmp(&format!("multi-straight-{backend}"));
    let want = json_line(
        &snn()
            .args(args)
            .args(["--checkpoint-every", "0", "--out"])
            .arg(&straight)
            .output()
            .unwrap(),
    );
    assert!(
        !straight.join("networks.json").exists(),
        "--checkpoint-every 0 writes no manifest"
    );

    // Killed once both networks have checkpointed past `kill_after` images.
    let dir = tmp(&format!("multi-killed-{backend}"));
    let mut child = snn()
        .args(args)
        .args(["--checkpoint-every", every, "--out"])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run finished before it could be killed"
        );
        assert!(t0.elapsed() < Duration::from_secs(300), "timed out");
        if checkpoint_images(&dir, 0) >= kill_after && checkpoint_images(&dir, 1) >= kill_after {
            child.kill().unwrap();
            child.wait().unwrap();
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let at = [checkpoint_images(&dir, 0), checkpoint_images(&dir, 1)];
    assert!(
        at.iter().all(|&a| (kill_after..n).contains(&a)),
        "killed at {at:?}"
    );
    assert!(!dir.join("results.json").exists());

    // A fresh run into it is refused; so is --networks with --resume.
    let out = snn().args(args).arg("--out").arg(&dir).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--resume"), "{err}");
    let out = snn()
        .args(["train", "--networks", "2", "--resume"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());

    let got = json_line(
        &snn()
            .args(["train", "--quiet", "--resume"])
            .arg(&dir)
            .output()
            .unwrap(),
    );
    for k in [
        "ensemble_accuracy_all_activity",
        "ensemble_accuracy_proportion",
        "train_images",
        "test_images",
        "label_images",
    ] {
        assert_eq!(got[k], want[k], "{k}");
    }
    for k in 0..2 {
        let file = |d: &Path| std::fs::read(d.join(format!("net{k}/network.npz"))).unwrap();
        assert!(file(&dir) == file(&straight), "net{k}/network.npz differs");
        assert_eq!(
            got["networks"][k]["resumed_from_image"],
            serde_json::json!(at[k]),
            "net{k} continued from its checkpoint"
        );
        assert_eq!(
            want["networks"][k]["resumed_from_image"],
            serde_json::Value::Null
        );
        for f in ["retries", "accuracy_all_activity", "accuracy_proportion"] {
            assert_eq!(got["networks"][k][f], want["networks"][k][f], "net{k} {f}");
        }
    }
    let _ = std::fs::remove_dir_all(&straight);
    let _ = std::fs::remove_dir_all(&dir);
}

pub fn a_killed_cpu_run_of_two_networks_resumes_bit_for_bit() {
    kill_and_resume("cpu", "300", "25", 50);
}

pub fn a_killed_gpu_run_of_two_networks_resumes_bit_for_bit() {
    kill_and_resume("gpu", "40", "10", 10);
}
