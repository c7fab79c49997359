//! Program composition of the general GPU engine: the generated part of its WGSL module,
//! one entry point per pass of a step, built from a [`Layout`].
//!
//! The passes call the shared stage functions (`shaders/neuron/*`: `if_charge`,
//! `lif_charge`, `cond_lif_charge`, `clamp_refractory`, `fire`, `reset`, `adapt`;
//! `shaders/plasticity/stdp.wgsl`; `shaders/engine/*`) with constants baked per population
//! and projection: sizes and offsets as `u32` literals, parameters as exact hex floats
//! ([`f32_lit`]). A schedule is a list of these passes; the passes schedule dispatches each
//! on its own, and the fused schedule (`super::fused`) calls each pass's item function
//! (`<entry>_word` or `<entry>_item`, which the entry point calls once) inside one loop
//! over steps.
//!
//! | entry point | one invocation per | does |
//! |---|---|---|
//! | `source_<p>` | word of 32 neurons, copy | Poisson draws or given spike times of step t |
//! | `summarize_<p>` | 32 words, copy | which spike words of step t are not zero; the spike list (under the fused schedule a population in registers is listed as it is emitted instead, `fused.rs`) |
//! | `push_<q>` | pre spike word, copy | files the arriving spikes' synapses with their post neurons (pushed projections) |
//! | `propagate_<q>` | post neuron, copy | trace decay, input (`propagate.wgsl`), depression |
//! | `arrive_<q>` | share of the spikes, copy | the last arrivals of a projection with buckets (learning) |
//! | `neurons_<p>` | word of 32 neurons, copy | charge, fire, reset, adapt; spike word |
//! | `monitor_state` | state monitor slot, copy | records a variable |
//! | `potentiate_<q>` | post neuron, copy | potentiation at a post spike |
//! | `normalize_sum_<q>`, `normalize_scale_<q>` | block of `NORM_BLOCK` synapses of a post neuron, copy | column normalisation: the blocks' sums, then the scaling (not per step) |
//! | `check_<q>` | block of `NORM_BLOCK` synapses of a post neuron, copy | flags a weight that is not finite (not per step; a run that starts from finite weights is checked by the flag its weight stores raise, `store_weight`) |
//! | `scale_state`, `scale_mark` | neuron, copy; copy | a state variable of every copy times a factor, once per run (a presentation's decay) |

use super::layout::{
    Layout, PopBits, PopRegions, ProjKind, ProjLayout, FILED_MAX, NEVER, SERIES_STALLED,
};
use crate::gpu::layout::NeuronParams;
use crate::gpu::shaders::{engine_module, f32_lit, ComposedModule};
use crate::model::net::NORM_BLOCK;
use crate::model::stdp::StdpRule;
use crate::model::NeuronKind;
use std::fmt::Write;

/// What one pass is: its entry point and how many invocations it needs per copy.
#[derive(Debug, Clone)]
pub(crate) struct PassSpec {
    pub entry: String,
    /// The function `fn(x: u32, b: u32)` that does the work of invocation `x` of copy `b`
    /// (the entry point calls it once; the fused schedule loops over it).
    pub item: String,
    /// Where the pass stands in a step (the fused schedule puts a barrier between phases).
    pub phase: Phase,
    pub invocations: u32,
    /// Runs only while learning is on.
    pub learn_only: bool,
    /// The most loop passes one invocation can make (every loop header counted, all pre
    /// neurons spiking at once): what llvmpipe's loop cap is checked against.
    pub max_loop_passes: u64,
    /// Where it differs, the same under the fused schedule: there a check of the delay
    /// window after arrival queues overflowed is counted by the kernel when it knows of it
    /// (`overflow_passes`, `propagate.wgsl`).
    pub fused_loop_passes: Option<u64>,
    /// A neuron population's pass or a Poisson source: what the fused schedule needs to
    /// run it one neuron per invocation.
    pub neurons: Option<NeuronPass>,
    /// A potentiation pass: its post population (the fused schedule skips the pass on a
    /// step in which that population did not spike).
    pub post: Option<usize>,
    /// A summary pass of a population with a spike list: the population (the fused
    /// schedule lists a population in registers as it emits its words, and drops the pass).
    pub summarizes: Option<usize>,
    /// A pass of the propagation phase whose writes the neuron stages read, if at all, only
    /// at the item's own index: propagation (item `x` writes the input of post neuron `x`,
    /// besides the post's own traces, ring, queues and weight column), the buckets' arrivals
    /// (nothing a neuron stage reads). Where every pass of that phase is so and every neuron
    /// stage runs in registers at its neuron's own invocation, the fused schedule needs no
    /// storage barrier between propagation and the neurons (`fused.rs`).
    pub neuron_private: bool,
    /// The projection whose weights its items store (depression in its propagation,
    /// potentiation): its weight flag is raised after them where one is not finite
    /// (`flush_weight_flag`).
    pub flush: Option<usize>,
}

impl PassSpec {
    /// Pass `entry` of `invocations` per copy, whose item is `<entry>_<item>`, that runs
    /// whether or not learning is on; the other fields none.
    fn new(
        entry: String,
        item: &str,
        phase: Phase,
        invocations: u32,
        max_loop_passes: u64,
    ) -> Self {
        PassSpec {
            item: format!("{entry}_{item}"),
            entry,
            phase,
            invocations,
            learn_only: false,
            max_loop_passes,
            fused_loop_passes: None,
            neurons: None,
            post: None,
            summarizes: None,
            neuron_private: false,
            flush: None,
        }
    }
}

