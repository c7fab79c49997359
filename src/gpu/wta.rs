//! GPU backend of the competitive layer: `shaders/network/wta_*.wgsl` driven presentation by
//! presentation, with the semantics of the CPU engine's Diehl & Cook network
//! (`experiments::diehl_cook::engine`; the tests compare them).
//!
//! Network slot 0 is the learning network (state carried between presentations); slots
//! 1..=B hold the frozen copies of a batch, one per workgroup. Weights and θ are shared.
//! A presentation is one submit of `present` dispatches (each runs steps until done or until
//! its loop budget is spent, see the shader) plus the end-of-presentation passes, then one
//! readback of the spike counts and the control block; more dispatches follow only if
//! llvmpipe's loop budget cut the presentation short.

use super::context::GpuContext;
use super::layout::{NetCtl, NetState, NeuronParams, StdpConsts, WtaParams};
use super::readback::read_back;
use super::shaders::wta_module;
use super::tuning::KernelTuning;
use super::wta_consts::Consts;
use crate::backend::{CompetitiveBackend, Snapshot};
use crate::error::{Result, SnnError};
use crate::model::wta::{presentation_seed, Wiring};
use crate::model::{CompetitiveSpec, PresentOptions, RestMode};
use std::sync::Arc;
use wgpu::util::DeviceExt;

/// Loop iterations a dispatch may spend before stopping at a step boundary, on software
/// adapters (llvmpipe stops loops silently at 65,535).
pub const SOFTWARE_ITER_BUDGET: u32 = 48_000;
/// Largest `n_input` the kernel's workgroup arrays hold.
pub const MAX_INPUTS: u32 = 1024;
/// Largest `n_exc` the kernel's workgroup arrays hold.
pub const MAX_EXC: u32 = 8192;

/// (population, variable) of each code of `NetState::nonfinite >> 24` (wta_end.wgsl).
pub(crate) const NONFINITE_VARS: [(&str, &str); 8] = [
    ("exc", "?"),
    ("exc", "v"),
    ("exc", "ge"),
    ("exc", "gi"),
    ("exc", "theta"),
    ("inh", "v"),
    ("inh", "ge"),
    ("inh", "gi"),
];

struct Buffers {
    cap: u32,
    bufs: Vec<wgpu::Buffer>,
    group: wgpu::BindGroup,
}

// Binding indices (see wta_common.wgsl).
pub(crate) const B_W: usize = 1;
pub(crate) const B_THETA: usize = 2;
pub(crate) const B_COUNTS: usize = 13;
pub(crate) const B_ACTIVE: usize = 14;
pub(crate) const B_CTL: usize = 15;
pub(crate) const B_NET: usize = 16;
/// The buffers that hold a network's dynamic state (all slots), by binding and label:
/// what a [`Snapshot`] of this backend holds. Inputs written per presentation, the uniform
/// and the constant tables are left out.
pub(crate) const SNAPSHOT_BUFFERS: &[(usize, &str)] = &[
    (B_W, "wta.w"),
    (B_THETA, "wta.theta"),
    (3, "wta.v_e"),
    (4, "wta.ge_e"),
    (5, "wta.gi_e"),
    (6, "wta.refrac_e"),
    (7, "wta.v_i"),
    (8, "wta.ge_i"),
    (9, "wta.refrac_i"),
    (10, "wta.post"),
    (11, "wta.last_pre"),
    (12, "wta.spk"),
    (B_COUNTS, "wta.counts"),
    (B_NET, "wta.net"),
    (18, "wta.post_list"),
    (19, "wta.gi_i"),
    (21, "wta.hist"),
    (B_X_RING, "wta.x_ring"),
];
/// Binding of the delayed-input ring (wta_common.wgsl `x_ring`).
const B_X_RING: usize = 23;
/// Storage bindings of wta_common.wgsl (1..=N_STORAGE).
const N_STORAGE: u32 = 23;
/// Inputs one arrival queue holds (`QCAP` in wta_common.wgsl): a neuron receives about 3.3
/// arrivals per 0.5 ms step at the paper's intensity 2, and more than 16 in a step falls
/// back to the scan, which gives the same values.
pub const QUEUE_CAP: u32 = 16;

