// plasticity.wgsl: potentiation at a post spike, one invocation per post neuron and copy (it
// owns the synapses that reach it), and column normalisation, one per block of a column's
// synapses. CPU twins: step 5 of cpu::engine and Engine::normalize_columns.

// The synapse number `r` among those reaching post i (ascending pre).
fn incoming(p: Proj, i: u32, r: u32) -> u32 {
    if (p.kind == DENSE) {
        return r * p.n_post + i;
    }
    if (p.kind == ONE_TO_ONE) {
        return i;
    }
    return tab(p.in_syn_base + tab(p.in_base + i) + r);
}

// How many synapses reach post i.
fn in_degree(p: Proj, i: u32) -> u32 {
    if (p.kind == DENSE) {
        return p.n_pre;
    }
    if (p.kind == ONE_TO_ONE) {
        return 1u;
    }
    return tab(p.in_base + i + 1u) - tab(p.in_base + i);
}

// Whether post i of copy b spiked at this step (its spike word of step t + 1).
fn post_spiked(p: Proj, i: u32, b: u32) -> bool {
    let spikes = p.post.base + (((step.t + 1u) % p.post.slots) * p.batch + b) * p.post.words;
    return ((bits[spikes + (i >> 5u)] >> (i & 31u)) & 1u) != 0u;
}

// on_post for the r-th synapse reaching post i, with its pre trace and post2 from before.
fn potentiate_synapse(p: Proj, i: u32, b: u32, r: u32, post2_before: f32) {
    let k = incoming(p, i, r);
    let at = p.w_base + b * p.n_syn + k;
    store_weight(at, on_post(wsyn[at], pre_trace(p, b, k, step.t), post2_before, p.stdp));
}

// The post traces of a post neuron that spiked: post1 = post2 = 1, or with all-to-all
// pairing post1 += 1, post2 += 1.
fn post_traces_after_spike(p: Proj, i: u32, b: u32) {
    let a1 = p.trace_base + b * p.n_post + i;
    let a2 = a1 + p.batch * p.n_post;
    if (p.pre_at_last_base != NONE) {
        fwork[a1] = fwork[a1] + 1.0;
        fwork[a2] = fwork[a2] + 1.0;
    } else {
        fwork[a1] = 1.0;
        fwork[a2] = 1.0;
    }
}

// If post i spiked at this step: every synapse reaching it gets on_post with its pre trace
// (`pre_trace`) and post2 from before; then its post traces (`post_traces_after_spike`).
fn potentiate(p: Proj, i: u32, b: u32) {
    if (!post_spiked(p, i, b)) {
        return;
    }
    let post2_before = fwork[p.trace_base + (p.batch + b) * p.n_post + i];
    let n = in_degree(p, i);
    for (var r = 0u; r < n; r = r + 1u) {
        potentiate_synapse(p, i, b, r, post2_before);
    }
    post_traces_after_spike(p, i, b);
}

// Potentiation shared by a workgroup (the fused schedule): for each post neuron that spiked,
// invocation l of the WG updates its synapses l, l + WG, ... (each synapse's update is the
// one `potentiate` makes). The post traces follow after a barrier (`potentiate_traces`).
fn potentiate_shared(p: Proj, l: u32, b: u32) {
    let spikes = p.post.base + (((step.t + 1u) % p.post.slots) * p.batch + b) * p.post.words;
    // Loop passes (`loop_passes`, propagate.wgsl): the same for every invocation, the
    // share loop counted at its longest.
    loop_passes = loop_passes + p.post.words + 1u;
    for (var wd = 0u; wd < p.post.words; wd = wd + 1u) {
        var word = bits[spikes + wd];
        loop_passes = loop_passes + countOneBits(word) + 1u;
        loop {
            if (word == 0u) {
                break;
            }
            let i = wd * 32u + firstTrailingBit(word);
            word = word & (word - 1u);
            let post2_before = fwork[p.trace_base + (p.batch + b) * p.n_post + i];
            let n = in_degree(p, i);
            loop_passes = loop_passes + (n + WG - 1u) / WG + 1u;
            for (var r = l; r < n; r = r + WG) {
                potentiate_synapse(p, i, b, r, post2_before);
            }
        }
    }
}

