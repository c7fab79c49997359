//! Where everything of a [`Network`] lives in the general GPU engine's buffers: one region per
//! population, projection and monitor, each with the copies (the batch) as its outer
//! dimension, and the buffers' initial contents. `program` bakes these offsets into the WGSL
//! as constants; the driver (`engine`) uploads, reads back and decodes with the same numbers.
//!
//! | buffer | holds (per region, `[outer][…]`) |
//! |---|---|
//! | `fstate` | each neuron population's float variables `[copy][neuron]` (v, θ, then ge, gi or custom) |
//! | `ustate` | refractory counters and spike counts `[copy][neuron]`; last arrival step of each plastic synapse, or of each pre neuron and delay (buckets), `[copy][entry]`; synapses filed with each post neuron of a pushed projection in a step `[copy][post][FILED_MAX]` |
//! | `bits` | spike history bitsets of each population `[slot][copy][word]` (each population keeps one slot more than its longest outgoing delay needs: a neuron population's spikes of step `t` are stored as emitted at `t + 1`, and the network state still holds the oldest step a projection's history does; under the fused schedule a source's words of step `t + 1` may be written before the last reads of step `t` are ordered by a barrier) |
//! | `wsyn` | weights `[copy][synapse]` |
//! | `fwork` | inputs `[target][copy][neuron]`; delay rings `[slot][copy][post]`; post1, post2 `[copy][post]`; pre trace at each last arrival `[copy][entry]` (all-to-all pairing); the normalisation's block sums `[copy][block][post]` (one region, the largest projection's) |
//! | `tables` | CSR rows and columns, synapses by post, delays, Poisson thresholds `[copy][neuron]`, stream keys and origin steps `[copy]`, spike times, pre-trace tables, state monitor slots |
//! | `rec_bits`, `rec_vals` | recordings of the steps of one submission `[row][copy][…]` |
//! | `filed_counts` (atomic; only with pushed projections) | synapses filed with each post neuron in a step `[copy][post]`, back to 0 once summed |

use crate::error::{Result, SnnError};
use crate::model::net::projection::{DelaySteps, Synapses};
use crate::model::net::{
    copy_key, poisson_thresholds, Connectivity, Delivery, MonitorKind, Network, PopulationKind,
    Projection, NORM_BLOCK,
};
use crate::model::stdp::decay_table;
use crate::model::stdp::{DerivedStdp, StdpParams, StdpRule};
use crate::model::{DerivedNeuron, NeuronKind, NeuronModel, Sign, Target};

/// Never-arrived marker of a synapse's last arrival (`NONE` in WGSL).
pub(crate) const NEVER: u32 = u32::MAX;

/// The bit of a series' stop word ([`Layout::series_stop`]) that says the round's steps
/// did not all run in the submission's dispatches (the host runs the rest).
pub(crate) const SERIES_STALLED: u32 = 1 << 31;

/// How a projection's spikes reach its post population (`DENSE` … in `propagate.wgsl`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ProjKind {
    /// All-to-all: synapse `k = j·n_post + i`.
    Dense,
    /// CSR rows by pre; a post neuron finds its synapse by binary search in the row.
    Sparse,
    /// Synapse `k = i` from pre `i` to post `i`.
    OneToOne,
    /// All-but-self with one weight, a uniform delay and no STDP: `w · (count − self)`.
    TotalMinusSelf(f32),
    /// Sparse without STDP, with one delay and nothing in flight in a ring (delivered at
    /// arrival, or at emission without delay): the spikes arriving in a step file their
    /// synapses with their post neurons (`push_<q>`, one invocation per pre spike word;
    /// atomic counts, up to [`FILED_MAX`] synapses kept per post neuron), and each post
    /// neuron sums what it was filed in ascending synapse order, which is ascending pre
    /// (a sort of a few); one filed more walks the synapses that reach it, ascending pre
    /// (GeNN's post-span). Its cost follows the spikes, as the CPU's scatter does, where a
    /// post neuron scanning every spike (`Sparse`) costs the post neurons times the spikes.
    Push,
}

/// The most synapses filed with one post neuron in one step that a pushed projection
/// sorts (`FILED_MAX` in `propagate.wgsl`); past it, the post neuron walks its synapses.
pub(crate) const FILED_MAX: u32 = 16;

impl ProjKind {
    pub fn code(self) -> u32 {
        match self {
            ProjKind::Dense => 0,
            ProjKind::Sparse => 1,
            ProjKind::OneToOne => 2,
            ProjKind::TotalMinusSelf(_) => 3,
            ProjKind::Push => 4,
        }
    }
}

/// A population's spike words: `PopBits` in `emit.wgsl`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PopBits {
    pub base: u32,
    pub slots: u32,
    pub words: u32,
    /// First word of its recording in `rec_bits`, if a monitor watches its spikes.
    pub rec: Option<u32>,
    /// Summaries `[slot][copy][sum word]` in `bits`: bit `l` of summary word `s` is set
    /// when spike word `32s + l` of that slot may be non-zero (a superset: exact where the
    /// step's `summarize_<p>` pass built it, all ones where unknown).
    pub sum: u32,
    /// Summary words per copy: ⌈words / 32⌉.
    pub sum_words: u32,
    /// Spike lists `[slot][copy][1 + 32 · words]` in `bits` (the count, then the neurons
    /// ascending), built with the summaries, for a population that a dense or sparse
    /// projection scans and that has one summary word (at most 1,024 neurons).
    pub list: Option<u32>,
}

