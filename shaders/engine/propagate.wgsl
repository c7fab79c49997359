// propagate.wgsl: one projection's input for a step, one invocation per post neuron and
// copy, in the float order of cpu::engine (step 3): every sum runs by emission step, then
// ascending pre. The post neuron owns every synapse that reaches it, so depression and the
// arrival record need no atomics. CPU twin: cpu::engine::{propagate, Plans::step}.

const DENSE: u32 = 0u;
const SPARSE: u32 = 1u;
const ONE_TO_ONE: u32 = 2u;
const TOTAL_MINUS_SELF: u32 = 3u;
const PUSH: u32 = 4u;

// How x reaches the post population's input: the first projection into a target assigns
// 0.0 ± x, the next ones add or subtract.
const X_ASSIGN_ADD: u32 = 0u;
const X_ADD: u32 = 1u;
const X_ASSIGN_SUB: u32 = 2u;
const X_SUB: u32 = 3u;

// Loop passes this invocation has made in this dispatch, counted (by the fused schedule,
// src/gpu/engine/fused.rs) against llvmpipe's cap of 65,535 per SIMD group: every count
// below is the same for all invocations of a copy (it depends on the spikes, which the
// copy's invocations share, never on the post neuron), so no SIMD group makes more passes
// than the invocation that counts most.
var<private> loop_passes: u32;

// The passes of a loop over the set bits of x, exit included (one-to-one masks its words
// per post neuron: at most one bit, counted as one).
fn bit_loop_passes(p: Proj, x: u32) -> u32 {
    if (p.kind == ONE_TO_ONE) {
        return 2u;
    }
    return countOneBits(x) + 1u;
}

// A projection's constants; generated per projection by src/gpu/engine/program.rs.
struct Proj {
    // DENSE, SPARSE (CSR rows by pre, posts ascending), ONE_TO_ONE, TOTAL_MINUS_SELF or
    // PUSH (SPARSE filed by the spikes with their post neurons: no STDP, one delay, no ring).
    kind: u32,
    n_pre: u32,
    n_post: u32,
    // Synapses (per copy).
    n_syn: u32,
    batch: u32,
    pre: PopBits,
    post: PopBits,
    // Weights of copy b at w_base + b * n_syn.
    w_base: u32,
    // CSR row offsets (n_pre + 1) and post of each synapse, in `tables`.
    row_base: u32,
    col_base: u32,
    // The most loop passes that `synapse_of` counts for one spike: SPARSE, a binary search
    // in the longest row (⌊log2 (longest + 1)⌋ + 2); 0 for the others.
    search_passes: u32,
    // Synapses of each post (n_post + 1 offsets, then synapse indices), in `tables`.
    in_base: u32,
    in_syn_base: u32,
    // The pre neuron of each of those synapses (PUSH), in `tables`, and the largest
    // in-degree.
    in_pre_base: u32,
    in_max: u32,
    // PUSH: synapses filed with each post neuron [copy][post][FILED_MAX] in ustate, their
    // counts [copy][post] in filed_counts (`filed_add`, `filed_take`).
    filed: u32,
    filed_counts: u32,
    // Per-synapse delays in `tables` (copy b's at delay_base + b * delay_stride: 0 where the
    // copies share them), or NONE for the uniform `delay`.
    delay_base: u32,
    delay: u32,
    delay_stride: u32,
    // Ring slots: longest delay + 1.
    slots: u32,
    // 1: the weight at emission (ring of future input at ring_base); 0: at arrival.
    at_emission: u32,
    ring_base: u32,
    // The post population's input for the target, and how x reaches it (X_*).
    x_base: u32,
    x_mode: u32,
    // The weight of a total-minus-self projection.
    w_all: f32,
    // STDP (plastic = 1): post1 at trace_base + b * n_post, post2 after the K copies of post1;
    // last arrivals in ustate at last_base + b * last_len (`arrival_entry`); pre-trace table
    // in `tables`.
    plastic: u32,
    trace_base: u32,
    last_base: u32,
    // All-to-all pairing (each spike adds 1 to its trace): the pre trace just after each
    // last arrival in fwork at pre_at_last_base + b * last_len; NONE for nearest-spike
    // pairing (the trace is 1 at an arrival, post1 = post2 = 1 at a post spike).
    pre_at_last_base: u32,
    // 1: last arrivals per pre neuron and delay (j * slots + d; dense with per-synapse
    // delays), recorded once per step by `arrive_buckets`; 0: per synapse, at depression.
    buckets: u32,
    // Last-arrival entries per copy.
    last_len: u32,
    // Buckets: per post neuron [copy][post] in ustate, 1 where its column may hold a weight
    // outside [w_min, w_max] (`depression_is_noop`); NONE without buckets.
    loose_base: u32,
    table_base: u32,
    table_len: u32,
    decay_post1_per_step: f32,
    decay_post2_per_step: f32,
    stdp: StdpConsts,
    // Arrival queues (src/gpu/engine/layout.rs, ArrivalQueue), all in ustate: `queue_cap`
    // synapses per post neuron and slot (0: no queues); lengths [slot][copy][post] at
    // queue_counts; synapses [slot][copy][post][cap] at queue_entries; per copy and slot,
    // the arrival step whose queues overflowed [copy][slot] at queue_overflow.
    queue_cap: u32,
    queue_counts: u32,
    queue_entries: u32,
    queue_overflow: u32,
    // The entry in ustate of its weight flag: 1 once a weight of it written on the device,
    // or checked, is NaN or infinite (`store_weight`, `check_block`).
    weight_flag: u32,
}

