//! The `snn` command line end to end: train on the embedded subset (tiny sizes), the JSON
//! line and the run directory, `evaluate` on the saved run, and clear errors on bad input.

use crate::common::{json_line, json_ok, snn, tmp};

pub fn train_then_evaluate_on_the_embedded_subset() {
    let run = tmp("run");
    let out = snn()
        .args([
            "train",
            "--preset",
            "dc100",
            "--train-samples",
            "40",
            "--label-samples",
            "40",
            "--test-samples",
            "20",
            "--quiet",
            "--seed",
            "3",
        ])
        .arg("--out")
        .arg(&run)
        .output()
        .unwrap();
    let j = json_ok(&out);
    for key in [
        "preset",
        "backend",
        "adapter",
        "seed",
        "train_images",
        "test_images",
        "accuracy_all_activity",
        "accuracy_proportion",
        "train_seconds",
        "seconds_per_train_image",
    ] {
        assert!(j.get(key).is_some(), "missing {key} in {j}");
    }
    assert_eq!(j["train_images"], 40);
    assert_eq!(j["test_images"], 20);
    assert_eq!(j["seed"], 3);
    for f in [
        "network.npz",
        "config.json",
        "receptive_fields.png",
        "results.json",
    ] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    let out = snn()
        .args([
            "evaluate",
            "--label-samples",
            "40",
            "--test-samples",
            "20",
            "--quiet",
            "--run",
        ])
        .arg(&run)
        .output()
        .unwrap();
    let e = json_ok(&out);
    assert_eq!(e["test_images"], 20);
    let _ = std::fs::remove_dir_all(&run);
}

pub fn bad_inputs_get_clear_errors() {
    let missing = tmp("missing-data");
    let out = snn()
        .args(["train", "--quiet", "--data"])
        .arg(&missing)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&missing.display().to_string()) && err.contains("MNIST"),
        "{err}"
    );

    let out = snn()
        .args(["train", "--quiet", "--preset", "dc200"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("dc100, dc400, dc1600, dc6400"));

    let out = snn()
        .args(["evaluate", "--quiet", "--run"])
        .arg(tmp("no-run"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("network.npz"));

    // A cause that its error's message already says is not said again: the OS's reason for
    // the missing checkpoint shows once.
    let empty = tmp("no-checkpoint");
    std::fs::create_dir_all(&empty).unwrap();
    let out = snn()
        .args(["train", "--quiet", "--resume"])
        .arg(&empty)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("checkpoint.npz"), "{err}");
    assert_eq!(err.matches("os error 2").count(), 1, "{err}");
    let _ = std::fs::remove_dir_all(&empty);
}

