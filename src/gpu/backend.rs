//! The GPU backend: buffers, pipelines and the host-side scheduler that steps time.
//!
//! [`GpuBackend::new`] composes the model's module (`gpu::shaders`), makes one storage
//! buffer per state variable, and builds one pipeline per entry point. [`Backend::run`]
//! records every step of the call into one encoder and submits once: the fused schedule
//! as chunks of steps inside one dispatch each, the stepwise one as a pass per stage.
//! Nothing is read back until `state` or `recording` is called.

use super::context::GpuContext;
use super::layout::{ChunkParams, NeuronCfg, NeuronParams, NO_SLOT};
use super::shaders::neuron_module;
use crate::backend::{Backend, NetworkState, Recording};
use crate::error::{Result, SnnError};
use crate::model::NetworkSpec;
use std::sync::Arc;
use wgpu::util::DeviceExt;

/// llvmpipe silently ends every loop once a SIMD group of invocations has passed 65,535 loop
/// headers in one dispatch, all loops together; a `for` loop of k trips passes k + 1 (the last
/// pass leaves it; `tests/gpu/llvmpipe_loop_cap.rs` pins this down). The fused schedule keeps
/// `steps × (neurons per invocation + 2)` under this budget.
pub const LOOP_ITERATION_BUDGET: u32 = 60_000;

/// How the scheduler maps steps and stages onto dispatches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Schedule {
    /// One compute pass per stage per step (charge, fire, reset, adapt, tick).
    Stepwise,
    /// Many steps inside one dispatch, one network per workgroup (the default).
    #[default]
    Fused,
}

/// GPU backend options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GpuBackendOptions {
    /// The schedule.
    pub schedule: Schedule,
    /// Invocations per workgroup (the `WG` override).
    pub workgroup_size: u32,
    /// Steps per fused dispatch; `None` (the default) keeps each dispatch under llvmpipe's
    /// loop cap ([`fused_chunk_steps`]). Larger values are for tests that show the cap.
    pub max_steps_per_dispatch: Option<u32>,
}

impl Default for GpuBackendOptions {
    fn default() -> Self {
        GpuBackendOptions {
            schedule: Schedule::Fused,
            workgroup_size: 64,
            max_steps_per_dispatch: None,
        }
    }
}

/// Steps per fused dispatch for `n` neurons at workgroup size `wg`, under the loop budget.
pub fn fused_chunk_steps(n: u32, wg: u32) -> u32 {
    // Per step: the steps loop's trip, the neuron loop's trips and its last pass.
    let per_invocation = n.div_ceil(wg);
    (LOOP_ITERATION_BUDGET / (per_invocation + 2)).max(1)
}

struct Pipelines {
    fused: wgpu::ComputePipeline,
    charge: wgpu::ComputePipeline,
    fire: wgpu::ComputePipeline,
    reset: wgpu::ComputePipeline,
    adapt: wgpu::ComputePipeline,
    tick: wgpu::ComputePipeline,
}

/// Runs a [`NetworkSpec`] on a wgpu device.
pub struct GpuBackend {
    ctx: Arc<GpuContext>,
    spec: NetworkSpec,
    opts: GpuBackendOptions,
    chunk_steps: u32,
    clock_host: Vec<u32>,
    clock: wgpu::Buffer,
    spiked: wgpu::Buffer,
    mon_spikes: wgpu::Buffer,
    mon_state: wgpu::Buffer,
    /// v, theta, refrac, then the model's variables.
    state_bufs: Vec<wgpu::Buffer>,
    chunk_full: wgpu::Buffer,
    chunk_tail: wgpu::Buffer,
    group0: wgpu::BindGroup,
    group1_full: wgpu::BindGroup,
    group1_tail: wgpu::BindGroup,
    pipelines: Pipelines,
    recording: Recording,
}

fn storage_entry(binding: u32, read_only: bool) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

fn uniform_entry(binding: u32) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

/// Copies `buf` to a mappable buffer and returns its bytes (one wait).
pub(crate) fn read_back(ctx: &GpuContext, buf: &wgpu::Buffer, label: &str) -> Result<Vec<u8>> {
    read_back_range(ctx, buf, 0, buf.size(), label)
}

/// [`read_back`] of the `size` bytes of `buf` from byte `offset` (both multiples of 4).
pub(crate) fn read_back_range(
    ctx: &GpuContext,
    buf: &wgpu::Buffer,
    offset: u64,
    size: u64,
    label: &str,
) -> Result<Vec<u8>> {
    if size == 0 {
        return Ok(vec![]);
    }
    let staging = ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(&format!("{label}.staging")),
        size,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut enc = ctx
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) });
    enc.copy_buffer_to_buffer(buf, offset, &staging, 0, size);
    ctx.queue.submit([enc.finish()]);
    let (tx, rx) = std::sync::mpsc::channel();
    staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    ctx.device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| SnnError::Gpu {
            label: label.into(),
            message: e.to_string(),
        })?;
    rx.recv()
        .map_err(|e| SnnError::Gpu {
            label: label.into(),
            message: e.to_string(),
        })?
        .map_err(|e| SnnError::Gpu {
            label: label.into(),
            message: e.to_string(),
        })?;
    let bytes = staging
        .slice(..)
        .get_mapped_range()
        .map_err(|e| SnnError::Gpu {
            label: label.into(),
            message: e.to_string(),
        })?
        .to_vec();
    staging.unmap();
    Ok(bytes)
}

