//! GPU backend (wgpu): the only module that imports wgpu.
//!
//! [`GpuContext`] owns the device; [`GpuEngine`] runs any `model::net::Network` on it;
//! `wta` and `wta_multi` run the Diehl & Cook competitive layer; `shaders` composes the WGSL;
//! `layout` mirrors it; `readback` copies buffers to the host; `tuning` picks the competitive
//! kernels' launch shape per adapter.
pub mod context;
pub mod engine;
pub mod layout;
mod readback;
pub mod shaders;
pub mod tuning;
pub mod wta;
mod wta_consts;
pub mod wta_multi;

pub use context::{GpuContext, GpuOptions, LOOP_ITERATION_BUDGET};
pub use engine::{EngineSchedule, GpuEngine, GpuEngineOptions};
pub use tuning::{KernelTuning, TuningOverrides};
pub use wta::Schedule;
