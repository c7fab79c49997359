//! The seam between a general [`Network`] and the engines that run it: the CPU
//! `cpu::engine::Engine` and the GPU `gpu::GpuEngine` both implement [`Simulator`], so an
//! experiment, a benchmark or a test drives either through one `&mut dyn Simulator`.

use crate::error::Result;
use crate::model::net::state::NetworkState;
use crate::model::net::{Network, Recording};

/// One trial of [`Simulator::run_trials`].
#[derive(Debug, Clone, Copy)]
pub struct Trial<'a> {
    /// Rate of each neuron of the source (Hz).
    pub rates_hz: &'a [f32],
    /// Key of the source's Poisson stream ([`Simulator::set_poisson_stream`]).
    pub key: u32,
}

/// The host's waits for a device ([`Simulator::device_waits`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DeviceWaits {
    /// How many (read-backs).
    pub count: u64,
    /// Seconds spent in them.
    pub seconds: f64,
}

/// One presentation of an input to every copy ([`Simulator::present`]): the input on
/// for `steps_on` steps, counted, then a rest. What a training loop repeats per image, as
/// one call, which an engine on a device runs with one wait for the device.
#[derive(Debug, Clone, Copy)]
pub struct Presentation<'a> {
    /// A projection whose columns are normalised before the steps, and their target sum
    /// ([`Simulator::normalize_columns`]).
    pub normalize: Option<(&'a str, f32)>,
    /// The Poisson source that carries the input.
    pub source: &'a str,
    /// One per copy: the source's rates (Hz) and its stream's key, the stream starting at
    /// the step of the call ([`Simulator::set_poisson_stream`]).
    pub inputs: &'a [Trial<'a>],
    /// Steps with the input on.
    pub steps_on: u32,
    /// The population whose spikes are counted over the steps on.
    pub counted: &'a str,
    /// The rest: `Some(steps)` more steps with the source's rates at 0 (which they stay
    /// at), or `None`: every copy put at rest ([`Simulator::rest`]).
    pub rest_steps: Option<u32>,
    /// A projection whose weights are checked after the steps: where this is set,
    /// [`Simulator::first_non_finite_weight`] answers from that check until the weights
    /// change (on a device, without reading the weights back).
    pub check_weights: Option<&'a str>,
    /// `(population, variable, factor)`: a state variable multiplied by a factor in
    /// `[0, 1]` at the end, after the rest ([`Simulator::scale_state`]): a decay over the
    /// presentation, as θ's between two images.
    pub decay: Option<(&'a str, &'a str, f32)>,
}

impl Presentation<'_> {
    /// Whether `self` and `other` differ in their inputs only (a series that runs on a
    /// device in one submission, [`Simulator::present_series`]).
    pub fn differs_in_inputs_only(&self, other: &Presentation<'_>) -> bool {
        self.normalize == other.normalize
            && self.source == other.source
            && self.steps_on == other.steps_on
            && self.counted == other.counted
            && self.rest_steps == other.rest_steps
            && self.check_weights == other.check_weights
            && self.decay == other.decay
            && self.inputs.len() == other.inputs.len()
    }
}

/// A general network engine: K copies of one [`Network`], stepped together. Every method
/// means the same on every backend; a seed gives the same spikes on all of them (see
/// `docs/architecture.md` for where floats may differ on a GPU that is not llvmpipe).
pub trait Simulator: Send {
    /// `"cpu"`, or `"gpu:<adapter>"`.
    fn describe(&self) -> String;

    /// The network this engine runs.
    fn network(&self) -> &Network;

    /// Steps run so far.
    fn step_count(&self) -> u32;

    /// Turns learning (STDP and θ adaptation) on or off.
    fn set_learning(&mut self, on: bool);

    /// Runs `steps` steps of every copy.
    ///
    /// # Errors
    /// A clock past `u32::MAX`, a NaN or infinite neuron variable, device errors.
    fn run(&mut self, steps: u32) -> Result<()>;

    /// Sets the rates (Hz) of Poisson source `population` in `copy`, one per neuron.
    ///
    /// # Errors
    /// An unknown or non-Poisson population, a bad copy, rates out of range.
    fn set_rates(&mut self, population: &str, copy: usize, rates_hz: &[f32]) -> Result<()>;

