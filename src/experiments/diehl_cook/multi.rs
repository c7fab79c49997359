//! One or many Diehl & Cook networks in one run (`snn train`, `--networks K`): each network
//! trained, labelled and tested exactly as a run of its own with its config, and the
//! ensemble vote; a single run is the run of one network.
//!
//! Data flow: one [`DcConfig`] per network ([`super::sweep::network_configs`]) → batches of
//! networks that differ in their seed only and start at the same try ([`batches`]; on the
//! GPU engine, where one dispatch steps them all; on the CPU each network alone) → per
//! batch, one [`DcEngine`] whose copies are its networks (`DcEngine::build_batch`), trained
//! in lockstep (`train::train_batch`) → once every batch has trained, each network
//! labelled, then tested, with its presentation key carried on (on the engine that trained
//! it, or loaded into one of [`Engines::eval`]) → [`ensemble`] over the networks' test
//! responses. The batches run in parallel with rayon ([`EngineChoice`]).

use super::config::DcConfig;
use super::evaluate::{
    argmax_lowest, assign_labels, evaluate, scores_all_activity, scores_proportion, Assignments,
    Confusion, Evaluation, N_CLASSES,
};
use super::io::SavedNetwork;
use super::train::{
    respond_frozen_of, same_but_seed, train_batch, TrainProgress, TrainState, TrainStats,
};
use crate::backend::{EngineChoice, Snapshot};
use crate::data::mnist::Dataset;
use crate::error::{Result, SnnError};
use crate::experiments::diehl_cook::engine::{input_ring_slots, DcEngine};
use ndarray::Array2;
use rayon::prelude::*;
use std::time::Instant;

/// How many images each pass uses (already capped to the data sets' sizes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    /// Training images per epoch (the first ones of the training set).
    pub n_train: usize,
    /// Training images whose responses assign the labels.
    pub n_label: usize,
    /// Test images.
    pub n_test: usize,
    /// Images per frozen batch in labelling and test.
    pub batch: usize,
}

/// A network's labelling and test passes.
#[derive(Debug, Clone, PartialEq)]
pub struct Tested {
    /// Labels assigned from the labelling pass.
    pub assignments: Assignments,
    /// Spike counts of the test pass, `[image][neuron]`.
    pub test_counts: Array2<u32>,
    /// Both votes' confusion matrices on the test images.
    pub eval: Evaluation,
    /// Labelling images used.
    pub label_images: usize,
    /// Test images used.
    pub test_images: usize,
    /// Wall time of both passes.
    pub seconds: f64,
}

/// The two frozen passes of [`label_and_test`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// Responses to training images, which assign the labels.
    Label,
    /// Responses to test images, which the labels vote on.
    Test,
}

impl Pass {
    /// `"label"` or `"test"`.
    pub fn name(self) -> &'static str {
        match self {
            Pass::Label => "label",
            Pass::Test => "test",
        }
    }
}

/// Labels the frozen network on the first `n_label` images of `train_set` and tests it on
/// the first `n_test` images of `test_set` (each capped to its set's size), `batch` images
/// per frozen batch, keys continuing from `key` (as `snn train` and `snn evaluate` do).
/// `progress(pass, done, total)` follows each pass.
///
/// # Errors
/// [`SnnError::NoResponse`], backend errors, shape errors from `evaluate`;
/// [`SnnError::Unsupported`] on a batch of networks (name the network: [`label_and_test_of`]).
pub fn label_and_test(
    b: &mut DcEngine,
    cfg: &DcConfig,
    train: (&Dataset, usize),
    test: (&Dataset, usize),
    batch: usize,
    key: &mut u32,
    progress: impl FnMut(Pass, usize, usize),
) -> Result<Tested> {
    b.single("label_and_test")?;
    label_and_test_of(b, 0, cfg, train, test, batch, key, progress)
}

