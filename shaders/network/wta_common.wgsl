// wta_common.wgsl: the competitive layer (model::wta): structs, bindings, and the step's
// stages as functions shared by the fused schedule (wta_fused.wgsl) and the stepwise one
// (wta_step.wgsl). Neuron stages come from neuron/stages.wgsl, weight updates from
// plasticity/stdp.wgsl; the step order is model::wta's, the same as cpu::wta::step.

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
    // Stepwise schedule: spikes of the current step, counted by ws_collect.
    inh_next: u32,
    n_post: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
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
// Arrival queues (fused schedule, input delays, QUEUE): scratch, rebuilt from `hist` at the
// start of every dispatch, see queue_rebuild.
@group(0) @binding(22) var<storage, read_write> queue: array<u32>;
// With input delays: the input each neuron receives at the coming steps, per network, slot
// (arrival step mod delay_slots) and neuron. A spike adds the weights of the step it is
// drawn (Brian 1's DelayConnection); cpu::wta's `x_ring`.
@group(0) @binding(23) var<storage, read_write> x_ring: array<f32>;

fn x_ring_at(b: u32, slot: u32, i: u32) -> u32 {
    return (b * wp.delay_slots + slot) * wp.n + i;
}

// 2. propagate, with delays: the input spikes of step `clock` add their weights of now to the
// slots of their arrival (ascending j), and the slot of now is the input arriving now.
fn propagate_ring(b: u32, i: u32, clock: u32, sh: bool) -> f32 {
    let ds = wp.delay_slots;
    let slot = clock % ds;
    let cnt = ring_count(b, slot, sh);
    let wb = w_base(b) + i;
    iters = iters + 1u;
    for (var m = 0u; m < cnt; m = m + 1u) {
        iters = iters + 1u;
        let k = wb + ring_input(b, slot, m, sh) * wp.n;
        let at = x_ring_at(b, (clock + delay_of(k)) % ds, i);
        x_ring[at] = x_ring[at] + w[k];
    }
    let now = x_ring_at(b, slot, i);
    let x = x_ring[now];
    x_ring[now] = 0.0;
    return x;
}

// The charge model of each population and the projections that target the membrane
// (model::wta::Wiring, set by gpu::wta::pipelines; the defaults are Diehl & Cook's:
// conductance LIF throughout, input and exc->inh into ge, inh->exc into gi).
const MODEL_IF: u32 = 0u;
const MODEL_LIF: u32 = 1u;
const MODEL_COND_LIF: u32 = 2u;
override EXC_MODEL: u32 = MODEL_COND_LIF;
override INH_MODEL: u32 = MODEL_COND_LIF;
override INPUT_TO_V: bool = false;
override EXC_TO_INH_TO_V: bool = false;
override INH_TO_EXC_TO_V: bool = false;

// Whether every slot has its own weights, θ, input delays and per-synapse traces
// (gpu::wta_multi: slot b's start at w_base(b) and theta_base(b)), or all slots use slot
// 0's (gpu::wta: the frozen copies of a batch share the learning network's).
override OWN_SLOTS: bool = false;

fn w_base(b: u32) -> u32 {
    return select(0u, b * wp.n_in * wp.n, OWN_SLOTS);
}

fn theta_base(b: u32) -> u32 {
    return select(0u, b * wp.n, OWN_SLOTS);
}

fn delay_of(k: u32) -> u32 {
    return (delays[k / 4u] >> (8u * (k % 4u))) & 0xffu;
}

fn hist_base(b: u32, slot: u32) -> u32 {
    return (b * wp.delay_slots + slot) * (wp.n_in + 1u);
}


// llvmpipe's loop cap counts, per SIMD group of invocations, every pass through a loop's
// header: a `for` loop of k trips costs k + 1, so an empty loop costs 1. And llvmpipe runs
// the branches a group does not take with its lanes masked off, so a loop in an untaken
// branch (even one the whole dispatch skips, like the learning code of a frozen batch) still
// costs a pass each time it is reached (tests/llvmpipe_loop_cap.rs). `iters` counts them for
// this invocation in the current phase of a fused step: one for each trip, one before each
// loop for its last pass, and MASKED_PER_NEURON / MASKED_PER_STEP for the loops of the
// branches not taken (the fused schedule's budget, see wta_fused.wgsl).
var<private> iters: u32;
// Loops in neuron_step, note_arrivals and depress_arrivals (with their callees): a bound of the
// masked passes one neuron's iteration may add (propagate 3, propagate_ring 1,
// note_queued 5, depress_column 2, depress_arrivals 1, and the second propagate 3).
const MASKED_PER_NEURON: u32 = 15u;
// Loops outside the neuron loop in the branches of one fused step (Poisson draws 1,
// excitatory listing 2, potentiation 2), and of a dispatch's start (ring copy 2, queue
// rebuild 4).
const MASKED_PER_STEP: u32 = 5u;
const MASKED_AT_START: u32 = 6u;

