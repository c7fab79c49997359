//! `CompetitiveSpec`: a winner-take-all layer, the Diehl & Cook topology, as plain data.
//!
//! `n_input` Poisson inputs drive `n_exc` excitatory neurons through a dense, plastic,
//! sign-constrained projection; each excitatory neuron drives its inhibitory partner
//! one-to-one, and each inhibitory neuron inhibits every excitatory neuron but its partner.
//! `experiments::diehl_cook::engine::DcEngine` builds it as a general network
//! (`experiments::diehl_cook::model`) and runs it presentation by presentation on either
//! general engine, CPU or GPU.
//!
//! # Step order (both backends)
//!
//! 1. input spikes of step `t` are drawn: input `j` spikes when
//!    `rng_u32(key_seed, t, j) < thr_j`, `thr_j = rate_j·dt/1000·2³²`;
//! 2. **propagate**: `x_e[i] = Σ_{j spiked, ascending} w[j][i]` (event-driven: only rows of
//!    inputs that spiked are read); lateral `l_e[i] = w_ie·(inhibitory spikes at t−1 except
//!    i's partner)`; inhibitory `x_i[i] = w_ei·[exc i spiked at t−1]`;
//! 3. **route** each sum by its projection's [`Target`]: a conductance target gives the
//!    charge input `x_g` (`ge`, the input and exc→inh projections) or is added to `gi` now
//!    (`gi += l_e`, inh→exc); a membrane target goes into the voltage jump
//!    `x_v = (+x_e or 0) − l_e` (excitatory) or `x_v = +x_i` (inhibitory), in this order;
//! 4. excitatory stages charge(x_g, x_v) → fire → reset → adapt(θ⁺ only, when learning);
//!    inhibitory stages charge(x_g, x_v) → fire → reset. Charge is the population model's
//!    (IF, LIF or conductance LIF, `cpu::neuron` / `shaders/neuron/*.wgsl`): `x_g` enters
//!    `ge` inside the conductance charge, and `x_v` is added to `v` after the model's own
//!    update, before the refractory clamp and fire (see [`Target`]);
//! 5. **plasticity** (learning only): decay `post1`, `post2`; on each input spike
//!    (ascending `j`) the depression of row `j`, then `pre_j = 1`; on each excitatory spike
//!    (ascending `i`) the potentiation of column `i`, then `post1_i = post2_i = 1`.
//!
//! `pre_j` is kept lazily as the step of the last spike, read through a table of
//! `decay_pre^k` built by repeated f32 multiplication (the same table on both backends).
//! θ decay (τ_θ = 10⁷ ms in Diehl & Cook) is applied once per presentation with the exact
//! factor `e^(−steps·dt/τ_θ)`: the per-step factor `1 − 5·10⁻⁸` is not representable in f32
//! (it rounds to `1 − 5.96·10⁻⁸`, a 19 % error in the decay rate).

use super::projection::{Connectivity, Projection, WeightInit};
use crate::error::{Result, SnnError};
use crate::model::neuron::{NeuronKind, NeuronModel};
use crate::model::stdp::StdpParams;
use crate::model::{Sign, Target};

