//! The general GPU engine's driver: a run's submissions under either schedule (under the
//! passes a dispatch per pass of each step, under the fused schedule dispatches that go on
//! from the progress each copy keeps on the device), what a run does before its first step
//! and after its last (normalisation, weight check, decay, a source silenced), the
//! read-backs and the decoding of the recordings.

use super::layout::{MonitorRegions, PopRegions};
use super::{fused, GpuEngine, Normalize, Pass, ReadWeights};
use crate::error::{Result, SnnError};
use crate::gpu::layout::StepInfo;
use crate::gpu::timer::PassTimer;
use crate::model::net::Recording;
use std::sync::atomic::Ordering;

/// Quiet steps of a run (`StepInfo::quiet`): from step `from` on, Poisson source
/// `source − 1` is silent and nothing is counted.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Quiet {
    pub(super) from: Option<u32>,
    pub(super) source: u32,
}

impl Quiet {
    /// `StepInfo::quiet` at step `t`.
    pub(super) fn at(&self, t: u32) -> u32 {
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
pub(super) struct RunPlan {
    pub(super) zero: Vec<(u64, u64)>,
    pub(super) normalize: Option<(usize, f32)>,
    pub(super) quiet: Quiet,
    pub(super) check: Option<usize>,
    /// The checked projection's weights were finite at the start: its weight flag, raised
    /// by the writes of the run (`store_weight`), answers without a check pass.
    pub(super) check_by_writes: bool,
    pub(super) silence: Option<Silence>,
    pub(super) decay: Option<Decay>,
    pub(super) reads: Vec<(u64, u64)>,
}

/// A state variable of every copy multiplied by a factor after a run (`scale_state` in the
/// generated module: once per copy, even where the run takes more than one submission).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Decay {
    /// The variable's region in `fstate` (`[copy][neuron]`), and its neurons.
    pub(super) at: u32,
    pub(super) n: u32,
    pub(super) factor: f32,
}

/// Poisson thresholds set to 0 after a run (rates 0: the source silent from then on), and
/// what they were, written back where a fused submission ends before the run's last step
/// and another follows.
#[derive(Debug)]
pub(super) struct Silence {
    /// The thresholds' first entry in the tables.
    pub(super) at: u64,
    pub(super) thresholds: Vec<u32>,
}

impl GpuEngine {
    /// `ranges` of device buffers, read back in one wait ([`Self::device_waits`]).
    pub(super) fn read_back(
        &self,
        ranges: &[(&wgpu::Buffer, u64, u64)],
        label: &str,
    ) -> Result<Vec<Vec<u8>>> {
        self.read_back_after(None, ranges, label)
    }

    /// [`Self::read_back`] after the work `enc` holds, in its submission.
    pub(super) fn read_back_after(
        &self,
        enc: Option<wgpu::CommandEncoder>,
        ranges: &[(&wgpu::Buffer, u64, u64)],
        label: &str,
    ) -> Result<Vec<Vec<u8>>> {
        let [count, nanos] = &self.waits;
        let got = self.staging.read(&self.ctx, enc, ranges, label, nanos);
        if ranges.iter().any(|r| r.2 > 0) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        got
    }

    /// [`Self::read_back`] of one range.
    pub(super) fn read_back_one(
        &self,
        buf: &wgpu::Buffer,
        at: u64,
        len: u64,
        label: &str,
    ) -> Result<Vec<u8>> {
        Ok(self
            .read_back(&[(buf, at, len)], label)?
            .pop()
            .unwrap_or_default())
    }

