//! The **fused** schedule of the general GPU engine: one dispatch runs many steps, one
//! workgroup per copy (K copies, K workgroups), and each invocation loops over its share of
//! every pass of a step, with a storage barrier between the phases of a step (sources,
//! spike summaries, pushes, propagation, neurons, then state monitors and potentiation:
//! `program::Phase`; none between propagation and neurons in registers, below) and at its
//! end (none where the sources open the step, below). It calls the very functions the passes schedule
//! dispatches (`PassSpec::item`) in the same order, each item done by one invocation as
//! under the passes, so every float sum and every random number is the same, bit for bit. Potentiation alone is split
//! differently: the workgroup shares each spiking post neuron's synapses (a post neuron's
//! loop would leave most lanes idle, few neurons spiking in a step), and the post traces
//! follow after one more barrier; each synapse gets the very update of the passes (no sum
//! is involved).
//!
//! **Neurons in registers.** A population of at most [`MAX_ITEMS_PER_INVOCATION`] neurons
//! per invocation runs one neuron per invocation: invocation `l` owns neurons `l + u · WG`,
//! loads their state once per dispatch into function variables, steps them with the passes'
//! own `neurons_<p>_next` and stores them after its last step (and every step where a state
//! monitor reads them); each spike sets its bit in a workgroup word (`atomicOr`), and after
//! one workgroup barrier the words are emitted as the passes emit them. The state a dispatch
//! leaves in memory, the spike words and the counts are the passes' bits. A larger
//! population (which fits only without incoming projections) runs 32 neurons per
//! invocation through memory, as under the passes.
//!
//! **Potentiation on spiking steps only.** Where the post population of every plastic
//! projection is in registers, each of their spikes also raises the step's flag (a
//! workgroup atomic, one per step parity), and while learning the neurons' barrier is the
//! `workgroupUniformLoad` of that flag, which tells the whole workgroup whether any of them
//! spiked; a step in which none did skips the shared potentiation, its barrier and the post
//! traces, which would change nothing (most steps of a winner-take-all layer), and, where no
//! state monitor reads in the potentiation's phase, the storage barrier before it (so does
//! every frozen step).
//!
//! **No barrier between propagation and the neurons.** Each neuron stage in registers runs
//! at invocation `l` for neuron `l + u · WG`, where the propagation items of its incoming
//! projections ran (item `x` at invocation `x mod WG` writes the input of post neuron `x`),
//! so a step reads no other invocation's propagation before its neurons' barrier
//! (`neurons_read_their_own`).
//!
//! **No barrier at a step's end** where the step opens with its sources and a storage
//! barrier follows them (`sources_open_the_step`): what a step writes for another
//! invocation's next step is read after that barrier, and a population's ring has one slot
//! more than its longest delay, so the sources of step t + 1 write no slot that step t read.
//! Under a loop budget the check at a step's start takes a storage barrier before it reads
//! the arrival queues' overflow marks. Without a budget (hardware), a non-spiking learning
//! step of Diehl & Cook has four barriers, one of them a storage barrier: after the input
//! draws (workgroup), after their emission (storage), and the neurons' flag load (its two
//! workgroup barriers).
//!
//! **Subgroups.** On a device with subgroup operations (`wgpu::Features::SUBGROUP`), where
//! [`super::GpuEngineOptions::subgroups`] allows them (by default on hardware, not on a
//! software adapter), the lanes of a subgroup set their spikes of a step together: where
//! one of them spiked and all their neurons lie in one spike word, one lane sets the
//! subgroup's bits with one workgroup `atomicOr` and raises the step's flag once
//! (`set_spikes`); else each spike sets its own bit, as without subgroups. No lane count is
//! assumed. The words are the same ORs, so the bits are the same. On llvmpipe (8 lanes)
//! the subgroup operations cost more than the atomics they save (RESULTS.md, "Subgroups").
//!
//! **Fit rule.** A network fits when no pass has more than [`MAX_ITEMS_PER_INVOCATION`]
//! items (spike words of a source or population, post neurons of a projection, state
//! monitor slots) per invocation, i.e. `⌈items / WG⌉ ≤ 16` (1,024 neurons per population at
//! the default 64 invocations), and, where a loop budget applies (a software adapter, or
//! [`super::GpuEngineOptions::loop_budget`]), one step's loop passes fit it.
//! [`super::EngineSchedule::Auto`] picks fused wherever the network fits.
//!
//! **Loop budget.** llvmpipe silently ends a dispatch's loops past 65,535 loop-header
//! passes of a SIMD group. One step costs at most, per invocation,
//! `1 + Σ_pass (c + 1 + c · m)`, with `c = ⌈items / WG⌉` the items of the pass this
//! invocation handles and `m` the most loop passes of one item (`PassSpec::max_loop_passes`,
//! every pre neuron spiking; for shared potentiation, every post neuron spiking:
//! `2w + 1 + n + n · (⌈(m − 1) / WG⌉ + 1)` for `n` post neurons in `w` words): the static
//! worst case of one step ([`FusedPlan::passes_per_step`]), which must fit the budget.
//! A dispatch does not stop at that worst case: each invocation counts the loop passes it
//! makes (`loop_passes`, `shaders/engine/propagate.wgsl`): propagation and shared
//! potentiation count their loops from the spikes, which a copy's invocations share (so
//! the count of every SIMD group is at most that of the invocation that counts most), a
//! spike list from its one invocation's trips, every other item adds its worst case. At the
//! start of a step the workgroup takes the largest count (a workgroup `atomicMax`, made
//! uniform by `workgroupUniformLoad`) and runs the step only while that count plus the
//! step's worst case fit the budget ([`FusedPlan::last_start`]). A projection with arrival
//! queues (`layout::ArrivalQueue`) counts its queue's capacity in the static worst case;
//! where the queues of the step's slot overflowed (known before the step), the kernel adds
//! the check of the delay window that replaces them, counted from the spike lists of its
//! lags, each spike with the search of its row where the projection is sparse
//! (`overflow_passes`, `propagate.wgsl`). A step that cannot fit even a fresh
//! dispatch leaves its copy behind, and the run is an error that says why.
//!
//! **Progress on the device.** A submission of `n` steps is one uniform (`FusedChunk`) and
//! a run of identical dispatches. Each copy's progress (the step of the submission it has
//! reached, and how many dispatches ran a step) lives in `ustate` (`Layout::ctl`), so a
//! dispatch continues from where the last one stopped without the host. The host issues as
//! many dispatches as the last run's steps per dispatch suggest, plus one (a dispatch that
//! finds its copy done returns at once), reads the progress back with what it reads anyway
//! (recordings; at the end of a run the neuron state, counts and the weight flag),
//! and issues more only if a copy is behind. Without recordings a whole run is one
//! submission (a training presentation's normalisation, then its steps on and its quiet
//! rest, then its decay, its weight check where its writes do not answer it, and the copies
//! for the host: one wait). Without a budget (a real GPU) one dispatch runs a whole
//! submission. After the items of a step that store a projection's weights (its
//! propagation's depressions, its potentiation), each invocation raises that projection's
//! flag where it stored one that is not finite (`flush_weight_flag`).
//!
//! **Spike summaries and lists.** Dense and sparse projections find the spikes of a lag
//! through their pre population's `summarize_<p>` pass (a phase between the sources and
//! propagation, under both schedules): one bit per spike word that is not zero, and for a
//! population of at most 1,024 neurons the list of its spikes, ascending (the order the
//! words give), so propagation at arrival visits each lag's spikes only (with 10 ms input
//! delays, 21 lags of 25 words each per post neuron before). One invocation builds a list
//! there, a walk of dependent loads and stores. A population in registers with a list is
//! listed instead as its words are emitted, from the workgroup words its neurons set: each
//! invocation lists its word at the count of the words before it (`list_word`, which
//! `summarize` calls word by word too) and invocation 0 stores the summary and the length
//! (`store_summary`); its `summarize_<p>` pass is dropped from the fused step. The words of
//! a step are one half of `fused_spikes_<p>` (by the step's parity), so that they can be read
//! by every invocation while the emission clears the other half for the next step: no
//! barrier is added. The lists are the same words, so the bits are the same; the listing's
//! loop passes are counted at their worst case (`list_passes`).