pub fn presets_print_as_toml_that_train_accepts() {
    let out = snn().args(["presets", "--show", "dc100"]).output().unwrap();
    assert!(out.status.success());
    let toml_text = String::from_utf8(out.stdout).unwrap();
    assert!(
        toml_text.contains("n_exc = 100") && toml_text.contains("theta_plus_mv = 0.05"),
        "{toml_text}"
    );
    let dir = tmp("cfg");
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("exp.toml");
    std::fs::write(&cfg, toml_text.replace("n_exc = 100", "n_exc = 12")).unwrap();
    let out = snn()
        .args([
            "train",
            "--quiet",
            "--train-samples",
            "5",
            "--label-samples",
            "5",
            "--test-samples",
            "5",
            "--config",
        ])
        .arg(&cfg)
        .arg("--out")
        .arg(dir.join("run"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

pub fn a_config_files_seed_stands_unless_seed_is_given() {
    let preset = snn().args(["presets", "--show", "dc100"]).output().unwrap();
    let text = String::from_utf8(preset.stdout)
        .unwrap()
        .replace("seed = 0", "seed = 42")
        .replace("n_exc = 100", "n_exc = 10");
    let dir = tmp("seed-config");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("exp.toml");
    std::fs::write(&file, text).unwrap();
    for (extra, want) in [(vec![], 42), (vec!["--seed", "3"], 3)] {
        let out = snn()
            .args(["train", "--quiet", "--overwrite", "--train-samples", "10"])
            .args(["--label-samples", "10", "--test-samples", "5", "--config"])
            .arg(&file)
            .args(&extra)
            .arg("--out")
            .arg(dir.join("run"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(json_line(&out.stdout)["seed"], want, "{extra:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--eval-backend gpu` after CPU training: the same assignments' accuracy as labelling and
/// testing on the CPU (frozen batches agree across backends), under either GPU schedule
/// (`--gpu-schedule`), and the JSON says which ran; for one network and for K.
pub fn eval_backend_labels_and_tests_elsewhere_with_the_same_result() {
    // A small run of seed 4 trained on the CPU, labelled and tested on `eval`, with `more`
    // flags: its JSON line.
    let train = |eval: &str, more: &[&str]| {
        let run = tmp(&format!("evalb-{eval}-{}", more.len()));
        let out = snn()
            .args(["train", "--train-samples", "30", "--label-samples", "60"])
            .args([
                "--test-samples",
                "40",
                "--quiet",
                "--seed",
                "4",
                "--backend",
                "cpu",
            ])
            .args(["--eval-backend", eval])
            .args(more)
            .arg("--out")
            .arg(&run)
            .output()
            .unwrap();
        let _ = std::fs::remove_dir_all(&run);
        json_ok(&out)
    };
    let accuracies = |j: &serde_json::Value| {
        (
            j["accuracy_all_activity"].clone(),
            j["accuracy_proportion"].clone(),
        )
    };
    let mut results = vec![];
    for eval in ["cpu", "gpu"] {
        let j = train(eval, &[]);
        assert!(
            j["backend"].as_str().unwrap().starts_with("cpu"),
            "trained on the CPU: {j}"
        );
        assert!(
            j["eval_backend"].as_str().unwrap().starts_with(eval),
            "labelled on {eval}: {j}"
        );
        results.push(accuracies(&j));
    }
    assert_eq!(results[0], results[1]);
    // The schedule is the GPU engine's choice of speed, never of results (`--gpu-schedule`):
    // the passes give the same accuracies, and a fused schedule that the network does not
    // fit (784 inputs at one invocation per workgroup) is refused, saying why.
    let passes = train("gpu", &["--gpu-schedule", "passes"]);
    assert_eq!(accuracies(&passes), results[0]);
    let run = tmp("evalb-fused");
    let out = snn()
        .args(["train", "--train-samples", "4", "--label-samples", "4"])
        .args(["--test-samples", "4", "--quiet", "--backend", "gpu"])
        .args(["--gpu-schedule", "fused", "--workgroup-size", "1", "--out"])
        .arg(&run)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&run);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{e}");
    assert!(
        e.contains("fused schedule") && e.contains("use the passes schedule"),
        "{e}"
    );
    // K networks too: network 0 (seed 4) of two trained on the CPU and labelled and tested
    // on the GPU is the run above.
    let j = train("gpu", &["--networks", "2"]);
    let net0 = &j["networks"][0];
    assert_eq!(net0["eval_backend"], "gpu", "{j}");
    assert_eq!(accuracies(net0), results[0]);
}

/// `--refractory` picks the excitatory refractoriness, and the run's config.json records it:
/// the presets' Brian 1 lockout (v free, next spike 5 ms later), the clamp, the Brian2 ports'.
pub fn refractory_choice_is_recorded_in_the_run() {
    let dir = tmp("refractory");
    for (flag, want) in [
        (None, (0.0, 4.5)),
        (Some("clamp"), (5.0, 0.0)),
        (Some("brian2-ports"), (5.0, 50.0)),
    ] {
        let run = dir.join(flag.unwrap_or("default"));
        let mut c = snn();
        c.args([
            "train",
            "--quiet",
            "--preset",
            "dc100",
            "--train-samples",
            "10",
        ])
        .args(["--label-samples", "10", "--test-samples", "5", "--out"])
        .arg(&run);
        if let Some(f) = flag {
            c.args(["--refractory", f]);
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let cfg: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap())
                .unwrap();
        assert_eq!(
            (
                cfg["refractory_exc_ms"].as_f64().unwrap(),
                cfg["lockout_exc_ms"].as_f64().unwrap()
            ),
            want,
            "{flag:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `snn train` without --preset, --config or --data is the first run: dc400-short on the
/// 10,000 embedded training images, labels from the first 5,000; with --data, the paper's
/// dc400, labels from all training images. Each run is stopped after its first training
/// image; its checkpoint holds the experiment and the sizes.
pub fn the_first_run_is_dc400_short_and_data_gets_the_papers_dc400() {
    use snn_wgpu::experiments::diehl_cook::checkpoint::load_checkpoint;
    use snn_wgpu::experiments::diehl_cook::config::{DcConfig, SHORT_PRESET};
    let subset = concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist-subset");
    for (data, preset, labels) in [
        (None, SHORT_PRESET, Some(5000)),
        (Some(subset), "dc400", None),
    ] {
        let run = tmp("first-run");
        let mut cmd = snn();
        cmd.args(["train", "--quiet", "--checkpoint-every", "1"])
            .args(["--stop-after-images", "1", "--out"])
            .arg(&run);
        if let Some(d) = data {
            cmd.arg("--data").arg(d);
        }
        let out = cmd.output().unwrap();
        assert!(!out.status.success(), "the run was to stop after one image");
        let ck = load_checkpoint(&run).unwrap();
        assert_eq!(ck.config, DcConfig::preset(preset).unwrap(), "{data:?}");
        assert_eq!(ck.plan.n_train, 10_000, "{data:?}");
        assert_eq!(ck.plan.label_samples, labels, "{data:?}");
        let _ = std::fs::remove_dir_all(&run);
    }
}
