//! The Diehl & Cook protocol on a [`DcEngine`] (either engine): presentations with the retry
//! rule, training in file order, the frozen labelling and test passes.
//!
//! Data flow: MNIST images → rates (`pixel/8 · intensity` Hz) → `present` (training, state
//! carried on) or `present_frozen_batch` (labelling and test, order-independent) → spike
//! counts → `evaluate` (assignments and votes).

use super::config::DcConfig;
use super::engine::{DcEngine, Input};
use super::evaluate::{assign_labels, vote_all_activity, Assignments};
use crate::data::mnist::Dataset;
use crate::error::{Result, SnnError};
use crate::experiments::diehl_cook::{PresentOptions, RestMode};
use ndarray::Array2;
use std::collections::VecDeque;

/// Images between two updates of the training-time label assignment (and the window of the
/// running accuracy); also the run of silent training images that stops training
/// ([`SnnError::SilentWindow`]).
pub const RUNNING_WINDOW: usize = 1000;

/// The retry rule for one image (the original code's input-intensity loop): each try that
/// draws fewer than `min_spikes` excitatory spikes is tried again at `intensity_step` more,
/// up to `max_retries` retries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retry {
    /// Retries so far.
    pub retry: u32,
    /// The intensity of the next try.
    pub intensity: f32,
}

/// What a try's counts mean under [`Retry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Enough spikes, after this many retries.
    Done(u32),
    /// Too few: try again at the raised intensity.
    Again,
    /// Too few after `max_retries` retries (the intensity stays that of the last try).
    GaveUp,
}

impl Retry {
    /// The first try of an image.
    pub fn new(cfg: &DcConfig) -> Self {
        Retry {
            retry: 0,
            intensity: cfg.intensity_start,
        }
    }

    /// Judges a try's `counts`, and raises the intensity for the next try where there is
    /// one.
    pub fn judge(&mut self, cfg: &DcConfig, counts: &[u32]) -> Outcome {
        if counts.iter().sum::<u32>() >= cfg.min_spikes {
            Outcome::Done(self.retry)
        } else if self.retry < cfg.max_retries {
            self.retry += 1;
            self.intensity += cfg.intensity_step;
            Outcome::Again
        } else {
            Outcome::GaveUp
        }
    }
}

/// The presentation options of a learning try of `cfg` (its key is passed on its own).
fn learning(cfg: &DcConfig, learn: bool, key: u32) -> PresentOptions {
    PresentOptions {
        steps_on: cfg.steps_on(),
        steps_rest: cfg.steps_rest(),
        rest: cfg.rest,
        learn,
        key,
    }
}

/// Presents `image` until it draws at least `min_spikes` excitatory spikes, raising the
/// intensity after each failure ([`Retry`]). `key` is the presentation counter.
///
/// # Errors
/// [`SnnError::NoResponse`] after `max_retries` retries; backend errors.
pub fn present_with_retries(
    b: &mut DcEngine,
    cfg: &DcConfig,
    image: &[u8],
    index: usize,
    learn: bool,
    key: &mut u32,
) -> Result<(Vec<u32>, u32)> {
    let mut r = Retry::new(cfg);
    loop {
        let opts = learning(cfg, learn, *key);
        *key = key.wrapping_add(1);
        let counts = b.present(&cfg.input_rates(image, r.intensity), &opts)?;
        match r.judge(cfg, &counts) {
            Outcome::Done(retries) => return Ok((counts, retries)),
            Outcome::Again => {}
            Outcome::GaveUp => {
                return Err(SnnError::NoResponse {
                    image: index,
                    min_spikes: cfg.min_spikes,
                    retries: cfg.max_retries,
                    intensity: r.intensity,
                    diagnosis: silence_diagnosis(b, cfg),
                })
            }
        }
    }
}

/// Why a network may be silent, from its θ: with the excitatory threshold `v_threshold + θ`
/// above the excitatory reversal potential no input can make a neuron fire, and θ far above
/// that means an earlier presentation ran away (forward Euler overshoots when many
/// inhibitory neurons fire in one step and `gi·dt/τ_m` exceeds 1: docs/diehl_cook.md, "Pitfalls").
pub fn silence_diagnosis(b: &mut DcEngine, cfg: &DcConfig) -> String {
    silence_diagnosis_of(b, 0, cfg)
}

