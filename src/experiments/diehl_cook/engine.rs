//! The Diehl & Cook protocol on a general engine, CPU or GPU: [`DcEngine`] runs the network
//! of [`super::model::network`] presentation by presentation, on the engine an
//! [`EngineChoice`] builds and through the [`Simulator`] seam only, so both engines give the
//! same bits (on a device that rounds as the CPU does, llvmpipe for one) and a snapshot of
//! one continues on the other.
//!
//! A presentation (`super::spec` gives the step; this is its protocol):
//! 1. learning: normalise the columns of the input weights to the spec's target;
//! 2. `steps_on` steps with the image's rates, the input stream keyed
//!    `presentation_seed(seed, key)` from the presentation's first step; the excitatory
//!    spikes over them are the counts;
//! 3. the rest: `steps_rest` steps without input, or the network put at rest
//!    ([`RestMode`]);
//! 4. learning: θ decays by the exact factor `e^(−(steps_on + steps_rest)·dt/τ_θ)`.
//!
//! A frozen batch runs each image as an engine trial (`Simulator::run_trials`): a copy at
//! rest, learning off, image `k` keyed `opts.key + k`.
//!
//! A `DcEngine` may hold several networks that differ in their seed only, as the copies of
//! one engine ([`DcEngine::build_batch`], `super::model::network_batch`): each presentation
//! then presents one image to every copy at once ([`DcEngine::present_batch`]), and copy
//! `k` gives the bits of network `k` run alone, since every presentation takes the same
//! steps and each copy's input stream is keyed by its own seed and key.

use super::model::{network_batch, EXC, INPUT, INPUT_EXC};
use crate::backend::{EngineChoice, Presentation, Series, SeriesRun, Simulator, Snapshot, Trial};
use crate::cpu::engine::EngineOptions;
use crate::error::{Result, SnnError};
use crate::experiments::diehl_cook::spec::{
    check_input_rates, check_loaded, input_delays, presentation_seed,
};
use crate::experiments::diehl_cook::{CompetitiveSpec, PresentOptions, RestMode};
use crate::gpu::{GpuContext, GpuEngineOptions};
use crate::model::net::state::{NetworkState, SNAPSHOT_KIND};
use std::sync::Arc;

/// One input of [`DcEngine::present_batch`]: a copy's rates (Hz, one per input) and its
/// presentation key.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// Rates of the inputs (Hz).
    pub rates_hz: &'a [f32],
    /// Presentation key (with the copy's seed, selects its input spikes).
    pub key: u32,
}

/// The Diehl & Cook network on a general engine: one network, or several that differ in
/// their seed only, as copies.
pub struct DcEngine {
    engine: Box<dyn Simulator>,
    n_in: usize,
    n: usize,
    dt_ms: f32,
    /// One per copy.
    seeds: Vec<u32>,
    norm_target: Option<f32>,
    tau_theta_ms: f32,
    /// Zero rates, for the rest.
    silence: Vec<f32>,
    /// Whether the input projection has delays.
    delayed: bool,
}

impl DcEngine {
    /// Builds the network of `spec` ([`network`](super::model::network)) at its initial
    /// state on the CPU engine.
    ///
    /// # Errors
    /// [`network`](super::model::network)'s errors.
    pub fn new(spec: &CompetitiveSpec) -> Result<Self> {
        Self::with_options(spec, &EngineOptions::default())
    }

    /// [`Self::new`] on a CPU engine run as `opts` says (the same bits, speed only).
    ///
    /// # Errors
    /// [`network`](super::model::network)'s errors; `Engine::set_simd`'s.
    pub fn with_options(spec: &CompetitiveSpec, opts: &EngineOptions) -> Result<Self> {
        Self::build(spec, &EngineChoice::Cpu(*opts))
    }

    /// The network of `spec` on the engine `choice` names (`EngineChoice::simulator`).
    ///
    /// # Errors
    /// [`network`](super::model::network)'s errors; on the GPU, [`SnnError::InvalidParam`]
    /// naming `n_exc` and its largest value on this device when the input weights do not fit
    /// one storage binding (checked before anything is built); `EngineChoice::simulator`'s
    /// (device limits, shader errors, a SIMD level this CPU lacks).
    pub fn build(spec: &CompetitiveSpec, choice: &EngineChoice) -> Result<Self> {
        Self::build_batch(std::slice::from_ref(spec), choice)
    }

