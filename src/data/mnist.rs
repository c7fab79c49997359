//! MNIST: reads IDX image and label files (raw or gzip) into a [`Dataset`].
//!
//! Files in, `Dataset` out: [`load_split`] finds the canonical files in a directory, and
//! [`embedded`] parses the 10,000/2,000-example subset shipped in `data/mnist-subset/` through
//! the same code. The Diehl & Cook experiment and the CLI take their images from here.
//! Every malformed input gives an [`SnnError`] naming the file and what was expected.

use std::borrow::Cow;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Result, SnnError};

/// IDX magic of an images file: unsigned bytes, 3 dimensions (count, rows, cols).
const IMAGES_MAGIC: u32 = 0x0000_0803;
/// IDX magic of a labels file: unsigned bytes, 1 dimension (count).
const LABELS_MAGIC: u32 = 0x0000_0801;
/// Header length of an images file: magic, count, rows, cols.
const IMAGES_HEADER: usize = 16;
/// Header length of a labels file: magic, count.
const LABELS_HEADER: usize = 8;
/// Rows and columns of an MNIST image.
pub const MNIST_SIDE: usize = 28;
/// Largest accepted number of rows or columns of an image.
const MAX_SIDE: usize = 4096;
/// Largest accepted decompressed size of a gzip'd IDX file (1 GiB).
const MAX_DECOMPRESSED: u64 = 1 << 30;
/// Bytes decompressed beyond what a gzip'd file's header announces before the stream counts
/// as too long: enough to report small trailing garbage with its exact size.
const GZ_SLACK: u64 = 1 << 20;

/// Images and labels of one MNIST-style split, in file order.
///
/// `images` holds `len() * pixels()` bytes, image after image, each row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dataset {
    /// Pixels, `rows * cols` bytes per image, images one after another (0 = background).
    pub images: Vec<u8>,
    /// One label per image (0..=9 for MNIST).
    pub labels: Vec<u8>,
    /// Rows of each image (28 for MNIST).
    pub rows: usize,
    /// Columns of each image (28 for MNIST).
    pub cols: usize,
}

impl Dataset {
    /// Number of examples (the number of labels).
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels per image, `rows * cols`.
    pub fn pixels(&self) -> usize {
        self.rows.saturating_mul(self.cols)
    }

    /// The pixels of example `i`, row-major.
    ///
    /// # Panics
    ///
    /// If `i >= self.len()` (or if the public fields were changed so that `images` is
    /// shorter than `len() * pixels()`).
    pub fn image(&self, i: usize) -> &[u8] {
        let p = self.pixels();
        &self.images[i * p..(i + 1) * p]
    }

    /// The label of example `i`.
    ///
    /// # Panics
    ///
    /// If `i >= self.len()`.
    pub fn label(&self, i: usize) -> u8 {
        self.labels[i]
    }

    /// A copy of the first `min(n, len())` examples.
    pub fn take(&self, n: usize) -> Dataset {
        let k = n.min(self.len());
        Dataset {
            images: self
                .images
                .iter()
                .take(k.saturating_mul(self.pixels()))
                .copied()
                .collect(),
            labels: self.labels.iter().take(k).copied().collect(),
            rows: self.rows,
            cols: self.cols,
        }
    }
}

/// Which MNIST split: 60,000 training or 10,000 test examples (`train-*` or `t10k-*` files).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// The training split, files `train-images-idx3-ubyte` and `train-labels-idx1-ubyte`.
    Train,
    /// The test split, files `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`.
    Test,
}

impl Split {
    /// File name prefix of the split.
    fn prefix(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "t10k",
        }
    }
}

/// Reads an IDX images file (magic 2051), raw or gzip'd (detected by its magic bytes).
///
/// Returns `(rows, cols, pixels)` with `count * rows * cols` pixel bytes.
///
/// # Errors
///
/// [`SnnError::Io`] if the file cannot be read; [`SnnError::Data`] if it is a corrupt gzip
/// stream, has the wrong magic, a truncated header or body, trailing bytes, or rows or
/// columns outside 1..=4096.
pub fn read_idx_images(path: &Path) -> Result<(usize, usize, Vec<u8>)> {
    let raw = read_file(path)?;
    parse_images(&decompress(&raw, path)?, path)
}

