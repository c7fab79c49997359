//! The Diehl & Cook constants, pinned against the paper's and the original code's values
//! written out here, and the derived per-step numbers and θ dynamics against values this file
//! computes itself with `exp()` from those constants (not through the crate's `derive()`).
//!
//! Why: a wrong constant (τ_θ = 10⁸ instead of 10⁷ ms, a trace τ of 40 where 20 belongs)
//! trains and classifies almost as well on a few hundred images, so the learning tests do
//! not see it; these do.

use snn_wgpu::data::mnist::{embedded, Split};
use snn_wgpu::experiments::diehl_cook::config::{DcConfig, PRESETS};
use snn_wgpu::experiments::diehl_cook::engine::DcEngine;
use snn_wgpu::experiments::diehl_cook::{PresentOptions, RestMode};
use snn_wgpu::model::neuron::{Integration, NeuronKind, NeuronModel, ResetMode};
use snn_wgpu::model::stdp::{StdpParams, StdpRule};

// The original code's constants (Diehl & Cook 2015, `Diehl&Cook_spiking_MNIST.py`).
const DT_MS: f64 = 0.5;
const PRESENT_MS: f64 = 350.0;
const REST_MS: f64 = 150.0;
const THETA_INIT_MV: f64 = 20.0;
const THETA_PLUS_MV: f64 = 0.05;
const TAU_THETA_MS: f64 = 1e7;
const TAU_PRE_MS: f64 = 20.0;
const TAU_POST1_MS: f64 = 20.0;
const TAU_POST2_MS: f64 = 40.0;

/// `e^(−t/τ)` in f64, rounded once to f32.
fn decay(t_ms: f64, tau_ms: f64) -> f32 {
    (-t_ms / tau_ms).exp() as f32
}

/// `|a − b| ≤ rel·|b|`.
fn assert_rel(a: f32, b: f32, rel: f32, what: &str) {
    assert!(
        (a - b).abs() <= rel * b.abs(),
        "{what}: {a} vs {b} (relative difference {:.2e}, allowed {rel:.0e})",
        ((a - b) / b).abs()
    );
}

#[test]
fn presets_hold_the_original_constants() {
    for (name, n_exc, epochs) in [
        ("dc100", 100, 1),
        ("dc400", 400, 3),
        ("dc1600", 1600, 7),
        ("dc6400", 6400, 15),
    ] {
        assert!(PRESETS.contains(&name));
        let c = DcConfig::preset(name).unwrap();
        assert_eq!((c.n_exc, c.epochs), (n_exc, epochs), "{name}");
        assert_eq!(c.dt_ms as f64, DT_MS, "{name}: dt");
        assert_eq!(c.present_ms as f64, PRESENT_MS, "{name}: presentation");
        assert_eq!(c.rest_ms as f64, REST_MS, "{name}: rest");
        assert_eq!(c.rest, RestMode::Simulate, "{name}: rest mode");
        assert_eq!(
            (c.intensity_start, c.intensity_step, c.min_spikes),
            (2.0, 1.0, 5),
            "{name}: intensity 2 (pixel / 4 Hz), +1 per retry below 5 spikes"
        );
        assert_eq!(c.theta_plus_mv, THETA_PLUS_MV as f32, "{name}: θ⁺");
        assert_eq!(c.tau_theta_ms as f64, TAU_THETA_MS, "{name}: τ_θ");
        assert_eq!(c.norm_target, 78.0, "{name}: column sum");
        assert_eq!(
            (c.w_exc_inh, c.w_inh_exc),
            (10.4, 17.0),
            "{name}: lateral weights"
        );
        assert_eq!(c.w_max, 1.0, "{name}: w_max");
        assert_eq!(c.input_delay_max_ms, 10.0, "{name}: input delays");
        // The 5 ms lockout of Brian 1, as a lockout after the spike's own step.
        assert_eq!(
            (c.refractory_exc_ms, c.lockout_exc_ms as f64),
            (0.0, 5.0 - DT_MS),
            "{name}: refractoriness"
        );
        assert_eq!(c.stdp, StdpParams::diehl_cook(), "{name}: STDP");
        let spec = c.to_spec();
        let t = spec.exc.theta.expect("the excitatory layer has θ");
        assert_eq!(t.tau_theta_ms as f64, TAU_THETA_MS, "{name}: spec τ_θ");
        assert_eq!(t.theta_plus_mv, THETA_PLUS_MV as f32, "{name}: spec θ⁺");
        assert_eq!(t.theta_init_mv as f64, THETA_INIT_MV, "{name}: spec θ₀");
        assert_eq!(spec.norm_target, Some(78.0));
        assert_eq!(spec.input_delay_max_ms, Some(10.0));
    }
}

#[test]
fn stdp_holds_the_original_constants_and_decays() {
    let p = StdpParams::diehl_cook();
    assert_eq!(p.rule, StdpRule::Triplet);
    assert_eq!((p.nu_pre, p.nu_post), (1e-4, 1e-2), "ν_pre, ν_post");
    assert_eq!(
        (
            p.tau_pre_ms as f64,
            p.tau_post1_ms as f64,
            p.tau_post2_ms as f64
        ),
        (TAU_PRE_MS, TAU_POST1_MS, TAU_POST2_MS)
    );
    let d = p.derive(DT_MS as f32);
    // e^(−0.5/20) = 0.975310, e^(−0.5/40) = 0.987578.
    assert_rel(
        d.decay_pre_per_step,
        decay(DT_MS, TAU_PRE_MS),
        1e-7,
        "pre decay",
    );
    assert_rel(
        d.decay_post1_per_step,
        decay(DT_MS, TAU_POST1_MS),
        1e-7,
        "post1 decay",
    );
    assert_rel(
        d.decay_post2_per_step,
        decay(DT_MS, TAU_POST2_MS),
        1e-7,
        "post2 decay",
    );
    assert!((d.decay_pre_per_step - 0.975_310).abs() < 1e-6);
    assert!((d.decay_post2_per_step - 0.987_578).abs() < 1e-6);
}

