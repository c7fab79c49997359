//! Projections between populations: connectivity, target (conductance or membrane), sign and bounds,
//! initial weights, and column normalisation.
//!
//! Plain data of the competitive layer (`experiments::diehl_cook::spec`). Weights of a dense
//! projection are stored `[pre][post]` (row `j` holds the outgoing weights of input `j`),
//! as the original code's `XeAe` matrix, so a pre spike reads one contiguous row
//! (event-driven propagation).

use crate::encode::rng::rng_u32;
use crate::error::{Result, SnnError};

/// Which postsynaptic variable a projection drives, and so its sign.
///
/// Weights are non-negative magnitudes: the sign comes from the target, so an excitatory
/// synapse can never turn inhibitory or the reverse.
///
/// | target | serde | a spike of weight `w` | sign | needs |
/// |---|---|---|---|---|
/// | `Ge` | `"ge"` | `ge += w` (pulls `v` toward E_exc) | excitatory | conductance LIF |
/// | `Gi` | `"gi"` | `gi += w` (pulls `v` toward E_inh) | inhibitory | conductance LIF |
/// | `Membrane { sign: Excitatory }` | `{"membrane": {"sign": "excitatory"}}` (or `"v"`) | `v += w` mV | excitatory | any model |
/// | `Membrane { sign: Inhibitory }` | `{"membrane": {"sign": "inhibitory"}}` (or `"v"`) | `v −= w` mV | inhibitory | any model |
///
/// A membrane target is current-based input, as BindsNET's `DiehlAndCook2015` (IF/LIF
/// nodes, weights added to `v`): the weight is a voltage jump in mV. The jumps arriving at a
/// neuron in step `t` (input spikes drawn at `t`, or reaching it at `t` through an input
/// delay; lateral spikes of step `t − 1`) are summed, inhibitory ones subtracted, and the sum
/// `x_v` is added to `v` **in the charge stage of step `t`, after the model's own update and
/// before fire**: IF `v ← v + x_v`, LIF `v ← v_rest + (v − v_rest)·e^(−dt/τ_m) + x_v`,
/// conductance LIF `v ← v + dv + x_v` (`dv` the conductance Euler step). Like all of charge
/// it is subject to the refractory clamp: a jump reaching a refractory neuron is lost. The
/// same on the CPU (`cpu::engine`, step 4) and on the GPU (each population's neuron pass,
/// `gpu::engine::program` and `shaders/engine/*.wgsl`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Excitatory conductance `ge`.
    Ge,
    /// Inhibitory conductance `gi`.
    Gi,
    /// The membrane potential `v` itself: the weight is a jump of `w` mV, added or
    /// subtracted as `sign` says.
    #[serde(alias = "v")]
    Membrane {
        /// Whether a spike raises (`Excitatory`) or lowers (`Inhibitory`) `v`.
        sign: Sign,
    },
}

/// The sign of a projection: fixed by its [`Target`], never by its weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sign {
    /// Spikes raise `v` (or `ge`).
    Excitatory,
    /// Spikes lower `v` (or raise `gi`).
    Inhibitory,
}

impl Target {
    /// An excitatory membrane target: `v += w`.
    pub const MEMBRANE_EXC: Target = Target::Membrane {
        sign: Sign::Excitatory,
    };
    /// An inhibitory membrane target: `v −= w`.
    pub const MEMBRANE_INH: Target = Target::Membrane {
        sign: Sign::Inhibitory,
    };

    /// The sign this target gives a projection.
    pub fn sign(self) -> Sign {
        match self {
            Target::Ge => Sign::Excitatory,
            Target::Gi => Sign::Inhibitory,
            Target::Membrane { sign } => sign,
        }
    }

    /// Whether the target is a conductance (`ge`/`gi`), which only conductance models have.
    pub fn is_conductance(self) -> bool {
        matches!(self, Target::Ge | Target::Gi)
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Target::Ge => "ge",
            Target::Gi => "gi",
            Target::Membrane {
                sign: Sign::Excitatory,
            } => "membrane (excitatory)",
            Target::Membrane {
                sign: Sign::Inhibitory,
            } => "membrane (inhibitory)",
        })
    }
}