/// Words of the delayed-input ring of `cap` network slots (one word without delays).
pub(crate) fn x_ring_words(slots: u32, cap: usize, n: usize) -> usize {
    if slots > 1 {
        slots as usize * cap * n
    } else {
        1
    }
}

/// Words of the arrival queues of one network slot with `slots` delay slots and `n` neurons
/// (none without delays or with the queues off).
pub(crate) fn queue_words(queued: bool, slots: u32, n: usize) -> usize {
    if queued && slots > 1 {
        slots as usize * (QUEUE_CAP as usize + 1) * n
    } else {
        0
    }
}

/// How the competitive layer's kernels map steps and stages onto dispatches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Schedule {
    /// One compute pass per stage per step (`ws_*` entry points), for tests and debugging.
    Stepwise,
    /// Many steps inside one dispatch, one network per workgroup (the default).
    #[default]
    Fused,
}

/// The competitive layer on a wgpu device.
pub struct GpuCompetitive {
    ctx: Arc<GpuContext>,
    c: Consts,
    wg: u32,
    /// Whether the fused schedule uses the arrival queues (KernelTuning::arrival_queue).
    queued: bool,
    params: WtaParams,
    params_buf: wgpu::Buffer,
    layout: wgpu::BindGroupLayout,
    pipes: Vec<wgpu::ComputePipeline>,
    schedule: Schedule,
    bufs: Buffers,
    /// Present dispatches recorded per round (learned from the last presentation).
    dispatches_per_round: u32,
}

pub(crate) const P_PRESENT: usize = 0;
pub(crate) const P_NORMALIZE: usize = 1;
pub(crate) const P_END: usize = 2;
pub(crate) const P_FINISH: usize = 3;
const P_RESET: usize = 4;
/// Stepwise entry points, in step order.
const STEPWISE: [&str; 6] = [
    "ws_input",
    "ws_neurons",
    "ws_collect",
    "ws_stdp_pre",
    "ws_stdp_post",
    "ws_tick",
];

impl GpuCompetitive {
    /// Builds pipelines and buffers for `spec` (initial weights from its seed, as the CPU).
    ///
    /// # Errors
    /// Spec errors; [`SnnError::LimitExceeded`] if the layer does not fit the adapter or the
    /// kernel; [`SnnError::Gpu`] with the shader's label.
    pub fn new(ctx: Arc<GpuContext>, spec: &CompetitiveSpec) -> Result<Self> {
        Self::with_schedule(ctx, spec, Schedule::Fused)
    }

    /// As [`Self::new`], with the schedule chosen: `Fused` (the default) or `Stepwise` (a
    /// dispatch per stage per step; for checking and debugging).
    ///
    /// # Errors
    /// As [`Self::new`].
    pub fn with_schedule(
        ctx: Arc<GpuContext>,
        spec: &CompetitiveSpec,
        schedule: Schedule,
    ) -> Result<Self> {
        let tuning = KernelTuning::for_context(&ctx);
        Self::with_tuning(ctx, spec, schedule, tuning)
    }

