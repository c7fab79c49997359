// common.wgsl: structs shared by every neuron module.
// Each struct mirrors one in src/gpu/layout.rs field for field (same names, same order);
// change both together. tests/engine/naga_validate.rs checks sizes and offsets.

// Mirrors gpu::layout::NeuronParams. Per-step constants are derived once on the host.
struct NeuronParams {
    reset_soft: u32,
    v_threshold_mv: f32,
    v_reset_mv: f32,
    refractory_steps: u32,
    clamp_above_steps: u32,
    theta_frozen: u32,
    v_rest_mv: f32,
    decay_v_per_step: f32,
    dt_over_tau_m: f32,
    decay_ge_per_step: f32,
    decay_gi_per_step: f32,
    e_exc_mv: f32,
    e_inh_mv: f32,
    theta_plus_mv: f32,
    decay_theta_per_step: f32,
    clamp_v: u32,
}

