//! The `snn` output modes: `--json` prints only JSON lines on stdout (progress events, then
//! the result), `--quiet` prints only the result line and nothing on stderr.

use crate::common::{snn, tmp};

const SMALL: [&str; 7] = [
    "train",
    "--train-samples",
    "30",
    "--label-samples",
    "30",
    "--test-samples",
    "20",
];

pub fn json_mode_prints_only_json_lines() {
    let run = tmp("json");
    let out = snn()
        .args(SMALL)
        .arg("--json")
        .arg("--out")
        .arg(&run)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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

    let out = snn()
        .args([
            "evaluate",
            "--label-samples",
            "30",
            "--test-samples",
            "20",
            "--json",
        ])
        .arg("--run")
        .arg(&run)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for l in text.lines() {
        serde_json::from_str::<serde_json::Value>(l).unwrap();
    }
    let _ = std::fs::remove_dir_all(&run);
}

pub fn quiet_mode_prints_one_line_and_no_stderr() {
    let run = tmp("quiet");
    let out = snn()
        .args(SMALL)
        .arg("--quiet")
        .arg("--out")
        .arg(&run)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        out.stderr.is_empty(),
        "stderr under --quiet: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&run);
}
