//! Where one Diehl & Cook training presentation's time goes on the general GPU engine: the
//! calls `DcEngine::present` makes (`experiments::diehl_cook::engine`), timed one by one on
//! a `GpuEngine` of the preset's network (the default launch options but the workgroup
//! size), for dc100 and dc400.
//!
//! `cargo run --release --example dc_presentation_profile [-- --reps 5 --workgroup-size 64]`
//! prints one JSON
//! line per preset: the schedule, the steps one dispatch ran, and the median milliseconds of
//! each call over `reps` presentations (after one untimed): normalisation, setting the
//! rates and stream, the `steps_on` counting run, the rest run, θ decay (read, scale,
//! write) and the finiteness check of the weights.

use snn_wgpu::backend::Simulator;
use snn_wgpu::data::mnist::{embedded, Split};
use snn_wgpu::experiments::diehl_cook::config::DcConfig;
use snn_wgpu::experiments::diehl_cook::model::{self, EXC, INPUT, INPUT_EXC};
use snn_wgpu::experiments::diehl_cook::spec::presentation_seed;
use snn_wgpu::gpu::{GpuContext, GpuEngine, GpuEngineOptions, GpuOptions};
use snn_wgpu::SnnError;
use std::sync::Arc;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> snn_wgpu::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |name: &str, default: u32| match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse::<u32>().ok())
            .filter(|&v| v > 0)
            .ok_or_else(|| SnnError::invalid(name, args[i..].join(" "), "a count >= 1")),
    };
    let reps = arg("--reps", 5)? as usize;
    let ctx = Arc::new(GpuContext::new(&GpuOptions::default())?);
    let wg = arg("--workgroup-size", ctx.default_workgroup_size())?;
    let opts = GpuEngineOptions {
        workgroup_size: Some(wg),
        ..GpuEngineOptions::default()
    };
    let data = embedded(Split::Train)?;
    for preset in ["dc100", "dc400"] {
        let cfg = DcConfig::preset(preset)?;
        let spec = cfg.to_spec();
        let mut e = GpuEngine::with_options(ctx.clone(), &model::network(&spec)?, opts)?;
        let (on, rest) = (cfg.steps_on(), cfg.steps_rest());
        let silence = vec![0.0; spec.n_input as usize];
        let decay = (-((on + rest) as f64) * spec.dt_ms as f64
            / spec
                .exc
                .theta
                .map_or(f64::INFINITY, |t| t.tau_theta_ms as f64))
        .exp() as f32;
        let names = ["normalize", "rates", "run_on", "run_rest", "theta", "check"];
        let mut ms: Vec<Vec<f64>> = vec![vec![]; names.len()];
        for k in 0..=reps {
            let rates = DcConfig::rates(data.image(k % data.len()), cfg.intensity_start);
            let mut lap = Instant::now();
            let mut times = vec![];
            let mut tick = |times: &mut Vec<f64>| {
                times.push(lap.elapsed().as_secs_f64() * 1e3);
                lap = Instant::now();
            };
            if let Some(target) = spec.norm_target {
                e.normalize_columns(INPUT_EXC, target)?;
            }
            tick(&mut times);
            e.set_rates(INPUT, 0, &rates)?;
            let origin = e.step_count();
            e.set_poisson_stream(INPUT, 0, presentation_seed(spec.seed, k as u32), origin)?;
            tick(&mut times);
            e.run_counting(on, EXC)?;
            tick(&mut times);
            e.set_rates(INPUT, 0, &silence)?;
            e.run(rest)?;
            tick(&mut times);
            let mut theta = e.state(EXC, "theta", 0)?;
            theta.iter_mut().for_each(|t| *t *= decay);
            e.set_state(EXC, "theta", 0, &theta)?;
            tick(&mut times);
            Simulator::first_non_finite_weight(&e, INPUT_EXC, 0)?;
            tick(&mut times);
            if k > 0 {
                for (m, t) in ms.iter_mut().zip(times) {
                    m.push(t);
                }
            }
        }
        let calls: Vec<String> = names
            .iter()
            .zip(ms)
            .map(|(n, v)| format!("\"{n}\":{:.2}", median(v)))
            .collect();
        println!(
            "{{\"preset\":\"{preset}\",\"adapter\":\"{}\",\"workgroup_size\":{},\"schedule\":\"{:?}\",\"steps_per_dispatch\":{},\"reps\":{reps},\"median_ms\":{{{}}}}}",
            ctx.adapter_description(),
            wg,
            e.schedule(),
            e.steps_per_dispatch(),
            calls.join(",")
        );
    }
    Ok(())
}
