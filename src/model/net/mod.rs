//! A NETWORK AS DATA: named populations, projections between them and monitors, with a batch
//! of K independent copies. Plain Rust, no wgpu; `cpu::engine` runs it.
//!
//! A [`Network`] holds
//!
//! - [`Population`]s: neurons of one [`NeuronModel`] (IF, LIF, conductance LIF, custom; with
//!   θ, refractory clamp and lockout as that model says), or spike sources: Poisson with a
//!   rate per neuron (changeable between runs), or given spike times;
//! - [`Projection`]s `pre → post` (see [`projection`]): target, connectivity, weights, bounds,
//!   delays with their delivery semantics, optional STDP;
//! - [`Monitor`]s: spikes or a state variable of chosen neurons, or a population's rate;
//! - `seeds`: one per copy; the batch size K is `seeds.len()`.
//!
//! # Randomness (all through `encode::rng::rng_u32(seed, stream, index)`)
//!
//! | draw | seed | stream | index | shared by the copies |
//! |---|---|---|---|---|
//! | connectivity (fixed p, fixed in-degree) | the projection's `seed` | pre `j` / post `i` | post `i` / draw | yes |
//! | per-synapse delays (range) | the delay's `seed` | [`STREAM_DELAY`] | synapse `k` | yes |
//! | initial weights (uniform, normal) | `key(copy seed, projection index)` | [`STREAM_WEIGHT`] (+1 for normal's 2nd draw) | synapse `k` | no |
//! | Poisson spikes | `key(copy seed, population index)` | step `t` | neuron `i` | no |
//!
//! with `key(seed, x) = rng_u32(seed, STREAM_KEY, x)`. So the structure is one per network and
//! the copies differ in their initial weights and input spikes; two copies with equal seeds
//! are equal step for step. A projection may also give each copy delays of its own
//! ([`Delay::PerCopy`]: one array per copy, the connectivity still shared), as networks
//! that draw their delays from their own seed need (Diehl & Cook's).
//!
//! [`Network::validate`] checks everything the engine relies on and answers
//! [`SnnError::InvalidNetwork`] naming the population, projection or monitor, the field and
//! the value.

pub mod projection;
pub mod state;

pub use projection::{Connectivity, Delay, Delivery, Projection, Weights};

use crate::error::{Result, SnnError};
use crate::model::NeuronModel;

/// Normalisation's order of summation: a post neuron's incoming weights (in synapse order,
/// i.e. by ascending pre neuron) are summed in blocks of `NORM_BLOCK` from 0, and the
/// blocks' sums added in order from 0: `((0 + s₀) + s₁) + …` with `s_b` the sum of synapses
/// `b·NORM_BLOCK ..`. Both engines sum so (a column of at most `NORM_BLOCK` synapses is
/// one plain sum), so the GPU can sum a column's blocks in parallel and give the CPU's bits.
pub const NORM_BLOCK: usize = 64;

/// Stream of the per-copy keys: `key(seed, x) = rng_u32(seed, STREAM_KEY, x)`.
pub const STREAM_KEY: u32 = 0x6B45_5900;
/// Stream of initial weight draws (normal weights use it and `STREAM_WEIGHT + 1`).
pub const STREAM_WEIGHT: u32 = 0x5EED_0000;
/// Stream of per-synapse delay draws.
pub const STREAM_DELAY: u32 = 0xDE1A_0000;
/// Longest delay in steps (the ring has `max delay + 1` slots per projection).
pub const MAX_DELAY_STEPS: u32 = 4096;
/// The last step a run's clock may reach (both engines): steps count in 32 bits, and an
/// arrival `t + d` and the never-arrived marker `u32::MAX` stay above it.
pub const MAX_CLOCK_STEP: u32 = u32::MAX - 1 - MAX_DELAY_STEPS;

/// The clock after `steps` more steps from step `t0` (both engines' runs, and a
/// presentation before it changes anything).
///
/// # Errors
/// [`SnnError::InvalidParam`] naming `steps` past [`MAX_CLOCK_STEP`].
pub(crate) fn clock_after(t0: u32, steps: u64) -> Result<u32> {
    match u64::from(t0).checked_add(steps) {
        Some(t) if t <= u64::from(MAX_CLOCK_STEP) => Ok(t as u32),
        _ => Err(SnnError::invalid(
            "steps",
            steps,
            format!(
                "at most {} more steps (u32 clock)",
                MAX_CLOCK_STEP.saturating_sub(t0)
            ),
        )),
    }
}

