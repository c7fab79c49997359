//! Pictures of a run directory: labelled receptive fields, θ histogram, confusion matrices,
//! learning curve, and one recorded test presentation (spike raster, v/θ/conductance traces).
//!
//! [`plot_run`] reads what `snn train` saved (`network.npz`, `config.json`, `results.json`),
//! re-runs one frozen presentation on the CPU reference
//! ([`CpuCompetitive::present_recorded`]) when given an image, and writes PNGs with
//! [`plotters`]; each picture also has its own function taking plain data. A `results.json`
//! field that is missing (older runs) skips its picture with a note in the [`PlotReport`].
//! Text needs a system TrueType font found through fontconfig; without one the error says so.

use std::error::Error as StdError;
use std::path::{Path, PathBuf};

use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};
use ndarray::{Array2, ArrayView2};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::config::DcConfig;
use super::evaluate::{vote_all_activity, Assignments, N_CLASSES};
use super::io::{load_network, write_atomic, CLASS_PALETTE, NETWORK_FILE, UNASSIGNED_COLOUR};
use crate::backend::CompetitiveBackend;
use crate::cpu::wta::{CpuCompetitive, PresentationRecord};
use crate::error::{Result, SnnError};
use crate::model::{PresentOptions, RestMode};

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

type DrawResult = std::result::Result<(), Box<dyn StdError>>;
type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Colours of traced neurons (and their spikes in the raster).
const TRACE_COLOURS: [RGBColor; 6] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
];
const FONT: &str = "sans-serif";

