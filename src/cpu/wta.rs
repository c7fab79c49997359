//! CPU reference for the competitive layer (`model::wta`): the step order of its docs, in
//! plain f32 Rust, with the neuron stages of `cpu::neuron` and the STDP of `cpu::stdp`.
//!
//! Propagation and plasticity are event-driven: a step reads only the weight rows of inputs
//! that spiked, and touches a weight column only when its excitatory neuron spiked. Frozen
//! batches run in parallel with rayon, one network copy per worker.

use super::neuron::{
    adapt, clamp_refractory, cond_lif_charge, fire, if_charge, lif_charge, reset, NeuronState,
};
use super::simd::SimdLevel;
use super::stdp::{on_post, on_pre, on_pre_depression, StdpConsts};
use crate::backend::{CompetitiveBackend, Snapshot};
use crate::encode::rng::{probability_threshold, rng_u32};
use crate::error::{Result, SnnError};
use crate::model::stdp::DerivedStdp;
use crate::model::synapse::{column_bounds, normalize_columns_bounds};
use crate::model::wta::{decay_table, presentation_seed, ChargeModel, Wiring};
use crate::model::{CompetitiveSpec, DerivedNeuron, NeuronKind, PresentOptions, RestMode};
use rayon::prelude::*;

/// Never-spiked marker for the lazy pre trace.
const NEVER: u32 = u32::MAX;

/// Constants shared by all copies.
#[derive(Clone)]
pub(crate) struct Consts {
    pub n_in: usize,
    pub n: usize,
    pub dt_ms: f32,
    pub exc: DerivedNeuron,
    pub inh: DerivedNeuron,
    pub exc_rest_mv: f32,
    pub inh_rest_mv: f32,
    pub w_ei: f32,
    pub w_ie: f32,
    pub stdp: Option<(StdpConsts, DerivedStdp)>,
    pub pre_table: Vec<f32>,
    pub tau_theta_ms: f32,
    pub norm_target: Option<f32>,
    pub seed: u32,
    /// Input delays, when on.
    pub delays: Option<Delays>,
    /// Charge models and projection targets.
    pub wiring: Wiring,
    /// Which compiled copy of `step` runs ([`CpuOptions::simd`]).
    pub simd: SimdLevel,
    /// With delays and learning: depress through [`DepQueue`] (true, the default) or visit
    /// every arriving synapse (the plain reference the tests compare it with;
    /// [`CpuOptions::depression_queue`]).
    pub dep_queue: bool,
}

/// Per-synapse input delays, bucketed for event-driven delivery: `items[offsets[j·S + L] ..
/// offsets[j·S + L + 1]]` are the excitatory neurons (ascending) that input `j` reaches `L`
/// steps after it spikes.
#[derive(Clone)]
pub(crate) struct Delays {
    /// Ring slots S = max delay + 1.
    pub slots: u32,
    /// Delay of each synapse `[input][exc]`, in steps.
    pub steps: Vec<u8>,
    offsets: Vec<u32>,
    items: Vec<u32>,
}

impl Delays {
    fn new(steps: Vec<u8>, slots: u32, n_in: usize, n: usize) -> Self {
        let s = slots as usize;
        let mut offsets = Vec::with_capacity(n_in * s + 1);
        let mut items = Vec::with_capacity(n_in * n);
        offsets.push(0);
        for j in 0..n_in {
            for l in 0..s {
                items.extend((0..n as u32).filter(|&i| steps[j * n + i as usize] as usize == l));
                offsets.push(items.len() as u32);
            }
        }
        Delays {
            slots,
            steps,
            offsets,
            items,
        }
    }

    fn targets(&self, j: u32, lag: u32) -> &[u32] {
        let k = (j * self.slots + lag) as usize;
        &self.items[self.offsets[k] as usize..self.offsets[k + 1] as usize]
    }

    /// The bucket `j·S + L` of synapse `k = j·n + i`: input `j`, its delay `L`.
    fn bucket(&self, k: usize, n: usize) -> usize {
        (k / n) * self.slots as usize + self.steps[k] as usize
    }
}

/// With delays and learning: the depressions still to come, kept only for the neurons whose
/// depression can change a weight.
///
/// An arriving synapse `(j, i)` sets `w = clamp(w − ν_pre·post1[i])`. Once `ν_pre·post1[i]`
/// rounds to 0 it stays 0 until neuron `i` fires again (post1 only decays), and then the
/// update leaves every weight inside [w_min, w_max] as it is. In a D&C network that holds for
/// about 95 % of the neurons at any step (a neuron that has not fired for about four
/// presentations), so the pass visits the synapses of the other 5 % only: the same weights
/// bit for bit, at a twentieth of the work. The queue is derived state: [`Self::rebuild`]
/// makes it from the ring of recent input spikes at the start of every presentation, so
/// snapshots and resets need not hold it.
#[derive(Clone, Default)]
pub(crate) struct DepQueue {
    /// Per ring slot (arrival step mod S): the synapses `(j·n + i, i)` arriving then.
    pending: Vec<Vec<(u32, u32)>>,
    /// The neurons whose arrivals are queued, and the same as a mask.
    active: Vec<u32>,
    in_active: Vec<bool>,
    /// Per neuron: the last emission step whose arrivals at it were queued when it left
    /// `active` (`NEVER`: none since the rebuild).
    covered: Vec<u32>,
    /// Per neuron: its column held a weight outside [w_min, w_max] at the rebuild (e.g. after
    /// the normalisation), which an arrival clamps even when the depression is 0, so it stays
    /// active for the presentation.
    loose: Vec<bool>,
}

impl DepQueue {
    /// Starts a presentation: `loose` from the column bounds `(lo, hi)`, every neuron whose
    /// depression is not 0 or which is loose made active, with the arrivals still due from
    /// the input spikes in `hist` (the steps before `clock`).
    #[allow(clippy::too_many_arguments)]
    fn rebuild(
        &mut self,
        d: &Delays,
        sc: &StdpConsts,
        hist: &[Vec<u32>],
        post1: &[f32],
        clock: u32,
        (lo, hi): (Vec<f32>, Vec<f32>),
    ) {
        let n = post1.len();
        self.pending.resize_with(d.slots as usize, Vec::new);
        self.pending.iter_mut().for_each(Vec::clear);
        self.active.clear();
        self.in_active.clear();
        self.in_active.resize(n, false);
        self.covered.clear();
        self.covered.resize(n, NEVER);
        self.loose.clear();
        self.loose.extend(
            lo.iter()
                .zip(&hi)
                .map(|(&l, &h)| !(l >= sc.w_min && h <= sc.w_max)),
        );
        for (i, &p1) in post1.iter().enumerate() {
            if self.loose[i] || sc.nu_pre * p1 != 0.0 {
                self.join(d, hist, n, i, clock.wrapping_sub(1));
            }
        }
    }

