//! Progress of long jobs (train, label, test, fetch): a bar with rate and ETA on a terminal,
//! nothing under `--quiet`, and under `--json` one JSON line per second on stdout
//! (`{"event":"progress","phase":..,"done":..,"total":..,"per_second":..,"eta_seconds":..}`).

use indicatif::{ProgressBar, ProgressStyle};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static JSON: AtomicBool = AtomicBool::new(false);

/// Switches every progress report of this process to JSON lines (`--json`).
pub(crate) fn set_json(on: bool) {
    JSON.store(on, Ordering::Relaxed);
}

/// Whether `--json` was given.
pub(crate) fn json() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// Seconds between two JSON progress lines.
const JSON_EVERY: Duration = Duration::from_secs(1);

pub(crate) struct JsonState {
    done: u64,
    message: String,
    last: Option<Instant>,
    /// `done` of the last line written.
    last_done: Option<u64>,
}

/// A progress report: a terminal bar, JSON lines, or nothing.
pub(crate) enum Progress {
    Bar(ProgressBar),
    Json {
        phase: String,
        total: u64,
        start: Instant,
        state: Mutex<JsonState>,
    },
    Hidden,
}

impl Progress {
    /// A report of `len` items named `what` (`train`, `label`, `test`, ...).
    pub(crate) fn new(len: usize, quiet: bool, what: &str) -> Self {
        if json() && !quiet {
            return Progress::Json {
                phase: what.into(),
                total: len as u64,
                start: Instant::now(),
                state: Mutex::new(JsonState {
                    done: 0,
                    message: String::new(),
                    last: None,
                    last_done: None,
                }),
            };
        }
        if quiet || json() {
            return Progress::Hidden;
        }
        let pb = ProgressBar::new(len as u64);
        pb.set_style(
            ProgressStyle::with_template(
                "{prefix:>9} [{bar:30}] {pos}/{len} {per_sec} eta {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        pb.set_prefix(what.to_string());
        Progress::Bar(pb)
    }

    pub(crate) fn set_position(&self, done: u64) {
        match self {
            Progress::Bar(pb) => pb.set_position(done),
            Progress::Json { state, .. } => {
                if let Ok(mut s) = state.lock() {
                    s.done = done;
                }
                self.emit(false);
            }
            Progress::Hidden => {}
        }
    }

    pub(crate) fn set_message(&self, msg: String) {
        match self {
            Progress::Bar(pb) => pb.set_message(msg),
            Progress::Json { state, .. } => {
                if let Ok(mut s) = state.lock() {
                    s.message = msg;
                }
            }
            Progress::Hidden => {}
        }
    }

    /// Tells the user something is wrong without stopping: above the bar on a terminal, an
    /// `{"event":"warning","message":..}` line under `--json`, and on stderr even under
    /// `--quiet` (a warning is not a note).
    pub(crate) fn warn(&self, message: &str) {
        match self {
            Progress::Bar(pb) => pb.suspend(|| eprintln!("warning: {message}")),
            // `Json` exists only under --json; `Hidden` under --json --quiet.
            _ if json() => {
                crate::stdout::line(serde_json::json!({"event": "warning", "message": message}))
            }
            _ => eprintln!("warning: {message}"),
        }
    }

    /// Restarts the rate and ETA estimate (after a resume jumped the position).
    pub(crate) fn reset_eta(&self) {
        if let Progress::Bar(pb) = self {
            pb.reset_eta();
        }
    }

    pub(crate) fn finish(&self) {
        match self {
            Progress::Bar(pb) => pb.finish(),
            Progress::Json { .. } => self.emit(true),
            Progress::Hidden => {}
        }
    }

    fn emit(&self, force: bool) {
        let Progress::Json {
            phase,
            total,
            start,
            state,
        } = self
        else {
            return;
        };
        let Ok(mut s) = state.lock() else { return };
        let recent = s.last.is_some_and(|t| t.elapsed() < JSON_EVERY);
        if (!force && recent) || (force && s.last_done == Some(s.done)) {
            return;
        }
        s.last = Some(Instant::now());
        s.last_done = Some(s.done);
        let secs = start.elapsed().as_secs_f64();
        let rate = s.done as f64 / secs.max(1e-9);
        let eta = (rate > 0.0).then(|| (*total - s.done.min(*total)) as f64 / rate);
        let line = serde_json::json!({
            "event": "progress",
            "phase": phase,
            "done": s.done,
            "total": total,
            "seconds": secs,
            "per_second": rate,
            "eta_seconds": eta,
            "message": (!s.message.is_empty()).then(|| s.message.clone()),
        });
        crate::stdout::line(line);
    }
}