/// A population's pass one neuron at a time. Neurons: `neurons_<pop>_load(i)`,
/// `neurons_<pop>_next(state, i)` and `neurons_<pop>_store(i, state)` for neuron
/// `i = b · n + neuron`. Poisson sources (`poisson`): `source_<pop>_stream(b)` and
/// `source_<pop>_next(stream, neuron, b)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NeuronPass {
    pub pop: usize,
    /// Neurons per copy.
    pub n: u32,
    /// Spike words per copy.
    pub words: u32,
    /// A Poisson source (no state), not a neuron population.
    pub poisson: bool,
}

/// The phases of a step: every pass of a phase reads only what earlier phases wrote (or
/// what its own invocation wrote), so passes of one phase need no barrier between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Poisson draws and given spike times of step t.
    Sources,
    /// The summaries of the spike words of step t (`summarize` in `emit.wgsl`) of every
    /// population that a dense or sparse projection scans.
    Summaries,
    /// Pushed projections file the synapses of the spikes arriving now with their post
    /// neurons (`push_<q>`, per pre spike word).
    Push,
    /// Propagation, trace decay and depression, per post neuron.
    Propagation,
    /// The neuron stages and the spike words of step t + 1.
    Neurons,
    /// State monitors (after the neurons; they read the state).
    After,
    /// Potentiation (after the neurons; writes weights and post traces). Besides its item
    /// function, `<entry>_shared(l, b)` (a workgroup's invocations `l` share each spiking
    /// post neuron's synapses) and `<entry>_traces(i, b)` (the post traces, after a barrier)
    /// do its work under the fused schedule.
    Potentiation,
    /// Not part of a step (normalisation).
    Between,
}

/// The passes of one step, in order (sources, projections, populations, state monitors,
/// potentiation), and the per-projection normalisation passes.
#[derive(Debug, Clone)]
pub(crate) struct Program {
    pub module: ComposedModule,
    /// The generated part of the module (what the fused schedule's module shares).
    pub generated: String,
    pub step: Vec<PassSpec>,
    /// `normalize_sum_<q>` and `normalize_scale_<q>` per projection (`None` for total
    /// minus self).
    pub normalize: Vec<Option<[PassSpec; 2]>>,
    /// `check_<q>` per projection (`None` for total minus self): flags a weight that is
    /// not finite.
    pub check: Vec<Option<PassSpec>>,
    /// The fused schedule's progress words in `ustate` (`Layout::ctl`) and the copies.
    pub ctl: u32,
    /// A series' stop word in `ustate` (`Layout::series_stop`).
    pub stop: u32,
    pub batch: u32,
    /// The projections with arrival queues: their index and longest delay + 1.
    pub queues: Vec<(usize, u32)>,
}

fn u(x: u32) -> String {
    format!("{x}u")
}

/// Writes entry point `name`, one invocation per item `x < bound` and copy `b = gid.y`, and
/// its item `{name}_item(x, b)` (which the fused schedule calls), whose body is `item`: the
/// entry returns at once where `guard` holds (a WGSL condition), and with `flush` raises
/// projection `flush`'s weight flag after its item (`flush_weight_flag`).
fn write_entry(
    g: &mut String,
    name: &str,
    item: &str,
    bound: &str,
    guard: Option<&str>,
    flush: Option<usize>,
) {
    let guard = guard.map_or(String::new(), |c| format!(" || {c}"));
    let flush = flush.map_or(String::new(), |q| {
        format!("\n    flush_weight_flag(proj_{q}());")
    });
    let _ = writeln!(
        g,
        "fn {name}_item(x: u32, b: u32) {{\n    {item};\n}}\n@compute @workgroup_size(WG)\nfn {name}(@builtin(global_invocation_id) gid: vec3<u32>) {{\n    if (gid.x >= {bound}{guard}) {{\n        return;\n    }}\n    {name}_item(gid.x, gid.y);{flush}\n}}"
    );
}

fn pop_bits(b: &PopBits, batch: u32) -> String {
    format!(
        "PopBits({}, {}, {}, {}, {}, {}, {}, {})",
        u(b.base),
        u(b.slots),
        u(b.words),
        u(batch),
        u(b.rec.unwrap_or(u32::MAX)),
        u(b.sum),
        u(b.sum_words),
        u(b.list.unwrap_or(u32::MAX))
    )
}

/// `NeuronParams(...)` of `common.wgsl`: the model constants.
fn neuron_params(p: &NeuronParams) -> String {
    let f = |x: f32| f32_lit(x);
    [
        u(p.reset_soft),
        f(p.v_threshold_mv),
        f(p.v_reset_mv),
        u(p.refractory_steps),
        u(p.clamp_above_steps),
        u(p.theta_frozen),
        f(p.v_rest_mv),
        f(p.decay_v_per_step),
        f(p.dt_over_tau_m),
        f(p.decay_ge_per_step),
        f(p.decay_gi_per_step),
        f(p.e_exc_mv),
        f(p.e_inh_mv),
        f(p.theta_plus_mv),
        f(p.decay_theta_per_step),
        u(p.clamp_v),
    ]
    .join(", ")
}