// Whether a weight this invocation has stored is NaN or infinite: a register, so that a
// store costs no conditional write to memory.
var<private> weight_bad: bool;

// Stores w as weight `at` (an index into wsyn), noting whether it is NaN or infinite (all
// ones in the exponent bits): a run's writes tell whether the weights it leaves are finite
// without a pass over them.
fn store_weight(at: u32, w: f32) {
    wsyn[at] = w;
    weight_bad = weight_bad || (bitcast<u32>(w) & 0x7f800000u) == 0x7f800000u;
}

// Raises p's weight flag where this invocation has stored a weight that is not finite
// since the last flush (called by the entry points after the items of a projection that
// writes weights, and by the fused schedule after them in each step, so that a projection's
// flag tells of its own weights only).
fn flush_weight_flag(p: Proj) {
    if (weight_bad) {
        ustate[p.weight_flag] = 1u;
        weight_bad = false;
    }
}

// The entry of synapse k's last arrival in copy b (offset from last_base and
// pre_at_last_base): its bucket with buckets, itself otherwise.
fn arrival_entry(p: Proj, b: u32, k: u32) -> u32 {
    if (p.buckets != 0u) {
        return b * p.last_len + (k / p.n_post) * p.slots + delay_of(p, b, k);
    }
    return b * p.last_len + k;
}

// The pre trace at step t of last-arrival entry a (0 if none; the table runs out at 0): the
// table's power, times the trace just after that arrival with all-to-all pairing. CPU
// twin: cpu::engine::trace_now.
fn trace_at(p: Proj, a: u32, t: u32) -> f32 {
    let last = ustate[p.last_base + a];
    var decay = 0.0;
    if (last != NONE && t - last < p.table_len) {
        decay = bitcast<f32>(tab(p.table_base + t - last));
    }
    if (last == NONE || p.pre_at_last_base == NONE) {
        return decay;
    }
    return fwork[p.pre_at_last_base + a] * decay;
}

// An arrival at step t of last-arrival entry a: with all-to-all pairing its trace adds 1
// to what is left of it; the step is recorded.
fn record_arrival(p: Proj, a: u32, t: u32) {
    if (p.pre_at_last_base != NONE) {
        fwork[p.pre_at_last_base + a] = trace_at(p, a, t) + 1.0;
    }
    ustate[p.last_base + a] = t;
}

