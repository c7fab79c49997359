//! A projection `pre → post`: target, connectivity, weights and their bounds, delays and
//! how they deliver, and optional STDP; and its synapses made concrete ([`Synapses`]).
//!
//! # Synapse order
//!
//! Synapses are numbered `k` by presynaptic neuron, then postsynaptic neuron, both ascending:
//! all-to-all has `k = j·n_post + i`; one-to-one `k = i`. Weight and delay arrays follow this
//! order, except for [`Connectivity::List`], whose arrays follow the list as given (the
//! engine sorts the list and its arrays together).
//!
//! # Weights and sign
//!
//! Weights are magnitudes in `[w_min, w_max]`, `w_min >= 0`; the sign comes from the
//! [`Target`] (`gi` and an inhibitory membrane target subtract; `model::synapse`).
//! Random initial weights are clipped into the bounds; a constant or an array outside them
//! is an error. STDP clips after every update.
//!
//! # Delays
//!
//! A delay of `d` steps (`round(ms / dt)`) delivers a spike `d` steps after the first charge
//! stage that follows its emission: a source's spike of step `t` (drawn before the charge)
//! reaches the charge of step `t + d`, a neuron's spike of step `t` (found after the
//! charge) that of step `t + 1 + d`. [`Delivery`] says which weight it carries when weights
//! change meanwhile (STDP or the caller).

use super::{
    copy_key, invalid, Population, PopulationKind, MAX_DELAY_STEPS, STREAM_DELAY, STREAM_WEIGHT,
};
use crate::encode::rng::{probability_threshold, rng_u32};
use crate::error::Result;
use crate::model::{NeuronKind, StdpParams, StdpRule, Target};

/// Who connects to whom.
#[derive(Debug, Clone, PartialEq)]
pub enum Connectivity {
    /// Every pre to every post.
    AllToAll,
    /// Pre `i` to post `i` (equal sizes).
    OneToOne,
    /// Pre `i` to every post `j ≠ i` (equal sizes): lateral inhibition.
    AllButSelf,
    /// Each pair independently with probability `p`, drawn from `seed`.
    FixedProbability {
        /// Connection probability in [0, 1].
        p: f64,
        /// Seed of the draws (shared by the copies).
        seed: u32,
    },
    /// Every post gets `k` distinct pre neurons, drawn from `seed`.
    FixedInDegree {
        /// In-degree, at most the pre population's size.
        k: u32,
        /// Seed of the draws (shared by the copies).
        seed: u32,
    },
    /// Explicit `(pre, post)` pairs, each at most once.
    List(Vec<(u32, u32)>),
}

/// Initial weights (magnitudes; see the module docs for sign and bounds).
#[derive(Debug, Clone, PartialEq)]
pub enum Weights {
    /// Every weight equal.
    Constant(f32),
    /// Uniform in `[low, high)`, per copy.
    Uniform {
        /// Lower end.
        low: f32,
        /// Upper end.
        high: f32,
    },
    /// Normal (Box–Muller), per copy, clipped into the bounds.
    Normal {
        /// Mean.
        mean: f32,
        /// Standard deviation.
        sd: f32,
    },
    /// One weight per synapse, in synapse order.
    Array(Vec<f32>),
    /// One weight array (synapse order) per copy: copies that drew their initial weights
    /// themselves (as Diehl & Cook networks of different seeds do). Each array is checked
    /// as [`Weights::Array`]; there must be one per copy.
    PerCopy(Vec<Vec<f32>>),
}

/// Axonal delays, rounded to whole steps.
#[derive(Debug, Clone, PartialEq)]
pub enum Delay {
    /// No delay: the first charge stage after the emission.
    None,
    /// The same delay for every synapse (ms).
    Constant(f32),
    /// Per synapse, uniform in whole steps from `round(min/dt)` to `round(max/dt)`.
    Range {
        /// Shortest delay (ms).
        min_ms: f32,
        /// Longest delay (ms).
        max_ms: f32,
        /// Seed of the draws (shared by the copies).
        seed: u32,
    },
    /// One delay (ms) per synapse, in synapse order.
    Array(Vec<f32>),
    /// One delay array (ms, synapse order) per copy: copies that differ in their delays as
    /// well as in their seeds (as Diehl & Cook networks of different seeds do). Each
    /// array is checked as [`Delay::Array`]; there must be one per copy.
    PerCopy(Vec<Vec<f32>>),
}

