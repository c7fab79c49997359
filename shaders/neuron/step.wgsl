// step.wgsl: the stepwise schedule, one dispatch per stage per step. Invocation (x, y)
// handles neuron x of network y. Slower than fused.wgsl; kept for tests and debugging.

@compute @workgroup_size(WG)
fn step_charge(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    let b = gid.y;
    if (i >= params.n) {
        return;
    }
    let g = b * params.n + i;
    let x = input_drive(clock[b], g, neuron_cfg[i].input_thr, params);
    store_state(g, charge(load_state(g), x, params));
}

@compute @workgroup_size(WG)
fn step_fire(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    let b = gid.y;
    if (i >= params.n) {
        return;
    }
    let g = b * params.n + i;
    spiked[g] = u32(fire(load_state(g), params));
}

@compute @workgroup_size(WG)
fn step_reset(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    let b = gid.y;
    if (i >= params.n) {
        return;
    }
    let g = b * params.n + i;
    store_state(g, reset(load_state(g), spiked[g] != 0u, params));
}

@compute @workgroup_size(WG)
fn step_adapt(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    let b = gid.y;
    if (i >= params.n) {
        return;
    }
    let g = b * params.n + i;
    let spike = spiked[g] != 0u;
    let s = adapt(load_state(g), spike, params);
    store_state(g, s);
    record(b, clock[b], i, spike, s);
}

// Ends the step: one invocation per network advances its clock.
@compute @workgroup_size(1)
fn step_tick(@builtin(global_invocation_id) gid: vec3<u32>) {
    let b = gid.x;
    if (b >= params.batch) {
        return;
    }
    clock[b] = clock[b] + 1u;
}
