//! Pictures of a run directory: labelled receptive fields, θ histogram, confusion matrices,
//! learning curve, and one recorded test presentation (spike raster, v/θ/conductance traces).
//!
//! [`plot_run`] reads what `snn train` saved (`network.npz`, `config.json`, `results.json`),
//! re-runs one frozen presentation on the engine it is given, CPU or GPU
//! ([`present_recorded`](crate::experiments::diehl_cook::record::present_recorded) on an
//! [`EngineChoice`]), when given an image, and writes PNGs with [`plotters`]; each picture
//! also has its own function taking plain data (`receptive`, `charts`, `presentation`). A
//! `results.json` field that is missing (older runs) skips its picture with a note in the
//! [`PlotReport`]. Text needs a system TrueType font found through fontconfig; without one the
//! error says so.

mod charts;
mod presentation;
mod receptive;

pub use charts::{confusion_png, learning_curve_png, theta_histogram_png, ConfusionPanel};
pub use presentation::{most_active, raster_png, record_presentation, traces_png, ImageInfo};
pub use receptive::{receptive_fields_labelled_png, receptive_fields_labelled_size};

use std::error::Error as StdError;
use std::path::{Path, PathBuf};

use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};
use ndarray::Array2;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::config::DcConfig;
use super::evaluate::{vote_all_activity, Assignments, N_CLASSES};
use super::io::{load_network, write_atomic, CLASS_PALETTE, UNASSIGNED_COLOUR};
use crate::backend::EngineChoice;
use crate::error::{Result, SnnError};

/// Receptive fields with each tile titled by its neuron index and assigned class.
pub const RF_FILE: &str = "receptive_fields_labelled.png";
/// Histogram of θ over the excitatory neurons.
pub const THETA_FILE: &str = "theta_histogram.png";
/// Confusion matrices of both votes.
pub const CONFUSION_FILE: &str = "confusion.png";
/// Running training accuracy against images seen.
pub const LEARNING_CURVE_FILE: &str = "learning_curve.png";
/// File name of the spike raster of test image `index`.
pub fn raster_file(index: usize) -> String {
    format!("raster_test{index}.png")
}
/// File name of the state traces of test image `index`.
pub fn traces_file(index: usize) -> String {
    format!("traces_test{index}.png")
}

/// Pixel size of the θ histogram and the learning curve.
pub const CHART_SIZE: (u32, u32) = (1000, 560);
/// Pixel size of the confusion matrices (two side by side).
pub const CONFUSION_SIZE: (u32, u32) = (1400, 760);
/// Pixel size of the raster and of the traces.
pub const PRESENTATION_SIZE: (u32, u32) = (1400, 1000);

pub(crate) type DrawResult = std::result::Result<(), Box<dyn StdError>>;
pub(crate) type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Colours of traced neurons (and their spikes in the raster).
pub(crate) const TRACE_COLOURS: [RGBColor; 6] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
];
pub(crate) const FONT: &str = "sans-serif";

pub(crate) fn data_err(path: &Path, message: impl Into<String>) -> SnnError {
    SnnError::Data {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Checks that plotters finds a font, so a missing one is an error that says what to install
/// rather than a failure deep inside a chart.
fn check_font(path: &Path) -> Result<()> {
    FontDesc::new(FontFamily::SansSerif, 12.0, FontStyle::Normal)
        .box_size("0")
        .map(|_| ())
        .map_err(|e| {
            data_err(
                path,
                format!(
                    "cannot draw text: no usable system font ({e}). Plots need fontconfig and a \
                     TrueType font, e.g. `apt-get install -y fontconfig fonts-dejavu-core`"
                ),
            )
        })
}

/// Draws into an RGB buffer (white, or `background`) of `size` and writes it as a PNG at
/// `path`, atomically.
pub(crate) fn render(
    path: &Path,
    size: (u32, u32),
    background: Option<Vec<u8>>,
    draw: impl FnOnce(&Area) -> DrawResult,
) -> Result<()> {
    check_font(path)?;
    let (w, h) = size;
    let mut buf = background.unwrap_or_else(|| vec![255u8; w as usize * h as usize * 3]);
    {
        let root = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
        draw(&root).map_err(|e| data_err(path, format!("drawing failed: {e}")))?;
        root.present()
            .map_err(|e| data_err(path, format!("drawing failed: {e}")))?;
    }
    write_atomic(path, |f| {
        PngEncoder::new(f)
            .write_image(&buf, w, h, ExtendedColorType::Rgb8)
            .map_err(|e| data_err(path, format!("PNG encoding failed: {e}")))
    })
}

pub(crate) fn class_colour(assignment: i32) -> [u8; 3] {
    usize::try_from(assignment)
        .ok()
        .and_then(|c| CLASS_PALETTE.get(c))
        .copied()
        .unwrap_or(UNASSIGNED_COLOUR)
}

/// Black or white, whichever reads better on `bg`.
pub(crate) fn text_on(bg: [u8; 3]) -> RGBColor {
    let luma = 0.299 * bg[0] as f32 + 0.587 * bg[1] as f32 + 0.114 * bg[2] as f32;
    if luma > 150.0 {
        BLACK
    } else {
        WHITE
    }
}

/// The image to record for [`plot_run`].
#[derive(Debug, Clone, PartialEq)]
pub struct PlotImage {
    /// The 784 pixels.
    pub pixels: Vec<u8>,
    /// Its label.
    pub label: Option<u8>,
    /// Its index in the test set; also the presentation key.
    pub index: usize,
}

/// What [`plot_run`] draws besides the run's own files.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlotOptions {
    /// A test image to present and record (raster and traces); none: no such plots.
    pub image: Option<PlotImage>,
    /// Excitatory neurons to trace; none: the three most active on the image.
    pub neurons: Option<Vec<u32>>,
}

/// What [`plot_run`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlotReport {
    /// The PNGs written.
    pub written: Vec<PathBuf>,
    /// One note per picture not drawn, saying why.
    pub skipped: Vec<String>,
}

