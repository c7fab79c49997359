//! The dynamic state of a running [`Network`] as plain data, the same for
//! every backend: what a snapshot holds, so that a run stopped on one engine continues on
//! another bit for bit.
//!
//! Everything is by name (populations, projections, variables) and in the orders of
//! `model::net`: neurons ascending, synapses in synapse order. Steps are counted by the
//! engine's clock, so ring slots are `step mod slots`.

use super::projection::{DelaySteps, Synapses};
use super::{Network, MAX_DELAY_STEPS};
use crate::backend::Snapshot;
use crate::error::{Result, SnnError};

/// Snapshot kind of [`NetworkState::to_snapshot`]; the number is its format version.
pub const SNAPSHOT_KIND: &str = "network-state-v1";

/// The state of every copy of a network at the start of step [`NetworkState::step`].
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkState {
    /// The next step to run (the engine's clock).
    pub step: u32,
    /// One entry per copy.
    pub copies: Vec<CopyState>,
}

/// The state of one copy.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyState {
    /// One entry per population, in declaration order.
    pub populations: Vec<PopulationState>,
    /// One entry per projection, in declaration order.
    pub projections: Vec<ProjectionState>,
}

/// The state of one population.
#[derive(Debug, Clone, PartialEq)]
pub struct PopulationState {
    /// The population's name.
    pub name: String,
    /// Neurons: each state variable (`NeuronModel::state_var_names`: `v` in mV, `theta` in
    /// mV, `ge`, `gi` relative to leak, custom variables) over the neurons; empty for sources.
    pub variables: Vec<(String, Vec<f32>)>,
    /// Neurons: remaining refractory steps of each neuron; empty for sources.
    pub refractory_steps: Vec<u32>,
    /// The neurons that spiked at the last step, ascending.
    pub spikes: Vec<u32>,
    /// Poisson sources: the stream `(key, origin step)` of the draws; `(0, 0)` otherwise.
    pub poisson_stream: (u32, u32),
}

/// The state of one projection.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectionState {
    /// The projection's name.
    pub name: String,
    /// Weights, in synapse order.
    pub weights: Vec<f32>,
    /// Delivery at emission: the input still to arrive, `[slot][post]`, slot = arrival step
    /// mod `slots` (longest delay + 1); empty for delivery at arrival.
    pub ring: Vec<f32>,
    /// The pre population's spikes of the last `slots` steps, `[step mod slots]`.
    pub history: Vec<Vec<u32>>,
    /// Plastic: the fast post trace of each post neuron; empty otherwise.
    pub post1: Vec<f32>,
    /// Plastic: the slow post trace of each post neuron; empty otherwise.
    pub post2: Vec<f32>,
    /// Plastic: the last step each synapse delivered a spike (`u32::MAX`: never); empty
    /// otherwise.
    pub last_arrival_step: Vec<u32>,
    /// All-to-all pairing (`StdpRule::PairAllToAll`): each synapse's pre trace just after
    /// its last arrival; empty otherwise.
    pub pre_trace_at_last_arrival: Vec<f32>,
}

impl NetworkState {
    /// The state as snapshot arrays: `step`, then per copy `c` `copy{c}.{population}.{variable}`,
    /// `.refractory_steps`, `.spikes`, `.poisson_stream` and `copy{c}.{projection}.weights`,
    /// `.ring`, `.history.len` and `.history` (lengths, then items), `.post1`, `.post2`,
    /// `.last_arrival_step` and, with all-to-all pairing, `.pre_trace_at_last_arrival`.
    pub fn to_snapshot(&self) -> Snapshot {
        let mut s = Snapshot::new(SNAPSHOT_KIND);
        s.push_u32("step", &[self.step]);
        for (c, copy) in self.copies.iter().enumerate() {
            for p in &copy.populations {
                let at = format!("copy{c}.{}", p.name);
                for (var, v) in &p.variables {
                    s.push_f32(&format!("{at}.{var}"), v);
                }
                s.push_u32(&format!("{at}.refractory_steps"), &p.refractory_steps);
                s.push_u32(&format!("{at}.spikes"), &p.spikes);
                let (key, origin) = p.poisson_stream;
                s.push_u32(&format!("{at}.poisson_stream"), &[key, origin]);
            }
            for q in &copy.projections {
                let at = format!("copy{c}.{}", q.name);
                s.push_f32(&format!("{at}.weights"), &q.weights);
                s.push_f32(&format!("{at}.ring"), &q.ring);
                let lens: Vec<u32> = q.history.iter().map(|h| h.len() as u32).collect();
                s.push_u32(&format!("{at}.history.len"), &lens);
                s.push_u32(&format!("{at}.history"), &q.history.concat());
                s.push_f32(&format!("{at}.post1"), &q.post1);
                s.push_f32(&format!("{at}.post2"), &q.post2);
                s.push_u32(&format!("{at}.last_arrival_step"), &q.last_arrival_step);
                if !q.pre_trace_at_last_arrival.is_empty() {
                    s.push_f32(
                        &format!("{at}.pre_trace_at_last_arrival"),
                        &q.pre_trace_at_last_arrival,
                    );
                }
            }
        }
        s
    }