fn proj_literal(l: &Layout, q: usize, p: &ProjLayout) -> String {
    let f = |x: f32| f32_lit(x);
    let (plastic, traces, last, pre_at_last, table, table_len, d1, d2, stdp) = match &p.stdp {
        None => (
            0,
            0,
            0,
            u32::MAX,
            0,
            0,
            1.0,
            1.0,
            "StdpConsts(0u, 0.0f, 0.0f, 0.0f, 1.0f, 0.0f, 0.0f, 0u)".to_string(),
        ),
        Some(s) => {
            let (rule, x_tar, mu) = match s.params.rule {
                StdpRule::Triplet => (0, 0.0, 1.0),
                // All-to-all pairing has the pair rule's updates; its traces add up
                // (`pre_at_last_base` is set).
                StdpRule::Pair | StdpRule::PairAllToAll => (1, 0.0, 1.0),
                StdpRule::WeightDependent { x_tar, mu } => (2, x_tar, mu),
            };
            (
                1,
                s.traces,
                s.last,
                s.pre_at_last,
                s.table,
                s.table_len,
                s.derived.decay_post1_per_step,
                s.derived.decay_post2_per_step,
                format!(
                    "StdpConsts({}, {}, {}, {}, {}, {}, {}, 0u)",
                    u(rule),
                    f(s.params.nu_pre),
                    f(s.params.nu_post),
                    f(x_tar),
                    f(mu),
                    f(p.w_min),
                    f(p.w_max)
                ),
            )
        }
    };
    let w_all = match p.kind {
        ProjKind::TotalMinusSelf(w) => w,
        _ => 0.0,
    };
    // The largest in-degree (push counts it for every post neuron: a uniform count).
    let in_max = match p.kind {
        ProjKind::Push => p.in_max,
        _ => 0,
    };
    let fields = [
        u(p.kind.code()),
        u(p.syn.n_pre),
        u(p.syn.n_post),
        u(p.n_syn()),
        u(l.batch),
        pop_bits(&l.pops[p.pre].bits, l.batch),
        pop_bits(&l.pops[p.post].bits, l.batch),
        u(p.w),
        u(p.rows),
        u(p.cols),
        u(search_passes(p) as u32),
        u(p.in_rows),
        u(p.in_syn),
        u(p.in_pre),
        u(in_max),
        u(p.filed),
        u(p.filed_counts),
        u(p.delays.unwrap_or(u32::MAX)),
        u(p.delay),
        u(p.delay_stride),
        u(p.slots),
        u(p.at_emission as u32),
        u(p.ring),
        u(p.x),
        u(p.x_mode),
        f(w_all),
        u(plastic),
        u(traces),
        u(last),
        u(pre_at_last),
        u(p.stdp.as_ref().map_or(0, |s| s.buckets as u32)),
        u(p.stdp.as_ref().map_or(0, |s| s.last_len)),
        u(p.stdp.as_ref().map_or(u32::MAX, |s| s.loose)),
        u(table),
        u(table_len),
        f(d1),
        f(d2),
        stdp,
        u(p.queue.map_or(0, |q| q.cap)),
        u(p.queue.map_or(0, |q| q.counts)),
        u(p.queue.map_or(0, |q| q.entries)),
        u(p.queue.map_or(0, |q| q.overflow)),
        u(l.weight_flag(q)),
    ];
    format!("Proj({})", fields.join(", "))
}

/// The most loop passes that `synapse_of` (`propagate.wgsl`) counts for one spike of `p`:
/// for a sparse projection a binary search in its longest row, else none.
fn search_passes(p: &ProjLayout) -> u64 {
    match p.kind {
        ProjKind::Sparse => (p.syn.longest_row() as u64 + 1).ilog2() as u64 + 2,
        _ => 0,
    }
}

/// The most loop passes of one invocation of projection `p`'s propagation pass (and the
/// same under the fused schedule, without an overflowed queue's check of the delay window)
/// and of a pass over the synapses of one post neuron (potentiation; normalisation makes
/// two).
fn loop_passes(l: &Layout, p: &ProjLayout) -> (u64, u64, u64) {
    let words = l.pops[p.pre].bits.words as u64;
    let sum_words = l.pops[p.pre].bits.sum_words as u64;
    let n_pre = p.syn.n_pre as u64;
    let search = search_passes(p);
    // The summary loop, the candidate-word loop of each summary word, the bit loop of each
    // word, the search of each spike.
    let walk = 2 * sum_words + 1 + 2 * words + n_pre * (1 + search);
    let lags = if p.delays.is_some() {
        p.slots as u64
    } else {
        1
    };
    let arrivals = lags * walk + lags + 1;
    let in_degree = p.in_max as u64;
    let prop = match (p.kind, p.at_emission) {
        (ProjKind::TotalMinusSelf(_), _) if l.pops[p.pre].bits.list.is_some() => 0,
        (ProjKind::TotalMinusSelf(_), _) => words + 1,
        (ProjKind::Push, _) => in_degree + 1 + SORT_PASSES,
        (_, true) => walk + if p.stdp.is_some() { arrivals } else { 0 },
        (_, false) => arrivals,
    };
    // With queues: the queue's loop (its capacity) or the window's check.
    let (prop, fused) = match p.queue {
        Some(q) => (prop + q.cap as u64 + 1, walk + q.cap as u64 + 1),
        None => (prop, prop),
    };
    (prop, fused, in_degree + 1)
}

