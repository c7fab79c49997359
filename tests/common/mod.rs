//! Shared test helpers: the GPU context (fail under CI=true, skip elsewhere) and specs.
#![allow(dead_code)]

use snn_wgpu::gpu::{GpuContext, GpuOptions};
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
        ..Default::default()
    }
}

/// The shared GPU context, or `None` (with a printed reason) when there is no adapter and
/// none is required. Panics when an adapter is required and missing.
pub fn gpu() -> Option<Arc<GpuContext>> {
    static CTX: OnceLock<Result<Arc<GpuContext>, String>> = OnceLock::new();
    match CTX.get_or_init(|| {
        GpuContext::new(&gpu_options())
            .map(Arc::new)
            .map_err(|e| e.to_string())
    }) {
        Ok(c) => Some(c.clone()),
        Err(e) if gpu_required() => panic!("a GPU adapter is required under CI=true: {e}"),
        Err(e) => {
            eprintln!("SKIPPED (no GPU adapter; set CI=true to make this fail): {e}");
            None
        }
    }
}

// ---- the `snn` command line ----

/// The `snn` binary of this build.
pub fn snn() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_snn"))
}

/// A path under the system temp dir for `name`, unique to this test process, removed first.
pub fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("snn-test-{name}-{}", std::process::id()));
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