/// A competitive (winner-take-all) excitatory/inhibitory layer.
///
/// # Projections and neuron models
///
/// Each of the three projections has a fixed role, and the role fixes its sign; its
/// [`Target`] chooses how it acts on the population it reaches:
///
/// | projection | connectivity | sign | targets | reaches |
/// |---|---|---|---|---|
/// | `input` | dense, plastic | excitatory | `Ge`, `Membrane { sign: Excitatory }` | `exc` |
/// | `exc_to_inh` | one-to-one | excitatory | `Ge`, `Membrane { sign: Excitatory }` | `inh` |
/// | `inh_to_exc` | all-but-self | inhibitory | `Gi`, `Membrane { sign: Inhibitory }` | `exc` |
///
/// Each population is IF, LIF or conductance LIF ([`NeuronKind::If`], [`NeuronKind::Lif`],
/// [`NeuronKind::CondLif`]; custom models are refused). A conductance target needs a
/// conductance LIF population; a membrane target works with every model (a voltage jump in
/// mV, see [`Target`]). Diehl & Cook 2015 is conductance LIF throughout, with `Ge`, `Ge`,
/// `Gi`; BindsNET's `DiehlAndCook2015` is current-based: LIF excitatory and IF inhibitory
/// neurons, every projection on the membrane. [`Self::validate`] names the projection and
/// the model of a combination that does not fit.
#[derive(Debug, Clone)]
pub struct CompetitiveSpec {
    /// Number of inputs (784 for MNIST).
    pub n_input: u32,
    /// Number of excitatory neurons (= number of inhibitory neurons).
    pub n_exc: u32,
    /// Time step (ms).
    pub dt_ms: f32,
    /// Excitatory neuron model (IF, LIF or conductance LIF, usually with θ).
    pub exc: NeuronModel,
    /// Inhibitory neuron model (IF, LIF or conductance LIF).
    pub inh: NeuronModel,
    /// Input → excitatory: dense, target `ge` or the membrane (excitatory).
    pub input: Projection,
    /// STDP on the input projection (`None`: fixed weights).
    pub stdp: Option<StdpParams>,
    /// Excitatory → inhibitory: one-to-one, target `ge` or the membrane (excitatory).
    pub exc_to_inh: Projection,
    /// Inhibitory → excitatory: all-but-self, target `gi` or the membrane (inhibitory).
    pub inh_to_exc: Projection,
    /// Column-sum target of the input weights, applied before each learning presentation.
    pub norm_target: Option<f32>,
    /// Heterogeneous input delays: each input synapse gets a delay drawn uniformly from
    /// `[0, max)` ms (10 ms in the original code), rounded to whole steps. `None`: every
    /// input spike arrives in the step it is drawn.
    pub input_delay_max_ms: Option<f32>,
    /// Seed for the weight initialisation, the delays and the input spikes.
    pub seed: u32,
}

impl CompetitiveSpec {
    /// Checks sizes, models, projections and STDP, naming the first bad field: a custom
    /// model, a projection with the wrong connectivity or sign, or a conductance target
    /// (`ge`/`gi`) on a population without conductances (IF, LIF) are errors naming the
    /// projection and the model.
    ///
    /// # Errors
    /// [`SnnError::InvalidParam`].
    pub fn validate(&self) -> Result<()> {
        if !(self.dt_ms > 0.0) || !self.dt_ms.is_finite() {
            return Err(SnnError::invalid(
                "dt_ms",
                self.dt_ms,
                "a finite time step > 0 ms",
            ));
        }
        if self.n_input == 0 || self.n_exc == 0 {
            return Err(SnnError::invalid(
                "n_input / n_exc",
                format!("{} / {}", self.n_input, self.n_exc),
                "at least 1 each",
            ));
        }
        if self.n_exc < 2 {
            return Err(SnnError::invalid(
                "n_exc",
                self.n_exc,
                "at least 2 neurons for competition",
            ));
        }
        for (field, m) in [("exc", &self.exc), ("inh", &self.inh)] {
            if let NeuronKind::Custom(_) | NeuronKind::CurrentLif(_) = m.kind {
                return Err(SnnError::invalid(
                    format!("{field}.kind"),
                    model_name(m),
                    "IF, LIF or conductance LIF (CondLif): the competitive layer has stages \
                     for these three only (custom and current LIF models run on the general \
                     engine, `cpu::engine`)",
                ));
            }
            m.validate(self.dt_ms).map_err(|e| e.in_field(field))?;
        }
        for (field, p, conn, sign, pop) in self.projections() {
            p.validate(field)?;
            if p.connectivity != conn {
                return Err(SnnError::invalid(
                    format!("{field}.connectivity"),
                    format!("{:?}", p.connectivity),
                    format!("{conn:?} (the competitive layer's wiring)"),
                ));
            }
            let (conductance, membrane) = match sign {
                Sign::Excitatory => (Target::Ge, Target::MEMBRANE_EXC),
                Sign::Inhibitory => (Target::Gi, Target::MEMBRANE_INH),
            };
            if p.target.sign() != sign {
                return Err(SnnError::invalid(
                    format!("{field}.target"),
                    p.target,
                    format!(
                        "{conductance} or {membrane}: {field} is {} in the competitive layer, \
                         and the target fixes the sign (weights are magnitudes >= 0)",
                        match sign {
                            Sign::Excitatory => "excitatory",
                            Sign::Inhibitory => "inhibitory",
                        }
                    ),
                ));
            }
            let post = match pop {
                "exc" => &self.exc,
                _ => &self.inh,
            };
            if p.target.is_conductance() && !matches!(post.kind, NeuronKind::CondLif(_)) {
                return Err(SnnError::invalid(
                    format!("{field}.target"),
                    p.target,
                    format!(
                        "{membrane}: {field} reaches the `{pop}` population, whose model is \
                         {} and has no conductances (ge/gi exist only in conductance LIF, \
                         CondLif); target the membrane or make `{pop}` conductance LIF",
                        model_name(post)
                    ),
                ));
            }
        }
        for (field, p) in [
            ("exc_to_inh", &self.exc_to_inh),
            ("inh_to_exc", &self.inh_to_exc),
        ] {
            if !matches!(p.init, WeightInit::Constant { .. }) {
                return Err(SnnError::invalid(
                    format!("{field}.init"),
                    "scaled_uniform",
                    "a constant weight (fixed lateral projection)",
                ));
            }
        }
        if let Some(s) = &self.stdp {
            s.validate(self.dt_ms)?;
            if s.rule == crate::model::stdp::StdpRule::PairAllToAll {
                return Err(SnnError::invalid(
                    "stdp.rule",
                    "pair_all_to_all",
                    "triplet, pair or weight_dependent: the competitive layer keeps \
                     nearest-spike traces (all-to-all pairing runs on the general engines, \
                     `cpu::engine` and `gpu::GpuEngine`)",
                ));
            }
        }
        if let Some(d) = self.input_delay_max_ms {
            if !(d >= 0.0 && d.is_finite()) || d / self.dt_ms > 254.0 {
                return Err(SnnError::invalid(
                    "input_delay_max_ms",
                    d,
                    format!(
                        "a delay in [0, {}] ms (at most 254 steps)",
                        254.0 * self.dt_ms
                    ),
                ));
            }
        }
        if let Some(t) = self.norm_target {
            if !(t > 0.0 && t.is_finite()) {
                return Err(SnnError::invalid(
                    "norm_target",
                    t,
                    "a finite column sum > 0",
                ));
            }
        }
        Ok(())
    }