/// [`silence_diagnosis`] of copy `copy` of a batch.
pub fn silence_diagnosis_of(b: &mut DcEngine, copy: usize, cfg: &DcConfig) -> String {
    match b.theta_of(copy) {
        Ok(theta) => theta_diagnosis(&theta, cfg),
        Err(_) => GENERIC_SILENCE.into(),
    }
}

const GENERIC_SILENCE: &str =
    "Check the loaded weights and θ (θ in mV, not volts), or raise max_retries";

/// [`silence_diagnosis`] from the excitatory θ (mV).
pub fn theta_diagnosis(theta: &[f32], cfg: &DcConfig) -> String {
    let generic = GENERIC_SILENCE;
    let spec = cfg.to_spec();
    let (Some(e_exc), threshold) = (
        match &spec.exc.kind {
            crate::model::NeuronKind::CondLif(p) => Some(p.e_exc_mv),
            _ => None,
        },
        spec.exc.v_threshold_mv,
    ) else {
        return generic.into();
    };
    let ceiling = e_exc - threshold;
    let max = theta.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let dead = theta.iter().filter(|&&t| !(t < ceiling)).count();
    if dead == 0 {
        return format!("θ is at most {max:.1} mV, below the {ceiling:.0} mV at which a neuron can no longer fire. {generic}");
    }
    let runaway = if max > 4.0 * ceiling {
        format!(
            " θ far above that means an earlier presentation ran away: forward Euler overshoots \
             when many inhibitory neurons fire in one step (gi·dt/τ_m above 1 drives v past \
             E_inh; docs/diehl_cook.md, pitfalls). `clamp_v_to_reversal = true` in the config stops \
             such steps at E_inh; halving dt_ms (now {} ms) halves that product; another \
             seed may not meet it.",
            cfg.dt_ms
        )
    } else {
        String::new()
    };
    format!(
        "{dead} of {} excitatory neurons have θ of {ceiling:.0} mV or more (largest {max:.1} mV): \
         their threshold v_threshold + θ lies above E_exc = {e_exc} mV, so no input can make \
         them fire.{runaway}",
        theta.len()
    )
}

/// Where training stands, after each image.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainProgress {
    /// Images presented so far (not counting retries).
    pub images_done: usize,
    /// Images to present in all.
    pub images_total: usize,
    /// Retries so far.
    pub retries: u64,
    /// [`TrainStats::skipped_images`] so far.
    pub skipped_images: u64,
    /// All-activity accuracy over the last [`RUNNING_WINDOW`] images, predicted with labels
    /// assigned from the window before (None until two windows have passed).
    pub running_accuracy: Option<f64>,
    /// [`TrainStats::runaway_at`] so far.
    pub runaway_at: Option<usize>,
}

/// What training produced besides the network itself.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrainStats {
    /// Images presented (not counting retries).
    pub images: usize,
    /// Retries.
    pub retries: u64,
    /// Training images skipped because they drew fewer than `min_spikes` spikes after
    /// `max_retries` retries (silent; counted in `images`, left out of the running accuracy;
    /// [`skip_advice`]).
    pub skipped_images: u64,
    /// (images seen, running accuracy) after each window.
    pub learning_curve: Vec<(usize, f64)>,
    /// The first image (counted from 1) in whose presentation more than half of the
    /// excitatory neurons fired: in a winner-take-all layer (a healthy D&C layer has at most
    /// a fifth of its neurons fire per image, usually a few) the sign of a forward-Euler
    /// runaway (docs/diehl_cook.md, pitfalls; [`runaway_advice`]).
    pub runaway_at: Option<usize>,
}

/// Whether a presentation's counts look like a runaway: more than half of a layer of at
/// least 50 neurons fired (see [`TrainStats::runaway_at`]).
pub fn looks_like_runaway(counts: &[u32]) -> bool {
    let active = counts.iter().filter(|&&c| c > 0).count();
    counts.len() >= 50 && 2 * active > counts.len()
}

