//! Progress of long jobs (train, label, test, fetch): a bar with rate and ETA on a terminal,
//! a plain line on stderr every minute and at the end where stderr is not a terminal (a log
//! file, a batch job), nothing under `--quiet`, and under `--json` one JSON line per second
//! on stdout
//! (`{"event":"progress","phase":..,"done":..,"total":..,"per_second":..,"eta_seconds":..}`).

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
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

/// Seconds between two plain progress lines (stderr not a terminal).
const LINE_EVERY: Duration = Duration::from_secs(60);

pub(crate) struct ReportState {
    done: u64,
    message: String,
    last: Option<Instant>,
    /// `done` of the last line written.
    last_done: Option<u64>,
    /// Where the rate counts from: the position and time a resumed job started at
    /// ([`Progress::resume_at`]); none: 0 at the report's start.
    base: Option<(u64, Instant)>,
}

/// A progress report: a terminal bar, JSON lines on stdout (`json`) or plain lines on
/// stderr, or nothing.
pub(crate) enum Progress {
    Bar(ProgressBar),
    Report {
        phase: String,
        total: u64,
        start: Instant,
        state: Mutex<ReportState>,
        json: bool,
    },
    Hidden,
}

impl Progress {
    /// A report of `len` items named `what` (`train`, `label`, `test`, ...).
    pub(crate) fn new(len: usize, quiet: bool, what: &str) -> Self {
        if quiet {
            return Progress::Hidden;
        }
        if json() || !std::io::stderr().is_terminal() {
            return Progress::Report {
                phase: what.into(),
                total: len as u64,
                start: Instant::now(),
                state: Mutex::new(ReportState {
                    done: 0,
                    message: String::new(),
                    last: None,
                    last_done: None,
                    base: None,
                }),
                json: json(),
            };
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
            Progress::Report { state, .. } => {
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
            Progress::Report { state, .. } => {
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
            // `Hidden` under --json --quiet.
            _ if json() => {
                crate::stdout::line(serde_json::json!({"event": "warning", "message": message}))
            }
            _ => eprintln!("warning: {message}"),
        }
    }

    /// Puts a resumed job at `done` without a report, the rate and ETA counted from here
    /// (the items done before the resume took no time of this process).
    pub(crate) fn resume_at(&self, done: u64) {
        match self {
            Progress::Bar(pb) => {
                pb.set_position(done);
                pb.reset_eta();
            }
            Progress::Report { state, .. } => {
                if let Ok(mut s) = state.lock() {
                    s.done = done;
                    s.base = Some((done, Instant::now()));
                }
            }
            Progress::Hidden => {}
        }
    }

    pub(crate) fn finish(&self) {
        match self {
            Progress::Bar(pb) => pb.finish(),
            Progress::Report { .. } => self.emit(true),
            Progress::Hidden => {}
        }
    }

    fn emit(&self, force: bool) {
        let Progress::Report {
            phase,
            total,
            start,
            state,
            json,
        } = self
        else {
            return;
        };
        let Ok(mut s) = state.lock() else { return };
        let every = if *json { JSON_EVERY } else { LINE_EVERY };
        // The first plain line waits a period too: a short job says only where it ended.
        let last = s.last.or((!*json).then_some(*start));
        let recent = last.is_some_and(|t| t.elapsed() < every);
        if (!force && recent) || (force && s.last_done == Some(s.done)) {
            return;
        }
        s.last = Some(Instant::now());
        s.last_done = Some(s.done);
        let (from, since) = s.base.unwrap_or((0, *start));
        let secs = since.elapsed().as_secs_f64();
        let rate = s.done.saturating_sub(from) as f64 / secs.max(1e-9);
        let eta = (rate > 0.0).then(|| (*total - s.done.min(*total)) as f64 / rate);
        if !*json {
            let left = match eta {
                Some(e) if s.done < *total => format!(", about {} left", duration(e)),
                _ => String::new(),
            };
            let msg = match s.message.is_empty() {
                true => String::new(),
                false => format!(" {}", s.message),
            };
            // A rate over less than a second says little.
            let speed = match secs >= 1.0 {
                true => format!(" ({rate:.1}/s{left})"),
                false => String::new(),
            };
            eprintln!(
                "{phase}: {}/{total} in {}{speed}{msg}",
                s.done,
                duration(secs)
            );
            return;
        }
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

/// `seconds` as `under 1 s`, `42 s`, `7 min` or `2.5 h`.
fn duration(seconds: f64) -> String {
    match seconds {
        s if s < 1.0 => "under 1 s".into(),
        s if s < 120.0 => format!("{s:.0} s"),
        s if s < 7200.0 => format!("{:.0} min", s / 60.0),
        s => format!("{:.1} h", s / 3600.0),
    }
}
