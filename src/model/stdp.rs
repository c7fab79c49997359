//! Trace STDP: the rule, its learning rates, trace time constants and weight bounds.
//!
//! Read by the CPU reference (`cpu::stdp`) and the GPU network kernel
//! (`shaders/plasticity/stdp.wgsl`), after the neuron stages of a step: as their own
//! dispatches in the stepwise schedule (`ws_stdp_pre`, `ws_stdp_post`), and in the fused one
//! as the same functions, depression in each neuron's loop and potentiation after a barrier.
//!
//! # Traces (nearest-spike: set to 1, not incremented)
//!
//! `pre` per input, `post1`, `post2` per excitatory neuron, each decaying as `e^(−dt/τ)` per
//! step; a spike sets its trace to 1 after the weight update it triggers. The one exception
//! is `PairAllToAll` (the general engines, CPU and GPU; not the WTA engine): a spike adds 1 to its trace, so every pre–post
//! pair counts, not only the nearest.
//!
//! # Rules (w in [w_min, w_max], clipped after every update)
//!
//! | rule | on a pre spike (depression) | on a post spike (potentiation) | source |
//! |---|---|---|---|
//! | `Triplet` | `w −= ν_pre·post1` | `w += ν_post·pre·post2_before` | Diehl & Cook code (Pfister & Gerstner nearest-spike minimal triplet) |
//! | `Pair` | `w −= ν_pre·post1` | `w += ν_post·pre` | BindsNET `PostPre` |
//! | `PairAllToAll` | `w −= ν_pre·post1` | `w += ν_post·pre` (traces add up) | Song, Miller & Abbott 2000 |
//! | `WeightDependent` | none | `w += ν_post·(pre − x_tar)·(w_max − w)^μ` | the paper's power-law rule |
//!
//! `post2_before` is `post2` before this spike sets it to 1, so the first spike after a
//! silence potentiates almost nothing. Pre-before-post potentiates, post-before-pre
//! depresses: `tests/engine/stdp_rule.rs` pins both signs.

use crate::error::{Result, SnnError};

/// Which weight update the traces drive.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum StdpRule {
    /// Diehl & Cook's code: nearest-spike minimal triplet.
    Triplet,
    /// Pair rule (BindsNET's PostPre).
    Pair,
    /// Pair rule with all-to-all pairing: each spike adds 1 to its trace (Song, Miller &
    /// Abbott 2000; Brian2's example of it). Only the general engine (`cpu::engine`) has it.
    PairAllToAll,
    /// Power-law weight dependence: `Δw = ν_post (pre − x_tar)(w_max − w)^μ` at post spikes.
    WeightDependent {
        /// Target presynaptic trace x_tar.
        x_tar: f32,
        /// Exponent μ.
        mu: f32,
    },
}

/// STDP parameters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdpParams {
    /// The rule.
    pub rule: StdpRule,
    /// Depression rate ν_pre (per pre spike).
    pub nu_pre: f32,
    /// Potentiation rate ν_post (per post spike).
    pub nu_post: f32,
    /// Presynaptic trace time constant (ms).
    pub tau_pre_ms: f32,
    /// First postsynaptic trace time constant (ms).
    pub tau_post1_ms: f32,
    /// Second (triplet) postsynaptic trace time constant (ms).
    pub tau_post2_ms: f32,
}

impl StdpParams {
    /// Diehl & Cook's code (`Diehl&Cook_spiking_MNIST.py`, `eqs_stdp_ee`): triplet, ν_pre = 1e-4, ν_post = 1e-2, τ 20/20/40 ms.
    pub fn diehl_cook() -> Self {
        StdpParams {
            rule: StdpRule::Triplet,
            nu_pre: 1e-4,
            nu_post: 1e-2,
            tau_pre_ms: 20.0,
            tau_post1_ms: 20.0,
            tau_post2_ms: 40.0,
        }
    }

