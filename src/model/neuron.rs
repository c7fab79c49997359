//! Neuron models: what each neuron kind computes per step, as plain data (no wgpu).
//!
//! A [`NeuronModel`] is read by both backends: the CPU reference (`cpu::neuron`) and the
//! WGSL stages (`shaders/neuron/`). [`NeuronModel::derive`] turns it, with `dt`, into the
//! per-step constants ([`DerivedNeuron`]) that both backends use unchanged.
//!
//! # Stage order (every backend and schedule)
//!
//! Each step `t`, for each neuron, with `x` the input arriving at `t` (the projections into
//! its population, summed as `cpu::engine` says):
//!
//! 1. **charge**: the model's subthreshold update, `s ← charge(s, x)`. While the neuron is
//!    refractory (`refrac > clamp_above_steps`, i.e. for `refractory_ms` after a spike),
//!    `v` keeps its value (it is clamped at the reset value); other variables
//!    (conductances, custom state) still evolve.
//! 2. **fire**: `spike = refrac == 0 && v >= v_threshold_mv + theta`.
//! 3. **reset**: on a spike, hard (`v ← v_reset_mv`) or soft (`v ← v − (v_threshold_mv + θ)`),
//!    and `refrac ← max(refractory, lockout)` in steps; otherwise `refrac ← max(refrac − 1, 0)`.
//!    A lockout longer than the refractory period blocks spikes without clamping `v`
//!    (the Brian2 ports' 50 ms `timer`; Diehl & Cook's own code has none).
//! 4. **adapt**: unless frozen, `θ ← θ · decay_theta_per_step + θ⁺ · spike`.
//!
//! A spike at step `t` clamps `v` for steps `t+1 ..= t+refractory_steps`.
//!
//! # Built-in charge stages
//!
//! | model | charge (per step) | source |
//! |---|---|---|
//! | IF | `v ← v + x` | SpikingJelly `IFNode` |
//! | LIF | `v ← v_rest + (v − v_rest)·e^(−dt/τ_m) + x` (exact decay, voltage-jump input) | |
//! | conductance LIF | `ge ← ge + x`; `v ← v + ((v_rest−v) + ge(E_exc−v) + gi(E_inh−v))·dt/τ_m`; `ge ← ge·d_ge`; `gi ← gi·d_gi` | Diehl & Cook 2015 |
//! | current LIF | `ge ← ge + x`; `v ← v + ((v_rest−v) + ge − gi)·dt/τ_m`; `ge ← ge·d_ge`; `gi ← gi·d_gi` | Brette et al. 2007, Benchmark 2 (CUBA) |
//!
//! Conductance decay `d` is `1 − dt/τ` (forward Euler, as Brian 1 integrated the Diehl &
//! Cook model) or `e^(−dt/τ)` (exact), chosen by [`Integration`]. In conductance LIF `ge`,
//! `gi` are dimensionless (relative to the leak conductance); in current LIF they are
//! synaptic currents times the membrane resistance, in mV, and `gi` is the magnitude of the
//! inhibitory one (Brette et al. write `ge + gi` with `gi <= 0`; here `ge − gi`, `gi >= 0`,
//! as weights are magnitudes and the target gives the sign).

use crate::error::{Result, SnnError};
use std::sync::Arc;

/// How a neuron resets after a spike.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ResetMode {
    /// `v ← v_reset_mv`.
    Hard {
        /// Reset potential (mV).
        v_reset_mv: f32,
    },
    /// `v ← v − (v_threshold_mv + θ)`: subtract the threshold.
    Soft,
}

/// How linear decays (conductances) are discretised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Integration {
    /// Forward Euler, factor `1 − dt/τ`: what Brian 1 did for Diehl & Cook.
    #[default]
    Euler,
    /// Exact exponential, factor `e^(−dt/τ)`.
    Exact,
}

/// Leaky integrate-and-fire parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LifParams {
    /// Membrane time constant (ms).
    pub tau_m_ms: f32,
    /// Resting potential (mV).
    pub v_rest_mv: f32,
}