/// Which weight a delayed spike carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivery {
    /// The weight at emission, added to a ring of future input (Brian 1 `DelayConnection`,
    /// the Diehl & Cook code).
    #[default]
    AtEmission,
    /// The weight at arrival (Brian2 `Synapses` with `delay`).
    AtArrival,
}

/// A projection from population `pre` to population `post`.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    /// Unique name.
    pub name: String,
    /// Presynaptic population.
    pub pre: String,
    /// Postsynaptic population (neurons).
    pub post: String,
    /// Driven variable; fixes the sign.
    pub target: Target,
    /// Who connects to whom.
    pub connectivity: Connectivity,
    /// Initial weights.
    pub weights: Weights,
    /// Lower weight bound (>= 0).
    pub w_min: f32,
    /// Upper weight bound.
    pub w_max: f32,
    /// Delays.
    pub delay: Delay,
    /// Which weight a delayed spike carries.
    pub delivery: Delivery,
    /// Trace STDP on this projection, with its own trace time constants.
    pub stdp: Option<StdpParams>,
}

impl Projection {
    /// Checks weights given to an engine's `set_weights`: one per synapse (`synapses` of
    /// them), each in [w_min, w_max].
    ///
    /// # Errors
    /// [`crate::SnnError::InvalidNetwork`] naming the projection, for a wrong length or the
    /// first weight out of range.
    pub fn check_weights(&self, w: &[f32], synapses: usize) -> Result<()> {
        let el = format!("projection `{}`", self.name);
        if w.len() != synapses {
            return Err(invalid(
                &el,
                "weights",
                &format!("{} values", w.len()),
                &format!("one per synapse ({synapses})"),
            ));
        }
        match w
            .iter()
            .enumerate()
            .find(|(_, &x)| !(x >= self.w_min && x <= self.w_max))
        {
            Some((k, x)) => Err(invalid(
                &el,
                &format!("weights[{k}]"),
                x,
                &format!("in [w_min, w_max] = [{}, {}]", self.w_min, self.w_max),
            )),
            None => Ok(()),
        }
    }

    /// A fixed projection of constant weight `w` (bounds `[0, w]`), no delay, no plasticity.
    pub fn new(
        name: &str,
        pre: &str,
        post: &str,
        target: Target,
        connectivity: Connectivity,
        w: f32,
    ) -> Self {
        Projection {
            name: name.into(),
            pre: pre.into(),
            post: post.into(),
            target,
            connectivity,
            weights: Weights::Constant(w),
            w_min: 0.0,
            w_max: w,
            delay: Delay::None,
            delivery: Delivery::AtEmission,
            stdp: None,
        }
    }

    /// Sets the initial weights and the bounds `[w_min, w_max]`.
    pub fn with_weights(mut self, weights: Weights, w_min: f32, w_max: f32) -> Self {
        (self.weights, self.w_min, self.w_max) = (weights, w_min, w_max);
        self
    }

    /// Sets the delays and their delivery.
    pub fn with_delay(mut self, delay: Delay, delivery: Delivery) -> Self {
        (self.delay, self.delivery) = (delay, delivery);
        self
    }

    /// Makes the projection plastic.
    pub fn with_stdp(mut self, stdp: StdpParams) -> Self {
        self.stdp = Some(stdp);
        self
    }

    /// The number of synapses, when known without drawing (not for fixed probability).
    pub fn deterministic_count(&self, n_pre: u32, n_post: u32) -> Option<usize> {
        let (a, b) = (n_pre as usize, n_post as usize);
        match &self.connectivity {
            Connectivity::AllToAll => Some(a * b),
            Connectivity::OneToOne => Some(a),
            Connectivity::AllButSelf => Some(a * a.saturating_sub(1)),
            Connectivity::FixedProbability { .. } => None,
            Connectivity::FixedInDegree { k, .. } => Some(*k as usize * b),
            Connectivity::List(l) => Some(l.len()),
        }
    }