// The pre trace at step t of synapse k of copy b.
fn pre_trace(p: Proj, b: u32, k: u32, t: u32) -> f32 {
    return trace_at(p, arrival_entry(p, b, k), t);
}

// Buckets (p.buckets): the spikes of the pre population emitted at t − lag arrive now at
// every synapse of delay `lag`: each records the arrival in its bucket (learning only).
// ARRIVE_SHARES invocations per copy share the work, share x taking every ARRIVE_SHARES-th
// spike (or spike word) of every lag, so no two write one bucket; the loop passes are
// counted at the share that makes most, the same for every share. ARRIVE_SHARES is
// generated (src/gpu/engine/program.rs). CPU twin: the buckets' last arrivals in
// cpu::engine (step 1).
fn arrive_buckets(p: Proj, x: u32, b: u32) {
    let t = step.t;
    loop_passes = loop_passes + p.slots + 1u;
    for (var lag = 0u; lag < p.slots; lag = lag + 1u) {
        let e = t + p.pre.slots - lag;
        let at = b * p.last_len + lag;
        if (p.pre.list != NONE) {
            let l = pre_list(p, e, b);
            let n = bits[l];
            loop_passes = loop_passes + (n + ARRIVE_SHARES - 1u) / ARRIVE_SHARES + 1u;
            for (var q = x; q < n; q = q + ARRIVE_SHARES) {
                record_arrival(p, at + bits[l + 1u + q] * p.slots, t);
            }
            continue;
        }
        let base = pre_words(p, e, b);
        let mine = (p.pre.words + ARRIVE_SHARES - 1u) / ARRIVE_SHARES;
        loop_passes = loop_passes + mine + 1u + mine * 33u;
        for (var wd = x; wd < p.pre.words; wd = wd + ARRIVE_SHARES) {
            var word = bits[base + wd];
            loop {
                if (word == 0u) {
                    break;
                }
                let j = wd * 32u + firstTrailingBit(word);
                word = word & (word - 1u);
                record_arrival(p, at + j * p.slots, t);
            }
        }
    }
}

// The spike list (count, then the neurons ascending) of the pre population's spikes
// emitted at step e, copy b.
fn pre_list(p: Proj, e: u32, b: u32) -> u32 {
    return p.pre.list + ((e % p.pre.slots) * p.batch + b) * (p.pre.words * 32u + 1u);
}

// The first word of the pre population's spikes emitted at step e, copy b.
fn pre_words(p: Proj, e: u32, b: u32) -> u32 {
    return p.pre.base + ((e % p.pre.slots) * p.batch + b) * p.pre.words;
}

// The synapse k from pre j to post i, or NONE.
fn synapse_of(p: Proj, j: u32, i: u32) -> u32 {
    if (p.kind == DENSE) {
        return j * p.n_post + i;
    }
    if (p.kind == ONE_TO_ONE) {
        return select(NONE, i, j == i);
    }
    // Binary search for post i in row j (posts ascending): at most ⌊log2 len⌋ + 2 passes.
    let end = tab(p.row_base + j + 1u);
    var lo = tab(p.row_base + j);
    var hi = end;
    let len = end - lo;
    loop_passes = loop_passes + select(1u, firstLeadingBit(len) + 2u, len > 0u);
    loop {
        if (lo >= hi) {
            break;
        }
        let mid = (lo + hi) / 2u;
        if (tab(p.col_base + mid) < i) {
            lo = mid + 1u;
        } else {
            hi = mid;
        }
    }
    if (lo < end && tab(p.col_base + lo) == i) {
        return lo;
    }
    return NONE;
}

// The delay of copy b's synapse k.
fn delay_of(p: Proj, b: u32, k: u32) -> u32 {
    if (p.delay_base == NONE) {
        return p.delay;
    }
    return tab(p.delay_base + b * p.delay_stride + k);
}

