//! Closed-form checks of the CPU engine: the semantics every GPU kernel is compared against
//! must itself be right. One neuron, driven by a constant input per step
//! (`common::with_drive`), recorded every step.

use crate::common;

use snn_wgpu::cpu::engine::{Engine, Recording};
use snn_wgpu::model::net::{MonitorKind, Network};
use snn_wgpu::model::*;

/// What one run of one neuron recorded.
struct Traced {
    /// Steps at which the neuron spiked.
    spikes: Vec<u32>,
    /// One trace per variable asked for, one value per step.
    traces: Vec<(String, Vec<f32>)>,
}

impl Traced {
    fn trace(&self, var: &str) -> &[f32] {
        &self
            .traces
            .iter()
            .find(|(v, _)| v == var)
            .expect("traced")
            .1
    }
}

/// Runs one neuron of `model` at `dt_ms` for `steps` steps, with an input of `drive` per
/// step during `drive_steps` (none when `drive` is 0), recording its spikes and `vars`.
fn run_traced(
    model: NeuronModel,
    dt_ms: f32,
    drive: f32,
    drive_steps: std::ops::Range<u32>,
    steps: u32,
    vars: &[&str],
) -> Traced {
    let mut net = Network::new(dt_ms).neurons("n", 1, model).monitor(
        "spikes",
        "n",
        MonitorKind::Spikes { neurons: None },
    );
    if drive != 0.0 {
        net = common::with_drive(net, "n", 1, drive, drive_steps);
    }
    for v in vars {
        net = net.monitor(
            v,
            "n",
            MonitorKind::State {
                variable: v.to_string(),
                neurons: vec![0],
            },
        );
    }
    let mut sim = Engine::new(&net).unwrap();
    sim.run(steps).unwrap();
    let spikes = match sim.recording("spikes", 0).unwrap() {
        Recording::Spikes(s) => s.iter().map(|&(t, _)| t).collect(),
        other => panic!("{other:?}"),
    };
    let traces = vars
        .iter()
        .map(|v| match sim.recording(v, 0).unwrap() {
            Recording::State { values, .. } => (v.to_string(), values.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    Traced { spikes, traces }
}

/// [`run_traced`] with the input on for the whole run.
fn run_driven(model: NeuronModel, dt_ms: f32, drive: f32, steps: u32, vars: &[&str]) -> Traced {
    run_traced(model, dt_ms, drive, 0..steps, steps, vars)
}

fn close(a: f32, b: f64, rel: f64) -> bool {
    (a as f64 - b).abs() <= rel * b.abs().max(1.0)
}

/// LIF under constant input x: v_k = v_inf + (v0 − v_inf)·d^(k+1), v_inf = v_rest + x/(1−d).
#[test]
fn lif_subthreshold_charging_curve() {
    let (tau, dt, v_rest, x) = (20.0f64, 0.5f64, -65.0f64, 0.1f64);
    let lif = NeuronModel::lif(
        LifParams {
            tau_m_ms: tau as f32,
            v_rest_mv: v_rest as f32,
        },
        100.0,
    );
    let rec = run_driven(lif, dt as f32, x as f32, 400, &["v"]);
    let d = (-dt / tau).exp();
    let v_inf = v_rest + x / (1.0 - d);
    assert_eq!(rec.trace("v").len(), 400);
    for (k, &v) in rec.trace("v").iter().enumerate() {
        let want = v_inf + (v_rest - v_inf) * d.powi(k as i32 + 1);
        assert!(close(v, want, 1e-5), "step {k}: {v} vs {want}");
    }
    assert!(rec.spikes.is_empty());
}

/// First spike of a LIF under constant input at k* = ceil(ln((v_inf−θ)/(v_inf−v0)) / ln d) − 1.
#[test]
fn lif_time_to_first_spike() {
    for &(tau, x, th) in &[
        (20.0f64, 0.3f64, -60.0f64),
        (10.0, 0.5, -55.3),
        (50.0, 0.2, -62.1),
    ] {
        let (dt, v_rest) = (0.5f64, -65.0f64);
        let lif = NeuronModel::lif(
            LifParams {
                tau_m_ms: tau as f32,
                v_rest_mv: v_rest as f32,
            },
            th as f32,
        );
        let rec = run_driven(lif, dt as f32, x as f32, 2000, &["v"]);
        let d = (-dt / tau).exp();
        let v_inf = v_rest + x / (1.0 - d);
        let k = (((v_inf - th) / (v_inf - v_rest)).ln() / d.ln()).ceil() as u32 - 1;
        let times = &rec.spikes;
        assert_eq!(times[0], k, "tau {tau}, x {x}, threshold {th}");
        // Regular firing afterwards: the same interval, k + 1 steps.
        assert!(times.windows(2).all(|w| w[1] - w[0] == k + 1), "{times:?}");
    }
}

/// A spike at step t clamps v at v_reset for steps t+1 ..= t+R, R = refractory_ms / dt.
#[test]
fn refractory_clamp_duration() {
    let model = NeuronModel::integrate_and_fire(1.0, -0.5).with_refractory_ms(5.0);
    let rec = run_driven(model, 0.5, 2.0, 60, &["v"]);
    let (v, times) = (rec.trace("v"), &rec.spikes);
    // v_init = -0.5: step 0 gives 1.5 ≥ 1, a spike; then 10 clamped steps, then one step of
    // charge (−0.5 + 2 = 1.5) fires again: period 11.
    assert_eq!(&times[..3], &[0, 11, 22]);
    for (t, &vt) in v.iter().enumerate().take(11).skip(1) {
        assert_eq!(vt, -0.5, "step {t} should be clamped");
    }
    assert_eq!(v[11], -0.5, "spike and reset at step 11");
}

/// A 50 ms lockout with a 5 ms clamp (the Brian2 ports): v is clamped for 10 steps, then
/// charges again, but the next spike waits for the lockout (100 steps).
#[test]
fn lockout_blocks_spikes_without_clamping_v() {
    let model = NeuronModel::integrate_and_fire(1.0, -0.5)
        .with_refractory_ms(5.0)
        .with_lockout_ms(50.0);
    let rec = run_driven(model, 0.5, 0.2, 400, &["v"]);
    let (v, times) = (rec.trace("v"), &rec.spikes);
    // From -0.5, +0.2 per step: 1.1 >= 1 after 8 steps (step 7).
    assert_eq!(times[0], 7);
    for (t, &vt) in v.iter().enumerate().take(18).skip(8) {
        assert_eq!(vt, -0.5, "step {t}: clamped");
    }
    assert!(
        v[18] > -0.5 && v[40] > 1.0,
        "charges after the clamp, above threshold but locked out"
    );
    assert_eq!(times[1], 7 + 101, "first step after the 100-step lockout");
}

/// θ after one spike at step 0: θ_k = (θ0·d + θ⁺)·d^k; with a spike every P steps θ tends to
/// θ⁺·d^0 / (1 − d^P) right after each spike.
#[test]
fn theta_growth_decay_and_equilibrium() {
    let (tau_th, dt, plus) = (100.0f64, 0.5f64, 0.5f64);
    let theta = ThetaParams {
        theta_init_mv: 1.0,
        theta_plus_mv: plus as f32,
        tau_theta_ms: tau_th as f32,
        frozen: false,
    };
    // One spike: v starts above threshold, no input.
    let model = NeuronModel::integrate_and_fire(0.0, -100.0)
        .with_v_init_mv(5.0)
        .with_theta(theta);
    let rec = run_driven(model, dt as f32, 0.0, 1000, &["theta"]);
    assert_eq!(rec.spikes, vec![0]);
    let d = (-dt / tau_th).exp();
    for (k, &th) in rec.trace("theta").iter().enumerate() {
        let want = (1.0 * d + plus) * d.powi(k as i32);
        assert!(close(th, want, 1e-5), "step {k}: {th} vs {want}");
    }
    // Periodic firing: strong input and a refractory period give one spike every P = 11 steps.
    let model = NeuronModel::integrate_and_fire(1.0, 0.0)
        .with_refractory_ms(5.0)
        .with_theta(ThetaParams {
            theta_init_mv: 0.0,
            ..theta
        });
    let steps = 20_000;
    let rec = run_driven(model, dt as f32, 1000.0, steps, &["theta"]);
    let times = &rec.spikes;
    let p = times[times.len() - 1] - times[times.len() - 2];
    assert_eq!(p, 11);
    let last = *times.last().unwrap() as usize;
    let th = rec.trace("theta")[last];
    let equilibrium = plus / (1.0 - d.powi(p as i32));
    assert!(
        close(th, equilibrium, 1e-3),
        "theta {th} vs equilibrium {equilibrium}"
    );
}

#[test]
fn frozen_theta_does_not_move() {
    let theta = ThetaParams {
        theta_init_mv: 0.25,
        theta_plus_mv: 1.0,
        tau_theta_ms: 10.0,
        frozen: true,
    };
    let model = NeuronModel::integrate_and_fire(1.0, 0.0).with_theta(theta);
    let rec = run_driven(model, 0.5, 0.5, 100, &["theta"]);
    assert!(rec.spikes.len() > 10);
    assert!(rec.trace("theta").iter().all(|&t| t == 0.25));
}

/// A conductance pulse at step 0 decays as (1 − dt/τ)^(k+1) (Euler) or e^(−(k+1)·dt/τ)
/// (exact), and gi stays 0.
#[test]
fn conductance_decay() {
    for integration in [Integration::Euler, Integration::Exact] {
        let mut p = CondLifParams::diehl_cook_excitatory();
        p.integration = integration;
        p.tau_ge_ms = 5.0;
        let model = NeuronModel {
            kind: NeuronKind::CondLif(p),
            theta: None,
            ..NeuronModel::diehl_cook_excitatory()
        };
        let rec = run_traced(model, 0.5, 1.0, 0..1, 100, &["ge", "gi"]);
        let d = match integration {
            Integration::Euler => 1.0 - 0.5 / 5.0,
            Integration::Exact => (-0.5f64 / 5.0).exp(),
        };
        for (k, &ge) in rec.trace("ge").iter().enumerate() {
            assert!(
                close(ge, d.powi(k as i32 + 1), 1e-5),
                "{integration:?} step {k}: {ge}"
            );
        }
        assert!(rec.trace("gi").iter().all(|&g| g == 0.0));
    }
}