    pub(super) fn validate(
        &self,
        el: &str,
        pre: &Population,
        post: &Population,
        dt_ms: f32,
        copies: usize,
    ) -> Result<()> {
        let PopulationKind::Neurons(model) = &post.kind else {
            return Err(invalid(
                el,
                "post",
                &post.name,
                "a population of neurons (a source cannot receive input)",
            ));
        };
        if self.target.is_conductance()
            && !matches!(
                model.kind,
                NeuronKind::CondLif(_) | NeuronKind::CurrentLif(_)
            )
        {
            return Err(invalid(
                el,
                "target",
                &self.target,
                &format!(
                    "a membrane target: `{}` has no ge, gi (only conductance and current LIF have them)",
                    post.name
                ),
            ));
        }
        let (n_pre, n_post) = (pre.size, post.size);
        match &self.connectivity {
            Connectivity::OneToOne | Connectivity::AllButSelf if n_pre != n_post => {
                return Err(invalid(
                    el,
                    "connectivity",
                    &format!("{:?} from {n_pre} to {n_post} neurons", self.connectivity),
                    "equal population sizes",
                ));
            }
            Connectivity::FixedProbability { p, .. } if !(*p >= 0.0 && *p <= 1.0) => {
                return Err(invalid(el, "connectivity.p", p, "a probability in [0, 1]"));
            }
            Connectivity::FixedInDegree { k, .. } if *k > n_pre => {
                return Err(invalid(
                    el,
                    "connectivity.k",
                    k,
                    &format!("at most the pre population's size {n_pre}"),
                ));
            }
            Connectivity::List(l) => {
                // A strictly ascending list has no repeats: only the range check is needed.
                let sorted = l.windows(2).all(|w| w[0] < w[1]);
                let mut seen = std::collections::HashSet::new();
                for &(j, i) in l {
                    if j >= n_pre || i >= n_post {
                        return Err(invalid(
                            el,
                            "connectivity.list",
                            &format!("({j}, {i})"),
                            &format!("pairs (pre < {n_pre}, post < {n_post})"),
                        ));
                    }
                    if !sorted && !seen.insert((j, i)) {
                        return Err(invalid(
                            el,
                            "connectivity.list",
                            &format!("({j}, {i})"),
                            "each pair at most once",
                        ));
                    }
                }
            }
            _ => {}
        }
        // Synapse indices are 32-bit in both engines (row offsets, per-synapse arrays).
        let most = match &self.connectivity {
            // The expected count, with room for the draws' spread.
            Connectivity::FixedProbability { p, .. } => {
                (p * n_pre as f64 * n_post as f64 * 1.01 + 10_000.0) as u64
            }
            _ => self.deterministic_count(n_pre, n_post).unwrap_or(0) as u64,
        };
        if most > u32::MAX as u64 {
            return Err(invalid(
                el,
                "connectivity",
                &format!("{:?} from {n_pre} to {n_post} neurons (about {most} synapses)", self.connectivity),
                "at most 4,294,967,295 synapses per projection (synapse indices are 32-bit): split it into several projections",
            ));
        }
        if !(self.w_min >= 0.0 && self.w_min.is_finite()) {
            return Err(invalid(
                el,
                "w_min",
                &self.w_min,
                "a finite bound >= 0 (weights are magnitudes; an inhibitory target gives the sign)",
            ));
        }
        if !(self.w_max >= self.w_min && self.w_max.is_finite()) {
            return Err(invalid(
                el,
                "w_max",
                &self.w_max,
                &format!("finite and >= w_min ({})", self.w_min),
            ));
        }
        let in_bounds = |w: f32| w >= self.w_min && w <= self.w_max;
        let bounds = format!("in [w_min, w_max] = [{}, {}]", self.w_min, self.w_max);
        let count = self.deterministic_count(n_pre, n_post);
        let array_len = |field: &str, len: usize| -> Result<()> {
            match count {
                None => Err(invalid(
                    el,
                    field,
                    &format!("{len} values"),
                    "a connectivity with a known synapse count (not fixed probability)",
                )),
                Some(c) if c != len => Err(invalid(
                    el,
                    field,
                    &format!("{len} values"),
                    &format!("one per synapse ({c})"),
                )),
                Some(_) => Ok(()),
            }
        };
        let one_per_copy = |field: &str, arrays: usize| -> Result<()> {
            match arrays == copies {
                true => Ok(()),
                false => Err(invalid(
                    el,
                    field,
                    &format!("{arrays} arrays"),
                    &format!("one per copy ({copies})"),
                )),
            }
        };
        match &self.weights {
            Weights::Constant(w) if !in_bounds(*w) => {
                return Err(invalid(el, "weights.constant", w, &bounds));
            }
            Weights::Uniform { low, high }
                if !(low.is_finite() && high.is_finite() && low <= high) =>
            {
                return Err(invalid(
                    el,
                    "weights.uniform",
                    &format!("[{low}, {high})"),
                    "finite, low <= high",
                ));
            }
            Weights::Normal { mean, sd } if !(mean.is_finite() && *sd >= 0.0 && sd.is_finite()) => {
                return Err(invalid(
                    el,
                    "weights.normal",
                    &format!("mean {mean}, sd {sd}"),
                    "finite, sd >= 0",
                ));
            }
            Weights::Array(a) => {
                array_len("weights.array", a.len())?;
                if let Some((k, w)) = a.iter().enumerate().find(|(_, &w)| !in_bounds(w)) {
                    return Err(invalid(el, &format!("weights.array[{k}]"), w, &bounds));
                }
            }
            Weights::PerCopy(arrays) => {
                one_per_copy("weights.per_copy", arrays.len())?;
                for (c, a) in arrays.iter().enumerate() {
                    array_len(&format!("weights.per_copy[{c}]"), a.len())?;
                    if let Some((k, w)) = a.iter().enumerate().find(|(_, &w)| !in_bounds(w)) {
                        let field = format!("weights.per_copy[{c}][{k}]");
                        return Err(invalid(el, &field, w, &bounds));
                    }
                }
            }
            _ => {}
        }
        // The field is named only on error (an array may hold a delay per synapse).
        let ms_ok = |field: &dyn Fn() -> String, ms: f32| -> Result<()> {
            let steps = (ms / dt_ms).round();
            if !(ms >= 0.0 && ms.is_finite()) || steps > MAX_DELAY_STEPS as f32 {
                return Err(invalid(
                    el,
                    &field(),
                    &ms,
                    &format!(
                        "a delay in [0, {}] ms ({MAX_DELAY_STEPS} steps of dt = {dt_ms} ms)",
                        MAX_DELAY_STEPS as f32 * dt_ms
                    ),
                ));
            }
            Ok(())
        };
        match &self.delay {
            Delay::None => {}
            Delay::Constant(ms) => ms_ok(&|| "delay.constant_ms".into(), *ms)?,
            Delay::Range { min_ms, max_ms, .. } => {
                ms_ok(&|| "delay.min_ms".into(), *min_ms)?;
                ms_ok(&|| "delay.max_ms".into(), *max_ms)?;
                if max_ms < min_ms {
                    return Err(invalid(
                        el,
                        "delay.max_ms",
                        max_ms,
                        &format!(">= delay.min_ms ({min_ms})"),
                    ));
                }
            }
            Delay::Array(a) => {
                array_len("delay.array", a.len())?;
                for (k, &ms) in a.iter().enumerate() {
                    ms_ok(&|| format!("delay.array[{k}]"), ms)?;
                }
            }
            Delay::PerCopy(arrays) => {
                one_per_copy("delay.per_copy", arrays.len())?;
                for (c, a) in arrays.iter().enumerate() {
                    array_len(&format!("delay.per_copy[{c}]"), a.len())?;
                    for (k, &ms) in a.iter().enumerate() {
                        ms_ok(&|| format!("delay.per_copy[{c}][{k}]"), ms)?;
                    }
                }
            }
        }
        if let Some(stdp) = &self.stdp {
            stdp.validate(dt_ms)
                .map_err(|e| super::into_network(el, e))?;
        }
        Ok(())
    }

