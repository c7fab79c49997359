//! The GENERAL GPU ENGINE: runs any [`Network`] of `model::net`, K copies side by side, with
//! the API and the semantics of the CPU engine (`cpu::engine`, whose docs define the order
//! of operations and of every float sum of a step; this engine keeps both, so on a device
//! that rounds as the CPU does, llvmpipe for one, it gives the CPU's bits). One exception:
//! the weight-dependent STDP rule with μ ≠ 1 takes a `pow`, which WGSL does not round as
//! Rust's `powf` (on llvmpipe the weights differ in the last bit; spikes stay equal in the
//! tests).
//!
//! - `layout` places every population, projection and monitor in eight storage buffers,
//!   the copies as a batch dimension of each region;
//! - `program` composes one WGSL module per network from the shared stage functions,
//!   with one entry point per pass;
//! - `protocol` adds what a protocol such as Diehl & Cook's needs between runs, as the CPU
//!   engine has it: rest, keyed Poisson streams, counting runs, frozen trials, and the
//!   network state as plain data;
//! - this module is the driver: the **passes** schedule. Each step is a dispatch per
//!   source, per projection (propagation), per neuron population, one for the state
//!   monitors and, while learning, one per plastic projection (potentiation), each over as
//!   many workgroups as its size needs and the copies as the second dimension. Up to
//!   [`GpuEngineOptions::steps_per_submit`] steps go into one compute pass and one
//!   submission, the step number coming from a uniform at a dynamic offset; recordings are
//!   read back once per submission, and the neuron state once per [`GpuEngine::run`];
//! - `fused` is the **fused** schedule: one dispatch runs many steps, one workgroup per
//!   copy, barriers between the phases of a step, for networks that fit one workgroup
//!   (its docs give the fit rule); it counts its loop passes in the kernel and keeps each
//!   copy's progress on the device, and reads it back with the neuron state. [`EngineSchedule::Auto`] (the default) picks it where
//!   the network fits, else the passes; both give the same bits.
//!
//! Spikes are bitsets (one invocation writes a word of 32 neurons), so every spike list is
//! ascending, as the CPU's, without atomics; each post neuron's invocation owns the synapses
//! that reach it, so depression, potentiation and normalisation need no atomics either.

pub(crate) mod fused;
pub(crate) mod layout;
pub(crate) mod program;
mod protocol;
mod series;

use super::context::{GpuContext, LOOP_ITERATION_BUDGET};
use super::layout::StepInfo;
use super::readback::Staging;
use super::shaders::ComposedModule;
use super::timer::PassTimer;
use crate::backend::DeviceWaits;
use crate::error::{Result, SnnError};
use crate::model::net::{poisson_thresholds, Network, Recording, MAX_DELAY_STEPS};
use layout::{Layout, MonitorRegions, PopRegions, ProjKind, NEVER};
use program::{PassSpec, Program, FILED_COUNTS_BINDING, TABLE_PART_BINDING};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::sync::OnceLock;

/// How the general GPU engine lays a step out in dispatches (speed only, never results).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EngineSchedule {
    /// Fused where the network fits (see the `fused` module's fit rule), else passes.
    #[default]
    Auto,
    /// A dispatch per pass of a step (sources, projections, populations, ...).
    Passes,
    /// One dispatch for many steps, a workgroup per copy; an error where the network does
    /// not fit.
    Fused,
}

/// What has been read back of one projection's weights (every copy) since they last
/// changed: the weights themselves, and whether the device check found them all finite.
#[derive(Default)]
struct ReadWeights {
    all: OnceLock<Vec<f32>>,
    finite: OnceLock<bool>,
}

impl ReadWeights {
    fn clear(&mut self) {
        *self = ReadWeights::default();
    }
}

/// Quiet steps of a run (`StepInfo::quiet`): from step `from` on, Poisson source
/// `source − 1` is silent and nothing is counted.
#[derive(Debug, Clone, Copy, Default)]
struct Quiet {
    from: Option<u32>,
    source: u32,
}

impl Quiet {
    /// `StepInfo::quiet` at step `t`.
    fn at(&self, t: u32) -> u32 {
        match self.from {
            Some(from) if t >= from => self.source,
            _ => 0,
        }
    }
}

/// What a run does besides its steps ([`GpuEngine::run_planned`]): regions of `ustate`
/// `(entry, length)` set to 0 and a normalisation (projection, target sum) before its first
/// step, quiet steps, a source silenced, a weight check and a decay after its last step, and
/// regions of `ustate` read back with its state at its end. All of it is encoded with the
/// steps: a run writes no buffer for it but the uniforms of a new target sum or decay.
#[derive(Debug, Default)]
struct RunPlan {
    zero: Vec<(u64, u64)>,
    normalize: Option<(usize, f32)>,
    quiet: Quiet,
    check: Option<usize>,
    /// The checked projection's weights were finite at the start: its weight flag, raised
    /// by the writes of the run (`store_weight`), answers without a check pass.
    check_by_writes: bool,
    silence: Option<Silence>,
    decay: Option<Decay>,
    reads: Vec<(u64, u64)>,
}

/// A state variable of every copy multiplied by a factor after a run (`scale_state` in the
/// generated module: once per copy, even where the run takes more than one submission).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Decay {
    /// The variable's region in `fstate` (`[copy][neuron]`), and its neurons.
    at: u32,
    n: u32,
    factor: f32,
}

/// Poisson thresholds set to 0 after a run (rates 0: the source silent from then on), and
/// what they were, written back where a fused submission ends before the run's last step
/// and another follows.
#[derive(Debug)]
struct Silence {
    /// The thresholds' first entry in the tables.
    at: u64,
    thresholds: Vec<u32>,
}

/// Launch choices of the general GPU engine (speed only, never results).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GpuEngineOptions {
    /// Invocations per workgroup (the `WG` override); `None`: on a software adapter 32, on
    /// hardware [`GpuContext::default_workgroup_size`] where the network runs fused at it
    /// (a copy's workgroup is then all the parallelism of its step), else
    /// [`DEFAULT_WORKGROUP_SIZE`] (the passes spread over many workgroups).
    pub workgroup_size: Option<u32>,
    /// Steps recorded into one submission (and rows of the recording buffers).
    pub steps_per_submit: u32,
    /// The schedule; [`EngineSchedule::Auto`] by default.
    pub schedule: EngineSchedule,
    /// Loop passes one invocation may make in one dispatch: a network whose pass could make
    /// more is refused (passes); a fused dispatch, which counts the passes it makes, runs
    /// steps while one more step's worst case fits. `None`: the budget of llvmpipe's silent
    /// loop cap (`LOOP_ITERATION_BUDGET`) on a software adapter, no budget elsewhere.
    pub loop_budget: Option<u64>,
    /// Synapses per post neuron and delay slot in the arrival queues of a plastic
    /// projection delivered at emission with per-synapse delays (0: no queues; each post
    /// neuron then checks every spike of the delay window at every step). A queue that
    /// would overflow makes that slot's arrival step check the window, so the capacity
    /// changes speed only; a smaller one is taken where the queues would pass 32 MiB.
    pub arrival_queue: u32,
    /// The most bytes of one binding of the read-only tables (CSR rows, synapses by post,
    /// delays, …); `None`: the adapter's `max_storage_buffer_binding_size`. Larger tables
    /// are split between bindings at region boundaries (each binding beyond the first takes
    /// one more of the adapter's `max_storage_buffers_per_shader_stage`).
    pub table_binding_bytes: Option<u64>,
    /// Time the passes that run the steps on the device, with timestamp queries where the
    /// adapter has them ([`GpuEngine::device_seconds`]); off by default (it costs a resolve
    /// and 16 bytes of readback per submission).
    pub device_timing: bool,
    /// The most presentations of a series ([`GpuEngine::present_series`]) that run in one
    /// submission, judged and retried on the device (1: one at a time, judged on the host).
    /// A submission's rounds cost a uniform slot and their inputs in a staging buffer each,
    /// the rounds after one that stops the series are still issued (their kernels do
    /// nothing), and above 1 every Poisson source keeps two more sets of thresholds (the
    /// input a late copy shows and its retry). `None`: [`DEFAULT_PRESENTATIONS_PER_SUBMISSION`] without a loop budget, 1
    /// under one (llvmpipe), where a presentation is many dispatches, which a round issued
    /// after the stop would cost as well, and a wait for the device costs little more than
    /// the work it waits for.
    pub presentations_per_submission: Option<u32>,
}

