//! Training K networks together on a [`CompetitiveMulti`] (the GPU: one network per
//! workgroup, one dispatch per presentation), each with exactly the protocol of
//! [`train::train`](super::train::train).
//!
//! Each network runs `train::train` itself, on a thread of its own, against a proxy backend
//! whose `present` hands the presentation to this thread and waits. Once every network still
//! training has handed one in, they run as one `CompetitiveMulti::present`. So network `k`
//! sees the same presentations, keys and retries as a single run (a network that drew enough
//! spikes moves on to its next image while another re-presents its image at a higher
//! intensity), and its results cannot drift from `train::train`'s. Labelling and test then
//! run per network on a single-network backend loaded with its weights and θ.
//! A checkpoint of network `k` (`train_lockstep_from`'s `after`) asks the coordinator for
//! `CompetitiveMulti::snapshot(k)`: the coordinator is then waiting for that network's next
//! presentation, so no dispatch is in flight.

use super::config::DcConfig;
use super::multi::{label_and_test, AfterImage, NetworkRun, Sizes, Start};
use super::train::train_from;
use crate::backend::{CompetitiveBackend, CompetitiveMulti, Snapshot};
use crate::data::mnist::Dataset;
use crate::error::{Result, SnnError};
use crate::model::PresentOptions;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::time::Instant;

/// What a network's thread asks of the coordinator.
enum Msg {
    /// Present `rates` with `opts` to network `k` and reply with its counts.
    Present(usize, Vec<f32>, PresentOptions, Sender<Result<Vec<u32>>>),
    /// Network `k` has stopped presenting (finished, failed or panicked).
    Done(usize),
    /// Snapshot network `k` (between its presentations; a checkpoint) and reply.
    Snapshot(usize, Sender<Result<Snapshot>>),
}

/// Network `k` as seen by `train::train`: every presentation goes to the coordinator.
struct Proxy {
    k: usize,
    tx: Sender<Msg>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Done(self.k));
    }
}

fn lost() -> SnnError {
    SnnError::Unsupported("the lockstep coordinator stopped".into())
}

impl CompetitiveBackend for Proxy {
    fn describe(&self) -> String {
        format!("lockstep network {}", self.k)
    }

    fn present(&mut self, rates_hz: &[f32], opts: &PresentOptions) -> Result<Vec<u32>> {
        let (tx, rx) = channel();
        self.tx
            .send(Msg::Present(self.k, rates_hz.to_vec(), *opts, tx))
            .map_err(|_| lost())?;
        rx.recv().map_err(|_| lost())?
    }

    fn present_frozen_batch(
        &mut self,
        _: &[Vec<f32>],
        _: &PresentOptions,
    ) -> Result<Vec<Vec<u32>>> {
        Err(SnnError::Unsupported(
            "frozen batches on a lockstep network".into(),
        ))
    }

    fn weights(&mut self) -> Result<Vec<f32>> {
        Err(SnnError::Unsupported(
            "weights of a lockstep network".into(),
        ))
    }

    fn theta(&mut self) -> Result<Vec<f32>> {
        Err(SnnError::Unsupported("theta of a lockstep network".into()))
    }

    fn load(&mut self, _: &[f32], _: &[f32]) -> Result<()> {
        Err(SnnError::Unsupported("loading a lockstep network".into()))
    }

    /// Network `k`'s state, from the coordinator (which is waiting for this network's next
    /// presentation, so the device is idle).
    fn snapshot(&mut self) -> Result<Snapshot> {
        let (tx, rx) = channel();
        self.tx
            .send(Msg::Snapshot(self.k, tx))
            .map_err(|_| lost())?;
        rx.recv().map_err(|_| lost())?
    }

    fn restore(&mut self, _: &crate::backend::Snapshot) -> Result<()> {
        Err(SnnError::Unsupported("restoring a lockstep network".into()))
    }
}