impl GpuBackend {
    /// Builds buffers and pipelines for `spec` on `ctx`.
    ///
    /// # Errors
    /// Spec validation errors; [`SnnError::LimitExceeded`] if the network does not fit the
    /// adapter; [`SnnError::Gpu`] (with the shader's label) if a shader or pipeline fails.
    pub fn new(ctx: Arc<GpuContext>, spec: &NetworkSpec, opts: GpuBackendOptions) -> Result<Self> {
        spec.validate()?;
        let lim = &ctx.limits;
        let wg = opts.workgroup_size;
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
            lim.max_compute_invocations_per_workgroup as u64,
        )?;
        ctx.check_limit(
            "max_compute_workgroup_size_x",
            wg as u64,
            lim.max_compute_workgroup_size_x as u64,
        )?;
        ctx.check_limit(
            "max_compute_workgroups_per_dimension",
            spec.batch.max(spec.n.div_ceil(wg)) as u64,
            lim.max_compute_workgroups_per_dimension as u64,
        )?;
        let names = spec.model.state_var_names();
        let n_storage = 5 + 3 + (names.len() - 2);
        ctx.check_limit(
            "max_storage_buffers_per_shader_stage",
            n_storage as u64,
            lim.max_storage_buffers_per_shader_stage as u64,
        )?;

        let total = (spec.n * spec.batch) as usize;
        let recording = Recording::for_spec(spec);
        let max_binding = lim.max_storage_buffer_binding_size;
        let state_bytes = total as u64 * 4;
        ctx.check_limit(
            "max_storage_buffer_binding_size (state variable)",
            state_bytes,
            max_binding,
        )?;
        ctx.check_limit(
            "max_storage_buffer_binding_size (spike monitor)",
            recording.spike_words.len() as u64 * 4,
            max_binding,
        )?;
        ctx.check_limit(
            "max_storage_buffer_binding_size (state monitor)",
            recording.state.len() as u64 * 4,
            max_binding,
        )?;

        // Uniform constants, derived on the host once.
        let mut params = NeuronParams::from_derived(&spec.model.derive(spec.dt_ms));
        params.n = spec.n;
        params.batch = spec.batch;
        params.seed = spec.seed;
        params.input_const = spec.input.constant;
        params.poisson_weight = spec.input.poisson_weight();
        let active = spec.input.active_range();
        params.input_t0 = active.start;
        params.input_t1 = active.end;
        params.n_words = recording.n_words;
        params.rec_spike_t0 = recording.spike_steps.start;
        params.rec_spike_t1 = recording.spike_steps.end;
        params.rec_state_t0 = recording.state_steps.start;
        params.rec_state_t1 = recording.state_steps.end;
        params.rec_n_neurons = recording.state_neurons.len() as u32;
        params.rec_var_mask = spec.monitored_var_mask();
        params.rec_n_vars = recording.state_vars.len() as u32;

        let thr = spec.input.thresholds(spec.n, spec.dt_ms);
        let mut cfg: Vec<NeuronCfg> = thr
            .iter()
            .map(|&t| NeuronCfg {
                input_thr: t,
                rec_slot: NO_SLOT,
            })
            .collect();
        for (slot, &i) in recording.state_neurons.iter().enumerate() {
            cfg[i as usize].rec_slot = slot as u32;
        }