    /// The one weight of every synapse where the engines keep none per synapse: an
    /// all-but-self projection of a constant weight, without STDP, whose synapses `syn`
    /// share one delay (a post neuron's input is then the weight times its pre
    /// population's spikes but its own: the CPU's `Strategy::TotalMinusSelf`, the GPU's
    /// `ProjKind::TotalMinusSelf`); None where each synapse has its weight.
    pub fn total_minus_self_weight(&self, syn: &Synapses) -> Option<f32> {
        match (&self.connectivity, &self.weights, syn.delays(0)) {
            (Connectivity::AllButSelf, Weights::Constant(w), DelaySteps::Uniform(_))
                if self.stdp.is_none() =>
            {
                Some(*w)
            }
            _ => None,
        }
    }

    /// The synapses made concrete for `n_pre → n_post` at `dt_ms`: the structure, shared by
    /// the copies, and the delays (one set per copy with [`Delay::PerCopy`]). The projection
    /// must be valid.
    pub fn synapses(&self, n_pre: u32, n_post: u32, dt_ms: f32) -> Synapses {
        let (a, b) = (n_pre as usize, n_post as usize);
        // Pairs in synapse order, and where each came from in the list (for List arrays).
        let mut order: Option<Vec<usize>> = None;
        let pairs: Vec<(u32, u32)> = match &self.connectivity {
            Connectivity::AllToAll => (0..n_pre)
                .flat_map(|j| (0..n_post).map(move |i| (j, i)))
                .collect(),
            Connectivity::OneToOne => (0..n_pre).map(|i| (i, i)).collect(),
            Connectivity::AllButSelf => (0..n_pre)
                .flat_map(|j| (0..n_post).filter(move |&i| i != j).map(move |i| (j, i)))
                .collect(),
            Connectivity::FixedProbability { p, seed } => {
                let thr = probability_threshold(*p);
                let all = *p >= 1.0;
                (0..n_pre)
                    .flat_map(|j| {
                        (0..n_post)
                            .filter(move |&i| all || rng_u32(*seed, j, i) < thr)
                            .map(move |i| (j, i))
                    })
                    .collect()
            }
            Connectivity::FixedInDegree { k, seed } => {
                // Per post i: a partial Fisher–Yates shuffle of 0..n_pre, first k kept.
                let mut pairs = Vec::with_capacity(*k as usize * b);
                let mut pool: Vec<u32> = Vec::with_capacity(a);
                for i in 0..n_post {
                    pool.clear();
                    pool.extend(0..n_pre);
                    for r in 0..*k as usize {
                        let span = (a - r) as u64;
                        let pick = r + ((rng_u32(*seed, i, r as u32) as u64 * span) >> 32) as usize;
                        pool.swap(r, pick);
                        pairs.push((pool[r], i));
                    }
                }
                pairs.sort_unstable();
                pairs
            }
            Connectivity::List(l) => {
                let mut idx: Vec<usize> = (0..l.len()).collect();
                idx.sort_by_key(|&q| l[q]);
                let pairs = idx.iter().map(|&q| l[q]).collect();
                order = Some(idx);
                pairs
            }
        };
        let mut offsets = vec![0u32; a + 1];
        for &(j, _) in &pairs {
            offsets[j as usize + 1] += 1;
        }
        for j in 0..a {
            offsets[j + 1] += offsets[j];
        }
        let post: Vec<u32> = pairs.iter().map(|&(_, i)| i).collect();
        let steps = |ms: f32| (ms / dt_ms).round() as u32;
        let in_order = |ms: &[f32]| -> Vec<u32> {
            match &order {
                Some(o) => o.iter().map(|&q| steps(ms[q])).collect(),
                None => ms.iter().map(|&m| steps(m)).collect(),
            }
        };
        let delays = match &self.delay {
            Delay::None => vec![DelaySteps::Uniform(0)],
            Delay::Constant(ms) => vec![DelaySteps::Uniform(steps(*ms))],
            Delay::Range {
                min_ms,
                max_ms,
                seed,
            } => {
                let (lo, hi) = (steps(*min_ms), steps(*max_ms));
                let span = (hi - lo + 1) as u64;
                vec![DelaySteps::PerSynapse(
                    (0..post.len() as u32)
                        .map(|k| {
                            lo + ((rng_u32(*seed, STREAM_DELAY, k) as u64 * span) >> 32) as u32
                        })
                        .collect(),
                )]
            }
            Delay::Array(ms) => vec![DelaySteps::PerSynapse(in_order(ms))],
            Delay::PerCopy(arrays) => arrays
                .iter()
                .map(|ms| DelaySteps::PerSynapse(in_order(ms)))
                .collect(),
        };
        Synapses {
            n_pre,
            n_post,
            offsets,
            post,
            delays,
            list_order: order,
        }
    }

