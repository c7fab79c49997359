//! What the COBA and CUBA examples share: their flags, the timed run and the JSON line.

use crate::flags::EngineArgs;
use anyhow::{Context, Result};
use clap::{CommandFactory, FromArgMatches, Parser};
use snn_wgpu::experiments::benchmarks::{sim_seconds, spike_stats, Backend, Benchmark, DT_MS};

#[derive(Parser)]
struct Args {
    /// Number of neurons (80 % excitatory); 80 inputs per neuron at any N.
    #[arg(long, default_value_t = 4000)]
    n: u32,
    /// Simulated seconds.
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
    /// cpu or gpu (the general GPU engine; the adapter is chosen as for `snn`).
    #[arg(long, default_value = "cpu")]
    backend: Backend,
    /// Seed of the connectivity and the initial state.
    #[arg(long, default_value_t = 1)]
    seed: u32,
    #[command(flatten)]
    engine: EngineArgs,
}

/// Parses the flags, builds `name`'s network with `build(n, seed)`, runs it and prints one
/// JSON line (keys in the examples' docs).
pub fn main(name: &str, build: fn(u32, u32) -> snn_wgpu::Result<Benchmark>) -> Result<()> {
    let about = format!("Brette et al. 2007 {name} benchmark; prints one JSON line");
    let a = Args::from_arg_matches(&Args::command().about(about).get_matches())?;
    let steps = steps_for(a.seconds)?;
    let bench = build(a.n, a.seed).context("--n")?;
    let flag = || format!("--backend {}", a.backend.name());
    let ctx = a.backend.context(&a.engine.gpu()).with_context(flag)?;
    let adapter = ctx.as_ref().map(|c| c.adapter_description());
    let software = ctx.as_ref().map(|c| c.is_software());
    let mut e = bench.start(ctx).with_context(flag)?;
    let (t0, c0) = (std::time::Instant::now(), cpu_time::ProcessTime::now());
    e.run(steps)?;
    let (wall_s, cpu_s) = (t0.elapsed().as_secs_f64(), c0.elapsed().as_secs_f64());
    let s = spike_stats(e.as_ref(), steps)?;
    println!(
        "{}",
        serde_json::json!({
            "bench": name,
            "n": a.n,
            "synapses": bench.synapses(),
            "sim_s": sim_seconds(steps),
            "wall_s": wall_s,
            "cpu_s": cpu_s,
            "spikes": s.spikes,
            "rate_hz": s.rate_hz,
            "cv_isi": s.cv_isi,
            "backend": a.backend.name(),
            "adapter": adapter,
            "software_adapter": software,
        })
    );
    Ok(())
}

/// Steps of dt for `seconds`, or an error naming `--seconds`.
fn steps_for(seconds: f64) -> Result<u32> {
    let steps = (seconds * 1000.0 / DT_MS as f64).round();
    if !(1.0..4.0e9).contains(&steps) {
        anyhow::bail!("--seconds {seconds}: give a duration of at least one step ({DT_MS} ms)");
    }
    Ok(steps as u32)
}
