//! Bad input gets a clear, typed error naming what was wrong and what to do.

use crate::common;

use snn_wgpu::backend::Simulator;
use snn_wgpu::cpu::engine::Engine;
use snn_wgpu::gpu::{GpuContext, GpuEngine, GpuEngineOptions, GpuOptions};
use snn_wgpu::model::net::{MonitorKind, Network};
use snn_wgpu::model::*;
use snn_wgpu::SnnError;

pub fn a_gpu_adapter_exists_when_required() {
    if common::gpu_required() {
        let ctx = GpuContext::new(&GpuOptions::default())
            .expect("CI=true requires a GPU adapter (llvmpipe is enough)");
        eprintln!("adapter: {}", ctx.adapter_description());
    }
}

pub fn no_matching_adapter_says_how_to_get_one() {
    let opts = GpuOptions {
        backends: None,
        adapter_name: Some("no-such-adapter-xyz".into()),
    };
    let err = GpuContext::new(&opts).unwrap_err();
    assert!(matches!(err, SnnError::NoAdapter { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("mesa-vulkan-drivers")
            && msg.contains("CPU backend")
            && msg.contains("no-such-adapter-xyz"),
        "{msg}"
    );
}

/// A custom model's WGSL that does not compile: the error names the shader and shows the
/// offending line.
pub fn shader_errors_name_the_shader() {
    let ctx = common::gpu_ctx();
    let bad = CustomModel::new("broken_model", "o.v = s.v + undefined_name;", |_, _, _| {});
    let net = Network::new(0.5).neurons("pop", 4, NeuronModel::custom(bad, 1.0, ResetMode::Soft));
    let err = GpuEngine::new(ctx, &net).err().expect("must fail");
    let msg = err.to_string();
    assert!(
        matches!(err, SnnError::Gpu { .. })
            && msg.contains("Shader 'engine'")
            && msg.contains("o.v = s.v + undefined_name;"),
        "{msg}"
    );
}

pub fn device_limits_are_named() {
    let ctx = common::gpu_ctx();
    let net = Network::new(0.5).neurons("pop", 4, NeuronModel::integrate_and_fire(1.0, 0.0));
    let opts = GpuEngineOptions {
        workgroup_size: Some(1 << 16),
        ..Default::default()
    };
    let err = GpuEngine::with_options(ctx, &net, opts)
        .err()
        .expect("must fail");
    let msg = err.to_string();
    assert!(
        matches!(err, SnnError::LimitExceeded { .. })
            && msg.contains("max_compute_invocations_per_workgroup")
            && msg.contains("65536"),
        "{msg}"
    );
}

/// What `tests/engine/general.rs` (`validate_names_the_element_and_the_field`) does not cover: the
/// step, neuron time constants and periods shorter than a step, sizes, negative rates,
/// reserved variable names.
pub fn impossible_parameters_name_the_field() {
    let lif = |tau| {
        NeuronModel::lif(
            LifParams {
                tau_m_ms: tau,
                v_rest_mv: -65.0,
            },
            -50.0,
        )
    };
    let pop = |m: NeuronModel| Network::new(0.5).neurons("p", 10, m);
    let cases: Vec<(Network, &str)> = vec![
        (
            Network {
                dt_ms: 0.0,
                ..pop(lif(20.0))
            },
            "dt_ms",
        ),
        (pop(lif(-1.0)), "lif.tau_m_ms"),
        (pop(lif(0.4)), "lif.tau_m_ms"),
        (Network::new(0.5).neurons("p", 0, lif(20.0)), "size"),
        (pop(lif(20.0)).poisson("in", 10, -5.0), "rates_hz"),
        (pop(lif(20.0)).poisson("in", 10, 5000.0), "rates_hz"),
        (pop(lif(20.0).with_refractory_ms(-1.0)), "refractory_ms"),
        // Shorter than one step of dt = 0.5 ms: it would round to 0 or 1 step.
        (pop(lif(20.0).with_refractory_ms(0.2)), "refractory_ms"),
        (pop(lif(20.0).with_lockout_ms(0.3)), "lockout_ms"),
        (
            pop(lif(20.0)).monitor(
                "m",
                "p",
                MonitorKind::State {
                    variable: "ge".into(),
                    neurons: vec![0],
                },
            ),
            "ge",
        ),
        (
            pop(lif(20.0)).monitor(
                "m",
                "p",
                MonitorKind::State {
                    variable: "v".into(),
                    neurons: vec![10],
                },
            ),
            "neurons",
        ),
        (
            pop(NeuronModel::custom(
                CustomModel::new("m", "", |_, _, _| {}).with_var("theta", 0.0),
                1.0,
                ResetMode::Soft,
            )),
            "theta",
        ),
    ];
    for (net, field) in cases {
        let err = Engine::new(&net)
            .err()
            .unwrap_or_else(|| panic!("{field}: accepted"));
        assert!(
            err.to_string().contains(field),
            "expected `{field}` in: {err}"
        );
    }
}

/// A model that produces NaN: `v ← sqrt(v − 10)`.
fn nan_network() -> Network {
    let m = CustomModel::new("nan_maker", "o.v = sqrt(s.v - 10.0);", |s, _, _| {
        s[0] = (s[0] - 10.0).sqrt()
    });
    Network::new(0.5).neurons("nan_pop", 8, NeuronModel::custom(m, 1e9, ResetMode::Soft))
}

pub fn non_finite_state_is_reported_with_population_variable_and_step() {
    let mut sims: Vec<Box<dyn Simulator>> = vec![Box::new(Engine::new(&nan_network()).unwrap())];
    if let Some(ctx) = common::gpu() {
        sims.push(Box::new(GpuEngine::new(ctx, &nan_network()).unwrap()));
    }
    for mut sim in sims {
        let err = sim.run(3).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, SnnError::NonFinite { .. })
                && msg.contains("nan_pop")
                && msg.contains("`v`")
                && msg.contains("by step 3"),
            "{}: {msg}",
            sim.describe()
        );
    }
}
