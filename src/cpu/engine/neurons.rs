//! One population's neuron state as one array per variable, and step 4 of the engine (the
//! neuron stages) over it: the stage functions of `cpu::neuron`, inlined into one loop per
//! neuron model, so that the loop runs on vector registers.

use crate::cpu::neuron::{
    adapt, charge, clamp_refractory, cond_lif_charge, current_lif_charge, fire, if_charge,
    lif_charge, reset, NeuronState, MAX_CUSTOM_VARS,
};
use crate::model::{DerivedNeuron, NeuronKind};

/// The state of a population's neurons, one array per variable (`v`, `θ`, the refractory
/// count, `ge`, `gi`, then each custom variable), plus the spike flags of the last step.
#[derive(Debug, Clone, Default)]
pub(crate) struct NeuronArrays {
    /// Membrane potential (mV).
    pub v: Vec<f32>,
    /// Adaptive threshold (mV).
    pub theta: Vec<f32>,
    /// Remaining refractory steps.
    pub refrac: Vec<u32>,
    /// Excitatory input variable (conductance or current LIF; 0 otherwise).
    pub ge: Vec<f32>,
    /// Inhibitory input variable (conductance or current LIF; 0 otherwise).
    pub gi: Vec<f32>,
    /// A custom model's variables, in declaration order.
    pub custom: Vec<Vec<f32>>,
    /// 1 where a neuron spiked at the last step, else 0 (scratch of [`Self::stages`];
    /// bytes, so that the spike list reads them 8 at a time).
    spiked: Vec<u8>,
}

impl NeuronArrays {
    /// `n` neurons in state `s`, with `n_custom` custom variables.
    pub fn filled(s: &NeuronState, n: usize, n_custom: usize) -> Self {
        NeuronArrays {
            v: vec![s.v; n],
            theta: vec![s.theta; n],
            refrac: vec![s.refrac; n],
            ge: vec![s.ge; n],
            gi: vec![s.gi; n],
            custom: (0..n_custom).map(|k| vec![s.custom[k]; n]).collect(),
            spiked: vec![0; n],
        }
    }

    /// The array of state variable `k`, in `NeuronModel::state_var_names` order (v, θ, then
    /// ge and gi of a conductance or current LIF, or a custom model's variables).
    pub fn var(&self, k: usize, kind: &NeuronKind) -> &[f32] {
        match (k, kind) {
            (0, _) => &self.v,
            (1, _) => &self.theta,
            (2, NeuronKind::CondLif(_) | NeuronKind::CurrentLif(_)) => &self.ge,
            (3, NeuronKind::CondLif(_) | NeuronKind::CurrentLif(_)) => &self.gi,
            (k, _) => &self.custom[k - 2],
        }
    }

    /// The array of state variable `k` to write (the order of [`Self::var`]).
    pub fn var_mut(&mut self, k: usize, kind: &NeuronKind) -> &mut [f32] {
        match (k, kind) {
            (0, _) => &mut self.v,
            (1, _) => &mut self.theta,
            (2, NeuronKind::CondLif(_) | NeuronKind::CurrentLif(_)) => &mut self.ge,
            (3, NeuronKind::CondLif(_) | NeuronKind::CurrentLif(_)) => &mut self.gi,
            (k, _) => &mut self.custom[k - 2],
        }
    }

    /// Every neuron in state `rest`, keeping its θ (see `Engine::rest`).
    pub fn rest(&mut self, rest: &NeuronState) {
        self.v.fill(rest.v);
        self.refrac.fill(rest.refrac);
        self.ge.fill(rest.ge);
        self.gi.fill(rest.gi);
        for (k, a) in self.custom.iter_mut().enumerate() {
            a.fill(rest.custom[k]);
        }
        self.spiked.fill(0);
    }

    /// The first variable of `v`, `theta`, `ge`, `gi` (in that order) that holds a NaN or
    /// an infinity, and the neuron.
    pub fn first_nonfinite(&self) -> Option<(&'static str, usize)> {
        [
            ("v", &self.v),
            ("theta", &self.theta),
            ("ge", &self.ge),
            ("gi", &self.gi),
        ]
        .into_iter()
        .find_map(|(name, a)| {
            // A test without early exit vectorises; the position is looked for only once
            // something is found.
            if a.iter().fold(true, |ok, x| ok & x.is_finite()) {
                None
            } else {
                a.iter().position(|x| !x.is_finite()).map(|i| (name, i))
            }
        })
    }

