//! MNIST download: fetches the four canonical gzip'd IDX files from a mirror into a directory.
//!
//! A directory and mirror URLs in, verified `.gz` files out. [`fetch`] downloads each file of
//! [`FetchOptions::files`] into `NAME.part`, resuming a partial one with an HTTP `Range`
//! request, checks the SHA-256 of its *decompressed* content, and renames it to `NAME` only
//! then. `snn fetch-mnist` calls it; [`crate::data::mnist::load_split`] reads the result.

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::error::{Result, SnnError};

/// Mirrors tried in order: the PyTorch/torchvision S3 copy, then the Google CVDF copy.
pub const DEFAULT_MIRRORS: [&str; 2] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
];

/// The four canonical MNIST files and the SHA-256 of each one's decompressed IDX content.
pub const MNIST_FILES: [(&str, &str); 4] = [
    (
        "train-images-idx3-ubyte.gz",
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    (
        "train-labels-idx1-ubyte.gz",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    (
        "t10k-images-idx3-ubyte.gz",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    (
        "t10k-labels-idx1-ubyte.gz",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
];

/// Suffix of a download in progress, next to its final name.
pub const PART_SUFFIX: &str = ".part";

/// The lock file that keeps two fetches out of one directory: an exclusive lock on it
/// (`fs4`, released by the system when its process ends, however it ends), the holder's
/// process id in it for the message of a fetch it keeps out; removed when the fetch ends.
pub const LOCK_FILE: &str = ".fetch-mnist.lock";

/// The directory's lock, held while a fetch runs.
struct DirLock {
    path: PathBuf,
    file: File,
}

impl DirLock {
    /// Locks the lock file (creating it), or fails with [`SnnError::Locked`] naming the
    /// holder. A lock file that no process holds (one left by a killed fetch) is taken.
    fn take(dir: &Path) -> Result<DirLock> {
        use fs4::{FileExt, TryLockError};
        let path = dir.join(LOCK_FILE);
        loop {
            let mut file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true)
                .open(&path)
                .map_err(io_err(&path))?;
            match FileExt::try_lock(&file) {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    let holder = fs::read_to_string(&path).unwrap_or_default();
                    let holder = holder.trim();
                    return Err(SnnError::Locked {
                        path,
                        what: "snn fetch-mnist",
                        pid: if holder.is_empty() {
                            "unknown".into()
                        } else {
                            holder.into()
                        },
                    });
                }
                Err(TryLockError::Error(e)) => return Err(io_err(&path)(e)),
            }
            // A holder that ended between our open and our lock removed the file it held: the
            // path now names another file (or none), whose lock is the one that counts.
            if !same_file(&file, &path) {
                continue;
            }
            file.set_len(0).map_err(io_err(&path))?;
            writeln!(file, "{}", std::process::id()).map_err(io_err(&path))?;
            return Ok(DirLock { path, file });
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Removed while still locked: a fetch that opened it since finds it gone once it
        // gets the lock, and starts again on the path's new file.
        let _ = fs::remove_file(&self.path);
        let _ = fs4::FileExt::unlock(&self.file);
    }
}

/// Whether the open `file` is the one `path` names now.
#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

/// Whether the open `file` is the one `path` names now (elsewhere than Unix: whether a file
/// is there).
#[cfg(not(unix))]
fn same_file(_file: &File, path: &Path) -> bool {
    path.exists()
}

/// One file to fetch: its name (on the mirror and on disk) and the expected SHA-256.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSpec {
    /// File name, appended to the mirror URL and used in the target directory.
    pub name: String,
    /// SHA-256 of the decompressed content (of the file itself if it is not gzip), lowercase
    /// hex.
    pub sha256: String,
}

/// The four MNIST files of [`MNIST_FILES`] as [`FileSpec`]s.
pub fn mnist_files() -> Vec<FileSpec> {
    MNIST_FILES
        .iter()
        .map(|(name, sha256)| FileSpec {
            name: (*name).to_string(),
            sha256: (*sha256).to_string(),
        })
        .collect()
}

/// What to fetch, from where, and how long to wait.
#[derive(Clone, Debug)]
pub struct FetchOptions {
    /// Base URLs tried in order for each file (`http://` or `https://`; a missing trailing
    /// `/` is added).
    pub mirrors: Vec<String>,
    /// The files and their expected hashes.
    pub files: Vec<FileSpec>,
    /// Longest wait for a TCP connection.
    pub connect_timeout: Duration,
    /// Longest wait for any one read from the server (a stalled transfer fails after it).
    pub read_timeout: Duration,
}

impl Default for FetchOptions {
    /// The MNIST files from [`DEFAULT_MIRRORS`], 20 s to connect, 60 s per read.
    fn default() -> Self {
        FetchOptions {
            mirrors: DEFAULT_MIRRORS.iter().map(|m| (*m).to_string()).collect(),
            files: mnist_files(),
            connect_timeout: Duration::from_secs(20),
            read_timeout: Duration::from_secs(60),
        }
    }
}

/// How a file came to be in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchStatus {
    /// Downloaded from the start.
    Downloaded,
    /// Completed from a `.part` file left by an earlier, interrupted run.
    Resumed,
    /// Already there with the right hash; nothing was downloaded.
    Present,
}

impl FetchStatus {
    /// `downloaded`, `resumed` or `present`, as in the CLI's JSON lines.
    pub fn as_str(self) -> &'static str {
        match self {
            FetchStatus::Downloaded => "downloaded",
            FetchStatus::Resumed => "resumed",
            FetchStatus::Present => "present",
        }
    }
}

