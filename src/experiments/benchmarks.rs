//! The field's standard benchmark networks as [`Network`]s for the general engine: Brette et
//! al. 2007 Benchmarks 1 (COBA) and 2 (CUBA), and Song, Miller & Abbott 2000 STDP; with
//! their random initial states, the choice of backend, and the statistics they are judged by;
//! and [`driven_population`], the neuron-steps throughput workload.
//!
//! # COBA (Brette et al. 2007, Benchmark 1; Vogels & Abbott 2005)
//!
//! N neurons (80 % excitatory, 20 % inhibitory), conductance LIF, forward Euler at
//! dt = 0.1 ms: `C dv/dt = gL(El − v) + ge(Ee − v) + gi(Ei − v)` with C = 200 pF, gL = 10 nS
//! (τm = 20 ms), El = −60, Vt = −50, Vr = −60 mV, 5 ms refractory clamp, Ee = 0, Ei = −80 mV,
//! τe = 5 ms, τi = 10 ms. Dividing by gL gives the engine's conductance LIF
//! (`model::neuron`), whose `ge`, `gi` are in units of the leak: **g (model) = g (nS) / 10 nS**.
//! So we = 6 nS → 0.6, wi = 67 nS → 6.7, and the initial ge ~ N(40, 15) nS → N(4, 1.5),
//! gi ~ N(200, 120) nS → N(20, 12) (not clipped, as in Brian2's example); v ~ U[Vr, Vt].
//!
//! # CUBA (Benchmark 2)
//!
//! `τm dv/dt = (El − v) + ge − gi` (current LIF), τm = 20 ms, El = −49, Vt = −50, Vr = −60 mV,
//! 5 ms refractory clamp, τe = 5 ms, τi = 10 ms; a spike adds we = 1.62 mV to `ge` or
//! |wi| = 9 mV to `gi` (Brette's `gi` is the negative of ours); `ge`, `gi` start at 0, v ~
//! U[Vr, Vt].
//!
//! # Connectivity of both
//!
//! Each ordered pair (pre, post) is a synapse with probability p = 80 / N (0.02 at N = 4000;
//! autapses allowed, as Brian2's `connect(p=…)`), so every neuron has 80 inputs on average
//! at any N, 64 excitatory and 16 inhibitory. The pairs are drawn by geometric skips (cost
//! proportional to the synapses, not N²), from `rng_u32(key(seed, projection), pre, draw)`,
//! and given to the engine as a sorted list. Four projections: `ee`, `ei`, `ie`, `ii`
//! (pre, post: exc or inh). No delay: a spike of step t acts at t + 1, as in Brian2.
//!
//! # Song, Miller & Abbott 2000
//!
//! 1000 Poisson inputs at 15 Hz → one conductance LIF neuron, `τm dv/dt = (El − v) +
//! ge(Ee − v)`, τm = 10 ms, El = −74, Vt = −54, Vr = −60 mV, Ee = 0, τe = 5 ms, no
//! refractory period, v starting at Vr. Additive pair STDP with all-to-all pairing
//! (`model::stdp`, rule `PairAllToAll`: each spike adds 1 to its trace, as Song et al. and
//! Brian2's example): τ+ = τ− = 20 ms, A+ = 0.01·gmax, A− = 1.05·A+, gmax = 0.01 (units of
//! the leak); weights start U(0, gmax) and clip to [0, gmax]. With nearest-spike traces
//! (rule `Pair`) a post spike pairs with the last pre spike however many posts came
//! between, potentiation outgrows depression once the neuron fires fast, and every weight
//! runs to gmax: the split into two modes needs all pairs to count.

use crate::backend::{EngineChoice, Simulator};
use crate::encode::rng::rng_u32;
use crate::error::{Result, SnnError};
use crate::gpu::{GpuContext, GpuEngineOptions, GpuOptions};
use crate::model::net::Recording;
use crate::model::net::{Connectivity, MonitorKind, Network, Projection, Weights};
use crate::model::{
    CondLifParams, CurrentLifParams, Integration, NeuronKind, NeuronModel, ResetMode, StdpParams,
    StdpRule, Target,
};
use std::sync::Arc;