    /// Reads what [`Self::to_snapshot`] wrote into the shape of `like` (the state of the
    /// same network): every array must be there with `like`'s length.
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`] naming the snapshot kind (another format or version) or
    /// the array that is missing or of another length (another network).
    pub fn from_snapshot(s: &Snapshot, like: &NetworkState) -> Result<NetworkState> {
        s.expect_backend(SNAPSHOT_KIND)?;
        let mut out = like.clone();
        out.step = s.u32s("step", Some(1))?[0];
        for (c, copy) in out.copies.iter_mut().enumerate() {
            for p in &mut copy.populations {
                let at = format!("copy{c}.{}", p.name);
                for (var, v) in &mut p.variables {
                    *v = s.f32s(&format!("{at}.{var}"), Some(v.len()))?;
                }
                let n = p.refractory_steps.len();
                p.refractory_steps = s.u32s(&format!("{at}.refractory_steps"), Some(n))?.to_vec();
                p.spikes = s.u32s(&format!("{at}.spikes"), None)?.to_vec();
                let k = s.u32s(&format!("{at}.poisson_stream"), Some(2))?;
                p.poisson_stream = (k[0], k[1]);
            }
            for q in &mut copy.projections {
                let at = format!("copy{c}.{}", q.name);
                q.weights = s.f32s(&format!("{at}.weights"), Some(q.weights.len()))?;
                q.ring = s.f32s(&format!("{at}.ring"), Some(q.ring.len()))?;
                let lens = s.u32s(&format!("{at}.history.len"), Some(q.history.len()))?;
                let items = s.u32s(&format!("{at}.history"), None)?;
                if lens.iter().map(|&l| l as usize).sum::<usize>() != items.len() {
                    return Err(SnnError::invalid(
                        format!("snapshot array `{at}.history`"),
                        items.len(),
                        format!("as many items as `{at}.history.len` adds up to"),
                    ));
                }
                let mut from = 0;
                for (h, &l) in q.history.iter_mut().zip(lens) {
                    *h = items[from..from + l as usize].to_vec();
                    from += l as usize;
                }
                q.post1 = s.f32s(&format!("{at}.post1"), Some(q.post1.len()))?;
                q.post2 = s.f32s(&format!("{at}.post2"), Some(q.post2.len()))?;
                let n = q.last_arrival_step.len();
                q.last_arrival_step = s
                    .u32s(&format!("{at}.last_arrival_step"), Some(n))?
                    .to_vec();
                let n = q.pre_trace_at_last_arrival.len();
                if n > 0 {
                    q.pre_trace_at_last_arrival =
                        s.f32s(&format!("{at}.pre_trace_at_last_arrival"), Some(n))?;
                }
            }
        }
        Ok(out)
    }
}

impl NetworkState {
    /// Checks that `self` can replace the state of an engine whose own state has the shape
    /// of `like`, running `net` with the synapses `synapses` (one per projection, in
    /// declaration order): the same copies, names and lengths, finite values, spike and
    /// history indices inside their populations, one last arrival for the synapses of one
    /// pre neuron and delay (they arrive together), an all-but-self projection of one
    /// constant weight at that weight, and a step the clock can run from. Weights are not
    /// checked against `[w_min, w_max]` (normalisation may scale them past it).
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`] naming the first array or value that fails.
    pub(crate) fn check(
        &self,
        like: &NetworkState,
        net: &Network,
        synapses: &[&Synapses],
    ) -> Result<()> {
        let last_step = u32::MAX - 1 - MAX_DELAY_STEPS;
        if self.step > last_step {
            return Err(SnnError::invalid(
                "network state step",
                self.step,
                format!("at most {last_step} (u32 clock with room for the longest delay)"),
            ));
        }
        if self.copies.len() != like.copies.len() {
            return Err(SnnError::invalid(
                "network state copies",
                self.copies.len(),
                format!("the batch size {}", like.copies.len()),
            ));
        }
        for (copy, (cs, cl)) in self.copies.iter().zip(&like.copies).enumerate() {
            check_len(
                "network state populations",
                cs.populations.len(),
                cl.populations.len(),
            )?;
            check_len(
                "network state projections",
                cs.projections.len(),
                cl.projections.len(),
            )?;
            for ((p, pl), pop) in cs
                .populations
                .iter()
                .zip(&cl.populations)
                .zip(&net.populations)
            {
                let at = format!("population `{}`", pl.name);
                if p.name != pl.name || p.variables.len() != pl.variables.len() {
                    return Err(SnnError::invalid(&at, &p.name, "the same network's state"));
                }
                // The variables are written by position: their names and order must agree.
                for ((var, _), (want, _)) in p.variables.iter().zip(&pl.variables) {
                    if var != want {
                        return Err(SnnError::invalid(
                            format!("{at}.variables"),
                            var,
                            format!("the model's variables in its order (here `{want}`)"),
                        ));
                    }
                }
                for ((var, v), (_, vl)) in p.variables.iter().zip(&pl.variables) {
                    check_values(&format!("{at}.{var}"), v, vl.len())?;
                }
                check_len(
                    &format!("{at}.refractory_steps"),
                    p.refractory_steps.len(),
                    pl.refractory_steps.len(),
                )?;
                check_indices(&format!("{at}.spikes"), &p.spikes, pop.size)?;
            }
            for (((q, ql), proj), syn) in cs
                .projections
                .iter()
                .zip(&cl.projections)
                .zip(&net.projections)
                .zip(synapses)
            {
                let at = format!("projection `{}`", ql.name);
                if q.name != ql.name {
                    return Err(SnnError::invalid(&at, &q.name, "the same network's state"));
                }
                check_values(&format!("{at}.weights"), &q.weights, ql.weights.len())?;
                // One constant weight where the engines keep none per synapse.
                if let Some(w) = proj.total_minus_self_weight(syn) {
                    if let Some(k) = q.weights.iter().position(|&x| x != w) {
                        return Err(SnnError::invalid(
                            format!("{at}.weights[{k}]"),
                            q.weights[k],
                            format!("the projection's one constant weight {w}"),
                        ));
                    }
                }
                check_values(&format!("{at}.ring"), &q.ring, ql.ring.len())?;
                check_values(&format!("{at}.post1"), &q.post1, ql.post1.len())?;
                check_values(&format!("{at}.post2"), &q.post2, ql.post2.len())?;
                check_len(&format!("{at}.history"), q.history.len(), ql.history.len())?;
                for h in &q.history {
                    check_indices(&format!("{at}.history"), h, syn.n_pre)?;
                }
                check_values(
                    &format!("{at}.pre_trace_at_last_arrival"),
                    &q.pre_trace_at_last_arrival,
                    ql.pre_trace_at_last_arrival.len(),
                )?;
                check_len(
                    &format!("{at}.last_arrival_step"),
                    q.last_arrival_step.len(),
                    ql.last_arrival_step.len(),
                )?;
                // An arrival at a step that has run (`u32::MAX`: none yet).
                if let Some(k) = q
                    .last_arrival_step
                    .iter()
                    .position(|&a| a != u32::MAX && a >= self.step)
                {
                    return Err(SnnError::invalid(
                        format!("{at}.last_arrival_step[{k}]"),
                        q.last_arrival_step[k],
                        format!(
                            "a step before the state's step {} (or {}: no arrival yet)",
                            self.step,
                            u32::MAX
                        ),
                    ));
                }
                if let (DelaySteps::PerSynapse(d), false) =
                    (syn.delays(copy), q.last_arrival_step.is_empty())
                {
                    // The synapses of one pre neuron and delay arrive together.
                    let slots = syn.max_delay() as usize + 1;
                    let mut seen = vec![None; syn.n_pre as usize * slots];
                    for j in 0..syn.n_pre as usize {
                        for k in syn.offsets[j] as usize..syn.offsets[j + 1] as usize {
                            let a = q.last_arrival_step[k];
                            match &mut seen[j * slots + d[k] as usize] {
                                Some(x) if *x != a => {
                                    return Err(SnnError::invalid(
                                        format!("{at}.last_arrival_step[{k}]"),
                                        a,
                                        format!(
                                            "the arrival step {x} of the synapses with the same \
                                             pre neuron and delay"
                                        ),
                                    ))
                                }
                                g => *g = Some(a),
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

fn check_len(what: &str, have: usize, want: usize) -> Result<()> {
    if have == want {
        Ok(())
    } else {
        Err(SnnError::invalid(
            format!("{what} length"),
            have,
            format!("{want} (the same network and batch)"),
        ))
    }
}

fn check_values(what: &str, v: &[f32], want: usize) -> Result<()> {
    check_len(what, v.len(), want)?;
    match v.iter().position(|x| !x.is_finite()) {
        Some(k) => Err(SnnError::invalid(
            format!("{what}[{k}]"),
            v[k],
            "a finite value",
        )),
        None => Ok(()),
    }
}

/// A spike list: neuron indices below `size`, ascending, each once (as the engines list
/// spikes; a repeated one would be delivered twice).
fn check_indices(what: &str, v: &[u32], size: u32) -> Result<()> {
    if let Some(i) = v.iter().find(|&&i| i >= size) {
        return Err(SnnError::invalid(
            what,
            i,
            format!("neuron indices below the population size {size}"),
        ));
    }
    match v.windows(2).position(|w| w[0] >= w[1]) {
        Some(k) => Err(SnnError::invalid(
            format!("{what}[{}]", k + 1),
            v[k + 1],
            format!("neuron indices ascending, each once (after {})", v[k]),
        )),
        None => Ok(()),
    }
}
