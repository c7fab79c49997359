//! Standard output that a closed reader cannot stop: `snn train --json | head -1` must finish
//! the run and write its directory, so a broken pipe turns further output off instead of
//! panicking (as `println!` does) and losing the work.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a write to stdout failed: later lines are dropped without trying again.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes `text` and a newline to stdout and flushes it (one JSON line at a time reaches a
/// pipe at once). A closed or failing stdout is noted once on stderr; the command goes on.
pub(crate) fn line(text: impl std::fmt::Display) {
    write(format_args!("{text}\n"));
}

/// Writes `text` as it is (no newline) to stdout; failures as in [`line()`].
pub(crate) fn write(args: std::fmt::Arguments<'_>) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("warning: cannot write to stdout ({e}); going on without it");
        }
    }
}
