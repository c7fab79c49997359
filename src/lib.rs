//! # snn-wgpu
//!
//! Spiking neural networks on the GPU through wgpu and WGSL compute shaders, with a CPU
//! reference backend that implements the same semantics and checks every kernel.
//!
//! ## From the top
//!
//! - [`model`]: what is simulated. A [`model::net::Network`] holds populations of neurons
//!   ([`model::NeuronModel`]: IF, LIF, conductance or current LIF, or a
//!   [`model::CustomModel`], with an optional adaptive threshold θ) and spike sources
//!   (Poisson, given spike times), [`model::net::Projection`]s between them (connectivity,
//!   weights, delays, STDP), monitors, and K independent copies.
//! - [`Simulator`]: how it is simulated. [`cpu::engine::Engine`] is the reference;
//!   [`gpu::GpuEngine`] runs the same network in WGSL kernels on a [`gpu::GpuContext`] and
//!   gives the same spikes.
//! - Results come back as [`model::net::Recording`]s, weights and state variables.
//!
//! ```text
//! Network ──validate──▶ cpu::engine::Engine │ gpu::GpuEngine ──run(steps)──▶ recordings, weights, state
//!                        (Rust)                (shaders/*.wgsl)
//! ```
//!
//! ```no_run
//! use snn_wgpu::cpu::engine::Engine;
//! use snn_wgpu::model::net::{Connectivity, MonitorKind, Network, Projection, Recording};
//! use snn_wgpu::model::{LifParams, NeuronModel, Target};
//! # fn main() -> snn_wgpu::Result<()> {
//! let lif = NeuronModel::lif(LifParams { tau_m_ms: 20.0, v_rest_mv: -65.0 }, -50.0);
//! // 100 LIF neurons, each kicked by 4 mV by its own 200 Hz Poisson source.
//! let net = Network::new(0.5)
//!     .poisson("in", 100, 200.0)
//!     .neurons("exc", 100, lif)
//!     .project(Projection::new(
//!         "in_exc", "in", "exc", Target::MEMBRANE_EXC, Connectivity::OneToOne, 4.0,
//!     ))
//!     .monitor("spikes", "exc", MonitorKind::Spikes { neurons: None });
//! let mut sim = Engine::new(&net)?; // or gpu::GpuEngine::new(ctx, &net)?
//! sim.run(1000)?;
//! if let Recording::Spikes(spikes) = sim.recording("spikes", 0)? {
//!     println!("{} spikes", spikes.len());
//! }
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

pub use backend::Simulator;
pub use error::{Result, SnnError};