    /// The weights of `projection` in `copy`, in synapse order.
    ///
    /// # Errors
    /// An unknown projection, a bad copy, device errors.
    fn weights(&self, projection: &str, copy: usize) -> Result<Vec<f32>>;

    /// Replaces the weights of `projection` in `copy`.
    ///
    /// # Errors
    /// As the engines' `set_weights`: lengths, values outside [w_min, w_max].
    fn set_weights(&mut self, projection: &str, copy: usize, w: &[f32]) -> Result<()>;

    /// The index (synapse order) of the first weight of `projection` in `copy` that is NaN
    /// or infinite, if any. By default from [`Self::weights`]; an engine whose weights live
    /// on a device checks them there and reads back only the answer.
    ///
    /// # Errors
    /// As [`Self::weights`].
    fn first_non_finite_weight(&self, projection: &str, copy: usize) -> Result<Option<usize>> {
        Ok(first_non_finite(&self.weights(projection, copy)?))
    }

    /// Scales each post neuron's incoming weights of `projection` to sum to `target_sum`;
    /// a column that sums to 0 stays as it is, and one that sums to so little that the
    /// factor is not finite takes weights that are not finite, which
    /// [`Self::first_non_finite_weight`] finds (as a training run's weight check does).
    ///
    /// # Errors
    /// An unknown projection, a bad target, a projection whose weights cannot change.
    fn normalize_columns(&mut self, projection: &str, target_sum: f32) -> Result<()>;

    /// State variable `variable` of every neuron of `population` in `copy`.
    ///
    /// # Errors
    /// Unknown names, a source, a bad copy.
    fn state(&self, population: &str, variable: &str, copy: usize) -> Result<Vec<f32>>;

    /// Sets state variable `variable` of every neuron of `population` in `copy`.
    ///
    /// # Errors
    /// As [`Self::state`]; a wrong length or a value that is not finite.
    fn set_state(
        &mut self,
        population: &str,
        variable: &str,
        copy: usize,
        values: &[f32],
    ) -> Result<()>;

    /// What monitor `monitor` has recorded in `copy`.
    ///
    /// # Errors
    /// An unknown monitor or a bad copy.
    fn recording(&self, monitor: &str, copy: usize) -> Result<&Recording>;

    /// Forgets every recording.
    fn clear_recordings(&mut self);

    /// [`Self::run`], returning the number of spikes of every neuron of `population` over
    /// these steps, `[copy][neuron]`.
    ///
    /// # Errors
    /// As [`Self::run`]; an unknown population.
    fn run_counting(&mut self, steps: u32, population: &str) -> Result<Vec<Vec<u32>>>;

    /// Presents `p`'s inputs and returns the spike counts of `p.counted` over the steps
    /// on, `[copy][neuron]`: the same as the normalisation where `p` asks for one
    /// ([`Self::normalize_columns`]), setting each copy's rates and stream
    /// ([`Self::set_rates`], [`Self::set_poisson_stream`] from the clock), then
    /// [`Self::run_counting`] for `p.steps_on` steps, then the rest (the rates set to 0 and
    /// [`Self::run`], or [`Self::rest`] for every copy), which is how the default does it.
    ///
    /// # Errors
    /// [`crate::SnnError::InvalidParam`] unless there is one input per copy; as the calls
    /// it stands for.
    fn present(&mut self, p: &Presentation<'_>) -> Result<Vec<Vec<u32>>> {
        present_call_by_call(self, p)
    }

    /// Presents a series ([`Series`]): round by round, each copy shows its next
    /// presentation, or the retry of its last one where that drew too few spikes (the
    /// rule of [`Series`]), each round as [`Self::present`]. Stops after a round in which
    /// a copy drew too few spikes and may not retry, or whose weight check found a weight
    /// that is not finite (which the caller's check then names). Returns what each round
    /// ran: all of `series.presentations`' rounds unless one stopped the series, which is
    /// then the last. A series the caller lays out as long as [`Self::series_len`] runs in
    /// one go. The default presents one round at a time, judged on the host.
    ///
    /// # Errors
    /// As [`Self::present`]; [`crate::SnnError::InvalidParam`] unless there is one least
    /// count per copy and no retries or one list of them per presentation, each with one
    /// entry per copy.
    fn present_series(&mut self, series: &Series<'_>) -> Result<SeriesRun> {
        present_one_by_one(self, series)
    }