// Summary word s of the pre population's spikes emitted at step e, copy b, for post i: the
// words that may hold a spike reaching i (bit l: word 32s + l). One-to-one: word i >> 5
// alone (no summary is built for its pre population).
fn candidates(p: Proj, e: u32, b: u32, s: u32, i: u32) -> u32 {
    if (p.kind == ONE_TO_ONE) {
        let wd = i >> 5u;
        return select(0u, 1u << (wd & 31u), (wd >> 5u) == s);
    }
    return bits[p.pre.sum + ((e % p.pre.slots) * p.batch + b) * p.pre.sum_words + s];
}

// Delivery at emission: the spikes emitted now add their weights to the ring slot of their
// arrival; returns this step's slot, then clears it. With arrival queues and `learn`, each
// of these synapses is also depressed now if it arrives now (after its weight went into the
// ring, as `arrivals` would; by `post1`, post i's trace this step), or filed into the queue
// of its arrival slot.
fn deliver_at_emission(p: Proj, i: u32, b: u32, learn: bool, depress_now: bool, post1: f32) -> f32 {
    let t = step.t;
    let base = pre_words(p, t, b);
    let wb = p.w_base + b * p.n_syn;
    let queue = learn && p.queue_cap != 0u;
    for (var s = 0u; s < p.pre.sum_words; s = s + 1u) {
        var cand = candidates(p, t, b, s, i);
        loop_passes = loop_passes + 1u + bit_loop_passes(p, cand);
        loop {
            if (cand == 0u) {
                break;
            }
            let wd = s * 32u + firstTrailingBit(cand);
            cand = cand & (cand - 1u);
            var word = bits[base + wd];
            loop_passes = loop_passes + bit_loop_passes(p, word);
            if (p.kind == ONE_TO_ONE) {
                word = word & (1u << (i & 31u));
            }
            loop {
                if (word == 0u) {
                    break;
                }
                let j = wd * 32u + firstTrailingBit(word);
                word = word & (word - 1u);
                let k = synapse_of(p, j, i);
                if (k != NONE) {
                    let d = delay_of(p, b, k);
                    let slot = (t + d) % p.slots;
                    let at = p.ring_base + (slot * p.batch + b) * p.n_post + i;
                    fwork[at] = fwork[at] + wsyn[wb + k];
                    if (queue) {
                        if (d == 0u) {
                            if (depress_now) {
                                depress(p, b, k, post1);
                            }
                        } else {
                            enqueue(p, b, i, k, slot, t + d);
                        }
                    }
                }
            }
        }
    }
    loop_passes = loop_passes + 1u;
    let now = p.ring_base + ((t % p.slots) * p.batch + b) * p.n_post + i;
    let x = fwork[now];
    fwork[now] = 0.0;
    return x;
}

// Files synapse k of post i, which arrives at step `arrival`, into the queue of its slot;
// past the queue's capacity, marks the slot's arrival step as overflowed instead (every
// post neuron of the copy that overflows marks the same step).
fn enqueue(p: Proj, b: u32, i: u32, k: u32, slot: u32, arrival: u32) {
    let cell = (slot * p.batch + b) * p.n_post + i;
    let n = ustate[p.queue_counts + cell];
    if (n < p.queue_cap) {
        ustate[p.queue_entries + cell * p.queue_cap + n] = k;
        ustate[p.queue_counts + cell] = n + 1u;
    } else {
        ustate[p.queue_overflow + b * p.slots + slot] = arrival;
    }
}

