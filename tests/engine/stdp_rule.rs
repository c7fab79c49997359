//! The STDP rules of the competitive layer (the original code's triplet rule; the sign flip of some ports), checked twice: through
//! the pure update functions of `cpu::stdp`, and through the real network step of
//! `DcEngine` with hand-timed spikes.
//!
//! Why: the sign and the gating of the weight updates decide whether Diehl & Cook learns
//! at all. The Brian2 ports flipped the depression sign (`w + ν_pre·post1`) and learned
//! poorly; the triplet potentiation must be gated by `post2` from *before* the post spike.
//! The network tests pin the trace arithmetic and the step order documented in
//! `experiments::diehl_cook::spec` (decay post traces, then depression on pre spikes, then potentiation on
//! post spikes), not just the formulas.
//!
//! Timing through the network: a 4-input, 2-neuron Diehl & Cook layer (dc100 constants)
//! with hand-loaded weights, no normalisation, v starting at rest and, except in
//! `depression_happens_at_the_delayed_arrival`, no input delays (dc100 draws 0–10 ms per
//! synapse; that test turns them back on and checks that the pre-spike update and the pre
//! trace start at arrival). An input with rate 1/dt (2000 Hz at dt = 0.5 ms) spikes at
//! every step (its probability is 1), an input with rate 0 never spikes; presentations of
//! one step with no rest, state carried on, advance the network one step at a time, so
//! every pre and post spike time is known exactly.
//! - input 0 and 2: the "driver", weight 1 onto neuron 0 (0 onto neuron 1); together they
//!   make neuron 0 fire within a few steps;
//! - input 1: the "probe", a single pre spike at a chosen step; weight 0.5 onto both
//!   neurons (too weak to make either fire); its weight onto neuron 0 is what is measured;
//! - input 3: never spikes.

use snn_wgpu::cpu::stdp::{on_post, on_pre};
use snn_wgpu::experiments::diehl_cook::config::DcConfig;
use snn_wgpu::experiments::diehl_cook::engine::DcEngine;
use snn_wgpu::experiments::diehl_cook::spec::input_delays;
use snn_wgpu::experiments::diehl_cook::{CompetitiveSpec, PresentOptions, RestMode};
use snn_wgpu::model::stdp::decay_table;
use snn_wgpu::model::stdp::StdpConsts;
use snn_wgpu::model::{StdpParams, StdpRule};

const N_IN: usize = 4;
const N_EXC: usize = 2;
const DRIVER: [usize; 2] = [0, 2];
const PROBE: usize = 1;
const SILENT: usize = 3;
/// Rate (Hz) that makes an input spike at every step at dt = 0.5 ms.
const ALWAYS_HZ: f32 = 2000.0;
const W_PROBE: f32 = 0.5;

/// The paper's weight-dependent rule with the code's leftover constants (μ = 0.2,
/// x_tar = 0.4: `exp_ee_pre/post` and `STDP_offset`).
const WD: StdpRule = StdpRule::WeightDependent {
    x_tar: 0.4,
    mu: 0.2,
};

fn params(rule: StdpRule) -> StdpParams {
    StdpParams {
        rule,
        ..StdpParams::diehl_cook()
    }
}

fn consts(rule: StdpRule) -> StdpConsts {
    StdpConsts::new(&params(rule), 0.0, 1.0)
}

fn close(a: f32, b: f32, tol: f32, what: &str) {
    assert!(
        (a - b).abs() <= tol,
        "{what}: got {a}, expected {b} (tolerance {tol})"
    );
}

// ---------------------------------------------------------------------------------------
// Pure functions.
// ---------------------------------------------------------------------------------------