fn data_err(path: &Path, message: impl Into<String>) -> SnnError {
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
fn render(
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

fn class_colour(assignment: i32) -> [u8; 3] {
    usize::try_from(assignment)
        .ok()
        .and_then(|c| CLASS_PALETTE.get(c))
        .copied()
        .unwrap_or(UNASSIGNED_COLOUR)
}

/// Black or white, whichever reads better on `bg`.
fn text_on(bg: [u8; 3]) -> RGBColor {
    let luma = 0.299 * bg[0] as f32 + 0.587 * bg[1] as f32 + 0.114 * bg[2] as f32;
    if luma > 150.0 {
        BLACK
    } else {
        WHITE
    }
}

// ---- receptive fields ------------------------------------------------------------------

/// Geometry of the labelled receptive-field grid for `n` neurons.
struct RfLayout {
    cols: usize,
    scale: usize,
    strip: usize,
    header: usize,
    gap: usize,
    x0: usize,
    width: usize,
    height: usize,
}

impl RfLayout {
    fn new(n: usize) -> Self {
        let cols = (1..=n.max(1)).find(|c| c * c >= n).unwrap_or(1);
        let rows = n.div_ceil(cols).max(1);
        // Large networks get smaller tiles so that the picture stays a few thousand pixels.
        let scale = match n {
            0..=400 => 3,
            401..=1600 => 2,
            _ => 1,
        };
        let strip = if scale >= 2 { 17 } else { 11 };
        let (header, gap) = (58, 2);
        let grid_w = cols * (28 * scale + gap) + gap;
        let width = grid_w.max(760);
        RfLayout {
            cols,
            scale,
            strip,
            header,
            gap,
            x0: (width - grid_w) / 2,
            width,
            height: header + rows * (28 * scale + strip + gap) + gap,
        }
    }

    /// Top-left corner of cell `i` (its label strip; the tile is below it).
    fn cell(&self, i: usize) -> (usize, usize) {
        let tile = 28 * self.scale;
        (
            self.x0 + self.gap + (i % self.cols) * (tile + self.gap),
            self.header + self.gap + (i / self.cols) * (tile + self.strip + self.gap),
        )
    }
}

/// Pixel size `(width, height)` of [`receptive_fields_labelled_png`] for `n` neurons.
pub fn receptive_fields_labelled_size(n: usize) -> (u32, u32) {
    let l = RfLayout::new(n);
    (l.width as u32, l.height as u32)
}

/// Draws every neuron's 784 input weights as a 28 × 28 tile (grey scaled per tile to its
/// maximum, as `io::receptive_fields_png`), in a grid of `ceil(sqrt(N))` columns, each tile
/// titled by a strip in its class colour with the neuron index (left) and its assigned class
/// (centre; `–` if unassigned). `title` goes on top with the number of neurons per class.
///
/// # Errors
/// `weights` is not `[784][N]` with N ≥ 1, `assignments` is not N long, no font, or the file
/// cannot be written.
pub fn receptive_fields_labelled_png(
    path: &Path,
    weights: ArrayView2<f32>,
    assignments: &[i32],
    title: &str,
) -> Result<()> {
    let (n_in, n) = weights.dim();
    if n_in != 784 || n == 0 {
        return Err(SnnError::invalid(
            "weights shape",
            format!("{:?}", weights.dim()),
            "(784, N) with N >= 1",
        ));
    }
    if assignments.len() != n {
        return Err(SnnError::invalid(
            "assignments.len()",
            assignments.len(),
            format!("the number of weight columns ({n})"),
        ));
    }
    let l = RfLayout::new(n);
    let tile = 28 * l.scale;
    let mut buf = vec![255u8; l.width * l.height * 3];
    let mut put = |x: usize, y: usize, rgb: [u8; 3]| {
        let o = (y * l.width + x) * 3;
        if let Some(px) = buf.get_mut(o..o + 3) {
            px.copy_from_slice(&rgb);
        }
    };
    let grid_w = l.width - 2 * l.x0;
    for y in l.header..l.height {
        for x in l.x0..l.x0 + grid_w {
            put(x, y, [64; 3]);
        }
    }
    for (i, column) in weights.columns().into_iter().enumerate() {
        let (x0, y0) = l.cell(i);
        for dy in 0..l.strip {
            for dx in 0..tile {
                put(x0 + dx, y0 + dy, class_colour(assignments[i]));
            }
        }
        let max = column
            .iter()
            .copied()
            .filter(|w| w.is_finite())
            .fold(0.0f32, f32::max);
        for (p, &w) in column.iter().enumerate() {
            let level = if max > 0.0 && w.is_finite() && w > 0.0 {
                (w / max * 255.0).round().clamp(0.0, 255.0) as u8
            } else {
                0
            };
            for d in 0..l.scale * l.scale {
                let (dy, dx) = (d / l.scale, d % l.scale);
                let (x, y) = (
                    x0 + (p % 28) * l.scale + dx,
                    y0 + l.strip + (p / 28) * l.scale,
                );
                put(x, y + dy, [level; 3]);
            }
        }
    }

    let mut per_class = [0usize; N_CLASSES];
    for &a in assignments {
        if let Some(k) = usize::try_from(a).ok().and_then(|c| per_class.get_mut(c)) {
            *k += 1;
        }
    }
    let unassigned = n - per_class.iter().sum::<usize>();
    let per_class: Vec<String> = per_class
        .iter()
        .enumerate()
        .map(|(c, k)| format!("{c}:{k}"))
        .collect();
    let subtitle = format!(
        "strip: neuron index and assigned class; grey: input weights scaled per tile.  \
         Neurons per class {}{}",
        per_class.join(" "),
        if unassigned > 0 {
            format!(", unassigned {unassigned}")
        } else {
            String::new()
        }
    );
    render(path, (l.width as u32, l.height as u32), Some(buf), |root| {
        let centre = Pos::new(HPos::Center, VPos::Center);
        let left = Pos::new(HPos::Left, VPos::Center);
        let w = l.width as i32;
        root.draw(&Text::new(
            title.to_string(),
            (w / 2, 18),
            (FONT, 20)
                .into_font()
                .style(FontStyle::Bold)
                .color(&BLACK)
                .pos(centre),
        ))?;
        let sub_size = if l.width < 1000 { 11 } else { 14 };
        root.draw(&Text::new(
            subtitle,
            (w / 2, 42),
            (FONT, sub_size).into_font().color(&BLACK).pos(centre),
        ))?;
        for (i, &a) in assignments.iter().enumerate() {
            let (x0, y0) = l.cell(i);
            let colour = text_on(class_colour(a));
            let label = if (0..N_CLASSES as i32).contains(&a) {
                a.to_string()
            } else {
                "–".into()
            };
            let ym = (y0 + l.strip / 2) as i32;
            let size = l.strip as i32 - 2;
            if l.scale >= 2 {
                root.draw(&Text::new(
                    format!("#{i}"),
                    (x0 as i32 + 3, ym),
                    (FONT, size - 3).into_font().color(&colour).pos(left),
                ))?;
            }
            root.draw(&Text::new(
                label,
                ((x0 + tile / 2) as i32, ym),
                (FONT, size)
                    .into_font()
                    .style(FontStyle::Bold)
                    .color(&colour)
                    .pos(centre),
            ))?;
        }
        Ok(())
    })
}

// ---- θ histogram -----------------------------------------------------------------------

/// Histogram of θ (mV) over the neurons, with the mean and, if given, θ at the start of
/// training marked by vertical lines.
///
/// # Errors
/// No θ value, a non-finite one, no font, or the file cannot be written.
pub fn theta_histogram_png(
    path: &Path,
    theta_mv: &[f32],
    theta_start_mv: Option<f32>,
    title: &str,
) -> Result<()> {
    if let Some(i) = theta_mv.iter().position(|t| !t.is_finite()) {
        return Err(SnnError::invalid(
            format!("theta_mv[{i}]"),
            theta_mv[i],
            "a finite value",
        ));
    }
    if theta_mv.is_empty() {
        return Err(SnnError::invalid("theta_mv", "[]", "at least one neuron"));
    }
    let t: Vec<f64> = theta_mv.iter().map(|&x| x as f64).collect();
    let (min, max) = t
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    let mean = t.iter().sum::<f64>() / t.len() as f64;
    let bins = (t.len() as f64).sqrt().ceil().clamp(5.0, 40.0) as usize;
    let (lo, hi) = if max - min < 1e-6 {
        (min - 0.5, max + 0.5)
    } else {
        (min, max)
    };
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0u32; bins];
    for &x in &t {
        let b = (((x - lo) / width) as usize).min(bins - 1);
        counts[b] += 1;
    }
    let ymax = counts.iter().copied().max().unwrap_or(1);
    let (x_lo, x_hi) = (lo - width, hi + width);
    // θ at the start is drawn only when it is near the data; a trained network is usually far
    // above it, and squeezing the histogram to show both would hide its shape.
    let start_inside =
        theta_start_mv.map(|s| (s as f64) > lo - 3.0 * width && (s as f64) < hi + 3.0 * width);
    render(path, CHART_SIZE, None, |root| {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 22))
            .margin(20)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(
                x_lo.min(if start_inside == Some(true) {
                    theta_start_mv.unwrap_or(0.0) as f64 - width
                } else {
                    x_lo
                })..x_hi.max(if start_inside == Some(true) {
                    theta_start_mv.unwrap_or(0.0) as f64 + width
                } else {
                    x_hi
                }),
                0u32..ymax + ymax / 8 + 1,
            )?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE.mix(0.0))
            .x_label_formatter(&|v| format!("{v:.1}"))
            .x_desc("θ (mV)")
            .y_desc("neurons")
            .axis_desc_style((FONT, 18))
            .label_style((FONT, 15))
            .draw()?;
        let bar = RGBColor(0, 114, 178);
        chart.draw_series(counts.iter().enumerate().map(|(b, &k)| {
            let a = lo + b as f64 * width;
            Rectangle::new([(a, 0), (a + width, k)], bar.mix(0.75).filled())
        }))?;
        chart.draw_series(counts.iter().enumerate().map(|(b, &k)| {
            let a = lo + b as f64 * width;
            Rectangle::new([(a, 0), (a + width, k)], WHITE.stroke_width(1))
        }))?;
        let line = |x: f64, c: RGBColor| {
            DashedLineSeries::new(
                [(x, 0u32), (x, ymax + ymax / 8 + 1)],
                8,
                5,
                c.stroke_width(2),
            )
        };
        chart
            .draw_series(line(mean, RED))?
            .label(format!(
                "mean {mean:.2} mV (min {min:.2}, max {max:.2}, {} neurons)",
                t.len()
            ))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED.stroke_width(2)));
        if let (Some(s), Some(inside)) = (theta_start_mv, start_inside) {
            let grey = RGBColor(90, 90, 90);
            let drawn: Vec<_> = if inside {
                vec![line(s as f64, grey)]
            } else {
                vec![]
            };
            chart
                .draw_series(drawn.into_iter().flatten())?
                .label(if inside {
                    format!("θ at the start of training ({s} mV)")
                } else {
                    format!("θ at the start of training: {s} mV (off the axis)")
                })
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], grey.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font((FONT, 15))
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
        Ok(())
    })
}

