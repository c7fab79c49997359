//! Encoding: turning numbers into spikes. Holds the counter-based RNG shared with WGSL.
pub mod rng;