/// Reads an IDX labels file (magic 2049), raw or gzip'd (detected by its magic bytes).
///
/// # Errors
///
/// [`SnnError::Io`] if the file cannot be read; [`SnnError::Data`] if it is a corrupt gzip
/// stream, has the wrong magic, a truncated header or body, or trailing bytes.
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>> {
    let raw = read_file(path)?;
    parse_labels(&decompress(&raw, path)?, path)
}

/// Loads one split from `dir`, which holds the MNIST IDX files.
///
/// Looks for `{train,t10k}-images-idx3-ubyte` and `{train,t10k}-labels-idx1-ubyte`, each
/// also with a `.gz` suffix or spelled `-images.idx3-ubyte` / `-labels.idx1-ubyte`.
///
/// # Errors
///
/// [`SnnError::Data`] naming the directory and the names looked for if a file is missing,
/// or naming both files if their counts disagree; any error of [`read_idx_images`] and
/// [`read_idx_labels`].
pub fn load_split(dir: &Path, split: Split) -> Result<Dataset> {
    if !dir.is_dir() {
        return Err(SnnError::Data {
            path: dir.to_path_buf(),
            message: format!(
                "MNIST directory not found (or not a directory): {}",
                download_hint(dir)
            ),
        });
    }
    let images_path = find_file(dir, split, "images", "idx3")?;
    let labels_path = find_file(dir, split, "labels", "idx1")?;
    check_gz_twin(&images_path)?;
    check_gz_twin(&labels_path)?;
    let (rows, cols, images) = read_idx_images(&images_path)?;
    let labels = read_idx_labels(&labels_path)?;
    dataset(rows, cols, images, labels, &images_path, &labels_path)
}

/// Loads one MNIST split from `dir` ([`load_split`]) and checks that it is MNIST as the
/// Diehl & Cook network needs it: 28×28 images (784 inputs) and labels 0..=9.
///
/// # Errors
/// Those of [`load_split`]; [`SnnError::Data`] naming the images or labels file if the images
/// are not 28×28 or a label is not a digit.
pub fn load_mnist(dir: &Path, split: Split) -> Result<Dataset> {
    let d = load_split(dir, split)?;
    if (d.rows, d.cols) != (MNIST_SIDE, MNIST_SIDE) {
        let path = find_file(dir, split, "images", "idx3")?;
        return Err(SnnError::Data {
            message: format!(
                "the images are {}x{} pixels ({} inputs each), but MNIST images are \
                 {MNIST_SIDE}x{MNIST_SIDE} (the network has {} inputs): these are not the MNIST \
                 files. {}",
                d.rows,
                d.cols,
                d.pixels(),
                MNIST_SIDE * MNIST_SIDE,
                what_to_do(&path)
            ),
            path,
        });
    }
    if let Some((i, &l)) = d.labels.iter().enumerate().find(|(_, &l)| l > 9) {
        let path = find_file(dir, split, "labels", "idx1")?;
        return Err(SnnError::Data {
            message: format!(
                "label {l} of example {i} is not a digit 0..=9: these are not the MNIST labels. {}",
                what_to_do(&path)
            ),
            path,
        });
    }
    Ok(d)
}

