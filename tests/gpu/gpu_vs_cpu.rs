//! Every neuron model on the GPU engine against the CPU engine: one population of 256 to
//! 6,400 neurons driven one-to-one by Poisson sources (and a constant drive), ≥ 1000 steps
//! in several runs, with `engine_vs_cpu::on_both`'s comparison: spikes, every state
//! variable and the recorded traces bit for bit on llvmpipe (both sides do the same f32
//! operations in the same order); on a real GPU equal spikes and state within
//! `common::REL_TOL`.

use crate::common;
use crate::engine_vs_cpu::{assert_active, on_both};

use snn_wgpu::backend::Simulator;
use snn_wgpu::model::net::{Connectivity, MonitorKind, Network, Projection};
use snn_wgpu::model::*;
use std::sync::Arc;

/// A population `pop` of `n` neurons of `model` and a Poisson source `in` projected
/// one-to-one onto it with weight `w` (into `ge` for conductance and current LIF, `v`
/// otherwise), one copy per seed, spikes of every neuron and `vars` of neurons 0, n/2 and
/// n − 1 recorded.
fn driven(
    n: u32,
    model: NeuronModel,
    dt_ms: f32,
    seeds: Vec<u32>,
    w: f32,
    vars: &[&str],
) -> Network {
    let target = match model.kind {
        NeuronKind::CondLif(_) | NeuronKind::CurrentLif(_) => Target::Ge,
        _ => Target::MEMBRANE_EXC,
    };
    let mut net = Network::new(dt_ms)
        .with_seeds(seeds)
        .poisson("in", n, 0.0)
        .neurons("pop", n, model)
        .project(Projection::new(
            "in_pop",
            "in",
            "pop",
            target,
            Connectivity::OneToOne,
            w,
        ))
        .monitor("spikes", "pop", MonitorKind::Spikes { neurons: None });
    for v in vars {
        net = net.monitor(
            v,
            "pop",
            MonitorKind::State {
                variable: v.to_string(),
                neurons: vec![0, n / 2, n - 1],
            },
        );
    }
    net
}

fn rates(n: u32) -> Vec<f32> {
    (0..n)
        .map(|i| 20.0 + 180.0 * ((i * 37) % 101) as f32 / 100.0)
        .collect()
}

/// Sets the rates of `in` in every copy, then runs `steps` in two calls (state carried
/// across runs), on both engines; at least `min_spikes` spikes in copy 0.
fn check(net: &Network, steps: u32, min_spikes: usize) {
    let n = net.populations[0].size;
    let counts = on_both(net, |e: &mut dyn Simulator| {
        for c in 0..e.network().batch() {
            e.set_rates("in", c, &rates(n)).expect("rates");
        }
        e.run(steps / 3).expect("run");
        e.run(steps - steps / 3).expect("run");
    });
    assert_active(&counts, min_spikes);
}

/// IF with a constant drive of 0.01 per step besides the Poisson input, both off after
/// step 900.
pub fn if_neurons_agree() {
    let net = driven(
        400,
        NeuronModel::integrate_and_fire(1.0, 0.0),
        0.5,
        vec![11],
        0.3,
        &["v"],
    );
    let net = common::with_drive(net, "pop", 400, 0.01, 0..900);
    let counts = on_both(&net, |e: &mut dyn Simulator| {
        e.set_rates("in", 0, &rates(400)).expect("rates");
        e.run(400).expect("run");
        e.run(500).expect("run");
        e.set_rates("in", 0, &[0.0; 400]).expect("rates");
        e.run(300).expect("run");
    });
    assert_active(&counts, 1000);
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
    check(
        &driven(400, model, 0.5, vec![3], 3.0, &["v", "theta"]),
        1000,
        1000,
    );
}

/// Two copies.
pub fn lif_soft_reset_agrees() {
    let model = NeuronModel::lif(
        LifParams {
            tau_m_ms: 10.0,
            v_rest_mv: 0.0,
        },
        1.0,
    )
    .with_reset(ResetMode::Soft);
    check(
        &driven(256, model, 0.5, vec![5, 6], 0.4, &["v"]),
        1000,
        1000,
    );
}

pub fn diehl_cook_excitatory_agrees() {
    let net = driven(
        400,
        NeuronModel::diehl_cook_excitatory(),
        0.5,
        vec![7],
        2.0,
        &["v", "theta", "ge", "gi"],
    );
    check(&net, 2000, 500);
}

pub fn lockout_agrees() {
    let model = NeuronModel::diehl_cook_excitatory().with_lockout_ms(50.0);
    check(
        &driven(400, model, 0.5, vec![17], 2.0, &["v", "theta"]),
        1500,
        500,
    );
}

pub fn diehl_cook_inhibitory_agrees() {
    let net = driven(
        400,
        NeuronModel::diehl_cook_inhibitory(),
        0.5,
        vec![9],
        4.0,
        &["v", "ge"],
    );
    check(&net, 1000, 1000);
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
    check(
        &driven(400, model, 0.1, vec![19], 1.62, &["v", "ge", "gi"]),
        1500,
        500,
    );
}

/// A custom model (its own variable `w`, θ), with a constant drive of 0.05 per step.
pub fn custom_model_agrees() {
    let net = driven(300, adaptive_if(), 0.5, vec![13], 0.5, &["v", "theta", "w"]);
    check(
        &common::with_drive(net, "pop", 300, 0.05, 0..1000),
        1000,
        1000,
    );
}

/// The largest population we claim (N = 6400).
pub fn largest_network_agrees() {
    let net = driven(
        6400,
        NeuronModel::diehl_cook_excitatory(),
        0.5,
        vec![21],
        2.0,
        &["v", "theta"],
    );
    check(&net, 1000, 1000);
}

/// IF with an adaptation variable `w`: `v ← v + x − 0.01·w`, `w ← 0.9·w + x`, and θ rising
/// by 0.2 per spike.
fn adaptive_if() -> NeuronModel {
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
