//! `snn`: the command line. Trains, labels and tests the Diehl & Cook network on MNIST.
//!
//! ```text
//! cargo run --release --bin snn -- train                     # dc400-short on the embedded subset, under a minute
//! cargo run --release --bin snn -- fetch-mnist --to ~/mnist
//! cargo run --release --bin snn -- train --preset dc400 --data ~/mnist --out runs/dc400
//! cargo run --release --bin snn -- evaluate --run runs/dc400 --data ~/mnist
//! ```

#[path = "../flags/engine.rs"]
mod engine;
mod fetch;
mod job;
mod memory;
mod plot;
mod progress;
mod rundir;
mod stdout;
mod train;

use anyhow::{bail, Context, Result};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use snn_wgpu::backend::EngineChoice;
use snn_wgpu::data::mnist::{self, Dataset, Split};
use snn_wgpu::experiments::diehl_cook::config::{DcConfig, PRESETS, SHORT_PRESET};
use snn_wgpu::experiments::diehl_cook::engine::DcEngine;
use snn_wgpu::experiments::diehl_cook::io::load_network;
use snn_wgpu::experiments::diehl_cook::multi::{Pass, Tested};
use snn_wgpu::experiments::diehl_cook::RestMode;
use snn_wgpu::gpu::GpuContext;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "snn",
    version,
    about = "Spiking neural networks on wgpu: the Diehl & Cook 2015 MNIST reproduction"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    engine: engine::EngineArgs,
}

/// The engine options of this run (set once in `main`).
static ENGINE: std::sync::OnceLock<engine::EngineArgs> = std::sync::OnceLock::new();

/// Labelling images of the first run (`snn train` without --preset, --config or --data):
/// dc400-short trained on the embedded 10,000, labelled on the first 5,000 of them (as good
/// as all of them on held-out training images, in 6 s less), tested on the 2,000 test images,
/// in 54 s on two idle cores (RESULTS.md, "First run").
const FIRST_RUN_LABEL_IMAGES: usize = 5000;

/// The engine options of this run.
fn engine() -> &'static engine::EngineArgs {
    ENGINE.get_or_init(engine::EngineArgs::default)
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum BackendArg {
    Cpu,
    Gpu,
}

/// `--step`: how v is integrated (the config's `clamp_v_to_reversal`).
#[derive(Clone, Copy, Debug, ValueEnum)]
enum StepArg {
    /// Forward Euler, v kept within [E_inh, E_exc] after each step (the presets).
    Clamped,
    /// The original code's forward Euler, unclamped: v may overshoot past E_inh when many
    /// inhibitory neurons fire in one step, and θ can run away (docs/diehl_cook.md).
    Faithful,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum RestArg {
    Simulate,
    Reset,
}

/// `--refractory` (config::Refractory).
#[derive(Clone, Copy, Debug, ValueEnum)]
enum RefractoryArg {
    /// The original code as Brian 1 runs it: a 5 ms spike lockout, v free (the presets).
    Brian1,
    /// v clamped at reset for 5 ms (Brian2's `unless refractory`).
    Clamp,
    /// The Brian2 ports: the 5 ms clamp and a 50 ms lockout (their `timer`).
    Brian2Ports,
}

/// Images per frozen batch in labelling and test unless `--batch` says.
const DEFAULT_BATCH: usize = 256;

#[derive(clap::Args)]
struct Common {
    /// Directory with the four MNIST IDX files (raw or .gz). Without it, the subset embedded in
    /// the binary is used: the first 10,000 training and 2,000 test images of MNIST.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Training images used to assign labels (default: all training images used; 5,000 in
    /// `snn train` without --preset, --config or --data).
    #[arg(long, value_parser = at_least_one, allow_negative_numbers = true)]
    label_samples: Option<usize>,
    /// Test images (default: the whole test set).
    #[arg(long, value_parser = at_least_one, allow_negative_numbers = true)]
    test_samples: Option<usize>,
    /// Simulation backend.
    #[arg(long, value_enum, default_value = "cpu")]
    backend: BackendArg,
    /// Images per frozen batch in labelling and test (parallel; default 256). The retries
    /// of a batch's silent images take the keys after the batch's, so the counts repeat for
    /// the same batch size: a resume takes the run's unless it is given again.
    #[arg(long, value_parser = at_least_one, allow_negative_numbers = true)]
    batch: Option<usize>,
    /// No progress bars or tables; only the final JSON line. (Without it, progress is a bar
    /// on a terminal, and a plain line on stderr every minute and at the end of each phase
    /// where stderr is not one: a log file, a batch job.)
    #[arg(long)]
    quiet: bool,
    /// Machine-readable output: progress as JSON lines on stdout (about one per second,
    /// `"event": "progress"`), no bars or tables; the last line is the result.
    #[arg(long)]
    json: bool,
    /// Hold out the last sixth of the training images (MNIST: the last 10,000) as the test
    /// set: train and label on the first five sixths, test on the held-out ones, and leave
    /// the real test set for final figures.
    #[arg(long)]
    validation: bool,
}

impl Common {
    /// Images per frozen batch (`--batch`, default [`DEFAULT_BATCH`]).
    fn batch(&self) -> usize {
        self.batch.unwrap_or(DEFAULT_BATCH)
    }

