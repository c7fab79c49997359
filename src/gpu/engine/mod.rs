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
//! - `build` checks the options against the adapter, lays the network out, composes its
//!   program and creates the buffers and pipelines;
//! - `run` is the driver. Under the **passes** schedule each step is a dispatch per
//!   source, per projection (propagation), per neuron population, one for the state
//!   monitors and, while learning, one per plastic projection (potentiation), each over as
//!   many workgroups as its size needs and the copies as the second dimension. Up to
//!   [`GpuEngineOptions::steps_per_submit`] steps go into one compute pass and one
//!   submission, the step number coming from a uniform at a dynamic offset; recordings are
//!   read back once per submission, and the neuron state once per [`GpuEngine::run`];
//! - `fused` is the **fused** schedule: one dispatch runs many steps, one workgroup per
//!   copy, barriers between the phases of a step, for networks that fit one workgroup
//!   (its docs give the fit rule); it counts its loop passes in the kernel and keeps each
//!   copy's progress on the device, and reads it back with the neuron state.
//!   [`EngineSchedule::Auto`] (the default) picks it where the network fits, else the
//!   passes; both give the same bits;
//! - `protocol` adds what a protocol such as Diehl & Cook's needs between runs, as the CPU
//!   engine has it: rest, keyed Poisson streams, counting runs, frozen trials, and the
//!   network state as plain data; `series` runs a series of training presentations in one
//!   submission, judged and retried on the device;
//! - this module holds the engine's state and its API: the data in and out (rates,
//!   weights, state, recordings) and the runs.
//!
//! Spikes are bitsets (one invocation writes a word of 32 neurons), so every spike list is
//! ascending, as the CPU's, without atomics; each post neuron's invocation owns the synapses
//! that reach it, so depression, potentiation and normalisation need no atomics either.

mod build;
pub(crate) mod fused;
pub(crate) mod layout;
pub(crate) mod program;
mod protocol;
mod run;
mod series;

use super::context::{GpuContext, LOOP_ITERATION_BUDGET};
use super::readback::Staging;
use super::shaders::ComposedModule;
use super::timer::PassTimer;
use crate::backend::DeviceWaits;
use crate::error::{Result, SnnError};
use crate::model::net::{poisson_thresholds, Network, Recording};
use layout::{Layout, PopRegions, ProjKind};
use run::{Decay, Quiet, RunPlan, Silence};
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
    /// Subgroup operations in the fused schedule (`wgpu::Features::SUBGROUP`,
    /// [`GpuContext::has_subgroups`]): a subgroup's spikes of a step set their spike word
    /// with one workgroup `atomicOr` and raise the step's flag once, instead of one atomic
    /// per spike, where its lanes' neurons share a word (else per spike, as without). Same
    /// bits either way (an OR does not depend on its order). `None`: on a hardware device
    /// that has them, not on a software adapter (on llvmpipe they cost more than the atomics
    /// they save: RESULTS.md); `Some(true)` where the device lacks them is an error.
    pub subgroups: Option<bool>,
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
            subgroups: None,
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
    compose_with(net, schedule, false)
}

/// [`compose_module_for`], the fused module with subgroup operations where `subgroups`
/// (labelled `engine.fused.subgroups`).
pub(crate) fn compose_with(
    net: &Network,
    schedule: EngineSchedule,
    subgroups: bool,
) -> Result<ComposedModule> {
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
            fused::module(&program, &plan, DEFAULT_WORKGROUP_SIZE, subgroups)
        }
        EngineSchedule::Auto | EngineSchedule::Passes => program.module,
    })
}

/// The fused schedule's pipeline and chunking.
struct FusedRun {
    pipeline: wgpu::ComputePipeline,
    /// Steps one dispatch ran in the last run that took more than one (the fewest of its
    /// copies), or before any the plan's worst case: how many dispatches the host issues
    /// next.
    steps_per_dispatch: f64,
    /// The kernel uses subgroup operations (`GpuEngineOptions::subgroups`).
    subgroups: bool,
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
    /// was built, and for how long (each read-back is one wait, from the end of its
    /// submission to the bytes on the host: encoding and submitting are the host's own work;
    /// [`Self::run_trials`]' included): a training presentation
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

    /// Whether the fused schedule's kernel uses subgroup operations
    /// ([`GpuEngineOptions::subgroups`] on a device with them).
    pub fn uses_subgroups(&self) -> bool {
        self.fused.as_ref().is_some_and(|f| f.subgroups)
    }

    /// Invocations per workgroup ([`GpuEngineOptions::workgroup_size`], or the adapter's
    /// default for this network).
    pub fn workgroup_size(&self) -> u32 {
        self.wg
    }

    /// Steps one dispatch runs: 1 under the passes (a dispatch per pass of a step); under
    /// the fused schedule, as many as the loop passes it counts leave within the loop budget
    /// (all of a submission without one): what the last run of more than one dispatch made,
    /// the fewest of its copies rounded down, or before any the number that every step's
    /// worst case allows.
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
        "gpu:{}, {} schedule, {} invocations per workgroup{}",
        e.ctx.adapter_description(),
        match e.schedule() {
            EngineSchedule::Fused => "fused",
            _ => "passes",
        },
        e.wg,
        match e.uses_subgroups() {
            true => ", subgroups",
            false => "",
        }
    ),
    first_non_finite_weight;
    device_seconds, device_waits, workgroup_size => present, present_series, series_len
);