/// One network after lockstep training.
#[derive(Debug, Clone, PartialEq)]
pub struct Trained {
    /// Images, retries, learning curve.
    pub stats: super::train::TrainStats,
    /// The next presentation key (labelling continues from it).
    pub key: u32,
    /// Input weights, `[input][exc]`.
    pub weights: Vec<f32>,
    /// θ (mV).
    pub theta_mv: Vec<f32>,
}

/// Trains network `k` of `b` with `cfgs[k]` (the config `b`'s network `k` was built from)
/// on the first `n_train` images of `data`, all networks together; `on_image(k)` after
/// each training image of network `k`. Keys start at 0, as in `snn train`.
///
/// # Errors
/// [`SnnError::InvalidParam`] if `cfgs.len()` is not `b.networks()`; the backend's first
/// error, or else the first network's (in order) training error.
pub fn train_lockstep(
    b: &mut dyn CompetitiveMulti,
    cfgs: &[DcConfig],
    data: &Dataset,
    n_train: usize,
    on_image: &(dyn Fn(usize) + Sync),
) -> Result<Vec<Trained>> {
    let starts = vec![Start::fresh(); cfgs.len()];
    train_lockstep_from(b, cfgs, starts, data, n_train, &|k, _, _, _| {
        on_image(k);
        Ok(())
    })
    .map(|v| v.into_iter().map(|(t, _)| t).collect())
}

/// [`train_lockstep`] with network `k` starting at `starts[k]` (restored into network `k` of
/// `b` first, if it holds a snapshot) and `after` called after each of its training images
/// with its loop state, a backend whose `snapshot` is network `k`'s, and its training
/// seconds so far (checkpoints). Returns each network's training and its training seconds.
///
/// # Errors
/// As [`train_lockstep`]; [`SnnError::InvalidParam`] if `starts` has another length;
/// restore errors.
pub fn train_lockstep_from(
    b: &mut dyn CompetitiveMulti,
    cfgs: &[DcConfig],
    starts: Vec<Start>,
    data: &Dataset,
    n_train: usize,
    after: &AfterImage<'_>,
) -> Result<Vec<(Trained, f64)>> {
    let k = b.networks();
    if cfgs.len() != k || starts.len() != k {
        return Err(SnnError::invalid(
            "configs and starts",
            format!("{} and {}", cfgs.len(), starts.len()),
            format!("one per network of the backend ({k})"),
        ));
    }
    for (i, s) in starts.iter().enumerate() {
        if let Some(snap) = &s.snapshot {
            b.restore(i, snap)?;
        }
    }
    let results = std::thread::scope(|s| {
        let (tx, rx) = channel();
        let handles: Vec<_> = cfgs
            .iter()
            .zip(starts)
            .enumerate()
            .map(|(i, (cfg, start))| {
                let tx = tx.clone();
                s.spawn(move || {
                    let mut proxy = Proxy { k: i, tx };
                    let mut state = start.train;
                    let t0 = Instant::now();
                    let before = start.train_seconds;
                    train_from(&mut proxy, cfg, data, n_train, &mut state, |_, st, b| {
                        after(i, st, b, before + t0.elapsed().as_secs_f64())
                    })
                    .map(|()| (state, before + t0.elapsed().as_secs_f64()))
                })
            })
            .collect();
        drop(tx);
        let coordinated = coordinate(b, &rx);
        let trained: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect();
        coordinated.map(|()| trained)
    })?;
    results
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let (state, seconds) = r?;
            Ok((
                Trained {
                    stats: state.stats,
                    key: state.key,
                    weights: b.weights(i)?,
                    theta_mv: b.theta(i)?,
                },
                seconds,
            ))
        })
        .collect()
}

