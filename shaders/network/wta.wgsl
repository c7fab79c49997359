// wta.wgsl: the competitive layer (model::wta), fused: one network per workgroup runs many
// steps of a presentation inside one dispatch. Stages come from neuron/stages.wgsl and
// plasticity/stdp.wgsl; the step order is model::wta's, the same as cpu::wta::step.
//
// llvmpipe stops any loop silently after 65,535 iterations of one invocation, so every
// invocation counts its loop iterations; a dispatch stops at a step boundary once the
// largest count passes wp.iter_budget, and the host dispatches again until the
// presentation is done. A count near the cap sets net_state.overflow: never silent.

// Mirrors gpu::layout::WtaParams.
struct WtaParams {
    exc: NeuronParams,
    inh: NeuronParams,
    stdp: StdpConsts,
    n_in: u32,
    n: u32,
    batch: u32,
    learn: u32,
    steps_on: u32,
    steps_total: u32,
    max_steps: u32,
    iter_budget: u32,
    decay_post1: f32,
    decay_post2: f32,
    w_ei: f32,
    w_ie: f32,
    table_len: u32,
    norm_target: f32,
    theta_decay: f32,
    reset_after: u32,
    exc_rest_mv: f32,
    inh_rest_mv: f32,
    // Network slots first_slot .. first_slot + batch take part (workgroup/y index + first_slot).
    first_slot: u32,
    // Ring slots of the input-delay history: max delay + 1 (1: no delays).
    delay_slots: u32,
}

// Mirrors gpu::layout::NetCtl: written by the host before each presentation.
struct NetCtl {
    key_seed: u32,
    n_active: u32,
    _pad0: u32,
    _pad1: u32,
}

// Mirrors gpu::layout::NetState: owned by the kernels.
struct NetState {
    t: u32,
    clock: u32,
    inh_count: u32,
    overflow: u32,
    nonfinite: u32,
    done: u32,
    dispatches: u32,
    _pad0: u32,
}

const NEVER: u32 = 0xffffffffu;

// The presynaptic trace of a spike (or arrival) at step `last`, read from the decay table.
fn pre_trace(last: u32, clock: u32) -> f32 {
    if (last != NEVER && clock - last < wp.table_len) {
        return pre_table[clock - last];
    }
    return 0.0;
}
const MAX_INPUTS: u32 = 1024u;
const MAX_EXC: u32 = 8192u;
const OVERFLOW_MARK: u32 = 64000u;

@group(0) @binding(0) var<uniform> wp: WtaParams;
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> theta: array<f32>;
@group(0) @binding(3) var<storage, read_write> v_e: array<f32>;
@group(0) @binding(4) var<storage, read_write> ge_e: array<f32>;
@group(0) @binding(5) var<storage, read_write> gi_e: array<f32>;
@group(0) @binding(6) var<storage, read_write> refrac_e: array<u32>;
@group(0) @binding(7) var<storage, read_write> v_i: array<f32>;
@group(0) @binding(8) var<storage, read_write> ge_i: array<f32>;
@group(0) @binding(9) var<storage, read_write> refrac_i: array<u32>;
// post1, post2, post2_before per excitatory neuron, interleaved.
@group(0) @binding(10) var<storage, read_write> post: array<vec4<f32>>;
@group(0) @binding(11) var<storage, read_write> last_pre: array<u32>;
// Spike flags of the latest step: bit 0 excitatory, bit 1 inhibitory.
@group(0) @binding(12) var<storage, read_write> spk: array<u32>;
@group(0) @binding(13) var<storage, read_write> counts: array<u32>;
// Active inputs of each network: (input index, Poisson threshold), ascending index.
@group(0) @binding(14) var<storage, read> active_in: array<vec2<u32>>;
@group(0) @binding(15) var<storage, read> ctl: array<NetCtl>;
@group(0) @binding(16) var<storage, read_write> net: array<NetState>;
@group(0) @binding(17) var<storage, read> pre_table: array<f32>;
// Scratch: the excitatory neurons that spiked this step, per network.
@group(0) @binding(18) var<storage, read_write> post_list: array<u32>;
@group(0) @binding(19) var<storage, read_write> gi_i: array<f32>;
// Input delays in steps, four u8 per word, synapse k = j * n + i.
@group(0) @binding(20) var<storage, read> delays: array<u32>;
// Input spike history ring, per network and slot: [count, j0, j1, ...] (n_in + 1 words).
@group(0) @binding(21) var<storage, read_write> hist: array<u32>;

fn delay_of(k: u32) -> u32 {
    return (delays[k / 4u] >> (8u * (k % 4u))) & 0xffu;
}

fn hist_base(b: u32, slot: u32) -> u32 {
    return (b * wp.delay_slots + slot) * (wp.n_in + 1u);
}

var<workgroup> in_words: array<atomic<u32>, 32>;
var<workgroup> exc_words: array<atomic<u32>, 256>;
var<workgroup> in_list: array<u32, 1024>;
var<workgroup> in_count: u32;
var<workgroup> post_count: u32;
var<workgroup> inh_prev: u32;
var<workgroup> inh_next: atomic<u32>;
var<workgroup> iters_max: atomic<u32>;
var<workgroup> stop: u32;

