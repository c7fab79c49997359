//! `snn plot --run DIR`: the pictures of a run directory (labelled receptive fields, θ
//! histogram, confusion matrices, learning curve, and the spike raster and traces of one test
//! image), drawn by `experiments::diehl_cook::plots`. `snn train` calls [`after_train`].

use super::BackendArg;
use anyhow::{bail, Context, Result};
use snn_wgpu::backend::EngineChoice;
use snn_wgpu::data::mnist::{self, Dataset, Split};
use snn_wgpu::experiments::diehl_cook::plots::{plot_run, PlotImage, PlotOptions, PlotReport};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct PlotArgs {
    /// Run directory written by `snn train`.
    #[arg(long)]
    run: PathBuf,
    /// Directory for the PNGs (default: the run directory).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Test image to present to the network (spike raster and traces).
    #[arg(long, default_value_t = 0)]
    image: usize,
    /// Directory with the MNIST IDX files (raw or .gz). Without it, the 500 test images
    /// embedded in the binary are used.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Excitatory neurons to trace, comma-separated, e.g. `0,1,2` (default: the three most
    /// active on the image).
    #[arg(long, value_delimiter = ',')]
    neurons: Option<Vec<u32>>,
    /// Only the pictures of the saved files: no presentation, no raster, no traces.
    #[arg(long)]
    no_presentation: bool,
    /// Engine that replays the presentation (the same spikes on both; the engine flags
    /// apply).
    #[arg(long, value_enum, default_value = "cpu")]
    backend: BackendArg,
    /// Print only the JSON line.
    #[arg(long)]
    quiet: bool,
}

fn test_set(data: Option<&Path>) -> Result<Dataset> {
    Ok(match data {
        Some(d) => mnist::load_mnist(d, Split::Test)
            .with_context(|| format!("loading the MNIST test set from {}", d.display()))?,
        None => mnist::embedded(Split::Test)?,
    })
}

fn image(set: &Dataset, index: usize) -> Result<PlotImage> {
    if index >= set.len() {
        bail!(
            "--image {index}: the test set has {} images (0 to {})",
            set.len(),
            set.len().saturating_sub(1)
        );
    }
    Ok(PlotImage {
        pixels: set.image(index).to_vec(),
        label: Some(set.label(index)),
        index,
    })
}

fn print_report(report: &PlotReport, quiet: bool) {
    if !quiet {
        for p in &report.written {
            eprintln!("wrote {}", p.display());
        }
    }
    for note in &report.skipped {
        eprintln!("skipped {note}");
    }
}

pub fn run(args: PlotArgs) -> Result<()> {
    let out = args.out.clone().unwrap_or_else(|| args.run.clone());
    let image = if args.no_presentation {
        None
    } else {
        Some(image(&test_set(args.data.as_deref())?, args.image)?)
    };
    // Without a presentation nothing runs: no device is opened.
    let engine = match image {
        Some(_) => super::engine_choice(args.backend)?.0,
        None => EngineChoice::default(),
    };
    let opts = PlotOptions {
        image,
        neurons: args.neurons.clone(),
    };
    let report = plot_run(&args.run, &out, &opts, &engine)
        .with_context(|| format!("plotting the run {}", args.run.display()))?;
    print_report(&report, args.quiet);
    let line = serde_json::json!({
        "command": "plot",
        "run_dir": args.run.display().to_string(),
        "out": out.display().to_string(),
        "written": report.written.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "skipped": report.skipped,
    });
    crate::stdout::line(line);
    Ok(())
}

/// The plots at the end of `snn train`, with test image 0 presented on `engine`. A failure
/// (e.g. no system font) is a warning: the run itself is saved by then.
pub fn after_train(run_dir: &Path, test_set: &Dataset, engine: &EngineChoice, quiet: bool) {
    let opts = PlotOptions {
        image: image(test_set, 0).ok(),
        neurons: None,
    };
    let start = std::time::SystemTime::now();
    match plot_run(run_dir, run_dir, &opts, engine) {
        Ok(report) => print_report(&report, quiet),
        Err(e) => {
            // The pictures drawn before the failure are on disk: say how many.
            let written = std::fs::read_dir(run_dir).map_or(0, |entries| {
                entries
                    .flatten()
                    .filter(|e| e.path().extension().is_some_and(|x| x == "png"))
                    .filter(|e| {
                        e.metadata()
                            .and_then(|m| m.modified())
                            .is_ok_and(|t| t >= start)
                    })
                    .count()
            });
            eprintln!(
                "warning: plotting stopped after {written} picture(s) written to {}: {e}",
                run_dir.display()
            );
        }
    }
}
