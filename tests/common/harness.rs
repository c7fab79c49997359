//! The harness (libtest-mimic) of a test binary whose cases need the CPU, a GPU adapter or
//! both: a GPU case with no adapter to run on shows as *ignored* in the summary instead of
//! passing, and fails when an adapter is required (`CI=true` or `SNN_REQUIRE_GPU=1`,
//! `common::gpu_required`).
//!
//! Each case is a trial of one of three kinds: `Cpu` (no adapter needed), `Gpu` (needs one)
//! and `Mixed` (a CPU part, then the same checks on the adapter when `common::gpu()` finds
//! one). Without an adapter: `Gpu` trials are ignored and `Mixed` ones run their CPU part,
//! listed as `[cpu part only]`; the reason is printed once. With none where one is required,
//! `Gpu` and `Mixed` trials fail with the reason before their body runs. A test function left
//! out of [`trials!`] is dead code, which `cargo clippy --all-targets -- -D warnings` refuses.

use crate::common;
use libtest_mimic::{Arguments, Trial};
use std::process::ExitCode;

/// What a trial needs.
#[derive(Clone, Copy)]
pub enum Kind {
    Cpu,
    Gpu,
    Mixed,
}

/// The trials, named `module::test` (`area::module::test` for a nested module), each with its
/// kind: `trials! { area::module: [Cpu test_a, Gpu test_b,], }`.
macro_rules! trials {
    ($($($module:ident)::+ : $tests:tt,)*) => {
        [$($crate::harness::trials!(@group [$($module)::+] $tests)),*].concat()
    };
    (@group $path:tt [$($kind:ident $test:ident,)*]) => {
        vec![$($crate::harness::trials!(@one $path $kind $test)),*]
    };
    (@one [$($module:ident)::+] $kind:ident $test:ident) => {
        (
            concat!($(stringify!($module), "::",)+ stringify!($test)),
            $crate::harness::Kind::$kind,
            $($module)::+::$test as fn(),
        )
    };
}
pub(crate) use trials;

/// Runs `trials` under the command line's filters and options (`cargo test -- --help`).
pub fn run(trials: Vec<(&'static str, Kind, fn())>) -> ExitCode {
    let args = Arguments::from_args();
    let required = common::gpu_required();
    let missing = common::gpu_probe().err();
    match (&missing, required) {
        (Some(e), false) => eprintln!(
            "no GPU adapter: the GPU tests are ignored (set SNN_REQUIRE_GPU=1 or CI=true to \
             make that a failure): {e}"
        ),
        (Some(e), true) => eprintln!(
            "no GPU adapter, and one is required (CI=true or SNN_REQUIRE_GPU=1): the GPU tests \
             fail: {e}"
        ),
        (None, _) => {}
    }
    let ignore_gpu = missing.is_some() && !required;
    let trials = trials
        .into_iter()
        .map(|(name, kind, test)| {
            let refused = match kind {
                Kind::Cpu => None,
                Kind::Gpu | Kind::Mixed => missing.clone().filter(|_| required),
            };
            let trial = Trial::test(name, move || {
                if let Some(e) = refused {
                    return Err(format!(
                        "a GPU adapter is required (CI=true or SNN_REQUIRE_GPU=1): {e}"
                    )
                    .into());
                }
                test();
                Ok(())
            });
            match kind {
                Kind::Cpu => trial,
                Kind::Gpu => trial.with_ignored_flag(ignore_gpu),
                Kind::Mixed if ignore_gpu => trial.with_kind("cpu part only"),
                Kind::Mixed => trial,
            }
        })
        .collect();
    libtest_mimic::run(&args, trials).exit_code()
}
