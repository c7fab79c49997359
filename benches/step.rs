//! Neuron-steps per second of the general engines, CPU and GPU, at N = 400 and N = 6400.
//!
//! Workload: `experiments::benchmarks::driven_population` (Diehl & Cook excitatory neurons,
//! conductance LIF + θ, each driven one-to-one by its own Poisson source), one presentation
//! of 350 steps (175 ms at dt = 0.5 ms) per iteration; the GPU engine's `run` returns once the
//! device has finished, so GPU time counts. Run: `cargo bench --bench step`.
//! Without a GPU adapter only the CPU rows run.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use snn_wgpu::backend::Simulator;
use snn_wgpu::cpu::engine::Engine;
use snn_wgpu::experiments::benchmarks::driven_population;
use snn_wgpu::gpu::{GpuContext, GpuEngine, GpuOptions};
use std::sync::Arc;

const STEPS: u32 = 350;

fn bench_steps(c: &mut Criterion) {
    let ctx = match GpuContext::new(&GpuOptions::default()) {
        Ok(c) => Some(Arc::new(c)),
        Err(e) => {
            eprintln!("GPU rows skipped: {e}");
            None
        }
    };
    if let Some(ctx) = &ctx {
        eprintln!("adapter: {}", ctx.adapter_description());
    }
    let mut group = c.benchmark_group("neuron_steps");
    group.sample_size(10);
    for n in [400u32, 6400] {
        group.throughput(Throughput::Elements(n as u64 * STEPS as u64));
        let net = driven_population(n, 1);
        let mut sims: Vec<(String, Box<dyn Simulator>)> =
            vec![("cpu".into(), Box::new(Engine::new(&net).expect("cpu")))];
        if let Some(ctx) = &ctx {
            sims.push((
                "gpu".into(),
                Box::new(GpuEngine::new(ctx.clone(), &net).expect("gpu")),
            ));
        }
        for (name, sim) in sims.iter_mut() {
            group.bench_function(BenchmarkId::new(name.as_str(), n), |b| {
                b.iter(|| sim.run(STEPS).expect("run"))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_steps);
criterion_main!(benches);