/// The most presentations of a series in one submission where no loop budget applies
/// ([`GpuEngineOptions::presentations_per_submission`]).
pub const DEFAULT_PRESENTATIONS_PER_SUBMISSION: u32 = 16;

/// The workgroup size of a hardware adapter's engine under the passes schedule, the least it
/// takes by default under the fused one ([`crate::gpu::context::hardware_workgroup_size`]),
/// and the size of the modules composed without an adapter ([`compose_module_for`]).
pub const DEFAULT_WORKGROUP_SIZE: u32 = 64;

/// The default [`GpuEngineOptions::arrival_queue`].
pub const DEFAULT_ARRIVAL_QUEUE: u32 = 32;

impl Default for GpuEngineOptions {
    fn default() -> Self {
        GpuEngineOptions {
            workgroup_size: None,
            steps_per_submit: 256,
            schedule: EngineSchedule::Auto,
            loop_budget: None,
            arrival_queue: DEFAULT_ARRIVAL_QUEUE,
            table_binding_bytes: None,
            device_timing: false,
            presentations_per_submission: None,
        }
    }
}

struct Pass {
    pipeline: wgpu::ComputePipeline,
    groups: u32,
    learn_only: bool,
}

/// A projection's normalisation: its two entry points (`normalize_sum_<q>`,
/// `normalize_scale_<q>`), their workgroups per copy, and their pipelines, built on first
/// use (most networks never normalise).
struct Normalize {
    entries: [String; 2],
    groups: u32,
    pipelines: Option<[wgpu::ComputePipeline; 2]>,
}

struct Buffers {
    step: wgpu::Buffer,
    fstate: wgpu::Buffer,
    wsyn: wgpu::Buffer,
    /// The parts of the tables, one binding each (`Layout::table_parts`).
    tables: Vec<wgpu::Buffer>,
    rec_bits: wgpu::Buffer,
    rec_vals: wgpu::Buffer,
    ustate: wgpu::Buffer,
    bits: wgpu::Buffer,
    fwork: wgpu::Buffer,
}

/// The WGSL module the engine composes for `net` (one entry point per pass; see
/// `program`), for validation and inspection.
///
/// # Errors
/// [`SnnError::InvalidNetwork`] from [`Network::validate`]; [`SnnError::Unsupported`] for
/// what the GPU program cannot express.
pub fn compose_module(net: &Network) -> Result<ComposedModule> {
    compose_module_for(net, EngineSchedule::Passes)
}

/// The WGSL module of `schedule` for `net`: [`compose_module`] for the passes, the module
/// with the `fused` entry point for [`EngineSchedule::Fused`] (whether or not the network
/// fits); `Auto` is the passes.
///
/// # Errors
/// As [`compose_module`].
pub fn compose_module_for(net: &Network, schedule: EngineSchedule) -> Result<ComposedModule> {
    net.validate()?;
    let program = program::compose(&Layout::new(net, 1, DEFAULT_ARRIVAL_QUEUE, true)?);
    Ok(match schedule {
        EngineSchedule::Fused => {
            // The module as under a budget (its budget check included).
            let plan = fused::FusedPlan {
                passes_per_step: 1,
                steps_per_dispatch: 1,
                last_start: Some(LOOP_ITERATION_BUDGET - 1),
            };
            fused::module(&program, &plan, DEFAULT_WORKGROUP_SIZE)
        }
        EngineSchedule::Auto | EngineSchedule::Passes => program.module,
    })
}

/// The workgroup size of an engine whose options leave it open, given the adapter's size for
/// the network (`sized`, [`GpuContext::default_workgroup_size`]) and whether the network
/// runs fused at a size: `sized` on a software adapter, and on hardware where the schedule
/// is fused at it (a fused copy's workgroup is all the parallelism of its step); else
/// [`DEFAULT_WORKGROUP_SIZE`], for the passes, which spread a pass over many workgroups
/// (more multiprocessors at 64 invocations each).
fn default_workgroup_size(
    software: bool,
    sized: u32,
    schedule: EngineSchedule,
    fits_fused: impl Fn(u32) -> bool,
) -> u32 {
    let fused = schedule != EngineSchedule::Passes && fits_fused(sized);
    match software || fused {
        true => sized,
        false => DEFAULT_WORKGROUP_SIZE,
    }
}

/// The fused schedule's pipeline and chunking.
struct FusedRun {
    pipeline: wgpu::ComputePipeline,
    /// Steps one dispatch ran in the last run (the fewest of its copies): how many
    /// dispatches the host issues next.
    steps_per_dispatch: f64,
}

/// The general GPU engine: a validated [`Network`] on a device, and its K copies.
pub struct GpuEngine {
    ctx: Arc<GpuContext>,
    net: Network,
    layout: Layout,
    buffers: Buffers,
    bind_group: wgpu::BindGroup,
    /// The passes of a step (empty under the fused schedule).
    step: Vec<Pass>,
    fused: Option<FusedRun>,
    normalize: Vec<Option<Normalize>>,
    /// `check_<q>` per projection: flags a weight that is not finite.
    check: Vec<Option<Pass>>,
    /// Bytes between two steps' `StepInfo` (the uniform offset alignment).
    step_stride: u64,
    clock: u32,
    learning: bool,
    /// `[copy][monitor]`.
    records: Vec<Vec<Recording>>,
    /// The neuron float state as of the end of the last run.
    fstate: Vec<f32>,
    /// What has been read back of each projection's weights since they last changed.
    weights: Vec<ReadWeights>,
    opts: GpuEngineOptions,
    /// The copies that run: all of them, or the trials of a chunk (`protocol`).
    active: u32,
    /// The engine that runs [`Self::run_trials`], built on first use (`protocol`), and the
    /// copy it was built for (0 unless the copies have arrays of their own).
    trials: Option<(usize, Box<GpuEngine>)>,
    /// Times the step passes (`GpuEngineOptions::device_timing`).
    timer: Option<PassTimer>,
    /// Read-backs so far, and nanoseconds spent in them ([`Self::device_waits`]).
    waits: [AtomicU64; 2],
    /// The target sum in the normalisation's `StepInfo` (written when it changes).
    norm_target: Option<f32>,
    /// `scale_state` and `scale_mark`, built on first use (most engines never decay).
    decay_passes: Option<[wgpu::ComputePipeline; 2]>,
    /// The module's label, the module and the pipeline layout (to build passes later).
    module: (String, wgpu::ShaderModule, wgpu::PipelineLayout),
    /// Invocations per workgroup.
    wg: u32,
    /// The decay and the progress it waits for in their `StepInfo` (written when they change).
    decay_info: Option<(Decay, u32)>,
    /// The read-backs' staging buffer.
    staging: Staging,
    /// A series' pipelines and staging buffer, built on first use (`series`).
    series: Option<series::SeriesPasses>,
    /// The most presentations of a series in one submission
    /// (`GpuEngineOptions::presentations_per_submission`).
    series_max: u32,
}

impl GpuEngine {
    /// Validates `net` and builds its program and buffers on `ctx`, every copy at its
    /// initial state, step 0, learning on, with the default [`GpuEngineOptions`].
    ///
    /// # Errors
    /// As [`Self::with_options`].
    pub fn new(ctx: Arc<GpuContext>, net: &Network) -> Result<Self> {
        Self::with_options(ctx, net, GpuEngineOptions::default())
    }