/// Pitfall 1 (zxzhijia/Brian2STDPMNIST#15): the Brian2 ports wrote the pre-spike update as
/// `w + nu_pre*post1`, turning depression into potentiation. A pre spike after a post spike
/// must lower the weight, by exactly `ν_pre·post1`, for both trace-pair rules, in the pure
/// function and in the network step.
#[test]
fn depression_sign_is_not_flipped() {
    for rule in [StdpRule::Triplet, StdpRule::Pair] {
        let c = consts(rule);
        for (w, post1) in [(0.5f32, 1.0f32), (0.3, 0.25), (0.9, 0.6)] {
            let after = on_pre(w, post1, &c);
            assert!(after < w, "{rule:?}: a pre spike with post1 = {post1} raised w from {w} to {after} (sign flipped)");
            close(
                after,
                w - 1e-4 * post1,
                1e-7,
                &format!("{rule:?} on_pre({w}, {post1})"),
            );
            // The flipped port would give w + ν_pre·post1.
            assert!(
                (after - (w + 1e-4 * post1)).abs() > 1.5e-4 * post1,
                "{rule:?}: on_pre matches the flipped-sign port"
            );
        }
        // No post activity, no depression.
        assert_eq!(on_pre(0.5, 0.0, &c), 0.5);
    }
    // Through the network: post spike, then the probe's pre spike 6 steps later.
    for rule in [StdpRule::Triplet, StdpRule::Pair] {
        let mut net = Tiny::new(rule);
        let w0 = net.w(PROBE, 0);
        let s = net.drive_until_spikes(1)[0];
        net.idle(5);
        net.probe();
        let w1 = net.w(PROBE, 0);
        assert!(w1 < w0, "{rule:?}: post-before-pre raised w[probe][0] from {w0} to {w1} (depression sign flipped)");
        assert!(
            w0 - w1 > 0.5e-4,
            "{rule:?}: depression {} is far below ν_pre·post1 ≈ 1e-4·0.86",
            w0 - w1
        );
        assert_eq!(s + 6, net.now - 1);
    }
}

#[test]
fn pure_trace_pair_rules_potentiate_and_depress() {
    let (tr, pa) = (consts(StdpRule::Triplet), consts(StdpRule::Pair));
    // Potentiation: triplet ν_post·pre·post2_before, pair ν_post·pre.
    close(
        on_post(0.5, 0.8, 0.5, &tr),
        0.5 + 1e-2 * 0.8 * 0.5,
        1e-7,
        "triplet on_post",
    );
    close(
        on_post(0.5, 0.8, 0.5, &pa),
        0.5 + 1e-2 * 0.8,
        1e-7,
        "pair on_post",
    );
    // The triplet term is gated by post2_before: nothing after a silence (post2 = 0) ...
    assert_eq!(
        on_post(0.5, 1.0, 0.0, &tr),
        0.5,
        "triplet potentiated with post2_before = 0"
    );
    // ... while the pair rule ignores post2 altogether.
    assert_eq!(on_post(0.5, 1.0, 0.0, &pa), on_post(0.5, 1.0, 1.0, &pa));
    close(
        on_post(0.5, 1.0, 0.0, &pa),
        0.51,
        1e-7,
        "pair on_post after silence",
    );
    // No pre activity, no potentiation.
    assert_eq!(on_post(0.5, 0.0, 1.0, &tr), 0.5);
    assert_eq!(on_post(0.5, 0.0, 1.0, &pa), 0.5);
    // LTD per event is 100× weaker than LTP (ν_pre = 1e-4, ν_post = 1e-2).
    let ltp = on_post(0.5, 1.0, 1.0, &tr) - 0.5;
    let ltd = 0.5 - on_pre(0.5, 1.0, &tr);
    close(ltp / ltd, 100.0, 0.1, "LTP/LTD ratio");
}

