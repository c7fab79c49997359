//! GPU vs CPU reference: every model, ≥ 1000 steps of Poisson-driven input, both schedules.
//!
//! Spike trains must be identical (bit for bit in the spike monitor). State variables
//! (the final state and the state monitor's traces) must agree within `common::REL_TOL`
//! relative: |a − b| ≤ 1e-5·max(|b|, 1e-4) (`common::assert_close`). On llvmpipe they are
//! bit-identical, since both sides do the same f32 operations in the same order; on an NVIDIA
//! H200 (Vulkan) the spike trains were identical and the traces differed in the last bits.

use crate::common;

use snn_wgpu::cpu::CpuBackend;
use snn_wgpu::gpu::{GpuBackend, GpuBackendOptions, Schedule};
use snn_wgpu::model::*;
use snn_wgpu::{Backend, NetworkState, Recording};
use std::sync::Arc;

fn assert_states_close(gpu: &NetworkState, cpu: &NetworkState, what: &str) {
    assert_eq!(gpu.var_names, cpu.var_names);
    assert_eq!(gpu.step, cpu.step, "{what}: step counters");
    for (name, (a, b)) in gpu.var_names.iter().zip(gpu.vars.iter().zip(&cpu.vars)) {
        common::assert_close(a, b, &format!("{what}: {name}"));
    }
    assert_eq!(gpu.refrac, cpu.refrac, "{what}: refractory counters");
}

fn assert_spikes_identical(gpu: &Recording, cpu: &Recording, what: &str) {
    assert_eq!(gpu.spike_words.len(), cpu.spike_words.len());
    if gpu.spike_words != cpu.spike_words {
        let first = gpu
            .spike_words
            .iter()
            .zip(&cpu.spike_words)
            .position(|(a, b)| a != b)
            .unwrap();
        panic!(
            "{what}: spike trains differ first at word {first} (gpu total {}, cpu total {})",
            gpu.total_spikes(),
            cpu.total_spikes()
        );
    }
}

/// Runs `spec` for `steps` (split in two calls, to cover state carried across runs) on the
/// CPU and on the GPU with both schedules, and compares.
fn check(spec: &NetworkSpec, steps: u32, min_spikes: u64) {
    let ctx = common::gpu_ctx();
    let mut cpu = CpuBackend::new(spec).unwrap();
    cpu.run(steps / 3).unwrap();
    cpu.run(steps - steps / 3).unwrap();
    let cpu_rec = cpu.recording().unwrap();
    let cpu_state = cpu.state().unwrap();
    assert!(
        cpu_rec.total_spikes() >= min_spikes,
        "{}: only {} spikes: test input too weak",
        spec.name,
        cpu_rec.total_spikes()
    );
    for schedule in [Schedule::Fused, Schedule::Stepwise] {
        let what = format!("{} {:?}", spec.name, schedule);
        let mut gpu = GpuBackend::new(
            Arc::clone(&ctx),
            spec,
            GpuBackendOptions {
                schedule,
                ..Default::default()
            },
        )
        .unwrap();
        gpu.run(steps / 3).unwrap();
        gpu.run(steps - steps / 3).unwrap();
        assert_spikes_identical(&gpu.recording().unwrap(), &cpu_rec, &what);
        assert_states_close(&gpu.state().unwrap(), &cpu_state, &what);
        let g = gpu.recording().unwrap();
        assert_eq!(
            g.state.len(),
            cpu_rec.state.len(),
            "{what}: state monitor size"
        );
        let worst =
            common::assert_close(&g.state, &cpu_rec.state, &format!("{what}: state monitor"));
        eprintln!("{what}: largest relative difference of the traces {worst:.2e}");
    }
}

fn monitors(n: u32, steps: u32, vars: &[&str]) -> MonitorSpec {
    MonitorSpec {
        spikes: Some(0..steps),
        state: Some(StateMonitor {
            vars: vars.iter().map(|s| s.to_string()).collect(),
            neurons: vec![0, n / 2, n - 1],
            steps: 100..300,
        }),
    }
}

