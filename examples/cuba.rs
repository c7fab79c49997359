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
//! the CPU). `--backend gpu` runs the general GPU engine; `--help` lists the adapter flags.
#[path = "../src/bin/flags/engine.rs"]
mod flags;
#[path = "brette/run.rs"]
mod run;

fn main() -> anyhow::Result<()> {
    run::main("CUBA", snn_wgpu::experiments::benchmarks::cuba)
}