/// Who connects to whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Connectivity {
    /// Every pre to every post, one weight each.
    Dense,
    /// Pre `i` to post `i` only (same sizes).
    OneToOne,
    /// Pre `i` to every post `j ≠ i` (same sizes): lateral inhibition.
    AllButSelf,
}

/// Initial weights.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WeightInit {
    /// Every weight equal.
    Constant {
        /// The weight.
        value: f32,
    },
    /// `scale · (U[0,1) + offset)`: Diehl & Cook use scale 0.3, offset 0.01.
    ScaledUniform {
        /// Multiplier.
        scale: f32,
        /// Added to the uniform draw before scaling.
        offset: f32,
    },
}

/// A projection's weights, sign and plasticity bounds.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Projection {
    /// Connectivity.
    pub connectivity: Connectivity,
    /// Driven variable (fixes the sign).
    pub target: Target,
    /// Initial weights.
    pub init: WeightInit,
    /// Lower weight bound (≥ 0: weights are magnitudes).
    pub w_min: f32,
    /// Upper weight bound.
    pub w_max: f32,
}

impl Projection {
    /// A fixed projection where every existing synapse has weight `w`.
    pub fn fixed(connectivity: Connectivity, target: Target, w: f32) -> Self {
        Projection {
            connectivity,
            target,
            init: WeightInit::Constant { value: w },
            w_min: w,
            w_max: w,
        }
    }