    /// The initial weights of copy number `copy`, of seed `seed`, for `syn` (this
    /// projection's synapses), the projection being number `index` of its network: random
    /// draws from `key(seed, index)` (see the `model::net` docs), clipped into
    /// `[w_min, w_max]`, or the copy's array.
    pub fn initial_weights(
        &self,
        syn: &Synapses,
        (copy, seed): (usize, u32),
        index: usize,
    ) -> Vec<f32> {
        let n = syn.len();
        let k_w = copy_key(seed, index);
        let clip = |w: f32| w.clamp(self.w_min, self.w_max);
        // A uniform draw in [0, 1) from a `u32`: `(u >> 8) / 2²⁴`.
        let unit = |u: u32| (u >> 8) as f32 * (1.0 / 16_777_216.0);
        match &self.weights {
            Weights::Constant(w) => vec![*w; n],
            Weights::Uniform { low, high } => (0..n as u32)
                .map(|k| clip(low + (high - low) * unit(rng_u32(k_w, STREAM_WEIGHT, k))))
                .collect(),
            Weights::Normal { mean, sd } => (0..n as u32)
                .map(|k| {
                    let u1 = 1.0 - unit(rng_u32(k_w, STREAM_WEIGHT, k)) as f64;
                    let u2 = unit(rng_u32(k_w, STREAM_WEIGHT + 1, k)) as f64;
                    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                    clip(mean + sd * z as f32)
                })
                .collect(),
            Weights::Array(a) => match &syn.list_order {
                Some(o) => o.iter().map(|&q| a[q]).collect(),
                None => a.clone(),
            },
            Weights::PerCopy(arrays) => match &syn.list_order {
                Some(o) => o.iter().map(|&q| arrays[copy][q]).collect(),
                None => arrays[copy].clone(),
            },
        }
    }