// ---- confusion ---------------------------------------------------------------------------

/// A 10 × 10 confusion matrix, `[true][predicted]` image counts, with the name of its vote.
pub struct ConfusionPanel<'a> {
    /// Which vote produced it, e.g. "all-activity vote (the paper's)".
    pub vote: &'a str,
    /// `[true][predicted]` number of test images.
    pub matrix: [[u64; N_CLASSES]; N_CLASSES],
}

/// Draws the panels side by side: x predicted class, y true class (0 at the top), each cell
/// its count, coloured by its fraction of the row (the true class).
///
/// # Errors
/// No panel, no font, or the file cannot be written.
pub fn confusion_png(path: &Path, panels: &[ConfusionPanel], title: &str) -> Result<()> {
    if panels.is_empty() {
        return Err(SnnError::invalid(
            "confusion panels",
            0,
            "at least one matrix",
        ));
    }
    render(path, CONFUSION_SIZE, None, |root| {
        root.fill(&WHITE)?;
        let root = root.titled(title, (FONT, 22))?;
        let (body, key) = root.split_vertically(root.dim_in_pixel().1 - 30);
        key.draw(&Text::new(
            "numbers: test images; colour: fraction of the true class's images (row), white 0 → dark blue 1",
            (key.dim_in_pixel().0 as i32 / 2, 12),
            (FONT, 15)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Center, VPos::Center)),
        ))?;
        for (panel, area) in panels.iter().zip(body.split_evenly((1, panels.len()))) {
            let m = &panel.matrix;
            let total: u64 = m.iter().flatten().sum();
            let correct: u64 = (0..N_CLASSES).map(|c| m[c][c]).sum();
            let acc = if total > 0 {
                100.0 * correct as f64 / total as f64
            } else {
                0.0
            };
            let mut chart = ChartBuilder::on(&area)
                .caption(format!("{}: {acc:.1} % of {total}", panel.vote), (FONT, 19))
                .margin(15)
                .x_label_area_size(50)
                .y_label_area_size(55)
                .build_cartesian_2d(-0.5f64..9.5, -0.5f64..9.5)?;
            chart
                .configure_mesh()
                .disable_mesh()
                .x_desc("predicted class")
                .y_desc("true class")
                .axis_desc_style((FONT, 18))
                .label_style((FONT, 16))
                .x_labels(N_CLASSES)
                .y_labels(N_CLASSES)
                .x_label_formatter(&|v| format!("{v:.0}"))
                // Row 0 at the top, as a matrix is read.
                .y_label_formatter(&|v| format!("{:.0}", 9.0 - v))
                .draw()?;
            for (t, row) in m.iter().enumerate() {
                let row_total: u64 = row.iter().sum();
                for (p, &k) in row.iter().enumerate() {
                    let f = if row_total > 0 {
                        k as f64 / row_total as f64
                    } else {
                        0.0
                    };
                    let mix = |a: f64, b: f64| (a * (1.0 - f) + b * f).round() as u8;
                    let bg = [mix(255.0, 8.0), mix(255.0, 48.0), mix(255.0, 107.0)];
                    let (x, y) = (p as f64, 9.0 - t as f64);
                    chart.draw_series([Rectangle::new(
                        [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
                        RGBColor(bg[0], bg[1], bg[2]).filled(),
                    )])?;
                    let colour = text_on(bg);
                    chart.draw_series([Text::new(
                        k.to_string(),
                        (x, y),
                        (FONT, 15)
                            .into_font()
                            .color(&colour)
                            .pos(Pos::new(HPos::Center, VPos::Center)),
                    )])?;
                }
            }
        }
        Ok(())
    })
}