/// The MNIST subset shipped in the crate (`data/mnist-subset/`): the first 10,000 training
/// or the first 2,000 test examples of the canonical files, 28×28, parsed like files on disk.
///
/// # Errors
///
/// None in practice: the embedded files are valid. Parsing goes through the same checks as
/// [`load_split`], so a damaged copy would give the same [`SnnError::Data`].
pub fn embedded(split: Split) -> Result<Dataset> {
    const DIR: &str = "data/mnist-subset";
    let (images_gz, labels_gz): (&[u8], &[u8]) = match split {
        Split::Train => (
            include_bytes!("../../data/mnist-subset/train-images-idx3-ubyte.gz"),
            include_bytes!("../../data/mnist-subset/train-labels-idx1-ubyte.gz"),
        ),
        Split::Test => (
            include_bytes!("../../data/mnist-subset/t10k-images-idx3-ubyte.gz"),
            include_bytes!("../../data/mnist-subset/t10k-labels-idx1-ubyte.gz"),
        ),
    };
    let p = split.prefix();
    let images_name = PathBuf::from(format!("(embedded) {DIR}/{p}-images-idx3-ubyte.gz"));
    let labels_name = PathBuf::from(format!("(embedded) {DIR}/{p}-labels-idx1-ubyte.gz"));
    let (rows, cols, images) = parse_images(&decompress(images_gz, &images_name)?, &images_name)?;
    let labels = parse_labels(&decompress(labels_gz, &labels_name)?, &labels_name)?;
    dataset(rows, cols, images, labels, &images_name, &labels_name)
}

/// Pairs images and labels, checking that their counts agree.
fn dataset(
    rows: usize,
    cols: usize,
    images: Vec<u8>,
    labels: Vec<u8>,
    images_path: &Path,
    labels_path: &Path,
) -> Result<Dataset> {
    // rows and cols are in 1..=MAX_SIDE here, so the division is safe and exact.
    let n_images = images.len() / (rows * cols);
    if n_images != labels.len() {
        return Err(SnnError::Data {
            path: images_path.to_path_buf(),
            message: format!(
                "image and label counts disagree: {} holds {} images but {} holds {} labels; \
                 use the images and labels files of the same split. {}",
                images_path.display(),
                n_images,
                labels_path.display(),
                labels.len(),
                what_to_do(images_path)
            ),
        });
    }
    Ok(Dataset {
        images,
        labels,
        rows,
        cols,
    })
}

/// What to do when the MNIST files are not in `dir`.
fn download_hint(dir: &Path) -> String {
    format!(
        "download the four MNIST IDX files (train-images-idx3-ubyte.gz, \
         train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz; \
         gzip'd or not) into {0} (`snn fetch-mnist --to {0}` does it), or point --data at \
         the folder that holds them",
        dir.display()
    )
}

/// What to do about a damaged or wrong file at `path`: fetch it again, or check --data.
fn what_to_do(path: &Path) -> String {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    format!(
        "To fix: download the MNIST files again (`snn fetch-mnist --to {}`), or check that \
         --data points at the MNIST folder",
        dir.display()
    )
}