/// What a population is: neurons that integrate input, or a source of spikes.
#[derive(Debug, Clone)]
pub enum PopulationKind {
    /// Neurons of one model.
    Neurons(NeuronModel),
    /// Independent Poisson spike trains, one rate per neuron (Hz); a neuron spikes at step
    /// `t` when `rng_u32(key, t, i) < round(rate·dt/1000 · 2³²)`.
    Poisson {
        /// Rate of each neuron (Hz), `size` of them; the engine can change them between runs.
        rates_hz: Vec<f32>,
    },
    /// Given spike times, the same in every copy: `(neuron, time_ms)`, the time rounded to
    /// the step `round(time_ms / dt)`.
    SpikeTimes {
        /// The spikes.
        spikes: Vec<(u32, f32)>,
    },
}

/// A named group of neurons or spike sources.
#[derive(Debug, Clone)]
pub struct Population {
    /// Unique name, used by projections and monitors.
    pub name: String,
    /// Number of neurons.
    pub size: u32,
    /// Neurons or source.
    pub kind: PopulationKind,
}

impl Population {
    /// Whether the population integrates input (neurons), rather than emitting given spikes.
    pub fn is_neurons(&self) -> bool {
        matches!(self.kind, PopulationKind::Neurons(_))
    }
}

/// What a monitor records, every step of every run, in every copy.
#[derive(Debug, Clone, PartialEq)]
pub enum MonitorKind {
    /// The spikes of `neurons` (all when `None`), as `(step, neuron)`.
    Spikes {
        /// Neurons recorded; `None` for all.
        neurons: Option<Vec<u32>>,
    },
    /// State variable `variable` (a name of `NeuronModel::state_var_names`) of `neurons`.
    State {
        /// Variable name (`v`, `theta`, `ge`, `gi`, or a custom variable).
        variable: String,
        /// Neurons recorded.
        neurons: Vec<u32>,
    },
    /// The number of spikes of the whole population per step (rate = count / (n·dt)).
    Rate,
}

/// What one monitor has recorded in one copy.
#[derive(Debug, Clone, PartialEq)]
pub enum Recording {
    /// `(step, neuron)` of every spike, by step, then neuron ascending.
    Spikes(Vec<(u32, u32)>),
    /// The variable of the monitored neurons, one row of `neurons.len()` values per step.
    State {
        /// The neurons, in the monitor's order.
        neurons: Vec<u32>,
        /// `values[step · neurons.len() + slot]`.
        values: Vec<f32>,
    },
    /// Spikes of the whole population, per step.
    Rate(Vec<u32>),
}

/// A named recording of one population.
#[derive(Debug, Clone, PartialEq)]
pub struct Monitor {
    /// Unique name, used to read the recording.
    pub name: String,
    /// The population watched.
    pub population: String,
    /// What is recorded.
    pub kind: MonitorKind,
}

/// A whole network: populations, projections, monitors, the step and the batch.
#[derive(Debug, Clone)]
pub struct Network {
    /// Time step (ms).
    pub dt_ms: f32,
    /// One seed per copy; K = `seeds.len()` independent copies run side by side.
    pub seeds: Vec<u32>,
    /// Populations; their order is the order of the neuron stages in a step.
    pub populations: Vec<Population>,
    /// Projections; their order is the order their input is summed in.
    pub projections: Vec<Projection>,
    /// Monitors.
    pub monitors: Vec<Monitor>,
}

impl Network {
    /// An empty network with step `dt_ms` and one copy of seed 0.
    pub fn new(dt_ms: f32) -> Self {
        Network {
            dt_ms,
            seeds: vec![0],
            populations: vec![],
            projections: vec![],
            monitors: vec![],
        }
    }

    /// Sets the copies: one per seed.
    pub fn with_seeds(mut self, seeds: Vec<u32>) -> Self {
        self.seeds = seeds;
        self
    }

    /// Adds a population of `size` neurons of `model`.
    pub fn neurons(mut self, name: &str, size: u32, model: NeuronModel) -> Self {
        self.populations.push(Population {
            name: name.into(),
            size,
            kind: PopulationKind::Neurons(model),
        });
        self
    }

    /// Adds a Poisson source of `size` neurons, all at `rate_hz`.
    pub fn poisson(mut self, name: &str, size: u32, rate_hz: f32) -> Self {
        self.populations.push(Population {
            name: name.into(),
            size,
            kind: PopulationKind::Poisson {
                rates_hz: vec![rate_hz; size as usize],
            },
        });
        self
    }

