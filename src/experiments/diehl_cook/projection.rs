//! The competitive layer's three projections as plain data: connectivity, target, initial
//! weights and bounds (`CompetitiveSpec::input`, `exc_to_inh`, `inh_to_exc`).
//!
//! Weights of the dense input projection are drawn `[pre][post]` (row `j` holds the outgoing
//! weights of input `j`), as the original code's `XeAe` matrix. The general model has its
//! own projection type (`model::net::Projection`); `experiments::diehl_cook::model` builds
//! one from each of these.

use crate::encode::rng::rng_u32;
use crate::error::{Result, SnnError};
use crate::model::Target;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_uniform_draws_lie_in_the_range() {
        // The paper's input projection: 0.3 · (U[0,1) + 0.01).
        let p = crate::experiments::diehl_cook::config::DcConfig::preset("dc400")
            .unwrap()
            .to_spec()
            .input;
        let w = p.initial_dense(784, 5, 1);
        assert_eq!(w.len(), 784 * 5);
        assert!(w.iter().all(|&x| (0.003..0.3031).contains(&x)));
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