// Depression at arrival of the synapses of post i that its queue holds for this step, or,
// where a queue of this slot overflowed in copy b, of every synapse that a spike of the
// delay window brings now (lags from 1: the spikes of this step were seen at emission), by
// `post1`, post i's trace this step; none unless `depress_now` (the loop passes are
// counted alike, so that every invocation of a copy counts the same). Empties the queue.
fn queue_arrivals(p: Proj, i: u32, b: u32, depress_now: bool, post1: f32) {
    let t = step.t;
    let slot = t % p.slots;
    let cell = (slot * p.batch + b) * p.n_post + i;
    let n = ustate[p.queue_counts + cell];
    ustate[p.queue_counts + cell] = 0u;
    if (ustate[p.queue_overflow + b * p.slots + slot] == t) {
        _ = arrivals(p, i, b, false, depress_now, 1u, post1);
        return;
    }
    // The capacity, not the length: a count that is the same for all of the copy's
    // invocations.
    loop_passes = loop_passes + p.queue_cap + 1u;
    if (!depress_now) {
        return;
    }
    let at = p.queue_entries + cell * p.queue_cap;
    for (var q = 0u; q < n; q = q + 1u) {
        depress(p, b, ustate[at + q], post1);
    }
}

// The loop passes that one post neuron's `queue_arrivals` makes at step t in copy b beyond
// its queue's where the queues of t's slot overflowed (the check of the delay window, from
// the spike lists of its steps, all emitted before t), else 0. Under the fused schedule
// (src/gpu/engine/fused.rs) the kernel adds them to a step's worst case before the step,
// and counts this function's own loop (`p.slots` passes at most) in the step's.
fn overflow_passes(p: Proj, b: u32, t: u32) -> u32 {
    if (p.queue_cap == 0u || ustate[p.queue_overflow + b * p.slots + t % p.slots] != t) {
        return 0u;
    }
    var n = 1u;
    for (var lag = 1u; lag < p.slots; lag = lag + 1u) {
        // Each spike: a pass of the list's loop and its synapse's search.
        n = n + 2u + bits[pre_list(p, t + p.pre.slots - lag, b)] * (1u + p.search_passes);
    }
    return n;
}

// The synapses arriving now, by lag ascending from `first_lag` (per-synapse delays), then
// ascending pre: with `sum`, returns Σ w (the weights of this step, for delivery at
// arrival); with `learn`, each then gets depression by `post1` (post i's trace this step)
// and records its arrival (and, with all-to-all pairing, adds 1 to its trace).
fn arrivals(p: Proj, i: u32, b: u32, sum: bool, learn: bool, first_lag: u32, post1: f32) -> f32 {
    let t = step.t;
    let wb = p.w_base + b * p.n_syn;
    var lag0 = first_lag;
    var lag1 = p.slots;
    if (p.delay_base == NONE) {
        lag0 = p.delay;
        lag1 = p.delay + 1u;
    }
    var x = 0.0;
    for (var lag = lag0; lag < lag1; lag = lag + 1u) {
        let e = t + p.pre.slots - lag;
        loop_passes = loop_passes + 2u;
        if (p.pre.list != NONE) {
            // The spike list of step e, ascending.
            let at = pre_list(p, e, b);
            let n = bits[at];
            loop_passes = loop_passes + n;
            for (var q = 0u; q < n; q = q + 1u) {
                arrive(p, i, b, bits[at + 1u + q], lag, post1, sum, learn, &x);
            }
            continue;
        }
        let base = pre_words(p, e, b);
        for (var s = 0u; s < p.pre.sum_words; s = s + 1u) {
            var cand = candidates(p, e, b, s, i);
            loop_passes = loop_passes + 1u + bit_loop_passes(p, cand);
            loop {
                if (cand == 0u) {
                    break;
                }
                let wd = s * 32u + firstTrailingBit(cand);
                cand = cand & (cand - 1u);
                var word = bits[base + wd];
                loop_passes = loop_passes + bit_loop_passes(p, word);
                if (p.kind == ONE_TO_ONE) {
                    word = word & (1u << (i & 31u));
                }
                loop {
                    if (word == 0u) {
                        break;
                    }
                    let j = wd * 32u + firstTrailingBit(word);
                    word = word & (word - 1u);
                    arrive(p, i, b, j, lag, post1, sum, learn, &x);
                }
            }
        }
    }
    loop_passes = loop_passes + 1u;
    return x;
}

