//! The GENERAL CPU ENGINE: runs any [`Network`] of `model::net`, K copies side by side.
//!
//! Each projection gets a propagation strategy by kind (see [`propagate`]): dense rows read
//! by spiking pre neurons, CSR rows for sparse connectivity, one-to-one, all-but-self as the
//! total minus self, and a ring of `max delay + 1` slots per projection for delays. The
//! neuron stages are those of `cpu::neuron`, the STDP updates those of `cpu::stdp`, and every
//! random draw is `encode::rng::rng_u32`, so a seed gives the same run whatever the thread
//! count. Copies run in parallel (rayon), one copy per worker; a large copy whose siblings
//! leave threads idle also splits its step into chunks of post neurons that run in parallel
//! (below), with the same bits on any number of threads (`RAYON_NUM_THREADS`).
//!
//! # Order of operations in one step `t` (each copy alike)
//!
//! 1. **Sources emit.** Poisson neuron `i` spikes when `rng_u32(key, t − origin, i) < thr_i`
//!    (the stream `(key, origin)` is `(key(seed, population), 0)` unless
//!    [`Engine::set_poisson_stream`] set another); a spike-time source emits its spikes of
//!    step `t`. Spike lists are ascending.
//! 2. **Post traces decay** (learning on): `post1 ← post1·e^(−dt/τ_post1)`,
//!    `post2 ← post2·e^(−dt/τ_post2)` of every plastic projection.
//! 3. **Propagate**, projection by projection in declaration order. The pre population's
//!    current spike list (a source's of step `t`, a neuron population's of step `t − 1`) is
//!    stored in the projection's ring at slot `t mod S`. Then its sum `x[i]` for step `t`:
//!    - delivery at emission: each spike, ascending, adds `w[k]` to the ring slot of its
//!      arrival `(t + d_k) mod S`; `x` is the slot `t mod S`, which is then cleared. A slot
//!      thus sums by emission step, then ascending pre. (Without delays, S = 1, the spikes
//!      add into `x` directly, in the same order: no ring.)
//!    - delivery at arrival: `x[i] = Σ w[k]` over the synapses arriving now, by lag
//!      ascending, then ascending pre, reading the weights of step `t`.
//!    - total minus self: `x[i] = w · (count − [i among the spikes]) as f32`.
//!
//!    With learning on and STDP that depresses, each synapse arriving now then gets
//!    `w ← clip(w − ν_pre·post1[i])` (so propagation read the weight before it), and every
//!    arriving synapse records `t` as its last arrival (its pre trace is `e^(−dt/τ_pre)^a`
//!    `a` steps later, from a table; with all-to-all pairing,
//!    `PairAllToAll`, the trace it had then plus 1, decayed the same way). Finally `x` is added into the post
//!    population's input for the target, `ge`, `gi` or `v` (subtracted for an inhibitory
//!    membrane target): each input starts at 0.0 and takes the projections in declaration
//!    order.
//! 4. **Neuron stages**, population by population in declaration order, neuron by neuron
//!    ascending: `gi += x_gi` (conductance and current LIF); charge with `x_ge` (into `ge`,
//!    conductance and current LIF) or `x_v` (IF, LIF, custom); conductance and current LIF
//!    then `v += x_v`; the refractory clamp;
//!    fire; reset; adapt θ (learning on only). See `model::neuron` for each stage.
//! 5. **Potentiation** (learning on), projection by projection: for each post neuron `i`
//!    that spiked at `t`, ascending, every incoming synapse gets
//!    `w ← clip(w + Δ(pre trace, post2 before))` (`cpu::stdp::on_post`), then
//!    `post1[i] = post2[i] = 1` (all-to-all pairing: `+= 1`).
//! 6. **Monitors** record step `t`; the clock advances.
//!
//! The Diehl & Cook network is one such network (`experiments::diehl_cook::model`): the
//! input is a source projected at emission (delay 0 arrives at the same step), the lateral
//! projections carry the spikes of `t − 1`, lateral inhibition is total minus self. It gives
//! the bits of the first, hand-written CPU engine of that network (commit c595672;
//! `tests/diehl_cook/winner_take_all.rs` keeps its fingerprints).
//!
//! # Chunks of post neurons
//!
//! A step splits into a pre side and a post side. The pre side runs once per copy: step 1,
//! each pre population's spike list into its projections' spike rings, and, with
//! per-synapse delays, the last arrival of every arriving (pre, delay) group (only
//! potentiation reads it). The post side, steps 2–5, runs chunk by chunk: chunk `c` takes
//! neurons `c·size .. (c + 1)·size` of every population (by default one chunk per thread,
//! `size` a population's share; [`EngineOptions::chunk_neurons`]) and does for them, in declaration order, their trace decay, the propagation of every
//! projection into their ring cells and inputs, the depression of the synapses onto them
//! (with a depression queue of their own), their neuron stages and the
//! potentiation of those that spiked. A post neuron's every float sum takes its terms in the
//! order above (spikes by emission step, then ascending pre), a synapse belongs to the
//! chunk of its post neuron, and the chunks' spike lists join in chunk order (ascending);
//! so the bits do not depend on the chunk size or on which thread runs which chunk. Then
//! step 6. Chunks run in parallel when fewer copies or trials than threads run: for one run
//! of steps, a team of threads (`team`, one per chunk beyond the first) meets the caller at
//! a spinning barrier once per step, since rayon's fork-join per step let its workers fall
//! asleep between steps and cost more than it saved. The step splits only from
//! [`EngineOptions::split_min_neurons`] neurons on (a step of a small network is shorter
//! than the threads' meeting) and when the copies leave threads idle at construction.
//! `normalize_columns` runs by chunks too (rayon).
//!
//! # Speed strategies (all give the same bits; [`EngineOptions`])
//!
//! - per-synapse delays: the synapses grouped by pre neuron and delay
//!   (`propagate::Buckets`), one last-arrival step per group;
//! - a plastic all-to-all projection with per-synapse delays: depression only where it can
//!   change a weight (`depression::DepressionQueue`);
//! - the step compiled for the processor's vector instructions (`cpu::simd`); a chunk that a
//!   team member runs enters the same compiled copy;
//! - one large copy's step on all cores, in chunks of post neurons (above).
//!
//! # Modules
//!
//! `plan` compiles the network once into plans the copies share, and builds a copy's
//! state; `step` runs the steps of a copy in the order above; `propagate` holds the
//! projections' strategies, `depression` the depression queue, `neurons` the neuron arrays
//! and their stages by chunk, `team` the threads that run one copy's chunks. This module
//! holds the engine's state and its API.