    /// The most presentations of a series ([`Self::present_series`]) that run in one go
    /// (one submission and one wait on a device): 1 where they run one at a time.
    fn series_len(&self) -> usize {
        1
    }

    /// Multiplies state variable `variable` of every neuron of `population` in every copy
    /// by `factor` (one f32 product each, e.g. an exact decay over a rest): the same as
    /// [`Self::state`], the products and [`Self::set_state`] for each copy, which is how
    /// the default does it.
    ///
    /// # Errors
    /// As [`Self::set_state`]: a product that is not finite, refused before any copy
    /// changes.
    fn scale_state(&mut self, population: &str, variable: &str, factor: f32) -> Result<()> {
        let products = (0..self.network().batch())
            .map(|c| {
                let mut v = self.state(population, variable, c)?;
                v.iter_mut().for_each(|x| *x *= factor);
                Ok(v)
            })
            .collect::<Result<Vec<_>>>()?;
        // A product that is not finite is refused (by `set_state`) before any copy changes.
        if let Some(c) = products
            .iter()
            .position(|v| v.iter().any(|x| !x.is_finite()))
        {
            return self.set_state(population, variable, c, &products[c]);
        }
        for (c, v) in products.iter().enumerate() {
            self.set_state(population, variable, c, v)?;
        }
        Ok(())
    }

    /// Puts `copy` at rest: every neuron at its model's rest state, θ kept; no spike in
    /// flight (spike lists, delay rings, spike history and last arrivals cleared) and every
    /// STDP trace at 0. The clock keeps running.
    ///
    /// # Errors
    /// A bad copy; device errors.
    fn rest(&mut self, copy: usize) -> Result<()>;

    /// Keys the Poisson draws of source `population` in `copy` from the next step: neuron
    /// `i` spikes at step `t` when `rng_u32(key, t − origin_step, i) < thr_i`.
    ///
    /// # Errors
    /// An unknown or non-Poisson population, a bad copy.
    fn set_poisson_stream(
        &mut self,
        population: &str,
        copy: usize,
        key: u32,
        origin_step: u32,
    ) -> Result<()>;