// Appends input j to the spike list of step `clock` (ascending j), and for the no-delay
// rule records its spike step as the presynaptic trace.
fn record_input_spike(b: u32, j: u32, c: u32, clock: u32) {
    hist[hist_base(b, clock % wp.delay_slots) + 1u + c] = j;
    if (wp.delay_slots == 1u && wp.learn != 0u) {
        last_pre[b * wp.n_in + j] = clock;
    }
}

fn set_input_count(b: u32, c: u32, clock: u32) {
    hist[hist_base(b, clock % wp.delay_slots)] = c;
}

// The fused schedule can keep a copy of the input history ring in workgroup memory: slot s's
// count in sh_cnt[s] and its first SH_CAP inputs in sh_j[s * SH_CAP ..]. It is used while
// the ring has at most SH_SLOTS slots and no slot in the window of the last delay_slots
// steps held more than SH_CAP spikes (sh_global_left counts the steps until then); otherwise,
// and in the stepwise schedule, the ring is read from `hist`. Either way the values and the
// order of the sums are the same.
// WG_RING, UNROLL4: gpu::tuning::KernelTuning::workgroup_ring and ::unroll (on for real
// GPUs, off on llvmpipe, where both measured slower).
override WG_RING: bool = true;
override UNROLL4: bool = true;
const SH_SLOTS: u32 = 32u;
const SH_CAP: u32 = 64u;
var<workgroup> sh_cnt: array<u32, 32>;
var<workgroup> sh_j: array<u32, 2048>;
var<workgroup> sh_global_left: u32;

fn ring_count(b: u32, slot: u32, sh: bool) -> u32 {
    if (sh) {
        return sh_cnt[slot];
    }
    return hist[hist_base(b, slot)];
}

fn ring_input(b: u32, slot: u32, m: u32, sh: bool) -> u32 {
    if (sh) {
        return sh_j[slot * SH_CAP + m];
    }
    return hist[hist_base(b, slot) + 1u + m];
}

// The synapses that delivered an input to this invocation's neuron in this step (weight
// indices, in propagation order), kept by propagate for depress_arrivals; arr_n counts
// them all, so arr_n > MAX_ARRIVALS means the list is incomplete.
const MAX_ARRIVALS: u32 = 32u;
var<private> arr_k: array<u32, 32>;
var<private> arr_n: u32;

// Adds synapse k's weight if it delivers now (`hit`), and notes it for depression (when
// learning).
fn arrive(x: f32, k: u32, hit: bool) -> f32 {
    if (!hit) {
        return x;
    }
    note_arrival(k);
    return x + w[k];
}

// Notes synapse k as arriving now, for depression (when learning).
fn note_arrival(k: u32) {
    if (wp.learn != 0u && arr_n < MAX_ARRIVALS) {
        arr_k[arr_n] = k;
    }
    arr_n = arr_n + 1u;
}

// Arrival queues. With input delays, learning depresses each synapse when its spike arrives,
// so each neuron must know which synapses arrive now. The scan in `propagate` reads every
// input spike of the last delay_slots steps and each one's delay to neuron i to find the few
// that arrive: about 20 times the arrivals. With QUEUE (gpu::tuning::KernelTuning::
// arrival_queue), the fused schedule instead files each input spike once, when it is drawn,
// in the queue of the step it reaches neuron i, and reads that queue then. Queue (b, slot, i) holds the inputs
// that reach neuron i of network b at the steps ≡ slot (mod delay_slots): a count word and
// up to QCAP inputs, filled from the top down, so reading upwards from the last one filed
// gives the newest emission step first (lag ascending) and, within one emission step,
// ascending j (each step files its spikes in descending j): the scan's order, so the sums
// are the same bits. A queue that overflowed (count > QCAP) is not read: that neuron scans
// at that step. Each neuron's queues are touched only by the invocation that owns the neuron,
// so they need no barrier; they are rebuilt from the history ring at the start of each
// dispatch, so they are never part of a snapshot.
override QUEUE: bool = true;
// Inputs per queue: gpu::wta::QUEUE_CAP (the host sizes the buffer with it).
override QCAP: u32 = 16u;

