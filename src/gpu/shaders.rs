//! Shader composition: the only code that joins `shaders/*.wgsl` into modules.
//!
//! WGSL has no include, so a module is the shared files plus a generated part: for the
//! general engine, what `gpu::engine::program` writes for one network (its `NeuronState`,
//! constants, each model's charge and the entry points). `tests/engine/naga_validate.rs` validates
//! exactly these.

use crate::model::{NeuronKind, NeuronModel};

const COMMON: &str = include_str!("../../shaders/common.wgsl");
const RNG: &str = include_str!("../../shaders/rng.wgsl");
const STAGES: &str = include_str!("../../shaders/neuron/stages.wgsl");
const IF: &str = include_str!("../../shaders/neuron/if.wgsl");
const LIF: &str = include_str!("../../shaders/neuron/lif.wgsl");
const COND_LIF: &str = include_str!("../../shaders/neuron/cond_lif.wgsl");
const CURRENT_LIF: &str = include_str!("../../shaders/neuron/current_lif.wgsl");
const STDP: &str = include_str!("../../shaders/plasticity/stdp.wgsl");
const ENGINE_BINDINGS: &str = include_str!("../../shaders/engine/bindings.wgsl");
const ENGINE_EMIT: &str = include_str!("../../shaders/engine/emit.wgsl");
const ENGINE_PROPAGATE: &str = include_str!("../../shaders/engine/propagate.wgsl");
const ENGINE_PLASTICITY: &str = include_str!("../../shaders/engine/plasticity.wgsl");
const ENGINE_MONITOR: &str = include_str!("../../shaders/engine/monitor.wgsl");
const ENGINE_FUSED: &str = include_str!("../../shaders/engine/fused.wgsl");
/// bindings.wgsl's step uniform, which the fused module replaces by `ENGINE_FUSED`.
const ENGINE_STEP_UNIFORM: &str = "@group(0) @binding(0) var<uniform> step: StepInfo;";
/// Name of the override constant that sets the workgroup size.
pub const WORKGROUP_SIZE_OVERRIDE: &str = "WG";

/// A composed WGSL module and its label.
#[derive(Debug, Clone)]
pub struct ComposedModule {
    /// Label used in wgpu objects and error messages.
    pub label: String,
    /// Full WGSL source.
    pub source: String,
}

/// A WGSL hexadecimal float literal for exactly `v` (no decimal round-trip). `v` is finite.
pub fn f32_lit(v: f32) -> String {
    let bits = v.to_bits();
    let sign = if bits >> 31 != 0 { "-" } else { "" };
    let exp = ((bits >> 23) & 0xff) as i32;
    let mant = (bits & 0x7f_ffff) << 1; // 24 bits = 6 hex digits
    match exp {
        0 if mant == 0 => format!("{sign}0.0f"),
        0 => format!("{sign}0x0.{mant:06x}p-126f"),
        _ => format!("{sign}0x1.{mant:06x}p{}f", exp - 127),
    }
}

/// The general engine's module: the shared stage files (`common`, `rng`, the IF, LIF and
/// conductance LIF charges, `stages`, `stdp`, `engine/*`) and `generated`, the part
/// `gpu::engine::program` writes for one network (its `NeuronState`, constants and entry
/// points).
pub fn engine_module(generated: &str) -> ComposedModule {
    let source = [
        COMMON,
        RNG,
        generated,
        IF,
        LIF,
        COND_LIF,
        CURRENT_LIF,
        STAGES,
        STDP,
        ENGINE_BINDINGS,
        ENGINE_EMIT,
        ENGINE_PROPAGATE,
        ENGINE_PLASTICITY,
        ENGINE_MONITOR,
    ]
    .join("\n");
    ComposedModule {
        label: "engine".into(),
        source,
    }
}

/// The general engine's module for the fused schedule: [`engine_module`] with bindings.wgsl's
/// step uniform replaced by `shaders/engine/fused.wgsl` (a chunk uniform and a private
/// `step`); `generated` holds the generated part and the `fused` entry point.
pub fn engine_fused_module(generated: &str) -> ComposedModule {
    let m = engine_module(generated);
    debug_assert!(m.source.contains(ENGINE_STEP_UNIFORM));
    ComposedModule {
        label: "engine.fused".into(),
        source: m.source.replacen(ENGINE_STEP_UNIFORM, ENGINE_FUSED, 1),
    }
}

