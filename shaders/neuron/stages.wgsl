// stages.wgsl: the model-independent stages, used by every schedule (step.wgsl, fused.wgsl).
// Stage order per step: input -> charge -> fire -> reset -> adapt (see model::neuron docs).
// CPU twins: cpu::neuron::{input_drive, charge, fire, reset, adapt}.

// Input arriving at step t for neuron i of network b (global index g = b * n + i);
// zero outside the steps [input_t0, input_t1).
fn input_drive(t: u32, g: u32, thr: u32, p: NeuronParams) -> f32 {
    if (t < p.input_t0 || t >= p.input_t1) {
        return 0.0;
    }
    var x = p.input_const;
    if (thr != 0u && rng_u32(p.seed, t, g) < thr) {
        x = x + p.poisson_weight;
    }
    return x;
}

// The model's charge, with v clamped while refractory.
fn charge(s: NeuronState, x: f32, p: NeuronParams) -> NeuronState {
    return clamp_refractory(s, model_charge(s, x, p), p);
}

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