/// Time step of every benchmark here (ms).
pub const DT_MS: f32 = 0.1;
/// Mean inputs per neuron of COBA and CUBA, at any N (p = 80 / N).
pub const INPUTS_PER_NEURON: f64 = 80.0;
/// Fraction of excitatory neurons.
pub const EXC_FRACTION: f64 = 0.8;
/// The leak conductance of COBA (nS): conductances in nS divided by it are the model's.
pub const COBA_G_LEAK_NS: f32 = 10.0;
/// COBA excitatory and inhibitory weights (nS).
pub const COBA_WE_NS: f32 = 6.0;
/// See [`COBA_WE_NS`].
pub const COBA_WI_NS: f32 = 67.0;
/// CUBA excitatory jump of `ge` (mV).
pub const CUBA_WE_MV: f32 = 1.62;
/// CUBA inhibitory jump (mV), as a magnitude added to `gi` (Brette's wi = −9 mV).
pub const CUBA_WI_MV: f32 = 9.0;
/// Song et al.: number of inputs, their rate, and the weight bound (units of the leak).
pub const SONG_INPUTS: u32 = 1000;
/// See [`SONG_INPUTS`].
pub const SONG_RATE_HZ: f32 = 15.0;
/// See [`SONG_INPUTS`].
pub const SONG_GMAX: f32 = 0.01;

/// Streams of this module's own draws (initial states and connectivity keys).
const STREAM_INIT: u32 = 0xBE7C_0000;
const STREAM_CONN: u32 = 0xBE7C_1000;

/// Simulated seconds of `steps` steps of [`DT_MS`] (dt taken in whole nanoseconds, so
/// 10 000 steps are 1.0 s, not 1.0000000149).
pub fn sim_seconds(steps: u32) -> f64 {
    let dt_ns = (DT_MS as f64 * 1e6).round() as u64;
    (steps as u64 * dt_ns) as f64 / 1e9
}

/// Where a network runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The general CPU engine (`cpu::engine`).
    Cpu,
    /// The general GPU engine (`gpu::GpuEngine`), passes schedule.
    Gpu,
}

impl std::str::FromStr for Backend {
    type Err = SnnError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "cpu" => Ok(Backend::Cpu),
            "gpu" => Ok(Backend::Gpu),
            other => Err(SnnError::invalid("backend", other, "cpu or gpu")),
        }
    }
}

impl Backend {
    /// The name printed in results: `cpu` or `gpu`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
            Backend::Gpu => "gpu",
        }
    }
}

/// A benchmark network and the per-neuron initial values of its state variables.
#[derive(Debug, Clone)]
pub struct Benchmark {
    /// The network.
    pub network: Network,
    /// `(population, variable, one value per neuron)`, set before the first step.
    pub initial: Vec<(String, String, Vec<f32>)>,
}

impl Benchmark {
    /// The number of synapses of the network (sorted-list projections only: all of COBA
    /// and CUBA; others count as 0).
    pub fn synapses(&self) -> usize {
        self.network
            .projections
            .iter()
            .map(|p| match &p.connectivity {
                Connectivity::List(l) => l.len(),
                _ => 0,
            })
            .sum()
    }

    /// An engine at the initial state, step 0 ([`EngineChoice::simulator`], default
    /// options): on the CPU without `gpu`, on the GPU of `gpu` with it.
    ///
    /// # Errors
    /// The engines' own errors (on llvmpipe, a network whose loops could pass the driver's
    /// cap is refused).
    pub fn start(&self, gpu: Option<Arc<GpuContext>>) -> Result<Box<dyn Simulator>> {
        let choice = match gpu {
            None => EngineChoice::default(),
            Some(ctx) => EngineChoice::Gpu(ctx, GpuEngineOptions::default()),
        };
        let mut e = choice.simulator(&self.network)?;
        for (pop, var, values) in &self.initial {
            e.set_state(pop, var, 0, values)?;
        }
        Ok(e)
    }
}

