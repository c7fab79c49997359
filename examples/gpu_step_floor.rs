//! The floor of one synchronised time step on the GPU adapter: a workgroup updates N
//! conductance-LIF neurons (the Diehl & Cook excitatory update, reduced to its arithmetic:
//! Euler on v, decay of ge and gi, threshold and reset) for many steps inside one dispatch,
//! with or without a `workgroupBarrier()` after each step, at several workgroup sizes.
//!
//! A training presentation is 1000 such steps (350 + 150 ms at dt = 0.5 ms), and the real
//! kernel needs more than this per step (input spikes, propagation, the inhibitory layer,
//! STDP) and more than one barrier, so `us_per_step` (µs per step, which is also ms per
//! 1000-step presentation) bounds its time per image from below. On llvmpipe (one workgroup
//! runs on one CPU thread) this is what puts the issue's ≤ 5 ms per training image out of
//! reach (RESULTS.md, "llvmpipe's loop cap, and arrival queues for the delays", the
//! paragraph "The floor of a synchronised step on llvmpipe").
//!
//! `cargo run --release --example gpu_step_floor [N]` prints one JSON line per workgroup size
//! and barrier choice (median of 7 dispatches; the step count keeps every loop under
//! llvmpipe's 65,535-pass cap).

#[path = "../src/bin/flags/engine.rs"]
mod engine;

use clap::Parser;
use snn_wgpu::gpu::GpuContext;
use std::time::Instant;
use wgpu::util::DeviceExt;

fn shader(wg: u32, barrier: bool) -> String {
    let sync = if barrier { "workgroupBarrier();" } else { "" };
    format!(
        r#"
@group(0) @binding(0) var<storage, read_write> v: array<f32>;
@group(0) @binding(1) var<storage, read_write> ge: array<f32>;
@group(0) @binding(2) var<storage, read_write> gi: array<f32>;
@group(0) @binding(3) var<uniform> p: vec4<u32>;
@compute @workgroup_size({wg})
fn main(@builtin(local_invocation_index) li: u32) {{
    let n = p.x;
    for (var t = 0u; t < p.y; t = t + 1u) {{
        for (var i = li; i < n; i = i + {wg}u) {{
            var vv = v[i];
            var e = ge[i];
            let g = gi[i];
            vv = vv + 0.005 * ((-65.0 - vv) + e * (0.0 - vv) + g * (-100.0 - vv));
            if (vv > -52.0) {{ vv = -65.0; }}
            e = e * 0.5 + 0.01 * f32((i * 7u + t) % 13u);
            v[i] = vv;
            ge[i] = e;
            gi[i] = g * 0.75;
        }}
        {sync}
    }}
}}
"#
    )
}

/// Flags: the neuron count, and the GPU chosen as in `snn`.
#[derive(Parser)]
struct Args {
    /// Neurons per network.
    #[arg(default_value_t = 400)]
    neurons: u32,
    #[command(flatten)]
    engine: engine::EngineArgs,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let n = args.neurons;
    let ctx = GpuContext::new(&args.engine.gpu())?;
    let dev = &ctx.device;
    for barrier in [true, false] {
        for wg in [1u32, 8, 16, 64, 256] {
            // Loop passes per step for one SIMD group: the neuron loop's trips + 1, the step
            // loop's own pass, and slack.
            let steps = (60_000 / (n.div_ceil(wg) + 3)).min(5000);
            let module = dev.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some("step floor"),
                source: wgpu::ShaderSource::Wgsl(shader(wg, barrier).into()),
            });
            let pipe = dev.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some("step floor"),
                layout: None,
                module: &module,
                entry_point: Some("main"),
                compilation_options: Default::default(),
                cache: None,
            });
            let buffer = |init: f32| {
                dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: None,
                    contents: bytemuck::cast_slice(&vec![init; n as usize]),
                    usage: wgpu::BufferUsages::STORAGE,
                })
            };
            let (bv, be, bi) = (buffer(-65.0), buffer(0.0), buffer(0.0));
            let params = dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: None,
                contents: bytemuck::cast_slice(&[n, steps, 0, 0]),
                usage: wgpu::BufferUsages::UNIFORM,
            });
            let entries: Vec<wgpu::BindGroupEntry> = [&bv, &be, &bi, &params]
                .iter()
                .enumerate()
                .map(|(k, b)| wgpu::BindGroupEntry {
                    binding: k as u32,
                    resource: b.as_entire_binding(),
                })
                .collect();
            let group = dev.create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &pipe.get_bind_group_layout(0),
                entries: &entries,
            });
            let mut times = vec![];
            for _ in 0..7 {
                let t0 = Instant::now();
                let mut enc = dev.create_command_encoder(&Default::default());
                {
                    let mut pass = enc.begin_compute_pass(&Default::default());
                    pass.set_pipeline(&pipe);
                    pass.set_bind_group(0, &group, &[]);
                    pass.dispatch_workgroups(1, 1, 1);
                }
                ctx.queue.submit([enc.finish()]);
                dev.poll(wgpu::PollType::wait_indefinitely())?;
                times.push(t0.elapsed().as_secs_f64());
            }
            times.sort_by(f64::total_cmp);
            let med = times[times.len() / 2];
            println!(
                "{}",
                serde_json::json!({
                    "bench": "gpu_step_floor", "adapter": ctx.info.name, "n": n,
                    "workgroup_size": wg, "barrier_per_step": barrier, "steps": steps,
                    "reps": times.len(), "median_s_per_dispatch": med,
                    "us_per_step": med / steps as f64 * 1e6,
                })
            );
        }
    }
    Ok(())
}
