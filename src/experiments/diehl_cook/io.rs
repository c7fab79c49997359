//! Run directories: saving a trained Diehl & Cook network so numpy can read it, and its picture.
//!
//! After training and label assignment, [`save_network`] writes `network.npz` (weights in the
//! original code's `XeAe` layout, θ, assignments) and `config.json` into a run directory;
//! [`load_network`] reads them back for evaluation. [`receptive_fields_png`] draws the learned
//! weights as a grid of 28×28 digit-like tiles. Every file is written atomically.

use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};
use ndarray::{Array1, Array2, ArrayView2};
use ndarray_npy::{NpzWriter, ReadNpyExt};

use crate::error::{Result, SnnError};

/// File name of the arrays in a run directory.
pub const NETWORK_FILE: &str = "network.npz";
/// File name of the configuration in a run directory.
pub const CONFIG_FILE: &str = "config.json";
/// File name of a run's results (accuracies, confusion, learning curve) in its directory.
pub const RESULTS_FILE: &str = "results.json";

/// What a run directory holds.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedNetwork {
    /// Number of input neurons (784 for MNIST); the number of rows of `weights`.
    pub n_input: usize,
    /// Number of excitatory neurons N; the number of columns of `weights`.
    pub n_exc: usize,
    /// Input→excitatory weights, `[input][exc]` (784 × N), as in the original code's `XeAe`.
    pub weights: Array2<f32>,
    /// Adaptive threshold θ of each excitatory neuron, in mV (N entries).
    pub theta_mv: Vec<f32>,
    /// Class of each excitatory neuron, -1 if unassigned (N entries).
    pub assignments: Vec<i32>,
    /// The run's configuration, written to `config.json` verbatim.
    pub config_json: String,
}

impl SavedNetwork {
    /// Checks that the sizes agree: `weights` is `n_input × n_exc`, and `theta_mv` and
    /// `assignments` have `n_exc` entries.
    pub fn validate(&self) -> Result<()> {
        if self.weights.dim() != (self.n_input, self.n_exc) {
            return Err(SnnError::invalid(
                "weights shape",
                format!("{:?}", self.weights.dim()),
                format!("(n_input, n_exc) = ({}, {})", self.n_input, self.n_exc),
            ));
        }
        if self.theta_mv.len() != self.n_exc {
            return Err(SnnError::invalid(
                "theta_mv.len()",
                self.theta_mv.len(),
                format!("n_exc ({})", self.n_exc),
            ));
        }
        if self.assignments.len() != self.n_exc {
            return Err(SnnError::invalid(
                "assignments.len()",
                self.assignments.len(),
                format!("n_exc ({})", self.n_exc),
            ));
        }
        Ok(())
    }
}

/// Wraps an I/O error with the file it concerns.
fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SnnError {
    let path = path.to_path_buf();
    move |source| SnnError::Io { path, source }
}

/// Wraps an error met while writing `path` (or creating it, if a folder): the error keeps its
/// kind, and its message says what to do (a full disk, a path through a regular file, a
/// read-only place) and that nothing was written there.
fn write_err(path: &Path) -> impl FnOnce(std::io::Error) -> SnnError {
    let path = path.to_path_buf();
    move |e| {
        use std::io::ErrorKind as K;
        let hint = match e.kind() {
            K::StorageFull | K::QuotaExceeded | K::FileTooLarge => {
                "the disk is full: free some space, or choose another output folder (--out)"
            }
            K::NotADirectory | K::AlreadyExists => {
                "a part of this path is a regular file, not a folder: choose another output \
                 folder (--out)"
            }
            K::NotFound => "its folder does not exist: choose another output folder (--out)",
            K::PermissionDenied | K::ReadOnlyFilesystem => {
                "this place is not writable: choose another output folder (--out)"
            }
            _ => "choose another output folder (--out)",
        };
        let source = std::io::Error::new(
            e.kind(),
            format!("cannot write here: {e}; {hint}. Nothing was written to this path"),
        );
        SnnError::Io { path, source }
    }
}

/// Makes sure `dir` can take a run's files before a long run starts: creates it (and its
/// parents) and writes and removes a small probe file through [`write_atomic`].
///
/// # Errors
/// [`SnnError::Io`] naming `dir` (or the probe file in it) and what to do.
pub fn check_writable_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(write_err(dir))?;
    // One probe per process: two runs started at once into the same directory must not
    // remove each other's (the second then learns from the directory's lock that it is taken).
    let probe = dir.join(format!(".snn-write-probe.{}", std::process::id()));
    write_atomic(&probe, |w| {
        w.write_all(b"probe\n").map_err(write_err(&probe))
    })?;
    fs::remove_file(&probe).map_err(write_err(&probe))
}

