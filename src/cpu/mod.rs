//! CPU REFERENCE backend: plain f32 Rust, stage for stage like the WGSL kernels.
//!
//! [`engine::Engine`] runs any `model::net::Network` of populations and projections; `wta`
//! runs the Diehl & Cook competitive layer. `neuron` and `stdp` are the stage functions both
//! share, the twins of the WGSL ones. They are the oracle the GPU is tested against, and a
//! usable backend on machines with no GPU.

pub mod engine;
mod memory;
pub mod neuron;
pub mod simd;
pub mod stdp;
pub mod wta;