/// What to tell a user whose training run [`looks_like_runaway`] at image `image`.
pub fn runaway_advice(cfg: &DcConfig, image: usize) -> String {
    format!(
        "at training image {image}, more than half of the {} excitatory neurons fired in one \
         presentation: the layer has probably run away (forward Euler overshoots when many \
         inhibitory neurons fire in one step), and what it learns from here \
         is noise; see docs/diehl_cook.md, pitfalls. {}",
        cfg.n_exc,
        if cfg.clamp_v_to_reversal {
            format!(
                "The reversal clamp is on already; halve dt_ms (now {} ms).",
                cfg.dt_ms
            )
        } else {
            format!(
                "Stop the run and set `clamp_v_to_reversal = true` in the experiment file \
                 (every preset's default, which `--step faithful` turns off; `snn presets \
                 --show {}`, then `snn train --config FILE`), or halve dt_ms (now {} ms).",
                cfg.preset, cfg.dt_ms
            )
        }
    )
}

/// What to tell a user whose training run has begun to skip silent images (`image`, counted
/// from 1, the first one), with `diagnosis` ([`silence_diagnosis`]).
pub fn skip_advice(cfg: &DcConfig, image: usize, diagnosis: &str) -> String {
    format!(
        "training image {image} drew fewer than {} excitatory spikes after {} retries (input \
         intensity up to {}): skipped, and so will be any such image (the count is \
         `skipped_images` in the results); training stops only if {RUNNING_WINDOW} images in a \
         row are silent. {diagnosis} Dense or bright input raises θ quickly: \
         `input_total_rate_hz` in the experiment file scales every image to one total input \
         rate (docs/diehl_cook.md).",
        cfg.min_spikes,
        cfg.max_retries,
        cfg.intensity_start + cfg.max_retries as f32 * cfg.intensity_step,
    )
}

/// Where a training run stands between two tries: besides the backend's own state
/// ([`DcEngine::snapshot`]), all a checkpoint needs to continue bit for bit.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrainState {
    /// Presentation counter (keys the input spikes); the next presentation's key.
    pub key: u32,
    /// Images done so far (the next image is `stats.images % n_train`), retries and the
    /// learning curve.
    pub stats: TrainStats,
    /// The current window of training responses: `(counts, label)` per image.
    pub window: Vec<(Vec<u32>, u8)>,
    /// Labels assigned from the last full window (None before the first one).
    pub assignments: Option<Assignments>,
    /// Whether each of the last (up to) [`RUNNING_WINDOW`] images was classed right.
    pub hits: VecDeque<bool>,
    /// Silent images in a row just before the next one (skipped; [`RUNNING_WINDOW`] of
    /// them stop training).
    pub silent_run: usize,
    /// The next try where it is a retry within the current image (a network of a batch
    /// checkpointed between two rounds); `None` at an image's first try.
    pub pending: Option<Retry>,
}

impl TrainState {
    /// A run that has not started, its first presentation keyed `key`.
    pub fn new(key: u32) -> Self {
        TrainState {
            key,
            ..Default::default()
        }
    }
}

/// Trains on the first `n_train` images of `data` for `cfg.epochs` epochs, in file order.
/// `on_image` is called after every image (progress bars). An image that stays silent after
/// `max_retries` retries is skipped ([`TrainStats::skipped_images`]).
///
/// # Errors
/// [`SnnError::SilentWindow`] when [`RUNNING_WINDOW`] images in a row are silent; backend
/// errors.
pub fn train(
    b: &mut DcEngine,
    cfg: &DcConfig,
    data: &Dataset,
    n_train: usize,
    key: &mut u32,
    mut on_image: impl FnMut(&TrainProgress),
) -> Result<TrainStats> {
    let mut state = TrainState::new(*key);
    let cfgs = std::slice::from_ref(cfg);
    let states = std::slice::from_mut(&mut state);
    train_batch(b, cfgs, data, n_train, states, 0, |done, _, _| {
        done.iter().for_each(|(_, p)| on_image(p));
        Ok(())
    })?;
    *key = state.key;
    Ok(state.stats)
}

