//! The constants of a competitive layer's network, derived once from its
//! [`CompetitiveSpec`], as the competitive GPU kernels (`gpu::wta`, `gpu::wta_multi`) read them.

use crate::encode::rng::probability_threshold;
use crate::error::Result;
use crate::model::stdp::{DerivedStdp, StdpConsts};
use crate::model::wta::{check_input_rates, check_loaded, decay_table, input_delays, Wiring};
use crate::model::{CompetitiveSpec, DerivedNeuron, NeuronKind};

/// Constants shared by all copies of one network.
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
}

/// Per-synapse input delays.
#[derive(Clone)]
pub(crate) struct Delays {
    /// Ring slots S = max delay + 1.
    pub slots: u32,
    /// Delay of each synapse `[input][exc]`, in steps.
    pub steps: Vec<u8>,
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
            delays: input_delays(spec).map(|(steps, slots)| Delays { slots, steps }),
            wiring: spec.wiring(),
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

    /// Checks the sizes and values of a loaded network (`model::wta::check_loaded`).
    pub fn check_loaded(&self, weights: &[f32], theta_mv: &[f32]) -> Result<()> {
        check_loaded(self.n_in, self.n, weights, theta_mv)
    }

    /// [`Self::active_inputs`] of every input of a batch.
    pub fn active_inputs_batch(&self, rates_hz: &[Vec<f32>]) -> Result<Vec<Vec<(u32, u32)>>> {
        rates_hz.iter().map(|r| self.active_inputs(r)).collect()
    }

    /// Poisson thresholds of the inputs with a non-zero rate, ascending by input.
    pub fn active_inputs(&self, rates_hz: &[f32]) -> Result<Vec<(u32, u32)>> {
        check_input_rates(self.n_in, self.dt_ms, rates_hz)?;
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
