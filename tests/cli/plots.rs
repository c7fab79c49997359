//! Pictures of a run (`experiments::diehl_cook::plots`, `snn plot`) and the recorded
//! presentation they draw (`record::present_recorded`): the recording gives the spike
//! counts of `present_frozen_batch`, every PNG decodes at its documented size, missing
//! results are skipped with a note, a missing run directory is an error naming it, and the
//! presentation replayed on the GPU engine (`--backend gpu`) draws what the CPU engine draws.

use crate::common::{snn, tmp};

use std::path::{Path, PathBuf};

use ndarray::Array2;
use snn_wgpu::backend::EngineChoice;
use snn_wgpu::data::mnist::{self, Split};
use snn_wgpu::experiments::diehl_cook::config::DcConfig;
use snn_wgpu::experiments::diehl_cook::engine::DcEngine;
use snn_wgpu::experiments::diehl_cook::io::{save_network, SavedNetwork};
use snn_wgpu::experiments::diehl_cook::plots::{
    plot_run, raster_file, receptive_fields_labelled_size, traces_file, PlotImage, PlotOptions,
    CHART_SIZE, CONFUSION_FILE, CONFUSION_SIZE, LEARNING_CURVE_FILE, PRESENTATION_SIZE, RF_FILE,
    THETA_FILE,
};
use snn_wgpu::experiments::diehl_cook::record::present_recorded;
use snn_wgpu::experiments::diehl_cook::{PresentOptions, RestMode};

fn small_config(n_exc: u32) -> DcConfig {
    let mut cfg = DcConfig::preset("dc100").unwrap();
    cfg.n_exc = n_exc;
    cfg
}

/// Learning options: `present_frozen_batch` and `present_recorded` must both freeze them.
fn opts(key: u32) -> PresentOptions {
    PresentOptions {
        steps_on: 700,
        steps_rest: 150,
        rest: RestMode::Simulate,
        learn: true,
        key,
    }
}

pub fn recorded_presentation_has_the_counts_of_a_frozen_batch() {
    let test = mnist::embedded(Split::Test).unwrap();
    for delay_ms in [10.0, 0.0] {
        let mut cfg = small_config(12);
        cfg.input_delay_max_ms = delay_ms;
        let mut b = DcEngine::new(&cfg.to_spec()).unwrap();
        // An untrained network answers weakly: a high intensity makes it spike.
        let rates: Vec<Vec<f32>> = (0..3)
            .map(|i| DcConfig::rates(test.image(i), 8.0))
            .collect();
        let key = 41;
        let batch = b.present_frozen_batch(&rates, &opts(key)).unwrap();
        let (w, theta) = (b.weights().unwrap(), b.theta().unwrap());
        for (k, r) in rates.iter().enumerate() {
            let spec = cfg.to_spec();
            let rec = present_recorded(
                &spec,
                &w,
                &theta,
                r,
                &opts(key + k as u32),
                &[0, 5, 11],
                &EngineChoice::default(),
            )
            .unwrap();
            assert_eq!(rec.counts, batch[k], "image {k}, delays {delay_ms} ms");
            assert!(
                rec.counts.iter().sum::<u32>() > 0,
                "image {k} drew no spike"
            );
            assert_eq!(rec.steps, 700);
            assert_eq!(
                rec.exc_spikes.len() as u32,
                rec.counts.iter().sum::<u32>(),
                "the raster holds every counted spike"
            );
            for (i, &c) in rec.counts.iter().enumerate() {
                let n = rec.exc_spikes.iter().filter(|s| s.1 == i as u32).count();
                assert_eq!(n as u32, c, "neuron {i}");
            }
            assert!(!rec.input_spikes.is_empty() && !rec.inh_spikes.is_empty());
            assert!(rec.input_spikes.windows(2).all(|w| w[0] < w[1]), "sorted");
            assert!(rec.input_spikes.iter().all(|&(t, j)| t < 700 && j < 784));
            for trace in [&rec.v_mv, &rec.theta_mv, &rec.ge, &rec.gi] {
                assert_eq!(trace.len(), 3);
                assert!(trace.iter().all(|t| t.len() == 700));
            }
            // v never passes the threshold without a reset, and θ stays frozen.
            assert!(rec.theta_mv[0].iter().all(|&t| t == rec.theta_mv[0][0]));
            assert!(rec.v_mv[1]
                .iter()
                .all(|&v| v < rec.v_threshold_mv + rec.theta_mv[1][0]));
        }
    }
    let spec = small_config(4).to_spec();
    let (w, theta) = (vec![0.1; 784 * 4], vec![0.0; 4]);
    let err = present_recorded(
        &spec,
        &w,
        &theta,
        &vec![10.0; 784],
        &opts(0),
        &[4],
        &EngineChoice::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("neurons"), "{err}");
}

