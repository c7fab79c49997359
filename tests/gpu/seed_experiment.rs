//! The seed experiment as a test: IF, v_threshold = 1, hard reset to 0, input 0.1 per step,
//! T = 128, threshold rising by 1 after each spike (a custom model plus the engine's θ).
//!
//! f32 accumulation of 0.1 makes the inter-spike intervals 10, 20, 31, 41 steps rather
//! than the real-number 10, 20, 30, 40: the test pins the steps f32 gives, on both backends.

use crate::common;

use snn_wgpu::cpu::CpuBackend;
use snn_wgpu::gpu::{GpuBackend, GpuBackendOptions, Schedule};
use snn_wgpu::model::*;
use snn_wgpu::Backend;

const T: u32 = 128;
const EXPECTED_SPIKES: [u32; 4] = [9, 29, 60, 101];

fn seed_spec() -> NetworkSpec {
    let if_neuron = CustomModel::new("seed_if", "o.v = s.v + x;", |s, _p, x| s[0] += x);
    let model = NeuronModel::custom(if_neuron, 1.0, ResetMode::Hard { v_reset_mv: 0.0 })
        .with_theta(ThetaParams {
            theta_init_mv: 0.0,
            theta_plus_mv: 1.0,
            tau_theta_ms: f32::INFINITY,
            frozen: false,
        });
    NetworkSpec::new("seed", 1, model)
        .with_dt_ms(1.0)
        .with_input(InputSpec::constant(0.1))
        .with_monitors(MonitorSpec {
            spikes: Some(0..T),
            state: Some(StateMonitor {
                vars: vec!["v".into(), "theta".into()],
                neurons: vec![0],
                steps: 0..T,
            }),
        })
}

/// The same experiment as a plain f32 loop, independent of the engine.
fn plain_f32_loop() -> Vec<u32> {
    let (mut v, mut th, mut spikes) = (0f32, 1f32, vec![]);
    for t in 0..T {
        v += 0.1;
        if v >= th {
            spikes.push(t);
            v = 0.0;
            th += 1.0;
        }
    }
    spikes
}

fn check(sim: &mut dyn Backend) {
    sim.run(T).unwrap();
    let rec = sim.recording().unwrap();
    assert_eq!(rec.spike_times(0, 0), EXPECTED_SPIKES, "{}", sim.describe());
    let theta = rec.trace("theta", 0, 0).unwrap();
    assert_eq!(theta[8], 0.0);
    assert_eq!(theta[9], 1.0);
    assert_eq!(theta[T as usize - 1], 4.0);
    let v = rec.trace("v", 0, 0).unwrap();
    assert_eq!(v[9], 0.0, "hard reset to 0");
    assert_eq!(v[10], 0.1);
}

pub fn plain_f32_arithmetic_gives_the_pinned_steps() {
    assert_eq!(plain_f32_loop(), EXPECTED_SPIKES);
}

pub fn seed_experiment_on_cpu() {
    check(&mut CpuBackend::new(&seed_spec()).unwrap());
}

pub fn seed_experiment_on_gpu_both_schedules() {
    let ctx = common::gpu_ctx();
    for schedule in [Schedule::Fused, Schedule::Stepwise] {
        let opts = GpuBackendOptions {
            schedule,
            ..Default::default()
        };
        check(&mut GpuBackend::new(ctx.clone(), &seed_spec(), opts).unwrap());
    }
}
