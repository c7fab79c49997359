//! The competitive layer on the GPU against the CPU reference: a small Diehl & Cook network
//! learning over a few presentations (identical spike counts, weights within tolerance), and
//! frozen batches (identical counts, and identical to one-at-a-time).

use crate::common;

use crate::common::assert_close as close;

use snn_wgpu::backend::CompetitiveBackend;
use snn_wgpu::data::mnist::{embedded, Split};
use snn_wgpu::experiments::diehl_cook::config::DcConfig;
use snn_wgpu::experiments::diehl_cook::engine::DcEngine;
use snn_wgpu::gpu::wta::GpuCompetitive;
use snn_wgpu::gpu::{GpuContext, KernelTuning, Schedule};
use snn_wgpu::model::{CompetitiveSpec, PresentOptions, RestMode};
use std::sync::Arc;

fn cfg(n: u32) -> DcConfig {
    let mut c = DcConfig::preset("dc100").unwrap();
    c.n_exc = n;
    c.seed = 3;
    c.input_delay_max_ms = 0.0;
    c
}

/// The fused schedule with llvmpipe's launch shape (`fast` false: 64 invocations, ring and
/// unrolled propagation off) or a real GPU's (true: 512, both on), whatever the adapter,
/// with the arrival queues; both must agree with the CPU.
fn fused_ring(ctx: &Arc<GpuContext>, spec: &CompetitiveSpec, fast: bool) -> GpuCompetitive {
    fused_tuned(ctx, spec, fast, true)
}

/// [`fused_ring`] with the arrival queues on or off (off: every neuron scans the delay
/// window, as the stepwise schedule and the queues' overflow fallback do).
fn fused_tuned(
    ctx: &Arc<GpuContext>,
    spec: &CompetitiveSpec,
    fast: bool,
    arrival_queue: bool,
) -> GpuCompetitive {
    let tuning = KernelTuning {
        workgroup_size: if fast { 512 } else { 64 },
        workgroup_ring: fast,
        unroll: fast,
        arrival_queue,
    };
    GpuCompetitive::with_tuning(ctx.clone(), spec, Schedule::Fused, tuning).unwrap()
}

/// The GPU runs every comparison covers: fused at llvmpipe's and at a real GPU's launch
/// shape (with the arrival queues), the real GPU's without the queues, and stepwise.
fn variants(ctx: &Arc<GpuContext>, spec: &CompetitiveSpec) -> Vec<GpuCompetitive> {
    vec![
        fused_ring(ctx, spec, false),
        fused_ring(ctx, spec, true),
        fused_tuned(ctx, spec, true, false),
        GpuCompetitive::with_schedule(ctx.clone(), spec, Schedule::Stepwise).unwrap(),
    ]
}

/// One learning presentation on the CPU and on each of `gpus`: identical spike counts, θ and
/// weights within `common::REL_TOL` relative afterwards. Returns the CPU's counts.
fn present_agrees(
    cpu: &mut DcEngine,
    gpus: &mut [GpuCompetitive],
    rates: &[f32],
    opts: &PresentOptions,
    what: &str,
) -> Vec<u32> {
    let a = cpu.present(rates, opts).unwrap();
    for (r, g) in gpus.iter_mut().enumerate() {
        let who = format!("{} (variant {r}), {what}", g.describe());
        assert_eq!(g.present(rates, opts).unwrap(), a, "{who}: spike counts");
        close(
            &g.theta().unwrap(),
            &cpu.theta().unwrap(),
            &format!("{who} theta"),
        );
        let worst = close(
            &g.weights().unwrap(),
            &cpu.weights().unwrap(),
            &format!("{who} w"),
        );
        if worst > 0.0 {
            eprintln!("{who}: weights differ, by at most {worst:.2e} relative");
        }
    }
    a
}

fn learning_run(rest: RestMode) {
    let ctx = common::gpu_ctx();
    let c = cfg(24);
    let spec = c.to_spec();
    let data = embedded(Split::Train).unwrap();
    let mut cpu = DcEngine::new(&spec).unwrap();
    let mut gpus = variants(&ctx, &spec);
    close(
        &gpus[0].weights().unwrap(),
        &cpu.weights().unwrap(),
        "initial w",
    );
    let mut total = 0;
    for k in 0..6u32 {
        let opts = PresentOptions {
            steps_on: 700,
            steps_rest: 300,
            rest,
            learn: true,
            key: k,
        };
        let rates = DcConfig::rates(data.image(k as usize), 4.0);
        let a = present_agrees(
            &mut cpu,
            &mut gpus,
            &rates,
            &opts,
            &format!("presentation {k}"),
        );
        total += a.iter().sum::<u32>();
    }
    assert!(
        total > 20,
        "too few spikes ({total}) for a meaningful comparison"
    );
    // STDP really ran: normalisation precedes each presentation, so columns whose neuron
    // learned no longer sum to 78 afterwards.
    let w = cpu.weights().unwrap();
    let n = 24;
    let moved = (0..n)
        .filter(|&i| ((0..784).map(|j| w[j * n + i]).sum::<f32>() - 78.0).abs() > 1e-2)
        .count();
    eprintln!("{rest:?}: {total} spikes, {moved} columns changed by STDP");
    assert!(moved > 0, "STDP changed no column");
}