/// Conductance-based LIF parameters (the Diehl & Cook neuron).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CondLifParams {
    /// Membrane time constant (ms).
    pub tau_m_ms: f32,
    /// Resting potential (mV).
    pub v_rest_mv: f32,
    /// Excitatory conductance decay time constant (ms).
    pub tau_ge_ms: f32,
    /// Inhibitory conductance decay time constant (ms).
    pub tau_gi_ms: f32,
    /// Excitatory reversal potential (mV).
    pub e_exc_mv: f32,
    /// Inhibitory reversal potential (mV).
    pub e_inh_mv: f32,
    /// Discretisation of the conductance decay.
    pub integration: Integration,
    /// After each Euler step, keep v within [E_inh, E_exc], the range the exact solution
    /// never leaves. Off (the original code): a step with `gi·dt/τ_m > 1` can throw v far
    /// past E_inh and the network can run away (docs/diehl_cook.md, "Pitfalls"). On: such a step stops at
    /// the reversal potential; steps that stay in range are unchanged, bit for bit.
    pub clamp_v_to_reversal: bool,
}

impl CondLifParams {
    /// Diehl & Cook 2015 excitatory neuron (the original code's `neuron_eqs_e`; docs/diehl_cook.md).
    pub fn diehl_cook_excitatory() -> Self {
        CondLifParams {
            tau_m_ms: 100.0,
            v_rest_mv: -65.0,
            tau_ge_ms: 1.0,
            tau_gi_ms: 2.0,
            e_exc_mv: 0.0,
            e_inh_mv: -100.0,
            integration: Integration::Euler,
            clamp_v_to_reversal: false,
        }
    }
    /// Diehl & Cook 2015 inhibitory neuron (the original code's `neuron_eqs_i`; docs/diehl_cook.md).
    pub fn diehl_cook_inhibitory() -> Self {
        CondLifParams {
            tau_m_ms: 10.0,
            v_rest_mv: -60.0,
            tau_ge_ms: 1.0,
            tau_gi_ms: 2.0,
            e_exc_mv: 0.0,
            e_inh_mv: -85.0,
            integration: Integration::Euler,
            clamp_v_to_reversal: false,
        }
    }
}

/// Current-based LIF parameters: two exponentially decaying synaptic currents (Brette et al.
/// 2007, Benchmark 2), `τ_m dv/dt = (v_rest − v) + ge − gi`, `ge`, `gi` in mV.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CurrentLifParams {
    /// Membrane time constant (ms).
    pub tau_m_ms: f32,
    /// Resting potential (mV).
    pub v_rest_mv: f32,
    /// Excitatory current decay time constant (ms).
    pub tau_ge_ms: f32,
    /// Inhibitory current decay time constant (ms).
    pub tau_gi_ms: f32,
    /// Discretisation of the current decay.
    pub integration: Integration,
}

impl CurrentLifParams {
    /// The CUBA benchmark's neuron (Brette et al. 2007, Benchmark 2; Vogels & Abbott 2005):
    /// τ_m 20 ms, rest −49 mV, current decays of 5 ms (excitatory) and 10 ms (inhibitory),
    /// forward Euler.
    pub fn cuba() -> Self {
        CurrentLifParams {
            tau_m_ms: 20.0,
            v_rest_mv: -49.0,
            tau_ge_ms: 5.0,
            tau_gi_ms: 10.0,
            integration: Integration::Euler,
        }
    }
}

/// The CPU twin of a custom model's WGSL charge function.
///
/// `state[0]` is `v` and `state[1..]` are the custom variables in declaration order;
/// `params` are the custom parameters in declaration order; `x` is the step's input.
/// It must perform the same f32 operations, in the same order, as the WGSL body.
pub type CpuCharge = Arc<dyn Fn(&mut [f32], &[f32], f32) + Send + Sync>;

