//! CPU twins of the WGSL neuron stages (`shaders/neuron/*.wgsl`), function for function.
//!
//! Each function performs the same f32 operations in the same order as its WGSL twin, so
//! spike trains agree exactly with the GPU on inputs away from threshold ties.

use crate::model::{DerivedNeuron, NeuronKind};

pub use crate::model::neuron::MAX_CUSTOM_VARS;

/// One neuron's state, as the WGSL `NeuronState` struct holds it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct NeuronState {
    /// Membrane potential (mV).
    pub v: f32,
    /// Adaptive threshold (mV).
    pub theta: f32,
    /// Remaining refractory steps.
    pub refrac: u32,
    /// Excitatory conductance (conductance LIF).
    pub ge: f32,
    /// Inhibitory conductance (conductance LIF).
    pub gi: f32,
    /// Custom model variables, in declaration order.
    pub custom: [f32; MAX_CUSTOM_VARS],
}

/// `shaders/neuron/if.wgsl::if_charge`.
#[inline]
pub fn if_charge(s: NeuronState, x: f32, _p: &DerivedNeuron) -> NeuronState {
    NeuronState { v: s.v + x, ..s }
}

/// `shaders/neuron/lif.wgsl::lif_charge`.
#[inline]
pub fn lif_charge(s: NeuronState, x: f32, p: &DerivedNeuron) -> NeuronState {
    NeuronState {
        v: p.v_rest_mv + (s.v - p.v_rest_mv) * p.decay_v_per_step + x,
        ..s
    }
}

/// `shaders/neuron/cond_lif.wgsl::cond_lif_charge`.
#[inline(always)]
pub fn cond_lif_charge(s: NeuronState, x: f32, p: &DerivedNeuron) -> NeuronState {
    let ge = s.ge + x;
    let dv = ((p.v_rest_mv - s.v) + ge * (p.e_exc_mv - s.v) + s.gi * (p.e_inh_mv - s.v))
        * p.dt_over_tau_m;
    let mut v = s.v + dv;
    // Comparisons, not min/max: a NaN passes through to the finiteness check.
    if p.clamp_v {
        if v < p.e_inh_mv {
            v = p.e_inh_mv;
        } else if v > p.e_exc_mv {
            v = p.e_exc_mv;
        }
    }
    NeuronState {
        v,
        ge: ge * p.decay_ge_per_step,
        gi: s.gi * p.decay_gi_per_step,
        ..s
    }
}

/// `shaders/neuron/current_lif.wgsl::current_lif_charge`.
#[inline(always)]
pub fn current_lif_charge(s: NeuronState, x: f32, p: &DerivedNeuron) -> NeuronState {
    let ge = s.ge + x;
    let dv = ((p.v_rest_mv - s.v) + ge - s.gi) * p.dt_over_tau_m;
    NeuronState {
        v: s.v + dv,
        ge: ge * p.decay_ge_per_step,
        gi: s.gi * p.decay_gi_per_step,
        ..s
    }
}

/// `shaders/neuron/stages.wgsl::clamp_refractory`: `o` is the model's charge of `s`; `v` keeps
/// its old value while the neuron is refractory.
#[inline(always)]
pub fn clamp_refractory(s: &NeuronState, mut o: NeuronState, p: &DerivedNeuron) -> NeuronState {
    if s.refrac > p.clamp_above_steps {
        o.v = s.v;
    }
    o
}

