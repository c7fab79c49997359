//! The protocol operations of the general GPU engine, with the meaning of the CPU engine's
//! methods of the same names (`cpu::engine::Engine`): a copy put at rest, a Poisson stream
//! keyed from a step, the spikes of a population counted over a run, frozen trials, and the
//! whole state as plain data (`model::net::state`), which moves a run between the engines
//! bit for bit.
//!
//! Frozen trials run on a second engine of the same network whose copies are the trials
//! (built on first use, grown as a larger batch needs, in chunks past what the device
//! holds; `Network::copies_of`, and built again for another copy where the copies have
//! delays of their own): the copy's weights, θ and Poisson tables are copied into every
//! trial on the device, then each trial is put at rest and given its rates and stream.

use super::layout::{PopRegions, ProjKind, NEVER};
use super::{GpuEngine, GpuEngineOptions, Quiet, RunPlan};
use crate::backend::simulator::check_inputs;
use crate::backend::{Presentation, Trial};
use crate::error::{Result, SnnError};
use crate::model::net::state::{CopyState, NetworkState, PopulationState, ProjectionState};
use crate::model::net::{check_rates, invalid, poisson_thresholds, PopulationKind};
use crate::model::NeuronKind;

/// The most trials one chunk runs as copies (a bound on the trial engine's size).
const MAX_TRIALS_PER_CHUNK: u64 = 1024;

/// What a presentation does besides its inputs ([`GpuEngine::prepare`]).
pub(super) struct Prepared {
    /// The Poisson source and the counted population.
    pub source: usize,
    pub counted: usize,
    /// The projection whose weights are checked.
    pub check: Option<usize>,
    /// The projection normalised first, and its target sum.
    pub normalize: Option<(usize, f32)>,
    pub decay: Option<super::Decay>,
    /// Steps on and at rest.
    pub steps: u32,
}

/// Every buffer's contents, as `network_state` decodes them.
struct Contents {
    fstate: Vec<f32>,
    ustate: Vec<u32>,
    bits: Vec<u32>,
    wsyn: Vec<f32>,
    fwork: Vec<f32>,
    /// Per population, per copy: its Poisson stream `(key, origin step)` (none for other
    /// populations).
    streams: Vec<Vec<(u32, u32)>>,
}

impl GpuEngine {
    pub(super) fn write_u32s(&self, buf: &wgpu::Buffer, at: u64, v: &[u32]) {
        if !v.is_empty() {
            self.ctx
                .queue
                .write_buffer(buf, at * 4, bytemuck::cast_slice(v));
        }
    }

    fn write_f32s(&self, buf: &wgpu::Buffer, at: u64, v: &[f32]) {
        if !v.is_empty() {
            self.ctx
                .queue
                .write_buffer(buf, at * 4, bytemuck::cast_slice(v));
        }
    }

    /// Writes `v` to the tables from entry `at` (within one region).
    pub(super) fn write_tables(&self, at: u64, v: &[u32]) {
        let (part, at) = self.layout.table_part(at, v.len() as u64);
        self.write_u32s(&self.buffers.tables[part], at, v);
    }

    /// The binding of the tables that holds the region starting at entry `at`, and `at`'s
    /// offset in it.
    pub(super) fn table_at(&self, at: u64) -> (&wgpu::Buffer, u64) {
        let (part, at) = self.layout.table_part(at, 0);
        (&self.buffers.tables[part], at)
    }

    /// Per population, per copy, the Poisson stream `(key, origin step)` (none for other
    /// populations), from `region(at)`: the copies' words of the tables from entry `at`.
    fn streams(
        &self,
        mut region: impl FnMut(u32) -> Result<Vec<u32>>,
    ) -> Result<Vec<Vec<(u32, u32)>>> {
        self.layout
            .pops
            .iter()
            .map(|pop| match pop.regions {
                PopRegions::Poisson { keys, origins, .. } => {
                    Ok(region(keys)?.into_iter().zip(region(origins)?).collect())
                }
                _ => Ok(vec![]),
            })
            .collect()
    }

    fn read_all(&self, buf: &wgpu::Buffer, len: u64, label: &str) -> Result<Vec<u32>> {
        let b = self.read_back_one(buf, 0, len * 4, label)?;
        Ok(bytemuck::cast_slice(&b).to_vec())
    }

    /// The index of Poisson source `population`.
    pub(super) fn poisson_index(&self, population: &str) -> Result<usize> {
        let p = self.net.population_index(population)?;
        if !matches!(self.net.populations[p].kind, PopulationKind::Poisson { .. }) {
            let el = format!("population `{population}`");
            return Err(invalid(&el, "kind", &"not Poisson", "a Poisson source"));
        }
        Ok(p)
    }