/// A user-defined neuron model: its own state variables, parameters and charge stage.
///
/// Fire, reset, refractoriness and the adaptive threshold are the engine's, shared with the
/// built-in models.
///
/// The WGSL body is pasted into
///
/// ```text
/// fn custom_charge(s: NeuronState, x: f32, p: NeuronParams) -> NeuronState { var o = s; BODY return o; }
/// ```
///
/// where `s.v` and `s.VAR` (one per declared variable) are the state and each parameter is a
/// `const` of its own name. [`CustomModel::charge_cpu`] gets the same values by index: `state[0]` is
/// `v`, `state[1..]` the variables and `params` the parameters, in declaration order. See
/// `docs/custom_neuron_model.md`.
#[derive(Clone)]
pub struct CustomModel {
    /// Model name, used in shader labels.
    pub name: String,
    /// Extra state variables (beyond `v`, `theta`, `refrac`) and their initial values.
    pub state_vars: Vec<(String, f32)>,
    /// Parameters and their values, visible in WGSL as `const`s.
    pub params: Vec<(String, f32)>,
    /// WGSL statements that write `o` from `s` and `x`.
    pub charge_wgsl: String,
    /// The same computation in Rust, for the CPU reference.
    pub charge_cpu: CpuCharge,
}

impl CustomModel {
    /// A model named `name` whose charge is `charge_wgsl` on the GPU and `charge_cpu` on the
    /// CPU; add variables and parameters with [`Self::with_var`] and [`Self::with_param`].
    pub fn new(
        name: impl Into<String>,
        charge_wgsl: impl Into<String>,
        charge_cpu: impl Fn(&mut [f32], &[f32], f32) + Send + Sync + 'static,
    ) -> Self {
        CustomModel {
            name: name.into(),
            state_vars: vec![],
            params: vec![],
            charge_wgsl: charge_wgsl.into(),
            charge_cpu: Arc::new(charge_cpu),
        }
    }

    /// Declares a state variable (`s.<name>` in WGSL, `state[k]` in Rust, k from 1).
    pub fn with_var(mut self, name: impl Into<String>, initial: f32) -> Self {
        self.state_vars.push((name.into(), initial));
        self
    }

    /// Declares a parameter (a WGSL `const`, `params[k]` in Rust, k from 0).
    pub fn with_param(mut self, name: impl Into<String>, value: f32) -> Self {
        self.params.push((name.into(), value));
        self
    }
}

impl std::fmt::Debug for CustomModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomModel")
            .field("name", &self.name)
            .field("state_vars", &self.state_vars)
            .field("params", &self.params)
            .field("charge_wgsl", &self.charge_wgsl)
            .finish_non_exhaustive()
    }
}

/// Which charge stage a population uses.
#[derive(Debug, Clone)]
pub enum NeuronKind {
    /// Integrate-and-fire: `v ← v + x`.
    If,
    /// Leaky integrate-and-fire with exact decay toward `v_rest_mv`.
    Lif(LifParams),
    /// Conductance-based LIF with `ge`, `gi` (Diehl & Cook).
    CondLif(CondLifParams),
    /// Current-based LIF with synaptic currents `ge`, `gi` in mV (Brette et al. CUBA).
    CurrentLif(CurrentLifParams),
    /// A user-defined charge stage.
    Custom(CustomModel),
}

/// Adaptive threshold θ: the effective threshold is `v_threshold_mv + θ`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThetaParams {
    /// Initial θ (mV).
    pub theta_init_mv: f32,
    /// Increment of θ at each spike (mV).
    pub theta_plus_mv: f32,
    /// Decay time constant of θ toward 0 (ms); `f32::INFINITY` for no decay.
    pub tau_theta_ms: f32,
    /// When true, θ neither grows nor decays (Diehl & Cook test mode).
    pub frozen: bool,
}

/// Everything that defines one neuron population's dynamics.
#[derive(Debug, Clone)]
pub struct NeuronModel {
    /// The charge stage and its parameters.
    pub kind: NeuronKind,
    /// Base firing threshold (mV); the effective one adds θ.
    pub v_threshold_mv: f32,
    /// Reset after a spike.
    pub reset: ResetMode,
    /// Absolute refractory period (ms), rounded to whole steps; `v` is clamped meanwhile.
    pub refractory_ms: f32,
    /// Spike lockout (ms) counted from a spike: no spike before it ends, but `v` is only
    /// clamped for `refractory_ms` (the Brian2 ports' 50 ms `timer`). 0: none.
    pub lockout_ms: f32,
    /// Initial membrane potential (mV).
    pub v_init_mv: f32,
    /// Adaptive threshold, if any.
    pub theta: Option<ThetaParams>,
}

/// Index of a state variable in [`NeuronModel::state_var_names`] for `v`.
pub const VAR_V: usize = 0;
/// Index of `theta`.
pub const VAR_THETA: usize = 1;

