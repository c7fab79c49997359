//! # snn-wgpu
//!
//! Spiking neural networks on the GPU through wgpu and WGSL compute shaders, with a CPU
//! reference backend that implements the same semantics and checks every kernel.
//!
//! ## From the top
//!
//! - [`model`]: what is simulated. A [`model::NetworkSpec`] holds a population of neurons
//!   ([`model::NeuronModel`]: IF, LIF, conductance LIF or a [`model::CustomModel`], with an
//!   optional adaptive threshold θ), its input ([`model::InputSpec`]) and its monitors.
//! - [`Backend`]: how it is simulated. [`cpu::CpuBackend`] is the reference;
//!   [`gpu::GpuBackend`] runs WGSL kernels on a [`gpu::GpuContext`] with a fused or
//!   stepwise [`gpu::Schedule`].
//! - Results come back as [`NetworkState`] and [`Recording`].
//!
//! ```text
//! NetworkSpec ──validate/derive──▶ CpuBackend │ GpuBackend ──run(steps)──▶ NetworkState, Recording
//!                                   (Rust)       (shaders/*.wgsl)
//! ```
//!
//! ```no_run
//! use snn_wgpu::{Backend, cpu::CpuBackend, model::*};
//! # fn main() -> snn_wgpu::Result<()> {
//! let lif = NeuronModel::lif(LifParams { tau_m_ms: 20.0, v_rest_mv: -65.0 }, -50.0);
//! let spec = NetworkSpec::new("exc", 100, lif)
//!     .with_input(InputSpec::poisson(200.0, 4.0))
//!     .with_monitors(MonitorSpec { spikes: Some(0..1000), state: None });
//! let mut sim = CpuBackend::new(&spec)?;
//! sim.run(1000)?;
//! println!("{} spikes", sim.recording()?.total_spikes());
//! # Ok(()) }
//! ```
//!
//! ## Features
//!
//! All on by default; with `default-features = false` the crate is the engine alone.
//!
//! - `cli`: the `snn` and `snn-bench` programs and the examples (clap, indicatif, anyhow).
//! - `plots`: `experiments::diehl_cook::plots`, PNG figures drawn with plotters.
//! - `fetch`: `data::fetch`, downloading MNIST over HTTPS and checking its SHA-256 sums.
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]
// `!(x > 0.0)` is deliberate throughout validation: unlike `x <= 0.0`, it also rejects NaN.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub mod backend;
pub mod cpu;
pub mod data;
pub mod encode;
pub mod error;
pub mod experiments;
#[allow(missing_docs)]
pub mod gpu;
pub mod model;

pub use backend::{Backend, NetworkState, Recording};
pub use error::{Result, SnnError};