    /// Whether to print human-readable text (tables, notes) on stderr.
    fn chatty(&self) -> bool {
        !self.quiet && !self.json
    }
}

#[derive(Subcommand)]
enum Command {
    /// Train with STDP, assign labels on training images, test, and save the run.
    Train {
        /// Preset: dc100, dc400, dc1600, dc6400 (the paper's), or dc400-short (dc400 shortened
        /// for a first run: two epochs, rest by reset). Default: dc400 with --data;
        /// without --data (the embedded subset), dc400-short, labels from 5,000 images.
        #[arg(long)]
        preset: Option<String>,
        /// A TOML experiment file (see `snn presets --show dc100`); replaces --preset. Every
        /// key is required and unknown keys are an error. Flags below override it.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Epochs (default: the preset's: 1/3/7/15, dc400-short 2).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..), allow_negative_numbers = true)]
        epochs: Option<u32>,
        /// Training images per epoch (default: all).
        #[arg(long, value_parser = at_least_one, allow_negative_numbers = true)]
        train_samples: Option<usize>,
        /// RNG seed.
        #[arg(long, default_value_t = 0)]
        seed: u32,
        /// Rest between presentations: simulate 150 ms (paper) or reset the state.
        #[arg(long, value_enum)]
        rest: Option<RestArg>,
        /// Excitatory refractoriness: brian1 (the original code as Brian 1 runs it: 5 ms
        /// spike lockout, v free; the presets), clamp (v held 5 ms), brian2-ports (5 ms clamp
        /// and 50 ms lockout).
        #[arg(long, value_enum)]
        refractory: Option<RefractoryArg>,
        /// Excitatory spike lockout in ms (after --refractory; the presets: 4.5, i.e. the
        /// next spike 5 ms after the last).
        #[arg(long, allow_negative_numbers = true)]
        lockout_ms: Option<f32>,
        /// Largest input delay in ms (uniform per synapse; 10 in the original code, the
        /// default); 0 turns delays off.
        #[arg(long, allow_negative_numbers = true)]
        input_delay_ms: Option<f32>,
        /// Membrane step: clamped (the presets: v kept within the reversal potentials) or
        /// faithful (the original code's unclamped forward Euler, which can run away on
        /// dense input). Sets `clamp_v_to_reversal`.
        #[arg(long, value_enum)]
        step: Option<StepArg>,
        /// Run directory for network.npz, config.json, receptive_fields.png, results.json.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        multi: train::MultiArgs,
        #[command(flatten)]
        checkpoint: train::RunArgs,
        #[command(flatten)]
        common: Common,
    },
    /// List the presets, or print one as a TOML experiment file (`--show dc400`).
    Presets {
        /// Preset to print.
        #[arg(long)]
        show: Option<String>,
    },
    /// Download the four MNIST files into a directory, verifying their SHA-256.
    FetchMnist(fetch::FetchArgs),
    /// Draw a run's pictures: labelled receptive fields, θ histogram, confusion matrices,
    /// learning curve, and the spike raster and v/θ traces of one test image.
    Plot(plot::PlotArgs),
    /// Re-label and test a saved network.
    Evaluate {
        /// Run directory written by `snn train`.
        #[arg(long)]
        run: PathBuf,
        #[command(flatten)]
        common: Common,
    },
}

/// A count flag (`--batch`, `--train-samples`, ...): a whole number >= 1.
fn at_least_one(s: &str) -> std::result::Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("`{s}` is not a count: give a whole number >= 1")),
    }
}

/// Prints the config's warnings (coarse dt, retries past the rate cap) on stderr.
fn print_warnings(cfg: &DcConfig, quiet: bool) {
    if !quiet {
        for w in cfg.warnings() {
            eprintln!("warning: {w}");
        }
    }
}