    /// Adds a source of `size` neurons that spike at the given `(neuron, time_ms)`.
    pub fn spike_times(mut self, name: &str, size: u32, spikes: Vec<(u32, f32)>) -> Self {
        self.populations.push(Population {
            name: name.into(),
            size,
            kind: PopulationKind::SpikeTimes { spikes },
        });
        self
    }

    /// Adds a projection.
    pub fn project(mut self, projection: Projection) -> Self {
        self.projections.push(projection);
        self
    }

    /// Adds a monitor named `name` of population `population`.
    pub fn monitor(mut self, name: &str, population: &str, kind: MonitorKind) -> Self {
        self.monitors.push(Monitor {
            name: name.into(),
            population: population.into(),
            kind,
        });
        self
    }

    /// The number of copies K.
    pub fn batch(&self) -> usize {
        self.seeds.len()
    }

    /// Whether some projection gives each copy delays of its own ([`Delay::PerCopy`]):
    /// copies that differ in their connectivity tables, not only in their state and
    /// weights.
    pub fn has_per_copy_delays(&self) -> bool {
        self.projections
            .iter()
            .any(|p| matches!(p.delay, Delay::PerCopy(_)))
    }

    /// This network with `n` copies of copy `copy` (its seed, and its own weight and delay
    /// arrays where it has them): what a frozen trial of that copy runs. `copy` is one the
    /// engines have checked (crate-only: a bad index would panic).
    pub(crate) fn copies_of(&self, copy: usize, n: usize) -> Network {
        let mut net = self.clone().with_seeds(vec![self.seeds[copy]; n]);
        for p in &mut net.projections {
            if let Weights::PerCopy(a) = &mut p.weights {
                p.weights = Weights::Array(std::mem::take(&mut a[copy]));
            }
            if let Delay::PerCopy(a) = &mut p.delay {
                p.delay = Delay::Array(std::mem::take(&mut a[copy]));
            }
        }
        net
    }