impl PopBits {
    /// Writes the exact summaries of every slot and copy of `bits` (the whole `bits`
    /// buffer of a layout with `batch` copies) from its spike words,
    /// and its spike lists.
    pub fn summarize(&self, bits: &mut [u32], batch: u32) {
        let (w, sw) = (self.words as usize, self.sum_words as usize);
        for sc in 0..(self.slots * batch) as usize {
            let words = self.base as usize + sc * w;
            for s in 0..sw {
                let mut mask = 0u32;
                for l in 0..32.min(w - 32 * s) {
                    if bits[words + 32 * s + l] != 0 {
                        mask |= 1 << l;
                    }
                }
                bits[self.sum as usize + sc * sw + s] = mask;
            }
            if let Some(list) = self.list {
                let at = list as usize + sc * self.list_len();
                let mut n = 0;
                for wd in 0..w {
                    let mut x = bits[words + wd];
                    while x != 0 {
                        n += 1;
                        bits[at + n] = (wd * 32) as u32 + x.trailing_zeros();
                        x &= x - 1;
                    }
                }
                bits[at] = n as u32;
            }
        }
    }

    /// Words of one spike list (a slot of a copy).
    pub fn list_len(&self) -> usize {
        1 + 32 * self.words as usize
    }
}

/// What a population is, with its regions.
#[derive(Debug, Clone)]
pub(crate) enum PopRegions {
    Neurons {
        model: Box<NeuronModel>,
        derived: DerivedNeuron,
        /// Each float variable, in `state_var_names` order, with its `fstate` region.
        vars: Vec<(String, u32)>,
        refrac: u32,
        /// Input for `ge`, `gi`, `v` in `fwork`.
        x: [u32; 3],
    },
    Poisson {
        /// Thresholds `[copy][neuron]`, stream keys `[copy]` and the streams' origin steps
        /// `[copy]` in `tables`: neuron `i` draws `rng_u32(key, t − origin, i)` at step `t`.
        thr: u32,
        keys: u32,
        origins: u32,
        /// Where the engine runs series with retries ([`Layout::new`]'s `alt_inputs`), two
        /// more sets of thresholds `[set][copy][neuron]` in `tables` (a series' late input
        /// and its retry), and per copy in `ustate` the set it draws from (0: `thr`, 1 or 2:
        /// `alt`'s first or second); `NEVER` where it does not.
        alt: u32,
        set: u32,
    },
    SpikeTimes {
        /// `count` steps, then `count` neurons, in `tables`.
        base: u32,
        count: u32,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct PopLayout {
    pub size: u32,
    pub bits: PopBits,
    /// Spikes of each neuron `[copy][neuron]` in `ustate`, counted at every step (the
    /// engine zeroes them before a counting run).
    pub count: u32,
    pub regions: PopRegions,
}

/// A plastic projection's rule and regions.
#[derive(Debug, Clone)]
pub(crate) struct StdpRegions {
    pub params: StdpParams,
    pub derived: DerivedStdp,
    /// post1 `[copy][post]`, then post2, in `fwork`.
    pub traces: u32,
    /// Last arrival `[copy][entry]` in `ustate`: an entry per synapse, or with buckets an
    /// entry per pre neuron and delay (`j · slots + d`), which every synapse of `j` with
    /// delay `d` shares (the CPU engine's buckets, `cpu::engine::propagate`).
    pub last: u32,
    /// All-to-all pairing (`StdpRule::PairAllToAll`): the pre trace just after the last
    /// arrival `[copy][entry]` in `fwork`; `NEVER` for nearest-spike rules.
    pub pre_at_last: u32,
    /// Buckets: a dense projection with per-synapse delays records its arrivals per pre
    /// neuron and delay, once per step (`arrive_buckets`, `propagate.wgsl`), not at every
    /// synapse's depression.
    pub buckets: bool,
    /// Entries of `last` (and `pre_at_last`) per copy.
    pub last_len: u32,
    /// Buckets: 1 for each post neuron `[copy][post]` in `ustate` whose column may hold a
    /// weight below `w_min` or above `w_max` (not a NaN, as in the CPU's depression queue),
    /// which a depression of 0 would still clamp; `NEVER` without buckets. Set by
    /// normalisation and the host.
    pub loose: u32,
    /// Pre-trace table (f32 bits) in `tables`, and its length.
    pub table: u32,
    pub table_len: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct ProjLayout {
    pub pre: usize,
    pub post: usize,
    pub kind: ProjKind,
    pub syn: Synapses,
    pub w_min: f32,
    pub w_max: f32,
    /// Weights `[copy][synapse]` in `wsyn` (none for total minus self).
    pub w: u32,
    /// CSR offsets and columns, synapses by post (offsets, then indices), in `tables`.
    pub rows: u32,
    pub cols: u32,
    pub in_rows: u32,
    pub in_syn: u32,
    /// The pre neuron of each entry of `in_syn` (push), in `tables`.
    pub in_pre: u32,
    /// Push: the synapses filed with each post neuron in a step `[copy][post][FILED_MAX]`
    /// in `ustate`, and their counts `[copy][post]` in `filed_counts` (atomic).
    pub filed: u32,
    pub filed_counts: u32,
    /// The largest in-degree (synapses reaching one post neuron), counted once here: the
    /// bound of a post neuron's walk over its synapses (push), and of potentiation's.
    pub in_max: u32,
    /// Per-synapse delays in `tables` (copy `b`'s at `delays + b · delay_stride`; the
    /// stride is 0 where the copies share them), or the one delay.
    pub delays: Option<u32>,
    pub delay: u32,
    pub delay_stride: u32,
    pub slots: u32,
    pub at_emission: bool,
    /// Ring `[slot][copy][post]` in `fwork` (delivery at emission).
    pub ring: u32,
    /// The post population's input for the target, and how x reaches it (`X_*`).
    pub x: u32,
    pub x_mode: u32,
    pub stdp: Option<StdpRegions>,
    /// Arrival queues (see [`ArrivalQueue`]), where the projection has them.
    pub queue: Option<ArrivalQueue>,
}

/// The arrival queues of a plastic projection delivered at emission with per-synapse delays
/// (`propagate.wgsl`): at emission each post neuron files the synapses of its spikes that
/// arrive later into the queue of their arrival slot, and at arrival depresses the synapses
/// of its queue instead of checking every spike of the delay window for its delay. A queue
/// holds `cap` synapses; a post neuron whose queue would overflow marks the slot's arrival
/// step in `overflow`, and at that step every post neuron of the copy checks the window as
/// before (the same updates: each synapse's depression and arrival record are its own).
/// Derived state: rests empty the queues, and a restored state or learning switched on
/// marks every slot of the next `slots` steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ArrivalQueue {
    /// Synapses per post neuron and slot.
    pub cap: u32,
    /// Queue lengths `[slot][copy][post]` in `ustate`.
    pub counts: u32,
    /// Queued synapses `[slot][copy][post][cap]` in `ustate`.
    pub entries: u32,
    /// Per copy and slot, the arrival step whose queues overflowed `[copy][slot]` in
    /// `ustate` (`NEVER`: none).
    pub overflow: u32,
}

/// The most `ustate` words the arrival queues of one projection may take (all copies): a
/// smaller capacity is taken where the default one would pass it, none below 4.
const QUEUE_WORDS_MAX: u64 = 8 << 20;

impl ProjLayout {
    pub fn n_syn(&self) -> u32 {
        self.syn.len() as u32
    }

    /// The loose flag of each post neuron (`StdpRegions::loose`) for a copy's weights `w`: 1
    /// where its column holds a weight below `w_min` or above `w_max` (a NaN is not).
    pub fn loose_columns(&self, w: &[f32]) -> Vec<u32> {
        let mut loose = vec![0u32; self.syn.n_post as usize];
        for (&x, &i) in w.iter().zip(&self.syn.post) {
            if x < self.w_min || x > self.w_max {
                loose[i as usize] = 1;
            }
        }
        loose
    }

    /// Where synapse `k` keeps its last arrival in a copy's entries (`StdpRegions::last`):
    /// its bucket `j · slots + d` with buckets (dense: `j = k / n_post`), itself otherwise.
    pub fn arrival_index(&self, copy: usize, k: usize) -> usize {
        match self.stdp.as_ref().is_some_and(|s| s.buckets) {
            true => {
                let j = k / self.syn.n_post as usize;
                j * self.slots as usize + self.syn.delays(copy).of(k) as usize
            }
            false => k,
        }
    }

    /// Whether spikes wait in a ring of future input (delivery at emission; total minus
    /// self and push need none).
    pub fn has_ring(&self) -> bool {
        self.at_emission && !matches!(self.kind, ProjKind::TotalMinusSelf(_) | ProjKind::Push)
    }

    /// The synapses reaching post neuron `i`, ascending pre (for sparse ones: from `in_syn`).
    pub fn by_post(&self) -> (Vec<u32>, Vec<u32>) {
        let n_post = self.syn.n_post as usize;
        let mut offsets = vec![0u32; n_post + 1];
        for &i in &self.syn.post {
            offsets[i as usize + 1] += 1;
        }
        for i in 0..n_post {
            offsets[i + 1] += offsets[i];
        }
        let mut fill = offsets.clone();
        let mut syn = vec![0u32; self.syn.len()];
        for (k, &i) in self.syn.post.iter().enumerate() {
            syn[fill[i as usize] as usize] = k as u32;
            fill[i as usize] += 1;
        }
        (offsets, syn)
    }
}

/// How a monitor's recording is decoded.
#[derive(Debug, Clone)]
pub(crate) enum MonitorRegions {
    Spikes {
        pop: usize,
        mask: Option<Vec<bool>>,
    },
    Rate {
        pop: usize,
    },
    /// Slots `first .. first + neurons.len()` of `rec_vals`.
    State {
        first: u32,
        neurons: Vec<u32>,
    },
}

/// A bump allocator of `u32`/`f32` elements in one buffer.
#[derive(Debug, Default, Clone, Copy)]
struct Alloc(u64);

impl Alloc {
    fn take(&mut self, n: u64) -> u32 {
        let at = self.0;
        self.0 += n;
        at as u32
    }
}

/// The allocator of `tables`, which keeps where each region starts: a binding holds whole
/// regions ([`Layout::split_tables`]).
#[derive(Debug, Default, Clone)]
struct TableAlloc {
    len: u64,
    starts: Vec<u64>,
}

impl TableAlloc {
    fn take(&mut self, n: u64) -> u32 {
        self.starts.push(self.len);
        let at = self.len;
        self.len += n;
        at as u32
    }
}

/// The whole layout and the buffers' initial contents.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub batch: u32,
    /// Rows (steps) per submission that the recording buffers hold.
    pub rows: u32,
    pub pops: Vec<PopLayout>,
    pub projs: Vec<ProjLayout>,
    pub monitors: Vec<MonitorRegions>,
    /// State monitor slots: `3 · n` entries from `slot_table` in `tables`.
    pub slot_table: u32,
    pub n_slots: u32,
    /// Names of the custom variables of every custom population (the `NeuronState` fields
    /// after `ge`, `gi`).
    pub custom_vars: Vec<String>,
    pub fstate: Vec<f32>,
    pub ustate: Vec<u32>,
    pub wsyn: Vec<f32>,
    pub tables: Vec<u32>,
    /// Where each region of `tables` starts (ascending).
    pub table_regions: Vec<u64>,
    /// The first index of each binding's part of `tables` (`[0]`: one binding; see
    /// [`Layout::split_tables`]).
    pub table_parts: Vec<u32>,
    pub bits_len: u64,
    pub fwork_len: u64,
    /// The normalisation's block sums `[copy][block][post]` in `fwork`, one region that
    /// every projection's normalisation uses in turn ([`Self::norm_blocks`]).
    pub norm_sums: u32,
    /// Words of `filed_counts` (atomic; 0: no pushed projection).
    pub counts_len: u64,
    /// The fused schedule's progress words in `ustate`: `[copy]` steps of the submission
    /// done, then `[copy]` dispatches that ran a step; then `[copy]` marks of a decay done
    /// ([`Self::decay_marks`]); then `[projection]` weight flags ([`Self::weight_flag`]);
    /// then a series' stop word ([`Self::series_stop`]) and `[copy]` least counts
    /// ([`Self::series_min`]).
    pub ctl: u32,
    /// `rec_bits` words per row (all copies), `rec_vals` values per row.
    pub rec_bits_per_row: u64,
    pub rec_vals_per_row: u64,
}

impl Layout {
    /// The words of the largest region of `tables`: what one binding must hold at least.
    pub fn largest_table_region(&self) -> u64 {
        self.table_region_bounds()
            .map(|(a, b)| b - a)
            .max()
            .unwrap_or(0)
    }

