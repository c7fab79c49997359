//! The `Backend` trait and the backend-neutral results (`NetworkState`, `Recording`).
//!
//! Experiments and tests drive a simulation only through this trait, so the CPU reference
//! and the GPU backend are interchangeable. Results come back as plain host data.

use crate::error::{Result, SnnError};
use crate::model::NetworkSpec;
use std::ops::Range;

mod multi;
pub(crate) mod simulator;
pub use multi::CompetitiveMulti;
pub(crate) use simulator::impl_simulator;
pub use simulator::{Simulator, Trial};

/// A simulation engine for one [`NetworkSpec`].
pub trait Backend {
    /// Human-readable name: `"cpu"`, or `"gpu:<adapter> (<backend>), <schedule>"`.
    fn describe(&self) -> String;

    /// Advances every network by `steps` steps, filling the monitors.
    ///
    /// # Errors
    /// GPU errors, or [`SnnError::InvalidParam`] if the step counter would overflow `u32`.
    fn run(&mut self, steps: u32) -> Result<()>;

    /// Blocks until all submitted work has finished (for timing; a no-op on the CPU).
    ///
    /// # Errors
    /// GPU errors (device lost).
    fn sync(&mut self) -> Result<()> {
        Ok(())
    }

    /// Reads every state variable back to the host (for the GPU, one copy per buffer; never
    /// call it inside a time loop).
    ///
    /// # Errors
    /// GPU errors while reading back.
    fn state(&mut self) -> Result<NetworkState>;

    /// Reads the monitors back to the host.
    ///
    /// # Errors
    /// GPU errors while reading back.
    fn recording(&mut self) -> Result<Recording>;
}

/// The state of every neuron of every network, on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkState {
    /// Population name.
    pub name: String,
    /// Neurons per network.
    pub n: u32,
    /// Number of networks.
    pub batch: u32,
    /// Steps simulated so far, per network.
    pub step: Vec<u32>,
    /// Variable names, in the order of `vars`.
    pub var_names: Vec<String>,
    /// One batch-major array (`b·n + i`) per variable.
    pub vars: Vec<Vec<f32>>,
    /// Remaining refractory steps.
    pub refrac: Vec<u32>,
    /// Whether each neuron spiked at the latest step.
    pub spiked: Vec<bool>,
}

impl NetworkState {
    /// The values of one variable, batch-major.
    ///
    /// # Errors
    /// [`SnnError::UnknownName`] if there is no such variable.
    pub fn var(&self, name: &str) -> Result<&[f32]> {
        self.var_names
            .iter()
            .position(|n| n == name)
            .map(|k| self.vars[k].as_slice())
            .ok_or_else(|| SnnError::UnknownName {
                kind: "state variable",
                name: name.into(),
                known: self.var_names.join(", "),
            })
    }

    /// Fails on the first NaN or infinite value, naming the variable and neuron.
    ///
    /// # Errors
    /// [`SnnError::NonFinite`].
    pub fn check_finite(&self) -> Result<()> {
        for (name, vals) in self.var_names.iter().zip(&self.vars) {
            if let Some(i) = vals.iter().position(|v| !v.is_finite()) {
                return Err(SnnError::NonFinite {
                    population: self.name.clone(),
                    variable: name.clone(),
                    neuron: i,
                    step: self.step.iter().copied().max().unwrap_or(0) as u64,
                });
            }
        }
        Ok(())
    }
}

/// Monitor contents: spikes bit-packed, state traces as f32.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    /// Neurons per network.
    pub n: u32,
    /// Number of networks.
    pub batch: u32,
    /// Recorded spike steps.
    pub spike_steps: Range<u32>,
    /// `u32` words per recorded step: `ceil(n / 32)`.
    pub n_words: u32,
    /// Spike bits, `[batch][step][word]`, neuron `i` at bit `i % 32` of word `i / 32`.
    pub spike_words: Vec<u32>,
    /// Recorded state steps.
    pub state_steps: Range<u32>,
    /// Recorded variables, in storage order.
    pub state_vars: Vec<String>,
    /// Recorded neurons, in slot order.
    pub state_neurons: Vec<u32>,
    /// Traces, `[batch][slot][var][step]`.
    pub state: Vec<f32>,
}