/// Fills `npz` with `add` and finishes it. After a failed write (a full disk) the writer is
/// not dropped: its drop would try to finish the archive again and print "ZipWriter drop
/// failed" on stderr; what it holds (a few buffers) is leaked instead, once per failure.
/// Errors name `path`; an I/O error underneath (a full disk) gets the hint of a failed write.
pub(crate) fn write_npz<W: Write + std::io::Seek>(
    path: &Path,
    npz: NpzWriter<W>,
    add: impl FnOnce(&mut NpzWriter<W>) -> std::result::Result<(), ndarray_npy::WriteNpzError>,
) -> Result<()> {
    let mut npz = std::mem::ManuallyDrop::new(npz);
    let r = match add(&mut npz) {
        Ok(()) => std::mem::ManuallyDrop::into_inner(npz).finish().map(drop),
        Err(e) => Err(e),
    };
    r.map_err(|e| {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(c) = cause {
            if let Some(io) = c.downcast_ref::<std::io::Error>() {
                return write_err(path)(std::io::Error::new(io.kind(), e.to_string()));
            }
            cause = c.source();
        }
        data_err(path, e.to_string())
    })
}

/// A [`SnnError::Data`] about `path`.
fn data_err(path: &Path, message: impl Into<String>) -> SnnError {
    SnnError::Data {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Writes `path` atomically: `write` fills a temporary file in the same directory, which is
/// flushed, fsynced and renamed over `path`. On any error the temporary file is removed, so
/// either the old file or the complete new one is there, never a partial one.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<()>,
) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| data_err(path, "not a file path"))?;
    let tmp = dir.join(format!(
        ".{}.tmp.{}.{}",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));

    let result = (|| {
        // Errors name `path`, not the temporary file, which is gone by the time they are read.
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(write_err(path))?;
        let mut w = BufWriter::new(file);
        if let Err(e) = write(&mut w) {
            // A format writer (npz, png) reports a failing disk in its own words; flushing what
            // it left in the buffer brings back the I/O error, whose kind (a full disk, ...)
            // says what to do.
            return Err(match (&e, w.flush()) {
                (SnnError::Io { .. }, _) | (_, Ok(())) => e,
                (_, Err(io)) => write_err(path)(io),
            });
        }
        w.flush().map_err(write_err(path))?;
        let file = w
            .into_inner()
            .map_err(|e| write_err(path)(e.into_error()))?;
        file.sync_all().map_err(write_err(path))?;
        drop(file);
        fs::rename(&tmp, path).map_err(write_err(path))
    })();
    match result {
        Ok(()) => {
            // Make the rename itself durable; best effort (not supported on every platform).
            if let Ok(d) = File::open(&dir) {
                let _ = d.sync_all();
            }
            Ok(())
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Removes the temporary files that writes killed mid-way left in the run directory `dir`
/// (`.<file>.tmp.<pid>.<n>`, the names [`write_atomic`] gives them); returns their paths. Other files are
/// never touched.
pub fn remove_stale_temp_files(dir: &Path) -> Vec<PathBuf> {
    fn is_temp(name: &str) -> bool {
        let Some(rest) = name.strip_prefix('.') else {
            return false;
        };
        let Some((_, tail)) = rest.rsplit_once(".tmp.") else {
            return false;
        };
        let mut parts = tail.split('.');
        let digits = |p: Option<&str>| {
            p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        };
        digits(parts.next()) && digits(parts.next()) && parts.next().is_none()
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return vec![];
    };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| is_temp(&n.to_string_lossy())))
        .filter(|p| fs::remove_file(p).is_ok())
        .collect()
}

/// Saves a trained network into the run directory `dir` (created if missing).
///
/// Writes `dir/network.npz` (zip-deflated, readable by `numpy.load`) with the arrays `weights`
/// (f32, `[n_input, n_exc]`), `theta_mv` (f32, `[n_exc]`) and `assignments` (i32, `[n_exc]`), and
/// `dir/config.json` with `config_json` verbatim. Each file is written atomically (temporary
/// file in `dir`, fsync, rename; removed on error), so a crash leaves no partial file.
///
/// Errors: the sizes disagree ([`SavedNetwork::validate`]), or a file cannot be written.
pub fn save_network(dir: &Path, net: &SavedNetwork) -> Result<()> {
    net.validate()?;
    fs::create_dir_all(dir).map_err(write_err(dir))?;

    let npz_path = dir.join(NETWORK_FILE);
    let theta = Array1::from(net.theta_mv.clone());
    let assignments = Array1::from(net.assignments.clone());
    write_atomic(&npz_path, |w| {
        write_npz(&npz_path, NpzWriter::new_compressed(w), |npz| {
            npz.add_array("weights", &net.weights)?;
            npz.add_array("theta_mv", &theta)?;
            npz.add_array("assignments", &assignments)
        })
    })?;

    let config_path = dir.join(CONFIG_FILE);
    write_atomic(&config_path, |w| {
        w.write_all(net.config_json.as_bytes())
            .map_err(io_err(&config_path))
    })
}