    /// Makes neuron `i` active, queueing the arrivals after step `e_last` of the input spikes
    /// of the steps up to `e_last` that are not queued yet.
    fn join(&mut self, d: &Delays, hist: &[Vec<u32>], n: usize, i: usize, e_last: u32) {
        let s = d.slots;
        // A spike of age a (emitted at e_last − a) is still due when its delay is > a, so
        // ages up to S − 2 matter; none before step 0.
        let ages = if e_last == NEVER {
            0
        } else {
            (s - 1).min(e_last.saturating_add(1))
        };
        let cover = self.covered[i];
        for a in 0..ages {
            let e = e_last - a;
            if cover != NEVER && e.wrapping_sub(cover) as i32 <= 0 {
                break;
            }
            for &j in &hist[(e % s) as usize] {
                let k = j as usize * n + i;
                let lag = d.steps[k] as u32;
                if lag > a {
                    self.pending[((e + lag) % s) as usize].push((k as u32, i as u32));
                }
            }
        }
        self.in_active[i] = true;
        self.active.push(i as u32);
    }

    /// Step `now`, after the depression of each neuron is known: drops the neurons whose
    /// depression is 0 (and stays so until they fire), then queues the arrivals of this
    /// step's input spikes at the active neurons.
    fn enqueue(&mut self, d: &Delays, depression: &[f32], spikes_in: &[u32], n: usize, now: u32) {
        let (in_active, covered, loose) = (&mut self.in_active, &mut self.covered, &self.loose);
        self.active.retain(|&i| {
            let i = i as usize;
            let keep = depression[i] != 0.0 || loose[i];
            if !keep {
                in_active[i] = false;
                covered[i] = now.wrapping_sub(1);
            }
            keep
        });
        let s = d.slots;
        let slot = now % s;
        for &j in spikes_in {
            let base = j as usize * n;
            let steps = &d.steps[base..base + n];
            for &i in &self.active {
                let at = slot + steps[i as usize] as u32;
                let at = if at >= s { at - s } else { at };
                self.pending[at as usize].push(((base + i as usize) as u32, i));
            }
        }
    }
}

impl Consts {
    pub fn new(spec: &CompetitiveSpec) -> Self {
        // The rest state's v: the resting potential; IF has none, so its initial v.
        let rest = |m: &crate::model::NeuronModel| match &m.kind {
            NeuronKind::CondLif(p) => p.v_rest_mv,
            NeuronKind::CurrentLif(p) => p.v_rest_mv,
            NeuronKind::Lif(p) => p.v_rest_mv,
            _ => m.v_init_mv,
        };
        let mut exc = spec.exc.derive(spec.dt_ms);
        // θ decay is applied once per presentation (see model::wta docs).
        exc.decay_theta_per_step = 1.0;
        let stdp = spec.stdp.map(|s| {
            (
                StdpConsts::new(&s, spec.input.w_min, spec.input.w_max),
                s.derive(spec.dt_ms),
            )
        });
        let (w_ei, w_ie) = spec.lateral_weights();
        Consts {
            n_in: spec.n_input as usize,
            n: spec.n_exc as usize,
            dt_ms: spec.dt_ms,
            exc,
            inh: spec.inh.derive(spec.dt_ms),
            exc_rest_mv: rest(&spec.exc),
            inh_rest_mv: rest(&spec.inh),
            w_ei,
            w_ie,
            pre_table: stdp.map_or(vec![1.0], |(_, d)| decay_table(d.decay_pre_per_step)),
            stdp,
            tau_theta_ms: spec.exc.theta.map_or(f32::INFINITY, |t| t.tau_theta_ms),
            norm_target: spec.norm_target,
            seed: spec.seed,
            delays: crate::model::wta::input_delays(spec).map(|(d, slots)| {
                Delays::new(d, slots, spec.n_input as usize, spec.n_exc as usize)
            }),

            wiring: spec.wiring(),
            simd: SimdLevel::best(),
            dep_queue: true,
        }
    }

    /// Exact θ decay over `steps` steps.
    pub fn theta_decay(&self, steps: u32) -> f32 {
        if self.tau_theta_ms.is_infinite() {
            1.0
        } else {
            (-(steps as f64) * self.dt_ms as f64 / self.tau_theta_ms as f64).exp() as f32
        }
    }

    /// Checks the sizes of a loaded network: `n_in · n` weights and `n` θ values.
    pub fn check_loaded(&self, weights: &[f32], theta_mv: &[f32]) -> Result<()> {
        if weights.len() != self.n_in * self.n || theta_mv.len() != self.n {
            return Err(SnnError::invalid(
                "loaded network",
                format!("{} weights, {} theta", weights.len(), theta_mv.len()),
                format!(
                    "{} weights ({} x {}), {} theta",
                    self.n_in * self.n,
                    self.n_in,
                    self.n,
                    self.n
                ),
            ));
        }
        if let Some(k) = weights.iter().position(|w| !w.is_finite()) {
            return Err(SnnError::invalid(
                format!("weights[{k}] (input {}, neuron {})", k / self.n, k % self.n),
                weights[k],
                "a finite weight; the network to load is damaged (NaN/Inf): retrain it",
            ));
        }
        if let Some(i) = theta_mv.iter().position(|t| !t.is_finite()) {
            return Err(SnnError::invalid(
                format!("theta_mv[{i}]"),
                theta_mv[i],
                "a finite threshold (mV); the network to load is damaged (NaN/Inf): retrain it",
            ));
        }
        Ok(())
    }

    /// [`Self::active_inputs`] of every input of a batch.
    pub fn active_inputs_batch(&self, rates_hz: &[Vec<f32>]) -> Result<Vec<Vec<(u32, u32)>>> {
        rates_hz.iter().map(|r| self.active_inputs(r)).collect()
    }

    /// Poisson thresholds of the inputs with a non-zero rate, ascending by input.
    pub fn active_inputs(&self, rates_hz: &[f32]) -> Result<Vec<(u32, u32)>> {
        if rates_hz.len() != self.n_in {
            return Err(SnnError::invalid(
                "rates_hz",
                format!("{} values", rates_hz.len()),
                format!("one rate per input ({})", self.n_in),
            ));
        }
        let max_hz = 1000.0 / self.dt_ms;
        if let Some((j, r)) = rates_hz
            .iter()
            .enumerate()
            .find(|(_, r)| !(**r >= 0.0 && **r <= max_hz))
        {
            return Err(SnnError::invalid(
                format!("rates_hz[{j}]"),
                r,
                format!("a rate in [0, {max_hz}] Hz"),
            ));
        }
        Ok(rates_hz
            .iter()
            .enumerate()
            .filter(|(_, &r)| r > 0.0)
            .map(|(j, &r)| {
                (
                    j as u32,
                    probability_threshold(r as f64 * self.dt_ms as f64 / 1000.0),
                )
            })
            .filter(|&(_, thr)| thr > 0)
            .collect())
    }
}

