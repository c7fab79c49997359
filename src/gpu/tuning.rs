//! Launch choices of the competitive-layer kernels (gpu::wta, gpu::wta_multi) that change
//! their speed and never their results: chosen per adapter, overridable with
//! [`GpuOptions::tuning`](super::GpuOptions).

use crate::error::{Result, SnnError};
use crate::gpu::GpuContext;

/// Default invocations per workgroup on a real GPU. On an NVIDIA H200 (Vulkan), dc400
/// training took 56/31/23/23 ms per image at 128/256/512/1024 invocations
/// (`snn-bench --workgroup-size … --backend gpu --presets dc400 --rows train`).
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

/// Overrides of [`KernelTuning::default_for`], set in [`GpuOptions::tuning`](super::GpuOptions);
/// `None` keeps the adapter's default. They change speed, never results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TuningOverrides {
    /// Invocations per workgroup: a power of two from 1 to 1024 (capped at the device's
    /// limit).
    pub workgroup_size: Option<u32>,
    /// [`KernelTuning::workgroup_ring`].
    pub workgroup_ring: Option<bool>,
    /// [`KernelTuning::unroll`].
    pub unroll: Option<bool>,
    /// [`KernelTuning::arrival_queue`].
    pub arrival_queue: Option<bool>,
}

impl TuningOverrides {
    /// Checks the values none of the adapters can take.
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`] naming `workgroup_size` when it is not a power of two from 1
    /// to 1024.
    pub fn validate(&self) -> Result<()> {
        match self.workgroup_size {
            Some(v) if !(v.is_power_of_two() && v <= 1024) => Err(SnnError::InvalidParam {
                field: "GpuOptions::tuning.workgroup_size".into(),
                value: v.to_string(),
                expected: "a power of two from 1 to 1024 (or None for the default)".into(),
            }),
            _ => Ok(()),
        }
    }
}

impl KernelTuning {
    /// The defaults for `ctx`'s adapter (see the fields), capped at the device's limit.
    pub fn default_for(ctx: &GpuContext) -> Self {
        let software = ctx.is_software();
        KernelTuning {
            workgroup_size: if software {
                64
            } else {
                HARDWARE_WORKGROUP_SIZE
            },
            workgroup_ring: !software,
            unroll: !software,
            arrival_queue: true,
        }
        .capped(ctx)
    }

    /// [`Self::default_for`] with the overrides `ctx` was created with
    /// ([`GpuOptions::tuning`](super::GpuOptions)), the size capped at the device's limit.
    pub fn for_context(ctx: &GpuContext) -> Self {
        let o = ctx.tuning;
        let d = Self::default_for(ctx);
        KernelTuning {
            workgroup_size: o.workgroup_size.unwrap_or(d.workgroup_size),
            workgroup_ring: o.workgroup_ring.unwrap_or(d.workgroup_ring),
            unroll: o.unroll.unwrap_or(d.unroll),
            arrival_queue: o.arrival_queue.unwrap_or(d.arrival_queue),
        }
        .capped(ctx)
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