impl Backend {
    /// The GPU context this backend runs on: none for the CPU, the adapter `opts` picks for
    /// the GPU.
    ///
    /// # Errors
    /// [`SnnError::NoAdapter`] and the other context errors.
    pub fn context(self, opts: &GpuOptions) -> Result<Option<Arc<GpuContext>>> {
        Ok(match self {
            Backend::Cpu => None,
            Backend::Gpu => Some(Arc::new(GpuContext::new(opts)?)),
        })
    }
}

/// A uniform draw in (0, 1) from a `u32`.
fn unit_open(u: u32) -> f64 {
    (u as f64 + 0.5) * (1.0 / 4_294_967_296.0)
}

/// `n` normal draws of mean `mean`, sd `sd` (Box–Muller on two streams).
fn normals(seed: u32, stream: u32, n: u32, mean: f64, sd: f64) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let u1 = unit_open(rng_u32(seed, stream, i));
            let u2 = unit_open(rng_u32(seed, stream + 1, i));
            let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            (mean + sd * z) as f32
        })
        .collect()
}

/// `n` uniform draws in [lo, hi).
fn uniforms(seed: u32, stream: u32, n: u32, lo: f64, hi: f64) -> Vec<f32> {
    (0..n)
        .map(|i| (lo + (hi - lo) * unit_open(rng_u32(seed, stream, i))) as f32)
        .collect()
}

/// Every ordered pair `(pre, post)` with probability `p`, drawn by geometric skips from
/// `rng_u32(key, pre, draw)`: sorted by pre, then post.
pub fn random_pairs(n_pre: u32, n_post: u32, p: f64, key: u32) -> Vec<(u32, u32)> {
    if p >= 1.0 {
        return (0..n_pre)
            .flat_map(|j| (0..n_post).map(move |i| (j, i)))
            .collect();
    }
    if p <= 0.0 {
        return vec![];
    }
    let ln_q = (1.0 - p).ln();
    let mut pairs = Vec::with_capacity((n_pre as f64 * n_post as f64 * p * 1.01) as usize + 16);
    for j in 0..n_pre {
        let mut i: i64 = -1;
        let mut draw = 0u32;
        loop {
            let skip = (unit_open(rng_u32(key, j, draw)).ln() / ln_q).floor();
            draw += 1;
            i += 1 + skip.min(n_post as f64) as i64;
            if i >= n_post as i64 {
                break;
            }
            pairs.push((j, i as u32));
        }
    }
    pairs
}

/// Sizes of the excitatory and inhibitory populations for `n` neurons.
pub fn split(n: u32) -> (u32, u32) {
    let n_exc = (n as f64 * EXC_FRACTION).round() as u32;
    (n_exc, n - n_exc)
}

/// COBA's and CUBA's network: `n` neurons of `model` in populations `exc` and `inh`, and
/// the four recurrent projections, `target_e`/`target_i` for excitatory and inhibitory
/// presynaptic neurons with weights `we`, `wi`.
fn recurrent(model: NeuronModel, n: u32, seed: u32, we: f32, wi: f32) -> Network {
    let (n_exc, n_inh) = split(n);
    let mut net = Network::new(DT_MS)
        .with_seeds(vec![seed])
        .neurons("exc", n_exc, model.clone())
        .neurons("inh", n_inh, model);
    let p = (INPUTS_PER_NEURON / n as f64).min(1.0);
    let size = |pop: &str| if pop == "exc" { n_exc } else { n_inh };
    for (q, (pre, post)) in [
        ("exc", "exc"),
        ("exc", "inh"),
        ("inh", "exc"),
        ("inh", "inh"),
    ]
    .into_iter()
    .enumerate()
    {
        let (target, w) = if pre == "exc" {
            (Target::Ge, we)
        } else {
            (Target::Gi, wi)
        };
        let key = rng_u32(seed, STREAM_CONN, q as u32);
        let pairs = random_pairs(size(pre), size(post), p, key);
        let name = format!("{}{}", &pre[..1], &post[..1]);
        net = net.project(Projection::new(
            &name,
            pre,
            post,
            target,
            Connectivity::List(pairs),
            w,
        ));
    }
    net.monitor("exc_spikes", "exc", MonitorKind::Spikes { neurons: None })
        .monitor("inh_spikes", "inh", MonitorKind::Spikes { neurons: None })
}

