// stdp.wgsl: the STDP weight updates as pure functions, used by engine/propagate.wgsl and
// engine/plasticity.wgsl.
// CPU twins: cpu::stdp::{on_pre, on_post}. Fields of model::stdp::StdpConsts, written by gpu::engine::program.

struct StdpConsts {
    rule: u32,
    nu_pre: f32,
    nu_post: f32,
    x_tar: f32,
    mu: f32,
    w_min: f32,
    w_max: f32,
    _pad0: u32,
}

// Depression on a presynaptic spike (triplet and pair rules), clipped.
fn on_pre(w: f32, post1: f32, c: StdpConsts) -> f32 {
    if (c.rule == 2u) {
        return w;
    }
    return clamp(w - c.nu_pre * post1, c.w_min, c.w_max);
}

// Potentiation on a postsynaptic spike; post2_before is post2 before this spike set it.
fn on_post(w: f32, pre: f32, post2_before: f32, c: StdpConsts) -> f32 {
    var dw: f32;
    if (c.rule == 0u) {
        dw = c.nu_post * pre * post2_before;
    } else if (c.rule == 1u) {
        dw = c.nu_post * pre;
    } else {
        dw = c.nu_post * (pre - c.x_tar) * pow(max(c.w_max - w, 0.0), c.mu);
    }
    return clamp(w + dw, c.w_min, c.w_max);
}
