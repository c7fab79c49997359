//! The engine options of the programs (`snn`, `snn-bench`, the examples): GPU adapter choice,
//! GPU launch and CPU step choices, as flags or `SNN_*` environment variables. Only the
//! programs read these variables; the library takes [`GpuOptions`] and [`EngineOptions`].
#![allow(dead_code)]

use snn_wgpu::cpu::engine::EngineOptions;
use snn_wgpu::cpu::simd::SimdLevel;
use snn_wgpu::gpu::{EngineSchedule, GpuEngineOptions, GpuOptions};

/// Flags (each also read from the environment variable it names). None changes results.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct EngineArgs {
    /// wgpu backends to try: vulkan, gl, metal, dx12 (comma list). Default: Vulkan, then any.
    #[arg(long, global = true, env = "SNN_WGPU_BACKEND", value_parser = backends("SNN_WGPU_BACKEND"))]
    pub wgpu_backend: Option<wgpu::Backends>,
    /// wgpu's own name for the variable above (used when SNN_WGPU_BACKEND is unset).
    #[arg(long, global = true, hide = true, env = "WGPU_BACKEND", value_parser = backends("WGPU_BACKEND"))]
    pub wgpu_backend_fallback: Option<wgpu::Backends>,
    /// Keep only GPU adapters whose name contains this (case-insensitive).
    #[arg(long, global = true, env = "WGPU_ADAPTER_NAME")]
    pub adapter_name: Option<String>,
    /// Invocations per workgroup of the GPU engine: a power of two up to 1024 (default 32 on
    /// a software adapter such as llvmpipe; on hardware, where the network runs fused at it,
    /// its largest population rounded up to a power of two, from 64 to 512, else 64).
    #[arg(long, global = true, env = "SNN_WORKGROUP_SIZE", value_parser = workgroup_size)]
    pub workgroup_size: Option<u32>,
    /// How the GPU engine lays a step out: `auto` (fused where the network fits one
    /// workgroup per copy, else passes; the default), `fused` (an error where it does not
    /// fit) or `passes` (a dispatch per pass of a step); speed only, never results.
    #[arg(long, global = true, env = "SNN_GPU_SCHEDULE", value_parser = schedule)]
    pub gpu_schedule: Option<EngineSchedule>,
    /// Training presentations the GPU engine runs in one submission, judged and retried on
    /// the device (default 16, and 1 on a software adapter such as llvmpipe; 1: one at a
    /// time, judged on the host).
    #[arg(long, global = true, env = "SNN_PRESENTATIONS_PER_SUBMISSION", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub presentations_per_submission: Option<u32>,
    /// 1/0: the GPU engine's fused schedule uses subgroup operations (default: on a
    /// hardware adapter that has them, off on a software one; 1 where the adapter lacks
    /// them is an error); speed only, never results.
    #[arg(long, global = true, env = "SNN_GPU_SUBGROUPS", value_parser = switch("SNN_GPU_SUBGROUPS"))]
    pub gpu_subgroups: Option<bool>,
    /// The CPU step's compiled copy: baseline, avx2, avx512 (default: the best this processor
    /// runs).
    #[arg(long, global = true, env = "SNN_CPU_SIMD", value_parser = simd)]
    pub cpu_simd: Option<SimdLevel>,
    /// 1/0: on the CPU, depress only where a weight can change (default on).
    #[arg(long, global = true, env = "SNN_CPU_DEPRESSION_QUEUE", value_parser = switch("SNN_CPU_DEPRESSION_QUEUE"))]
    pub cpu_depression_queue: Option<bool>,
    /// Post neurons per chunk when one CPU network's step is split over the cores (threads:
    /// RAYON_NUM_THREADS): a multiple of 16, or 0 for one chunk per thread (default 0).
    #[arg(long, global = true, env = "SNN_CPU_CHUNK_NEURONS")]
    pub cpu_chunk_neurons: Option<u32>,
    /// Split a CPU network's step into chunks from this many neurons on, when threads are
    /// idle (default 8192; 0: always, 4294967295: never).
    #[arg(long, global = true, env = "SNN_CPU_SPLIT_MIN_NEURONS")]
    pub cpu_split_min_neurons: Option<u32>,
}