fn queue_row(b: u32, slot: u32, row: u32, i: u32) -> u32 {
    return ((b * wp.delay_slots + slot) * (QCAP + 1u) + row) * wp.n + i;
}

// Files input j, drawn at step `sent`, for neuron i at its arrival step.
fn queue_file(b: u32, i: u32, j: u32, sent: u32) {
    let slot = (sent + delay_of(w_base(b) + j * wp.n + i)) % wp.delay_slots;
    let at = queue_row(b, slot, 0u, i);
    let c = queue[at];
    if (c < QCAP) {
        queue[queue_row(b, slot, QCAP - c, i)] = j;
    }
    queue[at] = c + 1u;
}

// Files the input spikes of step `clock` (ring slot clock % delay_slots), descending j.
fn queue_file_step(b: u32, i: u32, clock: u32, sh: bool) {
    let slot = clock % wp.delay_slots;
    let cnt = ring_count(b, slot, sh);
    iters = iters + 1u;
    for (var m = cnt; m > 0u; m = m - 1u) {
        iters = iters + 1u;
        queue_file(b, i, ring_input(b, slot, m - 1u, sh), clock);
    }
}

// Neuron i's queues before step `clock`: every spike of the last delay_slots - 1 steps that
// has not reached i yet, filed oldest step first (what queue_file_step would have filed).
fn queue_rebuild(b: u32, i: u32, clock: u32, sh: bool) {
    let ds = wp.delay_slots;
    iters = iters + 1u;
    for (var s = 0u; s < ds; s = s + 1u) {
        iters = iters + 1u;
        queue[queue_row(b, s, 0u, i)] = 0u;
    }
    iters = iters + 1u;
    for (var lag = ds - 1u; lag > 0u; lag = lag - 1u) {
        // The trip and the inner loop's last pass.
        iters = iters + 2u;
        let sent = clock - lag;
        let slot = (clock + ds - lag) % ds;
        let cnt = ring_count(b, slot, sh);
        for (var m = cnt; m > 0u; m = m - 1u) {
            iters = iters + 1u;
            let j = ring_input(b, slot, m - 1u, sh);
            if (delay_of(w_base(b) + j * wp.n + i) >= lag) {
                queue_file(b, i, j, sent);
            }
        }
    }
}

// The synapses arriving at neuron i now, noted for depression (note_arrival), through the
// queue, or the scan where the queue overflowed. Empties the queue.
fn note_queued(b: u32, i: u32, clock: u32, sh: bool) {
    queue_file_step(b, i, clock, sh);
    let at = queue_row(b, clock % wp.delay_slots, 0u, i);
    let c = queue[at];
    queue[at] = 0u;
    if (c > QCAP) {
        // The other invocations of this SIMD group may take the loop below meanwhile.
        iters = iters + QCAP + 1u;
        _ = propagate(b, i, clock, sh);
        return;
    }
    let wb = w_base(b) + i;
    arr_n = 0u;
    iters = iters + 1u;
    for (var r = QCAP + 1u - c; r <= QCAP; r = r + 1u) {
        iters = iters + 1u;
        note_arrival(wb + queue[queue_row(b, clock % wp.delay_slots, r, i)] * wp.n);
    }
}

