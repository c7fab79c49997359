//! Shared test helpers: the GPU context (fail under CI=true, skip elsewhere), the GPU-against-CPU
//! tolerance, a constant drive for one population, frozen trials, the `snn` command line,
//! temporary directories and synthetic MNIST (IDX) files.
#![allow(dead_code)]

use snn_wgpu::backend::Trial;
use snn_wgpu::gpu::{GpuContext, GpuOptions};
use snn_wgpu::model::net::{Connectivity, Network, PopulationKind, Projection};
use snn_wgpu::model::{NeuronKind, Target};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// True when a missing adapter must fail the test (CI=true or SNN_REQUIRE_GPU=1).
pub fn gpu_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
        || std::env::var("SNN_REQUIRE_GPU").is_ok_and(|v| v == "1")
}

/// The adapter choice of the tests, from `SNN_WGPU_BACKEND` (or `WGPU_BACKEND`) and
/// `WGPU_ADAPTER_NAME` as the programs read them.
pub fn gpu_options() -> GpuOptions {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    GpuOptions {
        backends: var("SNN_WGPU_BACKEND")
            .or_else(|| var("WGPU_BACKEND"))
            .map(|b| wgpu::Backends::from_comma_list(&b)),
        adapter_name: var("WGPU_ADAPTER_NAME"),
    }
}

/// The shared GPU context, created on first use (see [`gpu_options`]),
/// or why there is none.
fn context() -> &'static Result<Arc<GpuContext>, String> {
    static CTX: OnceLock<Result<Arc<GpuContext>, String>> = OnceLock::new();
    CTX.get_or_init(|| {
        GpuContext::new(&gpu_options())
            .map(Arc::new)
            .map_err(|e| e.to_string())
    })
}

/// Whether there is an adapter, and if not, why.
pub fn gpu_probe() -> Result<(), String> {
    context().as_ref().map(|_| ()).map_err(Clone::clone)
}

/// The shared GPU context, for a test the GPU harness (`tests/gpu/main.rs`) runs only when
/// there is an adapter or one is required. Panics, with the reason, when there is none.
pub fn gpu_ctx() -> Arc<GpuContext> {
    match context() {
        Ok(c) => c.clone(),
        Err(e) if gpu_required() => {
            panic!("a GPU adapter is required (CI=true or SNN_REQUIRE_GPU=1): {e}")
        }
        Err(e) => panic!("no GPU adapter: {e}"),
    }
}

/// The shared GPU context, or `None` (with a printed reason) when there is no adapter and
/// none is required: for a test that checks the GPU after a CPU part. Panics when an adapter
/// is required and missing.
pub fn gpu() -> Option<Arc<GpuContext>> {
    match context() {
        Ok(c) => Some(c.clone()),
        Err(e) if gpu_required() => panic!("a GPU adapter is required under CI=true: {e}"),
        Err(e) => {
            eprintln!("SKIPPED (no GPU adapter; set CI=true to make this fail): {e}");
            None
        }
    }
}

// ---- GPU against CPU ----

/// Relative tolerance of the GPU-against-CPU comparisons of state, weights and θ.
pub const REL_TOL: f32 = 1e-5;

/// The magnitude below which [`assert_close`] stops scaling: a CPU value `c` with
/// `|c| < REL_FLOOR` allows `REL_TOL · REL_FLOOR` = 1e-9 absolute. Above it the tolerance is
/// truly relative (a weight of 0.1 may differ by 1e-6, a θ of 20 mV by 2e-4 mV); below it sit
/// only decayed conductances and traces, and weights clipped to 0, whose last bits carry no
/// meaning.
pub const REL_FLOOR: f32 = 1e-4;

/// `|gpu − cpu| / max(|cpu|, REL_FLOOR)`.
pub fn rel_diff(gpu: f32, cpu: f32) -> f32 {
    (gpu - cpu).abs() / cpu.abs().max(REL_FLOOR)
}

