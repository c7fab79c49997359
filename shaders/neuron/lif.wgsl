// lif.wgsl: leaky integrate-and-fire charge stage, exact decay toward v_rest, voltage-jump
// input. CPU twin: cpu::neuron::lif_charge.
fn lif_charge(s: NeuronState, x: f32, p: NeuronParams) -> NeuronState {
    var o = s;
    o.v = p.v_rest_mv + (s.v - p.v_rest_mv) * p.decay_v_per_step + x;
    return o;
}