#[test]
fn pure_updates_clip_to_bounds_on_both_sides() {
    for rule in [StdpRule::Triplet, StdpRule::Pair, WD] {
        let c = consts(rule);
        // Upper bound: potentiation past w_max stops at w_max.
        assert_eq!(
            on_post(0.999, 1.0, 1.0, &c),
            1.0,
            "{rule:?}: on_post did not clip to w_max"
        );
        assert_eq!(on_post(1.0, 1.0, 1.0, &c), 1.0);
        // A weight above w_max (normalisation does not clip) is brought back by any update.
        assert_eq!(
            on_post(1.3, 1.0, 1.0, &c),
            1.0,
            "{rule:?}: on_post left w above w_max"
        );
        assert_eq!(
            on_post(1.3, 0.0, 0.0, &c),
            1.0,
            "{rule:?}: on_post with no change left w above w_max"
        );
    }
    for rule in [StdpRule::Triplet, StdpRule::Pair] {
        let c = consts(rule);
        // Lower bound: depression past w_min stops at w_min.
        assert_eq!(
            on_pre(0.00005, 1.0, &c),
            0.0,
            "{rule:?}: on_pre went below w_min"
        );
        assert_eq!(on_pre(0.0, 1.0, &c), 0.0);
        assert_eq!(
            on_pre(1.3, 0.0, &c),
            1.0,
            "{rule:?}: on_pre left w above w_max"
        );
    }
    // Other bounds are honoured too.
    let c = StdpConsts::new(&params(StdpRule::Pair), 0.2, 0.6);
    assert_eq!(on_post(0.595, 1.0, 0.0, &c), 0.6);
    assert_eq!(on_pre(0.20005, 1.0, &c), 0.2);
    // Weight-dependent depression (pre < x_tar) also stops at w_min.
    let mut fast = params(WD);
    fast.nu_post = 1.0;
    let c = StdpConsts::new(&fast, 0.0, 1.0);
    assert_eq!(
        on_post(0.1, 0.0, 0.0, &c),
        0.0,
        "weight-dependent depression went below w_min"
    );
}