pub mod depression;
mod neurons;
mod plan;
pub mod propagate;
mod step;
mod team;

pub use crate::backend::Trial;
use crate::cpu::neuron::NeuronState;
use crate::cpu::simd::SimdLevel;
use crate::encode::rng::probability_threshold;
use crate::error::{Result, SnnError};
use crate::model::net::projection::Synapses;
use crate::model::net::state::{
    CopyState as CopyData, NetworkState, PopulationState, ProjectionState,
};
pub use crate::model::net::Recording;
use crate::model::net::{check_rates, invalid, Delivery, Network, PopulationKind, NORM_BLOCK};
use crate::model::stdp::DerivedStdp;
use crate::model::stdp::StdpConsts;
use crate::model::{DerivedNeuron, NeuronKind};
use depression::DepressionQueue;
use neurons::NeuronArrays;
use propagate::{Plan, Strategy};
use rayon::prelude::*;
use step::Shared;

/// Never-arrived marker of a synapse's last arrival.
const NEVER: u32 = u32::MAX;

// One plan per population, built once: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
enum PopPlan {
    Neurons {
        kind: NeuronKind,
        derived: DerivedNeuron,
        custom_params: Vec<f32>,
        init: NeuronState,
        /// The rest state ([`Engine::rest`]; θ is kept from the neuron).
        rest: NeuronState,
        /// Whether some projection feeds each input (`ge`, `gi`, `v`).
        fed: [bool; 3],
    },
    Poisson,
    SpikeTimes(std::collections::BTreeMap<u32, Vec<u32>>),
}

struct ProjPlan {
    pre: usize,
    post: usize,
    delivery: Delivery,
    /// The synapses as the step walks them: one plan shared by the copies, or one per copy
    /// where the copies have delays of their own (`Delay::PerCopy`; [`Self::plan`]).
    plans: Vec<Plan>,
    /// Rule constants, trace decays and the pre-trace table, when plastic.
    stdp: Option<(StdpConsts, DerivedStdp, Vec<f32>)>,
    /// All-to-all pairing: traces add 1 at a spike instead of being set to 1.
    accumulate: bool,
    /// For a projection that can depress through a [`DepressionQueue`] (all-to-all,
    /// per-synapse delays under 256 steps, a depressing rule), the delay of each synapse
    /// as a byte: the queue reads a row of them per pre spike at scattered post neurons, a
    /// quarter of the cache lines of `u32`s. Empty for any other projection. One per plan.
    queue_delays: Vec<Vec<u8>>,
    /// The post population's input it feeds: 0 `ge`, 1 `gi`, 2 `v`.
    channel: usize,
    /// Whether it subtracts from that input (an inhibitory membrane target).
    sub: bool,
    /// Whether it is the first projection, in declaration order, into that input.
    first: bool,
    /// Whether it is the only projection into that input.
    sole: bool,
}

enum MonitorPlan {
    Spikes(Option<Vec<bool>>),
    State { var: usize, neurons: Vec<u32> },
    Rate,
}

/// What is shared by the copies: the network and its derived plans.
struct Plans {
    net: Network,
    pops: Vec<PopPlan>,
    projs: Vec<ProjPlan>,
    monitors: Vec<(usize, MonitorPlan)>,
    /// Depress through the queue where a projection allows it ([`Engine::set_depression_queue`]).
    use_queue: bool,
    /// The compiled copy of the step that runs ([`Engine::set_simd`]).
    simd: SimdLevel,
    /// Post neurons per chunk of the step (0: each population in `n_chunks` equal parts),
    /// and the number of chunks (one: the whole populations; [`EngineOptions::chunk_neurons`]).
    chunk: usize,
    n_chunks: usize,
}

#[derive(Clone)]
struct ProjCopy {
    w: Vec<f32>,
    /// Delivery at emission with delays: future input `[slot][post]` (empty without).
    ring: Vec<f32>,
    /// The pre spike list of each of the last S steps, by step mod S.
    hist: Vec<Vec<u32>>,
    sum: Vec<f32>,
    post1: Vec<f32>,
    post2: Vec<f32>,
    /// Last arrival step of each synapse, or of each bucket with per-synapse delays
    /// (`Plan::arrival_index`; plastic only).
    last: Vec<u32>,
    /// All-to-all pairing: the pre trace just after the last arrival, per entry of `last`.
    pre_at_last: Vec<f32>,
    /// `ν_pre · post1` of each post neuron this step (depressing STDP only; scratch).
    depression: Vec<f32>,
}

