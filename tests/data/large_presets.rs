//! The large presets train without the forward-Euler runaway (docs/diehl_cook.md, pitfalls).
//! With 6400 inhibitory neurons, a step in which a dozen of them fire at once gives
//! `gi·dt/τ_m` above 1, Euler drives v far past E_inh, the inhibitory term turns depolarising,
//! and the whole layer fires at its lockout rate from then on. dc6400 without
//! `clamp_v_to_reversal` meets that within its first 53 embedded training images (on the 52nd
//! with seed 0); the preset turns the clamp on and trains through, and `snn train` warns when a
//! run meets it. CPU reference, learning on, the full protocol (350 ms + 150 ms of simulated
//! rest).

use crate::common::{json_ok, snn, tmp};
use snn_wgpu::data::mnist::{embedded, Split};
use snn_wgpu::experiments::diehl_cook::config::DcConfig;
use snn_wgpu::experiments::diehl_cook::engine::DcEngine;
use snn_wgpu::experiments::diehl_cook::train::looks_like_runaway;
use snn_wgpu::experiments::diehl_cook::{PresentOptions, RestMode};

#[test]
fn every_preset_turns_the_reversal_clamp_on() {
    for name in ["dc100", "dc400", "dc1600", "dc6400"] {
        assert!(
            DcConfig::preset(name).unwrap().clamp_v_to_reversal,
            "{name}"
        );
    }
}

#[test]
fn the_dc6400_preset_trains_through_where_unclamped_euler_runs_away() {
    let cfg = DcConfig::preset("dc6400").unwrap();
    let mut b = DcEngine::new(&cfg.to_spec()).unwrap();
    let data = embedded(Split::Train).unwrap();
    let mut active = vec![];
    for k in 0..56 {
        let opts = PresentOptions {
            steps_on: cfg.steps_on(),
            steps_rest: cfg.steps_rest(),
            rest: RestMode::Simulate,
            learn: true,
            key: k as u32,
        };
        let counts = b
            .present(&DcConfig::rates(data.image(k), cfg.intensity_start), &opts)
            .unwrap();
        assert!(!looks_like_runaway(&counts), "image {}: {active:?}", k + 1);
        active.push(counts.iter().filter(|&&c| c > 0).count());
    }
    // A winner-take-all layer: a handful of neurons per image (1–19 here).
    let most = active.iter().copied().max().unwrap();
    assert!(
        most < 100,
        "{most} of 6400 neurons fired in one presentation: {active:?}"
    );
}

/// `snn train` with `args`, one epoch of the first 53 embedded images (the unclamped
/// runaway comes within them), a short labelling and test, into `dir/run`.
fn train_53_images(args: &[&str], dir: &std::path::Path) -> std::process::Output {
    snn()
        .arg("train")
        .args(args)
        .args([
            "--epochs",
            "1",
            "--train-samples",
            "53",
            "--label-samples",
            "10",
        ])
        .args([
            "--test-samples",
            "10",
            "--checkpoint-every",
            "0",
            "--quiet",
            "--out",
        ])
        .arg(dir.join("run"))
        .output()
        .unwrap()
}

/// The image a run reported its runaway at (`runaway_at_image`): one of the 53 it trained
/// on. Which one depends on the seed, the data and the order of floating-point operations
/// (the 52nd with seed 0 when this was written), so only the range is asserted.
fn runaway_within_53(at: &serde_json::Value, line: &serde_json::Value) -> u64 {
    let at = at
        .as_u64()
        .unwrap_or_else(|| panic!("no runaway reported in 53 images: {line}"));
    assert!((1..=53).contains(&at), "runaway_at_image {at}: {line}");
    at
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn snn_train_warns_when_the_layer_runs_away() {
    let dir = tmp("runaway");
    std::fs::create_dir_all(&dir).unwrap();
    let show = snn()
        .args(["presets", "--show", "dc6400"])
        .output()
        .unwrap();
    assert!(show.status.success());
    let toml = String::from_utf8(show.stdout).unwrap();
    assert!(toml.contains("clamp_v_to_reversal = true"), "{toml}");
    let file = dir.join("dc6400-unclamped.toml");
    std::fs::write(
        &file,
        toml.replace("clamp_v_to_reversal = true", "clamp_v_to_reversal = false"),
    )
    .unwrap();
    let out = train_53_images(&["--config", path(&file)], &dir);
    let line = json_ok(&out);
    let at = runaway_within_53(&line["runaway_at_image"], &line);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "warning: at training image {at}, more than half of the 6400"
        )) && stderr.contains("clamp_v_to_reversal = true"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_many_network_run_names_the_network_that_ran_away() {
    let dir = tmp("runaway-sweep");
    std::fs::create_dir_all(&dir).unwrap();
    // Network 0 without the clamp, network 1 the preset; both seed 0.
    let sweep = dir.join("sweep.toml");
    std::fs::write(
        &sweep,
        "[[network]]\nclamp_v_to_reversal = false\nseed = 0\n[[network]]\nseed = 0\n",
    )
    .unwrap();
    let out = train_53_images(&["--preset", "dc6400", "--sweep", path(&sweep)], &dir);
    let line = json_ok(&out);
    let at = runaway_within_53(&line["networks"][0]["runaway_at_image"], &line);
    assert!(line["networks"][1]["runaway_at_image"].is_null(), "{line}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "warning: network 0 (seed 0): at training image {at}"
        )) && !stderr.contains("network 1"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