    /// Valid but suspicious values: time constants of both populations and of STDP that
    /// `dt_ms` resolves coarsely (`dt > τ/5`), each a message naming the field.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = vec![];
        for (pop, m) in [("exc", &self.exc), ("inh", &self.inh)] {
            out.extend(
                m.warnings(self.dt_ms)
                    .into_iter()
                    .map(|w| w.replacen('`', &format!("`{pop}."), 1)),
            );
        }
        if let Some(s) = &self.stdp {
            out.extend(s.warnings(self.dt_ms));
        }
        out
    }

    /// The three projections as (field, projection, connectivity, sign, population reached).
    fn projections(&self) -> [(&'static str, &Projection, Connectivity, Sign, &'static str); 3] {
        [
            (
                "input",
                &self.input,
                Connectivity::Dense,
                Sign::Excitatory,
                "exc",
            ),
            (
                "exc_to_inh",
                &self.exc_to_inh,
                Connectivity::OneToOne,
                Sign::Excitatory,
                "inh",
            ),
            (
                "inh_to_exc",
                &self.inh_to_exc,
                Connectivity::AllButSelf,
                Sign::Inhibitory,
                "exc",
            ),
        ]
    }

    /// The fixed weights (exc→inh, inh→exc); `validate` ensures both are constant.
    pub fn lateral_weights(&self) -> (f32, f32) {
        let w = |p: &Projection| match p.init {
            WeightInit::Constant { value } => value,
            WeightInit::ScaledUniform { .. } => 0.0,
        };
        (w(&self.exc_to_inh), w(&self.inh_to_exc))
    }
}

/// A neuron model's name for messages: IF, LIF, conductance LIF, or custom and its name.
fn model_name(m: &NeuronModel) -> String {
    match &m.kind {
        NeuronKind::If => "IF".into(),
        NeuronKind::Lif(_) => "LIF".into(),
        NeuronKind::CondLif(_) => "conductance LIF".into(),
        NeuronKind::CurrentLif(_) => "current LIF".into(),
        NeuronKind::Custom(c) => format!("custom `{}`", c.name),
    }
}