/// A file in place and verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    /// File name.
    pub name: String,
    /// Where it is.
    pub path: PathBuf,
    /// Its size on disk (compressed).
    pub bytes: u64,
    /// SHA-256 of its decompressed content (equal to the expected one), lowercase hex.
    pub sha256: String,
    /// Downloaded, resumed, or already present.
    pub status: FetchStatus,
    /// The URL it came from; `None` when it was already present.
    pub url: Option<String>,
}

/// Events reported to the progress callback of [`fetch`].
#[derive(Debug)]
pub enum Progress<'a> {
    /// A transfer starts: `offset` bytes are already on disk (resuming), `total` is the full
    /// size when the server says.
    Start {
        /// File name.
        name: &'a str,
        /// Where it comes from.
        url: &'a str,
        /// Bytes already on disk.
        offset: u64,
        /// Full size of the file, if known.
        total: Option<u64>,
    },
    /// `done` bytes of the file are on disk.
    Bytes {
        /// File name.
        name: &'a str,
        /// Bytes on disk so far, including any resumed prefix.
        done: u64,
    },
    /// One mirror failed for this file; the next one (if any) is tried.
    MirrorFailed {
        /// File name.
        name: &'a str,
        /// The URL that failed.
        url: &'a str,
        /// Why.
        error: &'a str,
    },
    /// A file with this name was in the directory with the wrong content: once a verified
    /// download was there to replace it, it was moved aside to `kept` (never deleted).
    Replaced {
        /// File name.
        name: &'a str,
        /// The hash found (or why none could be computed).
        actual: &'a str,
        /// Where the old file is now.
        kept: &'a Path,
    },
    /// The file is in place and verified.
    Done(&'a Fetched),
}