#[test]
fn neuron_models_hold_the_original_constants() {
    let e = NeuronModel::diehl_cook_excitatory();
    let NeuronKind::CondLif(p) = &e.kind else {
        panic!("excitatory: not a conductance LIF")
    };
    assert_eq!(
        (
            p.tau_m_ms,
            p.v_rest_mv,
            p.tau_ge_ms,
            p.tau_gi_ms,
            p.e_exc_mv,
            p.e_inh_mv
        ),
        (100.0, -65.0, 1.0, 2.0, 0.0, -100.0),
        "excitatory τ_m, v_rest, τ_ge, τ_gi, E_exc, E_inh"
    );
    assert_eq!(p.integration, Integration::Euler);
    // v > θ − 20 mV − 52 mV.
    assert_eq!(e.v_threshold_mv, -72.0);
    assert_eq!(e.reset, ResetMode::Hard { v_reset_mv: -65.0 });
    assert_eq!(e.v_init_mv, -105.0);
    let i = NeuronModel::diehl_cook_inhibitory();
    let NeuronKind::CondLif(q) = &i.kind else {
        panic!("inhibitory: not a conductance LIF")
    };
    assert_eq!(
        (
            q.tau_m_ms,
            q.v_rest_mv,
            q.tau_ge_ms,
            q.tau_gi_ms,
            q.e_exc_mv,
            q.e_inh_mv
        ),
        (10.0, -60.0, 1.0, 2.0, 0.0, -85.0),
        "inhibitory τ_m, v_rest, τ_ge, τ_gi, E_exc, E_inh"
    );
    assert_eq!(
        (i.v_threshold_mv, i.refractory_ms, i.v_init_mv),
        (-40.0, 2.0, -100.0)
    );
    assert_eq!(i.reset, ResetMode::Hard { v_reset_mv: -45.0 });

    // The per-step factors: forward Euler for the conductances, e^(−dt/τ_θ) for θ.
    let d = e.derive(DT_MS as f32);
    assert_eq!(d.dt_over_tau_m, 0.005);
    assert_eq!((d.decay_ge_per_step, d.decay_gi_per_step), (0.5, 0.75));
    // 1 − 5·10⁻⁸ rounds to the f32 below 1; with τ_θ = 10⁸ ms it would round to 1.
    assert_eq!(d.decay_theta_per_step, decay(DT_MS, TAU_THETA_MS));
    assert!(d.decay_theta_per_step < 1.0);
}

/// θ after a presentation with learning is `(θ₀ + θ⁺·n)·e^(−t/τ_θ)` for a neuron with `n`
/// spikes, t = 500 ms; after `k` silent presentations more it is that times `e^(−k·t/τ_θ)`.
#[test]
fn theta_follows_its_spikes_and_decays_with_tau_theta() {
    let mut cfg = DcConfig::preset("dc100").unwrap();
    cfg.n_exc = 10;
    cfg.seed = 3;
    // No rest steps to simulate: every spike is counted in the presentation's counts.
    cfg.rest = RestMode::Reset;
    let mut net = DcEngine::new(&cfg.to_spec()).unwrap();
    let theta0 = net.theta().unwrap();
    assert!(theta0.iter().all(|&t| t as f64 == THETA_INIT_MV));
    let opts = |key| PresentOptions {
        steps_on: cfg.steps_on(),
        steps_rest: cfg.steps_rest(),
        rest: cfg.rest,
        learn: true,
        key,
    };
    let presentation_ms = PRESENT_MS + REST_MS;
    let image = embedded(Split::Train).unwrap().take(1);
    // Intensity 4: enough drive for several neurons to fire on the first image.
    let counts = net
        .present(&DcConfig::rates(&image.images, 4.0), &opts(0))
        .unwrap();
    assert!(
        counts.iter().sum::<u32>() >= 5,
        "too few spikes to test θ: {counts:?}"
    );
    let theta1 = net.theta().unwrap();
    for (i, (&th, &n)) in theta1.iter().zip(&counts).enumerate() {
        let want =
            (THETA_INIT_MV + THETA_PLUS_MV * n as f64) * (-presentation_ms / TAU_THETA_MS).exp();
        assert_rel(th, want as f32, 1e-6, &format!("θ[{i}] after {n} spikes"));
    }
    let k = 20;
    let silence = vec![0.0f32; 784];
    for key in 1..=k {
        let c = net.present(&silence, &opts(key)).unwrap();
        assert!(c.iter().all(|&n| n == 0), "a neuron fired without input");
    }
    let theta2 = net.theta().unwrap();
    for (i, (&th, &n)) in theta2.iter().zip(&counts).enumerate() {
        let t_ms = presentation_ms * (k + 1) as f64;
        let want = (THETA_INIT_MV + THETA_PLUS_MV * n as f64) * (-t_ms / TAU_THETA_MS).exp();
        assert_rel(th, want as f32, 4e-6, &format!("θ[{i}] after {t_ms} ms"));
    }
    // The decay is visible at this precision: θ loses 10.5 s / 10⁴ s of itself.
    let lost = 1.0 - theta2[0] as f64 / (THETA_INIT_MV + THETA_PLUS_MV * counts[0] as f64);
    assert!(
        (lost - 1.05e-3).abs() < 2e-5,
        "θ lost {lost:.3e} of itself in 10.5 s (e^(−10.5 s / 10⁴ s) = 1 − 1.05e-3)"
    );
}