    /// As [`Self::with_schedule`], with the launch shape given instead of the adapter's
    /// default (tests run both ring modes on one adapter with it). Results do not depend on
    /// `tuning`.
    ///
    /// # Errors
    /// As [`Self::new`].
    pub fn with_tuning(
        ctx: Arc<GpuContext>,
        spec: &CompetitiveSpec,
        schedule: Schedule,
        tuning: KernelTuning,
    ) -> Result<Self> {
        spec.validate()?;
        ctx.check_limit(
            "n_input (wta_fused.wgsl workgroup arrays)",
            spec.n_input as u64,
            MAX_INPUTS as u64,
        )?;
        ctx.check_limit(
            "n_exc (wta_fused.wgsl workgroup arrays)",
            spec.n_exc as u64,
            MAX_EXC as u64,
        )?;
        ctx.check_limit(
            "max_storage_buffers_per_shader_stage",
            N_STORAGE as u64,
            ctx.limits.max_storage_buffers_per_shader_stage as u64,
        )?;
        let w_bytes = spec.n_input as u64 * spec.n_exc as u64 * 4;
        ctx.check_limit(
            "max_storage_buffer_binding_size (input weights)",
            w_bytes,
            ctx.limits.max_storage_buffer_binding_size,
        )?;
        let tuning = tuning.capped(&ctx);
        let wg = tuning.workgroup_size;
        let c = Consts::new(spec);
        let dev = &ctx.device;

        let (layout, pipes) = pipelines(&ctx, tuning, false, c.wiring)?;

        let params = base_params(&ctx, &c);
        let params_buf = dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("wta.params"),
            contents: bytemuck::bytes_of(&params),
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        });
        let w0 = spec.input.initial_dense(c.n_in, c.n, spec.seed);
        let theta0 = vec![spec.exc.theta.map_or(0.0, |t| t.theta_init_mv); c.n];
        let mut me = GpuCompetitive {
            bufs: Buffers {
                cap: 0,
                bufs: vec![],
                group: dummy_group(&ctx, &layout),
            },
            ctx,
            c,
            wg,
            queued: tuning.arrival_queue && schedule == Schedule::Fused,
            params,
            params_buf,
            layout,
            pipes,
            schedule,
            dispatches_per_round: 2,
        };
        me.allocate(1, &w0, &theta0, spec.exc.v_init_mv, spec.inh.v_init_mv)?;
        Ok(me)
    }

    /// (Re)allocates per-network buffers for `cap` slots (slot 0 + cap − 1 frozen copies),
    /// keeping the given weights and θ; slot 0 starts at the given potentials.
    fn allocate(
        &mut self,
        cap: u32,
        w: &[f32],
        theta: &[f32],
        v_exc0: f32,
        v_inh0: f32,
    ) -> Result<()> {
        let (n, n_in, capu) = (self.c.n, self.c.n_in, cap as usize);
        let dev = &self.ctx.device;
        let usage = wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST;
        let lim = self.ctx.limits.max_storage_buffer_binding_size;
        self.ctx.check_limit(
            "max_storage_buffer_binding_size (per-network state)",
            (capu * n.max(n_in) * 16) as u64,
            lim,
        )?;
        let slots = self.c.delays.as_ref().map_or(1, |d| d.slots);
        // Only the learning network (slot 0) files arrivals: frozen copies take their input
        // from x_ring alone.
        let queue_len = queue_words(self.queued, slots, n);
        let x_ring_len = x_ring_words(slots, capu, n);
        self.ctx.check_limit(
            "max_storage_buffer_binding_size (arrival queues)",
            queue_len as u64 * 4,
            lim,
        )?;
        self.ctx.check_limit(
            "max_storage_buffer_binding_size (delayed-input ring)",
            x_ring_len as u64 * 4,
            lim,
        )?;
        let init = |label: &str, bytes: &[u8]| {
            dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytes,
                usage,
            })
        };
        let f32s = |v: f32, len: usize| -> Vec<u8> { bytemuck::cast_slice(&vec![v; len]).to_vec() };
        let slots = slots as usize;
        let last_pre_len = if self.c.delays.is_some() {
            (capu * n_in).max(n_in * n)
        } else {
            capu * n_in
        };
        let delays_packed: Vec<u32> = match &self.c.delays {
            Some(d) => d
                .steps
                .chunks(4)
                .map(|q| {
                    q.iter()
                        .enumerate()
                        .fold(0u32, |acc, (k, &x)| acc | (x as u32) << (8 * k))
                })
                .collect(),
            None => vec![0],
        };
        let mut v_e = vec![self.c.exc_rest_mv; capu * n];
        let mut v_i = vec![self.c.inh_rest_mv; capu * n];
        v_e[..n].fill(v_exc0);
        v_i[..n].fill(v_inh0);
        let bufs = vec![
            self.params_buf.clone(),
            init("wta.w", bytemuck::cast_slice(w)),
            init("wta.theta", bytemuck::cast_slice(theta)),
            init("wta.v_e", bytemuck::cast_slice(&v_e)),
            init("wta.ge_e", &f32s(0.0, capu * n)),
            init("wta.gi_e", &f32s(0.0, capu * n)),
            init("wta.refrac_e", &f32s(0.0, capu * n)),
            init("wta.v_i", bytemuck::cast_slice(&v_i)),
            init("wta.ge_i", &f32s(0.0, capu * n)),
            init("wta.refrac_i", &f32s(0.0, capu * n)),
            init("wta.post", &f32s(0.0, capu * n * 4)),
            init(
                "wta.last_pre",
                bytemuck::cast_slice(&vec![u32::MAX; last_pre_len]),
            ),
            init("wta.spk", &f32s(0.0, capu * n)),
            init("wta.counts", &f32s(0.0, capu * n)),
            init("wta.active", &f32s(0.0, capu * n_in * 2)),
            init("wta.ctl", &f32s(0.0, capu * 4)),
            init(
                "wta.net",
                &vec![0u8; capu * std::mem::size_of::<NetState>()],
            ),
            init("wta.pre_table", bytemuck::cast_slice(&self.c.pre_table)),
            init("wta.post_list", &f32s(0.0, capu * n)),
            init("wta.gi_i", &f32s(0.0, capu * n)),
            init("wta.delays", bytemuck::cast_slice(&delays_packed)),
            init("wta.hist", &f32s(0.0, capu * slots * (n_in + 1))),
            init("wta.queue", &f32s(0.0, queue_len.max(1))),
            init("wta.x_ring", &f32s(0.0, x_ring_len)),
        ];
        let group = dev.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("wta.group0"),
            layout: &self.layout,
            entries: &bufs
                .iter()
                .enumerate()
                .map(|(k, b)| wgpu::BindGroupEntry {
                    binding: k as u32,
                    resource: b.as_entire_binding(),
                })
                .collect::<Vec<_>>(),
        });
        self.bufs = Buffers { cap, bufs, group };
        Ok(())
    }

    /// Writes the uniform for a presentation of slots `first_slot .. first_slot + batch`.
    fn write_params(&mut self, first_slot: u32, batch: u32, opts: &PresentOptions) {
        let total = opts.steps_on
            + if opts.rest == RestMode::Simulate {
                opts.steps_rest
            } else {
                0
            };
        self.params.first_slot = first_slot;
        self.params.batch = batch;
        self.params.learn = opts.learn as u32;
        self.params.steps_on = opts.steps_on;
        self.params.steps_total = total;
        self.params.max_steps = total;
        self.params.reset_after = (opts.rest == RestMode::Reset) as u32;
        self.params.theta_decay = self.c.theta_decay(opts.steps_on + opts.steps_rest);
        self.ctx
            .queue
            .write_buffer(&self.params_buf, 0, bytemuck::bytes_of(&self.params));
    }

    fn pass(&self, enc: &mut wgpu::CommandEncoder, pipe: usize, groups: (u32, u32)) {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("wta"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&self.pipes[pipe]);
        pass.set_bind_group(0, &self.bufs.group, &[]);
        pass.dispatch_workgroups(groups.0, groups.1, 1);
    }

    /// Runs the slots of the last `write_params` until their presentations are done; returns
    /// the counts of those slots, slot by slot. `image_base`: the batch index of the image in
    /// slot 1 (for messages).
    fn run_slots(&mut self, normalize: bool, image_base: usize) -> Result<Vec<u32>> {
        let (first, batch) = (self.params.first_slot, self.params.batch);
        let n = self.c.n;
        let items = (self.c.n.max(self.c.n_in) as u32).div_ceil(self.wg);
        // Clear the done flags (the kernel sets them) and the counts.
        let net_buf = &self.bufs.bufs[B_NET];
        let mut enc = self
            .ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("wta.present"),
            });
        for b in first..first + batch {
            let at = b as u64 * std::mem::size_of::<NetState>() as u64
                + std::mem::offset_of!(NetState, done) as u64;
            self.ctx
                .queue
                .write_buffer(net_buf, at, bytemuck::bytes_of(&[0u32, 0u32]));
        }
        enc.clear_buffer(&self.bufs.bufs[B_COUNTS], 0, None);
        if normalize {
            self.pass(&mut enc, P_NORMALIZE, ((n as u32).div_ceil(self.wg), 1));
        }
        let mut rounds = 0;
        loop {
            match self.schedule {
                Schedule::Fused => {
                    for _ in 0..self.dispatches_per_round {
                        self.pass(&mut enc, P_PRESENT, (batch, 1));
                    }
                }
                Schedule::Stepwise => {
                    let per_neuron = ((n as u32).div_ceil(self.wg), batch);
                    let per_input = ((self.c.n_in as u32).div_ceil(self.wg), batch);
                    let learn = self.params.learn != 0;
                    for _ in 0..self.params.steps_total {
                        self.pass(&mut enc, 5, (batch, 1));
                        self.pass(&mut enc, 6, per_neuron);
                        self.pass(&mut enc, 7, (batch, 1));
                        if learn {
                            self.pass(&mut enc, 8, per_neuron);
                            self.pass(&mut enc, 9, per_input);
                        }
                        self.pass(&mut enc, 10, (batch, 1));
                    }
                }
            }
            self.pass(&mut enc, P_END, (items, batch));
            self.pass(&mut enc, P_FINISH, (batch, 1));
            self.ctx.scoped("network.wta::present", || {
                self.ctx.queue.submit([enc.finish()])
            })?;
            rounds += 1;
            let nets: Vec<NetState> =
                bytemuck::cast_slice::<u8, NetState>(&read_back(&self.ctx, net_buf, "wta.net")?)
                    [first as usize..(first + batch) as usize]
                    .to_vec();
            if let Some((b, _)) = nets.iter().enumerate().find(|(_, s)| s.overflow != 0) {
                return Err(SnnError::Gpu {
                    label: "network.wta::present".into(),
                    message: format!("network {b} came within reach of llvmpipe's 65,535 loop-iteration cap; results would be wrong. Use the CPU backend or a smaller layer"),
                });
            }
            if let Some((b, s)) = nets.iter().enumerate().find(|(_, s)| s.nonfinite != 0) {
                let (pop, variable) = NONFINITE_VARS
                    .get((s.nonfinite >> 24) as usize)
                    .copied()
                    .unwrap_or(("exc", "?"));
                let slot = first as usize + b;
                return Err(SnnError::NonFinite {
                    population: if slot == 0 {
                        pop.to_string()
                    } else {
                        format!(
                            "{pop} (frozen copy, image {} of the batch)",
                            image_base + slot - 1
                        )
                    },
                    variable: variable.into(),
                    neuron: (s.nonfinite & 0x00ff_ffff) as usize - 1,
                    step: s.clock as u64,
                });
            }
            if nets.iter().all(|s| s.done != 0) {
                let most = nets.iter().map(|s| s.dispatches).max().unwrap_or(1);
                self.dispatches_per_round = (most + 1).max(1);
                break;
            }
            if rounds > 10_000 {
                return Err(SnnError::Gpu {
                    label: "network.wta::present".into(),
                    message: "presentation made no progress".into(),
                });
            }
            self.dispatches_per_round = self.dispatches_per_round.saturating_mul(2).min(1024);
            enc = self
                .ctx
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("wta.present.more"),
                });
        }
        let counts: Vec<u32> = bytemuck::cast_slice(&read_back(
            &self.ctx,
            &self.bufs.bufs[B_COUNTS],
            "wta.counts",
        )?)
        .to_vec();
        Ok(counts[first as usize * n..(first + batch) as usize * n].to_vec())
    }

    /// Present dispatches the last presentation needed (more than one when llvmpipe's loop
    /// budget split it).
    pub fn dispatches_last_presentation(&self) -> u32 {
        self.dispatches_per_round.saturating_sub(1)
    }

    fn write_inputs(&self, slot: u32, active: &[(u32, u32)], key_seed: u32) {
        let n_in = self.c.n_in as u64;
        let flat: Vec<u32> = active.iter().flat_map(|&(j, thr)| [j, thr]).collect();
        if !flat.is_empty() {
            self.ctx.queue.write_buffer(
                &self.bufs.bufs[B_ACTIVE],
                slot as u64 * n_in * 8,
                bytemuck::cast_slice(&flat),
            );
        }
        let ctl = NetCtl {
            key_seed,
            n_active: active.len() as u32,
            _pad0: 0,
            _pad1: 0,
        };
        self.ctx.queue.write_buffer(
            &self.bufs.bufs[B_CTL],
            slot as u64 * 16,
            bytemuck::bytes_of(&ctl),
        );
    }

    fn read_f32(&self, idx: usize, label: &str) -> Result<Vec<f32>> {
        Ok(bytemuck::cast_slice(&read_back(&self.ctx, &self.bufs.bufs[idx], label)?).to_vec())
    }
}