/// Downloads every file of `opts.files` into `dir` (created if missing), verifying each.
///
/// Per file: a file already at `dir/NAME` with the expected hash is kept (`Present`). One
/// with another hash is never deleted: it stays until a verified download replaces it, and
/// is then renamed to `NAME.replaced` ([`Progress::Replaced`]). Otherwise the mirrors are
/// tried in order. The transfer goes to `dir/NAME.part`; if that
/// exists, only the missing tail is requested (`Range: bytes=N-`), and a server that answers
/// `200` with the whole file instead restarts it. A transfer cut short keeps its `.part`
/// for the next call. A complete `.part` is fsynced, its decompressed content hashed, and
/// renamed to `NAME` only if the hash matches, so no file with a wrong hash ever bears the
/// final name. Files are fetched one after another; the first error stops the call and the
/// files already in place stay there.
///
/// # Errors
///
/// [`SnnError::InvalidParam`] for a mirror that is not an `http(s)://` URL or an expected
/// hash that is not 64 hex digits; [`SnnError::Download`] naming the file and what each
/// mirror answered if none delivered it (its `.part` is kept); [`SnnError::Checksum`] naming
/// the file, the expected and the actual hash (its `.part` is deleted); [`SnnError::Io`] if
/// the directory or a file cannot be written; [`SnnError::Locked`] if another fetch is
/// running in `dir` ([`LOCK_FILE`]).
pub fn fetch(
    dir: &Path,
    opts: &FetchOptions,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Vec<Fetched>> {
    check_options(opts)?;
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let _lock = DirLock::take(dir)?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        // 206, 416 and the rest are handled here, not turned into errors.
        .http_status_as_error(false)
        .timeout_connect(Some(opts.connect_timeout))
        .timeout_per_read(Some(opts.read_timeout))
        .user_agent(concat!("snn-wgpu/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut out = Vec::with_capacity(opts.files.len());
    for spec in &opts.files {
        let fetched = fetch_one(&agent, dir, spec, &opts.mirrors, progress)?;
        progress(Progress::Done(&fetched));
        out.push(fetched);
    }
    Ok(out)
}

/// SHA-256 of a file's content, gunzipped first if it starts with the gzip magic `1f 8b`.
///
/// # Errors
///
/// [`SnnError::Io`] if the file cannot be read; [`SnnError::Data`] if it starts like gzip
/// but is not a valid gzip stream.
pub fn content_sha256(path: &Path) -> Result<String> {
    match hash_file(path) {
        Ok(h) => Ok(h),
        Err(HashError::Io(source)) => Err(SnnError::Io {
            path: path.to_path_buf(),
            source,
        }),
        Err(HashError::Gzip(e)) => Err(SnnError::Data {
            path: path.to_path_buf(),
            message: format!("corrupt gzip data: {e}"),
        }),
    }
}

/// Why a file could not be hashed.
enum HashError {
    /// Opening or reading the file failed.
    Io(std::io::Error),
    /// The file starts with the gzip magic but does not decompress.
    Gzip(std::io::Error),
}

fn hash_file(path: &Path) -> std::result::Result<String, HashError> {
    let mut file = File::open(path).map_err(HashError::Io)?;
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        match file.read(&mut magic[got..]).map_err(HashError::Io)? {
            0 => break,
            n => got += n,
        }
    }
    let prefix = std::io::Cursor::new(magic[..got].to_vec());
    let raw = prefix.chain(BufReader::new(file));
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    if magic == [0x1f, 0x8b] {
        // The file's own read errors and the decoder's look alike here; after a successful
        // open, a failure is almost always the content, so it counts as such.
        let mut gz = flate2::read::MultiGzDecoder::new(raw);
        loop {
            match gz.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => hasher.update(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(HashError::Gzip(e)),
            }
        }
    } else {
        let mut raw = raw;
        loop {
            match raw.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => hasher.update(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(HashError::Io(e)),
            }
        }
    }
    Ok(hex(hasher.finalize().as_slice()))
}

/// Lowercase hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Wraps an I/O error with the file it concerns.
fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SnnError {
    let path = path.to_path_buf();
    move |source| SnnError::Io { path, source }
}

/// Rejects mirrors that are not HTTP(S) URLs and hashes that are not SHA-256 hex.
fn check_options(opts: &FetchOptions) -> Result<()> {
    if opts.mirrors.is_empty() {
        return Err(SnnError::invalid(
            "mirrors",
            "[]",
            "at least one http:// or https:// base URL",
        ));
    }
    for m in &opts.mirrors {
        if !(m.starts_with("http://") || m.starts_with("https://")) {
            return Err(SnnError::invalid(
                "mirror",
                m,
                "an http:// or https:// base URL, e.g. https://ossci-datasets.s3.amazonaws.com/mnist/",
            ));
        }
    }
    for f in &opts.files {
        if f.sha256.len() != 64 || !f.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SnnError::invalid(
                format!("sha256 of {}", f.name),
                &f.sha256,
                "64 hex digits",
            ));
        }
        if f.name.is_empty() || f.name.contains(['/', '\\']) || f.name.starts_with('.') {
            return Err(SnnError::invalid(
                "file name",
                &f.name,
                "a plain file name (no path separators, not starting with '.')",
            ));
        }
    }
    Ok(())
}

/// `mirror` + `name`, with exactly one `/` between them.
fn join_url(mirror: &str, name: &str) -> String {
    format!("{}/{}", mirror.trim_end_matches('/'), name)
}

