//! Propagation strategies of the general engine, one per kind of projection, and the walk
//! over the synapses that arrive at a step.
//!
//! | strategy | chosen for | a spike of pre `j` reads |
//! |---|---|---|
//! | `Strategy::Dense` | all-to-all | row `j` of `w[pre][post]`, post implicit |
//! | `Strategy::Sparse` | fixed p, fixed in-degree, list; all-but-self when plastic, per-synapse delays or weights | `offsets[j]..offsets[j+1]` with their post indices (CSR) |
//! | `Strategy::OneToOne` | one-to-one | synapse `j` to post `j` |
//! | `Strategy::TotalMinusSelf` | all-but-self with one constant weight, a uniform delay, no STDP | nothing: `w · (count − self)` |
//!
//! Per-synapse delays add `Buckets` to any of them: the synapses of each pre neuron
//! grouped by delay, so that a spike's synapses of one delay land in one ring row, and the
//! synapses arriving at a step are read bucket by bucket without testing each delay. A
//! plastic projection with buckets keeps one last-arrival step per bucket (its synapses
//! arrive together) instead of one per synapse.
//!
//! The step may be split into chunks of post neurons (`Chunk`); every walk here takes a
//! chunk and visits only the synapses onto its post neurons, in the order the whole walk
//! would. A CSR row's and a bucket's post neurons ascend, so each chunk's share of them is
//! one sub-range, found in a table (`Plan::set_chunks`).

use crate::model::net::projection::{DelaySteps, Synapses};

/// How a projection's spikes reach its post population.
#[derive(Debug, Clone)]
pub(crate) enum Strategy {
    /// All-to-all: synapse `k = j·n_post + i`.
    Dense,
    /// CSR rows by pre.
    Sparse,
    /// Synapse `k = j` to post `j`.
    OneToOne,
    /// All-but-self with one weight `w`: post `i` gets `w · (spikes − [i spiked])`.
    TotalMinusSelf {
        /// The weight of every synapse.
        w: f32,
    },
}

/// The post neurons `lo..hi` of chunk `c` of the step (chunk `c` of every population covers
/// neurons `c·size..(c + 1)·size`, cut at its size).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Chunk {
    pub c: usize,
    pub lo: usize,
    pub hi: usize,
}

/// Per range `r` (a CSR row or a bucket) of ascending post neurons `post[r]`, the start of
/// each chunk's share: `n_chunks + 1` entries per range, the last the range's end.
fn chunk_starts(
    ranges: impl Iterator<Item = (usize, usize)>,
    post: &[u32],
    size: usize,
    n_chunks: usize,
) -> Vec<u32> {
    let mut out = vec![];
    for (a, b) in ranges {
        let row = &post[a..b];
        debug_assert!(row.windows(2).all(|p| p[0] <= p[1]), "post neurons ascend");
        out.extend(
            (0..n_chunks).map(|c| (a + row.partition_point(|&i| (i as usize) < c * size)) as u32),
        );
        out.push(b as u32);
    }
    out
}

/// A projection's synapses as the engine walks them (shared by the copies).
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub strategy: Strategy,
    pub syn: Synapses,
    /// Ring slots: longest delay + 1.
    pub slots: u32,
    /// For plastic projections: the synapses of each post neuron, `in_offsets[i]..[i+1]`
    /// into `in_syn` (ascending pre).
    pub in_offsets: Vec<u32>,
    pub in_syn: Vec<u32>,
    /// With per-synapse delays: the synapses by pre neuron and delay.
    pub buckets: Option<Buckets>,
    /// Chunks of the step ([`Self::set_chunks`]).
    n_chunks: usize,
    /// CSR rows (sparse and all-but-self), split into chunks: `chunk_starts`, by row (empty
    /// with one chunk).
    row_chunks: Vec<u32>,
}

/// The synapses of a projection with per-synapse delays, grouped by pre neuron `j` and
/// delay `L` (bucket `j·S + L`, S the ring slots): `syn[offsets[b] .. offsets[b + 1]]`,
/// ascending.
#[derive(Debug, Clone)]
pub(crate) struct Buckets {
    offsets: Vec<u32>,
    syn: Vec<u32>,
    /// The post neuron of each entry of `syn`.
    post: Vec<u32>,
    /// The bucket of each synapse.
    pub of: Vec<u32>,
    /// Chunks of the step, and each bucket's share: `chunk_starts`, by bucket (empty with
    /// one chunk).
    n_chunks: usize,
    by_chunk: Vec<u32>,
}