/// One population's state, one array per variable (as the GPU buffers).
#[derive(Clone)]
pub(crate) struct Pop {
    pub v: Vec<f32>,
    pub ge: Vec<f32>,
    pub gi: Vec<f32>,
    pub refrac: Vec<u32>,
}

impl Pop {
    fn new(n: usize, v0: f32) -> Self {
        Pop {
            v: vec![v0; n],
            ge: vec![0.0; n],
            gi: vec![0.0; n],
            refrac: vec![0; n],
        }
    }

    fn reset(&mut self, v_rest: f32) {
        self.v.fill(v_rest);
        self.ge.fill(0.0);
        self.gi.fill(0.0);
        self.refrac.fill(0);
    }
}

/// The dynamic state of one network copy (everything but weights and θ).
#[derive(Clone)]
pub(crate) struct NetState {
    exc: Pop,
    inh: Pop,
    post1: Vec<f32>,
    post2: Vec<f32>,
    last_pre: Vec<u32>,
    exc_spiked: Vec<bool>,
    inh_spiked: Vec<bool>,
    exc_prev: Vec<bool>,
    inh_prev: Vec<bool>,
    inh_count: u32,
    /// Steps simulated by this copy (the time base of the lazy pre trace).
    clock: u32,
    x_e: Vec<f32>,
    /// With delays and learning: `nu_pre · post1` of this step, per neuron (scratch, see
    /// [`on_pre_depression`]).
    depression: Vec<f32>,
    spikes_in: Vec<u32>,
    /// With delays: the input spikes of the last `slots` steps (ring, by clock), and the
    /// last arrival step of each delay bucket `[input][lag]`. The synapses of a bucket
    /// arrive together, so this is the last arrival step of each of them, stored once
    /// (66 KB for dc400 instead of 1.25 MB per synapse, which every frozen copy reset).
    hist: Vec<Vec<u32>>,
    arrival: Vec<u32>,
    /// With delays: the input each neuron receives at the coming steps, `[slot][exc]` by
    /// arrival step mod `slots`. A spike adds its weights here when it is drawn (Brian 1's
    /// `DelayConnection` delivers the weight of the emission step).
    x_ring: Vec<f32>,
    /// With delays and learning: the depressions to come (derived state, rebuilt at the start
    /// of every learning presentation).
    dep_queue: DepQueue,
    /// The first NaN/Inf seen at the end of the last presentation, before any rest reset:
    /// (population, variable, neuron, clock). Not part of a snapshot.
    nonfinite: Option<(&'static str, &'static str, usize, u32)>,
}

impl NetState {
    /// The first NaN or infinite value of the neuron state and θ, with the clock.
    fn first_nonfinite(&self, theta: &[f32]) -> Option<(&'static str, &'static str, usize, u32)> {
        let vars: [(&'static str, &'static str, &[f32]); 7] = [
            ("exc", "v", &self.exc.v),
            ("exc", "ge", &self.exc.ge),
            ("exc", "gi", &self.exc.gi),
            ("exc", "theta", theta),
            ("inh", "v", &self.inh.v),
            ("inh", "ge", &self.inh.ge),
            ("inh", "gi", &self.inh.gi),
        ];
        vars.into_iter().find_map(|(pop, var, x)| {
            let i = x.iter().position(|v| !v.is_finite())?;
            Some((pop, var, i, self.clock))
        })
    }

    pub fn new(c: &Consts, exc_init_mv: f32, inh_init_mv: f32) -> Self {
        NetState {
            exc: Pop::new(c.n, exc_init_mv),
            inh: Pop::new(c.n, inh_init_mv),
            post1: vec![0.0; c.n],
            post2: vec![0.0; c.n],
            last_pre: vec![NEVER; c.n_in],
            exc_spiked: vec![false; c.n],
            inh_spiked: vec![false; c.n],
            exc_prev: vec![false; c.n],
            inh_prev: vec![false; c.n],
            inh_count: 0,
            clock: 0,
            nonfinite: None,
            x_e: vec![0.0; c.n],
            depression: vec![0.0; c.n],
            spikes_in: Vec::with_capacity(c.n_in),
            hist: vec![vec![]; c.delays.as_ref().map_or(0, |d| d.slots as usize)],
            x_ring: vec![0.0; c.delays.as_ref().map_or(0, |d| d.slots as usize) * c.n],
            dep_queue: DepQueue::default(),
            arrival: c
                .delays
                .as_ref()
                .map_or(vec![], |d| vec![NEVER; c.n_in * d.slots as usize]),
        }
    }

    /// Appends every field to `s` (see [`CompetitiveBackend::snapshot`]).
    fn save(&self, c: &Consts, s: &mut Snapshot) {
        let bits = |v: &[bool]| v.iter().map(|&b| b as u32).collect::<Vec<_>>();
        for (p, pop) in [("exc", &self.exc), ("inh", &self.inh)] {
            s.push_f32(&format!("{p}.v"), &pop.v);
            s.push_f32(&format!("{p}.ge"), &pop.ge);
            s.push_f32(&format!("{p}.gi"), &pop.gi);
            s.push_u32(&format!("{p}.refrac"), &pop.refrac);
        }
        s.push_f32("post1", &self.post1);
        s.push_f32("post2", &self.post2);
        s.push_u32("last_pre", &self.last_pre);
        s.push_u32("exc_spiked", &bits(&self.exc_spiked));
        s.push_u32("inh_spiked", &bits(&self.inh_spiked));
        s.push_u32("exc_prev", &bits(&self.exc_prev));
        s.push_u32("inh_prev", &bits(&self.inh_prev));
        s.push_u32("counters", &[self.inh_count, self.clock]);
        s.push_f32("x_e", &self.x_e);
        s.push_u32("spikes_in", &self.spikes_in);
        // The delay ring as lengths then items.
        let lens: Vec<u32> = self.hist.iter().map(|h| h.len() as u32).collect();
        s.push_u32("hist.len", &lens);
        s.push_u32("hist", &self.hist.concat());
        // Per synapse `[input][exc]`, as the GPU stores it.
        let last_arrival: Vec<u32> = match &c.delays {
            Some(d) => (0..c.n_in * c.n)
                .map(|k| self.arrival[d.bucket(k, c.n)])
                .collect(),
            None => vec![],
        };
        s.push_u32("last_arrival", &last_arrival);
        s.push_f32("x_ring", &self.x_ring);
    }