/// Initial `v ~ U[v_reset, v_threshold)` of both populations, and any further variables.
fn initial_v(n: u32, seed: u32, v_reset: f64, v_thr: f64) -> Vec<(String, String, Vec<f32>)> {
    let (n_exc, n_inh) = split(n);
    let all = uniforms(seed, STREAM_INIT, n, v_reset, v_thr);
    vec![
        ("exc".into(), "v".into(), all[..n_exc as usize].to_vec()),
        (
            "inh".into(),
            "v".into(),
            all[n_exc as usize..][..n_inh as usize].to_vec(),
        ),
    ]
}

/// COBA (Benchmark 1) with `n` neurons (at least 5), structure and initial state from `seed`.
///
/// # Errors
/// [`SnnError::InvalidParam`] for fewer than 5 neurons.
pub fn coba(n: u32, seed: u32) -> Result<Benchmark> {
    check_n(n)?;
    let model = NeuronModel {
        kind: NeuronKind::CondLif(CondLifParams {
            tau_m_ms: 20.0,
            v_rest_mv: -60.0,
            tau_ge_ms: 5.0,
            tau_gi_ms: 10.0,
            e_exc_mv: 0.0,
            e_inh_mv: -80.0,
            integration: Integration::Euler,
            clamp_v_to_reversal: false,
        }),
        v_threshold_mv: -50.0,
        reset: ResetMode::Hard { v_reset_mv: -60.0 },
        refractory_ms: 5.0,
        lockout_ms: 0.0,
        v_init_mv: -60.0,
        theta: None,
    };
    let net = recurrent(
        model,
        n,
        seed,
        COBA_WE_NS / COBA_G_LEAK_NS,
        COBA_WI_NS / COBA_G_LEAK_NS,
    );
    let mut initial = initial_v(n, seed, -60.0, -50.0);
    let ge = normals(seed, STREAM_INIT + 2, n, 4.0, 1.5);
    let gi = normals(seed, STREAM_INIT + 4, n, 20.0, 12.0);
    let (n_exc, n_inh) = split(n);
    for (g, name) in [(ge, "ge"), (gi, "gi")] {
        initial.push(("exc".into(), name.into(), g[..n_exc as usize].to_vec()));
        initial.push((
            "inh".into(),
            name.into(),
            g[n_exc as usize..][..n_inh as usize].to_vec(),
        ));
    }
    Ok(Benchmark {
        network: net,
        initial,
    })
}

/// CUBA (Benchmark 2) with `n` neurons (at least 5), structure and initial state from `seed`.
///
/// # Errors
/// [`SnnError::InvalidParam`] for fewer than 5 neurons.
pub fn cuba(n: u32, seed: u32) -> Result<Benchmark> {
    check_n(n)?;
    let model = NeuronModel {
        kind: NeuronKind::CurrentLif(CurrentLifParams::cuba()),
        v_threshold_mv: -50.0,
        reset: ResetMode::Hard { v_reset_mv: -60.0 },
        refractory_ms: 5.0,
        lockout_ms: 0.0,
        v_init_mv: -60.0,
        theta: None,
    };
    Ok(Benchmark {
        network: recurrent(model, n, seed, CUBA_WE_MV, CUBA_WI_MV),
        initial: initial_v(n, seed, -60.0, -50.0),
    })
}

fn check_n(n: u32) -> Result<()> {
    if n < 5 {
        return Err(SnnError::invalid(
            "n",
            n,
            "at least 5 neurons (4 excitatory, 1 inhibitory)",
        ));
    }
    Ok(())
}

