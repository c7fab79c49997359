// cond_lif.wgsl: conductance-based LIF charge stage (Diehl & Cook), forward Euler on v,
// conductance decay by a host-derived factor. Input x arrives in ge.
// CPU twin: cpu::neuron::cond_lif_charge.
fn cond_lif_charge(s: NeuronState, x: f32, p: NeuronParams) -> NeuronState {
    var o = s;
    let ge = s.ge + x;
    let dv = ((p.v_rest_mv - s.v) + ge * (p.e_exc_mv - s.v) + s.gi * (p.e_inh_mv - s.v)) * p.dt_over_tau_m;
    var v = s.v + dv;
    // p.clamp_v: keep v within [E_inh, E_exc] (comparisons, so a NaN passes through).
    if (p.clamp_v != 0u) {
        if (v < p.e_inh_mv) {
            v = p.e_inh_mv;
        } else if (v > p.e_exc_mv) {
            v = p.e_exc_mv;
        }
    }
    o.v = v;
    o.ge = ge * p.decay_ge_per_step;
    o.gi = s.gi * p.decay_gi_per_step;
    return o;
}