/// The parts of `results.json` the pictures use; each is `None` when the file or the field is
/// missing or malformed (runs written before the field existed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunResults {
    /// `learning_curve`: (images seen, running accuracy in [0, 1]).
    pub learning_curve: Option<Vec<(f64, f64)>>,
    /// `confusion_all_activity`.
    pub confusion_all_activity: Option<[[u64; N_CLASSES]; N_CLASSES]>,
    /// `confusion_proportion`.
    pub confusion_proportion: Option<[[u64; N_CLASSES]; N_CLASSES]>,
    /// `accuracy_all_activity`.
    pub accuracy_all_activity: Option<f64>,
    /// `accuracy_proportion`.
    pub accuracy_proportion: Option<f64>,
    /// `train_images` (all epochs).
    pub train_images: Option<f64>,
    /// `epochs`.
    pub epochs: Option<f64>,
}

/// Reads `dir/results.json`; `Ok(None)` if there is none.
///
/// # Errors
/// The file exists but cannot be read or is not JSON.
pub fn read_results(dir: &Path) -> Result<Option<RunResults>> {
    let path = dir.join(super::io::RESULTS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(SnnError::Io { path, source }),
    };
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| data_err(&path, format!("not JSON: {e}")))?;
    let matrix = |name: &str| -> Option<[[u64; N_CLASSES]; N_CLASSES]> {
        let rows = v.get(name)?.as_array()?;
        let mut m = [[0u64; N_CLASSES]; N_CLASSES];
        if rows.len() != N_CLASSES {
            return None;
        }
        for (r, row) in m.iter_mut().zip(rows) {
            let row = row.as_array().filter(|x| x.len() == N_CLASSES)?;
            for (c, x) in r.iter_mut().zip(row) {
                *c = x.as_u64()?;
            }
        }
        Some(m)
    };
    let curve = v.get("learning_curve").and_then(|c| {
        c.as_array()?
            .iter()
            .map(|p| Some((p.get(0)?.as_f64()?, p.get(1)?.as_f64()?)))
            .collect()
    });
    let num = |name: &str| v.get(name).and_then(|x| x.as_f64());
    Ok(Some(RunResults {
        learning_curve: curve,
        confusion_all_activity: matrix("confusion_all_activity"),
        confusion_proportion: matrix("confusion_proportion"),
        accuracy_all_activity: num("accuracy_all_activity"),
        accuracy_proportion: num("accuracy_proportion"),
        train_images: num("train_images"),
        epochs: num("epochs"),
    }))
}