/// [`train`] from where `state` stands (a fresh [`TrainState`] or one read from a checkpoint
/// together with the backend's snapshot). After every series of presentations that
/// finished an image ([`train_batch`]; one image at a time where the engine presents one at
/// a time, [`DcEngine::series_len`]), `after` gets the progress after its last image, the
/// state and the backend (to write a checkpoint); an error from it stops training.
///
/// # Errors
/// As [`train`]; errors from `after`.
pub fn train_from(
    b: &mut DcEngine,
    cfg: &DcConfig,
    data: &Dataset,
    n_train: usize,
    state: &mut TrainState,
    mut after: impl FnMut(&TrainProgress, &TrainState, &mut DcEngine) -> Result<()>,
) -> Result<()> {
    let cfgs = std::slice::from_ref(cfg);
    let states = std::slice::from_mut(state);
    train_batch(
        b,
        cfgs,
        data,
        n_train,
        states,
        0,
        |done, states, b| match done.last() {
            Some((_, p)) => after(p, &states[0], b),
            None => Ok(()),
        },
    )
}

/// [`train_from`] for every network of a batch at once (`DcEngine::build_batch`; one
/// network is a batch of one): each round presents every network that has not finished
/// its next try ([`Retry`]), so that network `k`'s `p`-th try starts at the step it does
/// when it runs alone, with its own images, retries, key and running window: the bits of
/// its run alone. `cfgs[k]` and `states[k]` are network `k`'s. Rounds run in series
/// ([`DcEngine::present_rounds`], up to [`DcEngine::series_len`] rounds in one wait on a
/// device): a network whose try draws too few spikes shows its retry in the next round of
/// the series and its later images one round late (one retry per network and series: a
/// second short try stops the series after its round, and its retry comes first in the
/// next), and a series ends before a network's images reach a multiple of `series_every`
/// (0: anywhere), so that checkpoints every so many images fall there. The bits are those
/// of one round at a time. After each series in which networks finished images, `after(done, states, b)`
/// gets each image's network and progress (`(k, progress)`, in the order they finished),
/// every network's state (between two tries, a retry pending where
/// [`TrainState::pending`] says so) and the batch (to checkpoint; every copy is then at
/// the same step). A network that finishes before the others keeps the weights and θ it
/// finished with (set back into the batch at the end).
///
/// # Errors
/// As [`train`], for the first network (in batch order) that meets one;
/// [`SnnError::InvalidParam`] unless there is one config and one state per network.
pub fn train_batch(
    b: &mut DcEngine,
    cfgs: &[DcConfig],
    data: &Dataset,
    n_train: usize,
    states: &mut [TrainState],
    series_every: usize,
    mut after: impl FnMut(&[(usize, TrainProgress)], &[TrainState], &mut DcEngine) -> Result<()>,
) -> Result<()> {
    let k_nets = b.copies();
    if cfgs.len() != k_nets || states.len() != k_nets {
        return Err(SnnError::invalid(
            "networks of the batch",
            format!("{} configs and {} states", cfgs.len(), states.len()),
            format!("one of each per network ({k_nets})"),
        ));
    }
    if let Some(k) = cfgs.iter().position(|c| !same_but_seed(c, &cfgs[0])) {
        return Err(SnnError::invalid(
            format!("network {k} (seed {})", cfgs[k].seed),
            "another experiment",
            "the experiment of network 0 with another seed (one batch of copies)",
        ));
    }
    let n_train = n_train.min(data.len());
    let totals: Vec<usize> = cfgs.iter().map(|c| n_train * c.epochs as usize).collect();
    let mut tries: Vec<Retry> = cfgs
        .iter()
        .zip(states.iter())
        .map(|(c, st)| st.pending.unwrap_or_else(|| Retry::new(c)))
        .collect();
    // The weights and θ of networks that finished before the last round (or before the
    // first: a batch resumed with some networks done).
    let mut finished: Vec<Option<(Vec<f32>, Vec<f32>)>> = vec![None; k_nets];
    let running = |states: &[TrainState], k: usize| states[k].stats.images < totals[k];
    if (0..k_nets).any(|k| running(states, k)) {
        for k in (0..k_nets).filter(|&k| !running(states, k)) {
            finished[k] = Some((b.weights_of(k)?, b.theta_of(k)?));
        }
    }
    // Rounds presented and series that stopped early: a series is about as long as the
    // rounds between two stops so far (with a prior of one stop per longest series), so
    // that a batch of many networks, whose rounds stop more often, issues few rounds past a
    // stop.
    let (mut ran, mut stops) = (0usize, 0usize);
    while (0..k_nets).any(|k| running(states, k)) {
        // A series of rounds: in round 0 every running network's next try, in round r > 0
        // the first try of its r-th image after that (what it presents next if every try
        // before draws enough spikes), each with its retry. A network short on a try shows
        // the retry next and its later tries a round late; the series stops after a round
        // in which a network was short without a retry or short again (its retry comes
        // first in the next series), and ends before a network runs out of images or
        // passes a multiple of `series_every`.
        let left = |k: usize| {
            let images = states[k].stats.images;
            let to_mark = match series_every {
                0 => usize::MAX,
                e => e - images % e,
            };
            (totals[k] - images).min(to_mark)
        };
        let len = (0..k_nets)
            .filter(|&k| running(states, k))
            .map(left)
            .min()
            .unwrap_or(1)
            .min((ran + b.series_len()) / (stops + 1))
            .clamp(1, b.series_len().max(1));
        // Each running network's planned try of round r, and its retry (where the rule
        // allows one more), which it shows in the next round where the try draws too few:
        // none for the last round, whose retry would fall past the series' end.
        let planned = |k: usize, r: usize| -> Option<(usize, Retry)> {
            running(states, k).then(|| {
                let idx = (states[k].stats.images + r) % n_train.max(1);
                let retry = match r {
                    0 => tries[k],
                    _ => Retry::new(&cfgs[k]),
                };
                (idx, retry)
            })
        };
        let rates: Vec<Vec<Option<Vec<f32>>>> = (0..len)
            .map(|r| {
                (0..k_nets)
                    .map(|k| {
                        planned(k, r)
                            .map(|(idx, t)| cfgs[k].input_rates(data.image(idx), t.intensity))
                    })
                    .collect()
            })
            .collect();
        let retry_rates: Vec<Vec<Option<Vec<f32>>>> = (0..len)
            .map(|r| {
                (0..k_nets)
                    .map(|k| {
                        let (idx, t) = planned(k, r)?;
                        (r + 1 < len && t.retry < cfgs[k].max_retries).then(|| {
                            let intensity = t.intensity + cfgs[k].intensity_step;
                            cfgs[k].input_rates(data.image(idx), intensity)
                        })
                    })
                    .collect()
            })
            .collect();
        let retries: Vec<Vec<Option<&[f32]>>> = retry_rates
            .iter()
            .map(|round| round.iter().map(|x| x.as_deref()).collect())
            .collect();
        let inputs: Vec<Vec<Option<Input<'_>>>> = rates
            .iter()
            .enumerate()
            .map(|(r, round)| {
                round
                    .iter()
                    .zip(states.iter())
                    .map(|(x, st)| {
                        x.as_ref().map(|x| Input {
                            rates_hz: x,
                            key: st.key.wrapping_add(r as u32),
                        })
                    })
                    .collect()
            })
            .collect();
        let least: Vec<u32> = (0..k_nets)
            .map(|k| match running(states, k) {
                true => cfgs[k].min_spikes,
                false => 0,
            })
            .collect();
        let series = b.present_rounds(&inputs, &retries, &learning(&cfgs[0], true, 0), &least)?;
        ran += series.counts.len();
        let stopped = series.counts.len() < len;
        let mut done_now = vec![];
        let mut imaged = vec![];
        for (r, round) in series.counts.into_iter().enumerate() {
            for (k, counts) in round.into_iter().enumerate() {
                if rates[r][k].is_none() {
                    continue;
                }
                let (cfg, st) = (&cfgs[k], &mut states[k]);
                st.key = st.key.wrapping_add(1);
                let image = st.stats.images;
                let idx = image % n_train.max(1);
                match tries[k].judge(cfg, &counts) {
                    Outcome::Again => {
                        st.pending = Some(tries[k]);
                        continue;
                    }
                    Outcome::Done(retries) => {
                        st.silent_run = 0;
                        record_image(st, counts, retries, data.label(idx))?;
                    }
                    Outcome::GaveUp => {
                        st.silent_run += 1;
                        if st.silent_run >= RUNNING_WINDOW {
                            let mut diagnosis = silence_diagnosis_of(b, k, cfg);
                            if k_nets > 1 {
                                diagnosis =
                                    format!("(the network of seed {}) {diagnosis}", cfg.seed);
                            }
                            return Err(SnnError::SilentWindow {
                                images: st.silent_run,
                                last: image + 1,
                                min_spikes: cfg.min_spikes,
                                retries: cfg.max_retries,
                                diagnosis,
                            });
                        }
                        st.stats.retries += u64::from(cfg.max_retries);
                        st.stats.skipped_images += 1;
                        st.stats.images = image + 1;
                    }
                }
                tries[k] = Retry::new(cfg);
                states[k].pending = None;
                let st = &states[k];
                let progress = TrainProgress {
                    images_done: st.stats.images,
                    images_total: totals[k],
                    retries: st.stats.retries,
                    skipped_images: st.stats.skipped_images,
                    running_accuracy: (!st.hits.is_empty()).then(|| running_accuracy(&st.hits)),
                    runaway_at: st.stats.runaway_at,
                };
                imaged.push((k, progress));
                if !running(states, k) {
                    done_now.push(k);
                }
            }
        }
        stops += usize::from(stopped);
        if !imaged.is_empty() {
            after(&imaged, states, b)?;
        }
        // The others go on (normalisation and θ decay would change these networks).
        if (0..k_nets).any(|k| running(states, k)) {
            for k in done_now {
                finished[k] = Some((b.weights_of(k)?, b.theta_of(k)?));
            }
        }
    }
    for (k, f) in finished.into_iter().enumerate() {
        if let Some((w, theta)) = f {
            b.set_copy(k, &w, &theta)?;
        }
    }
    Ok(())
}

