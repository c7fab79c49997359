//! Many Diehl & Cook networks in one run (`snn train --networks K`): each network trained,
//! labelled and tested exactly as a single run with its config, and the ensemble vote.
//!
//! Data flow: one [`DcConfig`] per network ([`super::sweep::network_configs`]) → [`run_one`]
//! per network (the protocol of `train::train`, then [`label_and_test`] with the
//! presentation key carried on, as `snn train` does) → [`ensemble`] over the networks'
//! test responses. [`run`] runs the networks in parallel with rayon, one [`DcEngine`] per
//! network, on the CPU or the GPU engine ([`EngineChoice`]): one network and K take the same
//! path.

use super::config::DcConfig;
use super::evaluate::{
    argmax_lowest, assign_labels, evaluate, scores_all_activity, scores_proportion, Assignments,
    Confusion, Evaluation, N_CLASSES,
};
use super::io::SavedNetwork;
use super::train::{respond_frozen, train_from, TrainState, TrainStats};
use crate::backend::{EngineChoice, Snapshot};
use crate::data::mnist::Dataset;
use crate::error::{Result, SnnError};
use crate::experiments::diehl_cook::engine::DcEngine;
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
/// [`SnnError::NoResponse`], backend errors, shape errors from `evaluate`.
pub fn label_and_test(
    b: &mut DcEngine,
    cfg: &DcConfig,
    (train_set, n_label): (&Dataset, usize),
    (test_set, n_test): (&Dataset, usize),
    batch: usize,
    key: &mut u32,
    mut progress: impl FnMut(Pass, usize, usize),
) -> Result<Tested> {
    let t0 = Instant::now();
    let n_label = n_label.min(train_set.len());
    let counts = respond_frozen(b, cfg, train_set, n_label, batch, key, |d| {
        progress(Pass::Label, d, n_label)
    })?;
    let assignments = assign_labels(counts.view(), &train_set.labels[..n_label])?;
    let n_test = n_test.min(test_set.len());
    let test_counts = respond_frozen(b, cfg, test_set, n_test, batch, key, |d| {
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

/// Trains, labels and tests one network on `b` (built from `cfg`) exactly as `snn train`
/// does: keys from 0 through training, then labelling, then test. `on_image` is called
/// after every training image.
///
/// # Errors
/// [`SnnError::NoResponse`], backend errors.
pub fn run_one(
    b: &mut DcEngine,
    cfg: &DcConfig,
    train_set: &Dataset,
    test_set: &Dataset,
    sizes: &Sizes,
    on_image: impl Fn(),
) -> Result<NetworkRun> {
    run_one_from(
        b,
        cfg,
        Start::fresh(),
        (train_set, test_set),
        sizes,
        |_, _, _| {
            on_image();
            Ok(())
        },
    )
}

/// [`run_one`] from `start` (its snapshot, if any, restored into `b` first), with `after`
/// called after every training image with the loop state, `b` and the training seconds so
/// far (checkpoints).
///
/// # Errors
/// As [`run_one`]; restore errors; errors from `after`.
pub fn run_one_from(
    b: &mut DcEngine,
    cfg: &DcConfig,
    start: Start,
    (train_set, test_set): (&Dataset, &Dataset),
    sizes: &Sizes,
    mut after: impl FnMut(&TrainState, &mut DcEngine, f64) -> Result<()>,
) -> Result<NetworkRun> {
    if let Some(s) = &start.snapshot {
        b.restore(s)?;
    }
    let mut state = start.train;
    let t0 = Instant::now();
    let before = start.train_seconds;
    train_from(b, cfg, train_set, sizes.n_train, &mut state, |_, st, b| {
        after(st, b, before + t0.elapsed().as_secs_f64())
    })?;
    let train_seconds = before + t0.elapsed().as_secs_f64();
    let mut key = state.key;
    let tested = label_and_test(
        b,
        cfg,
        (train_set, sizes.n_label),
        (test_set, sizes.n_test),
        sizes.batch,
        &mut key,
        |_, _, _| {},
    )?;
    Ok(NetworkRun {
        config: cfg.clone(),
        stats: state.stats,
        train_seconds,
        weights: b.weights()?,
        theta_mv: b.theta()?,
        tested,
    })
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

/// Called after every training image of network `k` of [`run_from`] with its loop state,
/// its backend (to snapshot) and its training seconds so far (checkpoints); an error stops
/// that network.
pub type AfterImage<'a> = dyn Fn(usize, &TrainState, &mut DcEngine, f64) -> Result<()> + Sync + 'a;

/// [`run_one`] for every config, each network on its own engine of kind `engines`, the
/// networks in parallel (rayon; their frozen batches share the same pool). `on_image(k)` is
/// called after each training image of network `k`. The results are in config order and do
/// not depend on the thread count.
///
/// # Errors
/// The first network's error, in config order.
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
        train_set,
        test_set,
        sizes,
        engines,
        &|k, _, _, _| {
            on_image(k);
            Ok(())
        },
    )
}

/// [`run`] with network `k` starting at `starts[k]` (a fresh network, or a checkpoint
/// restored, written by either engine: it then continues bit for bit) and `after` called
/// after each of its training images (progress and checkpoints).
///
/// # Errors
/// [`SnnError::InvalidParam`] if `starts` and `cfgs` differ in length; a snapshot that does
/// not fit its config; the first network's error, in config order (a
/// [`SnnError::NonFinite`] names the network and its seed with the population).
pub fn run_from(
    cfgs: &[DcConfig],
    starts: Vec<Start>,
    train_set: &Dataset,
    test_set: &Dataset,
    sizes: &Sizes,
    engines: &EngineChoice,
    after: &AfterImage<'_>,
) -> Result<Vec<NetworkRun>> {
    if starts.len() != cfgs.len() {
        return Err(SnnError::invalid(
            "network starts",
            starts.len(),
            format!("one per network ({})", cfgs.len()),
        ));
    }
    cfgs.par_iter()
        .zip(starts)
        .enumerate()
        .map(|(k, (cfg, start))| {
            let mut b = DcEngine::build(&cfg.to_spec(), engines)?;
            run_one_from(
                &mut b,
                cfg,
                start,
                (train_set, test_set),
                sizes,
                |st, b, t| after(k, st, b, t),
            )
            .map_err(|e| name_network(e, k, cfg.seed))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .collect()
}

/// `e` with the network it happened in named, where the error names a population.
fn name_network(e: SnnError, k: usize, seed: u32) -> SnnError {
    match e {
        SnnError::NonFinite {
            population,
            variable,
            neuron,
            step,
        } => SnnError::NonFinite {
            population: format!("{population} (network {k}, seed {seed})"),
            variable,
            neuron,
            step,
        },
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