@compute @workgroup_size(WG)
fn present(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let b = wid.x + wp.first_slot;
    let l = lid.x;
    let n = wp.n;
    let n_words_exc = (n + 31u) / 32u;
    let n_words_in = (wp.n_in + 31u) / 32u;
    var t = net[b].t;
    var clock = net[b].clock;
    let key = ctl[b].key_seed;
    let n_active = ctl[b].n_active;
    var iters = 0u;
    if (l == 0u) {
        inh_prev = net[b].inh_count;
        atomicStore(&inh_next, 0u);
        atomicStore(&iters_max, 0u);
    }
    for (var k = 0u; k < wp.max_steps; k = k + 1u) {
        iters = iters + 1u;
        if (l == 0u) {
            stop = select(0u, 1u, t >= wp.steps_total || atomicLoad(&iters_max) > wp.iter_budget);
        }
        for (var q = l; q < 32u; q = q + WG) {
            iters = iters + 1u;
            atomicStore(&in_words[q], 0u);
        }
        for (var q = l; q < n_words_exc; q = q + WG) {
            iters = iters + 1u;
            atomicStore(&exc_words[q], 0u);
        }
        if (workgroupUniformLoad(&stop) != 0u) {
            break;
        }
        // 1. input spikes of step t (input on during the first steps_on steps).
        if (t < wp.steps_on) {
            for (var m = l; m < n_active; m = m + WG) {
                iters = iters + 1u;
                let a = active_in[b * wp.n_in + m];
                if (rng_u32(key, t, a.x) < a.y) {
                    atomicOr(&in_words[a.x / 32u], 1u << (a.x % 32u));
                }
            }
        }
        workgroupBarrier();
        if (l == 0u) {
            var c = 0u;
            for (var q = 0u; q < n_words_in; q = q + 1u) {
                iters = iters + 1u;
                var bits = atomicLoad(&in_words[q]);
                loop {
                    if (bits == 0u) {
                        break;
                    }
                    iters = iters + 1u;
                    let j = q * 32u + firstTrailingBit(bits);
                    in_list[c] = j;
                    c = c + 1u;
                    if (wp.delay_slots > 1u) {
                        hist[hist_base(b, clock % wp.delay_slots) + c] = j;
                    } else if (wp.learn != 0u) {
                        last_pre[b * wp.n_in + j] = clock;
                    }
                    bits = bits & (bits - 1u);
                }
            }
            in_count = c;
            if (wp.delay_slots > 1u) {
                hist[hist_base(b, clock % wp.delay_slots)] = c;
            }
        }
        storageBarrier();
        let n_in_spikes = workgroupUniformLoad(&in_count);
        let inh_prev_count = inh_prev;
        // 2-3. propagate, neuron stages, depression; one invocation per neuron at a time.
        for (var i = l; i < n; i = i + WG) {
            iters = iters + 1u;
            let g = b * n + i;
            var x = 0.0;
            if (wp.delay_slots > 1u) {
                // Arrivals now: spikes of step clock - lag on synapses of delay lag.
                for (var lag = 0u; lag < wp.delay_slots; lag = lag + 1u) {
                    iters = iters + 1u;
                    let base = hist_base(b, (clock + wp.delay_slots - lag) % wp.delay_slots);
                    let cnt = hist[base];
                    for (var m = 0u; m < cnt; m = m + 1u) {
                        iters = iters + 1u;
                        let k = hist[base + 1u + m] * n + i;
                        if (delay_of(k) == lag) {
                            x = x + w[k];
                        }
                    }
                }
            } else {
                for (var m = 0u; m < n_in_spikes; m = m + 1u) {
                    iters = iters + 1u;
                    x = x + w[in_list[m] * n + i];
                }
            }
            let flags = spk[g];
            let exc_prev = (flags & 1u) != 0u;
            let inh_prev_i = (flags & 2u) != 0u;
            var e = NeuronState(v_e[g], theta[i], refrac_e[g], ge_e[g], gi_e[g]);
            e.gi = e.gi + wp.w_ie * f32(inh_prev_count - select(0u, 1u, inh_prev_i));
            e = charge(e, x, wp.exc);
            let se = fire(e, wp.exc);
            e = reset(e, se, wp.exc);
            if (wp.learn != 0u) {
                e = adapt(e, se, wp.exc);
                theta[i] = e.theta;
            }
            v_e[g] = e.v;
            ge_e[g] = e.ge;
            gi_e[g] = e.gi;
            refrac_e[g] = e.refrac;
            var h = NeuronState(v_i[g], 0.0, refrac_i[g], ge_i[g], gi_i[g]);
            h = charge(h, select(0.0, wp.w_ei, exc_prev), wp.inh);
            let si = fire(h, wp.inh);
            h = reset(h, si, wp.inh);
            v_i[g] = h.v;
            ge_i[g] = h.ge;
            gi_i[g] = h.gi;
            refrac_i[g] = h.refrac;
            spk[g] = select(0u, 1u, se) | select(0u, 2u, si);
            if (si) {
                atomicAdd(&inh_next, 1u);
            }
            if (se) {
                if (t < wp.steps_on) {
                    counts[g] = counts[g] + 1u;
                }
                atomicOr(&exc_words[i / 32u], 1u << (i % 32u));
            }
            if (wp.learn != 0u) {
                var pt = post[g];
                pt.x = pt.x * wp.decay_post1;
                pt.y = pt.y * wp.decay_post2;
                if (wp.delay_slots > 1u) {
                    // Depression at arrival, per synapse; last_pre is per synapse then.
                    for (var lag = 0u; lag < wp.delay_slots; lag = lag + 1u) {
                        iters = iters + 1u;
                        let base = hist_base(b, (clock + wp.delay_slots - lag) % wp.delay_slots);
                        let cnt = hist[base];
                        for (var m = 0u; m < cnt; m = m + 1u) {
                            iters = iters + 1u;
                            let k = hist[base + 1u + m] * n + i;
                            if (delay_of(k) == lag) {
                                w[k] = on_pre(w[k], pt.x, wp.stdp);
                                last_pre[k] = clock;
                            }
                        }
                    }
                } else {
                    for (var m = 0u; m < n_in_spikes; m = m + 1u) {
                        iters = iters + 1u;
                        let idx = in_list[m] * n + i;
                        w[idx] = on_pre(w[idx], pt.x, wp.stdp);
                    }
                }
                if (se) {
                    pt.z = pt.y;
                    pt.x = 1.0;
                    pt.y = 1.0;
                }
                post[g] = pt;
            }
        }
        storageBarrier();
        workgroupBarrier();
        // 4. potentiation of the columns of the excitatory neurons that spiked.
        if (wp.learn != 0u) {
            if (l == 0u) {
                var c = 0u;
                for (var q = 0u; q < n_words_exc; q = q + 1u) {
                    iters = iters + 1u;
                    var bits = atomicLoad(&exc_words[q]);
                    loop {
                        if (bits == 0u) {
                            break;
                        }
                        iters = iters + 1u;
                        post_list[b * n + c] = q * 32u + firstTrailingBit(bits);
                        c = c + 1u;
                        bits = bits & (bits - 1u);
                    }
                }
                post_count = c;
            }
            storageBarrier();
            let n_post = workgroupUniformLoad(&post_count);
            if (n_post > 0u) {
                for (var j = l; j < wp.n_in; j = j + WG) {
                    iters = iters + 1u;
                    let pre_in = pre_trace(last_pre[b * wp.n_in + j], clock);
                    for (var m = 0u; m < n_post; m = m + 1u) {
                        iters = iters + 1u;
                        let i = post_list[b * n + m];
                        let idx = j * n + i;
                        var pre = pre_in;
                        if (wp.delay_slots > 1u) {
                            pre = pre_trace(last_pre[idx], clock);
                        }
                        w[idx] = on_post(w[idx], pre, post[b * n + i].z, wp.stdp);
                    }
                }
            }
        }
        t = t + 1u;
        clock = clock + 1u;
        atomicMax(&iters_max, iters);
        storageBarrier();
        workgroupBarrier();
        if (l == 0u) {
            inh_prev = atomicLoad(&inh_next);
            atomicStore(&inh_next, 0u);
        }
    }
    if (iters >= OVERFLOW_MARK) {
        net[b].overflow = 1u;
    }
    workgroupBarrier();
    if (l == 0u) {
        if (t != net[b].t) {
            net[b].dispatches = net[b].dispatches + 1u;
        }
        net[b].t = t;
        net[b].clock = clock;
        net[b].inh_count = inh_prev;
    }
}