    /// All the neurons as one chunk.
    pub fn whole(&mut self) -> NeuronChunk<'_> {
        NeuronChunk {
            lo: 0,
            v: &mut self.v,
            theta: &mut self.theta,
            refrac: &mut self.refrac,
            ge: &mut self.ge,
            gi: &mut self.gi,
            custom: self.custom.iter_mut().map(|a| &mut a[..]).collect(),
            spiked: &mut self.spiked,
        }
    }

    /// The neurons in chunks of `size`, `n_chunks` of them (those past the end empty).
    pub fn chunks(
        &mut self,
        size: usize,
        n_chunks: usize,
    ) -> impl Iterator<Item = NeuronChunk<'_>> {
        // A custom model's variables, chunk by chunk (nothing to allocate without).
        let mut custom: Vec<Vec<&mut [f32]>> = vec![];
        if !self.custom.is_empty() {
            custom.resize_with(n_chunks, Vec::new);
            for a in &mut self.custom {
                for (c, part) in custom.iter_mut().zip(split(a, size, n_chunks)) {
                    c.push(part);
                }
            }
        }
        let custom = custom.into_iter().chain(std::iter::repeat_with(Vec::new));
        split(&mut self.v, size, n_chunks)
            .zip(split(&mut self.theta, size, n_chunks))
            .zip(split(&mut self.refrac, size, n_chunks))
            .zip(split(&mut self.ge, size, n_chunks))
            .zip(split(&mut self.gi, size, n_chunks))
            .zip(split(&mut self.spiked, size, n_chunks))
            .zip(custom)
            .enumerate()
            .map(
                move |(c, ((((((v, theta), refrac), ge), gi), spiked), custom))| NeuronChunk {
                    lo: (c * size) as u32,
                    v,
                    theta,
                    refrac,
                    ge,
                    gi,
                    custom,
                    spiked,
                },
            )
    }
}

/// `s` in `n` parts of `size` elements, those past its end empty.
pub(crate) fn split<T>(s: &mut [T], size: usize, n: usize) -> impl Iterator<Item = &mut [T]> {
    s.chunks_mut(size)
        .chain(std::iter::repeat_with(<&mut [T]>::default))
        .take(n)
}

/// The neurons `lo..lo + len` of a population, one slice per variable: what one chunk of
/// the step updates.
pub(crate) struct NeuronChunk<'a> {
    lo: u32,
    v: &'a mut [f32],
    theta: &'a mut [f32],
    refrac: &'a mut [u32],
    ge: &'a mut [f32],
    gi: &'a mut [f32],
    custom: Vec<&'a mut [f32]>,
    spiked: &'a mut [u8],
}

