//! `snn train --networks K` / `--sweep FILE`: K independent networks in one run, each saved
//! as a single run in `RUN_DIR/net{k}/`, and their ensemble vote. CPU: one network per
//! rayon worker (`experiments::diehl_cook::multi::run_cpu`); GPU: all networks' training
//! presentations in one dispatch, one network per workgroup (`gpu::wta_multi` driven by
//! `experiments::diehl_cook::lockstep`), networks that differ only in seed.

use super::{bar, load_data, BackendArg, Common};
use anyhow::{bail, Context, Result};
use snn_wgpu::backend::{CompetitiveBackend, CompetitiveMulti};
use snn_wgpu::experiments::diehl_cook::config::DcConfig;
use snn_wgpu::experiments::diehl_cook::io::{receptive_fields_png, save_network, write_atomic};
use snn_wgpu::experiments::diehl_cook::lockstep::run_lockstep;
use snn_wgpu::experiments::diehl_cook::multi::{ensemble, run_cpu, NetworkRun, Sizes};
use snn_wgpu::experiments::diehl_cook::sweep::{network_configs, parse_sweep};
use snn_wgpu::gpu::wta::GpuCompetitive;
use snn_wgpu::gpu::wta_multi::GpuCompetitiveMulti;
use snn_wgpu::gpu::{GpuContext, GpuOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// The many-network flags of `snn train`.
#[derive(clap::Args)]
pub(crate) struct MultiArgs {
    /// Train K independent networks in one run, seeds --seed, --seed + 1, …: one per core
    /// on the CPU, one per workgroup on the GPU. Each is saved in RUN_DIR/net{k}/ as a
    /// single run; the JSON line adds their ensemble vote.
    #[arg(long)]
    networks: Option<usize>,
    /// A parameter sweep: a TOML file with one `[[network]]` table of config overrides per
    /// network (e.g. `theta_plus_mv = 0.1`), applied after the flags; unknown keys are an
    /// error; the GPU takes only networks that differ in seed. See docs/diehl_cook.md.
    #[arg(long)]
    sweep: Option<PathBuf>,
}

impl MultiArgs {
    /// Whether the run trains several networks (either flag given).
    pub(crate) fn requested(&self) -> bool {
        self.networks.is_some() || self.sweep.is_some()
    }
}

/// Trains, tests and saves the networks of `args` from the base config `base` (the preset
/// or config file with the flags applied); prints one JSON line.
pub(crate) fn train(
    base: &DcConfig,
    args: &MultiArgs,
    train_samples: Option<usize>,
    out: Option<PathBuf>,
    common: &Common,
) -> Result<()> {
    let sweep = match &args.sweep {
        None => None,
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            Some(parse_sweep(&text).with_context(|| format!("{}: bad sweep file", p.display()))?)
        }
    };
    let cfgs = network_configs(base, args.networks, sweep.as_deref())?;
    let (train_set, test_set, data_desc) = load_data(common.data.as_deref())?;
    let n_train = train_samples
        .unwrap_or(train_set.len())
        .min(train_set.len());
    if n_train == 0 {
        bail!("--train-samples must be at least 1");
    }
    let sizes = Sizes {
        n_train,
        n_label: common.label_samples.unwrap_or(n_train).min(train_set.len()),
        n_test: common
            .test_samples
            .unwrap_or(test_set.len())
            .min(test_set.len()),
        batch: common.batch,
    };
    let k = cfgs.len();
    let mut gpu = match common.backend {
        BackendArg::Cpu => None,
        BackendArg::Gpu => {
            let ctx = Arc::new(GpuContext::new(&GpuOptions::from_env())?);
            let specs: Vec<_> = cfgs.iter().map(DcConfig::to_spec).collect();
            let multi = GpuCompetitiveMulti::new(ctx.clone(), &specs)?;
            Some((ctx, multi))
        }
    };
    let (backend, adapter) = match &gpu {
        None => (
            "cpu".to_string(),
            format!("cpu ({} threads)", rayon::current_num_threads()),
        ),
        Some((ctx, multi)) => (multi.describe(), ctx.adapter_description()),
    };
    if common.chatty() {
        eprintln!(
            "training {k} networks ({} exc neurons, {} epoch(s) x {n_train} images each, seeds {}) on {backend} [{adapter}], data: {data_desc}",
            base.n_exc,
            base.epochs,
            cfgs.iter()
                .map(|c| c.seed.to_string())
                .collect::<Vec<_>>()
                .join(",")
        );
    }
    let total: usize = cfgs.iter().map(|c| n_train * c.epochs as usize).sum();
    let pb = bar(total, common.quiet, "train");
    let t0 = Instant::now();
    let done = AtomicUsize::new(0);
    let on_image = |_| pb.set_position(done.fetch_add(1, Ordering::Relaxed) as u64 + 1);
    let runs = match &mut gpu {
        None => run_cpu(&cfgs, &train_set, &test_set, &sizes, &on_image)?,
        Some((ctx, multi)) => {
            // Labelling and test: each network on its own GpuCompetitive, loaded.
            let single = |cfg: &DcConfig| -> snn_wgpu::Result<Box<dyn CompetitiveBackend>> {
                Ok(Box::new(GpuCompetitive::new(ctx.clone(), &cfg.to_spec())?))
            };
            run_lockstep(
                multi, single, &cfgs, &train_set, &test_set, &sizes, &on_image,
            )?
        }
    };
    pb.finish();
    let seconds = t0.elapsed().as_secs_f64();
    let labels = &test_set.labels[..sizes.n_test];
    let ens = ensemble(&runs.iter().map(|r| &r.tested).collect::<Vec<_>>(), labels)?;

    let run_dir = out
        .unwrap_or_else(|| PathBuf::from(format!("runs/{}-seed{}-x{k}", base.preset, base.seed)));
    let mut nets = vec![];
    for (i, r) in runs.iter().enumerate() {
        let dir = run_dir.join(format!("net{i}"));
        save_run(&dir, r, &data_desc, &backend, &adapter)?;
        nets.push(summary(r, &dir));
    }
    let train_images: usize = runs.iter().map(|r| r.stats.images).sum();
    let train_seconds = runs.iter().map(|r| r.train_seconds).fold(0.0, f64::max);
    if common.chatty() {
        eprintln!("ensemble (summed all-activity scores):");
        eprintln!("{}", ens.all_activity.to_text());
        eprintln!("saved {} (net0 … net{})", run_dir.display(), k - 1);
    }
    let line = serde_json::json!({
        "command": "train",
        "preset": base.preset,
        "backend": backend,
        "adapter": adapter,
        "seed": base.seed,
        "data": data_desc,
        "n_networks": k,
        "train_images": train_images,
        "label_images": sizes.n_label,
        "test_images": sizes.n_test,
        "networks": nets,
        "ensemble": "all_activity/proportion: argmax of the per-class vote scores summed over networks; majority: most networks' all-activity votes; ties to the lowest class",
        "ensemble_accuracy_all_activity": ens.all_activity.accuracy(),
        "ensemble_accuracy_proportion": ens.proportion.accuracy(),
        "ensemble_accuracy_majority": ens.majority.accuracy(),
        "train_seconds": train_seconds,
        "train_images_per_s": train_images as f64 / train_seconds.max(1e-9),
        "seconds": seconds,
        "run_dir": run_dir.display().to_string(),
    });
    let mut full = line.clone();
    full["ensemble_confusion_all_activity"] = serde_json::json!(ens.all_activity.matrix);
    full["ensemble_confusion_proportion"] = serde_json::json!(ens.proportion.matrix);
    full["ensemble_confusion_majority"] = serde_json::json!(ens.majority.matrix);
    write_json(&run_dir.join("results.json"), &full)?;
    println!("{line}");
    Ok(())
}