/// [`label_and_test`] of network `copy` of a batch (`cfg` its config, `key` its key).
///
/// # Errors
/// As [`label_and_test`]; a copy out of range.
#[allow(clippy::too_many_arguments)]
pub fn label_and_test_of(
    b: &mut DcEngine,
    copy: usize,
    cfg: &DcConfig,
    (train_set, n_label): (&Dataset, usize),
    (test_set, n_test): (&Dataset, usize),
    batch: usize,
    key: &mut u32,
    mut progress: impl FnMut(Pass, usize, usize),
) -> Result<Tested> {
    let t0 = Instant::now();
    let n_label = n_label.min(train_set.len());
    let counts = respond_frozen_of(b, copy, cfg, train_set, n_label, batch, key, |d| {
        progress(Pass::Label, d, n_label)
    })?;
    let assignments = assign_labels(counts.view(), &train_set.labels[..n_label])?;
    let n_test = n_test.min(test_set.len());
    let test_counts = respond_frozen_of(b, copy, cfg, test_set, n_test, batch, key, |d| {
        progress(Pass::Test, d, n_test)
    })?;
    let eval = evaluate(test_counts.view(), &test_set.labels[..n_test], &assignments)?;
    Ok(Tested {
        assignments,
        test_counts,
        eval,
        label_images: n_label,
        test_images: n_test,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// One trained and tested network.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkRun {
    /// Its configuration (seed included).
    pub config: DcConfig,
    /// Images, retries, learning curve.
    pub stats: TrainStats,
    /// Wall time of its training (networks trained side by side overlap).
    pub train_seconds: f64,
    /// Input weights after training, `[input][exc]`.
    pub weights: Vec<f32>,
    /// θ after training (mV).
    pub theta_mv: Vec<f32>,
    /// Labelling and test.
    pub tested: Tested,
}

impl NetworkRun {
    /// The run directory contents, as `snn train` saves a single network.
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`] if the weights do not have the config's shape.
    pub fn saved(&self) -> Result<SavedNetwork> {
        let (n_input, n_exc) = (
            self.config.to_spec().n_input as usize,
            self.config.n_exc as usize,
        );
        let config_json = serde_json::to_string_pretty(&self.config)
            .map_err(|e| SnnError::invalid("config", e, "a config that serialises to JSON"))?;
        Ok(SavedNetwork {
            n_input,
            n_exc,
            weights: Array2::from_shape_vec((n_input, n_exc), self.weights.clone())
                .map_err(|e| SnnError::invalid("weights", e, "n_input x n_exc values"))?,
            theta_mv: self.theta_mv.clone(),
            assignments: self.tested.assignments.assignment.clone(),
            config_json,
        })
    }
}

/// Where a network of [`run_from`] starts: from scratch ([`Start::fresh`]), or from a
/// checkpoint's training state, backend snapshot and training time so far.
#[derive(Debug, Clone, Default)]
pub struct Start {
    /// The loop state (key, images done, running-accuracy window).
    pub train: TrainState,
    /// The backend's state to restore; None for a fresh network.
    pub snapshot: Option<Snapshot>,
    /// Seconds of training before this start.
    pub train_seconds: f64,
}

impl Start {
    /// A network that has not trained yet (keys from 0, as in `snn train`).
    pub fn fresh() -> Self {
        Start::default()
    }
}

/// What [`run_from`] passes on after each round of a batch in which networks finished an
/// image (progress and checkpoints): every copy of the batch is then at the same step.
pub struct Round<'a> {
    /// The run's index of each copy of the batch (`networks[c]` is copy `c`).
    pub networks: &'a [usize],
    /// The copies that finished an image this round, with their progress.
    pub done: &'a [(usize, TrainProgress)],
    /// Every copy's training state.
    pub states: &'a [TrainState],
    /// Whether each copy was still training at the start of this round (a copy that
    /// finished before it has gone on running, and its state is no longer its own).
    pub training: &'a [bool],
    /// Each copy's training seconds so far.
    pub seconds: &'a [f64],
}

/// Called by [`run_from`] after each [`Round`], with the batch (to snapshot a copy:
/// `DcEngine::snapshot_of`); an error stops the run.
pub type AfterRound<'a> = dyn Fn(&Round<'_>, &mut DcEngine) -> Result<()> + Sync + 'a;

/// Called by [`run_from`] after each frozen batch of a network's labelling or test pass:
/// `(network, pass, images done, images of the pass)`. A network labels, then tests; the
/// batches of networks run in parallel.
pub type AfterBatch<'a> = dyn Fn(usize, Pass, usize, usize) + Sync + 'a;

/// The engines of [`run_from`].
#[derive(Clone, Copy)]
pub struct Engines<'a> {
    /// The engine that trains.
    pub train: &'a EngineChoice,
    /// The engine that labels and tests, each network loaded into one of its own (its
    /// frozen batches start from the rest state, as the trained engine's do, so the counts
    /// are the same); None: the engine that trained.
    pub eval: Option<&'a EngineChoice>,
    /// Training images between two points where a series of presentations ends
    /// ([`train_batch`]'s `series_every`; 0: anywhere): where checkpoints taken every so
    /// many images fall.
    pub series_every: usize,
}

impl<'a> Engines<'a> {
    /// `train` for every pass, its series ending anywhere.
    pub fn one(train: &'a EngineChoice) -> Self {
        Engines {
            train,
            eval: None,
            series_every: 0,
        }
    }
}

/// [`run_from`] with every network fresh, calling `on_image(k)` after each training image
/// of network `k`.
///
/// # Errors
/// As [`run_from`].
pub fn run(
    cfgs: &[DcConfig],
    train_set: &Dataset,
    test_set: &Dataset,
    sizes: &Sizes,
    engines: &EngineChoice,
    on_image: &(dyn Fn(usize) + Sync),
) -> Result<Vec<NetworkRun>> {
    let starts = vec![Start::fresh(); cfgs.len()];
    run_from(
        cfgs,
        starts,
        (train_set, test_set),
        sizes,
        Engines::one(engines),
        &|r, _| {
            r.done.iter().for_each(|(c, _)| on_image(r.networks[*c]));
            Ok(())
        },
        &|_, _, _, _| {},
    )
}

/// The batches of [`run_from`]: networks whose configs differ in their seed only, whose
/// input delays take as many ring slots, and which start at the same try (the same
/// presentations so far: images, retries and the pending retry), in run order; each
/// batch's networks ascending.
pub fn batches(cfgs: &[DcConfig], starts: &[Start]) -> Vec<Vec<usize>> {
    let tries = |s: &Start| {
        let t = &s.train;
        t.stats.images as u64 + t.stats.retries + t.pending.map_or(0, |r| r.retry as u64)
    };
    let mut out: Vec<Vec<usize>> = vec![];
    for k in 0..cfgs.len() {
        let fits = |b: &Vec<usize>| {
            let j = b[0];
            same_but_seed(&cfgs[j], &cfgs[k])
                && input_ring_slots(&cfgs[j].to_spec()) == input_ring_slots(&cfgs[k].to_spec())
                && tries(&starts[j]) == tries(&starts[k])
        };
        match out.iter_mut().find(|b| fits(b)) {
            Some(b) => b.push(k),
            None => out.push(vec![k]),
        }
    }
    out
}

/// Trains, labels and tests every network exactly as `snn train` does alone with its config
/// (keys from 0, or from its start, through training, labelling and test), network `k`
/// starting at `starts[k]` (a fresh network, or a checkpoint restored, written by either
/// engine: it then continues bit for bit). A single run is the call with one network.
///
/// Two phases, each over every network: training, then labelling and test. On the GPU
/// the networks train in [`batches`], each one engine whose copies train in lockstep
/// (`train::train_batch`; as many per engine as one storage binding holds); on the CPU each
/// network is a batch of one. The batches run in parallel (rayon; their frozen batches
/// share the same pool); `after` follows every training round, `on_batch` every frozen
/// batch. Labelling and test run on `engines.eval` where given. The results are in config
/// order and do not depend on the thread count.
///
/// # Errors
/// [`SnnError::InvalidParam`] if `starts` and `cfgs` differ in length; a snapshot that does
/// not fit its config; the first batch's error, in config order (an error names the network
/// and its seed where it is one network's).
pub fn run_from(
    cfgs: &[DcConfig],
    starts: Vec<Start>,
    (train_set, test_set): (&Dataset, &Dataset),
    sizes: &Sizes,
    engines: Engines<'_>,
    after: &AfterRound<'_>,
    on_batch: &AfterBatch<'_>,
) -> Result<Vec<NetworkRun>> {
    if starts.len() != cfgs.len() {
        return Err(SnnError::invalid(
            "network starts",
            starts.len(),
            format!("one per network ({})", cfgs.len()),
        ));
    }
    let groups = fitting(batches(cfgs, &starts), cfgs, engines.train);
    let mut trained: Vec<Trained> = groups
        .par_iter()
        .map(|nets| {
            let cfgs: Vec<DcConfig> = nets.iter().map(|&k| cfgs[k].clone()).collect();
            let starts: Vec<&Start> = nets.iter().map(|&k| &starts[k]).collect();
            Trained::new(nets, cfgs, &starts, (train_set, sizes), engines, after)
        })
        .collect::<Result<_>>()?;
    let mut out: Vec<Option<NetworkRun>> = vec![None; cfgs.len()];
    let runs: Vec<Vec<NetworkRun>> = trained
        .par_iter_mut()
        .map(|t| t.tested((train_set, test_set), sizes, engines.eval, on_batch))
        .collect::<Result<_>>()?;
    for (nets, rs) in groups.iter().zip(runs) {
        for (&k, r) in nets.iter().zip(rs) {
            out[k] = Some(r);
        }
    }
    Ok(out.into_iter().flatten().collect())
}

/// `groups` cut to the engine `engines` builds. The CPU engine gains nothing from copies in
/// lockstep (it runs them a thread each, as it runs networks of their own, and waits for the
/// slowest at every round): there each network is a batch of its own. On the GPU, whose
/// every dispatch steps all copies, a batch holds as many networks as one storage binding
/// takes of their arrays of one word per synapse (input weights, delays), with room for the
/// tables they share.
fn fitting(groups: Vec<Vec<usize>>, cfgs: &[DcConfig], engines: &EngineChoice) -> Vec<Vec<usize>> {
    let EngineChoice::Gpu(ctx, _) = engines else {
        return groups.into_iter().flatten().map(|k| vec![k]).collect();
    };
    let max = ctx.limits.max_storage_buffer_binding_size;
    groups
        .into_iter()
        .flat_map(|g| {
            let spec = cfgs[g[0]].to_spec();
            let bytes = 4 * u64::from(spec.n_input) * u64::from(spec.n_exc);
            let per = (max / bytes.max(1)).saturating_sub(4).max(1) as usize;
            g.chunks(per).map(<[usize]>::to_vec).collect::<Vec<_>>()
        })
        .collect()
}

/// One batch of [`run_from`] after training: networks `nets` of the run, the engine that
/// trained them as its copies, and what labelling and test carry on from.
struct Trained {
    nets: Vec<usize>,
    cfgs: Vec<DcConfig>,
    /// The engine whose copies the networks are.
    engine: DcEngine,
    /// Each network's training state; its key goes on through labelling and test.
    states: Vec<TrainState>,
    /// Each network's training seconds, earlier starts included.
    train_seconds: Vec<f64>,
}

impl Trained {
    /// Trains networks `nets` (configs `cfgs`) from `starts` as the copies of one engine.
    fn new(
        nets: &[usize],
        cfgs: Vec<DcConfig>,
        starts: &[&Start],
        (train_set, sizes): (&Dataset, &Sizes),
        engines: Engines<'_>,
        after: &AfterRound<'_>,
    ) -> Result<Self> {
        let engine = engines.train;
        let name = |e: SnnError| name_network(e, nets, &cfgs);
        let specs: Vec<_> = cfgs.iter().map(DcConfig::to_spec).collect();
        let mut b = DcEngine::build_batch(&specs, engine).map_err(name)?;
        let snapshots: Option<Vec<_>> = starts.iter().map(|s| s.snapshot.clone()).collect();
        match (snapshots, starts.iter().any(|s| s.snapshot.is_some())) {
            (Some(s), _) => b.restore_copies(&s).map_err(name)?,
            (None, false) => {}
            (None, true) => {
                return Err(SnnError::invalid(
                    format!("networks {nets:?}"),
                    "some with a checkpoint, some without",
                    "one batch of networks all fresh or all from checkpoints",
                ))
            }
        }
        let mut states: Vec<TrainState> = starts.iter().map(|s| s.train.clone()).collect();
        let before: Vec<f64> = starts.iter().map(|s| s.train_seconds).collect();
        let total = |c: &DcConfig| sizes.n_train.min(train_set.len()) * c.epochs as usize;
        let mut training: Vec<bool> = states
            .iter()
            .zip(&cfgs)
            .map(|(st, c)| st.stats.images < total(c))
            .collect();
        let t0 = Instant::now();
        train_batch(
            &mut b,
            &cfgs,
            train_set,
            sizes.n_train,
            &mut states,
            engines.series_every,
            |done, states, b| {
                let seconds: Vec<f64> = before
                    .iter()
                    .map(|s| s + t0.elapsed().as_secs_f64())
                    .collect();
                let round = Round {
                    networks: nets,
                    done,
                    states,
                    training: &training,
                    seconds: &seconds,
                };
                after(&round, b)?;
                for (c, st) in states.iter().enumerate() {
                    training[c] = st.stats.images < total(&cfgs[c]);
                }
                Ok(())
            },
        )
        .map_err(name)?;
        let elapsed = t0.elapsed().as_secs_f64();
        Ok(Trained {
            nets: nets.to_vec(),
            cfgs,
            engine: b,
            states,
            train_seconds: before.iter().map(|s| s + elapsed).collect(),
        })
    }

    /// Each network's labelling and test ([`label_and_test_of`]), one network after the
    /// other (a GPU engine whose copies have delays of their own builds its trials' engine
    /// for each copy it serves), on the engine that trained it or, with `eval`, loaded into
    /// one of that kind, built for it alone; as its [`NetworkRun`].
    fn tested(
        &mut self,
        (train_set, test_set): (&Dataset, &Dataset),
        sizes: &Sizes,
        eval: Option<&EngineChoice>,
        on_batch: &AfterBatch<'_>,
    ) -> Result<Vec<NetworkRun>> {
        let name = |e: SnnError| name_network(e, &self.nets, &self.cfgs);
        let mut out = vec![];
        for (c, cfg) in self.cfgs.iter().enumerate() {
            let (weights, theta_mv) = (self.engine.weights_of(c)?, self.engine.theta_of(c)?);
            let mut own = match eval {
                Some(choice) => {
                    let mut e = DcEngine::build(&cfg.to_spec(), choice).map_err(name)?;
                    e.load(&weights, &theta_mv).map_err(name)?;
                    Some(e)
                }
                None => None,
            };
            let (b, copy) = match own.as_mut() {
                Some(e) => (e, 0),
                None => (&mut self.engine, c),
            };
            let k = self.nets[c];
            let tested = label_and_test_of(
                b,
                copy,
                cfg,
                (train_set, sizes.n_label),
                (test_set, sizes.n_test),
                sizes.batch,
                &mut self.states[c].key,
                |pass, d, n| on_batch(k, pass, d, n),
            )
            .map_err(name)?;
            out.push(NetworkRun {
                config: cfg.clone(),
                stats: self.states[c].stats.clone(),
                train_seconds: self.train_seconds[c],
                weights,
                theta_mv,
                tested,
            });
        }
        Ok(out)
    }
}

/// `e` with the network it happened in named (of batch `nets`, with configs `cfgs`), where
/// the error names a population.
fn name_network(e: SnnError, nets: &[usize], cfgs: &[DcConfig]) -> SnnError {
    match e {
        SnnError::NonFinite {
            population,
            variable,
            neuron,
            step,
        } => {
            // The engine names a copy of a batch `pop (copy c)`.
            let (pop, c) = match population.rsplit_once(" (copy ") {
                Some((pop, c)) => (
                    pop.to_string(),
                    c.trim_end_matches(')').parse().unwrap_or(0),
                ),
                None => (population, 0),
            };
            let c: usize = c.min(nets.len() - 1);
            SnnError::NonFinite {
                population: format!("{pop} (network {}, seed {})", nets[c], cfgs[c].seed),
                variable,
                neuron,
                step,
            }
        }
        e => e,
    }
}

/// The ensemble's confusion matrices on the test images, one per way of combining the
/// networks:
/// - `all_activity`: the class with the largest sum over networks of each network's
///   all-activity score (its mean count per neuron assigned to the class), ties to the lowest;
/// - `proportion`: the same with the proportion-weighting scores;
/// - `majority`: the class most networks' all-activity votes name, ties to the lowest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ensemble {
    /// Summed all-activity scores.
    pub all_activity: Confusion,
    /// Summed proportion-weighting scores.
    pub proportion: Confusion,
    /// Majority of the networks' all-activity votes.
    pub majority: Confusion,
}

/// Combines the networks' test responses (all to the same `labels`) into [`Ensemble`] votes.
///
/// # Errors
/// [`SnnError::InvalidParam`] if there is no network, or a network's test counts do not have
/// one row per label and one column per assigned neuron.
pub fn ensemble(nets: &[&Tested], labels: &[u8]) -> Result<Ensemble> {
    if nets.is_empty() {
        return Err(SnnError::invalid("networks", 0, "at least one network"));
    }
    for (k, t) in nets.iter().enumerate() {
        let want = (labels.len(), t.assignments.n_neurons());
        if t.test_counts.dim() != want {
            return Err(SnnError::invalid(
                format!("network[{k}] test counts"),
                format!("{:?}", t.test_counts.dim()),
                format!("(test images, neurons) = {want:?}"),
            ));
        }
    }
    let mut out = Ensemble {
        all_activity: Confusion::new(),
        proportion: Confusion::new(),
        majority: Confusion::new(),
    };
    let mut row = vec![];
    for (m, &label) in labels.iter().enumerate() {
        let (mut all, mut prop, mut votes) =
            ([0f64; N_CLASSES], [0f64; N_CLASSES], [0f64; N_CLASSES]);
        for t in nets {
            row.clear();
            row.extend(t.test_counts.row(m).iter().copied());
            let s = scores_all_activity(&row, &t.assignments);
            votes[argmax_lowest(&s)] += 1.0;
            all.iter_mut().zip(&s).for_each(|(a, x)| *a += x);
            let p = scores_proportion(&row, &t.assignments);
            prop.iter_mut().zip(&p).for_each(|(a, x)| *a += x);
        }
        out.all_activity.add(label, argmax_lowest(&all));
        out.proportion.add(label, argmax_lowest(&prop));
        out.majority.add(label, argmax_lowest(&votes));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn tested(assignment: Vec<i32>, counts: Array2<u32>) -> Tested {
        let n = assignment.len();
        let mut rates = Array2::<f32>::zeros((N_CLASSES, n));
        for (i, &c) in assignment.iter().enumerate() {
            rates[(c as usize, i)] = 1.0;
        }
        let assignments = Assignments {
            assignment,
            class_rates: rates,
            class_counts: [1; N_CLASSES],
        };
        let eval = evaluate(counts.view(), &vec![0; counts.nrows()], &assignments).unwrap();
        Tested {
            assignments,
            test_counts: counts,
            eval,
            label_images: 0,
            test_images: 0,
            seconds: 0.0,
        }
    }

    #[test]
    fn ensemble_sums_scores_and_counts_votes() {
        // Image 0: networks a and b say 1 weakly (score 1 vs 0), c says 2 strongly (10):
        // the summed scores pick 2, the majority picks 1.
        let a = tested(vec![1, 2], array![[1, 0], [0, 3]]);
        let b = tested(vec![1, 2], array![[1, 0], [0, 3]]);
        let c = tested(vec![1, 2], array![[0, 10], [0, 3]]);
        let e = ensemble(&[&a, &b, &c], &[2, 2]).unwrap();
        assert_eq!(e.all_activity.matrix[2][2], 2);
        assert_eq!(e.proportion.matrix[2][2], 2);
        assert_eq!(e.majority.matrix[2][1], 1);
        assert_eq!(e.majority.matrix[2][2], 1);
        // One network: the ensemble is its own vote.
        let e = ensemble(&[&a], &[0, 0]).unwrap();
        assert_eq!(e.all_activity, a.eval.all_activity);
        assert_eq!(e.proportion, a.eval.proportion);
        assert_eq!(e.majority, a.eval.all_activity);
        assert!(ensemble(&[&a], &[0]).is_err());
        assert!(ensemble(&[], &[0]).is_err());
    }
}
