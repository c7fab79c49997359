//! Song, Miller & Abbott 2000: 1000 Poisson inputs at 15 Hz drive one conductance LIF
//! neuron through additive pair STDP, which splits the weights into a bimodal distribution
//! (most near 0 or near gmax).
//!
//! ```text
//! cargo run --release --example song_stdp -- --seconds 100 --out song_weights.png
//! ```
//!
//! Constants: `snn_wgpu::experiments::benchmarks` (module docs; gmax = 0.01 in units of the
//! leak conductance, A+ = 0.01·gmax, A− = 1.05·A+, τ± = 20 ms, all-to-all pairing).
//!
//! Prints one JSON line: `sim_s`, `wall_s` (the run alone), `cpu_s` (its process CPU
//! time), `out_rate_hz` (over the whole run), `frac_w_below_0.1`, `frac_w_above_0.9`,
//! `mean_w_over_gmax`, `w_over_gmax_hist10` (counts in 10 equal bins of [0, 1]; all at the
//! end), `backend`, `adapter`; and writes a PNG with the histogram of w/gmax at the start and
//! at the end.
#[path = "../src/bin/flags/engine.rs"]
mod flags;

use anyhow::{Context, Result};
use clap::Parser;
use plotters::prelude::*;
use snn_wgpu::experiments::benchmarks::{
    sim_seconds, song, weight_fractions, Backend, Benchmark, DT_MS, SONG_GMAX,
};
use snn_wgpu::model::net::Recording;

#[derive(Parser)]
#[command(about = "Song, Miller & Abbott 2000 STDP; prints one JSON line and writes a PNG")]
struct Args {
    /// Simulated seconds.
    #[arg(long, default_value_t = 100.0)]
    seconds: f64,
    /// cpu or gpu (the general GPU engine).
    #[arg(long, default_value = "cpu")]
    backend: Backend,
    /// Seed of the input spikes and the initial weights.
    #[arg(long, default_value_t = 1)]
    seed: u32,
    /// The histogram PNG.
    #[arg(long, default_value = "song_weights.png")]
    out: std::path::PathBuf,
    #[command(flatten)]
    engine: flags::EngineArgs,
}

/// Bins of the histograms.
const BINS: usize = 20;

fn main() -> Result<()> {
    let a = Args::parse();
    let steps = (a.seconds * 1000.0 / DT_MS as f64).round();
    if !(1.0..4.0e9).contains(&steps) {
        anyhow::bail!(
            "--seconds {}: give a duration of at least one step ({DT_MS} ms)",
            a.seconds
        );
    }
    let steps = steps as u32;
    let bench = Benchmark {
        network: song(a.seed),
        initial: vec![],
    };
    let flag = || format!("--backend {}", a.backend.name());
    let ctx = a.backend.context(&a.engine.gpu()).with_context(flag)?;
    let adapter = ctx.as_ref().map(|c| c.adapter_description());
    let mut e = bench.start(ctx).with_context(flag)?;
    let w0 = e.weights("syn", 0)?.to_vec();
    let (t0, c0) = (std::time::Instant::now(), cpu_time::ProcessTime::now());
    e.run(steps)?;
    let (wall_s, cpu_s) = (t0.elapsed().as_secs_f64(), c0.elapsed().as_secs_f64());
    let w1 = e.weights("syn", 0)?.to_vec();
    let Recording::Spikes(out) = e.recording("out_spikes", 0)? else {
        anyhow::bail!("out_spikes is not a spike monitor");
    };
    let sim_s = sim_seconds(steps);
    let (below, above, mean) = weight_fractions(&w1, SONG_GMAX);
    plot(&a.out, &w0, &w1, sim_s).with_context(|| format!("--out {}", a.out.display()))?;
    println!(
        "{}",
        serde_json::json!({
            "sim_s": sim_s,
            "wall_s": wall_s,
            "cpu_s": cpu_s,
            "out_rate_hz": out.len() as f64 / sim_s,
            "frac_w_below_0.1": below,
            "frac_w_above_0.9": above,
            "mean_w_over_gmax": mean,
            "w_over_gmax_hist10": histogram(&w1)
                .chunks(BINS / 10)
                .map(|c| c.iter().sum::<u32>())
                .collect::<Vec<_>>(),
            "backend": a.backend.name(),
            "adapter": adapter,
        })
    );
    Ok(())
}

/// Counts of w/gmax in [`BINS`] equal bins of [0, 1].
fn histogram(w: &[f32]) -> Vec<u32> {
    let mut c = vec![0u32; BINS];
    for &x in w {
        let b = ((x / SONG_GMAX) * BINS as f32) as usize;
        c[b.min(BINS - 1)] += 1;
    }
    c
}

fn plot(path: &std::path::Path, w0: &[f32], w1: &[f32], sim_s: f64) -> Result<()> {
    let root = BitMapBackend::new(path, (1000, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((1, 2));
    let (h0, h1) = (histogram(w0), histogram(w1));
    let y_max = h0.iter().chain(&h1).copied().max().unwrap_or(1) + 10;
    for (panel, (h, title)) in panels
        .iter()
        .zip([(h0, "start".to_string()), (h1, format!("after {sim_s} s"))])
    {
        let mut chart = ChartBuilder::on(panel)
            .caption(format!("w / gmax, {title}"), ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0f32..1f32, 0u32..y_max)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("w / gmax")
            .y_desc("synapses")
            .draw()?;
        let width = 1.0 / BINS as f32;
        chart.draw_series(h.iter().enumerate().map(|(b, &c)| {
            let x = b as f32 * width;
            Rectangle::new([(x, 0), (x + width, c)], BLUE.mix(0.7).filled())
        }))?;
    }
    root.present()?;
    Ok(())
}