/// The training images per epoch: `--train-samples` if given (at most the `available`
/// images: a larger count is refused, not cut), else all of them.
fn train_images(asked: Option<usize>, available: usize) -> Result<usize> {
    match asked {
        Some(n) if n > available => bail!(
            "--train-samples {n}: the training set has only {available} images; give at most \
             {available}, or drop the flag to train on all of them"
        ),
        Some(n) => Ok(n),
        None if available == 0 => bail!("the training set holds no images"),
        None => Ok(available),
    }
}

/// The training and test sets in `dir` (None: the embedded subset) and their description;
/// with `validation`, the first five sixths of the training set and its last sixth instead.
fn load_data(dir: Option<&Path>, validation: bool) -> Result<(Dataset, Dataset, String)> {
    let (train, test, desc) = load_sets(dir)?;
    if !validation {
        return Ok((train, test, desc));
    }
    let held = train.len() / 6;
    if held == 0 {
        bail!("--validation: the training set has {} images, too few to hold out a sixth; drop --validation", train.len());
    }
    let keep = train.len() - held;
    let px = train.rows * train.cols;
    let part = |r: std::ops::Range<usize>| Dataset {
        images: train.images[r.start * px..r.end * px].to_vec(),
        labels: train.labels[r.clone()].to_vec(),
        rows: train.rows,
        cols: train.cols,
    };
    let desc = format!(
        "{desc}, validation split (training images 1-{keep}; test: training images {}-{})",
        keep + 1,
        train.len()
    );
    Ok((part(0..keep), part(keep..train.len()), desc))
}

fn load_sets(dir: Option<&Path>) -> Result<(Dataset, Dataset, String)> {
    let (train, test, desc) = match dir {
        Some(d) => (
            mnist::load_mnist(d, Split::Train)
                .with_context(|| format!("loading MNIST training set from {}", d.display()))?,
            mnist::load_mnist(d, Split::Test)
                .with_context(|| format!("loading MNIST test set from {}", d.display()))?,
            d.display().to_string(),
        ),
        None => {
            let (train, test) = (
                mnist::embedded(Split::Train)?,
                mnist::embedded(Split::Test)?,
            );
            let desc = format!(
                "embedded MNIST subset (the first {} training / {} test images)",
                train.len(),
                test.len()
            );
            (train, test, desc)
        }
    };
    // An empty split would train on nothing or report an accuracy of 0 from no images.
    for (set, what) in [(&train, "training"), (&test, "test")] {
        if set.is_empty() {
            bail!(
                "the MNIST {what} set in {desc} holds no images: an accuracy needs training \
                 and test images; check the files given to --data"
            );
        }
    }
    Ok((train, test, desc))
}

/// The engine `kind` names, launched as the engine flags say, and its adapter's description.
fn engine_choice(kind: BackendArg) -> Result<(EngineChoice, String)> {
    Ok(match kind {
        BackendArg::Cpu => {
            let opts = engine().cpu();
            let simd = opts
                .simd
                .unwrap_or_else(snn_wgpu::cpu::simd::SimdLevel::best);
            (EngineChoice::Cpu(opts), format!("cpu ({})", simd.name()))
        }
        BackendArg::Gpu => {
            let ctx = Arc::new(GpuContext::new(&engine().gpu())?);
            let adapter = ctx.adapter_description();
            (EngineChoice::Gpu(ctx, engine().gpu_engine()), adapter)
        }
    })
}

/// The network of `cfg` on the engine `kind` names, that engine, and its adapter's
/// description.
fn make_backend(kind: BackendArg, cfg: &DcConfig) -> Result<(DcEngine, EngineChoice, String)> {
    let (choice, adapter) = engine_choice(kind)?;
    Ok((DcEngine::build(&cfg.to_spec(), &choice)?, choice, adapter))
}

fn bar(len: usize, quiet: bool, what: &str) -> progress::Progress {
    progress::Progress::new(len, quiet, what)
}

