// plasticity.wgsl: potentiation at a post spike and column normalisation, one invocation
// per post neuron and copy (it owns the synapses that reach it). CPU twins: step 5 of
// cpu::engine and Engine::normalize_columns.

// The synapse number `r` among those reaching post i (ascending pre).
fn incoming(p: Proj, i: u32, r: u32) -> u32 {
    if (p.kind == DENSE) {
        return r * p.n_post + i;
    }
    if (p.kind == ONE_TO_ONE) {
        return i;
    }
    return tables[p.in_syn_base + tables[p.in_base + i] + r];
}

// How many synapses reach post i.
fn in_degree(p: Proj, i: u32) -> u32 {
    if (p.kind == DENSE) {
        return p.n_pre;
    }
    if (p.kind == ONE_TO_ONE) {
        return 1u;
    }
    return tables[p.in_base + i + 1u] - tables[p.in_base + i];
}

// If post i spiked at this step: every synapse reaching it gets on_post with its pre trace
// (`pre_trace`) and post2 from before; then post1 = post2 = 1, or with all-to-all pairing
// post1 += 1, post2 += 1.
fn potentiate(p: Proj, i: u32, b: u32) {
    let t = step.t;
    let spikes = p.post.base + (((t + 1u) % p.post.slots) * p.batch + b) * p.post.words;
    if (((bits[spikes + (i >> 5u)] >> (i & 31u)) & 1u) == 0u) {
        return;
    }
    let a1 = p.trace_base + b * p.n_post + i;
    let a2 = a1 + p.batch * p.n_post;
    let post2_before = fwork[a2];
    let wb = p.w_base + b * p.n_syn;
    let n = in_degree(p, i);
    for (var r = 0u; r < n; r = r + 1u) {
        let k = incoming(p, i, r);
        wsyn[wb + k] = on_post(wsyn[wb + k], pre_trace(p, b, k, t), post2_before, p.stdp);
    }
    if (p.pre_at_last_base != NONE) {
        fwork[a1] = fwork[a1] + 1.0;
        fwork[a2] = fwork[a2] + 1.0;
    } else {
        fwork[a1] = 1.0;
        fwork[a2] = 1.0;
    }
}

// Scales the weights reaching post i so they sum to step.norm_target (sums in synapse
// order; a sum of 0 leaves them).
fn normalize_column(p: Proj, i: u32, b: u32) {
    let wb = p.w_base + b * p.n_syn;
    let n = in_degree(p, i);
    var s = 0.0;
    for (var r = 0u; r < n; r = r + 1u) {
        s = s + wsyn[wb + incoming(p, i, r)];
    }
    if (s > 0.0) {
        let f = step.norm_target / s;
        for (var r = 0u; r < n; r = r + 1u) {
            let k = wb + incoming(p, i, r);
            wsyn[k] = wsyn[k] * f;
        }
    }
}