// Pre j's spike at post i if its synapse's delay is `lag`: with `sum`, adds its weight to
// *x; with `learn`, depression and its arrival (see `arrivals`).
fn arrive(p: Proj, i: u32, b: u32, j: u32, lag: u32, post1: f32, sum: bool, learn: bool, x: ptr<function, f32>) {
    let k = synapse_of(p, j, i);
    if (k == NONE || delay_of(p, b, k) != lag) {
        return;
    }
    if (sum) {
        *x = *x + wsyn[p.w_base + b * p.n_syn + k];
    }
    if (learn) {
        depress(p, b, k, post1);
    }
}

// Whether every depression of post i in copy b this step leaves its weight as it is, so
// that a projection with buckets (which records arrivals on its own) may skip them: the
// weight-dependent rule does not depress; the others subtract ν_pre · post1, which once
// it is 0 (post1 decays to 0 between the post neuron's spikes: about 95 % of the post
// neurons of a winner-take-all layer at any step) leaves each weight inside
// [w_min, w_max] unchanged, and a column that may hold another is marked loose. The same
// test as the CPU twin's, cpu::engine::depression (the depression queue): the product
// compared with 0.0, a weight below w_min or above w_max loose (not a NaN).
fn depression_is_noop(p: Proj, b: u32, i: u32, post1: f32) -> bool {
    if (p.buckets == 0u) {
        return false;
    }
    if (p.stdp.rule == 2u) {
        return true;
    }
    return p.stdp.nu_pre * post1 == 0.0 && ustate[p.loose_base + b * p.n_post + i] == 0u;
}

// Synapse k of copy b receives a spike now: depression by the post trace `post1`, and,
// without buckets, its arrival is recorded (with all-to-all pairing, its trace adds 1).
fn depress(p: Proj, b: u32, k: u32, post1: f32) {
    let w = p.w_base + b * p.n_syn + k;
    store_weight(w, on_pre(wsyn[w], post1, p.stdp));
    if (p.buckets == 0u) {
        record_arrival(p, arrival_entry(p, b, k), step.t);
    }
}

// Total minus self: w · (spikes arriving − [i among them]); the count of the spikes from
// the pre population's spike list where it has one (summarize, emit.wgsl), else from its
// words.
fn total_minus_self(p: Proj, i: u32, b: u32) -> f32 {
    let e = step.t + p.pre.slots - p.delay;
    let base = pre_words(p, e, b);
    var count = 0u;
    if (p.pre.list != NONE) {
        count = bits[pre_list(p, e, b)];
    } else {
        loop_passes = loop_passes + p.pre.words + 1u;
        for (var wd = 0u; wd < p.pre.words; wd = wd + 1u) {
            count = count + countOneBits(bits[base + wd]);
        }
    }
    let own = (bits[base + (i >> 5u)] >> (i & 31u)) & 1u;
    return p.w_all * f32(count - own);
}

// Gather: the synapses reaching post i, ascending pre, each adding its weight when its pre
// spike of step t − delay arrives now; as many loop passes as the in-degree, whatever the
// spike count (counted by the caller).
fn gather(p: Proj, i: u32, b: u32) -> f32 {
    let base = pre_words(p, step.t + p.pre.slots - p.delay, b);
    let wb = p.w_base + b * p.n_syn;
    let first = tab(p.in_base + i);
    let n = tab(p.in_base + i + 1u) - first;
    var x = 0.0;
    for (var r = 0u; r < n; r = r + 1u) {
        let j = tab(p.in_pre_base + first + r);
        if (((bits[base + (j >> 5u)] >> (j & 31u)) & 1u) != 0u) {
            x = x + wsyn[wb + tab(p.in_syn_base + first + r)];
        }
    }
    return x;
}

// Push: FILED_MAX (generated, src/gpu/engine/layout.rs) synapses filed with one post neuron
// in a step it sorts and sums; one filed more walks its synapses (`gather`). SORT_PASSES
// (generated) bounds the loop passes of the sort and the sum. CPU twin of the order:
// cpu::engine::propagate.

