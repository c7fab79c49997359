//! Counter-based RNG: a hash of (seed, step, index), identical to `shaders/rng.wgsl`.
//!
//! Both backends draw every random number through [`rng_u32`], so a seed gives the same
//! input spikes on the CPU and on the GPU, whatever the schedule or thread order.

/// The "lowbias32" integer finaliser (C. Wellons): a bijection on `u32`.
#[inline]
pub fn lowbias32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// A uniform `u32` that depends only on `(seed, step, index)`.
#[inline]
pub fn rng_u32(seed: u32, step: u32, index: u32) -> u32 {
    lowbias32(lowbias32(lowbias32(seed) ^ step) ^ index)
}

/// Integer threshold for an event of probability `p` per draw: the event happens when
/// `rng_u32(..) < threshold`. `p` is clamped to [0, 1].
pub fn probability_threshold(p: f64) -> u32 {
    let p = p.clamp(0.0, 1.0);
    (p * 4_294_967_296.0).round().min(u32::MAX as f64) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_pin_the_hash() {
        // Pinned so that a change to the hash (which would break CPU/GPU agreement with
        // saved seeds) is noticed.
        assert_eq!(lowbias32(0), 0);
        assert_eq!(lowbias32(1), 0x6889_90c0);
        assert_ne!(rng_u32(1, 2, 3), rng_u32(1, 2, 4));
    }

    #[test]
    fn threshold_gives_the_asked_rate() {
        let thr = probability_threshold(0.03);
        let hits = (0..200_000u32)
            .filter(|&i| rng_u32(7, i / 1000, i % 1000) < thr)
            .count();
        let rate = hits as f64 / 200_000.0;
        assert!((rate - 0.03).abs() < 0.002, "rate {rate}");
        assert_eq!(probability_threshold(0.0), 0);
        assert_eq!(probability_threshold(2.0), u32::MAX);
    }
}