    /// [`Self::run`] with `plan`'s normalisation, quiet steps, weight check and read-backs: what a run
    /// reads at its end (the neuron state, and under the fused schedule the progress) and
    /// `plan.reads` come back together, so the run costs one wait on the device where its
    /// steps take one submission. Returns `plan.reads`' bytes.
    pub(super) fn run_planned(&mut self, steps: u32, plan: &RunPlan) -> Result<Vec<Vec<u8>>> {
        let t0 = self.clock;
        let t1 = crate::model::net::clock_after(t0, steps.into())?;
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
    pub(super) fn finish_run(
        &mut self,
        mut got: Vec<Vec<u8>>,
        plan: &RunPlan,
    ) -> Result<Vec<Vec<u8>>> {
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
    pub(super) fn keep_state(&mut self, bytes: &[u8]) -> Result<()> {
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
    pub(super) fn end_ranges(&self, end: &RunPlan) -> Vec<(&wgpu::Buffer, u64, u64)> {
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
    pub(super) fn check_flag(&self, q: usize) -> u64 {
        self.layout.weight_flag(q) as u64 * 4
    }

    /// The pipeline of entry point `entry` of the engine's module, for the passes built on
    /// first use (normalisation, a presentation's decay).
    ///
    /// # Errors
    /// Shader errors.
    pub(super) fn pipeline(&self, entry: &str) -> Result<wgpu::ComputePipeline> {
        let (label, module, layout) = &self.module;
        self.ctx
            .compute_pipeline(label, layout, module, entry, self.wg)
    }

    /// A command encoder labelled `label`.
    pub(super) fn encoder(&self, label: &str) -> wgpu::CommandEncoder {
        self.ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) })
    }

    /// Writes the `StepInfo` at byte `slot` of the step buffer that a pass between runs
    /// reads (normalisation, decay): `t`, `row`, `learn` and `norm_target`, nothing quiet.
    fn write_info(&self, slot: u64, [t, row, learn]: [u32; 3], norm_target: f32) {
        let info = StepInfo {
            t,
            row,
            learn,
            norm_target,
            quiet: 0,
            aux: 0,
            _pad: [0; 2],
        };
        self.ctx
            .queue
            .write_buffer(&self.buffers.step, slot, bytemuck::bytes_of(&info));
    }

    /// Encodes what `plan` does before a run's first step into `enc`: its regions of
    /// `ustate` set to 0, then its normalisation.
    pub(super) fn encode_begin(
        &mut self,
        enc: &mut wgpu::CommandEncoder,
        plan: &RunPlan,
    ) -> Result<()> {
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
    pub(super) fn encode_end(
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
        let mut decay_groups = 0;
        if let Some(d) = plan.decay {
            decay_groups = self.ctx.workgroups(
                "max_compute_workgroups_per_dimension (a population's decay)",
                d.n.into(),
                self.wg,
            )?;
            if self.decay_passes.is_none() {
                let passes = [self.pipeline("scale_state")?, self.pipeline("scale_mark")?];
                self.decay_passes = Some(passes);
            }
            if self.decay_info != Some((d, need)) {
                // `scale_state` reads the region, the neurons, the progress and the factor.
                self.write_info(slot, [d.at, d.n, need], d.factor);
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
        if let (Some(_), Some([scale, mark])) = (plan.decay, &self.decay_passes) {
            cp.set_bind_group(0, &self.bind_group, &[slot as u32]);
            cp.set_pipeline(scale);
            cp.dispatch_workgroups(decay_groups, self.active, 1);
            cp.set_pipeline(mark);
            cp.dispatch_workgroups(1, self.active, 1);
        }
        Ok(())
    }

    /// Encodes projection `q`'s weight check (`check_<q>`, which raises its flag where a
    /// weight is not finite) into `enc`, the flag cleared before it.
    pub(super) fn encode_check(&self, q: usize, enc: &mut wgpu::CommandEncoder) {
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
    pub(super) fn dispatch_check(&self, cp: &mut wgpu::ComputePass<'_>, pass: &Pass) {
        cp.set_bind_group(0, &self.bind_group, &[0]);
        cp.set_pipeline(&pass.pipeline);
        cp.dispatch_workgroups(pass.groups, self.layout.batch, 1);
    }

    /// Steps `t .. t + n` in one compute pass and one submission (the fused schedule: as
    /// many more as its copies need to reach step `t + n`), after the normalisation `begin`
    /// where given, then the recordings; with `end` (the run's last submission) under the
    /// fused schedule, what the run reads at its end too (`end_ranges`, read with the
    /// progress).
    pub(super) fn run_submission(
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
    pub(super) fn record_ranges(&self, n: u32) -> Vec<(&wgpu::Buffer, u64, u64)> {
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
    pub(super) fn decode_records(&mut self, t: u32, n: u32, got: &[Vec<u8>]) {
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
    pub(super) fn run_fused(
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
    pub(super) fn fused_chunk(&self, t: u32, n: u32, quiet: Quiet) -> fused::FusedChunk {
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
    pub(super) fn fused_dispatches(&self, steps: u32) -> u64 {
        let per = self.fused.as_ref().map_or(1.0, |f| f.steps_per_dispatch);
        (steps as f64 / per.max(1.0)).ceil() as u64 + 1
    }

    /// Encodes `dispatches` fused dispatches of the chunk at byte `offset` of the step buffer
    /// into `enc`, in one compute pass, timed where the engine times its passes.
    pub(super) fn encode_fused(
        &self,
        enc: &mut wgpu::CommandEncoder,
        offset: u32,
        dispatches: u64,
    ) {
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
    /// dispatches that ran a step (`used`): the next run's estimate. A run that one dispatch
    /// did says only that a dispatch reaches its steps (a run of one step would otherwise
    /// have the next run of n steps issue n + 1 dispatches where one does them all).
    pub(super) fn keep_dispatch_rate(&mut self, steps: u32, used: &[u32]) {
        let used = used.iter().copied().max().unwrap_or(1).max(1);
        if let Some(f) = &mut self.fused {
            f.steps_per_dispatch = match used {
                1 => f.steps_per_dispatch.max(steps as f64),
                _ => steps as f64 / used as f64,
            };
        }
    }

    /// Appends steps `t .. t + n` of the recording buffers to the recordings.
    pub(super) fn decode(&mut self, t: u32, n: u32, bits: &[u32], vals: &[f32]) {
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
    pub(super) fn check_finite(&self, name: impl Fn(&str, usize) -> String) -> Result<()> {
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
                // In the CPU engine's order (`NeuronArrays::first_nonfinite` in
                // cpu/engine/neurons.rs): variable by variable, v, θ, ge, gi, each over the
                // neurons.
                for var in ["v", "theta", "ge", "gi"] {
                    let Some((_, at)) = vars.iter().find(|(v, _)| v == var) else {
                        continue;
                    };
                    let at = *at as usize + b * n;
                    if let Some(i) = self.fstate[at..at + n].iter().position(|x| !x.is_finite()) {
                        return Err(SnnError::NonFinite {
                            population: name(&self.net.populations[p].name, b),
                            variable: var.into(),
                            neuron: i,
                            step: self.clock as u64,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// Encodes projection `q`'s normalisation to `target_sum` into `enc` (its uniform in the
    /// step buffer's last slot, which no step uses): the blocks' sums, then the scaling.
    ///
    /// # Errors
    /// Shader errors while building its pipelines (on first use).
    pub(super) fn encode_normalize(
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
            self.write_info(slot, [0; 3], target_sum);
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
}