    /// Whether the STDP rule depresses at pre spikes (all but the weight-dependent rule).
    pub fn depresses(&self) -> bool {
        matches!(
            self.stdp.map(|s| s.rule),
            Some(StdpRule::Pair | StdpRule::PairAllToAll | StdpRule::Triplet)
        )
    }
}

/// Delays of a projection's synapses, in steps.
#[derive(Debug, Clone, PartialEq)]
pub enum DelaySteps {
    /// One delay for all.
    Uniform(u32),
    /// One per synapse, in synapse order.
    PerSynapse(Vec<u32>),
}

impl DelaySteps {
    /// The longest delay.
    pub fn max(&self) -> u32 {
        match self {
            DelaySteps::Uniform(d) => *d,
            DelaySteps::PerSynapse(v) => v.iter().copied().max().unwrap_or(0),
        }
    }

    /// The delay of synapse `k`.
    #[inline]
    pub fn of(&self, k: usize) -> u32 {
        match self {
            DelaySteps::Uniform(d) => *d,
            DelaySteps::PerSynapse(v) => v[k],
        }
    }
}

/// A projection's synapses: rows by presynaptic neuron (CSR), in synapse order.
#[derive(Debug, Clone, PartialEq)]
pub struct Synapses {
    /// Presynaptic population size.
    pub n_pre: u32,
    /// Postsynaptic population size.
    pub n_post: u32,
    /// Synapses of pre `j`: `offsets[j] .. offsets[j + 1]`.
    pub offsets: Vec<u32>,
    /// Postsynaptic neuron of each synapse.
    pub post: Vec<u32>,
    /// Delay of each synapse, in steps: one set shared by the copies, or one per copy
    /// ([`Delay::PerCopy`]; [`Self::delays`]).
    pub delays: Vec<DelaySteps>,
    /// For a list: the list position of each synapse (arrays given with a list follow it).
    pub list_order: Option<Vec<usize>>,
}