// 2. propagate: the input arriving at neuron i now, summed by lag, then ascending j.
// (Taking the candidates four at a time in a `loop { if .. break }` broke the largest layer
// on llvmpipe, whose loop cap counts such loops differently; loops here stay `for` loops.)
fn propagate(b: u32, i: u32, clock: u32, sh: bool) -> f32 {
    let n = wp.n;
    let wb = w_base(b);
    let ds = wp.delay_slots;
    var x = 0.0;
    arr_n = 0u;
    iters = iters + 1u;
    for (var lag = 0u; lag < ds; lag = lag + 1u) {
        iters = iters + 2u;
        let slot = (clock + ds - lag) % ds;
        let cnt = ring_count(b, slot, sh);
        if (UNROLL4) {
            // Four candidates per iteration, their delay bytes loaded before any is compared,
            // so a GPU invocation waits for memory once per four; past the end the last
            // candidate is loaded again and masked. The sum stays in candidate order.
            let last = cnt - 1u;
            for (var m = 0u; m < cnt; m = m + 4u) {
                iters = iters + 1u;
                let k0 = wb + ring_input(b, slot, m, sh) * n + i;
                let k1 = wb + ring_input(b, slot, min(m + 1u, last), sh) * n + i;
                let k2 = wb + ring_input(b, slot, min(m + 2u, last), sh) * n + i;
                let k3 = wb + ring_input(b, slot, min(m + 3u, last), sh) * n + i;
                var d = vec4<u32>(lag);
                if (ds > 1u) {
                    d = vec4<u32>(delay_of(k0), delay_of(k1), delay_of(k2), delay_of(k3));
                }
                x = arrive(x, k0, d.x == lag);
                x = arrive(x, k1, m + 1u < cnt && d.y == lag);
                x = arrive(x, k2, m + 2u < cnt && d.z == lag);
                x = arrive(x, k3, m + 3u < cnt && d.w == lag);
            }
        } else {
            for (var m = 0u; m < cnt; m = m + 1u) {
                iters = iters + 1u;
                let k = wb + ring_input(b, slot, m, sh) * n + i;
                x = arrive(x, k, ds == 1u || delay_of(k) == lag);
            }
        }
    }
    return x;
}

// The charge stage of a population: the model's charge (neuron/if.wgsl, lif.wgsl,
// cond_lif.wgsl) with x_g as its conductance input (into ge) and x_v as the membrane jump
// (mV), then the refractory clamp. IF and LIF take x_v as their input; conductance LIF takes
// x_g, then v += x_v. CPU twin: cpu::wta::pop_charge.
fn pop_charge(s: NeuronState, x_g: f32, x_v: f32, model: u32, p: NeuronParams) -> NeuronState {
    var o: NeuronState;
    if (model == MODEL_IF) {
        o = if_charge(s, x_v, p);
    } else if (model == MODEL_LIF) {
        o = lif_charge(s, x_v, p);
    } else {
        o = cond_lif_charge(s, x_g, p);
        o.v = o.v + x_v;
    }
    return clamp_refractory(s, o, p);
}

// 3. the neuron stages of excitatory neuron i and its inhibitory partner, the spike flags,
// the counts, and (learning) the post-trace decay. Returns the flags (bit 0 exc, bit 1 inh).
// `sh`: read the input ring from workgroup memory (the fused schedule; see SH_SLOTS).
// With delays the input comes from x_ring (and the fused schedule notes the arrivals for
// depression with note_arrivals).
fn neuron_step(b: u32, i: u32, t: u32, clock: u32, inh_prev_count: u32, sh: bool) -> u32 {
    let g = b * wp.n + i;
    var x: f32;
    if (wp.delay_slots == 1u) {
        x = propagate(b, i, clock, sh);
    } else {
        x = propagate_ring(b, i, clock, sh);
    }
    let flags = spk[g];
    let exc_prev = (flags & 1u) != 0u;
    let inh_prev_i = (flags & 2u) != 0u;
    let th = theta_base(b) + i;
    var e = NeuronState(v_e[g], theta[th], refrac_e[g], ge_e[g], gi_e[g]);
    // Route by target: the input into ge (x_g) or v (x_v); the lateral inhibition into gi
    // now, or subtracted from x_v.
    let lateral = wp.w_ie * f32(inh_prev_count - select(0u, 1u, inh_prev_i));
    var x_g = x;
    var x_v = 0.0;
    if (INPUT_TO_V) {
        x_g = 0.0;
        x_v = x;
    }
    if (INH_TO_EXC_TO_V) {
        x_v = x_v - lateral;
    } else {
        e.gi = e.gi + lateral;
    }
    e = pop_charge(e, x_g, x_v, EXC_MODEL, wp.exc);
    let se = fire(e, wp.exc);
    e = reset(e, se, wp.exc);
    if (wp.learn != 0u) {
        e = adapt(e, se, wp.exc);
        theta[th] = e.theta;
    }
    v_e[g] = e.v;
    ge_e[g] = e.ge;
    gi_e[g] = e.gi;
    refrac_e[g] = e.refrac;
    var h = NeuronState(v_i[g], 0.0, refrac_i[g], ge_i[g], gi_i[g]);
    let x_h = select(0.0, wp.w_ei, exc_prev);
    h = pop_charge(h, select(x_h, 0.0, EXC_TO_INH_TO_V), select(0.0, x_h, EXC_TO_INH_TO_V), INH_MODEL, wp.inh);
    let si = fire(h, wp.inh);
    h = reset(h, si, wp.inh);
    v_i[g] = h.v;
    ge_i[g] = h.ge;
    gi_i[g] = h.gi;
    refrac_i[g] = h.refrac;
    let out = select(0u, 1u, se) | select(0u, 2u, si);
    spk[g] = out;
    if (se && t < wp.steps_on) {
        counts[g] = counts[g] + 1u;
    }
    if (wp.learn != 0u) {
        var pt = post[g];
        pt.x = pt.x * wp.decay_post1;
        pt.y = pt.y * wp.decay_post2;
        if (se) {
            pt.z = pt.y;
        }
        post[g] = pt;
    }
    return out;
}

