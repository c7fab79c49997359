//! llvmpipe's silent loop cap, as the kernels' budgets count it: a SIMD group passes at most
//! 65,535 loop headers per dispatch, all loops together, and a `for` loop of k trips passes
//! k + 1 (an empty one passes 1). The general engine's count of each pass's loop passes
//! (`gpu::engine`, checked against `gpu::LOOP_ITERATION_BUDGET`) and the competitive kernel's
//! `iters` (wta_common.wgsl) count that way; counting trips only, as the first builds did,
//! let a run pass the cap and go silently wrong.

use crate::common;
use crate::engine_vs_cpu::{assert_active, on_both};

use snn_wgpu::backend::Simulator;
use snn_wgpu::model::net::{Connectivity, Delay, Delivery, MonitorKind, Network, Projection};
use snn_wgpu::model::{NeuronModel, Target};
use wgpu::util::DeviceExt;

const PROBE: &str = r#"
@group(0) @binding(0) var<storage, read_write> out: array<u32>;
@group(0) @binding(1) var<uniform> p: vec4<u32>;
@compute @workgroup_size(1)
fn main() {
    var done = 0u;
    for (var k = 0u; k < p.x; k = k + 1u) {
        if (p.z == 1u) {
            for (var m = 0u; m < p.y; m = m + 1u) {
                out[1] = out[1] + 1u;
            }
        }
        done = done + 1u;
    }
    out[0] = done;
}
"#;

/// Trips of an outer loop of `outer` trips, each running an inner loop of `inner` trips
/// (inside a branch taken when `taken`), that one dispatch completes.
fn outer_trips_done(ctx: &snn_wgpu::gpu::GpuContext, outer: u32, inner: u32, taken: bool) -> u32 {
    let dev = &ctx.device;
    let module = dev.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("loop-cap probe"),
        source: wgpu::ShaderSource::Wgsl(PROBE.into()),
    });
    let pipe = dev.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("loop-cap probe"),
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    let out = dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("probe.out"),
        contents: &[0u8; 8],
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
    });
    let params = dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("probe.params"),
        contents: bytemuck::cast_slice(&[outer, inner, taken as u32, 0]),
        usage: wgpu::BufferUsages::UNIFORM,
    });
    let read = dev.create_buffer(&wgpu::BufferDescriptor {
        label: Some("probe.read"),
        size: 8,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let group = dev.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipe.get_bind_group_layout(0),
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: out.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: params.as_entire_binding(),
            },
        ],
    });
    let mut enc = dev.create_command_encoder(&Default::default());
    {
        let mut pass = enc.begin_compute_pass(&Default::default());
        pass.set_pipeline(&pipe);
        pass.set_bind_group(0, &group, &[]);
        pass.dispatch_workgroups(1, 1, 1);
    }
    enc.copy_buffer_to_buffer(&out, 0, &read, 0, 8);
    ctx.queue.submit([enc.finish()]);
    read.slice(..).map_async(wgpu::MapMode::Read, |_| {});
    dev.poll(wgpu::PollType::wait_indefinitely()).unwrap();
    let words: Vec<u32> =
        bytemuck::cast_slice(&read.slice(..).get_mapped_range().unwrap()).to_vec();
    words[0]
}

/// The counting rule itself. On llvmpipe an outer trip with an inner loop of k trips costs
/// 1 + (k + 1) passes, so 65,536 / (k + 2) outer trips complete; a real GPU completes all.
pub fn a_loop_of_k_trips_costs_k_plus_one_passes() {
    let ctx = common::gpu_ctx();
    for inner in [0u32, 1, 2] {
        let done = outer_trips_done(&ctx, 100_000, inner, true);
        if ctx.is_software() {
            assert_eq!(
                done,
                65_536 / (inner + 2),
                "llvmpipe's loop cap counts differently than the budgets assume (inner loop \
                 of {inner} trips)"
            );
        } else {
            assert_eq!(done, 100_000);
        }
    }
}

/// A loop in a branch that is not taken, here by any invocation of the dispatch, still costs
/// one pass each time it is reached: llvmpipe runs the branch with its lanes masked off. So
/// the competitive kernel adds MASKED_PER_NEURON / MASKED_PER_STEP (wta_common.wgsl).
pub fn a_loop_in_an_untaken_branch_costs_one_pass() {
    let ctx = common::gpu_ctx();
    for inner in [0u32, 1, 5] {
        let done = outer_trips_done(&ctx, 100_000, inner, false);
        if ctx.is_software() {
            assert_eq!(
                done, 32_768,
                "inner loop of {inner} trips, branch not taken"
            );
        } else {
            assert_eq!(done, 100_000);
        }
    }
}

/// A propagation pass counted just under the budget runs whole on llvmpipe: 784 inputs all
/// spiking at every step (the count's worst case), all-to-all with per-synapse delays of up to
/// 35 ms delivered at arrival (71 lags at dt = 0.5 ms), is 71 · (2·25 + 1 + 784) + 72 = 59,357
/// passes per invocation and step. An undercount would let llvmpipe cut the lag loop short
/// and the GPU's weights and potentials differ from the CPU's.
pub fn a_pass_just_under_the_loop_budget_agrees_with_the_cpu() {
    let n_in = 784;
    let spikes = (0..40)
        .flat_map(|t| (0..n_in).map(move |i| (i, t as f32 * 0.5)))
        .collect();
    let net = Network::new(0.5)
        .spike_times("in", n_in, spikes)
        .neurons("out", 8, NeuronModel::integrate_and_fire(1e9, 0.0))
        .project(
            Projection::new(
                "p",
                "in",
                "out",
                Target::MEMBRANE_EXC,
                Connectivity::AllToAll,
                0.001,
            )
            .with_delay(
                Delay::Range {
                    min_ms: 0.0,
                    max_ms: 35.0,
                    seed: 3,
                },
                Delivery::AtArrival,
            ),
        )
        .monitor("in", "in", MonitorKind::Spikes { neurons: None })
        .monitor(
            "v",
            "out",
            MonitorKind::State {
                variable: "v".into(),
                neurons: (0..8).collect(),
            },
        );
    let counts = on_both(&net, |e: &mut dyn Simulator| e.run(80).expect("run"));
    assert_active(&counts, 40 * n_in as usize);
}