    /// The words one copy adds to the largest region of `tables` that grows with the
    /// copies: a Poisson source's thresholds (three sets of them where it keeps a series'
    /// inputs: its region of two sets is the larger) or a projection's delays of its own.
    pub fn largest_table_region_per_copy(&self) -> u64 {
        let sources = self.pops.iter().map(|p| match p.regions {
            PopRegions::Poisson { alt, .. } if alt != NEVER => 2 * p.size as u64,
            PopRegions::Poisson { .. } => p.size as u64,
            _ => 0,
        });
        let delays = self.projs.iter().map(|p| p.delay_stride as u64);
        sources.chain(delays).max().unwrap_or(0)
    }

    fn table_region_bounds(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let ends = self.table_regions.iter().skip(1).copied();
        let ends = ends.chain(std::iter::once(self.tables.len() as u64));
        self.table_regions.iter().copied().zip(ends)
    }

    /// Splits `tables` between bindings of at most `max_words` each (the adapter's
    /// `max_storage_buffer_binding_size`), whole regions in each, in order: sets
    /// `table_parts`. No region may be larger than `max_words`
    /// ([`Self::largest_table_region`]).
    pub fn split_tables(&mut self, max_words: u64) {
        debug_assert!(self.largest_table_region() <= max_words);
        let mut parts = vec![0u64];
        for (a, b) in self.table_region_bounds() {
            if b - parts[parts.len() - 1] > max_words {
                parts.push(a);
            }
        }
        self.table_parts = parts.into_iter().map(|p| p as u32).collect();
    }