        let dev = &ctx.device;
        let storage = wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST;
        let label = |s: &str| format!("{}.{s}", spec.name);
        let init = |name: &str, bytes: &[u8], usage| {
            dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(&label(name)),
                contents: bytes,
                usage,
            })
        };
        // wgpu rejects zero-sized bindings: pad empty monitors to one word.
        let zeros = |len: usize| vec![0u8; len.max(1) * 4];

        let params_buf = init(
            "params",
            bytemuck::bytes_of(&params),
            wgpu::BufferUsages::UNIFORM,
        );
        let clock = init("clock", &zeros(spec.batch as usize), storage);
        let cfg_buf = init("neuron_cfg", bytemuck::cast_slice(&cfg), storage);
        let spiked = init("spiked", &zeros(total), storage);
        let mon_spikes = init("mon_spikes", &zeros(recording.spike_words.len()), storage);
        let mon_state = init("mon_state", &zeros(recording.state.len()), storage);
        let init_vals = spec.model.initial_values();
        let mut state_bufs = vec![
            init(
                "v",
                bytemuck::cast_slice(&vec![init_vals[0]; total]),
                storage,
            ),
            init(
                "theta",
                bytemuck::cast_slice(&vec![init_vals[1]; total]),
                storage,
            ),
            init("refrac", &zeros(total), storage),
        ];
        for (k, name) in names.iter().enumerate().skip(2) {
            state_bufs.push(init(
                name,
                bytemuck::cast_slice(&vec![init_vals[k]; total]),
                storage,
            ));
        }
        let chunk_usage = wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST;
        let chunk_full = init(
            "chunk_full",
            bytemuck::bytes_of(&ChunkParams {
                steps: 0,
                _pad0: 0,
                _pad1: 0,
                _pad2: 0,
            }),
            chunk_usage,
        );
        let chunk_tail = init(
            "chunk_tail",
            bytemuck::bytes_of(&ChunkParams {
                steps: 0,
                _pad0: 0,
                _pad1: 0,
                _pad2: 0,
            }),
            chunk_usage,
        );

        // Bind group layouts: the "C header" that the pipelines and bind groups agree on.
        let mut entries0 = vec![
            uniform_entry(0),
            storage_entry(1, false),
            storage_entry(2, true),
        ];
        for b in 3..(super::shaders::FIRST_STATE_BINDING + state_bufs.len() as u32) {
            entries0.push(storage_entry(b, false));
        }
        let layout0 = dev.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(&label("group0")),
            entries: &entries0,
        });
        let layout1 = dev.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(&label("group1")),
            entries: &[uniform_entry(0)],
        });
        let mut resources: Vec<&wgpu::Buffer> = vec![
            &params_buf,
            &clock,
            &cfg_buf,
            &spiked,
            &mon_spikes,
            &mon_state,
        ];
        resources.extend(state_bufs.iter());
        let group0 = dev.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(&label("group0")),
            layout: &layout0,
            entries: &resources
                .iter()
                .enumerate()
                .map(|(k, b)| wgpu::BindGroupEntry {
                    binding: k as u32,
                    resource: b.as_entire_binding(),
                })
                .collect::<Vec<_>>(),
        });
        let group1 = |buf: &wgpu::Buffer, name: &str| {
            dev.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(&label(name)),
                layout: &layout1,
                entries: &[wgpu::BindGroupEntry {
                    binding: 0,
                    resource: buf.as_entire_binding(),
                }],
            })
        };
        let group1_full = group1(&chunk_full, "group1.full");
        let group1_tail = group1(&chunk_tail, "group1.tail");

        let module_src = neuron_module(&spec.model);
        let shader_label = format!("{} ({})", module_src.label, spec.name);
        let module = ctx.shader_module(&shader_label, &module_src.source)?;
        let layout = dev.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(&label("pipeline_layout")),
            bind_group_layouts: &[Some(&layout0), Some(&layout1)],
            immediate_size: 0,
        });
        let pipeline =
            |entry: &str| ctx.compute_pipeline(&shader_label, &layout, &module, entry, wg);
        let pipelines = Pipelines {
            fused: pipeline("fused")?,
            charge: pipeline("step_charge")?,
            fire: pipeline("step_fire")?,
            reset: pipeline("step_reset")?,
            adapt: pipeline("step_adapt")?,
            tick: pipeline("step_tick")?,
        };

        Ok(GpuBackend {
            chunk_steps: opts
                .max_steps_per_dispatch
                .unwrap_or_else(|| fused_chunk_steps(spec.n, wg))
                .max(1),
            clock_host: vec![0; spec.batch as usize],
            clock,
            spiked,
            mon_spikes,
            mon_state,
            state_bufs,
            chunk_full,
            chunk_tail,
            group0,
            group1_full,
            group1_tail,
            pipelines,
            recording,
            spec: spec.clone(),
            opts,
            ctx,
        })
    }

    /// Steps per fused dispatch for this network.
    pub fn chunk_steps(&self) -> u32 {
        self.chunk_steps
    }

    fn record_fused(&self, enc: &mut wgpu::CommandEncoder, steps: u32) {
        let full = steps / self.chunk_steps;
        let tail = steps % self.chunk_steps;
        let chunk = |s| ChunkParams {
            steps: s,
            _pad0: 0,
            _pad1: 0,
            _pad2: 0,
        };
        self.ctx.queue.write_buffer(
            &self.chunk_full,
            0,
            bytemuck::bytes_of(&chunk(self.chunk_steps)),
        );
        self.ctx
            .queue
            .write_buffer(&self.chunk_tail, 0, bytemuck::bytes_of(&chunk(tail)));
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("fused"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&self.pipelines.fused);
        pass.set_bind_group(0, &self.group0, &[]);
        pass.set_bind_group(1, &self.group1_full, &[]);
        for _ in 0..full {
            pass.dispatch_workgroups(self.spec.batch, 1, 1);
        }
        if tail > 0 {
            pass.set_bind_group(1, &self.group1_tail, &[]);
            pass.dispatch_workgroups(self.spec.batch, 1, 1);
        }
    }

    fn record_stepwise(&self, enc: &mut wgpu::CommandEncoder, steps: u32) {
        let groups = self.spec.n.div_ceil(self.opts.workgroup_size);
        let p = &self.pipelines;
        for _ in 0..steps {
            for (name, pipe) in [
                ("charge", &p.charge),
                ("fire", &p.fire),
                ("reset", &p.reset),
                ("adapt", &p.adapt),
            ] {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some(name),
                    timestamp_writes: None,
                });
                pass.set_pipeline(pipe);
                pass.set_bind_group(0, &self.group0, &[]);
                pass.set_bind_group(1, &self.group1_full, &[]);
                pass.dispatch_workgroups(groups, self.spec.batch, 1);
            }
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("tick"),
                timestamp_writes: None,
            });
            pass.set_pipeline(&p.tick);
            pass.set_bind_group(0, &self.group0, &[]);
            pass.set_bind_group(1, &self.group1_full, &[]);
            pass.dispatch_workgroups(self.spec.batch, 1, 1);
        }
    }

    fn read_f32(&self, buf: &wgpu::Buffer, name: &str) -> Result<Vec<f32>> {
        Ok(bytemuck::cast_slice(&read_back(
            &self.ctx,
            buf,
            &format!("{}.{name}", self.spec.name),
        )?)
        .to_vec())
    }

    fn read_u32(&self, buf: &wgpu::Buffer, name: &str) -> Result<Vec<u32>> {
        Ok(bytemuck::cast_slice(&read_back(
            &self.ctx,
            buf,
            &format!("{}.{name}", self.spec.name),
        )?)
        .to_vec())
    }
}

