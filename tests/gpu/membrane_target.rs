//! Projections that target the membrane (`Target::Membrane`) in the competitive layer.
//!
//! - closed form on the CPU: an input spike through a membrane projection of weight `w` adds
//!   exactly `w` mV to `v` in the step it arrives; an inhibitory spike of step `t` through
//!   the inhibitory membrane projection subtracts exactly `w` in step `t + 1` (not from its
//!   partner), and a jump reaching a refractory neuron is lost (the clamp of charge);
//! - the GPU engine (fused and passes schedules) against the CPU for a small current-based layer (LIF neurons,
//!   every projection on the membrane, as BindsNET's `DiehlAndCook2015`) and a mixed one
//!   (conductance LIF with membrane inhibition, IF inhibitory neurons), learning with STDP:
//!   identical spike counts, weights and θ within 1e-5 relative;
//! - winner-take-all still emerges when the inhibition is a voltage jump;
//! - invalid combinations are errors naming the projection (and the model).

use crate::common;

use crate::common::assert_close as close;

use snn_wgpu::backend::EngineChoice;
use snn_wgpu::data::mnist::{embedded, Split};
use snn_wgpu::experiments::diehl_cook::config::DcConfig;
use snn_wgpu::experiments::diehl_cook::engine::DcEngine;
use snn_wgpu::experiments::diehl_cook::record::{present_recorded, PresentationRecord};
use snn_wgpu::experiments::diehl_cook::{
    CompetitiveSpec, Connectivity, PresentOptions, Projection, RestMode, WeightInit,
};
use snn_wgpu::gpu::{EngineSchedule, GpuEngineOptions};
use snn_wgpu::model::{CustomModel, LifParams, NeuronModel, ResetMode, Sign, Target, ThetaParams};

/// A current-based layer with BindsNET's `DiehlAndCook2015` constants: LIF excitatory
/// neurons (threshold −52 mV + θ, rest −65, reset −60, 5 ms refractory, τ 100 ms, θ⁺
/// 0.05 mV) and LIF inhibitory ones (−40, −60, −45, 2 ms, τ 10 ms); every projection on the
/// membrane: input (plastic, columns normalised to 78.4), exc→inh 22.5 mV, inh→exc −17.5 mV.
fn current_based(n_exc: u32, seed: u32) -> CompetitiveSpec {
    let mut spec = DcConfig::preset("dc100").unwrap().to_spec();
    spec.n_exc = n_exc;
    spec.seed = seed;
    spec.input_delay_max_ms = None;
    spec.exc = NeuronModel::lif(
        LifParams {
            tau_m_ms: 100.0,
            v_rest_mv: -65.0,
        },
        -52.0,
    )
    .with_reset(ResetMode::Hard { v_reset_mv: -60.0 })
    .with_refractory_ms(5.0)
    .with_theta(ThetaParams {
        theta_init_mv: 0.0,
        theta_plus_mv: 0.05,
        tau_theta_ms: 1e7,
        frozen: false,
    });
    spec.inh = NeuronModel::lif(
        LifParams {
            tau_m_ms: 10.0,
            v_rest_mv: -60.0,
        },
        -40.0,
    )
    .with_reset(ResetMode::Hard { v_reset_mv: -45.0 })
    .with_refractory_ms(2.0);
    spec.input.target = Target::MEMBRANE_EXC;
    spec.exc_to_inh = Projection::fixed(Connectivity::OneToOne, Target::MEMBRANE_EXC, 22.5);
    spec.inh_to_exc = Projection::fixed(Connectivity::AllButSelf, Target::MEMBRANE_INH, 17.5);
    spec.norm_target = Some(78.4);
    spec.validate().unwrap();
    spec
}