impl NeuronModel {
    /// Integrate-and-fire with threshold `v_threshold` and hard reset to `v_reset`.
    pub fn integrate_and_fire(v_threshold_mv: f32, v_reset_mv: f32) -> Self {
        NeuronModel {
            kind: NeuronKind::If,
            v_threshold_mv,
            reset: ResetMode::Hard { v_reset_mv },
            refractory_ms: 0.0,
            lockout_ms: 0.0,
            v_init_mv: v_reset_mv,
            theta: None,
        }
    }

    /// LIF resting at `params.v_rest_mv`, hard reset there, no refractory period.
    pub fn lif(params: LifParams, v_threshold_mv: f32) -> Self {
        NeuronModel {
            kind: NeuronKind::Lif(params),
            v_threshold_mv,
            reset: ResetMode::Hard {
                v_reset_mv: params.v_rest_mv,
            },
            refractory_ms: 0.0,
            lockout_ms: 0.0,
            v_init_mv: params.v_rest_mv,
            theta: None,
        }
    }

    /// The Diehl & Cook excitatory neuron (Diehl & Cook 2015, Methods; docs/diehl_cook.md): conductance LIF, threshold
    /// `−72 mV + θ` with θ starting at 20 mV (the code's `v_thresh − offset`), reset −65 mV,
    /// 5 ms refractory clamp, θ⁺ = 0.05 mV, τ_θ = 10⁷ ms, initial v = −105 mV. The clamp is
    /// Brian2's reading; the original code under Brian 1 has a 5 ms spike lockout and no clamp,
    /// which the Diehl & Cook presets use (`experiments::diehl_cook::config::Refractory`;
    /// here `.with_refractory_ms(0.0).with_lockout_ms(5.0 - dt_ms)`).
    pub fn diehl_cook_excitatory() -> Self {
        NeuronModel {
            kind: NeuronKind::CondLif(CondLifParams::diehl_cook_excitatory()),
            v_threshold_mv: -72.0,
            reset: ResetMode::Hard { v_reset_mv: -65.0 },
            refractory_ms: 5.0,
            lockout_ms: 0.0,
            v_init_mv: -105.0,
            theta: Some(ThetaParams {
                theta_init_mv: 20.0,
                theta_plus_mv: 0.05,
                tau_theta_ms: 1e7,
                frozen: false,
            }),
        }
    }

    /// The Diehl & Cook inhibitory neuron: threshold −40 mV, reset −45 mV, 2 ms refractory,
    /// initial v = −100 mV, no θ.
    pub fn diehl_cook_inhibitory() -> Self {
        NeuronModel {
            kind: NeuronKind::CondLif(CondLifParams::diehl_cook_inhibitory()),
            v_threshold_mv: -40.0,
            reset: ResetMode::Hard { v_reset_mv: -45.0 },
            refractory_ms: 2.0,
            lockout_ms: 0.0,
            v_init_mv: -100.0,
            theta: None,
        }
    }

    /// A user-defined model with threshold `v_threshold_mv` and `reset`; `v` starts at 0,
    /// no refractory period, no θ (add one with [`Self::with_theta`]).
    pub fn custom(model: CustomModel, v_threshold_mv: f32, reset: ResetMode) -> Self {
        NeuronModel {
            kind: NeuronKind::Custom(model),
            v_threshold_mv,
            reset,
            refractory_ms: 0.0,
            lockout_ms: 0.0,
            v_init_mv: 0.0,
            theta: None,
        }
    }

    /// Sets the initial membrane potential (mV).
    pub fn with_v_init_mv(mut self, v_init_mv: f32) -> Self {
        self.v_init_mv = v_init_mv;
        self
    }

    /// Adds (or replaces) an adaptive threshold.
    pub fn with_theta(mut self, theta: ThetaParams) -> Self {
        self.theta = Some(theta);
        self
    }

    /// Sets the refractory period (ms).
    pub fn with_refractory_ms(mut self, refractory_ms: f32) -> Self {
        self.refractory_ms = refractory_ms;
        self
    }

    /// Sets the spike lockout (ms); see [`NeuronModel::lockout_ms`].
    pub fn with_lockout_ms(mut self, lockout_ms: f32) -> Self {
        self.lockout_ms = lockout_ms;
        self
    }

