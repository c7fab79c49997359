//! A series of presentations in one submission ([`GpuEngine::present_series`]): under the
//! fused schedule, presentations that differ in their inputs only run back to back on the
//! device, each judged there and retried there (`backend::Series`), so that a training run
//! waits on the device once per series instead of once per presentation.
//!
//! Round `r` of a series is, in one command encoder: its inputs copied into the tables from
//! a staging buffer (every round's uploaded at once): presentation `r`'s thresholds, keys
//! and origins, and the source's two more input sets (`PopRegions::Poisson::alt`): the
//! thresholds of presentation `r − 1`, which a copy that has retried shows now, and of its
//! retry, with each copy's flag of whether presentation `r` has a retry; `round_begin`,
//! which clears the counts, the fused progress, the decay marks and the weight flag; the
//! normalisation; the fused dispatches of its steps, each copy's source drawing from the
//! set its word in `ustate` names; the end of a run (the source silenced, the weight check
//! where the writes do not answer it, the decay); `round_judge`; and the copies of its
//! counts and weight flag to the staging buffer. The judge follows
//! `backend::simulator::Cursor`'s rule: a copy below its least count that may retry is
//! marked late and draws from the retry's set next round, from the late set after that;
//! one that may not, or a raised weight flag, writes the round to the stop word
//! (`Layout::series_stop`), and from then on every kernel of the series does nothing
//! (`program`); the host sets back the inputs that the later rounds' copies wrote. Where a
//! round's steps did not all run in the dispatches issued for it (llvmpipe's loop budget),
//! its judge stops the series as stalled, leaving the sets of the copies behind as they
//! were, and the host goes on with that round as a presentation's run goes on, then with
//! the next submission, the copies where the host's cursors stand. The counts of every
//! round, their flags, the stop word and the neuron state come back in one read; the host
//! follows the rule over the counts to tell what each copy showed.

use super::layout::{PopRegions, NEVER, SERIES_STALLED};
use super::{GpuEngine, Quiet, ReadWeights};
use crate::backend::simulator::{check_series, judge_round, present_round, Cursor};
use crate::backend::{Presentation, Series, SeriesRun};
use crate::error::Result;
use crate::gpu::layout::StepInfo;
use crate::model::net::poisson_thresholds;

/// The most bytes of a series' staging buffer (every round's inputs and counts): a
/// submission holds fewer rounds where they would need more.
const MAX_STAGING_BYTES: u64 = 64 << 20;

/// The pipelines of a series and its staging buffer, built on first use.
pub(super) struct SeriesPasses {
    begin: wgpu::ComputePipeline,
    judge: wgpu::ComputePipeline,
    /// Every round's inputs, then per round its counts and weight flag, then the stop word
    /// and the last round's fused progress (u32 words).
    buf: wgpu::Buffer,
    words: u64,
}

impl GpuEngine {
    /// [`Simulator::present_series`](crate::backend::Simulator::present_series): up to
    /// [`GpuEngineOptions::presentations_per_submission`](super::GpuEngineOptions) (16 by
    /// default, 1 under a loop budget) rounds whose presentations differ from the first in
    /// their inputs only (with rest steps, under the fused schedule, without recordings or
    /// device timing) run in one submission, judged on the device, retries included (see
    /// the module's doc); any other round runs as [`Self::present`], judged on the host.
    ///
    /// # Errors
    /// As [`Self::present`]; [`crate::SnnError::InvalidParam`] as
    /// [`Simulator::present_series`](crate::backend::Simulator::present_series).
    pub fn present_series(&mut self, series: &Series<'_>) -> Result<SeriesRun> {
        check_series(&self.net, series)?;
        let ps = series.presentations;
        let mut cursors = vec![Cursor::default(); self.layout.batch as usize];
        let mut run = SeriesRun::default();
        while run.counts.len() < ps.len() {
            let r = run.counts.len();
            // A submission's first round keeps the presentation before it as the input a
            // late copy shows: of its own source only (else as the host presents it).
            let fit = match r > 0 && ps[r - 1].source != ps[r].source {
                true => 1,
                false => self.series_fit(&ps[r..]),
            };
            let go_on = match fit {
                0 | 1 => present_round(self, series, r, &mut cursors, &mut run)?,
                m => self.present_submission(series, r, m, &mut cursors, &mut run)?,
            };
            if !go_on {
                break;
            }
        }
        Ok(run)
    }

    /// The most presentations [`Self::present_series`] runs in one submission: 1 where
    /// it presents one at a time.
    pub fn series_len(&self) -> usize {
        let recorded = self.layout.rec_bits_per_row + self.layout.rec_vals_per_row > 0;
        match self.fused.is_some() && !recorded && self.timer.is_none() {
            true => self.series_max as usize,
            false => 1,
        }
    }

