//! Shared test helpers: the GPU context (fail under CI=true, skip elsewhere) and specs.
#![allow(dead_code)]

use snn_wgpu::gpu::GpuContext;
use std::sync::{Arc, OnceLock};

/// True when a missing adapter must fail the test (CI=true or SNN_REQUIRE_GPU=1).
pub fn gpu_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
        || std::env::var("SNN_REQUIRE_GPU").is_ok_and(|v| v == "1")
}

/// The shared GPU context, or `None` (with a printed reason) when there is no adapter and
/// none is required. Panics when an adapter is required and missing.
pub fn gpu() -> Option<Arc<GpuContext>> {
    static CTX: OnceLock<Result<Arc<GpuContext>, String>> = OnceLock::new();
    match CTX.get_or_init(|| {
        GpuContext::from_env()
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