/// Loads a run directory written by [`save_network`].
///
/// Errors name the file and the problem: a directory that is not there or holds no saved
/// network, a missing array (listing the arrays present), an array of the wrong type or
/// number of dimensions, or sizes that disagree (e.g. `theta_mv` length ≠ `weights`
/// columns).
pub fn load_network(dir: &Path) -> Result<SavedNetwork> {
    if !dir.is_dir() {
        return Err(data_err(
            dir,
            format!(
                "run directory not found (expected a directory written by `snn train`, with \
                 its {NETWORK_FILE})"
            ),
        ));
    }
    let npz_path = dir.join(NETWORK_FILE);
    if !npz_path.is_file() {
        // A run of several networks keeps each in `net<k>`.
        let message = match dir.join("net0").join(NETWORK_FILE).is_file() {
            true => format!(
                "no saved network here: this run trained several networks, each in its own \
                 directory: name one of them ({})",
                dir.join("net0").display()
            ),
            false => "no saved network in this run directory (is it a directory written by \
                      `snn train`?)"
                .to_string(),
        };
        return Err(data_err(&npz_path, message));
    }
    let file = File::open(&npz_path).map_err(io_err(&npz_path))?;
    let mut npz = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|e| data_err(&npz_path, format!("not a readable npz file: {e}")))?;
    let names: Vec<String> = npz
        .file_names()
        .map(|n| n.strip_suffix(".npy").unwrap_or(n).to_string())
        .collect();
    for wanted in ["weights", "theta_mv", "assignments"] {
        if !names.iter().any(|n| n == wanted) {
            return Err(data_err(
                &npz_path,
                format!(
                    "missing array `{wanted}` (arrays present: {})",
                    names.join(", ")
                ),
            ));
        }
    }
    let weights: Array2<f32> = read_npy_slice(&npy_bytes(&mut npz, "weights", &npz_path)?)
        .map_err(|e| {
            data_err(
                &npz_path,
                format!("array `weights`: {e} (expected 2-D f32 [n_input, n_exc])"),
            )
        })?;
    let theta: Array1<f32> =
        read_npy_slice(&npy_bytes(&mut npz, "theta_mv", &npz_path)?).map_err(|e| {
            data_err(
                &npz_path,
                format!("array `theta_mv`: {e} (expected 1-D f32)"),
            )
        })?;
    let assignments: Array1<i32> = read_npy_slice(&npy_bytes(&mut npz, "assignments", &npz_path)?)
        .map_err(|e| {
            data_err(
                &npz_path,
                format!("array `assignments`: {e} (expected 1-D i32)"),
            )
        })?;

    let (n_input, n_exc) = weights.dim();
    for (name, len) in [
        ("theta_mv", theta.len()),
        ("assignments", assignments.len()),
    ] {
        if len != n_exc {
            return Err(data_err(
                &npz_path,
                format!(
                    "array `{name}` has {len} entries but `weights` has {n_exc} columns \
                     ([n_input, n_exc] = [{n_input}, {n_exc}])"
                ),
            ));
        }
    }

    // A neuron's label is a digit, or -1 for a neuron that never fired while labelling.
    if let Some((i, &a)) = assignments
        .iter()
        .enumerate()
        .find(|(_, &a)| !(-1..=9).contains(&a))
    {
        return Err(data_err(
            &npz_path,
            format!("array `assignments`: neuron {i} has label {a}; labels are 0..=9 (-1: none)"),
        ));
    }

    let config_path = dir.join(CONFIG_FILE);
    let config_json = fs::read_to_string(&config_path).map_err(io_err(&config_path))?;

    Ok(SavedNetwork {
        n_input,
        n_exc,
        weights,
        theta_mv: theta.to_vec(),
        assignments: assignments.to_vec(),
        config_json,
    })
}

/// Largest array [`load_network`] reads, in bytes of data (784 × 6400 f32 weights are 20 MB).
pub(crate) const MAX_ARRAY_BYTES: u64 = 1 << 30;
/// Largest `.npy` header [`load_network`] reads (numpy writes about 128 bytes).
const MAX_NPY_HEADER: u64 = 1 << 16;

/// Parses one `.npy` file held in memory.
pub(crate) fn read_npy_slice<A: ReadNpyExt>(
    bytes: &[u8],
) -> std::result::Result<A, ndarray_npy::ReadNpyError> {
    A::read_npy(bytes)
}

