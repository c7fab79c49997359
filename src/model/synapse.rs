//! What a projection drives: its [`Target`] (a conductance or the membrane) and so its
//! [`Sign`]. Weights are magnitudes; the sign comes from the target.
//!
//! Used by the general model (`model::net::Projection`) and both engines, and by the
//! competitive layer's projections (`experiments::diehl_cook::projection`).

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