    /// Index of the population named `name`.
    ///
    /// # Errors
    /// [`SnnError::UnknownName`] listing the populations.
    pub fn population_index(&self, name: &str) -> Result<usize> {
        self.populations
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| SnnError::UnknownName {
                kind: "population",
                name: name.into(),
                known: self.names(self.populations.iter().map(|p| &p.name)),
            })
    }

    /// The index of projection `name`.
    ///
    /// # Errors
    /// [`SnnError::UnknownName`] listing the projections.
    pub fn projection_index(&self, name: &str) -> Result<usize> {
        self.projections
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| SnnError::UnknownName {
                kind: "projection",
                name: name.into(),
                known: self.names(self.projections.iter().map(|p| &p.name)),
            })
    }

    /// Checks an engine's `normalize_columns(projection, target_sum)` ([`NORM_BLOCK`] gives
    /// the order of its sums): a known projection and
    /// a target sum that is finite and > 0. Returns the projection's index.
    ///
    /// # Errors
    /// [`SnnError::UnknownName`]; [`SnnError::InvalidParam`] for the target.
    pub fn normalize_target(&self, projection: &str, target_sum: f32) -> Result<usize> {
        let q = self.projection_index(projection)?;
        if !(target_sum > 0.0 && target_sum.is_finite()) {
            return Err(SnnError::invalid(
                "target_sum",
                target_sum,
                "finite and > 0",
            ));
        }
        Ok(q)
    }

    /// The index of monitor `name`.
    ///
    /// # Errors
    /// [`SnnError::UnknownName`] listing the monitors.
    pub fn monitor_index(&self, name: &str) -> Result<usize> {
        self.monitors
            .iter()
            .position(|m| m.name == name)
            .ok_or_else(|| SnnError::UnknownName {
                kind: "monitor",
                name: name.into(),
                known: self.names(self.monitors.iter().map(|m| &m.name)),
            })
    }

    /// The population rate (Hz) per step from the spike counts per step of monitor `monitor`
    /// (an index from [`Self::monitor_index`]; crate-only: a bad index would panic):
    /// `count / (n · dt)`.
    pub(crate) fn rate_hz_of(&self, monitor: usize, counts: &[u32]) -> Vec<f32> {
        let p = self
            .population_index(&self.monitors[monitor].population)
            .unwrap_or(0);
        let n = self.populations[p].size as f32;
        let dt_s = self.dt_ms / 1000.0;
        counts.iter().map(|&c| c as f32 / (n * dt_s)).collect()
    }

    /// Checks an engine's `set_rates(population, …, rates_hz)`: a Poisson source with one
    /// rate in range per neuron. Returns the population's index.
    ///
    /// # Errors
    /// [`SnnError::UnknownName`]; [`SnnError::InvalidNetwork`] for another kind of population
    /// or a bad rate.
    pub fn rates_target(&self, population: &str, rates_hz: &[f32]) -> Result<usize> {
        let p = self.population_index(population)?;
        let pop = &self.populations[p];
        let el = format!("population `{population}`");
        if !matches!(pop.kind, PopulationKind::Poisson { .. }) {
            return Err(invalid(&el, "kind", &"not Poisson", "a Poisson source"));
        }
        check_rates(&el, rates_hz, pop.size, self.dt_ms)?;
        Ok(p)
    }

    /// Checks an engine's `state(population, variable, …)`: a population of neurons and one
    /// of its state variables. Returns the population's index, its model and the variable's
    /// index among `NeuronModel::state_var_names`.
    ///
    /// # Errors
    /// [`SnnError::UnknownName`]; [`SnnError::InvalidNetwork`] for a source.
    pub fn state_target(
        &self,
        population: &str,
        variable: &str,
    ) -> Result<(usize, &NeuronModel, usize)> {
        let p = self.population_index(population)?;
        let PopulationKind::Neurons(m) = &self.populations[p].kind else {
            return Err(invalid(
                &format!("population `{population}`"),
                "kind",
                &"a source",
                "a population of neurons",
            ));
        };
        Ok((p, m, m.var_index(variable)?))
    }

    /// Checks an engine's `set_state(population, variable, …, values)`: as
    /// [`Self::state_target`], with one finite value per neuron.
    ///
    /// # Errors
    /// As [`Self::state_target`]; [`SnnError::InvalidNetwork`] for a wrong length or a value
    /// that is not finite.
    pub fn set_state_target(
        &self,
        population: &str,
        variable: &str,
        values: &[f32],
    ) -> Result<(usize, &NeuronModel, usize)> {
        let (p, m, var) = self.state_target(population, variable)?;
        let size = self.populations[p].size;
        let el = format!("population `{population}`");
        if values.len() != size as usize {
            return Err(invalid(
                &el,
                variable,
                &format!("{} values", values.len()),
                &format!("one per neuron ({size})"),
            ));
        }
        if let Some((i, x)) = values.iter().enumerate().find(|(_, x)| !x.is_finite()) {
            return Err(invalid(
                &el,
                &format!("{variable}[{i}]"),
                x,
                "a finite value",
            ));
        }
        Ok((p, m, var))
    }

    fn names<'a>(&self, it: impl Iterator<Item = &'a String>) -> String {
        it.map(String::as_str).collect::<Vec<_>>().join(", ")
    }

    /// Checks the whole network, first error first.
    ///
    /// # Errors
    /// [`SnnError::InvalidNetwork`] naming the element (`population `exc``, `projection
    /// `ee``, `monitor `m``, `network`), the field and its value.
    pub fn validate(&self) -> Result<()> {
        let net = |field: &str, value: &dyn ToString, expected: &str| {
            Err(invalid("network", field, value, expected))
        };
        if !(self.dt_ms > 0.0 && self.dt_ms.is_finite()) {
            return net("dt_ms", &self.dt_ms, "a finite step > 0 ms");
        }
        if self.seeds.is_empty() {
            return net("seeds", &"[]", "at least one seed (one per copy)");
        }
        let mut seen = std::collections::HashSet::new();
        for p in &self.populations {
            let el = format!("population `{}`", p.name);
            if p.name.is_empty() || !seen.insert(p.name.as_str()) {
                return Err(invalid(&el, "name", &p.name, "a unique, non-empty name"));
            }
            if p.size == 0 {
                return Err(invalid(&el, "size", &p.size, "at least 1 neuron"));
            }
            match &p.kind {
                PopulationKind::Neurons(m) => {
                    m.validate(self.dt_ms).map_err(|e| into_network(&el, e))?
                }
                PopulationKind::Poisson { rates_hz } => {
                    check_rates(&el, rates_hz, p.size, self.dt_ms)?
                }
                PopulationKind::SpikeTimes { spikes } => {
                    for &(i, t_ms) in spikes {
                        if i >= p.size {
                            return Err(invalid(
                                &el,
                                "spikes.neuron",
                                &i,
                                &format!("a neuron index < size {}", p.size),
                            ));
                        }
                        if !(t_ms >= 0.0 && t_ms.is_finite()) {
                            return Err(invalid(&el, "spikes.time_ms", &t_ms, "finite and >= 0"));
                        }
                    }
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        for p in &self.projections {
            let el = format!("projection `{}`", p.name);
            if p.name.is_empty() || !seen.insert(p.name.as_str()) {
                return Err(invalid(&el, "name", &p.name, "a unique, non-empty name"));
            }
            let pre = self.find(&el, "pre", &p.pre)?;
            let post = self.find(&el, "post", &p.post)?;
            p.validate(&el, pre, post, self.dt_ms, self.seeds.len())?;
        }
        let mut seen = std::collections::HashSet::new();
        for m in &self.monitors {
            let el = format!("monitor `{}`", m.name);
            if m.name.is_empty() || !seen.insert(m.name.as_str()) {
                return Err(invalid(&el, "name", &m.name, "a unique, non-empty name"));
            }
            let pop = self.find(&el, "population", &m.population)?;
            let check = |neurons: &[u32]| -> Result<()> {
                match neurons.iter().find(|&&i| i >= pop.size) {
                    Some(i) => Err(invalid(
                        &el,
                        "neurons",
                        i,
                        &format!("indices < size {} of `{}`", pop.size, pop.name),
                    )),
                    None => Ok(()),
                }
            };
            match &m.kind {
                MonitorKind::Spikes { neurons } => check(neurons.as_deref().unwrap_or(&[]))?,
                MonitorKind::State { variable, neurons } => {
                    check(neurons)?;
                    let PopulationKind::Neurons(model) = &pop.kind else {
                        return Err(invalid(
                            &el,
                            "population",
                            &pop.name,
                            "a population of neurons (sources have no state variables)",
                        ));
                    };
                    if model.var_index(variable).is_err() {
                        return Err(invalid(
                            &el,
                            "variable",
                            variable,
                            &format!("one of {}", model.state_var_names().join(", ")),
                        ));
                    }
                }
                MonitorKind::Rate => {}
            }
        }
        Ok(())
    }

    fn find(&self, el: &str, field: &str, name: &str) -> Result<&Population> {
        self.populations
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| {
                invalid(
                    el,
                    field,
                    &name,
                    &format!(
                        "the name of a population: {}",
                        self.names(self.populations.iter().map(|p| &p.name))
                    ),
                )
            })
    }
}

/// The spike threshold of each Poisson rate (Hz) at `dt_ms`: neuron `i` spikes at step `t`
/// when `rng_u32(key, t, i) < thr[i]` (0 never spikes).
pub fn poisson_thresholds(rates_hz: &[f32], dt_ms: f32) -> Vec<u32> {
    rates_hz
        .iter()
        .map(|&r| crate::encode::rng::probability_threshold(r as f64 * dt_ms as f64 / 1000.0))
        .collect()
}

/// The key of copy `seed` for index `x` (a population or projection):
/// `rng_u32(seed, STREAM_KEY, x)`.
pub fn copy_key(seed: u32, x: usize) -> u32 {
    crate::encode::rng::rng_u32(seed, STREAM_KEY, x as u32)
}

/// Checks Poisson rates of a population `el` of `size` neurons at `dt_ms`.
pub(crate) fn check_rates(el: &str, rates_hz: &[f32], size: u32, dt_ms: f32) -> Result<()> {
    if rates_hz.len() != size as usize {
        return Err(invalid(
            el,
            "rates_hz",
            &format!("{} rates", rates_hz.len()),
            &format!("one rate per neuron ({size})"),
        ));
    }
    let max_hz = 1000.0 / dt_ms;
    if let Some((i, r)) = rates_hz
        .iter()
        .enumerate()
        .find(|(_, &r)| !(r >= 0.0 && r <= max_hz))
    {
        return Err(invalid(
            el,
            &format!("rates_hz[{i}]"),
            r,
            &format!("a rate in [0, 1000/dt = {max_hz}] Hz"),
        ));
    }
    Ok(())
}

/// An [`SnnError::InvalidNetwork`].
pub(crate) fn invalid(
    element: &str,
    field: &str,
    value: &dyn ToString,
    expected: &str,
) -> SnnError {
    SnnError::InvalidNetwork {
        element: element.into(),
        field: field.into(),
        value: value.to_string(),
        expected: expected.into(),
    }
}

/// A model's own validation error, put under the network element `el`.
pub(crate) fn into_network(el: &str, e: SnnError) -> SnnError {
    match e {
        SnnError::InvalidParam {
            field,
            value,
            expected,
        } => SnnError::InvalidNetwork {
            element: el.into(),
            field,
            value,
            expected,
        },
        other => other,
    }
}