/// Per-synapse input delays in steps, `[input][exc]`, and the number of ring slots
/// (`max + 1`) a backend needs to hold the recent input spikes. Drawn from the counter-based
/// RNG, so both backends get the same delays: `floor(U[0,1) · max_ms / dt)`, as Brian 1's
/// `DelayConnection` (0 ..= 19 steps for the paper's 10 ms at dt = 0.5 ms).
pub fn input_delays(spec: &CompetitiveSpec) -> Option<(Vec<u8>, u32)> {
    let max_ms = spec.input_delay_max_ms?;
    let max_steps = max_ms / spec.dt_ms;
    let last = (max_steps.ceil() as u32).max(1) - 1;
    let n = spec.n_input as usize * spec.n_exc as usize;
    let d: Vec<u8> = (0..n)
        .map(|k| {
            let u = (crate::encode::rng::rng_u32(spec.seed, 0xDE1A_0000, k as u32) >> 8) as f32
                / (1u32 << 24) as f32;
            // Brian 1's DelayConnection indexes its ring with int(d / dt): floor, so
            // U[0, max) ms gives the steps 0 ..= max/dt − 1, all equally likely.
            ((u * max_steps) as u32).min(last) as u8
        })
        .collect();
    let slots = d.iter().copied().max().unwrap_or(0) as u32 + 1;
    Some((d, slots))
}

/// What happens between two presentations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestMode {
    /// Simulate the rest steps with no input (Diehl & Cook's code).
    Simulate,
    /// Skip them: reset v to rest, conductances, refractory counters and traces (not θ).
    Reset,
}

/// One presentation's protocol.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PresentOptions {
    /// Steps with input on (350 ms / 0.5 ms = 700 in Diehl & Cook).
    pub steps_on: u32,
    /// Rest steps after it (150 ms = 300).
    pub steps_rest: u32,
    /// How the rest is done.
    pub rest: RestMode,
    /// Training: normalise before, STDP on, θ adapts. Otherwise all frozen.
    pub learn: bool,
    /// Presentation key: with the spec's seed, selects the input spike stream.
    pub key: u32,
}

impl PresentOptions {
    /// The same protocol for a frozen batch: no learning, each input from the rest state, no
    /// rest after it.
    pub fn frozen(&self) -> Self {
        PresentOptions {
            learn: false,
            rest: RestMode::Reset,
            steps_rest: 0,
            ..*self
        }
    }
}

/// The seed of the input spike stream of presentation `key`.
pub fn presentation_seed(seed: u32, key: u32) -> u32 {
    use crate::encode::rng::lowbias32;
    lowbias32(seed ^ lowbias32(key.wrapping_add(0x9e37_79b9)))
}

/// Checks a saved network of `n_in` inputs and `n` excitatory neurons: `n_in · n` finite
/// weights and `n` finite θ.
///
/// # Errors
/// [`SnnError::InvalidParam`] naming the sizes or the first value that is not finite.
pub fn check_loaded(n_in: usize, n: usize, weights: &[f32], theta_mv: &[f32]) -> Result<()> {
    if weights.len() != n_in * n || theta_mv.len() != n {
        return Err(SnnError::invalid(
            "loaded network",
            format!("{} weights, {} theta", weights.len(), theta_mv.len()),
            format!("{} weights ({n_in} x {n}), {n} theta", n_in * n),
        ));
    }
    if let Some(k) = weights.iter().position(|w| !w.is_finite()) {
        return Err(SnnError::invalid(
            format!("weights[{k}] (input {}, neuron {})", k / n, k % n),
            weights[k],
            "a finite weight; the network to load is damaged (NaN/Inf): retrain it",
        ));
    }
    if let Some(i) = theta_mv.iter().position(|t| !t.is_finite()) {
        return Err(SnnError::invalid(
            format!("theta_mv[{i}]"),
            theta_mv[i],
            "a finite threshold (mV); the network to load is damaged (NaN/Inf): retrain it",
        ));
    }
    Ok(())
}

/// Checks one image's input rates: one per input (`n_in`), each in `[0, 1000/dt]` Hz.
///
/// # Errors
/// [`SnnError::InvalidParam`] naming the count or the first rate out of range.
pub fn check_input_rates(n_in: usize, dt_ms: f32, rates_hz: &[f32]) -> Result<()> {
    if rates_hz.len() != n_in {
        return Err(SnnError::invalid(
            "rates_hz",
            format!("{} values", rates_hz.len()),
            format!("one rate per input ({n_in})"),
        ));
    }
    let max_hz = 1000.0 / dt_ms;
    match rates_hz
        .iter()
        .enumerate()
        .find(|(_, r)| !(**r >= 0.0 && **r <= max_hz))
    {
        Some((j, r)) => Err(SnnError::invalid(
            format!("rates_hz[{j}]"),
            r,
            format!("a rate in [0, {max_hz}] Hz"),
        )),
        None => Ok(()),
    }
}
