//! One frozen presentation of a saved Diehl & Cook network, recorded step by step through
//! the engine's monitors on the CPU or the GPU engine (`backend::EngineChoice`, the same
//! record on both on a device that rounds as the CPU does): every spike, and the v, θ, ge, gi
//! traces of chosen excitatory neurons (the presentation figures of `plots` draw it).

use super::model::{network, EXC, INH, INPUT, INPUT_EXC};
use crate::backend::EngineChoice;
use crate::error::{Result, SnnError};
use crate::experiments::diehl_cook::spec::{check_loaded, presentation_seed};
use crate::experiments::diehl_cook::{CompetitiveSpec, PresentOptions};
use crate::model::net::{MonitorKind, Recording};
use crate::model::NeuronKind;

/// Every spike and the traces of chosen excitatory neurons over one frozen presentation.
///
/// Spikes are `(step, index)` pairs in step order, then ascending index; time in ms is
/// `step · dt_ms`. The traces hold the state after each step of the chosen excitatory neurons.
#[derive(Debug, Clone, PartialEq)]
pub struct PresentationRecord {
    /// Time step (ms).
    pub dt_ms: f32,
    /// Steps recorded: the presentation's `steps_on` (a frozen presentation has no rest).
    pub steps: u32,
    /// Input spikes as drawn (with input delays they reach each neuron up to 10 ms later).
    pub input_spikes: Vec<(u32, u32)>,
    /// Excitatory spikes.
    pub exc_spikes: Vec<(u32, u32)>,
    /// Inhibitory spikes.
    pub inh_spikes: Vec<(u32, u32)>,
    /// Spike count of every excitatory neuron, as `present_frozen_batch` returns it.
    pub counts: Vec<u32>,
    /// Excitatory neurons whose state is traced.
    pub neurons: Vec<u32>,
    /// `[k][step]`: membrane potential of `neurons[k]` (mV), after the reset of a spike.
    pub v_mv: Vec<Vec<f32>>,
    /// `[k][step]`: adaptive threshold θ of `neurons[k]` (mV); constant, as the network is frozen.
    pub theta_mv: Vec<Vec<f32>>,
    /// `[k][step]`: excitatory conductance of `neurons[k]` (relative to leak; 0 for a model
    /// without one).
    pub ge: Vec<Vec<f32>>,
    /// `[k][step]`: inhibitory conductance of `neurons[k]` (relative to leak; 0 for a model
    /// without one).
    pub gi: Vec<Vec<f32>>,
    /// Base threshold of the excitatory neurons (mV): neuron `i` fires at `v >= this + θ[i]`.
    pub v_threshold_mv: f32,
}

/// The traced variables and their monitors' names.
const TRACES: [(&str, &str); 4] = [
    ("v", "trace_v"),
    ("theta", "trace_theta"),
    ("ge", "trace_ge"),
    ("gi", "trace_gi"),
];

/// The network of `spec` with `weights` (`[input][exc]`) and `theta_mv`, presented `rates_hz`
/// frozen (`opts.frozen()`: from the rest state, no learning, input key
/// `presentation_seed(spec.seed, opts.key)`), recorded on the engine `engine` builds. It runs
/// what a frozen batch runs for each image (an engine trial), so it gives the spikes that
/// image `k` of a batch keyed `opts.key − k` gets.
///
/// # Errors
/// Sizes that do not match `spec`, values that are not finite, bad rates, a neuron index
/// `>= n_exc`; `EngineChoice::simulator`'s (device limits, shader errors).
pub fn present_recorded(
    spec: &CompetitiveSpec,
    weights: &[f32],
    theta_mv: &[f32],
    rates_hz: &[f32],
    opts: &PresentOptions,
    neurons: &[u32],
    engine: &EngineChoice,
) -> Result<PresentationRecord> {
    check_loaded(
        spec.n_input as usize,
        spec.n_exc as usize,
        weights,
        theta_mv,
    )?;
    let n = spec.n_exc;
    if let Some(&i) = neurons.iter().find(|&&i| i >= n) {
        return Err(SnnError::invalid(
            "neurons",
            i,
            format!("excitatory neuron indices below {n}"),
        ));
    }
    let conductances = matches!(
        spec.exc.kind,
        NeuronKind::CondLif(_) | NeuronKind::CurrentLif(_)
    );
    let mut net = network(spec)?
        .monitor("input_spikes", INPUT, MonitorKind::Spikes { neurons: None })
        .monitor("exc_spikes", EXC, MonitorKind::Spikes { neurons: None })
        .monitor("inh_spikes", INH, MonitorKind::Spikes { neurons: None });
    for (var, name) in TRACES {
        if conductances || !var.starts_with('g') {
            let kind = MonitorKind::State {
                variable: var.into(),
                neurons: neurons.to_vec(),
            };
            net = net.monitor(name, EXC, kind);
        }
    }
    let mut e = engine.simulator(&net)?;
    // The state's weights are taken as they are: normalisation may have scaled some past
    // w_max, which `set_weights` would refuse.
    let mut st = e.network_state()?;
    for q in st.copies[0].projections.iter_mut() {
        if q.name == INPUT_EXC {
            q.weights.copy_from_slice(weights);
        }
    }
    e.set_network_state(&st)?;
    e.set_state(EXC, "theta", 0, theta_mv)?;
    e.rest(0)?;
    e.set_learning(false);
    e.set_rates(INPUT, 0, rates_hz)?;
    let origin = e.step_count();
    e.set_poisson_stream(INPUT, 0, presentation_seed(spec.seed, opts.key), origin)?;
    let frozen = opts.frozen();
    let counts = e.run_counting(frozen.steps_on, EXC)?.swap_remove(0);
    let spikes = |name: &str| -> Result<Vec<(u32, u32)>> {
        match e.recording(name, 0)? {
            Recording::Spikes(s) => Ok(s.iter().map(|&(t, i)| (t - origin, i)).collect()),
            _ => Ok(vec![]),
        }
    };
    let steps = frozen.steps_on as usize;
    let trace = |name: &str| -> Result<Vec<Vec<f32>>> {
        let mut out = vec![Vec::with_capacity(steps); neurons.len()];
        if !net.monitors.iter().any(|m| m.name == name) {
            out.iter_mut().for_each(|o| o.resize(steps, 0.0));
        } else if let Recording::State { values, .. } = e.recording(name, 0)? {
            for row in values.chunks_exact(neurons.len().max(1)) {
                for (o, &x) in out.iter_mut().zip(row) {
                    o.push(x);
                }
            }
        }
        Ok(out)
    };
    Ok(PresentationRecord {
        dt_ms: spec.dt_ms,
        steps: frozen.steps_on,
        input_spikes: spikes("input_spikes")?,
        exc_spikes: spikes("exc_spikes")?,
        inh_spikes: spikes("inh_spikes")?,
        counts,
        neurons: neurons.to_vec(),
        v_mv: trace(TRACES[0].1)?,
        theta_mv: trace(TRACES[1].1)?,
        ge: trace(TRACES[2].1)?,
        gi: trace(TRACES[3].1)?,
        v_threshold_mv: spec.exc.v_threshold_mv,
    })
}