use super::program::{NeuronPass, PassSpec, Phase, Program};
use crate::gpu::shaders::{engine_fused_module, ComposedModule};
use bytemuck::{Pod, Zeroable};
use std::fmt::Write;

/// The most items of one pass that one invocation may handle for a network to fit the
/// fused schedule.
pub(crate) const MAX_ITEMS_PER_INVOCATION: u32 = 16;

/// Mirrors `FusedChunk` in `shaders/engine/fused.wgsl` (uniform, one per dispatch, at a
/// dynamic offset; the size of `StepInfo`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub(crate) struct FusedChunk {
    pub t0: u32,
    pub row0: u32,
    pub steps: u32,
    pub learn: u32,
    /// Steps `quiet_from ..` of the chunk are quiet (`StepInfo::quiet`): source
    /// `quiet_source` (1 + its index) silent, nothing counted.
    pub quiet_from: u32,
    pub quiet_source: u32,
    pub _pad: [u32; 2],
}
const _: () = assert!(std::mem::size_of::<FusedChunk>() == 32);

/// How a network runs fused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FusedPlan {
    /// The most loop passes of one invocation in one step.
    pub passes_per_step: u64,
    /// Steps per dispatch at the worst case of every step (`u32::MAX`: no budget, a whole
    /// submission): what the host expects before it has seen a run.
    pub steps_per_dispatch: u32,
    /// The most loop passes counted in a dispatch after which one more step may start
    /// (`budget − passes_per_step`); `None` without a budget.
    pub last_start: Option<u32>,
}