/// One network's entry in the JSON line.
fn summary(r: &NetworkRun, dir: &Path) -> serde_json::Value {
    serde_json::json!({
        "seed": r.config.seed,
        "epochs": r.config.epochs,
        "accuracy_all_activity": r.tested.eval.all_activity.accuracy(),
        "accuracy_proportion": r.tested.eval.proportion.accuracy(),
        "train_images": r.stats.images,
        "retries": r.stats.retries,
        "train_seconds": r.train_seconds,
        "run_dir": dir.display().to_string(),
    })
}

/// Saves one network as `snn train` saves a single run (network.npz, config.json,
/// receptive_fields.png, results.json).
fn save_run(
    dir: &Path,
    r: &NetworkRun,
    data_desc: &str,
    backend: &str,
    adapter: &str,
) -> Result<()> {
    let net = r.saved()?;
    save_network(dir, &net).with_context(|| format!("saving the run to {}", dir.display()))?;
    receptive_fields_png(
        &dir.join("receptive_fields.png"),
        net.weights.view(),
        Some(&net.assignments),
    )?;
    let cfg = &r.config;
    let results = serde_json::json!({
        "command": "train",
        "preset": cfg.preset,
        "backend": backend,
        "adapter": adapter,
        "seed": cfg.seed,
        "data": data_desc,
        "epochs": cfg.epochs,
        "train_images": r.stats.images,
        "retries": r.stats.retries,
        "label_images": r.tested.label_images,
        "test_images": r.tested.test_images,
        "accuracy_all_activity": r.tested.eval.all_activity.accuracy(),
        "accuracy_proportion": r.tested.eval.proportion.accuracy(),
        "train_seconds": r.train_seconds,
        "seconds_per_train_image": r.train_seconds / r.stats.images.max(1) as f64,
        "label_test_seconds": r.tested.seconds,
        "learning_curve": r.stats.learning_curve,
        "run_dir": dir.display().to_string(),
        "confusion_all_activity": r.tested.eval.all_activity.matrix,
        "confusion_proportion": r.tested.eval.proportion.matrix,
        "neurons_per_class": r.tested.assignments.neurons_per_class(),
        "config": cfg,
    });
    write_json(&dir.join("results.json"), &results)
}

fn write_json(path: &Path, v: &serde_json::Value) -> Result<()> {
    let text = serde_json::to_string_pretty(v)?;
    write_atomic(path, |f| {
        f.write_all(text.as_bytes())
            .map_err(|source| snn_wgpu::SnnError::Io {
                path: path.to_path_buf(),
                source,
            })
    })?;
    Ok(())
}
