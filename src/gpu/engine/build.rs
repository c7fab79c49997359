//! Building the general GPU engine: its options checked against the adapter's limits, the
//! network laid out and its program composed, the buffers, the bind group and the
//! pipelines of the schedule it runs, and the workgroup size where the options leave it
//! open.

use super::layout::{Layout, MonitorRegions};
use super::{
    fused, program, Buffers, EngineSchedule, FusedRun, GpuEngine, GpuEngineOptions, Normalize,
    Pass, ReadWeights, DEFAULT_PRESENTATIONS_PER_SUBMISSION, DEFAULT_WORKGROUP_SIZE,
};
use crate::error::{Result, SnnError};
use crate::gpu::context::{GpuContext, LOOP_ITERATION_BUDGET};
use crate::gpu::layout::StepInfo;
use crate::gpu::readback::Staging;
use crate::gpu::timer::PassTimer;
use crate::model::net::{Network, Recording};
use program::{PassSpec, Program, FILED_COUNTS_BINDING, TABLE_PART_BINDING};
use std::sync::Arc;

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
        let subgroups = match opts.subgroups {
            None => ctx.has_subgroups() && !ctx.is_software(),
            Some(false) => false,
            Some(true) if ctx.has_subgroups() => true,
            Some(true) => {
                return Err(SnnError::Unsupported(format!(
                    "subgroups: {} has no subgroup operations (wgpu::Features::SUBGROUP); \
                     leave GpuEngineOptions::subgroups unset or false",
                    ctx.adapter_description()
                )))
            }
        };
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
        let wg_bytes = ctx.limits.max_compute_workgroup_storage_size;
        let wg = opts.workgroup_size.unwrap_or_else(|| {
            default_workgroup_size(
                ctx.is_software(),
                ctx.default_workgroup_size(net),
                opts.schedule,
                |wg| fused::plan(&program, wg, budget, wg_bytes).is_ok(),
            )
        });
        let fused_plan = match opts.schedule {
            EngineSchedule::Passes => None,
            EngineSchedule::Auto => fused::plan(&program, wg, budget, wg_bytes).ok(),
            EngineSchedule::Fused => Some(
                fused::plan(&program, wg, budget, wg_bytes)
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
            // Out of device memory is an error, not a panic.
            let buf = ctx.scoped(label, || {
                dev.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(label),
                    size,
                    usage: storage,
                    mapped_at_creation: false,
                })
            })?;
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
        // One slot per step of a submission, one for normalisation, one for a decay, then two
        // per round of a series (`series`).
        let step_bytes = (rows + 2 + 2 * series_max as u64) * step_stride;
        // The slots are bound at 32-bit dynamic offsets.
        ctx.check_limit(
            "max_buffer_size (a uniform slot per step of a submission: steps_per_submit)",
            step_bytes,
            ctx.limits.max_buffer_size.min(u64::from(u32::MAX)),
        )?;
        let step = ctx.scoped("engine.step", || {
            dev.create_buffer(&wgpu::BufferDescriptor {
                label: Some("engine.step"),
                size: step_bytes,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        })?;

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
                let m = fused::module(&program, &plan, wg, subgroups);
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
                    subgroups,
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
            ctx.workgroups(
                "max_compute_workgroups_per_dimension",
                spec.invocations.into(),
                wg,
            )
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