/// The plan for `program` at `wg` invocations per workgroup under a loop budget (loop
/// passes per dispatch), or why the network does not fit.
pub(crate) fn plan(
    program: &Program,
    wg: u32,
    budget: Option<u64>,
    workgroup_bytes: u32,
) -> Result<FusedPlan, String> {
    let bytes = workgroup_memory(program, wg);
    if bytes > workgroup_bytes as u64 {
        return Err(format!(
            "its workgroup memory at {wg} invocations per workgroup ({bytes} bytes, mostly the \
             spike words of the populations in registers) passes the adapter's \
             max_compute_workgroup_storage_size ({workgroup_bytes}); use the passes schedule"
        ));
    }
    let mut per_step = 1u64;
    let listed = listed_at_emission(program, wg);
    for np in &listed {
        per_step += list_passes(np.words, wg);
    }
    for p in &program.step {
        if lists_at_emission(p, &listed) {
            continue;
        }
        let c = p.invocations.div_ceil(wg);
        if c > MAX_ITEMS_PER_INVOCATION {
            return Err(format!(
                "pass `{}` has {} items, {c} per invocation at {wg} invocations per workgroup \
                 (the fused schedule takes at most {MAX_ITEMS_PER_INVOCATION}); use the \
                 passes schedule or a larger workgroup",
                p.entry, p.invocations
            ));
        }
        let c = c as u64;
        per_step += c + 1;
        if p.phase == Phase::Potentiation {
            // `_shared`: the post words, their bits, each spiking post's share of its
            // synapses (at most `max_loop_passes − 1`); then `_traces`, loop-free.
            let (n_post, wg) = (p.invocations as u64, wg as u64);
            let words = n_post.div_ceil(32);
            let share = p.max_loop_passes.saturating_sub(1).div_ceil(wg) + 1;
            per_step += words + 1 + n_post + words + n_post * share;
        } else {
            per_step += c * p.fused_loop_passes.unwrap_or(p.max_loop_passes);
        }
    }
    // `overflow_passes` of each projection with arrival queues, at the top of a step.
    for &(_, slots) in &program.queues {
        per_step += slots as u64 + 1;
    }
    // A budget past what a u32 counter holds is no budget.
    let budget = budget.filter(|&b| b < u32::MAX as u64);
    let steps_per_dispatch = match budget {
        None => u32::MAX,
        Some(b) => {
            let steps = b.saturating_sub(1) / per_step;
            if steps == 0 {
                return Err(format!(
                    "one step can make {per_step} loop passes per invocation, past the loop \
                     budget of {b} per dispatch (llvmpipe ends loops past 65,535); use the \
                     passes schedule"
                ));
            }
            steps.min(u32::MAX as u64) as u32
        }
    };
    Ok(FusedPlan {
        passes_per_step: per_step,
        steps_per_dispatch,
        last_start: budget.map(|b| (b - per_step) as u32),
    })
}

/// The bytes of workgroup memory of the fused entry point at `wg` invocations (what
/// [`module`] declares for it): the progress word and the loop counter, two steps' spike
/// words of each population in registers, and an upper bound of 8 bytes for the flag of
/// spiking steps.
fn workgroup_memory(program: &Program, wg: u32) -> u64 {
    let words: u64 = in_registers(program, wg)
        .iter()
        .map(|(np, _)| 2 * np.words as u64)
        .sum();
    8 + 4 * words + 8
}

