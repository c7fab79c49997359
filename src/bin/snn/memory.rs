//! Sizes checked against this machine before any work: the memory a network's weights take
//! (a CPU run of `n_exc = 10^7` would otherwise abort in the allocator) and how many networks
//! one `--networks` run may hold (all of them sit in memory at once).

use anyhow::{bail, Result};
use snn_wgpu::experiments::diehl_cook::config::DcConfig;

/// Networks per CPU thread a `--networks` run may train: on the CPU a batch's copies take
/// turns on the threads, so more than this many per thread is a run better split up.
pub(crate) const NETWORKS_PER_THREAD: usize = 64;

/// Bytes of memory available to this process, where the OS says (`MemAvailable` on Linux).
pub(crate) fn available_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// Host memory one network of `cfg` needs: its 784 x n_exc input weights (f32) three times
/// over (the initial draw, the working copy, and a checkpoint's or the saved run's copy),
/// and with input delays about 24 bytes more per synapse (the delays as drawn, and the CPU
/// engine's plan of a batch copy: delays, their groups by pre neuron and delay), and the
/// lateral inhibition's n_exc·(n_exc − 1) synapses.
pub(crate) fn network_bytes(cfg: &DcConfig) -> u64 {
    let per_synapse = 3 * 4 + if cfg.input_delay_max_ms > 0.0 { 24 } else { 0 };
    let n = u64::from(cfg.n_exc);
    // The lateral inhibition's n·(n − 1) synapses as the engines plan them (pairs, a post
    // list and a weight each) and a checkpoint's copy of their weights.
    let lateral = 20 * n * n.saturating_sub(1);
    per_synapse * 784 * n + lateral
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// Refuses a network whose weights do not fit in the available memory.
pub(crate) fn check_network(cfg: &DcConfig) -> Result<()> {
    let need = network_bytes(cfg);
    if let Some(have) = available_bytes().filter(|&h| need > h) {
        bail!(
            "n_exc = {}: the input weights need about {} of memory, and {} is available; \
             use a smaller n_exc",
            cfg.n_exc,
            gib(need),
            gib(have)
        );
    }
    Ok(())
}

/// Refuses a run of `k` networks, more than [`NETWORKS_PER_THREAD`] per thread (checked
/// before their configs are made).
pub(crate) fn check_network_count(k: usize) -> Result<()> {
    let threads = rayon::current_num_threads();
    let max = NETWORKS_PER_THREAD * threads;
    if k > max {
        bail!(
            "--networks {k}: at most {max} on this machine's {threads} CPU thread(s) \
             ({NETWORKS_PER_THREAD} per thread, on either backend); split the run into several"
        );
    }
    Ok(())
}

/// Refuses a `--networks`/`--sweep` run that does not fit in memory, or has more than
/// [`NETWORKS_PER_THREAD`] networks per thread.
pub(crate) fn check_networks(cfgs: &[DcConfig]) -> Result<()> {
    let k = cfgs.len();
    check_network_count(k)?;
    let need: u64 = cfgs.iter().map(network_bytes).sum();
    if let Some(have) = available_bytes().filter(|&h| need > h) {
        let each = network_bytes(&cfgs[0]).max(1);
        bail!(
            "--networks {k}: the networks' weights need about {} of memory, and {} is \
             available: at most {} networks of {} excitatory neurons fit",
            gib(need),
            gib(have),
            have / each,
            cfgs[0].n_exc
        );
    }
    Ok(())
}
