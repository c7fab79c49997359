//! The CPU engine's depression queue (`cpu::engine::depression`: with input delays, the
//! depression visits only the neurons where `ν_pre·post1` is not 0 or whose column holds a
//! weight outside [w_min, w_max]) gives the bits of the plain pass over every arriving
//! synapse: the D&C preset, and settings made to stress each case the queue must get right:
//! neurons that leave it (a 2 ms post1 trace rounds `ν_pre·post1` to 0 about 190 steps after
//! a spike) and come back when they fire, weights above w_max after the normalisation or from
//! the start, both rest modes, and the pair rule. The whole state is compared through
//! snapshots after learning presentations and a frozen batch.

use snn_wgpu::cpu::engine::EngineOptions;
use snn_wgpu::data::mnist::{embedded, Split};
use snn_wgpu::experiments::diehl_cook::config::DcConfig;
use snn_wgpu::experiments::diehl_cook::engine::DcEngine;
use snn_wgpu::experiments::diehl_cook::{CompetitiveSpec, PresentOptions, RestMode};
use snn_wgpu::model::stdp::StdpRule;

type Arrays = Vec<(String, Vec<u32>)>;

fn run(
    spec: &CompetitiveSpec,
    queue: bool,
    rest: RestMode,
    intensity: f32,
) -> (Vec<Vec<u32>>, Arrays) {
    let opts = EngineOptions {
        depression_queue: queue,
        ..Default::default()
    };
    let mut b = DcEngine::with_options(spec, &opts).unwrap();
    let data = embedded(Split::Train).unwrap();
    let mut counts = vec![];
    for k in 0..8u32 {
        let opts = PresentOptions {
            steps_on: 700,
            steps_rest: 300,
            rest,
            learn: true,
            key: k,
        };
        counts.push(
            b.present(&DcConfig::rates(data.image(k as usize), intensity), &opts)
                .unwrap(),
        );
    }
    let rates: Vec<Vec<f32>> = (0..4)
        .map(|i| DcConfig::rates(data.image(20 + i), 2.0))
        .collect();
    counts.extend(
        b.present_frozen_batch(
            &rates,
            &PresentOptions {
                steps_on: 700,
                steps_rest: 0,
                rest: RestMode::Reset,
                learn: false,
                key: 40,
            },
        )
        .unwrap(),
    );
    (counts, b.snapshot().unwrap().arrays)
}

fn config() -> DcConfig {
    let mut c = DcConfig::preset("dc100").unwrap();
    c.n_exc = 40;
    c.seed = 11;
    c
}

fn check(what: &str, spec: &CompetitiveSpec, rest: RestMode, intensity: f32) {
    let want = run(spec, false, rest, intensity);
    let spikes: u32 = want.0.iter().flatten().sum();
    assert!(
        spikes > 40,
        "{what}: only {spikes} spikes; the test needs activity"
    );
    let got = run(spec, true, rest, intensity);
    assert_eq!(got.0, want.0, "{what}: spike counts");
    assert!(!got.1.is_empty());
    for ((name, a), (_, b)) in got.1.iter().zip(&want.1) {
        assert!(a == b, "{what}: snapshot array `{name}` differs");
    }
}

#[test]
fn the_paper_preset_gets_the_plain_bits() {
    let spec = config().to_spec();
    check("dc preset", &spec, RestMode::Simulate, 2.0);
    check("dc preset, reset rest", &spec, RestMode::Reset, 2.0);
}

#[test]
fn neurons_leaving_and_rejoining_the_queue_get_the_plain_bits() {
    let mut c = config();
    c.stdp.tau_post1_ms = 2.0;
    c.stdp.nu_pre = 5e-3;
    check("2 ms post1", &c.to_spec(), RestMode::Simulate, 4.0);
    c.stdp.rule = StdpRule::Pair;
    check(
        "2 ms post1, pair rule",
        &c.to_spec(),
        RestMode::Simulate,
        4.0,
    );
}

#[test]
fn weights_above_w_max_get_the_plain_bits() {
    // The initial weights reach 0.303; columns normalised to 200 average 0.255, so the
    // normalisation puts some weights above w_max 0.31, and a learning presentation starts
    // with loose columns.
    let mut c = config();
    c.w_max = 0.31;
    c.norm_target = 200.0;
    c.stdp.tau_post1_ms = 2.0;
    let spec = c.to_spec();
    check("w_max 0.31, norm 200", &spec, RestMode::Simulate, 4.0);
    let mut b = DcEngine::new(&spec).unwrap();
    let data = embedded(Split::Train).unwrap();
    let opts = PresentOptions {
        steps_on: 700,
        steps_rest: 300,
        rest: RestMode::Simulate,
        learn: true,
        key: 0,
    };
    b.present(&DcConfig::rates(data.image(0), 4.0), &opts)
        .unwrap();
    let over = b.weights().unwrap().iter().filter(|&&w| w > 0.31).count();
    assert!(over > 0, "no weight above w_max: the case is not exercised");
    // Initial weights outside the bounds are refused, naming w_max.
    let mut low = config();
    low.w_max = 0.15;
    let e = DcEngine::new(&low.to_spec()).err().expect("refused");
    assert!(e.to_string().contains("w_max"), "{e}");
}
