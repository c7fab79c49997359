//! One test image presented to the saved network, recorded through the monitors of the CPU
//! or the GPU engine ([`present_recorded`] on a `backend::EngineChoice`), and drawn: spike
//! raster, v/θ/ge/gi traces.

use std::error::Error as StdError;
use std::path::Path;

use ndarray::Array2;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::{render, Area, DrawResult, FONT, PRESENTATION_SIZE, TRACE_COLOURS};
use crate::backend::EngineChoice;
use crate::error::{Result, SnnError};
use crate::experiments::diehl_cook::config::DcConfig;
use crate::experiments::diehl_cook::record::{present_recorded, PresentationRecord};
use crate::experiments::diehl_cook::{PresentOptions, RestMode};

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
    y_labels: usize,
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
        .y_labels(y_labels)
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
            8,
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
            8,
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
            4,
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

/// Axes of a trace panel, with about `y_labels` labels on the y axis (few in a flat panel).
fn trace_mesh(c: &mut TraceChart, y_desc: &str, y_labels: usize) -> DrawResult {
    c.configure_mesh()
        .x_desc("time (ms)")
        .y_desc(y_desc)
        .y_labels(y_labels)
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
        trace_mesh(&mut v, "v (mV)", 8)?;
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
        trace_mesh(&mut th, "θ (mV)", 3)?;
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
            trace_mesh(&mut chart, &format!("{name} (relative to leak)"), 5)?;
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

/// Presents `pixels` to the saved network on the engine `engine` builds, frozen, from the rest
/// state, with presentation key `key`, at the configured starting intensity raised by the
/// retry rule (same key) while fewer than `min_spikes` excitatory spikes come; traces
/// `neurons`, or the three most active.
///
/// # Errors
/// The configuration or the saved sizes are invalid; a neuron index is out of range; the
/// engine cannot be built (device limits, shader errors).
pub fn record_presentation(
    cfg: &DcConfig,
    weights: &Array2<f32>,
    theta_mv: &[f32],
    pixels: &[u8],
    key: u32,
    neurons: Option<&[u32]>,
    engine: &EngineChoice,
) -> Result<(PresentationRecord, f32)> {
    let spec = cfg.to_spec();
    let w = weights.as_standard_layout();
    let w = w
        .as_slice()
        .ok_or_else(|| SnnError::invalid("weights", "non-contiguous", "a contiguous array"))?;
    let opts = PresentOptions {
        steps_on: cfg.steps_on(),
        steps_rest: 0,
        rest: RestMode::Reset,
        learn: false,
        key,
    };
    let record = |rates: &[f32], neurons: &[u32]| {
        present_recorded(&spec, w, theta_mv, rates, &opts, neurons, engine)
    };
    let mut intensity = cfg.intensity_start;
    let mut rec = record(&cfg.input_rates(pixels, intensity), &[])?;
    for _ in 0..cfg.max_retries {
        if rec.counts.iter().sum::<u32>() >= cfg.min_spikes {
            break;
        }
        intensity += cfg.intensity_step;
        rec = record(&cfg.input_rates(pixels, intensity), &[])?;
    }
    let chosen = match neurons {
        Some(n) => n.to_vec(),
        None => most_active(&rec.counts, 3),
    };
    let rec = record(&cfg.input_rates(pixels, intensity), &chosen)?;
    Ok((rec, intensity))
}
