//! Snapshots of the learning network: a backend restored from a snapshot taken mid-training
//! continues bit for bit like one that never stopped (the CPU engine and both schedules of the
//! GPU engine, with and without input delays, both rest modes), and snapshots of another kind
//! or size are refused.

use crate::common;

use snn_wgpu::data::mnist::{embedded, Split};
use snn_wgpu::experiments::diehl_cook::config::DcConfig;
use snn_wgpu::experiments::diehl_cook::engine::DcEngine;
use snn_wgpu::experiments::diehl_cook::{PresentOptions, RestMode};
use snn_wgpu::gpu::{EngineSchedule, GpuContext, GpuEngineOptions};
use std::sync::Arc;

fn cfg(n: u32, delay_ms: f32) -> DcConfig {
    let mut c = DcConfig::preset("dc100").unwrap();
    c.n_exc = n;
    c.seed = 11;
    c.input_delay_max_ms = delay_ms;
    c
}

fn opts(k: u32, rest: RestMode) -> PresentOptions {
    PresentOptions {
        steps_on: 300,
        steps_rest: 100,
        rest,
        learn: true,
        key: k,
    }
}

fn on_gpu(ctx: &Arc<GpuContext>, c: &DcConfig, schedule: EngineSchedule) -> DcEngine {
    let opts = GpuEngineOptions {
        schedule,
        ..GpuEngineOptions::default()
    };
    DcEngine::on_gpu(ctx.clone(), &c.to_spec(), opts).unwrap()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Presents images `range` to `b`, returning every count vector.
fn present(b: &mut DcEngine, range: std::ops::Range<u32>, rest: RestMode) -> Vec<Vec<u32>> {
    let data = embedded(Split::Train).unwrap();
    range
        .map(|k| {
            let rates = DcConfig::rates(data.image(k as usize), 4.0);
            b.present(&rates, &opts(k, rest)).unwrap()
        })
        .collect()
}

/// Runs 6 presentations straight, and 3 + snapshot + restore into `fresh` + 3, and compares.
fn resume_equals_straight(make: &dyn Fn() -> DcEngine, rest: RestMode, what: &str) {
    let mut straight = make();
    let want = present(&mut straight, 0..6, rest);

    let mut first = make();
    let mut got = present(&mut first, 0..3, rest);
    let snap = first.snapshot().unwrap();
    drop(first);
    let mut second = make();
    second.restore(&snap).unwrap();
    assert_eq!(
        second.snapshot().unwrap(),
        snap,
        "{what}: restore then snapshot"
    );
    got.extend(present(&mut second, 3..6, rest));

    assert_eq!(got, want, "{what}: spike counts after resume");
    assert_eq!(
        bits(&second.weights().unwrap()),
        bits(&straight.weights().unwrap()),
        "{what}: weights after resume"
    );
    assert_eq!(
        bits(&second.theta().unwrap()),
        bits(&straight.theta().unwrap()),
        "{what}: theta after resume"
    );
    assert_eq!(
        second.snapshot().unwrap(),
        straight.snapshot().unwrap(),
        "{what}: whole state after resume"
    );
    assert!(
        want.iter().flatten().sum::<u32>() > 0,
        "{what}: the network never fired"
    );
}

pub fn cpu_resume_is_bit_identical() {
    for delay in [0.0, 10.0] {
        for rest in [RestMode::Simulate, RestMode::Reset] {
            let spec = cfg(20, delay).to_spec();
            resume_equals_straight(
                &|| DcEngine::new(&spec).unwrap(),
                rest,
                &format!("cpu, delays {delay} ms, {rest:?}"),
            );
        }
    }
}

pub fn gpu_resume_is_bit_identical() {
    let ctx = common::gpu_ctx();
    for delay in [0.0, 10.0] {
        let c = cfg(20, delay);
        for schedule in [EngineSchedule::Fused, EngineSchedule::Passes] {
            let rest = RestMode::Simulate;
            resume_equals_straight(
                &|| on_gpu(&ctx, &c, schedule),
                rest,
                &format!("gpu {schedule:?}, delays {delay} ms"),
            );
        }
    }
}

pub fn gpu_resume_after_a_frozen_batch_grew_the_buffers() {
    // Frozen batches build a trial engine of as many copies as the batch has images; a
    // snapshot taken before must still restore into the learning copy.
    let ctx = common::gpu_ctx();
    let c = cfg(20, 0.0);
    let mut a = on_gpu(&ctx, &c, EngineSchedule::Auto);
    present(&mut a, 0..2, RestMode::Simulate);
    let snap = a.snapshot().unwrap();
    let mut b = on_gpu(&ctx, &c, EngineSchedule::Auto);
    let data = embedded(Split::Train).unwrap();
    let rates: Vec<Vec<f32>> = (0..5)
        .map(|k| DcConfig::rates(data.image(k), 4.0))
        .collect();
    b.present_frozen_batch(&rates, &opts(0, RestMode::Reset))
        .unwrap();
    b.restore(&snap).unwrap();
    let x = present(&mut a, 2..4, RestMode::Simulate);
    let y = present(&mut b, 2..4, RestMode::Simulate);
    assert_eq!(x, y);
    assert_eq!(bits(&a.weights().unwrap()), bits(&b.weights().unwrap()));
}

pub fn snapshots_of_another_kind_or_size_are_refused() {
    let mut small = DcEngine::new(&cfg(20, 0.0).to_spec()).unwrap();
    let mut big = DcEngine::new(&cfg(30, 0.0).to_spec()).unwrap();
    let before = big.snapshot().unwrap();
    let err = big
        .restore(&small.snapshot().unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("snapshot array") && err.contains("same network size"),
        "{err}"
    );
    assert_eq!(
        big.snapshot().unwrap(),
        before,
        "a refused snapshot changes nothing"
    );
    // The first GPU kernels' state is refused by name, with what to do.
    for kind in ["gpu", "gpu-multi"] {
        let mut old_gpu = small.snapshot().unwrap();
        old_gpu.backend = kind.into();
        let err = small.restore(&old_gpu).unwrap_err().to_string();
        assert!(
            err.contains(&format!("`{kind}`")) && err.contains("train again"),
            "{err}"
        );
    }
    // A snapshot of either engine restores into the other.
    if let Some(ctx) = common::gpu() {
        let mut g = on_gpu(&ctx, &cfg(20, 0.0), EngineSchedule::Auto);
        g.restore(&small.snapshot().unwrap()).unwrap();
        small.restore(&g.snapshot().unwrap()).unwrap();
    }
}