/// What one chunk of the step keeps of a copy.
#[derive(Clone)]
struct ChunkState {
    /// Per population: the spikes of the chunk's neurons at this step (scratch, joined into
    /// [`CopyState::spikes`] after the step).
    spikes: Vec<Vec<u32>>,
    /// Per projection: the depressions to come at the chunk's post neurons (derived state,
    /// rebuilt at the start of a learning run).
    queues: Vec<DepressionQueue>,
    /// Per projection that fills its sum at each step: the chunk's part of the sum holds
    /// +0.0 everywhere since its last step (no spike arrived), so a step with none again
    /// need not fill it (most steps of a winner-take-all layer).
    zeroed: Vec<bool>,
}

#[derive(Clone)]
struct CopyState {
    /// Per population: its neurons' state (empty for a source).
    neurons: Vec<NeuronArrays>,
    /// Spike list of each population: a source's of this step, neurons' of the last stage.
    spikes: Vec<Vec<u32>>,
    /// Input of each population this step: `ge`, `gi`, `v`.
    x: Vec<[Vec<f32>; 3]>,
    /// Per Poisson source: `(neuron, threshold)` of the neurons with a rate that can spike.
    thr: Vec<Vec<(u32, u32)>>,
    /// Per population: the Poisson stream `(key, origin step)`.
    stream: Vec<(u32, u32)>,
    projs: Vec<ProjCopy>,
    /// Per chunk of the step ([`Plans::n_chunks`]).
    chunks: Vec<ChunkState>,
    records: Vec<Recording>,
    /// The copy this state belongs to, whose plans it steps with ([`ProjPlan::plan`]).
    index: usize,
    /// Whether the depression queues hold what a rebuild would make: the last steps ran
    /// with learning and the queues, and nothing outside a step has changed the weights,
    /// the traces or the spike history since.
    queues_fresh: bool,
}

/// How an [`Engine`] runs; every choice gives the same bits (speed only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineOptions {
    /// The compiled copy of the step to run; `None`: the best this processor has
    /// ([`SimdLevel::best`]).
    pub simd: Option<SimdLevel>,
    /// Depress plastic all-to-all projections with per-synapse delays through a
    /// `DepressionQueue` (`true`, the default) or at every arriving synapse.
    pub depression_queue: bool,
    /// Post neurons per chunk when the step of one copy is split over the cores: a multiple
    /// of 16, or 0 (the default) for as many chunks as the rayon pool has threads at
    /// construction, each population cut into that many equal parts (rounded up to 16).
    /// Chunk `c` of a population is its neurons `c·size .. (c + 1)·size`; each chunk does
    /// the work of its post neurons in the order the whole step does, so any chunk size and
    /// any thread count give the same bits.
    pub chunk_neurons: u32,
    /// Split the step into chunks when the neuron populations hold at least this many
    /// neurons together (default 8192) and the copies leave threads of the rayon pool
    /// (`RAYON_NUM_THREADS`) idle at construction; 0: always, `u32::MAX`: never. The
    /// chunks run in parallel when fewer copies or trials than threads run. Below this size
    /// a step is too short to pay for the threads' meeting.
    pub split_min_neurons: u32,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            simd: None,
            depression_queue: true,
            chunk_neurons: 0,
            split_min_neurons: 8192,
        }
    }
}

/// The general CPU engine: a validated [`Network`] and the state of its K copies.
pub struct Engine {
    plans: Plans,
    copies: Vec<CopyState>,
    clock: u32,
    learning: bool,
}

impl Engine {
    /// Validates `net` and builds every copy at its initial state, step 0, learning on.
    ///
    /// # Errors
    /// [`SnnError::InvalidNetwork`] from [`Network::validate`].
    pub fn new(net: &Network) -> Result<Self> {
        net.validate()?;
        let plans = Plans::new(net)?;
        let copies = net
            .seeds
            .iter()
            .enumerate()
            .map(|(c, &seed)| plans.new_copy(seed, c))
            .collect();
        let mut e = Engine {
            plans,
            copies,
            clock: 0,
            learning: true,
        };
        let d = EngineOptions::default();
        e.set_chunks(d.chunk_neurons, d.split_min_neurons)?;
        Ok(e)
    }

    /// [`Self::new`] run as `opts` says.
    ///
    /// # Errors
    /// As [`Self::new`] and [`Self::set_simd`]; [`SnnError::InvalidParam`] for a chunk size
    /// that is not a multiple of 16 or is 0.
    pub fn with_options(net: &Network, opts: &EngineOptions) -> Result<Self> {
        let mut e = Self::new(net)?;
        if let Some(level) = opts.simd {
            e.set_simd(level)?;
        }
        e.set_depression_queue(opts.depression_queue);
        e.set_chunks(opts.chunk_neurons, opts.split_min_neurons)?;
        Ok(e)
    }

    /// Splits the step into chunks of `chunk_neurons` post neurons when the neuron
    /// populations hold at least `split_min_neurons` neurons together and the copies leave
    /// threads idle (see [`EngineOptions::split_min_neurons`]); speed only.
    fn set_chunks(&mut self, chunk_neurons: u32, split_min_neurons: u32) -> Result<()> {
        if !chunk_neurons.is_multiple_of(16) {
            return Err(SnnError::invalid(
                "chunk_neurons",
                chunk_neurons,
                "a multiple of 16 post neurons (e.g. 512), or 0 for one chunk per thread",
            ));
        }
        let sizes = self.plans.net.populations.iter().filter(|p| p.is_neurons());
        let total: u64 = sizes.clone().map(|p| p.size as u64).sum();
        let largest = sizes.map(|p| p.size as usize).max().unwrap_or(0);
        let chunk = chunk_neurons as usize;
        let threads = rayon::current_num_threads();
        let idle = self.copies.len() < threads;
        let split = split_min_neurons == 0 || (idle && total >= split_min_neurons as u64);
        let n_chunks = match (split, chunk) {
            (false, _) => 1,
            (true, 0) => threads,
            (true, _) => largest.div_ceil(chunk).max(1),
        };
        self.plans.chunk = chunk;
        self.plans.n_chunks = n_chunks;
        for q in 0..self.plans.projs.len() {
            let n_post = self.plans.projs[q].plan(0).syn.n_post as usize;
            let size = self.plans.chunk_size(n_post);
            for plan in &mut self.plans.projs[q].plans {
                plan.set_chunks(size, n_chunks);
            }
        }
        for c in &mut self.copies {
            c.chunks = self.plans.new_chunks();
            c.queues_fresh = false;
        }
        Ok(())
    }