impl NeuronChunk<'_> {
    /// The number of neurons.
    pub fn len(&self) -> usize {
        self.v.len()
    }

    /// Neuron `i`'s state (`i` counted from the chunk's first).
    #[inline(always)]
    fn get(&self, i: usize) -> NeuronState {
        let mut custom = [0.0; MAX_CUSTOM_VARS];
        for (c, a) in custom.iter_mut().zip(&self.custom) {
            *c = a[i];
        }
        NeuronState {
            v: self.v[i],
            theta: self.theta[i],
            refrac: self.refrac[i],
            ge: self.ge[i],
            gi: self.gi[i],
            custom,
        }
    }

    /// Sets neuron `i`'s state (`i` counted from the chunk's first).
    #[inline(always)]
    fn put(&mut self, i: usize, s: &NeuronState) {
        (self.v[i], self.theta[i], self.refrac[i]) = (s.v, s.theta, s.refrac);
        (self.ge[i], self.gi[i]) = (s.ge, s.gi);
        for (a, &c) in self.custom.iter_mut().zip(&s.custom) {
            a[i] = c;
        }
    }

    /// Step 4 for this chunk of a population, neuron by neuron ascending: `gi += x_gi` and
    /// charge with `x_ge`, then `v += x_v` (conductance and current LIF), or charge with
    /// `x_v` (IF, LIF, custom); the refractory clamp; fire; reset; adapt (learning on). The
    /// inputs are the chunk's; the spikes go into `list` (population indices), ascending.
    /// `fed`: whether a projection feeds each input; one that none feeds holds 0.0, and the
    /// loop adds the constant instead of loading it (the same bits, less memory traffic).
    /// Inlined, so it is compiled with the caller's target features.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub fn stages(
        &mut self,
        kind: &NeuronKind,
        d: &DerivedNeuron,
        custom_params: &[f32],
        [x_ge, x_gi, x_v]: [&[f32]; 3],
        fed: [bool; 3],
        learn: bool,
        list: &mut Vec<u32>,
    ) {
        let n = self.len();
        let x = [&x_ge[..n], &x_gi[..n], &x_v[..n]];
        // The model is matched once per population, so each loop is specialised to its
        // charge; the constants are copied out, so the loop reads none through a pointer.
        let d = &{ *d };
        // θ changes only when adapting: otherwise the loop leaves it unwritten.
        let adapting = learn && !d.theta_frozen;
        match kind {
            NeuronKind::If => self.vector_stages::<false>(list, d, adapting, |s, i, d| {
                clamp_refractory(&s, if_charge(s, x[2][i], d), d)
            }),
            NeuronKind::Lif(_) => self.vector_stages::<false>(list, d, adapting, |s, i, d| {
                clamp_refractory(&s, lif_charge(s, x[2][i], d), d)
            }),
            NeuronKind::CondLif(_) => self.synaptic_stages::<true>(list, d, x, fed, adapting),
            NeuronKind::CurrentLif(_) => self.synaptic_stages::<false>(list, d, x, fed, adapting),
            NeuronKind::Custom(_) => {
                // A custom charge is a call through a function pointer: neuron by neuron.
                list.clear();
                for (i, &x) in x_v.iter().enumerate() {
                    let s = charge(self.get(i), x, kind, custom_params, d);
                    let spike = fire(s, d);
                    let mut s = reset(s, spike, d);
                    if learn {
                        s = adapt(s, spike, d);
                    }
                    self.put(i, &s);
                    self.spiked[i] = spike as u8;
                    if spike {
                        list.push(self.lo + i as u32);
                    }
                }
            }
        }
    }

    /// [`Self::stages`] for a conductance LIF (`COND`) or a current LIF, specialised to the
    /// inputs fed (`GI`: `x_gi`, `V`: `x_v`).
    #[inline(always)]
    fn synaptic_stages<const COND: bool>(
        &mut self,
        list: &mut Vec<u32>,
        d: &DerivedNeuron,
        x: [&[f32]; 3],
        [_, gi, v]: [bool; 3],
        adapt: bool,
    ) {
        match (gi, v) {
            (false, false) => self.synaptic::<COND, false, false>(list, d, x, adapt),
            (false, true) => self.synaptic::<COND, false, true>(list, d, x, adapt),
            (true, false) => self.synaptic::<COND, true, false>(list, d, x, adapt),
            (true, true) => self.synaptic::<COND, true, true>(list, d, x, adapt),
        }
    }

    /// One specialisation of [`Self::synaptic_stages`].
    #[inline(always)]
    fn synaptic<const COND: bool, const GI: bool, const V: bool>(
        &mut self,
        list: &mut Vec<u32>,
        d: &DerivedNeuron,
        [x_ge, x_gi, x_v]: [&[f32]; 3],
        adapt: bool,
    ) {
        // Only a conductance LIF reads `clamp_v`.
        self.vector_stages::<COND>(list, d, adapt, |mut s, i, d| {
            s.gi += input::<GI>(x_gi, i);
            let mut o = match COND {
                true => cond_lif_charge(s, x_ge[i], d),
                false => current_lif_charge(s, x_ge[i], d),
            };
            o.v += input::<V>(x_v, i);
            clamp_refractory(&s, o, d)
        })
    }

    /// The stages of a model without custom variables, in a loop specialised to `adapt`
    /// (learning with a θ that adapts; θ is written only then), to the reset (hard or
    /// soft) and, where the charge reads it (`CLAMPS`), to the clamp of `v` to the reversal
    /// potentials: switches the loop would otherwise test (or blend both ways) per neuron.
    #[inline(always)]
    fn vector_stages<const CLAMPS: bool>(
        &mut self,
        list: &mut Vec<u32>,
        d: &DerivedNeuron,
        adapt: bool,
        charge: impl Fn(NeuronState, usize, &DerivedNeuron) -> NeuronState + Copy,
    ) {
        match (adapt, d.reset_soft) {
            (false, false) => self.clamp_stages::<CLAMPS, false, false>(list, d, charge),
            (false, true) => self.clamp_stages::<CLAMPS, false, true>(list, d, charge),
            (true, false) => self.clamp_stages::<CLAMPS, true, false>(list, d, charge),
            (true, true) => self.clamp_stages::<CLAMPS, true, true>(list, d, charge),
        }
    }

    /// [`Self::vector_stages`] specialised to `d.clamp_v` where the charge reads it.
    #[inline(always)]
    fn clamp_stages<const CLAMPS: bool, const ADAPT: bool, const SOFT: bool>(
        &mut self,
        list: &mut Vec<u32>,
        d: &DerivedNeuron,
        charge: impl Fn(NeuronState, usize, &DerivedNeuron) -> NeuronState,
    ) {
        match CLAMPS && d.clamp_v {
            true => self.vector_loop::<ADAPT, SOFT, true>(list, d, charge),
            false => self.vector_loop::<ADAPT, SOFT, false>(list, d, charge),
        }
    }

    /// [`Self::vector_stages`]' loop: every array is resliced to `n` first, the spike flags
    /// are written without a branch, and the spike list is built after the loop (most
    /// steps have no spike), so the loop vectorises.
    #[inline(always)]
    #[allow(clippy::needless_range_loop)] // Neuron i indexes several parallel arrays.
    fn vector_loop<const ADAPT: bool, const SOFT: bool, const CLAMP: bool>(
        &mut self,
        list: &mut Vec<u32>,
        d: &DerivedNeuron,
        charge: impl Fn(NeuronState, usize, &DerivedNeuron) -> NeuronState,
    ) {
        // The switches as constants of this copy of the loop (a local struct: the compiler
        // folds its fields' reads).
        let d = &DerivedNeuron {
            reset_soft: SOFT,
            clamp_v: CLAMP,
            theta_frozen: !ADAPT && d.theta_frozen,
            ..*d
        };
        let n = self.len();
        let (v, th, rf) = (
            &mut self.v[..n],
            &mut self.theta[..n],
            &mut self.refrac[..n],
        );
        let (ge, gi) = (&mut self.ge[..n], &mut self.gi[..n]);
        let spiked = &mut self.spiked[..n];
        let mut count = 0u32;
        for i in 0..n {
            let s = NeuronState {
                v: v[i],
                theta: th[i],
                refrac: rf[i],
                ge: ge[i],
                gi: gi[i],
                custom: [0.0; MAX_CUSTOM_VARS],
            };
            let o = charge(s, i, d);
            let spike = fire(o, d);
            let o = reset(o, spike, d);
            if ADAPT {
                th[i] = adapt(o, spike, d).theta;
            }
            (v[i], rf[i], ge[i], gi[i]) = (o.v, o.refrac, o.ge, o.gi);
            spiked[i] = spike as u8;
            count += spike as u32;
        }
        list.clear();
        if count > 0 {
            list_spikes(list, spiked, self.lo);
        }
    }
}