/// Diehl & Cook's conductance LIF excitatory neurons (input into `ge`) inhibited through the
/// membrane (−6 mV per inhibitory spike), with IF inhibitory neurons driven through the
/// membrane (one excitatory spike, +10 mV, makes the partner fire).
fn mixed(n_exc: u32, seed: u32) -> CompetitiveSpec {
    let mut spec = DcConfig::preset("dc100").unwrap().to_spec();
    spec.n_exc = n_exc;
    spec.seed = seed;
    spec.input_delay_max_ms = None;
    spec.inh = NeuronModel::integrate_and_fire(-40.0, -45.0).with_refractory_ms(2.0);
    spec.exc_to_inh = Projection::fixed(Connectivity::OneToOne, Target::MEMBRANE_EXC, 10.0);
    spec.inh_to_exc = Projection::fixed(Connectivity::AllButSelf, Target::MEMBRANE_INH, 6.0);
    spec.validate().unwrap();
    spec
}

/// One frozen presentation of `rates` from rest, recorded on the CPU engine with weights `w` and
/// θ = 0 (v traces of `neurons`).
fn record(
    spec: &CompetitiveSpec,
    w: &[f32],
    rates: &[f32],
    steps: u32,
    neurons: &[u32],
) -> PresentationRecord {
    let opts = PresentOptions {
        steps_on: steps,
        steps_rest: 0,
        rest: RestMode::Reset,
        learn: false,
        key: 7,
    };
    present_recorded(
        spec,
        w,
        &vec![0.0; spec.n_exc as usize],
        rates,
        &opts,
        neurons,
        &EngineChoice::default(),
    )
    .unwrap()
}

/// A two-input, two-neuron layer of IF neurons (no leak, v from 0 mV, threshold 10 mV) with
/// every projection on the membrane and the given lateral weights.
fn if_layer(w_ei: f32, w_ie: f32, refractory_ms: f32) -> CompetitiveSpec {
    let mut spec = current_based(2, 1);
    spec.n_input = 2;
    spec.dt_ms = 1.0;
    spec.stdp = None;
    spec.norm_target = None;
    spec.exc = NeuronModel::integrate_and_fire(10.0, 0.0).with_refractory_ms(refractory_ms);
    spec.inh = NeuronModel::integrate_and_fire(10.0, 0.0);
    spec.input = Projection {
        connectivity: Connectivity::Dense,
        target: Target::MEMBRANE_EXC,
        init: WeightInit::Constant { value: 0.0 },
        w_min: 0.0,
        w_max: 100.0,
    };
    spec.exc_to_inh = Projection::fixed(Connectivity::OneToOne, Target::MEMBRANE_EXC, w_ei);
    spec.inh_to_exc = Projection::fixed(Connectivity::AllButSelf, Target::MEMBRANE_INH, w_ie);
    spec.validate().unwrap();
    spec
}

pub fn an_input_spike_raises_v_by_exactly_its_weight_in_its_step() {
    // LIF from rest: the first step's charge is v_rest + 0·decay + x, so v = −65 + w exactly
    // in step 0, the step the spike is drawn in. Input 0 spikes every step (rate 1000/dt).
    let mut spec = current_based(2, 1);
    spec.n_input = 2;
    spec.stdp = None;
    spec.norm_target = None;
    spec.input.init = WeightInit::Constant { value: 0.0 };
    spec.input.w_max = 100.0;
    spec.validate().unwrap();
    let w = 2.5f32;
    // [input][exc]: input 0 → neuron 0 with w, nothing else.
    let weights = [w, 0.0, 0.0, 0.0];
    let r = record(&spec, &weights, &[2000.0, 0.0], 1, &[0, 1]);
    assert_eq!(r.input_spikes, vec![(0, 0)], "input 0 spikes in step 0");
    assert_eq!(
        r.v_mv[0][0],
        -65.0 + w,
        "neuron 0 gets exactly +w in step 0"
    );
    assert_eq!(r.v_mv[1][0], -65.0, "neuron 1 (weight 0) stays at rest");

    // IF (no leak): v after step t is (t + 1)·w, exactly (sums of 2.5 are exact).
    let spec = if_layer(0.0, 0.0, 0.0);
    let r = record(&spec, &[w, 0.0, 0.0, 0.0], &[1000.0, 0.0], 3, &[0]);
    assert_eq!(r.input_spikes, vec![(0, 0), (1, 0), (2, 0)]);
    assert_eq!(r.v_mv[0], vec![2.5, 5.0, 7.5]);
}

