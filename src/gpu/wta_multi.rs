//! K learning networks of the competitive layer on one device ([`GpuCompetitiveMulti`]), one
//! per workgroup, in one dispatch: the kernels of [`super::wta`] with the `OWN_SLOTS`
//! override, so slot `k` has its own weights, θ, input delays and presynaptic traces (at
//! offset `k` of each buffer) besides its own state, inputs and key.
//!
//! A presentation advances the networks that are given an input; the others sit it out:
//! their done flag is set before the submit, and every pass skips a network whose flag is
//! set. Rounds of dispatches and the loop budget are as in [`super::wta`].

use super::context::GpuContext;
use super::layout::{NetCtl, NetState, WtaParams};
use super::readback::{read_back, read_back_range};
use super::tuning::KernelTuning;
use super::wta::{
    base_params, pipelines, queue_words, x_ring_words, B_ACTIVE, B_COUNTS, B_CTL, B_NET, B_THETA,
    B_W, MAX_EXC, MAX_INPUTS, P_END, P_FINISH, P_NORMALIZE, P_PRESENT, SNAPSHOT_BUFFERS,
};
use super::wta_consts::Consts;
use crate::backend::{CompetitiveMulti, Snapshot};
use crate::error::{Result, SnnError};
use crate::model::wta::presentation_seed;
use crate::model::{CompetitiveSpec, PresentOptions, RestMode};
use std::sync::Arc;
use wgpu::util::DeviceExt;

/// K Diehl & Cook layers learning side by side on a wgpu device (fused schedule).
pub struct GpuCompetitiveMulti {
    ctx: Arc<GpuContext>,
    /// Per network: seed, input delays, rate checks.
    consts: Vec<Consts>,
    wg: u32,
    params: WtaParams,
    pipes: Vec<wgpu::ComputePipeline>,
    /// Indexed by binding (0 = the uniform).
    bufs: Vec<wgpu::Buffer>,
    group: wgpu::BindGroup,
    /// Present dispatches recorded per round (learned from the last presentation).
    dispatches_per_round: u32,
}