/// Spike statistics of a recurrent benchmark run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpikeStats {
    /// All spikes.
    pub spikes: u64,
    /// Mean rate over all neurons (Hz).
    pub rate_hz: f64,
    /// Mean over neurons with at least 3 spikes of their ISI CV (population sd / mean of
    /// the intervals); NaN if none has 3.
    pub cv_isi: f64,
    /// Neurons with at least 3 spikes.
    pub neurons_with_3_spikes: u32,
}

/// [`SpikeStats`] of the `exc_spikes` and `inh_spikes` monitors of a COBA or CUBA engine,
/// over the `steps` steps recorded.
///
/// # Errors
/// [`SnnError::UnknownName`] if the engine has no such monitors.
pub fn spike_stats(e: &dyn Simulator, steps: u32) -> Result<SpikeStats> {
    let mut trains: Vec<Vec<u32>> = vec![];
    for m in ["exc_spikes", "inh_spikes"] {
        let Recording::Spikes(s) = e.recording(m, 0)? else {
            return Err(SnnError::invalid("monitor", m, "a spike monitor"));
        };
        let base = trains.len();
        let pop = &e.network().monitors.iter().find(|x| x.name == m);
        let size = pop
            .and_then(|x| e.network().population_index(&x.population).ok())
            .map_or(0, |p| e.network().populations[p].size as usize);
        trains.resize(base + size, vec![]);
        for &(t, i) in s {
            trains[base + i as usize].push(t);
        }
    }
    Ok(stats_of_trains(&trains, steps, e.network().dt_ms))
}

/// [`SpikeStats`] of spike trains (steps of each neuron, ascending) over `steps` steps of
/// `dt_ms`.
pub fn stats_of_trains(trains: &[Vec<u32>], steps: u32, dt_ms: f32) -> SpikeStats {
    let spikes: u64 = trains.iter().map(|t| t.len() as u64).sum();
    let sim_s = steps as f64 * (dt_ms as f64 * 1e6).round() / 1e9;
    let (mut cv_sum, mut k) = (0.0f64, 0u32);
    for t in trains.iter().filter(|t| t.len() >= 3) {
        let isi: Vec<f64> = t.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
        let mean = isi.iter().sum::<f64>() / isi.len() as f64;
        let var = isi.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / isi.len() as f64;
        cv_sum += var.sqrt() / mean;
        k += 1;
    }
    SpikeStats {
        spikes,
        rate_hz: spikes as f64 / (trains.len().max(1) as f64 * sim_s),
        cv_isi: if k > 0 { cv_sum / k as f64 } else { f64::NAN },
        neurons_with_3_spikes: k,
    }
}

/// Song, Miller & Abbott 2000: 1000 Poisson inputs (`in`) → one neuron (`out`), plastic
/// projection `syn`, spike monitor `out_spikes`; input and initial weights from `seed`.
pub fn song(seed: u32) -> Network {
    let model = NeuronModel {
        kind: NeuronKind::CondLif(CondLifParams {
            tau_m_ms: 10.0,
            v_rest_mv: -74.0,
            tau_ge_ms: 5.0,
            tau_gi_ms: 5.0,
            e_exc_mv: 0.0,
            e_inh_mv: -80.0,
            integration: Integration::Euler,
            clamp_v_to_reversal: false,
        }),
        v_threshold_mv: -54.0,
        reset: ResetMode::Hard { v_reset_mv: -60.0 },
        refractory_ms: 0.0,
        lockout_ms: 0.0,
        v_init_mv: -60.0,
        theta: None,
    };
    let a_plus = 0.01 * SONG_GMAX;
    let stdp = StdpParams {
        rule: StdpRule::PairAllToAll,
        nu_pre: 1.05 * a_plus,
        nu_post: a_plus,
        tau_pre_ms: 20.0,
        tau_post1_ms: 20.0,
        tau_post2_ms: 20.0,
    };
    Network::new(DT_MS)
        .with_seeds(vec![seed])
        .poisson("in", SONG_INPUTS, SONG_RATE_HZ)
        .neurons("out", 1, model)
        .project(
            Projection::new("syn", "in", "out", Target::Ge, Connectivity::AllToAll, 0.0)
                .with_weights(
                    Weights::Uniform {
                        low: 0.0,
                        high: SONG_GMAX,
                    },
                    0.0,
                    SONG_GMAX,
                )
                .with_stdp(stdp),
        )
        .monitor("out_spikes", "out", MonitorKind::Spikes { neurons: None })
}

