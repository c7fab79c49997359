//! One step of a copy on the CPU engine, in the order the engine's docs give: the pre
//! side once per copy, the post side chunk by chunk over views that share the copy's
//! arrays (alone or with a team of threads), the step compiled for each SIMD level.

use super::depression::Dense;
use super::neurons::{split, NeuronChunk};
use super::propagate::{Chunk, Plan, Strategy};
use super::team::Team;
use super::{ChunkState, CopyState, MonitorPlan, Plans, PopPlan, ProjCopy, NEVER};
use crate::cpu::simd::SimdLevel;
use crate::cpu::stdp::{on_post, on_pre_depression};
use crate::encode::rng::rng_u32;
use crate::error::{Result, SnnError};
use crate::model::net::projection::DelaySteps;
use crate::model::net::{Delivery, Recording};
use rayon::prelude::*;
use smallvec::SmallVec;

/// Chunks of one step whose views live on the stack (more chunks, i.e. threads, put them on
/// the heap once per step).
const MAX_INLINE_CHUNKS: usize = 4;

/// A pre trace at step `t` that was `at_last` just after the arrival at step `last`
/// (`NEVER`: no arrival yet, trace 0), decayed by the table of `e^(−dt/τ_pre)` powers.
#[inline(always)]
fn trace_now(at_last: f32, last: u32, t: u32, table: &[f32]) -> f32 {
    match last {
        NEVER => 0.0,
        l => at_last * table.get((t - l) as usize).copied().unwrap_or(0.0),
    }
}

/// Defines the methods `$name` and `$chunk`: `Plans::run_copy_body` and
/// `Plans::chunk_step` compiled with the target features `$features` (no FMA: Rust never
/// contracts `a * b + c`, so every copy gives the same bits). A chunk run by a rayon worker
/// is a call out of the compiled copy, so it calls `$chunk` to stay in it.
macro_rules! run_copy_compiled_for {
    ($name:ident, $chunk:ident, $features:literal, $doc:literal) => {
        #[doc = $doc]
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        unsafe fn $name(
            &self,
            c: &mut CopyState,
            steps: std::ops::Range<u32>,
            learn: bool,
            count: Option<usize>,
            par: bool,
        ) -> Vec<u32> {
            self.run_copy_body(c, steps, learn, count, par)
        }

        #[doc = $doc]
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        unsafe fn $chunk(&self, view: &mut ChunkView<'_>, t: u32, learn: bool) {
            self.chunk_step(view.parts(), t, learn)
        }
    };
}

impl Plans {
    /// Runs the steps `steps` of copy `c`; with `count`, returns the spike count of each
    /// neuron of that population over them. Runs the copy compiled for `self.simd`; `par`:
    /// the chunks of each step in parallel.
    pub(super) fn run_copy(
        &self,
        c: &mut CopyState,
        steps: std::ops::Range<u32>,
        learn: bool,
        count: Option<usize>,
        par: bool,
    ) -> Vec<u32> {
        let par = par && self.n_chunks > 1;
        #[cfg(target_arch = "x86_64")]
        match self.simd {
            // SAFETY: `self.simd` is `SimdLevel::best()` or a level `Engine::set_simd`
            // checked with `available()`, so the processor has every feature of the copy.
            SimdLevel::Avx512 => {
                return unsafe { self.run_copy_avx512(c, steps, learn, count, par) }
            }
            SimdLevel::Avx2 => return unsafe { self.run_copy_avx2(c, steps, learn, count, par) },
            SimdLevel::Baseline => {}
        }
        self.run_copy_body(c, steps, learn, count, par)
    }