    /// Reads what [`Self::save`] wrote; lengths are checked against this state's.
    fn load(&mut self, c: &Consts, s: &Snapshot) -> Result<()> {
        let n = self.post1.len();
        let bools = |name: &str, dst: &mut Vec<bool>| -> Result<()> {
            let v = s.u32s(name, Some(n))?;
            dst.iter_mut().zip(v).for_each(|(d, &x)| *d = x != 0);
            Ok(())
        };
        let mut next = self.clone();
        for (p, pop) in [("exc", &mut next.exc), ("inh", &mut next.inh)] {
            pop.v = s.f32s(&format!("{p}.v"), Some(n))?;
            pop.ge = s.f32s(&format!("{p}.ge"), Some(n))?;
            pop.gi = s.f32s(&format!("{p}.gi"), Some(n))?;
            pop.refrac = s.u32s(&format!("{p}.refrac"), Some(n))?.to_vec();
        }
        next.post1 = s.f32s("post1", Some(n))?;
        next.post2 = s.f32s("post2", Some(n))?;
        next.last_pre = s.u32s("last_pre", Some(self.last_pre.len()))?.to_vec();
        bools("exc_spiked", &mut next.exc_spiked)?;
        bools("inh_spiked", &mut next.inh_spiked)?;
        bools("exc_prev", &mut next.exc_prev)?;
        bools("inh_prev", &mut next.inh_prev)?;
        let k = s.u32s("counters", Some(2))?;
        (next.inh_count, next.clock) = (k[0], k[1]);
        next.x_e = s.f32s("x_e", Some(n))?;
        next.spikes_in = s.u32s("spikes_in", None)?.to_vec();
        let lens = s.u32s("hist.len", Some(self.hist.len()))?;
        let items = s.u32s("hist", None)?;
        if lens.iter().map(|&l| l as usize).sum::<usize>() != items.len() {
            return Err(SnnError::invalid(
                "snapshot array `hist`",
                items.len(),
                "as many items as `hist.len` adds up to",
            ));
        }
        let mut at = 0;
        for (h, &l) in next.hist.iter_mut().zip(lens) {
            *h = items[at..at + l as usize].to_vec();
            at += l as usize;
        }
        let want = c.delays.as_ref().map_or(0, |_| c.n_in * c.n);
        let last_arrival = s.u32s("last_arrival", Some(want))?;
        if let Some(d) = &c.delays {
            // Back to one step per bucket; the synapses of a bucket arrive together, so
            // they must agree.
            next.arrival.fill(NEVER);
            let mut seen = vec![false; next.arrival.len()];
            for (k, &a) in last_arrival.iter().enumerate() {
                let b = d.bucket(k, c.n);
                if seen[b] && next.arrival[b] != a {
                    return Err(SnnError::invalid(
                        format!("snapshot array `last_arrival`[{k}]"),
                        a,
                        format!(
                            "the arrival step {} of the other synapses with the same input \
                             and delay",
                            next.arrival[b]
                        ),
                    ));
                }
                (seen[b], next.arrival[b]) = (true, a);
            }
        }
        // Snapshots written before the input ring existed have none; they were taken between presentations,
        // after the rest, when every delayed input has arrived, i.e. with the ring empty.
        next.x_ring = if s.has("x_ring") {
            s.f32s("x_ring", Some(self.x_ring.len()))?
        } else {
            vec![0.0; self.x_ring.len()]
        };
        *self = next;
        Ok(())
    }

    /// The rest state: v at rest, conductances, refractory counters, spikes and traces zero.
    pub fn reset(&mut self, c: &Consts) {
        self.exc.reset(c.exc_rest_mv);
        self.inh.reset(c.inh_rest_mv);
        self.post1.fill(0.0);
        self.post2.fill(0.0);
        self.last_pre.fill(NEVER);
        self.exc_spiked.fill(false);
        self.inh_spiked.fill(false);
        self.inh_count = 0;
        self.hist.iter_mut().for_each(|h| h.clear());
        self.arrival.fill(NEVER);
        self.x_ring.fill(0.0);
    }
}

/// One step of the competitive layer (model::wta step order). `t` counts from the start of
/// the presentation (it keys the input spikes); `active` is empty during rest. Spikes within
/// the counting window are added to `counts`. Runs the copy compiled for `c.simd`
/// (`cpu::simd`; every copy gives the same bits).
#[allow(clippy::too_many_arguments)]
pub(crate) fn step(
    c: &Consts,
    w: &mut [f32],
    theta: &mut [f32],
    st: &mut NetState,
    t: u32,
    key_seed: u32,
    active: &[(u32, u32)],
    learn: bool,
    counts: Option<&mut [u32]>,
) {
    #[cfg(target_arch = "x86_64")]
    match c.simd {
        // SAFETY: `c.simd` is `SimdLevel::best()` or a level the tests checked with
        // `available()`, so the processor has every feature the copy was compiled with.
        SimdLevel::Avx512 => unsafe {
            return step_avx512(c, w, theta, st, t, key_seed, active, learn, counts);
        },
        SimdLevel::Avx2 => unsafe {
            return step_avx2(c, w, theta, st, t, key_seed, active, learn, counts);
        },
        SimdLevel::Baseline => {}
    }
    step_body(c, w, theta, st, t, key_seed, active, learn, counts)
}

/// Defines `$name`: [`step_body`] compiled with the target features `$features`.
macro_rules! step_compiled_for {
    ($name:ident, $features:literal, $doc:literal) => {
        #[doc = $doc]
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $name(
            c: &Consts,
            w: &mut [f32],
            theta: &mut [f32],
            st: &mut NetState,
            t: u32,
            key_seed: u32,
            active: &[(u32, u32)],
            learn: bool,
            counts: Option<&mut [u32]>,
        ) {
            step_body(c, w, theta, st, t, key_seed, active, learn, counts)
        }
    };
}

step_compiled_for!(
    step_avx512,
    "avx512f,avx512bw,avx512cd,avx512dq,avx512vl,avx2,bmi1,bmi2,lzcnt,popcnt",
    "[`step_body`] compiled with AVX-512 (x86-64-v4 without FMA)."
);
step_compiled_for!(
    step_avx2,
    "avx2,bmi1,bmi2,lzcnt,popcnt",
    "[`step_body`] compiled with AVX2 (x86-64-v3 without FMA)."
);

