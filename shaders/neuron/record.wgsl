// record.wgsl: monitor writers of the population kernels (step.wgsl, fused.wgsl).

// Monitors: write the spike bit and the recorded variables of step t.
fn record(b: u32, t: u32, i: u32, spike: bool, s: NeuronState) {
    if (spike && t >= params.rec_spike_t0 && t < params.rec_spike_t1) {
        let steps = params.rec_spike_t1 - params.rec_spike_t0;
        let word = (b * steps + (t - params.rec_spike_t0)) * params.n_words + i / 32u;
        atomicOr(&mon_spikes[word], 1u << (i % 32u));
    }
    let slot = neuron_cfg[i].rec_slot;
    if (slot != NO_SLOT && t >= params.rec_state_t0 && t < params.rec_state_t1) {
        let steps = params.rec_state_t1 - params.rec_state_t0;
        let base = (b * params.rec_n_neurons + slot) * params.rec_n_vars * steps + (t - params.rec_state_t0);
        record_vars(base, steps, s);
    }
}