    /// The networks of `specs`, which differ in their seed only, as the copies of one
    /// engine (`super::model::network_batch`); copy `k` runs as `Self::build(&specs[k])`
    /// would.
    ///
    /// # Errors
    /// As [`Self::build`]; `network_batch`'s for specs that differ in more than the seed.
    pub fn build_batch(specs: &[CompetitiveSpec], choice: &EngineChoice) -> Result<Self> {
        let net = network_batch(specs)?;
        let slots = input_ring_slots(&specs[0]);
        if let Some(k) = specs.iter().position(|s| input_ring_slots(s) != slots) {
            return Err(SnnError::invalid(
                format!("network {k} (seed {})", specs[k].seed),
                format!("{} input delay slots", input_ring_slots(&specs[k])),
                format!("network 0's {slots} (the longest delay drawn must agree in a batch)"),
            ));
        }
        if let EngineChoice::Gpu(ctx, _) = choice {
            check_binding(ctx, &specs[0])?;
        }
        let engine = choice.simulator(&net)?;
        let mut b = Self::on(&specs[0], engine);
        b.seeds = specs.iter().map(|s| s.seed).collect();
        Ok(b)
    }

    /// The network of `spec` on the general GPU engine of `ctx`, launched as `opts` says
    /// (speed only).
    ///
    /// # Errors
    /// As [`Self::build`].
    pub fn on_gpu(
        ctx: Arc<GpuContext>,
        spec: &CompetitiveSpec,
        opts: GpuEngineOptions,
    ) -> Result<Self> {
        Self::build(spec, &EngineChoice::Gpu(ctx, opts))
    }

    /// The protocol of `spec` on `engine`, which runs
    /// [`network`](super::model::network)`(spec)` at its initial state.
    fn on(spec: &CompetitiveSpec, engine: Box<dyn Simulator>) -> Self {
        DcEngine {
            engine,
            n_in: spec.n_input as usize,
            n: spec.n_exc as usize,
            dt_ms: spec.dt_ms,
            seeds: vec![spec.seed],
            norm_target: spec.norm_target,
            tau_theta_ms: spec.exc.theta.map_or(f32::INFINITY, |t| t.tau_theta_ms),
            silence: vec![0.0; spec.n_input as usize],
            delayed: spec.input_delay_max_ms.is_some(),
        }
    }

    /// The engine this network runs on.
    pub fn engine(&self) -> &dyn Simulator {
        self.engine.as_ref()
    }

    /// The number of networks (copies).
    pub fn copies(&self) -> usize {
        self.seeds.len()
    }

    /// Fails unless this holds one network (the methods that do not name a copy).
    pub(crate) fn single(&self, what: &str) -> Result<()> {
        match self.seeds.len() {
            1 => Ok(()),
            k => Err(SnnError::Unsupported(format!(
                "{what} on a batch of {k} networks: name the copy (`present_batch`, \
                 `weights_of`, …)"
            ))),
        }
    }

    /// Exact θ decay over `steps` steps.
    fn theta_decay(&self, steps: u32) -> f32 {
        if self.tau_theta_ms.is_infinite() {
            1.0
        } else {
            (-(steps as f64) * self.dt_ms as f64 / self.tau_theta_ms as f64).exp() as f32
        }
    }

    /// Checks one image's rates (`super::spec::check_input_rates`).
    fn check_rates(&self, rates_hz: &[f32]) -> Result<()> {
        check_input_rates(self.n_in, self.dt_ms, rates_hz)
    }

    /// The first weight that is not finite, as [`SnnError::NonFinite`] (neuron = flat index
    /// `j·n + i`; in a batch, the population names the copy, as the engines do).
    fn check_weights(&self) -> Result<()> {
        for c in 0..self.copies() {
            let Some(i) = self.engine.first_non_finite_weight(INPUT_EXC, c)? else {
                continue;
            };
            return Err(SnnError::NonFinite {
                population: match self.copies() {
                    1 => "input".into(),
                    _ => format!("input (copy {c})"),
                },
                variable: "w".into(),
                neuron: i,
                step: self.engine.step_count() as u64,
            });
        }
        Ok(())
    }