// ---- learning curve --------------------------------------------------------------------

/// Running accuracy (%) against training images seen, from `(images seen, accuracy in
/// [0, 1])` points, with the epoch boundaries of `epochs = (training images in all, epochs)`
/// and the final test accuracies as horizontal lines. An empty curve draws a note saying why
/// it is empty.
///
/// # Errors
/// No font, or the file cannot be written.
pub fn learning_curve_png(
    path: &Path,
    curve: &[(f64, f64)],
    epochs: Option<(f64, f64)>,
    test_accuracy: &[(&str, f64)],
    title: &str,
) -> Result<()> {
    let total_images = epochs.map(|e| e.0);
    let x_max = curve
        .iter()
        .map(|p| p.0)
        .chain(total_images)
        .fold(1.0f64, f64::max);
    render(path, CHART_SIZE, None, |root| {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 22))
            .margin(20)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..x_max * 1.02, 0f64..100f64)?;
        chart
            .configure_mesh()
            .x_desc("training images seen (retries not counted)")
            .y_desc("running accuracy (%)")
            .axis_desc_style((FONT, 18))
            .label_style((FONT, 15))
            .light_line_style(WHITE.mix(0.0))
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()?;
        if let Some((total, n)) = epochs.filter(|&(t, n)| t > 0.0 && n >= 1.0) {
            let grey = RGBColor(110, 110, 110);
            for k in 0..n as u32 {
                let x = k as f64 * total / n;
                if k > 0 {
                    chart.draw_series(DashedLineSeries::new(
                        [(x, 0.0), (x, 100.0)],
                        6,
                        6,
                        grey.stroke_width(1),
                    ))?;
                }
                chart.draw_series([Text::new(
                    format!("epoch {}", k + 1),
                    (x + x_max * 0.005, 99.0),
                    (FONT, 15).into_font().color(&grey),
                )])?;
            }
        }
        let colours = [RED, RGBColor(0, 158, 115)];
        for ((name, acc), c) in test_accuracy.iter().zip(colours) {
            let y = 100.0 * acc;
            chart
                .draw_series(DashedLineSeries::new(
                    [(0.0, y), (x_max * 1.02, y)],
                    8,
                    5,
                    c.stroke_width(2),
                ))?
                .label(format!("test accuracy, {name}: {y:.1} %"))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], c.stroke_width(2)));
        }
        let blue = RGBColor(0, 114, 178);
        let points: Vec<(f64, f64)> = curve.iter().map(|&(x, a)| (x, 100.0 * a)).collect();
        chart
            .draw_series(LineSeries::new(points.clone(), blue.stroke_width(2)))?
            .label(
                "running accuracy on the last 1000 training images (labels from the 1000 before)",
            )
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], blue.stroke_width(2)));
        let dot = if points.len() > 60 { 2 } else { 4 };
        chart.draw_series(points.iter().map(|&p| Circle::new(p, dot, blue.filled())))?;
        if curve.is_empty() {
            chart.draw_series([Text::new(
                "no point yet: the first one comes after 2000 training images",
                (x_max * 0.05, 70.0),
                (FONT, 20),
            )])?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font((FONT, 15))
            .position(SeriesLabelPosition::LowerRight)
            .draw()?;
        Ok(())
    })
}