/// Serves the networks' presentations: waits until every network still training has one
/// pending, runs them as one `present`, replies; until all are done. After a backend error
/// every pending and later request fails, and the error is returned once all are done.
fn coordinate(b: &mut dyn CompetitiveMulti, rx: &Receiver<Msg>) -> Result<()> {
    type Pending = (Vec<f32>, PresentOptions, Sender<Result<Vec<u32>>>);
    let k = b.networks();
    let mut pending: Vec<Option<Pending>> = (0..k).map(|_| None).collect();
    let mut alive = vec![true; k];
    let mut failure: Option<SnnError> = None;
    loop {
        while (0..k).any(|i| alive[i] && pending[i].is_none()) {
            match rx.recv() {
                Ok(Msg::Present(i, rates, opts, reply)) => pending[i] = Some((rates, opts, reply)),
                Ok(Msg::Done(i)) => alive[i] = false,
                Ok(Msg::Snapshot(i, reply)) => {
                    let snap = match &failure {
                        Some(_) => Err(lost()),
                        None => b.snapshot(i),
                    };
                    let _ = reply.send(snap);
                }
                Err(_) => alive.fill(false),
            }
        }
        if pending.iter().all(Option::is_none) {
            return failure.map_or(Ok(()), Err);
        }
        let inputs: Vec<Option<(&[f32], PresentOptions)>> = pending
            .iter()
            .map(|p| p.as_ref().map(|(r, o, _)| (r.as_slice(), *o)))
            .collect();
        let out = match &failure {
            Some(_) => Err(lost()),
            None => b.present(&inputs),
        };
        match out {
            Ok(counts) => {
                for (p, c) in pending.iter_mut().zip(counts) {
                    if let (Some((_, _, reply)), Some(c)) = (p.take(), c) {
                        let _ = reply.send(Ok(c));
                    }
                }
            }
            Err(e) => {
                for p in pending.iter_mut() {
                    if let Some((_, _, reply)) = p.take() {
                        let _ = reply.send(Err(lost()));
                    }
                }
                failure.get_or_insert(e);
            }
        }
    }
}

/// [`train_lockstep`], then per network [`label_and_test`] on `single(cfg)` (a
/// single-network backend built from the config) loaded with its weights and θ, keys
/// continuing from its training: each network as `snn train` runs it alone.
///
/// # Errors
/// As [`train_lockstep`] and [`label_and_test`]; errors of `single`.
pub fn run_lockstep(
    b: &mut dyn CompetitiveMulti,
    single: impl FnMut(&DcConfig) -> Result<Box<dyn CompetitiveBackend>>,
    cfgs: &[DcConfig],
    train_set: &Dataset,
    test_set: &Dataset,
    sizes: &Sizes,
    on_image: &(dyn Fn(usize) + Sync),
) -> Result<Vec<NetworkRun>> {
    let starts = vec![Start::fresh(); cfgs.len()];
    run_lockstep_from(
        b,
        single,
        cfgs,
        starts,
        (train_set, test_set),
        sizes,
        &|k, _, _, _| {
            on_image(k);
            Ok(())
        },
    )
}

/// [`run_lockstep`] from `starts`, with `after` as in [`train_lockstep_from`].
///
/// # Errors
/// As [`train_lockstep_from`] and [`label_and_test`]; errors of `single`.
pub fn run_lockstep_from(
    b: &mut dyn CompetitiveMulti,
    mut single: impl FnMut(&DcConfig) -> Result<Box<dyn CompetitiveBackend>>,
    cfgs: &[DcConfig],
    starts: Vec<Start>,
    (train_set, test_set): (&Dataset, &Dataset),
    sizes: &Sizes,
    after: &AfterImage<'_>,
) -> Result<Vec<NetworkRun>> {
    let trained = train_lockstep_from(b, cfgs, starts, train_set, sizes.n_train, after)?;
    cfgs.iter()
        .zip(trained)
        .map(|(cfg, (t, train_seconds))| {
            let mut one = single(cfg)?;
            one.load(&t.weights, &t.theta_mv)?;
            let mut key = t.key;
            let tested = label_and_test(one.as_mut(), cfg, train_set, test_set, sizes, &mut key)?;
            Ok(NetworkRun {
                config: cfg.clone(),
                stats: t.stats,
                train_seconds,
                weights: t.weights,
                theta_mv: t.theta_mv,
                tested,
            })
        })
        .collect()
}
