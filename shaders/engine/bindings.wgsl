// bindings.wgsl: the resources of the general engine's program (src/gpu/engine). Every
// region's offset inside these buffers is a constant of the generated part of the module
// (src/gpu/engine/program.rs); copies (the batch) are a dimension of every region.

// Mirrors gpu::layout::StepInfo: one per step of a submission (dynamic offset).
struct StepInfo {
    // The step `t` (the engine's clock).
    t: u32,
    // Row of this step in the recording buffers (step within the submission).
    row: u32,
    // 1 while learning (STDP, θ adaptation) is on.
    learn: u32,
    // Target column sum of a `normalize_*` dispatch.
    norm_target: f32,
    // 0, or on a quiet step 1 + the index of the Poisson source that is silent at it (as if
    // its rates were 0); no spike is counted on a quiet step.
    quiet: u32,
    // A pass's own parameter: the steps of a series' round (`round_judge`).
    aux: u32,
    _pad1: u32,
    _pad2: u32,
}

const NONE: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> step: StepInfo;
// Float state of the neurons: per population and variable, [copy][neuron].
@group(0) @binding(1) var<storage, read_write> fstate: array<f32>;
// Integer state: refractory counters and spike counts [copy][neuron]; last arrival step of
// each plastic synapse [copy][synapse] (NONE: never).
@group(0) @binding(2) var<storage, read_write> ustate: array<u32>;
// Spike history of each population: bitsets [slot][copy][word], slot = emission step mod slots.
@group(0) @binding(3) var<storage, read_write> bits: array<u32>;
// Weights of each projection: [copy][synapse], in synapse order.
@group(0) @binding(4) var<storage, read_write> wsyn: array<f32>;
// Work: each population's input per target [copy][neuron]; delay rings [slot][copy][post];
// post traces post1, post2 [copy][post].
@group(0) @binding(5) var<storage, read_write> fwork: array<f32>;
// Read-only tables: CSR rows, per-synapse delays, Poisson thresholds, stream keys and origin
// steps (written by the host between runs), spike times, pre-trace tables (f32 bits), state
// monitor slots.
// Read through `tab(i)` (generated): tables larger than one binding may hold continue in
// `tables_1`, `tables_2`, … (bindings 10, 11, …; 9 holds `filed_counts` where a projection is
// pushed), whole regions in each.
@group(0) @binding(6) var<storage, read> tables: array<u32>;
// Recorded spike words [row][copy][word] of each recorded population.
@group(0) @binding(7) var<storage, read_write> rec_bits: array<u32>;
// Recorded state values [row][copy][slot].
@group(0) @binding(8) var<storage, read_write> rec_vals: array<f32>;
