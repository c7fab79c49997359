//! Launch choices of the competitive-layer kernels (gpu::wta, gpu::wta_multi) that change
//! their speed and never their results: chosen per adapter, overridable from the environment.

use crate::error::{Result, SnnError};
use crate::gpu::GpuContext;

/// Default invocations per workgroup on a real GPU. On an NVIDIA H200 (Vulkan), dc400
/// training took 56/31/23/23 ms per image at 128/256/512/1024 invocations
/// (`SNN_WORKGROUP_SIZE=… snn-bench --backend gpu --presets dc400 --rows train`).
pub const HARDWARE_WORKGROUP_SIZE: u32 = 512;

/// How the competitive-layer kernels are launched (`snn-bench` prints it in every row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct KernelTuning {
    /// Invocations per workgroup (one network per workgroup): 64 on a software adapter
    /// (llvmpipe runs a workgroup on one thread, so more invocations only lengthen its
    /// loops), [`HARDWARE_WORKGROUP_SIZE`] on a real GPU.
    pub workgroup_size: u32,
    /// The fused schedule keeps the input-spike history ring in workgroup memory
    /// (`SH_SLOTS` in wta_common.wgsl) instead of reading it from a storage buffer for every
    /// neuron: on for a real GPU, off for llvmpipe, where it measured slower (dc400 training
    /// 0.44 against 0.34 s per image). On the H200 the two were within noise (23.1 against
    /// 22.3 ms at 512 invocations, 31.4 against 33.4 at 256).
    pub workgroup_ring: bool,
    /// Propagation takes the delay window's candidates four at a time, loading their delays
    /// before comparing any (`UNROLL4` in wta_common.wgsl), so a GPU invocation waits for
    /// memory once per four: on for a real GPU (H200, dc400 training at 512 invocations:
    /// 20.6 against 22.5 ms per image with the ring, 20.5 against 21.5 without), off for
    /// llvmpipe, where it measured about 3× slower (its SIMD lanes are invocations already).
    pub unroll: bool,
    /// With input delays, the fused schedule files each input spike once, in a per-neuron
    /// queue of the step it arrives, instead of scanning every spike of the delay window for
    /// every neuron and step (`QUEUE` in wta_common.wgsl; same values). On by default: on
    /// llvmpipe it made dc400 training 0.53–0.56 → 0.16–0.23 s per image and frozen eval
    /// 2.7–3.6× faster. Not yet measured on a real GPU, where it replaces about 60 dependent
    /// delay loads per neuron and step by about 3 filings and 3 reads.
    pub arrival_queue: bool,
}

impl KernelTuning {
    /// The defaults for `ctx`'s adapter, then `SNN_WORKGROUP_SIZE` (a power of two up to
    /// 1024), `SNN_WORKGROUP_RING`, `SNN_UNROLL` and `SNN_ARRIVAL_QUEUE` (`1`/`0`) if set. The size is capped at the device's
    /// limit.
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`] naming the variable when one is set to a value it cannot
    /// take.
    pub fn for_context(ctx: &GpuContext) -> Result<Self> {
        let software = ctx.is_software();
        let mut t = KernelTuning {
            workgroup_size: if software {
                64
            } else {
                HARDWARE_WORKGROUP_SIZE
            },
            workgroup_ring: !software,
            unroll: !software,
            arrival_queue: true,
        };
        if let Some(s) = env("SNN_WORKGROUP_SIZE") {
            t.workgroup_size = match s.trim().parse::<u32>() {
                Ok(v) if v.is_power_of_two() && v <= 1024 => v,
                _ => {
                    return Err(SnnError::InvalidParam {
                        field: "SNN_WORKGROUP_SIZE".into(),
                        value: s,
                        expected: "a power of two from 1 to 1024 (or unset for the default)".into(),
                    })
                }
            };
        }
        if let Some(v) = flag("SNN_WORKGROUP_RING")? {
            t.workgroup_ring = v;
        }
        if let Some(v) = flag("SNN_UNROLL")? {
            t.unroll = v;
        }
        if let Some(v) = flag("SNN_ARRIVAL_QUEUE")? {
            t.arrival_queue = v;
        }
        Ok(t.capped(ctx))
    }

    /// This tuning with the workgroup size capped at `ctx`'s limit.
    pub fn capped(self, ctx: &GpuContext) -> Self {
        KernelTuning {
            workgroup_size: self
                .workgroup_size
                .min(ctx.limits.max_compute_invocations_per_workgroup)
                .max(1),
            ..self
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|s| !s.trim().is_empty())
}

/// A `1`/`0` variable: `None` when unset.
fn flag(name: &str) -> Result<Option<bool>> {
    match env(name) {
        None => Ok(None),
        Some(s) => match s.trim() {
            "1" | "true" => Ok(Some(true)),
            "0" | "false" => Ok(Some(false)),
            _ => Err(SnnError::InvalidParam {
                field: name.into(),
                value: s,
                expected: "1 or 0 (or unset for the default)".into(),
            }),
        },
    }
}