/// The `.npy` bytes of array `name` (entry `name.npy` or `name`) of an npz archive, read only
/// once its header's shape is known to fit the data actually there.
///
/// ndarray-npy allocates what the shape announces before reading any data, so a damaged or
/// crafted header (`shape: (300000000000,)`) would abort the process on the failed
/// allocation; here it is an error instead, and a deflated entry that expands beyond its
/// header's claim (a zip bomb) is cut off at that claim.
pub(crate) fn npy_bytes<R: Read + Seek>(
    npz: &mut zip::ZipArchive<R>,
    name: &str,
    npz_path: &Path,
) -> Result<Vec<u8>> {
    let bad = |what: String| data_err(npz_path, format!("array `{name}`: {what}"));
    let entry = if npz.index_for_name(&format!("{name}.npy")).is_some() {
        format!("{name}.npy")
    } else {
        name.to_string()
    };
    let mut file = npz
        .by_name(&entry)
        .map_err(|e| bad(format!("cannot open {entry}: {e}")))?;
    let mut buf = Vec::new();
    let mut take = |buf: &mut Vec<u8>, n: u64| -> Result<u64> {
        (&mut file)
            .take(n)
            .read_to_end(buf)
            .map(|k| k as u64)
            .map_err(|e| bad(format!("cannot read {entry}: {e}")))
    };
    // Magic, version, and the header length (u16 in version 1, u32 in versions 2 and 3).
    take(&mut buf, 10)?;
    let len_bytes = match buf.get(..8) {
        Some([0x93, b'N', b'U', b'M', b'P', b'Y', 1, _]) => 2,
        Some([0x93, b'N', b'U', b'M', b'P', b'Y', 2 | 3, _]) => 4,
        _ => return Err(bad("not a .npy array (bad magic or version)".into())),
    };
    take(&mut buf, len_bytes - 2)?;
    let header_len = match buf.get(8..8 + len_bytes as usize) {
        Some(&[a, b]) => u64::from(u16::from_le_bytes([a, b])),
        Some(&[a, b, c, d]) => u64::from(u32::from_le_bytes([a, b, c, d])),
        _ => return Err(bad("truncated .npy header".into())),
    };
    if header_len > MAX_NPY_HEADER {
        return Err(bad(format!(
            ".npy header of {header_len} bytes, more than {MAX_NPY_HEADER}"
        )));
    }
    if take(&mut buf, header_len)? != header_len {
        return Err(bad("truncated .npy header".into()));
    }
    let header = String::from_utf8_lossy(&buf[8 + len_bytes as usize..]).into_owned();
    let shape = npy_shape(&header)
        .ok_or_else(|| bad(format!("no readable shape in the .npy header {header:?}")))?;
    // At least 4 bytes per element: ndarray-npy allocates f32/i32 elements whatever the
    // header's dtype says, and rejects a wrong dtype only afterwards.
    let item = npy_item_size(&header).unwrap_or(4);
    let data = shape
        .iter()
        .try_fold(1u64, |n, &d| n.checked_mul(d))
        .and_then(|n| n.checked_mul(item.max(4)).map(|cap| (n * item, cap)))
        .filter(|&(_, cap)| cap <= MAX_ARRAY_BYTES)
        .map(|(data, _)| data)
        .ok_or_else(|| {
            bad(format!(
                "the .npy header announces shape {shape:?}, more than the {MAX_ARRAY_BYTES} \
                 bytes this reader accepts (a damaged file?)"
            ))
        })?;
    let present = take(&mut buf, data + 1)?;
    if present != data {
        return Err(bad(format!(
            "the .npy header announces shape {shape:?} = {data} bytes of data, but {} are \
             present (a damaged file?)",
            if present > data {
                "more".to_string()
            } else {
                present.to_string()
            }
        )));
    }
    Ok(buf)
}

/// The `shape` tuple of a `.npy` header dictionary (`{'descr': '<f4', 'fortran_order':
/// False, 'shape': (784, 100), }`).
fn npy_shape(header: &str) -> Option<Vec<u64>> {
    let at = header
        .find("'shape'")
        .or_else(|| header.find("\"shape\""))?;
    let rest = header[at + 7..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start();
    let inner = rest.strip_prefix('(')?;
    let inner = &inner[..inner.find(')')?];
    inner
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| d.parse().ok())
        .collect()
}