    /// Runs independent frozen trials from `copy` and returns, per trial, the spike count of
    /// every neuron of `population`; the engine is left as it was. Trial `k` starts from
    /// `copy` put at rest ([`Self::rest`]), with the rates of Poisson source `source` set to
    /// `trials[k].rates_hz` and its stream to `(trials[k].key, clock)`, and runs `steps`
    /// steps with learning off.
    ///
    /// # Errors
    /// Bad names, copy or rates; a NaN or infinite neuron variable, naming the first trial
    /// where it happened; device errors.
    fn run_trials(
        &mut self,
        copy: usize,
        source: &str,
        trials: &[Trial<'_>],
        steps: u32,
        population: &str,
    ) -> Result<Vec<Vec<u32>>>;

    /// The whole dynamic state of every copy, as plain data (`model::net::state`), the same
    /// on every backend.
    ///
    /// # Errors
    /// Device errors while reading back.
    fn network_state(&self) -> Result<NetworkState>;

    /// Replaces the whole dynamic state with `state` (of the same network and batch, from
    /// any backend).
    ///
    /// # Errors
    /// As `NetworkState::check`: an array of another length, a value that is not finite, an
    /// index out of range.
    fn set_network_state(&mut self, state: &NetworkState) -> Result<()>;

    /// Seconds the device spent in the passes that ran this engine's steps ([`Self::run`],
    /// [`Self::run_counting`], [`Self::run_trials`]) since it was built, from timestamp
    /// queries; None on an engine that does not time them (the CPU engine; the GPU engine
    /// without `GpuEngineOptions::device_timing` or on an adapter without timestamp queries).
    fn device_seconds(&self) -> Option<f64> {
        None
    }

    /// How many times the host has waited for the device on this engine's behalf since it
    /// was built (read-backs), and for how long; None on an engine without a device (the
    /// CPU engine).
    fn device_waits(&self) -> Option<DeviceWaits> {
        None
    }

    /// Invocations per workgroup of an engine on a device (what its options or its
    /// adapter's default chose); None on the CPU engine.
    fn workgroup_size(&self) -> Option<u32> {
        None
    }
}

/// What an engine's `network_state` returns: the state, or the state or an error.
pub(crate) trait IntoStateResult {
    fn into_state_result(self) -> Result<NetworkState>;
}

impl IntoStateResult for NetworkState {
    fn into_state_result(self) -> Result<NetworkState> {
        Ok(self)
    }
}

impl IntoStateResult for Result<NetworkState> {
    fn into_state_result(self) -> Result<NetworkState> {
        self
    }
}

/// [`Simulator::present`] as the calls it stands for.
///
/// # Errors
/// As [`Simulator::present`].
pub(crate) fn present_call_by_call<S: Simulator + ?Sized>(
    s: &mut S,
    p: &Presentation<'_>,
) -> Result<Vec<Vec<u32>>> {
    // Everything checked before the first change (the normalisation checks its own).
    check_inputs(s.network(), p)?;
    let steps = u64::from(p.steps_on) + u64::from(p.rest_steps.unwrap_or(0));
    crate::model::net::clock_after(s.step_count(), steps)?;
    if let Some((projection, target)) = p.normalize {
        s.normalize_columns(projection, target)?;
    }
    let origin = s.step_count();
    for (c, x) in p.inputs.iter().enumerate() {
        s.set_rates(p.source, c, x.rates_hz)?;
        s.set_poisson_stream(p.source, c, x.key, origin)?;
    }
    let counts = s.run_counting(p.steps_on, p.counted)?;
    match p.rest_steps {
        Some(steps) => {
            for (c, x) in p.inputs.iter().enumerate() {
                s.set_rates(p.source, c, &vec![0.0; x.rates_hz.len()])?;
            }
            s.run(steps)?;
        }
        None => (0..p.inputs.len()).try_for_each(|c| s.rest(c))?,
    }
    if let Some((population, variable, factor)) = p.decay {
        s.scale_state(population, variable, factor)?;
    }
    Ok(counts)
}

/// [`Simulator::present_series`] one round at a time, judged on the host.
///
/// # Errors
/// As [`Simulator::present_series`].
pub(crate) fn present_one_by_one<S: Simulator + ?Sized>(
    s: &mut S,
    series: &Series<'_>,
) -> Result<SeriesRun> {
    check_series(s.network(), series)?;
    let mut cursors = vec![Cursor::default(); series.least.len()];
    let mut run = SeriesRun::default();
    for r in 0..series.presentations.len() {
        if !present_round(s, series, r, &mut cursors, &mut run)? {
            break;
        }
    }
    Ok(run)
}

/// Round `r` of `series` (checked) as [`Simulator::present`], the copies where `cursors`
/// stand, judged on the host: pushes the round onto `run` and moves the cursors on.
/// Returns whether the series goes on.
///
/// # Errors
/// As [`Simulator::present`].
pub(crate) fn present_round<S: Simulator + ?Sized>(
    s: &mut S,
    series: &Series<'_>,
    r: usize,
    cursors: &mut [Cursor],
    run: &mut SeriesRun,
) -> Result<bool> {
    let p = &series.presentations[r];
    let shown: Vec<Shown> = cursors.iter().map(|c| c.shown(r)).collect();
    let inputs = series.inputs(r, &shown);
    let counts = s.present(&Presentation {
        inputs: &inputs,
        ..*p
    })?;
    let go_on = judge_round(cursors, &shown, &counts, series);
    run.counts.push(counts);
    run.shown.push(shown);
    // The last presentation's weights are the caller's to check.
    Ok(go_on && !(r + 1 < series.presentations.len() && weights_not_finite(s, p)?))
}

/// A series of presentations ([`Simulator::present_series`]), each copy on its own course:
/// in round `r` a copy shows presentation `r`, unless it retried in this series. Where
/// a copy draws fewer spikes of the counted population over the steps on than its least
/// count at the first showing of presentation `i`, and `retries[i][copy]` holds rates, it
/// shows those rates in the next round (the retry), and presentation `i + 1` one round
/// later than planned, and so on: its last presentation does not run in this series. One
/// retry per copy and series: a copy short on its retry, on a presentation after it, or
/// on one without a retry stops the series after that round. Each round is presented with
/// the settings and each copy's key of `presentations[round]`, whatever rates the copy
/// shows in it (a key counts rounds, as a training run's presentation counter does).
#[derive(Debug, Clone, Copy)]
pub struct Series<'a> {
    /// The presentations, one per round.
    pub presentations: &'a [Presentation<'a>],
    /// `retries[i][copy]`: the rates (Hz) of the retry of presentation `i` by `copy`, or
    /// `None`; empty: no retry at all.
    pub retries: &'a [Vec<Option<&'a [f32]>>],
    /// Each copy's least count (0: never short).
    pub least: &'a [u32],
}