/// Fetches one file: keeps it if present and valid, else downloads it from the first mirror
/// that delivers it, verifies it and moves it into place.
fn fetch_one(
    agent: &ureq::Agent,
    dir: &Path,
    spec: &FileSpec,
    mirrors: &[String],
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Fetched> {
    let path = dir.join(&spec.name);
    let part = dir.join(format!("{}{PART_SUFFIX}", spec.name));
    let expected = spec.sha256.to_ascii_lowercase();

    // The hash of a file already at `path` that is not the expected one: it stays where it
    // is until a verified download replaces it, and is then moved aside, not deleted.
    let mut mismatched = None;
    if path.is_file() {
        let actual = match hash_file(&path) {
            Ok(h) => h,
            Err(HashError::Io(source)) => return Err(SnnError::Io { path, source }),
            Err(HashError::Gzip(e)) => format!("none (corrupt gzip data: {e})"),
        };
        if actual == expected {
            // A leftover from an interrupted run that is no longer needed.
            let _ = fs::remove_file(&part);
            let bytes = fs::metadata(&path).map_err(io_err(&path))?.len();
            return Ok(Fetched {
                name: spec.name.clone(),
                path,
                bytes,
                sha256: actual,
                status: FetchStatus::Present,
                url: None,
            });
        }
        mismatched = Some(actual);
    }

    let mut failures = Vec::new();
    let mut delivered = None;
    for mirror in mirrors {
        let url = join_url(mirror, &spec.name);
        match download(agent, &url, &part, &spec.name, progress) {
            Ok(resumed) => {
                delivered = Some((url, resumed));
                break;
            }
            Err(e) => {
                progress(Progress::MirrorFailed {
                    name: &spec.name,
                    url: &url,
                    error: &e,
                });
                failures.push(format!("{url}: {e}"));
            }
        }
    }
    let Some((url, resumed)) = delivered else {
        let kept = fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
        let hint = if kept > 0 {
            format!(
                "re-run the same command to resume from the {kept} bytes kept in {}",
                part.display()
            )
        } else {
            "check the network connection and re-run the same command".to_string()
        };
        return Err(SnnError::Download {
            file: spec.name.clone(),
            message: format!(
                "{}. To fix: {hint}, or try another mirror (`snn fetch-mnist --mirror URL`)",
                failures.join("; ")
            ),
        });
    };

    let actual = match hash_file(&part) {
        Ok(h) => h,
        Err(HashError::Io(source)) => return Err(SnnError::Io { path: part, source }),
        Err(HashError::Gzip(e)) => format!("none (corrupt gzip data: {e})"),
    };
    if actual != expected {
        fs::remove_file(&part).map_err(io_err(&part))?;
        return Err(SnnError::Checksum {
            path,
            expected,
            actual,
        });
    }
    if let Some(old) = &mismatched {
        let kept = free_name(&path);
        fs::rename(&path, &kept).map_err(io_err(&kept))?;
        progress(Progress::Replaced {
            name: &spec.name,
            actual: old,
            kept: &kept,
        });
    }
    fs::rename(&part, &path).map_err(io_err(&path))?;
    // Make the rename durable; best effort (directories cannot be opened everywhere).
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    let bytes = fs::metadata(&path).map_err(io_err(&path))?.len();
    Ok(Fetched {
        name: spec.name.clone(),
        path,
        bytes,
        sha256: actual,
        status: if resumed {
            FetchStatus::Resumed
        } else {
            FetchStatus::Downloaded
        },
        url: Some(url),
    })
}

/// `NAME.replaced`, or `NAME.replaced-2`, `-3`, … if taken: where a mismatched file is kept.
fn free_name(path: &Path) -> PathBuf {
    let base = path.as_os_str().to_string_lossy().into_owned();
    (1u32..)
        .map(|k| match k {
            1 => PathBuf::from(format!("{base}.replaced")),
            _ => PathBuf::from(format!("{base}.replaced-{k}")),
        })
        .find(|p| !p.exists())
        .unwrap_or_else(|| PathBuf::from(format!("{base}.replaced")))
}

/// The `start` and `total` of a `Content-Range: bytes start-end/total` (or `bytes */total`)
/// header; `None` for the parts that are absent or `*`.
fn content_range(resp: &ureq::http::Response<ureq::Body>) -> (Option<u64>, Option<u64>) {
    let Some(v) = resp
        .headers()
        .get("content-range")
        .and_then(|v| v.to_str().ok())
    else {
        return (None, None);
    };
    let v = v.trim().strip_prefix("bytes").unwrap_or(v).trim();
    let (range, total) = v.split_once('/').unwrap_or((v, "*"));
    let start = range
        .split_once('-')
        .and_then(|(s, _)| s.trim().parse().ok());
    (start, total.trim().parse().ok())
}

/// Transfers `url` into `part`, resuming from its current length. Returns whether a
/// non-empty prefix was kept (`true`: resumed) once the server has sent everything it
/// announced; the content is not checked here. Errors are one-line descriptions; the
/// `.part` keeps whatever arrived.
fn download(
    agent: &ureq::Agent,
    url: &str,
    part: &Path,
    name: &str,
    progress: &mut dyn FnMut(Progress<'_>),
) -> std::result::Result<bool, String> {
    // Two rounds at most: a resume the server cannot honour restarts from byte 0 once.
    for _ in 0..2 {
        let offset = fs::metadata(part).map(|m| m.len()).unwrap_or(0);
        let mut req = agent.get(url);
        if offset > 0 {
            req = req.header("Range", format!("bytes={offset}-"));
        }
        let mut resp = req.call().map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let length = resp.body().content_length();
        let (range_start, range_total) = content_range(&resp);
        let (append, total) = match status {
            206 => match range_start {
                Some(s) if s == offset => (true, range_total.or(length.map(|l| l + s))),
                // A range we did not ask for: start over.
                _ => {
                    truncate(part)?;
                    continue;
                }
            },
            200 => (false, length),
            416 if offset > 0 => {
                if range_total == Some(offset) {
                    // The .part already holds the whole file; verification decides.
                    return Ok(true);
                }
                truncate(part)?;
                continue;
            }
            _ => return Err(format!("HTTP {status} {}", reason(status))),
        };
        let done = if append { offset } else { 0 };
        progress(Progress::Start {
            name,
            url,
            offset: done,
            total,
        });
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(part)
            .map_err(|e| format!("cannot write {}: {e}", part.display()))?;
        let mut body = resp.body_mut().as_reader();
        let done = copy_body(&mut body, file, part, name, done, total, progress)?;
        if let Some(t) = total {
            if done != t {
                return Err(format!(
                    "transfer ended after {done} of {t} bytes (kept in {})",
                    part.display()
                ));
            }
        }
        return Ok(append && offset > 0);
    }
    Err("the server does not honour range requests consistently".to_string())
}

/// Empties a `.part` whose prefix cannot be continued.
fn truncate(part: &Path) -> std::result::Result<(), String> {
    File::create(part)
        .map(drop)
        .map_err(|e| format!("cannot write {}: {e}", part.display()))
}

/// Appends the body to `file`, reporting progress, and fsyncs what arrived, also when the
/// transfer breaks off (so the next call can resume from it). Returns the bytes now on disk.
fn copy_body(
    body: &mut impl Read,
    mut file: File,
    part: &Path,
    name: &str,
    mut done: u64,
    total: Option<u64>,
    progress: &mut dyn FnMut(Progress<'_>),
) -> std::result::Result<u64, String> {
    let mut buf = vec![0u8; 1 << 16];
    let broke = loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break None,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => break Some(e.to_string()),
        };
        if let Err(e) = file.write_all(&buf[..n]) {
            return Err(format!("cannot write {}: {e}", part.display()));
        }
        done += n as u64;
        progress(Progress::Bytes { name, done });
    };
    file.sync_all()
        .map_err(|e| format!("cannot write {}: {e}", part.display()))?;
    match broke {
        None => Ok(done),
        Some(e) => Err(match total {
            Some(t) => format!("transfer cut after {done} of {t} bytes: {e}"),
            None => format!("transfer cut after {done} bytes: {e}"),
        }),
    }
}

/// A short reason phrase for the HTTP statuses a mirror is likely to send.
fn reason(status: u16) -> &'static str {
    match status {
        403 => "Forbidden",
        404 => "Not Found",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_join() {
        assert_eq!(hex(&[0x00, 0xab, 0x0f]), "00ab0f");
        assert_eq!(join_url("http://a/b/", "x.gz"), "http://a/b/x.gz");
        assert_eq!(join_url("http://a/b", "x.gz"), "http://a/b/x.gz");
    }

    #[test]
    fn options_are_checked() {
        let mut o = FetchOptions {
            mirrors: vec!["ftp://x/".into()],
            ..FetchOptions::default()
        };
        let e = check_options(&o).unwrap_err().to_string();
        assert!(e.contains("ftp://x/") && e.contains("http"), "{e}");
        o.mirrors = vec!["http://x/".into()];
        assert!(check_options(&o).is_ok());
        o.files[0].sha256 = "abc".into();
        let e = check_options(&o).unwrap_err().to_string();
        assert!(e.contains("64 hex digits"), "{e}");
        o.files[0] = FileSpec {
            name: "../x".into(),
            sha256: "0".repeat(64),
        };
        assert!(check_options(&o).is_err());
    }

    #[test]
    fn default_files_are_the_canonical_four() {
        let f = mnist_files();
        assert_eq!(f.len(), 4);
        assert!(f
            .iter()
            .all(|s| s.name.ends_with("-ubyte.gz") && s.sha256.len() == 64));
    }
}