/// The bind group layout of wta_common.wgsl's bindings and one pipeline per entry point
/// (`P_*`, then the stepwise ones), with the `OWN_SLOTS` override and the wiring overrides
/// (`EXC_MODEL`, `INH_MODEL`, `*_TO_V`; see the shader).
pub(crate) fn pipelines(
    ctx: &GpuContext,
    tuning: KernelTuning,
    own_slots: bool,
    wiring: Wiring,
) -> Result<(wgpu::BindGroupLayout, Vec<wgpu::ComputePipeline>)> {
    let dev = &ctx.device;
    let module_src = wta_module();
    let module = ctx.shader_module(&module_src.label, &module_src.source)?;
    let mut entries = vec![wgpu::BindGroupLayoutEntry {
        binding: 0,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }];
    for b in 1..=N_STORAGE {
        let read_only = matches!(b as usize, B_ACTIVE | B_CTL | 17 | 20);
        entries.push(wgpu::BindGroupLayoutEntry {
            binding: b,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage { read_only },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        });
    }
    let layout = dev.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("wta.group0"),
        entries: &entries,
    });
    let pl = dev.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some("wta.layout"),
        bind_group_layouts: &[Some(&layout)],
        immediate_size: 0,
    });
    let pipe = |entry: &str| {
        ctx.compute_pipeline_with(
            &module_src.label,
            &pl,
            &module,
            entry,
            tuning.workgroup_size,
            &[
                ("OWN_SLOTS", own_slots as u32 as f64),
                ("WG_RING", tuning.workgroup_ring as u32 as f64),
                ("UNROLL4", tuning.unroll as u32 as f64),
                ("QUEUE", tuning.arrival_queue as u32 as f64),
                ("QCAP", QUEUE_CAP as f64),
                ("EXC_MODEL", wiring.exc as u32 as f64),
                ("INH_MODEL", wiring.inh as u32 as f64),
                ("INPUT_TO_V", wiring.input_to_v as u32 as f64),
                ("EXC_TO_INH_TO_V", wiring.exc_to_inh_to_v as u32 as f64),
                ("INH_TO_EXC_TO_V", wiring.inh_to_exc_to_v as u32 as f64),
            ],
        )
    };
    let mut pipes = vec![
        pipe("present")?,
        pipe("normalize")?,
        pipe("end_presentation")?,
        pipe("finish_presentation")?,
        pipe("reset_state")?,
    ];
    for entry in STEPWISE {
        pipes.push(pipe(entry)?);
    }
    Ok((layout, pipes))
}

