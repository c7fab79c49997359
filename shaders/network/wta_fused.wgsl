// wta_fused.wgsl: the fused schedule of the competitive layer. One network per workgroup
// runs many steps of a presentation inside one dispatch, calling the stages of
// wta_common.wgsl with barriers between them.
//
// llvmpipe stops any loop silently after 65,535 iterations of one invocation, so every
// invocation counts its loop iterations (`iters`); a dispatch stops at a step boundary once
// the largest count passes wp.iter_budget, and the host dispatches again until the
// presentation is done. A count near the cap sets NetState.overflow: never silent.

var<workgroup> in_words: array<atomic<u32>, 32>;
var<workgroup> exc_words: array<atomic<u32>, 256>;
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
    iters = 0u;
    let ds = wp.delay_slots;
    let use_ring = WG_RING && ds <= SH_SLOTS;
    if (l == 0u) {
        inh_prev = net[b].inh_count;
        atomicStore(&inh_next, 0u);
        atomicStore(&iters_max, 0u);
        sh_global_left = 0u;
    }
    // The input history ring into workgroup memory (see SH_SLOTS in wta_common.wgsl).
    if (use_ring) {
        for (var s = 0u; s < ds; s = s + 1u) {
            iters = iters + 1u;
            let base = hist_base(b, s);
            let cnt = hist[base];
            if (l == 0u) {
                sh_cnt[s] = cnt;
                if (cnt > SH_CAP) {
                    sh_global_left = ds;
                }
            }
            for (var m = l; m < min(cnt, SH_CAP); m = m + WG) {
                iters = iters + 1u;
                sh_j[s * SH_CAP + m] = hist[base + 1u + m];
            }
        }
    }
    workgroupBarrier();
    for (var k = 0u; k < wp.max_steps; k = k + 1u) {
        iters = iters + 1u;
        if (l == 0u) {
            // A network whose done flag is set (finished in an earlier round, or idle in
            // this presentation) does not run.
            stop = select(0u, 1u, t >= wp.steps_total || net[b].done != 0u
                || atomicLoad(&iters_max) > wp.iter_budget);
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
        // 1. input spikes of step t (input on during the first steps_on steps), drawn in
        // parallel, then listed in ascending order.
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
            let slot = clock % ds;
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
                    record_input_spike(b, j, c, clock);
                    if (use_ring && c < SH_CAP) {
                        sh_j[slot * SH_CAP + c] = j;
                    }
                    c = c + 1u;
                    bits = bits & (bits - 1u);
                }
            }
            set_input_count(b, c, clock);
            if (use_ring) {
                sh_cnt[slot] = c;
                if (c > SH_CAP) {
                    sh_global_left = ds;
                }
            }
        }
        storageBarrier();
        workgroupBarrier();
        let inh_prev_count = inh_prev;
        let sh = use_ring && sh_global_left == 0u;
        // 2-4b. propagate, neuron stages, depression (of the arrivals propagate noted), post
        // marks: per neuron, with no barrier between them (each touches only its own column
        // and state).
        for (var i = l; i < n; i = i + WG) {
            iters = iters + 1u;
            let flags = neuron_step(b, i, t, clock, inh_prev_count, sh);
            if ((flags & 2u) != 0u) {
                atomicAdd(&inh_next, 1u);
            }
            if ((flags & 1u) != 0u) {
                atomicOr(&exc_words[i / 32u], 1u << (i % 32u));
            }
            if (wp.learn != 0u) {
                depress_arrivals(b, i, clock);
                mark_post(b, i);
            }
        }
        storageBarrier();
        workgroupBarrier();
        // 4c. potentiation of the columns of the excitatory neurons that spiked.
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
                    potentiate_row(b, j, clock, n_post);
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
            if (sh_global_left > 0u) {
                sh_global_left = sh_global_left - 1u;
            }
        }
    }
    // Only a software adapter has the cap (its budget is below the mark); on a real GPU a
    // whole presentation runs in one dispatch and counts far past it.
    if (wp.iter_budget < OVERFLOW_MARK && iters >= OVERFLOW_MARK) {
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