// ---- one presentation --------------------------------------------------------------------

/// What is known about the image of a recorded presentation, for the captions.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageInfo {
    /// The 784 pixels.
    pub pixels: Vec<u8>,
    /// Its label, if known.
    pub label: Option<u8>,
    /// Its index in its data set.
    pub index: usize,
    /// Input intensity used (rates are pixel / 8 · intensity Hz).
    pub intensity: f32,
    /// The all-activity vote of the network on it, if labels are assigned.
    pub vote: Option<usize>,
}

fn draw_digit(area: &Area, info: &ImageInfo, rec: &PresentationRecord) -> DrawResult {
    let scale = 6i32;
    let (x0, y0) = (20i32, 20i32);
    for (p, &g) in info.pixels.iter().enumerate().take(784) {
        let (r, c) = ((p / 28) as i32, (p % 28) as i32);
        let (x, y) = (x0 + c * scale, y0 + r * scale);
        area.draw(&Rectangle::new(
            [(x, y), (x + scale, y + scale)],
            RGBColor(g, g, g).filled(),
        ))?;
    }
    let lines = [
        format!("image {}", info.index),
        match info.label {
            Some(l) => format!("label {l}"),
            None => "label unknown".into(),
        },
        match info.vote {
            Some(v) => format!("vote {v} (all-activity)"),
            None => "no vote (no labels)".into(),
        },
        format!("intensity {}", info.intensity),
        format!("max rate {:.1} Hz", 255.0 / 8.0 * info.intensity),
        String::new(),
        format!("{} input spikes", rec.input_spikes.len()),
        format!("{} excitatory spikes", rec.exc_spikes.len()),
        format!("{} inhibitory spikes", rec.inh_spikes.len()),
    ];
    for (k, line) in lines.iter().enumerate() {
        area.draw(&Text::new(
            line.clone(),
            (x0, y0 + 28 * scale + 20 + 24 * k as i32),
            (FONT, 17),
        ))?;
    }
    Ok(())
}

