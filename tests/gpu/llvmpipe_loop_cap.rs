//! llvmpipe's silent loop cap, as the kernels' budgets count it: a SIMD group passes at most
//! 65,535 loop headers per dispatch, all loops together, and a `for` loop of k trips passes
//! k + 1 (an empty one passes 1). `gpu::backend::fused_chunk_steps` and the competitive
//! kernel's `iters` (wta_common.wgsl) count that way; counting trips only, as the first builds
//! did, let a run pass the cap and go silently wrong.

use crate::common;

use snn_wgpu::cpu::CpuBackend;
use snn_wgpu::gpu::{fused_chunk_steps, GpuBackend, GpuBackendOptions};
use snn_wgpu::model::{InputSpec, MonitorSpec, NetworkSpec, NeuronModel};
use snn_wgpu::Backend;
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

/// The population kernel's chunk: N = 400 at 64 invocations is 7 neurons per invocation,
/// 9 passes per step, 6,666 steps per dispatch. 7,400 steps in one dispatch (what counting
/// trips only allowed: 7,500) pass the cap on llvmpipe; the engine's chunking must agree with
/// the CPU.
pub fn chunked_run_agrees_where_trip_counting_passed_the_cap() {
    let ctx = common::gpu_ctx();
    let steps = 7400;
    assert!(fused_chunk_steps(400, 64) < steps);
    let n = 400;
    let rates: Vec<f32> = (0..n)
        .map(|i| 20.0 + 180.0 * ((i * 37) % 101) as f32 / 100.0)
        .collect();
    let spec = NetworkSpec::new("chunk", n, NeuronModel::diehl_cook_excitatory())
        .with_seed(5)
        .with_input(InputSpec::poisson_per_neuron(rates, 2.0))
        .with_monitors(MonitorSpec {
            spikes: Some(0..steps),
            state: None,
        });
    let mut cpu = CpuBackend::new(&spec).unwrap();
    cpu.run(steps).unwrap();
    let want = cpu.recording().unwrap().total_spikes();
    assert!(want > 100, "only {want} spikes: input too weak");
    let opts = GpuBackendOptions {
        workgroup_size: 64,
        ..Default::default()
    };
    let mut gpu = GpuBackend::new(ctx, &spec, opts).unwrap();
    gpu.run(steps).unwrap();
    assert_eq!(gpu.recording().unwrap().total_spikes(), want);
}