    /// The state of a snapshot of the first CPU engine (kind `cpu`, written up to c595672),
    /// in the engine's terms: the same clock, so the delay rings keep their slots.
    /// `st` is the state of one network (this engine's, or one copy's alone), whose shape
    /// the result takes.
    fn state_from_first_cpu(&self, s: &Snapshot, mut st: NetworkState) -> Result<NetworkState> {
        let (n, n_in) = (self.n, self.n_in);
        let copy = &mut st.copies[0];
        let bits = |name: &str| -> Result<Vec<u32>> {
            let v = s.u32s(name, Some(n))?;
            Ok((0..n as u32).filter(|&i| v[i as usize] != 0).collect())
        };
        let counters = s.u32s("counters", Some(2))?;
        st.step = counters[1];
        let theta = s.f32s("theta", Some(n))?;
        for p in &mut copy.populations {
            let name = p.name.clone();
            if name == INPUT {
                p.spikes = s.u32s("spikes_in", None)?.to_vec();
                continue;
            }
            for (var, v) in &mut p.variables {
                *v = match var.as_str() {
                    "theta" if name == EXC => theta.clone(),
                    "theta" => vec![0.0; n],
                    _ => s.f32s(&format!("{name}.{var}"), Some(n))?,
                };
            }
            p.refractory_steps = s.u32s(&format!("{name}.refrac"), Some(n))?.to_vec();
            p.spikes = bits(&format!("{name}_spiked"))?;
        }
        let exc_spikes = bits("exc_spiked")?;
        let inh_spikes = bits("inh_spiked")?;
        for q in &mut copy.projections {
            match q.name.as_str() {
                INPUT_EXC => {
                    q.weights = s.f32s("w", Some(n_in * n))?;
                    let slots = q.history.len();
                    let lens = s.u32s("hist.len", None)?;
                    let items = s.u32s("hist", None)?;
                    if lens.is_empty() == self.delayed {
                        return Err(SnnError::invalid(
                            "snapshot array `hist.len`",
                            format!("{} slots", lens.len()),
                            if self.delayed {
                                "a ring of input spikes: the network has input delays"
                            } else {
                                "no ring: the network has no input delays"
                            },
                        ));
                    }
                    if !self.delayed {
                        // No delays: the input spikes of now, and the last spike of each
                        // input is the last arrival of its row.
                        let last_pre = s.u32s("last_pre", Some(n_in))?;
                        if !q.last_arrival_step.is_empty() {
                            q.last_arrival_step = last_pre
                                .iter()
                                .flat_map(|&l| std::iter::repeat_n(l, n))
                                .collect();
                        }
                        q.history = vec![s.u32s("spikes_in", None)?.to_vec(); slots];
                    } else {
                        if lens.len() != slots
                            || lens.iter().map(|&l| l as usize).sum::<usize>() != items.len()
                        {
                            return Err(SnnError::invalid(
                                "snapshot array `hist.len`",
                                lens.len(),
                                format!("{slots} slots adding up to the items of `hist`"),
                            ));
                        }
                        let mut at = 0;
                        for (h, &l) in q.history.iter_mut().zip(lens) {
                            *h = items[at..at + l as usize].to_vec();
                            at += l as usize;
                        }
                        if !q.last_arrival_step.is_empty() {
                            q.last_arrival_step = s.u32s("last_arrival", Some(n_in * n))?.to_vec();
                        }
                    }
                    if !q.ring.is_empty() {
                        // Snapshots written before the ring existed were taken after the
                        // rest, with every delayed input arrived: an empty ring.
                        q.ring = if s.has("x_ring") {
                            s.f32s("x_ring", Some(q.ring.len()))?
                        } else {
                            vec![0.0; q.ring.len()]
                        };
                    }
                    if !q.post1.is_empty() {
                        q.post1 = s.f32s("post1", Some(n))?;
                        q.post2 = s.f32s("post2", Some(n))?;
                    }
                }
                // The lateral projections carry the spikes of the last step only.
                super::model::EXC_INH => q.history = vec![exc_spikes.clone()],
                _ => q.history = vec![inh_spikes.clone()],
            }
        }
        Ok(st)
    }
}

/// Fails unless the input weights of `spec` (`n_input x n_exc` f32) fit one storage binding
/// of `ctx`, naming `n_exc` and its largest value there.
fn check_binding(ctx: &GpuContext, spec: &CompetitiveSpec) -> Result<()> {
    let max = ctx.limits.max_storage_buffer_binding_size;
    let per_neuron = u64::from(spec.n_input) * 4;
    if u64::from(spec.n_exc) * per_neuron > max {
        return Err(SnnError::invalid(
            "n_exc",
            spec.n_exc,
            format!(
                "at most {} on {}: the input weights ({} inputs x n_exc x 4 bytes) must \
                 fit one storage binding (max_storage_buffer_binding_size = {max} bytes); \
                 use the CPU backend (--backend cpu), or a smaller network",
                max / per_neuron,
                ctx.adapter_description(),
                spec.n_input
            ),
        ));
    }
    Ok(())
}