fn rates(n: u32) -> Vec<f32> {
    (0..n)
        .map(|i| 20.0 + 180.0 * ((i * 37) % 101) as f32 / 100.0)
        .collect()
}

pub fn if_neurons_agree() {
    let spec = NetworkSpec::new("if", 400, NeuronModel::integrate_and_fire(1.0, 0.0))
        .with_seed(11)
        .with_input(InputSpec {
            constant: 0.01,
            poisson: Some(PoissonInput {
                rate_hz: rates(400),
                weight: 0.3,
            }),
            active_steps: Some(0..900),
        })
        .with_monitors(monitors(400, 1200, &["v"]));
    check(&spec, 1200, 1000);
}

pub fn lif_with_theta_and_refractory_agree() {
    let model = NeuronModel::lif(
        LifParams {
            tau_m_ms: 20.0,
            v_rest_mv: -65.0,
        },
        -55.0,
    )
    .with_refractory_ms(2.0)
    .with_theta(ThetaParams {
        theta_init_mv: 0.0,
        theta_plus_mv: 0.5,
        tau_theta_ms: 50.0,
        frozen: false,
    });
    let spec = NetworkSpec::new("lif", 400, model)
        .with_seed(3)
        .with_input(InputSpec::poisson_per_neuron(rates(400), 3.0))
        .with_monitors(monitors(400, 1000, &["v", "theta"]));
    check(&spec, 1000, 1000);
}

pub fn lif_soft_reset_agrees() {
    let model = NeuronModel::lif(
        LifParams {
            tau_m_ms: 10.0,
            v_rest_mv: 0.0,
        },
        1.0,
    )
    .with_reset(ResetMode::Soft);
    let spec = NetworkSpec::new("lif_soft", 256, model)
        .with_seed(5)
        .with_batch(2)
        .with_input(InputSpec::poisson_per_neuron(rates(256), 0.4))
        .with_monitors(monitors(256, 1000, &["v"]));
    check(&spec, 1000, 1000);
}

pub fn diehl_cook_excitatory_agrees() {
    let spec = NetworkSpec::new("dc_exc", 400, NeuronModel::diehl_cook_excitatory())
        .with_seed(7)
        .with_input(InputSpec::poisson_per_neuron(rates(400), 2.0))
        .with_monitors(monitors(400, 2000, &["v", "theta", "ge", "gi"]));
    check(&spec, 2000, 500);
}

pub fn lockout_agrees() {
    let model = NeuronModel::diehl_cook_excitatory().with_lockout_ms(50.0);
    let spec = NetworkSpec::new("dc_exc_lockout", 400, model)
        .with_seed(17)
        .with_input(InputSpec::poisson_per_neuron(rates(400), 2.0))
        .with_monitors(monitors(400, 1500, &["v", "theta"]));
    check(&spec, 1500, 500);
}

pub fn diehl_cook_inhibitory_agrees() {
    let spec = NetworkSpec::new("dc_inh", 400, NeuronModel::diehl_cook_inhibitory())
        .with_seed(9)
        .with_input(InputSpec::poisson_per_neuron(rates(400), 4.0))
        .with_monitors(monitors(400, 1000, &["v", "ge"]));
    check(&spec, 1000, 1000);
}

/// Current LIF (Brette et al.'s CUBA neuron, `shaders/neuron/current_lif.wgsl`): input into
/// `ge` in mV, resting above threshold, so it fires on its own as well.
pub fn current_lif_agrees() {
    let model = NeuronModel {
        kind: NeuronKind::CurrentLif(CurrentLifParams {
            tau_m_ms: 20.0,
            v_rest_mv: -49.0,
            tau_ge_ms: 5.0,
            tau_gi_ms: 10.0,
            integration: Integration::Euler,
        }),
        v_threshold_mv: -50.0,
        reset: ResetMode::Hard { v_reset_mv: -60.0 },
        refractory_ms: 5.0,
        lockout_ms: 0.0,
        v_init_mv: -60.0,
        theta: None,
    };
    let spec = NetworkSpec::new("current_lif", 400, model)
        .with_dt_ms(0.1)
        .with_seed(19)
        .with_input(InputSpec::poisson_per_neuron(rates(400), 1.62))
        .with_monitors(monitors(400, 1500, &["v", "ge", "gi"]));
    check(&spec, 1500, 500);
}

