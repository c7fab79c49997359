// monitor.wgsl: state monitors. Slot g of all state monitors reads fstate at
// tables[slots + 3g] + b · tables[slots + 3g + 1] + tables[slots + 3g + 2] (variable region,
// population size, neuron) after the neuron stages. CPU twin: step 6 of cpu::engine.
fn record_state(slots: u32, n_slots: u32, batch: u32, g: u32, b: u32) {
    let e = slots + 3u * g;
    let at = tab(e) + b * tab(e + 1u) + tab(e + 2u);
    rec_vals[(step.row * batch + b) * n_slots + g] = fstate[at];
}
