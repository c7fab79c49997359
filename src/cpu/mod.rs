//! CPU REFERENCE backend: plain f32 Rust over slices, stage for stage like the WGSL kernels.
//!
//! [`CpuBackend`] takes a validated [`NetworkSpec`], keeps one array per state variable
//! (as the GPU keeps one buffer), and runs the stage order of `model::neuron`. It is the
//! oracle the GPU backend is tested against, and a usable backend on machines with no GPU.
//! [`engine::Engine`] runs any `model::net::Network` of populations and projections.

pub mod engine;
mod memory;
pub mod neuron;
pub mod simd;
pub mod stdp;

use crate::backend::{Backend, NetworkState, Recording};
use crate::error::{Result, SnnError};
use crate::model::{DerivedNeuron, NetworkSpec, NeuronKind};
use neuron::{adapt, charge, fire, input_drive, reset, NeuronState};

/// The CPU reference backend.
pub struct CpuBackend {
    spec: NetworkSpec,
    derived: DerivedNeuron,
    custom_params: Vec<f32>,
    thresholds: Vec<u32>,
    /// State variables in `model.state_var_names()` order, each batch-major.
    vars: Vec<Vec<f32>>,
    refrac: Vec<u32>,
    spiked: Vec<bool>,
    clock: Vec<u32>,
    /// Index of each neuron's state-monitor slot.
    rec_slot: Vec<Option<usize>>,
    /// Variable indices recorded, ascending.
    rec_vars: Vec<usize>,
    recording: Recording,
}

impl CpuBackend {
    /// Builds the backend, with every variable at its initial value and step 0.
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`] / [`SnnError::UnknownName`] from [`NetworkSpec::validate`].
    pub fn new(spec: &NetworkSpec) -> Result<Self> {
        spec.validate()?;
        let total = (spec.n * spec.batch) as usize;
        let vars = spec
            .model
            .initial_values()
            .into_iter()
            .map(|v0| vec![v0; total])
            .collect();
        let custom_params = match &spec.model.kind {
            NeuronKind::Custom(c) => c.params.iter().map(|(_, v)| *v).collect(),
            _ => vec![],
        };
        let mut rec_slot = vec![None; spec.n as usize];
        if let Some(m) = &spec.monitors.state {
            for (slot, &i) in m.neurons.iter().enumerate() {
                rec_slot[i as usize] = Some(slot);
            }
        }
        let mask = spec.monitored_var_mask();
        Ok(CpuBackend {
            derived: spec.model.derive(spec.dt_ms),
            custom_params,
            thresholds: spec.input.thresholds(spec.n, spec.dt_ms),
            vars,
            refrac: vec![0; total],
            spiked: vec![false; total],
            clock: vec![0; spec.batch as usize],
            rec_slot,
            rec_vars: (0..32).filter(|k| mask & (1 << k) != 0).collect(),
            recording: Recording::for_spec(spec),
            spec: spec.clone(),
        })
    }

    fn load(&self, g: usize) -> NeuronState {
        let mut s = NeuronState {
            v: self.vars[0][g],
            theta: self.vars[1][g],
            refrac: self.refrac[g],
            ..Default::default()
        };
        match &self.spec.model.kind {
            NeuronKind::CondLif(_) | NeuronKind::CurrentLif(_) => {
                s.ge = self.vars[2][g];
                s.gi = self.vars[3][g];
            }
            NeuronKind::Custom(c) => {
                for k in 0..c.state_vars.len() {
                    s.custom[k] = self.vars[2 + k][g];
                }
            }
            _ => {}
        }
        s
    }

    fn store(&mut self, g: usize, s: &NeuronState) {
        self.vars[0][g] = s.v;
        self.vars[1][g] = s.theta;
        self.refrac[g] = s.refrac;
        match &self.spec.model.kind {
            NeuronKind::CondLif(_) | NeuronKind::CurrentLif(_) => {
                self.vars[2][g] = s.ge;
                self.vars[3][g] = s.gi;
            }
            NeuronKind::Custom(c) => {
                for k in 0..c.state_vars.len() {
                    self.vars[2 + k][g] = s.custom[k];
                }
            }
            _ => {}
        }
    }

    fn record(&mut self, b: u32, t: u32, i: u32, spike: bool, s: &NeuronState) {
        let rec = &mut self.recording;
        if spike && rec.spike_steps.contains(&t) {
            let row = (b as usize * rec.spike_steps.len() + (t - rec.spike_steps.start) as usize)
                * rec.n_words as usize;
            rec.spike_words[row + (i / 32) as usize] |= 1 << (i % 32);
        }
        if let Some(slot) = self.rec_slot[i as usize] {
            if rec.state_steps.contains(&t) {
                let steps = rec.state_steps.len();
                let nv = self.rec_vars.len();
                let base = (b as usize * rec.state_neurons.len() + slot) * nv * steps
                    + (t - rec.state_steps.start) as usize;
                for (kk, &k) in self.rec_vars.iter().enumerate() {
                    rec.state[base + kk * steps] = neuron::state_var(s, k, &self.spec.model.kind);
                }
            }
        }
    }
}

impl Backend for CpuBackend {
    fn describe(&self) -> String {
        "cpu".into()
    }

    fn run(&mut self, steps: u32) -> Result<()> {
        let n = self.spec.n;
        let (seed, constant, weight) = (
            self.spec.seed,
            self.spec.input.constant,
            self.spec.input.poisson_weight(),
        );
        let active = self.spec.input.active_range();
        for b in 0..self.spec.batch {
            let t0 = self.clock[b as usize];
            if t0.checked_add(steps).is_none() {
                return Err(SnnError::invalid(
                    "steps",
                    steps,
                    format!("at most {} more steps (u32 clock)", u32::MAX - t0),
                ));
            }
            for t in t0..t0 + steps {
                for i in 0..n {
                    let g = (b * n + i) as usize;
                    let x = input_drive(
                        t,
                        b * n + i,
                        self.thresholds[i as usize],
                        seed,
                        constant,
                        weight,
                        &active,
                    );
                    let mut s = charge(
                        self.load(g),
                        x,
                        &self.spec.model.kind,
                        &self.custom_params,
                        &self.derived,
                    );
                    let spike = fire(s, &self.derived);
                    s = reset(s, spike, &self.derived);
                    s = adapt(s, spike, &self.derived);
                    self.store(g, &s);
                    self.spiked[g] = spike;
                    self.record(b, t, i, spike, &s);
                }
            }
            self.clock[b as usize] = t0 + steps;
        }
        Ok(())
    }

    fn state(&mut self) -> Result<NetworkState> {
        Ok(NetworkState {
            name: self.spec.name.clone(),
            n: self.spec.n,
            batch: self.spec.batch,
            step: self.clock.clone(),
            var_names: self.spec.model.state_var_names(),
            vars: self.vars.clone(),
            refrac: self.refrac.clone(),
            spiked: self.spiked.clone(),
        })
    }

    fn recording(&mut self) -> Result<Recording> {
        Ok(self.recording.clone())
    }
}