/// The uniform's per-network constants from `c` (protocol fields zero until a presentation).
pub(crate) fn base_params(ctx: &GpuContext, c: &Consts) -> WtaParams {
    let (sc, sd) = match c.stdp {
        Some((sc, sd)) => (
            StdpConsts {
                rule: sc.rule,
                nu_pre: sc.nu_pre,
                nu_post: sc.nu_post,
                x_tar: sc.x_tar,
                mu: sc.mu,
                w_min: sc.w_min,
                w_max: sc.w_max,
                _pad0: 0,
            },
            Some(sd),
        ),
        None => (bytemuck::Zeroable::zeroed(), None),
    };
    let params = WtaParams {
        exc: NeuronParams::from_derived(&c.exc),
        inh: NeuronParams::from_derived(&c.inh),
        stdp: sc,
        n_in: c.n_in as u32,
        n: c.n as u32,
        batch: 1,
        learn: 0,
        steps_on: 0,
        steps_total: 0,
        max_steps: 0,
        iter_budget: if ctx.is_software() {
            SOFTWARE_ITER_BUDGET
        } else {
            u32::MAX / 2
        },
        decay_post1: sd.map_or(1.0, |d| d.decay_post1_per_step),
        decay_post2: sd.map_or(1.0, |d| d.decay_post2_per_step),
        w_ei: c.w_ei,
        w_ie: c.w_ie,
        table_len: c.pre_table.len() as u32,
        norm_target: c.norm_target.unwrap_or(0.0),
        theta_decay: 1.0,
        reset_after: 0,
        exc_rest_mv: c.exc_rest_mv,
        inh_rest_mv: c.inh_rest_mv,
        first_slot: 0,
        delay_slots: c.delays.as_ref().map_or(1, |d| d.slots),
    };
    params
}

