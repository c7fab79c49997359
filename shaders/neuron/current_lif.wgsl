// current_lif.wgsl: current-based LIF charge stage (Brette et al. 2007, Benchmark 2): two
// synaptic currents ge, gi in mV (gi the inhibitory magnitude), forward Euler on v, current
// decay by a host-derived factor. Input x arrives in ge.
// CPU twin: cpu::neuron::current_lif_charge.
fn current_lif_charge(s: NeuronState, x: f32, p: NeuronParams) -> NeuronState {
    var o = s;
    let ge = s.ge + x;
    let dv = ((p.v_rest_mv - s.v) + ge - s.gi) * p.dt_over_tau_m;
    o.v = s.v + dv;
    o.ge = ge * p.decay_ge_per_step;
    o.gi = s.gi * p.decay_gi_per_step;
    return o;
}
