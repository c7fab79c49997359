// wta_step.wgsl: the stepwise schedule of the competitive layer: one dispatch per stage per
// step, calling the same stage functions as wta_fused.wgsl. Slower; kept to check the fused
// schedule and to debug. Per step: ws_input, ws_neurons, ws_collect, ws_stdp_pre,
// ws_stdp_post, ws_tick. Invocation (x, y): item x of network y (slot y + first_slot).

// Steps past the end of the presentation do nothing (the host records whole presentations).
fn step_active(b: u32) -> bool {
    return net[b].t < wp.steps_total;
}

// 1. input spikes, one invocation per network, ascending j.
@compute @workgroup_size(1)
fn ws_input(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= wp.batch) {
        return;
    }
    let b = gid.x + wp.first_slot;
    if (!step_active(b)) {
        return;
    }
    let t = net[b].t;
    let clock = net[b].clock;
    var c = 0u;
    if (t < wp.steps_on) {
        let key = ctl[b].key_seed;
        for (var m = 0u; m < ctl[b].n_active; m = m + 1u) {
            let a = active_in[b * wp.n_in + m];
            if (rng_u32(key, t, a.x) < a.y) {
                record_input_spike(b, a.x, c, clock);
                c = c + 1u;
            }
        }
    }
    set_input_count(b, c, clock);
}

// 2-3. propagate and neuron stages.
@compute @workgroup_size(WG)
fn ws_neurons(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= wp.n || gid.y >= wp.batch) {
        return;
    }
    let b = gid.y + wp.first_slot;
    if (step_active(b)) {
        neuron_step(b, gid.x, net[b].t, net[b].clock, net[b].inh_count, false);
    }
}

// The spike lists of the step: the inhibitory count, the excitatory neurons that spiked.
@compute @workgroup_size(1)
fn ws_collect(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= wp.batch) {
        return;
    }
    let b = gid.x + wp.first_slot;
    if (!step_active(b)) {
        return;
    }
    var n_inh = 0u;
    var c = 0u;
    for (var i = 0u; i < wp.n; i = i + 1u) {
        let f = spk[b * wp.n + i];
        n_inh = n_inh + (f >> 1u);
        if ((f & 1u) != 0u) {
            post_list[b * wp.n + c] = i;
            c = c + 1u;
        }
    }
    net[b].inh_next = n_inh;
    net[b].n_post = c;
}

// 4a-b. depression and post marks, per excitatory neuron.
@compute @workgroup_size(WG)
fn ws_stdp_pre(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= wp.n || gid.y >= wp.batch || wp.learn == 0u) {
        return;
    }
    let b = gid.y + wp.first_slot;
    if (step_active(b)) {
        depress_column(b, gid.x, net[b].clock);
        mark_post(b, gid.x);
    }
}

// 4c. potentiation, per input.
@compute @workgroup_size(WG)
fn ws_stdp_post(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= wp.n_in || gid.y >= wp.batch || wp.learn == 0u) {
        return;
    }
    let b = gid.y + wp.first_slot;
    if (step_active(b)) {
        potentiate_row(b, gid.x, net[b].clock, net[b].n_post);
    }
}

// End of the step: advance the clocks and hand the inhibitory count to the next step.
@compute @workgroup_size(1)
fn ws_tick(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= wp.batch) {
        return;
    }
    let b = gid.x + wp.first_slot;
    if (!step_active(b)) {
        return;
    }
    net[b].t = net[b].t + 1u;
    net[b].clock = net[b].clock + 1u;
    net[b].inh_count = net[b].inh_next;
}
