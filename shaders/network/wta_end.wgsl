// wta_end.wgsl: the per-presentation passes of the competitive layer, shared by both
// schedules: normalisation before, the end-of-presentation passes after, and the reset.

fn finite(x: f32) -> bool {
    return x == x && abs(x) <= 0x1.fffffep+127f;
}

// Column normalisation before a learning presentation: one invocation per excitatory
// neuron, sums in ascending input order (as cpu::synapse::normalize_columns). Invocation
// (x, y): neuron x of network y; a network whose done flag is set sits this one out.
@compute @workgroup_size(WG)
fn normalize(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    let b = gid.y + wp.first_slot;
    if (i >= wp.n || gid.y >= wp.batch || net[b].done != 0u) {
        return;
    }
    let wb = w_base(b);
    var s = 0.0;
    for (var j = 0u; j < wp.n_in; j = j + 1u) {
        s = s + w[wb + j * wp.n + i];
    }
    var f = 1.0;
    if (s > 0.0) {
        f = wp.norm_target / s;
    }
    for (var j = 0u; j < wp.n_in; j = j + 1u) {
        w[wb + j * wp.n + i] = w[wb + j * wp.n + i] * f;
    }
}

fn reset_neuron(b: u32, i: u32) {
    if (i < wp.n) {
        let g = b * wp.n + i;
        v_e[g] = wp.exc_rest_mv;
        ge_e[g] = 0.0;
        gi_e[g] = 0.0;
        refrac_e[g] = 0u;
        v_i[g] = wp.inh_rest_mv;
        ge_i[g] = 0.0;
        gi_i[g] = 0.0;
        refrac_i[g] = 0u;
        post[g] = vec4<f32>(0.0);
        spk[g] = 0u;
        if (wp.delay_slots > 1u) {
            for (var s = 0u; s < wp.delay_slots; s = s + 1u) {
                x_ring[x_ring_at(b, s, i)] = 0.0;
            }
        }
    }
    if (i < wp.delay_slots) {
        hist[hist_base(b, i)] = 0u;
    }
    if (wp.delay_slots > 1u) {
        if (i < wp.n && (b == 0u || OWN_SLOTS)) {
            for (var j = 0u; j < wp.n_in; j = j + 1u) {
                last_pre[w_base(b) + j * wp.n + i] = NEVER;
            }
        }
    } else if (i < wp.n_in) {
        last_pre[b * wp.n_in + i] = NEVER;
    }
}

// After a presentation, once it is complete (t >= steps_total; a no-op otherwise): θ decay
// (learning), the rest-state reset (RestMode::Reset), a NaN/Inf check, t back to 0 and the
// done flag. Invocation (x, y): item x of network y.
@compute @workgroup_size(WG)
fn end_presentation(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    let b = gid.y + wp.first_slot;
    if (gid.y >= wp.batch || net[b].t < wp.steps_total) {
        return;
    }
    if (i < wp.n) {
        let g = b * wp.n + i;
        let th = theta_base(b) + i;
        if (wp.learn != 0u && (b == 0u || OWN_SLOTS)) {
            theta[th] = theta[th] * wp.theta_decay;
        }
        // Which variable (code << 24) and neuron + 1: gpu::wta decodes it (NONFINITE_VARS).
        var bad = 0u;
        if (!finite(v_e[g])) {
            bad = 1u;
        } else if (!finite(ge_e[g])) {
            bad = 2u;
        } else if (!finite(gi_e[g])) {
            bad = 3u;
        } else if (!finite(theta[th])) {
            bad = 4u;
        } else if (!finite(v_i[g])) {
            bad = 5u;
        } else if (!finite(ge_i[g])) {
            bad = 6u;
        } else if (!finite(gi_i[g])) {
            bad = 7u;
        }
        if (bad != 0u) {
            net[b].nonfinite = (bad << 24u) | (i + 1u);
        }
    }
    if (wp.reset_after != 0u) {
        reset_neuron(b, i);
    }
}

// Completes end_presentation once every invocation has read t (a separate dispatch).
@compute @workgroup_size(1)
fn finish_presentation(@builtin(global_invocation_id) gid: vec3<u32>) {
    let b = gid.x + wp.first_slot;
    if (gid.x >= wp.batch || net[b].t < wp.steps_total) {
        return;
    }
    net[b].t = 0u;
    net[b].done = 1u;
    if (wp.reset_after != 0u) {
        net[b].inh_count = 0u;
    }
}

// Puts networks into the rest state (frozen batches start from it).
@compute @workgroup_size(WG)
fn reset_state(@builtin(global_invocation_id) gid: vec3<u32>) {
    let b = gid.y + wp.first_slot;
    if (gid.y >= wp.batch) {
        return;
    }
    reset_neuron(b, gid.x);
    if (gid.x == 0u) {
        net[b].t = 0u;
        net[b].inh_count = 0u;
        net[b].done = 0u;
    }
}
