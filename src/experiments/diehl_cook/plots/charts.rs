//! Charts of a run's numbers: θ histogram, confusion matrices, learning curve.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{render, text_on, CHART_SIZE, CONFUSION_SIZE, FONT};
use crate::error::{Result, SnnError};
use crate::experiments::diehl_cook::evaluate::N_CLASSES;

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

/// The most epochs whose boundaries the learning curve marks (more would cover the chart).
const MAX_EPOCH_MARKS: f64 = 100.0;

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
        // Whole epochs, each of one image at least and few enough to tell apart (an edited
        // results.json may say anything).
        let marked = |&(t, n): &(f64, f64)| {
            t > 0.0 && n >= 1.0 && n.fract() == 0.0 && n <= t.min(MAX_EPOCH_MARKS)
        };
        if let Some((total, n)) = epochs.filter(marked) {
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