    /// The `ustate` entry of projection `q`'s weight flag: 1 where a weight of it written
    /// on the device (STDP, normalisation) or checked (`check_<q>`) is NaN or infinite.
    pub fn weight_flag(&self, q: usize) -> u32 {
        self.ctl + 3 * self.batch + q as u32
    }

    /// The blocks of [`NORM_BLOCK`] synapses of projection `q`'s longest column (at least
    /// one): the invocations per post neuron and copy of its normalisation's two passes and
    /// of its weight check.
    pub fn norm_blocks(&self, q: usize) -> u32 {
        norm_blocks(self.projs[q].in_max)
    }

    /// The `ustate` entry of copy 0's mark of a decay done (`scale_mark`), `batch` of them.
    pub fn decay_marks(&self) -> u32 {
        self.ctl + 2 * self.batch
    }

    /// The `ustate` entry of a series' stop word (`protocol::present_series`): 0 while the
    /// series goes on, else 1 + the round whose judge stopped it, with [`SERIES_STALLED`]
    /// where a copy had not run all of that round's steps.
    pub fn series_stop(&self) -> u32 {
        self.weight_flag(self.projs.len())
    }

    /// The `ustate` entry of copy 0's least count in a series (`batch` of them): a round in
    /// which a copy's counted population spiked fewer times over the steps on stops it.
    pub fn series_min(&self) -> u32 {
        self.series_stop() + 1
    }

