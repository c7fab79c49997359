// stages.wgsl: the model-independent stages, called by the general engine's neuron passes
// (gpu::engine::program), under both schedules.
// Stage order per step: charge (the model's own, then clamp_refractory) -> fire -> reset ->
// adapt (see model::neuron docs). CPU twins: cpu::neuron::{charge, fire, reset, adapt}.

// The refractory clamp of charge: `o` is the model's charge of `s`; v keeps its old value
// while the neuron is refractory.
fn clamp_refractory(s: NeuronState, o: NeuronState, p: NeuronParams) -> NeuronState {
    var r = o;
    if (s.refrac > p.clamp_above_steps) {
        r.v = s.v;
    }
    return r;
}

fn fire(s: NeuronState, p: NeuronParams) -> bool {
    return s.refrac == 0u && s.v >= p.v_threshold_mv + s.theta;
}

fn reset(s: NeuronState, spike: bool, p: NeuronParams) -> NeuronState {
    var o = s;
    if (spike) {
        if (p.reset_soft != 0u) {
            o.v = s.v - (p.v_threshold_mv + s.theta);
        } else {
            o.v = p.v_reset_mv;
        }
        o.refrac = p.refractory_steps;
    } else if (s.refrac > 0u) {
        o.refrac = s.refrac - 1u;
    }
    return o;
}

fn adapt(s: NeuronState, spike: bool, p: NeuronParams) -> NeuronState {
    var o = s;
    if (p.theta_frozen == 0u) {
        o.theta = s.theta * p.decay_theta_per_step + select(0.0, p.theta_plus_mv, spike);
    }
    return o;
}
