//! What a network compiles to on the CPU engine: a plan per population, projection and
//! monitor, shared by the copies (strategies, STDP constants, which input each projection
//! feeds), and a copy's state at its start and at rest.

use super::depression::{Dense, DepressionQueue};
use super::neurons::NeuronArrays;
use super::propagate::{Plan, Strategy};
use super::{
    thresholds, ChunkState, CopyState, MonitorPlan, Plans, PopPlan, ProjCopy, ProjPlan, NEVER,
};
use crate::cpu::neuron::NeuronState;
use crate::cpu::simd::SimdLevel;
use crate::encode::rng::rng_u32;
use crate::error::{Result, SnnError};
use crate::model::net::projection::{DelaySteps, Synapses};
use crate::model::net::{
    Connectivity, Delivery, MonitorKind, Network, PopulationKind, Recording, STREAM_KEY,
};
use crate::model::stdp::{decay_table, StdpConsts};
use crate::model::{NeuronKind, Sign, StdpRule, Target};

impl Plans {
    /// The plans of `net` (validated), in one chunk, at the best SIMD level, depressing
    /// through queues where a projection allows it.
    ///
    /// # Errors
    /// [`SnnError::UnknownName`] and [`SnnError::Unsupported`] for monitors the CPU engine
    /// cannot plan.
    pub(super) fn new(net: &Network) -> Result<Plans> {
        let dt = net.dt_ms;
        let mut pops: Vec<PopPlan> = net
            .populations
            .iter()
            .map(|p| match &p.kind {
                PopulationKind::Neurons(m) => {
                    let init_vals = m.initial_values();
                    let mut init = NeuronState {
                        v: init_vals[0],
                        theta: init_vals[1],
                        ..Default::default()
                    };
                    match &m.kind {
                        NeuronKind::Custom(c) => {
                            for (k, (_, v0)) in c.state_vars.iter().enumerate() {
                                init.custom[k] = *v0;
                            }
                        }
                        NeuronKind::CondLif(_) | NeuronKind::CurrentLif(_) => {
                            (init.ge, init.gi) = (0.0, 0.0)
                        }
                        _ => {}
                    }
                    // At rest v sits at the resting potential; IF and custom models have
                    // none, so their initial v.
                    let rest = NeuronState {
                        v: match &m.kind {
                            NeuronKind::Lif(p) => p.v_rest_mv,
                            NeuronKind::CondLif(p) => p.v_rest_mv,
                            NeuronKind::CurrentLif(p) => p.v_rest_mv,
                            NeuronKind::If | NeuronKind::Custom(_) => init.v,
                        },
                        ..init
                    };
                    PopPlan::Neurons {
                        kind: m.kind.clone(),
                        rest,
                        derived: m.derive(dt),
                        custom_params: match &m.kind {
                            NeuronKind::Custom(c) => c.params.iter().map(|(_, v)| *v).collect(),
                            _ => vec![],
                        },
                        init,
                        fed: [false; 3],
                    }
                }
                PopulationKind::Poisson { .. } => PopPlan::Poisson,
                PopulationKind::SpikeTimes { spikes } => {
                    let mut by_step = std::collections::BTreeMap::<u32, Vec<u32>>::new();
                    for &(i, t_ms) in spikes {
                        by_step
                            .entry((t_ms / dt).round() as u32)
                            .or_default()
                            .push(i);
                    }
                    for l in by_step.values_mut() {
                        l.sort_unstable();
                        l.dedup();
                    }
                    PopPlan::SpikeTimes(by_step)
                }
            })
            .collect();
        let mut projs = vec![];
        for p in &net.projections {
            let pre = net.population_index(&p.pre)?;
            let post = net.population_index(&p.post)?;
            let (n_pre, n_post) = (net.populations[pre].size, net.populations[post].size);
            let syn = p.synapses(n_pre, n_post, dt);
            let strategy = match (&p.connectivity, p.total_minus_self_weight(&syn)) {
                (_, Some(w)) => Strategy::TotalMinusSelf { w },
                (Connectivity::AllToAll, _) => Strategy::Dense,
                (Connectivity::OneToOne, _) => Strategy::OneToOne,
                _ => Strategy::Sparse,
            };
            let stdp = p.stdp.map(|s| {
                let d = s.derive(dt);
                (
                    StdpConsts::new(&s, p.w_min, p.w_max),
                    d,
                    decay_table(d.decay_pre_per_step),
                )
            });
            let slots = syn.max_delay() + 1;
            let plastic = p.stdp.is_some();
            let plans: Vec<Plan> = match syn.delays_per_copy() {
                true => (0..net.batch())
                    .map(|c| Plan::new(strategy.clone(), syn.of_copy(c), plastic, slots))
                    .collect(),
                false => vec![Plan::new(strategy.clone(), syn, plastic, slots)],
            };
            let queue_delays: Vec<Vec<u8>> = plans
                .iter()
                .map(|plan| match plan.delays() {
                    DelaySteps::PerSynapse(d) if strategy_is_dense(&strategy) && p.depresses() => d
                        .iter()
                        .map(|&x| u8::try_from(x).ok())
                        .collect::<Option<_>>()
                        .unwrap_or_default(),
                    _ => vec![],
                })
                .collect();
            let (channel, sub) = match p.target {
                Target::Ge => (0, false),
                Target::Gi => (1, false),
                Target::Membrane { sign } => (2, sign == Sign::Inhibitory),
            };
            let first = !projs
                .iter()
                .any(|q: &ProjPlan| q.post == post && q.channel == channel);
            projs.push(ProjPlan {
                channel,
                sub,
                first,
                sole: true,
                pre,
                post,
                delivery: p.delivery,
                plans,
                stdp,
                accumulate: p.stdp.is_some_and(|s| s.rule == StdpRule::PairAllToAll),
                queue_delays,
            });
        }
        for pp in &projs {
            if let PopPlan::Neurons { fed, .. } = &mut pops[pp.post] {
                fed[pp.channel] = true;
            }
        }
        let inputs: Vec<(usize, usize)> = projs.iter().map(|q| (q.post, q.channel)).collect();
        for pp in &mut projs {
            pp.sole = inputs
                .iter()
                .filter(|&&x| x == (pp.post, pp.channel))
                .count()
                == 1;
        }
        let monitors = net
            .monitors
            .iter()
            .map(|m| {
                let pop = net.population_index(&m.population)?;
                let plan = match &m.kind {
                    MonitorKind::Spikes { neurons } => {
                        MonitorPlan::Spikes(neurons.as_ref().map(|ns| {
                            let mut mask = vec![false; net.populations[pop].size as usize];
                            for &i in ns {
                                mask[i as usize] = true;
                            }
                            mask
                        }))
                    }
                    MonitorKind::State { variable, neurons } => {
                        let PopulationKind::Neurons(model) = &net.populations[pop].kind else {
                            return Err(SnnError::Unsupported(format!(
                                "state monitor `{}` of a source",
                                m.name
                            )));
                        };
                        MonitorPlan::State {
                            var: model.var_index(variable)?,
                            neurons: neurons.clone(),
                        }
                    }
                    MonitorKind::Rate => MonitorPlan::Rate,
                };
                Ok((pop, plan))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Plans {
            net: net.clone(),
            pops,
            projs,
            monitors,
            use_queue: true,
            simd: SimdLevel::best(),
            chunk: 1,
            n_chunks: 1,
        })
    }

    /// The state of every chunk of a copy, empty.
    pub(super) fn new_chunks(&self) -> Vec<ChunkState> {
        let chunk = ChunkState {
            spikes: vec![vec![]; self.pops.len()],
            queues: vec![DepressionQueue::default(); self.projs.len()],
            zeroed: vec![false; self.projs.len()],
        };
        vec![chunk; self.n_chunks]
    }

    pub(super) fn new_copy(&self, seed: u32, index: usize) -> CopyState {
        let net = &self.net;
        let key = |x: usize| rng_u32(seed, STREAM_KEY, x as u32);
        let pops = &net.populations;
        let projs = net
            .projections
            .iter()
            .zip(&self.projs)
            .enumerate()
            .map(|(q, (p, pp))| {
                let plan = pp.plan(index);
                let w = p.initial_weights(&plan.syn, (index, seed), q);
                let s = plan.slots as usize;
                let n_post = pops[pp.post].size as usize;
                let plastic = pp.stdp.is_some();
                ProjCopy {
                    // Potentiation walks a weight column, one row apart per synapse.
                    w: crate::cpu::memory::huge_page_vec(&w),
                    ring: if pp.delivery == Delivery::AtEmission && s > 1 {
                        vec![0.0; s * n_post]
                    } else {
                        vec![]
                    },
                    hist: vec![vec![]; s],
                    sum: vec![0.0; n_post],
                    post1: vec![0.0; if plastic { n_post } else { 0 }],
                    post2: vec![0.0; if plastic { n_post } else { 0 }],
                    last: vec![NEVER; if plastic { plan.arrival_len() } else { 0 }],
                    pre_at_last: vec![0.0; if pp.accumulate { plan.arrival_len() } else { 0 }],
                    depression: vec![0.0; if plastic { n_post } else { 0 }],
                }
            })
            .collect();
        CopyState {
            neurons: self
                .pops
                .iter()
                .zip(pops)
                .map(|(pp, p)| match pp {
                    PopPlan::Neurons { init, kind, .. } => {
                        let n_custom = match kind {
                            NeuronKind::Custom(m) => m.state_vars.len(),
                            _ => 0,
                        };
                        NeuronArrays::filled(init, p.size as usize, n_custom)
                    }
                    _ => NeuronArrays::default(),
                })
                .collect(),
            spikes: vec![vec![]; pops.len()],
            // Sources take no input.
            x: pops
                .iter()
                .map(|p| {
                    let n = if p.is_neurons() { p.size as usize } else { 0 };
                    [vec![0.0; n], vec![0.0; n], vec![0.0; n]]
                })
                .collect(),
            thr: pops
                .iter()
                .map(|p| match &p.kind {
                    PopulationKind::Poisson { rates_hz } => thresholds(rates_hz, net.dt_ms),
                    _ => vec![],
                })
                .collect(),
            stream: (0..pops.len()).map(|p| (key(p), 0)).collect(),
            projs,
            chunks: self.new_chunks(),
            records: self
                .monitors
                .iter()
                .map(|(_, m)| match m {
                    MonitorPlan::Spikes(_) => Recording::Spikes(vec![]),
                    MonitorPlan::State { neurons, .. } => Recording::State {
                        neurons: neurons.clone(),
                        values: vec![],
                    },
                    MonitorPlan::Rate => Recording::Rate(vec![]),
                })
                .collect(),
            index,
            queues_fresh: false,
        }
    }

    /// Copy `c` at rest (see [`Engine::rest`]).
    pub(super) fn rest(&self, c: &mut CopyState) {
        c.queues_fresh = false;
        for (pp, ns) in self.pops.iter().zip(&mut c.neurons) {
            if let PopPlan::Neurons { rest, .. } = pp {
                ns.rest(rest);
            }
        }
        c.spikes.iter_mut().for_each(Vec::clear);
        for pc in &mut c.projs {
            pc.ring.fill(0.0);
            pc.hist.iter_mut().for_each(Vec::clear);
            pc.post1.fill(0.0);
            pc.post2.fill(0.0);
            pc.last.fill(NEVER);
            pc.pre_at_last.fill(0.0);
        }
    }
}

fn strategy_is_dense(s: &Strategy) -> bool {
    matches!(s, Strategy::Dense)
}

impl ProjPlan {
    /// The plan of copy `copy` (the shared one unless the copies have delays of their own).
    #[inline(always)]
    pub(super) fn plan(&self, copy: usize) -> &Plan {
        &self.plans[if self.plans.len() == 1 { 0 } else { copy }]
    }

    /// What a [`DepressionQueue`] of copy `copy` reads of the projection, if it can depress
    /// through one.
    pub(super) fn dense(&self, copy: usize) -> Option<Dense<'_>> {
        let i = if self.plans.len() == 1 { 0 } else { copy };
        (!self.queue_delays[i].is_empty()).then(|| Dense {
            n: self.plans[i].syn.n_post as usize,
            delays: &self.queue_delays[i],
            slots: self.plans[i].slots,
        })
    }

    /// The synapses with every copy's delays (as `Projection::synapses` makes them).
    pub(super) fn synapses(&self) -> std::borrow::Cow<'_, Synapses> {
        match &self.plans[..] {
            [one] => std::borrow::Cow::Borrowed(&one.syn),
            plans => std::borrow::Cow::Owned(Synapses {
                delays: plans.iter().map(|p| p.delays().clone()).collect(),
                ..plans[0].syn.of_copy(0)
            }),
        }
    }
}
