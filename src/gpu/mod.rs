//! GPU backend (wgpu): the only module that imports wgpu.
//!
//! [`GpuContext`] owns the device; [`GpuBackend`] turns a `NetworkSpec` into buffers and
//! pipelines and schedules steps on them; `shaders` composes the WGSL; `layout` mirrors it;
//! `tuning` picks the competitive kernels' launch shape per adapter.
pub mod backend;
pub mod context;
pub mod engine;
pub mod layout;
pub mod shaders;
pub mod tuning;
pub mod wta;
mod wta_consts;
pub mod wta_multi;

pub use backend::{
    fused_chunk_steps, GpuBackend, GpuBackendOptions, Schedule, LOOP_ITERATION_BUDGET,
};
pub use context::{GpuContext, GpuOptions};
pub use engine::{EngineSchedule, GpuEngine, GpuEngineOptions};
pub use tuning::{KernelTuning, TuningOverrides};
