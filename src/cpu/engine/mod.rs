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

pub mod depression;
mod neurons;
pub mod propagate;
mod team;

pub use crate::backend::Trial;
use crate::cpu::neuron::NeuronState;
use crate::cpu::simd::SimdLevel;
use crate::cpu::stdp::{on_post, on_pre_depression};
use crate::encode::rng::{probability_threshold, rng_u32};
use crate::error::{Result, SnnError};
use crate::model::net::projection::{DelaySteps, Synapses};
use crate::model::net::state::{
    CopyState as CopyData, NetworkState, PopulationState, ProjectionState,
};
pub use crate::model::net::Recording;
use crate::model::net::{
    check_rates, invalid, Connectivity, Delivery, MonitorKind, Network, PopulationKind, Weights,
    NORM_BLOCK, STREAM_KEY,
};
use crate::model::stdp::decay_table;
use crate::model::stdp::DerivedStdp;
use crate::model::stdp::StdpConsts;
use crate::model::{DerivedNeuron, NeuronKind, Sign, StdpRule, Target};
use depression::{Dense, DepressionQueue};
use neurons::{split, NeuronArrays, NeuronChunk};
use propagate::{Chunk, Plan, Strategy};
use rayon::prelude::*;
use smallvec::SmallVec;
use team::Team;

/// Chunks of one step whose views live on the stack (more chunks, i.e. threads, put them on
/// the heap once per step).
const MAX_INLINE_CHUNKS: usize = 4;

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
        let dt = net.dt_ms;
        let mut pops: Vec<PopPlan> = net
            .populations
            .iter()
            .map(|p| match &p.kind {
                PopulationKind::Neurons(m) => {
                    let init_vals = m.initial_values();
                    let mut init = NeuronState {
                        v: init_vals[0],
                        theta: init_vals[1],
                        ..Default::default()
                    };
                    match &m.kind {
                        NeuronKind::Custom(c) => {
                            for (k, (_, v0)) in c.state_vars.iter().enumerate() {
                                init.custom[k] = *v0;
                            }
                        }
                        NeuronKind::CondLif(_) | NeuronKind::CurrentLif(_) => {
                            (init.ge, init.gi) = (0.0, 0.0)
                        }
                        _ => {}
                    }
                    // At rest v sits at the resting potential; IF and custom models have
                    // none, so their initial v.
                    let rest = NeuronState {
                        v: match &m.kind {
                            NeuronKind::Lif(p) => p.v_rest_mv,
                            NeuronKind::CondLif(p) => p.v_rest_mv,
                            NeuronKind::CurrentLif(p) => p.v_rest_mv,
                            NeuronKind::If | NeuronKind::Custom(_) => init.v,
                        },
                        ..init
                    };
                    PopPlan::Neurons {
                        kind: m.kind.clone(),
                        rest,
                        derived: m.derive(dt),
                        custom_params: match &m.kind {
                            NeuronKind::Custom(c) => c.params.iter().map(|(_, v)| *v).collect(),
                            _ => vec![],
                        },
                        init,
                        fed: [false; 3],
                    }
                }
                PopulationKind::Poisson { .. } => PopPlan::Poisson,
                PopulationKind::SpikeTimes { spikes } => {
                    let mut by_step = std::collections::BTreeMap::<u32, Vec<u32>>::new();
                    for &(i, t_ms) in spikes {
                        by_step
                            .entry((t_ms / dt).round() as u32)
                            .or_default()
                            .push(i);
                    }
                    for l in by_step.values_mut() {
                        l.sort_unstable();
                        l.dedup();
                    }
                    PopPlan::SpikeTimes(by_step)
                }
            })
            .collect();
        let mut projs = vec![];
        for p in &net.projections {
            let pre = net.population_index(&p.pre)?;
            let post = net.population_index(&p.post)?;
            let (n_pre, n_post) = (net.populations[pre].size, net.populations[post].size);
            let syn = p.synapses(n_pre, n_post, dt);
            let strategy = match (&p.connectivity, &p.weights, syn.delays(0)) {
                (Connectivity::AllToAll, ..) => Strategy::Dense,
                (Connectivity::OneToOne, ..) => Strategy::OneToOne,
                (Connectivity::AllButSelf, Weights::Constant(w), DelaySteps::Uniform(_))
                    if p.stdp.is_none() =>
                {
                    Strategy::TotalMinusSelf { w: *w }
                }
                _ => Strategy::Sparse,
            };
            let stdp = p.stdp.map(|s| {
                let d = s.derive(dt);
                (
                    StdpConsts::new(&s, p.w_min, p.w_max),
                    d,
                    decay_table(d.decay_pre_per_step),
                )
            });
            let slots = syn.max_delay() + 1;
            let plastic = p.stdp.is_some();
            let plans: Vec<Plan> = match syn.delays_per_copy() {
                true => (0..net.batch())
                    .map(|c| Plan::new(strategy.clone(), syn.of_copy(c), plastic, slots))
                    .collect(),
                false => vec![Plan::new(strategy.clone(), syn, plastic, slots)],
            };
            let queue_delays: Vec<Vec<u8>> = plans
                .iter()
                .map(|plan| match plan.delays() {
                    DelaySteps::PerSynapse(d) if strategy_is_dense(&strategy) && p.depresses() => d
                        .iter()
                        .map(|&x| u8::try_from(x).ok())
                        .collect::<Option<_>>()
                        .unwrap_or_default(),
                    _ => vec![],
                })
                .collect();
            let (channel, sub) = match p.target {
                Target::Ge => (0, false),
                Target::Gi => (1, false),
                Target::Membrane { sign } => (2, sign == Sign::Inhibitory),
            };
            let first = !projs
                .iter()
                .any(|q: &ProjPlan| q.post == post && q.channel == channel);
            projs.push(ProjPlan {
                channel,
                sub,
                first,
                sole: true,
                pre,
                post,
                delivery: p.delivery,
                plans,
                stdp,
                accumulate: p.stdp.is_some_and(|s| s.rule == StdpRule::PairAllToAll),
                queue_delays,
            });
        }
        for pp in &projs {
            if let PopPlan::Neurons { fed, .. } = &mut pops[pp.post] {
                fed[pp.channel] = true;
            }
        }
        let inputs: Vec<(usize, usize)> = projs.iter().map(|q| (q.post, q.channel)).collect();
        for pp in &mut projs {
            pp.sole = inputs
                .iter()
                .filter(|&&x| x == (pp.post, pp.channel))
                .count()
                == 1;
        }
        let monitors = net
            .monitors
            .iter()
            .map(|m| {
                let pop = net.population_index(&m.population)?;
                let plan = match &m.kind {
                    MonitorKind::Spikes { neurons } => {
                        MonitorPlan::Spikes(neurons.as_ref().map(|ns| {
                            let mut mask = vec![false; net.populations[pop].size as usize];
                            for &i in ns {
                                mask[i as usize] = true;
                            }
                            mask
                        }))
                    }
                    MonitorKind::State { variable, neurons } => {
                        let PopulationKind::Neurons(model) = &net.populations[pop].kind else {
                            return Err(SnnError::Unsupported(format!(
                                "state monitor `{}` of a source",
                                m.name
                            )));
                        };
                        MonitorPlan::State {
                            var: model.var_index(variable)?,
                            neurons: neurons.clone(),
                        }
                    }
                    MonitorKind::Rate => MonitorPlan::Rate,
                };
                Ok((pop, plan))
            })
            .collect::<Result<Vec<_>>>()?;
        let plans = Plans {
            net: net.clone(),
            pops,
            projs,
            monitors,
            use_queue: true,
            simd: SimdLevel::best(),
            chunk: 1,
            n_chunks: 1,
        };
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
        let t1 = end_step(t0, steps)?;
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
        let t1 = end_step(t0, steps)?;
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