#[test]
fn pure_weight_dependent_rule_follows_the_power_law() {
    let c = consts(WD);
    let (nu, x_tar, mu) = (1e-2f32, 0.4f32, 0.2f32);
    for &w in &[0.0f32, 0.1, 0.5, 0.9, 0.99] {
        for &pre in &[0.0f32, 0.2, 0.4, 0.7, 1.0] {
            for &post2 in &[0.0f32, 1.0] {
                let dw = on_post(w, pre, post2, &c) - w;
                // The power law, then the clip to [0, 1] (w = 0 cannot go lower).
                let expect = (w + nu * (pre - x_tar) * (1.0 - w).powf(mu)).clamp(0.0, 1.0) - w;
                close(
                    dw,
                    expect,
                    2e-7,
                    &format!("Δw(w={w}, pre={pre}, post2={post2})"),
                );
                // Sign of (pre − x_tar): potentiation above the target trace, depression below.
                if pre > x_tar && w < 1.0 {
                    assert!(dw > 0.0, "w={w}, pre={pre}: Δw = {dw} not > 0");
                } else if pre < x_tar && w > 0.0 {
                    assert!(dw < 0.0, "w={w}, pre={pre}: Δw = {dw} not < 0");
                } else if pre == x_tar {
                    assert_eq!(dw, 0.0);
                }
            }
        }
    }
    // Soft bound: the closer to w_max, the smaller the step, as (w_max − w)^μ.
    let d = |w: f32| on_post(w, 1.0, 0.0, &c) - w;
    assert!(
        d(0.1) > d(0.5) && d(0.5) > d(0.9) && d(0.9) > d(0.99),
        "steps do not shrink toward w_max"
    );
    close(
        d(0.5) / d(0.9),
        (0.5f32 / 0.1).powf(mu),
        1e-3,
        "step ratio (0.5/0.1)^μ",
    );
    assert_eq!(d(1.0), 0.0, "no potentiation at w_max");
    // Pre spikes never change the weight under this rule.
    for &w in &[0.0f32, 0.3, 1.0] {
        for &post1 in &[0.0f32, 0.5, 1.0] {
            assert_eq!(
                on_pre(w, post1, &c),
                w,
                "weight-dependent rule changed w on a pre spike"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Through the network step.
// ---------------------------------------------------------------------------------------

/// A 4-input, 2-neuron layer stepped one step at a time (see the file docs).
struct Tiny {
    net: DcEngine,
    p: StdpParams,
    /// Steps simulated so far (the index of the next step).
    now: u32,
    /// Steps at which neuron 0 spiked.
    spikes0: Vec<u32>,
    /// Spikes of neuron 1 (it is never driven).
    spikes1: u32,
}

impl Tiny {
    fn spec(rule: StdpRule) -> CompetitiveSpec {
        let mut cfg = DcConfig::preset("dc100").unwrap();
        cfg.n_exc = N_EXC as u32;
        cfg.stdp.rule = rule;
        cfg.seed = 11;
        let mut spec = cfg.to_spec();
        spec.n_input = N_IN as u32;
        // Hand-loaded weights stay as loaded: no column normalisation before presentations.
        spec.norm_target = None;
        // Exact spike timing: every input spike arrives in the step it is drawn (dc100 has
        // 0-10 ms per-synapse delays; `depression_happens_at_the_delayed_arrival` turns
        // them back on).
        spec.input_delay_max_ms = None;
        // Start at rest (the official Brian2 example's choice) rather than −105 mV, so the
        // driver fires neuron 0 within a few steps.
        spec.exc.v_init_mv = -65.0;
        spec.validate().unwrap();
        spec
    }

    fn new(rule: StdpRule) -> Self {
        Self::with_probe_weight(rule, W_PROBE)
    }

    fn with_probe_weight(rule: StdpRule, w_probe: f32) -> Self {
        Self::from_spec(&Self::spec(rule), w_probe)
    }

    fn from_spec(spec: &CompetitiveSpec, w_probe: f32) -> Self {
        let mut net = DcEngine::new(spec).unwrap();
        let mut w = vec![0.0f32; N_IN * N_EXC];
        for &d in &DRIVER {
            w[d * N_EXC] = 1.0;
        }
        w[PROBE * N_EXC] = w_probe;
        w[PROBE * N_EXC + 1] = w_probe;
        w[SILENT * N_EXC] = 0.5;
        w[SILENT * N_EXC + 1] = 0.5;
        net.load(&w, &[20.0; N_EXC]).unwrap();
        Tiny {
            net,
            p: spec.stdp.unwrap(),
            now: 0,
            spikes0: vec![],
            spikes1: 0,
        }
    }

    fn w(&mut self, j: usize, i: usize) -> f32 {
        self.net.weights().unwrap()[j * N_EXC + i]
    }

    /// One learning step with the given inputs spiking (all others silent).
    fn step(&mut self, spiking: &[usize]) -> Vec<u32> {
        let mut rates = vec![0.0f32; N_IN];
        for &j in spiking {
            rates[j] = ALWAYS_HZ;
        }
        let opts = PresentOptions {
            steps_on: 1,
            steps_rest: 0,
            rest: RestMode::Simulate,
            learn: true,
            key: self.now,
        };
        let c = self.net.present(&rates, &opts).unwrap();
        if c[0] > 0 {
            self.spikes0.push(self.now);
        }
        self.spikes1 += c[1];
        self.now += 1;
        c
    }

    /// Drives neuron 0 until it has spiked `k` more times; returns those spike steps.
    fn drive_until_spikes(&mut self, k: usize) -> Vec<u32> {
        let before = self.spikes0.len();
        for _ in 0..200 {
            self.step(&DRIVER);
            if self.spikes0.len() == before + k {
                return self.spikes0[before..].to_vec();
            }
        }
        panic!("the driver did not make neuron 0 fire {k} times in 200 steps");
    }

    /// `n` steps with no input; asserts that nobody fires.
    fn idle(&mut self, n: u32) {
        for _ in 0..n {
            let c = self.step(&[]);
            assert_eq!(
                c,
                vec![0, 0],
                "a neuron fired with no input at step {}",
                self.now - 1
            );
        }
    }

    /// One step with only the probe spiking; asserts that it alone makes nobody fire.
    fn probe(&mut self) -> u32 {
        let c = self.step(&[PROBE]);
        assert_eq!(c, vec![0, 0], "the probe alone made a neuron fire");
        self.now - 1
    }

    fn pre_table(&self) -> Vec<f32> {
        decay_table(self.p.derive(0.5).decay_pre_per_step)
    }
}

/// Pre before post: the probe spikes, then neuron 0 is driven to fire twice within the pre
/// trace's window. Both rules potentiate w[probe][0], by exactly the trace arithmetic:
/// pair `Σ ν_post·pre(t_k)`, triplet `Σ ν_post·pre(t_k)·post2_before(t_k)` with
/// `post2_before = 0` at the first spike. The undriven neuron 1 does not learn.
#[test]
fn pre_before_post_potentiates_triplet_and_pair() {
    for rule in [StdpRule::Triplet, StdpRule::Pair] {
        let mut net = Tiny::new(rule);
        let w0 = net.w(PROBE, 0);
        let w0_other = net.w(PROBE, 1);
        let tp = net.probe();
        let spikes = net.drive_until_spikes(2);
        let w1 = net.w(PROBE, 0);
        assert!(
            w1 > w0,
            "{rule:?}: pre-before-post did not potentiate ({w0} -> {w1})"
        );
        assert_eq!(net.spikes1, 0, "neuron 1 fired");
        assert_eq!(
            net.w(PROBE, 1),
            w0_other,
            "{rule:?}: w[probe][1] changed although neuron 1 never fired"
        );

        let table = net.pre_table();
        let pre = |t: u32| table[(t - tp) as usize];
        let d2 = net.p.derive(0.5).decay_post2_per_step;
        let expect = match rule {
            StdpRule::Pair => 1e-2 * (pre(spikes[0]) + pre(spikes[1])),
            _ => 1e-2 * pre(spikes[1]) * d2.powi((spikes[1] - spikes[0]) as i32),
        };
        eprintln!("{rule:?}: probe at {tp}, post spikes at {spikes:?}, Δw = {:.6e} (expected {expect:.6e})", w1 - w0);
        close(w1 - w0, expect, 1e-6, &format!("{rule:?} Δw[probe][0]"));
        assert!(
            w1 - w0 > 1e-3,
            "{rule:?}: potentiation {} too small to be the intended pairing",
            w1 - w0
        );
    }
}

/// Post before pre: neuron 0 fires once, the inputs go quiet, then the probe spikes. Both
/// rules depress w[probe][0] by `ν_pre·post1 = ν_pre·e^(−Δt/τ_post1)`; neuron 1 (post1 = 0)
/// keeps its weight.
#[test]
fn post_before_pre_depresses_triplet_and_pair() {
    for rule in [StdpRule::Triplet, StdpRule::Pair] {
        let mut net = Tiny::new(rule);
        let w0 = net.w(PROBE, 0);
        let w0_other = net.w(PROBE, 1);
        let s = net.drive_until_spikes(1)[0];
        net.idle(9);
        let tp = net.probe();
        let w1 = net.w(PROBE, 0);
        assert!(
            w1 < w0,
            "{rule:?}: post-before-pre did not depress ({w0} -> {w1})"
        );
        assert_eq!(
            net.w(PROBE, 1),
            w0_other,
            "{rule:?}: w[probe][1] changed although neuron 1 never fired"
        );
        let d1 = net.p.derive(0.5).decay_post1_per_step;
        let expect = -1e-4 * d1.powi((tp - s) as i32);
        eprintln!(
            "{rule:?}: post spike at {s}, probe at {tp}, Δw = {:.6e} (expected {expect:.6e})",
            w1 - w0
        );
        close(w1 - w0, expect, 1e-7, &format!("{rule:?} Δw[probe][0]"));
        // The closer the pre spike follows the post spike, the stronger the depression.
        let mut near = Tiny::new(rule);
        near.drive_until_spikes(1);
        near.idle(1);
        near.probe();
        let dw_near = near.w(PROBE, 0) - w0;
        assert!(
            dw_near < w1 - w0,
            "{rule:?}: depression at Δt = 2 steps ({dw_near}) not stronger than at 10 ({})",
            w1 - w0
        );
    }
}

/// The triplet potentiation is gated by post2 from before the post spike: the first post
/// spike after a silence potentiates nothing under Triplet, and the full `ν_post·pre` under
/// Pair.
#[test]
fn first_post_spike_after_silence_gates_triplet_not_pair() {
    let mut dws = vec![];
    for rule in [StdpRule::Triplet, StdpRule::Pair] {
        let mut net = Tiny::new(rule);
        let w0 = net.w(PROBE, 0);
        let tp = net.probe();
        let s = net.drive_until_spikes(1)[0];
        let w1 = net.w(PROBE, 0);
        let pre = net.pre_table()[(s - tp) as usize];
        assert!(
            pre > 0.5,
            "pre trace {pre} already faded: the pairing is not tight"
        );
        match rule {
            StdpRule::Triplet => assert_eq!(
                w1, w0,
                "Triplet: the first post spike after silence changed w ({w0} -> {w1})"
            ),
            _ => close(
                w1 - w0,
                1e-2 * pre,
                1e-7,
                "Pair: first post spike Δw = ν_post·pre",
            ),
        }
        dws.push(w1 - w0);
    }
    assert!(
        dws[1] > 5e-3 && dws[0] == 0.0,
        "Δw triplet {} vs pair {}",
        dws[0],
        dws[1]
    );
}

/// Clipping in the network step: a weight at w_min stays at w_min under depression, and a
/// weight just below w_max stops at w_max under potentiation.
#[test]
fn network_updates_clip_to_bounds() {
    for rule in [StdpRule::Triplet, StdpRule::Pair] {
        // Lower bound.
        let mut net = Tiny::with_probe_weight(rule, 0.0);
        net.drive_until_spikes(1);
        net.probe();
        assert_eq!(
            net.w(PROBE, 0),
            0.0,
            "{rule:?}: depression took w below w_min"
        );
        // Upper bound.
        let mut net = Tiny::with_probe_weight(rule, 0.9995);
        net.probe();
        net.drive_until_spikes(3);
        assert_eq!(
            net.w(PROBE, 0),
            1.0,
            "{rule:?}: potentiation did not stop at w_max"
        );
        let w = net.net.weights().unwrap();
        assert!(
            w.iter().all(|&x| (0.0..=1.0).contains(&x)),
            "{rule:?}: weights out of [0, 1]: {w:?}"
        );
    }
}

/// The weight-dependent rule in the network: pre spikes change nothing (post-before-pre
/// leaves w alone); at a post spike every input moves by `ν_post(pre − x_tar)(1 − w)^μ`,
/// up for the fresh probe (pre > x_tar), down for the never-spiking input (pre = 0).
#[test]
fn network_weight_dependent_rule() {
    // No depression on pre spikes.
    let mut net = Tiny::new(WD);
    let w0 = net.w(PROBE, 0);
    net.drive_until_spikes(1);
    let w_after_post = net.w(PROBE, 0);
    net.idle(1);
    net.probe();
    assert_eq!(
        net.w(PROBE, 0),
        w_after_post,
        "weight-dependent: a pre spike changed w"
    );
    // The post spike happened with pre = 0 for the probe: Δw = −ν_post·x_tar·(1 − w)^μ.
    close(
        w_after_post - w0,
        -1e-2 * 0.4 * (1.0 - w0).powf(0.2),
        1e-7,
        "weight-dependent Δw with pre = 0",
    );

    // Pre before post: potentiation of the probe, depression of the silent input.
    let mut net = Tiny::new(WD);
    let (wp0, ws0) = (net.w(PROBE, 0), net.w(SILENT, 0));
    let tp = net.probe();
    let s = net.drive_until_spikes(1)[0];
    let pre = net.pre_table()[(s - tp) as usize];
    let (wp1, ws1) = (net.w(PROBE, 0), net.w(SILENT, 0));
    assert!(
        pre > 0.4,
        "probe trace {pre} below x_tar: the test needs a tighter pairing"
    );
    assert!(
        wp1 > wp0,
        "weight-dependent: pre-before-post did not potentiate ({wp0} -> {wp1})"
    );
    assert!(
        ws1 < ws0,
        "weight-dependent: the silent input was not depressed ({ws0} -> {ws1})"
    );
    close(
        wp1 - wp0,
        1e-2 * (pre - 0.4) * (1.0 - wp0).powf(0.2),
        1e-7,
        "weight-dependent Δw of the probe",
    );
    close(
        ws1 - ws0,
        -1e-2 * 0.4 * (1.0 - ws0).powf(0.2),
        1e-7,
        "weight-dependent Δw of the silent input",
    );
}

/// With the code's 0–10 ms per-synapse input delays (dc100's default), a pre spike acts on
/// a synapse when it arrives there (Brian2's `on_pre` runs at arrival): the depression of
/// w[probe][0] happens `delay` steps after the probe is drawn, with `post1` of that step,
/// and the pre trace that the next post spike reads starts at the arrival.
#[test]
fn depression_happens_at_the_delayed_arrival() {
    let base = Tiny::spec(StdpRule::Pair);
    // The first seed whose probe→0 delay is long enough to see (6–16 steps) and whose
    // driver→0 delays are short (≤ 8 steps, so no driver spike is still in flight once
    // neuron 0's 5 ms refractory period is over).
    let (spec, dp) = (1u32..)
        .find_map(|seed| {
            let spec = CompetitiveSpec {
                seed,
                input_delay_max_ms: Some(10.0),
                ..base.clone()
            };
            let (d, _) = input_delays(&spec).unwrap();
            let dp = d[PROBE * N_EXC] as u32;
            ((6..=16).contains(&dp) && DRIVER.iter().all(|&j| d[j * N_EXC] <= 8))
                .then_some((spec, dp))
        })
        .unwrap();
    let d1 = spec.stdp.unwrap().derive(0.5).decay_post1_per_step;

    // Post before pre.
    let mut net = Tiny::from_spec(&spec, W_PROBE);
    let s = net.drive_until_spikes(1)[0];
    net.idle(2);
    let tp = net.probe();
    for _ in 1..dp {
        net.idle(1);
        assert_eq!(
            net.w(PROBE, 0),
            W_PROBE,
            "w[probe][0] changed at step {} before the spike arrived (delay {dp})",
            net.now - 1
        );
    }
    net.idle(1);
    let arrival = net.now - 1;
    assert_eq!(arrival, tp + dp);
    let dw = net.w(PROBE, 0) - W_PROBE;
    eprintln!(
        "delay {dp} steps: post at {s}, probe drawn at {tp}, arrives at {arrival}, Δw = {dw:.6e}"
    );
    close(
        dw,
        -1e-4 * d1.powi((arrival - s) as i32),
        1e-7,
        "Δw at arrival",
    );

    // Pre before post: the trace read at the post spike counts from the arrival.
    let mut net = Tiny::from_spec(&spec, W_PROBE);
    let tp = net.probe();
    net.idle(dp);
    let s = net.drive_until_spikes(1)[0];
    let pre = net.pre_table()[(s - (tp + dp)) as usize];
    close(
        net.w(PROBE, 0) - W_PROBE,
        1e-2 * pre,
        1e-7,
        "Pair Δw with the trace from the arrival",
    );
}