/// Draws the pictures of the run directory `run_dir` into `out_dir` (created if missing):
/// [`RF_FILE`], [`THETA_FILE`], [`CONFUSION_FILE`] and [`LEARNING_CURVE_FILE`] from the saved
/// files and, with `opts.image`, [`raster_file`] and [`traces_file`] of that image presented
/// to the saved network on the engine `engine` builds ([`record_presentation`], key = image
/// index).
/// Pictures whose data `results.json` lacks are skipped with a note in the report.
///
/// # Errors
/// `run_dir` is not a directory; its `network.npz` or `config.json` is missing or malformed;
/// a neuron index is out of range; the engine cannot be built; no font; a file cannot be
/// written.
pub fn plot_run(
    run_dir: &Path,
    out_dir: &Path,
    opts: &PlotOptions,
    engine: &EngineChoice,
) -> Result<PlotReport> {
    let saved = load_network(run_dir)?;
    // A config that does not validate (edited by hand, damaged) draws no presentation.
    let parsed = DcConfig::from_run_json(&saved.config_json)
        .map_err(|e| e.to_string())
        .and_then(|c| c.validate().map(|()| c).map_err(|e| e.to_string()));
    let cfg_error = parsed.as_ref().err().cloned();
    let cfg = parsed.ok();
    let results = read_results(run_dir)?;
    std::fs::create_dir_all(out_dir).map_err(|source| SnnError::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let run_name = std::fs::canonicalize(run_dir)
        .ok()
        .and_then(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()))
        .unwrap_or_else(|| run_dir.display().to_string());
    let what = match &cfg {
        Some(c) => format!("run {run_name} ({}, {} neurons)", c.preset, saved.n_exc),
        None => format!("run {run_name} ({} neurons)", saved.n_exc),
    };
    let mut report = PlotReport::default();
    let mut wrote = |name: &str| {
        let p = out_dir.join(name);
        report.written.push(p.clone());
        p
    };

    receptive_fields_labelled_png(
        &wrote(RF_FILE),
        saved.weights.view(),
        &saved.assignments,
        &format!("Receptive fields after training — {what}"),
    )?;
    let theta_start = cfg
        .as_ref()
        .and_then(|c| c.to_spec().exc.theta.map(|t| t.theta_init_mv));
    theta_histogram_png(
        &wrote(THETA_FILE),
        &saved.theta_mv,
        theta_start,
        &format!("Adaptive threshold θ after training — {what}"),
    )?;

    let r = results.clone().unwrap_or_default();
    let mut skipped = vec![];
    if results.is_none() {
        skipped.push(format!(
            "{}: no results.json, so no confusion matrix and no learning curve",
            run_dir.display()
        ));
    } else {
        let mut panels = vec![];
        if let Some(m) = r.confusion_all_activity {
            panels.push(ConfusionPanel {
                vote: "all-activity vote (the paper's)",
                matrix: m,
            });
        }
        if let Some(m) = r.confusion_proportion {
            panels.push(ConfusionPanel {
                vote: "proportion vote (BindsNET's)",
                matrix: m,
            });
        }
        if panels.is_empty() {
            skipped.push(format!(
                "{CONFUSION_FILE}: results.json has no confusion_all_activity / \
                 confusion_proportion (a run saved before they were recorded)"
            ));
        } else {
            confusion_png(
                &wrote(CONFUSION_FILE),
                &panels,
                &format!("Confusion on the test images — {what}"),
            )?;
        }
        match &r.learning_curve {
            Some(curve) => {
                let epochs = r.train_images.zip(r.epochs);
                let mut test = vec![];
                if let Some(a) = r.accuracy_all_activity {
                    test.push(("all-activity", a));
                }
                if let Some(a) = r.accuracy_proportion {
                    test.push(("proportion", a));
                }
                learning_curve_png(
                    &wrote(LEARNING_CURVE_FILE),
                    curve,
                    epochs,
                    &test,
                    &format!("Learning curve — {what}"),
                )?;
            }
            None => skipped.push(format!(
                "{LEARNING_CURVE_FILE}: results.json has no learning_curve"
            )),
        }
    }

    if let Some(img) = &opts.image {
        match &cfg {
            None => skipped.push(format!(
                "{}: config.json is not a run configuration ({}), so the network cannot be \
                 simulated",
                raster_file(img.index),
                cfg_error.as_deref().unwrap_or("unreadable")
            )),
            Some(cfg) => {
                let (rec, intensity) = record_presentation(
                    cfg,
                    &saved.weights,
                    &saved.theta_mv,
                    &img.pixels,
                    img.index as u32,
                    opts.neurons.as_deref(),
                    engine,
                )?;
                let any_label = saved.assignments.iter().any(|&a| a >= 0);
                let vote = any_label.then(|| {
                    let a = Assignments {
                        assignment: saved.assignments.clone(),
                        class_rates: Array2::zeros((N_CLASSES, saved.n_exc)),
                        class_counts: [0; N_CLASSES],
                    };
                    vote_all_activity(&rec.counts, &a)
                });
                let info = ImageInfo {
                    pixels: img.pixels.clone(),
                    label: img.label,
                    index: img.index,
                    intensity,
                    vote,
                };
                let head = format!(
                    "Test image {}{} presented for {} ms — {what}",
                    img.index,
                    img.label.map(|l| format!(" (a {l})")).unwrap_or_default(),
                    rec.steps as f32 * rec.dt_ms
                );
                raster_png(&wrote(&raster_file(img.index)), &rec, &info, &head)?;
                if rec.neurons.is_empty() {
                    skipped.push(format!("{}: no neuron to trace", traces_file(img.index)));
                } else {
                    traces_png(&wrote(&traces_file(img.index)), &rec, &head)?;
                }
            }
        }
    }
    report.skipped = skipped;
    Ok(report)
}