    /// The network this engine runs.
    pub fn network(&self) -> &Network {
        &self.plans.net
    }

    /// Steps run so far.
    pub fn step_count(&self) -> u32 {
        self.clock
    }

    /// Depress the plastic all-to-all projections with per-synapse delays through a
    /// `DepressionQueue` (`true`, the default) or by visiting every arriving synapse (the
    /// plain reference; a baseline for benchmarks). Both give the same bits: speed only.
    pub fn set_depression_queue(&mut self, on: bool) {
        for c in &mut self.copies {
            c.queues_fresh = false;
        }
        self.plans.use_queue = on;
    }

    /// Runs the copy of the step compiled for `level` (`cpu::simd`; by default the best this
    /// processor has). Every level gives the same bits: speed only.
    ///
    /// # Errors
    /// [`SnnError::Unsupported`] if this processor cannot run `level`.
    pub fn set_simd(&mut self, level: SimdLevel) -> Result<()> {
        if !level.available() {
            return Err(SnnError::Unsupported(format!(
                "this processor cannot run the {} copy of the CPU step (it runs up to {})",
                level.name(),
                SimdLevel::best().name()
            )));
        }
        self.plans.simd = level;
        Ok(())
    }

    /// The compiled copy of the step this engine runs.
    pub fn simd(&self) -> SimdLevel {
        self.plans.simd
    }

    /// Turns learning (STDP and θ adaptation) on or off; on at construction.
    pub fn set_learning(&mut self, on: bool) {
        self.learning = on;
    }