impl Backend for GpuBackend {
    fn describe(&self) -> String {
        format!(
            "gpu:{}, {:?}",
            self.ctx.adapter_description(),
            self.opts.schedule
        )
        .to_lowercase()
    }

    fn run(&mut self, steps: u32) -> Result<()> {
        let t0 = self.clock_host.iter().copied().max().unwrap_or(0);
        if t0.checked_add(steps).is_none() {
            return Err(SnnError::invalid(
                "steps",
                steps,
                format!("at most {} more steps (u32 clock)", u32::MAX - t0),
            ));
        }
        if steps == 0 {
            return Ok(());
        }
        let label = format!("{}.run", self.spec.name);
        self.ctx.scoped(&label, || {
            let mut enc = self
                .ctx
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some(&label),
                });
            match self.opts.schedule {
                Schedule::Fused => self.record_fused(&mut enc, steps),
                Schedule::Stepwise => self.record_stepwise(&mut enc, steps),
            }
            self.ctx.queue.submit([enc.finish()]);
        })?;
        for c in &mut self.clock_host {
            *c += steps;
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        self.ctx
            .device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| SnnError::Gpu {
                label: format!("{}.sync", self.spec.name),
                message: e.to_string(),
            })
    }

    fn state(&mut self) -> Result<NetworkState> {
        let names = self.spec.model.state_var_names();
        let mut vars = Vec::with_capacity(names.len());
        vars.push(self.read_f32(&self.state_bufs[0], "v")?);
        vars.push(self.read_f32(&self.state_bufs[1], "theta")?);
        for (k, name) in names.iter().enumerate().skip(2) {
            vars.push(self.read_f32(&self.state_bufs[k + 1], name)?);
        }
        let total = (self.spec.n * self.spec.batch) as usize;
        let mut step = self.read_u32(&self.clock, "clock")?;
        step.truncate(self.spec.batch as usize);
        let mut refrac = self.read_u32(&self.state_bufs[2], "refrac")?;
        refrac.truncate(total);
        let mut spiked = self.read_u32(&self.spiked, "spiked")?;
        spiked.truncate(total);
        Ok(NetworkState {
            name: self.spec.name.clone(),
            n: self.spec.n,
            batch: self.spec.batch,
            step,
            var_names: names,
            vars,
            refrac,
            spiked: spiked.into_iter().map(|s| s != 0).collect(),
        })
    }

    fn recording(&mut self) -> Result<Recording> {
        let mut rec = self.recording.clone();
        let mut words = self.read_u32(&self.mon_spikes, "mon_spikes")?;
        words.truncate(rec.spike_words.len());
        rec.spike_words = words;
        let mut state = self.read_f32(&self.mon_state, "mon_state")?;
        state.truncate(rec.state.len());
        rec.state = state;
        Ok(rec)
    }
}
