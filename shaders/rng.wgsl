// rng.wgsl: counter-based hash, mirrors src/encode/rng.rs bit for bit.
// A random draw is a pure function of (seed, step, index): no state, no order dependence,
// so the CPU and the GPU see the same input spikes.

// "lowbias32" integer finaliser (C. Wellons), a bijection on u32 with good avalanche.
fn lowbias32(x0: u32) -> u32 {
    var x = x0;
    x = x ^ (x >> 16u);
    x = x * 0x7feb352du;
    x = x ^ (x >> 15u);
    x = x * 0x846ca68bu;
    x = x ^ (x >> 16u);
    return x;
}

fn rng_u32(seed: u32, step: u32, index: u32) -> u32 {
    return lowbias32(lowbias32(lowbias32(seed) ^ step) ^ index);
}