impl Recording {
    /// An empty recording laid out for `spec`'s monitors.
    pub(crate) fn for_spec(spec: &NetworkSpec) -> Self {
        let n_words = spec.n.div_ceil(32);
        let spike_steps = spec.monitors.spikes.clone().unwrap_or(0..0);
        let (state_steps, state_neurons) = match &spec.monitors.state {
            Some(m) => (m.steps.clone(), m.neurons.clone()),
            None => (0..0, vec![]),
        };
        let mask = spec.monitored_var_mask();
        let state_vars: Vec<String> = spec
            .model
            .state_var_names()
            .into_iter()
            .enumerate()
            .filter(|(k, _)| mask & (1 << k) != 0)
            .map(|(_, n)| n)
            .collect();
        let spike_len = spec.batch as usize * spike_steps.len() * n_words as usize;
        let state_len =
            spec.batch as usize * state_neurons.len() * state_vars.len() * state_steps.len();
        Recording {
            n: spec.n,
            batch: spec.batch,
            spike_steps,
            n_words,
            spike_words: vec![0; spike_len],
            state_steps,
            state_vars,
            state_neurons,
            state: vec![0.0; state_len],
        }
    }

    /// Whether neuron `i` of network `b` spiked at absolute step `t` (false if not recorded).
    pub fn spiked(&self, b: u32, t: u32, i: u32) -> bool {
        if !self.spike_steps.contains(&t) || i >= self.n || b >= self.batch {
            return false;
        }
        let row = (b as usize * self.spike_steps.len() + (t - self.spike_steps.start) as usize)
            * self.n_words as usize;
        self.spike_words[row + (i / 32) as usize] & (1 << (i % 32)) != 0
    }

    /// The recorded steps at which neuron `i` of network `b` spiked, ascending.
    pub fn spike_times(&self, b: u32, i: u32) -> Vec<u32> {
        self.spike_steps
            .clone()
            .filter(|&t| self.spiked(b, t, i))
            .collect()
    }

    /// Total recorded spikes of every neuron of network `b`.
    pub fn spike_counts(&self, b: u32) -> Vec<u32> {
        (0..self.n)
            .map(|i| self.spike_times(b, i).len() as u32)
            .collect()
    }

    /// Total recorded spikes, all networks.
    pub fn total_spikes(&self) -> u64 {
        self.spike_words.iter().map(|w| w.count_ones() as u64).sum()
    }

    /// The trace of `var` for neuron `neuron` of network `b`, one value per recorded step.
    ///
    /// # Errors
    /// [`SnnError::UnknownName`] if the variable or neuron was not recorded.
    pub fn trace(&self, var: &str, b: u32, neuron: u32) -> Result<&[f32]> {
        let k = self
            .state_vars
            .iter()
            .position(|v| v == var)
            .ok_or_else(|| SnnError::UnknownName {
                kind: "recorded variable",
                name: var.into(),
                known: self.state_vars.join(", "),
            })?;
        let slot = self
            .state_neurons
            .iter()
            .position(|&i| i == neuron)
            .ok_or_else(|| SnnError::UnknownName {
                kind: "recorded neuron",
                name: neuron.to_string(),
                known: format!("{:?}", self.state_neurons),
            })?;
        if b >= self.batch {
            return Err(SnnError::invalid(
                "batch index",
                b,
                format!("below {}", self.batch),
            ));
        }
        let steps = self.state_steps.len();
        let base =
            ((b as usize * self.state_neurons.len() + slot) * self.state_vars.len() + k) * steps;
        Ok(&self.state[base..base + steps])
    }
}

/// The whole dynamic state of a competitive layer's learning network (weights, θ, potentials,
/// conductances, traces, delay lines, clocks), as named arrays of raw 32-bit words (f32 by
/// their bits, so a round trip is exact). Written by [`CompetitiveBackend::snapshot`] and read
/// by [`CompetitiveBackend::restore`] of the same backend kind; checkpoints store it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// `"cpu"`, `"gpu"` or `"gpu-multi"` (one network of a many-network GPU backend): the
    /// layout of `arrays` depends on it.
    pub backend: String,
    /// `(name, words)`, in the backend's order.
    pub arrays: Vec<(String, Vec<u32>)>,
}

impl Snapshot {
    /// A snapshot of backend kind `backend` with no arrays yet.
    pub fn new(backend: &str) -> Self {
        Snapshot {
            backend: backend.into(),
            arrays: vec![],
        }
    }

    /// Appends f32 values as their bits.
    pub fn push_f32(&mut self, name: &str, v: &[f32]) {
        self.arrays
            .push((name.into(), v.iter().map(|x| x.to_bits()).collect()));
    }