/// Labelling and test passes as `snn train` and `snn evaluate` run them
/// (`multi::label_and_test`), with a progress bar per pass.
fn label_and_test(
    b: &mut DcEngine,
    cfg: &DcConfig,
    sets: (&Dataset, &Dataset),
    common: &Common,
    default_label: usize,
    key: &mut u32,
) -> Result<Tested> {
    let (train_set, test_set) = sets;
    let n_label = common.label_samples.unwrap_or(default_label);
    let n_test = common.test_samples.unwrap_or(test_set.len());
    let mut shown: Option<(Pass, progress::Progress)> = None;
    let tested = snn_wgpu::experiments::diehl_cook::multi::label_and_test(
        b,
        cfg,
        (train_set, n_label),
        (test_set, n_test),
        common.batch(),
        key,
        |pass, done, total| {
            if shown.as_ref().is_none_or(|(p, _)| *p != pass) {
                if let Some((_, pb)) = shown.take() {
                    pb.finish();
                }
                shown = Some((pass, bar(total, common.quiet, pass.name())));
            }
            if let Some((_, pb)) = &shown {
                pb.set_position(done as u64);
            }
        },
    )?;
    if let Some((_, pb)) = shown {
        pb.finish();
    }
    Ok(tested)
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", report(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// `e` as anyhow reports it, less the causes that an earlier message already says (an I/O
/// error names its file and the OS's reason, which is also its cause).
fn report(e: &anyhow::Error) -> String {
    let mut said = vec![e.to_string()];
    for cause in e.chain().skip(1).map(|c| c.to_string()) {
        if !said.iter().any(|s| s.contains(&cause)) {
            said.push(cause);
        }
    }
    let mut out = format!("Error: {}", said[0]);
    match &said[1..] {
        [] => {}
        [one] => out.push_str(&format!("\n\nCaused by:\n    {one}")),
        many => {
            out.push_str("\n\nCaused by:");
            for (i, c) in many.iter().enumerate() {
                out.push_str(&format!("\n    {i}: {c}"));
            }
        }
    }
    out
}

fn run() -> Result<()> {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches)?;
    ENGINE.get_or_init(|| cli.engine.clone());
    engine::warn_removed_variables();
    // Which `train` flags were given on the command line (a resume must agree with them).
    let train_matches = matches.subcommand_matches("train").cloned();
    if let Command::Train { common, .. } | Command::Evaluate { common, .. } = &cli.command {
        progress::set_json(common.json);
    }
    match cli.command {
        Command::FetchMnist(args) => fetch::run(args)?,
        Command::Plot(args) => plot::run(args)?,
        Command::Presets { show } => match show {
            None => {
                for p in PRESETS {
                    let c = DcConfig::preset(p)?;
                    let clamp = if c.clamp_v_to_reversal {
                        ", v kept within the reversal potentials (clamp_v_to_reversal)"
                    } else {
                        ""
                    };
                    let short = if p == SHORT_PRESET {
                        "; rest by reset: dc400 shortened for a first run on the embedded \
                         subset (`snn train` without --data)"
                    } else {
                        ""
                    };
                    stdout::line(format_args!(
                        "{p}: {} excitatory neurons, {} epoch(s){clamp}{short}",
                        c.n_exc, c.epochs
                    ));
                }
            }
            Some(p) => {
                // f32 fields reach TOML as f64 (0.05 → 0.05000000074505806): print each float
                // as the shortest decimal that round-trips to the same f32.
                fn tidy(v: &mut toml::Value) {
                    match v {
                        toml::Value::Float(f) => {
                            *f = format!("{}", *f as f32).parse().unwrap_or(*f)
                        }
                        toml::Value::Table(t) => t.iter_mut().for_each(|(_, x)| tidy(x)),
                        toml::Value::Array(a) => a.iter_mut().for_each(tidy),
                        _ => {}
                    }
                }
                let mut v = toml::Value::try_from(DcConfig::preset(&p)?)?;
                tidy(&mut v);
                stdout::write(format_args!("{}", toml::to_string(&v)?));
            }
        },
        Command::Train {
            preset,
            config,
            epochs,
            train_samples,
            seed,
            rest,
            refractory,
            lockout_ms,
            input_delay_ms,
            step,
            out,
            multi,
            checkpoint,
            common,
        } => {
            // Whether a flag was given on the command line (not just its default).
            let given = |id: &str| {
                train_matches
                    .as_ref()
                    .and_then(|m| m.value_source(id))
                    .is_some_and(|s| s == clap::parser::ValueSource::CommandLine)
            };
            if let Some(dir) = checkpoint.resume_dir() {
                if multi.requested() {
                    bail!("--resume with --networks/--sweep: the networks come from {}; drop --networks/--sweep", dir.display());
                }
                let asked = train::Asked {
                    preset: preset.clone(),
                    seed: given("seed").then_some(seed),
                    epochs,
                    backend: given("backend").then_some(common.backend),
                    train_samples,
                    config_given: config.is_some(),
                };
                if refractory.is_some()
                    || lockout_ms.is_some()
                    || input_delay_ms.is_some()
                    || rest.is_some()
                    || step.is_some()
                {
                    bail!("--refractory/--lockout-ms/--input-delay-ms/--rest/--step with --resume: the experiment comes from the checkpoint; drop them");
                }
                if let Some(out) = &out {
                    bail!(
                        "--out {} with --resume: the run goes on in {}, where it is; drop --out",
                        out.display(),
                        dir.display()
                    );
                }
                if checkpoint.overwrite {
                    bail!(
                        "--overwrite with --resume: a resume goes on with the run in {}; drop \
                         --overwrite (or start a new run with --out {} --overwrite)",
                        dir.display(),
                        dir.display()
                    );
                }
                return train::resume(dir, &asked, &checkpoint, &common);
            }
            // No --preset, --config or --data: the first run, dc400-short on the embedded
            // subset, labels from FIRST_RUN_LABEL_IMAGES (under a minute on two cores); the
            // paper's presets are for the full 60,000 (`--data`).
            let first_run = preset.is_none() && config.is_none() && common.data.is_none();
            let mut common = common;
            if first_run && common.label_samples.is_none() {
                common.label_samples = Some(FIRST_RUN_LABEL_IMAGES);
            }
            let mut cfg = match &config {
                None => DcConfig::preset(preset.as_deref().unwrap_or(if first_run {
                    SHORT_PRESET
                } else {
                    "dc400"
                }))?,
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    toml::from_str(&text).with_context(|| format!("{}: not a valid experiment file (compare with `snn presets --show dc100`)", path.display()))?
                }
            };
            // A config file's seed stands unless --seed is given; a preset takes --seed (0).
            if config.is_none() || given("seed") {
                cfg.seed = seed;
            }
            if let Some(r) = refractory {
                use snn_wgpu::experiments::diehl_cook::config::Refractory;
                cfg.set_refractory(match r {
                    RefractoryArg::Brian1 => Refractory::Brian1,
                    RefractoryArg::Clamp => Refractory::Clamp,
                    RefractoryArg::Brian2Ports => Refractory::Brian2Ports,
                });
            }
            if let Some(l) = lockout_ms {
                cfg.lockout_exc_ms = l;
            }
            if let Some(d) = input_delay_ms {
                cfg.input_delay_max_ms = d;
            }
            if let Some(s) = step {
                cfg.clamp_v_to_reversal = matches!(s, StepArg::Clamped);
            }
            if let Some(e) = epochs {
                cfg.epochs = e;
            }
            if let Some(r) = rest {
                cfg.rest = match r {
                    RestArg::Simulate => RestMode::Simulate,
                    RestArg::Reset => RestMode::Reset,
                };
            }
            cfg.validate()?;
            memory::check_network(&cfg)?;
            print_warnings(&cfg, !common.chatty());
            train::start(cfg, &multi, train_samples, out, &checkpoint, &common)?;
        }
        Command::Evaluate { run, common } => {
            let saved = load_network(&run)?;
            let cfg = DcConfig::from_run_json(&saved.config_json).with_context(|| {
                format!("{}: config.json is not a valid run config", run.display())
            })?;
            cfg.validate()?;
            memory::check_network(&cfg)?;
            print_warnings(&cfg, !common.chatty());
            let (train_set, test_set, data_desc) =
                load_data(common.data.as_deref(), common.validation)?;
            let (mut b, _, adapter) = make_backend(common.backend, &cfg)?;
            if saved.weights.dim() != (784, cfg.n_exc as usize) {
                bail!(
                    "{}: the weights are {:?} (inputs x neurons), but {} says n_exc = {} \
                     (784 x {}): the two files come from different runs",
                    run.join(snn_wgpu::experiments::diehl_cook::io::NETWORK_FILE)
                        .display(),
                    saved.weights.dim(),
                    run.join("config.json").display(),
                    cfg.n_exc,
                    cfg.n_exc
                );
            }
            // A Fortran-order (column-major) array is read as well, in row-major order.
            let weights = saved.weights.as_standard_layout();
            let weights = weights
                .as_slice()
                .context("the weights are not one contiguous array")?;
            b.load(weights, &saved.theta_mv).with_context(|| {
                format!("loading the network of {} into the backend", run.display())
            })?;
            let mut key = 0x8000_0000u32;
            let tested = label_and_test(
                &mut b,
                &cfg,
                (&train_set, &test_set),
                &common,
                train_set.len(),
                &mut key,
            )?;
            if common.chatty() {
                eprintln!("{}", tested.eval.all_activity.to_text());
            }
            let line = serde_json::json!({
                "command": "evaluate",
                "preset": cfg.preset,
                "backend": b.describe(),
                "adapter": adapter,
                "seed": cfg.seed,
                "data": data_desc,
                "label_images": tested.label_images,
                "test_images": tested.test_images,
                "batch": common.batch(),
                "accuracy_all_activity": tested.eval.all_activity.accuracy(),
                "accuracy_proportion": tested.eval.proportion.accuracy(),
                "label_test_seconds": tested.seconds,
                "run_dir": run.display().to_string(),
            });
            stdout::line(line);
        }
    }
    Ok(())
}
