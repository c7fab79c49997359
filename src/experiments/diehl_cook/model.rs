//! The Diehl & Cook network as a [`Network`] of the general engine: 784 Poisson inputs, an
//! excitatory population with adaptive θ, an inhibitory population, and three projections.
//!
//! | projection | pre → post | connectivity | weights | delays | plasticity |
//! |---|---|---|---|---|---|
//! | [`INPUT_EXC`] | [`INPUT`] → [`EXC`] | all-to-all | the spec's initial draw, in `[w_min, w_max]` | the spec's per-synapse draw, weight at emission | the spec's STDP |
//! | [`EXC_INH`] | [`EXC`] → [`INH`] | one-to-one | constant | none | none |
//! | [`INH_EXC`] | [`INH`] → [`EXC`] | all-but-self | constant | none | none |
//!
//! The network carries no θ decay (τ_θ = ∞ in its excitatory model): the protocol
//! (`super::engine`) applies the exact decay once per presentation, as `super::spec` says.

use super::spec::CompetitiveSpec;
use crate::error::{Result, SnnError};
use crate::experiments::diehl_cook::spec::input_delays;
use crate::model::net::{Connectivity, Delay, Delivery, Network, Projection, Weights};

/// The Poisson input population (one neuron per pixel).
pub const INPUT: &str = "input";
/// The excitatory population.
pub const EXC: &str = "exc";
/// The inhibitory population.
pub const INH: &str = "inh";
/// The plastic input → excitatory projection.
pub const INPUT_EXC: &str = "input_exc";
/// The excitatory → inhibitory projection.
pub const EXC_INH: &str = "exc_inh";
/// The inhibitory → excitatory projection (lateral inhibition).
pub const INH_EXC: &str = "inh_exc";

/// The network of `spec`: initial input weights and delays drawn from `spec.seed` exactly
/// as `CompetitiveSpec` documents them, one copy.
///
/// # Errors
/// [`CompetitiveSpec::validate`]'s errors. The engine validates the network it is given
/// (`Network::validate`: e.g. an initial weight outside `[w_min, w_max]`).
pub fn network(spec: &CompetitiveSpec) -> Result<Network> {
    spec.validate()?;
    let (n_in, n) = (spec.n_input, spec.n_exc);
    let mut exc = spec.exc.clone();
    if let Some(t) = exc.theta.as_mut() {
        t.tau_theta_ms = f32::INFINITY;
    }
    let input = &spec.input;
    let w0 = input.initial_dense(n_in as usize, n as usize, spec.seed);
    let mut input_exc = Projection::new(
        INPUT_EXC,
        INPUT,
        EXC,
        input.target,
        Connectivity::AllToAll,
        0.0,
    )
    .with_weights(Weights::Array(w0), input.w_min, input.w_max);
    if let Some((steps, _)) = input_delays(spec) {
        let ms = steps.iter().map(|&d| d as f32 * spec.dt_ms).collect();
        input_exc = input_exc.with_delay(Delay::Array(ms), Delivery::AtEmission);
    }
    if let Some(stdp) = spec.stdp {
        input_exc = input_exc.with_stdp(stdp);
    }
    let (w_ei, w_ie) = spec.lateral_weights();
    let net = Network::new(spec.dt_ms)
        .with_seeds(vec![spec.seed])
        .poisson(INPUT, n_in, 0.0)
        .neurons(EXC, n, exc)
        .neurons(INH, n, spec.inh.clone())
        .project(input_exc)
        .project(Projection::new(
            EXC_INH,
            EXC,
            INH,
            spec.exc_to_inh.target,
            Connectivity::OneToOne,
            w_ei,
        ))
        .project(Projection::new(
            INH_EXC,
            INH,
            EXC,
            spec.inh_to_exc.target,
            Connectivity::AllButSelf,
            w_ie,
        ));
    Ok(net)
}

/// The networks of `specs`, which differ in their seed only, as the copies of one
/// [`Network`] (copy `k` is [`network`]`(specs[k])`: its initial input weights and delays
/// drawn from its own seed, [`Weights::PerCopy`] and [`Delay::PerCopy`]).
///
/// # Errors
/// [`SnnError::InvalidParam`] for no spec, or a spec that differs from the first in more
/// than its seed; [`network`]'s errors.
pub fn network_batch(specs: &[CompetitiveSpec]) -> Result<Network> {
    let Some(first) = specs.first() else {
        return Err(SnnError::invalid("networks", 0, "at least one network"));
    };
    let mut net = network(first)?;
    if specs.len() == 1 {
        return Ok(net);
    }
    // Debug shows every field, floats to the bit (shortest round-trip form).
    let but_seed = |s: &CompetitiveSpec| {
        format!(
            "{:?}",
            CompetitiveSpec {
                seed: 0,
                ..s.clone()
            }
        )
    };
    let shape = but_seed(first);
    for (k, s) in specs.iter().enumerate() {
        s.validate()?;
        if but_seed(s) != shape {
            return Err(SnnError::invalid(
                format!("network {k} (seed {})", s.seed),
                "another experiment",
                "the experiment of network 0 with another seed (one batch of copies)",
            ));
        }
    }
    let (n_in, n) = (first.n_input as usize, first.n_exc as usize);
    net.seeds = specs.iter().map(|s| s.seed).collect();
    let Some(input_exc) = net.projections.iter_mut().find(|p| p.name == INPUT_EXC) else {
        unreachable!("network() declares {INPUT_EXC}")
    };
    input_exc.weights = Weights::PerCopy(
        specs
            .iter()
            .map(|s| s.input.initial_dense(n_in, n, s.seed))
            .collect(),
    );
    if let Delay::Array(_) = input_exc.delay {
        input_exc.delay = Delay::PerCopy(
            specs
                .iter()
                .map(|s| {
                    let (steps, _) = input_delays(s).unwrap_or_default();
                    steps.iter().map(|&d| d as f32 * s.dt_ms).collect()
                })
                .collect(),
        );
    }
    Ok(net)
}