impl Buckets {
    fn new(syn: &Synapses, d: &[u32], slots: u32) -> Self {
        let s = slots as usize;
        let n_b = syn.n_pre as usize * s;
        let of: Vec<u32> = (0..syn.n_pre as usize)
            .flat_map(|j| {
                let (a, b) = (syn.offsets[j] as usize, syn.offsets[j + 1] as usize);
                (a..b).map(move |k| (j * s) as u32 + d[k])
            })
            .collect();
        let mut offsets = vec![0u32; n_b + 1];
        for &b in &of {
            offsets[b as usize + 1] += 1;
        }
        for b in 0..n_b {
            offsets[b + 1] += offsets[b];
        }
        let mut fill = offsets.clone();
        let mut out = vec![0u32; of.len()];
        for (k, &b) in of.iter().enumerate() {
            out[fill[b as usize] as usize] = k as u32;
            fill[b as usize] += 1;
        }
        let post = out.iter().map(|&k| syn.post[k as usize]).collect();
        Buckets {
            offsets,
            syn: out,
            post,
            of,
            n_chunks: 1,
            by_chunk: vec![],
        }
    }

    fn set_chunks(&mut self, size: usize, n_chunks: usize) {
        self.n_chunks = n_chunks;
        self.by_chunk = match n_chunks {
            1 => vec![],
            _ => chunk_starts(
                self.offsets
                    .windows(2)
                    .map(|o| (o[0] as usize, o[1] as usize)),
                &self.post,
                size,
                n_chunks,
            ),
        };
    }

    /// The synapses of bucket `b` onto the post neurons of chunk `ch`, and those neurons.
    #[inline(always)]
    pub fn get(&self, b: usize, ch: Chunk) -> (&[u32], &[u32]) {
        let r = match self.n_chunks {
            1 => self.offsets[b] as usize..self.offsets[b + 1] as usize,
            n => {
                let e = b * (n + 1) + ch.c;
                self.by_chunk[e] as usize..self.by_chunk[e + 1] as usize
            }
        };
        (&self.syn[r.clone()], &self.post[r])
    }

    /// With one chunk, the buckets of pre neuron `j` (of `s` slots), lag by lag: the post
    /// neurons of lag `L` are entries `ends[L]..ends[L + 1]` of the second slice. One
    /// lookup per spike instead of one per bucket, for the hot loop of a delayed
    /// all-to-all projection. `None` with chunks (a pre neuron's shares are not contiguous
    /// there: [`Self::get`]).
    #[inline(always)]
    pub fn of_pre(&self, j: usize, s: usize) -> Option<(&[u32], &[u32])> {
        (self.n_chunks == 1).then(|| (&self.offsets[j * s..=j * s + s], &self.post[..]))
    }

    /// The number of buckets (pre neurons × slots).
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }
}

impl Plan {
    /// The plan of `syn`, which holds one set of delays (`Synapses::of_copy` where the
    /// copies have their own), with a ring of `slots` (at least its longest delay + 1).
    pub fn new(strategy: Strategy, syn: Synapses, plastic: bool, slots: u32) -> Self {
        debug_assert!(syn.delays.len() == 1 && slots > syn.max_delay());
        let (mut in_offsets, mut in_syn) = (vec![], vec![]);
        if plastic {
            let n_post = syn.n_post as usize;
            in_offsets = vec![0u32; n_post + 1];
            for &i in &syn.post {
                in_offsets[i as usize + 1] += 1;
            }
            for i in 0..n_post {
                in_offsets[i + 1] += in_offsets[i];
            }
            let mut fill = in_offsets.clone();
            in_syn = vec![0u32; syn.len()];
            for (k, &i) in syn.post.iter().enumerate() {
                in_syn[fill[i as usize] as usize] = k as u32;
                fill[i as usize] += 1;
            }
        }
        let buckets = match &syn.delays[0] {
            DelaySteps::PerSynapse(d) => Some(Buckets::new(&syn, d, slots)),
            DelaySteps::Uniform(_) => None,
        };
        Plan {
            strategy,
            syn,
            slots,
            in_offsets,
            in_syn,
            buckets,
            n_chunks: 1,
            row_chunks: vec![],
        }
    }

    /// The delay of each synapse.
    #[inline(always)]
    pub fn delays(&self) -> &DelaySteps {
        &self.syn.delays[0]
    }

    /// Splits the walks into `n_chunks` chunks of `size` post neurons (one chunk: the whole
    /// walk, no table).
    pub fn set_chunks(&mut self, size: usize, n_chunks: usize) {
        self.n_chunks = n_chunks;
        // Every strategy but all-to-all walks CSR rows somewhere (one-to-one: normalisation).
        let csr = !matches!(self.strategy, Strategy::Dense);
        self.row_chunks = match (n_chunks, csr) {
            (1, _) | (_, false) => vec![],
            _ => chunk_starts(
                self.syn
                    .offsets
                    .windows(2)
                    .map(|o| (o[0] as usize, o[1] as usize)),
                &self.syn.post,
                size,
                n_chunks,
            ),
        };
        if let Some(b) = &mut self.buckets {
            b.set_chunks(size, n_chunks);
        }
    }