// Neuron i indexes several parallel arrays, as in the kernel: index loops read clearer.
#[inline(always)]
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
fn step_body(
    c: &Consts,
    w: &mut [f32],
    theta: &mut [f32],
    st: &mut NetState,
    t: u32,
    key_seed: u32,
    active: &[(u32, u32)],
    learn: bool,
    counts: Option<&mut [u32]>,
) {
    let n = c.n;
    std::mem::swap(&mut st.exc_spiked, &mut st.exc_prev);
    std::mem::swap(&mut st.inh_spiked, &mut st.inh_prev);
    let inh_prev_count = st.inh_count;
    // 1. input spikes, ascending j.
    st.spikes_in.clear();
    for &(j, thr) in active {
        if rng_u32(key_seed, t, j) < thr {
            st.spikes_in.push(j);
        }
    }
    // The post traces decay first (step 4 of the documented order; nothing before the
    // plasticity reads them, so doing it here changes no value).
    let stdp = c.stdp.as_ref().filter(|_| learn);
    if let Some((_, sd)) = stdp {
        for p in &mut st.post1 {
            *p *= sd.decay_post1_per_step;
        }
        for p in &mut st.post2 {
            *p *= sd.decay_post2_per_step;
        }
    }
    // 2. propagate: x_e[i] = Σ_j w[j][i] over the inputs that spiked, ascending j; with
    // delays, each spike adds its weights of this step to the ring slot of its arrival
    // (ascending j, so a slot sums by emission step, then j), and x_e is the slot of now.
    st.x_e.fill(0.0);
    if let Some(d) = &c.delays {
        let slots = d.slots;
        let now = st.clock;
        let slot = (now % slots) as usize;
        st.hist[slot].clear();
        st.hist[slot].extend_from_slice(&st.spikes_in);
        // Bucket by bucket (the targets of input j at lag L ascending), so each write goes
        // to one slot row; every x_ring[s][i] still sums in emission order, then ascending j.
        // (A pass along the row, each weight into the slot of its delay, measured no faster.)
        for &j in &st.spikes_in {
            let base = j as usize * n;
            let row = &w[base..base + n];
            // The slot of lag L is (now + L) mod S, counted up without a division.
            let mut s = slot;
            for lag in 0..slots {
                let dst = &mut st.x_ring[s * n..(s + 1) * n];
                for &i in d.targets(j, lag) {
                    dst[i as usize] += row[i as usize];
                }
                s = if s + 1 == slots as usize { 0 } else { s + 1 };
            }
        }
        let arriving = &mut st.x_ring[slot * n..(slot + 1) * n];
        st.x_e.copy_from_slice(arriving);
        arriving.fill(0.0);
        if let Some((sc, _)) = stdp {
            // post1 does not change until the potentiation below: each neuron's depression
            // `nu_pre · post1` is computed once per step, as a vector (see on_pre_depression).
            for (dep, &p1) in st.depression.iter_mut().zip(&st.post1) {
                *dep = sc.nu_pre * p1;
            }
            // The depression of step 4, at each synapse's arrival (Brian's pre code runs at
            // the delayed arrival), over the synapses arriving now at the neurons where it
            // can change a weight (`DepQueue`); a synapse has one delay, so it arrives at
            // most once per step, and the order does not matter.
            if sc.rule != 2 && c.dep_queue {
                let q = &mut st.dep_queue;
                q.enqueue(d, &st.depression, &st.spikes_in, n, now);
                let depression = &st.depression[..n];
                for &(k, i) in &q.pending[slot] {
                    let k = k as usize;
                    w[k] = on_pre_depression(w[k], depression[i as usize], sc);
                }
                q.pending[slot].clear();
            } else if sc.rule != 2 {
                // Every synapse arriving now, bucket by bucket. Local slices, so that the
                // loop keeps its pointers in registers and checks `i < n` once.
                let depression = &st.depression[..n];
                for lag in 0..slots {
                    let h = &st.hist[((now + slots - lag) % slots) as usize];
                    for &j in h {
                        let base = j as usize * n;
                        let row = &mut w[base..base + n];
                        for &i in d.targets(j, lag) {
                            let i = i as usize;
                            row[i] = on_pre_depression(row[i], depression[i], sc);
                        }
                    }
                }
            }
            // The last arrival of every bucket that arrives now (the pre trace of the
            // potentiation).
            // The spikes of lag L are in slot (now − L) mod S, counted down.
            let mut s = slot;
            for lag in 0..slots {
                for &j in &st.hist[s] {
                    st.arrival[(j * slots + lag) as usize] = now;
                }
                s = if s == 0 { slots as usize - 1 } else { s - 1 };
            }
        }
    } else {
        for &j in &st.spikes_in {
            let row = &w[j as usize * n..(j as usize + 1) * n];
            for (x, &wj) in st.x_e.iter_mut().zip(row) {
                *x += wj;
            }
        }
    }
    // 3.–4. route each sum by its target, then the stages of both populations. The model is
    // matched once here; the stage functions are inlined with it as a constant, so each loop
    // is specialised to one charge and still vectorises.
    let route = c.wiring;
    let exc_count = match route.exc {
        ChargeModel::If => exc_stages(c, theta, st, inh_prev_count, learn, ChargeModel::If),
        ChargeModel::Lif => exc_stages(c, theta, st, inh_prev_count, learn, ChargeModel::Lif),
        ChargeModel::CondLif => {
            exc_stages(c, theta, st, inh_prev_count, learn, ChargeModel::CondLif)
        }
    };
    st.inh_count = match route.inh {
        ChargeModel::If => inh_stages(c, st, ChargeModel::If),
        ChargeModel::Lif => inh_stages(c, st, ChargeModel::Lif),
        ChargeModel::CondLif => inh_stages(c, st, ChargeModel::CondLif),
    };
    // Most steps have no excitatory spike: then neither the counts nor any weight column
    // change, and the scans over the n neurons are skipped.
    if let Some(counts) = counts.filter(|_| exc_count > 0) {
        for (k, &sp) in counts.iter_mut().zip(&st.exc_spiked) {
            *k += sp as u32;
        }
    }
    // 4. plasticity: decay post traces (done at the top), depression by input spikes (with
    // delays, done in the propagation pass), potentiation by excitatory spikes, in this
    // order (the stepwise GPU schedule runs depression and potentiation as their own
    // passes, the fused one as barrier-separated phases).
    if let Some((sc, _)) = stdp {
        let now = st.clock;
        let trace = |last: u32| {
            if last == NEVER {
                0.0
            } else {
                c.pre_table
                    .get((now - last) as usize)
                    .copied()
                    .unwrap_or(0.0)
            }
        };
        if c.delays.is_none() {
            for &j in &st.spikes_in {
                let row = &mut w[j as usize * n..(j as usize + 1) * n];
                for (wj, &p1) in row.iter_mut().zip(&st.post1) {
                    *wj = on_pre(*wj, p1, sc);
                }
                st.last_pre[j as usize] = now;
            }
        }
        let scan = if exc_count > 0 { n } else { 0 };
        for i in 0..scan {
            if !st.exc_spiked[i] {
                continue;
            }
            let p2b = st.post2[i];
            for j in 0..c.n_in {
                let k = j * n + i;
                let pre = match &c.delays {
                    Some(d) => trace(st.arrival[j * d.slots as usize + d.steps[k] as usize]),
                    None => trace(st.last_pre[j]),
                };
                w[k] = on_post(w[k], pre, p2b, sc);
            }
            st.post1[i] = 1.0;
            st.post2[i] = 1.0;
            if let Some(d) = c.delays.as_ref().filter(|_| sc.rule != 2 && c.dep_queue) {
                if !st.dep_queue.in_active[i] {
                    st.dep_queue.join(d, &st.hist, n, i, now);
                }
            }
        }
    }
    st.clock = st.clock.wrapping_add(1);
}

