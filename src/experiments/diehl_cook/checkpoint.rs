//! Checkpoints of a training run: the backend's whole state ([`Snapshot`]), the loop's state
//! ([`TrainState`]), the config and the run plan, in one `checkpoint.npz` written atomically,
//! so `snn train --resume RUN_DIR` continues bit for bit after a crash or a kill.
//!
//! Layout (numpy reads it): `meta` (u8, UTF-8 JSON: format, version, backend, config, plan,
//! counters), `window_counts` (u32 `[images, n_exc]`), `window_labels` (u8), `hits` (u8),
//! `assignment` (i32) and `class_rates` (f32 `[10, n_exc]`) when labels were assigned, and
//! one `state.<name>` (u32 words, f32 by their bits) per array of the backend's snapshot.

use super::config::DcConfig;
use super::evaluate::{Assignments, N_CLASSES};
use super::io::{npy_bytes, read_npy_slice, write_atomic};
use super::train::{TrainState, TrainStats};
use crate::backend::Snapshot;
use crate::data::mnist::Dataset;
use crate::error::{Result, SnnError};
use ndarray::{Array1, Array2};
use ndarray_npy::NpzWriter;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// File name of the checkpoint in a run directory.
pub const CHECKPOINT_FILE: &str = "checkpoint.npz";
/// The checkpoint layout this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
const FORMAT: &str = "snn-wgpu diehl-cook checkpoint";
/// Largest `meta` entry accepted (a guard against corrupt sizes).
const MAX_META_BYTES: usize = 64 << 20;

/// What a run does besides the config: sizes, batch and the data it trains on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunPlan {
    /// Training images per epoch.
    pub n_train: usize,
    /// Labelling images (None: all training images used).
    pub label_samples: Option<usize>,
    /// Test images (None: the whole test set).
    pub test_samples: Option<usize>,
    /// Frozen batch size.
    pub batch: usize,
    /// Where the data came from (a directory or the embedded subset), for messages.
    pub data: String,
    /// The `--data` directory (None: the embedded subset); a resume without `--data` uses it.
    pub data_dir: Option<PathBuf>,
    /// [`fingerprint`] of the training images used, so a resume on other data is refused.
    pub data_fingerprint: String,
    /// Whether the run holds out the last sixth of the training images as its test set
    /// (`snn train --validation`); absent from runs before the option (false).
    #[serde(default)]
    pub validation: bool,
    /// [`eval_fingerprint`] of the labelling and test images, so that a resume that would
    /// label or test on other images is refused; absent from runs before it was kept.
    #[serde(default)]
    pub eval_fingerprint: Option<String>,
}

/// A training run stopped between two images.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// The experiment.
    pub config: DcConfig,
    /// Sizes and data.
    pub plan: RunPlan,
    /// The training loop.
    pub train: TrainState,
    /// Training wall time so far (s), summed over the resumed runs.
    pub train_seconds: f64,
    /// The backend's whole state.
    pub snapshot: Snapshot,
    /// snn-wgpu version that wrote it.
    pub crate_version: String,
    /// `cpu` or `gpu`: the engine the run trains on. The state suits either engine; a resume
    /// continues on this one unless told otherwise.
    pub trained_on: String,
}

#[derive(Serialize, Deserialize)]
struct Meta {
    format: String,
    format_version: u32,
    crate_version: String,
    backend: String,
    config: DcConfig,
    plan: RunPlan,
    key: u32,
    images: usize,
    retries: u64,
    learning_curve: Vec<(usize, f64)>,
    /// Absent from checkpoints written before it existed.
    #[serde(default)]
    runaway_at: Option<usize>,
    /// Absent from checkpoints written before silent images were skipped (then none were).
    #[serde(default)]
    skipped_images: u64,
    /// Silent images in a row before the next; absent as `skipped_images`.
    #[serde(default)]
    silent_run: usize,
    /// The next try's retry and intensity within its image (a network of a batch); absent
    /// at an image's first try and in checkpoints written before batches.
    #[serde(default)]
    pending: Option<(u32, f32)>,
    train_seconds: f64,
    class_counts: Option<[u32; N_CLASSES]>,
    state_arrays: Vec<String>,
    /// Absent from checkpoints written before it: the engine is then the snapshot's kind.
    #[serde(default)]
    trained_on: Option<String>,
}