    /// Runs `steps` steps of every copy.
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`] if the step clock would pass `u32::MAX`;
    /// [`SnnError::NonFinite`] if a neuron variable became NaN or infinite.
    pub fn run(&mut self, steps: u32) -> Result<()> {
        self.run_inner(steps, None).map(|_| ())
    }

    /// [`Self::run`], returning the number of spikes of every neuron of `population` over
    /// these steps, `[copy][neuron]`.
    ///
    /// # Errors
    /// As [`Self::run`]; [`SnnError::UnknownName`] for an unknown population.
    pub fn run_counting(&mut self, steps: u32, population: &str) -> Result<Vec<Vec<u32>>> {
        let p = self.plans.net.population_index(population)?;
        self.run_inner(steps, Some(p))
    }

    fn run_inner(&mut self, steps: u32, count: Option<usize>) -> Result<Vec<Vec<u32>>> {
        let t0 = self.clock;
        let t1 = crate::model::net::clock_after(t0, steps.into())?;
        let (plans, learn) = (&self.plans, self.learning);
        // Chunks in parallel only while copies leave threads idle.
        let par = self.copies.len() < rayon::current_num_threads();
        let counts = self
            .copies
            .par_iter_mut()
            .map(|c| plans.run_copy(c, t0..t1, learn, count, par))
            .collect();
        self.clock = t1;
        let k = self.copies.len();
        for (b, c) in self.copies.iter().enumerate() {
            self.plans.check_finite(c, t1, |name| {
                if k == 1 {
                    name.to_string()
                } else {
                    format!("{name} (copy {b})")
                }
            })?;
        }
        Ok(counts)
    }

    /// Puts copy `copy` at rest: every neuron at its rest state (v at the model's resting
    /// potential, `v_rest_mv` of LIF and conductance LIF, `v_init_mv` of IF and custom
    /// models; `ge = gi = 0`; no refractory steps left; custom variables at their initial
    /// values), θ kept; no spike in flight (spike lists, delay rings, spike history and last
    /// arrivals cleared) and every STDP trace at 0. The clock keeps running.
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`] for a bad copy.
    pub fn rest(&mut self, copy: usize) -> Result<()> {
        self.copy(copy)?;
        self.plans.rest(&mut self.copies[copy]);
        Ok(())
    }

    /// Keys the Poisson draws of source `population` in copy `copy` from the next step:
    /// neuron `i` spikes at step `t` when `rng_u32(key, t − origin_step, i) < thr_i`. A
    /// protocol that presents stimuli one by one gives each its own stream this way (the
    /// step counted from the stimulus onset), whatever ran before.
    ///
    /// # Errors
    /// [`SnnError::UnknownName`]; [`SnnError::InvalidNetwork`] for a population that is not
    /// a Poisson source; [`SnnError::InvalidParam`] for a bad copy.
    pub fn set_poisson_stream(
        &mut self,
        population: &str,
        copy: usize,
        key: u32,
        origin_step: u32,
    ) -> Result<()> {
        let p = self.poisson_index(population)?;
        self.copy(copy)?;
        self.copies[copy].stream[p] = (key, origin_step);
        Ok(())
    }

    /// Runs independent trials from copy `copy` in parallel and returns, per trial, the
    /// spike count of every neuron of `population`; the engine is left as it was. Trial `k`
    /// starts from a clone of the copy put at rest ([`Self::rest`]), sets the rates of
    /// Poisson source `source` to `trials[k].rates_hz` and its stream to
    /// `(trials[k].key, clock)` ([`Self::set_poisson_stream`]), and runs `steps` steps with
    /// learning off: the counts are those the copy itself would give.
    ///
    /// # Errors
    /// As [`Self::set_rates`] for bad rates; [`SnnError::NonFinite`] naming the first trial
    /// (in trial order) where a neuron variable became NaN or infinite.
    pub fn run_trials(
        &self,
        copy: usize,
        source: &str,
        trials: &[Trial<'_>],
        steps: u32,
        population: &str,
    ) -> Result<Vec<Vec<u32>>> {
        let src = self.poisson_index(source)?;
        let count = self.plans.net.population_index(population)?;
        let base = self.copy(copy)?;
        let (dt, size) = (self.plans.net.dt_ms, self.plans.net.populations[src].size);
        let el = format!("population `{source}`");
        let thr = trials
            .iter()
            .map(|tr| check_rates(&el, tr.rates_hz, size, dt).map(|_| thresholds(tr.rates_hz, dt)))
            .collect::<Result<Vec<_>>>()?;
        let t0 = self.clock;
        let t1 = crate::model::net::clock_after(t0, steps.into())?;
        let mut fresh = base.clone();
        self.plans.rest(&mut fresh);
        fresh.records.iter_mut().for_each(clear_recording);
        // One copy per worker, made once: a copy per rayon split would copy the weights
        // again and again and start each trial with cold caches.
        let threads = rayon::current_num_threads().max(1);
        let chunk = trials.len().div_ceil(threads).max(1);
        let par = trials.len() < threads;
        trials
            .par_chunks(chunk)
            .zip(thr.par_chunks(chunk))
            .enumerate()
            .map(|(part, (trs, thrs))| {
                let mut c = fresh.clone();
                trs.iter()
                    .zip(thrs)
                    .enumerate()
                    .map(|(i, (tr, thr))| {
                        let k = part * chunk + i;
                        self.plans.rest(&mut c);
                        c.thr[src].clone_from(thr);
                        c.stream[src] = (tr.key, t0);
                        let counts = self.plans.run_copy(&mut c, t0..t1, false, Some(count), par);
                        self.plans
                            .check_finite(&c, t1, |name| format!("{name} (trial {k})"))?;
                        Ok(counts)
                    })
                    .collect::<Vec<Result<Vec<u32>>>>()
            })
            .collect::<Vec<_>>()
            // In trial order, so an error names the first bad trial whatever the threads did.
            .into_iter()
            .flatten()
            .collect()
    }

    /// The whole dynamic state of every copy, as plain data (see `model::net::state`).
    pub fn network_state(&self) -> NetworkState {
        let net = &self.plans.net;
        let copies = self
            .copies
            .iter()
            .map(|c| CopyData {
                populations: net
                    .populations
                    .iter()
                    .enumerate()
                    .map(|(p, pop)| {
                        let (variables, refractory_steps) = match &pop.kind {
                            PopulationKind::Neurons(m) => (
                                m.state_var_names()
                                    .into_iter()
                                    .enumerate()
                                    .map(|(k, name)| (name, c.neurons[p].var(k, &m.kind).to_vec()))
                                    .collect(),
                                c.neurons[p].refrac.clone(),
                            ),
                            _ => (vec![], vec![]),
                        };
                        PopulationState {
                            name: pop.name.clone(),
                            variables,
                            refractory_steps,
                            spikes: c.spikes[p].clone(),
                            poisson_stream: match pop.kind {
                                PopulationKind::Poisson { .. } => c.stream[p],
                                _ => (0, 0),
                            },
                        }
                    })
                    .collect(),
                projections: net
                    .projections
                    .iter()
                    .zip(&c.projs)
                    .zip(&self.plans.projs)
                    .map(|((q, pc), pp)| ProjectionState {
                        name: q.name.clone(),
                        weights: pc.w.clone(),
                        ring: pc.ring.clone(),
                        history: pc.hist.clone(),
                        post1: pc.post1.clone(),
                        post2: pc.post2.clone(),
                        last_arrival_step: per_synapse(pp.plan(c.index), &pc.last),
                        pre_trace_at_last_arrival: per_synapse(pp.plan(c.index), &pc.pre_at_last),
                    })
                    .collect(),
            })
            .collect();
        NetworkState {
            step: self.clock,
            copies,
        }
    }

    /// Replaces the whole dynamic state with `state`, which must have the shape of
    /// [`Self::network_state`] (same network and batch). Weights are taken as they are
    /// (a protocol may have scaled them outside `[w_min, w_max]`, as normalisation does).
    ///
    /// # Errors
    /// As `NetworkState::check`: [`SnnError::InvalidParam`] naming the first array of
    /// another length, a weight or variable that is not finite, a spike or history index
    /// out of range, or a step past the clock's end.
    pub fn set_network_state(&mut self, state: &NetworkState) -> Result<()> {
        let like = self.network_state();
        let syns: Vec<_> = self.plans.projs.iter().map(ProjPlan::synapses).collect();
        let syns: Vec<&Synapses> = syns.iter().map(|s| s.as_ref()).collect();
        state.check(&like, &self.plans.net, &syns)?;
        let net = &self.plans.net;
        for (c, cs) in self.copies.iter_mut().zip(&state.copies) {
            for (p, ps) in cs.populations.iter().enumerate() {
                if let PopulationKind::Neurons(m) = &net.populations[p].kind {
                    let ns = &mut c.neurons[p];
                    for (k, (_, v)) in ps.variables.iter().enumerate() {
                        ns.var_mut(k, &m.kind).copy_from_slice(v);
                    }
                    ns.refrac.copy_from_slice(&ps.refractory_steps);
                }
                c.spikes[p].clone_from(&ps.spikes);
                if matches!(net.populations[p].kind, PopulationKind::Poisson { .. }) {
                    c.stream[p] = ps.poisson_stream;
                }
            }
            for ((pc, qs), pp) in c
                .projs
                .iter_mut()
                .zip(&cs.projections)
                .zip(&self.plans.projs)
            {
                pc.w.copy_from_slice(&qs.weights);
                pc.ring.copy_from_slice(&qs.ring);
                pc.hist.clone_from(&qs.history);
                pc.post1.copy_from_slice(&qs.post1);
                pc.post2.copy_from_slice(&qs.post2);
                if !pc.last.is_empty() {
                    pc.last.fill(NEVER);
                    for (k, &a) in qs.last_arrival_step.iter().enumerate() {
                        pc.last[pp.plan(c.index).arrival_index(k)] = a;
                    }
                }
                for (k, &x) in qs.pre_trace_at_last_arrival.iter().enumerate() {
                    pc.pre_at_last[pp.plan(c.index).arrival_index(k)] = x;
                }
            }
        }
        for c in &mut self.copies {
            c.queues_fresh = false;
        }
        self.clock = state.step;
        Ok(())
    }

    fn poisson_index(&self, population: &str) -> Result<usize> {
        let p = self.plans.net.population_index(population)?;
        if !matches!(
            self.plans.net.populations[p].kind,
            PopulationKind::Poisson { .. }
        ) {
            let el = format!("population `{population}`");
            return Err(invalid(&el, "kind", &"not Poisson", "a Poisson source"));
        }
        Ok(p)
    }

    fn copy(&self, copy: usize) -> Result<&CopyState> {
        self.copies.get(copy).ok_or_else(|| {
            SnnError::invalid(
                "copy",
                copy,
                format!("< the batch size {}", self.copies.len()),
            )
        })
    }

    fn projection_index(&self, name: &str) -> Result<usize> {
        self.plans.net.projection_index(name)
    }

    /// Sets the Poisson rates (Hz) of source `population` in copy `copy`, from the next step.
    ///
    /// # Errors
    /// [`SnnError::UnknownName`], [`SnnError::InvalidNetwork`] for a population that is not a
    /// Poisson source or a bad rate, [`SnnError::InvalidParam`] for a bad copy.
    pub fn set_rates(&mut self, population: &str, copy: usize, rates_hz: &[f32]) -> Result<()> {
        let p = self.plans.net.rates_target(population, rates_hz)?;
        self.copy(copy)?;
        self.copies[copy].thr[p] = thresholds(rates_hz, self.plans.net.dt_ms);
        Ok(())
    }

    /// The weights of `projection` in copy `copy`, in synapse order
    /// (see `model::net::projection`).
    ///
    /// # Errors
    /// [`SnnError::UnknownName`] or [`SnnError::InvalidParam`] for a bad copy.
    pub fn weights(&self, projection: &str, copy: usize) -> Result<&[f32]> {
        let q = self.projection_index(projection)?;
        Ok(&self.copy(copy)?.projs[q].w)
    }

    /// The index of the first weight of `projection` in copy `copy` that is NaN or
    /// infinite, if any: [`crate::backend::Simulator::first_non_finite_weight`] without copying
    /// the weights.
    ///
    /// # Errors
    /// As [`Self::weights`].
    pub fn first_non_finite_weight(&self, projection: &str, copy: usize) -> Result<Option<usize>> {
        Ok(crate::backend::simulator::first_non_finite(
            self.weights(projection, copy)?,
        ))
    }

    /// Replaces the weights of `projection` in copy `copy`.
    ///
    /// # Errors
    /// As [`Self::weights`], and [`SnnError::InvalidNetwork`] for a wrong length or a weight
    /// outside `[w_min, w_max]`.
    pub fn set_weights(&mut self, projection: &str, copy: usize, w: &[f32]) -> Result<()> {
        let q = self.projection_index(projection)?;
        self.copy(copy)?;
        let p = &self.plans.net.projections[q];
        let el = format!("projection `{projection}`");
        p.check_weights(w, self.copies[copy].projs[q].w.len())?;
        if let Strategy::TotalMinusSelf { w: w0 } = self.plans.projs[q].plan(0).strategy {
            if w.iter().any(|&x| x != w0) {
                return Err(SnnError::Unsupported(format!(
                    "{el}: all-but-self with one constant weight keeps it; declare it with \
                     array weights to change single synapses"
                )));
            }
        }
        self.copies[copy].projs[q].w.copy_from_slice(w);
        self.copies[copy].queues_fresh = false;
        Ok(())
    }

    /// `(pre, post)` of every synapse of `projection`, in synapse order.
    ///
    /// # Errors
    /// [`SnnError::UnknownName`].
    pub fn synapses(&self, projection: &str) -> Result<Vec<(u32, u32)>> {
        let q = self.projection_index(projection)?;
        Ok(self.plans.projs[q].plan(0).syn.pairs())
    }

    /// Scales the weights reaching each post neuron of `projection`, in every copy, so that
    /// they sum to `target_sum` (a post neuron whose sum is 0 is left alone). The sums run
    /// in f32 in blocks of [`NORM_BLOCK`] synapses, in synapse order (by ascending pre), as
    /// the GPU engine sums; the bounds are not applied (as in Diehl & Cook).
    ///
    /// # Errors
    /// [`SnnError::UnknownName`]; [`SnnError::InvalidParam`] for a target that is not finite
    /// and > 0; [`SnnError::Unsupported`] for an all-but-self projection of one weight.
    pub fn normalize_columns(&mut self, projection: &str, target_sum: f32) -> Result<()> {
        let q = self.plans.net.normalize_target(projection, target_sum)?;
        // Normalisation reads the structure only, the same in every copy's plan.
        let plan = self.plans.projs[q].plan(0);
        if let Strategy::TotalMinusSelf { .. } = plan.strategy {
            return Err(SnnError::Unsupported(format!(
                "projection `{projection}`: all-but-self with one constant weight cannot be \
                 normalised; declare it with array weights"
            )));
        }
        let (post, n_pre) = (&plan.syn.post, plan.syn.n_pre as usize);
        let n_post = plan.syn.n_post as usize;
        let dense = matches!(plan.strategy, Strategy::Dense);
        let plans = &self.plans;
        let par = plans.n_chunks > 1 && self.copies.len() < rayon::current_num_threads();
        for c in &mut self.copies {
            c.queues_fresh = false;
            let w = Shared::new(&mut c.projs[q].w);
            // Chunk by chunk of post neurons; each column sums in synapse order, i.e. by
            // ascending pre, in blocks of NORM_BLOCK synapses (`block` holds the open
            // block's sum, `seen` the synapses met), and all-to-all does it row by row
            // (synapse `j·n + i`), which vectorises.
            let scale = |c: usize| {
                let ch = plans.chunk_of(c, n_post);
                let mut sums = vec![0f32; ch.hi - ch.lo];
                let mut block = vec![0f32; ch.hi - ch.lo];
                let add = |sums: &mut [f32], block: &mut [f32]| {
                    sums.iter_mut().zip(&mut *block).for_each(|(s, b)| {
                        *s += *b;
                        *b = 0.0;
                    });
                };
                // SAFETY (every access to `w`): a synapse onto a post neuron of this chunk,
                // which no other chunk touches.
                if dense {
                    for j in 0..n_pre {
                        let row = unsafe { w.slice(j * n_post + ch.lo..j * n_post + ch.hi) };
                        block.iter_mut().zip(&*row).for_each(|(s, &x)| *s += x);
                        if (j + 1).is_multiple_of(NORM_BLOCK) || j + 1 == n_pre {
                            add(&mut sums, &mut block);
                        }
                    }
                } else {
                    let mut seen = vec![0usize; ch.hi - ch.lo];
                    for j in 0..n_pre {
                        for k in plan.row_in(j, ch) {
                            let i = post[k] as usize - ch.lo;
                            block[i] += unsafe { w.get(k) };
                            seen[i] += 1;
                            if seen[i].is_multiple_of(NORM_BLOCK) {
                                sums[i] += block[i];
                                block[i] = 0.0;
                            }
                        }
                    }
                    for (i, &m) in seen.iter().enumerate() {
                        if !m.is_multiple_of(NORM_BLOCK) {
                            sums[i] += block[i];
                        }
                    }
                }
                let f: Vec<f32> = sums
                    .iter()
                    .map(|&s| if s > 0.0 { target_sum / s } else { 1.0 })
                    .collect();
                for j in 0..n_pre {
                    match dense {
                        true => {
                            let row = unsafe { w.slice(j * n_post + ch.lo..j * n_post + ch.hi) };
                            row.iter_mut().zip(&f).for_each(|(x, &f)| *x *= f);
                        }
                        false => {
                            for k in plan.row_in(j, ch) {
                                let x = unsafe { w.get(k) } * f[post[k] as usize - ch.lo];
                                unsafe { w.set(k, x) };
                            }
                        }
                    }
                }
            };
            match par {
                true => (0..plans.n_chunks).into_par_iter().for_each(scale),
                false => (0..plans.n_chunks).for_each(scale),
            }
        }
        Ok(())
    }

    /// The values of state variable `variable` of every neuron of `population` in `copy`.
    ///
    /// # Errors
    /// [`SnnError::UnknownName`] for an unknown population or variable,
    /// [`SnnError::InvalidNetwork`] for a source, [`SnnError::InvalidParam`] for a bad copy.
    pub fn state(&self, population: &str, variable: &str, copy: usize) -> Result<Vec<f32>> {
        let (p, m, var) = self.plans.net.state_target(population, variable)?;
        Ok(self.copy(copy)?.neurons[p].var(var, &m.kind).to_vec())
    }

    /// Sets state variable `variable` of every neuron of `population` in `copy` (one value
    /// per neuron), e.g. random initial conditions.
    ///
    /// # Errors
    /// As [`Self::state`], and [`SnnError::InvalidNetwork`] for a wrong length or a value
    /// that is not finite.
    pub fn set_state(
        &mut self,
        population: &str,
        variable: &str,
        copy: usize,
        values: &[f32],
    ) -> Result<()> {
        let (p, m, var) = self
            .plans
            .net
            .set_state_target(population, variable, values)?;
        self.copy(copy)?;
        self.copies[copy].neurons[p]
            .var_mut(var, &m.kind)
            .copy_from_slice(values);
        Ok(())
    }

    /// What monitor `monitor` has recorded in `copy` since construction.
    ///
    /// # Errors
    /// [`SnnError::UnknownName`] or [`SnnError::InvalidParam`] for a bad copy.
    pub fn recording(&self, monitor: &str, copy: usize) -> Result<&Recording> {
        let m = self.plans.net.monitor_index(monitor)?;
        Ok(&self.copy(copy)?.records[m])
    }

    /// The population rate (Hz) per step of rate monitor `monitor` in `copy`:
    /// `count / (n · dt)`.
    ///
    /// # Errors
    /// As [`Self::recording`]; [`SnnError::InvalidParam`] if it is not a rate monitor.
    pub fn rate_hz(&self, monitor: &str, copy: usize) -> Result<Vec<f32>> {
        let Recording::Rate(counts) = self.recording(monitor, copy)? else {
            return Err(SnnError::invalid("monitor", monitor, "a rate monitor"));
        };
        Ok(self
            .plans
            .net
            .rate_hz_of(self.plans.net.monitor_index(monitor)?, counts))
    }

    /// Empties every recording (the clock keeps running).
    pub fn clear_recordings(&mut self) {
        for c in &mut self.copies {
            c.records.iter_mut().for_each(clear_recording);
        }
    }
}