// Word w of the pre population's spikes that arrive now (emitted at t − delay), copy b:
// each spike files its synapses with their post neurons, in any order (atomic counts); a
// post neuron keeps the first FILED_MAX. Loop passes: at most 33 + 32 · (longest row + 1).
fn push_word(p: Proj, w: u32, b: u32) {
    var word = bits[pre_words(p, step.t + p.pre.slots - p.delay, b) + w];
    loop {
        if (word == 0u) {
            break;
        }
        let j = w * 32u + firstTrailingBit(word);
        word = word & (word - 1u);
        let end = tab(p.row_base + j + 1u);
        for (var k = tab(p.row_base + j); k < end; k = k + 1u) {
            let c = b * p.n_post + tab(p.col_base + k);
            let n = filed_add(p.filed_counts + c);
            if (n < FILED_MAX) {
                ustate[p.filed + c * FILED_MAX + n] = k;
            }
        }
    }
}

// Push: post i's input, the weights of the synapses filed with it in ascending synapse
// order, which is ascending pre (CSR rows by pre), as gather's and the CPU's sum; resets
// its count. Every invocation counts the gather's passes and the sort's: a SIMD group whose
// lanes take both runs both.
fn pushed(p: Proj, i: u32, b: u32) -> f32 {
    let c = b * p.n_post + i;
    let n = filed_take(p.filed_counts + c);
    loop_passes = loop_passes + p.in_max + 1u + SORT_PASSES;
    if (n > FILED_MAX) {
        return gather(p, i, b);
    }
    // Insertion sort of the few filed synapses.
    var keys: array<u32, FILED_MAX>;
    let at = p.filed + c * FILED_MAX;
    for (var a = 0u; a < n; a = a + 1u) {
        let key = ustate[at + a];
        var z = a;
        loop {
            if (z == 0u || keys[z - 1u] < key) {
                break;
            }
            keys[z] = keys[z - 1u];
            z = z - 1u;
        }
        keys[z] = key;
    }
    let wb = p.w_base + b * p.n_syn;
    var x = 0.0;
    for (var a = 0u; a < n; a = a + 1u) {
        x = x + wsyn[wb + keys[a]];
    }
    return x;
}

// The whole step of projection p for post i of copy b.
fn propagate(p: Proj, i: u32, b: u32) {
    let learn = p.plastic != 0u && step.learn != 0u;
    // post1 after this step's decay: what every depression of this step reads.
    var post1 = 0.0;
    if (learn) {
        let a1 = p.trace_base + b * p.n_post + i;
        let a2 = a1 + p.batch * p.n_post;
        post1 = fwork[a1] * p.decay_post1_per_step;
        fwork[a1] = post1;
        fwork[a2] = fwork[a2] * p.decay_post2_per_step;
    }
    // Depressions this step (learning, unless they are no-ops).
    let depress_now = learn && !depression_is_noop(p, b, i, post1);
    var x: f32;
    if (p.kind == TOTAL_MINUS_SELF) {
        x = total_minus_self(p, i, b);
    } else if (p.kind == PUSH) {
        x = pushed(p, i, b);
    } else if (p.at_emission != 0u) {
        x = deliver_at_emission(p, i, b, learn, depress_now, post1);
        if (p.queue_cap != 0u && learn) {
            queue_arrivals(p, i, b, depress_now, post1);
        } else if (learn) {
            // The window's check whether or not it depresses: the same loop passes.
            _ = arrivals(p, i, b, false, depress_now, 0u, post1);
        }
    } else {
        x = arrivals(p, i, b, true, depress_now, 0u, post1);
    }
    let at = p.x_base + b * p.n_post + i;
    switch p.x_mode {
        case 0u: {
            fwork[at] = 0.0 + x;
        }
        case 1u: {
            fwork[at] = fwork[at] + x;
        }
        case 2u: {
            fwork[at] = 0.0 - x;
        }
        default: {
            fwork[at] = fwork[at] - x;
        }
    }
}