/// The charge stage of a competitive-layer population, `pop_charge` in
/// `shaders/network/wta_common.wgsl`: the model's charge with `x_g` as its conductance
/// input (into `ge`) and `x_v` as the membrane jump (mV), then the refractory clamp. IF and
/// LIF take `x_v` as their input; conductance LIF takes `x_g`, then `v += x_v` (see
/// `model::synapse::Target` for where this sits in the step).
#[inline(always)]
pub(crate) fn pop_charge(
    s: NeuronState,
    x_g: f32,
    x_v: f32,
    model: ChargeModel,
    p: &DerivedNeuron,
) -> NeuronState {
    let o = match model {
        ChargeModel::If => if_charge(s, x_v, p),
        ChargeModel::Lif => lif_charge(s, x_v, p),
        ChargeModel::CondLif => {
            let mut o = cond_lif_charge(s, x_g, p);
            o.v += x_v;
            o
        }
    };
    clamp_refractory(&s, o, p)
}

/// Step 3–4 for the excitatory population: input `x_e` and the lateral inhibition from the
/// inhibitory spikes of t − 1 routed by their targets, then charge → fire → reset → adapt.
/// Returns the number of excitatory spikes. Every array is resliced to n first so that the loop has no bounds checks and vectorises.
// Neuron i indexes several parallel arrays, as in the kernel: index loops read clearer.
#[inline(always)]
#[allow(clippy::needless_range_loop)]
fn exc_stages(
    c: &Consts,
    theta: &mut [f32],
    st: &mut NetState,
    inh_prev_count: u32,
    learn: bool,
    model: ChargeModel,
) -> u32 {
    let n = c.n;
    let route = c.wiring;
    let (v, ge, gi, rf) = (
        &mut st.exc.v[..n],
        &mut st.exc.ge[..n],
        &mut st.exc.gi[..n],
        &mut st.exc.refrac[..n],
    );
    let (th, x, inh_prev, spiked) = (
        &mut theta[..n],
        &st.x_e[..n],
        &st.inh_prev[..n],
        &mut st.exc_spiked[..n],
    );
    let mut exc_count = 0;
    for i in 0..n {
        let mut s = NeuronState {
            v: v[i],
            theta: th[i],
            refrac: rf[i],
            ge: ge[i],
            gi: gi[i],
            custom: [0.0; 8],
        };
        let lateral = c.w_ie * (inh_prev_count - inh_prev[i] as u32) as f32;
        let (x_g, mut x_v) = if route.input_to_v {
            (0.0, x[i])
        } else {
            (x[i], 0.0)
        };
        if route.inh_to_exc_to_v {
            x_v -= lateral;
        } else {
            s.gi += lateral;
        }
        s = pop_charge(s, x_g, x_v, model, &c.exc);
        let spike = fire(s, &c.exc);
        s = reset(s, spike, &c.exc);
        if learn {
            s = adapt(s, spike, &c.exc);
        }
        (v[i], ge[i], gi[i], rf[i], th[i]) = (s.v, s.ge, s.gi, s.refrac, s.theta);
        spiked[i] = spike;
        exc_count += spike as u32;
    }
    exc_count
}

/// Step 3–4 for the inhibitory population, driven one-to-one by the excitatory spikes of
/// t − 1: charge → fire → reset. Returns the number of inhibitory spikes.
#[inline(always)]
#[allow(clippy::needless_range_loop)]
fn inh_stages(c: &Consts, st: &mut NetState, model: ChargeModel) -> u32 {
    let n = c.n;
    let (v, ge, gi, rf) = (
        &mut st.inh.v[..n],
        &mut st.inh.ge[..n],
        &mut st.inh.gi[..n],
        &mut st.inh.refrac[..n],
    );
    let (exc_prev, spiked) = (&st.exc_prev[..n], &mut st.inh_spiked[..n]);
    let mut inh_count = 0;
    for i in 0..n {
        let x = if exc_prev[i] { c.w_ei } else { 0.0 };
        let (x_g, x_v) = if c.wiring.exc_to_inh_to_v {
            (0.0, x)
        } else {
            (x, 0.0)
        };
        let s0 = NeuronState {
            v: v[i],
            theta: 0.0,
            refrac: rf[i],
            ge: ge[i],
            gi: gi[i],
            custom: [0.0; 8],
        };
        let mut s = pop_charge(s0, x_g, x_v, model, &c.inh);
        let spike = fire(s, &c.inh);
        s = reset(s, spike, &c.inh);
        (v[i], ge[i], gi[i], rf[i]) = (s.v, s.ge, s.gi, s.refrac);
        spiked[i] = spike;
        inh_count += spike as u32;
    }
    inh_count
}

/// One whole presentation: normalise (learning), `steps_on` steps with input, then the rest.
pub(crate) fn presentation(
    c: &Consts,
    w: &mut [f32],
    theta: &mut [f32],
    st: &mut NetState,
    active: &[(u32, u32)],
    opts: &PresentOptions,
) -> Vec<u32> {
    presentation_observed(c, w, theta, st, active, opts, &mut |_, _, _| {})
}

/// An observer of [`presentation_observed`]: the step just simulated (counted from the start
/// of the presentation), the state after it, and θ.
pub(crate) type Observer<'a> = dyn FnMut(u32, &NetState, &[f32]) + 'a;