/// Whether two experiments differ in their seed only, and so can train as copies of one
/// batch ([`train_batch`]).
pub fn same_but_seed(a: &DcConfig, b: &DcConfig) -> bool {
    DcConfig {
        seed: 0,
        ..a.clone()
    } == DcConfig {
        seed: 0,
        ..b.clone()
    }
}

/// Books image `st.stats.images` (label `label`) as trained with `counts` after `retries`
/// retries: runaway check, running accuracy, label window and learning curve.
fn record_image(st: &mut TrainState, counts: Vec<u32>, retries: u32, label: u8) -> Result<()> {
    let k = st.stats.images;
    st.stats.retries += retries as u64;
    if st.stats.runaway_at.is_none() && looks_like_runaway(&counts) {
        st.stats.runaway_at = Some(k + 1);
    }
    if let Some(a) = &st.assignments {
        if st.hits.len() == RUNNING_WINDOW {
            st.hits.pop_front();
        }
        st.hits
            .push_back(vote_all_activity(&counts, a) == label as usize);
    }
    st.window.push((counts, label));
    if st.window.len() == RUNNING_WINDOW {
        let n = st.window[0].0.len();
        let flat: Vec<u32> = st
            .window
            .iter()
            .flat_map(|(c, _)| c.iter().copied())
            .collect();
        let labels: Vec<u8> = st.window.iter().map(|(_, l)| *l).collect();
        let counts = Array2::from_shape_vec((st.window.len(), n), flat)
            .map_err(|e| SnnError::invalid("counts", e, "a rectangular array"))?;
        st.assignments = Some(assign_labels(counts.view(), &labels)?);
        st.window.clear();
        if st.hits.len() == RUNNING_WINDOW {
            st.stats
                .learning_curve
                .push((k + 1, running_accuracy(&st.hits)));
        }
    }
    st.stats.images = k + 1;
    Ok(())
}