/// The first existing spelling of a split's images or labels file in `dir`.
fn find_file(dir: &Path, split: Split, kind: &str, idx: &str) -> Result<PathBuf> {
    let p = split.prefix();
    let names = [
        format!("{p}-{kind}-{idx}-ubyte"),
        format!("{p}-{kind}-{idx}-ubyte.gz"),
        format!("{p}-{kind}.{idx}-ubyte"),
        format!("{p}-{kind}.{idx}-ubyte.gz"),
    ];
    for name in &names {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(SnnError::Data {
        path: dir.to_path_buf(),
        message: format!(
            "no MNIST {kind} file for the {split:?} split; looked for {}. To fix: {}",
            names.join(", "),
            download_hint(dir)
        ),
    })
}

/// A raw file `X` is read in preference to `X.gz`; if both are there, they must hold the same
/// data, or which one is meant is unclear and neither is read.
fn check_gz_twin(raw: &Path) -> Result<()> {
    if raw.extension().is_some_and(|e| e == "gz") {
        return Ok(());
    }
    let mut gz_name = raw.as_os_str().to_owned();
    gz_name.push(".gz");
    let gz = PathBuf::from(gz_name);
    if !gz.is_file() {
        return Ok(());
    }
    let packed = read_file(&gz)?;
    if decompress(&read_file(raw)?, raw)? != decompress(&packed, &gz)? {
        return Err(SnnError::Data {
            path: raw.to_path_buf(),
            message: format!(
                "both {} and {} are here and hold different data: remove (or rename) the one \
                 that is not meant",
                raw.display(),
                gz.display()
            ),
        });
    }
    Ok(())
}

/// Reads a whole file, mapping failure to [`SnnError::Io`].
fn read_file(path: &Path) -> Result<Vec<u8>> {
    let io = |source| SnnError::Io {
        path: path.to_path_buf(),
        source,
    };
    // No IDX file this reader accepts is larger, raw or gzip'd: refuse before reading.
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_DECOMPRESSED + IMAGES_HEADER as u64 {
        return Err(SnnError::Data {
            path: path.to_path_buf(),
            message: format!(
                "the file is {len} bytes, larger than any IDX file this reader accepts \
                 ({MAX_DECOMPRESSED} bytes of pixels or labels): this is not an MNIST file"
            ),
        });
    }
    std::fs::read(path).map_err(io)
}

/// The IDX bytes of `raw`: gunzipped if it starts with the gzip magic `1f 8b`, else as is.
fn decompress<'a>(raw: &'a [u8], name: &Path) -> Result<Cow<'a, [u8]>> {
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok(Cow::Borrowed(raw));
    }
    // Decompress only what the header announces (plus GZ_SLACK), so that a small stream
    // that expands to gigabytes is cut off early and a header announcing more than
    // MAX_DECOMPRESSED is refused before anything is allocated for it.
    let announced = announced_len(raw);
    let limit = match announced {
        Some((header, body)) if body > MAX_DECOMPRESSED => {
            return Err(SnnError::Data {
                path: name.to_path_buf(),
                message: format!(
                    "the IDX header announces {body} bytes after the {header}-byte header, more \
                     than the {MAX_DECOMPRESSED} bytes this reader accepts: the file is damaged \
                     or not an MNIST file"
                ),
            });
        }
        Some((header, body)) => header + body + GZ_SLACK,
        // A header the parser refuses whatever follows: the first bytes are enough for it.
        None => IMAGES_HEADER as u64,
    };
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(raw)
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| SnnError::Data {
            path: name.to_path_buf(),
            message: format!(
                "corrupt gzip data (the file starts with the gzip magic 1f 8b): {e}. {}",
                what_to_do(name)
            ),
        })?;
    if out.len() as u64 > limit {
        let Some((header, body)) = announced else {
            out.truncate(IMAGES_HEADER);
            return Ok(Cow::Owned(out));
        };
        return Err(SnnError::Data {
            path: name.to_path_buf(),
            message: format!(
                "trailing bytes: the header says {body} bytes follow the {header}-byte header, \
                 but the gzip data decompresses to more than {limit} bytes (a damaged file, or \
                 not an MNIST file)"
            ),
        });
    }
    Ok(Cow::Owned(out))
}

/// `(header, body)`: the lengths an IDX header at the start of the gzip stream `raw`
/// announces, if it is a header the parser accepts (images or labels magic, complete,
/// image sides in 1..=MAX_SIDE); `None` otherwise, also for a corrupt stream.
fn announced_len(raw: &[u8]) -> Option<(u64, u64)> {
    let mut head = Vec::with_capacity(IMAGES_HEADER);
    flate2::read::MultiGzDecoder::new(raw)
        .take(IMAGES_HEADER as u64)
        .read_to_end(&mut head)
        .ok()?;
    let count = u64::from(be_u32(&head, 4));
    match be_u32(&head, 0) {
        IMAGES_MAGIC if head.len() >= IMAGES_HEADER => {
            let (rows, cols) = (be_u32(&head, 8) as usize, be_u32(&head, 12) as usize);
            let sides = 1..=MAX_SIDE;
            (sides.contains(&rows) && sides.contains(&cols))
                .then(|| (IMAGES_HEADER as u64, count * (rows * cols) as u64))
        }
        LABELS_MAGIC if head.len() >= LABELS_HEADER => Some((LABELS_HEADER as u64, count)),
        _ => None,
    }
}

