//! Helpers of the bad-input tests: MNIST folders, the `snn` binary and assertions on its
//! failures; the imports every area shares (temp dirs and IDX files come from `common`).

pub(crate) use crate::common::{gz, idx_images, idx_labels, TempDir};
pub(crate) use snn_wgpu::data::mnist::{self, Split};
pub(crate) use snn_wgpu::experiments::diehl_cook::config::DcConfig;
pub(crate) use snn_wgpu::experiments::diehl_cook::engine::DcEngine;
pub(crate) use snn_wgpu::experiments::diehl_cook::io::{
    check_writable_dir, save_network, write_atomic, SavedNetwork, NETWORK_FILE,
};
pub(crate) use snn_wgpu::gpu::{GpuContext, GpuEngineOptions, GpuOptions};
pub(crate) use std::sync::Arc;

/// `spec` on the GPU engine of `ctx`, launched by default.
pub(crate) fn on_gpu(ctx: Arc<GpuContext>, spec: &CompetitiveSpec) -> snn_wgpu::Result<DcEngine> {
    DcEngine::on_gpu(ctx, spec, GpuEngineOptions::default())
}
pub(crate) use snn_wgpu::experiments::diehl_cook::{CompetitiveSpec, PresentOptions, RestMode};
pub(crate) use snn_wgpu::model::*;
pub(crate) use snn_wgpu::SnnError;
pub(crate) use std::io::Write;
pub(crate) use std::path::PathBuf;
pub(crate) use std::process::{Command, Output};

/// A directory with both MNIST splits of `n` images of `rows`x`cols`.
pub(crate) fn mnist_dir(tag: &str, n: u32, rows: u32, cols: u32) -> TempDir {
    let t = TempDir::new(tag);
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    for p in ["train", "t10k"] {
        t.write(
            &format!("{p}-images-idx3-ubyte.gz"),
            &gz(&idx_images(n, rows, cols)),
        );
        t.write(&format!("{p}-labels-idx1-ubyte"), &idx_labels(&labels));
    }
    t
}

pub(crate) fn err_text<T>(r: snn_wgpu::Result<T>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

/// Asserts that `text` contains every needle.
#[track_caller]
pub(crate) fn has_all(text: &str, needles: &[&str]) {
    for n in needles {
        assert!(text.contains(n), "expected `{n}` in:\n{text}");
    }
}

/// The `snn` binary with `args`.
pub(crate) fn snn(args: &[&str]) -> Command {
    let mut c = crate::common::snn();
    c.args(args);
    c
}

/// Runs a command that must fail, without panicking, and returns its stderr.
#[track_caller]
pub(crate) fn fails(mut c: Command) -> String {
    let out: Output = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "expected a failure; stderr:\n{stderr}"
    );
    assert!(
        !stderr.contains("panicked"),
        "a panic instead of an error:\n{stderr}"
    );
    stderr
}

/// Runs a command that must succeed and returns its stderr.
#[track_caller]
pub(crate) fn succeeds(mut c: Command) -> String {
    let out = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "expected success; stderr:\n{stderr}");
    stderr
}

/// Tiny sample counts for CLI runs on the embedded subset.
pub(crate) const TINY: [&str; 7] = [
    "--train-samples",
    "2",
    "--label-samples",
    "2",
    "--test-samples",
    "2",
    "--quiet",
];

/// `snn presets --show dc100` with `edit` applied, written to `dir/name`.
pub(crate) fn preset_toml(dir: &TempDir, name: &str, edit: impl Fn(String) -> String) -> PathBuf {
    let out = snn(&["presets", "--show", "dc100"]).output().unwrap();
    assert!(out.status.success());
    let text = edit(String::from_utf8(out.stdout).unwrap());
    dir.write(name, text.as_bytes())
}

pub(crate) fn small_config() -> DcConfig {
    let mut c = DcConfig::preset("dc100").unwrap();
    c.n_exc = 10;
    c
}