/// The populations whose state stays in registers under the fused schedule at `wg`
/// invocations: one neuron per invocation, invocation `l` owning neurons `l + u · WG` (a
/// Poisson source draws them so), with the number of them per invocation.
fn in_registers(program: &Program, wg: u32) -> Vec<(NeuronPass, u32)> {
    program
        .step
        .iter()
        .filter_map(|p| p.neurons)
        .map(|np| (np, np.n.div_ceil(wg)))
        .filter(|&(_, c)| c <= MAX_ITEMS_PER_INVOCATION)
        .collect()
}

/// The populations in registers with a summary pass and a spike list: the fused schedule
/// lists their spikes as it emits their words, from workgroup memory and every invocation
/// a share of the words, and drops their `summarize_<p>` pass (which one invocation runs).
fn listed_at_emission(program: &Program, wg: u32) -> Vec<NeuronPass> {
    let summarized: Vec<usize> = program.step.iter().filter_map(|p| p.summarizes).collect();
    in_registers(program, wg)
        .into_iter()
        .map(|(np, _)| np)
        .filter(|np| summarized.contains(&np.pop))
        .collect()
}

/// Whether the neuron stages of a step read what the propagation phase wrote only where
/// their own invocation wrote it: every neuron stage runs in registers (neuron `l + u · WG`
/// at invocation `l`), every pass of the propagation phase is `neuron_private` (item `x`,
/// at invocation `x mod WG`, writes the input of post neuron `x` alone, or nothing a neuron
/// stage reads). Then the step needs no storage barrier between the two phases: an
/// invocation's own writes precede its reads. The rest of what propagation wrote is read
/// after the storage barriers that follow (potentiation's, the step's end), and the
/// neurons' emission writes the spike slot of step t + 1, which no propagation of step t
/// reads (a population's ring has one slot more than its longest delay).
fn neurons_read_their_own(program: &Program, in_registers: &[(NeuronPass, u32)]) -> bool {
    program.step.iter().all(|p| match p.phase {
        Phase::Propagation => p.neuron_private,
        Phase::Neurons => p
            .neurons
            .is_some_and(|np| !np.poisson && in_registers.iter().any(|(r, _)| *r == np)),
        _ => true,
    })
}

/// Whether a step opens with its sources and a storage barrier follows them (there is
/// propagation): then a step needs no barrier at its end. What a step writes that another
/// invocation reads in the next is read after that barrier (the spike words, summaries and
/// lists of step t + 1, the weights and traces of potentiation, the buckets' arrivals), and
/// what the sources write before it (a source's words of the next step, where it draws
/// through memory; its own counts) no step before reads: a population's ring has one slot
/// more than its longest delay (`Layout`), so the slot of step t + 1 is not among the slots
/// t − max ..= t that propagation read at step t. Under a loop budget the check at a step's
/// start reads the overflow marks of the arrival queues after a storage barrier.
fn sources_open_the_step(program: &Program) -> bool {
    program
        .step
        .first()
        .is_some_and(|p| p.phase == Phase::Sources)
        && program.step.iter().any(|p| p.phase == Phase::Propagation)
}

/// Whether `p` is the summary pass of a population in `listed`, which the fused step drops.
fn lists_at_emission(p: &PassSpec, listed: &[NeuronPass]) -> bool {
    p.summarizes
        .is_some_and(|pi| listed.iter().any(|np| np.pop == pi))
}

/// The function that sets a subgroup's spikes of a step in population `pi`'s workgroup
/// words (`fused_spikes_<pi>`, the half from word `h`), for a kernel with subgroup
/// operations. Each lane gives `bit`, 0 or its neuron's bit in word `w`. Where some lane
/// spiked and every lane's neuron lies in one word (a subgroup's lanes are consecutive
/// invocations on the adapters seen, and then one word holds them all wherever the lanes
/// are at most 32: llvmpipe's 8, NVIDIA's 32), one lane sets the word's bits with one
/// `atomicOr`; otherwise (64 lanes, or lanes in another order) each spike sets its own bit,
/// as without subgroups. Returns whether a lane spiked, the same in every lane; called by
/// all the lanes of a subgroup together (uniform control flow).
fn set_spikes(pi: usize) -> String {
    format!(
        "fn set_spikes_{pi}(h: u32, w: u32, bit: u32) -> bool {{\n    \
         if (!subgroupAny(bit != 0u)) {{\n        return false;\n    }}\n    \
         let first = subgroupBroadcastFirst(w);\n    \
         if (subgroupAll(w == first)) {{\n        \
         let word = subgroupOr(bit);\n        \
         if (fused_elect()) {{\n            atomicOr(&fused_spikes_{pi}[h + first], word);\n        }}\n    \
         }} else if (bit != 0u) {{\n        \
         atomicOr(&fused_spikes_{pi}[h + w], bit);\n    }}\n    \
         return true;\n}}\n"
    )
}