/// Rows of `counts` (a [`respond_frozen`] answer) with fewer than `min_spikes` spikes: the
/// images that stayed silent through every retry.
pub fn silent_rows(counts: &Array2<u32>, min_spikes: u32) -> usize {
    counts.outer_iter().filter(|r| r.sum() < min_spikes).count()
}

fn running_accuracy(hits: &VecDeque<bool>) -> f64 {
    hits.iter().filter(|&&h| h).count() as f64 / hits.len().max(1) as f64
}

/// Spike counts `[image][neuron]` of the frozen network to the first `n` images of `data`,
/// in batches of `batch` (parallel on the backend), with the retry rule applied to images
/// that drew too few spikes. An image still silent after `max_retries` retries keeps the
/// counts of its last try (fewer than `min_spikes`; [`silent_rows`] counts them), so a
/// silent image never stops labelling or test. `on_batch(done)` reports progress.
///
/// # Errors
/// Backend errors; [`SnnError::Unsupported`] on a batch of networks (name the network:
/// [`respond_frozen_of`]).
pub fn respond_frozen(
    b: &mut DcEngine,
    cfg: &DcConfig,
    data: &Dataset,
    n: usize,
    batch: usize,
    key: &mut u32,
    on_batch: impl FnMut(usize),
) -> Result<Array2<u32>> {
    b.single("respond_frozen")?;
    respond_frozen_of(b, 0, cfg, data, n, batch, key, on_batch)
}