    /// Sets the reset mode.
    pub fn with_reset(mut self, reset: ResetMode) -> Self {
        self.reset = reset;
        self
    }

    /// Names of the f32 state variables, in buffer order: `v`, `theta`, then the model's
    /// own (`ge`, `gi` for conductance LIF; the custom variables).
    pub fn state_var_names(&self) -> Vec<String> {
        let mut names = vec!["v".to_string(), "theta".to_string()];
        match &self.kind {
            NeuronKind::If | NeuronKind::Lif(_) => {}
            NeuronKind::CondLif(_) | NeuronKind::CurrentLif(_) => {
                names.push("ge".into());
                names.push("gi".into());
            }
            NeuronKind::Custom(c) => names.extend(c.state_vars.iter().map(|(n, _)| n.clone())),
        }
        names
    }

    /// Initial values of the variables in [`Self::state_var_names`].
    pub fn initial_values(&self) -> Vec<f32> {
        let theta0 = self.theta.map_or(0.0, |t| t.theta_init_mv);
        let mut init = vec![self.v_init_mv, theta0];
        match &self.kind {
            NeuronKind::If | NeuronKind::Lif(_) => {}
            NeuronKind::CondLif(_) | NeuronKind::CurrentLif(_) => init.extend([0.0, 0.0]),
            NeuronKind::Custom(c) => init.extend(c.state_vars.iter().map(|(_, v)| *v)),
        }
        init
    }

