// fused.wgsl: the fused schedule. One workgroup runs one network (batch entry) for
// chunk.steps steps inside one dispatch, with a barrier between steps. The host keeps
// chunk.steps x (neurons per invocation + 2) under llvmpipe's 65,535 loop-pass cap (a loop of
// k trips passes its header k + 1 times).

@compute @workgroup_size(WG)
fn fused(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let b = wid.x;
    let t0 = clock[b];
    for (var k = 0u; k < chunk.steps; k = k + 1u) {
        let t = t0 + k;
        for (var i = lid.x; i < params.n; i = i + WG) {
            let g = b * params.n + i;
            var s = load_state(g);
            s = charge(s, input_drive(t, g, neuron_cfg[i].input_thr, params), params);
            let spike = fire(s, params);
            s = reset(s, spike, params);
            s = adapt(s, spike, params);
            store_state(g, s);
            spiked[g] = u32(spike);
            record(b, t, i, spike, s);
        }
        // Every neuron finishes step t before any starts t + 1 (needed once neurons interact).
        storageBarrier();
        workgroupBarrier();
    }
    if (lid.x == 0u) {
        clock[b] = t0 + chunk.steps;
    }
}
