//! The floor of one synchronised time step on the GPU adapter: one workgroup updates N
//! conductance-LIF neurons (the Diehl & Cook excitatory update, reduced to its arithmetic:
//! Euler on v, decay of ge and gi, threshold and reset) once per step, at workgroup sizes 1,
//! 8, 16, 64, 256, 512 and 1024 (those above the adapter's
//! `max_compute_invocations_per_workgroup` or `max_compute_workgroup_size_x` are skipped, with
//! a note on stderr). Each measurement is one `variant`:
//!
//! - `workgroup_barrier`: many steps in one dispatch, a `workgroupBarrier()` after each step
//!   (synchronises the workgroup's invocations and its workgroup memory).
//! - `storage_barrier`: the same, with `storageBarrier(); workgroupBarrier();` after each step.
//!   naga emits `storageBarrier()` with device scope (on Vulkan an `OpControlBarrier` of
//!   workgroup execution scope and device memory scope), so this measures the cost of making storage writes visible device-wide, as a
//!   multi-workgroup step would need.
//! - `no_barrier`: the same step loop with nothing after each step (each invocation updates its
//!   own neurons, so the loop stays correct): the arithmetic and memory alone.
//! - `dispatch_per_step`: the step as its own kernel without a step loop, one dispatch per step
//!   (the dispatch boundary is the barrier): 1000 dispatches of one workgroup each (`workgroups`
//!   = 1, as the others, so only the synchronisation differs), recorded in one compute pass of
//!   one command encoder and submitted once. Its uniform holds only N, so its step index is 0 in
//!   the update's input term; the arithmetic per neuron is the same.
//!
//! A training presentation is 1000 such steps (350 + 150 ms at dt = 0.5 ms), and the real
//! kernel needs more than this per step (input spikes, propagation, the inhibitory layer,
//! STDP) and more than one barrier, so `us_per_step` (µs per step, which is also ms per
//! 1000-step presentation) bounds its time per image from below. On llvmpipe (one workgroup
//! runs on one CPU thread) this is what puts the issue's ≤ 5 ms per training image out of
//! reach (RESULTS.md, "llvmpipe's loop cap, and arrival queues for the delays", the
//! paragraph "The floor of a synchronised step on llvmpipe").
//!
//! `cargo run --release --example gpu_step_floor [N]` (N neurons, default 400; the adapter is
//! chosen as for `snn`, e.g. `SNN_WGPU_BACKEND=vulkan`) prints one JSON line per variant and
//! workgroup size: `us_per_step` is the median over 7 submits of submit + wait (not the
//! encoding before them), divided by the steps it ran. The step count keeps every loop under llvmpipe's 65,535-pass cap.

#[path = "../src/bin/flags/engine.rs"]
mod engine;

use clap::Parser;
use snn_wgpu::gpu::GpuContext;
use std::time::Instant;
use wgpu::util::DeviceExt;

/// Workgroup sizes tried, where the adapter allows them.
const WORKGROUP_SIZES: [u32; 7] = [1, 8, 16, 64, 256, 512, 1024];
/// Submits timed per measurement (the median is reported).
const REPS: usize = 7;
/// Dispatches (one step each) per submit of `dispatch_per_step`.
const DISPATCHES_PER_SUBMIT: u32 = 1000;
/// Loop passes one invocation may run, kept under llvmpipe's 65,535 cap with slack.
const LOOP_PASS_BUDGET: u32 = 60_000;
/// Most steps in one dispatch of the step-loop variants.
const MAX_STEPS_PER_DISPATCH: u32 = 5000;

/// How the steps are synchronised.
#[derive(Clone, Copy)]
enum Variant {
    WorkgroupBarrier,
    StorageBarrier,
    NoBarrier,
    DispatchPerStep,
}

impl Variant {
    const ALL: [Variant; 4] = [
        Variant::WorkgroupBarrier,
        Variant::StorageBarrier,
        Variant::NoBarrier,
        Variant::DispatchPerStep,
    ];

    fn name(self) -> &'static str {
        match self {
            Variant::WorkgroupBarrier => "workgroup_barrier",
            Variant::StorageBarrier => "storage_barrier",
            Variant::NoBarrier => "no_barrier",
            Variant::DispatchPerStep => "dispatch_per_step",
        }
    }

    /// WGSL after each step of the step loop; `None`: no step loop (one dispatch per step).
    fn sync(self) -> Option<&'static str> {
        match self {
            Variant::WorkgroupBarrier => Some("workgroupBarrier();"),
            Variant::StorageBarrier => Some("storageBarrier(); workgroupBarrier();"),
            Variant::NoBarrier => Some(""),
            Variant::DispatchPerStep => None,
        }
    }
}