    /// As [`Self::new`], with launch options.
    ///
    /// # Errors
    /// [`SnnError::InvalidNetwork`] from [`Network::validate`]; [`SnnError::InvalidParam`]
    /// for bad options; [`SnnError::LimitExceeded`] if a buffer does not fit the adapter;
    /// [`SnnError::Unsupported`] for what the GPU program cannot express;
    /// [`SnnError::Gpu`] if the shader or a pipeline fails.
    pub fn with_options(
        ctx: Arc<GpuContext>,
        net: &Network,
        opts: GpuEngineOptions,
    ) -> Result<Self> {
        net.validate()?;
        if let Some(wg) = opts.workgroup_size {
            if wg == 0 || !wg.is_power_of_two() {
                return Err(SnnError::invalid(
                    "workgroup_size",
                    wg,
                    "a power of two >= 1",
                ));
            }
            ctx.check_limit(
                "max_compute_invocations_per_workgroup",
                wg as u64,
                ctx.limits.max_compute_invocations_per_workgroup as u64,
            )?;
        }
        if opts.steps_per_submit == 0 {
            return Err(SnnError::invalid(
                "steps_per_submit",
                opts.steps_per_submit,
                "at least 1",
            ));
        }
        let budget = opts
            .loop_budget
            .or(ctx.is_software().then_some(LOOP_ITERATION_BUDGET as u64));
        let series_max = match (opts.presentations_per_submission, budget) {
            (Some(n), _) => n.max(1),
            (None, Some(_)) => 1,
            (None, None) => DEFAULT_PRESENTATIONS_PER_SUBMISSION,
        };
        // A series may show a copy's late input or its retry (two more sets of thresholds).
        let mut layout = Layout::new(
            net,
            opts.steps_per_submit,
            opts.arrival_queue,
            series_max > 1,
        )?;
        let max_binding = ctx.limits.max_storage_buffer_binding_size;
        let table_binding = opts
            .table_binding_bytes
            .map_or(max_binding, |b| b.min(max_binding));
        ctx.check_limit(
            "max_storage_buffer_binding_size (the largest region of the tables)",
            layout.largest_table_region() * 4,
            table_binding,
        )?;
        layout.split_tables(table_binding / 4);
        let program = program::compose(&layout);
        let wg = opts.workgroup_size.unwrap_or_else(|| {
            default_workgroup_size(
                ctx.is_software(),
                ctx.default_workgroup_size(net),
                opts.schedule,
                |wg| fused::plan(&program, wg, budget).is_ok(),
            )
        });
        let fused_plan = match opts.schedule {
            EngineSchedule::Passes => None,
            EngineSchedule::Auto => fused::plan(&program, wg, budget).ok(),
            EngineSchedule::Fused => Some(
                fused::plan(&program, wg, budget)
                    .map_err(|why| SnnError::Unsupported(format!("fused schedule: {why}")))?,
            ),
        };
        if let Some(budget) = budget {
            // llvmpipe silently ends loops past its cap; refuse rather than run wrong.
            let step_passes = program.step.iter().filter(|_| fused_plan.is_none());
            let normalize = program.normalize.iter().flatten().flatten();
            let between = normalize.chain(program.check.iter().flatten());
            let passes = step_passes.chain(between);
            if let Some(p) = passes.max_by_key(|p| p.max_loop_passes) {
                ctx.check_limit(
                    "loop passes per invocation (llvmpipe ends loops past 65,535)",
                    p.max_loop_passes,
                    budget,
                )?;
            }
        }
        let k = layout.batch;
        ctx.check_limit(
            "max_compute_workgroups_per_dimension",
            k as u64,
            ctx.limits.max_compute_workgroups_per_dimension as u64,
        )?;
        let dev = &ctx.device;
        let step_stride = (std::mem::size_of::<StepInfo>() as u64)
            .max(ctx.limits.min_uniform_buffer_offset_alignment as u64);
        let rows = opts.steps_per_submit as u64;
        let storage = wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_DST
            | wgpu::BufferUsages::COPY_SRC;
        // Every buffer holds at least 16 bytes: wgpu refuses empty bindings.
        let make = |label: &str, bytes: &[u8], len: u64| -> Result<wgpu::Buffer> {
            let size = (len * 4).max(16);
            ctx.check_limit("max_storage_buffer_binding_size", size, max_binding)?;
            let buf = dev.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage: storage,
                mapped_at_creation: false,
            });
            if !bytes.is_empty() {
                ctx.queue.write_buffer(&buf, 0, bytes);
            }
            Ok(buf)
        };
        let fstate = make(
            "engine.fstate",
            bytemuck::cast_slice(&layout.fstate),
            layout.fstate.len() as u64,
        )?;
        let ustate = make(
            "engine.ustate",
            bytemuck::cast_slice(&layout.ustate),
            layout.ustate.len() as u64,
        )?;
        let bits = make("engine.bits", &[], layout.bits_len)?;
        let wsyn = make(
            "engine.wsyn",
            bytemuck::cast_slice(&layout.wsyn),
            layout.wsyn.len() as u64,
        )?;
        let fwork = make("engine.fwork", &[], layout.fwork_len)?;
        let parts = &layout.table_parts;
        let tables = (0..parts.len())
            .map(|n| {
                let a = parts[n] as usize;
                let b = parts
                    .get(n + 1)
                    .map_or(layout.tables.len(), |&e| e as usize);
                let label = format!("engine.tables.{n}");
                make(
                    &label,
                    bytemuck::cast_slice(&layout.tables[a..b]),
                    (b - a) as u64,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let filed_counts = (layout.counts_len > 0)
            .then(|| make("engine.filed_counts", &[], layout.counts_len))
            .transpose()?;
        let rec_bits = make("engine.rec_bits", &[], rows * layout.rec_bits_per_row)?;
        let rec_vals = make("engine.rec_vals", &[], rows * layout.rec_vals_per_row)?;
        let step = dev.create_buffer(&wgpu::BufferDescriptor {
            label: Some("engine.step"),
            // One slot per step of a submission, one for normalisation, one for a decay,
            // then two per round of a series (`series`).
            size: (rows + 2 + 2 * series_max as u64) * step_stride,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });

        let module = ctx.shader_module(&program.module.label, &program.module.source)?;
        let entry =
            |binding: u32, ty: wgpu::BufferBindingType, dynamic: bool| wgpu::BindGroupLayoutEntry {
                binding,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty,
                    has_dynamic_offset: dynamic,
                    min_binding_size: None,
                },
                count: None,
            };
        let rw = wgpu::BufferBindingType::Storage { read_only: false };
        let read_only = wgpu::BufferBindingType::Storage { read_only: true };
        let extra_parts = tables.len() as u32 - 1;
        let mut entries = vec![
            entry(0, wgpu::BufferBindingType::Uniform, true),
            entry(1, rw, false),
            entry(2, rw, false),
            entry(3, rw, false),
            entry(4, rw, false),
            entry(5, rw, false),
            entry(6, read_only, false),
            entry(7, rw, false),
            entry(8, rw, false),
        ];
        if filed_counts.is_some() {
            entries.push(entry(FILED_COUNTS_BINDING, rw, false));
        }
        entries.extend((0..extra_parts).map(|n| entry(TABLE_PART_BINDING + n, read_only, false)));
        ctx.check_limit(
            "max_storage_buffers_per_shader_stage",
            8 + filed_counts.is_some() as u64 + extra_parts as u64,
            ctx.limits.max_storage_buffers_per_shader_stage as u64,
        )?;
        let bgl = ctx.scoped("engine.layout", || {
            dev.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some("engine.layout"),
                entries: &entries,
            })
        })?;
        let pipeline_layout = dev.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("engine.pipeline_layout"),
            bind_group_layouts: &[Some(&bgl)],
            immediate_size: 0,
        });
        fn whole(b: &wgpu::Buffer) -> wgpu::BindingResource<'_> {
            b.as_entire_binding()
        }
        let uniform = wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: &step,
            offset: 0,
            size: wgpu::BufferSize::new(std::mem::size_of::<StepInfo>() as u64),
        });
        let storage = [
            &fstate, &ustate, &bits, &wsyn, &fwork, &tables[0], &rec_bits, &rec_vals,
        ];
        let group_entries: Vec<wgpu::BindGroupEntry> = std::iter::once((0, uniform))
            .chain((1..).zip(storage.into_iter().map(whole)))
            .chain(
                filed_counts
                    .iter()
                    .map(|b| (FILED_COUNTS_BINDING, whole(b))),
            )
            .chain((TABLE_PART_BINDING..).zip(tables[1..].iter().map(whole)))
            .map(|(binding, resource)| wgpu::BindGroupEntry { binding, resource })
            .collect();
        let bind_group = ctx.scoped("engine.bind_group", || {
            dev.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("engine.bind_group"),
                layout: &bgl,
                entries: &group_entries,
            })
        })?;
        let fused = match fused_plan {
            Some(plan) => {
                let m = fused::module(&program, &plan, wg);
                let module = ctx.shader_module(&m.label, &m.source)?;
                Some(FusedRun {
                    pipeline: ctx.compute_pipeline(
                        &m.label,
                        &pipeline_layout,
                        &module,
                        "fused",
                        wg,
                    )?,
                    steps_per_dispatch: plan.steps_per_dispatch as f64,
                })
            }
            None => None,
        };
        let Program {
            module: composed,
            step: step_specs,
            normalize: norm_specs,
            check: check_specs,
            ..
        } = program;
        // The workgroups per copy of a pass, within the device's limit.
        let groups = |spec: &PassSpec| -> Result<u32> {
            let groups = spec.invocations.div_ceil(wg);
            ctx.check_limit(
                "max_compute_workgroups_per_dimension",
                groups as u64,
                ctx.limits.max_compute_workgroups_per_dimension as u64,
            )?;
            Ok(groups)
        };
        let pass = |spec: &PassSpec| -> Result<Pass> {
            let groups = groups(spec)?;
            Ok(Pass {
                pipeline: ctx.compute_pipeline(
                    &composed.label,
                    &pipeline_layout,
                    &module,
                    &spec.entry,
                    wg,
                )?,
                groups,
                learn_only: spec.learn_only,
            })
        };
        let step_passes = step_specs
            .iter()
            .filter(|_| fused.is_none())
            .map(pass)
            .collect::<Result<Vec<_>>>()?;
        let normalize = norm_specs
            .into_iter()
            .map(|s| {
                s.map(|[sum, scale]| -> Result<Normalize> {
                    Ok(Normalize {
                        groups: groups(&sum)?,
                        entries: [sum.entry, scale.entry],
                        pipelines: None,
                    })
                })
                .transpose()
            })
            .collect::<Result<Vec<_>>>()?;
        let check = check_specs
            .iter()
            .map(|s| s.as_ref().map(pass).transpose())
            .collect::<Result<Vec<_>>>()?;
        let records = (0..k)
            .map(|_| {
                layout
                    .monitors
                    .iter()
                    .map(|m| match m {
                        MonitorRegions::Spikes { .. } => Recording::Spikes(vec![]),
                        MonitorRegions::Rate { .. } => Recording::Rate(vec![]),
                        MonitorRegions::State { neurons, .. } => Recording::State {
                            neurons: neurons.clone(),
                            values: vec![],
                        },
                    })
                    .collect()
            })
            .collect();
        let timer = opts.device_timing.then(|| PassTimer::new(&ctx)).flatten();
        Ok(GpuEngine {
            fstate: layout.fstate.clone(),
            weights: (0..layout.projs.len())
                .map(|_| ReadWeights::default())
                .collect(),
            ctx,
            net: net.clone(),
            layout,
            buffers: Buffers {
                step,
                fstate,
                wsyn,
                tables,
                rec_bits,
                rec_vals,
                ustate,
                bits,
                fwork,
            },
            bind_group,
            step: step_passes,
            fused,
            normalize,
            check,
            step_stride,
            clock: 0,
            learning: true,
            records,
            opts,
            active: k,
            trials: None,
            timer,
            waits: Default::default(),
            norm_target: None,
            decay_passes: None,
            module: (composed.label, module, pipeline_layout),
            wg,
            decay_info: None,
            staging: Staging::default(),
            series: None,
            series_max,
        })
    }

    /// The network this engine runs.
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// Seconds the device spent in the compute passes that ran this engine's steps since it
    /// was built (one pass per submission of steps; [`Self::run_trials`]' included), from
    /// timestamp queries; None without [`GpuEngineOptions::device_timing`] or on an adapter
    /// without them ([`GpuContext::has_timestamps`]). Host time per run minus this is the
    /// host's share.
    pub fn device_seconds(&self) -> Option<f64> {
        let trials = self.trials.as_ref().and_then(|(_, e)| e.device_seconds());
        self.timer
            .as_ref()
            .map(|t| t.seconds() + trials.unwrap_or(0.0))
    }

    /// How many times the host has waited for the device on this engine's behalf since it
    /// was built, and for how long (each read-back is one wait, from its copy's submission
    /// to the bytes on the host; [`Self::run_trials`]' included): a training presentation
    /// ([`Self::present`]) under the fused schedule without recordings costs one. The time
    /// of a call minus its waits is the host's own work.
    pub fn device_waits(&self) -> DeviceWaits {
        let trials = self.trials.as_ref().map(|(_, e)| e.device_waits());
        let [count, nanos] = &self.waits;
        DeviceWaits {
            count: count.load(Ordering::Relaxed) + trials.map_or(0, |t| t.count),
            seconds: nanos.load(Ordering::Relaxed) as f64 * 1e-9
                + trials.map_or(0.0, |t| t.seconds),
        }
    }

    /// `ranges` of device buffers, read back in one wait ([`Self::device_waits`]).
    fn read_back(&self, ranges: &[(&wgpu::Buffer, u64, u64)], label: &str) -> Result<Vec<Vec<u8>>> {
        self.read_back_after(None, ranges, label)
    }

    /// [`Self::read_back`] after the work `enc` holds, in its submission.
    fn read_back_after(
        &self,
        enc: Option<wgpu::CommandEncoder>,
        ranges: &[(&wgpu::Buffer, u64, u64)],
        label: &str,
    ) -> Result<Vec<Vec<u8>>> {
        let t0 = std::time::Instant::now();
        let got = self.staging.read(&self.ctx, enc, ranges, label);
        if ranges.iter().any(|r| r.2 > 0) {
            let [count, nanos] = &self.waits;
            count.fetch_add(1, Ordering::Relaxed);
            nanos.fetch_add(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
        }
        got
    }

    /// [`Self::read_back`] of one range.
    fn read_back_one(&self, buf: &wgpu::Buffer, at: u64, len: u64, label: &str) -> Result<Vec<u8>> {
        Ok(self
            .read_back(&[(buf, at, len)], label)?
            .pop()
            .unwrap_or_default())
    }

    /// The compute passes [`Self::device_seconds`] has timed (submissions of steps).
    pub fn timed_passes(&self) -> Option<u64> {
        let trials = self.trials.as_ref().and_then(|(_, e)| e.timed_passes());
        self.timer
            .as_ref()
            .map(|t| t.passes() + trials.unwrap_or(0))
    }

    /// The schedule this engine runs ([`EngineSchedule::Passes`] or
    /// [`EngineSchedule::Fused`]).
    pub fn schedule(&self) -> EngineSchedule {
        match self.fused {
            Some(_) => EngineSchedule::Fused,
            None => EngineSchedule::Passes,
        }
    }

    /// Invocations per workgroup ([`GpuEngineOptions::workgroup_size`], or the adapter's
    /// default for this network).
    pub fn workgroup_size(&self) -> u32 {
        self.wg
    }

    /// Steps one dispatch runs: 1 under the passes (a dispatch per pass of a step); under
    /// the fused schedule, as many as the loop passes it counts leave within the loop budget
    /// (all of a submission without one): what the last run made, the fewest of its copies
    /// rounded down, or before any run the number that every step's worst case allows.
    pub fn steps_per_dispatch(&self) -> u32 {
        match &self.fused {
            Some(f) => f.steps_per_dispatch.min(u32::MAX as f64) as u32,
            None => 1,
        }
    }

    /// How many storage bindings hold the read-only tables: 1, or more where they pass
    /// one binding's limit ([`GpuEngineOptions::table_binding_bytes`]).
    pub fn table_bindings(&self) -> usize {
        self.buffers.tables.len()
    }

    /// Steps run so far.
    pub fn step_count(&self) -> u32 {
        self.clock
    }

    /// Turns learning (STDP and θ adaptation) on or off; on at construction.
    pub fn set_learning(&mut self, on: bool) {
        if on && !self.learning {
            // The arrival queues were not filled while learning was off.
            self.check_the_delay_windows();
        }
        self.learning = on;
    }

    /// Runs `steps` steps of every copy.
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`] if the step clock would pass `u32::MAX`;
    /// [`SnnError::NonFinite`] if a neuron variable became NaN or infinite;
    /// [`SnnError::Gpu`] if the device fails.
    pub fn run(&mut self, steps: u32) -> Result<()> {
        self.run_planned(steps, &RunPlan::default()).map(drop)
    }

    /// [`Self::run`] with `plan`'s normalisation, quiet steps, weight check and read-backs: what a run
    /// reads at its end (the neuron state, and under the fused schedule the progress) and
    /// `plan.reads` come back together, so the run costs one wait on the device where its
    /// steps take one submission. Returns `plan.reads`' bytes.
    fn run_planned(&mut self, steps: u32, plan: &RunPlan) -> Result<Vec<Vec<u8>>> {
        let t0 = self.clock;
        let last = NEVER - 1 - MAX_DELAY_STEPS;
        let Some(t1) = t0.checked_add(steps).filter(|&t| t <= last) else {
            return Err(SnnError::invalid(
                "steps",
                steps,
                format!("at most {} more steps (u32 clock)", last - t0),
            ));
        };
        // Without recordings the fused schedule runs the whole run as one submission.
        let recorded = self.layout.rec_bits_per_row + self.layout.rec_vals_per_row > 0;
        let span = match (&self.fused, recorded) {
            (Some(_), false) => u32::MAX,
            _ => self.layout.rows,
        };
        let mut t = t0;
        let mut got = None;
        let mut begin = Some(plan);
        while t < t1 {
            let n = span.min(t1 - t);
            let tail = (t + n == t1).then_some(plan);
            got = self.run_submission(t, n, plan.quiet, begin.take(), tail)?;
            t += n;
            self.clock = t;
        }
        let got = match got {
            Some(g) => g,
            None => {
                // The passes schedule (or no step): the run's end, then the state and the reads.
                let mut enc = self.encoder("engine.end");
                if let Some(b) = begin {
                    self.encode_begin(&mut enc, b)?;
                }
                self.encode_end(plan, 0, &mut enc)?;
                let ranges = self.end_ranges(plan);
                self.read_back_after(Some(enc), &ranges, "engine.fstate")?
            }
        };
        self.finish_run(got, plan)
    }

    /// The end of `plan`'s run, from what its last submission read (`end_ranges`): what was
    /// read of the weights forgotten, the check's answer and the neuron state kept (and
    /// checked). Returns `plan.reads`' bytes.
    ///
    /// # Errors
    /// [`SnnError::NonFinite`] for a neuron variable that is not finite.
    fn finish_run(&mut self, mut got: Vec<Vec<u8>>, plan: &RunPlan) -> Result<Vec<Vec<u8>>> {
        self.weights.iter_mut().for_each(ReadWeights::clear);
        if let Some(q) = plan.check {
            let flag = got.pop().unwrap_or_default();
            let _ = self.weights[q]
                .finite
                .set(bytemuck::cast_slice::<u8, u32>(&flag).first() == Some(&0));
        }
        let reads = got.split_off(1);
        self.keep_state(&got[0])?;
        Ok(reads)
    }

    /// Keeps `bytes` as the neuron state of the last run.
    ///
    /// # Errors
    /// [`SnnError::NonFinite`] for a variable that is not finite, naming the copy.
    fn keep_state(&mut self, bytes: &[u8]) -> Result<()> {
        self.fstate = bytemuck::cast_slice(bytes).to_vec();
        let k = self.layout.batch;
        self.check_finite(|name, b| {
            if k == 1 {
                name.to_string()
            } else {
                format!("{name} (copy {b})")
            }
        })
    }

    /// What a run reads at its end: the neuron state, `end.reads` and the check's flag.
    fn end_ranges(&self, end: &RunPlan) -> Vec<(&wgpu::Buffer, u64, u64)> {
        let b = &self.buffers;
        let mut ranges = vec![(&b.fstate, 0, self.layout.fstate.len() as u64 * 4)];
        ranges.extend(
            end.reads
                .iter()
                .map(|&(at, len)| (&b.ustate, at * 4, len * 4)),
        );
        if let Some(q) = end.check {
            ranges.push((&b.ustate, self.check_flag(q), 4));
        }
        ranges
    }

    /// The byte offset of projection `q`'s weight flag in `ustate`.
    fn check_flag(&self, q: usize) -> u64 {
        self.layout.weight_flag(q) as u64 * 4
    }

    /// The pipeline of entry point `entry` of the engine's module, for the passes built on
    /// first use (normalisation, a presentation's decay).
    ///
    /// # Errors
    /// Shader errors.
    fn pipeline(&self, entry: &str) -> Result<wgpu::ComputePipeline> {
        let (label, module, layout) = &self.module;
        self.ctx
            .compute_pipeline(label, layout, module, entry, self.wg)
    }

    /// A command encoder labelled `label`.
    fn encoder(&self, label: &str) -> wgpu::CommandEncoder {
        self.ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) })
    }

    /// Encodes what `plan` does before a run's first step into `enc`: its regions of
    /// `ustate` set to 0, then its normalisation.
    fn encode_begin(&mut self, enc: &mut wgpu::CommandEncoder, plan: &RunPlan) -> Result<()> {
        for &(at, len) in &plan.zero {
            enc.clear_buffer(&self.buffers.ustate, at * 4, Some(len * 4));
        }
        if plan.decay.is_some() {
            // No copy's decay done (`scale_mark`).
            let (marks, k) = (self.layout.decay_marks() as u64, self.layout.batch as u64);
            enc.clear_buffer(&self.buffers.ustate, marks * 4, Some(k * 4));
        }
        if let Some(q) = plan.check.filter(|_| plan.check_by_writes) {
            enc.clear_buffer(&self.buffers.ustate, self.check_flag(q), Some(4));
        }
        if let Some((q, target)) = plan.normalize {
            self.encode_normalize(enc, q, target)?;
        }
        Ok(())
    }

    /// Encodes what `plan` does after a run's last step into `enc`: its source silenced,
    /// then in one compute pass its weight check (unless the run's writes answer it) and its
    /// decay, the decay of each copy whose fused progress has reached `need` (0: every copy,
    /// the passes schedule).
    fn encode_end(
        &mut self,
        plan: &RunPlan,
        need: u32,
        enc: &mut wgpu::CommandEncoder,
    ) -> Result<()> {
        if let Some(s) = &plan.silence {
            let (buf, at) = self.table_at(s.at);
            enc.clear_buffer(buf, at * 4, Some(s.thresholds.len() as u64 * 4));
        }
        let slot = (self.layout.rows + 1) as u64 * self.step_stride;
        if let Some(d) = plan.decay {
            if self.decay_passes.is_none() {
                let passes = [self.pipeline("scale_state")?, self.pipeline("scale_mark")?];
                self.decay_passes = Some(passes);
            }
            if self.decay_info != Some((d, need)) {
                let info = StepInfo {
                    t: d.at,
                    row: d.n,
                    learn: need,
                    norm_target: d.factor,
                    quiet: 0,
                    aux: 0,
                    _pad: [0; 2],
                };
                self.ctx
                    .queue
                    .write_buffer(&self.buffers.step, slot, bytemuck::bytes_of(&info));
                self.decay_info = Some((d, need));
            }
        }
        let check = plan
            .check
            .filter(|_| !plan.check_by_writes)
            .and_then(|q| Some((q, self.check[q].as_ref()?)));
        if check.is_none() && plan.decay.is_none() {
            return Ok(());
        }
        if let Some((q, _)) = check {
            enc.clear_buffer(&self.buffers.ustate, self.check_flag(q), Some(4));
        }
        let mut cp = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("engine.end"),
            timestamp_writes: None,
        });
        if let Some((_, pass)) = check {
            self.dispatch_check(&mut cp, pass);
        }
        if let (Some(d), Some([scale, mark])) = (plan.decay, &self.decay_passes) {
            cp.set_bind_group(0, &self.bind_group, &[slot as u32]);
            cp.set_pipeline(scale);
            cp.dispatch_workgroups(d.n.div_ceil(self.wg), self.active, 1);
            cp.set_pipeline(mark);
            cp.dispatch_workgroups(1, self.active, 1);
        }
        Ok(())
    }

    /// Encodes projection `q`'s weight check (`check_<q>`, which raises its flag where a
    /// weight is not finite) into `enc`, the flag cleared before it.
    fn encode_check(&self, q: usize, enc: &mut wgpu::CommandEncoder) {
        let Some(pass) = self.check[q].as_ref() else {
            return;
        };
        enc.clear_buffer(&self.buffers.ustate, self.check_flag(q), Some(4));
        let mut cp = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("engine.check"),
            timestamp_writes: None,
        });
        self.dispatch_check(&mut cp, pass);
    }

    /// Dispatches the weight check `pass` (`check_<q>`) over every copy in `cp`.
    fn dispatch_check(&self, cp: &mut wgpu::ComputePass<'_>, pass: &Pass) {
        cp.set_bind_group(0, &self.bind_group, &[0]);
        cp.set_pipeline(&pass.pipeline);
        cp.dispatch_workgroups(pass.groups, self.layout.batch, 1);
    }

    /// Steps `t .. t + n` in one compute pass and one submission (the fused schedule: as
    /// many more as its copies need to reach step `t + n`), after the normalisation `begin`
    /// where given, then the recordings; with `end` (the run's last submission) under the
    /// fused schedule, what the run reads at its end too (`end_ranges`, read with the
    /// progress).
    fn run_submission(
        &mut self,
        t: u32,
        n: u32,
        quiet: Quiet,
        begin: Option<&RunPlan>,
        end: Option<&RunPlan>,
    ) -> Result<Option<Vec<Vec<u8>>>> {
        let mut enc = self.encoder("engine.steps");
        if let Some(b) = begin {
            self.encode_begin(&mut enc, b)?;
        }
        if self.fused.is_some() {
            return self.run_fused(enc, t, n, quiet, end, true);
        }
        let stride = self.step_stride as usize;
        let learn = self.learning as u32;
        // One uniform per step, `stride` bytes apart.
        let mut infos = vec![0u8; n as usize * stride];
        for r in 0..n {
            let u: [u8; 32] = bytemuck::cast(StepInfo {
                t: t + r,
                row: r,
                learn,
                norm_target: 0.0,
                quiet: quiet.at(t + r),
                aux: 0,
                _pad: [0; 2],
            });
            let at = r as usize * stride;
            infos[at..at + 32].copy_from_slice(&u);
        }
        self.ctx.queue.write_buffer(&self.buffers.step, 0, &infos);
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("engine.steps"),
                timestamp_writes: self.timer.as_ref().map(PassTimer::writes),
            });
            for r in 0..n {
                pass.set_bind_group(0, &self.bind_group, &[r * self.step_stride as u32]);
                for p in &self.step {
                    if p.learn_only && !self.learning {
                        continue;
                    }
                    pass.set_pipeline(&p.pipeline);
                    pass.dispatch_workgroups(p.groups, self.active, 1);
                }
            }
        }
        if let Some(timer) = &self.timer {
            timer.resolve(&mut enc);
        }
        let mut ranges = self.record_ranges(n);
        ranges.extend(self.timer.as_ref().map(PassTimer::range));
        let mut got = self.read_back_after(Some(enc), &ranges, "engine.records")?;
        if let Some(timer) = &mut self.timer {
            timer.add(&got.pop().unwrap_or_default());
        }
        self.decode_records(t, n, &got);
        Ok(None)
    }

    /// The recording buffers' ranges that hold `n` rows.
    fn record_ranges(&self, n: u32) -> Vec<(&wgpu::Buffer, u64, u64)> {
        let lb = self.layout.rec_bits_per_row * n as u64;
        let lv = self.layout.rec_vals_per_row * n as u64;
        let mut ranges = vec![];
        if lb > 0 {
            // Rows r < n of every region: the regions are `rows` long, so read all of them.
            let all = self.layout.rec_bits_per_row * self.layout.rows as u64;
            ranges.push((&self.buffers.rec_bits, 0, all * 4));
        }
        if lv > 0 {
            ranges.push((&self.buffers.rec_vals, 0, lv * 4));
        }
        ranges
    }

    /// Decodes what [`Self::record_ranges`] read.
    fn decode_records(&mut self, t: u32, n: u32, got: &[Vec<u8>]) {
        let mut it = got.iter();
        let bits: Vec<u32> = match self.layout.rec_bits_per_row {
            0 => vec![],
            _ => it
                .next()
                .map(|b| bytemuck::cast_slice(b).to_vec())
                .unwrap_or_default(),
        };
        let vals: Vec<f32> = match self.layout.rec_vals_per_row {
            0 => vec![],
            _ => it
                .next()
                .map(|b| bytemuck::cast_slice(b).to_vec())
                .unwrap_or_default(),
        };
        self.decode(t, n, &bits, &vals);
    }

    /// The fused schedule's submission of steps `t .. t + n`: every copy's progress set to
    /// 0 where the run is `fresh` (else it goes on from where the device's progress says),
    /// then dispatches (as many as the last run's steps per dispatch suggest, plus one),
    /// each continuing each copy from its progress, and with `end` the weight check; the
    /// progress is read back with the recordings (and with `end`, what the run reads at its
    /// end), and more dispatches follow only if a copy has not reached `t + n`.
    fn run_fused(
        &mut self,
        enc: wgpu::CommandEncoder,
        t: u32,
        n: u32,
        quiet: Quiet,
        end: Option<&RunPlan>,
        fresh: bool,
    ) -> Result<Option<Vec<Vec<u8>>>> {
        let chunk = self.fused_chunk(t, n, quiet);
        let q = &self.ctx.queue;
        q.write_buffer(&self.buffers.step, 0, bytemuck::bytes_of(&chunk));
        let (k, active) = (self.layout.batch as usize, self.active as usize);
        let ctl = self.layout.ctl as u64 * 4;
        let mut enc = enc;
        if fresh {
            enc.clear_buffer(&self.buffers.ustate, ctl, Some(2 * k as u64 * 4));
        }
        let mut done = 0u32;
        let mut issued = 0u64;
        let mut first = Some(enc);
        loop {
            let dispatches = self.fused_dispatches(n - done);
            issued += dispatches;
            let mut enc = first.take().unwrap_or_else(|| self.encoder("engine.fused"));
            self.encode_fused(&mut enc, 0, dispatches);
            if let Some(timer) = &self.timer {
                timer.resolve(&mut enc);
            }
            if let Some(e) = end {
                self.encode_end(e, n, &mut enc)?;
            }
            let mut ranges = vec![(&self.buffers.ustate, ctl, 2 * k as u64 * 4)];
            ranges.extend(self.record_ranges(n));
            let records = ranges.len() - 1;
            if let Some(e) = end {
                ranges.extend(self.end_ranges(e));
            }
            ranges.extend(self.timer.as_ref().map(PassTimer::range));
            let mut got = self.read_back_after(Some(enc), &ranges, "engine.fused")?;
            if let Some(timer) = &mut self.timer {
                timer.add(&got.pop().unwrap_or_default());
            }
            let words: &[u32] = bytemuck::cast_slice(&got[0]);
            done = words[..active].iter().copied().min().unwrap_or(n);
            if done < n {
                // The source goes on drawing where the run goes on.
                if let Some(s) = end.and_then(|e| e.silence.as_ref()) {
                    self.write_tables(s.at, &s.thresholds);
                }
                if issued > n as u64 + 1 {
                    return Err(SnnError::Gpu {
                        label: "engine.fused".into(),
                        message: format!(
                            "{issued} dispatches reached step {done} of {n}: the fused \
                             schedule made no progress (a step that checks the delay window \
                             where arrival queues overflowed needs more loop passes than the \
                             budget leaves; use the passes schedule or larger arrival queues)"
                        ),
                    });
                }
                continue;
            }
            self.keep_dispatch_rate(n, &words[k..k + active]);
            let at_end = got.split_off(1 + records);
            got.remove(0);
            self.decode_records(t, n, &got);
            return Ok(end.map(|_| at_end));
        }
    }

    /// The fused chunk of steps `t .. t + n`, quiet from `quiet.from`.
    fn fused_chunk(&self, t: u32, n: u32, quiet: Quiet) -> fused::FusedChunk {
        let (quiet_from, quiet_source) = match quiet.from {
            Some(from) => (from.saturating_sub(t), quiet.source),
            None => (u32::MAX, 0),
        };
        fused::FusedChunk {
            t0: t,
            row0: 0,
            steps: n,
            learn: self.learning as u32,
            quiet_from,
            quiet_source,
            _pad: [0; 2],
        }
    }

    /// The fused dispatches that run `steps` steps at the last run's steps per dispatch, and
    /// one more (a dispatch that finds its copy done returns at once).
    fn fused_dispatches(&self, steps: u32) -> u64 {
        let per = self.fused.as_ref().map_or(1.0, |f| f.steps_per_dispatch);
        (steps as f64 / per.max(1.0)).ceil() as u64 + 1
    }

    /// Encodes `dispatches` fused dispatches of the chunk at byte `offset` of the step buffer
    /// into `enc`, in one compute pass, timed where the engine times its passes.
    fn encode_fused(&self, enc: &mut wgpu::CommandEncoder, offset: u32, dispatches: u64) {
        let Some(f) = &self.fused else {
            unreachable!("the fused dispatches run the fused schedule")
        };
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("engine.fused"),
            timestamp_writes: self.timer.as_ref().map(PassTimer::writes),
        });
        pass.set_bind_group(0, &self.bind_group, &[offset]);
        pass.set_pipeline(&f.pipeline);
        for _ in 0..dispatches {
            pass.dispatch_workgroups(self.active, 1, 1);
        }
    }

    /// Keeps the steps per dispatch of a fused run of `steps` steps, from each copy's
    /// dispatches that ran a step (`used`): the next run's estimate.
    fn keep_dispatch_rate(&mut self, steps: u32, used: &[u32]) {
        let used = used.iter().copied().max().unwrap_or(1).max(1);
        if let Some(f) = &mut self.fused {
            f.steps_per_dispatch = steps as f64 / used as f64;
        }
    }

    /// Appends steps `t .. t + n` of the recording buffers to the recordings.
    fn decode(&mut self, t: u32, n: u32, bits: &[u32], vals: &[f32]) {
        let k = self.layout.batch as usize;
        let n_slots = self.layout.n_slots as usize;
        for (b, recs) in self.records.iter_mut().enumerate() {
            for (m, rec) in self.layout.monitors.iter().zip(recs.iter_mut()) {
                match (m, rec) {
                    (MonitorRegions::Spikes { pop, mask }, Recording::Spikes(out)) => {
                        let pb = &self.layout.pops[*pop].bits;
                        let (base, words) = (pb.rec.unwrap_or(0) as usize, pb.words as usize);
                        for r in 0..n as usize {
                            let at = base + (r * k + b) * words;
                            for (wd, &word) in bits[at..at + words].iter().enumerate() {
                                let mut x = word;
                                while x != 0 {
                                    let i = wd * 32 + x.trailing_zeros() as usize;
                                    x &= x - 1;
                                    if mask.as_ref().is_none_or(|m| m[i]) {
                                        out.push((t + r as u32, i as u32));
                                    }
                                }
                            }
                        }
                    }
                    (MonitorRegions::Rate { pop }, Recording::Rate(out)) => {
                        let pb = &self.layout.pops[*pop].bits;
                        let (base, words) = (pb.rec.unwrap_or(0) as usize, pb.words as usize);
                        for r in 0..n as usize {
                            let at = base + (r * k + b) * words;
                            out.push(bits[at..at + words].iter().map(|w| w.count_ones()).sum());
                        }
                    }
                    (MonitorRegions::State { first, neurons }, Recording::State { values, .. }) => {
                        for r in 0..n as usize {
                            let at = (r * k + b) * n_slots + *first as usize;
                            values.extend_from_slice(&vals[at..at + neurons.len()]);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// The first NaN or infinite neuron variable of the running copies, as
    /// [`SnnError::NonFinite`] with the population named by `name(population, copy)`.
    fn check_finite(&self, name: impl Fn(&str, usize) -> String) -> Result<()> {
        // Every value finite (what a run leaves but for a blow-up): nothing to look for.
        if crate::backend::simulator::first_non_finite(&self.fstate).is_none() {
            return Ok(());
        }
        let k = self.active as usize;
        for b in 0..k {
            for (p, pop) in self.layout.pops.iter().enumerate() {
                let PopRegions::Neurons { vars, .. } = &pop.regions else {
                    continue;
                };
                let n = pop.size as usize;
                let checked: Vec<&(String, u32)> = vars
                    .iter()
                    .filter(|(v, _)| ["v", "theta", "ge", "gi"].contains(&v.as_str()))
                    .collect();
                for i in 0..n {
                    let bad = checked
                        .iter()
                        .find(|(_, at)| !self.fstate[*at as usize + b * n + i].is_finite());
                    if let Some((var, _)) = bad {
                        return Err(SnnError::NonFinite {
                            population: name(&self.net.populations[p].name, b),
                            variable: var.clone(),
                            neuron: i,
                            step: self.clock as u64,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    fn check_copy(&self, copy: usize) -> Result<()> {
        let k = self.layout.batch as usize;
        if copy >= k {
            return Err(SnnError::invalid(
                "copy",
                copy,
                format!("< the batch size {k}"),
            ));
        }
        Ok(())
    }

    fn projection_index(&self, name: &str) -> Result<usize> {
        self.net.projection_index(name)
    }

    /// Sets the Poisson rates (Hz) of source `population` in copy `copy`, from the next step.
    ///
    /// # Errors
    /// [`SnnError::UnknownName`], [`SnnError::InvalidNetwork`] for a population that is not a
    /// Poisson source or a bad rate, [`SnnError::InvalidParam`] for a bad copy.
    pub fn set_rates(&mut self, population: &str, copy: usize, rates_hz: &[f32]) -> Result<()> {
        let p = self.net.rates_target(population, rates_hz)?;
        let (pop, dt) = (&self.net.populations[p], self.net.dt_ms);
        self.check_copy(copy)?;
        let PopRegions::Poisson { thr, .. } = self.layout.pops[p].regions else {
            unreachable!("a Poisson population has Poisson regions")
        };
        let at = thr as u64 + copy as u64 * pop.size as u64;
        self.write_tables(at, &poisson_thresholds(rates_hz, dt));
        Ok(())
    }

    /// The weights of `projection` in copy `copy`, in synapse order
    /// (see `model::net::projection`), read back from the device once per change.
    ///
    /// # Errors
    /// [`SnnError::UnknownName`] or [`SnnError::InvalidParam`] for a bad copy;
    /// [`SnnError::Gpu`] if the read-back fails.
    pub fn weights(&self, projection: &str, copy: usize) -> Result<&[f32]> {
        let q = self.projection_index(projection)?;
        self.check_copy(copy)?;
        let p = &self.layout.projs[q];
        let n = p.n_syn() as usize;
        if self.weights[q].all.get().is_none() {
            let all = match p.kind {
                ProjKind::TotalMinusSelf(w) => vec![w; n * self.layout.batch as usize],
                _ => {
                    let len = n as u64 * self.layout.batch as u64;
                    let b = self.read_back_one(
                        &self.buffers.wsyn,
                        p.w as u64 * 4,
                        len * 4,
                        "engine.wsyn",
                    )?;
                    bytemuck::cast_slice(&b).to_vec()
                }
            };
            let _ = self.weights[q].all.set(all);
        }
        let all = self.weights[q].all.get().map(Vec::as_slice).unwrap_or(&[]);
        Ok(&all[copy * n..(copy + 1) * n])
    }

    /// Replaces the weights of `projection` in copy `copy`.
    ///
    /// # Errors
    /// As [`Self::weights`], and [`SnnError::InvalidNetwork`] for a wrong length or a weight
    /// outside `[w_min, w_max]`.
    pub fn set_weights(&mut self, projection: &str, copy: usize, w: &[f32]) -> Result<()> {
        let q = self.projection_index(projection)?;
        self.check_copy(copy)?;
        let p = &self.net.projections[q];
        let l = &self.layout.projs[q];
        let el = format!("projection `{projection}`");
        let have = l.n_syn() as usize;
        p.check_weights(w, have)?;
        if let ProjKind::TotalMinusSelf(w0) = l.kind {
            if w.iter().any(|&x| x != w0) {
                return Err(SnnError::Unsupported(format!(
                    "{el}: all-but-self with one constant weight keeps it; declare it with \
                     array weights to change single synapses"
                )));
            }
            return Ok(());
        }
        let at = (l.w as u64 + (copy * have) as u64) * 4;
        self.ctx
            .queue
            .write_buffer(&self.buffers.wsyn, at, bytemuck::cast_slice(w));
        if let Some(st) = l.stdp.as_ref().filter(|s| s.buckets) {
            let at = (st.loose as u64 + copy as u64 * l.syn.n_post as u64) * 4;
            let loose = l.loose_columns(w);
            self.ctx
                .queue
                .write_buffer(&self.buffers.ustate, at, bytemuck::cast_slice(&loose));
        }
        self.weights[q].clear();
        Ok(())
    }

    /// The index (synapse order) of the first weight of `projection` in `copy` that is NaN
    /// or infinite, if any: checked on the device (`check_<q>`), which flags one; only then
    /// are the weights read back to find it.
    ///
    /// # Errors
    /// As [`Self::weights`].
    pub fn first_non_finite_weight(&self, projection: &str, copy: usize) -> Result<Option<usize>> {
        let q = self.projection_index(projection)?;
        self.check_copy(copy)?;
        if self.check[q].is_none() {
            // One constant weight, finite (validated).
            return Ok(None);
        }
        // The check covers every copy: once it has found them all finite, the answer stands
        // for each copy until the weights change.
        let read = &self.weights[q];
        if read.all.get().is_none() && read.finite.get() != Some(&true) {
            let mut enc = self.encoder("engine.check");
            self.encode_check(q, &mut enc);
            let flag = [(&self.buffers.ustate, self.check_flag(q), 4)];
            let got = self.read_back_after(Some(enc), &flag, "engine.check")?;
            let got = got.first().map_or(&[][..], |g| &g[..]);
            let _ = read
                .finite
                .set(bytemuck::cast_slice::<u8, u32>(got).first() == Some(&0));
        }
        if read.finite.get() == Some(&true) {
            return Ok(None);
        }
        let w = self.weights(projection, copy)?;
        Ok(w.iter().position(|v| !v.is_finite()))
    }

    /// `(pre, post)` of every synapse of `projection`, in synapse order.
    ///
    /// # Errors
    /// [`SnnError::UnknownName`].
    pub fn synapses(&self, projection: &str) -> Result<Vec<(u32, u32)>> {
        let q = self.projection_index(projection)?;
        Ok(self.layout.projs[q].syn.pairs())
    }

    /// Scales the weights reaching each post neuron of `projection`, in every copy, so that
    /// they sum to `target_sum` (a post neuron whose sum is 0 is left alone), on the device:
    /// sums and scaling in synapse order, as the CPU engine's.
    ///
    /// # Errors
    /// [`SnnError::UnknownName`]; [`SnnError::InvalidParam`] for a target that is not finite
    /// and > 0; [`SnnError::Unsupported`] for an all-but-self projection of one weight.
    pub fn normalize_columns(&mut self, projection: &str, target_sum: f32) -> Result<()> {
        let q = self.normalize_index(projection, target_sum)?;
        let mut enc = self.encoder("engine.normalize");
        self.encode_normalize(&mut enc, q, target_sum)?;
        self.ctx.queue.submit([enc.finish()]);
        Ok(())
    }

    /// The projection [`Self::normalize_columns`] normalises, checked.
    pub(crate) fn normalize_index(&self, projection: &str, target_sum: f32) -> Result<usize> {
        let q = self.net.normalize_target(projection, target_sum)?;
        match &self.normalize[q] {
            Some(_) => Ok(q),
            None => Err(SnnError::Unsupported(format!(
                "projection `{projection}`: all-but-self with one constant weight cannot be \
                 normalised; declare it with array weights"
            ))),
        }
    }

    /// Encodes projection `q`'s normalisation to `target_sum` into `enc` (its uniform in the
    /// step buffer's last slot, which no step uses): the blocks' sums, then the scaling.
    ///
    /// # Errors
    /// Shader errors while building its pipelines (on first use).
    fn encode_normalize(
        &mut self,
        enc: &mut wgpu::CommandEncoder,
        q: usize,
        target_sum: f32,
    ) -> Result<()> {
        let Some(norm) = &self.normalize[q] else {
            return Ok(());
        };
        if norm.pipelines.is_none() {
            let built = [
                self.pipeline(&norm.entries[0])?,
                self.pipeline(&norm.entries[1])?,
            ];
            if let Some(norm) = &mut self.normalize[q] {
                norm.pipelines = Some(built);
            }
        }
        let slot = self.layout.rows as u64 * self.step_stride;
        // `normalize_scale` reads the target sum alone.
        if self.norm_target.map(f32::to_bits) != Some(target_sum.to_bits()) {
            let info = StepInfo {
                t: 0,
                row: 0,
                learn: 0,
                norm_target: target_sum,
                quiet: 0,
                aux: 0,
                _pad: [0; 2],
            };
            self.ctx
                .queue
                .write_buffer(&self.buffers.step, slot, bytemuck::bytes_of(&info));
            self.norm_target = Some(target_sum);
        }
        {
            let mut cp = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("engine.normalize"),
                timestamp_writes: None,
            });
            cp.set_bind_group(0, &self.bind_group, &[slot as u32]);
            if let Some(Normalize {
                pipelines: Some(pipelines),
                groups,
                ..
            }) = &self.normalize[q]
            {
                // One pass, two dispatches: wgpu orders a pass's dispatches that share a
                // storage buffer (a barrier between them).
                for p in pipelines {
                    cp.set_pipeline(p);
                    cp.dispatch_workgroups(*groups, self.layout.batch, 1);
                }
            }
        }
        self.weights[q].clear();
        Ok(())
    }

    /// The values of state variable `variable` of every neuron of `population` in `copy`,
    /// as of the end of the last run.
    ///
    /// # Errors
    /// [`SnnError::UnknownName`] for an unknown population or variable,
    /// [`SnnError::InvalidNetwork`] for a source, [`SnnError::InvalidParam`] for a bad copy.
    pub fn state(&self, population: &str, variable: &str, copy: usize) -> Result<Vec<f32>> {
        let (p, _, var) = self.net.state_target(population, variable)?;
        self.check_copy(copy)?;
        let (at, n) = self.state_region(p, var);
        let at = at + copy * n;
        Ok(self.fstate[at..at + n].to_vec())
    }

    /// Where variable `var` of neuron population `p` lies in `fstate`: its first entry
    /// (copy 0's) and its neurons per copy (`[copy][neuron]`).
    fn state_region(&self, p: usize, var: usize) -> (usize, usize) {
        let PopRegions::Neurons { vars, .. } = &self.layout.pops[p].regions else {
            unreachable!("a neuron population has neuron regions")
        };
        (vars[var].1 as usize, self.layout.pops[p].size as usize)
    }

    /// Sets state variable `variable` of every neuron of `population` in `copy` (one value
    /// per neuron), e.g. random initial conditions; as `cpu::engine::Engine::set_state`.
    ///
    /// # Errors
    /// As [`Self::state`], and [`SnnError::InvalidNetwork`] for a wrong length or a value
    /// that is not finite.
    pub fn set_state(
        &mut self,
        population: &str,
        variable: &str,
        copy: usize,
        values: &[f32],
    ) -> Result<()> {
        let (p, _, var) = self.net.set_state_target(population, variable, values)?;
        self.check_copy(copy)?;
        let (at, n) = self.state_region(p, var);
        let at = at + copy * n;
        self.fstate[at..at + n].copy_from_slice(values);
        self.ctx.queue.write_buffer(
            &self.buffers.fstate,
            at as u64 * 4,
            bytemuck::cast_slice(values),
        );
        Ok(())
    }

    /// What monitor `monitor` has recorded in `copy` since construction.
    ///
    /// # Errors
    /// [`SnnError::UnknownName`] or [`SnnError::InvalidParam`] for a bad copy.
    pub fn recording(&self, monitor: &str, copy: usize) -> Result<&Recording> {
        let m = self.net.monitor_index(monitor)?;
        self.check_copy(copy)?;
        Ok(&self.records[copy][m])
    }

    /// The population rate (Hz) per step of rate monitor `monitor` in `copy`:
    /// `count / (n · dt)`.
    ///
    /// # Errors
    /// As [`Self::recording`]; [`SnnError::InvalidParam`] if it is not a rate monitor.
    pub fn rate_hz(&self, monitor: &str, copy: usize) -> Result<Vec<f32>> {
        let Recording::Rate(counts) = self.recording(monitor, copy)? else {
            return Err(SnnError::invalid("monitor", monitor, "a rate monitor"));
        };
        Ok(self
            .net
            .rate_hz_of(self.net.monitor_index(monitor)?, counts))
    }

    /// Empties every recording (the clock keeps running).
    pub fn clear_recordings(&mut self) {
        for c in &mut self.records {
            for r in c {
                match r {
                    Recording::Spikes(v) => v.clear(),
                    Recording::State { values, .. } => values.clear(),
                    Recording::Rate(v) => v.clear(),
                }
            }
        }
    }
}

crate::backend::impl_simulator!(
    GpuEngine,
    |e| format!(
        "gpu:{}, {} schedule, {} invocations per workgroup",
        e.ctx.adapter_description(),
        match e.schedule() {
            EngineSchedule::Fused => "fused",
            _ => "passes",
        },
        e.wg
    ),
    first_non_finite_weight;
    device_seconds, device_waits, workgroup_size => present, present_series, series_len
);

#[cfg(test)]
mod tests {
    use super::{default_workgroup_size, EngineSchedule, DEFAULT_WORKGROUP_SIZE};

    #[test]
    fn hardware_sizes_the_workgroup_only_where_the_network_runs_fused() {
        let fits_up_to = |n: u32| move |wg: u32| wg <= n;
        for schedule in [EngineSchedule::Auto, EngineSchedule::Fused] {
            assert_eq!(
                default_workgroup_size(false, 512, schedule, fits_up_to(512)),
                512
            );
            let passes = default_workgroup_size(false, 512, schedule, fits_up_to(256));
            assert_eq!(passes, DEFAULT_WORKGROUP_SIZE);
        }
        let passes = default_workgroup_size(false, 512, EngineSchedule::Passes, fits_up_to(512));
        assert_eq!(passes, DEFAULT_WORKGROUP_SIZE);
        // A software adapter takes its own size under either schedule.
        for schedule in [EngineSchedule::Auto, EngineSchedule::Passes] {
            assert_eq!(
                default_workgroup_size(true, 32, schedule, fits_up_to(0)),
                32
            );
        }
    }
}
