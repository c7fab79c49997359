//! CPU REFERENCE backend: plain f32 Rust, stage for stage like the WGSL kernels.
//!
//! [`engine::Engine`] runs any `model::net::Network` of populations and projections (the
//! Diehl & Cook network among them). `neuron` and `stdp` are its stage functions, the twins
//! of the WGSL ones. They are the oracle the GPU is tested against, and a
//! usable backend on machines with no GPU.

pub mod engine;
mod memory;
pub mod neuron;
pub mod simd;
pub mod stdp;