/// Invocations per copy that share the last arrivals of a projection with buckets
/// (`arrive_buckets` in `propagate.wgsl`, which reads it as a generated constant).
const ARRIVE_SHARES: u32 = 8;

/// The binding of `filed_counts` (atomic), where a projection is pushed.
pub(crate) const FILED_COUNTS_BINDING: u32 = 9;

/// The first binding of the tables' parts after the first (`tables`, binding 6).
pub(crate) const TABLE_PART_BINDING: u32 = 10;

/// The most loop passes of a pushed post neuron's sort and sum (`pushed` in
/// `propagate.wgsl`, which reads it as a generated constant): the filed loop, the insertion
/// loop of each filed synapse, and the sum.
const SORT_PASSES: u64 = 2 * (FILED_MAX as u64 + 1) + FILED_MAX as u64 * (FILED_MAX as u64 + 1) / 2;

/// `filed_add(c)` and `filed_take(c)`, the atomic counts of pushed projections
/// (`propagate.wgsl`): the binding where a projection is pushed, else functions that are
/// never called.
fn filed_counts(g: &mut String, len: u64) {
    if len == 0 {
        g.push_str("fn filed_add(c: u32) -> u32 {\n    return 0u;\n}\nfn filed_take(c: u32) -> u32 {\n    return 0u;\n}\n");
        return;
    }
    let _ = writeln!(
        g,
        "@group(0) @binding({FILED_COUNTS_BINDING}) var<storage, read_write> filed_counts: array<atomic<u32>>;\n\
         fn filed_add(c: u32) -> u32 {{\n    return atomicAdd(&filed_counts[c], 1u);\n}}\n\
         fn filed_take(c: u32) -> u32 {{\n    return atomicExchange(&filed_counts[c], 0u);\n}}"
    );
}

/// `tab(i)`, the read of entry `i` of the tables, from the binding of its part: `tables`
/// alone, or `tables_<n>` (binding `TABLE_PART_BINDING + n - 1`) for the part that starts
/// at `parts[n]`.
fn table_access(g: &mut String, parts: &[u32]) {
    for n in 1..parts.len() {
        let _ = writeln!(
            g,
            "@group(0) @binding({}) var<storage, read> tables_{n}: array<u32>;",
            TABLE_PART_BINDING + n as u32 - 1
        );
    }
    let _ = writeln!(g, "fn tab(i: u32) -> u32 {{");
    for n in (1..parts.len()).rev() {
        let _ = writeln!(
            g,
            "    if (i >= {}) {{\n        return tables_{n}[i - {}];\n    }}",
            u(parts[n]),
            u(parts[n])
        );
    }
    let _ = writeln!(g, "    return tables[i];\n}}");
}