impl Series<'_> {
    /// Each copy's input in round `r` where the copies show `shown`: its rates, and its key
    /// of that round.
    pub(crate) fn inputs(&self, r: usize, shown: &[Shown]) -> Vec<Trial<'_>> {
        shown
            .iter()
            .enumerate()
            .map(|(c, &sh)| Trial {
                rates_hz: self.rates(sh, c),
                key: self.presentations[r].inputs[c].key,
            })
            .collect()
    }

    /// The rates copy `copy` shows where it shows `sh`.
    pub(crate) fn rates(&self, sh: Shown, copy: usize) -> &[f32] {
        match sh.retry {
            true => self
                .retry_of(sh.presentation, copy)
                .unwrap_or(self.presentations[sh.presentation].inputs[copy].rates_hz),
            false => self.presentations[sh.presentation].inputs[copy].rates_hz,
        }
    }

    /// The retry of presentation `i` by `copy`, where it has one.
    pub(crate) fn retry_of(&self, i: usize, copy: usize) -> Option<&[f32]> {
        self.retries.get(i).and_then(|r| r[copy])
    }
}

/// What a copy showed in a round of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shown {
    /// The presentation (its index in [`Series::presentations`]).
    pub presentation: usize,
    /// Whether it showed the presentation's retry.
    pub retry: bool,
}

/// What a series ran ([`Simulator::present_series`]), round by round.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SeriesRun {
    /// The counts of each round, `[round][copy][neuron]`.
    pub counts: Vec<Vec<Vec<u32>>>,
    /// What each copy showed in each round, `[round][copy]`.
    pub shown: Vec<Vec<Shown>>,
}

/// Where a copy stands in a series: whether it has retried (its presentations run a round
/// late), and whether it shows a retry in the next round. A device's `round_judge` follows
/// the same rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub(crate) late: bool,
    pub(crate) retry_next: bool,
}

impl Cursor {
    /// What the copy shows in round `r`.
    pub(crate) fn shown(&self, r: usize) -> Shown {
        Shown {
            presentation: r - usize::from(self.late),
            retry: self.retry_next,
        }
    }

    /// The input set a device draws the copy's rates from in its next round: 0 its
    /// presentation of that round, 1 the one before (late), 2 that one's retry.
    pub(crate) fn set(&self) -> u32 {
        match (self.retry_next, self.late) {
            (true, _) => 2,
            (false, true) => 1,
            (false, false) => 0,
        }
    }
}

/// Judges a round of `series` in which the copies showed `shown` and drew `counts`,
/// moving their cursors on; false where the series stops after it.
pub(crate) fn judge_round(
    cursors: &mut [Cursor],
    shown: &[Shown],
    counts: &[Vec<u32>],
    series: &Series<'_>,
) -> bool {
    let mut go_on = true;
    for (c, cur) in cursors.iter_mut().enumerate() {
        let n: u64 = counts[c].iter().map(|&x| u64::from(x)).sum();
        if n >= u64::from(series.least[c]) {
            cur.retry_next = false;
        } else if !cur.late && series.retry_of(shown[c].presentation, c).is_some() {
            *cur = Cursor {
                late: true,
                retry_next: true,
            };
        } else {
            go_on = false;
        }
    }
    go_on
}