/// The kernel: one step of the update over the workgroup's neurons, inside a loop of `p.y`
/// steps followed by the variant's barrier, or alone (`dispatch_per_step`, step index 0).
fn shader(variant: Variant, wg: u32) -> String {
    let step = format!(
        r#"
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
        }}"#
    );
    let body = match variant.sync() {
        Some(sync) => {
            format!("for (var t = 0u; t < p.y; t = t + 1u) {{{step}\n        {sync}\n    }}")
        }
        None => format!("let t = 0u;{step}"),
    };
    format!(
        r#"
@group(0) @binding(0) var<storage, read_write> v: array<f32>;
@group(0) @binding(1) var<storage, read_write> ge: array<f32>;
@group(0) @binding(2) var<storage, read_write> gi: array<f32>;
@group(0) @binding(3) var<uniform> p: vec4<u32>;
@compute @workgroup_size({wg})
fn main(@builtin(local_invocation_index) li: u32) {{
    let n = p.x;
    {body}
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

/// One measurement's kernel, its buffers bound, and how it is launched.
struct Kernel {
    pipe: wgpu::ComputePipeline,
    group: wgpu::BindGroup,
    /// Steps each dispatch runs (the step loop's count, or 1).
    steps_per_dispatch: u32,
    /// Dispatches recorded in the one compute pass of each submit.
    dispatches: u32,
}

impl Kernel {
    /// Builds the variant at workgroup size `wg` for `n` neurons, running `steps_per_dispatch`
    /// steps per dispatch in the step-loop variants.
    fn new(
        dev: &wgpu::Device,
        variant: Variant,
        wg: u32,
        n: u32,
        steps_per_dispatch: u32,
    ) -> Kernel {
        let (steps_per_dispatch, dispatches) = match variant.sync() {
            Some(_) => (steps_per_dispatch, 1),
            None => (1, DISPATCHES_PER_SUBMIT),
        };
        let module = dev.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(variant.name()),
            source: wgpu::ShaderSource::Wgsl(shader(variant, wg).into()),
        });
        let pipe = dev.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(variant.name()),
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
        // n, then the step loop's count (unused by `dispatch_per_step`).
        let params = dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: None,
            contents: bytemuck::cast_slice(&[n, steps_per_dispatch, 0, 0]),
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
        Kernel {
            pipe,
            group,
            steps_per_dispatch,
            dispatches,
        }
    }

    /// Steps run per submit.
    fn steps(&self) -> u32 {
        self.steps_per_dispatch * self.dispatches
    }

    /// Seconds of one submit (all dispatches in one pass of one encoder) and its wait; the
    /// encoding, the host's recording of the dispatches, is not counted.
    fn time_submit(&self, ctx: &GpuContext) -> anyhow::Result<f64> {
        let mut enc = ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(&self.pipe);
            pass.set_bind_group(0, &self.group, &[]);
            for _ in 0..self.dispatches {
                pass.dispatch_workgroups(1, 1, 1);
            }
        }
        let commands = enc.finish();
        let t0 = Instant::now();
        ctx.queue.submit([commands]);
        ctx.device.poll(wgpu::PollType::wait_indefinitely())?;
        Ok(t0.elapsed().as_secs_f64())
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let n = args.neurons;
    let ctx = GpuContext::new(&args.engine.gpu())?;
    let dev = &ctx.device;
    let limits = dev.limits();
    let max_wg = limits
        .max_compute_invocations_per_workgroup
        .min(limits.max_compute_workgroup_size_x);
    for variant in Variant::ALL {
        for wg in WORKGROUP_SIZES {
            if wg > max_wg {
                eprintln!(
                    "gpu_step_floor: workgroup size {wg} skipped ({}: at most {} invocations \
                     per workgroup, {} in x)",
                    ctx.info.name,
                    limits.max_compute_invocations_per_workgroup,
                    limits.max_compute_workgroup_size_x
                );
                continue;
            }
            // Loop passes per step for one SIMD group: the neuron loop's trips + 1, the step
            // loop's own pass, and slack.
            let passes_per_step = n.div_ceil(wg) + 3;
            if passes_per_step > LOOP_PASS_BUDGET {
                eprintln!(
                    "gpu_step_floor: workgroup size {wg} skipped ({n} neurons need \
                     {passes_per_step} loop passes per step, over llvmpipe's cap)"
                );
                continue;
            }
            let steps = (LOOP_PASS_BUDGET / passes_per_step).min(MAX_STEPS_PER_DISPATCH);
            let kernel = Kernel::new(dev, variant, wg, n, steps);
            let mut times = (0..REPS)
                .map(|_| kernel.time_submit(&ctx))
                .collect::<anyhow::Result<Vec<f64>>>()?;
            times.sort_by(f64::total_cmp);
            let med = times[times.len() / 2];
            println!(
                "{}",
                serde_json::json!({
                    "bench": "gpu_step_floor", "adapter": ctx.info.name, "n": n,
                    "variant": variant.name(), "workgroup_size": wg, "workgroups": 1,
                    "steps_per_dispatch": kernel.steps_per_dispatch,
                    "dispatches_per_submit": kernel.dispatches, "reps": REPS,
                    "median_s_per_submit": med,
                    "us_per_step": med / kernel.steps() as f64 * 1e6,
                })
            );
        }
    }
    Ok(())
}