/// Composes the module of the network laid out as `l`.
pub(crate) fn compose(l: &Layout) -> Program {
    let mut g =
        String::from("// ---- generated by src/gpu/engine/program.rs for this network ----\n");
    let _ = writeln!(g, "override WG: u32 = 64u;");
    table_access(&mut g, &l.table_parts);
    filed_counts(&mut g, l.counts_len);
    let _ = writeln!(
        g,
        "const FILED_MAX: u32 = {FILED_MAX}u;\nconst SORT_PASSES: u32 = {SORT_PASSES}u;\n\
         const ARRIVE_SHARES: u32 = {ARRIVE_SHARES}u;\nconst NORM_BLOCK: u32 = {NORM_BLOCK}u;"
    );
    g.push_str("struct NeuronState {\n    v: f32,\n    theta: f32,\n    refrac: u32,\n    ge: f32,\n    gi: f32,\n");
    for v in &l.custom_vars {
        let _ = writeln!(g, "    {v}: f32,");
    }
    g.push_str("}\n// One neuron's step: its new state and whether it spiked.\nstruct Fired {\n    s: NeuronState,\n    spike: bool,\n}\n");
    let mut step = vec![];
    let mut neuron_passes = vec![];
    for (pi, pop) in l.pops.iter().enumerate() {
        let n = pop.size;
        let words = pop.bits.words;
        let _ = writeln!(
            g,
            "fn bits_{pi}() -> PopBits {{\n    return {};\n}}",
            pop_bits(&pop.bits, l.batch)
        );
        // `<name>_word(w, b)` makes word w of copy b (what a fused schedule would loop over);
        // the entry point `<name>` runs it once per invocation.
        let head = |g: &mut String, name: &str| {
            let _ = writeln!(g, "fn {name}_word(w: u32, b: u32) {{");
        };
        let word_entry = |g: &mut String, name: &str| {
            let _ = writeln!(
                g,
                "@compute @workgroup_size(WG)\nfn {name}(@builtin(global_invocation_id) gid: vec3<u32>) {{\n    if (gid.x >= {}) {{\n        return;\n    }}\n    {name}_word(gid.x, gid.y);\n}}",
                u(words)
            );
        };
        match &pop.regions {
            PopRegions::Poisson {
                thr,
                keys,
                origins,
                alt,
                set,
            } => {
                let name = format!("source_{pi}");
                // Copy b's thresholds: its set in a series with retries (`alt`), else `thr`.
                let base = match *alt {
                    NEVER => format!("{} + b * {}", u(*thr), u(n)),
                    _ => format!(
                        "select({thr} + b * {n}, {alt} + ((s - 1u) * {k} + b) * {n}, s != 0u)",
                        thr = u(*thr),
                        alt = u(*alt),
                        k = u(l.batch),
                        n = u(n)
                    ),
                };
                let set_of = match *set {
                    NEVER => String::new(),
                    _ => format!("let s = ustate[{} + b];\n    ", u(*set)),
                };
                // `_stream(b)`: copy b's stream step, key and first threshold; `_next(stream,
                // neuron, b)`: whether one neuron spikes (it counts the spike), what the fused
                // schedule calls one neuron per invocation; `_word`: the passes' item, 32
                // neurons.
                let _ = writeln!(
                    g,
                    "fn {name}_stream(b: u32) -> vec3<u32> {{\n    {set_of}return vec3<u32>(step.t - tab({o} + b), tab({k} + b), {base});\n}}\n\
                     fn {name}_next(st: vec3<u32>, ni: u32, b: u32) -> bool {{\n    \
                     if (step.quiet == {quiet}u) {{\n        return false;\n    }}\n    \
                     let spike = poisson_spike(st.x, st.y, st.z, ni);\n    \
                     if (spike && step.quiet == 0u) {{\n        ustate[{count} + b * {n} + ni] = ustate[{count} + b * {n} + ni] + 1u;\n    }}\n    \
                     return spike;\n}}",
                    o = u(*origins),
                    k = u(*keys),
                    n = u(n),
                    count = u(pop.count),
                    quiet = pi + 1,
                );
                head(&mut g, &name);
                let _ = writeln!(
                    g,
                    "    var word = 0u;\n    if (step.quiet != {}u) {{\n        let st = {name}_stream(b);\n        word = poisson_word(st.x, st.y, st.z, {}, w);\n    }}\n    emit_word(bits_{pi}(), step.t, b, w, word);\n    if (step.quiet == 0u) {{\n        count_word({} + b * {} + w * 32u, word);\n    }}\n}}",
                    pi + 1,
                    u(n),
                    u(pop.count),
                    u(n)
                );
                word_entry(&mut g, &name);
                step.push(PassSpec {
                    neurons: Some(NeuronPass {
                        pop: pi,
                        n,
                        words,
                        poisson: true,
                    }),
                    ..PassSpec::new(name, "word", Phase::Sources, words, 33 + 33)
                });
            }
            PopRegions::SpikeTimes { base, count } => {
                let name = format!("source_{pi}");
                head(&mut g, &name);
                let _ = writeln!(
                    g,
                    "    let word = spike_times_word({}, {}, step.t, w);\n    emit_word(bits_{pi}(), step.t, b, w, word);\n    if (step.quiet == 0u) {{\n        count_word({} + b * {} + w * 32u, word);\n    }}\n}}",
                    u(*base),
                    u(*count),
                    u(pop.count),
                    u(n)
                );
                word_entry(&mut g, &name);
                let passes = 33 + 34 + (*count as u64 + 1).ilog2() as u64 + 2 + 33;
                step.push(PassSpec::new(name, "word", Phase::Sources, words, passes));
            }
            PopRegions::Neurons {
                model,
                derived,
                vars,
                refrac,
                x,
            } => {
                let _ = writeln!(
                    g,
                    "fn params_{pi}() -> NeuronParams {{\n    return NeuronParams({});\n}}",
                    neuron_params(&NeuronParams::from_derived(derived))
                );
                let charge = match &model.kind {
                    NeuronKind::If => {
                        "        let o0 = clamp_refractory(s, if_charge(s, fwork[XV + i], p), p);\n"
                            .to_string()
                    }
                    NeuronKind::Lif(_) => {
                        "        let o0 = clamp_refractory(s, lif_charge(s, fwork[XV + i], p), p);\n"
                            .to_string()
                    }
                    NeuronKind::CondLif(_) => concat!(
                        "        s.gi = s.gi + fwork[XGI + i];\n",
                        "        var oc = cond_lif_charge(s, fwork[XGE + i], p);\n",
                        "        oc.v = oc.v + fwork[XV + i];\n",
                        "        let o0 = clamp_refractory(s, oc, p);\n"
                    )
                    .to_string(),
                    NeuronKind::CurrentLif(_) => concat!(
                        "        s.gi = s.gi + fwork[XGI + i];\n",
                        "        var oc = current_lif_charge(s, fwork[XGE + i], p);\n",
                        "        oc.v = oc.v + fwork[XV + i];\n",
                        "        let o0 = clamp_refractory(s, oc, p);\n"
                    )
                    .to_string(),
                    NeuronKind::Custom(c) => {
                        let _ = writeln!(
                            g,
                            "// custom model `{}`: user-supplied charge stage.\nfn custom_charge_{pi}(s: NeuronState, x: f32, p: NeuronParams) -> NeuronState {{",
                            c.name
                        );
                        for (name, v) in &c.params {
                            let _ = writeln!(g, "    const {name}: f32 = {};", f32_lit(*v));
                        }
                        let _ = writeln!(g, "    var o = s;\n    {}\n    return o;\n}}", c.charge_wgsl.trim());
                        format!("        let o0 = clamp_refractory(s, custom_charge_{pi}(s, fwork[XV + i], p), p);\n")
                    }
                };
                let var_at = |name: &str| vars.iter().find(|(v, _)| v == name).map(|v| v.1);
                let mut load = vec![
                    format!("fstate[{} + i]", u(vars[0].1)),
                    format!("fstate[{} + i]", u(vars[1].1)),
                    format!("ustate[{} + i]", u(*refrac)),
                ];
                for name in ["ge", "gi"]
                    .iter()
                    .map(|s| s.to_string())
                    .chain(l.custom_vars.iter().cloned())
                {
                    load.push(match var_at(&name) {
                        Some(a) => format!("fstate[{} + i]", u(a)),
                        None => "0.0".into(),
                    });
                }
                let mut store = format!("        ustate[{} + i] = o.refrac;\n", u(*refrac));
                for (name, a) in vars {
                    let _ = writeln!(store, "        fstate[{} + i] = o.{name};", u(*a));
                }
                let name = format!("neurons_{pi}");
                // `_load`/`_store`: the state of neuron i (= b · n + neuron); `_next`: one
                // neuron's step from a state (it counts the spike); `_word`: the passes'
                // item, 32 neurons through global memory. The fused schedule keeps the state
                // in registers across a dispatch and calls `_next` alone (super::fused).
                let _ = write!(
                    g,
                    "fn {name}_load(i: u32) -> NeuronState {{\n    return NeuronState({load});\n}}\n\
                     fn {name}_store(i: u32, o: NeuronState) {{\n{store}}}\n\
                     fn {name}_next(state: NeuronState, i: u32) -> Fired {{\n    let p = params_{pi}();\n    var s = state;\n{charge}    let spike = fire(o0, p);\n    var o = reset(o0, spike, p);\n    if (step.learn != 0u) {{\n        o = adapt(o, spike, p);\n    }}\n    if (spike && step.quiet == 0u) {{\n        ustate[{count} + i] = ustate[{count} + i] + 1u;\n    }}\n    return Fired(o, spike);\n}}\n",
                    count = u(pop.count),
                    load = load.join(", "),
                    store = store.replace("        ", "    "),
                    charge = charge
                        .replace("        ", "    ")
                        .replace("XGE", &u(x[0]))
                        .replace("XGI", &u(x[1]))
                        .replace("XV", &u(x[2])),
                );
                head(&mut g, &name);
                let body = format!(
                    "    let i0 = w * 32u;\n    let m = min(32u, {n} - i0);\n    var word = 0u;\n    for (var l = 0u; l < m; l = l + 1u) {{\n        let i = b * {n} + i0 + l;\n        let f = {name}_next({name}_load(i), i);\n        {name}_store(i, f.s);\n        if (f.spike) {{\n            word = word | (1u << l);\n        }}\n    }}\n    emit_word(bits_{pi}(), step.t + 1u, b, w, word);\n}}\n",
                    n = u(n),
                );
                g.push_str(&body);
                word_entry(&mut g, &name);
                neuron_passes.push(PassSpec {
                    neurons: Some(NeuronPass {
                        pop: pi,
                        n,
                        words,
                        poisson: false,
                    }),
                    ..PassSpec::new(name, "word", Phase::Neurons, words, 33)
                });
            }
        }
    }
    // Summaries of step t's spike words (the sources' of this step, the neurons' of the
    // last), for the projections that scan a population's words: they visit the non-zero
    // words only; and the lists that total-minus-self projections count.
    let mut scanned = vec![false; l.pops.len()];
    for p in &l.projs {
        let listed = l.pops[p.pre].bits.list.is_some();
        match p.kind {
            ProjKind::Dense | ProjKind::Sparse => scanned[p.pre] = true,
            ProjKind::TotalMinusSelf(_) if listed => scanned[p.pre] = true,
            _ => {}
        }
    }
    for (pi, pop) in l.pops.iter().enumerate().filter(|(pi, _)| scanned[*pi]) {
        let name = format!("summarize_{pi}");
        let item = format!("summarize(bits_{pi}(), step.t, b, x)");
        write_entry(&mut g, &name, &item, &u(pop.bits.sum_words), None, None);
        // The words, and with a list each word's spikes.
        let passes = 33 + pop.bits.list.map_or(0, |_| 32 + pop.size as u64);
        let words = pop.bits.sum_words;
        step.push(PassSpec {
            summarizes: pop.bits.list.map(|_| pi),
            ..PassSpec::new(name, "item", Phase::Summaries, words, passes)
        });
    }
    let mut potentiate = vec![];
    let mut pushes = vec![];
    let mut queues = vec![];
    let mut normalize = vec![];
    let mut check = vec![];
    for (q, p) in l.projs.iter().enumerate() {
        let _ = writeln!(
            g,
            "fn proj_{q}() -> Proj {{\n    return {};\n}}",
            proj_literal(l, q, p)
        );
        let n_post = p.syn.n_post;
        let (prop_passes, fused_passes, in_passes) = loop_passes(l, p);
        // Entry points whose items store weights raise the flag where one is not finite
        // (`flush_weight_flag`); the fused schedule after them in each step.
        let plastic = p.stdp.is_some();
        let entry = |g: &mut String,
                     name: String,
                     call: &str,
                     phase: Phase,
                     learn_only: bool,
                     passes: u64,
                     fused_passes: u64,
                     writes: bool| {
            let item = format!("{call}(proj_{q}(), x, b)");
            write_entry(g, &name, &item, &u(n_post), None, writes.then_some(q));
            PassSpec {
                learn_only,
                fused_loop_passes: (fused_passes != passes).then_some(fused_passes),
                flush: writes.then_some(q),
                ..PassSpec::new(name, "item", phase, n_post, passes)
            }
        };
        if p.kind == ProjKind::Push {
            let name = format!("push_{q}");
            let words = l.pops[p.pre].bits.words;
            let item = format!("push_word(proj_{q}(), x, b)");
            write_entry(&mut g, &name, &item, &u(words), None, None);
            let passes = 33 + 32 * (p.syn.longest_row() as u64 + 1);
            pushes.push(PassSpec::new(name, "item", Phase::Push, words, passes));
        }
        step.push(PassSpec {
            neuron_private: true,
            ..entry(
                &mut g,
                format!("propagate_{q}"),
                "propagate",
                Phase::Propagation,
                false,
                prop_passes,
                fused_passes,
                plastic,
            )
        });
        if p.stdp.as_ref().is_some_and(|s| s.buckets) {
            // The buckets' arrivals, ARRIVE_SHARES invocations per copy.
            let name = format!("arrive_{q}");
            let words = l.pops[p.pre].bits.words as u64;
            let item = format!("arrive_buckets(proj_{q}(), x, b)");
            write_entry(&mut g, &name, &item, "ARRIVE_SHARES", None, None);
            // Per lag: a share of the list (every pre neuron spiking), or of the words.
            let per_lag = match l.pops[p.pre].bits.list {
                Some(_) => (p.syn.n_pre as u64).div_ceil(ARRIVE_SHARES as u64) + 1,
                None => words.div_ceil(ARRIVE_SHARES as u64) * 34 + 1,
            };
            let passes = p.slots as u64 + 1 + p.slots as u64 * per_lag;
            step.push(PassSpec {
                learn_only: true,
                neuron_private: true,
                ..PassSpec::new(name, "item", Phase::Propagation, ARRIVE_SHARES, passes)
            });
        }
        if p.queue.is_some() {
            queues.push((q, p.slots));
        }
        if p.stdp.is_some() {
            potentiate.push(PassSpec {
                post: Some(p.post),
                ..entry(
                    &mut g,
                    format!("potentiate_{q}"),
                    "potentiate",
                    Phase::Potentiation,
                    true,
                    in_passes,
                    in_passes,
                    true,
                )
            });
            let _ = writeln!(
                g,
                "fn potentiate_{q}_shared(l: u32, b: u32) {{\n    potentiate_shared(proj_{q}(), l, b);\n}}\nfn potentiate_{q}_traces(i: u32, b: u32) {{\n    potentiate_traces(proj_{q}(), i, b);\n}}"
            );
        }
        // Normalisation and the weight check: one invocation per block of NORM_BLOCK
        // synapses of each post neuron and copy (`x = block · n_post + i`), which calls
        // `call(proj_q(), x, b{args})`.
        let blocks = l.norm_blocks(q);
        let invocations = blocks * n_post;
        let block = NORM_BLOCK as u64;
        // A series stopped (`round_judge`) leaves the weights as they are.
        let stopped = format!("ustate[{}] != 0u", u(l.series_stop()));
        let by_block = |g: &mut String, name: String, call: &str, args: &str, writes: bool| {
            let item = format!("{call}(proj_{q}(), x, b{args})");
            let flush = writes.then_some(q);
            write_entry(g, &name, &item, &u(invocations), Some(&stopped), flush);
            name
        };
        let sums = format!(", {}, {}", u(l.norm_sums), u(blocks));
        let spec = |name, passes| PassSpec::new(name, "item", Phase::Between, invocations, passes);
        match p.kind {
            ProjKind::TotalMinusSelf(_) => {
                normalize.push(None);
                check.push(None);
            }
            _ => {
                let sum = by_block(
                    &mut g,
                    format!("normalize_sum_{q}"),
                    "normalize_sum",
                    &sums,
                    false,
                );
                let scale = by_block(
                    &mut g,
                    format!("normalize_scale_{q}"),
                    "normalize_scale",
                    &sums,
                    true,
                );
                normalize.push(Some([
                    spec(sum, block + 1),
                    spec(scale, blocks as u64 + block + 2),
                ]));
                let name = by_block(&mut g, format!("check_{q}"), "check_block", "", false);
                check.push(Some(spec(name, block + 1)));
            }
        }
    }
    // The pushes go after the summaries, before every projection's propagation.
    let first_propagation = step
        .iter()
        .position(|p| p.phase == Phase::Propagation)
        .unwrap_or(step.len());
    step.splice(first_propagation..first_propagation, pushes);
    step.extend(neuron_passes);
    if l.n_slots > 0 {
        let name = "monitor_state".to_string();
        let item = format!(
            "record_state({}, {}, {}, x, b)",
            u(l.slot_table),
            u(l.n_slots),
            u(l.batch)
        );
        write_entry(&mut g, &name, &item, &u(l.n_slots), None, None);
        step.push(PassSpec::new(name, "item", Phase::After, l.n_slots, 0));
    }
    step.extend(potentiate);
    // A state variable of every copy scaled once at the end of a run, in two dispatches:
    // `scale_state` scales copy `b` where its run has reached its last step (fused progress
    // `step.learn`; 0 under the passes) and the last `scale_mark` did not mark it done, then
    // `scale_mark` marks the copies that the run has left done. Where a fused submission
    // stops before the run's end and another follows, both run again: the copies that were
    // done are not scaled twice. `step`: `t` the variable's region, `row` its neurons,
    // `norm_target` the factor.
    let (progress, marks) = (u(l.ctl), u(l.decay_marks()));
    let _ = writeln!(
        g,
        "@compute @workgroup_size(WG)\nfn scale_state(@builtin(global_invocation_id) gid: vec3<u32>) {{\n    \
         let b = gid.y;\n    \
         if (gid.x >= step.row || ustate[{progress} + b] < step.learn || ustate[{marks} + b] != 0u) {{\n        return;\n    }}\n    \
         let i = step.t + b * step.row + gid.x;\n    \
         fstate[i] = fstate[i] * step.norm_target;\n}}\n\
         @compute @workgroup_size(WG)\nfn scale_mark(@builtin(global_invocation_id) gid: vec3<u32>) {{\n    \
         if (gid.x == 0u && ustate[{progress} + gid.y] >= step.learn) {{\n        ustate[{marks} + gid.y] = 1u;\n    }}\n}}"
    );
    // A series of presentations in one submission (`protocol::present_series`): before each
    // round `round_begin` clears the counts of its counted population (`step.t`, `step.row`
    // neurons per copy), the fused progress, the dispatches and the decay marks, and the
    // weight flag `step.quiet` (NONE: none); after it `round_judge` (one workgroup) judges
    // each copy by the rule of `backend::simulator::Cursor`: a copy short of its least
    // count shows its retry next where it is not late and its round's input has one (it is
    // late from then on, and draws from input set 2, else from set 1 where late or set 0),
    // and otherwise stops the series, writing 1 + the round (`step.learn`) to the stop
    // word, as does a raised weight flag or a copy's progress short of the round's
    // `step.aux` steps (with SERIES_STALLED: the copy's set and mark stay those of the
    // round, which the host goes on with). Once the series is stopped, both do nothing, nor do the normalisation, the
    // weight check and the fused steps, and the decay finds its copies marked.
    let (stop, least, k) = (u(l.series_stop()), u(l.series_min()), u(l.batch));
    let (late, retry, sets) = (u(l.series_late()), u(l.series_retry()), u(l.series_sets()));
    let _ = writeln!(
        g,
        "@compute @workgroup_size(WG)\nfn round_begin(@builtin(global_invocation_id) gid: vec3<u32>) {{\n    \
         let x = gid.x;\n    \
         if (ustate[{stop}] != 0u) {{\n        return;\n    }}\n    \
         if (x < {k} * step.row) {{\n        ustate[step.t + x] = 0u;\n    }}\n    \
         if (x < 3u * {k}) {{\n        ustate[{progress} + x] = 0u;\n    }}\n    \
         if (x == 0u && step.quiet != NONE) {{\n        ustate[step.quiet] = 0u;\n    }}\n}}\n\
         var<workgroup> judge_stop: u32;\n\
         var<workgroup> judge_why: atomic<u32>;\n\
         @compute @workgroup_size(WG)\nfn round_judge(@builtin(local_invocation_id) lid: vec3<u32>) {{\n    \
         if (lid.x == 0u) {{\n        judge_stop = ustate[{stop}];\n    }}\n    \
         if (workgroupUniformLoad(&judge_stop) != 0u) {{\n        return;\n    }}\n    \
         var why = 0u;\n    \
         let sets = ustate[{sets}];\n    \
         for (var b = lid.x; b < {k}; b = b + WG) {{\n        \
         var n = 0u;\n        \
         for (var i = 0u; i < step.row; i = i + 1u) {{\n            \
         n = n + ustate[step.t + b * step.row + i];\n        }}\n        \
         let short = n < ustate[{least} + b];\n        \
         let late = ustate[{late} + b] != 0u;\n        \
         let retry = short && !late && ustate[{retry} + b] != 0u;\n        \
         let done = ustate[{progress} + b] >= step.aux;\n        \
         why = why | select(0u, 1u, short && !retry) | select(0u, 2u, !done);\n        \
         if (done && retry) {{\n            ustate[{late} + b] = 1u;\n            ustate[sets + b] = 2u;\n        }} else if (done && !short) {{\n            ustate[sets + b] = select(0u, 1u, late);\n        }}\n    }}\n    \
         atomicOr(&judge_why, why);\n    \
         workgroupBarrier();\n    \
         if (lid.x == 0u) {{\n        \
         why = atomicLoad(&judge_why);\n        \
         if (step.quiet != NONE && ustate[step.quiet] != 0u) {{\n            why = why | 1u;\n        }}\n        \
         if (why != 0u) {{\n            ustate[{stop}] = step.learn | select(0u, {stalled}, (why & 2u) != 0u);\n        }}\n    }}\n}}",
        stalled = u(SERIES_STALLED),
    );
    Program {
        module: engine_module(&g),
        generated: g,
        step,
        normalize,
        check,
        ctl: l.ctl,
        stop: l.series_stop(),
        batch: l.batch,
        queues,
    }
}