pub fn an_inhibitory_membrane_spike_lowers_v_by_exactly_its_weight_one_step_later() {
    // Input 0 drives exc 0 with 20 mV per step: it fires at every step from 0 (threshold
    // 10, reset 0). Its partner inh 0 gets +30 mV in step t + 1 and fires then. Each
    // inhibitory spike of step t subtracts w_ie = 4 mV from exc 1 in step t + 1, not from
    // exc 0 (its partner). So exc 1 (no input) reads 0, 0, −4, −8, −12.
    let spec = if_layer(30.0, 4.0, 0.0);
    let weights = [20.0, 0.0, 0.0, 0.0];
    let r = record(&spec, &weights, &[1000.0, 0.0], 5, &[0, 1]);
    let every_step = |from: u32| (from..5).map(|t| (t, 0)).collect::<Vec<_>>();
    assert_eq!(r.exc_spikes, every_step(0));
    assert_eq!(r.inh_spikes, every_step(1));
    assert_eq!(r.v_mv[1], vec![0.0, 0.0, -4.0, -8.0, -12.0]);
    assert_eq!(r.v_mv[0], vec![0.0; 5], "exc 0 fires and resets every step");

    // A jump reaching a refractory neuron is lost: with a 2-step refractory period, v is
    // clamped at the reset (0 mV) in the two steps after a spike, whatever arrives.
    let spec = if_layer(0.0, 0.0, 2.0);
    let r = record(&spec, &[20.0, 0.0, 0.0, 0.0], &[1000.0, 0.0], 5, &[0]);
    assert_eq!(r.exc_spikes, vec![(0, 0), (3, 0)]);
    assert_eq!(r.v_mv[0], vec![0.0; 5]);
    let r = record(&spec, &[5.0, 0.0, 0.0, 0.0], &[1000.0, 0.0], 5, &[0]);
    assert_eq!(
        r.exc_spikes,
        vec![(1, 0)],
        "5 + 5 reaches threshold in step 1"
    );
    assert_eq!(r.v_mv[0], vec![5.0, 0.0, 0.0, 0.0, 5.0]);
}

