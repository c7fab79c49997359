//! Helpers of the bad-input tests: temp dirs, synthetic MNIST files, the `snn` binary and
//! assertions on its failures; the imports every area shares.

pub(crate) use snn_wgpu::backend::CompetitiveBackend;
pub(crate) use snn_wgpu::cpu::wta::CpuCompetitive;
pub(crate) use snn_wgpu::data::mnist::{self, Split};
pub(crate) use snn_wgpu::experiments::diehl_cook::config::DcConfig;
pub(crate) use snn_wgpu::experiments::diehl_cook::io::{
    check_writable_dir, save_network, write_atomic, SavedNetwork, NETWORK_FILE,
};
pub(crate) use snn_wgpu::gpu::wta::{GpuCompetitive, MAX_EXC, MAX_INPUTS};
pub(crate) use snn_wgpu::gpu::{GpuContext, GpuOptions};
pub(crate) use snn_wgpu::model::*;
pub(crate) use snn_wgpu::SnnError;
pub(crate) use std::io::Write;
pub(crate) use std::path::PathBuf;
pub(crate) use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh directory under the system temp dir, removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("snn-bad-input-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub(crate) fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// Names in the directory, sorted.
    pub(crate) fn entries(&self, sub: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.0.join(sub))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn idx_images(count: u32, rows: u32, cols: u32) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [0x0803, count, rows, cols] {
        v.extend_from_slice(&u32::to_be_bytes(x));
    }
    v.extend((0..count * rows * cols).map(|i| (i % 251) as u8));
    v
}

pub(crate) fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [0x0801, labels.len() as u32] {
        v.extend_from_slice(&u32::to_be_bytes(x));
    }
    v.extend_from_slice(labels);
    v
}

pub(crate) fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

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

pub(crate) fn snn(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_snn"));
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
