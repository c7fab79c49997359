//! The depression queue: a strategy for a plastic all-to-all projection with per-synapse
//! delays and a rule that depresses at arrival, which visits only the arriving synapses
//! whose depression can change a weight.
//!
//! An arriving synapse `(j, i)` sets `w = clamp(w − ν_pre·post1[i])`. Once `ν_pre·post1[i]`
//! rounds to 0 it stays 0 until post neuron `i` fires again (post1 only decays), and then
//! the update leaves every weight inside `[w_min, w_max]` as it is. In a winner-take-all
//! layer that holds for most post neurons at any step (about 95 % in Diehl & Cook), so the
//! queue keeps the arrivals of the other neurons only: the same weights bit for bit, at a
//! fraction of the work. It is derived state: `DepressionQueue::rebuild` makes it from the
//! ring of recent pre spikes at the start of every learning run, so states and rests need
//! not hold it. A queue covers the post neurons of one chunk of the step (`lo..hi`), so
//! the chunks keep their queues apart.

/// Never-covered marker.
const NEVER: u32 = u32::MAX;

/// The depressions still to come, for the post neurons whose depression can change a weight.
#[derive(Clone, Default)]
pub(crate) struct DepressionQueue {
    /// The first post neuron covered; the per-neuron arrays below start there.
    lo: usize,
    /// Per ring slot (arrival step mod S): the synapses `(k, i)` arriving then.
    pending: Vec<Vec<(u32, u32)>>,
    /// The post neurons whose arrivals are queued, and the same as a mask.
    active: Vec<u32>,
    in_active: Vec<bool>,
    /// Per post neuron: the last emission step whose arrivals at it were queued when it left
    /// `active` (`NEVER`: none since the rebuild).
    covered: Vec<u32>,
    /// Per post neuron: its column held a weight outside `[w_min, w_max]` at the rebuild,
    /// which an arrival clamps even when the depression is 0, so it stays active.
    loose: Vec<bool>,
}

/// What the queue reads of its projection: all-to-all, `n` post neurons, synapse
/// `k = j·n + i` of delay `delays[k]` steps (all under 256), `slots` ring slots.
#[derive(Clone, Copy)]
pub(crate) struct Dense<'a> {
    pub n: usize,
    pub delays: &'a [u8],
    pub slots: u32,
}

impl DepressionQueue {
    /// Starts a learning run at step `clock`, covering the post neurons `lo..lo +
    /// post1.len()` (`post1` is their slice): every one whose depression `nu_pre·post1` is
    /// not 0 or whose column of `w` leaves `[w_min, w_max]` made active, with the arrivals
    /// still due from the pre spikes in `hist` (the steps before `clock`).
    #[allow(clippy::too_many_arguments)]
    pub fn rebuild(
        &mut self,
        p: &Dense<'_>,
        (w_min, w_max, nu_pre): (f32, f32, f32),
        w: &[f32],
        hist: &[Vec<u32>],
        (lo, post1): (usize, &[f32]),
        clock: u32,
    ) {
        let n = post1.len();
        self.lo = lo;
        self.pending.resize_with(p.slots as usize, Vec::new);
        self.pending.iter_mut().for_each(Vec::clear);
        self.active.clear();
        self.in_active.clear();
        self.in_active.resize(n, false);
        self.covered.clear();
        self.covered.resize(n, NEVER);
        // Comparisons, not f32::min/max: a NaN is skipped, as the bounds of normalisation.
        let mut col_min = vec![f32::INFINITY; n];
        let mut col_max = vec![f32::NEG_INFINITY; n];
        for row in w.chunks_exact(p.n) {
            let cols = row[lo..lo + n].iter();
            for ((&x, l), h) in cols.zip(&mut col_min).zip(&mut col_max) {
                *l = if x < *l { x } else { *l };
                *h = if x > *h { x } else { *h };
            }
        }
        self.loose.clear();
        self.loose.extend(
            col_min
                .iter()
                .zip(&col_max)
                .map(|(&l, &h)| !(l >= w_min && h <= w_max)),
        );
        for (i, &p1) in post1.iter().enumerate() {
            if self.loose[i] || nu_pre * p1 != 0.0 {
                self.join(p, hist, self.lo + i, clock.wrapping_sub(1));
            }
        }
    }

    /// Whether post neuron `i` (one this queue covers) is active.
    #[inline]
    pub fn is_active(&self, i: usize) -> bool {
        self.in_active[i - self.lo]
    }

    /// Makes post neuron `i` active, queueing the arrivals after step `e_last` of the pre
    /// spikes of the steps up to `e_last` that are not queued yet.
    pub fn join(&mut self, p: &Dense<'_>, hist: &[Vec<u32>], i: usize, e_last: u32) {
        let s = p.slots;
        // A spike of age a (emitted at e_last − a) is still due when its delay is > a, so
        // ages up to S − 2 matter; none before step 0.
        let ages = if e_last == NEVER {
            0
        } else {
            (s - 1).min(e_last.saturating_add(1))
        };
        let cover = self.covered[i - self.lo];
        for a in 0..ages {
            let e = e_last - a;
            // The clock never wraps: steps compare as they are (a signed difference
            // dropped the arrivals of a neuron idle for 2^31 steps).
            if cover != NEVER && e <= cover {
                break;
            }
            for &j in &hist[(e % s) as usize] {
                let k = j as usize * p.n + i;
                let lag = p.delays[k] as u32;
                if lag > a {
                    self.pending[((e + lag) % s) as usize].push((k as u32, i as u32));
                }
            }
        }
        self.in_active[i - self.lo] = true;
        self.active.push(i as u32);
    }

    /// Step `now`, once each post neuron's depression is known (`depression`: those this
    /// queue covers): drops the neurons whose depression is 0 (and stays so until they
    /// fire), then queues the arrivals of this step's pre spikes at the active neurons.
    pub fn enqueue(&mut self, p: &Dense<'_>, depression: &[f32], spikes: &[u32], now: u32) {
        let (in_active, covered, loose) = (&mut self.in_active, &mut self.covered, &self.loose);
        let lo = self.lo;
        self.active.retain(|&i| {
            let i = i as usize - lo;
            let keep = depression[i] != 0.0 || loose[i];
            if !keep {
                in_active[i] = false;
                covered[i] = now.wrapping_sub(1);
            }
            keep
        });
        let (s, n) = (p.slots, p.n);
        let slot = now % s;
        for &j in spikes {
            let base = j as usize * n;
            let steps = &p.delays[base..base + n];
            for &i in &self.active {
                let at = slot + steps[i as usize] as u32;
                let at = if at >= s { at - s } else { at };
                self.pending[at as usize].push(((base + i as usize) as u32, i));
            }
        }
    }

    /// The synapses `(k, i)` arriving at ring slot `slot`, to be depressed now; cleared by
    /// [`Self::clear`].
    #[inline]
    pub fn arriving(&self, slot: usize) -> &[(u32, u32)] {
        &self.pending[slot]
    }

    /// Forgets the arrivals of ring slot `slot` (after they were applied).
    #[inline]
    pub fn clear(&mut self, slot: usize) {
        self.pending[slot].clear();
    }
}
