//! External input to a population: a constant drive plus independent Poisson spike sources.
//!
//! Per step `t` and neuron `i` of network `b`, the input is
//! `x = constant + weight · [rng_u32(seed, t, b·n + i) < thr_i]` with
//! `thr_i = round(rate_i · dt / 1000 · 2³²)`. `x` is in mV for IF/LIF (a voltage jump) and
//! dimensionless for conductance LIF (added to `ge`). Both backends compute it the same way.

use crate::encode::rng::probability_threshold;
use crate::error::{Result, SnnError};

/// Independent Poisson spike sources, one per neuron.
#[derive(Debug, Clone, PartialEq)]
pub struct PoissonInput {
    /// Rate (Hz): one value for all neurons, or one per neuron.
    pub rate_hz: Vec<f32>,
    /// What one input spike adds to `x`.
    pub weight: f32,
}

/// What drives a population.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InputSpec {
    /// Added to `x` at every step.
    pub constant: f32,
    /// Optional Poisson sources.
    pub poisson: Option<PoissonInput>,
    /// Steps `[start, end)` during which the input is on (`None`: always).
    pub active_steps: Option<std::ops::Range<u32>>,
}

impl InputSpec {
    /// A constant drive only.
    pub fn constant(value: f32) -> Self {
        InputSpec {
            constant: value,
            poisson: None,
            active_steps: None,
        }
    }

    /// Poisson sources at `rate_hz` (all neurons), each spike adding `weight`.
    pub fn poisson(rate_hz: f32, weight: f32) -> Self {
        InputSpec {
            constant: 0.0,
            poisson: Some(PoissonInput {
                rate_hz: vec![rate_hz],
                weight,
            }),
            active_steps: None,
        }
    }

    /// Poisson sources with one rate per neuron.
    pub fn poisson_per_neuron(rate_hz: Vec<f32>, weight: f32) -> Self {
        InputSpec {
            constant: 0.0,
            poisson: Some(PoissonInput { rate_hz, weight }),
            active_steps: None,
        }
    }

    /// Checks values against the population size `n` and `dt_ms`.
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`] for a non-finite value, a negative rate, a rate above
    /// `1000 / dt` Hz (more than one spike per step), or a rate list of the wrong length.
    pub fn validate(&self, n: u32, dt_ms: f32) -> Result<()> {
        if !self.constant.is_finite() {
            return Err(SnnError::invalid(
                "input.constant",
                self.constant,
                "a finite number",
            ));
        }
        if let Some(p) = &self.poisson {
            if p.rate_hz.len() != 1 && p.rate_hz.len() != n as usize {
                return Err(SnnError::invalid(
                    "input.poisson.rate_hz",
                    format!("{} values", p.rate_hz.len()),
                    format!("1 value or one per neuron ({n})"),
                ));
            }
            let max_hz = 1000.0 / dt_ms;
            if let Some((i, r)) = p
                .rate_hz
                .iter()
                .enumerate()
                .find(|(_, r)| !(**r >= 0.0 && **r <= max_hz))
            {
                return Err(SnnError::invalid(
                    format!("input.poisson.rate_hz[{i}]"),
                    r,
                    format!("a rate in [0, {max_hz}] Hz (at most one spike per {dt_ms} ms step)"),
                ));
            }
            if !p.weight.is_finite() {
                return Err(SnnError::invalid(
                    "input.poisson.weight",
                    p.weight,
                    "a finite number",
                ));
            }
        }
        Ok(())
    }

    /// Per-neuron spike thresholds for [`crate::encode::rng::rng_u32`] (0 = no Poisson input).
    pub fn thresholds(&self, n: u32, dt_ms: f32) -> Vec<u32> {
        match &self.poisson {
            None => vec![0; n as usize],
            Some(p) => (0..n as usize)
                .map(|i| {
                    let r = if p.rate_hz.len() == 1 {
                        p.rate_hz[0]
                    } else {
                        p.rate_hz[i]
                    };
                    probability_threshold(r as f64 * dt_ms as f64 / 1000.0)
                })
                .collect(),
        }
    }

    /// Restricts the input to steps `[start, end)`.
    pub fn during(mut self, steps: std::ops::Range<u32>) -> Self {
        self.active_steps = Some(steps);
        self
    }

    /// The steps during which the input is on.
    pub fn active_range(&self) -> std::ops::Range<u32> {
        self.active_steps.clone().unwrap_or(0..u32::MAX)
    }

    /// Weight of one Poisson spike (0 without Poisson input).
    pub fn poisson_weight(&self) -> f32 {
        self.poisson.as_ref().map_or(0.0, |p| p.weight)
    }
}
