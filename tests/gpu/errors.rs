//! Bad input gets a clear, typed error naming what was wrong and what to do.

use crate::common;

use snn_wgpu::backend::{Simulator, Trial};
use snn_wgpu::cpu::engine::Engine;
use snn_wgpu::gpu::{EngineSchedule, GpuContext, GpuEngine, GpuEngineOptions, GpuOptions};
use snn_wgpu::model::net::{Connectivity, MonitorKind, Network, Projection};
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

/// A read-back whose ranges pass the adapter's `max_buffer_size` together goes through
/// several staging buffers with the same bytes: a fused run of two copies that records
/// 64 membrane potentials each, at a limit (2 KiB) that the recordings of a submission fill
/// alone, so that the neuron state read with them takes a second buffer. Past the limit
/// alone, a read-back (all copies' weights) and the steps' uniforms
/// (`steps_per_submit`) are errors that name it.
pub fn read_backs_past_the_buffer_limit_are_split() {
    let net = recorded_lif(80.0).with_seeds(vec![1, 2]).monitor(
        "spikes",
        "pop",
        MonitorKind::Spikes { neurons: None },
    );
    let opts = GpuEngineOptions {
        schedule: EngineSchedule::Fused,
        steps_per_submit: 4,
        ..Default::default()
    };
    let run = |ctx: std::sync::Arc<GpuContext>| {
        let mut e = GpuEngine::with_options(ctx, &net, opts).expect("engine");
        e.run(40).expect("run");
        let seen: Vec<_> = (0..2)
            .flat_map(|c| {
                [
                    format!("{:?}", e.recording("spikes", c).expect("spikes")),
                    format!("{:?}", e.recording("v", c).expect("v")),
                    format!("{:?}", e.state("pop", "v", c).expect("state")),
                ]
            })
            .collect();
        (seen, e)
    };
    let (whole, _) = run(common::gpu_ctx());
    let small = limited(|l| l.max_buffer_size = 2048);
    let (split, e) = run(small.clone());
    assert!(
        whole[0].len() > 100,
        "too few spikes to compare: {}",
        whole[0]
    );
    assert_eq!(split, whole);
    // All copies' weights (2 × 32 × 64 × 4 bytes) in one range: past the limit.
    let err = e.weights("w", 0).expect_err("one range past the limit");
    let msg = err.to_string();
    assert!(
        matches!(err, SnnError::LimitExceeded { .. }) && msg.contains("max_buffer_size"),
        "{msg}"
    );
    let long = GpuEngineOptions {
        steps_per_submit: 64,
        ..opts
    };
    let err = GpuEngine::with_options(small, &net, long)
        .err()
        .expect("uniforms past the limit");
    let msg = err.to_string();
    assert!(
        msg.contains("max_buffer_size") && msg.contains("steps_per_submit"),
        "{msg}"
    );
}

/// The fused schedule keeps two steps' spike words of each population in registers in
/// workgroup memory: where the adapter's `max_compute_workgroup_storage_size` is too small
/// for them, the default schedule runs the passes instead and a forced fused schedule is an
/// error that names the limit.
pub fn fused_schedule_needs_the_workgroup_memory() {
    let net = Network::new(0.5).poisson("in", 64, 50.0).neurons(
        "pop",
        400,
        NeuronModel::integrate_and_fire(1.0, 0.0),
    );
    let fits = GpuEngine::new(common::gpu_ctx(), &net).expect("engine");
    assert_eq!(fits.schedule(), EngineSchedule::Fused);
    let small = limited(|l| l.max_compute_workgroup_storage_size = 64);
    let e = GpuEngine::new(small.clone(), &net).expect("engine");
    assert_eq!(e.schedule(), EngineSchedule::Passes);
    let fused = GpuEngineOptions {
        schedule: EngineSchedule::Fused,
        ..Default::default()
    };
    let err = GpuEngine::with_options(small, &net, fused)
        .err()
        .expect("fused past the workgroup memory");
    let msg = err.to_string();
    assert!(
        msg.contains("max_compute_workgroup_storage_size") && msg.contains("passes schedule"),
        "{msg}"
    );
}

