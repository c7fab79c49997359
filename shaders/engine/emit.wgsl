// emit.wgsl: spike emission. A population's spikes of a step are one bitset per copy, 32
// neurons a word, bit l of word w being neuron 32w + l; one invocation makes one word, so
// the spike lists are ascending by construction and no atomics are needed.
// CPU twin: step 1 (sources) and the spike lists of step 4 in cpu::engine.

// Where a population's spike words go.
struct PopBits {
    // First word of the population's history in `bits`.
    base: u32,
    // History slots (longest delay of its outgoing projections + 1).
    slots: u32,
    // Words per copy: ceil(n / 32).
    words: u32,
    // Copies.
    batch: u32,
    // First word of its recording in `rec_bits`, or NONE.
    rec: u32,
    // Summaries [slot][copy][sum word] in `bits`: bit l of summary word s set where spike
    // word 32s + l may be non-zero (exact once `summarize` built the slot).
    sum: u32,
    // Summary words per copy: ceil(words / 32).
    sum_words: u32,
    // Spike lists [slot][copy][1 + 32 words] in `bits` (the count, then the neurons
    // ascending), or NONE; built by `summarize` (one summary word: at most 1,024 neurons).
    list: u32,
}

// Builds summary word s of copy b for the spikes emitted at step e, from its spike words.
// With a spike list, also lists the spikes (ascending). Counts its loop passes (at most
// one invocation per copy lists).
fn summarize(p: PopBits, e: u32, b: u32, s: u32) {
    let sc = (e % p.slots) * p.batch + b;
    let w0 = p.base + sc * p.words + s * 32u;
    let m = min(32u, p.words - s * 32u);
    var mask = 0u;
    var n = 0u;
    loop_passes = loop_passes + m + 1u;
    for (var l = 0u; l < m; l = l + 1u) {
        let word = bits[w0 + l];
        if (word != 0u) {
            mask = mask | (1u << l);
        }
        if (p.list != NONE) {
            list_word(p, e, b, s * 32u + l, word, n);
            n = n + countOneBits(word);
            loop_passes = loop_passes + countOneBits(word) + 1u;
        }
    }
    store_summary(p, e, b, s, mask, n);
}

// Writes the spikes of word w of copy b, emitted at step e, into its spike list from entry
// `at` (the spikes of the words before it): `countOneBits(word) + 1` loop passes, which the
// caller counts (`summarize`; the fused schedule lists the words of a population in
// registers as it emits them, `fused.rs`).
fn list_word(p: PopBits, e: u32, b: u32, w: u32, word: u32, at: u32) {
    let list = p.list + ((e % p.slots) * p.batch + b) * (p.words * 32u + 1u);
    var x = word;
    var n = at;
    loop {
        if (x == 0u) {
            break;
        }
        bits[list + 1u + n] = w * 32u + firstTrailingBit(x);
        n = n + 1u;
        x = x & (x - 1u);
    }
}

// Stores summary word s of copy b for step e (`mask`), and with a spike list its length `n`.
fn store_summary(p: PopBits, e: u32, b: u32, s: u32, mask: u32, n: u32) {
    let sc = (e % p.slots) * p.batch + b;
    bits[p.sum + sc * p.sum_words + s] = mask;
    if (p.list != NONE) {
        bits[p.list + sc * (p.words * 32u + 1u)] = n;
    }
}

// Stores word `w` of copy `b`, emitted at step `e`, and records it.
fn emit_word(p: PopBits, e: u32, b: u32, w: u32, word: u32) {
    bits[p.base + ((e % p.slots) * p.batch + b) * p.words + w] = word;
    if (p.rec != NONE) {
        rec_bits[p.rec + (step.row * p.batch + b) * p.words + w] = word;
    }
}

// Counts the spikes of a word: neuron 32w + l at ustate[at + l] (`at`: the count of the
// word's first neuron in this copy).
fn count_word(at: u32, word: u32) {
    var x = word;
    loop {
        if (x == 0u) {
            break;
        }
        let l = firstTrailingBit(x);
        x = x & (x - 1u);
        ustate[at + l] = ustate[at + l] + 1u;
    }
}

// Poisson neuron i of a population spikes at stream step t (the step minus the stream's
// origin) when rng_u32(key, t, i) < its threshold (thresholds of this copy at `thr`).
fn poisson_spike(t: u32, key: u32, thr: u32, i: u32) -> bool {
    let th = tab(thr + i);
    return th != 0u && rng_u32(key, t, i) < th;
}

// Poisson neurons 32w.. of a population of `n` (`poisson_spike`).
fn poisson_word(t: u32, key: u32, thr: u32, n: u32, w: u32) -> u32 {
    var word = 0u;
    let i0 = w * 32u;
    let m = min(32u, n - i0);
    for (var l = 0u; l < m; l = l + 1u) {
        if (poisson_spike(t, key, thr, i0 + l)) {
            word = word | (1u << l);
        }
    }
    return word;
}

// Given spike times: `count` (step, neuron) pairs sorted by step then neuron, steps at
// `base`, neurons at `base + count`; the word w of step t.
fn spike_times_word(base: u32, count: u32, t: u32, w: u32) -> u32 {
    let first = w * 32u;
    var lo = 0u;
    var hi = count;
    loop {
        if (lo >= hi) {
            break;
        }
        let mid = (lo + hi) / 2u;
        let s = tab(base + mid);
        if (s < t || (s == t && tab(base + count + mid) < first)) {
            lo = mid + 1u;
        } else {
            hi = mid;
        }
    }
    var word = 0u;
    loop {
        if (lo >= count || tab(base + lo) != t) {
            break;
        }
        let j = tab(base + count + lo);
        if (j >= first + 32u) {
            break;
        }
        word = word | (1u << (j - first));
        lo = lo + 1u;
    }
    return word;
}