    /// Appends u32 words.
    pub fn push_u32(&mut self, name: &str, v: &[u32]) {
        self.arrays.push((name.into(), v.to_vec()));
    }

    /// The words of `name`, which must hold `len` of them (`None`: any length).
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`] naming the array when it is missing or has another length
    /// (a snapshot of another network).
    pub fn u32s(&self, name: &str, len: Option<usize>) -> Result<&[u32]> {
        let (_, v) = self.arrays.iter().find(|(n, _)| n == name).ok_or_else(|| {
            SnnError::invalid(
                "snapshot",
                format!("no array `{name}`"),
                "a snapshot written by the same backend kind and version",
            )
        })?;
        match len {
            Some(l) if v.len() != l => Err(SnnError::invalid(
                format!("snapshot array `{name}` length"),
                v.len(),
                format!("{l} (the same network size and options)"),
            )),
            _ => Ok(v),
        }
    }

    /// Whether the snapshot holds an array `name`.
    pub fn has(&self, name: &str) -> bool {
        self.arrays.iter().any(|(n, _)| n == name)
    }

    /// The f32 values of `name` (see [`Self::u32s`]).
    ///
    /// # Errors
    /// As [`Self::u32s`].
    pub fn f32s(&self, name: &str, len: Option<usize>) -> Result<Vec<f32>> {
        Ok(self
            .u32s(name, len)?
            .iter()
            .map(|&b| f32::from_bits(b))
            .collect())
    }

    /// Fails unless this snapshot was written by backend kind `kind`.
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`] saying which kind wrote it.
    pub fn expect_backend(&self, kind: &str) -> Result<()> {
        if self.backend == kind {
            Ok(())
        } else {
            // Engine states (`network-state-…`) come from the CPU engine's Diehl & Cook.
            let wrote = match self.backend.as_str() {
                "gpu" | "gpu-multi" => "gpu",
                _ => "cpu",
            };
            Err(SnnError::invalid(
                "snapshot backend",
                &self.backend,
                format!("`{kind}` (resume on the backend that wrote it: --backend {wrote})"),
            ))
        }
    }
}

/// A simulation engine for a [`crate::model::CompetitiveSpec`] (the Diehl & Cook layer),
/// driven presentation by presentation.
pub trait CompetitiveBackend {
    /// `"cpu"` or `"gpu:<adapter>"`.
    fn describe(&self) -> String;

    /// Presents one input (rates in Hz, one per input) to the network, carrying its state
    /// on from the last presentation, and returns each excitatory neuron's spike count over
    /// the `steps_on` window. With `opts.learn`, normalises first, runs STDP and adapts θ.
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`] for a wrong number of rates; GPU errors;
    /// [`SnnError::NonFinite`] if a state variable became NaN or infinite.
    fn present(
        &mut self,
        rates_hz: &[f32],
        opts: &crate::model::PresentOptions,
    ) -> Result<Vec<u32>>;

    /// Presents many inputs to frozen copies of the network (no learning, θ fixed), each
    /// starting from the rest state, input `k` with key `opts.key + k`. The result equals
    /// presenting them one at a time, in any order.
    ///
    /// # Errors
    /// As [`Self::present`].
    fn present_frozen_batch(
        &mut self,
        rates_hz: &[Vec<f32>],
        opts: &crate::model::PresentOptions,
    ) -> Result<Vec<Vec<u32>>>;

    /// The input weights, `[input][exc]`.
    ///
    /// # Errors
    /// GPU errors while reading back.
    fn weights(&mut self) -> Result<Vec<f32>>;

    /// θ of every excitatory neuron (mV).
    ///
    /// # Errors
    /// GPU errors while reading back.
    fn theta(&mut self) -> Result<Vec<f32>>;

    /// Replaces the input weights and θ (loading a saved network).
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`] for wrong lengths.
    fn load(&mut self, weights: &[f32], theta_mv: &[f32]) -> Result<()>;

    /// The learning network's whole state, for checkpoints. Restoring it into a backend of
    /// the same kind built from the same spec continues bit for bit as if never stopped.
    ///
    /// # Errors
    /// GPU errors while reading back.
    fn snapshot(&mut self) -> Result<Snapshot>;

    /// Replaces the learning network's whole state with `s`.
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`] for a snapshot of another backend kind or network size.
    fn restore(&mut self, s: &Snapshot) -> Result<()>;
}