/// The general engine's module for each built-in model and a custom one (a population
/// driven by a Poisson source), and the engine's for a network with
/// a pass of every kind under both schedules: what the naga test validates.
pub fn builtin_modules() -> Vec<ComposedModule> {
    use crate::model::{CondLifParams, CurrentLifParams, CustomModel, LifParams, ThetaParams};
    use std::sync::Arc;
    let theta = ThetaParams {
        theta_init_mv: 0.0,
        theta_plus_mv: 1.0,
        tau_theta_ms: 100.0,
        frozen: false,
    };
    let custom = CustomModel {
        name: "izh_like".into(),
        state_vars: vec![("u".into(), 0.0), ("w".into(), 1.0)],
        params: vec![("a".into(), 0.02)],
        charge_wgsl: "o.v = s.v + x - s.u; o.u = s.u + a * (s.v - s.u); o.w = s.w;".into(),
        charge_cpu: Arc::new(|_s, _p, _x| {}),
    };
    [
        NeuronModel::integrate_and_fire(1.0, 0.0),
        NeuronModel::lif(
            LifParams {
                tau_m_ms: 20.0,
                v_rest_mv: -65.0,
            },
            -50.0,
        )
        .with_theta(theta),
        NeuronModel::diehl_cook_excitatory(),
        NeuronModel {
            kind: NeuronKind::CondLif(CondLifParams::diehl_cook_inhibitory()),
            ..NeuronModel::diehl_cook_inhibitory()
        },
        NeuronModel {
            kind: NeuronKind::CurrentLif(CurrentLifParams::cuba()),
            ..NeuronModel::integrate_and_fire(-50.0, -60.0)
        },
        NeuronModel {
            kind: NeuronKind::Custom(custom),
            ..NeuronModel::integrate_and_fire(1.0, 0.0)
        },
    ]
    .into_iter()
    .map(model_example)
    .chain(engine_example())
    .collect()
}

/// The general engine's module for a population of `model` driven one-to-one by a Poisson
/// source (into `ge` for conductance and current LIF, `v` otherwise), labelled
/// `engine.<model kind>`.
fn model_example(model: NeuronModel) -> ComposedModule {
    use crate::model::net::{Connectivity, Network, Projection};
    use crate::model::Target;
    let (kind, target) = match &model.kind {
        NeuronKind::If => ("if".to_string(), Target::MEMBRANE_EXC),
        NeuronKind::Lif(_) => ("lif".into(), Target::MEMBRANE_EXC),
        NeuronKind::CondLif(_) => ("cond_lif".into(), Target::Ge),
        NeuronKind::CurrentLif(_) => ("current_lif".into(), Target::Ge),
        NeuronKind::Custom(c) => (format!("custom.{}", c.name), Target::MEMBRANE_EXC),
    };
    let net = Network::new(0.5)
        .poisson("in", 4, 20.0)
        .neurons("pop", 4, model)
        .project(Projection::new(
            "in_pop",
            "in",
            "pop",
            target,
            Connectivity::OneToOne,
            0.5,
        ));
    match crate::gpu::engine::compose_module(&net) {
        Ok(m) => ComposedModule {
            label: format!("engine.{kind}"),
            ..m
        },
        Err(e) => unreachable!("the example network of `{kind}` is valid: {e}"),
    }
}

/// The general engine's module for a network with a pass of every kind: Poisson and
/// spike-time sources, IF, LIF and conductance LIF populations, plastic dense and sparse
/// projections with delays, all-but-self, monitors; under both schedules, the fused one
/// with and without subgroup operations.
fn engine_example() -> [ComposedModule; 3] {
    use crate::model::net::{Connectivity, Delay, Delivery, MonitorKind, Network, Projection};
    use crate::model::{NeuronModel, StdpParams, Target};
    let sparse = Connectivity::FixedProbability { p: 0.5, seed: 1 };
    let net = Network::new(0.5)
        .poisson("in", 8, 20.0)
        .spike_times("cue", 4, vec![(0, 1.0)])
        .neurons("exc", 8, NeuronModel::diehl_cook_excitatory())
        .neurons("lif", 4, NeuronModel::integrate_and_fire(1.0, 0.0))
        .project(
            Projection::new(
                "in_exc",
                "in",
                "exc",
                Target::Ge,
                Connectivity::AllToAll,
                0.1,
            )
            .with_stdp(StdpParams::diehl_cook()),
        )
        .project(
            Projection::new("cue_lif", "cue", "lif", Target::MEMBRANE_EXC, sparse, 0.5)
                .with_delay(Delay::Constant(1.0), Delivery::AtArrival)
                .with_stdp(StdpParams::diehl_cook()),
        )
        .project(Projection::new(
            "exc_exc",
            "exc",
            "exc",
            Target::Gi,
            Connectivity::AllButSelf,
            1.0,
        ))
        .monitor(
            "v",
            "exc",
            MonitorKind::State {
                variable: "v".into(),
                neurons: vec![0],
            },
        )
        .monitor("s", "lif", MonitorKind::Spikes { neurons: None });
    let compose = |s, subgroups| match crate::gpu::engine::compose_with(&net, s, subgroups) {
        Ok(m) => m,
        Err(e) => unreachable!("the example network is valid: {e}"),
    };
    [
        compose(crate::gpu::engine::EngineSchedule::Passes, false),
        compose(crate::gpu::engine::EngineSchedule::Fused, false),
        compose(crate::gpu::engine::EngineSchedule::Fused, true),
    ]
}

#[cfg(test)]
mod tests {
    use super::f32_lit;

    #[test]
    fn hex_float_literals_are_exact() {
        assert_eq!(f32_lit(1.0), "0x1.000000p0f");
        assert_eq!(f32_lit(-0.5), "-0x1.000000p-1f");
        assert_eq!(f32_lit(0.0), "0.0f");
        assert_eq!(f32_lit(0.1), "0x1.99999ap-4f");
    }
}