/// The protocol, presentation by presentation.
impl DcEngine {
    /// `"cpu"` or `"gpu:<adapter>"`.
    pub fn describe(&self) -> String {
        self.engine.describe()
    }

    /// Presents one input (rates in Hz, one per input) to the network, carrying its state
    /// on from the last presentation, and returns each excitatory neuron's spike count over
    /// the `steps_on` window. With `opts.learn`, normalises first, runs STDP and adapts θ.
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`] for a wrong number of rates; device errors;
    /// [`SnnError::NonFinite`] if a state variable became NaN or infinite.
    pub fn present(&mut self, rates_hz: &[f32], opts: &PresentOptions) -> Result<Vec<u32>> {
        self.single("present")?;
        let input = Input {
            rates_hz,
            key: opts.key,
        };
        Ok(self.present_batch(&[Some(input)], opts)?.swap_remove(0))
    }

    /// [`Self::present`] to every copy at once: copy `k` gets `inputs[k]` (its rates and
    /// key; `opts.key` is not used), or silence where it is `None` (a network that has
    /// finished: it goes on running, and the caller keeps what it had). Returns each
    /// copy's counts. Learning, normalisation and θ decay apply to every copy.
    ///
    /// # Errors
    /// As [`Self::present`]; [`SnnError::InvalidParam`] unless there is one input per copy.
    pub fn present_batch(
        &mut self,
        inputs: &[Option<Input<'_>>],
        opts: &PresentOptions,
    ) -> Result<Vec<Vec<u32>>> {
        let none = vec![0; inputs.len()];
        let mut run = self.present_rounds(&[inputs.to_vec()], &[], opts, &none)?;
        Ok(run.counts.swap_remove(0))
    }

    /// [`Self::present_batch`] round after round (`rounds[r][k]`: copy `k`'s input planned
    /// for round `r`), as one series ([`Series`]; as many rounds as [`Self::series_len`]
    /// run in one go): where copy `k` draws fewer than `least[k]` excitatory spikes over
    /// the steps on, it shows the retry `retries[r][k]` (rates, Hz; `retries` may be empty)
    /// in the next round, keyed by that round's key, and its later inputs one round late;
    /// the series stops after a round in which a copy was short without a retry (or short
    /// again), or in which an input weight became NaN or infinite (an error). Returns each
    /// round's counts and what each copy showed, up to the round that stopped the series.
    ///
    /// # Errors
    /// As [`Self::present`]; [`SnnError::InvalidParam`] unless every round has one input
    /// per copy, there is one least count per copy and no retries or one list per round.
    pub fn present_rounds(
        &mut self,
        rounds: &[Vec<Option<Input<'_>>>],
        retries: &[Vec<Option<&[f32]>>],
        opts: &PresentOptions,
        least: &[u32],
    ) -> Result<SeriesRun> {
        for inputs in rounds {
            if inputs.len() != self.copies() {
                return Err(SnnError::invalid(
                    "inputs",
                    inputs.len(),
                    format!("one per network ({})", self.copies()),
                ));
            }
            for x in inputs.iter().flatten() {
                self.check_rates(x.rates_hz)?;
            }
        }
        for x in retries.iter().flatten().flatten() {
            self.check_rates(x)?;
        }
        let decay = self.theta_decay(opts.steps_on + opts.steps_rest);
        let trials: Vec<Vec<Trial<'_>>> = rounds
            .iter()
            .map(|inputs| {
                inputs
                    .iter()
                    .enumerate()
                    .map(|(c, x)| {
                        let (rates_hz, key) =
                            x.map_or((&self.silence[..], 0), |x| (x.rates_hz, x.key));
                        Trial {
                            rates_hz,
                            key: presentation_seed(self.seeds[c], key),
                        }
                    })
                    .collect()
            })
            .collect();
        let presentations: Vec<Presentation<'_>> = trials
            .iter()
            .map(|inputs| Presentation {
                normalize: self
                    .norm_target
                    .filter(|_| opts.learn)
                    .map(|target| (INPUT_EXC, target)),
                source: INPUT,
                inputs,
                steps_on: opts.steps_on,
                counted: EXC,
                rest_steps: match opts.rest {
                    RestMode::Simulate => Some(opts.steps_rest),
                    RestMode::Reset => None,
                },
                check_weights: Some(INPUT_EXC),
                // θ's exact decay over the presentation, while learning.
                decay: opts.learn.then_some((EXC, "theta", decay)),
            })
            .collect();
        let e = self.engine.as_mut();
        e.set_learning(opts.learn);
        let run = e.present_series(&Series {
            presentations: &presentations,
            retries,
            least,
        })?;
        self.check_weights()?;
        Ok(run)
    }

    /// The most rounds of [`Self::present_rounds`] that run in one go (one wait on a
    /// device): 1 where they run one at a time.
    pub fn series_len(&self) -> usize {
        self.engine.series_len()
    }

    /// Presents many inputs to frozen copies of the network (no learning, θ fixed), each
    /// starting from the rest state, input `k` with key `opts.key + k`. The result equals
    /// presenting them one at a time, in any order.
    ///
    /// # Errors
    /// As [`Self::present`].
    pub fn present_frozen_batch(
        &mut self,
        rates_hz: &[Vec<f32>],
        opts: &PresentOptions,
    ) -> Result<Vec<Vec<u32>>> {
        self.single("present_frozen_batch")?;
        self.present_frozen_batch_of(0, rates_hz, opts)
    }

    /// [`Self::present_frozen_batch`] to copy `copy`.
    ///
    /// # Errors
    /// As [`Self::present_frozen_batch`]; a copy out of range.
    pub fn present_frozen_batch_of(
        &mut self,
        copy: usize,
        rates_hz: &[Vec<f32>],
        opts: &PresentOptions,
    ) -> Result<Vec<Vec<u32>>> {
        let seed = self.copy_seed(copy)?;
        for r in rates_hz {
            self.check_rates(r)?;
        }
        let trials: Vec<Trial<'_>> = rates_hz
            .iter()
            .enumerate()
            .map(|(k, r)| Trial {
                rates_hz: r,
                key: presentation_seed(seed, opts.key.wrapping_add(k as u32)),
            })
            .collect();
        let frozen = opts.frozen();
        self.engine
            .run_trials(copy, INPUT, &trials, frozen.steps_on, EXC)
    }

    /// The seed of copy `copy`.
    fn copy_seed(&self, copy: usize) -> Result<u32> {
        self.seeds.get(copy).copied().ok_or_else(|| {
            SnnError::invalid(
                "copy",
                copy,
                format!("a network of the batch (0..{})", self.seeds.len()),
            )
        })
    }

    /// The input weights, `[input][exc]`.
    ///
    /// # Errors
    /// Device errors while reading back.
    pub fn weights(&mut self) -> Result<Vec<f32>> {
        self.single("weights")?;
        self.weights_of(0)
    }

    /// [`Self::weights`] of copy `copy`.
    ///
    /// # Errors
    /// As [`Self::weights`]; a copy out of range.
    pub fn weights_of(&mut self, copy: usize) -> Result<Vec<f32>> {
        self.copy_seed(copy)?;
        self.engine.weights(INPUT_EXC, copy)
    }

    /// θ of every excitatory neuron (mV).
    ///
    /// # Errors
    /// Device errors while reading back.
    pub fn theta(&mut self) -> Result<Vec<f32>> {
        self.single("theta")?;
        self.theta_of(0)
    }

    /// [`Self::theta`] of copy `copy`.
    ///
    /// # Errors
    /// As [`Self::theta`]; a copy out of range.
    pub fn theta_of(&mut self, copy: usize) -> Result<Vec<f32>> {
        self.copy_seed(copy)?;
        self.engine.state(EXC, "theta", copy)
    }

    /// Sets copy `copy`'s input weights and θ as they were read (weights as
    /// [`Self::weights_of`] gave them, normalised or not; θ in mV).
    ///
    /// # Errors
    /// A copy out of range; [`SnnError::InvalidParam`] for wrong lengths or values.
    pub fn set_copy(&mut self, copy: usize, weights: &[f32], theta_mv: &[f32]) -> Result<()> {
        self.copy_seed(copy)?;
        check_loaded(self.n_in, self.n, weights, theta_mv)?;
        let mut st = self.engine.network_state()?;
        let c = &mut st.copies[copy];
        for q in c.projections.iter_mut().filter(|q| q.name == INPUT_EXC) {
            q.weights.copy_from_slice(weights);
        }
        for p in c.populations.iter_mut().filter(|p| p.name == EXC) {
            for (_, v) in p.variables.iter_mut().filter(|(var, _)| var == "theta") {
                v.copy_from_slice(theta_mv);
            }
        }
        self.engine.set_network_state(&st)
    }

    /// Replaces the input weights and θ (loading a saved network).
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`] for wrong lengths or values.
    pub fn load(&mut self, weights: &[f32], theta_mv: &[f32]) -> Result<()> {
        self.single("load")?;
        self.set_copy(0, weights, theta_mv)
    }

    /// The network's whole state, for checkpoints: restored into a `DcEngine` of the same
    /// spec on either engine, it continues as if never stopped (bit for bit on an engine that
    /// rounds as the one that wrote it).
    ///
    /// # Errors
    /// Device errors while reading back.
    pub fn snapshot(&mut self) -> Result<Snapshot> {
        Ok(self.engine.network_state()?.to_snapshot())
    }

    /// Replaces the network's whole state with `s` (from [`Self::snapshot`] of either
    /// engine, or a snapshot of kind `cpu` of the first CPU engine).
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`] for a snapshot of another kind or network size; the state
    /// is then left as it was.
    pub fn restore(&mut self, s: &Snapshot) -> Result<()> {
        let st = self.state_of(s, self.engine.network_state()?)?;
        self.engine.set_network_state(&st)
    }

    /// The state `s` holds, shaped as `like` (see [`Self::restore`]).
    fn state_of(&self, s: &Snapshot, like: NetworkState) -> Result<NetworkState> {
        if s.backend == "cpu" {
            if like.copies.len() != 1 {
                return Err(SnnError::Unsupported(
                    "a snapshot of the first CPU engine holds one network: restore it into \
                     its copy (`restore_copies`)"
                        .into(),
                ));
            }
            self.state_from_first_cpu(s, like)
        } else if s.backend.starts_with("gpu") {
            Err(SnnError::invalid(
                "snapshot backend",
                &s.backend,
                format!(
                    "`{SNAPSHOT_KIND}` (either engine's) or `cpu`: state `{}` comes from the \
                     first GPU kernels, which snn-wgpu no longer has; finish that run with \
                     the build that wrote it, or train again",
                    s.backend
                ),
            ))
        } else {
            NetworkState::from_snapshot(s, &like)
        }
    }

    /// The state of copy `copy` alone, as a snapshot of its network alone (what
    /// [`Self::snapshot`] of `Self::build(&specs[copy])` at this point would give).
    ///
    /// # Errors
    /// A copy out of range; device errors while reading back.
    pub fn snapshot_of(&mut self, copy: usize) -> Result<Snapshot> {
        self.copy_seed(copy)?;
        let mut st = self.engine.network_state()?;
        let c = st.copies.swap_remove(copy);
        Ok(NetworkState {
            step: st.step,
            copies: vec![c],
        }
        .to_snapshot())
    }

    /// Replaces every copy's state with `snapshots[copy]`, each a snapshot of its network
    /// alone (from [`Self::snapshot_of`] or [`Self::snapshot`] of a single network, either
    /// engine, or of the first CPU engine), all taken at the same step.
    ///
    /// # Errors
    /// As [`Self::restore`], naming the copy; [`SnnError::InvalidParam`] for another number
    /// of snapshots or snapshots of different steps. The state is then left as it was.
    pub fn restore_copies(&mut self, snapshots: &[Snapshot]) -> Result<()> {
        if snapshots.len() != self.copies() {
            return Err(SnnError::invalid(
                "snapshots",
                snapshots.len(),
                format!("one per network ({})", self.copies()),
            ));
        }
        let mut st = self.engine.network_state()?;
        let mut step = None;
        for (c, s) in snapshots.iter().enumerate() {
            let like = NetworkState {
                step: st.step,
                copies: vec![st.copies[c].clone()],
            };
            let one = self
                .state_of(s, like)
                .map_err(|e| e.in_field(&format!("network {c}")))?;
            if *step.get_or_insert(one.step) != one.step {
                return Err(SnnError::invalid(
                    format!("network {c}: snapshot step"),
                    one.step,
                    format!("the step of network 0's ({})", step.unwrap_or(0)),
                ));
            }
            st.copies[c] = one.copies.into_iter().next().expect("one copy");
        }
        st.step = step.unwrap_or(st.step);
        self.engine.set_network_state(&st)
    }
}

/// The ring slots of `spec`'s input delays (1 without delays): networks of one batch must
/// agree on it, so that each copy's state is that of its network alone.
pub fn input_ring_slots(spec: &CompetitiveSpec) -> u32 {
    input_delays(spec).map_or(1, |(_, slots)| slots)
}