/// The model's charge, with v clamped during the refractory period: what the general GPU
/// engine's neuron pass writes for each population (its model's charge, then
/// `clamp_refractory`).
#[inline]
pub fn charge(
    s: NeuronState,
    x: f32,
    kind: &NeuronKind,
    custom_params: &[f32],
    p: &DerivedNeuron,
) -> NeuronState {
    let o = match kind {
        NeuronKind::If => if_charge(s, x, p),
        NeuronKind::Lif(_) => lif_charge(s, x, p),
        NeuronKind::CondLif(_) => cond_lif_charge(s, x, p),
        NeuronKind::CurrentLif(_) => current_lif_charge(s, x, p),
        NeuronKind::Custom(c) => {
            let k = c.state_vars.len();
            let mut buf = [0f32; MAX_CUSTOM_VARS + 1];
            buf[0] = s.v;
            buf[1..=k].copy_from_slice(&s.custom[..k]);
            (c.charge_cpu)(&mut buf[..=k], custom_params, x);
            let mut o = s;
            o.v = buf[0];
            o.custom[..k].copy_from_slice(&buf[1..=k]);
            o
        }
    };
    clamp_refractory(&s, o, p)
}

/// `stages.wgsl::fire`.
#[inline(always)]
pub fn fire(s: NeuronState, p: &DerivedNeuron) -> bool {
    // `&`, not `&&`: no branch, so loops over neurons vectorise.
    (s.refrac == 0) & (s.v >= p.v_threshold_mv + s.theta)
}

/// `stages.wgsl::reset`.
#[inline(always)]
pub fn reset(s: NeuronState, spike: bool, p: &DerivedNeuron) -> NeuronState {
    // Written as selects (no branch on `spike`) so loops over neurons vectorise.
    let v_after = if p.reset_soft {
        s.v - (p.v_threshold_mv + s.theta)
    } else {
        p.v_reset_mv
    };
    NeuronState {
        v: if spike { v_after } else { s.v },
        refrac: if spike {
            p.refractory_steps
        } else {
            s.refrac.saturating_sub(1)
        },
        ..s
    }
}

/// `stages.wgsl::adapt`.
#[inline(always)]
pub fn adapt(s: NeuronState, spike: bool, p: &DerivedNeuron) -> NeuronState {
    let mut o = s;
    if !p.theta_frozen {
        o.theta = s.theta * p.decay_theta_per_step + if spike { p.theta_plus_mv } else { 0.0 };
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NeuronKind, NeuronModel};

    fn exc(clamp: bool) -> DerivedNeuron {
        let mut m = NeuronModel::diehl_cook_excitatory();
        if let NeuronKind::CondLif(p) = &mut m.kind {
            p.clamp_v_to_reversal = clamp;
        }
        m.derive(0.5)
    }

    fn state(v: f32, gi: f32) -> NeuronState {
        NeuronState {
            v,
            theta: 20.0,
            refrac: 0,
            ge: 0.0,
            gi,
            custom: [0.0; MAX_CUSTOM_VARS],
        }
    }

    /// With `gi·dt/τ_m` = 6800 · 0.5 / 100 = 34, one Euler step throws v from −65 mV to about
    /// −1255 mV; the clamp stops it at E_inh = −100 mV. In range, the clamp changes nothing,
    /// and a NaN passes through it.
    #[test]
    fn the_reversal_clamp_stops_the_euler_overshoot_and_nothing_else() {
        let s = state(-65.0, 6800.0);
        let free = cond_lif_charge(s, 0.0, &exc(false));
        assert!(free.v < -1000.0, "{}", free.v);
        assert_eq!(cond_lif_charge(s, 0.0, &exc(true)).v, -100.0);
        assert_eq!(cond_lif_charge(state(-65.0, 0.0), 500.0, &exc(true)).v, 0.0);
        for (v, gi, x) in [(-65.0, 1.0, 0.3), (-70.0, 0.0, 2.0), (-99.0, 0.5, 0.0)] {
            let a = cond_lif_charge(state(v, gi), x, &exc(false));
            let b = cond_lif_charge(state(v, gi), x, &exc(true));
            assert_eq!(a.v.to_bits(), b.v.to_bits(), "v {v}, gi {gi}, x {x}");
        }
        assert!(cond_lif_charge(state(f32::NAN, 1.0), 0.0, &exc(true))
            .v
            .is_nan());
    }
}