/// A run directory with a synthetic 9-neuron network and complete results.json.
fn synthetic_run(dir: &Path, with_results: Option<serde_json::Value>) {
    let n = 9;
    let weights = Array2::from_shape_fn((784, n), |(p, i)| {
        let (r, c) = (p / 28, p % 28);
        // Bars at different places, so the tiles differ.
        if (r + c * (i % 3)) % 9 == i % 9 {
            0.8
        } else {
            0.05
        }
    });
    let net = SavedNetwork {
        n_input: 784,
        n_exc: n,
        weights,
        theta_mv: (0..n).map(|i| 20.0 + i as f32 * 0.7).collect(),
        assignments: vec![0, 1, 2, 3, 4, 5, 6, -1, 9],
        config_json: serde_json::to_string_pretty(&small_config(n as u32)).unwrap(),
    };
    save_network(dir, &net).unwrap();
    if let Some(r) = with_results {
        std::fs::write(dir.join("results.json"), r.to_string()).unwrap();
    }
}

fn full_results() -> serde_json::Value {
    let m: Vec<Vec<u32>> = (0..10)
        .map(|t| {
            (0..10)
                .map(|p| if t == p { 40 } else { (t + p) % 4 })
                .collect()
        })
        .collect();
    serde_json::json!({
        "confusion_all_activity": m,
        "confusion_proportion": m,
        "learning_curve": [[2000, 0.5], [3000, 0.61], [4000, 0.7], [5000, 0.74]],
        "accuracy_all_activity": 0.77,
        "accuracy_proportion": 0.79,
        "train_images": 6000,
        "epochs": 2,
    })
}

fn assert_png(path: &Path, size: (u32, u32)) {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8();
    assert_eq!(img.dimensions(), size, "{}", path.display());
    let mut colours: Vec<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    colours.sort();
    colours.dedup();
    assert!(
        colours.len() > 10,
        "{}: only {} colours, an empty picture",
        path.display(),
        colours.len()
    );
}