    /// How many presentations from the first of `rest` run in one submission.
    fn series_fit(&self, rest: &[Presentation<'_>]) -> usize {
        let p0 = &rest[0];
        let steps = p0.steps_on.saturating_add(p0.rest_steps.unwrap_or(0)) as u64;
        if p0.rest_steps.is_none() || steps == 0 {
            return 1;
        }
        // The rounds the clock still holds (past it, a presentation refuses the steps), and
        // whose inputs and counts fit the staging buffer's bound.
        let room = crate::model::net::MAX_CLOCK_STEP.saturating_sub(self.clock) as u64 / steps;
        let (Ok(src), Ok(counted)) = (
            self.poisson_index(p0.source),
            self.net.population_index(p0.counted),
        ) else {
            return 1;
        };
        let k = self.layout.batch as u64;
        let pops = &self.layout.pops;
        // Three sets of thresholds, keys, origins and retry flags; counts and a flag.
        let per_round = k * (3 * pops[src].size as u64 + 3 + pops[counted].size as u64) + 1;
        let staged = (MAX_STAGING_BYTES / 4 / per_round).max(1);
        rest.iter()
            .take(self.series_len().min(room.min(staged) as usize))
            .take_while(|p| p.differs_in_inputs_only(p0))
            .count()
    }

    /// Whether the weight check of `p`'s last run found a weight that is not finite.
    fn flag_raised(&self, p: &Presentation<'_>) -> bool {
        p.check_weights
            .and_then(|q| self.projection_index(q).ok())
            .is_some_and(|q| self.weights[q].finite.get() == Some(&false))
    }

    /// The series' pipelines and a staging buffer of at least `words` u32 words, taken out
    /// of the engine for a submission (put back after it; built again after an error).
    fn take_series(&mut self, words: u64) -> Result<SeriesPasses> {
        let (begin, judge) = match self.series.take() {
            Some(s) if s.words >= words => return Ok(s),
            Some(s) => (s.begin, s.judge),
            None => (self.pipeline("round_begin")?, self.pipeline("round_judge")?),
        };
        let words = words.next_power_of_two();
        let buf = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("engine.series"),
            size: words * 4,
            usage: wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Ok(SeriesPasses {
            begin,
            judge,
            buf,
            words,
        })
    }

    /// Rounds `r0 .. r0 + m` of `series` (at least two, [`Self::series_fit`]) in one
    /// submission, the copies starting where `cursors` stand (moved on as the rounds ran).
    /// Pushes the rounds that ran onto `run`; returns whether the series goes on.
    fn present_submission(
        &mut self,
        series: &Series<'_>,
        r0: usize,
        m: usize,
        cursors: &mut [Cursor],
        run: &mut SeriesRun,
    ) -> Result<bool> {
        let all = series.presentations;
        let ps = &all[r0..r0 + m];
        let pr = self.prepare(&ps[0])?;
        for p in &ps[1..] {
            self.prepare(p)?;
        }
        let (k, n, n_in) = (
            self.layout.batch as usize,
            self.layout.pops[pr.counted].size as usize,
            self.layout.pops[pr.source].size as usize,
        );
        let PopRegions::Poisson { alt, set, .. } = self.layout.pops[pr.source].regions else {
            unreachable!("a series' source is a Poisson population")
        };
        debug_assert!(alt != NEVER, "an engine that runs series has input sets");
        let (t0, steps) = (self.clock, pr.steps);
        // Per round: its planned inputs, keys and origins (input set 0) ...
        let writes: Vec<Vec<(u64, Vec<u32>)>> = ps
            .iter()
            .enumerate()
            .map(|(r, p)| self.input_writes(pr.source, p.inputs, t0 + r as u32 * steps))
            .collect();
        // ... the inputs before them, which a late copy shows (set 1), and their retries
        // (set 2), `[set][copy][neuron]`, then per copy whether its planned input has a
        // retry.
        let dt = self.net.dt_ms;
        let alts: Vec<Vec<u32>> = (0..m)
            .map(|r| {
                let i = r0 + r;
                let mut words = match (r, i) {
                    (_, 0) => vec![0; k * n_in],
                    (0, _) => all[i - 1]
                        .inputs
                        .iter()
                        .flat_map(|x| poisson_thresholds(x.rates_hz, dt))
                        .collect(),
                    _ => writes[r - 1][0].1[..k * n_in].to_vec(),
                };
                for c in 0..k {
                    match i.checked_sub(1).and_then(|j| series.retry_of(j, c)) {
                        Some(x) => words.extend(poisson_thresholds(x, dt)),
                        None => words.resize(words.len() + n_in, 0),
                    }
                }
                words.extend((0..k).map(|c| u32::from(series.retry_of(i, c).is_some())));
                words
            })
            .collect();
        let set0: u64 = writes[0].iter().map(|(_, w)| w.len() as u64).sum();
        let per_round = set0 + alts[0].len() as u64;
        let count_words = (k * n) as u64;
        // `round_begin` clears the round's counts and every copy's progress.
        let begin_groups = self.ctx.workgroups(
            "max_compute_workgroups_per_dimension (a round's start)",
            count_words.max(3 * k as u64),
            self.wg,
        )?;
        // Per round its counts and its weight flag.
        let (results, per_result) = (per_round * m as u64, count_words + 1);
        let stop_at = results + per_result * m as u64;
        let staging = self.take_series(stop_at + 1 + 2 * k as u64)?;
        // Before any run changes them: whether the first round's writes answer the check.
        let by_writes = pr
            .check
            .is_some_and(|q| self.weights[q].finite.get() == Some(&true));

        let staged: Vec<u32> = writes
            .iter()
            .zip(&alts)
            .flat_map(|(w, a)| {
                w.iter()
                    .flat_map(|(_, words)| words.iter().copied())
                    .chain(a.iter().copied())
            })
            .collect();
        let q = &self.ctx.queue;
        q.write_buffer(&staging.buf, 0, bytemuck::cast_slice(&staged));
        let stop = self.layout.series_stop() as u64;
        let mut words = vec![0u32];
        words.extend_from_slice(series.least);
        words.extend(cursors.iter().map(|c| u32::from(c.late)));
        self.write_u32s(&self.buffers.ustate, stop, &words);
        self.write_u32s(
            &self.buffers.ustate,
            self.layout.series_sets() as u64,
            &[set],
        );
        let sets: Vec<u32> = cursors.iter().map(Cursor::set).collect();
        self.write_u32s(&self.buffers.ustate, set as u64, &sets);
        // Per round: its fused chunk, then its `StepInfo` for `round_begin` and `round_judge`.
        let stride = self.step_stride;
        let base = (self.layout.rows as u64 + 2) * stride;
        let counts_at = self.layout.pops[pr.counted].count;
        let flag = pr.check.map_or(NEVER, |q| self.layout.weight_flag(q));
        let mut uniforms = vec![0u8; 2 * m * stride as usize];
        for r in 0..m {
            let t = t0 + r as u32 * steps;
            let quiet = Quiet {
                from: Some(t + ps[0].steps_on),
                source: pr.source as u32 + 1,
            };
            let chunk = self.fused_chunk(t, steps, quiet);
            let info = StepInfo {
                t: counts_at,
                row: n as u32,
                learn: r as u32 + 1,
                norm_target: 0.0,
                quiet: flag,
                aux: steps,
                _pad: [0; 2],
            };
            let at = 2 * r * stride as usize;
            uniforms[at..at + 32].copy_from_slice(bytemuck::bytes_of(&chunk));
            let at = at + stride as usize;
            uniforms[at..at + 32].copy_from_slice(bytemuck::bytes_of(&info));
        }
        q.write_buffer(&self.buffers.step, base, &uniforms);

        let dispatches = self.fused_dispatches(steps);
        let alt_sets = 2 * (k * n_in) as u64;
        let retry_at = self.layout.series_retry() as u64;
        let mut enc = self.encoder("engine.series");
        for (r, (p, w)) in ps.iter().zip(&writes).enumerate() {
            let mut off = per_round * r as u64;
            for (at, words) in w {
                let (buf, at) = self.table_at(*at);
                let len = words.len() as u64 * 4;
                enc.copy_buffer_to_buffer(&staging.buf, off * 4, buf, at * 4, len);
                off += words.len() as u64;
            }
            let (buf, at) = self.table_at(alt as u64);
            enc.copy_buffer_to_buffer(&staging.buf, off * 4, buf, at * 4, alt_sets * 4);
            off += alt_sets;
            let ustate = &self.buffers.ustate;
            enc.copy_buffer_to_buffer(&staging.buf, off * 4, ustate, retry_at * 4, k as u64 * 4);
            let info = (base + (2 * r as u64 + 1) * stride) as u32;
            {
                let mut cp = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("engine.round_begin"),
                    timestamp_writes: None,
                });
                cp.set_bind_group(0, &self.bind_group, &[info]);
                cp.set_pipeline(&staging.begin);
                cp.dispatch_workgroups(begin_groups, 1, 1);
            }
            if let Some((q, target)) = pr.normalize {
                self.encode_normalize(&mut enc, q, target)?;
            }
            let chunk = (base + 2 * r as u64 * stride) as u32;
            self.encode_fused(&mut enc, chunk, dispatches);
            let thresholds = w[0].1[..k * n_in].to_vec();
            let mut plan =
                self.presentation_plan(&pr, p, t0 + r as u32 * steps, w[0].0, thresholds);
            plan.check_by_writes = r > 0 || by_writes;
            self.encode_end(&plan, steps, &mut enc)?;
            {
                let mut cp = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("engine.round_judge"),
                    timestamp_writes: None,
                });
                cp.set_bind_group(0, &self.bind_group, &[info]);
                cp.set_pipeline(&staging.judge);
                cp.dispatch_workgroups(1, 1, 1);
            }
            let at = (results + per_result * r as u64) * 4;
            let ustate = &self.buffers.ustate;
            enc.copy_buffer_to_buffer(
                ustate,
                counts_at as u64 * 4,
                &staging.buf,
                at,
                count_words * 4,
            );
            if flag != NEVER {
                let to = at + count_words * 4;
                enc.copy_buffer_to_buffer(ustate, flag as u64 * 4, &staging.buf, to, 4);
            }
        }
        let ustate = &self.buffers.ustate;
        enc.copy_buffer_to_buffer(ustate, stop * 4, &staging.buf, stop_at * 4, 4);
        let ctl = self.layout.ctl as u64 * 4;
        let progress = 2 * k as u64 * 4;
        enc.copy_buffer_to_buffer(ustate, ctl, &staging.buf, (stop_at + 1) * 4, progress);
        let ranges = [
            (&self.buffers.fstate, 0, self.layout.fstate.len() as u64 * 4),
            (
                &staging.buf,
                results * 4,
                (stop_at - results + 1) * 4 + progress,
            ),
        ];
        let got = self.read_back_after(Some(enc), &ranges, "engine.series");
        self.series = Some(staging);
        let got = got?;
        // The runs that follow find no series stopped, and (after a stalled round's rest)
        // draw from input set 0.
        self.write_u32s(&self.buffers.ustate, stop, &[0]);
        self.weights.iter_mut().for_each(ReadWeights::clear);

        let res: &[u32] = bytemuck::cast_slice(&got[1]);
        let word = res[(stop_at - results) as usize];
        let ran = match word & !SERIES_STALLED {
            0 => m,
            r => r as usize,
        };
        let stalled = word & SERIES_STALLED != 0;
        let result = |r: usize| &res[r * per_result as usize..][..per_result as usize];
        let mut counts: Vec<Vec<Vec<u32>>> = (0..ran)
            .map(|r| result(r)[..k * n].chunks(n).map(<[u32]>::to_vec).collect())
            .collect();
        let last = ran - 1;
        // What each copy showed: the device's rule, followed on the host.
        // A stalled round is judged once it has gone on, its copies where they stood.
        let mut shown = Vec::with_capacity(ran);
        for (r, c) in counts.iter().enumerate() {
            shown.push(cursors.iter().map(|x| x.shown(r0 + r)).collect::<Vec<_>>());
            if r == last && stalled {
                break;
            }
            let go_on = judge_round(cursors, &shown[r], c, series);
            debug_assert!(
                go_on || r == last,
                "the device stopped where the rule stops"
            );
        }
        if ran < m || stalled {
            // The tables as round `last` left them: its inputs (silenced after its run).
            for (at, words) in &writes[last] {
                self.write_tables(*at, words);
            }
        }
        if stalled {
            let origin = t0 + last as u32 * steps;
            self.clock = origin;
            // The copies behind go on drawing from their sets of round `last` (which their
            // judge left as they were), as round `last` left them.
            self.write_tables(alt as u64, &alts[last][..alt_sets as usize]);
            let (at, thresholds) = (writes[last][0].0, writes[last][0].1[..k * n_in].to_vec());
            let mut plan = self.presentation_plan(&pr, &ps[last], origin, at, thresholds);
            plan.check_by_writes = last > 0 || by_writes;
            let went = self.go_on_with(steps, pr.counted, plan);
            self.write_u32s(&self.buffers.ustate, set as u64, &vec![0; k]);
            counts[last] = went?;
            let go_on = judge_round(cursors, &shown[last], &counts[last], series)
                && !self.flag_raised(&ps[last]);
            run.counts.extend(counts);
            run.shown.extend(shown);
            return Ok(go_on);
        }
        self.write_u32s(&self.buffers.ustate, set as u64, &vec![0; k]);
        if ran < m {
            self.write_tables(writes[last][0].0, &vec![0; k * n_in]);
        }
        self.clock = t0 + ran as u32 * steps;
        if let Some(q) = pr.check {
            let _ = self.weights[q].finite.set(result(last)[k * n] == 0);
        }
        self.keep_dispatch_rate(steps, &res[(stop_at - results) as usize + 1 + k..][..k]);
        self.keep_state(&got[0])?;
        run.counts.extend(counts);
        run.shown.extend(shown);
        Ok(word == 0)
    }
}
