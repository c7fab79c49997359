//! Which vector instructions the CPU reference's hot loops are compiled for, chosen once at
//! run time: the general engine's step (`cpu::engine`) has copies built
//! with AVX-512 and with AVX2 enabled, beside the baseline x86-64 (SSE2) one the release
//! build targets.
//!
//! The copies run the same Rust code; only the vector width of what LLVM vectorises changes.
//! Rust never contracts `a * b + c` into a fused multiply-add and every lane is an IEEE
//! operation, so all levels give the same bits (a test runs them side by side).

/// The instruction set a hot loop runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimdLevel {
    /// The build's baseline (SSE2 on x86-64; whatever the target has elsewhere).
    Baseline,
    /// AVX2 with BMI1/2, LZCNT, POPCNT (x86-64-v3 without FMA).
    Avx2,
    /// AVX-512 F/BW/CD/DQ/VL on top of AVX2 (x86-64-v4 without FMA).
    Avx512,
}

impl SimdLevel {
    /// The best level this processor runs.
    pub fn best() -> SimdLevel {
        best_available()
    }

    /// Lower-case name, as in JSON lines.
    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Baseline => "baseline",
            SimdLevel::Avx2 => "avx2",
            SimdLevel::Avx512 => "avx512",
        }
    }

    /// The level named `name` (`baseline`, `avx2`, `avx512`), or `None`.
    pub fn from_name(name: &str) -> Option<SimdLevel> {
        [SimdLevel::Baseline, SimdLevel::Avx2, SimdLevel::Avx512]
            .into_iter()
            .find(|l| l.name() == name)
    }

    /// Whether this processor can run `self` (always true for `Baseline`).
    pub fn available(self) -> bool {
        match self {
            SimdLevel::Baseline => true,
            SimdLevel::Avx2 => best_available() != SimdLevel::Baseline,
            SimdLevel::Avx512 => best_available() == SimdLevel::Avx512,
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn best_available() -> SimdLevel {
    use std::arch::is_x86_feature_detected as has;
    let avx2 = has!("avx2") && has!("bmi1") && has!("bmi2") && has!("lzcnt") && has!("popcnt");
    let avx512 = avx2
        && has!("avx512f")
        && has!("avx512bw")
        && has!("avx512cd")
        && has!("avx512dq")
        && has!("avx512vl");
    if avx512 {
        SimdLevel::Avx512
    } else if avx2 {
        SimdLevel::Avx2
    } else {
        SimdLevel::Baseline
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn best_available() -> SimdLevel {
    SimdLevel::Baseline
}
