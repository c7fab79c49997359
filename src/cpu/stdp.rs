//! CPU twins of the STDP functions in `shaders/plasticity/stdp.wgsl`: the weight updates on
//! a pre spike (depression) and a post spike (potentiation), with clipping.

use crate::model::stdp::StdpConsts;

/// `stdp.wgsl::on_pre`: the weight after a presynaptic spike, given the postsynaptic `post1`.
#[inline]
pub fn on_pre(w: f32, post1: f32, c: &StdpConsts) -> f32 {
    on_pre_depression(w, c.nu_pre * post1, c)
}

/// [`on_pre`] with its product `nu_pre · post1` given: the same operations, so the same
/// result bit for bit. The CPU computes the product once per neuron and step, as a vector,
/// instead of once per arriving synapse: `post1` of a neuron that has not fired for a while
/// is subnormal (its decay stops at about 20 · 2⁻¹⁴⁹, where `x · decay` rounds back to
/// `x`), and a scalar multiply with a subnormal result is several times slower.
#[inline]
pub fn on_pre_depression(w: f32, nu_pre_post1: f32, c: &StdpConsts) -> f32 {
    if c.rule == 2 {
        return w;
    }
    (w - nu_pre_post1).clamp(c.w_min, c.w_max)
}

/// `stdp.wgsl::on_post`: the weight after a postsynaptic spike, given the presynaptic trace
/// `pre` and `post2` from before this spike.
#[inline]
pub fn on_post(w: f32, pre: f32, post2_before: f32, c: &StdpConsts) -> f32 {
    let dw = match c.rule {
        0 => c.nu_post * pre * post2_before,
        1 => c.nu_post * pre,
        _ => c.nu_post * (pre - c.x_tar) * (c.w_max - w).max(0.0).powf(c.mu),
    };
    (w + dw).clamp(c.w_min, c.w_max)
}