    /// The synapses of CSR row `j` onto the post neurons of chunk `ch` (every strategy but
    /// all-to-all).
    #[inline(always)]
    pub fn row_in(&self, j: usize, ch: Chunk) -> std::ops::Range<usize> {
        match self.n_chunks {
            1 => self.syn.offsets[j] as usize..self.syn.offsets[j + 1] as usize,
            n => {
                let e = j * (n + 1) + ch.c;
                self.row_chunks[e] as usize..self.row_chunks[e + 1] as usize
            }
        }
    }

    /// Asks the processor to fetch what [`Self::for_row`] will read of pre `j`'s row in
    /// sparse connectivity: its post neurons and its weights (`w`, the first of the
    /// projection's weights of this copy; only addresses are formed from it). A large
    /// network's rows are far apart in memory, each a few cache lines long, so that the walk
    /// over a step's spikes would wait on memory once per row.
    #[inline(always)]
    pub fn prefetch_row(&self, j: u32, ch: Chunk, w: *const f32) {
        if !matches!(self.strategy, Strategy::Sparse) {
            return;
        }
        let r = self.row_in(j as usize, ch);
        // One address per 64-byte line of each array.
        for k in r.step_by(16) {
            prefetch(&self.syn.post[k]);
            prefetch(w.wrapping_add(k));
        }
    }

    /// Calls `f(k, i)` for every synapse `k` of pre `j` onto a post neuron `i` of chunk
    /// `ch`, ascending.
    #[inline(always)]
    pub fn for_row(&self, j: u32, ch: Chunk, mut f: impl FnMut(usize, usize)) {
        let j = j as usize;
        match self.strategy {
            Strategy::Dense => {
                let n = self.syn.n_post as usize;
                for i in ch.lo..ch.hi {
                    f(j * n + i, i);
                }
            }
            Strategy::OneToOne => {
                if (ch.lo..ch.hi).contains(&j) {
                    f(j, j)
                }
            }
            Strategy::Sparse | Strategy::TotalMinusSelf { .. } => {
                let r = self.row_in(j, ch);
                for (k, &i) in r.clone().zip(&self.syn.post[r]) {
                    f(k, i as usize);
                }
            }
        }
    }

    /// Calls `f(k, i)` for every synapse onto a post neuron `i` of chunk `ch` that delivers
    /// at step `now`: for each lag `L` ascending, the spikes emitted `L` steps ago (`hist`,
    /// a ring by step) ascending, their synapses of delay `L`, ascending.
    #[inline(always)]
    pub fn for_arrivals(
        &self,
        hist: &[Vec<u32>],
        now: u32,
        ch: Chunk,
        mut f: impl FnMut(usize, usize),
    ) {
        let s = self.slots;
        for lag in 0..s {
            let slot = ((now % s + s - lag) % s) as usize;
            for &j in &hist[slot] {
                match (self.delays(), &self.buckets) {
                    (DelaySteps::Uniform(d), _) if *d != lag => {}
                    (DelaySteps::Uniform(_), _) => self.for_row(j, ch, &mut f),
                    (_, Some(b)) => {
                        let (syn, post) = b.get((j * s + lag) as usize, ch);
                        for (&k, &i) in syn.iter().zip(post) {
                            f(k as usize, i as usize)
                        }
                    }
                    (DelaySteps::PerSynapse(d), None) => self.for_row(j, ch, |k, i| {
                        if d[k] == lag {
                            f(k, i)
                        }
                    }),
                }
            }
        }
    }

    /// Where synapse `k` keeps its last arrival step: its bucket with per-synapse delays,
    /// itself otherwise.
    #[inline(always)]
    pub fn arrival_index(&self, k: usize) -> usize {
        match &self.buckets {
            Some(b) => b.of[k] as usize,
            None => k,
        }
    }

    /// The number of last-arrival entries of a plastic projection ([`Self::arrival_index`]).
    pub fn arrival_len(&self) -> usize {
        match &self.buckets {
            Some(b) => b.len(),
            None => self.syn.len(),
        }
    }
}

/// A hint that the cache line at `x` will be read soon (a no-op where the processor has no
/// such instruction in `core::arch`).
#[inline(always)]
fn prefetch<T>(x: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch reads nothing and cannot fault, whatever the address.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(x.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}
