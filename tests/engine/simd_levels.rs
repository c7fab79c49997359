//! The CPU step's copies compiled for AVX2 and AVX-512 (`cpu::simd`) give the baseline copy's
//! bits: learning presentations with and without input delays, in both rest modes, then a
//! frozen batch; the whole state is compared through snapshots.

use snn_wgpu::cpu::engine::EngineOptions;
use snn_wgpu::cpu::simd::SimdLevel;
use snn_wgpu::data::mnist::{embedded, Split};
use snn_wgpu::experiments::diehl_cook::config::DcConfig;
use snn_wgpu::experiments::diehl_cook::engine::DcEngine;
use snn_wgpu::experiments::diehl_cook::{PresentOptions, RestMode};

type Arrays = Vec<(String, Vec<u32>)>;

fn run(level: SimdLevel, delays_ms: f32, rest: RestMode) -> (Vec<Vec<u32>>, Arrays) {
    let mut c = DcConfig::preset("dc100").unwrap();
    c.n_exc = 40;
    c.seed = 9;
    c.input_delay_max_ms = delays_ms;
    let opts = EngineOptions {
        simd: Some(level),
        ..Default::default()
    };
    let net = snn_wgpu::experiments::diehl_cook::model::network(&c.to_spec()).unwrap();
    let e = snn_wgpu::cpu::engine::Engine::with_options(&net, &opts).unwrap();
    assert_eq!(e.simd(), level);
    let mut b = DcEngine::with_options(&c.to_spec(), &opts).unwrap();
    let data = embedded(Split::Train).unwrap();
    let mut counts = vec![];
    for k in 0..6u32 {
        let opts = PresentOptions {
            steps_on: 700,
            steps_rest: 300,
            rest,
            learn: true,
            key: k,
        };
        counts.push(
            b.present(&DcConfig::rates(data.image(k as usize), 3.0), &opts)
                .unwrap(),
        );
    }
    let rates: Vec<Vec<f32>> = (0..8)
        .map(|i| DcConfig::rates(data.image(20 + i), 2.0))
        .collect();
    let frozen = PresentOptions {
        steps_on: 700,
        steps_rest: 0,
        rest: RestMode::Reset,
        learn: false,
        key: 40,
    };
    counts.extend(b.present_frozen_batch(&rates, &frozen).unwrap());
    let snap = b.snapshot().unwrap();
    (counts, snap.arrays)
}

#[test]
fn every_simd_level_gives_the_baseline_bits() {
    let levels: Vec<SimdLevel> = [SimdLevel::Avx2, SimdLevel::Avx512]
        .into_iter()
        .filter(|l| l.available())
        .collect();
    eprintln!("levels beside the baseline on this processor: {levels:?}");
    for (delays, rest) in [
        (10.0, RestMode::Simulate),
        (0.0, RestMode::Simulate),
        (10.0, RestMode::Reset),
    ] {
        let want = run(SimdLevel::Baseline, delays, rest);
        assert!(want.0.iter().map(|c| c.iter().sum::<u32>()).sum::<u32>() > 0);
        for &l in &levels {
            let got = run(l, delays, rest);
            assert_eq!(
                got.0, want.0,
                "{l:?}, delays {delays} ms, {rest:?}: spike counts"
            );
            assert!(
                got.1 == want.1,
                "{l:?}, delays {delays} ms, {rest:?}: state bits"
            );
            assert!(!got.1.is_empty());
        }
    }
}

#[test]
fn a_level_this_processor_lacks_is_refused() {
    let c = DcConfig::preset("dc100").unwrap();
    for l in [SimdLevel::Avx2, SimdLevel::Avx512] {
        let opts = EngineOptions {
            simd: Some(l),
            ..Default::default()
        };
        let r = DcEngine::with_options(&c.to_spec(), &opts);
        assert_eq!(r.is_ok(), l.available(), "{l:?}");
    }
}