pub fn custom_model_agrees() {
    let spec = NetworkSpec::new("custom", 300, common_models::adaptive_if())
        .with_seed(13)
        .with_input(InputSpec {
            constant: 0.05,
            poisson: Some(PoissonInput {
                rate_hz: rates(300),
                weight: 0.5,
            }),
            active_steps: None,
        })
        .with_monitors(monitors(300, 1000, &["v", "theta", "w"]));
    check(&spec, 1000, 1000);
}

/// The largest size we claim (N = 6400), run past llvmpipe's loop cap so that the fused
/// schedule must split the run into chunks.
pub fn largest_network_agrees_across_chunks() {
    let spec = NetworkSpec::new("dc_exc_6400", 6400, NeuronModel::diehl_cook_excitatory())
        .with_seed(21)
        .with_input(InputSpec::poisson_per_neuron(rates(6400), 2.0))
        .with_monitors(monitors(6400, 1000, &["v", "theta"]));
    let chunk = snn_wgpu::gpu::fused_chunk_steps(6400, 64);
    assert!(
        chunk < 1000,
        "the test must span several fused chunks (chunk = {chunk})"
    );
    check(&spec, 1000, 1000);
}

/// Canary for llvmpipe's silent loop cap: the same run in one dispatch (each invocation
/// looping 1000 × 101 times, past 65,535) goes wrong on a software adapter, which is why the
/// engine chunks. On a real GPU (no cap) the unchunked run must still agree.
pub fn unchunked_fused_run_shows_the_loop_cap() {
    let ctx = common::gpu_ctx();
    let spec = NetworkSpec::new("canary", 6400, NeuronModel::diehl_cook_excitatory())
        .with_seed(21)
        .with_input(InputSpec::poisson_per_neuron(rates(6400), 2.0))
        .with_monitors(MonitorSpec {
            spikes: Some(0..1000),
            state: None,
        });
    let mut cpu = CpuBackend::new(&spec).unwrap();
    cpu.run(1000).unwrap();
    let want = cpu.recording().unwrap().total_spikes();
    let opts = GpuBackendOptions {
        max_steps_per_dispatch: Some(1000),
        ..Default::default()
    };
    let mut gpu = GpuBackend::new(ctx.clone(), &spec, opts).unwrap();
    gpu.run(1000).unwrap();
    let got = gpu.recording().unwrap().total_spikes();
    if ctx.is_software() {
        assert_ne!(got, want, "llvmpipe ran 101,000 loop iterations per invocation without the cap: the chunking may be unnecessary");
    } else {
        assert_eq!(got, want);
    }
}

mod common_models {
    use snn_wgpu::model::*;
    use std::sync::Arc;

    /// IF with an adaptation variable `w`: `v ← v + x − 0.01·w`, `w ← 0.9·w + x`, and θ rising
    /// by 0.2 per spike.
    pub fn adaptive_if() -> NeuronModel {
        let custom = CustomModel {
            name: "if_adapt".into(),
            state_vars: vec![("w".into(), 0.0)],
            params: vec![("k_w".into(), 0.01), ("decay_w".into(), 0.9)],
            charge_wgsl: "o.v = s.v + x - k_w * s.w; o.w = s.w * decay_w + x;".into(),
            charge_cpu: Arc::new(|s, p, x| {
                let (v, w) = (s[0], s[1]);
                s[0] = v + x - p[0] * w;
                s[1] = w * p[1] + x;
            }),
        };
        NeuronModel {
            kind: NeuronKind::Custom(custom),
            v_threshold_mv: 1.0,
            reset: ResetMode::Hard { v_reset_mv: 0.0 },
            refractory_ms: 1.0,
            lockout_ms: 0.0,
            v_init_mv: 0.0,
            theta: Some(ThetaParams {
                theta_init_mv: 0.0,
                theta_plus_mv: 0.2,
                tau_theta_ms: 200.0,
                frozen: false,
            }),
        }
    }
}
