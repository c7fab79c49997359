//! The `snn` output modes: `--json` prints only JSON lines on stdout (progress events, then
//! the result), `--quiet` prints only the result line and nothing on stderr, and without
//! either, progress goes to a stderr that is not a terminal as plain lines.

use crate::common::{snn, tmp};
use std::path::Path;
use std::process::Output;

const SMALL: [&str; 7] = [
    "train",
    "--train-samples",
    "30",
    "--label-samples",
    "30",
    "--test-samples",
    "20",
];

/// `snn` with `args` and `more`, which must succeed.
fn ok(args: &[&str], more: &[&str], run: &Path) -> Output {
    let out = snn()
        .args(args)
        .args(more)
        .arg(if args[0] == "train" { "--out" } else { "--run" })
        .arg(run)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn json_mode_prints_only_json_lines() {
    let run = tmp("json");
    let out = ok(&SMALL, &["--json"], &run);
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let phases: Vec<&str> = lines
        .iter()
        .filter(|v| v["event"] == "progress")
        .filter_map(|v| v["phase"].as_str())
        .collect();
    for p in ["train", "label", "test"] {
        assert!(phases.contains(&p), "no {p} progress in {phases:?}");
    }
    let last = lines.last().unwrap();
    assert_eq!(last["command"], "train");
    assert!(last["accuracy_all_activity"].is_number());
    for v in &lines {
        if v["event"] == "progress" {
            assert!(v["done"].as_u64().unwrap() <= v["total"].as_u64().unwrap());
        }
    }

    let evaluate = ["evaluate", "--label-samples", "30", "--test-samples", "20"];
    let out = ok(&evaluate, &["--json"], &run);
    let text = String::from_utf8(out.stdout).unwrap();
    for l in text.lines() {
        serde_json::from_str::<serde_json::Value>(l).unwrap();
    }
    let _ = std::fs::remove_dir_all(&run);
}

pub fn quiet_mode_prints_one_line_and_no_stderr() {
    let run = tmp("quiet");
    let out = ok(&SMALL, &["--quiet"], &run);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        out.stderr.is_empty(),
        "stderr under --quiet: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&run);
}

/// Where stderr is not a terminal (a log file, a batch job; here a pipe) and neither
/// `--quiet` nor `--json` is given, each phase's progress goes there as plain lines: at
/// least the one that ends it.
pub fn progress_goes_to_a_log_as_lines() {
    let run = tmp("progress-lines");
    let out = ok(&SMALL, &[], &run);
    let err = String::from_utf8_lossy(&out.stderr);
    // dc400-short, the default, trains two epochs.
    for line in ["train: 60/60 in ", "label: 30/30 in ", "test: 20/20 in "] {
        assert!(
            err.lines().any(|l| l.starts_with(line)),
            "no `{line}…` in:\n{err}"
        );
    }
    let _ = std::fs::remove_dir_all(&run);
}