/// One least count per copy, one input per copy in every presentation, and no retries or
/// one list per presentation with one entry per copy, each a rate per neuron of the source
/// in range.
///
/// # Errors
/// [`crate::SnnError::InvalidParam`] naming `least`, `inputs` or `retries`; as
/// [`Simulator::set_rates`] for a retry's rates.
pub(crate) fn check_series(net: &Network, series: &Series<'_>) -> Result<()> {
    check_least(net, series.least)?;
    for p in series.presentations {
        check_inputs(net, p)?;
    }
    let ps = series.presentations.len();
    if !series.retries.is_empty() && series.retries.len() != ps {
        return Err(crate::SnnError::invalid(
            "retries",
            format!("{} lists", series.retries.len()),
            format!("none, or one list per presentation ({ps})"),
        ));
    }
    if let Some(i) = series.retries.iter().position(|r| r.len() != net.batch()) {
        return Err(crate::SnnError::invalid(
            format!("retries[{i}]"),
            series.retries[i].len(),
            format!("one entry per copy ({})", net.batch()),
        ));
    }
    for (p, retries) in series.presentations.iter().zip(series.retries) {
        for x in retries.iter().flatten() {
            net.rates_target(p.source, x)?;
        }
    }
    Ok(())
}

/// Whether a weight of the projection `p` checks is not finite, in any copy.
fn weights_not_finite<S: Simulator + ?Sized>(s: &S, p: &Presentation<'_>) -> Result<bool> {
    let Some(q) = p.check_weights else {
        return Ok(false);
    };
    for c in 0..s.network().batch() {
        if s.first_non_finite_weight(q, c)?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// One least count per copy of `net`.
///
/// # Errors
/// [`crate::SnnError::InvalidParam`] naming `least`.
pub(crate) fn check_least(net: &Network, least: &[u32]) -> Result<()> {
    if least.len() != net.batch() {
        return Err(crate::SnnError::invalid(
            "least",
            least.len(),
            format!("one least count per copy ({})", net.batch()),
        ));
    }
    Ok(())
}

/// One input per copy of `net`, each with rates of the source in range, a counted
/// population and a checked projection that exist, and a decay of a state variable by a
/// factor in `[0, 1]`.
///
/// # Errors
/// [`crate::SnnError::InvalidParam`] naming `inputs` or `decay`, as
/// [`Simulator::set_rates`] for a copy's rates; [`crate::SnnError::UnknownName`] for the
/// counted population, the checked projection, or the decay's population or variable.
pub(crate) fn check_inputs(net: &Network, p: &Presentation<'_>) -> Result<()> {
    if p.inputs.len() != net.batch() {
        return Err(crate::SnnError::invalid(
            "inputs",
            p.inputs.len(),
            format!("one per copy ({})", net.batch()),
        ));
    }
    net.population_index(p.counted)?;
    if let Some(q) = p.check_weights {
        net.projection_index(q)?;
    }
    for x in p.inputs {
        net.rates_target(p.source, x.rates_hz)?;
    }
    if let Some((population, variable, factor)) = p.decay {
        net.state_target(population, variable)?;
        if !(0.0..=1.0).contains(&factor) {
            return Err(crate::SnnError::invalid(
                "decay",
                factor,
                "a factor in [0, 1]",
            ));
        }
    }
    Ok(())
}

/// The index of the first value of `w` that is NaN or infinite, if any.
pub(crate) fn first_non_finite(w: &[f32]) -> Option<usize> {
    // A test without early exit vectorises; the position is looked for only once something
    // is found.
    if w.iter().fold(true, |ok, v| ok & v.is_finite()) {
        return None;
    }
    w.iter().position(|v| !v.is_finite())
}

/// Implements [`Simulator`] for an engine type whose inherent methods have the trait's names
/// (`weights` returning a slice, `network_state` the state or a result of it), with the
/// provided methods listed after the description (`first_non_finite_weight`) taken from
/// the engine's inherent methods too, after a `;` `device_seconds, device_waits,
/// workgroup_size` where the engine runs on a device, and after a `=>` `present,
/// present_series, series_len` where the engine has its own.
macro_rules! impl_simulator {
    ($t:ty, $describe:expr $(, $own:ident)* $(; $timed:ident, $waits:ident, $wg:ident)?
     $(=> $present:ident, $series:ident, $series_len:ident)?) => {
        impl $crate::backend::Simulator for $t {
            $(
                fn $present(
                    &mut self,
                    p: &$crate::backend::Presentation<'_>,
                ) -> $crate::error::Result<Vec<Vec<u32>>> {
                    <$t>::$present(self, p)
                }
                fn $series(
                    &mut self,
                    series: &$crate::backend::Series<'_>,
                ) -> $crate::error::Result<$crate::backend::SeriesRun> {
                    <$t>::$series(self, series)
                }
                fn $series_len(&self) -> usize {
                    <$t>::$series_len(self)
                }
            )?
            $(
                fn $own(&self, p: &str, c: usize) -> $crate::error::Result<Option<usize>> {
                    <$t>::$own(self, p, c)
                }
            )*
            $(
                fn $timed(&self) -> Option<f64> {
                    <$t>::$timed(self)
                }
                fn $waits(&self) -> Option<$crate::backend::DeviceWaits> {
                    Some(<$t>::$waits(self))
                }
                fn $wg(&self) -> Option<u32> {
                    Some(<$t>::$wg(self))
                }
            )?
            fn describe(&self) -> String {
                let f: fn(&$t) -> String = $describe;
                f(self)
            }
            fn network(&self) -> &$crate::model::net::Network {
                <$t>::network(self)
            }
            fn step_count(&self) -> u32 {
                <$t>::step_count(self)
            }
            fn set_learning(&mut self, on: bool) {
                <$t>::set_learning(self, on)
            }
            fn run(&mut self, steps: u32) -> $crate::error::Result<()> {
                <$t>::run(self, steps)
            }
            fn set_rates(&mut self, p: &str, c: usize, r: &[f32]) -> $crate::error::Result<()> {
                <$t>::set_rates(self, p, c, r)
            }
            fn weights(&self, p: &str, c: usize) -> $crate::error::Result<Vec<f32>> {
                <$t>::weights(self, p, c).map(<[f32]>::to_vec)
            }
            fn set_weights(&mut self, p: &str, c: usize, w: &[f32]) -> $crate::error::Result<()> {
                <$t>::set_weights(self, p, c, w)
            }
            fn normalize_columns(&mut self, p: &str, s: f32) -> $crate::error::Result<()> {
                <$t>::normalize_columns(self, p, s)
            }
            fn state(&self, p: &str, v: &str, c: usize) -> $crate::error::Result<Vec<f32>> {
                <$t>::state(self, p, v, c)
            }
            fn set_state(
                &mut self,
                p: &str,
                v: &str,
                c: usize,
                x: &[f32],
            ) -> $crate::error::Result<()> {
                <$t>::set_state(self, p, v, c, x)
            }
            fn recording(
                &self,
                m: &str,
                c: usize,
            ) -> $crate::error::Result<&$crate::model::net::Recording> {
                <$t>::recording(self, m, c)
            }
            fn clear_recordings(&mut self) {
                <$t>::clear_recordings(self)
            }
            fn run_counting(&mut self, s: u32, p: &str) -> $crate::error::Result<Vec<Vec<u32>>> {
                <$t>::run_counting(self, s, p)
            }
            fn rest(&mut self, c: usize) -> $crate::error::Result<()> {
                <$t>::rest(self, c)
            }
            fn set_poisson_stream(
                &mut self,
                p: &str,
                c: usize,
                key: u32,
                origin: u32,
            ) -> $crate::error::Result<()> {
                <$t>::set_poisson_stream(self, p, c, key, origin)
            }
            fn run_trials(
                &mut self,
                c: usize,
                src: &str,
                trials: &[$crate::backend::Trial<'_>],
                steps: u32,
                p: &str,
            ) -> $crate::error::Result<Vec<Vec<u32>>> {
                <$t>::run_trials(self, c, src, trials, steps, p)
            }
            fn network_state(
                &self,
            ) -> $crate::error::Result<$crate::model::net::state::NetworkState> {
                $crate::backend::simulator::IntoStateResult::into_state_result(<$t>::network_state(
                    self,
                ))
            }
            fn set_network_state(
                &mut self,
                s: &$crate::model::net::state::NetworkState,
            ) -> $crate::error::Result<()> {
                <$t>::set_network_state(self, s)
            }
        }
    };
}
pub(crate) use impl_simulator;