fn raster_panel(
    area: &Area,
    caption: &str,
    y_desc: &str,
    n: u32,
    t_ms: f64,
    spikes: impl Iterator<Item = (f64, u32, RGBColor, i32)>,
) -> DrawResult {
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 17))
        .margin(8)
        .margin_right(25)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..t_ms, 0u32..n)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("time (ms)")
        .y_desc(y_desc)
        .axis_desc_style((FONT, 15))
        .label_style((FONT, 13))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    chart.draw_series(spikes.map(|(t, i, c, r)| {
        EmptyElement::at((t, i)) + Rectangle::new([(-r / 2, -r), (r - r / 2, r)], c.filled())
    }))?;
    Ok(())
}

/// The spike raster of a recorded presentation: inputs, excitatory and inhibitory neurons
/// against time (ms), the traced neurons' spikes in their trace colours, and the image with
/// its label and vote on the left.
///
/// # Errors
/// No font, or the file cannot be written.
pub fn raster_png(
    path: &Path,
    rec: &PresentationRecord,
    info: &ImageInfo,
    title: &str,
) -> Result<()> {
    let dt = rec.dt_ms as f64;
    let t_ms = rec.steps as f64 * dt;
    let n = rec.counts.len() as u32;
    let colour_of = |i: u32| {
        rec.neurons
            .iter()
            .position(|&k| k == i)
            .map(|k| TRACE_COLOURS[k % TRACE_COLOURS.len()])
    };
    render(path, PRESENTATION_SIZE, None, |root| {
        root.fill(&WHITE)?;
        let root = root.titled(title, (FONT, 22))?;
        let (left, right) = root.split_horizontally(230);
        draw_digit(&left, info, rec)?;
        let h = right.dim_in_pixel().1;
        let areas = right.split_by_breakpoints([] as [u32; 0], [h * 46 / 100, h * 80 / 100]);
        let grey = RGBColor(40, 40, 40);
        raster_panel(
            &areas[0],
            "input spikes (Poisson, as drawn; delays of up to 10 ms come after)",
            "input (pixel row·28 + column)",
            784,
            t_ms,
            rec.input_spikes
                .iter()
                .map(|&(s, j)| (s as f64 * dt, j, grey, 1)),
        )?;
        raster_panel(
            &areas[1],
            "excitatory spikes (traced neurons in colour)",
            "excitatory neuron",
            n.max(1),
            t_ms,
            rec.exc_spikes.iter().map(|&(s, i)| match colour_of(i) {
                Some(c) => (s as f64 * dt, i, c, 4),
                None => (s as f64 * dt, i, BLACK, 3),
            }),
        )?;
        raster_panel(
            &areas[2],
            "inhibitory spikes",
            "inhibitory neuron",
            n.max(1),
            t_ms,
            rec.inh_spikes
                .iter()
                .map(|&(s, i)| (s as f64 * dt, i, RGBColor(200, 30, 30), 3)),
        )?;
        Ok(())
    })
}

/// Range `[lo, hi]` of `values` with a margin, never empty.
fn padded_range(values: impl Iterator<Item = f32>, pad: f64) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v as f64), b.max(v as f64))
        });
    if !lo.is_finite() {
        return (-1.0, 1.0);
    }
    let m = ((hi - lo) * pad).max(0.5);
    (lo - m, hi + m)
}

type TraceChart<'a, 'b> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

fn trace_chart<'a, 'b>(
    area: &'a Area<'b>,
    caption: &str,
    t_ms: f64,
    y: (f64, f64),
) -> std::result::Result<TraceChart<'a, 'b>, Box<dyn StdError>> {
    Ok(ChartBuilder::on(area)
        .caption(caption, (FONT, 17))
        .margin(8)
        .margin_right(25)
        .x_label_area_size(40)
        .y_label_area_size(75)
        .build_cartesian_2d(0f64..t_ms, y.0..y.1)?)
}

fn trace_mesh(c: &mut TraceChart, y_desc: &str) -> DrawResult {
    c.configure_mesh()
        .x_desc("time (ms)")
        .y_desc(y_desc)
        .axis_desc_style((FONT, 15))
        .label_style((FONT, 13))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.1}"))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    Ok(())
}