pub fn learning_presentations_agree_with_simulated_rest() {
    learning_run(RestMode::Simulate);
}

pub fn learning_presentations_agree_with_reset_rest() {
    learning_run(RestMode::Reset);
}

pub fn frozen_batches_agree_and_match_one_at_a_time() {
    let c = cfg(32);
    let spec = c.to_spec();
    let data = embedded(Split::Test).unwrap();
    let rates: Vec<Vec<f32>> = (0..12)
        .map(|i| DcConfig::rates(data.image(i), 2.0))
        .collect();
    let opts = PresentOptions {
        steps_on: 700,
        steps_rest: 0,
        rest: RestMode::Reset,
        learn: false,
        key: 100,
    };
    let mut cpu = DcEngine::new(&spec).unwrap();
    let batch = cpu.present_frozen_batch(&rates, &opts).unwrap();
    // One at a time, in reverse order, gives the same counts.
    for i in (0..rates.len()).rev() {
        let one = cpu
            .present_frozen_batch(
                &rates[i..i + 1],
                &PresentOptions {
                    key: 100 + i as u32,
                    ..opts
                },
            )
            .unwrap();
        assert_eq!(one[0], batch[i], "image {i}");
    }
    assert!(batch.iter().map(|c| c.iter().sum::<u32>()).sum::<u32>() > 0);
    let Some(ctx) = common::gpu() else { return };
    for (r, mut gpu) in variants(&ctx, &spec).into_iter().enumerate() {
        assert_eq!(
            gpu.present_frozen_batch(&rates, &opts).unwrap(),
            batch,
            "variant {r}"
        );
    }
}

pub fn learning_with_input_delays_agrees() {
    let ctx = common::gpu_ctx();
    let mut c = cfg(20);
    c.input_delay_max_ms = 10.0;
    let spec = c.to_spec();
    assert!(spec.input_delay_max_ms.is_some());
    let data = embedded(Split::Train).unwrap();
    let mut cpu = DcEngine::new(&spec).unwrap();
    let mut gpus = variants(&ctx, &spec);
    let mut total = 0;
    for k in 0..5u32 {
        let opts = PresentOptions {
            steps_on: 700,
            steps_rest: 300,
            rest: RestMode::Simulate,
            learn: true,
            key: k,
        };
        let rates = DcConfig::rates(data.image(k as usize + 10), 4.0);
        let a = present_agrees(
            &mut cpu,
            &mut gpus,
            &rates,
            &opts,
            &format!("presentation {k}"),
        );
        total += a.iter().sum::<u32>();
    }
    assert!(total > 20, "too few spikes ({total})");
    let rates: Vec<Vec<f32>> = (0..6)
        .map(|i| DcConfig::rates(data.image(i), 2.0))
        .collect();
    let opts = PresentOptions {
        steps_on: 700,
        steps_rest: 0,
        rest: RestMode::Reset,
        learn: false,
        key: 50,
    };
    let want = cpu.present_frozen_batch(&rates, &opts).unwrap();
    for g in &mut gpus[..3] {
        assert_eq!(g.present_frozen_batch(&rates, &opts).unwrap(), want);
    }
}