    /// [`Self::run_copy`] in the baseline copy; the others are this body compiled with more
    /// target features (`run_copy_compiled_for!`).
    #[inline(always)]
    fn run_copy_body(
        &self,
        c: &mut CopyState,
        steps: std::ops::Range<u32>,
        learn: bool,
        count: Option<usize>,
        par: bool,
    ) -> Vec<u32> {
        let mut counts = vec![0u32; count.map_or(0, |p| self.net.populations[p].size as usize)];
        if learn && self.use_queue && !c.queues_fresh {
            let start = steps.start;
            let (projs, copy) = (&c.projs, c.index);
            let rebuild = |(ci, ch): (usize, &mut ChunkState)| {
                for ((pp, pc), q) in self.projs.iter().zip(projs).zip(&mut ch.queues) {
                    if let (Some((sc, _, _)), Some(dense)) = (&pp.stdp, pp.dense(copy)) {
                        let consts = (sc.w_min, sc.w_max, sc.nu_pre);
                        let r = self.chunk_of(ci, dense.n);
                        let post1 = (r.lo, &pc.post1[r.lo..r.hi]);
                        q.rebuild(&dense, consts, &pc.w, &pc.hist, post1, start);
                    }
                }
            };
            match par {
                true => c.chunks.par_iter_mut().enumerate().for_each(rebuild),
                false => c.chunks.iter_mut().enumerate().for_each(rebuild),
            }
        }
        c.queues_fresh = learn && self.use_queue;
        match par {
            // A method, not a closure: a closure is a function of its own, compiled without
            // the target features of the copy that calls it, so the steps would run in the
            // baseline copy.
            false => self.run_steps(c, steps, learn, count, None, &mut counts),
            // A team for this run: member `k` runs chunk `k` of every step.
            true => {
                let team = Team::new(self.n_chunks - 1);
                let work = |k: usize, views: *mut u8, t: u32, learn: bool| {
                    // SAFETY: `views` is the base of the step's `n_chunks` views, alive
                    // until every member is done (`Team::wait`); member `k` alone touches
                    // view `k`, and the views share no element (`chunk_views`).
                    let view = unsafe { &mut *(views as *mut ChunkView<'_>).add(k) };
                    self.chunk_step_compiled(view, t, learn);
                };
                let (team, work) = (&team, &work);
                std::thread::scope(|s| {
                    for k in 1..self.n_chunks {
                        s.spawn(move || team.serve(k, work));
                    }
                    let _stop = team.stop_on_drop();
                    self.run_steps(c, steps, learn, count, Some(team), &mut counts);
                })
            }
        }
        counts
    }

    /// Runs `steps` of copy `c`, adding the spikes of population `count` into `counts`;
    /// with `team`, the team runs the chunks beyond the first.
    #[inline(always)]
    fn run_steps(
        &self,
        c: &mut CopyState,
        steps: std::ops::Range<u32>,
        learn: bool,
        count: Option<usize>,
        team: Option<&Team>,
        counts: &mut [u32],
    ) {
        for t in steps {
            self.step(c, t, learn, team);
            if let Some(p) = count {
                for &i in &c.spikes[p] {
                    counts[i as usize] += 1;
                }
            }
        }
    }

    /// The first NaN or infinite neuron variable of copy `c` at step `clock`, as
    /// [`SnnError::NonFinite`] with the population named by `name`.
    pub(super) fn check_finite(
        &self,
        c: &CopyState,
        clock: u32,
        name: impl Fn(&str) -> String,
    ) -> Result<()> {
        for (p, ns) in c.neurons.iter().enumerate() {
            if let Some((var, i)) = ns.first_nonfinite() {
                return Err(SnnError::NonFinite {
                    population: name(&self.net.populations[p].name),
                    variable: var.into(),
                    neuron: i,
                    step: clock as u64,
                });
            }
        }
        Ok(())
    }

    run_copy_compiled_for!(
        run_copy_avx512,
        chunk_step_avx512,
        "avx512f,avx512bw,avx512cd,avx512dq,avx512vl,avx2,bmi1,bmi2,lzcnt,popcnt",
        "[`Self::run_copy_body`] or [`Self::chunk_step`] compiled with AVX-512 (x86-64-v4 without FMA)."
    );

    run_copy_compiled_for!(
        run_copy_avx2,
        chunk_step_avx2,
        "avx2,bmi1,bmi2,lzcnt,popcnt",
        "[`Self::run_copy_body`] or [`Self::chunk_step`] compiled with AVX2 (x86-64-v3 without FMA)."
    );

    /// The neurons per chunk of a population of `n` neurons.
    #[inline(always)]
    pub(super) fn chunk_size(&self, n: usize) -> usize {
        match (self.n_chunks, self.chunk) {
            (1, _) => n.max(1),
            (k, 0) => n.div_ceil(k).next_multiple_of(16).max(16),
            (_, size) => size,
        }
    }

    /// The post neurons of chunk `c` in a population of `n` neurons.
    #[inline(always)]
    pub(super) fn chunk_of(&self, c: usize, n: usize) -> Chunk {
        let size = self.chunk_size(n);
        Chunk {
            c,
            lo: (c * size).min(n),
            hi: ((c + 1) * size).min(n),
        }
    }

    /// One step `t` of copy `c`, in the order of the module docs: the pre side (sources
    /// emit, spike histories, the last arrivals of buckets) here, then every post-side
    /// stage chunk by chunk ([`Self::chunk_step`]; in parallel with `par`), then the chunks'
    /// spikes joined in chunk order and the monitors.
    #[inline(always)]
    fn step(&self, c: &mut CopyState, t: u32, learn: bool, team: Option<&Team>) {
        // 1. sources emit.
        for (p, pp) in self.pops.iter().enumerate() {
            match pp {
                PopPlan::Neurons { .. } => {}
                PopPlan::Poisson => {
                    let (list, thr, (key, origin)) = (&mut c.spikes[p], &c.thr[p], c.stream[p]);
                    let t_stream = t.wrapping_sub(origin);
                    list.clear();
                    for &(i, th) in thr {
                        if rng_u32(key, t_stream, i) < th {
                            list.push(i);
                        }
                    }
                }
                PopPlan::SpikeTimes(by_step) => {
                    c.spikes[p].clear();
                    if let Some(l) = by_step.get(&t) {
                        c.spikes[p].extend_from_slice(l);
                    }
                }
            }
        }
        // The pre population's current spike list goes into each projection's ring of
        // spike lists at slot `t mod S`; the chunks read the spikes there only.
        for (pp, pc) in self.projs.iter().zip(&mut c.projs) {
            let plan = pp.plan(c.index);
            let s = plan.slots;
            let slot = (t % s) as usize;
            pc.hist[slot].clear();
            pc.hist[slot].extend_from_slice(&c.spikes[pp.pre]);
            // With buckets, a last arrival is per pre neuron and delay, so it is kept here:
            // every bucket that arrives now records `t` (with all-to-all pairing its trace
            // also adds 1 to what is left of it). Only potentiation reads it.
            // The spikes of lag L are in slot (t − L) mod S, counted down without a division.
            if let (Some((_, _, table)), true, Some(_)) = (&pp.stdp, learn, &plan.buckets) {
                let (hist, last, pre_at_last) = (&pc.hist, &mut pc.last, &mut pc.pre_at_last);
                let mut h = slot;
                for lag in 0..s {
                    for &j in &hist[h] {
                        let a = (j * s + lag) as usize;
                        if pp.accumulate {
                            pre_at_last[a] = trace_now(pre_at_last[a], last[a], t, table) + 1.0;
                        }
                        last[a] = t;
                    }
                    h = if h == 0 { s as usize - 1 } else { h - 1 };
                }
            }
        }
        // 2–5, chunk by chunk.
        match team {
            // One chunk: its populations and projections as small vectors built where they
            // live (a view struct moved every step cost a copy of about 1.3 kB; the step is
            // a few microseconds).
            None if self.n_chunks == 1 => {
                let CopyState {
                    neurons,
                    x,
                    projs,
                    chunks,
                    index,
                    ..
                } = c;
                let mut pops = SmallVec::<[PopView<'_>; 4]>::new();
                for (ns, [ge, gi, v]) in neurons.iter_mut().zip(x.iter_mut()) {
                    pops.push(PopView {
                        neurons: ns.whole(),
                        x: [ge, gi, v],
                    });
                }
                let mut views = SmallVec::<[ProjView<'_>; 4]>::new();
                for (pp, pc) in self.projs.iter().zip(projs.iter_mut()) {
                    views.push(ProjView {
                        plan: pp.plan(*index),
                        dense: pp.dense(*index),
                        sum: &mut pc.sum,
                        post1: &mut pc.post1,
                        post2: &mut pc.post2,
                        depression: &mut pc.depression,
                        w: Shared::new(&mut pc.w),
                        ring: Shared::new(&mut pc.ring),
                        last: Shared::new(&mut pc.last),
                        pre_at_last: Shared::new(&mut pc.pre_at_last),
                        hist: &pc.hist,
                    });
                }
                self.chunk_step((0, &mut pops, &mut views, &mut chunks[0]), t, learn)
            }
            Some(team) => {
                let mut views = self.chunk_views(c);
                let base = views.as_mut_ptr();
                team.start(base as *mut u8, t, learn);
                // Dropped before `views`: the members are done with them even where the
                // caller's chunk panics.
                let _finish = team.finish_on_drop();
                // SAFETY: chunk 0 is the caller's; the members touch views 1.. only. The
                // caller runs inside the team's scope (a closure, compiled without the
                // copy's target features), so it enters the compiled copy as a member does.
                self.chunk_step_compiled(unsafe { &mut *base }, t, learn);
                team.wait();
            }
            // A plain loop: the chunks stay inlined in this compiled copy.
            None => {
                for v in &mut self.chunk_views(c) {
                    self.chunk_step(v.parts(), t, learn);
                }
            }
        }
        for (p, pp) in self.pops.iter().enumerate() {
            if let PopPlan::Neurons { .. } = pp {
                let list = &mut c.spikes[p];
                match &mut c.chunks[..] {
                    [one] => std::mem::swap(list, &mut one.spikes[p]),
                    chunks => {
                        list.clear();
                        for ch in chunks {
                            list.extend_from_slice(&ch.spikes[p]);
                        }
                    }
                }
            }
        }
        // 6. monitors.
        for ((p, m), r) in self.monitors.iter().zip(&mut c.records) {
            match (m, r) {
                (MonitorPlan::Spikes(mask), Recording::Spikes(out)) => out.extend(
                    c.spikes[*p]
                        .iter()
                        .filter(|&&i| mask.as_ref().is_none_or(|m| m[i as usize]))
                        .map(|&i| (t, i)),
                ),
                (MonitorPlan::State { var, neurons }, Recording::State { values, .. }) => {
                    if let PopPlan::Neurons { kind, .. } = &self.pops[*p] {
                        let a = c.neurons[*p].var(*var, kind);
                        values.extend(neurons.iter().map(|&i| a[i as usize]));
                    }
                }
                (MonitorPlan::Rate, Recording::Rate(out)) => out.push(c.spikes[*p].len() as u32),
                _ => {}
            }
        }
    }

    /// [`Self::chunk_step`] in the compiled copy of `self.simd` (a rayon worker's call).
    fn chunk_step_compiled(&self, view: &mut ChunkView<'_>, t: u32, learn: bool) {
        #[cfg(target_arch = "x86_64")]
        match self.simd {
            // SAFETY: as in `run_copy`.
            SimdLevel::Avx512 => return unsafe { self.chunk_step_avx512(view, t, learn) },
            SimdLevel::Avx2 => return unsafe { self.chunk_step_avx2(view, t, learn) },
            SimdLevel::Baseline => {}
        }
        self.chunk_step(view.parts(), t, learn)
    }

    /// Copy `c` cut into the views of its chunks ([`ChunkView`]).
    #[inline(always)]
    fn chunk_views<'a>(
        &'a self,
        c: &'a mut CopyState,
    ) -> SmallVec<[ChunkView<'a>; MAX_INLINE_CHUNKS]> {
        let n = self.n_chunks;
        let CopyState {
            neurons,
            x,
            projs,
            chunks,
            index,
            ..
        } = c;
        let mut views: SmallVec<[ChunkView<'a>; MAX_INLINE_CHUNKS]> = chunks
            .iter_mut()
            .enumerate()
            .map(|(c, state)| ChunkView {
                c,
                pops: SmallVec::new(),
                projs: SmallVec::new(),
                state,
            })
            .collect();
        for (ns, [ge, gi, v]) in neurons.iter_mut().zip(x.iter_mut()) {
            let size = self.chunk_size(ge.len());
            let parts = ns
                .chunks(size, n)
                .zip(split(ge, size, n))
                .zip(split(gi, size, n))
                .zip(split(v, size, n));
            for (view, (((ns, ge), gi), v)) in views.iter_mut().zip(parts) {
                view.pops.push(PopView {
                    neurons: ns,
                    x: [ge, gi, v],
                });
            }
        }
        for (pp, pc) in self.projs.iter().zip(projs.iter_mut()) {
            let (plan, dense) = (pp.plan(*index), pp.dense(*index));
            let ProjCopy {
                w,
                ring,
                hist,
                sum,
                post1,
                post2,
                last,
                pre_at_last,
                depression,
            } = pc;
            let (w, ring) = (Shared::new(w), Shared::new(ring));
            let (last, pre_at_last) = (Shared::new(last), Shared::new(pre_at_last));
            let hist: &'a [Vec<u32>] = hist;
            let size = self.chunk_size(sum.len());
            let parts = split(sum, size, n)
                .zip(split(post1, size, n))
                .zip(split(post2, size, n))
                .zip(split(depression, size, n));
            for (view, (((sum, post1), post2), depression)) in views.iter_mut().zip(parts) {
                view.projs.push(ProjView {
                    plan,
                    dense,
                    sum,
                    post1,
                    post2,
                    depression,
                    w,
                    ring,
                    last,
                    pre_at_last,
                    hist,
                });
            }
        }
        views
    }

    /// Steps 2–5 of the module docs for the post neurons of one chunk: every float sum of
    /// a post neuron takes its terms in the order the whole step does.
    #[inline(always)]
    fn chunk_step(&self, (c, pops, projs, state): ChunkParts<'_, '_>, t: u32, learn: bool) {
        let ChunkState {
            spikes,
            queues,
            zeroed,
        } = state;
        // 2. post traces decay; with depression, `ν_pre · post1` of each post neuron
        // (`on_pre_depression`: the bits of `on_pre`) in the same pass, for step 3.
        if learn {
            for (pp, pv) in self.projs.iter().zip(projs.iter_mut()) {
                if let Some((sc, d, _)) = &pp.stdp {
                    let decay = d.decay_post1_per_step;
                    match sc.rule != 2 {
                        true => pv.post1.iter_mut().zip(pv.depression.iter_mut()).for_each(
                            |(x, dep)| {
                                *x *= decay;
                                *dep = sc.nu_pre * *x;
                            },
                        ),
                        false => pv.post1.iter_mut().for_each(|x| *x *= decay),
                    }
                    pv.post2
                        .iter_mut()
                        .for_each(|x| *x *= d.decay_post2_per_step);
                }
            }
        }
        // 3. propagate. Each input of a population starts at 0.0 and takes its projections
        // in declaration order; the first writes it whole (an input no projection feeds
        // stays 0.0).
        for (((pp, pv), queue), zeroed) in self
            .projs
            .iter()
            .zip(projs.iter_mut())
            .zip(queues.iter_mut())
            .zip(zeroed.iter_mut())
        {
            let (plan, dense) = (pv.plan, pv.dense);
            let s = plan.slots;
            let slot = (t % s) as usize;
            let n_post = plan.syn.n_post as usize;
            let ch = self.chunk_of(c, n_post);
            let lo = ch.lo;
            let ProjView {
                sum: own_sum,
                depression,
                w,
                ring,
                last,
                pre_at_last,
                hist,
                ..
            } = pv;
            let (w, ring, hist) = (*w, *ring, *hist);
            // The first projection into an input that adds writes its sum there itself.
            let direct = pp.first && !pp.sub;
            // What it writes stays until its next step: its own sum, or an input that no
            // other projection adds to.
            let keeps = !direct || pp.sole;
            let sum: &mut [f32] = match direct {
                true => &mut *pops[pp.post].x[pp.channel],
                false => own_sum,
            };
            // SAFETY (every `Shared` access below): the index is a synapse onto, or a ring
            // cell of, a post neuron of this chunk, which no other chunk touches.
            match (&plan.strategy, pp.delivery) {
                (Strategy::TotalMinusSelf { w }, _) => {
                    let d = plan.delays().of(0);
                    let arriving = &hist[((t % s + s - d) % s) as usize];
                    let count = arriving.len() as u32;
                    // `0.0 +`: the value an input that starts at 0.0 takes (never −0.0).
                    if !(count == 0 && *zeroed && keeps) {
                        sum.fill(0.0 + *w * count as f32);
                    }
                    *zeroed = count == 0;
                    for &j in arriving {
                        if (ch.lo..ch.hi).contains(&(j as usize)) {
                            sum[j as usize - lo] = 0.0 + *w * (count - 1) as f32;
                        }
                    }
                }
                (Strategy::Dense, Delivery::AtEmission) if s == 1 => {
                    // No delay: the ring's one slot would be filled and emptied within this
                    // step; the same additions in the same order go straight into the sum.
                    if !(hist[slot].is_empty() && *zeroed && keeps) {
                        sum.fill(0.0);
                    }
                    *zeroed = hist[slot].is_empty();
                    for &j in &hist[slot] {
                        let row = unsafe {
                            w.slice(j as usize * n_post + lo..j as usize * n_post + ch.hi)
                        };
                        sum.iter_mut().zip(&*row).for_each(|(a, &b)| *a += b);
                    }
                }
                (_, Delivery::AtEmission) if s == 1 => {
                    if !(hist[slot].is_empty() && *zeroed && keeps) {
                        sum.fill(0.0);
                    }
                    *zeroed = hist[slot].is_empty();
                    let spikes = &hist[slot];
                    // The rows of the spikes PREFETCH_AHEAD on are on their way from memory
                    // while this one is walked.
                    for (q, &j) in spikes.iter().enumerate() {
                        if let Some(&next) = spikes.get(q + PREFETCH_AHEAD) {
                            plan.prefetch_row(next, ch, w.ptr);
                        }
                        plan.for_row(j, ch, |k, i| sum[i - lo] += unsafe { w.get(k) });
                    }
                }
                (_, Delivery::AtEmission) => {
                    // Ring row `r` of this chunk.
                    let row_of =
                        |r: usize| unsafe { ring.slice(r * n_post + lo..r * n_post + ch.hi) };
                    for &j in &hist[slot] {
                        match plan.delays() {
                            DelaySteps::Uniform(d) => {
                                let row = row_of(((t + d) % s) as usize);
                                plan.for_row(j, ch, |k, i| row[i - lo] += unsafe { w.get(k) });
                            }
                            DelaySteps::PerSynapse(d) => match &plan.buckets {
                                // Bucket by bucket, so each write goes to one ring row; every
                                // cell still sums by emission step, then ascending pre.
                                // All-to-all: synapse `j·n + i`, so the weights of `j`
                                // are one row indexed by post neuron (`scatter_row`).
                                Some(b) if matches!(plan.strategy, Strategy::Dense) => {
                                    let w_row = unsafe { w.row(j as usize * n_post, n_post) };
                                    let (j, s) = (j as usize, s as usize);
                                    let mut r = t as usize % s;
                                    let mut next = || {
                                        let dst = unsafe { ring.row(r * n_post, n_post) };
                                        r = if r + 1 == s { 0 } else { r + 1 };
                                        dst
                                    };
                                    match b.of_pre(j, s) {
                                        Some((ends, post)) => {
                                            for e in ends.windows(2) {
                                                let post = &post[e[0] as usize..e[1] as usize];
                                                scatter_row(next(), w_row, post, ch);
                                            }
                                        }
                                        None => {
                                            for lag in 0..s {
                                                let (_, post) = b.get(j * s + lag, ch);
                                                scatter_row(next(), w_row, post, ch);
                                            }
                                        }
                                    }
                                }
                                Some(b) => {
                                    let mut r = (t % s) as usize;
                                    for lag in 0..s as usize {
                                        let dst = unsafe { ring.row(r * n_post, n_post) };
                                        let (syn, post) = b.get(j as usize * s as usize + lag, ch);
                                        for (&k, &i) in syn.iter().zip(post) {
                                            debug_assert!((lo..ch.hi).contains(&(i as usize)));
                                            unsafe { *dst.add(i as usize) += w.get(k as usize) };
                                        }
                                        r = if r + 1 == s as usize { 0 } else { r + 1 };
                                    }
                                }
                                None => plan.for_row(j, ch, |k, i| {
                                    let cell = ((t + d[k]) % s) as usize * n_post + i;
                                    unsafe { ring.set(cell, ring.get(cell) + w.get(k)) }
                                }),
                            },
                        }
                    }
                    let now = row_of(slot);
                    sum.copy_from_slice(now);
                    now.fill(0.0);
                }
                (_, Delivery::AtArrival) => {
                    sum.fill(0.0);
                    plan.for_arrivals(hist, t, ch, |k, i| sum[i - lo] += unsafe { w.get(k) });
                }
            }
            if let Some((sc, _, table)) = pp.stdp.as_ref().filter(|_| learn) {
                // All-to-all with one delay `d`: the pre spikes whose rows arrive now.
                let arriving_rows = match (&plan.strategy, plan.delays()) {
                    (Strategy::Dense, DelaySteps::Uniform(d)) => {
                        Some(&hist[((t % s + s - d) % s) as usize][..])
                    }
                    _ => None,
                };
                if sc.rule != 2 {
                    // `ν_pre · post1` of each post neuron, from step 2; a synapse arrives at
                    // most once per step, so the order of the updates does not matter.
                    let dep = &**depression;
                    let depress = |k: usize, i: usize| unsafe {
                        w.set(k, on_pre_depression(w.get(k), dep[i - lo], sc))
                    };
                    match dense.filter(|_| self.use_queue) {
                        Some(dense) => {
                            queue.enqueue(&dense, dep, &hist[slot], t);
                            // The constants copied out, so the loop reads none through a
                            // pointer its weight writes might alias.
                            let sc = &{ *sc };
                            // SAFETY: the queue holds synapses onto this chunk's post
                            // neurons (`lo..`, within `dep`) only.
                            let wp = unsafe { w.row(0, w.len) };
                            for &(k, i) in queue.arriving(slot) {
                                let (k, i) = (k as usize, i as usize - lo);
                                debug_assert!(k < w.len && i < dep.len());
                                unsafe {
                                    let x = wp.add(k);
                                    *x = on_pre_depression(*x, *dep.get_unchecked(i), sc);
                                }
                            }
                            queue.clear(slot);
                        }
                        // All-to-all with one delay: the spikes emitted `d` steps ago
                        // arrive whole rows at once, depressed as vectors.
                        None => match arriving_rows {
                            Some(rows) => {
                                for &j in rows {
                                    let r = j as usize * n_post;
                                    let row = unsafe { w.slice(r + lo..r + ch.hi) };
                                    row.iter_mut()
                                        .zip(dep)
                                        .for_each(|(x, &dp)| *x = on_pre_depression(*x, dp, sc));
                                }
                            }
                            None => plan.for_arrivals(hist, t, ch, depress),
                        },
                    }
                }
                // Every synapse that arrives now records `t` as its last arrival (buckets:
                // on the pre side, in `step`); with all-to-all pairing its trace also adds
                // 1 to what is left of it.
                match (arriving_rows, plan.buckets.is_none(), pp.accumulate) {
                    (Some(rows), _, false) => {
                        for &j in rows {
                            let r = j as usize * n_post;
                            unsafe { last.slice(r + lo..r + ch.hi) }.fill(t);
                        }
                    }
                    (_, true, _) => plan.for_arrivals(hist, t, ch, |k, _| unsafe {
                        if pp.accumulate {
                            let at = trace_now(pre_at_last.get(k), last.get(k), t, table);
                            pre_at_last.set(k, at + 1.0);
                        }
                        last.set(k, t);
                    }),
                    _ => {}
                }
            }
            if !direct {
                let x = &mut *pops[pp.post].x[pp.channel];
                match (pp.first, pp.sub) {
                    // The input starts at 0.0 (`0.0 - b`: −b would give −0.0 for b = +0.0).
                    (true, true) => x
                        .iter_mut()
                        .zip(&**own_sum)
                        .for_each(|(a, &b)| *a = 0.0 - b),
                    (false, true) => x.iter_mut().zip(&**own_sum).for_each(|(a, &b)| *a -= b),
                    (_, false) => x.iter_mut().zip(&**own_sum).for_each(|(a, &b)| *a += b),
                }
            }
        }
        // 4. neuron stages.
        for ((pp, pv), list) in self.pops.iter().zip(pops.iter_mut()).zip(spikes.iter_mut()) {
            let PopPlan::Neurons {
                kind,
                derived: d,
                custom_params,
                fed,
                ..
            } = pp
            else {
                continue;
            };
            let [ge, gi, v] = &pv.x;
            pv.neurons
                .stages(kind, d, custom_params, [ge, gi, v], *fed, learn, list);
        }
        // 5. potentiation.
        if learn {
            for ((pp, pv), queue) in self
                .projs
                .iter()
                .zip(projs.iter_mut())
                .zip(queues.iter_mut())
            {
                let Some((sc, _, table)) = &pp.stdp else {
                    continue;
                };
                let plan = pv.plan;
                let lo = self.chunk_of(c, plan.syn.n_post as usize).lo;
                let (w, last, pre_at_last) = (pv.w, pv.last, pv.pre_at_last);
                for &i in &spikes[pp.post] {
                    let i = i as usize;
                    let p2b = pv.post2[i - lo];
                    let (a, b) = (plan.in_offsets[i] as usize, plan.in_offsets[i + 1] as usize);
                    for &k in &plan.in_syn[a..b] {
                        let k = k as usize;
                        let a = plan.arrival_index(k);
                        // SAFETY: synapse `k` reaches post `i` of this chunk; the last
                        // arrivals are only read here (a bucket's are shared, read-only).
                        unsafe {
                            let at_last = if pp.accumulate {
                                pre_at_last.get(a)
                            } else {
                                1.0
                            };
                            let pre = trace_now(at_last, last.get(a), t, table);
                            w.set(k, on_post(w.get(k), pre, p2b, sc));
                        }
                    }
                    if pp.accumulate {
                        pv.post1[i - lo] += 1.0;
                        pv.post2[i - lo] += 1.0;
                    } else {
                        pv.post1[i - lo] = 1.0;
                        pv.post2[i - lo] = 1.0;
                    }
                    if let Some(dense) = pv.dense.filter(|_| self.use_queue) {
                        if !queue.is_active(i) {
                            queue.join(&dense, pv.hist, i, t);
                        }
                    }
                }
            }
        }
    }
}

/// How many spikes ahead of the walk the rows of a sparse projection are prefetched.
const PREFETCH_AHEAD: usize = 4;

/// `dst[i] += w_row[i]` for the post neurons `post` of a bucket (ascending, inside chunk
/// `ch`): the hottest loop of Diehl & Cook, ring row and weight row as pointers indexed
/// without a check (a bucket's post neurons are < n_post by construction).
#[inline(always)]
fn scatter_row(dst: *mut f32, w_row: *mut f32, post: &[u32], ch: Chunk) {
    for &i in post {
        debug_assert!((ch.lo..ch.hi).contains(&(i as usize)));
        // SAFETY: `dst` and `w_row` are rows of n_post cells, and `i` < n_post.
        unsafe { *dst.add(i as usize) += *w_row.add(i as usize) };
    }
}

/// An array the chunks of a step share: weights, delay ring, last arrivals. Each chunk
/// reads and writes only the elements that belong to its own post neurons (a bucket's last
/// arrival, shared by several chunks, is only read while the chunks run).
#[derive(Clone, Copy)]
pub(super) struct Shared<T> {
    ptr: *mut T,
    len: usize,
}

// SAFETY: the chunks that share it touch disjoint elements (see the type's docs).
unsafe impl<T: Send> Send for Shared<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Send> Sync for Shared<T> {}

impl<T: Copy> Shared<T> {
    pub(super) fn new(a: &mut [T]) -> Self {
        Shared {
            ptr: a.as_mut_ptr(),
            len: a.len(),
        }
    }

    /// Element `k`.
    ///
    /// # Safety
    /// No other chunk writes element `k` while this one runs.
    #[inline(always)]
    pub(super) unsafe fn get(self, k: usize) -> T {
        assert!(k < self.len);
        // SAFETY: in bounds (checked); see the function's contract.
        unsafe { *self.ptr.add(k) }
    }

    /// Sets element `k`.
    ///
    /// # Safety
    /// No other chunk reads or writes element `k` while this one runs.
    #[inline(always)]
    pub(super) unsafe fn set(self, k: usize, x: T) {
        assert!(k < self.len);
        // SAFETY: in bounds (checked); see the function's contract.
        unsafe { *self.ptr.add(k) = x }
    }

    /// A pointer to element `start`, with `len` elements after it in the array.
    ///
    /// # Safety
    /// Through it, the caller reads and writes only elements no other chunk touches.
    #[inline(always)]
    pub(super) unsafe fn row(self, start: usize, len: usize) -> *mut T {
        assert!(start <= self.len && len <= self.len - start);
        // SAFETY: in bounds (checked).
        unsafe { self.ptr.add(start) }
    }

    /// Elements `r`, to read and write.
    ///
    /// # Safety
    /// No other chunk, and no other live slice of this chunk, touches elements `r` while
    /// the slice lives.
    #[inline(always)]
    #[allow(clippy::mut_from_ref)] // The chunks' disjoint shares of one array.
    pub(super) unsafe fn slice<'a>(self, r: std::ops::Range<usize>) -> &'a mut [T] {
        assert!(r.start <= r.end && r.end <= self.len);
        // SAFETY: in bounds (checked); see the function's contract.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(r.start), r.end - r.start) }
    }
}

/// A chunk's view as [`Plans::chunk_step`] takes it: the chunk, its populations and
/// projections, its state.
type ChunkParts<'v, 'a> = (
    usize,
    &'v mut [PopView<'a>],
    &'v mut [ProjView<'a>],
    &'v mut ChunkState,
);

impl<'a> ChunkView<'a> {
    fn parts(&mut self) -> ChunkParts<'_, 'a> {
        (self.c, &mut self.pops, &mut self.projs, self.state)
    }
}

/// What one chunk of the step reads and writes of a copy: its share of every per-neuron
/// array, its own spike lists and depression queues, and the shared arrays it touches only
/// at its own post neurons.
struct ChunkView<'a> {
    c: usize,
    /// Per population (sources: empty).
    pops: SmallVec<[PopView<'a>; 4]>,
    /// Per projection.
    projs: SmallVec<[ProjView<'a>; 4]>,
    state: &'a mut ChunkState,
}

struct PopView<'a> {
    neurons: NeuronChunk<'a>,
    /// Inputs `ge`, `gi`, `v`.
    x: [&'a mut [f32]; 3],
}

struct ProjView<'a> {
    /// The copy's plan of the projection, and what its depression queue reads.
    plan: &'a Plan,
    dense: Option<Dense<'a>>,
    sum: &'a mut [f32],
    post1: &'a mut [f32],
    post2: &'a mut [f32],
    depression: &'a mut [f32],
    w: Shared<f32>,
    ring: Shared<f32>,
    last: Shared<u32>,
    pre_at_last: Shared<f32>,
    hist: &'a [Vec<u32>],
}
