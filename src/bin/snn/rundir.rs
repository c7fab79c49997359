//! The run directory of `snn train`, claimed before any work: created if missing, checked
//! writable, and locked (an exclusive lock on `RUN_DIR/.snn-lock`, held until the process
//! ends), so a second run into the same `--out` fails at once instead of both writing it. A
//! run that fails removes the directory again if it made it and left nothing in it.

use anyhow::{Context, Result};
use fs4::{FileExt, TryLockError};
use std::fs::File;
use std::path::{Path, PathBuf};

/// The lock file inside a run directory.
pub(crate) const LOCK_FILE: &str = ".snn-lock";

/// A claimed run directory; dropping it removes the directory if this process created it
/// and it holds nothing but the lock file.
pub(crate) struct RunDir {
    path: PathBuf,
    _lock: File,
    created: bool,
    /// Set when another process holds the lock: its directory is never removed here.
    kept: bool,
}

impl RunDir {
    /// Creates `dir` if missing, checks it is writable and locks it.
    pub(crate) fn claim(dir: &Path) -> Result<RunDir> {
        let created = !dir.exists();
        // Fail now, not after hours of training, if the run cannot be saved there.
        snn_wgpu::experiments::diehl_cook::io::check_writable_dir(dir)?;
        let path = dir.join(LOCK_FILE);
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("creating the lock file {}", path.display()))?;
        let mut claimed = RunDir {
            path: dir.to_path_buf(),
            _lock: lock,
            created,
            kept: false,
        };
        match FileExt::try_lock(&claimed._lock) {
            Ok(()) => Ok(claimed),
            Err(TryLockError::WouldBlock) => {
                // The other run owns the directory: leave it as it is.
                claimed.kept = true;
                anyhow::bail!(
                    "{} is in use by another snn process (it holds {}): wait for that run to \
                     end, or pick another --out",
                    dir.display(),
                    path.display()
                )
            }
            Err(TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("locking {}", path.display()))
            }
        }
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if self.kept || !self.created {
            return;
        }
        let only_lock = std::fs::read_dir(&self.path).is_ok_and(|entries| {
            entries
                .flatten()
                .all(|e| e.file_name().to_str() == Some(LOCK_FILE))
        });
        if only_lock {
            let _ = std::fs::remove_file(self.path.join(LOCK_FILE));
            let _ = std::fs::remove_dir(&self.path);
        }
    }
}
