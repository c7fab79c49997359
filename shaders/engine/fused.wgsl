// fused.wgsl: the fused schedule of the general engine (src/gpu/engine/fused.rs). In its
// module this part takes the place of bindings.wgsl's `step` uniform: the uniform holds the
// dispatch's chunk of steps, and `step` becomes a private variable that the generated entry
// point `fused` sets before each step, so every stage function reads its step (t, recording
// row, learning) exactly as under the passes schedule.

// One dispatch's steps: t0 .. t0 + steps, recorded from row row0, steps quiet_from .. quiet
// (StepInfo::quiet = quiet_source); 32 bytes, the size of StepInfo, so the passes' bind
// group serves both.
struct FusedChunk {
    t0: u32,
    row0: u32,
    steps: u32,
    learn: u32,
    quiet_from: u32,
    quiet_source: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> chunk: FusedChunk;
var<private> step: StepInfo;