    /// The `ustate` entry of copy 0's mark of a late copy in a series (`batch` of them): 1
    /// once it has retried (`backend::simulator::Cursor`).
    pub fn series_late(&self) -> u32 {
        self.series_min() + self.batch
    }

    /// The `ustate` entry of copy 0's retry flag in a series' round (`batch` of them): 1
    /// where the round's planned input has a retry.
    pub fn series_retry(&self) -> u32 {
        self.series_late() + self.batch
    }

    /// The `ustate` entry that holds where the series' source keeps its copies' input sets
    /// (`PopRegions::Poisson::set`).
    pub fn series_sets(&self) -> u32 {
        self.series_retry() + self.batch
    }

    /// The part of `tables` that holds `[at, at + n)` (within one region), and the offset of
    /// `at` in it.
    pub fn table_part(&self, at: u64, n: u64) -> (usize, u64) {
        let part = self.table_parts.partition_point(|&p| p as u64 <= at) - 1;
        debug_assert!(
            self.table_parts
                .get(part + 1)
                .is_none_or(|&end| at + n <= end as u64),
            "a region of the tables spans two bindings"
        );
        (part, at - self.table_parts[part] as u64)
    }

    /// The `ustate` words of every arrival queue (all copies).
    pub fn queue_words(&self) -> u64 {
        self.projs
            .iter()
            .filter_map(|p| {
                let cells = p.slots as u64 * self.batch as u64 * p.syn.n_post as u64;
                p.queue
                    .map(|q| cells * (q.cap as u64 + 1) + self.batch as u64 * p.slots as u64)
            })
            .sum()
    }
}

/// The channel of a target (`ge`, `gi`, `v`) and whether it subtracts.
fn channel(t: Target) -> (usize, bool) {
    match t {
        Target::Ge => (0, false),
        Target::Gi => (1, false),
        Target::Membrane { sign } => (2, sign == Sign::Inhibitory),
    }
}

/// The blocks of [`NORM_BLOCK`] synapses of a column of `in_max` (at least one).
fn norm_blocks(in_max: u32) -> u32 {
    in_max.div_ceil(NORM_BLOCK as u32).max(1)
}

/// The most synapses of `syn` reaching one post neuron (0 without synapses).
fn max_in_degree(syn: &Synapses) -> u32 {
    let mut in_degree = vec![0u32; syn.n_post as usize];
    for &i in &syn.post {
        in_degree[i as usize] += 1;
    }
    in_degree.into_iter().max().unwrap_or(0)
}

/// How a projection's spikes reach its post population: by connectivity, as the CPU
/// engine's strategies. Every kind sums a post neuron's input in ascending pre order, as
/// the CPU does.
fn kind_of(p: &Projection, syn: &Synapses) -> ProjKind {
    let plastic = p.stdp.is_some();
    let at_emission = p.delivery == Delivery::AtEmission;
    if let Some(w) = p.total_minus_self_weight(syn) {
        return ProjKind::TotalMinusSelf(w);
    }
    match (&p.connectivity, syn.delays(0)) {
        (Connectivity::AllToAll, _) => ProjKind::Dense,
        (Connectivity::OneToOne, _) => ProjKind::OneToOne,
        (_, DelaySteps::Uniform(d)) if !plastic && (!at_emission || *d == 0) => ProjKind::Push,
        _ => ProjKind::Sparse,
    }
}

impl Layout {
    /// The layout of a valid `net`, recording up to `rows` steps per submission, with
    /// arrival queues of `queue_cap` synapses where a projection takes them
    /// ([`ArrivalQueue`]; 0: none).
    ///
    /// # Errors
    /// [`SnnError::Unsupported`] for custom models whose variable names clash with `ge`,
    /// `gi` or another model's parameters, and for state monitors of sources.
    pub fn new(net: &Network, rows: u32, queue_cap: u32, alt_inputs: bool) -> Result<Self> {
        let batch = net.batch() as u32;
        let k = batch as u64;
        let dt = net.dt_ms;
        let (mut fs, mut us, mut bits, mut ws, mut fw) = (
            Alloc::default(),
            Alloc::default(),
            Alloc::default(),
            Alloc::default(),
            Alloc::default(),
        );
        let mut tb = TableAlloc::default();
        let mut counts = Alloc::default();
        let mut fstate = vec![];
        let mut ustate = vec![];
        let mut wsyn = vec![];
        let mut tables: Vec<u32> = vec![];

        // Synapses first: the populations' history depth is the longest outgoing delay.
        let mut syns = vec![];
        let mut slots_of_pop = vec![1u32; net.populations.len()];
        for p in &net.projections {
            let pre = net.population_index(&p.pre)?;
            let post = net.population_index(&p.post)?;
            let syn = p.synapses(net.populations[pre].size, net.populations[post].size, dt);
            let slots = syn.max_delay() + 1;
            slots_of_pop[pre] = slots_of_pop[pre].max(slots);
            syns.push((pre, post, syn, slots));
        }
        // Populations that a dense or sparse projection scans (summaries and lists), or whose
        // spikes a total-minus-self projection counts (from the list, where there is one).
        let mut scanned = vec![false; net.populations.len()];
        for (p, (pre, _, syn, _)) in net.projections.iter().zip(&syns) {
            let kind = kind_of(p, syn);
            if matches!(
                kind,
                ProjKind::Dense | ProjKind::Sparse | ProjKind::TotalMinusSelf(_)
            ) {
                scanned[*pre] = true;
            }
        }
        // One slot more than the longest delay: a step writes the slot of one step past the
        // oldest it reads (neurons emit step t + 1 while propagation reads t − max ..= t;
        // under the fused schedule, the sources of step t + 1 may emit before the last
        // reads of step t are ordered by a barrier: `fused::sources_open_the_step`).
        for s in slots_of_pop.iter_mut() {
            *s += 1;
        }
        let recorded: Vec<bool> = (0..net.populations.len())
            .map(|p| {
                net.monitors.iter().any(|m| {
                    !matches!(m.kind, MonitorKind::State { .. })
                        && net.population_index(&m.population).ok() == Some(p)
                })
            })
            .collect();

        let mut custom_vars: Vec<String> = vec![];
        let mut rec_words = 0u64;
        let mut pops = vec![];
        for (pi, pop) in net.populations.iter().enumerate() {
            let n = pop.size as u64;
            let words = pop.size.div_ceil(32);
            let slots = slots_of_pop[pi];
            let bits_base = bits.take(slots as u64 * k * words as u64);
            let sum_words = words.div_ceil(32);
            let sum = bits.take(slots as u64 * k * sum_words as u64);
            let list = (scanned[pi] && sum_words == 1)
                .then(|| bits.take(slots as u64 * k * (1 + 32 * words as u64)));
            let rec = recorded[pi].then(|| {
                let at = rec_words;
                rec_words += k * words as u64;
                at as u32
            });
            let regions = match &pop.kind {
                PopulationKind::Neurons(m) => {
                    let names = m.state_var_names();
                    let init = m.initial_values();
                    if let NeuronKind::Custom(c) = &m.kind {
                        for (name, _) in &c.state_vars {
                            if ["v", "theta", "refrac", "ge", "gi"].contains(&name.as_str())
                                || c.params.iter().any(|(p, _)| p == name)
                            {
                                return Err(SnnError::Unsupported(format!(
                                    "population `{}`: custom variable `{name}` clashes with a \
                                     built-in variable or a parameter of its model in the GPU \
                                     program; rename it",
                                    pop.name
                                )));
                            }
                            if !custom_vars.contains(name) {
                                custom_vars.push(name.clone());
                            }
                        }
                    }
                    let vars = names
                        .iter()
                        .zip(&init)
                        .map(|(name, &v0)| {
                            let at = fs.take(k * n);
                            fstate.resize(fs.0 as usize, v0);
                            (name.clone(), at)
                        })
                        .collect();
                    let refrac = us.take(k * n);
                    ustate.resize(us.0 as usize, 0);
                    let x = [fw.take(k * n), fw.take(k * n), fw.take(k * n)];
                    PopRegions::Neurons {
                        model: Box::new(m.clone()),
                        derived: m.derive(dt),
                        vars,
                        refrac,
                        x,
                    }
                }
                PopulationKind::Poisson { rates_hz } => {
                    let thr = tb.take(k * n);
                    let keys = tb.take(k);
                    let origins = tb.take(k);
                    let th = poisson_thresholds(rates_hz, dt);
                    for _ in 0..k {
                        tables.extend_from_slice(&th);
                    }
                    tables.extend(net.seeds.iter().map(|&s| copy_key(s, pi)));
                    tables.extend(std::iter::repeat_n(0, k as usize));
                    let (alt, set) = match alt_inputs {
                        true => {
                            let alt = tb.take(2 * k * n);
                            tables.resize(tables.len() + 2 * (k * n) as usize, 0);
                            let set = us.take(k);
                            ustate.resize(us.0 as usize, 0);
                            (alt, set)
                        }
                        false => (NEVER, NEVER),
                    };
                    PopRegions::Poisson {
                        thr,
                        keys,
                        origins,
                        alt,
                        set,
                    }
                }
                PopulationKind::SpikeTimes { spikes } => {
                    let mut pairs: Vec<(u32, u32)> = spikes
                        .iter()
                        .map(|&(i, t_ms)| ((t_ms / dt).round() as u32, i))
                        .collect();
                    pairs.sort_unstable();
                    pairs.dedup();
                    let count = pairs.len() as u32;
                    let base = tb.take(2 * count as u64);
                    tables.extend(pairs.iter().map(|p| p.0));
                    tables.extend(pairs.iter().map(|p| p.1));
                    PopRegions::SpikeTimes { base, count }
                }
            };
            let count = us.take(k * n);
            ustate.resize(us.0 as usize, 0);
            pops.push(PopLayout {
                size: pop.size,
                count,
                bits: PopBits {
                    base: bits_base,
                    slots,
                    words,
                    rec,
                    sum,
                    sum_words,
                    list,
                },
                regions,
            });
        }

        let mut first_into = std::collections::HashSet::new();
        let mut projs = vec![];
        for (q, (p, (pre, post, syn, slots))) in net.projections.iter().zip(syns).enumerate() {
            let n_syn = syn.len() as u64;
            let n_post = syn.n_post as u64;
            let kind = kind_of(p, &syn);
            let w = if let ProjKind::TotalMinusSelf(_) = kind {
                0
            } else {
                let at = ws.take(k * n_syn);
                for (c, &seed) in net.seeds.iter().enumerate() {
                    wsyn.extend(p.initial_weights(&syn, (c, seed), q));
                }
                at
            };
            let mut layout = ProjLayout {
                pre,
                post,
                kind,
                w_min: p.w_min,
                w_max: p.w_max,
                w,
                rows: 0,
                cols: 0,
                in_rows: 0,
                in_syn: 0,
                in_pre: 0,
                filed: 0,
                filed_counts: 0,
                in_max: max_in_degree(&syn),
                delays: None,
                delay: 0,
                delay_stride: 0,
                slots,
                at_emission: p.delivery == Delivery::AtEmission,
                ring: 0,
                x: 0,
                x_mode: 0,
                stdp: None,
                queue: None,
                syn,
            };
            if matches!(kind, ProjKind::Sparse | ProjKind::Push) {
                let (in_rows, in_syn) = layout.by_post();
                if kind == ProjKind::Push {
                    layout.filed = us.take(k * n_post * FILED_MAX as u64);
                    ustate.resize(us.0 as usize, 0);
                    layout.filed_counts = counts.take(k * n_post);
                    let pre_of: Vec<u32> = (0..layout.syn.n_pre)
                        .flat_map(|j| {
                            let o = &layout.syn.offsets;
                            std::iter::repeat_n(j, (o[j as usize + 1] - o[j as usize]) as usize)
                        })
                        .collect();
                    layout.in_pre = tb.take(n_syn);
                    tables.extend(in_syn.iter().map(|&k| pre_of[k as usize]));
                }
                layout.rows = tb.take(layout.syn.offsets.len() as u64);
                tables.extend_from_slice(&layout.syn.offsets);
                layout.cols = tb.take(n_syn);
                tables.extend_from_slice(&layout.syn.post);
                layout.in_rows = tb.take(in_rows.len() as u64);
                tables.extend(in_rows);
                layout.in_syn = tb.take(n_syn);
                tables.extend(in_syn);
            }
            if let DelaySteps::Uniform(d) = layout.syn.delays(0) {
                layout.delay = *d;
            } else {
                // One table per set of delays: the copies' own, or one they share.
                let sets = layout.syn.delays.len() as u64;
                layout.delays = Some(tb.take(sets * n_syn));
                layout.delay_stride = if sets > 1 { n_syn as u32 } else { 0 };
                for set in &layout.syn.delays {
                    if let DelaySteps::PerSynapse(d) = set {
                        tables.extend_from_slice(d);
                    }
                }
            }
            if layout.has_ring() {
                layout.ring = fw.take(slots as u64 * k * n_post);
            }
            let PopRegions::Neurons { x, .. } = &pops[post].regions else {
                unreachable!("validate: a projection's post population is neurons")
            };
            let (ch, sub) = channel(p.target);
            layout.x = x[ch];
            let first = first_into.insert((post, ch));
            layout.x_mode = match (first, sub) {
                (true, false) => 0,
                (false, false) => 1,
                (true, true) => 2,
                (false, true) => 3,
            };
            if let Some(s) = p.stdp {
                let d = s.derive(dt);
                let table = decay_table(d.decay_pre_per_step);
                let traces = fw.take(2 * k * n_post);
                let buckets = kind == ProjKind::Dense && layout.delays.is_some();
                let last_len = match buckets {
                    true => layout.syn.n_pre * slots,
                    false => n_syn as u32,
                };
                let last = us.take(k * last_len as u64);
                ustate.resize(us.0 as usize, NEVER);
                // Buckets: which columns may hold a weight outside [w_min, w_max] (initial
                // weights are inside; normalisation and the host set them).
                let loose = match buckets {
                    true => us.take(k * n_post),
                    false => NEVER,
                };
                ustate.resize(us.0 as usize, 0);
                let pre_at_last = match s.rule {
                    StdpRule::PairAllToAll => fw.take(k * last_len as u64),
                    _ => NEVER,
                };
                let t_at = tb.take(table.len() as u64);
                tables.extend(table.iter().map(|x| x.to_bits()));
                layout.stdp = Some(StdpRegions {
                    params: s,
                    derived: d,
                    traces,
                    last,
                    pre_at_last,
                    buckets,
                    last_len,
                    loose,
                    table: t_at,
                    table_len: table.len() as u32,
                });
                // Arrival queues: depression at arrival through per-synapse delays, the
                // pre population's spikes listed (the overflow check counts its loop
                // passes from the lists).
                let listed = pops[pre].bits.list.is_some();
                let dense_or_sparse = matches!(kind, ProjKind::Dense | ProjKind::Sparse);
                if queue_cap > 0
                    && layout.at_emission
                    && layout.delays.is_some()
                    && dense_or_sparse
                    && listed
                {
                    let cells = slots as u64 * k * n_post;
                    let mut cap = queue_cap as u64;
                    while cap > 4 && cells * (cap + 1) > QUEUE_WORDS_MAX {
                        cap /= 2;
                    }
                    if cells * (cap + 1) <= QUEUE_WORDS_MAX {
                        let counts = us.take(cells);
                        let entries = us.take(cells * cap);
                        ustate.resize(us.0 as usize, 0);
                        let overflow = us.take(k * slots as u64);
                        ustate.resize(us.0 as usize, NEVER);
                        layout.queue = Some(ArrivalQueue {
                            cap: cap as u32,
                            counts,
                            entries,
                            overflow,
                        });
                    }
                }
            }
            projs.push(layout);
        }

        let mut monitors = vec![];
        let mut n_slots = 0u32;
        let mut slot_entries = vec![];
        for m in &net.monitors {
            let pop = net.population_index(&m.population)?;
            monitors.push(match &m.kind {
                MonitorKind::Spikes { neurons } => MonitorRegions::Spikes {
                    pop,
                    mask: neurons.as_ref().map(|ns| {
                        let mut mask = vec![false; net.populations[pop].size as usize];
                        for &i in ns {
                            mask[i as usize] = true;
                        }
                        mask
                    }),
                },
                MonitorKind::Rate => MonitorRegions::Rate { pop },
                MonitorKind::State { variable, neurons } => {
                    let PopRegions::Neurons { model, vars, .. } = &pops[pop].regions else {
                        return Err(SnnError::Unsupported(format!(
                            "state monitor `{}` of a source",
                            m.name
                        )));
                    };
                    let var = vars[model.var_index(variable)?].1;
                    for &i in neurons {
                        slot_entries.extend([var, pops[pop].size, i]);
                    }
                    let first = n_slots;
                    n_slots += neurons.len() as u32;
                    MonitorRegions::State {
                        first,
                        neurons: neurons.clone(),
                    }
                }
            });
        }
        // The fused schedule's progress: per copy, the steps of the submission done, then
        // the dispatches that ran at least one; then per copy whether a run's state decay is
        // done (`scale_state`, `program`); then per projection the flag of a weight that is
        // not finite (`Layout::weight_flag`); then a series' stop word, per copy its least
        // count, whether it is late and whether its round's input has a retry, and the
        // `ustate` entry of the series' source's input sets (`Layout::series_stop`).
        let ctl = us.take(3 * k + projs.len() as u64 + 1 + 3 * k + 1);
        let norm_len = projs
            .iter()
            .filter(|p| !matches!(p.kind, ProjKind::TotalMinusSelf(_)))
            .map(|p| norm_blocks(p.in_max) as u64 * p.syn.n_post as u64)
            .max()
            .unwrap_or(0);
        let norm_sums = fw.take(k * norm_len);
        ustate.resize(us.0 as usize, 0);
        let slot_table = tb.take(slot_entries.len() as u64);
        tables.extend(slot_entries);

        // The rec regions were numbered per row; a population's region is rows long.
        for p in &mut pops {
            if let Some(r) = &mut p.bits.rec {
                *r = r.checked_mul(rows).ok_or_else(|| {
                    SnnError::invalid(
                        "steps_per_submit",
                        rows,
                        "fewer steps per submission: its spike recordings pass 2^32 words",
                    )
                })?;
            }
        }
        debug_assert_eq!(tables.len() as u64, tb.len);
        debug_assert_eq!(wsyn.len() as u64, ws.0);
        Ok(Layout {
            batch,
            rows,
            pops,
            projs,
            monitors,
            slot_table,
            n_slots,
            custom_vars,
            fstate,
            ustate,
            wsyn,
            tables,
            table_regions: tb.starts,
            table_parts: vec![0],
            bits_len: bits.0,
            fwork_len: fw.0,
            norm_sums,
            counts_len: counts.0,
            ctl,
            rec_bits_per_row: rec_words,
            rec_vals_per_row: n_slots as u64 * k,
        })
    }
}