/// Asserts `gpu` and `cpu` agree within [`REL_TOL`] relative ([`rel_diff`]) element by
/// element, naming the first that does not; returns the largest relative difference seen
/// (0 when they are bit for bit the same).
pub fn assert_close(gpu: &[f32], cpu: &[f32], what: &str) -> f32 {
    assert_eq!(gpu.len(), cpu.len(), "{what}: lengths");
    let mut worst = 0.0f32;
    for (k, (&x, &y)) in gpu.iter().zip(cpu).enumerate() {
        let d = rel_diff(x, y);
        assert!(
            d <= REL_TOL,
            "{what}[{k}]: gpu {x} vs cpu {y}: relative difference {d:.2e} > {REL_TOL:.0e}"
        );
        worst = worst.max(d);
    }
    worst
}

// ---- input ----

/// `net` with a constant input of `value` per step into population `pop` (`size` neurons)
/// during `steps`: a source `{pop}_drive` that spikes at every one of those steps,
/// projected one-to-one with weight `value` onto `v` (IF, LIF, custom) or `ge` (conductance
/// and current LIF), as an external current.
pub fn with_drive(
    net: Network,
    pop: &str,
    size: u32,
    value: f32,
    steps: std::ops::Range<u32>,
) -> Network {
    let target = match net
        .populations
        .iter()
        .find(|p| p.name == pop)
        .map(|p| &p.kind)
    {
        Some(PopulationKind::Neurons(m))
            if matches!(m.kind, NeuronKind::CondLif(_) | NeuronKind::CurrentLif(_)) =>
        {
            Target::Ge
        }
        _ => Target::MEMBRANE_EXC,
    };
    let dt = net.dt_ms;
    let source = format!("{pop}_drive");
    let spikes = steps
        .flat_map(|t| (0..size).map(move |i| (i, t as f32 * dt)))
        .collect();
    net.spike_times(&source, size, spikes)
        .project(Projection::new(
            &source,
            &source,
            pop,
            target,
            Connectivity::OneToOne,
            value,
        ))
}

// ---- the `snn` command line ----

/// One frozen trial per rate vector, trial `k` keyed `first_key + k`.
pub fn trials(rates: &[Vec<f32>], first_key: u32) -> Vec<Trial<'_>> {
    rates
        .iter()
        .zip(first_key..)
        .map(|(r, key)| Trial { rates_hz: r, key })
        .collect()
}

/// The `snn` binary of this build.
pub fn snn() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_snn"))
}

/// A path under the system temp dir for `name`, unique to this call of this test process,
/// removed first.
pub fn tmp(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("snn-test-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// The last JSON line of a command's stdout.
pub fn json_line(stdout: &[u8]) -> serde_json::Value {
    let text = String::from_utf8_lossy(stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON line in: {text}"));
    serde_json::from_str(line).unwrap()
}

/// The last JSON line of a command that must have succeeded (its stderr otherwise).
pub fn json_ok(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_line(&out.stdout)
}

// ---- files ----

/// A fresh, empty directory under the system temp dir, unique to this call of this test
/// process; removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = tmp(tag);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// Names in the subdirectory `sub`, sorted.
    pub fn entries(&self, sub: &str) -> Vec<String> {
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

/// `bytes` gzip'd.
pub fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// An IDX header: its big-endian fields, the magic number first.
pub fn idx_header(fields: &[u32]) -> Vec<u8> {
    fields.iter().flat_map(|f| f.to_be_bytes()).collect()
}

/// An IDX image file of `count` images of `rows`×`cols` pixels (a fixed pattern).
pub fn idx_images(count: u32, rows: u32, cols: u32) -> Vec<u8> {
    let mut v = idx_header(&[2051, count, rows, cols]);
    v.extend((0..count * rows * cols).map(|i| (i % 251) as u8));
    v
}

/// An IDX label file holding `labels`.
pub fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut v = idx_header(&[2049, labels.len() as u32]);
    v.extend_from_slice(labels);
    v
}