fn dummy_group(ctx: &GpuContext, layout: &wgpu::BindGroupLayout) -> wgpu::BindGroup {
    // Replaced by `allocate` before any use; built from tiny buffers so the struct is whole.
    let dev = &ctx.device;
    let u = dev.create_buffer(&wgpu::BufferDescriptor {
        label: Some("wta.dummy.u"),
        size: std::mem::size_of::<WtaParams>() as u64,
        usage: wgpu::BufferUsages::UNIFORM,
        mapped_at_creation: false,
    });
    let s = dev.create_buffer(&wgpu::BufferDescriptor {
        label: Some("wta.dummy.s"),
        size: 64,
        usage: wgpu::BufferUsages::STORAGE,
        mapped_at_creation: false,
    });
    let mut entries = vec![wgpu::BindGroupEntry {
        binding: 0,
        resource: u.as_entire_binding(),
    }];
    for b in 1..=N_STORAGE {
        entries.push(wgpu::BindGroupEntry {
            binding: b,
            resource: s.as_entire_binding(),
        });
    }
    dev.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("wta.dummy"),
        layout,
        entries: &entries,
    })
}

impl CompetitiveBackend for GpuCompetitive {
    fn describe(&self) -> String {
        format!(
            "gpu:{}, {:?}",
            self.ctx.adapter_description(),
            self.schedule
        )
        .to_lowercase()
    }

