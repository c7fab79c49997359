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
//! the CPU). `--backend gpu` runs the general GPU engine; `--help` lists the adapter flags.
#[path = "../src/bin/flags/engine.rs"]
mod flags;
#[path = "brette/run.rs"]
mod run;

fn main() -> anyhow::Result<()> {
    run::main("COBA", snn_wgpu::experiments::benchmarks::coba)
}