    /// Index of the named state variable.
    ///
    /// # Errors
    /// [`SnnError::UnknownName`] if the model has no such variable.
    pub fn var_index(&self, name: &str) -> Result<usize> {
        let names = self.state_var_names();
        names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| SnnError::UnknownName {
                kind: "state variable",
                name: name.to_string(),
                known: names.join(", "),
            })
    }

    /// Checks every parameter against `dt_ms`, naming the first bad field.
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`] for a non-finite value, a non-positive time constant, a
    /// time constant not larger than `dt`, a negative refractory period, a bad custom name.
    pub fn validate(&self, dt_ms: f32) -> Result<()> {
        let finite = |field: &str, v: f32| -> Result<()> {
            if v.is_finite() {
                Ok(())
            } else {
                Err(SnnError::invalid(field, v, "a finite number"))
            }
        };
        let tau = |field: &str, v: f32| -> Result<()> {
            if !(v > 0.0) || !v.is_finite() {
                return Err(SnnError::invalid(field, v, "a finite time constant > 0 ms"));
            }
            if v <= dt_ms {
                return Err(SnnError::invalid(
                    field,
                    v,
                    format!(
                        "a time constant larger than dt = {dt_ms} ms (use dt <= {} ms)",
                        v / STEPS_PER_TAU
                    ),
                ));
            }
            Ok(())
        };
        finite("v_threshold_mv", self.v_threshold_mv)?;
        finite("v_init_mv", self.v_init_mv)?;
        if let ResetMode::Hard { v_reset_mv } = self.reset {
            finite("reset.v_reset_mv", v_reset_mv)?;
        }
        check_period("refractory_ms", self.refractory_ms, dt_ms)?;
        check_period("lockout_ms", self.lockout_ms, dt_ms)?;
        match &self.kind {
            NeuronKind::If => {}
            NeuronKind::Lif(p) => {
                tau("lif.tau_m_ms", p.tau_m_ms)?;
                finite("lif.v_rest_mv", p.v_rest_mv)?;
            }
            NeuronKind::CondLif(p) => {
                tau("cond_lif.tau_m_ms", p.tau_m_ms)?;
                tau("cond_lif.tau_ge_ms", p.tau_ge_ms)?;
                tau("cond_lif.tau_gi_ms", p.tau_gi_ms)?;
                finite("cond_lif.v_rest_mv", p.v_rest_mv)?;
                finite("cond_lif.e_exc_mv", p.e_exc_mv)?;
                finite("cond_lif.e_inh_mv", p.e_inh_mv)?;
                if p.clamp_v_to_reversal && p.e_inh_mv >= p.e_exc_mv {
                    return Err(SnnError::invalid(
                        "cond_lif.e_inh_mv",
                        p.e_inh_mv,
                        format!(
                            "below e_exc_mv ({}) when clamp_v_to_reversal is on",
                            p.e_exc_mv
                        ),
                    ));
                }
            }
            NeuronKind::CurrentLif(p) => {
                tau("current_lif.tau_m_ms", p.tau_m_ms)?;
                tau("current_lif.tau_ge_ms", p.tau_ge_ms)?;
                tau("current_lif.tau_gi_ms", p.tau_gi_ms)?;
                finite("current_lif.v_rest_mv", p.v_rest_mv)?;
            }
            NeuronKind::Custom(c) => validate_custom(c)?,
        }
        if let Some(t) = self.theta {
            finite("theta.theta_init_mv", t.theta_init_mv)?;
            finite("theta.theta_plus_mv", t.theta_plus_mv)?;
            if !(t.tau_theta_ms > 0.0) {
                return Err(SnnError::invalid(
                    "theta.tau_theta_ms",
                    t.tau_theta_ms,
                    "a time constant > 0 ms (f32::INFINITY for no decay)",
                ));
            }
            if t.tau_theta_ms <= dt_ms {
                return Err(SnnError::invalid(
                    "theta.tau_theta_ms",
                    t.tau_theta_ms,
                    format!(
                        "a time constant larger than dt = {dt_ms} ms (use dt <= {} ms)",
                        t.tau_theta_ms / STEPS_PER_TAU
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Time constants and periods that `dt_ms` resolves coarsely, each as a message naming
    /// the field, its value and the dt to use (see [`coarse_dt_warning`]). Valid but
    /// suspicious: [`Self::validate`] refuses `dt >= τ` outright.
    pub fn warnings(&self, dt_ms: f32) -> Vec<String> {
        self.warnings_by_field(dt_ms)
            .into_iter()
            .map(|(_, m)| m)
            .collect()
    }

    /// [`Self::warnings`] as `(field, message)` pairs, for callers that filter by field.
    pub(crate) fn warnings_by_field(&self, dt_ms: f32) -> Vec<(String, String)> {
        let mut taus: Vec<(&str, f32)> = vec![];
        match &self.kind {
            NeuronKind::If | NeuronKind::Custom(_) => {}
            NeuronKind::Lif(p) => taus.push(("lif.tau_m_ms", p.tau_m_ms)),
            NeuronKind::CondLif(p) => taus.extend([
                ("cond_lif.tau_m_ms", p.tau_m_ms),
                ("cond_lif.tau_ge_ms", p.tau_ge_ms),
                ("cond_lif.tau_gi_ms", p.tau_gi_ms),
            ]),
            NeuronKind::CurrentLif(p) => taus.extend([
                ("current_lif.tau_m_ms", p.tau_m_ms),
                ("current_lif.tau_ge_ms", p.tau_ge_ms),
                ("current_lif.tau_gi_ms", p.tau_gi_ms),
            ]),
        }
        if let Some(t) = self.theta {
            taus.push(("theta.tau_theta_ms", t.tau_theta_ms));
        }
        let mut out: Vec<(String, String)> = taus
            .into_iter()
            .filter_map(|(f, tau)| coarse_dt_warning(f, tau, dt_ms).map(|m| (f.to_string(), m)))
            .collect();
        for (f, ms) in [
            ("refractory_ms", self.refractory_ms),
            ("lockout_ms", self.lockout_ms),
        ] {
            if let Some(m) = coarse_period_warning(f, ms, dt_ms) {
                out.push((f.to_string(), m));
            }
        }
        out
    }

    /// Per-step constants for this model at `dt_ms` (the host computes them once).
    pub fn derive(&self, dt_ms: f32) -> DerivedNeuron {
        let euler_or_exact = |tau: f32, integ: Integration| match integ {
            Integration::Euler => 1.0 - dt_ms / tau,
            Integration::Exact => (-(dt_ms as f64) / tau as f64).exp() as f32,
        };
        let clamp_steps = (self.refractory_ms / dt_ms).round() as u32;
        let lock_steps = (self.lockout_ms / dt_ms).round() as u32;
        let mut d = DerivedNeuron {
            v_threshold_mv: self.v_threshold_mv,
            v_reset_mv: 0.0,
            reset_soft: false,
            refractory_steps: clamp_steps.max(lock_steps),
            clamp_above_steps: lock_steps.saturating_sub(clamp_steps),
            v_rest_mv: 0.0,
            decay_v_per_step: 1.0,
            dt_over_tau_m: 0.0,
            decay_ge_per_step: 1.0,
            decay_gi_per_step: 1.0,
            e_exc_mv: 0.0,
            e_inh_mv: 0.0,
            clamp_v: false,
            theta_plus_mv: 0.0,
            decay_theta_per_step: 1.0,
            theta_frozen: true,
        };
        match self.reset {
            ResetMode::Hard { v_reset_mv } => d.v_reset_mv = v_reset_mv,
            ResetMode::Soft => d.reset_soft = true,
        }
        match &self.kind {
            NeuronKind::If | NeuronKind::Custom(_) => {}
            NeuronKind::Lif(p) => {
                d.v_rest_mv = p.v_rest_mv;
                d.decay_v_per_step = (-(dt_ms as f64) / p.tau_m_ms as f64).exp() as f32;
            }
            NeuronKind::CondLif(p) => {
                d.v_rest_mv = p.v_rest_mv;
                d.dt_over_tau_m = dt_ms / p.tau_m_ms;
                d.decay_ge_per_step = euler_or_exact(p.tau_ge_ms, p.integration);
                d.decay_gi_per_step = euler_or_exact(p.tau_gi_ms, p.integration);
                d.e_exc_mv = p.e_exc_mv;
                d.e_inh_mv = p.e_inh_mv;
                d.clamp_v = p.clamp_v_to_reversal;
            }
            NeuronKind::CurrentLif(p) => {
                d.v_rest_mv = p.v_rest_mv;
                d.dt_over_tau_m = dt_ms / p.tau_m_ms;
                d.decay_ge_per_step = euler_or_exact(p.tau_ge_ms, p.integration);
                d.decay_gi_per_step = euler_or_exact(p.tau_gi_ms, p.integration);
            }
        }
        if let Some(t) = self.theta {
            d.theta_plus_mv = t.theta_plus_mv;
            d.decay_theta_per_step = if t.tau_theta_ms.is_infinite() {
                1.0
            } else {
                (-(dt_ms as f64) / t.tau_theta_ms as f64).exp() as f32
            };
            d.theta_frozen = t.frozen;
        }
        d
    }
}

/// Steps per time constant below which [`coarse_dt_warning`] warns: `dt > τ / 5`.
pub const STEPS_PER_TAU: f32 = 5.0;

/// A warning when `dt_ms` is coarse for the time constant `tau_ms` of `field`: more than
/// τ/5 ([`STEPS_PER_TAU`] steps per τ), but below τ (`dt >= τ` is an error of `validate`).
/// The per-step decay then departs visibly from the continuous one (at dt = τ/2, Euler's
/// `1 − dt/τ` is 0.5 where `e^(−dt/τ)` is 0.61). `None` for an infinite τ (no decay).
pub fn coarse_dt_warning(field: &str, tau_ms: f32, dt_ms: f32) -> Option<String> {
    (tau_ms.is_finite() && dt_ms * STEPS_PER_TAU > tau_ms && dt_ms < tau_ms).then(|| {
        format!(
            "`{field}` = {tau_ms} ms is only {:.1} steps of dt = {dt_ms} ms: the per-step decay \
             is a coarse approximation; use dt <= {} ms (τ/{STEPS_PER_TAU}) for accurate dynamics",
            tau_ms / dt_ms,
            tau_ms / STEPS_PER_TAU
        )
    })
}

/// A warning when a period counted in whole steps (refractory, lockout) is coarse at `dt_ms`:
/// shorter than [`STEPS_PER_TAU`] steps and not a whole number of them, so rounding changes
/// it by more than 1 %. A whole number of steps is exact, however few.
pub fn coarse_period_warning(field: &str, ms: f32, dt_ms: f32) -> Option<String> {
    let steps = (ms / dt_ms).round();
    let used = steps * dt_ms;
    (ms > 0.0 && dt_ms * STEPS_PER_TAU > ms && (used - ms).abs() > 0.01 * ms).then(|| {
        format!(
            "`{field}` = {ms} ms rounds to {steps} step(s) of dt = {dt_ms} ms, i.e. {used} ms; \
             use a dt that divides it (or dt <= {} ms)",
            ms / STEPS_PER_TAU
        )
    })
}

/// Checks a period counted in whole steps: finite, `>= 0`, and (if not 0) at least one step,
/// as a shorter one would round to 0 or 1 step, far from the value asked for.
pub(crate) fn check_period(field: &str, ms: f32, dt_ms: f32) -> Result<()> {
    if !(ms >= 0.0) || !ms.is_finite() {
        return Err(SnnError::invalid(field, ms, "a finite value >= 0 ms"));
    }
    if ms > 0.0 && ms < dt_ms {
        return Err(SnnError::invalid(
            field,
            ms,
            format!(
                "0 or at least one step of dt = {dt_ms} ms (it would round to {} steps); use \
                 dt <= {ms} ms",
                (ms / dt_ms).round()
            ),
        ));
    }
    Ok(())
}

/// Most custom state variables a model may declare (the CPU reference's fixed-size state).
pub const MAX_CUSTOM_VARS: usize = 8;

fn validate_custom(c: &CustomModel) -> Result<()> {
    if c.state_vars.len() > MAX_CUSTOM_VARS {
        return Err(SnnError::invalid(
            "custom.state_vars",
            c.state_vars.len(),
            format!("at most {MAX_CUSTOM_VARS} variables"),
        ));
    }
    let ident_ok = |s: &str| {
        let mut ch = s.chars();
        matches!(ch.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
            && ch.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    const RESERVED: [&str; 7] = ["v", "theta", "refrac", "x", "s", "o", "p"];
    if !ident_ok(&c.name) {
        return Err(SnnError::invalid(
            "custom.name",
            &c.name,
            "an identifier: letters, digits, _",
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (n, v) in c.state_vars.iter().chain(c.params.iter()) {
        if !ident_ok(n) || RESERVED.contains(&n.as_str()) || n.starts_with("__") {
            return Err(SnnError::invalid(
                "custom.state_vars/params",
                n,
                format!("an identifier other than {}", RESERVED.join(", ")),
            ));
        }
        if !seen.insert(n.clone()) {
            return Err(SnnError::invalid(
                "custom.state_vars/params",
                n,
                "a name used only once",
            ));
        }
        if !v.is_finite() {
            return Err(SnnError::invalid(
                format!("custom.{n}"),
                v,
                "a finite number",
            ));
        }
    }
    Ok(())
}

/// Per-step constants derived from a [`NeuronModel`] and `dt` (GeNN's derived params).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DerivedNeuron {
    /// Base threshold (mV).
    pub v_threshold_mv: f32,
    /// Hard-reset potential (mV).
    pub v_reset_mv: f32,
    /// Soft reset instead of hard.
    pub reset_soft: bool,
    /// Steps the `refrac` counter starts at after a spike: max(refractory, lockout).
    pub refractory_steps: u32,
    /// `v` is clamped while `refrac > clamp_above_steps` (non-zero only with a lockout).
    pub clamp_above_steps: u32,
    /// Resting potential (mV) of LIF, conductance LIF and current LIF.
    pub v_rest_mv: f32,
    /// LIF membrane decay `e^(−dt/τ_m)`.
    pub decay_v_per_step: f32,
    /// Conductance and current LIF Euler factor `dt/τ_m`.
    pub dt_over_tau_m: f32,
    /// `ge` decay per step.
    pub decay_ge_per_step: f32,
    /// `gi` decay per step.
    pub decay_gi_per_step: f32,
    /// Excitatory reversal potential (mV).
    pub e_exc_mv: f32,
    /// Inhibitory reversal potential (mV).
    pub e_inh_mv: f32,
    /// Keep v within [e_inh_mv, e_exc_mv] after each conductance-LIF step.
    pub clamp_v: bool,
    /// θ increment per spike (mV).
    pub theta_plus_mv: f32,
    /// θ decay `e^(−dt/τ_θ)` per step (1 for no decay).
    pub decay_theta_per_step: f32,
    /// θ frozen (no θ, or test mode).
    pub theta_frozen: bool,
}