    /// Checks rates and time constants against `dt_ms`.
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`] naming the field.
    pub fn validate(&self, dt_ms: f32) -> Result<()> {
        for (f, v) in [("stdp.nu_pre", self.nu_pre), ("stdp.nu_post", self.nu_post)] {
            if !(v >= 0.0 && v.is_finite()) {
                return Err(SnnError::invalid(f, v, "a finite learning rate >= 0"));
            }
        }
        for (f, v) in [
            ("stdp.tau_pre_ms", self.tau_pre_ms),
            ("stdp.tau_post1_ms", self.tau_post1_ms),
            ("stdp.tau_post2_ms", self.tau_post2_ms),
        ] {
            // The dt hint only for a positive τ (for -20 or NaN it would read "dt <= -4 ms").
            if !(v > 0.0 && v.is_finite()) {
                return Err(SnnError::invalid(f, v, "a finite time constant > 0 ms"));
            }
            if v <= dt_ms {
                return Err(SnnError::invalid(
                    f,
                    v,
                    format!(
                        "a finite time constant larger than dt = {dt_ms} ms (use dt <= {} ms)",
                        v / crate::model::neuron::STEPS_PER_TAU
                    ),
                ));
            }
        }
        if let StdpRule::WeightDependent { x_tar, mu } = self.rule {
            if !(x_tar.is_finite() && mu > 0.0 && mu.is_finite()) {
                return Err(SnnError::invalid(
                    "stdp.rule.mu / x_tar",
                    format!("mu {mu}, x_tar {x_tar}"),
                    "finite, mu > 0",
                ));
            }
        }
        Ok(())
    }

    /// Trace time constants that `dt_ms` resolves coarsely (`dt > τ/5`), each as a message
    /// naming the field; see [`crate::model::neuron::coarse_dt_warning`].
    pub fn warnings(&self, dt_ms: f32) -> Vec<String> {
        [
            ("stdp.tau_pre_ms", self.tau_pre_ms),
            ("stdp.tau_post1_ms", self.tau_post1_ms),
            ("stdp.tau_post2_ms", self.tau_post2_ms),
        ]
        .into_iter()
        .filter_map(|(f, tau)| crate::model::neuron::coarse_dt_warning(f, tau, dt_ms))
        .collect()
    }
}

/// Per-step constants of an STDP rule (derived once on the host).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DerivedStdp {
    /// `e^(−dt/τ_pre)`.
    pub decay_pre_per_step: f32,
    /// `e^(−dt/τ_post1)`.
    pub decay_post1_per_step: f32,
    /// `e^(−dt/τ_post2)`.
    pub decay_post2_per_step: f32,
}

impl StdpParams {
    /// Per-step decay factors at `dt_ms`.
    pub fn derive(&self, dt_ms: f32) -> DerivedStdp {
        let d = |tau: f32| (-(dt_ms as f64) / tau as f64).exp() as f32;
        DerivedStdp {
            decay_pre_per_step: d(self.tau_pre_ms),
            decay_post1_per_step: d(self.tau_post1_ms),
            decay_post2_per_step: d(self.tau_post2_ms),
        }
    }
}

/// The constants of one plastic projection's rule, derived once from [`StdpParams`] and its
/// weight bounds, as the STDP updates of every backend read them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StdpConsts {
    /// 0 triplet, 1 pair, 2 weight-dependent.
    pub rule: u32,
    /// ν_pre.
    pub nu_pre: f32,
    /// ν_post.
    pub nu_post: f32,
    /// Weight-dependent x_tar.
    pub x_tar: f32,
    /// Weight-dependent μ.
    pub mu: f32,
    /// Lower bound.
    pub w_min: f32,
    /// Upper bound.
    pub w_max: f32,
}

impl StdpConsts {
    /// From the rule and the projection's bounds.
    pub fn new(p: &StdpParams, w_min: f32, w_max: f32) -> Self {
        let (rule, x_tar, mu) = match p.rule {
            StdpRule::Triplet => (0, 0.0, 1.0),
            StdpRule::Pair | StdpRule::PairAllToAll => (1, 0.0, 1.0),
            StdpRule::WeightDependent { x_tar, mu } => (2, x_tar, mu),
        };
        StdpConsts {
            rule,
            nu_pre: p.nu_pre,
            nu_post: p.nu_post,
            x_tar,
            mu,
            w_min,
            w_max,
        }
    }
}

/// The table of `decay^k`, k = 0..len, by repeated f32 multiplication (pre-trace lookups).
pub fn decay_table(decay: f32) -> Vec<f32> {
    let mut t = vec![1.0f32];
    while *t.last().unwrap_or(&0.0) > 1e-9 && t.len() < PRE_TABLE_MAX {
        let next = t[t.len() - 1] * decay;
        t.push(next);
    }
    t
}

/// Most entries in the pre-trace table; older spikes count as trace 0.
pub const PRE_TABLE_MAX: usize = 8192;