/// The traced neurons of a recorded presentation against time (ms): v with the firing
/// threshold `v_threshold + θ` (dashed) and spikes (triangles), θ, ge and gi.
///
/// # Errors
/// The record traces no neuron, no font, or the file cannot be written.
pub fn traces_png(path: &Path, rec: &PresentationRecord, title: &str) -> Result<()> {
    if rec.neurons.is_empty() {
        return Err(SnnError::invalid(
            "recorded neurons",
            0,
            "at least one traced neuron",
        ));
    }
    let dt = rec.dt_ms as f64;
    let t_ms = rec.steps as f64 * dt;
    let thr = |k: usize| -> Vec<f32> {
        rec.theta_mv[k]
            .iter()
            .map(|th| rec.v_threshold_mv + th)
            .collect()
    };
    let series = |values: &[f32]| -> Vec<(f64, f64)> {
        values
            .iter()
            .enumerate()
            .map(|(s, &v)| (s as f64 * dt, v as f64))
            .collect()
    };
    let all_thr: Vec<f32> = (0..rec.neurons.len()).flat_map(thr).collect();
    let v_range = padded_range(rec.v_mv.iter().flatten().copied().chain(all_thr), 0.05);
    let th_range = padded_range(rec.theta_mv.iter().flatten().copied(), 0.2);
    let g_max = |g: &[Vec<f32>]| {
        g.iter()
            .flatten()
            .copied()
            .filter(|g| g.is_finite())
            .fold(0.1f32, f32::max) as f64
            * 1.05
    };
    render(path, PRESENTATION_SIZE, None, |root| {
        root.fill(&WHITE)?;
        let root = root.titled(title, (FONT, 22))?;
        let h = root.dim_in_pixel().1;
        let areas =
            root.split_by_breakpoints([] as [u32; 0], [h * 40 / 100, h * 56 / 100, h * 78 / 100]);
        let mut v = trace_chart(
            &areas[0],
            "membrane potential v (dashed: threshold −72 mV + θ; ▲ spike)",
            t_ms,
            v_range,
        )?;
        trace_mesh(&mut v, "v (mV)")?;
        for (k, &i) in rec.neurons.iter().enumerate() {
            let c = TRACE_COLOURS[k % TRACE_COLOURS.len()];
            let spikes = rec.exc_spikes.iter().filter(|s| s.1 == i).count();
            v.draw_series(LineSeries::new(series(&rec.v_mv[k]), c.stroke_width(1)))?
                .label(format!(
                    "neuron {i}: {spikes} spike{}",
                    if spikes == 1 { "" } else { "s" }
                ))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], c.stroke_width(2)));
            v.draw_series(DashedLineSeries::new(
                series(&thr(k)),
                6,
                4,
                c.stroke_width(1),
            ))?;
            let th = thr(k);
            v.draw_series(rec.exc_spikes.iter().filter(|s| s.1 == i).map(|&(s, _)| {
                let y = th.get(s as usize).copied().unwrap_or(0.0) as f64;
                TriangleMarker::new((s as f64 * dt, y), 5, c.filled())
            }))?;
        }
        v.configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font((FONT, 14))
            .position(SeriesLabelPosition::LowerRight)
            .draw()?;

        let mut th = trace_chart(
            &areas[1],
            "adaptive threshold θ (frozen during a test presentation)",
            t_ms,
            th_range,
        )?;
        trace_mesh(&mut th, "θ (mV)")?;
        for (k, _) in rec.neurons.iter().enumerate() {
            let c = TRACE_COLOURS[k % TRACE_COLOURS.len()];
            th.draw_series(LineSeries::new(series(&rec.theta_mv[k]), c.stroke_width(2)))?;
        }

        let conductances = [
            (&rec.ge, "excitatory conductance ge (from the inputs)", "ge"),
            (
                &rec.gi,
                "inhibitory conductance gi (lateral inhibition)",
                "gi",
            ),
        ];
        for ((g, caption, name), area) in conductances.into_iter().zip(&areas[2..]) {
            let mut chart = trace_chart(area, caption, t_ms, (0.0, g_max(g)))?;
            trace_mesh(&mut chart, &format!("{name} (relative to leak)"))?;
            for (k, trace) in g.iter().enumerate() {
                let c = TRACE_COLOURS[k % TRACE_COLOURS.len()];
                chart.draw_series(LineSeries::new(series(trace), c.stroke_width(1)))?;
            }
        }
        Ok(())
    })
}

