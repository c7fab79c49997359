//! `NetworkSpec`: one population of neurons, its input and its monitors, as plain data.
//!
//! Built by the user, checked by [`NetworkSpec::validate`], then handed to a backend
//! (`CpuBackend::new`, `GpuBackend::new`). `batch` independent copies of the network run
//! side by side; copy `b` draws its random input with index `b·n + i`.

use super::input::InputSpec;
use super::monitor::MonitorSpec;
use super::neuron::NeuronModel;
use crate::error::{Result, SnnError};

/// A population, its input and what to record.
#[derive(Debug, Clone)]
pub struct NetworkSpec {
    /// Population name, used in messages.
    pub name: String,
    /// Number of neurons.
    pub n: u32,
    /// Number of independent copies run together.
    pub batch: u32,
    /// Time step (ms).
    pub dt_ms: f32,
    /// Seed of the counter-based RNG.
    pub seed: u32,
    /// Neuron dynamics.
    pub model: NeuronModel,
    /// External input.
    pub input: InputSpec,
    /// Recordings.
    pub monitors: MonitorSpec,
}

impl NetworkSpec {
    /// A network of `n` neurons of `model`, dt = 0.5 ms, seed 0, no input, no monitors.
    pub fn new(name: impl Into<String>, n: u32, model: NeuronModel) -> Self {
        NetworkSpec {
            name: name.into(),
            n,
            batch: 1,
            dt_ms: 0.5,
            seed: 0,
            model,
            input: InputSpec::default(),
            monitors: MonitorSpec::default(),
        }
    }

    /// Sets dt (ms).
    pub fn with_dt_ms(mut self, dt_ms: f32) -> Self {
        self.dt_ms = dt_ms;
        self
    }
    /// Sets the RNG seed.
    pub fn with_seed(mut self, seed: u32) -> Self {
        self.seed = seed;
        self
    }
    /// Sets the number of independent copies.
    pub fn with_batch(mut self, batch: u32) -> Self {
        self.batch = batch;
        self
    }
    /// Sets the input.
    pub fn with_input(mut self, input: InputSpec) -> Self {
        self.input = input;
        self
    }
    /// Sets the monitors.
    pub fn with_monitors(mut self, monitors: MonitorSpec) -> Self {
        self.monitors = monitors;
        self
    }

    /// Checks the whole spec, naming the first bad field and value.
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`] or [`SnnError::UnknownName`].
    pub fn validate(&self) -> Result<()> {
        if !(self.dt_ms > 0.0) || !self.dt_ms.is_finite() {
            return Err(SnnError::invalid(
                "dt_ms",
                self.dt_ms,
                "a finite time step > 0 ms",
            ));
        }
        if self.n == 0 {
            return Err(SnnError::invalid("n", self.n, "at least 1 neuron"));
        }
        if self.batch == 0 {
            return Err(SnnError::invalid("batch", self.batch, "at least 1 network"));
        }
        if (self.n as u64) * (self.batch as u64) > u32::MAX as u64 / 2 {
            return Err(SnnError::invalid(
                "n * batch",
                self.n as u64 * self.batch as u64,
                "fewer than 2^31 neurons",
            ));
        }
        self.model.validate(self.dt_ms)?;
        self.input.validate(self.n, self.dt_ms)?;
        if let Some(r) = &self.monitors.spikes {
            if r.start > r.end {
                return Err(SnnError::invalid(
                    "monitors.spikes",
                    format!("{r:?}"),
                    "a range with start <= end",
                ));
            }
        }
        if let Some(m) = &self.monitors.state {
            if m.steps.start > m.steps.end {
                return Err(SnnError::invalid(
                    "monitors.state.steps",
                    format!("{:?}", m.steps),
                    "start <= end",
                ));
            }
            for v in &m.vars {
                self.model.var_index(v)?;
            }
            if let Some(i) = m.neurons.iter().find(|&&i| i >= self.n) {
                return Err(SnnError::invalid(
                    "monitors.state.neurons",
                    i,
                    format!("indices below n = {}", self.n),
                ));
            }
            let mut seen = std::collections::HashSet::new();
            if let Some(i) = m.neurons.iter().find(|&&i| !seen.insert(i)) {
                return Err(SnnError::invalid(
                    "monitors.state.neurons",
                    i,
                    "each neuron listed once",
                ));
            }
        }
        Ok(())
    }

    /// Valid but suspicious values: time constants that `dt_ms` resolves coarsely
    /// (`dt > τ/5`), each a message naming the field (see [`NeuronModel::warnings`]).
    pub fn warnings(&self) -> Vec<String> {
        self.model.warnings(self.dt_ms)
    }

    /// Bit mask over [`NeuronModel::state_var_names`] of the monitored variables.
    pub(crate) fn monitored_var_mask(&self) -> u32 {
        let mut mask = 0u32;
        if let Some(m) = &self.monitors.state {
            for v in &m.vars {
                if let Ok(k) = self.model.var_index(v) {
                    mask |= 1 << k;
                }
            }
        }
        mask
    }
}
