//! Brette et al. 2007 Benchmark 1 (COBA; Vogels & Abbott 2005) on the general engine: N
//! conductance LIF neurons, 80 % excitatory, 80 random inputs per neuron, dt = 0.1 ms.
//!
//! ```text
//! cargo run --release --example coba -- --n 4000 --seconds 1 --seed 1
//! ```
//!
//! Constants: `snn_wgpu::experiments::benchmarks` (module docs). Conductances are in units of
//! the leak conductance gL = 10 nS, the conductance LIF's own unit: g (model) = g (nS) / 10,
//! so we = 6 nS is 0.6, wi = 67 nS is 6.7, and the initial ge ~ N(40, 15) nS, gi ~
//! N(200, 120) nS are N(4, 1.5) and N(20, 12).
//!
//! Prints one JSON line: `n`, `synapses`, `sim_s`, `wall_s` (the run alone, construction
//! excluded), `cpu_s` (the process's CPU time over the same run), `spikes`, `rate_hz`,
//! `cv_isi` (mean ISI CV over neurons with at least 3 spikes), `backend`, `adapter` (null on
//! the CPU).
use anyhow::{Context, Result};
use clap::Parser;
use snn_wgpu::experiments::benchmarks::{coba, sim_seconds, spike_stats, Backend, DT_MS};

#[derive(Parser)]
#[command(about = "Brette et al. 2007 COBA benchmark; prints one JSON line")]
struct Args {
    /// Number of neurons (80 % excitatory); 80 inputs per neuron at any N.
    #[arg(long, default_value_t = 4000)]
    n: u32,
    /// Simulated seconds.
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
    /// cpu or gpu.
    #[arg(long, default_value = "cpu")]
    backend: Backend,
    /// Seed of the connectivity and the initial state.
    #[arg(long, default_value_t = 1)]
    seed: u32,
}

fn main() -> Result<()> {
    let a = Args::parse();
    let steps = steps_for(a.seconds)?;
    let bench = coba(a.n, a.seed).context("--n")?;
    let mut e = bench
        .start(a.backend)
        .with_context(|| format!("--backend {}", a.backend.name()))?;
    let (t0, c0) = (std::time::Instant::now(), cpu_time::ProcessTime::now());
    e.run(steps)?;
    let (wall_s, cpu_s) = (t0.elapsed().as_secs_f64(), c0.elapsed().as_secs_f64());
    let s = spike_stats(&e, steps)?;
    println!(
        "{}",
        serde_json::json!({
            "n": a.n,
            "synapses": bench.synapses(),
            "sim_s": sim_seconds(steps),
            "wall_s": wall_s,
            "cpu_s": cpu_s,
            "spikes": s.spikes,
            "rate_hz": s.rate_hz,
            "cv_isi": s.cv_isi,
            "backend": a.backend.name(),
            "adapter": serde_json::Value::Null,
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