/// The `min(k, N)` most active neurons of `counts`, most active first, ties to the lowest
/// index.
pub fn most_active(counts: &[u32], k: usize) -> Vec<u32> {
    let mut order: Vec<u32> = (0..counts.len() as u32).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(counts[i as usize]), i));
    order.truncate(k);
    order
}

/// Presents `pixels` to the saved network on the CPU reference, frozen, from the rest state,
/// with presentation key `key`, at the configured starting intensity raised by the retry rule
/// (same key) while fewer than `min_spikes` excitatory spikes come; traces `neurons`, or the
/// three most active.
///
/// # Errors
/// The configuration or the saved sizes are invalid; a neuron index is out of range.
pub fn record_presentation(
    cfg: &DcConfig,
    weights: &Array2<f32>,
    theta_mv: &[f32],
    pixels: &[u8],
    key: u32,
    neurons: Option<&[u32]>,
) -> Result<(PresentationRecord, f32)> {
    let mut b = CpuCompetitive::new(&cfg.to_spec())?;
    let w = weights.as_standard_layout();
    let w = w
        .as_slice()
        .ok_or_else(|| SnnError::invalid("weights", "non-contiguous", "a contiguous array"))?;
    b.load(w, theta_mv)?;
    let opts = PresentOptions {
        steps_on: cfg.steps_on(),
        steps_rest: 0,
        rest: RestMode::Reset,
        learn: false,
        key,
    };
    let mut intensity = cfg.intensity_start;
    let mut rec = b.present_recorded(&DcConfig::rates(pixels, intensity), &opts, &[])?;
    for _ in 0..cfg.max_retries {
        if rec.counts.iter().sum::<u32>() >= cfg.min_spikes {
            break;
        }
        intensity += cfg.intensity_step;
        rec = b.present_recorded(&DcConfig::rates(pixels, intensity), &opts, &[])?;
    }
    let chosen = match neurons {
        Some(n) => n.to_vec(),
        None => most_active(&rec.counts, 3),
    };
    let rec = b.present_recorded(&DcConfig::rates(pixels, intensity), &opts, &chosen)?;
    Ok((rec, intensity))
}

// ---- a whole run -------------------------------------------------------------------------

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
    let path = dir.join("results.json");
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

/// A run's `config.json` as a [`DcConfig`]. Runs saved before the experiment files wrote the
/// STDP rule as `{"kind": "triplet"}`, now `"triplet"`; both are read.
fn parse_config(json: &str) -> serde_json::Result<DcConfig> {
    let mut v: serde_json::Value = serde_json::from_str(json)?;
    if let Some(rule) = v.pointer_mut("/stdp/rule") {
        if let Some(kind) = rule.get("kind").cloned() {
            *rule = kind;
        }
    }
    serde_json::from_value(v)
}

/// Draws the pictures of the run directory `run_dir` into `out_dir` (created if missing):
/// [`RF_FILE`], [`THETA_FILE`], [`CONFUSION_FILE`] and [`LEARNING_CURVE_FILE`] from the saved
/// files and, with `opts.image`, [`raster_file`] and [`traces_file`] of that image presented
/// to the saved network on the CPU reference ([`record_presentation`], key = image index).
/// Pictures whose data `results.json` lacks are skipped with a note in the report.
///
/// # Errors
/// `run_dir` is not a directory; its `network.npz` or `config.json` is missing or malformed;
/// a neuron index is out of range; no font; a file cannot be written.
pub fn plot_run(run_dir: &Path, out_dir: &Path, opts: &PlotOptions) -> Result<PlotReport> {
    if !run_dir.is_dir() {
        return Err(data_err(
            run_dir,
            "run directory not found (expected a directory written by `snn train`)",
        ));
    }
    if !run_dir.join(NETWORK_FILE).is_file() {
        return Err(data_err(
            &run_dir.join(NETWORK_FILE),
            "no saved network in this run directory (is it a directory written by `snn train`?)",
        ));
    }
    let saved = load_network(run_dir)?;
    let parsed = parse_config(&saved.config_json);
    let cfg_error = parsed.as_ref().err().map(|e| e.to_string());
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
