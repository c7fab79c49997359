// wta_fused.wgsl: the fused schedule of the competitive layer. One network per workgroup
// runs many steps of a presentation inside one dispatch, calling the stages of
// wta_common.wgsl with barriers between them.
//
// llvmpipe stops every loop silently once a SIMD group of invocations has passed 65,535 loop
// headers in one dispatch (all loops together; a `for` loop of k trips passes k + 1). So
// every invocation counts its passes phase by phase (`iters`, see wta_common.wgsl), and the
// workgroup adds up the largest count of each phase: `spent`, a bound for every group,
// whichever invocations share one. A dispatch stops at a step boundary once `spent` passes
// wp.iter_budget, and the host dispatches again until the presentation is done. A bound near
// the cap sets NetState.overflow: never silent.

var<workgroup> in_words: array<atomic<u32>, 32>;
var<workgroup> exc_words: array<atomic<u32>, 256>;
var<workgroup> post_count: u32;
var<workgroup> inh_prev: u32;
var<workgroup> inh_next: atomic<u32>;
// The largest count of each phase of the current step.
const PHASES: u32 = 5u;
var<workgroup> phase_max: array<atomic<u32>, 5>;
var<workgroup> spent: u32;
var<workgroup> stop: u32;

// The end of phase p (before its barrier): the phase's largest count is kept for `spent`,
// and the count restarts. Only on a software adapter: a real GPU has no cap (its budget is
// above OVERFLOW_MARK).
fn phase_end(p: u32) {
    if (wp.iter_budget < OVERFLOW_MARK) {
        atomicMax(&phase_max[p], iters);
    }
    iters = 0u;
}

// After the barrier that follows the last phase_end of a step: invocation 0 adds the phases'
// largest counts to `spent`. Every phase ends at a barrier, so no SIMD group passed more.
fn phases_spent(l: u32) {
    if (l == 0u) {
        for (var p = 0u; p < PHASES; p = p + 1u) {
            spent = spent + atomicLoad(&phase_max[p]);
            atomicStore(&phase_max[p], 0u);
        }
        // This loop's passes.
        spent = spent + PHASES + 1u;
    }
}

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
        for (var p = 0u; p < PHASES; p = p + 1u) {
            atomicStore(&phase_max[p], 0u);
        }
        spent = PHASES + 1u;
        sh_global_left = 0u;
    }
    workgroupBarrier();
    // The input history ring into workgroup memory (see SH_SLOTS in wta_common.wgsl).
    if (use_ring) {
        iters = iters + 1u;
        for (var s = 0u; s < ds; s = s + 1u) {
            iters = iters + 2u;
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
    phase_end(0u);
    workgroupBarrier();
    iters = iters + MASKED_AT_START;
    // The arrival queues, rebuilt from the ring (see QUEUE in wta_common.wgsl).
    let queued = QUEUE && ds > 1u && wp.learn != 0u;
    if (queued) {
        let sh0 = use_ring && sh_global_left == 0u;
        iters = iters + 1u;
        for (var i = l; i < n; i = i + WG) {
            iters = iters + 1u;
            queue_rebuild(b, i, clock, sh0);
        }
    }
    // The steps loop: one pass per trip and one to leave it.
    iters = iters + 1u;
    phase_end(1u);
    workgroupBarrier();
    phases_spent(l);
    for (var k = 0u; k < wp.max_steps; k = k + 1u) {
        iters = iters + 1u;
        if (l == 0u) {
            // A network whose done flag is set (finished in an earlier round, or idle in
            // this presentation) does not run.
            stop = select(0u, 1u, t >= wp.steps_total || net[b].done != 0u
                || spent > wp.iter_budget);
        }
        iters = iters + 2u + MASKED_PER_STEP;
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
            iters = iters + 1u;
            for (var m = l; m < n_active; m = m + WG) {
                iters = iters + 1u;
                let a = active_in[b * wp.n_in + m];
                if (rng_u32(key, t, a.x) < a.y) {
                    atomicOr(&in_words[a.x / 32u], 1u << (a.x % 32u));
                }
            }
        }
        phase_end(0u);
        workgroupBarrier();
        if (l == 0u) {
            let slot = clock % ds;
            var c = 0u;
            iters = iters + 1u;
            for (var q = 0u; q < n_words_in; q = q + 1u) {
                // The trip and the inner loop's last pass.
                iters = iters + 2u;
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
        phase_end(1u);
        storageBarrier();
        workgroupBarrier();
        let inh_prev_count = inh_prev;
        let sh = use_ring && sh_global_left == 0u;
        // 2-4b. propagate, neuron stages, depression (of the arrivals propagate noted), post
        // marks: per neuron, with no barrier between them (each touches only its own column
        // and state).
        iters = iters + 1u;
        for (var i = l; i < n; i = i + WG) {
            iters = iters + 1u + MASKED_PER_NEURON;
            let flags = neuron_step(b, i, t, clock, inh_prev_count, sh);
            if ((flags & 2u) != 0u) {
                atomicAdd(&inh_next, 1u);
            }
            if ((flags & 1u) != 0u) {
                atomicOr(&exc_words[i / 32u], 1u << (i % 32u));
            }
            if (wp.learn != 0u) {
                if (ds > 1u) {
                    note_arrivals(b, i, clock, sh, queued);
                }
                depress_arrivals(b, i, clock);
                mark_post(b, i);
            }
        }
        phase_end(2u);
        storageBarrier();
        workgroupBarrier();
        // 4c. potentiation of the columns of the excitatory neurons that spiked.
        if (wp.learn != 0u) {
            if (l == 0u) {
                var c = 0u;
                iters = iters + 1u;
                for (var q = 0u; q < n_words_exc; q = q + 1u) {
                    iters = iters + 2u;
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
            phase_end(3u);
            storageBarrier();
            let n_post = workgroupUniformLoad(&post_count);
            if (n_post > 0u) {
                iters = iters + 1u;
                for (var j = l; j < wp.n_in; j = j + WG) {
                    iters = iters + 1u;
                    potentiate_row(b, j, clock, n_post);
                }
            }
        }
        t = t + 1u;
        clock = clock + 1u;
        phase_end(4u);
        storageBarrier();
        workgroupBarrier();
        phases_spent(l);
        if (l == 0u) {
            inh_prev = atomicLoad(&inh_next);
            atomicStore(&inh_next, 0u);
            if (sh_global_left > 0u) {
                sh_global_left = sh_global_left - 1u;
            }
        }
    }
    workgroupBarrier();
    if (l == 0u) {
        // Only a software adapter has the cap (its budget is below the mark); on a real GPU
        // a whole presentation runs in one dispatch and is not counted.
        if (wp.iter_budget < OVERFLOW_MARK && spent >= OVERFLOW_MARK) {
            net[b].overflow = 1u;
        }
        if (t != net[b].t) {
            net[b].dispatches = net[b].dispatches + 1u;
        }
        net[b].t = t;
        net[b].clock = clock;
        net[b].inh_count = inh_prev;
    }
}