// The fused schedule, learning with delays: the synapses arriving at neuron i now, noted for
// depress_arrivals, through the arrival queues (`queued`) or the scan. (Without delays,
// propagate noted them.)
fn note_arrivals(b: u32, i: u32, clock: u32, sh: bool, queued: bool) {
    if (queued) {
        note_queued(b, i, clock, sh);
    } else {
        _ = propagate(b, i, clock, sh);
    }
}

// 4a. plasticity, depression: every input spike arriving at neuron i now (per synapse with
// delays, where the arrival becomes the synapse's presynaptic trace).
fn depress_column(b: u32, i: u32, clock: u32) {
    let n = wp.n;
    let post1 = post[b * n + i].x;
    let wb = w_base(b);
    iters = iters + 1u;
    for (var lag = 0u; lag < wp.delay_slots; lag = lag + 1u) {
        iters = iters + 2u;
        let base = hist_base(b, (clock + wp.delay_slots - lag) % wp.delay_slots);
        let cnt = hist[base];
        for (var m = 0u; m < cnt; m = m + 1u) {
            iters = iters + 1u;
            let k = wb + hist[base + 1u + m] * n + i;
            if (wp.delay_slots == 1u) {
                w[k] = on_pre(w[k], post1, wp.stdp);
            } else if (delay_of(k) == lag) {
                w[k] = on_pre(w[k], post1, wp.stdp);
                last_pre[k] = clock;
            }
        }
    }
}

// 4a, fused: depression of the synapses propagate just noted for neuron i (the same
// synapses depress_column finds, each once; it falls back to depress_column when the list
// overflowed).
fn depress_arrivals(b: u32, i: u32, clock: u32) {
    if (arr_n > MAX_ARRIVALS) {
        depress_column(b, i, clock);
        // The other invocations of this SIMD group may take the loop below meanwhile.
        iters = iters + MAX_ARRIVALS + 1u;
        return;
    }
    let post1 = post[b * wp.n + i].x;
    iters = iters + 1u;
    for (var q = 0u; q < arr_n; q = q + 1u) {
        iters = iters + 1u;
        let k = arr_k[q];
        w[k] = on_pre(w[k], post1, wp.stdp);
        if (wp.delay_slots > 1u) {
            last_pre[k] = clock;
        }
    }
}

// 4b. after depression, a spike of neuron i sets its post traces to 1.
fn mark_post(b: u32, i: u32) {
    let g = b * wp.n + i;
    if ((spk[g] & 1u) != 0u) {
        var pt = post[g];
        pt.x = 1.0;
        pt.y = 1.0;
        post[g] = pt;
    }
}

// 4c. potentiation of input j's synapses onto the n_post excitatory neurons that spiked
// (post_list), with post2 from before their spike (post.z).
fn potentiate_row(b: u32, j: u32, clock: u32, n_post: u32) {
    let n = wp.n;
    let pre_in = pre_trace(last_pre[b * wp.n_in + j], clock);
    iters = iters + 1u;
    for (var m = 0u; m < n_post; m = m + 1u) {
        iters = iters + 1u;
        let i = post_list[b * n + m];
        let idx = w_base(b) + j * n + i;
        var pre = pre_in;
        if (wp.delay_slots > 1u) {
            pre = pre_trace(last_pre[idx], clock);
        }
        w[idx] = on_post(w[idx], pre, post[b * n + i].z, wp.stdp);
    }
}
