//! MODEL DESCRIPTION: what is simulated, as plain Rust data with no wgpu types.
//!
//! Users build a [`net::Network`] of populations ([`NeuronModel`]s and spike sources),
//! projections and monitors, which the engines (`cpu::engine`, `gpu::GpuEngine`) validate,
//! derive per-step constants from, and run.
pub mod net;
pub mod neuron;
pub mod stdp;
pub mod synapse;

pub use neuron::{
    CondLifParams, CpuCharge, CurrentLifParams, CustomModel, DerivedNeuron, Integration, LifParams,
    NeuronKind, NeuronModel, ResetMode, ThetaParams,
};
pub use stdp::{StdpParams, StdpRule};
pub use synapse::{Sign, Target};
