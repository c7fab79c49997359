//! The labelled receptive-field grid: each neuron's 784 input weights as a 28 × 28 tile under
//! a strip with its index and assigned class.

use std::path::Path;

use ndarray::ArrayView2;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{class_colour, render, text_on, FONT};
use crate::error::{Result, SnnError};
use crate::experiments::diehl_cook::evaluate::N_CLASSES;
use crate::experiments::diehl_cook::io::grey_levels;

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
        let (header, gap) = (76, 2);
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
        for (p, level) in grey_levels(column.iter().copied()).enumerate() {
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
        .map(|(c, k)| format!("{c}: {k}"))
        .collect();
    let legend = "strip: neuron index, assigned class · tile: the 784 input weights, grey \
                  scaled to the tile's largest";
    let subtitle = format!(
        "neurons per class  {}{}",
        per_class.join("   "),
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
        for (k, line) in [legend.to_string(), subtitle].into_iter().enumerate() {
            root.draw(&Text::new(
                line,
                (w / 2, 44 + 18 * k as i32),
                (FONT, 14).into_font().color(&BLACK).pos(centre),
            ))?;
        }
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