impl Synapses {
    /// The number of synapses.
    pub fn len(&self) -> usize {
        self.post.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.post.is_empty()
    }

    /// The delays of copy `copy`'s synapses.
    #[inline]
    pub fn delays(&self, copy: usize) -> &DelaySteps {
        &self.delays[if self.delays.len() == 1 { 0 } else { copy }]
    }

    /// The longest delay of any copy (the ring holds this + 1 slots in every copy).
    pub fn max_delay(&self) -> u32 {
        self.delays.iter().map(DelaySteps::max).max().unwrap_or(0)
    }

    /// Whether the copies have delays of their own ([`Delay::PerCopy`]).
    pub fn delays_per_copy(&self) -> bool {
        self.delays.len() > 1
    }

    /// These synapses with copy `copy`'s delays only (an engine's plan for that copy).
    pub fn of_copy(&self, copy: usize) -> Synapses {
        Synapses {
            n_pre: self.n_pre,
            n_post: self.n_post,
            offsets: self.offsets.clone(),
            post: self.post.clone(),
            delays: vec![self.delays(copy).clone()],
            list_order: self.list_order.clone(),
        }
    }

    /// The most synapses of one pre neuron (the longest CSR row).
    pub fn longest_row(&self) -> u32 {
        self.offsets
            .windows(2)
            .map(|r| r[1] - r[0])
            .max()
            .unwrap_or(0)
    }

    /// `(pre, post)` of every synapse, in synapse order.
    pub fn pairs(&self) -> Vec<(u32, u32)> {
        (0..self.n_pre)
            .flat_map(|j| {
                (self.offsets[j as usize]..self.offsets[j as usize + 1])
                    .map(move |k| (j, self.post[k as usize]))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proj(c: Connectivity) -> Projection {
        Projection::new("p", "a", "b", Target::MEMBRANE_EXC, c, 1.0)
    }

    #[test]
    fn fixed_in_degree_gives_k_distinct_pre_per_post() {
        let s = proj(Connectivity::FixedInDegree { k: 7, seed: 3 }).synapses(20, 9, 1.0);
        assert_eq!(s.len(), 63);
        for i in 0..9 {
            let mut pre: Vec<u32> = s
                .pairs()
                .into_iter()
                .filter(|&(_, p)| p == i)
                .map(|(j, _)| j)
                .collect();
            assert_eq!(pre.len(), 7);
            pre.dedup();
            assert_eq!(pre.len(), 7, "post {i}: repeated pre");
        }
    }

    #[test]
    fn a_list_is_sorted_with_its_delays() {
        let mut p = proj(Connectivity::List(vec![(2, 0), (0, 1), (1, 1)]));
        p.delay = Delay::Array(vec![3.0, 1.0, 2.0]);
        let s = p.synapses(3, 2, 1.0);
        assert_eq!(s.pairs(), vec![(0, 1), (1, 1), (2, 0)]);
        assert_eq!(s.delays, vec![DelaySteps::PerSynapse(vec![1, 2, 3])]);
        assert_eq!(s.list_order, Some(vec![1, 2, 0]));
    }

    #[test]
    fn delay_range_stays_in_range_and_uses_every_step() {
        let mut p = proj(Connectivity::AllToAll);
        p.delay = Delay::Range {
            min_ms: 1.0,
            max_ms: 3.0,
            seed: 5,
        };
        let s = p.synapses(30, 30, 0.5);
        let DelaySteps::PerSynapse(d) = s.delays(0) else {
            panic!("per synapse expected")
        };
        assert!(d.iter().all(|&x| (2..=6).contains(&x)));
        for want in 2..=6 {
            assert!(d.contains(&want), "delay {want} never drawn");
        }
    }
}