    fn present(&mut self, rates_hz: &[f32], opts: &PresentOptions) -> Result<Vec<u32>> {
        let active = self.c.active_inputs(rates_hz)?;
        self.write_params(0, 1, opts);
        self.write_inputs(0, &active, presentation_seed(self.c.seed, opts.key));
        self.run_slots(opts.learn && self.c.norm_target.is_some(), 0)
    }

    fn present_frozen_batch(
        &mut self,
        rates_hz: &[Vec<f32>],
        opts: &PresentOptions,
    ) -> Result<Vec<Vec<u32>>> {
        let actives = self.c.active_inputs_batch(rates_hz)?;
        let k = actives.len() as u32;
        if k == 0 {
            return Ok(vec![]);
        }
        // Frozen copies per chunk: what the dispatch and the largest per-network buffer
        // (checked in `allocate`) allow, so a large batch runs in chunks, not as an error.
        let slots = self.c.delays.as_ref().map_or(1, |d| d.slots);
        let per_slot = ((self.c.n.max(self.c.n_in) * 16) as u64)
            .max(x_ring_words(slots, 1, self.c.n) as u64 * 4);
        let fit = self.ctx.limits.max_storage_buffer_binding_size / per_slot.max(1);
        let limit = self
            .ctx
            .limits
            .max_compute_workgroups_per_dimension
            .min(1024)
            .min(fit.saturating_sub(1).clamp(1, u32::MAX as u64) as u32);
        if k + 1 > self.bufs.cap && self.bufs.cap < limit + 1 {
            // Grow: weights, θ and the learning slot's potentials are kept; the learning
            // slot's conductances and traces restart from zero.
            let w = self.weights()?;
            let th = self.theta()?;
            let v = self.read_f32(3, "wta.v_e")?;
            let vi = self.read_f32(7, "wta.v_i")?;
            let (v0, vi0) = (
                v.first().copied().unwrap_or(self.c.exc_rest_mv),
                vi.first().copied().unwrap_or(self.c.inh_rest_mv),
            );
            self.allocate((k + 1).min(limit + 1), &w, &th, v0, vi0)?;
        }
        let per_batch = (self.bufs.cap - 1) as usize;
        let frozen = opts.frozen();
        let items = (self.c.n.max(self.c.n_in) as u32).div_ceil(self.wg);
        let n = self.c.n;
        let mut out = Vec::with_capacity(actives.len());
        for (chunk_idx, chunk) in actives.chunks(per_batch).enumerate() {
            self.write_params(1, chunk.len() as u32, &frozen);
            let mut enc = self
                .ctx
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("wta.reset"),
                });
            self.pass(&mut enc, P_RESET, (items, chunk.len() as u32));
            self.ctx.queue.submit([enc.finish()]);
            for (m, active) in chunk.iter().enumerate() {
                let key = opts.key.wrapping_add((chunk_idx * per_batch + m) as u32);
                self.write_inputs(m as u32 + 1, active, presentation_seed(self.c.seed, key));
            }
            let counts = self.run_slots(false, chunk_idx * per_batch)?;
            out.extend(counts.chunks_exact(n).map(|c| c.to_vec()));
        }
        Ok(out)
    }

    fn weights(&mut self) -> Result<Vec<f32>> {
        self.read_f32(B_W, "wta.w")
    }

    fn theta(&mut self) -> Result<Vec<f32>> {
        self.read_f32(B_THETA, "wta.theta")
    }

    fn load(&mut self, weights: &[f32], theta_mv: &[f32]) -> Result<()> {
        self.c.check_loaded(weights, theta_mv)?;
        self.ctx
            .queue
            .write_buffer(&self.bufs.bufs[B_W], 0, bytemuck::cast_slice(weights));
        self.ctx
            .queue
            .write_buffer(&self.bufs.bufs[B_THETA], 0, bytemuck::cast_slice(theta_mv));
        Ok(())
    }

    fn snapshot(&mut self) -> Result<Snapshot> {
        let mut s = Snapshot::new("gpu");
        s.push_u32("cap", &[self.bufs.cap]);
        for &(idx, name) in SNAPSHOT_BUFFERS {
            let bytes = read_back(&self.ctx, &self.bufs.bufs[idx], name)?;
            s.push_u32(name, bytemuck::cast_slice(&bytes));
        }
        Ok(s)
    }

    fn restore(&mut self, s: &Snapshot) -> Result<()> {
        s.expect_backend("gpu")?;
        let cap = s.u32s("cap", Some(1))?[0];
        let max_cap = self
            .ctx
            .limits
            .max_compute_workgroups_per_dimension
            .min(1024)
            + 1;
        if cap == 0 || cap > max_cap {
            return Err(SnnError::invalid(
                "snapshot slot count",
                cap,
                format!("1 ..= {max_cap}"),
            ));
        }
        if cap != self.bufs.cap {
            let w = s.f32s("wta.w", None)?;
            let th = s.f32s("wta.theta", None)?;
            self.c.check_loaded(&w, &th)?;
            let (v0, vi0) = (self.c.exc_rest_mv, self.c.inh_rest_mv);
            self.allocate(cap, &w, &th, v0, vi0)?;
        }
        // Check every array before writing any, so a bad snapshot leaves the state whole.
        // Snapshots written before the input ring existed have none: they were taken between
        // presentations, after the rest, when it is empty.
        let mut writes = Vec::with_capacity(SNAPSHOT_BUFFERS.len());
        let empty_ring = vec![0u32; (self.bufs.bufs[B_X_RING].size() / 4) as usize];
        for &(idx, name) in SNAPSHOT_BUFFERS {
            let len = (self.bufs.bufs[idx].size() / 4) as usize;
            if idx == B_X_RING && !s.has(name) {
                writes.push((idx, &empty_ring[..]));
                continue;
            }
            writes.push((idx, s.u32s(name, Some(len))?));
        }
        for (idx, words) in writes {
            self.ctx
                .queue
                .write_buffer(&self.bufs.bufs[idx], 0, bytemuck::cast_slice(words));
        }
        Ok(())
    }
}