pub fn plot_run_writes_every_picture_of_a_synthetic_run() {
    let dir = tmp("synthetic");
    synthetic_run(&dir, Some(full_results()));
    let test = mnist::embedded(Split::Test).unwrap();
    let out = dir.join("pictures");
    let opts = PlotOptions {
        image: Some(PlotImage {
            pixels: test.image(3).to_vec(),
            label: Some(test.label(3)),
            index: 3,
        }),
        neurons: Some(vec![8, 0]),
    };
    let report = plot_run(&dir, &out, &opts, &EngineChoice::default()).unwrap();
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    let expected = [
        (RF_FILE.to_string(), receptive_fields_labelled_size(9)),
        (THETA_FILE.to_string(), CHART_SIZE),
        (CONFUSION_FILE.to_string(), CONFUSION_SIZE),
        (LEARNING_CURVE_FILE.to_string(), CHART_SIZE),
        (raster_file(3), PRESENTATION_SIZE),
        (traces_file(3), PRESENTATION_SIZE),
    ];
    let written: Vec<PathBuf> = expected.iter().map(|(f, _)| out.join(f)).collect();
    assert_eq!(report.written, written);
    for (f, size) in &expected {
        assert_png(&out.join(f), *size);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `plot_run` with the default options, replaying on the CPU engine.
fn plot_on_cpu(
    run: &Path,
    out: &Path,
) -> snn_wgpu::Result<snn_wgpu::experiments::diehl_cook::plots::PlotReport> {
    plot_run(run, out, &PlotOptions::default(), &EngineChoice::default())
}

pub fn missing_results_skip_their_pictures_with_a_note() {
    let dir = tmp("old");
    // An old run: results.json without the confusion matrices.
    let mut r = full_results();
    r.as_object_mut().unwrap().remove("confusion_all_activity");
    r.as_object_mut().unwrap().remove("confusion_proportion");
    synthetic_run(&dir, Some(r));
    let report = plot_on_cpu(&dir, &dir).unwrap();
    assert_eq!(report.written.len(), 3, "{:?}", report.written);
    assert!(!dir.join(CONFUSION_FILE).exists());
    assert_eq!(report.skipped.len(), 1);
    assert!(
        report.skipped[0].contains("confusion"),
        "{:?}",
        report.skipped
    );

    // No results.json at all: receptive fields and θ only.
    std::fs::remove_file(dir.join("results.json")).unwrap();
    let report = plot_on_cpu(&dir, &dir.join("again")).unwrap();
    assert_eq!(report.written.len(), 2, "{:?}", report.written);
    assert!(
        report.skipped[0].contains("results.json"),
        "{:?}",
        report.skipped
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Run files edited by hand: a results.json that claims 10^12 epochs draws its learning
/// curve without epoch marks (it drew one per epoch, for hours), and a config.json that does
/// not validate draws no presentation and says why (it simulated a presentation of 10^9 ms).
pub fn edited_run_files_draw_what_they_can() {
    let dir = tmp("edited");
    let mut r = full_results();
    r["epochs"] = serde_json::json!(1e12);
    synthetic_run(&dir, Some(r));
    let path = dir.join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    cfg["present_ms"] = serde_json::json!(1e9);
    std::fs::write(&path, cfg.to_string()).unwrap();
    let test = mnist::embedded(Split::Test).unwrap();
    let opts = PlotOptions {
        image: Some(PlotImage {
            pixels: test.image(0).to_vec(),
            label: Some(test.label(0)),
            index: 0,
        }),
        neurons: None,
    };
    let out = dir.join("pictures");
    let report = plot_run(&dir, &out, &opts, &EngineChoice::default()).unwrap();
    assert!(report.written.contains(&out.join(LEARNING_CURVE_FILE)));
    assert!(
        report.skipped.iter().any(|s| s.contains("present_ms")),
        "{:?}",
        report.skipped
    );
    let _ = std::fs::remove_dir_all(&dir);
}

pub fn a_missing_run_or_network_is_an_error_naming_it() {
    let dir = tmp("missing");
    let err = plot_on_cpu(&dir, &dir).unwrap_err();
    assert!(err.to_string().contains(&*dir.to_string_lossy()), "{err}");
    assert!(err.to_string().contains("not found"), "{err}");
    std::fs::create_dir_all(&dir).unwrap();
    let err = plot_on_cpu(&dir, &dir).unwrap_err();
    assert!(err.to_string().contains("network.npz"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `small_config(16)` written as an experiment file named after `name`.
fn small_config_file(name: &str) -> std::path::PathBuf {
    let file = tmp(name).with_extension("toml");
    let text = toml::to_string(&small_config(16)).expect("config as TOML");
    std::fs::write(&file, text).expect("config file");
    file
}

pub fn cli_plot_on_a_tiny_trained_run() {
    let run = tmp("cli-run");
    let cfg_file = small_config_file("cli-config");
    let out = snn()
        .args(["train", "--train-samples", "30", "--label-samples", "30"])
        .args(["--test-samples", "20", "--quiet", "--config"])
        .arg(&cfg_file)
        .arg("--out")
        .arg(&run)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let pictures = run.join("pictures");
    let out = snn()
        .args([
            "plot",
            "--image",
            "2",
            "--neurons",
            "0,3",
            "--quiet",
            "--run",
        ])
        .arg(&run)
        .arg("--out")
        .arg(&pictures)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(line["command"], "plot");
    assert_eq!(line["skipped"], serde_json::json!([]), "{stdout}");
    let names = [
        RF_FILE.to_string(),
        THETA_FILE.to_string(),
        CONFUSION_FILE.to_string(),
        LEARNING_CURVE_FILE.to_string(),
        raster_file(2),
        traces_file(2),
    ];
    assert_eq!(line["written"].as_array().unwrap().len(), names.len());
    for n in &names {
        let p = pictures.join(n);
        assert!(
            std::fs::metadata(&p).unwrap().len() > 1000,
            "{}",
            p.display()
        );
        image::open(&p).unwrap();
    }

    let missing = tmp("cli-nothing-here");
    let out = snn()
        .args(["plot", "--run"])
        .arg(&missing)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&*missing.to_string_lossy()), "{stderr}");

    let out = snn()
        .args(["plot", "--image", "100000", "--run"])
        .arg(&run)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--image 100000"));
    // No font for the labels: an error that says what to install, not a panic.
    let fonts_conf = tmp("cli-no-fonts").with_extension("conf");
    std::fs::write(
        &fonts_conf,
        "<?xml version=\"1.0\"?>\n<fontconfig></fontconfig>\n",
    )
    .unwrap();
    let out = snn()
        .env("FONTCONFIG_FILE", &fonts_conf)
        .args(["plot", "--no-presentation", "--run"])
        .arg(&run)
        .arg("--out")
        .arg(run.join("no-fonts"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("fonts-dejavu-core") && !stderr.contains("panicked"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&run);
    let _ = std::fs::remove_file(&cfg_file);
    let _ = std::fs::remove_file(&fonts_conf);
}

/// `snn train --backend gpu` draws the presentation of test image 0 on the GPU engine, and
/// `snn plot --backend gpu|cpu` replays it on either: on a software adapter (rounding as the
/// CPU does) the raster and the traces are the same files, byte for byte. With no adapter,
/// `--backend gpu` is an error naming the one asked for.
pub fn cli_plot_replays_the_presentation_on_the_gpu() {
    let run = tmp("cli-gpu-run");
    let cfg_file = small_config_file("cli-gpu-config");
    let ok = |out: std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        serde_json::from_str::<serde_json::Value>(stdout.trim()).unwrap()
    };
    ok(snn()
        .args(["train", "--train-samples", "30", "--label-samples", "30"])
        .args([
            "--test-samples",
            "20",
            "--quiet",
            "--backend",
            "gpu",
            "--config",
        ])
        .arg(&cfg_file)
        .arg("--out")
        .arg(&run)
        .output()
        .unwrap());
    let presentation = [raster_file(0), traces_file(0)];
    let read = |dir: &Path| -> Vec<Vec<u8>> {
        presentation
            .iter()
            .map(|f| std::fs::read(dir.join(f)).expect("a picture of the presentation"))
            .collect()
    };
    let after_train = read(&run);
    for backend in ["gpu", "cpu"] {
        let pictures = run.join(format!("pictures-{backend}"));
        let line = ok(snn()
            .args(["plot", "--quiet", "--backend", backend, "--run"])
            .arg(&run)
            .arg("--out")
            .arg(&pictures)
            .output()
            .unwrap());
        assert_eq!(line["skipped"], serde_json::json!([]), "{line}");
        let drawn = read(&pictures);
        for (k, png) in drawn.iter().enumerate() {
            image::open(pictures.join(&presentation[k])).unwrap();
            if crate::common::gpu_ctx().is_software() {
                assert!(
                    *png == after_train[k],
                    "{} drawn by `snn plot --backend {backend}` differs from the one of \
                     `snn train --backend gpu`",
                    presentation[k]
                );
            }
        }
    }
    // The flag picks the engine: with no adapter of that name, the GPU replay fails naming
    // it, the CPU one does not, and without a presentation no device is opened.
    let no_adapter = |args: &[&str]| {
        snn()
            .env("WGPU_ADAPTER_NAME", "no-such-adapter-xyz")
            .args(["plot", "--quiet", "--run"])
            .arg(&run)
            .arg("--out")
            .arg(run.join("pictures-no-adapter"))
            .args(args)
            .output()
            .unwrap()
    };
    let out = no_adapter(&["--backend", "gpu"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no-such-adapter-xyz"), "{stderr}");
    ok(no_adapter(&["--backend", "cpu"]));
    ok(no_adapter(&["--backend", "gpu", "--no-presentation"]));
    let _ = std::fs::remove_dir_all(&run);
    let _ = std::fs::remove_file(&cfg_file);
}