/// The element size in bytes of a `.npy` header's simple `descr` (`'<f4'` → 4).
fn npy_item_size(header: &str) -> Option<u64> {
    let at = header
        .find("'descr'")
        .or_else(|| header.find("\"descr\""))?;
    let rest = header[at + 7..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start();
    let quote = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let descr = &rest[1..];
    let descr = &descr[..descr.find(quote)?];
    let digits = descr.trim_start_matches(|c: char| !c.is_ascii_digit());
    digits.parse().ok().filter(|&n| n > 0)
}

/// Side of an MNIST image in pixels.
const SIDE: usize = 28;
/// Pixels per weight: 3 up to 1600 neurons, 1 above, so that dc6400's grid stays about
/// 2300 pixels square (a few MB) instead of 6700 (29 MB at scale 3).
fn scale_for(n: usize) -> usize {
    if n <= 1600 {
        3
    } else {
        1
    }
}
/// Height in pixels of the class bar under each tile.
const BAR: usize = 3;
/// Width of the border between tiles.
const BORDER: usize = 1;
/// Colour of the borders and of empty grid cells (dark grey).
pub const BORDER_COLOUR: [u8; 3] = [64, 64, 64];
/// Bar colour of each class 0..9 (Trubetskoy's distinct colours): 0 red, 1 green, 2 yellow,
/// 3 blue, 4 orange, 5 purple, 6 cyan, 7 magenta, 8 lime, 9 pink.
pub const CLASS_PALETTE: [[u8; 3]; 10] = [
    [230, 25, 75],
    [60, 180, 75],
    [255, 225, 25],
    [0, 130, 200],
    [245, 130, 48],
    [145, 30, 180],
    [70, 240, 240],
    [240, 50, 230],
    [210, 245, 60],
    [250, 190, 212],
];
/// Bar colour of an unassigned neuron (-1, or any value outside 0..9): mid grey.
pub const UNASSIGNED_COLOUR: [u8; 3] = [128, 128, 128];

/// Pixel size `(width, height)` of the picture [`receptive_fields_png`] draws for `n` neurons.
///
/// The grid has `ceil(sqrt(n))` columns and `ceil(n / columns)` rows; each cell is 84 × 84
/// (28 × 3), plus 3 px for the class bar when `with_bars`, with 1 px borders between cells.
pub fn receptive_fields_size(n: usize, with_bars: bool) -> (usize, usize) {
    if n == 0 {
        return (0, 0);
    }
    let cols = grid_columns(n);
    let rows = n.div_ceil(cols);
    let cell_w = SIDE * scale_for(n);
    let cell_h = cell_w + if with_bars { BAR } else { 0 };
    (
        cols * cell_w + (cols - 1) * BORDER,
        rows * cell_h + (rows - 1) * BORDER,
    )
}

/// A receptive field's grey levels: each weight over the column's largest finite weight,
/// 0–255; a non-finite, negative or all-zero column's weights are black.
pub(crate) fn grey_levels(column: impl Iterator<Item = f32> + Clone) -> impl Iterator<Item = u8> {
    let max = column
        .clone()
        .filter(|w| w.is_finite())
        .fold(0.0f32, f32::max);
    column.map(move |w| {
        if max > 0.0 && w.is_finite() && w > 0.0 {
            (w / max * 255.0).round().clamp(0.0, 255.0) as u8
        } else {
            0
        }
    })
}

/// Smallest `c` with `c * c >= n`.
fn grid_columns(n: usize) -> usize {
    let mut c = (n as f64).sqrt() as usize;
    while c * c < n {
        c += 1;
    }
    while c > 1 && (c - 1) * (c - 1) >= n {
        c -= 1;
    }
    c.max(1)
}

/// Draws the receptive fields of all excitatory neurons as an RGB PNG at `path` (written
/// atomically).
///
/// `weights` is `[784][N]`. Tile `i` (row-major in a grid of `ceil(sqrt(N))` columns) is neuron
/// `i`'s column reshaped row-major to 28 × 28 (pixel `p = row * 28 + col`), in grey levels scaled
/// **per tile** to [0, 255] by that tile's maximum weight, so weak neurons stay visible (compare
/// magnitudes across tiles with the weights, not the picture); negative and non-finite weights
/// are drawn black, as is a tile whose maximum is not positive. Each tile is upscaled ×3
/// (nearest neighbour) and separated from its neighbours by 1 px of dark grey
/// ([`BORDER_COLOUR`]), which also fills unused grid cells.
///
/// With `assignments`, a 3 px bar under each tile shows the neuron's class in
/// [`CLASS_PALETTE`] (0 red, 1 green, 2 yellow, 3 blue, 4 orange, 5 purple, 6 cyan, 7 magenta,
/// 8 lime, 9 pink; [`UNASSIGNED_COLOUR`] grey for -1). Without, there is no bar. The pixel size
/// is [`receptive_fields_size`].
///
/// Errors: `weights` does not have 784 rows or has no column, `assignments` has a length other
/// than N, the picture would exceed PNG's size limits, or the file cannot be written.
pub fn receptive_fields_png(
    path: &Path,
    weights: ArrayView2<f32>,
    assignments: Option<&[i32]>,
) -> Result<()> {
    let (n_input, n) = weights.dim();
    if n_input != SIDE * SIDE {
        return Err(SnnError::invalid(
            "weights.nrows()",
            n_input,
            format!("{} (28 × 28 input pixels)", SIDE * SIDE),
        ));
    }
    if n == 0 {
        return Err(SnnError::invalid(
            "weights.ncols()",
            0,
            "at least one neuron",
        ));
    }
    if let Some(a) = assignments {
        if a.len() != n {
            return Err(SnnError::invalid(
                "assignments.len()",
                a.len(),
                format!("the number of weight columns ({n})"),
            ));
        }
    }

    let (width, height) = receptive_fields_size(n, assignments.is_some());
    let too_big = || {
        SnnError::invalid(
            "receptive field picture size",
            format!("{width} x {height}"),
            "at most u32::MAX pixels per side and an addressable buffer",
        )
    };
    let w32 = u32::try_from(width).map_err(|_| too_big())?;
    let h32 = u32::try_from(height).map_err(|_| too_big())?;
    let n_bytes = width
        .checked_mul(height)
        .and_then(|p| p.checked_mul(3))
        .ok_or_else(too_big)?;

    let mut buf: Vec<u8> = BORDER_COLOUR
        .iter()
        .copied()
        .cycle()
        .take(n_bytes)
        .collect();
    let mut put = |x: usize, y: usize, rgb: [u8; 3]| {
        let o = (y * width + x) * 3;
        if let Some(px) = buf.get_mut(o..o + 3) {
            px.copy_from_slice(&rgb);
        }
    };

    let cols = grid_columns(n);
    let scale = scale_for(n);
    let tile = SIDE * scale;
    let cell_h = tile + if assignments.is_some() { BAR } else { 0 };
    for (i, column) in weights.columns().into_iter().enumerate() {
        let x0 = (i % cols) * (tile + BORDER);
        let y0 = (i / cols) * (cell_h + BORDER);
        for (p, level) in grey_levels(column.iter().copied()).enumerate() {
            let (r, c) = (p / SIDE, p % SIDE);
            for dy in 0..scale {
                for dx in 0..scale {
                    put(x0 + c * scale + dx, y0 + r * scale + dy, [level; 3]);
                }
            }
        }
        if let Some(a) = assignments {
            let colour = a
                .get(i)
                .and_then(|&c| usize::try_from(c).ok())
                .and_then(|c| CLASS_PALETTE.get(c))
                .copied()
                .unwrap_or(UNASSIGNED_COLOUR);
            for dy in 0..BAR {
                for dx in 0..tile {
                    put(x0 + dx, y0 + tile + dy, colour);
                }
            }
        }
    }

    write_atomic(path, |w| {
        PngEncoder::new(w)
            .write_image(&buf, w32, h32, ExtendedColorType::Rgb8)
            .map_err(|e| data_err(path, format!("PNG encoding failed: {e}")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray_npy::NpzReader;
    use std::process::Command;
    use std::time::{SystemTime, UNIX_EPOCH};

    /// A fresh, unique directory under the system temp dir; removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            static N: AtomicU64 = AtomicU64::new(0);
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let dir = std::env::temp_dir().join(format!(
                "snn_wgpu_io_{tag}_{}_{nanos}_{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn sample(n_exc: usize) -> SavedNetwork {
        let n_input = 784;
        let weights = Array2::from_shape_fn((n_input, n_exc), |(p, j)| {
            ((p * 31 + j * 7) % 97) as f32 / 97.0
        });
        SavedNetwork {
            n_input,
            n_exc,
            weights,
            theta_mv: (0..n_exc).map(|j| 0.05 * j as f32 + 0.125).collect(),
            assignments: (0..n_exc).map(|j| (j as i32 % 11) - 1).collect(),
            config_json: "{\n  \"n_exc\": 5,\n  \"note\": \"verbatim, ünïcode\"\n}".to_string(),
        }
    }

    fn dir_entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn save_load_round_trip() {
        let tmp = TempDir::new("roundtrip");
        let dir = tmp.0.join("nested").join("run");
        let net = sample(5);
        save_network(&dir, &net).unwrap();
        assert_eq!(
            dir_entries(&dir),
            vec![CONFIG_FILE, NETWORK_FILE],
            "no temp files left"
        );
        let back = load_network(&dir).unwrap();
        assert_eq!(back, net);
        assert_eq!(
            fs::read_to_string(dir.join(CONFIG_FILE)).unwrap(),
            net.config_json,
            "config.json verbatim"
        );
        // Saving again overwrites cleanly.
        let mut net2 = sample(3);
        net2.config_json = "{}".into();
        save_network(&dir, &net2).unwrap();
        assert_eq!(load_network(&dir).unwrap(), net2);
        assert_eq!(dir_entries(&dir), vec![CONFIG_FILE, NETWORK_FILE]);
    }

    #[test]
    fn npz_arrays_by_name_and_shape() {
        let tmp = TempDir::new("npz");
        let net = sample(5);
        save_network(&tmp.0, &net).unwrap();
        let mut npz = NpzReader::new(File::open(tmp.0.join(NETWORK_FILE)).unwrap()).unwrap();
        let mut names = npz.names().unwrap();
        names.sort();
        assert_eq!(names, vec!["assignments", "theta_mv", "weights"]);
        let w: Array2<f32> = npz.by_name("weights.npy").unwrap();
        assert_eq!(w.dim(), (784, 5));
        assert_eq!(w, net.weights);
        let t: Array1<f32> = npz.by_name("theta_mv").unwrap();
        assert_eq!(t.len(), 5);
        let a: Array1<i32> = npz.by_name("assignments").unwrap();
        assert_eq!(a.to_vec(), net.assignments);
        // Wrong dtype is an error, not a silent conversion.
        assert!(npz
            .by_name::<ndarray::OwnedRepr<f64>, ndarray::Ix2>("weights")
            .is_err());
    }

    #[test]
    fn save_rejects_mismatched_sizes_and_writes_nothing() {
        let tmp = TempDir::new("badsave");
        let dir = tmp.0.join("run");
        let mut net = sample(4);
        net.theta_mv.pop();
        let err = save_network(&dir, &net).unwrap_err().to_string();
        assert!(err.contains("theta_mv"), "{err}");
        let mut net = sample(4);
        net.n_exc = 5;
        assert!(save_network(&dir, &net).is_err());
        let mut net = sample(4);
        net.assignments.push(0);
        assert!(save_network(&dir, &net).is_err());
        assert!(!dir.exists());
    }

    #[test]
    fn stale_temp_files_are_removed_and_nothing_else() {
        let d = TempDir::new("stale");
        fs::write(d.0.join(".checkpoint.npz.tmp.1.0"), b"half").unwrap();
        fs::write(d.0.join(".network.npz.tmp.22.7"), b"half").unwrap();
        for keep in [
            "network.npz",
            ".hidden.tmp.x.1",
            "notes.tmp.1.2",
            ".a.tmp.1.2.3",
        ] {
            fs::write(d.0.join(keep), b"keep").unwrap();
        }
        assert_eq!(remove_stale_temp_files(&d.0).len(), 2);
        for keep in [
            "network.npz",
            ".hidden.tmp.x.1",
            "notes.tmp.1.2",
            ".a.tmp.1.2.3",
        ] {
            assert!(d.0.join(keep).exists(), "{keep}");
        }
    }

    #[test]
    fn write_atomic_removes_temp_on_error() {
        let tmp = TempDir::new("atomic");
        let path = tmp.0.join("x.bin");
        fs::write(&path, b"old").unwrap();
        let r = write_atomic(&path, |w| {
            w.write_all(b"partial").unwrap();
            Err(data_err(&path, "boom"))
        });
        assert!(r.is_err());
        assert_eq!(dir_entries(&tmp.0), vec!["x.bin"]);
        assert_eq!(fs::read(&path).unwrap(), b"old", "old file untouched");
        write_atomic(&path, |w| w.write_all(b"new").map_err(io_err(&path))).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(dir_entries(&tmp.0), vec!["x.bin"]);
    }

    #[test]
    fn load_errors_name_file_and_array() {
        let tmp = TempDir::new("loaderr");
        // No such directory, then one without network.npz: what to give instead.
        let err = load_network(&tmp.0.join("absent")).unwrap_err();
        assert!(matches!(err, SnnError::Data { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("absent") && msg.contains("run directory not found"),
            "{msg}"
        );
        let err = load_network(&tmp.0).unwrap_err();
        assert!(matches!(err, SnnError::Data { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains(NETWORK_FILE) && msg.contains("written by `snn train`"),
            "{msg}"
        );

        // Missing config.json.
        save_network(&tmp.0, &sample(3)).unwrap();
        fs::remove_file(tmp.0.join(CONFIG_FILE)).unwrap();
        let err = load_network(&tmp.0).unwrap_err().to_string();
        assert!(err.contains(CONFIG_FILE), "{err}");

        // theta_mv length ≠ weights columns.
        let write_npz = |theta_len: usize, with_assignments: bool| {
            let f = File::create(tmp.0.join(NETWORK_FILE)).unwrap();
            let mut npz = NpzWriter::new(f);
            npz.add_array("weights", &Array2::<f32>::zeros((784, 3)))
                .unwrap();
            npz.add_array("theta_mv", &Array1::<f32>::zeros(theta_len))
                .unwrap();
            if with_assignments {
                npz.add_array("assignments", &Array1::<i32>::zeros(3))
                    .unwrap();
            }
            npz.finish().unwrap();
        };
        fs::write(tmp.0.join(CONFIG_FILE), "{}").unwrap();
        write_npz(4, true);
        let err = load_network(&tmp.0).unwrap_err().to_string();
        assert!(
            err.contains(NETWORK_FILE) && err.contains("theta_mv") && err.contains("3 columns"),
            "{err}"
        );

        // Missing array.
        write_npz(3, false);
        let err = load_network(&tmp.0).unwrap_err().to_string();
        assert!(
            err.contains(NETWORK_FILE) && err.contains("missing array `assignments`"),
            "{err}"
        );

        // Wrong dtype.
        let f = File::create(tmp.0.join(NETWORK_FILE)).unwrap();
        let mut npz = NpzWriter::new(f);
        npz.add_array("weights", &Array2::<f64>::zeros((784, 3)))
            .unwrap();
        npz.add_array("theta_mv", &Array1::<f32>::zeros(3)).unwrap();
        npz.add_array("assignments", &Array1::<i32>::zeros(3))
            .unwrap();
        npz.finish().unwrap();
        let err = load_network(&tmp.0).unwrap_err().to_string();
        assert!(err.contains("array `weights`"), "{err}");

        // Not a zip at all.
        fs::write(tmp.0.join(NETWORK_FILE), b"garbage").unwrap();
        let err = load_network(&tmp.0).unwrap_err().to_string();
        assert!(err.contains(NETWORK_FILE), "{err}");
    }

    #[test]
    fn npy_header_fields() {
        // numpy's spelling (trailing comma) and ndarray-npy's (none).
        let h = "{'descr': '<f4', 'fortran_order': False, 'shape': (784, 400), }";
        assert_eq!(npy_shape(h), Some(vec![784, 400]));
        assert_eq!(npy_item_size(h), Some(4));
        assert_eq!(npy_shape("{'shape': (400,)}"), Some(vec![400]));
        assert_eq!(npy_shape("{\"shape\": ()}"), Some(vec![]));
        assert_eq!(npy_item_size("{'descr': '>i8', 'shape': (1,)}"), Some(8));
        assert_eq!(npy_shape("{'shape': (4, x)}"), None);
        assert_eq!(npy_shape("{'descr': '<f4'}"), None);
        assert_eq!(npy_item_size("{'descr': [('a', '<f4')]}"), None);
    }

    #[test]
    fn grid_columns_is_ceil_sqrt() {
        for (n, c) in [
            (1, 1),
            (2, 2),
            (4, 2),
            (5, 3),
            (7, 3),
            (9, 3),
            (10, 4),
            (100, 10),
        ] {
            assert_eq!(grid_columns(n), c, "n = {n}");
        }
        assert_eq!(grid_columns(6400), 80);
        assert_eq!(grid_columns(6401), 81);
    }

    #[test]
    fn receptive_fields_png_sizes() {
        let tmp = TempDir::new("png");
        for (n, with_bars, expected) in [
            (100, true, (10 * 84 + 9, 10 * 87 + 9)),
            (100, false, (10 * 84 + 9, 10 * 84 + 9)),
            (7, true, (3 * 84 + 2, 3 * 87 + 2)),
            (7, false, (3 * 84 + 2, 3 * 84 + 2)),
            (1601, false, (41 * 28 + 40, 40 * 28 + 39)),
        ] {
            let net = sample(n);
            let path = tmp.0.join(format!("rf_{n}_{with_bars}.png"));
            let a = with_bars.then_some(net.assignments.as_slice());
            receptive_fields_png(&path, net.weights.view(), a).unwrap();
            assert_eq!(receptive_fields_size(n, with_bars), expected);
            let img = image::open(&path).unwrap().to_rgb8();
            let size = (img.width() as usize, img.height() as usize);
            assert_eq!(size, expected, "n = {n}, bars = {with_bars}");
        }
        assert_eq!(dir_entries(&tmp.0).len(), 5, "no temp files left");
    }

    #[test]
    fn receptive_fields_png_pixels() {
        let tmp = TempDir::new("pngpx");
        // Neuron 0: one pixel at (row 2, col 5) with the tile max; neuron 1: weak uniform
        // weights (still drawn white by the per-tile scaling); neuron 2: all zero.
        let mut w = Array2::<f32>::zeros((784, 3));
        w[[2 * 28 + 5, 0]] = 0.5;
        w[[0, 0]] = 0.25;
        w.column_mut(1).fill(0.001);
        let path = tmp.0.join("rf.png");
        receptive_fields_png(&path, w.view(), Some(&[3, -1, 9])).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!((img.width(), img.height()), (2 * 84 + 1, 2 * 87 + 1));
        let px = |x: u32, y: u32| img.get_pixel(x, y).0;
        // Tile 0 at (0, 0): the ×3 block of pixel (2, 5) is white; pixel (0, 0) is half grey.
        for d in 0..3 {
            assert_eq!(px(5 * 3 + d, 2 * 3 + d), [255; 3]);
        }
        assert_eq!(px(1, 1), [128; 3]);
        assert_eq!(px(40, 40), [0; 3]);
        // Border between tile 0 and tile 1.
        assert_eq!(px(84, 10), BORDER_COLOUR);
        // Tile 1 at x = 85: uniform weak weights drawn white.
        assert_eq!(px(85 + 40, 40), [255; 3]);
        // Bars: class 3 blue under tile 0, grey under tile 1 (unassigned), pink under tile 2.
        assert_eq!(px(10, 84), CLASS_PALETTE[3]);
        assert_eq!(px(10, 86), CLASS_PALETTE[3]);
        assert_eq!(px(85 + 10, 85), UNASSIGNED_COLOUR);
        assert_eq!(px(10, 88 + 85), CLASS_PALETTE[9]);
        // Tile 2 (second row) all black; the unused fourth cell is border colour.
        assert_eq!(px(40, 88 + 40), [0; 3]);
        assert_eq!(px(85 + 40, 88 + 40), BORDER_COLOUR);
    }

    #[test]
    fn receptive_fields_png_errors() {
        let tmp = TempDir::new("pngerr");
        let path = tmp.0.join("rf.png");
        let w = Array2::<f32>::zeros((100, 4));
        assert!(receptive_fields_png(&path, w.view(), None).is_err());
        let w = Array2::<f32>::zeros((784, 0));
        assert!(receptive_fields_png(&path, w.view(), None).is_err());
        let w = Array2::<f32>::zeros((784, 4));
        let err = receptive_fields_png(&path, w.view(), Some(&[0, 1])).unwrap_err();
        assert!(err.to_string().contains("assignments.len()"), "{err}");
        assert!(dir_entries(&tmp.0).is_empty());
    }

    #[test]
    fn numpy_reads_network_npz() {
        let has_numpy = Command::new("python3")
            .args(["-c", "import numpy"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !has_numpy {
            println!("SKIPPED: python3 with numpy not available");
            return;
        }
        let tmp = TempDir::new("numpy");
        let net = sample(5);
        save_network(&tmp.0, &net).unwrap();
        let path = tmp.0.join(NETWORK_FILE);
        let script = format!(
            "import numpy as np; d=np.load({:?}); print(d['weights'].shape, d['theta_mv'].dtype, \
             d['assignments'].dtype, d['assignments'].tolist(), float(d['weights'][784 - 1, 4]))",
            path.to_string_lossy()
        );
        let out = Command::new("python3")
            .args(["-c", &script])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let expected = format!(
            "(784, 5) float32 int32 {:?} {:?}",
            net.assignments,
            net.weights[[783, 4]] as f64
        );
        assert_eq!(stdout.trim(), expected);
    }
}
