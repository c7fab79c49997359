//! GPU backend (wgpu): the only module that imports wgpu.
//!
//! [`GpuContext`] owns the device; [`GpuEngine`] runs any `model::net::Network` on it;
//! `shaders` composes the WGSL; `layout` mirrors its uniform structs; `readback` copies
//! buffers to the host; `timer` times the step passes on the device.
pub mod context;
pub mod engine;
pub mod layout;
mod readback;
pub mod shaders;
mod timer;

pub use context::{GpuContext, GpuOptions, LOOP_ITERATION_BUDGET};
pub use engine::{
    EngineSchedule, GpuEngine, GpuEngineOptions, DEFAULT_ARRIVAL_QUEUE,
    DEFAULT_PRESENTATIONS_PER_SUBMISSION,
};