/// Dense input with delays, learning: the fused kernel's fast paths have caps (a ring slot
/// in workgroup memory holds 64 input spikes, SH_CAP; a neuron notes 32 arrivals per step for
/// depression, MAX_ARRIVALS, in wta_common.wgsl). Uniform 100 Hz input (about 39 spikes per
/// 0.5 ms step) overflows the arrival list; 300 Hz (about 118) overflows the ring too, and the
/// rest after it hands back to the ring. Both must equal the CPU.
pub fn dense_input_overflows_the_fast_paths_and_still_agrees() {
    let ctx = common::gpu_ctx();
    let mut c = cfg(20);
    c.input_delay_max_ms = 10.0;
    let spec = c.to_spec();
    let data = embedded(Split::Train).unwrap();
    let mut cpu = DcEngine::new(&spec).unwrap();
    let mut gpus = variants(&ctx, &spec);
    let inputs: [(Vec<f32>, &str); 3] = [
        (vec![100.0; 784], "uniform 100 Hz"),
        (vec![300.0; 784], "uniform 300 Hz"),
        (DcConfig::rates(data.image(7), 2.0), "an image"),
    ];
    for (k, (rates, what)) in inputs.iter().enumerate() {
        let per_step = rates.iter().sum::<f32>() * c.dt_ms / 1000.0;
        let opts = PresentOptions {
            steps_on: 120,
            steps_rest: 100,
            rest: RestMode::Simulate,
            learn: true,
            key: 70 + k as u32,
        };
        let what = format!("{what} ({per_step:.0} input spikes per step)");
        present_agrees(&mut cpu, &mut gpus, rates, &opts, &what);
    }
}

/// The largest layer we claim (N = 6400): a learning presentation that llvmpipe's loop budget
/// splits over several dispatches, and a frozen batch with input delays.
pub fn largest_layer_agrees() {
    let ctx = common::gpu_ctx();
    let mut c = cfg(6400);
    let data = embedded(Split::Train).unwrap();
    let spec = c.to_spec();
    let mut cpu = DcEngine::new(&spec).unwrap();
    // The workgroup ring, reloaded at each of llvmpipe's dispatches.
    let mut gpu = fused_ring(&ctx, &spec, true);
    let opts = PresentOptions {
        steps_on: 700,
        steps_rest: 300,
        rest: RestMode::Simulate,
        learn: true,
        key: 1,
    };
    let rates = DcConfig::rates(data.image(3), 2.0);
    let a = cpu.present(&rates, &opts).unwrap();
    assert_eq!(gpu.present(&rates, &opts).unwrap(), a);
    assert!(a.iter().sum::<u32>() > 0);
    if ctx.is_software() {
        assert!(
            gpu.dispatches_last_presentation() > 1,
            "the presentation should span several dispatches on llvmpipe"
        );
    }
    close(&gpu.weights().unwrap(), &cpu.weights().unwrap(), "w");
    close(&gpu.theta().unwrap(), &cpu.theta().unwrap(), "theta");

    c.input_delay_max_ms = 10.0;
    let spec = c.to_spec();
    let mut cpu = DcEngine::new(&spec).unwrap();
    let mut gpu = GpuCompetitive::new(ctx, &spec).unwrap();
    let rates: Vec<Vec<f32>> = (0..2)
        .map(|i| DcConfig::rates(data.image(i), 2.0))
        .collect();
    let opts = PresentOptions {
        steps_on: 700,
        steps_rest: 0,
        rest: RestMode::Reset,
        learn: false,
        key: 9,
    };
    assert_eq!(
        gpu.present_frozen_batch(&rates, &opts).unwrap(),
        cpu.present_frozen_batch(&rates, &opts).unwrap()
    );
}

/// `clamp_v_to_reversal` on the GPU equals the CPU, in a network whose inhibition is strong
/// enough (w_inh_exc = 400: one inhibitory spike gives gi·dt/τ_m = 2) that Euler steps
/// overshoot E_inh and the clamp acts: the CPU run without it gives other counts.
pub fn reversal_clamp_agrees_and_acts() {
    let ctx = common::gpu_ctx();
    let mut c = cfg(24);
    c.w_inh_exc = 400.0;
    c.input_delay_max_ms = 10.0;
    c.clamp_v_to_reversal = true;
    let spec = c.to_spec();
    let unclamped = DcConfig {
        clamp_v_to_reversal: false,
        ..c.clone()
    }
    .to_spec();
    let data = embedded(Split::Train).unwrap();
    let mut cpu = DcEngine::new(&spec).unwrap();
    let mut free = DcEngine::new(&unclamped).unwrap();
    let mut gpus = variants(&ctx, &spec);
    let mut differs = false;
    for k in 0..4u32 {
        let opts = PresentOptions {
            steps_on: 700,
            steps_rest: 300,
            rest: RestMode::Simulate,
            learn: true,
            key: k,
        };
        let rates = DcConfig::rates(data.image(k as usize + 30), 4.0);
        let a = present_agrees(
            &mut cpu,
            &mut gpus,
            &rates,
            &opts,
            &format!("presentation {k}"),
        );
        differs |= free.present(&rates, &opts).unwrap() != a
            || free.theta().unwrap() != cpu.theta().unwrap();
    }
    assert!(
        differs,
        "the clamp never acted: the test network is too gentle"
    );
}
