// if.wgsl: integrate-and-fire charge stage. CPU twin: cpu::neuron::if_charge.
fn if_charge(s: NeuronState, x: f32, p: NeuronParams) -> NeuronState {
    var o = s;
    o.v = s.v + x;
    return o;
}