/// The [`fingerprint`]s of the images a run labels (the first `label_samples` of `train`,
/// all of the first `n_train` where None) and tests on (the first `test_samples` of `test`,
/// all where None).
pub fn eval_fingerprint(
    train: &Dataset,
    test: &Dataset,
    n_train: usize,
    label_samples: Option<usize>,
    test_samples: Option<usize>,
) -> String {
    format!(
        "label {}, test {}",
        fingerprint(train, label_samples.unwrap_or(n_train)),
        fingerprint(test, test_samples.unwrap_or(test.len()))
    )
}

/// FNV-1a over the first `n` training images and labels: equal data, equal print.
pub fn fingerprint(data: &Dataset, n: usize) -> String {
    let n = n.min(data.len());
    let px = data.rows * data.cols;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data.images[..n * px].iter().chain(&data.labels[..n]) {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("fnv1a64:{h:016x}:{n}x{px}")
}

fn data_err(path: &Path, message: impl Into<String>) -> SnnError {
    SnnError::Data {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Writes `dir/checkpoint.npz` atomically (temporary file, fsync, rename): a crash at any
/// point leaves the previous checkpoint whole.
///
/// # Errors
/// [`SnnError::Io`] naming the file (disk full, unwritable folder); nothing partial is left.
pub fn save_checkpoint(dir: &Path, ck: &Checkpoint) -> Result<()> {
    fs::create_dir_all(dir).map_err(|source| SnnError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let path = dir.join(CHECKPOINT_FILE);
    let n = ck.config.n_exc as usize;
    let t = &ck.train;
    let meta = Meta {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        crate_version: ck.crate_version.clone(),
        backend: ck.snapshot.backend.clone(),
        config: ck.config.clone(),
        plan: ck.plan.clone(),
        key: t.key,
        images: t.stats.images,
        retries: t.stats.retries,
        learning_curve: t.stats.learning_curve.clone(),
        runaway_at: t.stats.runaway_at,
        skipped_images: t.stats.skipped_images,
        silent_run: t.silent_run,
        pending: t.pending.map(|r| (r.retry, r.intensity)),
        train_seconds: ck.train_seconds,
        class_counts: t.assignments.as_ref().map(|a| a.class_counts),
        state_arrays: ck.snapshot.arrays.iter().map(|(k, _)| k.clone()).collect(),
        trained_on: Some(ck.trained_on.clone()),
    };
    let meta = serde_json::to_vec(&meta).map_err(|e| data_err(&path, e.to_string()))?;
    let window: Vec<u32> = t
        .window
        .iter()
        .flat_map(|(c, _)| c.iter().copied())
        .collect();
    let window = Array2::from_shape_vec((t.window.len(), n), window)
        .map_err(|_| data_err(&path, "training window counts do not match n_exc"))?;
    let labels: Array1<u8> = t.window.iter().map(|(_, l)| *l).collect();
    let hits: Array1<u8> = t.hits.iter().map(|&h| h as u8).collect();
    write_atomic(&path, |w| {
        super::io::write_npz(&path, NpzWriter::new(w), |npz| {
            npz.add_array("meta", &Array1::from(meta))?;
            npz.add_array("window_counts", &window)?;
            npz.add_array("window_labels", &labels)?;
            npz.add_array("hits", &hits)?;
            if let Some(a) = &t.assignments {
                npz.add_array("assignment", &Array1::from(a.assignment.clone()))?;
                npz.add_array("class_rates", &a.class_rates)?;
            }
            for (name, words) in &ck.snapshot.arrays {
                npz.add_array(format!("state.{name}"), &Array1::from(words.clone()))?;
            }
            Ok(())
        })?;
        Ok(())
    })
}

/// Reads `dir/checkpoint.npz`.
///
/// # Errors
/// [`SnnError::Io`] if it is missing; [`SnnError::Data`] naming the file and saying why for a
/// corrupt file, another format or version, or arrays whose sizes disagree.
pub fn load_checkpoint(dir: &Path) -> Result<Checkpoint> {
    let path = dir.join(CHECKPOINT_FILE);
    let file = File::open(&path).map_err(|source| SnnError::Io {
        path: path.clone(),
        source,
    })?;
    let corrupt = |what: String| {
        data_err(
            &path,
            format!(
                "{what}; the checkpoint is damaged: start the run again (`snn train` with \
                 --overwrite, or into another --out)"
            ),
        )
    };
    let mut npz = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|e| corrupt(format!("not a readable npz file ({e})")))?;
    let names: Vec<String> = npz
        .file_names()
        .map(|n| n.strip_suffix(".npy").unwrap_or(n).to_string())
        .collect();
    if !names.iter().any(|n| n == "meta") {
        return Err(corrupt(format!(
            "no `meta` array (arrays present: {})",
            names.join(", ")
        )));
    }
    // Each entry is read only once its header's shape fits the data there (io::npy_bytes),
    // so a damaged header cannot ask for a huge allocation.
    let mut read = |name: &str| -> Result<Vec<u8>> {
        npy_bytes(&mut npz, name, &path).map_err(|e| corrupt(e.to_string()))
    };
    let meta: Array1<u8> =
        read_npy_slice(&read("meta")?).map_err(|e| corrupt(format!("array `meta`: {e}")))?;
    if meta.len() > MAX_META_BYTES {
        return Err(corrupt(format!("`meta` has {} bytes", meta.len())));
    }
    let raw: serde_json::Value = serde_json::from_slice(meta.as_slice().unwrap_or(&[]))
        .map_err(|e| corrupt(format!("`meta` is not JSON ({e})")))?;
    let format = raw.get("format").and_then(|v| v.as_str()).unwrap_or("?");
    let version = raw
        .get("format_version")
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    let writer = raw
        .get("crate_version")
        .and_then(|v| v.as_str())
        .unwrap_or("?");
    if format != FORMAT || version != FORMAT_VERSION as u64 {
        return Err(data_err(
            &path,
            format!(
                "checkpoint format `{format}` version {version} (written by snn-wgpu {writer}); \
                 this build (snn-wgpu {}) reads `{FORMAT}` version {FORMAT_VERSION}: finish the \
                 run with snn-wgpu {writer}, or start it again",
                env!("CARGO_PKG_VERSION")
            ),
        ));
    }
    let meta: Meta = serde_json::from_value(raw)
        .map_err(|e| corrupt(format!("`meta` does not describe a checkpoint ({e})")))?;
    meta.config.validate()?;
    let n = meta.config.n_exc as usize;

    let window: Array2<u32> = read_npy_slice(&read("window_counts")?)
        .map_err(|e| corrupt(format!("array `window_counts`: {e}")))?;
    let labels: Array1<u8> = read_npy_slice(&read("window_labels")?)
        .map_err(|e| corrupt(format!("array `window_labels`: {e}")))?;
    let hits: Array1<u8> =
        read_npy_slice(&read("hits")?).map_err(|e| corrupt(format!("array `hits`: {e}")))?;
    if window.ncols() != n || window.nrows() != labels.len() {
        return Err(corrupt(format!(
            "`window_counts` is {:?} with {} labels, for n_exc = {n}",
            window.dim(),
            labels.len()
        )));
    }
    let assignments = match meta.class_counts {
        None => None,
        Some(class_counts) => {
            let assignment: Array1<i32> = read_npy_slice(&read("assignment")?)
                .map_err(|e| corrupt(format!("array `assignment`: {e}")))?;
            let class_rates: Array2<f32> = read_npy_slice(&read("class_rates")?)
                .map_err(|e| corrupt(format!("array `class_rates`: {e}")))?;
            if assignment.len() != n || class_rates.dim() != (N_CLASSES, n) {
                return Err(corrupt(format!(
                    "`assignment` has {} entries and `class_rates` is {:?}, for n_exc = {n}",
                    assignment.len(),
                    class_rates.dim()
                )));
            }
            Some(Assignments {
                assignment: assignment.to_vec(),
                class_rates,
                class_counts,
            })
        }
    };
    // The meta is read as written; a count past the run's end would declare it done.
    meta.config
        .validate()
        .map_err(|e| corrupt(format!("`meta`: its config is not valid ({e})")))?;
    let total = (meta.plan.n_train as u64).saturating_mul(u64::from(meta.config.epochs));
    if meta.plan.n_train == 0 || meta.images as u64 > total {
        return Err(corrupt(format!(
            "`meta`: {} images trained of a run of {} ({} per epoch x {} epochs)",
            meta.images, total, meta.plan.n_train, meta.config.epochs
        )));
    }
    // The training loop's own state, as the loop leaves it between two images.
    let window_rows = window.nrows().max(labels.len()).max(hits.len());
    if window_rows > super::train::RUNNING_WINDOW {
        return Err(corrupt(format!(
            "`window`, `labels` or `hits`: {window_rows} rows, past the running window of {}",
            super::train::RUNNING_WINDOW
        )));
    }
    if meta.silent_run >= super::train::RUNNING_WINDOW || meta.silent_run > meta.images {
        return Err(corrupt(format!(
            "`meta`: {} silent images in a row, of {} trained (the run stops at {})",
            meta.silent_run,
            meta.images,
            super::train::RUNNING_WINDOW
        )));
    }
    if let Some((retry, intensity)) = meta.pending {
        if retry > meta.config.max_retries || !(intensity.is_finite() && intensity > 0.0) {
            return Err(corrupt(format!(
                "`meta`: a pending retry {retry} at intensity {intensity} (max_retries {}; \
                 an intensity is finite and above 0)",
                meta.config.max_retries
            )));
        }
    }
    let trained_on = meta.trained_on.clone().unwrap_or_else(|| {
        if meta.backend.starts_with("gpu") {
            "gpu"
        } else {
            "cpu"
        }
        .to_string()
    });
    let mut snapshot = Snapshot::new(&meta.backend);
    for name in &meta.state_arrays {
        let words: Array1<u32> = read_npy_slice(&read(&format!("state.{name}"))?)
            .map_err(|e| corrupt(format!("array `state.{name}`: {e}")))?;
        snapshot.arrays.push((name.clone(), words.to_vec()));
    }
    Ok(Checkpoint {
        trained_on,
        config: meta.config,
        plan: meta.plan,
        train: TrainState {
            key: meta.key,
            stats: TrainStats {
                images: meta.images,
                retries: meta.retries,
                learning_curve: meta.learning_curve,
                runaway_at: meta.runaway_at,
                skipped_images: meta.skipped_images,
            },
            window: window
                .outer_iter()
                .zip(labels.iter())
                .map(|(c, &l)| (c.to_vec(), l))
                .collect(),
            assignments,
            hits: hits.iter().map(|&h| h != 0).collect::<VecDeque<bool>>(),
            silent_run: meta.silent_run,
            pending: meta
                .pending
                .map(|(retry, intensity)| super::train::Retry { retry, intensity }),
        },
        train_seconds: meta.train_seconds,
        snapshot,
        crate_version: meta.crate_version,
    })
}

/// Refuses to resume `ck` with a setting that differs from the one it was written with:
/// `field` named, both values given.
///
/// # Errors
/// [`SnnError::InvalidParam`] saying what differs and what to do.
pub fn check_same<T: PartialEq + std::fmt::Display>(
    field: &str,
    asked: Option<T>,
    in_checkpoint: T,
) -> Result<()> {
    match asked {
        Some(a) if a != in_checkpoint => Err(SnnError::invalid(
            field,
            &a,
            format!(
                "{in_checkpoint}, as in the checkpoint: drop the flag to resume that run, or \
                 train into a new --out directory"
            ),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::diehl_cook::engine::DcEngine;
    use crate::experiments::diehl_cook::evaluate::assign_labels;
    use ndarray_npy::NpzReader;

    struct TempDir(PathBuf);
    impl TempDir {
        fn new(name: &str) -> Self {
            let d = std::env::temp_dir().join(format!(
                "snn-ck-{name}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = fs::remove_dir_all(&d);
            fs::create_dir_all(&d).unwrap();
            TempDir(d)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn sample() -> Checkpoint {
        let mut config = DcConfig::preset("dc100").unwrap();
        config.n_exc = 12;
        let mut b = DcEngine::new(&config.to_spec()).unwrap();
        let counts = Array2::from_shape_fn((20, 12), |(i, j)| ((i * 7 + j * 3) % 5) as u32);
        let labels: Vec<u8> = (0..20).map(|i| (i % 10) as u8).collect();
        let train = TrainState {
            key: 77,
            stats: TrainStats {
                images: 1234,
                retries: 56,
                learning_curve: vec![(1000, 0.5), (2000, 0.625)],
                runaway_at: Some(901),
                skipped_images: 3,
            },
            window: (0..3).map(|i| (vec![i as u32; 12], i as u8)).collect(),
            assignments: Some(assign_labels(counts.view(), &labels).unwrap()),
            hits: [true, false, true].into_iter().collect(),
            silent_run: 2,
            // A network of a batch, checkpointed before its third try of an image.
            pending: Some(crate::experiments::diehl_cook::train::Retry {
                retry: 2,
                intensity: 4.0,
            }),
        };
        Checkpoint {
            trained_on: "cpu".into(),
            plan: RunPlan {
                n_train: 3000,
                label_samples: Some(100),
                test_samples: None,
                batch: 64,
                data: "embedded".into(),
                data_dir: None,
                data_fingerprint: "fnv1a64:0:0x0".into(),
                validation: false,
                eval_fingerprint: None,
            },
            config,
            train,
            train_seconds: 12.5,
            snapshot: b.snapshot().unwrap(),
            crate_version: "0.1.0".into(),
        }
    }

    #[test]
    fn round_trip_is_exact() {
        let d = TempDir::new("rt");
        let ck = sample();
        save_checkpoint(&d.0, &ck).unwrap();
        assert_eq!(load_checkpoint(&d.0).unwrap(), ck);
        // Before the first window: no assignments, empty window and hits.
        let mut ck2 = sample();
        ck2.train.assignments = None;
        ck2.train.window.clear();
        ck2.train.hits.clear();
        save_checkpoint(&d.0, &ck2).unwrap();
        assert_eq!(load_checkpoint(&d.0).unwrap(), ck2);
        let names: Vec<String> = fs::read_dir(&d.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec![CHECKPOINT_FILE], "no temporary file left");
    }

    /// Rewrites the checkpoint's `meta` with `edit` applied, keeping the other arrays.
    fn edit_meta(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
        let path = dir.join(CHECKPOINT_FILE);
        let mut npz = NpzReader::new(File::open(&path).unwrap()).unwrap();
        let names = npz.names().unwrap();
        let meta: Array1<u8> = npz.by_name("meta").unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(meta.as_slice().unwrap()).unwrap();
        edit(&mut v);
        let mut w = NpzWriter::new(File::create(dir.join("new.npz")).unwrap());
        w.add_array("meta", &Array1::from(serde_json::to_vec(&v).unwrap()))
            .unwrap();
        for n in names.iter().filter(|n| !n.starts_with("meta")) {
            let n = n.trim_end_matches(".npy");
            match n {
                "window_counts" => {
                    let a: Array2<u32> = npz.by_name(n).unwrap();
                    w.add_array(n, &a).unwrap();
                }
                "class_rates" => {
                    let a: Array2<f32> = npz.by_name(n).unwrap();
                    w.add_array(n, &a).unwrap();
                }
                "window_labels" | "hits" => {
                    let a: Array1<u8> = npz.by_name(n).unwrap();
                    w.add_array(n, &a).unwrap();
                }
                "assignment" => {
                    let a: Array1<i32> = npz.by_name(n).unwrap();
                    w.add_array(n, &a).unwrap();
                }
                _ => {
                    let a: Array1<u32> = npz.by_name(n).unwrap();
                    w.add_array(n, &a).unwrap();
                }
            }
        }
        w.finish().unwrap();
        fs::rename(dir.join("new.npz"), &path).unwrap();
    }

    /// Checkpoints from before silent images were skipped have no `skipped_images`,
    /// `silent_run` nor `input_total_rate_hz` in their config: they load with none skipped.
    #[test]
    fn checkpoints_without_skipped_images_load_with_none() {
        let d = TempDir::new("old");
        save_checkpoint(&d.0, &sample()).unwrap();
        edit_meta(&d.0, |v| {
            let m = v.as_object_mut().unwrap();
            assert!(m.remove("skipped_images").is_some() && m.remove("silent_run").is_some());
            let c = m["config"].as_object_mut().unwrap();
            assert!(c.remove("input_total_rate_hz").is_some());
        });
        let ck = load_checkpoint(&d.0).unwrap();
        assert_eq!((ck.train.stats.skipped_images, ck.train.silent_run), (0, 0));
        assert_eq!(ck.config.input_total_rate_hz, 0.0);
        let mut want = sample();
        want.train.stats.skipped_images = 0;
        want.train.silent_run = 0;
        assert_eq!(ck, want);
    }

    #[test]
    fn other_versions_and_damaged_files_are_refused_with_the_reason() {
        let d = TempDir::new("ver");
        save_checkpoint(&d.0, &sample()).unwrap();
        edit_meta(&d.0, |v| {
            v["format_version"] = 99.into();
            v["crate_version"] = "9.9.9".into();
        });
        let err = load_checkpoint(&d.0).unwrap_err().to_string();
        assert!(
            err.contains("version 99")
                && err.contains("snn-wgpu 9.9.9")
                && err.contains("start it again"),
            "{err}"
        );
        assert!(err.contains(CHECKPOINT_FILE), "names the file: {err}");

        save_checkpoint(&d.0, &sample()).unwrap();
        edit_meta(&d.0, |v| v["config"]["n_exc"] = 13.into());
        let err = load_checkpoint(&d.0).unwrap_err().to_string();
        assert!(
            err.contains("window_counts") && err.contains("damaged"),
            "{err}"
        );

        fs::write(d.0.join(CHECKPOINT_FILE), b"PK\x03\x04 not really").unwrap();
        let err = load_checkpoint(&d.0).unwrap_err().to_string();
        assert!(
            err.contains("not a readable npz") && err.contains("--overwrite"),
            "{err}"
        );

        fs::remove_file(d.0.join(CHECKPOINT_FILE)).unwrap();
        let err = load_checkpoint(&d.0).unwrap_err().to_string();
        assert!(err.contains(CHECKPOINT_FILE), "{err}");
    }

    #[test]
    fn resume_flags_that_contradict_the_checkpoint_are_refused() {
        assert!(check_same("--seed", None, 3u32).is_ok());
        assert!(check_same("--seed", Some(3u32), 3).is_ok());
        let err = check_same("--preset", Some("dc400"), "dc100")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--preset") && err.contains("dc400") && err.contains("dc100"),
            "{err}"
        );
    }
}
