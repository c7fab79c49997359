//! `CompetitiveSpec`: a winner-take-all layer, the Diehl & Cook topology, as plain data.
//!
//! `n_input` Poisson inputs drive `n_exc` excitatory neurons through a dense, plastic,
//! sign-constrained projection; each excitatory neuron drives its inhibitory partner
//! one-to-one, and each inhibitory neuron inhibits every excitatory neuron but its partner.
//! Backends (`cpu::wta::CpuCompetitive`, `gpu::wta::GpuCompetitive`) run it presentation
//! by presentation.
//!
//! # Step order (both backends)
//!
//! 1. input spikes of step `t` are drawn: input `j` spikes when
//!    `rng_u32(key_seed, t, j) < thr_j`, `thr_j = rate_j·dt/1000·2³²`;
//! 2. **propagate**: `x_e[i] = Σ_{j spiked, ascending} w[j][i]` (event-driven: only rows of
//!    inputs that spiked are read); excitatory `gi += w_ie·(inhibitory spikes at t−1 except
//!    i's partner)`; inhibitory `x_i[i] = w_ei·[exc i spiked at t−1]`;
//! 3. excitatory stages charge(x_e) → fire → reset → adapt(θ⁺ only, when learning);
//!    inhibitory stages charge(x_i) → fire → reset;
//! 4. **plasticity** (learning only): decay `post1`, `post2`; on each input spike
//!    (ascending `j`) the depression of row `j`, then `pre_j = 1`; on each excitatory spike
//!    (ascending `i`) the potentiation of column `i`, then `post1_i = post2_i = 1`.
//!
//! `pre_j` is kept lazily as the step of the last spike, read through a table of
//! `decay_pre^k` built by repeated f32 multiplication (the same table on both backends).
//! θ decay (τ_θ = 10⁷ ms in Diehl & Cook) is applied once per presentation with the exact
//! factor `e^(−steps·dt/τ_θ)`: the per-step factor `1 − 5·10⁻⁸` is not representable in f32
//! (it rounds to `1 − 5.96·10⁻⁸`, a 19 % error in the decay rate).

use super::neuron::{NeuronKind, NeuronModel};
use super::stdp::StdpParams;
use super::synapse::{Connectivity, Projection, Target, WeightInit};
use crate::error::{Result, SnnError};

/// A competitive (winner-take-all) excitatory/inhibitory layer.
#[derive(Debug, Clone)]
pub struct CompetitiveSpec {
    /// Number of inputs (784 for MNIST).
    pub n_input: u32,
    /// Number of excitatory neurons (= number of inhibitory neurons).
    pub n_exc: u32,
    /// Time step (ms).
    pub dt_ms: f32,
    /// Excitatory neuron model (conductance LIF, usually with θ).
    pub exc: NeuronModel,
    /// Inhibitory neuron model (conductance LIF).
    pub inh: NeuronModel,
    /// Input → excitatory: dense, target `ge`.
    pub input: Projection,
    /// STDP on the input projection (`None`: fixed weights).
    pub stdp: Option<StdpParams>,
    /// Excitatory → inhibitory: one-to-one, target `ge`.
    pub exc_to_inh: Projection,
    /// Inhibitory → excitatory: all-but-self, target `gi`.
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
    /// Checks sizes, models, projections and STDP, naming the first bad field.
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
            if !matches!(m.kind, NeuronKind::CondLif(_)) {
                return Err(SnnError::invalid(
                    format!("{field}.kind"),
                    format!("{:?}", m.kind).split('(').next().unwrap_or("?"),
                    "conductance LIF (CondLif): the projections target ge/gi",
                ));
            }
            m.validate(self.dt_ms).map_err(|e| e.in_field(field))?;
        }
        let expect = |field: &str, p: &Projection, c: Connectivity, t: Target| -> Result<()> {
            p.validate(field)?;
            if p.connectivity != c || p.target != t {
                return Err(SnnError::invalid(
                    field,
                    format!("{:?} onto {:?}", p.connectivity, p.target),
                    format!("{c:?} onto {t:?} (the competitive layer's wiring)"),
                ));
            }
            Ok(())
        };
        expect("input", &self.input, Connectivity::Dense, Target::Ge)?;
        expect(
            "exc_to_inh",
            &self.exc_to_inh,
            Connectivity::OneToOne,
            Target::Ge,
        )?;
        expect(
            "inh_to_exc",
            &self.inh_to_exc,
            Connectivity::AllButSelf,
            Target::Gi,
        )?;
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

    /// The fixed weights (exc→inh, inh→exc); `validate` ensures both are constant.
    pub fn lateral_weights(&self) -> (f32, f32) {
        let w = |p: &Projection| match p.init {
            WeightInit::Constant { value } => value,
            WeightInit::ScaledUniform { .. } => 0.0,
        };
        (w(&self.exc_to_inh), w(&self.inh_to_exc))
    }
}

/// Per-synapse input delays in steps, `[input][exc]`, and the number of ring slots
/// (`max + 1`) a backend needs to hold the recent input spikes. Drawn from the counter-based
/// RNG, so both backends get the same delays: `round(U[0,1) · max_ms / dt)`.
pub fn input_delays(spec: &CompetitiveSpec) -> Option<(Vec<u8>, u32)> {
    let max_ms = spec.input_delay_max_ms?;
    let max_steps = max_ms / spec.dt_ms;
    let n = spec.n_input as usize * spec.n_exc as usize;
    let d: Vec<u8> = (0..n)
        .map(|k| {
            let u = (crate::encode::rng::rng_u32(spec.seed, 0xDE1A_0000, k as u32) >> 8) as f32
                / (1u32 << 24) as f32;
            (u * max_steps).round() as u8
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

/// The table of `decay^k`, k = 0..len, by repeated f32 multiplication (pre-trace lookups).
pub fn decay_table(decay: f32) -> Vec<f32> {
    let mut t = vec![1.0f32];
    while *t.last().unwrap_or(&0.0) > 1e-9 && t.len() < PRE_TABLE_MAX {
        let next = t[t.len() - 1] * decay;
        t.push(next);
    }
    t
}

/// Most entries in the pre-trace table; older spikes count as trace 0.
pub const PRE_TABLE_MAX: usize = 8192;
