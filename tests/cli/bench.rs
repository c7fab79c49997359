//! `snn-bench`'s rows that a user reads figures from: here the `overhead` row, which times
//! what a training presentation costs besides its steps.

use crate::common;

/// The `overhead` rows of `backend` for dc100: 50 presentations after none for warm-up.
fn overhead(backend: &str) -> serde_json::Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_snn-bench"))
        .args([
            "--backend",
            backend,
            "--presets",
            "dc100",
            "--rows",
            "overhead",
        ])
        .args(["--reps", "1", "--warmup", "0", "--quiet"])
        .output()
        .unwrap();
    common::json_ok(&out)
}

/// One JSON line per backend with 50 presentations of 3 steps and a positive wall time per
/// presentation; on the GPU, one wait for the device per presentation and a host time
/// outside it no longer than the wall (on the CPU, neither: there is no device).
pub fn the_overhead_row_times_presentations() {
    let cpu = overhead("cpu");
    assert_eq!(
        (
            cpu["bench"].as_str(),
            cpu["presentations"].as_u64(),
            cpu["steps"].as_u64()
        ),
        (Some("overhead"), Some(50), Some(3)),
        "{cpu}"
    );
    assert!(
        cpu["median_us_per_presentation"].as_f64() > Some(0.0),
        "{cpu}"
    );
    assert!(cpu["median_host_us_per_presentation"].is_null(), "{cpu}");
    if common::gpu().is_none() {
        return;
    }
    let gpu = overhead("gpu");
    assert_eq!(gpu["backend"].as_str(), Some("gpu"), "{gpu}");
    assert_eq!(
        gpu["device_waits_per_presentation"].as_f64(),
        Some(1.0),
        "{gpu}"
    );
    let (host, wall) = (
        gpu["median_host_us_per_presentation"].as_f64().unwrap(),
        gpu["median_us_per_presentation"].as_f64().unwrap(),
    );
    assert!(0.0 < host && host <= wall, "{gpu}");
}
