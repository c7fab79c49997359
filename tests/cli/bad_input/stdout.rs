//! A closed stdout (`snn train --json | head -1`) neither kills the command nor loses its run.

use super::helpers::*;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

/// Runs `c` with stdout piped, reads one line, closes the pipe, and waits: the command must
/// end successfully (no "Broken pipe" panic). Returns its stderr.
#[track_caller]
fn first_line_then_close(mut c: Command) -> String {
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with('{'), "first line: {first}");
    // The reader is dropped here: every later write meets a closed pipe.
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{:?}; stderr:\n{stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

pub fn train_and_evaluate_survive_a_closed_stdout_and_keep_the_run() {
    let t = TempDir::new("stdout");
    let run = t.path("run");
    let mut c = snn(&["train", "--json", "--out", run.to_str().unwrap()]);
    c.args([
        "--train-samples",
        "20",
        "--label-samples",
        "20",
        "--test-samples",
        "20",
    ]);
    first_line_then_close(c);
    for f in [
        "network.npz",
        "config.json",
        "results.json",
        "checkpoint.npz",
    ] {
        assert!(run.join(f).is_file(), "{f} missing: {:?}", t.entries("run"));
    }
    let mut c = snn(&["evaluate", "--json", "--run", run.to_str().unwrap()]);
    c.args(["--label-samples", "20", "--test-samples", "20"]);
    first_line_then_close(c);
}
