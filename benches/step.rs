//! Neuron-steps per second for each backend and schedule, at N = 400 and N = 6400.
//!
//! Workload: Diehl & Cook excitatory neurons (conductance LIF + θ) under Poisson input, one
//! presentation of 350 steps (175 ms at dt = 0.5 ms) per iteration; each iteration ends with
//! a device wait so GPU time counts. Run: `cargo bench --bench step`.
//! Without a GPU adapter only the CPU rows run.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use snn_wgpu::cpu::CpuBackend;
use snn_wgpu::gpu::{GpuBackend, GpuBackendOptions, GpuContext, GpuOptions, Schedule};
use snn_wgpu::model::*;
use snn_wgpu::Backend;
use std::sync::Arc;

const STEPS: u32 = 350;

fn spec(n: u32) -> NetworkSpec {
    let rates: Vec<f32> = (0..n)
        .map(|i| 20.0 + 180.0 * ((i * 37) % 101) as f32 / 100.0)
        .collect();
    NetworkSpec::new("bench", n, NeuronModel::diehl_cook_excitatory())
        .with_seed(1)
        .with_input(InputSpec::poisson_per_neuron(rates, 2.0))
}

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
        let mut sims: Vec<(String, Box<dyn Backend>)> = vec![(
            "cpu".into(),
            Box::new(CpuBackend::new(&spec(n)).expect("cpu")),
        )];
        if let Some(ctx) = &ctx {
            for (name, schedule) in [
                ("gpu_fused", Schedule::Fused),
                ("gpu_stepwise", Schedule::Stepwise),
            ] {
                let opts = GpuBackendOptions {
                    schedule,
                    ..Default::default()
                };
                sims.push((
                    name.into(),
                    Box::new(GpuBackend::new(ctx.clone(), &spec(n), opts).expect("gpu")),
                ));
            }
        }
        for (name, sim) in sims.iter_mut() {
            group.bench_function(BenchmarkId::new(name.as_str(), n), |b| {
                b.iter(|| {
                    sim.run(STEPS).expect("run");
                    sim.sync().expect("sync");
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_steps);
criterion_main!(benches);