/// Big-endian u32 at `at`; the caller has checked that the header is long enough.
fn be_u32(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    if let Some(s) = bytes.get(at..at + 4) {
        b.copy_from_slice(s);
    }
    u32::from_be_bytes(b)
}

/// Checks the header length and magic of an IDX file.
fn check_header(bytes: &[u8], name: &Path, header: usize, magic: u32, what: &str) -> Result<()> {
    // The magic first (when its 4 bytes are there), so that a short file of the other
    // kind is named as such rather than as a truncated header.
    let found = be_u32(bytes, 0);
    if bytes.len() >= 4 && found != magic {
        let hint = match (found, magic) {
            (LABELS_MAGIC, IMAGES_MAGIC) => "; is this an IDX labels file passed as images?",
            (IMAGES_MAGIC, LABELS_MAGIC) => "; is this an IDX images file passed as labels?",
            _ => "; this is not an MNIST IDX file",
        };
        return Err(SnnError::Data {
            path: name.to_path_buf(),
            message: format!(
                "wrong IDX magic for {what}: found {found} (0x{found:08x}), expected {magic} \
                 (0x{magic:08x}){hint}. {}",
                what_to_do(name)
            ),
        });
    }
    if bytes.len() < header {
        return Err(SnnError::Data {
            path: name.to_path_buf(),
            message: format!(
                "truncated IDX {what} header: {} bytes present, the header needs {header}. {}",
                bytes.len(),
                what_to_do(name)
            ),
        });
    }
    Ok(())
}

/// Checks that the body after the header holds exactly `expected` bytes, and returns it.
fn checked_body<'a>(
    bytes: &'a [u8],
    name: &Path,
    header: usize,
    expected: u64,
    described: &str,
) -> Result<&'a [u8]> {
    let body = bytes.get(header..).unwrap_or_default();
    let present = body.len() as u64;
    if present != expected {
        let problem = if present < expected {
            "truncated"
        } else {
            "trailing bytes"
        };
        return Err(SnnError::Data {
            path: name.to_path_buf(),
            message: format!(
                "{problem}: the header says {described} = {expected} bytes after the \
                 {header}-byte header, but {present} bytes are present (an incomplete or \
                 damaged download?). {}",
                what_to_do(name)
            ),
        });
    }
    Ok(body)
}

/// Parses the bytes of an IDX images file; `name` is used in messages.
fn parse_images(bytes: &[u8], name: &Path) -> Result<(usize, usize, Vec<u8>)> {
    check_header(bytes, name, IMAGES_HEADER, IMAGES_MAGIC, "images")?;
    let count = be_u32(bytes, 4);
    let rows = be_u32(bytes, 8) as usize;
    let cols = be_u32(bytes, 12) as usize;
    if !(1..=MAX_SIDE).contains(&rows) || !(1..=MAX_SIDE).contains(&cols) {
        return Err(SnnError::Data {
            path: name.to_path_buf(),
            message: format!(
                "image size {rows}x{cols} in the header is out of range: rows and cols must be \
                 in 1..={MAX_SIDE}. {}",
                what_to_do(name)
            ),
        });
    }
    // At most 2^32 * 2^24, which fits in u64: nothing is allocated from these numbers.
    let expected = u64::from(count) * (rows * cols) as u64;
    let body = checked_body(
        bytes,
        name,
        IMAGES_HEADER,
        expected,
        &format!("{count} images of {rows}x{cols}"),
    )?;
    Ok((rows, cols, body.to_vec()))
}