/// Appends `lo + i` for every `flags[i]` that is 1, ascending: the flags 8 at a time, as
/// one word, so that the many words without a spike cost one test each. Not inlined: the
/// vectorised loops that call it stay as they were.
#[inline(never)]
fn list_spikes(list: &mut Vec<u32>, flags: &[u8], lo: u32) {
    let words = flags.chunks_exact(8);
    let tail = words.remainder();
    let mut at = lo;
    for word in words {
        let mut w = u64::from_le_bytes([
            word[0], word[1], word[2], word[3], word[4], word[5], word[6], word[7],
        ]);
        while w != 0 {
            let byte = w.trailing_zeros() / 8;
            list.push(at + byte);
            w &= !(0xff << (8 * byte));
        }
        at += 8;
    }
    for (i, &f) in tail.iter().enumerate() {
        if f != 0 {
            list.push(at + i as u32);
        }
    }
}

/// Input `x[i]`, or the 0.0 an input that no projection feeds holds (`FED` false: a
/// constant, so the loop loads nothing).
#[inline(always)]
fn input<const FED: bool>(x: &[f32], i: usize) -> f32 {
    if FED {
        x[i]
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::list_spikes;

    /// The spike list read 8 flags at a time is the list of the flags one by one, whole
    /// words and the tail alike, after what the list already held.
    #[test]
    fn spikes_are_listed_in_order_from_whole_words_and_the_tail() {
        for n in [0usize, 1, 7, 8, 9, 16, 19, 64, 67] {
            for pattern in [
                0u64,
                1,
                0b1000_0001,
                0x5555_5555_5555_5555,
                u64::MAX,
                0x8000_0000_0001,
            ] {
                let flags: Vec<u8> = (0..n).map(|i| ((pattern >> (i % 64)) & 1) as u8).collect();
                let mut list = vec![7];
                list_spikes(&mut list, &flags, 100);
                let want: Vec<u32> = std::iter::once(7)
                    .chain((0..n).filter(|&i| flags[i] == 1).map(|i| 100 + i as u32))
                    .collect();
                assert_eq!(list, want, "n = {n}, pattern {pattern:#x}");
            }
        }
    }
}
