//! Brette et al. 2007 Benchmark 2 (CUBA) on the general engine: N current-based
//! LIF neurons, 80 % excitatory, 80 random inputs per neuron, dt = 0.1 ms.
//!
//! ```text
//! cargo run --release --example cuba -- --n 4000 --seconds 1 --seed 1
//! ```
//!
//! Constants: `snn_wgpu::experiments::benchmarks` (module docs). The neuron is the current
//! LIF (`NeuronKind::CurrentLif`): `τm dv/dt = (El − v) + ge − gi`, ge and gi in mV; a spike
//! adds we = 1.62 mV to ge or |wi| = 9 mV to gi (Brette's gi is the negative of this one).
//!
//! Prints one JSON line: `n`, `synapses`, `sim_s`, `wall_s` (the run alone, construction
//! excluded), `cpu_s` (the process's CPU time over the same run), `spikes`, `rate_hz`,
//! `cv_isi` (mean ISI CV over neurons with at least 3 spikes), `backend`, `adapter` (null on
//! the CPU).
use anyhow::{Context, Result};
use clap::Parser;
use snn_wgpu::experiments::benchmarks::{cuba, sim_seconds, spike_stats, Backend, DT_MS};

#[derive(Parser)]
#[command(about = "Brette et al. 2007 CUBA benchmark; prints one JSON line")]
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
    let bench = cuba(a.n, a.seed).context("--n")?;
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