/// Frozen trials run as the copies of an engine, in chunks that fit the adapter's storage
/// bindings, recordings included: a network that records 64 membrane potentials at each of
/// the 256 steps of a submission (64 KiB per copy) runs 8 trials under a binding limit of
/// 160 KiB in chunks of two, with the counts of an engine without the limit.
pub fn trials_run_in_chunks_that_fit_the_recordings() {
    let net = recorded_lif(0.0);
    let rates: Vec<Vec<f32>> = (0..8).map(|t| vec![20.0 + 10.0 * t as f32; 32]).collect();
    let trials: Vec<Trial<'_>> = rates
        .iter()
        .enumerate()
        .map(|(t, r)| Trial {
            rates_hz: r,
            key: 7 + t as u32,
        })
        .collect();
    let counts = |ctx| {
        let mut e = GpuEngine::new(ctx, &net).expect("engine");
        e.run_trials(0, "in", &trials, 60, "pop").expect("trials")
    };
    let whole = counts(common::gpu_ctx());
    let split = counts(limited(|l| l.max_storage_buffer_binding_size = 160 << 10));
    let spikes: u32 = whole.iter().flatten().sum();
    assert!(spikes > 100, "too few spikes to compare: {spikes}");
    assert_eq!(split, whole);
}

/// Frozen trials' chunks count the tables that grow with the copies: 4,096 Poisson inputs
/// reach 8 LIF neurons through 5 % of their synapses, on an engine that keeps a series'
/// inputs (`presentations_per_submission` above 1, the default on hardware), whose two more
/// sets of thresholds per copy lie in one region of `tables` (32 KiB a copy), more than any
/// buffer's share of a copy (its spike counts, 17 KiB, are the largest); under a binding
/// limit of 40 KiB, 8 trials run one at a time (two copies' sets would pass it), with the
/// counts of an engine without the limit.
pub fn trials_run_in_chunks_that_fit_the_input_tables() {
    let lif = NeuronModel::lif(
        LifParams {
            tau_m_ms: 10.0,
            v_rest_mv: -65.0,
        },
        -60.0,
    );
    let net = Network::new(0.5)
        .poisson("in", 4096, 0.0)
        .neurons("pop", 8, lif)
        .project(Projection::new(
            "w",
            "in",
            "pop",
            Target::MEMBRANE_EXC,
            Connectivity::FixedProbability { p: 0.05, seed: 3 },
            1.5,
        ));
    let rates: Vec<Vec<f32>> = (0..8).map(|t| vec![5.0 + 5.0 * t as f32; 4096]).collect();
    let trials: Vec<Trial<'_>> = rates
        .iter()
        .enumerate()
        .map(|(t, r)| Trial {
            rates_hz: r,
            key: 3 + t as u32,
        })
        .collect();
    let counts = |ctx| {
        let opts = GpuEngineOptions {
            presentations_per_submission: Some(16),
            ..GpuEngineOptions::default()
        };
        let mut e = GpuEngine::with_options(ctx, &net, opts).expect("engine");
        e.run_trials(0, "in", &trials, 40, "pop").expect("trials")
    };
    let whole = counts(common::gpu_ctx());
    let split = counts(limited(|l| l.max_storage_buffer_binding_size = 40 << 10));
    let spikes: u32 = whole.iter().flatten().sum();
    assert!(spikes > 20, "too few spikes to compare: {spikes}");
    assert_eq!(split, whole);
}

/// A context on the tests' adapter whose limits `lower` lowers (the engine checks against
/// them; the device keeps its own).
fn limited(lower: impl FnOnce(&mut wgpu::Limits)) -> std::sync::Arc<GpuContext> {
    let mut ctx = GpuContext::new(&common::gpu_options()).expect("context");
    lower(&mut ctx.limits);
    std::sync::Arc::new(ctx)
}

/// 32 Poisson inputs at `rate_hz` onto 64 LIF neurons, all to all, whose membrane
/// potentials a state monitor `v` records at every step.
fn recorded_lif(rate_hz: f32) -> Network {
    let lif = NeuronModel::lif(
        LifParams {
            tau_m_ms: 10.0,
            v_rest_mv: -65.0,
        },
        -60.0,
    );
    Network::new(0.5)
        .poisson("in", 32, rate_hz)
        .neurons("pop", 64, lif)
        .project(Projection::new(
            "w",
            "in",
            "pop",
            Target::Membrane {
                sign: Sign::Excitatory,
            },
            Connectivity::AllToAll,
            2.0,
        ))
        .monitor(
            "v",
            "pop",
            MonitorKind::State {
                variable: "v".into(),
                neurons: (0..64).collect(),
            },
        )
}
