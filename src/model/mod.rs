//! MODEL DESCRIPTION: what is simulated, as plain Rust data with no wgpu types.
//!
//! Users build a [`NetworkSpec`] from a [`NeuronModel`], an [`InputSpec`] and a
//! [`MonitorSpec`]; backends validate it and derive per-step constants from it.
//! [`net::Network`] describes a whole network of populations and projections, which
//! `cpu::engine` runs.
pub mod input;
pub mod monitor;
pub mod net;
pub mod network;
pub mod neuron;
pub mod stdp;
pub mod synapse;
pub mod wta;

pub use input::{InputSpec, PoissonInput};
pub use monitor::{MonitorSpec, StateMonitor};
pub use network::NetworkSpec;
pub use neuron::{
    CondLifParams, CpuCharge, CurrentLifParams, CustomModel, DerivedNeuron, Integration, LifParams,
    NeuronKind, NeuronModel, ResetMode, ThetaParams,
};
pub use stdp::{StdpParams, StdpRule};
pub use synapse::{Connectivity, Projection, Sign, Target, WeightInit};
pub use wta::{CompetitiveSpec, PresentOptions, RestMode};
