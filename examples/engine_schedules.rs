//! The general GPU engine's two schedules side by side: the passes (a dispatch per pass of
//! a step) and the fused one (many steps per dispatch, a workgroup per copy), on the
//! `recurrent_stdp` example's network (two copies) and on Diehl & Cook's dc100 network as a
//! general network (784 Poisson inputs driven by an MNIST digit → 100 excitatory with
//! triplet STDP → 100 inhibitory, one copy, learning), with its 10 ms input delays and
//! without them.
//!
//! `cargo run --release --example engine_schedules [-- --steps 1000 --reps 5]` prints one
//! JSON line per network and engine (the GPU engine under each schedule, and the CPU engine
//! for scale): the median time per step over `reps` runs of `steps` steps (the engines
//! alternated within each repetition, after a warm-up run of up to 200 steps), and the steps
//! one dispatch ran in the last run (under the adapter's loop budget; 0 for the CPU).

#[path = "recurrent_stdp.rs"]
#[allow(dead_code)]
mod recurrent_stdp;

use snn_wgpu::backend::Simulator;
use snn_wgpu::cpu::engine::Engine;
use snn_wgpu::data::mnist::{embedded, Split};
use snn_wgpu::experiments::diehl_cook::config::DcConfig;
use snn_wgpu::experiments::diehl_cook::model;
use snn_wgpu::gpu::{EngineSchedule, GpuContext, GpuEngine, GpuEngineOptions, GpuOptions};
use snn_wgpu::model::net::Network;
use snn_wgpu::SnnError;
use std::sync::Arc;
use std::time::Instant;

fn arg(args: &[String], name: &str, default: u32) -> snn_wgpu::Result<u32> {
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .filter(|&v| v > 0)
            .ok_or_else(|| SnnError::invalid(name, args[i..].join(" "), "a count >= 1")),
    }
}

/// dc100 as a general network, its input set to digit 0 of the embedded training set at
/// the starting intensity.
fn dc100(delay_ms: f32) -> snn_wgpu::Result<(Network, Vec<f32>)> {
    let mut cfg = DcConfig::preset("dc100")?;
    cfg.input_delay_max_ms = delay_ms;
    let net = model::network(&cfg.to_spec())?;
    let data = embedded(Split::Train)?;
    Ok((net, DcConfig::rates(data.image(0), 2.0)))
}

fn main() -> snn_wgpu::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let steps = arg(&args, "--steps", 1000)?;
    let reps = arg(&args, "--reps", 5)?;
    let ctx = Arc::new(GpuContext::new(&GpuOptions::default())?);
    let (dc_delays, rates) = dc100(10.0)?;
    let (dc_plain, _) = dc100(0.0)?;
    let nets = [
        ("recurrent_stdp", recurrent_stdp::network(), None),
        ("dc100 (10 ms delays)", dc_delays, Some(rates.clone())),
        ("dc100 (no delays)", dc_plain, Some(rates)),
    ];
    for (name, net, input) in &nets {
        let mut gpus = vec![];
        for schedule in [EngineSchedule::Passes, EngineSchedule::Fused] {
            let opts = GpuEngineOptions {
                schedule,
                ..GpuEngineOptions::default()
            };
            gpus.push((
                format!("gpu {schedule:?}"),
                GpuEngine::with_options(ctx.clone(), net, opts)?,
            ));
        }
        let mut cpu = Engine::new(net)?;
        let mut us: Vec<Vec<f64>> = vec![vec![]; gpus.len() + 1];
        {
            let mut engines: Vec<&mut dyn Simulator> = gpus
                .iter_mut()
                .map(|(_, e)| e as &mut dyn Simulator)
                .collect();
            engines.push(&mut cpu);
            for e in &mut engines {
                if let Some(r) = input {
                    e.set_rates(model::INPUT, 0, r)?;
                }
                e.run(steps.min(200))?;
            }
            for _ in 0..reps {
                for (e, times) in engines.iter_mut().zip(&mut us) {
                    let t0 = Instant::now();
                    e.run(steps)?;
                    times.push(t0.elapsed().as_secs_f64() * 1e6 / steps as f64);
                }
            }
        }
        // Steps per dispatch of the last run (0 for the CPU).
        let mut labels: Vec<(String, u32)> = gpus
            .iter()
            .map(|(l, e)| (l.clone(), e.steps_per_dispatch()))
            .collect();
        labels.push(("cpu engine".into(), 0));
        for ((label, per_dispatch), mut times) in labels.iter().zip(us) {
            times.sort_by(f64::total_cmp);
            println!(
                "{{\"network\":\"{name}\",\"engine\":\"{label}\",\"adapter\":\"{}\",\"copies\":{},\"steps\":{steps},\"reps\":{reps},\"us_per_step_median\":{:.1},\"steps_per_dispatch\":{per_dispatch}}}",
                ctx.adapter_description(),
                net.batch(),
                times[times.len() / 2],
            );
        }
    }
    Ok(())
}
