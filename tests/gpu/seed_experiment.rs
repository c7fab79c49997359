//! The seed experiment as a test: IF, v_threshold = 1, hard reset to 0, input 0.1 per step,
//! T = 128, threshold rising by 1 after each spike (a custom model plus the engine's θ).
//!
//! f32 accumulation of 0.1 makes the inter-spike intervals 10, 20, 31, 41 steps rather
//! than the real-number 10, 20, 30, 40: the test pins the steps f32 gives, on both engines.

use crate::common;

use snn_wgpu::backend::Simulator;
use snn_wgpu::cpu::engine::Engine;
use snn_wgpu::gpu::GpuEngine;
use snn_wgpu::model::net::{MonitorKind, Network, Recording};
use snn_wgpu::model::*;

const T: u32 = 128;
const EXPECTED_SPIKES: [u32; 4] = [9, 29, 60, 101];

fn seed_network() -> Network {
    let if_neuron = CustomModel::new("seed_if", "o.v = s.v + x;", |s, _p, x| s[0] += x);
    let model = NeuronModel::custom(if_neuron, 1.0, ResetMode::Hard { v_reset_mv: 0.0 })
        .with_theta(ThetaParams {
            theta_init_mv: 0.0,
            theta_plus_mv: 1.0,
            tau_theta_ms: f32::INFINITY,
            frozen: false,
        });
    let state = |v: &str| MonitorKind::State {
        variable: v.into(),
        neurons: vec![0],
    };
    let net = Network::new(1.0)
        .neurons("seed", 1, model)
        .monitor("spikes", "seed", MonitorKind::Spikes { neurons: None })
        .monitor("v", "seed", state("v"))
        .monitor("theta", "seed", state("theta"));
    common::with_drive(net, "seed", 1, 0.1, 0..T)
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

fn trace(sim: &dyn Simulator, var: &str) -> Vec<f32> {
    match sim.recording(var, 0).unwrap() {
        Recording::State { values, .. } => values.clone(),
        other => panic!("{other:?}"),
    }
}

fn check(sim: &mut dyn Simulator) {
    sim.run(T).unwrap();
    let spikes: Vec<u32> = match sim.recording("spikes", 0).unwrap() {
        Recording::Spikes(s) => s.iter().map(|&(t, _)| t).collect(),
        other => panic!("{other:?}"),
    };
    assert_eq!(spikes, EXPECTED_SPIKES, "{}", sim.describe());
    let theta = trace(sim, "theta");
    assert_eq!(theta[8], 0.0);
    assert_eq!(theta[9], 1.0);
    assert_eq!(theta[T as usize - 1], 4.0);
    let v = trace(sim, "v");
    assert_eq!(v[9], 0.0, "hard reset to 0");
    assert_eq!(v[10], 0.1);
}

pub fn plain_f32_arithmetic_gives_the_pinned_steps() {
    assert_eq!(plain_f32_loop(), EXPECTED_SPIKES);
}

pub fn seed_experiment_on_cpu() {
    check(&mut Engine::new(&seed_network()).unwrap());
}

pub fn seed_experiment_on_gpu() {
    check(&mut GpuEngine::new(common::gpu_ctx(), &seed_network()).unwrap());
}