pub fn the_sign_of_a_membrane_projection_comes_from_its_target() {
    assert_eq!(Target::MEMBRANE_INH.sign(), Sign::Inhibitory);
    assert_eq!(Target::MEMBRANE_EXC.sign(), Sign::Excitatory);
    assert_eq!(Target::Ge.sign(), Sign::Excitatory);
    assert_eq!(Target::Gi.sign(), Sign::Inhibitory);
    // Serde: "membrane" or its alias "v", with the sign spelled out.
    let t: Target = serde_json::from_str(r#"{"v": {"sign": "inhibitory"}}"#).unwrap();
    assert_eq!(t, Target::MEMBRANE_INH);
    let json = serde_json::to_string(&Target::MEMBRANE_EXC).unwrap();
    assert_eq!(json, r#"{"membrane":{"sign":"excitatory"}}"#);
    assert_eq!(
        serde_json::from_str::<Target>(&json).unwrap(),
        Target::MEMBRANE_EXC
    );
    assert_eq!(
        serde_json::from_str::<Target>(r#""gi""#).unwrap(),
        Target::Gi
    );
}

/// `presentations` learning presentations of MNIST training images on the CPU engine and on
/// both schedules of the GPU engine: identical counts, weights and θ within `common::REL_TOL` relative after each.
fn gpu_agrees(spec: &CompetitiveSpec, presentations: u32, intensity: f32, rest: RestMode) {
    let ctx = common::gpu_ctx();
    let data = embedded(Split::Train).unwrap();
    let mut cpu = DcEngine::new(spec).unwrap();
    let on = |schedule| {
        let opts = GpuEngineOptions {
            schedule,
            ..GpuEngineOptions::default()
        };
        DcEngine::on_gpu(ctx.clone(), spec, opts).unwrap()
    };
    let mut fused = on(EngineSchedule::Fused);
    let mut stepwise = on(EngineSchedule::Passes);
    let mut total = 0;
    for k in 0..presentations {
        let opts = PresentOptions {
            steps_on: 700,
            steps_rest: 300,
            rest,
            learn: true,
            key: k,
        };
        let rates = DcConfig::rates(data.image(k as usize), intensity);
        let a = cpu.present(&rates, &opts).unwrap();
        eprintln!("presentation {k}: cpu counts {a:?}");
        total += a.iter().sum::<u32>();
        for gpu in [&mut fused, &mut stepwise] {
            let what = gpu.describe();
            assert_eq!(
                gpu.present(&rates, &opts).unwrap(),
                a,
                "{what}, presentation {k}: spike counts differ"
            );
            close(
                &gpu.theta().unwrap(),
                &cpu.theta().unwrap(),
                &format!("{what} theta"),
            );
            close(
                &gpu.weights().unwrap(),
                &cpu.weights().unwrap(),
                &format!("{what} w"),
            );
        }
    }
    assert!(
        total > 20,
        "too few spikes ({total}) for a meaningful comparison"
    );
    let th = cpu.theta().unwrap();
    assert!(th.iter().any(|&t| t > 0.0), "θ never grew: {th:?}");
}

pub fn gpu_agrees_with_cpu_when_every_projection_targets_the_membrane() {
    gpu_agrees(&current_based(12, 3), 4, 2.0, RestMode::Simulate);
}

pub fn gpu_agrees_with_cpu_for_conductance_exc_and_if_inh_on_the_membrane() {
    gpu_agrees(&mixed(12, 4), 3, 4.0, RestMode::Reset);
}

// ---- winner-take-all with membrane inhibition ----

const N_EXC: usize = 10;
const N_IN: usize = 784;
const BLOCK: usize = 78;

fn block_of(j: usize) -> Option<usize> {
    (j / BLOCK < N_EXC).then_some(j / BLOCK)
}

/// Spike counts `[pattern][neuron]` of the frozen current-based layer with hand-made
/// weights (neuron i prefers block i: `w_own` there, `w_other` elsewhere), block k on.
fn block_responses(w_ie: f32, w_own: f32, w_other: f32) -> Vec<Vec<u32>> {
    let mut spec = current_based(N_EXC as u32, 5);
    spec.inh_to_exc = Projection::fixed(Connectivity::AllButSelf, Target::MEMBRANE_INH, w_ie);
    let mut w = vec![w_other; N_IN * N_EXC];
    for j in 0..N_IN {
        if let Some(b) = block_of(j) {
            w[j * N_EXC + b] = w_own;
        }
    }
    let mut net = DcEngine::new(&spec).unwrap();
    net.load(&w, &[0.0; N_EXC]).unwrap();
    let rates: Vec<Vec<f32>> = (0..N_EXC)
        .map(|k| {
            let img: Vec<u8> = (0..N_IN)
                .map(|j| if block_of(j) == Some(k) { 255 } else { 0 })
                .collect();
            DcConfig::rates(&img, 2.0)
        })
        .collect();
    let opts = PresentOptions {
        steps_on: 700,
        steps_rest: 0,
        rest: RestMode::Reset,
        learn: false,
        key: 1000,
    };
    net.present_frozen_batch(&rates, &opts).unwrap()
}

pub fn winner_take_all_emerges_with_membrane_inhibition() {
    let (w_own, w_other) = (0.3, 0.1);
    let with = block_responses(17.5, w_own, w_other);
    let without = block_responses(0.0, w_own, w_other);
    for k in 0..N_EXC {
        let (a, b) = (&with[k], &without[k]);
        eprintln!("block {k}: with inhibition {a:?}, without {b:?}");
        let others = |c: &[u32]| -> u32 {
            c.iter()
                .enumerate()
                .filter(|&(i, _)| i != k)
                .map(|(_, &x)| x)
                .sum()
        };
        // Without inhibition every neuron is driven above threshold.
        assert!(
            b.iter().all(|&c| c > 0),
            "block {k}: not every neuron fires without inhibition: {b:?}"
        );
        // With it, the best-driven neuron takes at least 90 % of the spikes.
        assert!(a[k] >= 10, "block {k}: the winner fired {} times", a[k]);
        assert!(
            others(a) * 9 <= a[k],
            "block {k}: the others fired {} times against the winner's {}: {a:?}",
            others(a),
            a[k]
        );
        assert!(
            others(b) >= 10 * others(a).max(1),
            "block {k}: inhibition did not suppress the others ({} vs {})",
            others(b),
            others(a)
        );
    }
}

// ---- invalid combinations ----

fn err(spec: &CompetitiveSpec) -> String {
    let e = spec.validate().unwrap_err().to_string();
    // The CPU backend refuses it with the same message.
    assert_eq!(
        DcEngine::new(spec).err().map(|e| e.to_string()),
        Some(e.clone())
    );
    e
}

pub fn invalid_combinations_name_the_projection_and_the_model() {
    let lif = current_based(4, 1);
    let cond = DcConfig::preset("dc100").unwrap().to_spec();

    // A conductance target on a population without conductances.
    let mut s = lif.clone();
    s.input.target = Target::Ge;
    let m = err(&s);
    assert!(
        m.contains("input.target") && m.contains("LIF") && m.contains("exc"),
        "{m}"
    );
    let mut s = lif.clone();
    s.inh = NeuronModel::integrate_and_fire(-40.0, -45.0);
    s.exc_to_inh.target = Target::Ge;
    let m = err(&s);
    assert!(
        m.contains("exc_to_inh.target") && m.contains("IF") && m.contains("inh"),
        "{m}"
    );
    let mut s = lif.clone();
    s.inh_to_exc.target = Target::Gi;
    let m = err(&s);
    assert!(m.contains("inh_to_exc.target") && m.contains("LIF"), "{m}");

    // The wrong sign for the projection's role, on any model.
    for (s, field) in [
        {
            let mut s = cond.clone();
            s.inh_to_exc.target = Target::MEMBRANE_EXC;
            (s, "inh_to_exc.target")
        },
        {
            let mut s = cond.clone();
            s.inh_to_exc.target = Target::Ge;
            (s, "inh_to_exc.target")
        },
        {
            let mut s = lif.clone();
            s.input.target = Target::MEMBRANE_INH;
            (s, "input.target")
        },
        {
            let mut s = cond.clone();
            s.exc_to_inh.target = Target::Gi;
            (s, "exc_to_inh.target")
        },
    ] {
        let m = err(&s);
        assert!(m.contains(field) && m.contains("sign"), "{m}");
    }

    // Weights stay magnitudes on the membrane too.
    let mut s = lif.clone();
    s.inh_to_exc = Projection::fixed(Connectivity::AllButSelf, Target::MEMBRANE_INH, -17.5);
    let m = err(&s);
    assert!(m.contains("inh_to_exc"), "{m}");

    // Custom models are refused by name.
    let mut s = lif.clone();
    s.exc = NeuronModel::custom(
        CustomModel::new("mine", "o.v = s.v + x;", |s, _, x| s[0] += x),
        1.0,
        ResetMode::Soft,
    );
    let m = err(&s);
    assert!(m.contains("exc.kind") && m.contains("mine"), "{m}");

    // The GPU constructor gives the same error before touching the device.
    let Some(ctx) = common::gpu() else { return };
    let mut s = lif.clone();
    s.input.target = Target::Ge;
    let m = DcEngine::on_gpu(ctx, &s, GpuEngineOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(m.contains("input.target") && m.contains("LIF"), "{m}");

    // And conductance targets on conductance LIF stay valid (Diehl & Cook).
    cond.validate().unwrap();
}