/// Neurons in the rows of [`driven_population`]: dt (ms) and the Poisson weight into `ge`.
pub const DRIVEN_DT_MS: f32 = 0.5;
/// See [`DRIVEN_DT_MS`].
pub const DRIVEN_WEIGHT: f32 = 2.0;

/// The neuron-steps workload: `n` Diehl & Cook excitatory neurons (`exc`: conductance LIF
/// and θ) at dt = 0.5 ms, neuron `i` driven one-to-one (`in_exc`, weight 2 into `ge`) by its
/// own Poisson source (`in`) at `20 + 180 · ((37 i) mod 101) / 100` Hz, no monitor; input
/// from `seed`. It measures the neuron stages and the cheapest propagation.
pub fn driven_population(n: u32, seed: u32) -> Network {
    let rates_hz = (0..n)
        .map(|i| 20.0 + 180.0 * ((i * 37) % 101) as f32 / 100.0)
        .collect();
    let mut net = Network::new(DRIVEN_DT_MS)
        .with_seeds(vec![seed])
        .poisson("in", n, 0.0)
        .neurons("exc", n, NeuronModel::diehl_cook_excitatory())
        .project(Projection::new(
            "in_exc",
            "in",
            "exc",
            Target::Ge,
            Connectivity::OneToOne,
            DRIVEN_WEIGHT,
        ));
    net.populations[0].kind = crate::model::net::PopulationKind::Poisson { rates_hz };
    net
}

/// The weight statistics of Song et al.: fractions of w/gmax below 0.1 and above 0.9, and
/// the mean of w/gmax.
pub fn weight_fractions(w: &[f32], gmax: f32) -> (f64, f64, f64) {
    let n = w.len().max(1) as f64;
    let r = |x: f32| (x / gmax) as f64;
    (
        w.iter().filter(|&&x| r(x) < 0.1).count() as f64 / n,
        w.iter().filter(|&&x| r(x) > 0.9).count() as f64 / n,
        w.iter().map(|&x| r(x)).sum::<f64>() / n,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_pairs_have_the_binomial_count_and_are_sorted_and_distinct() {
        let pairs = random_pairs(2000, 1000, 0.02, 7);
        let mean = 2000.0 * 1000.0 * 0.02;
        let sd = (mean * 0.98f64).sqrt();
        assert!(
            (pairs.len() as f64 - mean).abs() < 4.0 * sd,
            "{} pairs",
            pairs.len()
        );
        assert!(pairs.windows(2).all(|w| w[0] < w[1]));
        assert!(pairs.iter().all(|&(j, i)| j < 2000 && i < 1000));
        // Posts are spread evenly: each tenth of them gets about a tenth of the synapses.
        let mut per = [0usize; 10];
        for &(_, i) in &pairs {
            per[i as usize / 100] += 1;
        }
        for c in per {
            assert!(
                (c as f64 - mean / 10.0).abs() < 5.0 * (mean / 10.0).sqrt(),
                "{per:?}"
            );
        }
    }

    #[test]
    fn isi_cv_of_a_regular_train_is_zero_and_of_alternating_intervals_known() {
        let regular = vec![vec![0, 10, 20, 30]];
        let s = stats_of_trains(&regular, 10_000, 0.1);
        assert_eq!(s.cv_isi, 0.0);
        assert!((s.rate_hz - 4.0).abs() < 1e-9);
        // Intervals 10, 30, 10, 30: mean 20, sd 10.
        let alt = vec![vec![0, 10, 40, 50, 80], vec![1, 2]];
        let s = stats_of_trains(&alt, 10_000, 0.1);
        assert!((s.cv_isi - 0.5).abs() < 1e-12);
        assert_eq!(s.neurons_with_3_spikes, 1);
    }
}