/// [`presentation`], calling `observe` after every simulated step (with input and rest), so a
/// recording sees exactly the steps a presentation runs.
pub(crate) fn presentation_observed(
    c: &Consts,
    w: &mut [f32],
    theta: &mut [f32],
    st: &mut NetState,
    active: &[(u32, u32)],
    opts: &PresentOptions,
    observe: &mut Observer<'_>,
) -> Vec<u32> {
    if opts.learn {
        let bounds = c
            .norm_target
            .map(|target| normalize_columns_bounds(w, c.n, target));
        let queue = c.delays.as_ref().zip(c.stdp.as_ref());
        if let Some((d, (sc, _))) = queue.filter(|(_, (sc, _))| sc.rule != 2 && c.dep_queue) {
            let bounds = bounds.unwrap_or_else(|| column_bounds(w, c.n));
            st.dep_queue
                .rebuild(d, sc, &st.hist, &st.post1, st.clock, bounds);
        }
    }
    let key_seed = presentation_seed(c.seed, opts.key);
    let mut counts = vec![0u32; c.n];
    for t in 0..opts.steps_on {
        step(
            c,
            w,
            theta,
            st,
            t,
            key_seed,
            active,
            opts.learn,
            Some(&mut counts),
        );
        observe(t, st, theta);
    }
    match opts.rest {
        RestMode::Simulate => {
            for t in opts.steps_on..opts.steps_on + opts.steps_rest {
                step(c, w, theta, st, t, key_seed, &[], opts.learn, None);
                observe(t, st, theta);
            }
        }
        RestMode::Reset => {
            // Checked before the reset clears the evidence.
            st.nonfinite = st.first_nonfinite(theta);
            st.reset(c)
        }
    }
    if opts.rest == RestMode::Simulate {
        st.nonfinite = st.first_nonfinite(theta);
    }
    if opts.learn {
        let d = c.theta_decay(opts.steps_on + opts.steps_rest);
        for th in theta.iter_mut() {
            *th *= d;
        }
    }
    counts
}

/// One frozen presentation, step by step ([`CpuCompetitive::present_recorded`]).
///
/// Spikes are `(step, index)` pairs in step order, then ascending index; time in ms is
/// `step · dt_ms`. The traces hold the state after each step of the chosen excitatory neurons.
#[derive(Debug, Clone, PartialEq)]
pub struct PresentationRecord {
    /// Time step (ms).
    pub dt_ms: f32,
    /// Steps recorded: the presentation's `steps_on` (a frozen presentation has no rest).
    pub steps: u32,
    /// Input spikes as drawn (with input delays they reach each neuron up to 10 ms later).
    pub input_spikes: Vec<(u32, u32)>,
    /// Excitatory spikes.
    pub exc_spikes: Vec<(u32, u32)>,
    /// Inhibitory spikes.
    pub inh_spikes: Vec<(u32, u32)>,
    /// Spike count of every excitatory neuron, as `present_frozen_batch` returns it.
    pub counts: Vec<u32>,
    /// Excitatory neurons whose state is traced.
    pub neurons: Vec<u32>,
    /// `[k][step]`: membrane potential of `neurons[k]` (mV), after the reset of a spike.
    pub v_mv: Vec<Vec<f32>>,
    /// `[k][step]`: adaptive threshold θ of `neurons[k]` (mV); constant, as the network is frozen.
    pub theta_mv: Vec<Vec<f32>>,
    /// `[k][step]`: excitatory conductance of `neurons[k]` (relative to leak).
    pub ge: Vec<Vec<f32>>,
    /// `[k][step]`: inhibitory conductance of `neurons[k]` (relative to leak).
    pub gi: Vec<Vec<f32>>,
    /// Base threshold of the excitatory neurons (mV): neuron `i` fires at `v >= this + θ[i]`.
    pub v_threshold_mv: f32,
}

/// [`SnnError::NonFinite`] for `population`, `variable`, `neuron`, seen by step `clock`.
fn nonfinite(population: String, variable: &str, neuron: usize, clock: u32) -> SnnError {
    SnnError::NonFinite {
        population,
        variable: variable.into(),
        neuron,
        step: clock as u64,
    }
}

/// The CPU reference backend of the competitive layer.
pub struct CpuCompetitive {
    c: Consts,
    w: Vec<f32>,
    theta: Vec<f32>,
    st: NetState,
}

/// How [`CpuCompetitive`] runs; every choice gives the same bits (speed only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuOptions {
    /// The compiled copy of the step to run; `None`: the best this processor has
    /// ([`SimdLevel::best`]). A level below it is for benchmarks and for the test that
    /// checks that all give the same bits.
    pub simd: Option<SimdLevel>,
    /// With delays and learning: depress only where a weight can change (`true`, the
    /// default) or at every arriving synapse (`false`: the plain reference the tests compare
    /// it with, and a baseline for benchmarks).
    pub depression_queue: bool,
}

impl Default for CpuOptions {
    fn default() -> Self {
        CpuOptions {
            simd: None,
            depression_queue: true,
        }
    }
}

impl CpuCompetitive {
    /// Builds the network with initial weights drawn from the spec's seed.
    ///
    /// # Errors
    /// [`CompetitiveSpec::validate`]'s errors.
    pub fn new(spec: &CompetitiveSpec) -> Result<Self> {
        spec.validate()?;
        let c = Consts::new(spec);
        let w = super::memory::huge_page_vec(&spec.input.initial_dense(c.n_in, c.n, spec.seed));
        let theta = vec![spec.exc.theta.map_or(0.0, |t| t.theta_init_mv); c.n];
        let st = NetState::new(&c, spec.exc.v_init_mv, spec.inh.v_init_mv);
        Ok(CpuCompetitive { c, w, theta, st })
    }

    /// [`Self::new`] run as `opts` says. Every choice gives the same bits.
    ///
    /// # Errors
    /// [`CompetitiveSpec::validate`]'s errors; [`SnnError::Unsupported`] if this processor
    /// cannot run `opts.simd`.
    pub fn with_options(spec: &CompetitiveSpec, opts: &CpuOptions) -> Result<Self> {
        let mut b = Self::new(spec)?;
        if let Some(level) = opts.simd {
            if !level.available() {
                return Err(SnnError::Unsupported(format!(
                    "this processor cannot run the {} copy of the CPU step (it runs up to {})",
                    level.name(),
                    SimdLevel::best().name()
                )));
            }
            b.c.simd = level;
        }
        b.c.dep_queue = opts.depression_queue;
        Ok(b)
    }

