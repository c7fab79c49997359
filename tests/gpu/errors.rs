//! Bad input gets a clear, typed error naming what was wrong and what to do.

use crate::common;

use snn_wgpu::cpu::CpuBackend;
use snn_wgpu::gpu::{GpuBackend, GpuBackendOptions, GpuContext, GpuOptions};
use snn_wgpu::model::*;
use snn_wgpu::{Backend, SnnError};

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
        ..Default::default()
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

pub fn shader_errors_name_the_shader() {
    let ctx = common::gpu_ctx();
    let bad = CustomModel::new("broken_model", "o.v = s.v + undefined_name;", |_, _, _| {});
    let spec = NetworkSpec::new("pop", 4, NeuronModel::custom(bad, 1.0, ResetMode::Soft));
    let err = GpuBackend::new(ctx, &spec, Default::default())
        .err()
        .expect("must fail");
    let msg = err.to_string();
    assert!(
        matches!(err, SnnError::Gpu { .. })
            && msg.contains("broken_model")
            && msg.contains("undefined_name"),
        "{msg}"
    );
}

pub fn device_limits_are_named() {
    let ctx = common::gpu_ctx();
    let spec = NetworkSpec::new("pop", 4, NeuronModel::integrate_and_fire(1.0, 0.0));
    let opts = GpuBackendOptions {
        workgroup_size: 1 << 16,
        ..Default::default()
    };
    let err = GpuBackend::new(ctx, &spec, opts).err().expect("must fail");
    let msg = err.to_string();
    assert!(
        matches!(err, SnnError::LimitExceeded { .. })
            && msg.contains("max_compute_invocations_per_workgroup")
            && msg.contains("65536"),
        "{msg}"
    );
}

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
    let cases: Vec<(NetworkSpec, &str)> = vec![
        (
            NetworkSpec::new("p", 10, lif(20.0)).with_dt_ms(0.0),
            "dt_ms",
        ),
        (NetworkSpec::new("p", 10, lif(-1.0)), "lif.tau_m_ms"),
        (NetworkSpec::new("p", 10, lif(0.4)), "lif.tau_m_ms"),
        (NetworkSpec::new("p", 0, lif(20.0)), "`n`"),
        (
            NetworkSpec::new("p", 10, lif(20.0)).with_input(InputSpec::poisson(-5.0, 1.0)),
            "rate_hz",
        ),
        (
            NetworkSpec::new("p", 10, lif(20.0)).with_input(InputSpec::poisson(5000.0, 1.0)),
            "rate_hz",
        ),
        (
            NetworkSpec::new("p", 10, lif(20.0).with_refractory_ms(-1.0)),
            "refractory_ms",
        ),
        // Shorter than one step of dt = 0.5 ms: it would round to 0 or 1 step.
        (
            NetworkSpec::new("p", 10, lif(20.0).with_refractory_ms(0.2)),
            "refractory_ms",
        ),
        (
            NetworkSpec::new("p", 10, lif(20.0).with_lockout_ms(0.3)),
            "lockout_ms",
        ),
        (
            NetworkSpec::new("p", 10, lif(20.0)).with_monitors(MonitorSpec {
                spikes: None,
                state: Some(StateMonitor {
                    vars: vec!["ge".into()],
                    neurons: vec![0],
                    steps: 0..1,
                }),
            }),
            "ge",
        ),
        (
            NetworkSpec::new("p", 10, lif(20.0)).with_monitors(MonitorSpec {
                spikes: None,
                state: Some(StateMonitor {
                    vars: vec!["v".into()],
                    neurons: vec![10],
                    steps: 0..1,
                }),
            }),
            "neurons",
        ),
        (
            NetworkSpec::new(
                "p",
                10,
                NeuronModel::custom(
                    CustomModel::new("m", "", |_, _, _| {}).with_var("theta", 0.0),
                    1.0,
                    ResetMode::Soft,
                ),
            ),
            "theta",
        ),
    ];
    for (spec, field) in cases {
        let err = CpuBackend::new(&spec)
            .err()
            .unwrap_or_else(|| panic!("{field}: accepted"));
        assert!(
            err.to_string().contains(field),
            "expected `{field}` in: {err}"
        );
    }
}

/// A model that produces NaN: `v ← sqrt(v − 10)`.
fn nan_spec() -> NetworkSpec {
    let m = CustomModel::new("nan_maker", "o.v = sqrt(s.v - 10.0);", |s, _, _| {
        s[0] = (s[0] - 10.0).sqrt()
    });
    NetworkSpec::new("nan_pop", 8, NeuronModel::custom(m, 1e9, ResetMode::Soft))
}

pub fn non_finite_state_is_reported_with_population_variable_and_step() {
    let mut sims: Vec<Box<dyn Backend>> = vec![Box::new(CpuBackend::new(&nan_spec()).unwrap())];
    if let Some(ctx) = common::gpu() {
        sims.push(Box::new(
            GpuBackend::new(ctx, &nan_spec(), Default::default()).unwrap(),
        ));
    }
    for mut sim in sims {
        sim.run(3).unwrap();
        let err = sim.state().unwrap().check_finite().unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("nan_pop") && msg.contains("`v`") && msg.contains("step 3"),
            "{}: {msg}",
            sim.describe()
        );
    }
}