/// Parses the bytes of an IDX labels file; `name` is used in messages.
fn parse_labels(bytes: &[u8], name: &Path) -> Result<Vec<u8>> {
    check_header(bytes, name, LABELS_HEADER, LABELS_MAGIC, "labels")?;
    let count = be_u32(bytes, 4);
    let body = checked_body(
        bytes,
        name,
        LABELS_HEADER,
        u64::from(count),
        &format!("{count} labels"),
    )?;
    Ok(body.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh, empty directory under the system temp dir; removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir()
                .join(format!("snn-wgpu-mnist-{}-{tag}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn idx_images(count: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        for x in [IMAGES_MAGIC, count, rows, cols] {
            v.extend_from_slice(&x.to_be_bytes());
        }
        v.extend_from_slice(pixels);
        v
    }

    fn idx_labels(count: u32, labels: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        for x in [LABELS_MAGIC, count] {
            v.extend_from_slice(&x.to_be_bytes());
        }
        v.extend_from_slice(labels);
        v
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    /// Three 2x3 images with distinct pixels, and their labels.
    fn tiny() -> (Vec<u8>, Vec<u8>) {
        let pixels: Vec<u8> = (0..18).map(|i| i * 10).collect();
        (idx_images(3, 2, 3, &pixels), idx_labels(3, &[7, 0, 9]))
    }

    fn check_tiny(d: &Dataset) {
        assert_eq!((d.len(), d.rows, d.cols, d.pixels()), (3, 2, 3, 6));
        assert!(!d.is_empty());
        assert_eq!(d.image(0), &[0, 10, 20, 30, 40, 50]);
        assert_eq!(d.image(2), &[120, 130, 140, 150, 160, 170]);
        assert_eq!((d.label(0), d.label(1), d.label(2)), (7, 0, 9));
    }

    fn err_text<T: std::fmt::Debug>(r: Result<T>) -> String {
        match r {
            Ok(v) => panic!("expected an error, got {v:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn round_trip_raw() {
        let t = TempDir::new("raw");
        let (img, lab) = tiny();
        t.write("train-images-idx3-ubyte", &img);
        t.write("train-labels-idx1-ubyte", &lab);
        check_tiny(&load_split(&t.0, Split::Train).unwrap());
    }

    #[test]
    fn round_trip_gz_and_dot_spelling() {
        let t = TempDir::new("gz");
        let (img, lab) = tiny();
        t.write("t10k-images-idx3-ubyte.gz", &gz(&img));
        t.write("t10k-labels.idx1-ubyte", &lab);
        let d = load_split(&t.0, Split::Test).unwrap();
        check_tiny(&d);
        // gzip is detected by its magic, not by the name.
        let p = t.write("gzip-without-suffix", &gz(&img));
        assert_eq!(read_idx_images(&p).unwrap(), (2, 3, d.images.clone()));
        let p = t.write("raw-with-suffix.gz", &lab);
        assert_eq!(read_idx_labels(&p).unwrap(), d.labels);
    }

    #[test]
    fn take_clamps() {
        let (img, lab) = tiny();
        let n = Path::new("tiny");
        let (rows, cols, images) = parse_images(&img, n).unwrap();
        let d = dataset(rows, cols, images, parse_labels(&lab, n).unwrap(), n, n).unwrap();
        let two = d.take(2);
        assert_eq!(two.len(), 2);
        assert_eq!(two.images.len(), 12);
        assert_eq!(two.image(1), d.image(1));
        assert_eq!(d.take(100), d);
        assert!(d.take(0).is_empty());
    }

    #[test]
    fn wrong_magic() {
        let t = TempDir::new("magic");
        let (img, lab) = tiny();
        let lab_path = t.write("labels", &lab);
        let img_path = t.write("images", &img);
        let e = err_text(read_idx_images(&lab_path));
        assert!(
            e.contains("labels") && e.contains("found 2049") && e.contains("expected 2051"),
            "{e}"
        );
        assert!(
            e.contains("is this an IDX labels file passed as images?"),
            "{e}"
        );
        let e = err_text(read_idx_labels(&img_path));
        assert!(
            e.contains("found 2051") && e.contains("expected 2049"),
            "{e}"
        );
        assert!(e.contains("images file passed as labels"), "{e}");
        let p = t.write("junk", b"this is not an IDX file at all");
        let e = err_text(read_idx_images(&p));
        assert!(e.contains("junk") && e.contains("wrong IDX magic"), "{e}");
    }

    #[test]
    fn truncated_images() {
        let t = TempDir::new("trunc");
        let (img, _) = tiny();
        let p = t.write("short-images", &img[..img.len() - 5]);
        let e = err_text(read_idx_images(&p));
        assert!(e.contains("short-images") && e.contains("truncated"), "{e}");
        assert!(
            e.contains("18 bytes") && e.contains("13 bytes are present"),
            "{e}"
        );
    }

    #[test]
    fn truncated_header() {
        let t = TempDir::new("hdr");
        let (img, lab) = tiny();
        let p = t.write("hdr-images", &img[..10]);
        let e = err_text(read_idx_images(&p));
        assert!(
            e.contains("hdr-images") && e.contains("truncated IDX images header"),
            "{e}"
        );
        assert!(
            e.contains("10 bytes present") && e.contains("needs 16"),
            "{e}"
        );
        let p = t.write("hdr-labels", &lab[..3]);
        let e = err_text(read_idx_labels(&p));
        assert!(
            e.contains("3 bytes present") && e.contains("needs 8"),
            "{e}"
        );
        let p = t.write("empty", &[]);
        assert!(read_idx_labels(&p).is_err());
    }

    #[test]
    fn trailing_bytes() {
        let t = TempDir::new("trail");
        let (mut img, mut lab) = tiny();
        img.push(0);
        lab.extend_from_slice(&[1, 2]);
        let p = t.write("long-images", &img);
        let e = err_text(read_idx_images(&p));
        assert!(
            e.contains("long-images") && e.contains("trailing bytes") && e.contains("19 bytes"),
            "{e}"
        );
        let p = t.write("long-labels.gz", &gz(&lab));
        let e = err_text(read_idx_labels(&p));
        assert!(
            e.contains("trailing bytes") && e.contains("3 labels = 3 bytes"),
            "{e}"
        );
    }

    #[test]
    fn corrupt_gzip() {
        let t = TempDir::new("corrupt");
        let (img, _) = tiny();
        let good = gz(&img);
        let p = t.write("cut-images.gz", &good[..good.len() / 2]);
        let e = err_text(read_idx_images(&p));
        assert!(
            e.contains("cut-images.gz") && e.contains("corrupt gzip"),
            "{e}"
        );
        let mut bad = good.clone();
        let n = bad.len();
        bad[n - 8] ^= 0xff; // CRC32 of the gzip trailer
        let p = t.write("crc-images.gz", &bad);
        let e = err_text(read_idx_images(&p));
        assert!(
            e.contains("crc-images.gz") && e.contains("corrupt gzip"),
            "{e}"
        );
        let p = t.write("garbage.gz", &[0x1f, 0x8b, 0xde, 0xad, 0xbe, 0xef]);
        let e = err_text(read_idx_labels(&p));
        assert!(
            e.contains("garbage.gz") && e.contains("corrupt gzip"),
            "{e}"
        );
    }

    #[test]
    fn count_mismatch() {
        let t = TempDir::new("count");
        let (img, _) = tiny();
        t.write("train-images-idx3-ubyte", &img);
        t.write("train-labels-idx1-ubyte.gz", &gz(&idx_labels(2, &[1, 2])));
        let e = err_text(load_split(&t.0, Split::Train));
        assert!(e.contains("train-images-idx3-ubyte holds 3 images"), "{e}");
        assert!(
            e.contains("train-labels-idx1-ubyte.gz holds 2 labels"),
            "{e}"
        );
    }

    #[test]
    fn missing_directory_and_files() {
        let t = TempDir::new("missing");
        let gone = t.0.join("no-such-dir");
        let e = err_text(load_split(&gone, Split::Train));
        assert!(
            e.contains("no-such-dir") && e.contains("download the four MNIST IDX files"),
            "{e}"
        );
        let (img, _) = tiny();
        t.write("t10k-images-idx3-ubyte", &img);
        let e = err_text(load_split(&t.0, Split::Test));
        assert!(e.contains("no MNIST labels file"), "{e}");
        assert!(
            e.contains("t10k-labels-idx1-ubyte.gz") && e.contains("t10k-labels.idx1-ubyte"),
            "{e}"
        );
        assert!(e.contains(&format!("into {}", t.0.display())), "{e}");
        let e = err_text(read_idx_images(&t.0.join("nope")));
        assert!(e.contains("nope"), "{e}");
    }

    #[test]
    fn huge_header_counts_do_not_allocate() {
        let t = TempDir::new("huge");
        // 4 billion images of 28x28 claimed, 10 bytes present: an error, not a 3 TB allocation.
        let p = t.write("huge-images", &idx_images(u32::MAX, 28, 28, &[0; 10]));
        let e = err_text(read_idx_images(&p));
        assert!(
            e.contains("truncated") && e.contains("4294967295 images"),
            "{e}"
        );
        // gzip'd, such a header is refused before anything is decompressed.
        let p = t.write("huge-labels.gz", &gz(&idx_labels(u32::MAX, &[1; 4])));
        let e = err_text(read_idx_labels(&p));
        assert!(
            e.contains("announces 4294967295 bytes") && e.contains("more than"),
            "{e}"
        );
        // Absurd image sizes are refused before anything else.
        let p = t.write("wide-images", &idx_images(1, u32::MAX, u32::MAX, &[0; 4]));
        let e = err_text(read_idx_images(&p));
        assert!(e.contains("out of range") && e.contains("1..=4096"), "{e}");
        let p = t.write("flat-images", &idx_images(1, 0, 28, &[]));
        assert!(err_text(read_idx_images(&p)).contains("out of range"));
    }

    fn class_counts(d: &Dataset) -> [usize; 10] {
        let mut c = [0; 10];
        for &l in &d.labels {
            c[l as usize] += 1;
        }
        c
    }

    #[test]
    fn embedded_subset() {
        let train = embedded(Split::Train).unwrap();
        let test = embedded(Split::Test).unwrap();
        for (d, n) in [(&train, 10_000), (&test, 2_000)] {
            assert_eq!((d.len(), d.rows, d.cols), (n, 28, 28));
            assert_eq!(d.images.len(), n * 784);
            assert!(d.labels.iter().all(|&l| l <= 9));
        }
        // The class counts listed in data/mnist-subset/README.md.
        assert_eq!(
            class_counts(&train),
            [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
        );
        assert_eq!(
            class_counts(&test),
            [175, 234, 219, 207, 217, 179, 178, 205, 192, 194]
        );
        assert_eq!((train.label(0), test.label(0)), (5, 7));
    }

    /// The full data set, from the folder named by `SNN_MNIST_DIR` (the four IDX files, as
    /// `snn fetch-mnist` writes them). Ignored by default, so that it shows as ignored, not as
    /// passed, where the data set is absent: `SNN_MNIST_DIR=DIR cargo test --release -- --ignored`.
    #[test]
    #[ignore = "needs the full MNIST: SNN_MNIST_DIR=DIR cargo test --release -- --ignored"]
    fn full_mnist() {
        let dir = std::path::PathBuf::from(
            std::env::var_os("SNN_MNIST_DIR").expect("set SNN_MNIST_DIR to the full MNIST folder"),
        );
        let train = load_split(&dir, Split::Train).unwrap();
        let test = load_split(&dir, Split::Test).unwrap();
        assert_eq!((train.len(), train.rows, train.cols), (60000, 28, 28));
        assert_eq!((test.len(), test.rows, test.cols), (10000, 28, 28));
        assert_eq!(train.label(0), 5);
        assert_eq!(
            class_counts(&train),
            [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
        );
        assert_eq!(
            class_counts(&test),
            [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
        );
        // The embedded subset is exactly the head of each split.
        assert_eq!(embedded(Split::Train).unwrap(), train.take(10_000));
        assert_eq!(embedded(Split::Test).unwrap(), test.take(2_000));
    }
}
