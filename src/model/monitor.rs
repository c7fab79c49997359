//! Monitors: which spikes and state variables a run records, over which steps.
//!
//! Backends fill the records on the device (GPU) or in place (CPU) during `run`, and hand
//! them back through `Backend::recording` without a host round-trip per step.
//! Step ranges are absolute step numbers `[start, end)`, counted from the network's creation.

use std::ops::Range;

/// Records the state variables `vars` of `neurons` at steps `steps`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StateMonitor {
    /// Variable names (`v`, `theta`, `ge`, `gi`, custom names).
    pub vars: Vec<String>,
    /// Neuron indices within the population (the same for every batch entry).
    pub neurons: Vec<u32>,
    /// Steps to record.
    pub steps: Range<u32>,
}

/// What to record during runs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MonitorSpec {
    /// Record every neuron's spikes (bit-packed) at these steps.
    pub spikes: Option<Range<u32>>,
    /// Record chosen state variables of chosen neurons.
    pub state: Option<StateMonitor>,
}