    /// The copy of the step this network runs.
    pub fn simd(&self) -> SimdLevel {
        self.c.simd
    }

    /// One frozen presentation of `rates_hz` (`opts.frozen()`: from the rest state, no
    /// learning), recorded step by step: every spike, and the v, θ, ge, gi traces of the
    /// excitatory `neurons`. It runs the code of `present_frozen_batch` (image `k` of a batch
    /// with `key + k` gives the same spikes as one image with that key) and leaves the network
    /// and its state untouched.
    ///
    /// # Errors
    /// Bad rates (as `present`); a neuron index `>= n_exc`.
    pub fn present_recorded(
        &mut self,
        rates_hz: &[f32],
        opts: &PresentOptions,
        neurons: &[u32],
    ) -> Result<PresentationRecord> {
        let active = self.c.active_inputs(rates_hz)?;
        if let Some(&i) = neurons.iter().find(|&&i| i as usize >= self.c.n) {
            return Err(SnnError::invalid(
                "neurons",
                i,
                format!("excitatory neuron indices below {}", self.c.n),
            ));
        }
        let frozen = opts.frozen();
        let mut st = NetState::new(&self.c, 0.0, 0.0);
        st.reset(&self.c);
        let steps = frozen.steps_on as usize;
        let traces = || vec![Vec::with_capacity(steps); neurons.len()];
        let mut rec = PresentationRecord {
            dt_ms: self.c.dt_ms,
            steps: frozen.steps_on,
            input_spikes: vec![],
            exc_spikes: vec![],
            inh_spikes: vec![],
            counts: vec![],
            neurons: neurons.to_vec(),
            v_mv: traces(),
            theta_mv: traces(),
            ge: traces(),
            gi: traces(),
            v_threshold_mv: self.c.exc.v_threshold_mv,
        };
        let spikes = |t: u32, spiked: &[bool], out: &mut Vec<(u32, u32)>| {
            let fired = spiked.iter().enumerate().filter(|(_, &s)| s);
            out.extend(fired.map(|(i, _)| (t, i as u32)));
        };
        rec.counts = presentation_observed(
            &self.c,
            &mut self.w,
            &mut self.theta,
            &mut st,
            &active,
            &frozen,
            &mut |t, s, theta| {
                rec.input_spikes.extend(s.spikes_in.iter().map(|&j| (t, j)));
                spikes(t, &s.exc_spiked, &mut rec.exc_spikes);
                spikes(t, &s.inh_spiked, &mut rec.inh_spikes);
                for (k, &i) in neurons.iter().enumerate() {
                    let i = i as usize;
                    rec.v_mv[k].push(s.exc.v[i]);
                    rec.theta_mv[k].push(theta[i]);
                    rec.ge[k].push(s.exc.ge[i]);
                    rec.gi[k].push(s.exc.gi[i]);
                }
            },
        );
        Ok(rec)
    }

    /// After a presentation: the first NaN/Inf of either population's state, θ or the
    /// input weights (`w`, neuron = flat index `j·n + i`), as [`SnnError::NonFinite`].
    fn check_finite(&self) -> Result<()> {
        let found = self.st.nonfinite.or_else(|| {
            // A test without early exit vectorises; the position is looked for only once
            // something is found (after every presentation, over all n_in · n weights).
            let all_finite = self.w.iter().fold(true, |ok, v| ok & v.is_finite());
            if all_finite {
                return None;
            }
            let i = self.w.iter().position(|v| !v.is_finite())?;
            Some(("input", "w", i, self.st.clock))
        });
        match found {
            Some((pop, var, i, clock)) => Err(nonfinite(pop.into(), var, i, clock)),
            None => Ok(()),
        }
    }
}

impl CompetitiveBackend for CpuCompetitive {
    fn describe(&self) -> String {
        "cpu".into()
    }

    fn present(&mut self, rates_hz: &[f32], opts: &PresentOptions) -> Result<Vec<u32>> {
        let active = self.c.active_inputs(rates_hz)?;
        let counts = presentation(
            &self.c,
            &mut self.w,
            &mut self.theta,
            &mut self.st,
            &active,
            opts,
        );
        self.check_finite()?;
        Ok(counts)
    }

    fn present_frozen_batch(
        &mut self,
        rates_hz: &[Vec<f32>],
        opts: &PresentOptions,
    ) -> Result<Vec<Vec<u32>>> {
        let actives = self.c.active_inputs_batch(rates_hz)?;
        let frozen = opts.frozen();
        let c = &self.c;
        let (w0, th0) = (&self.w, &self.theta);
        let mut fresh = NetState::new(c, 0.0, 0.0);
        fresh.reset(c);
        actives
            .par_iter()
            .enumerate()
            .map_init(
                || (w0.clone(), th0.clone(), fresh.clone()),
                |(w, th, st), (k, active)| {
                    st.reset(c);
                    let o = PresentOptions {
                        key: opts.key.wrapping_add(k as u32),
                        ..frozen
                    };
                    let counts = presentation(c, w, th, st, active, &o);
                    match st.nonfinite {
                        Some((pop, var, i, clock)) => Err(nonfinite(
                            format!("{pop} (frozen copy, image {k} of the batch)"),
                            var,
                            i,
                            clock,
                        )),
                        None => Ok(counts),
                    }
                },
            )
            .collect::<Vec<Result<Vec<u32>>>>()
            // In input order, so the error names the first bad image whatever the threads did.
            .into_iter()
            .collect()
    }

    fn weights(&mut self) -> Result<Vec<f32>> {
        Ok(self.w.clone())
    }

    fn theta(&mut self) -> Result<Vec<f32>> {
        Ok(self.theta.clone())
    }

    fn load(&mut self, weights: &[f32], theta_mv: &[f32]) -> Result<()> {
        self.c.check_loaded(weights, theta_mv)?;
        self.w.copy_from_slice(weights);
        self.theta.copy_from_slice(theta_mv);
        Ok(())
    }

    fn snapshot(&mut self) -> Result<Snapshot> {
        let mut s = Snapshot::new("cpu");
        s.push_f32("w", &self.w);
        s.push_f32("theta", &self.theta);
        self.st.save(&self.c, &mut s);
        Ok(s)
    }

    fn restore(&mut self, s: &Snapshot) -> Result<()> {
        s.expect_backend("cpu")?;
        let w = s.f32s("w", Some(self.w.len()))?;
        let theta = s.f32s("theta", Some(self.theta.len()))?;
        self.st.load(&self.c, s)?;
        // Into the buffer made in `new` (huge pages, see `memory`); the length was checked.
        self.w.copy_from_slice(&w);
        self.theta = theta;
        Ok(())
    }
}