// The post traces of post i after `potentiate_shared`, if it spiked.
fn potentiate_traces(p: Proj, i: u32, b: u32) {
    if (post_spiked(p, i, b)) {
        post_traces_after_spike(p, i, b);
    }
}

// Normalisation, in two passes of one invocation per block of NORM_BLOCK synapses of a
// post neuron (`x = block · n_post + i`): `normalize_sum` sums the block (in synapse
// order, from 0) into `fwork[sums + (b · blocks + block) · n_post + i]`; `normalize_scale`
// adds post i's block sums in order from 0 (`NORM_BLOCK` in src/model/net/mod.rs: the CPU
// engine's order) and, where the sum is > 0, scales its block so that the column sums to
// step.norm_target.
fn normalize_sum(p: Proj, x: u32, b: u32, sums: u32, blocks: u32) {
    let i = x % p.n_post;
    let blk = x / p.n_post;
    let wb = p.w_base + b * p.n_syn;
    let n = in_degree(p, i);
    let hi = min(n, (blk + 1u) * NORM_BLOCK);
    var s = 0.0;
    for (var r = blk * NORM_BLOCK; r < hi; r = r + 1u) {
        s = s + wsyn[wb + incoming(p, i, r)];
    }
    fwork[sums + (b * blocks + blk) * p.n_post + i] = s;
    // The column's loose flag: raised by the blocks of `normalize_scale` that hold a weight
    // below w_min or above w_max afterwards (a NaN is not, as in the CPU's depression
    // queue; `depression_is_noop`, propagate.wgsl).
    if (blk == 0u && p.loose_base != NONE) {
        ustate[p.loose_base + b * p.n_post + i] = 0u;
    }
}

fn normalize_scale(p: Proj, x: u32, b: u32, sums: u32, blocks: u32) {
    let i = x % p.n_post;
    let blk = x / p.n_post;
    let n = in_degree(p, i);
    let lo = blk * NORM_BLOCK;
    if (lo >= n) {
        return;
    }
    let at = sums + b * blocks * p.n_post + i;
    var s = 0.0;
    for (var c = 0u; c * NORM_BLOCK < n; c = c + 1u) {
        s = s + fwork[at + c * p.n_post];
    }
    let wb = p.w_base + b * p.n_syn;
    let hi = min(n, lo + NORM_BLOCK);
    var loose = false;
    if (s > 0.0) {
        let f = step.norm_target / s;
        for (var r = lo; r < hi; r = r + 1u) {
            let k = wb + incoming(p, i, r);
            let w = wsyn[k] * f;
            store_weight(k, w);
            loose = loose || w < p.stdp.w_min || w > p.stdp.w_max;
        }
    } else {
        for (var r = lo; r < hi; r = r + 1u) {
            let w = wsyn[wb + incoming(p, i, r)];
            loose = loose || w < p.stdp.w_min || w > p.stdp.w_max;
        }
    }
    if (loose && p.loose_base != NONE) {
        ustate[p.loose_base + b * p.n_post + i] = 1u;
    }
}

// Raises p's weight flag if a weight of block `x / n_post` of the synapses reaching post
// `x % n_post` of copy b (`normalize_sum`'s blocks) is NaN or infinite (all ones in the
// exponent bits).
fn check_block(p: Proj, x: u32, b: u32) {
    let i = x % p.n_post;
    let blk = x / p.n_post;
    let wb = p.w_base + b * p.n_syn;
    let hi = min(in_degree(p, i), (blk + 1u) * NORM_BLOCK);
    var bad = false;
    for (var r = blk * NORM_BLOCK; r < hi; r = r + 1u) {
        let bits = bitcast<u32>(wsyn[wb + incoming(p, i, r)]);
        bad = bad || (bits & 0x7f800000u) == 0x7f800000u;
    }
    if (bad) {
        ustate[p.weight_flag] = 1u;
    }
}