    /// Sets Poisson source `src` of copies `0 .. inputs.len()` to the rates and stream keys
    /// of `inputs` (checked by the caller), the streams from step `origin`
    /// ([`Self::input_writes`]). Returns the thresholds' first entry in the tables and the
    /// thresholds.
    fn set_inputs(&self, src: usize, inputs: &[Trial<'_>], origin: u32) -> (u64, Vec<u32>) {
        let mut writes = self.input_writes(src, inputs, origin);
        for (at, words) in &writes {
            self.write_tables(*at, words);
        }
        let (thr, mut words) = writes.swap_remove(0);
        words.truncate(inputs.len() * self.layout.pops[src].size as usize);
        (thr, words)
    }

    /// What sets Poisson source `src` of copies `0 .. inputs.len()` to the rates and keys of
    /// `inputs`, the streams from step `origin`: `(first entry in the tables, words)`, the
    /// thresholds, keys and origins in one write where they follow each other in one
    /// binding (every copy's), else one each, the thresholds first.
    pub(super) fn input_writes(
        &self,
        src: usize,
        inputs: &[Trial<'_>],
        origin: u32,
    ) -> Vec<(u64, Vec<u32>)> {
        let PopRegions::Poisson {
            thr, keys, origins, ..
        } = self.layout.pops[src].regions
        else {
            unreachable!("a Poisson population has Poisson regions")
        };
        let n = self.layout.pops[src].size as usize;
        let m = inputs.len();
        let mut words = Vec::with_capacity(m * (n + 2));
        for x in inputs {
            words.extend(poisson_thresholds(x.rates_hz, self.net.dt_ms));
        }
        words.extend(inputs.iter().map(|x| x.key));
        words.extend(std::iter::repeat_n(origin, m));
        let (thr, keys, origins) = (thr as u64, keys as u64, origins as u64);
        let k = self.layout.batch as u64;
        let whole = m as u64 == k
            && keys == thr + k * n as u64
            && origins == keys + k
            && self.layout.table_part(thr, 0).0 == self.layout.table_part(origins, 0).0;
        if whole {
            return vec![(thr, words)];
        }
        let origin_words = words.split_off(m * (n + 1));
        let key_words = words.split_off(m * n);
        vec![(thr, words), (keys, key_words), (origins, origin_words)]
    }

    /// [`Self::run`], returning the number of spikes of every neuron of `population` over
    /// these steps, `[copy][neuron]`; as `cpu::engine::Engine::run_counting`. The counts
    /// come back with the run's state (one wait where the run takes one submission).
    ///
    /// # Errors
    /// As [`Self::run`]; [`SnnError::UnknownName`] for an unknown population.
    pub fn run_counting(&mut self, steps: u32, population: &str) -> Result<Vec<Vec<u32>>> {
        let p = self.net.population_index(population)?;
        self.count_over(steps, p, RunPlan::default())
    }

    /// `plan`'s run of `steps` steps, counting population `p`'s spikes (on the steps that
    /// are not quiet), `[copy][neuron]`.
    fn count_over(&mut self, steps: u32, p: usize, mut plan: RunPlan) -> Result<Vec<Vec<u32>>> {
        let (k, n) = (
            self.layout.batch as usize,
            self.layout.pops[p].size as usize,
        );
        let at = self.layout.pops[p].count as u64;
        plan.zero.push((at, (k * n) as u64));
        plan.reads = vec![(at, (k * n) as u64)];
        let got = self.run_planned(steps, &plan)?;
        let counts: &[u32] = bytemuck::cast_slice(&got[0]);
        Ok((0..k)
            .map(|c| counts[c * n..(c + 1) * n].to_vec())
            .collect())
    }

    /// The rest of `plan`'s run of `steps` steps from the clock, whose first submission
    /// stopped short on the device (a series' stalled round, `series`): its progress, counts
    /// and decay marks there kept. Returns population `p`'s counts over the whole run.
    pub(super) fn go_on_with(
        &mut self,
        steps: u32,
        p: usize,
        mut plan: RunPlan,
    ) -> Result<Vec<Vec<u32>>> {
        let (k, n) = (
            self.layout.batch as usize,
            self.layout.pops[p].size as usize,
        );
        plan.reads = vec![(self.layout.pops[p].count as u64, (k * n) as u64)];
        let enc = self.encoder("engine.fused");
        let t0 = self.clock;
        let got = self.run_fused(enc, t0, steps, plan.quiet, Some(&plan), false)?;
        self.clock = t0 + steps;
        let Some(got) = got else {
            unreachable!("a fused run with an end reads what the end reads")
        };
        let got = self.finish_run(got, &plan)?;
        let counts: &[u32] = bytemuck::cast_slice(&got[0]);
        Ok(counts.chunks(n).map(<[u32]>::to_vec).collect())
    }

    /// [`Simulator::present`](crate::backend::Simulator::present): the rates and streams
    /// written, then in one submission the counts cleared, the normalisation, the steps on
    /// and the rest as one run whose rest steps are quiet (the source silent, nothing
    /// counted: the same spikes as rates at 0), the source's thresholds set to 0, the
    /// weight check, the decay, and the copy of the counts, the state and the check's word
    /// for the host: one wait on the device where the run takes one submission (the fused
    /// schedule without recordings). With `rest_steps: None`, the copies are put at rest
    /// after the steps on (and the thresholds kept).
    ///
    /// # Errors
    /// As [`Simulator::present`](crate::backend::Simulator::present).
    pub fn present(&mut self, p: &Presentation<'_>) -> Result<Vec<Vec<u32>>> {
        let pr = self.prepare(p)?;
        let origin = self.clock;
        let (at, thresholds) = self.set_inputs(pr.source, p.inputs, origin);
        let plan = self.presentation_plan(&pr, p, origin, at, thresholds);
        let counts = self.count_over(pr.steps, pr.counted, plan)?;
        if p.rest_steps.is_none() {
            // The decay came at the end of the run, before this rest: a variable that the
            // rest sets takes its rest value decayed, as the rest and then the decay give.
            self.rest_copies(0, p.inputs.len(), pr.decay);
        }
        Ok(counts)
    }

    /// `p` checked, and what it does besides its inputs.
    ///
    /// # Errors
    /// As [`Self::present`].
    pub(super) fn prepare(&self, p: &Presentation<'_>) -> Result<Prepared> {
        check_inputs(&self.net, p)?;
        let source = self.poisson_index(p.source)?;
        let counted = self.net.population_index(p.counted)?;
        let check = p
            .check_weights
            .map(|q| self.projection_index(q))
            .transpose()?;
        let normalize = match p.normalize {
            Some((q, target)) => Some((self.normalize_index(q, target)?, target)),
            None => None,
        };
        let decay = match p.decay {
            Some((population, variable, factor)) => {
                let (q, _, var) = self.net.state_target(population, variable)?;
                let (at, n) = self.state_region(q, var);
                Some(super::Decay {
                    at: at as u32,
                    n: n as u32,
                    factor,
                })
            }
            None => None,
        };
        for x in p.inputs {
            self.net.rates_target(p.source, x.rates_hz)?;
        }
        Ok(Prepared {
            source,
            counted,
            check,
            normalize,
            decay,
            // Past the clock's end, the run refuses the steps.
            steps: p.steps_on.saturating_add(p.rest_steps.unwrap_or(0)),
        })
    }

    /// The run of presentation `p` (prepared as `pr`) from step `origin`, its source's
    /// thresholds (`thresholds`, from entry `at` of the tables) silenced after it where it
    /// rests by steps.
    pub(super) fn presentation_plan(
        &self,
        pr: &Prepared,
        p: &Presentation<'_>,
        origin: u32,
        at: u64,
        thresholds: Vec<u32>,
    ) -> RunPlan {
        RunPlan {
            zero: vec![],
            check_by_writes: pr
                .check
                .is_some_and(|q| self.weights[q].finite.get() == Some(&true)),
            // Rates 0 after the run (thresholds 0).
            silence: p.rest_steps.map(|_| super::Silence { at, thresholds }),
            decay: pr.decay,
            normalize: pr.normalize,
            quiet: Quiet {
                from: p.rest_steps.map(|_| origin.saturating_add(p.steps_on)),
                source: pr.source as u32 + 1,
            },
            check: pr.check,
            reads: vec![],
        }
    }

    /// Puts copy `copy` at rest, as `cpu::engine::Engine::rest`: every neuron at its rest
    /// state (v at the model's resting potential, `v_rest_mv` of the LIF models,
    /// `v_init_mv` of IF and custom models; `ge = gi = 0`; no refractory steps left; custom
    /// variables at their initial values), θ kept; no spike in flight (spike history and
    /// delay rings cleared, no last arrival) and every STDP trace at 0. The clock keeps
    /// running.
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`] for a bad copy.
    pub fn rest(&mut self, copy: usize) -> Result<()> {
        self.check_copy(copy)?;
        self.rest_copies(copy, 1, None);
        Ok(())
    }

    /// Puts copies `b0 .. b0 + m` at rest (see [`Self::rest`]), a variable that `decay`
    /// scales at its rest value times the factor.
    fn rest_copies(&mut self, b0: usize, m: usize, decay: Option<super::Decay>) {
        let k = self.layout.batch as u64;
        let (b0, m) = (b0 as u64, m as u64);
        for pop in &self.layout.pops {
            let n = pop.size as u64;
            if let PopRegions::Neurons {
                model,
                vars,
                refrac,
                ..
            } = &pop.regions
            {
                let init = model.initial_values();
                let v_rest = match &model.kind {
                    NeuronKind::Lif(p) => p.v_rest_mv,
                    NeuronKind::CondLif(p) => p.v_rest_mv,
                    NeuronKind::CurrentLif(p) => p.v_rest_mv,
                    NeuronKind::If | NeuronKind::Custom(_) => init[0],
                };
                // Variable 1 is θ, which is kept.
                for (var, (_, region)) in vars.iter().enumerate().filter(|(v, _)| *v != 1) {
                    let x = if var == 0 { v_rest } else { init[var] };
                    let x = match decay {
                        Some(d) if d.at == *region => x * d.factor,
                        _ => x,
                    };
                    let from = (*region as u64 + b0 * n) as usize;
                    let to = from + (m * n) as usize;
                    self.fstate[from..to].fill(x);
                    self.ctx.queue.write_buffer(
                        &self.buffers.fstate,
                        from as u64 * 4,
                        bytemuck::cast_slice(&self.fstate[from..to]),
                    );
                }
                let zeros = vec![0u32; (m * n) as usize];
                self.write_u32s(&self.buffers.ustate, *refrac as u64 + b0 * n, &zeros);
            }
            let b = &pop.bits;
            let zeros = vec![0u32; (m * b.words as u64) as usize];
            for s in 0..b.slots as u64 {
                let at = b.base as u64 + (s * k + b0) * b.words as u64;
                self.write_u32s(&self.buffers.bits, at, &zeros);
                // Empty spike lists (the summaries may stay: a superset).
                if let Some(list) = b.list {
                    let len = b.list_len() as u64;
                    let at = list as u64 + (s * k + b0) * len;
                    self.write_u32s(&self.buffers.bits, at, &vec![0; (m * len) as usize]);
                }
            }
        }
        for p in &self.layout.projs {
            let n_post = p.syn.n_post as u64;
            let zeros = vec![0f32; (m * n_post) as usize];
            if let Some(q) = &p.queue {
                let empty = vec![0u32; (m * n_post) as usize];
                for s in 0..p.slots as u64 {
                    let at = q.counts as u64 + (s * k + b0) * n_post;
                    self.write_u32s(&self.buffers.ustate, at, &empty);
                }
            }
            if p.has_ring() {
                for s in 0..p.slots as u64 {
                    let at = p.ring as u64 + (s * k + b0) * n_post;
                    self.write_f32s(&self.buffers.fwork, at, &zeros);
                }
            }
            if let Some(st) = &p.stdp {
                let post1 = st.traces as u64 + b0 * n_post;
                self.write_f32s(&self.buffers.fwork, post1, &zeros);
                self.write_f32s(&self.buffers.fwork, post1 + k * n_post, &zeros);
                let len = st.last_len as u64;
                let never = vec![NEVER; (m * len) as usize];
                self.write_u32s(&self.buffers.ustate, st.last as u64 + b0 * len, &never);
                if st.pre_at_last != NEVER {
                    let zeros = vec![0f32; (m * len) as usize];
                    let at = st.pre_at_last as u64 + b0 * len;
                    self.write_f32s(&self.buffers.fwork, at, &zeros);
                }
            }
        }
    }

    /// Keys the Poisson draws of source `population` in copy `copy` from the next step, as
    /// `cpu::engine::Engine::set_poisson_stream`: neuron `i` spikes at step `t` when
    /// `rng_u32(key, t − origin_step, i) < thr_i`.
    ///
    /// # Errors
    /// [`SnnError::UnknownName`]; [`SnnError::InvalidNetwork`] for a population that is not
    /// a Poisson source; [`SnnError::InvalidParam`] for a bad copy.
    pub fn set_poisson_stream(
        &mut self,
        population: &str,
        copy: usize,
        key: u32,
        origin_step: u32,
    ) -> Result<()> {
        let p = self.poisson_index(population)?;
        self.check_copy(copy)?;
        let PopRegions::Poisson { keys, origins, .. } = self.layout.pops[p].regions else {
            unreachable!("a Poisson population has Poisson regions")
        };
        let c = copy as u64;
        self.write_tables(keys as u64 + c, &[key]);
        self.write_tables(origins as u64 + c, &[origin_step]);
        Ok(())
    }

    /// Runs independent trials from copy `copy` and returns, per trial, the spike count of
    /// every neuron of `population`; the engine is left as it was. As
    /// `cpu::engine::Engine::run_trials`: trial `k` starts from the copy put at rest
    /// ([`Self::rest`]), sets the rates of Poisson source `source` to `trials[k].rates_hz`
    /// and its stream to `(trials[k].key, clock)`, and runs `steps` steps with learning off.
    /// The trials run as the copies of a second engine (see the module docs).
    ///
    /// # Errors
    /// As [`Self::set_rates`] for bad rates; [`SnnError::NonFinite`] naming the first trial
    /// (in trial order) where a neuron variable became NaN or infinite; device errors.
    pub fn run_trials(
        &mut self,
        copy: usize,
        source: &str,
        trials: &[Trial<'_>],
        steps: u32,
        population: &str,
    ) -> Result<Vec<Vec<u32>>> {
        let src = self.poisson_index(source)?;
        self.net.population_index(population)?;
        self.check_copy(copy)?;
        let (dt, size) = (self.net.dt_ms, self.net.populations[src].size);
        let el = format!("population `{source}`");
        for tr in trials {
            check_rates(&el, tr.rates_hz, size, dt)?;
        }
        let t0 = self.clock;
        crate::model::net::clock_after(t0, steps.into())?;
        if trials.is_empty() {
            return Ok(vec![]);
        }
        let cap = self.trials_per_chunk();
        let want = (trials.len() as u64).min(cap) as u32;
        // Copies with delays of their own (the trial engine's tables) need an engine of
        // their own; otherwise one serves every copy (weights, θ and Poisson tables are
        // copied in from the copy at every chunk).
        let owner = if self.net.has_per_copy_delays() {
            copy
        } else {
            0
        };
        let mut engine = match self.trials.take() {
            Some((o, e)) if o == owner && e.layout.batch >= want => e,
            _ => {
                let net = self.net.copies_of(copy, want as usize);
                let opts = GpuEngineOptions {
                    arrival_queue: 0,
                    ..self.opts
                };
                Box::new(GpuEngine::with_options(self.ctx.clone(), &net, opts)?)
            }
        };
        let out = self.run_trial_chunks(&mut engine, copy, src, trials, steps, population);
        self.trials = Some((owner, engine));
        out
    }

    /// Makes every post neuron with arrival queues check the delay window instead of its
    /// queue at each of the next `slots` steps (the queues may lack arrivals still due):
    /// the overflow mark of each slot set to its next arrival step from the clock.
    pub(super) fn check_the_delay_windows(&self) {
        let t = self.clock as u64;
        for p in &self.layout.projs {
            let Some(q) = &p.queue else { continue };
            let slots = p.slots as u64;
            let next: Vec<u32> = (0..slots)
                .map(|s| (t + (s + slots - t % slots) % slots) as u32)
                .collect();
            for b in 0..self.layout.batch as u64 {
                self.write_u32s(&self.buffers.ustate, q.overflow as u64 + b * slots, &next);
            }
        }
    }

    /// How many trials one chunk can run as copies: what the largest buffer, the largest
    /// region of the tables that grows with the copies (Poisson thresholds, delays of their
    /// own) and the dispatch allow (the trials' engine has no arrival queues: it does not
    /// learn; it keeps the monitors, whose recordings take a row per step of a submission).
    fn trials_per_chunk(&self) -> u64 {
        let l = &self.layout;
        let rows = l.rows as u64;
        let per_copy = [
            l.largest_table_region_per_copy() * l.batch as u64,
            l.fstate.len() as u64,
            l.ustate.len() as u64 - l.queue_words(),
            l.bits_len,
            l.wsyn.len() as u64,
            l.fwork_len,
            rows * l.rec_bits_per_row,
            rows * l.rec_vals_per_row,
        ]
        .into_iter()
        .max()
        .unwrap_or(1)
            * 4
            / l.batch as u64;
        let fit = self.ctx.limits.max_storage_buffer_binding_size / per_copy.max(1);
        fit.min(self.ctx.limits.max_compute_workgroups_per_dimension as u64)
            .clamp(1, MAX_TRIALS_PER_CHUNK)
    }

    fn run_trial_chunks(
        &self,
        e: &mut GpuEngine,
        copy: usize,
        src: usize,
        trials: &[Trial<'_>],
        steps: u32,
        population: &str,
    ) -> Result<Vec<Vec<u32>>> {
        let (k, c) = (e.layout.batch as u64, copy as u64);
        let mut out = Vec::with_capacity(trials.len());
        for (chunk, batch) in trials.chunks(k as usize).enumerate() {
            let m = batch.len() as u64;
            // The copy's weights, θ and Poisson tables into every trial, on the device.
            let mut enc = self
                .ctx
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("engine.trials"),
                });
            let mut broadcast = |from: &wgpu::Buffer, to: &wgpu::Buffer, a: u64, b: u64, n| {
                for t in 0..m {
                    enc.copy_buffer_to_buffer(from, (a + c * n) * 4, to, (b + t * n) * 4, n * 4);
                }
            };
            for (p, q) in self.layout.projs.iter().zip(&e.layout.projs) {
                if !matches!(p.kind, ProjKind::TotalMinusSelf(_)) && p.n_syn() > 0 {
                    let (a, b) = (p.w as u64, q.w as u64);
                    broadcast(&self.buffers.wsyn, &e.buffers.wsyn, a, b, p.n_syn() as u64);
                }
            }
            for (pi, (p, q)) in self.layout.pops.iter().zip(&e.layout.pops).enumerate() {
                let n = p.size as u64;
                match (&p.regions, &q.regions) {
                    (
                        PopRegions::Neurons { vars: va, .. },
                        PopRegions::Neurons { vars: vb, .. },
                    ) if n > 0 => {
                        let (a, b) = (va[1].1 as u64, vb[1].1 as u64);
                        broadcast(&self.buffers.fstate, &e.buffers.fstate, a, b, n);
                    }
                    (
                        PopRegions::Poisson {
                            thr: ta,
                            keys: ka,
                            origins: oa,
                            ..
                        },
                        PopRegions::Poisson {
                            thr: tb,
                            keys: kb,
                            origins: ob,
                            ..
                        },
                    ) if pi != src => {
                        let mut tables = |a: u32, b: u32, n| {
                            let ((from, a), (to, b)) =
                                (self.table_at(a as u64), e.table_at(b as u64));
                            broadcast(from, to, a, b, n);
                        };
                        if n > 0 {
                            tables(*ta, *tb, n);
                        }
                        tables(*ka, *kb, 1);
                        tables(*oa, *ob, 1);
                    }
                    _ => {}
                }
            }
            self.ctx.queue.submit([enc.finish()]);
            e.set_inputs(src, batch, self.clock);
            e.rest_copies(0, m as usize, None);
            e.clock = self.clock;
            e.learning = false;
            e.active = m as u32;
            let first = chunk * k as usize;
            let counts = e.run_counting(steps, population).map_err(|err| match err {
                SnnError::NonFinite { .. } => e
                    .check_finite(|name, b| format!("{name} (trial {})", first + b))
                    .err()
                    .unwrap_or(err),
                err => err,
            });
            e.clear_recordings();
            out.extend(counts?.into_iter().take(m as usize));
        }
        Ok(out)
    }

    /// The whole dynamic state of every copy, as plain data (see `model::net::state`),
    /// read back from the device; the same as the CPU engine's for the same run.
    ///
    /// # Errors
    /// [`SnnError::Gpu`] if a read-back fails.
    pub fn network_state(&self) -> Result<NetworkState> {
        let l = &self.layout;
        let f32s = |v: Vec<u32>| v.into_iter().map(f32::from_bits).collect::<Vec<f32>>();
        let b = &self.buffers;
        let contents = Contents {
            fstate: self.fstate.clone(),
            ustate: self.read_all(&b.ustate, l.ustate.len() as u64, "engine.ustate")?,
            bits: self.read_all(&b.bits, l.bits_len, "engine.bits")?,
            wsyn: f32s(self.read_all(&b.wsyn, l.wsyn.len() as u64, "engine.wsyn")?),
            fwork: f32s(self.read_all(&b.fwork, l.fwork_len, "engine.fwork")?),
            // Of the tables only the streams change.
            streams: self.streams(|at| {
                let (buf, at) = self.table_at(at as u64);
                let n = l.batch as u64 * 4;
                let bytes = self.read_back_one(buf, at * 4, n, "engine.tables")?;
                Ok(bytemuck::cast_slice(&bytes).to_vec())
            })?,
        };
        Ok(self.decode_state(&contents))
    }

    /// The state of every copy in buffers holding `c`.
    fn decode_state(&self, c: &Contents) -> NetworkState {
        let l = &self.layout;
        let k = l.batch as usize;
        let t = self.clock as i64;
        // The spikes of population `p`, copy `b`, emitted at step `e` (used at step e).
        let spikes_at = |p: usize, b: usize, e: i64| -> Vec<u32> {
            let pb = &l.pops[p].bits;
            let slot = e.rem_euclid(pb.slots as i64) as usize;
            let at = pb.base as usize + (slot * k + b) * pb.words as usize;
            let mut out = vec![];
            for (w, &word) in c.bits[at..at + pb.words as usize].iter().enumerate() {
                let mut x = word;
                while x != 0 {
                    out.push(w as u32 * 32 + x.trailing_zeros());
                    x &= x - 1;
                }
            }
            out
        };
        let copies = (0..k)
            .map(|b| CopyState {
                populations: self
                    .net
                    .populations
                    .iter()
                    .zip(&l.pops)
                    .enumerate()
                    .map(|(p, (pop, pl))| {
                        let n = pl.size as usize;
                        let (variables, refractory_steps, spikes, stream) = match &pl.regions {
                            PopRegions::Neurons { vars, refrac, .. } => (
                                vars.iter()
                                    .map(|(name, at)| {
                                        let at = *at as usize + b * n;
                                        (name.clone(), c.fstate[at..at + n].to_vec())
                                    })
                                    .collect(),
                                c.ustate[*refrac as usize + b * n..][..n].to_vec(),
                                // Its spikes of step t − 1, stored as emitted at t.
                                spikes_at(p, b, t),
                                (0, 0),
                            ),
                            PopRegions::Poisson { .. } => {
                                (vec![], vec![], spikes_at(p, b, t - 1), c.streams[p][b])
                            }
                            PopRegions::SpikeTimes { .. } => {
                                (vec![], vec![], spikes_at(p, b, t - 1), (0, 0))
                            }
                        };
                        PopulationState {
                            name: pop.name.clone(),
                            variables,
                            refractory_steps,
                            spikes,
                            poisson_stream: stream,
                        }
                    })
                    .collect(),
                projections: self
                    .net
                    .projections
                    .iter()
                    .zip(&l.projs)
                    .map(|(q, pl)| {
                        let (n_post, n_syn) = (pl.syn.n_post as usize, pl.n_syn() as usize);
                        let s = pl.slots as usize;
                        let weights = match pl.kind {
                            ProjKind::TotalMinusSelf(w) => vec![w; n_syn],
                            _ => c.wsyn[pl.w as usize + b * n_syn..][..n_syn].to_vec(),
                        };
                        // The ring exists with delays, delivered at emission (all-but-self
                        // with one weight keeps it empty).
                        let ring = match (pl.at_emission && s > 1, pl.kind) {
                            (false, _) => vec![],
                            (true, ProjKind::TotalMinusSelf(_)) => vec![0.0; s * n_post],
                            (true, _) => (0..s)
                                .flat_map(|slot| {
                                    let at = pl.ring as usize + (slot * k + b) * n_post;
                                    c.fwork[at..at + n_post].iter().copied()
                                })
                                .collect(),
                        };
                        // The pre spikes used at the steps t − s .. t − 1, by step mod s.
                        let mut history = vec![vec![]; s];
                        for e in t - s as i64..t {
                            history[e.rem_euclid(s as i64) as usize] = spikes_at(pl.pre, b, e);
                        }
                        let (post1, post2, last, pre_at_last) = match &pl.stdp {
                            None => (vec![], vec![], vec![], vec![]),
                            Some(st) => {
                                let a1 = st.traces as usize + b * n_post;
                                let a2 = a1 + k * n_post;
                                // Per synapse, from its entry (a bucket's is its synapses').
                                let len = st.last_len as usize;
                                let at = st.last as usize + b * len;
                                let per_synapse = |entries: &[u32]| -> Vec<u32> {
                                    (0..n_syn)
                                        .map(|k| entries[pl.arrival_index(b, k)])
                                        .collect()
                                };
                                let pre = if st.pre_at_last == NEVER {
                                    vec![]
                                } else {
                                    let at = st.pre_at_last as usize + b * len;
                                    let bits: Vec<u32> =
                                        c.fwork[at..at + len].iter().map(|x| x.to_bits()).collect();
                                    per_synapse(&bits).into_iter().map(f32::from_bits).collect()
                                };
                                (
                                    c.fwork[a1..a1 + n_post].to_vec(),
                                    c.fwork[a2..a2 + n_post].to_vec(),
                                    per_synapse(&c.ustate[at..at + len]),
                                    pre,
                                )
                            }
                        };
                        ProjectionState {
                            name: q.name.clone(),
                            weights,
                            ring,
                            history,
                            post1,
                            post2,
                            last_arrival_step: last,
                            pre_trace_at_last_arrival: pre_at_last,
                        }
                    })
                    .collect(),
            })
            .collect();
        NetworkState {
            step: self.clock,
            copies,
        }
    }

    /// Replaces the whole dynamic state with `state`, as
    /// `cpu::engine::Engine::set_network_state`: it must have the shape of
    /// [`Self::network_state`] (same network and batch), from either engine. Weights are
    /// taken as they are (normalisation may have scaled them outside `[w_min, w_max]`).
    ///
    /// # Errors
    /// As `NetworkState::check`: [`SnnError::InvalidParam`] naming the first array of
    /// another length, a value that is not finite, an index out of range, or a step past
    /// the clock's end.
    pub fn set_network_state(&mut self, state: &NetworkState) -> Result<()> {
        let l = &self.layout;
        let like = self.decode_state(&Contents {
            fstate: l.fstate.clone(),
            ustate: l.ustate.clone(),
            bits: vec![0; l.bits_len as usize],
            wsyn: l.wsyn.clone(),
            fwork: vec![0.0; l.fwork_len as usize],
            streams: self.streams(|at| Ok(l.tables[at as usize..][..l.batch as usize].to_vec()))?,
        });
        let syns: Vec<_> = l.projs.iter().map(|p| &p.syn).collect();
        state.check(&like, &self.net, &syns)?;
        let k = l.batch as usize;
        let t = state.step as i64;
        let mut bits = vec![0u32; l.bits_len as usize];
        // Sets the spikes of population `p`, copy `b`, emitted at step `e`.
        let mut put = |p: usize, b: usize, e: i64, spikes: &[u32]| {
            let pb = &l.pops[p].bits;
            let slot = e.rem_euclid(pb.slots as i64) as usize;
            let at = pb.base as usize + (slot * k + b) * pb.words as usize;
            bits[at..at + pb.words as usize].fill(0);
            for &i in spikes {
                bits[at + i as usize / 32] |= 1 << (i % 32);
            }
        };
        for (b, cs) in state.copies.iter().enumerate() {
            for (q, pl) in cs.projections.iter().zip(&l.projs) {
                let s = pl.slots as i64;
                for e in t - s..t {
                    put(pl.pre, b, e, &q.history[e.rem_euclid(s) as usize]);
                }
            }
            for (p, (ps, pl)) in cs.populations.iter().zip(&l.pops).enumerate() {
                let e = if matches!(pl.regions, PopRegions::Neurons { .. }) {
                    t
                } else {
                    t - 1
                };
                put(p, b, e, &ps.spikes);
            }
        }
        let mut fstate = std::mem::take(&mut self.fstate);
        let b = &self.buffers;
        for (c, cs) in state.copies.iter().enumerate() {
            for (ps, pl) in cs.populations.iter().zip(&l.pops) {
                let n = pl.size as u64;
                match &pl.regions {
                    PopRegions::Neurons { vars, refrac, .. } => {
                        for ((_, v), (_, at)) in ps.variables.iter().zip(vars) {
                            let at = *at as usize + c * n as usize;
                            fstate[at..at + v.len()].copy_from_slice(v);
                        }
                        let at = *refrac as u64 + c as u64 * n;
                        self.write_u32s(&b.ustate, at, &ps.refractory_steps);
                    }
                    PopRegions::Poisson { keys, origins, .. } => {
                        let (key, origin) = ps.poisson_stream;
                        self.write_tables(*keys as u64 + c as u64, &[key]);
                        self.write_tables(*origins as u64 + c as u64, &[origin]);
                    }
                    PopRegions::SpikeTimes { .. } => {}
                }
            }
            for (q, pl) in cs.projections.iter().zip(&l.projs) {
                let (n_post, n_syn) = (pl.syn.n_post as u64, pl.n_syn() as u64);
                let c = c as u64;
                if matches!(pl.kind, ProjKind::TotalMinusSelf(_)) {
                    // One constant weight (checked) and no ring.
                } else {
                    self.write_f32s(&b.wsyn, pl.w as u64 + c * n_syn, &q.weights);
                    for (slot, x) in q.ring.chunks(n_post.max(1) as usize).enumerate() {
                        let at = pl.ring as u64 + (slot as u64 * k as u64 + c) * n_post;
                        self.write_f32s(&b.fwork, at, x);
                    }
                }
                if let Some(st) = &pl.stdp {
                    let a1 = st.traces as u64 + c * n_post;
                    self.write_f32s(&b.fwork, a1, &q.post1);
                    self.write_f32s(&b.fwork, a1 + k as u64 * n_post, &q.post2);
                    // Each synapse's last arrival into its entry (a bucket's synapses agree).
                    let len = st.last_len as usize;
                    let mut last = vec![NEVER; len];
                    for (k, &a) in q.last_arrival_step.iter().enumerate() {
                        last[pl.arrival_index(c as usize, k)] = a;
                    }
                    self.write_u32s(&b.ustate, st.last as u64 + c * len as u64, &last);
                    if st.buckets {
                        let loose = pl.loose_columns(&q.weights);
                        self.write_u32s(&b.ustate, st.loose as u64 + c * n_post, &loose);
                    }
                    if st.pre_at_last != NEVER {
                        let mut pre = vec![0f32; len];
                        for (k, &x) in q.pre_trace_at_last_arrival.iter().enumerate() {
                            pre[pl.arrival_index(c as usize, k)] = x;
                        }
                        let at = st.pre_at_last as u64 + c * len as u64;
                        self.write_f32s(&b.fwork, at, &pre);
                    }
                }
            }
        }
        for pop in &l.pops {
            pop.bits.summarize(&mut bits, l.batch);
        }
        self.write_f32s(&b.fstate, 0, &fstate);
        self.write_u32s(&b.bits, 0, &bits);
        self.fstate = fstate;
        self.clock = state.step;
        for p in &l.projs {
            if let Some(q) = &p.queue {
                let cells = p.slots as usize * k * p.syn.n_post as usize;
                self.write_u32s(&b.ustate, q.counts as u64, &vec![0; cells]);
            }
        }
        // The spikes in flight are in the history, not in the queues.
        self.check_the_delay_windows();
        self.weights.iter_mut().for_each(super::ReadWeights::clear);
        Ok(())
    }
}