fn strategy_is_dense(s: &Strategy) -> bool {
    matches!(s, Strategy::Dense)
}

impl ProjPlan {
    /// The plan of copy `copy` (the shared one unless the copies have delays of their own).
    #[inline(always)]
    fn plan(&self, copy: usize) -> &Plan {
        &self.plans[if self.plans.len() == 1 { 0 } else { copy }]
    }

    /// What a [`DepressionQueue`] of copy `copy` reads of the projection, if it can depress
    /// through one.
    fn dense(&self, copy: usize) -> Option<Dense<'_>> {
        let i = if self.plans.len() == 1 { 0 } else { copy };
        (!self.queue_delays[i].is_empty()).then(|| Dense {
            n: self.plans[i].syn.n_post as usize,
            delays: &self.queue_delays[i],
            slots: self.plans[i].slots,
        })
    }

    /// The synapses with every copy's delays (as `Projection::synapses` makes them).
    fn synapses(&self) -> std::borrow::Cow<'_, Synapses> {
        match &self.plans[..] {
            [one] => std::borrow::Cow::Borrowed(&one.syn),
            plans => std::borrow::Cow::Owned(Synapses {
                delays: plans.iter().map(|p| p.delays().clone()).collect(),
                ..plans[0].syn.of_copy(0)
            }),
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

/// The clock after `steps` more steps from `t0`, which stays below [`NEVER`] with room for
/// the longest delay (`t + d` in a ring).
fn end_step(t0: u32, steps: u32) -> Result<u32> {
    let last = NEVER - 1 - crate::model::net::MAX_DELAY_STEPS;
    t0.checked_add(steps).filter(|&t| t <= last).ok_or_else(|| {
        SnnError::invalid(
            "steps",
            steps,
            format!("at most {} more steps (u32 clock)", last.saturating_sub(t0)),
        )
    })
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

/// A pre trace at step `t` that was `at_last` just after the arrival at step `last`
/// (`NEVER`: no arrival yet, trace 0), decayed by the table of `e^(−dt/τ_pre)` powers.
#[inline(always)]
fn trace_now(at_last: f32, last: u32, t: u32, table: &[f32]) -> f32 {
    match last {
        NEVER => 0.0,
        l => at_last * table.get((t - l) as usize).copied().unwrap_or(0.0),
    }
}

/// Defines the methods `$name` and `$chunk`: `Plans::run_copy_body` and
/// `Plans::chunk_step` compiled with the target features `$features` (no FMA: Rust never
/// contracts `a * b + c`, so every copy gives the same bits). A chunk run by a rayon worker
/// is a call out of the compiled copy, so it calls `$chunk` to stay in it.
macro_rules! run_copy_compiled_for {
    ($name:ident, $chunk:ident, $features:literal, $doc:literal) => {
        #[doc = $doc]
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        unsafe fn $name(
            &self,
            c: &mut CopyState,
            steps: std::ops::Range<u32>,
            learn: bool,
            count: Option<usize>,
            par: bool,
        ) -> Vec<u32> {
            self.run_copy_body(c, steps, learn, count, par)
        }

        #[doc = $doc]
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        unsafe fn $chunk(&self, view: &mut ChunkView<'_>, t: u32, learn: bool) {
            self.chunk_step(view.parts(), t, learn)
        }
    };
}

impl Plans {
    /// The state of every chunk of a copy, empty.
    fn new_chunks(&self) -> Vec<ChunkState> {
        let chunk = ChunkState {
            spikes: vec![vec![]; self.pops.len()],
            queues: vec![DepressionQueue::default(); self.projs.len()],
            zeroed: vec![false; self.projs.len()],
        };
        vec![chunk; self.n_chunks]
    }

    fn new_copy(&self, seed: u32, index: usize) -> CopyState {
        let net = &self.net;
        let key = |x: usize| rng_u32(seed, STREAM_KEY, x as u32);
        let pops = &net.populations;
        let projs = net
            .projections
            .iter()
            .zip(&self.projs)
            .enumerate()
            .map(|(q, (p, pp))| {
                let plan = pp.plan(index);
                let w = p.initial_weights(&plan.syn, (index, seed), q);
                let s = plan.slots as usize;
                let n_post = pops[pp.post].size as usize;
                let plastic = pp.stdp.is_some();
                ProjCopy {
                    // Potentiation walks a weight column, one row apart per synapse.
                    w: crate::cpu::memory::huge_page_vec(&w),
                    ring: if pp.delivery == Delivery::AtEmission && s > 1 {
                        vec![0.0; s * n_post]
                    } else {
                        vec![]
                    },
                    hist: vec![vec![]; s],
                    sum: vec![0.0; n_post],
                    post1: vec![0.0; if plastic { n_post } else { 0 }],
                    post2: vec![0.0; if plastic { n_post } else { 0 }],
                    last: vec![NEVER; if plastic { plan.arrival_len() } else { 0 }],
                    pre_at_last: vec![0.0; if pp.accumulate { plan.arrival_len() } else { 0 }],
                    depression: vec![0.0; if plastic { n_post } else { 0 }],
                }
            })
            .collect();
        CopyState {
            neurons: self
                .pops
                .iter()
                .zip(pops)
                .map(|(pp, p)| match pp {
                    PopPlan::Neurons { init, kind, .. } => {
                        let n_custom = match kind {
                            NeuronKind::Custom(m) => m.state_vars.len(),
                            _ => 0,
                        };
                        NeuronArrays::filled(init, p.size as usize, n_custom)
                    }
                    _ => NeuronArrays::default(),
                })
                .collect(),
            spikes: vec![vec![]; pops.len()],
            // Sources take no input.
            x: pops
                .iter()
                .map(|p| {
                    let n = if p.is_neurons() { p.size as usize } else { 0 };
                    [vec![0.0; n], vec![0.0; n], vec![0.0; n]]
                })
                .collect(),
            thr: pops
                .iter()
                .map(|p| match &p.kind {
                    PopulationKind::Poisson { rates_hz } => thresholds(rates_hz, net.dt_ms),
                    _ => vec![],
                })
                .collect(),
            stream: (0..pops.len()).map(|p| (key(p), 0)).collect(),
            projs,
            chunks: self.new_chunks(),
            records: self
                .monitors
                .iter()
                .map(|(_, m)| match m {
                    MonitorPlan::Spikes(_) => Recording::Spikes(vec![]),
                    MonitorPlan::State { neurons, .. } => Recording::State {
                        neurons: neurons.clone(),
                        values: vec![],
                    },
                    MonitorPlan::Rate => Recording::Rate(vec![]),
                })
                .collect(),
            index,
            queues_fresh: false,
        }
    }

    /// Runs the steps `steps` of copy `c`; with `count`, returns the spike count of each
    /// neuron of that population over them. Runs the copy compiled for `self.simd`; `par`:
    /// the chunks of each step in parallel.
    fn run_copy(
        &self,
        c: &mut CopyState,
        steps: std::ops::Range<u32>,
        learn: bool,
        count: Option<usize>,
        par: bool,
    ) -> Vec<u32> {
        let par = par && self.n_chunks > 1;
        #[cfg(target_arch = "x86_64")]
        match self.simd {
            // SAFETY: `self.simd` is `SimdLevel::best()` or a level `Engine::set_simd`
            // checked with `available()`, so the processor has every feature of the copy.
            SimdLevel::Avx512 => {
                return unsafe { self.run_copy_avx512(c, steps, learn, count, par) }
            }
            SimdLevel::Avx2 => return unsafe { self.run_copy_avx2(c, steps, learn, count, par) },
            SimdLevel::Baseline => {}
        }
        self.run_copy_body(c, steps, learn, count, par)
    }

    /// [`Self::run_copy`] in the baseline copy; the others are this body compiled with more
    /// target features (`run_copy_compiled_for!`).
    #[inline(always)]
    fn run_copy_body(
        &self,
        c: &mut CopyState,
        steps: std::ops::Range<u32>,
        learn: bool,
        count: Option<usize>,
        par: bool,
    ) -> Vec<u32> {
        let mut counts = vec![0u32; count.map_or(0, |p| self.net.populations[p].size as usize)];
        if learn && self.use_queue && !c.queues_fresh {
            let start = steps.start;
            let (projs, copy) = (&c.projs, c.index);
            let rebuild = |(ci, ch): (usize, &mut ChunkState)| {
                for ((pp, pc), q) in self.projs.iter().zip(projs).zip(&mut ch.queues) {
                    if let (Some((sc, _, _)), Some(dense)) = (&pp.stdp, pp.dense(copy)) {
                        let consts = (sc.w_min, sc.w_max, sc.nu_pre);
                        let r = self.chunk_of(ci, dense.n);
                        let post1 = (r.lo, &pc.post1[r.lo..r.hi]);
                        q.rebuild(&dense, consts, &pc.w, &pc.hist, post1, start);
                    }
                }
            };
            match par {
                true => c.chunks.par_iter_mut().enumerate().for_each(rebuild),
                false => c.chunks.iter_mut().enumerate().for_each(rebuild),
            }
        }
        c.queues_fresh = learn && self.use_queue;
        match par {
            // A method, not a closure: a closure is a function of its own, compiled without
            // the target features of the copy that calls it, so the steps would run in the
            // baseline copy.
            false => self.run_steps(c, steps, learn, count, None, &mut counts),
            // A team for this run: member `k` runs chunk `k` of every step.
            true => {
                let team = Team::new(self.n_chunks - 1);
                let work = |k: usize, views: *mut u8, t: u32, learn: bool| {
                    // SAFETY: `views` is the base of the step's `n_chunks` views, alive
                    // until every member is done (`Team::wait`); member `k` alone touches
                    // view `k`, and the views share no element (`chunk_views`).
                    let view = unsafe { &mut *(views as *mut ChunkView<'_>).add(k) };
                    self.chunk_step_compiled(view, t, learn);
                };
                let (team, work) = (&team, &work);
                std::thread::scope(|s| {
                    for k in 1..self.n_chunks {
                        s.spawn(move || team.serve(k, work));
                    }
                    let _stop = team.stop_on_drop();
                    self.run_steps(c, steps, learn, count, Some(team), &mut counts);
                })
            }
        }
        counts
    }

    /// Runs `steps` of copy `c`, adding the spikes of population `count` into `counts`;
    /// with `team`, the team runs the chunks beyond the first.
    #[inline(always)]
    fn run_steps(
        &self,
        c: &mut CopyState,
        steps: std::ops::Range<u32>,
        learn: bool,
        count: Option<usize>,
        team: Option<&Team>,
        counts: &mut [u32],
    ) {
        for t in steps {
            self.step(c, t, learn, team);
            if let Some(p) = count {
                for &i in &c.spikes[p] {
                    counts[i as usize] += 1;
                }
            }
        }
    }

    /// Copy `c` at rest (see [`Engine::rest`]).
    fn rest(&self, c: &mut CopyState) {
        c.queues_fresh = false;
        for (pp, ns) in self.pops.iter().zip(&mut c.neurons) {
            if let PopPlan::Neurons { rest, .. } = pp {
                ns.rest(rest);
            }
        }
        c.spikes.iter_mut().for_each(Vec::clear);
        for pc in &mut c.projs {
            pc.ring.fill(0.0);
            pc.hist.iter_mut().for_each(Vec::clear);
            pc.post1.fill(0.0);
            pc.post2.fill(0.0);
            pc.last.fill(NEVER);
            pc.pre_at_last.fill(0.0);
        }
    }

    /// The first NaN or infinite neuron variable of copy `c` at step `clock`, as
    /// [`SnnError::NonFinite`] with the population named by `name`.
    fn check_finite(&self, c: &CopyState, clock: u32, name: impl Fn(&str) -> String) -> Result<()> {
        for (p, ns) in c.neurons.iter().enumerate() {
            if let Some((var, i)) = ns.first_nonfinite() {
                return Err(SnnError::NonFinite {
                    population: name(&self.net.populations[p].name),
                    variable: var.into(),
                    neuron: i,
                    step: clock as u64,
                });
            }
        }
        Ok(())
    }

    run_copy_compiled_for!(
        run_copy_avx512,
        chunk_step_avx512,
        "avx512f,avx512bw,avx512cd,avx512dq,avx512vl,avx2,bmi1,bmi2,lzcnt,popcnt",
        "[`Self::run_copy_body`] or [`Self::chunk_step`] compiled with AVX-512 (x86-64-v4 without FMA)."
    );
    run_copy_compiled_for!(
        run_copy_avx2,
        chunk_step_avx2,
        "avx2,bmi1,bmi2,lzcnt,popcnt",
        "[`Self::run_copy_body`] or [`Self::chunk_step`] compiled with AVX2 (x86-64-v3 without FMA)."
    );

    /// The neurons per chunk of a population of `n` neurons.
    #[inline(always)]
    fn chunk_size(&self, n: usize) -> usize {
        match (self.n_chunks, self.chunk) {
            (1, _) => n.max(1),
            (k, 0) => n.div_ceil(k).next_multiple_of(16).max(16),
            (_, size) => size,
        }
    }

    /// The post neurons of chunk `c` in a population of `n` neurons.
    #[inline(always)]
    fn chunk_of(&self, c: usize, n: usize) -> Chunk {
        let size = self.chunk_size(n);
        Chunk {
            c,
            lo: (c * size).min(n),
            hi: ((c + 1) * size).min(n),
        }
    }

    /// One step `t` of copy `c`, in the order of the module docs: the pre side (sources
    /// emit, spike histories, the last arrivals of buckets) here, then every post-side
    /// stage chunk by chunk ([`Self::chunk_step`]; in parallel with `par`), then the chunks'
    /// spikes joined in chunk order and the monitors.
    #[inline(always)]
    fn step(&self, c: &mut CopyState, t: u32, learn: bool, team: Option<&Team>) {
        // 1. sources emit.
        for (p, pp) in self.pops.iter().enumerate() {
            match pp {
                PopPlan::Neurons { .. } => {}
                PopPlan::Poisson => {
                    let (list, thr, (key, origin)) = (&mut c.spikes[p], &c.thr[p], c.stream[p]);
                    let t_stream = t.wrapping_sub(origin);
                    list.clear();
                    for &(i, th) in thr {
                        if rng_u32(key, t_stream, i) < th {
                            list.push(i);
                        }
                    }
                }
                PopPlan::SpikeTimes(by_step) => {
                    c.spikes[p].clear();
                    if let Some(l) = by_step.get(&t) {
                        c.spikes[p].extend_from_slice(l);
                    }
                }
            }
        }
        // The pre population's current spike list goes into each projection's ring of
        // spike lists at slot `t mod S`; the chunks read the spikes there only.
        for (pp, pc) in self.projs.iter().zip(&mut c.projs) {
            let plan = pp.plan(c.index);
            let s = plan.slots;
            let slot = (t % s) as usize;
            pc.hist[slot].clear();
            pc.hist[slot].extend_from_slice(&c.spikes[pp.pre]);
            // With buckets, a last arrival is per pre neuron and delay, so it is kept here:
            // every bucket that arrives now records `t` (with all-to-all pairing its trace
            // also adds 1 to what is left of it). Only potentiation reads it.
            // The spikes of lag L are in slot (t − L) mod S, counted down without a division.
            if let (Some((_, _, table)), true, Some(_)) = (&pp.stdp, learn, &plan.buckets) {
                let (hist, last, pre_at_last) = (&pc.hist, &mut pc.last, &mut pc.pre_at_last);
                let mut h = slot;
                for lag in 0..s {
                    for &j in &hist[h] {
                        let a = (j * s + lag) as usize;
                        if pp.accumulate {
                            pre_at_last[a] = trace_now(pre_at_last[a], last[a], t, table) + 1.0;
                        }
                        last[a] = t;
                    }
                    h = if h == 0 { s as usize - 1 } else { h - 1 };
                }
            }
        }
        // 2–5, chunk by chunk.
        match team {
            // One chunk: its populations and projections as small vectors built where they
            // live (a view struct moved every step cost a copy of about 1.3 kB; the step is
            // a few microseconds).
            None if self.n_chunks == 1 => {
                let CopyState {
                    neurons,
                    x,
                    projs,
                    chunks,
                    index,
                    ..
                } = c;
                let mut pops = SmallVec::<[PopView<'_>; 4]>::new();
                for (ns, [ge, gi, v]) in neurons.iter_mut().zip(x.iter_mut()) {
                    pops.push(PopView {
                        neurons: ns.whole(),
                        x: [ge, gi, v],
                    });
                }
                let mut views = SmallVec::<[ProjView<'_>; 4]>::new();
                for (pp, pc) in self.projs.iter().zip(projs.iter_mut()) {
                    views.push(ProjView {
                        plan: pp.plan(*index),
                        dense: pp.dense(*index),
                        sum: &mut pc.sum,
                        post1: &mut pc.post1,
                        post2: &mut pc.post2,
                        depression: &mut pc.depression,
                        w: Shared::new(&mut pc.w),
                        ring: Shared::new(&mut pc.ring),
                        last: Shared::new(&mut pc.last),
                        pre_at_last: Shared::new(&mut pc.pre_at_last),
                        hist: &pc.hist,
                    });
                }
                self.chunk_step((0, &mut pops, &mut views, &mut chunks[0]), t, learn)
            }
            Some(team) => {
                let mut views = self.chunk_views(c);
                let base = views.as_mut_ptr();
                team.start(base as *mut u8, t, learn);
                // SAFETY: chunk 0 is the caller's; the members touch views 1.. only. The
                // caller runs inside the team's scope (a closure, compiled without the
                // copy's target features), so it enters the compiled copy as a member does.
                self.chunk_step_compiled(unsafe { &mut *base }, t, learn);
                team.wait();
            }
            // A plain loop: the chunks stay inlined in this compiled copy.
            None => {
                for v in &mut self.chunk_views(c) {
                    self.chunk_step(v.parts(), t, learn);
                }
            }
        }
        for (p, pp) in self.pops.iter().enumerate() {
            if let PopPlan::Neurons { .. } = pp {
                let list = &mut c.spikes[p];
                match &mut c.chunks[..] {
                    [one] => std::mem::swap(list, &mut one.spikes[p]),
                    chunks => {
                        list.clear();
                        for ch in chunks {
                            list.extend_from_slice(&ch.spikes[p]);
                        }
                    }
                }
            }
        }
        // 6. monitors.
        for ((p, m), r) in self.monitors.iter().zip(&mut c.records) {
            match (m, r) {
                (MonitorPlan::Spikes(mask), Recording::Spikes(out)) => out.extend(
                    c.spikes[*p]
                        .iter()
                        .filter(|&&i| mask.as_ref().is_none_or(|m| m[i as usize]))
                        .map(|&i| (t, i)),
                ),
                (MonitorPlan::State { var, neurons }, Recording::State { values, .. }) => {
                    if let PopPlan::Neurons { kind, .. } = &self.pops[*p] {
                        let a = c.neurons[*p].var(*var, kind);
                        values.extend(neurons.iter().map(|&i| a[i as usize]));
                    }
                }
                (MonitorPlan::Rate, Recording::Rate(out)) => out.push(c.spikes[*p].len() as u32),
                _ => {}
            }
        }
    }

    /// [`Self::chunk_step`] in the compiled copy of `self.simd` (a rayon worker's call).
    fn chunk_step_compiled(&self, view: &mut ChunkView<'_>, t: u32, learn: bool) {
        #[cfg(target_arch = "x86_64")]
        match self.simd {
            // SAFETY: as in `run_copy`.
            SimdLevel::Avx512 => return unsafe { self.chunk_step_avx512(view, t, learn) },
            SimdLevel::Avx2 => return unsafe { self.chunk_step_avx2(view, t, learn) },
            SimdLevel::Baseline => {}
        }
        self.chunk_step(view.parts(), t, learn)
    }

    /// Copy `c` cut into the views of its chunks ([`ChunkView`]).
    #[inline(always)]
    fn chunk_views<'a>(
        &'a self,
        c: &'a mut CopyState,
    ) -> SmallVec<[ChunkView<'a>; MAX_INLINE_CHUNKS]> {
        let n = self.n_chunks;
        let CopyState {
            neurons,
            x,
            projs,
            chunks,
            index,
            ..
        } = c;
        let mut views: SmallVec<[ChunkView<'a>; MAX_INLINE_CHUNKS]> = chunks
            .iter_mut()
            .enumerate()
            .map(|(c, state)| ChunkView {
                c,
                pops: SmallVec::new(),
                projs: SmallVec::new(),
                state,
            })
            .collect();
        for (ns, [ge, gi, v]) in neurons.iter_mut().zip(x.iter_mut()) {
            let size = self.chunk_size(ge.len());
            let parts = ns
                .chunks(size, n)
                .zip(split(ge, size, n))
                .zip(split(gi, size, n))
                .zip(split(v, size, n));
            for (view, (((ns, ge), gi), v)) in views.iter_mut().zip(parts) {
                view.pops.push(PopView {
                    neurons: ns,
                    x: [ge, gi, v],
                });
            }
        }
        for (pp, pc) in self.projs.iter().zip(projs.iter_mut()) {
            let (plan, dense) = (pp.plan(*index), pp.dense(*index));
            let ProjCopy {
                w,
                ring,
                hist,
                sum,
                post1,
                post2,
                last,
                pre_at_last,
                depression,
            } = pc;
            let (w, ring) = (Shared::new(w), Shared::new(ring));
            let (last, pre_at_last) = (Shared::new(last), Shared::new(pre_at_last));
            let hist: &'a [Vec<u32>] = hist;
            let size = self.chunk_size(sum.len());
            let parts = split(sum, size, n)
                .zip(split(post1, size, n))
                .zip(split(post2, size, n))
                .zip(split(depression, size, n));
            for (view, (((sum, post1), post2), depression)) in views.iter_mut().zip(parts) {
                view.projs.push(ProjView {
                    plan,
                    dense,
                    sum,
                    post1,
                    post2,
                    depression,
                    w,
                    ring,
                    last,
                    pre_at_last,
                    hist,
                });
            }
        }
        views
    }

    /// Steps 2–5 of the module docs for the post neurons of one chunk: every float sum of
    /// a post neuron takes its terms in the order the whole step does.
    #[inline(always)]
    fn chunk_step(&self, (c, pops, projs, state): ChunkParts<'_, '_>, t: u32, learn: bool) {
        let ChunkState {
            spikes,
            queues,
            zeroed,
        } = state;
        // 2. post traces decay; with depression, `ν_pre · post1` of each post neuron
        // (`on_pre_depression`: the bits of `on_pre`) in the same pass, for step 3.
        if learn {
            for (pp, pv) in self.projs.iter().zip(projs.iter_mut()) {
                if let Some((sc, d, _)) = &pp.stdp {
                    let decay = d.decay_post1_per_step;
                    match sc.rule != 2 {
                        true => pv.post1.iter_mut().zip(pv.depression.iter_mut()).for_each(
                            |(x, dep)| {
                                *x *= decay;
                                *dep = sc.nu_pre * *x;
                            },
                        ),
                        false => pv.post1.iter_mut().for_each(|x| *x *= decay),
                    }
                    pv.post2
                        .iter_mut()
                        .for_each(|x| *x *= d.decay_post2_per_step);
                }
            }
        }
        // 3. propagate. Each input of a population starts at 0.0 and takes its projections
        // in declaration order; the first writes it whole (an input no projection feeds
        // stays 0.0).
        for (((pp, pv), queue), zeroed) in self
            .projs
            .iter()
            .zip(projs.iter_mut())
            .zip(queues.iter_mut())
            .zip(zeroed.iter_mut())
        {
            let (plan, dense) = (pv.plan, pv.dense);
            let s = plan.slots;
            let slot = (t % s) as usize;
            let n_post = plan.syn.n_post as usize;
            let ch = self.chunk_of(c, n_post);
            let lo = ch.lo;
            let ProjView {
                sum: own_sum,
                depression,
                w,
                ring,
                last,
                pre_at_last,
                hist,
                ..
            } = pv;
            let (w, ring, hist) = (*w, *ring, *hist);
            // The first projection into an input that adds writes its sum there itself.
            let direct = pp.first && !pp.sub;
            // What it writes stays until its next step: its own sum, or an input that no
            // other projection adds to.
            let keeps = !direct || pp.sole;
            let sum: &mut [f32] = match direct {
                true => &mut *pops[pp.post].x[pp.channel],
                false => own_sum,
            };
            // SAFETY (every `Shared` access below): the index is a synapse onto, or a ring
            // cell of, a post neuron of this chunk, which no other chunk touches.
            match (&plan.strategy, pp.delivery) {
                (Strategy::TotalMinusSelf { w }, _) => {
                    let d = plan.delays().of(0);
                    let arriving = &hist[((t % s + s - d) % s) as usize];
                    let count = arriving.len() as u32;
                    // `0.0 +`: the value an input that starts at 0.0 takes (never −0.0).
                    if !(count == 0 && *zeroed && keeps) {
                        sum.fill(0.0 + *w * count as f32);
                    }
                    *zeroed = count == 0;
                    for &j in arriving {
                        if (ch.lo..ch.hi).contains(&(j as usize)) {
                            sum[j as usize - lo] = 0.0 + *w * (count - 1) as f32;
                        }
                    }
                }
                (Strategy::Dense, Delivery::AtEmission) if s == 1 => {
                    // No delay: the ring's one slot would be filled and emptied within this
                    // step; the same additions in the same order go straight into the sum.
                    if !(hist[slot].is_empty() && *zeroed && keeps) {
                        sum.fill(0.0);
                    }
                    *zeroed = hist[slot].is_empty();
                    for &j in &hist[slot] {
                        let row = unsafe {
                            w.slice(j as usize * n_post + lo..j as usize * n_post + ch.hi)
                        };
                        sum.iter_mut().zip(&*row).for_each(|(a, &b)| *a += b);
                    }
                }
                (_, Delivery::AtEmission) if s == 1 => {
                    if !(hist[slot].is_empty() && *zeroed && keeps) {
                        sum.fill(0.0);
                    }
                    *zeroed = hist[slot].is_empty();
                    let spikes = &hist[slot];
                    // The rows of the spikes PREFETCH_AHEAD on are on their way from memory
                    // while this one is walked.
                    for (q, &j) in spikes.iter().enumerate() {
                        if let Some(&next) = spikes.get(q + PREFETCH_AHEAD) {
                            plan.prefetch_row(next, ch, w.ptr);
                        }
                        plan.for_row(j, ch, |k, i| sum[i - lo] += unsafe { w.get(k) });
                    }
                }
                (_, Delivery::AtEmission) => {
                    // Ring row `r` of this chunk.
                    let row_of =
                        |r: usize| unsafe { ring.slice(r * n_post + lo..r * n_post + ch.hi) };
                    for &j in &hist[slot] {
                        match plan.delays() {
                            DelaySteps::Uniform(d) => {
                                let row = row_of(((t + d) % s) as usize);
                                plan.for_row(j, ch, |k, i| row[i - lo] += unsafe { w.get(k) });
                            }
                            DelaySteps::PerSynapse(d) => match &plan.buckets {
                                // Bucket by bucket, so each write goes to one ring row; every
                                // cell still sums by emission step, then ascending pre.
                                // All-to-all: synapse `j·n + i`, so the weights of `j`
                                // are one row indexed by post neuron (`scatter_row`).
                                Some(b) if matches!(plan.strategy, Strategy::Dense) => {
                                    let w_row = unsafe { w.row(j as usize * n_post, n_post) };
                                    let (j, s) = (j as usize, s as usize);
                                    let mut r = t as usize % s;
                                    let mut next = || {
                                        let dst = unsafe { ring.row(r * n_post, n_post) };
                                        r = if r + 1 == s { 0 } else { r + 1 };
                                        dst
                                    };
                                    match b.of_pre(j, s) {
                                        Some((ends, post)) => {
                                            for e in ends.windows(2) {
                                                let post = &post[e[0] as usize..e[1] as usize];
                                                scatter_row(next(), w_row, post, ch);
                                            }
                                        }
                                        None => {
                                            for lag in 0..s {
                                                let (_, post) = b.get(j * s + lag, ch);
                                                scatter_row(next(), w_row, post, ch);
                                            }
                                        }
                                    }
                                }
                                Some(b) => {
                                    let mut r = (t % s) as usize;
                                    for lag in 0..s as usize {
                                        let dst = unsafe { ring.row(r * n_post, n_post) };
                                        let (syn, post) = b.get(j as usize * s as usize + lag, ch);
                                        for (&k, &i) in syn.iter().zip(post) {
                                            debug_assert!((lo..ch.hi).contains(&(i as usize)));
                                            unsafe { *dst.add(i as usize) += w.get(k as usize) };
                                        }
                                        r = if r + 1 == s as usize { 0 } else { r + 1 };
                                    }
                                }
                                None => plan.for_row(j, ch, |k, i| {
                                    let cell = ((t + d[k]) % s) as usize * n_post + i;
                                    unsafe { ring.set(cell, ring.get(cell) + w.get(k)) }
                                }),
                            },
                        }
                    }
                    let now = row_of(slot);
                    sum.copy_from_slice(now);
                    now.fill(0.0);
                }
                (_, Delivery::AtArrival) => {
                    sum.fill(0.0);
                    plan.for_arrivals(hist, t, ch, |k, i| sum[i - lo] += unsafe { w.get(k) });
                }
            }
            if let Some((sc, _, table)) = pp.stdp.as_ref().filter(|_| learn) {
                // All-to-all with one delay `d`: the pre spikes whose rows arrive now.
                let arriving_rows = match (&plan.strategy, plan.delays()) {
                    (Strategy::Dense, DelaySteps::Uniform(d)) => {
                        Some(&hist[((t % s + s - d) % s) as usize][..])
                    }
                    _ => None,
                };
                if sc.rule != 2 {
                    // `ν_pre · post1` of each post neuron, from step 2; a synapse arrives at
                    // most once per step, so the order of the updates does not matter.
                    let dep = &**depression;
                    let depress = |k: usize, i: usize| unsafe {
                        w.set(k, on_pre_depression(w.get(k), dep[i - lo], sc))
                    };
                    match dense.filter(|_| self.use_queue) {
                        Some(dense) => {
                            queue.enqueue(&dense, dep, &hist[slot], t);
                            // The constants copied out, so the loop reads none through a
                            // pointer its weight writes might alias.
                            let sc = &{ *sc };
                            // SAFETY: the queue holds synapses onto this chunk's post
                            // neurons (`lo..`, within `dep`) only.
                            let wp = unsafe { w.row(0, w.len) };
                            for &(k, i) in queue.arriving(slot) {
                                let (k, i) = (k as usize, i as usize - lo);
                                debug_assert!(k < w.len && i < dep.len());
                                unsafe {
                                    let x = wp.add(k);
                                    *x = on_pre_depression(*x, *dep.get_unchecked(i), sc);
                                }
                            }
                            queue.clear(slot);
                        }
                        // All-to-all with one delay: the spikes emitted `d` steps ago
                        // arrive whole rows at once, depressed as vectors.
                        None => match arriving_rows {
                            Some(rows) => {
                                for &j in rows {
                                    let r = j as usize * n_post;
                                    let row = unsafe { w.slice(r + lo..r + ch.hi) };
                                    row.iter_mut()
                                        .zip(dep)
                                        .for_each(|(x, &dp)| *x = on_pre_depression(*x, dp, sc));
                                }
                            }
                            None => plan.for_arrivals(hist, t, ch, depress),
                        },
                    }
                }
                // Every synapse that arrives now records `t` as its last arrival (buckets:
                // on the pre side, in `step`); with all-to-all pairing its trace also adds
                // 1 to what is left of it.
                match (arriving_rows, plan.buckets.is_none(), pp.accumulate) {
                    (Some(rows), _, false) => {
                        for &j in rows {
                            let r = j as usize * n_post;
                            unsafe { last.slice(r + lo..r + ch.hi) }.fill(t);
                        }
                    }
                    (_, true, _) => plan.for_arrivals(hist, t, ch, |k, _| unsafe {
                        if pp.accumulate {
                            let at = trace_now(pre_at_last.get(k), last.get(k), t, table);
                            pre_at_last.set(k, at + 1.0);
                        }
                        last.set(k, t);
                    }),
                    _ => {}
                }
            }
            if !direct {
                let x = &mut *pops[pp.post].x[pp.channel];
                match (pp.first, pp.sub) {
                    // The input starts at 0.0 (`0.0 - b`: −b would give −0.0 for b = +0.0).
                    (true, true) => x
                        .iter_mut()
                        .zip(&**own_sum)
                        .for_each(|(a, &b)| *a = 0.0 - b),
                    (false, true) => x.iter_mut().zip(&**own_sum).for_each(|(a, &b)| *a -= b),
                    (_, false) => x.iter_mut().zip(&**own_sum).for_each(|(a, &b)| *a += b),
                }
            }
        }
        // 4. neuron stages.
        for ((pp, pv), list) in self.pops.iter().zip(pops.iter_mut()).zip(spikes.iter_mut()) {
            let PopPlan::Neurons {
                kind,
                derived: d,
                custom_params,
                fed,
                ..
            } = pp
            else {
                continue;
            };
            let [ge, gi, v] = &pv.x;
            pv.neurons
                .stages(kind, d, custom_params, [ge, gi, v], *fed, learn, list);
        }
        // 5. potentiation.
        if learn {
            for ((pp, pv), queue) in self
                .projs
                .iter()
                .zip(projs.iter_mut())
                .zip(queues.iter_mut())
            {
                let Some((sc, _, table)) = &pp.stdp else {
                    continue;
                };
                let plan = pv.plan;
                let lo = self.chunk_of(c, plan.syn.n_post as usize).lo;
                let (w, last, pre_at_last) = (pv.w, pv.last, pv.pre_at_last);
                for &i in &spikes[pp.post] {
                    let i = i as usize;
                    let p2b = pv.post2[i - lo];
                    let (a, b) = (plan.in_offsets[i] as usize, plan.in_offsets[i + 1] as usize);
                    for &k in &plan.in_syn[a..b] {
                        let k = k as usize;
                        let a = plan.arrival_index(k);
                        // SAFETY: synapse `k` reaches post `i` of this chunk; the last
                        // arrivals are only read here (a bucket's are shared, read-only).
                        unsafe {
                            let at_last = if pp.accumulate {
                                pre_at_last.get(a)
                            } else {
                                1.0
                            };
                            let pre = trace_now(at_last, last.get(a), t, table);
                            w.set(k, on_post(w.get(k), pre, p2b, sc));
                        }
                    }
                    if pp.accumulate {
                        pv.post1[i - lo] += 1.0;
                        pv.post2[i - lo] += 1.0;
                    } else {
                        pv.post1[i - lo] = 1.0;
                        pv.post2[i - lo] = 1.0;
                    }
                    if let Some(dense) = pv.dense.filter(|_| self.use_queue) {
                        if !queue.is_active(i) {
                            queue.join(&dense, pv.hist, i, t);
                        }
                    }
                }
            }
        }
    }
}

/// How many spikes ahead of the walk the rows of a sparse projection are prefetched.
const PREFETCH_AHEAD: usize = 4;

/// `dst[i] += w_row[i]` for the post neurons `post` of a bucket (ascending, inside chunk
/// `ch`): the hottest loop of Diehl & Cook, ring row and weight row as pointers indexed
/// without a check (a bucket's post neurons are < n_post by construction).
#[inline(always)]
fn scatter_row(dst: *mut f32, w_row: *mut f32, post: &[u32], ch: Chunk) {
    for &i in post {
        debug_assert!((ch.lo..ch.hi).contains(&(i as usize)));
        // SAFETY: `dst` and `w_row` are rows of n_post cells, and `i` < n_post.
        unsafe { *dst.add(i as usize) += *w_row.add(i as usize) };
    }
}

/// An array the chunks of a step share: weights, delay ring, last arrivals. Each chunk
/// reads and writes only the elements that belong to its own post neurons (a bucket's last
/// arrival, shared by several chunks, is only read while the chunks run).
#[derive(Clone, Copy)]
struct Shared<T> {
    ptr: *mut T,
    len: usize,
}

// SAFETY: the chunks that share it touch disjoint elements (see the type's docs).
unsafe impl<T: Send> Send for Shared<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Send> Sync for Shared<T> {}

impl<T: Copy> Shared<T> {
    fn new(a: &mut [T]) -> Self {
        Shared {
            ptr: a.as_mut_ptr(),
            len: a.len(),
        }
    }

    /// Element `k`.
    ///
    /// # Safety
    /// No other chunk writes element `k` while this one runs.
    #[inline(always)]
    unsafe fn get(self, k: usize) -> T {
        assert!(k < self.len);
        // SAFETY: in bounds (checked); see the function's contract.
        unsafe { *self.ptr.add(k) }
    }

    /// Sets element `k`.
    ///
    /// # Safety
    /// No other chunk reads or writes element `k` while this one runs.
    #[inline(always)]
    unsafe fn set(self, k: usize, x: T) {
        assert!(k < self.len);
        // SAFETY: in bounds (checked); see the function's contract.
        unsafe { *self.ptr.add(k) = x }
    }

    /// A pointer to element `start`, with `len` elements after it in the array.
    ///
    /// # Safety
    /// Through it, the caller reads and writes only elements no other chunk touches.
    #[inline(always)]
    unsafe fn row(self, start: usize, len: usize) -> *mut T {
        assert!(start <= self.len && len <= self.len - start);
        // SAFETY: in bounds (checked).
        unsafe { self.ptr.add(start) }
    }

    /// Elements `r`, to read and write.
    ///
    /// # Safety
    /// No other chunk, and no other live slice of this chunk, touches elements `r` while
    /// the slice lives.
    #[inline(always)]
    #[allow(clippy::mut_from_ref)] // The chunks' disjoint shares of one array.
    unsafe fn slice<'a>(self, r: std::ops::Range<usize>) -> &'a mut [T] {
        assert!(r.start <= r.end && r.end <= self.len);
        // SAFETY: in bounds (checked); see the function's contract.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(r.start), r.end - r.start) }
    }
}

/// What one chunk of the step reads and writes of a copy: its share of every per-neuron
/// array, its own spike lists and depression queues, and the shared arrays it touches only
/// at its own post neurons.
/// A chunk's view as [`Plans::chunk_step`] takes it: the chunk, its populations and
/// projections, its state.
type ChunkParts<'v, 'a> = (
    usize,
    &'v mut [PopView<'a>],
    &'v mut [ProjView<'a>],
    &'v mut ChunkState,
);

impl<'a> ChunkView<'a> {
    fn parts(&mut self) -> ChunkParts<'_, 'a> {
        (self.c, &mut self.pops, &mut self.projs, self.state)
    }
}

struct ChunkView<'a> {
    c: usize,
    /// Per population (sources: empty).
    pops: SmallVec<[PopView<'a>; 4]>,
    /// Per projection.
    projs: SmallVec<[ProjView<'a>; 4]>,
    state: &'a mut ChunkState,
}

struct PopView<'a> {
    neurons: NeuronChunk<'a>,
    /// Inputs `ge`, `gi`, `v`.
    x: [&'a mut [f32]; 3],
}

struct ProjView<'a> {
    /// The copy's plan of the projection, and what its depression queue reads.
    plan: &'a Plan,
    dense: Option<Dense<'a>>,
    sum: &'a mut [f32],
    post1: &'a mut [f32],
    post2: &'a mut [f32],
    depression: &'a mut [f32],
    w: Shared<f32>,
    ring: Shared<f32>,
    last: Shared<u32>,
    pre_at_last: Shared<f32>,
    hist: &'a [Vec<u32>],
}

crate::backend::impl_simulator!(Engine, |_| "cpu".to_string(), first_non_finite_weight);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::net::Projection;
    use crate::model::{NeuronModel, StdpParams};

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