fn finite(x: f32) -> bool {
    return x == x && abs(x) <= 0x1.fffffep+127f;
}

// Column normalisation before a learning presentation: one invocation per excitatory
// neuron, sums in ascending input order (as cpu::synapse::normalize_columns).
@compute @workgroup_size(WG)
fn normalize(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= wp.n) {
        return;
    }
    var s = 0.0;
    for (var j = 0u; j < wp.n_in; j = j + 1u) {
        s = s + w[j * wp.n + i];
    }
    var f = 1.0;
    if (s > 0.0) {
        f = wp.norm_target / s;
    }
    for (var j = 0u; j < wp.n_in; j = j + 1u) {
        w[j * wp.n + i] = w[j * wp.n + i] * f;
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
    }
    if (wp.delay_slots > 1u) {
        if (i < wp.delay_slots) {
            hist[hist_base(b, i)] = 0u;
        }
        if (i < wp.n && b == 0u) {
            for (var j = 0u; j < wp.n_in; j = j + 1u) {
                last_pre[j * wp.n + i] = NEVER;
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
        if (wp.learn != 0u && b == 0u) {
            theta[i] = theta[i] * wp.theta_decay;
        }
        if (!finite(v_e[g]) || !finite(ge_e[g]) || !finite(gi_e[g]) || !finite(theta[i])) {
            net[b].nonfinite = i + 1u;
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