/// What follows the items of pass `p` where they store a projection's weights: that
/// projection's flag raised where one of them is not finite (`flush_weight_flag`), so that
/// each projection's flag tells of its own weights.
fn flush_weights(p: &PassSpec) -> String {
    p.flush.map_or(String::new(), |q| {
        format!("\n        flush_weight_flag(proj_{q}());")
    })
}

/// The loop passes one invocation counts for listing a population of `words` spike words
/// as it emits them, besides the emission's own: per word it lists, the count of the words
/// before it (a loop over all `words`, which adds those before it) and its bits (at most
/// 32), each with its exit; then invocation 0's summary over the words, counted by all.
fn list_passes(words: u32, wg: u32) -> u64 {
    let words = words as u64;
    words.div_ceil(wg as u64) * (words + 34) + words + 1
}

/// The fused module of `program` under `plan`: its generated part and the entry point
/// `fused`, which continues copy `workgroup_id.x`'s submission of `chunk.steps` steps from
/// the step its progress word (`ustate[ctl + copy]`) holds, runs steps while the loop passes
/// counted so far and one more step's worst case fit the budget, and where it ran a step
/// stores the step it reached and one more dispatch that ran a step
/// (`ustate[ctl + K + copy]`). It runs no step once a series is stopped (`program.stop`).
/// With `subgroups` (a device with `wgpu::Features::SUBGROUP`), a subgroup's spikes and its
/// raising of the step's flag reach workgroup memory once (`set_spikes`).
pub(crate) fn module(
    program: &Program,
    plan: &FusedPlan,
    wg: u32,
    subgroups: bool,
) -> ComposedModule {
    let mut head = program.generated.clone();
    let mut g = String::new();
    let _ = writeln!(
        g,
        "// The fused schedule: one workgroup per copy, steps from the copy's progress, each pass's\n\
         // items strided over the invocations, a barrier between phases and at the end of a step.\n\
         var<workgroup> fused_word: u32;\n\
         var<workgroup> fused_passes: atomic<u32>;\n\
         @compute @workgroup_size(WG)\n\
         fn fused(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>{}) {{\n{}    \
         let b = wid.x;\n    \
         if (lid.x == 0u) {{\n        fused_word = select(ustate[{ctl}u + b], chunk.steps, ustate[{stop}u] != 0u);\n    }}\n    \
         let s0 = workgroupUniformLoad(&fused_word);\n    \
         var s = s0;\n    \
         loop_passes = 1u;",
        match subgroups {
            true => ", @builtin(subgroup_invocation_id) lane: u32",
            false => "",
        },
        match subgroups {
            true => "    fused_lane = lane;\n",
            false => "",
        },
        ctl = program.ctl,
        stop = program.stop
    );
    if subgroups {
        // No `subgroupElect` in this WGSL: the lowest active lane, as it would elect.
        head.push_str(
            "var<private> fused_lane: u32;\n\
             // Whether this is the subgroup's lowest active lane.\n\
             fn fused_elect() -> bool {\n    \
             return subgroupBroadcastFirst(fused_lane) == fused_lane;\n}\n",
        );
    }
    // Populations whose state stays in registers: neuron lid + u · WG of the copy in
    // `ns_<p>_<u>`, loaded here and stored after the last step (every step where state
    // monitors read it); Poisson sources, one neuron per invocation as well. Their spike
    // words gather in workgroup memory.
    let in_registers = in_registers(program, wg);
    let listed = listed_at_emission(program, wg);
    let mut store_all = String::new();
    for &(np, c) in &in_registers {
        let (pi, n) = (np.pop, np.n);
        let _ = writeln!(
            head,
            "var<workgroup> fused_spikes_{pi}: array<atomic<u32>, {}u>;",
            2 * np.words
        );
        if subgroups {
            head.push_str(&set_spikes(pi));
        }
        for u in 0..c {
            let _ = writeln!(g, "    let ni_{pi}_{u} = lid.x + {u}u * WG;");
            if np.poisson {
                continue;
            }
            let _ = writeln!(
                g,
                "    var ns_{pi}_{u}: NeuronState;\n    \
                 if (ni_{pi}_{u} < {n}u) {{\n        ns_{pi}_{u} = neurons_{pi}_load(b * {n}u + ni_{pi}_{u});\n    }}"
            );
            let _ = writeln!(
                store_all,
                "    if (ni_{pi}_{u} < {n}u) {{\n        neurons_{pi}_store(b * {n}u + ni_{pi}_{u}, ns_{pi}_{u});\n    }}"
            );
        }
    }
    g.push_str("    loop {\n        if (s >= chunk.steps) {\n            break;\n        }\n");
    let end_barrier = !sources_open_the_step(program);
    if let Some(last) = plan.last_start {
        // The most passes any invocation has counted, made uniform: the step goes only if
        // its worst case (with the check of the delay window where arrival queues of its
        // slot overflowed, known from the spikes so far) still fits the budget. Without the
        // barrier at the end of a step, the overflow marks of the steps before are read
        // after a storage barrier here.
        let _ = writeln!(
            g,
            "        atomicMax(&fused_passes, loop_passes);\n{}        workgroupBarrier();\n        var extra = 0u;",
            match end_barrier {
                true => "",
                false => "        storageBarrier();\n",
            }
        );
        for &(q, _) in &program.queues {
            let _ = writeln!(
                g,
                "        extra = extra + ((proj_{q}().n_post + WG - 1u) / WG) * overflow_passes(proj_{q}(), b, chunk.t0 + s);"
            );
        }
        let _ = writeln!(
            g,
            "        if (lid.x == 0u) {{\n            \
             fused_word = select(0u, 1u, atomicLoad(&fused_passes) + extra <= {last}u);\n        }}\n        \
             if (workgroupUniformLoad(&fused_word) == 0u) {{\n            break;\n        }}"
        );
    }
    let window_checks: u32 = program.queues.iter().map(|&(_, slots)| slots + 1).sum();
    let _ = writeln!(
        g,
        "        loop_passes = loop_passes + {}u;\n        \
         step = StepInfo(chunk.t0 + s, chunk.row0 + s, chunk.learn, 0.0, select(0u, chunk.quiet_source, s >= chunk.quiet_from), 0u, 0u, 0u);",
        1 + window_checks * plan.last_start.is_some() as u32
    );
    let mut phase = None;
    let mut traces = String::new();
    // The spike words of the populations in registers, emitted (and listed, where listed at
    // emission) once every neuron of the phase has set its bit.
    let mut emits = String::new();
    // Potentiation goes only on a step in which one of its post populations spiked, where
    // every such population is in registers: each spike of theirs raises the step's flag in
    // `fused_fired` as well, which the neurons' barrier reads (`workgroupUniformLoad`).
    let fired_pops: Option<Vec<NeuronPass>> = program
        .step
        .iter()
        .filter_map(|p| p.post)
        .map(|post| {
            in_registers
                .iter()
                .find(|(np, _)| np.pop == post && !np.poisson)
                .map(|(np, _)| *np)
        })
        .collect::<Option<Vec<_>>>()
        .filter(|v| !v.is_empty());
    // The neurons' barrier: with `fired_pops`, while learning (potentiation's condition, a
    // uniform branch), the load that makes `fused_fired` uniform, whose barrier it is.
    let mut barrier = "        workgroupBarrier();\n".to_string();
    if fired_pops.is_some() {
        head.push_str("var<workgroup> fused_fired: array<atomic<u32>, 2>;\n");
        // The flag of the next step, cleared here: this step's barrier lies between it and
        // its last reading (the step before) and the next step's spikes.
        barrier = "        var fired = 0u;\n        \
                   if (chunk.learn != 0u) {\n            \
                   fired = workgroupUniformLoad(&fused_fired[s & 1u]);\n        \
                   } else {\n            workgroupBarrier();\n        }\n        \
                   if (lid.x == 0u) {\n            atomicStore(&fused_fired[(s + 1u) & 1u], 0u);\n        }\n"
            .to_string();
    }
    // `neurons`: the phase flushed is the neurons' (not the sources').
    let flush = |g: &mut String, emits: &mut String, neurons: bool| {
        if !emits.is_empty() {
            g.push_str(match neurons {
                true => &barrier,
                false => "        workgroupBarrier();\n",
            });
            g.push_str(emits);
            emits.clear();
        }
    };
    let monitored = program.step.iter().any(|p| p.phase == Phase::After);
    let private = neurons_read_their_own(program, &in_registers);
    for p in &program.step {
        debug_assert!(p.phase != Phase::Between);
        if lists_at_emission(p, &listed) {
            continue;
        }
        // Shared potentiation reads the state monitors' phase's data only: one phase.
        let key = match p.phase {
            Phase::Potentiation => Phase::After,
            other => other,
        };
        if phase.is_some_and(|ph| ph != key) {
            flush(&mut g, &mut emits, phase == Some(Phase::Neurons));
            // Potentiation alone after the neurons goes only on a step in which they
            // fired (`fired`, uniform): so does the barrier before it.
            let only_potentiation = p.phase == Phase::Potentiation && !monitored;
            g.push_str(match only_potentiation && fired_pops.is_some() {
                true => "        if (fired != 0u) {\n            storageBarrier();\n        }\n",
                // Each neuron reads what its own invocation's propagation wrote.
                false if private && p.phase == Phase::Neurons => "",
                false => "        storageBarrier();\n",
            });
        }
        phase = Some(key);
        if let Some(&(np, c)) = p
            .neurons
            .and_then(|np| in_registers.iter().find(|(r, _)| *r == np))
        {
            let (pi, n, words) = (np.pop, np.n, np.words);
            if np.poisson {
                let _ = writeln!(g, "        let st_{pi} = source_{pi}_stream(b);");
            }
            // A spike of a plastic projection's post population raises the step's flag.
            let raises = fired_pops.as_ref().is_some_and(|f| f.contains(&np));
            for u in 0..c {
                let ni = format!("ni_{pi}_{u}");
                // The invocation's spike: whether it is, and what sets it in the step's
                // words (one atomic per spike, or `set_spikes` once per subgroup).
                let (fires, next) = match np.poisson {
                    true => (
                        format!("{ni} < {n}u && source_{pi}_next(st_{pi}, {ni}, b)"),
                        String::new(),
                    ),
                    false => (
                        "f.spike".to_string(),
                        format!(
                            "let i = b * {n}u + {ni};\n            \
                             let f = neurons_{pi}_next(ns_{pi}_{u}, i);\n            \
                             ns_{pi}_{u} = f.s;\n{}            ",
                            match monitored {
                                true => format!("neurons_{pi}_store(i, f.s);\n            "),
                                false => String::new(),
                            }
                        ),
                    ),
                };
                // Sources draw inside their condition; neurons step where they exist.
                let (open, close) = match np.poisson {
                    true => (String::new(), ""),
                    false => (format!("if ({ni} < {n}u) {{\n            "), "\n        }"),
                };
                let open = open.as_str();
                let _ = match subgroups {
                    true => writeln!(
                        g,
                        "        {{\n        \
                         var bit = 0u;\n        \
                         {open}{next}if ({fires}) {{\n            bit = 1u << ({ni} & 31u);\n        }}{close}\n        \
                         {}\n        }}",
                        match raises {
                            true => format!(
                                "if (set_spikes_{pi}((s & 1u) * {words}u, {ni} >> 5u, bit) && fused_elect()) {{\n            \
                                 atomicOr(&fused_fired[s & 1u], 1u);\n        }}"
                            ),
                            false => format!("_ = set_spikes_{pi}((s & 1u) * {words}u, {ni} >> 5u, bit);"),
                        }
                    ),
                    false => writeln!(
                        g,
                        "        {open}{next}if ({fires}) {{\n            \
                         atomicOr(&fused_spikes_{pi}[(s & 1u) * {words}u + ({ni} >> 5u)], 1u << ({ni} & 31u));{}\n        }}{close}",
                        match raises {
                            true => "\n            atomicOr(&fused_fired[s & 1u], 1u);",
                            false => "",
                        }
                    ),
                };
            }
            let next = u32::from(!np.poisson);
            // The words of this step are one half of `fused_spikes_<p>` (by the step's
            // parity), read here; the other half, read at the last step's emission, is
            // cleared for the next (barriers lie between either use and this).
            let list = match listed.contains(&np) {
                // Each invocation lists its word at the count of the words before it (what
                // `summarize` lists, word by word); invocation 0 stores the summary and the
                // length. Counted at their worst case (`list_passes`). The count runs over
                // every word, the same trips and addresses in every invocation (a loop that a
                // compiler may unroll, its loads independent and uniform), adding those
                // before its own.
                true => format!(
                    "\n            var at = 0u;\n            \
                     for (var m = 0u; m < {words}u; m = m + 1u) {{\n                \
                     at = at + select(0u, countOneBits(atomicLoad(&fused_spikes_{pi}[h + m])), m < w);\n            }}\n            \
                     list_word(bits_{pi}(), step.t + {next}u, b, w, word, at);\n            \
                     loop_passes = loop_passes + {}u;",
                    words + 34
                ),
                false => String::new(),
            };
            let summary = match listed.contains(&np) {
                true => format!(
                    "\n        if (lid.x == 0u) {{\n            \
                     var mask = 0u;\n            \
                     var n = 0u;\n            \
                     for (var m = 0u; m < {words}u; m = m + 1u) {{\n                \
                     let word = atomicLoad(&fused_spikes_{pi}[h + m]);\n                \
                     mask = mask | select(0u, 1u << m, word != 0u);\n                \
                     n = n + countOneBits(word);\n            }}\n            \
                     store_summary(bits_{pi}(), step.t + {next}u, b, 0u, mask, n);\n        }}\n        \
                     loop_passes = loop_passes + {}u;",
                    words + 1
                ),
                false => String::new(),
            };
            let _ = writeln!(
                emits,
                "        {{\n        \
                 let h = (s & 1u) * {words}u;\n        \
                 for (var w = lid.x; w < {words}u; w = w + WG) {{\n            \
                 let word = atomicLoad(&fused_spikes_{pi}[h + w]);\n            \
                 atomicStore(&fused_spikes_{pi}[{words}u - h + w], 0u);\n            \
                 emit_word(bits_{pi}(), step.t + {next}u, b, w, word);{list}\n            \
                 loop_passes = loop_passes + 1u;\n        }}\n        \
                 loop_passes = loop_passes + 1u;{summary}\n        }}"
            );
            continue;
        }
        // Summaries and propagation count their own loop passes (`loop_passes`,
        // propagate.wgsl); every other item adds its worst case.
        let strided = |item: &str, passes: u64| {
            let (pad, open, close) = match p.learn_only {
                true => ("    ", "        if (chunk.learn != 0u) {\n", "        }\n"),
                false => ("", "", ""),
            };
            format!(
                "{open}{pad}        for (var x = lid.x; x < {n}u; x = x + WG) {{\n{pad}            {item}(x, b);\n{pad}            loop_passes = loop_passes + {}u;\n{pad}        }}\n{pad}        loop_passes = loop_passes + 1u;{}\n{close}",
                passes + 1,
                flush_weights(p),
                n = p.invocations
            )
        };
        if p.phase == Phase::Potentiation {
            let fired = match fired_pops {
                Some(_) => " && fired != 0u",
                None => "",
            };
            let _ = writeln!(
                g,
                "        if (chunk.learn != 0u{fired}) {{\n            {}_shared(lid.x, b);{}\n        }}",
                p.entry,
                flush_weights(p)
            );
            traces.push_str(&strided(&format!("{}_traces", p.entry), 0));
        } else if matches!(p.phase, Phase::Propagation | Phase::Summaries) {
            g.push_str(&strided(&p.item, 0));
        } else {
            g.push_str(&strided(&p.item, p.max_loop_passes));
        }
    }
    flush(&mut g, &mut emits, phase == Some(Phase::Neurons));
    if !traces.is_empty() {
        // Every invocation has read post2 of the spiking posts before their traces change.
        let (open, close) = match fired_pops {
            Some(_) => ("        if (fired != 0u) {\n", "        }\n"),
            None => ("", ""),
        };
        g.push_str(open);
        g.push_str("        storageBarrier();\n");
        g.push_str(&traces);
        g.push_str(close);
    }
    if end_barrier {
        g.push_str("        storageBarrier();\n");
    }
    g.push_str("        s = s + 1u;\n");
    g.push_str("    }\n");
    g.push_str(&store_all);
    let _ = writeln!(
        g,
        "    \
         if (lid.x == 0u && s > s0) {{\n        \
         ustate[{ctl}u + b] = s;\n        \
         ustate[{done}u + b] = ustate[{done}u + b] + 1u;\n    }}\n}}",
        ctl = program.ctl,
        done = program.ctl + program.batch
    );
    head.push_str(&g);
    let mut m = engine_fused_module(&head);
    if subgroups {
        m.label.push_str(".subgroups");
    }
    m
}
