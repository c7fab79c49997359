//! Host mirrors of the WGSL structs in `shaders/common.wgsl`: what crosses to the GPU.
//!
//! Field names and order match the WGSL side exactly; `tests/engine/naga_validate.rs` checks
//! sizes and offsets against naga's layout. Only `u32`/`f32`, padding written out.

use crate::model::DerivedNeuron;
use bytemuck::{Pod, Zeroable};

/// Mirrors `NeuronParams` in `shaders/common.wgsl` (uniform).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq)]
pub struct NeuronParams {
    pub reset_soft: u32,
    pub v_threshold_mv: f32,
    pub v_reset_mv: f32,
    pub refractory_steps: u32,
    pub clamp_above_steps: u32,
    pub theta_frozen: u32,
    pub v_rest_mv: f32,
    pub decay_v_per_step: f32,
    pub dt_over_tau_m: f32,
    pub decay_ge_per_step: f32,
    pub decay_gi_per_step: f32,
    pub e_exc_mv: f32,
    pub e_inh_mv: f32,
    pub theta_plus_mv: f32,
    pub decay_theta_per_step: f32,
    pub clamp_v: u32,
}
const _: () = assert!(std::mem::size_of::<NeuronParams>().is_multiple_of(16));

impl NeuronParams {
    /// The model constants of `d`.
    pub fn from_derived(d: &DerivedNeuron) -> Self {
        NeuronParams {
            reset_soft: d.reset_soft as u32,
            v_threshold_mv: d.v_threshold_mv,
            v_reset_mv: d.v_reset_mv,
            refractory_steps: d.refractory_steps,
            clamp_above_steps: d.clamp_above_steps,
            theta_frozen: d.theta_frozen as u32,
            v_rest_mv: d.v_rest_mv,
            decay_v_per_step: d.decay_v_per_step,
            dt_over_tau_m: d.dt_over_tau_m,
            decay_ge_per_step: d.decay_ge_per_step,
            decay_gi_per_step: d.decay_gi_per_step,
            e_exc_mv: d.e_exc_mv,
            e_inh_mv: d.e_inh_mv,
            theta_plus_mv: d.theta_plus_mv,
            decay_theta_per_step: d.decay_theta_per_step,
            clamp_v: d.clamp_v as u32,
        }
    }
}

/// Mirrors `StepInfo` in `shaders/engine/bindings.wgsl` (uniform, one per step of a
/// submission of the general engine, at a dynamic offset).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq)]
pub struct StepInfo {
    /// The step `t`.
    pub t: u32,
    /// Row of this step in the recording buffers.
    pub row: u32,
    /// 1 while learning is on.
    pub learn: u32,
    /// Target column sum of a normalisation pass.
    pub norm_target: f32,
    /// 0, or on a quiet step 1 + the index of the Poisson source that is silent at it (as
    /// if its rates were 0); no spike is counted on a quiet step.
    pub quiet: u32,
    /// A pass's own parameter: the steps of a series' round (`round_judge`).
    pub aux: u32,
    pub _pad: [u32; 2],
}
const _: () = assert!(std::mem::size_of::<StepInfo>() == 32);

/// A mirrored struct's WGSL name, Rust size and (field, offset) pairs.
pub type StructLayout = (&'static str, usize, Vec<(&'static str, usize)>);

/// Every mirrored struct's layout, for the naga layout test.
pub fn mirrored_layouts() -> Vec<StructLayout> {
    use std::mem::{offset_of, size_of};
    vec![
        (
            "NeuronParams",
            size_of::<NeuronParams>(),
            vec![
                ("reset_soft", offset_of!(NeuronParams, reset_soft)),
                ("v_threshold_mv", offset_of!(NeuronParams, v_threshold_mv)),
                ("theta_frozen", offset_of!(NeuronParams, theta_frozen)),
                (
                    "decay_theta_per_step",
                    offset_of!(NeuronParams, decay_theta_per_step),
                ),
                (
                    "clamp_above_steps",
                    offset_of!(NeuronParams, clamp_above_steps),
                ),
                ("clamp_v", offset_of!(NeuronParams, clamp_v)),
            ],
        ),
        (
            "StepInfo",
            size_of::<StepInfo>(),
            vec![
                ("t", offset_of!(StepInfo, t)),
                ("row", offset_of!(StepInfo, row)),
                ("learn", offset_of!(StepInfo, learn)),
                ("norm_target", offset_of!(StepInfo, norm_target)),
                ("quiet", offset_of!(StepInfo, quiet)),
            ],
        ),
    ]
}