    /// Checks the sign constraint and bounds; `field` names the projection in messages.
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`] if `w_min < 0`, `w_max < w_min`, a value is not finite,
    /// or a constant initial weight lies outside the bounds.
    pub fn validate(&self, field: &str) -> Result<()> {
        if !(self.w_min >= 0.0) || !self.w_min.is_finite() {
            return Err(SnnError::invalid(
                format!("{field}.w_min"),
                self.w_min,
                "a finite bound >= 0 (weights are magnitudes; choose an inhibitory target, gi or \
                 membrane with sign inhibitory, for inhibition)",
            ));
        }
        if !(self.w_max >= self.w_min) || !self.w_max.is_finite() {
            return Err(SnnError::invalid(
                format!("{field}.w_max"),
                self.w_max,
                format!("finite and >= w_min ({})", self.w_min),
            ));
        }
        match self.init {
            WeightInit::Constant { value } if !(value >= self.w_min && value <= self.w_max) => {
                Err(SnnError::invalid(
                    format!("{field}.init.value"),
                    value,
                    format!(
                        "a weight in [w_min, w_max] = [{}, {}]",
                        self.w_min, self.w_max
                    ),
                ))
            }
            WeightInit::ScaledUniform { scale, offset }
                if !(scale >= 0.0 && scale.is_finite() && offset.is_finite()) =>
            {
                Err(SnnError::invalid(
                    format!("{field}.init"),
                    format!("scale {scale}, offset {offset}"),
                    "finite, scale >= 0",
                ))
            }
            // The engines take initial weights inside the bounds only.
            WeightInit::ScaledUniform { scale, offset }
                if !(scale * offset >= self.w_min && scale * (1.0 + offset) <= self.w_max) =>
            {
                Err(SnnError::invalid(
                    format!("{field}.w_max"),
                    self.w_max,
                    format!(
                        "bounds [w_min, w_max] that hold the initial weights {scale}·(u + \
                         {offset}), u in [0, 1): [{}, {}]",
                        scale * offset,
                        scale * (1.0 + offset)
                    ),
                ))
            }
            _ => Ok(()),
        }
    }

    /// Initial dense weights `[pre][post]`, drawn from the counter-based RNG with `seed`.
    pub fn initial_dense(&self, n_pre: usize, n_post: usize, seed: u32) -> Vec<f32> {
        match self.init {
            WeightInit::Constant { value } => vec![value; n_pre * n_post],
            WeightInit::ScaledUniform { scale, offset } => (0..n_pre * n_post)
                .map(|k| {
                    let u =
                        (rng_u32(seed, 0x5EED_0000, k as u32) >> 8) as f32 / (1u32 << 24) as f32;
                    scale * (u + offset)
                })
                .collect(),
        }
    }
}

/// Scales each column of `w` (`[pre][post]`, `n_post` columns) to sum to `target`.
///
/// Sums run over `pre` in ascending order in f32, as the GPU pass does, so both backends
/// get the same weights. A column summing to 0 is left alone. No clipping follows (as in the
/// original code: a weight may exceed w_max until the next STDP update clips it).
pub fn normalize_columns(w: &mut [f32], n_post: usize, target: f32) {
    normalize_columns_bounds(w, n_post, target);
}

/// [`normalize_columns`], returning each column's smallest and largest weight after the
/// scaling (`[post]`; NaN weights are skipped), found in the same pass.
pub fn normalize_columns_bounds(w: &mut [f32], n_post: usize, target: f32) -> (Vec<f32>, Vec<f32>) {
    let mut sums = vec![0f32; n_post];
    for row in w.chunks_exact(n_post) {
        for (s, &x) in sums.iter_mut().zip(row) {
            *s += x;
        }
    }
    let factors: Vec<f32> = sums
        .iter()
        .map(|&s| if s > 0.0 { target / s } else { 1.0 })
        .collect();
    let mut lo = vec![f32::INFINITY; n_post];
    let mut hi = vec![f32::NEG_INFINITY; n_post];
    for row in w.chunks_exact_mut(n_post) {
        for (((x, &f), l), h) in row.iter_mut().zip(&factors).zip(&mut lo).zip(&mut hi) {
            *x *= f;
            widen(l, h, *x);
        }
    }
    (lo, hi)
}

/// Each column's smallest and largest weight (`[post]`; NaN weights are skipped).
pub fn column_bounds(w: &[f32], n_post: usize) -> (Vec<f32>, Vec<f32>) {
    let mut lo = vec![f32::INFINITY; n_post];
    let mut hi = vec![f32::NEG_INFINITY; n_post];
    for row in w.chunks_exact(n_post) {
        for ((&x, l), h) in row.iter().zip(&mut lo).zip(&mut hi) {
            widen(l, h, x);
        }
    }
    (lo, hi)
}

/// Widens the bounds `[l, h]` to take in `x`; a NaN leaves them. Comparisons, not
/// f32::min/max: they compile to single min/max instructions and skip NaN all the same.
#[inline(always)]
fn widen(l: &mut f32, h: &mut f32, x: f32) {
    *l = if x < *l { x } else { *l };
    *h = if x > *h { x } else { *h };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_sets_column_sums() {
        let (n_pre, n_post) = (784, 5);
        let p = Projection {
            connectivity: Connectivity::Dense,
            target: Target::Ge,
            init: WeightInit::ScaledUniform {
                scale: 0.3,
                offset: 0.01,
            },
            w_min: 0.0,
            w_max: 1.0,
        };
        let mut w = p.initial_dense(n_pre, n_post, 1);
        assert!(w.iter().all(|&x| (0.003..0.3031).contains(&x)));
        normalize_columns(&mut w, n_post, 78.0);
        for i in 0..n_post {
            let s: f64 = (0..n_pre).map(|j| w[j * n_post + i] as f64).sum();
            assert!((s - 78.0).abs() < 1e-3, "column {i} sums to {s}");
        }
    }

    #[test]
    fn zero_column_is_left_alone() {
        let mut w = vec![0.0, 1.0, 0.0, 3.0];
        normalize_columns(&mut w, 2, 2.0);
        assert_eq!(w, vec![0.0, 0.5, 0.0, 1.5]);
    }

    #[test]
    fn sign_constraint_is_enforced() {
        let mut p = Projection::fixed(Connectivity::AllButSelf, Target::Gi, 17.0);
        assert!(p.validate("inh_to_exc").is_ok());
        p.w_min = -1.0;
        let msg = p.validate("inh_to_exc").unwrap_err().to_string();
        assert!(
            msg.contains("inh_to_exc.w_min") && msg.contains(">= 0"),
            "{msg}"
        );
    }
}