impl EngineArgs {
    /// The GPU adapter choice.
    pub fn gpu(&self) -> GpuOptions {
        GpuOptions {
            backends: self.wgpu_backend.or(self.wgpu_backend_fallback),
            adapter_name: self.adapter_name.clone(),
        }
    }

    /// The GPU engine's launch choices.
    pub fn gpu_engine(&self) -> GpuEngineOptions {
        let d = GpuEngineOptions::default();
        GpuEngineOptions {
            workgroup_size: self.workgroup_size.or(d.workgroup_size),
            schedule: self.gpu_schedule.unwrap_or(d.schedule),
            presentations_per_submission: self
                .presentations_per_submission
                .or(d.presentations_per_submission),
            subgroups: self.gpu_subgroups.or(d.subgroups),
            ..d
        }
    }

    /// The CPU step choices.
    pub fn cpu(&self) -> EngineOptions {
        let d = EngineOptions::default();
        EngineOptions {
            simd: self.cpu_simd,
            depression_queue: self.cpu_depression_queue.unwrap_or(d.depression_queue),
            chunk_neurons: self.cpu_chunk_neurons.unwrap_or(d.chunk_neurons),
            split_min_neurons: self.cpu_split_min_neurons.unwrap_or(d.split_min_neurons),
        }
    }
}

/// Variables that tuned the first, Diehl & Cook-only GPU kernels, removed with them.
const REMOVED_VARIABLES: [&str; 3] = ["SNN_WORKGROUP_RING", "SNN_UNROLL", "SNN_ARRIVAL_QUEUE"];

/// A warning (on stderr) for each variable of [`REMOVED_VARIABLES`] that is set, so that a
/// setting that no longer acts is not taken for one that does.
pub fn warn_removed_variables() {
    for var in REMOVED_VARIABLES {
        if std::env::var_os(var).is_some() {
            eprintln!(
                "warning: {var} is set but no longer read: it tuned the first GPU kernels, \
                 which the general GPU engine replaced; unset it (--workgroup-size / \
                 SNN_WORKGROUP_SIZE still sets the engine's workgroup size)"
            );
        }
    }
}

fn backends(var: &'static str) -> impl Fn(&str) -> Result<wgpu::Backends, String> + Clone {
    move |s: &str| {
        let b = wgpu::Backends::from_comma_list(s);
        if b.is_empty() {
            Err(format!(
                "{var} / --wgpu-backend: no known wgpu backend in {s:?}; name vulkan, gl, metal \
                 or dx12 (a comma list), or unset it; without a GPU, use --backend cpu"
            ))
        } else {
            Ok(b)
        }
    }
}

fn workgroup_size(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(v) if v.is_power_of_two() && v <= 1024 => Ok(v),
        _ => Err(format!(
            "SNN_WORKGROUP_SIZE / --workgroup-size: {s:?} is not a power of two from 1 to 1024"
        )),
    }
}

fn schedule(s: &str) -> Result<EngineSchedule, String> {
    match s.trim() {
        "auto" => Ok(EngineSchedule::Auto),
        "fused" => Ok(EngineSchedule::Fused),
        "passes" => Ok(EngineSchedule::Passes),
        _ => Err(format!(
            "SNN_GPU_SCHEDULE / --gpu-schedule: {s:?} is not auto, fused or passes"
        )),
    }
}

fn switch(var: &'static str) -> impl Fn(&str) -> Result<bool, String> + Clone {
    move |s: &str| match s.trim() {
        "1" | "true" => Ok(true),
        "0" | "false" => Ok(false),
        _ => Err(format!(
            "{var}: {s:?} is not 1 or 0 (or unset it for the default)"
        )),
    }
}

fn simd(s: &str) -> Result<SimdLevel, String> {
    SimdLevel::from_name(s.trim()).ok_or_else(|| {
        format!(
            "SNN_CPU_SIMD / --cpu-simd: unknown level {s:?}; valid values: baseline, avx2, avx512"
        )
    })
}