/// [`respond_frozen`] of network `copy` of a batch (`cfg` its config, `key` its key).
///
/// # Errors
/// As [`respond_frozen`]; a copy out of range.
#[allow(clippy::too_many_arguments)]
pub fn respond_frozen_of(
    b: &mut DcEngine,
    copy: usize,
    cfg: &DcConfig,
    data: &Dataset,
    n: usize,
    batch: usize,
    key: &mut u32,
    mut on_batch: impl FnMut(usize),
) -> Result<Array2<u32>> {
    let n = n.min(data.len());
    let n_exc = cfg.n_exc as usize;
    let mut out = Array2::<u32>::zeros((n, n_exc));
    let base = PresentOptions {
        steps_on: cfg.steps_on(),
        steps_rest: 0,
        rest: RestMode::Reset,
        learn: false,
        key: 0,
    };
    let mut start = 0;
    while start < n {
        let end = (start + batch.max(1)).min(n);
        let mut pending: Vec<usize> = (start..end).collect();
        let mut intensity = cfg.intensity_start;
        let mut last: Vec<Vec<u32>> = vec![];
        for retry in 0..=cfg.max_retries {
            let rates: Vec<Vec<f32>> = pending
                .iter()
                .map(|&i| cfg.input_rates(data.image(i), intensity))
                .collect();
            let opts = PresentOptions { key: *key, ..base };
            let counts = b.present_frozen_batch_of(copy, &rates, &opts)?;
            *key = key.wrapping_add(rates.len() as u32);
            let mut still = vec![];
            last.clear();
            for (&i, c) in pending.iter().zip(counts) {
                if c.iter().sum::<u32>() >= cfg.min_spikes {
                    out.row_mut(i).iter_mut().zip(&c).for_each(|(o, &x)| *o = x);
                } else {
                    still.push(i);
                    last.push(c);
                }
            }
            pending = still;
            if pending.is_empty() {
                break;
            }
            if retry == cfg.max_retries {
                for (&i, c) in pending.iter().zip(&last) {
                    out.row_mut(i).iter_mut().zip(c).for_each(|(o, &x)| *o = x);
                }
                break;
            }
            intensity += cfg.intensity_step;
        }
        on_batch(end);
        start = end;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::diehl_cook::engine::DcEngine;

    #[test]
    fn a_runaway_is_most_of_a_layer_of_50_or_more_firing() {
        let layer = |n: usize, active: usize| -> Vec<u32> {
            (0..n).map(|i| u32::from(i < active) * 3).collect()
        };
        assert!(looks_like_runaway(&layer(100, 51)));
        assert!(!looks_like_runaway(&layer(100, 50)));
        assert!(looks_like_runaway(&layer(6400, 6400)));
        // Small layers (the synthetic tests) may legitimately have most neurons fire.
        assert!(!looks_like_runaway(&layer(10, 10)));
    }

    /// `blank` images with no ink (silent at any intensity) after `real` MNIST images.
    fn with_blanks(real: usize, blank: usize) -> Dataset {
        let mut d = crate::data::mnist::embedded(crate::data::mnist::Split::Train).unwrap();
        let px = d.rows * d.cols;
        d.images.truncate(real * px);
        d.labels.truncate(real);
        d.images.resize((real + blank) * px, 0);
        d.labels.resize(real + blank, 3);
        d
    }

    fn small_dc100() -> DcConfig {
        let mut cfg = DcConfig::preset("dc100").unwrap();
        cfg.n_exc = 10;
        cfg
    }

    #[test]
    fn silent_images_are_skipped_and_training_goes_on() {
        let mut cfg = small_dc100();
        cfg.max_retries = 2;
        // Blank images in the middle: skipped, counted, and the real ones around them train.
        let mut d = with_blanks(12, 0);
        let px = d.rows * d.cols;
        d.images[4 * px..7 * px].fill(0);
        let mut b = DcEngine::new(&cfg.to_spec()).unwrap();
        let mut key = 0;
        let mut seen = vec![];
        let stats = train(&mut b, &cfg, &d, 12, &mut key, |p| {
            seen.push(p.skipped_images)
        })
        .unwrap();
        assert_eq!(stats.images, 12);
        assert_eq!(stats.skipped_images, 3, "images 5-7 are blank");
        assert_eq!(seen[..8], [0, 0, 0, 0, 1, 2, 3, 3]);
        assert!(stats.retries >= 3 * 2, "each blank image used its retries");
        // Labelling and test answer for silent images too (their last, sub-threshold counts).
        let counts = respond_frozen(&mut b, &cfg, &d, 12, 4, &mut key, |_| {}).unwrap();
        assert_eq!(silent_rows(&counts, cfg.min_spikes), 3);
        assert_eq!(counts.row(5).sum(), 0);
    }

    #[test]
    fn a_whole_window_of_silent_images_stops_training_with_the_diagnosis() {
        let mut cfg = small_dc100();
        cfg.max_retries = 0;
        let d = with_blanks(3, RUNNING_WINDOW + 5);
        let mut b = DcEngine::new(&cfg.to_spec()).unwrap();
        let mut state = TrainState::new(0);
        let err = train_from(&mut b, &cfg, &d, d.len(), &mut state, |_, _, _| Ok(())).unwrap_err();
        match &err {
            SnnError::SilentWindow { images, last, .. } => {
                assert_eq!((*images, *last), (RUNNING_WINDOW, RUNNING_WINDOW + 3));
            }
            e => panic!("expected SilentWindow, got {e}"),
        }
        let msg = err.to_string();
        assert!(
            msg.contains("training images 4 to 1003, 1000 in a row")
                && msg.contains("θ is at most"),
            "{msg}"
        );
        // The 999 before it were skipped; the stopping one is not counted as done.
        assert_eq!(state.stats.skipped_images, RUNNING_WINDOW as u64 - 1);
        assert_eq!(state.stats.images, RUNNING_WINDOW + 2);
    }

    #[test]
    fn silence_diagnosis_tells_dead_and_runaway_thresholds_apart() {
        let mut cfg = DcConfig::preset("dc100").unwrap();
        cfg.n_exc = 10;
        let mut b = DcEngine::new(&cfg.to_spec()).unwrap();
        let w = b.weights().unwrap();
        let d = silence_diagnosis(&mut b, &cfg);
        assert!(d.contains("θ is at most 20.0 mV, below the 72 mV"), "{d}");
        let mut theta = vec![30.0; 10];
        theta[3] = 80.0;
        b.load(&w, &theta).unwrap();
        let d = silence_diagnosis(&mut b, &cfg);
        assert!(
            d.contains("1 of 10 excitatory neurons have θ of 72 mV or more"),
            "{d}"
        );
        assert!(!d.contains("ran away"), "{d}");
        b.load(&w, &[2000.0; 10]).unwrap();
        let d = silence_diagnosis(&mut b, &cfg);
        assert!(
            d.contains("10 of 10")
                && d.contains("ran away")
                && d.contains("docs/diehl_cook.md, pitfalls"),
            "{d}"
        );
    }
}