fn clear_recording(r: &mut Recording) {
    match r {
        Recording::Spikes(v) => v.clear(),
        Recording::State { values, .. } => values.clear(),
        Recording::Rate(v) => v.clear(),
    }
}

/// A per-arrival-entry array (`Plan::arrival_index`) as one value per synapse; empty stays
/// empty.
fn per_synapse<T: Copy>(plan: &Plan, entries: &[T]) -> Vec<T> {
    if entries.is_empty() {
        return vec![];
    }
    (0..plan.syn.len())
        .map(|k| entries[plan.arrival_index(k)])
        .collect()
}

/// The Poisson thresholds `(neuron, thr)` of the neurons that can spike, ascending.
fn thresholds(rates_hz: &[f32], dt_ms: f32) -> Vec<(u32, u32)> {
    rates_hz
        .iter()
        .enumerate()
        .map(|(i, &r)| {
            let thr = probability_threshold(r as f64 * dt_ms as f64 / 1000.0);
            (i as u32, thr)
        })
        .filter(|&(_, thr)| thr != 0)
        .collect()
}

crate::backend::impl_simulator!(Engine, |_| "cpu".to_string(), first_non_finite_weight);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::engine::propagate::Chunk;
    use crate::model::net::{Connectivity, Projection, Weights};
    use crate::model::{NeuronModel, StdpParams, Target};

    fn strategy_of(p: Projection) -> Strategy {
        let net = Network::new(1.0)
            .poisson("a", 4, 10.0)
            .neurons("b", 4, NeuronModel::integrate_and_fire(1.0, 0.0))
            .project(p);
        let e = Engine::new(&net).expect("valid");
        e.plans.projs[0].plan(0).strategy.clone()
    }

    #[test]
    fn each_projection_kind_gets_its_strategy() {
        let p = |c| Projection::new("p", "a", "b", Target::MEMBRANE_EXC, c, 0.5);
        assert!(matches!(
            strategy_of(p(Connectivity::AllToAll)),
            Strategy::Dense
        ));
        assert!(matches!(
            strategy_of(p(Connectivity::OneToOne)),
            Strategy::OneToOne
        ));
        assert!(matches!(
            strategy_of(p(Connectivity::AllButSelf)),
            Strategy::TotalMinusSelf { w } if w == 0.5
        ));
        // Plastic or per-synapse weights: the synapses must exist one by one.
        let plastic = p(Connectivity::AllButSelf)
            .with_weights(Weights::Constant(0.5), 0.0, 1.0)
            .with_stdp(StdpParams::diehl_cook());
        assert!(matches!(strategy_of(plastic), Strategy::Sparse));
        let fp = Connectivity::FixedProbability { p: 0.5, seed: 1 };
        assert!(matches!(strategy_of(p(fp)), Strategy::Sparse));
    }

    /// Arrivals walk lag by lag, then pre by pre: with per-synapse delays each synapse shows
    /// up exactly once, at its delay.
    #[test]
    fn arrivals_visit_each_synapse_once_at_its_delay() {
        let p = Projection::new(
            "p",
            "a",
            "b",
            Target::MEMBRANE_EXC,
            Connectivity::AllToAll,
            1.0,
        )
        .with_delay(
            crate::model::net::Delay::Array(vec![0.0, 1.0, 2.0, 2.0]),
            Delivery::AtArrival,
        );
        let syn = p.synapses(2, 2, 1.0);
        let slots = syn.max_delay() + 1;
        let plan = Plan::new(Strategy::Dense, syn, false, slots);
        assert_eq!(plan.slots, 3);
        // Both pre spike at step 0 (slot 0); nothing after.
        let mut hist = vec![vec![0, 1], vec![], vec![]];
        let mut seen = vec![];
        for t in 0..3u32 {
            if t > 0 {
                hist[(t % 3) as usize].clear();
            }
            let whole = Chunk { c: 0, lo: 0, hi: 2 };
            plan.for_arrivals(&hist, t, whole, |k, i| seen.push((t, k, i)));
        }
        assert_eq!(seen, vec![(0, 0, 0), (1, 1, 1), (2, 2, 0), (2, 3, 1)]);
    }

    /// The depression queue keeps delays as bytes: a plastic all-to-all projection whose
    /// delays all fit takes it, one with a delay of 256 steps or more walks every arrival
    /// (the same bits, tested in `tests/engine/depression_queue.rs`).
    #[test]
    fn the_queue_takes_delays_under_256_steps_only() {
        let queueable = |longest_ms: f32| {
            let p = Projection::new("p", "a", "b", Target::Ge, Connectivity::AllToAll, 0.5)
                .with_weights(Weights::Constant(0.5), 0.0, 1.0)
                .with_stdp(StdpParams::diehl_cook())
                .with_delay(
                    crate::model::net::Delay::Array(vec![0.0, 1.0, 2.0, longest_ms]),
                    Delivery::AtEmission,
                );
            let net = Network::new(0.5)
                .poisson("a", 2, 10.0)
                .neurons("b", 2, NeuronModel::diehl_cook_excitatory())
                .project(p);
            let e = Engine::new(&net).expect("valid");
            let pp = &e.plans.projs[0];
            pp.dense(0).map(|d| d.delays.to_vec())
        };
        // dt = 0.5 ms: 127.5 ms is 255 steps.
        assert_eq!(queueable(127.5), Some(vec![0, 2, 4, 255]));
        assert_eq!(queueable(128.0), None);
    }
}