impl GpuCompetitiveMulti {
    /// Builds one network per spec (initial weights from each spec's seed, as the CPU). The
    /// specs must be equal except for their seeds: they share the kernels' uniform.
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`] for no spec; [`SnnError::Unsupported`] for specs that
    /// differ in more than the seed; spec errors; [`SnnError::LimitExceeded`] if the
    /// networks do not fit the adapter or the kernel; [`SnnError::Gpu`].
    pub fn new(ctx: Arc<GpuContext>, specs: &[CompetitiveSpec]) -> Result<Self> {
        let Some(first) = specs.first() else {
            return Err(SnnError::invalid("specs", 0, "at least one network"));
        };
        let unseeded = |s: &CompetitiveSpec| {
            format!(
                "{:?}",
                CompetitiveSpec {
                    seed: 0,
                    ..s.clone()
                }
            )
        };
        for (k, s) in specs.iter().enumerate() {
            s.validate()?;
            if unseeded(s) != unseeded(first) {
                return Err(SnnError::Unsupported(format!(
                    "network {k} differs from network 0 in more than the seed; the GPU trains \
                     networks that differ only in seed together (use the CPU backend for a \
                     parameter sweep)"
                )));
            }
        }
        let (k, n_in, n) = (specs.len() as u64, first.n_input as u64, first.n_exc as u64);
        let lim = &ctx.limits;
        ctx.check_limit(
            "n_input (wta_fused.wgsl workgroup arrays)",
            n_in,
            MAX_INPUTS as u64,
        )?;
        ctx.check_limit("n_exc (wta_fused.wgsl workgroup arrays)", n, MAX_EXC as u64)?;
        ctx.check_limit(
            "max_compute_workgroups_per_dimension (networks)",
            k,
            lim.max_compute_workgroups_per_dimension as u64,
        )?;
        ctx.check_limit(
            "max_storage_buffer_binding_size (input weights of all networks)",
            k * n_in * n * 4,
            lim.max_storage_buffer_binding_size,
        )?;
        ctx.check_limit(
            "max_storage_buffer_binding_size (per-network state)",
            k * n.max(n_in) * 16,
            lim.max_storage_buffer_binding_size,
        )?;
        ctx.check_limit("u32 weight index", k * n_in * n, u32::MAX as u64)?;
        let tuning = KernelTuning::for_context(&ctx);
        let wg = tuning.workgroup_size;
        let consts: Vec<Consts> = specs.iter().map(Consts::new).collect();
        let (layout, pipes) = pipelines(&ctx, tuning, true, consts[0].wiring)?;
        let mut params = base_params(&ctx, &consts[0]);
        // One history ring for all: a network whose largest delay is shorter reads empty lags.
        params.delay_slots = consts
            .iter()
            .map(|c| c.delays.as_ref().map_or(1, |d| d.slots))
            .max()
            .unwrap_or(1);
        params.batch = specs.len() as u32;
        ctx.check_limit(
            "max_storage_buffer_binding_size (arrival queues of all networks)",
            k * queue_words(tuning.arrival_queue, params.delay_slots, n as usize) as u64 * 4,
            lim.max_storage_buffer_binding_size,
        )?;
        let bufs = buffers(&ctx, specs, &consts, &params, tuning.arrival_queue);
        let group = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("wta_multi.group0"),
            layout: &layout,
            entries: &bufs
                .iter()
                .enumerate()
                .map(|(b, buf)| wgpu::BindGroupEntry {
                    binding: b as u32,
                    resource: buf.as_entire_binding(),
                })
                .collect::<Vec<_>>(),
        });
        Ok(GpuCompetitiveMulti {
            ctx,
            consts,
            wg,
            params,
            pipes,
            bufs,
            group,
            dispatches_per_round: 2,
        })
    }

    fn pass(&self, enc: &mut wgpu::CommandEncoder, pipe: usize, groups: (u32, u32)) {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("wta_multi"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&self.pipes[pipe]);
        pass.set_bind_group(0, &self.group, &[]);
        pass.dispatch_workgroups(groups.0, groups.1, 1);
    }

    /// Runs the presentation set up by `present` until every network given an input is done.
    fn run(&mut self, active: &[bool], normalize: bool) -> Result<Vec<u32>> {
        let k = active.len() as u32;
        let n = self.consts[0].n;
        let items = (n.max(self.consts[0].n_in) as u32).div_ceil(self.wg);
        let net_size = std::mem::size_of::<NetState>() as u64;
        for (b, &on) in active.iter().enumerate() {
            let at = b as u64 * net_size + std::mem::offset_of!(NetState, done) as u64;
            // done, dispatches: a network without input counts as done from the start.
            let flags = [u32::from(!on), 0u32];
            self.ctx
                .queue
                .write_buffer(&self.bufs[B_NET], at, bytemuck::cast_slice(&flags));
        }
        let mut enc = self.encoder("wta_multi.present");
        enc.clear_buffer(&self.bufs[B_COUNTS], 0, None);
        if normalize {
            self.pass(&mut enc, P_NORMALIZE, ((n as u32).div_ceil(self.wg), k));
        }
        for round in 0.. {
            for _ in 0..self.dispatches_per_round {
                self.pass(&mut enc, P_PRESENT, (k, 1));
            }
            self.pass(&mut enc, P_END, (items, k));
            self.pass(&mut enc, P_FINISH, (k, 1));
            self.ctx.scoped("network.wta_multi::present", || {
                self.ctx.queue.submit([enc.finish()])
            })?;
            let bytes = read_back(&self.ctx, &self.bufs[B_NET], "wta_multi.net")?;
            let nets: &[NetState] = bytemuck::cast_slice(&bytes);
            let live = || nets.iter().zip(active).enumerate().filter(|(_, (_, &a))| a);
            if let Some((b, _)) = live().find(|(_, (s, _))| s.overflow != 0) {
                return Err(SnnError::Gpu {
                    label: "network.wta_multi::present".into(),
                    message: format!("network {b} came within reach of llvmpipe's 65,535 loop-iteration cap; results would be wrong. Use the CPU backend or a smaller layer"),
                });
            }
            if let Some((b, (s, _))) = live().find(|(_, (s, _))| s.nonfinite != 0) {
                let (pop, variable) = super::wta::NONFINITE_VARS
                    .get((s.nonfinite >> 24) as usize)
                    .copied()
                    .unwrap_or(("exc", "?"));
                return Err(SnnError::NonFinite {
                    population: format!("{pop} (network {b})"),
                    variable: variable.into(),
                    neuron: ((s.nonfinite & 0x00ff_ffff) as usize).saturating_sub(1),
                    step: s.clock as u64,
                });
            }
            if nets.iter().take(active.len()).all(|s| s.done != 0) {
                let most = live().map(|(_, (s, _))| s.dispatches).max().unwrap_or(1);
                self.dispatches_per_round = (most + 1).max(1);
                break;
            }
            if round >= 10_000 {
                return Err(SnnError::Gpu {
                    label: "network.wta_multi::present".into(),
                    message: "presentation made no progress".into(),
                });
            }
            self.dispatches_per_round = self.dispatches_per_round.saturating_mul(2).min(1024);
            enc = self.encoder("wta_multi.present.more");
        }
        Ok(bytemuck::cast_slice(&read_back(
            &self.ctx,
            &self.bufs[B_COUNTS],
            "wta_multi.counts",
        )?)
        .to_vec())
    }

    fn encoder(&self, label: &str) -> wgpu::CommandEncoder {
        self.ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) })
    }

    fn write_inputs(&self, slot: usize, active: &[(u32, u32)], key_seed: u32) {
        let n_in = self.consts[0].n_in as u64;
        let flat: Vec<u32> = active.iter().flat_map(|&(j, thr)| [j, thr]).collect();
        if !flat.is_empty() {
            self.ctx.queue.write_buffer(
                &self.bufs[B_ACTIVE],
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
            &self.bufs[B_CTL],
            slot as u64 * std::mem::size_of::<NetCtl>() as u64,
            bytemuck::bytes_of(&ctl),
        );
    }

    fn check_network(&self, k: usize) -> Result<()> {
        if k >= self.consts.len() {
            return Err(SnnError::invalid(
                "network",
                k,
                format!("below {}", self.consts.len()),
            ));
        }
        Ok(())
    }

    /// Words of one network's slice of buffer `idx` (0 for a one-word placeholder).
    fn words_per_network(&self, idx: usize) -> usize {
        let words = (self.bufs[idx].size() / 4) as usize;
        let k = self.consts.len();
        if words < k {
            0
        } else {
            words / k
        }
    }

    /// Network `k`'s slice of a per-network buffer of `per` words each (only that slice is
    /// read back).
    fn read_slot_bytes(
        &self,
        binding: usize,
        k: usize,
        per: usize,
        label: &str,
    ) -> Result<Vec<u8>> {
        self.check_network(k)?;
        let bytes = (per * 4) as u64;
        read_back_range(
            &self.ctx,
            &self.bufs[binding],
            k as u64 * bytes,
            bytes,
            label,
        )
    }

    /// [`Self::read_slot_bytes`] as f32 values.
    fn read_slot(&self, binding: usize, k: usize, per: usize, label: &str) -> Result<Vec<f32>> {
        Ok(bytemuck::cast_slice(&self.read_slot_bytes(binding, k, per, label)?).to_vec())
    }
}

/// The buffers of every binding of wta_common.wgsl, for K networks with their own weights.
fn buffers(
    ctx: &GpuContext,
    specs: &[CompetitiveSpec],
    consts: &[Consts],
    params: &WtaParams,
    queued: bool,
) -> Vec<wgpu::Buffer> {
    let (c0, k) = (&consts[0], specs.len());
    let (n, n_in) = (c0.n, c0.n_in);
    let usage =
        wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST;
    let init = |label: &str, bytes: &[u8]| {
        ctx.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytes,
                usage,
            })
    };
    let per_net = |f: &dyn Fn(&CompetitiveSpec) -> f32| -> Vec<f32> {
        specs
            .iter()
            .flat_map(|s| std::iter::repeat_n(f(s), n))
            .collect()
    };
    let zeros = |len: usize| vec![0u8; len * 4];
    let w: Vec<f32> = specs
        .iter()
        .flat_map(|s| s.input.initial_dense(n_in, n, s.seed))
        .collect();
    let theta = per_net(&|s| s.exc.theta.map_or(0.0, |t| t.theta_init_mv));
    let delays = c0.delays.is_some();
    let last_pre_len = if delays { k * n_in * n } else { k * n_in };
    // Four u8 delays per word, synapse index k·n_in·n + j·n + i over all networks.
    let delays_packed: Vec<u32> = if delays {
        let bytes: Vec<u8> = consts
            .iter()
            .flat_map(|c| c.delays.as_ref().map_or(vec![], |d| d.steps.clone()))
            .collect();
        bytes
            .chunks(4)
            .map(|q| {
                q.iter()
                    .enumerate()
                    .fold(0u32, |acc, (b, &x)| acc | (x as u32) << (8 * b))
            })
            .collect()
    } else {
        vec![0]
    };
    let slots = params.delay_slots as usize;
    vec![
        ctx.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("wta_multi.params"),
                contents: bytemuck::bytes_of(params),
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            }),
        init("wta_multi.w", bytemuck::cast_slice(&w)),
        init("wta_multi.theta", bytemuck::cast_slice(&theta)),
        init(
            "wta_multi.v_e",
            bytemuck::cast_slice(&per_net(&|s| s.exc.v_init_mv)),
        ),
        init("wta_multi.ge_e", &zeros(k * n)),
        init("wta_multi.gi_e", &zeros(k * n)),
        init("wta_multi.refrac_e", &zeros(k * n)),
        init(
            "wta_multi.v_i",
            bytemuck::cast_slice(&per_net(&|s| s.inh.v_init_mv)),
        ),
        init("wta_multi.ge_i", &zeros(k * n)),
        init("wta_multi.refrac_i", &zeros(k * n)),
        init("wta_multi.post", &zeros(k * n * 4)),
        init(
            "wta_multi.last_pre",
            bytemuck::cast_slice(&vec![u32::MAX; last_pre_len]),
        ),
        init("wta_multi.spk", &zeros(k * n)),
        init("wta_multi.counts", &zeros(k * n)),
        init("wta_multi.active", &zeros(k * n_in * 2)),
        init("wta_multi.ctl", &zeros(k * 4)),
        init(
            "wta_multi.net",
            &vec![0u8; k * std::mem::size_of::<NetState>()],
        ),
        init("wta_multi.pre_table", bytemuck::cast_slice(&c0.pre_table)),
        init("wta_multi.post_list", &zeros(k * n)),
        init("wta_multi.gi_i", &zeros(k * n)),
        init("wta_multi.delays", bytemuck::cast_slice(&delays_packed)),
        init("wta_multi.hist", &zeros(k * slots * (n_in + 1))),
        init(
            "wta_multi.queue",
            &zeros((k * queue_words(queued, slots as u32, n)).max(1)),
        ),
        init("wta_multi.x_ring", &zeros(x_ring_words(slots as u32, k, n))),
    ]
}

impl CompetitiveMulti for GpuCompetitiveMulti {
    fn describe(&self) -> String {
        format!(
            "gpu:{}, fused, {} networks",
            self.ctx.adapter_description(),
            self.consts.len()
        )
        .to_lowercase()
    }

    fn networks(&self) -> usize {
        self.consts.len()
    }

    fn present(
        &mut self,
        inputs: &[Option<(&[f32], PresentOptions)>],
    ) -> Result<Vec<Option<Vec<u32>>>> {
        let k = self.consts.len();
        if inputs.len() != k {
            return Err(SnnError::invalid(
                "inputs",
                format!("{} entries", inputs.len()),
                format!("one per network ({k})"),
            ));
        }
        let Some(opts) = inputs.iter().flatten().map(|(_, o)| *o).next() else {
            return Ok(vec![None; k]);
        };
        for (b, (rates, o)) in inputs
            .iter()
            .enumerate()
            .filter_map(|(b, x)| Some((b, (*x)?)))
        {
            if (PresentOptions { key: 0, ..o }) != (PresentOptions { key: 0, ..opts }) {
                return Err(SnnError::invalid(
                    format!("inputs[{b}] options"),
                    format!("{o:?}"),
                    format!("the options of the other networks but the key ({opts:?})"),
                ));
            }
            let c = &self.consts[b];
            let active = c.active_inputs(rates)?;
            self.write_inputs(b, &active, presentation_seed(c.seed, o.key));
        }
        let total = opts.steps_on
            + if opts.rest == RestMode::Simulate {
                opts.steps_rest
            } else {
                0
            };
        let c0 = &self.consts[0];
        let p = &mut self.params;
        p.learn = opts.learn as u32;
        p.steps_on = opts.steps_on;
        p.steps_total = total;
        p.max_steps = total;
        p.reset_after = (opts.rest == RestMode::Reset) as u32;
        p.theta_decay = c0.theta_decay(opts.steps_on + opts.steps_rest);
        let normalize = opts.learn && c0.norm_target.is_some();
        self.ctx
            .queue
            .write_buffer(&self.bufs[0], 0, bytemuck::bytes_of(&self.params));
        let active: Vec<bool> = inputs.iter().map(Option::is_some).collect();
        let counts = self.run(&active, normalize)?;
        let n = self.consts[0].n;
        Ok(active
            .iter()
            .enumerate()
            .map(|(b, &on)| on.then(|| counts[b * n..(b + 1) * n].to_vec()))
            .collect())
    }

    fn weights(&mut self, k: usize) -> Result<Vec<f32>> {
        let per = self.consts[0].n_in * self.consts[0].n;
        self.read_slot(B_W, k, per, "wta_multi.w")
    }

    fn theta(&mut self, k: usize) -> Result<Vec<f32>> {
        self.read_slot(B_THETA, k, self.consts[0].n, "wta_multi.theta")
    }

    /// Network `k`'s slice of every buffer a single network's snapshot holds (each is K
    /// slices, network-major; a one-word placeholder, the input ring without delays, gives an
    /// empty slice), tagged `gpu-multi`. Only network `k`'s slices are read back.
    fn snapshot(&mut self, k: usize) -> Result<Snapshot> {
        self.check_network(k)?;
        let mut s = Snapshot::new(MULTI_SNAPSHOT);
        for &(idx, name) in SNAPSHOT_BUFFERS {
            let per = self.words_per_network(idx);
            let bytes = self.read_slot_bytes(idx, k, per, name)?;
            s.push_u32(name, bytemuck::cast_slice(&bytes));
        }
        Ok(s)
    }

    fn restore(&mut self, k: usize, s: &Snapshot) -> Result<()> {
        self.check_network(k)?;
        s.expect_backend(MULTI_SNAPSHOT)?;
        // Check every array before writing any, so a bad snapshot leaves the state whole.
        let mut writes = Vec::with_capacity(SNAPSHOT_BUFFERS.len());
        for &(idx, name) in SNAPSHOT_BUFFERS {
            let per = self.words_per_network(idx);
            writes.push((idx, per, s.u32s(name, Some(per))?));
        }
        let w = s.f32s("wta.w", None)?;
        let th = s.f32s("wta.theta", None)?;
        self.consts[k].check_loaded(&w, &th)?;
        for (idx, per, words) in writes {
            if per > 0 {
                self.ctx.queue.write_buffer(
                    &self.bufs[idx],
                    (k * per * 4) as u64,
                    bytemuck::cast_slice(words),
                );
            }
        }
        Ok(())
    }
}

/// The backend tag of [`GpuCompetitiveMulti`]'s per-network snapshots.
pub const MULTI_SNAPSHOT: &str = "gpu-multi";
