//! `snn train --networks K` / `--sweep FILE`: K independent networks in one run, each saved
//! as a single run in `RUN_DIR/net{k}/`, and their ensemble vote. Networks that differ in
//! their seed only train as the copies of one engine, CPU or GPU, in lockstep
//! (`experiments::diehl_cook::multi::run_from`), each with the bits of its single run. Each
//! network checkpoints into `RUN_DIR/net{k}/checkpoint.npz` (the networks of one engine at
//! the same round), `RUN_DIR/networks.json` holds the networks, plan and backend, and
//! `snn train --resume RUN_DIR` continues them all.

use super::rundir::RunDir;
use super::train::{Policy, RunArgs};
use super::{bar, load_data, BackendArg, Common};
use anyhow::{bail, Context, Result};
use snn_wgpu::data::mnist::Dataset;
use snn_wgpu::experiments::diehl_cook::checkpoint::{
    fingerprint, load_checkpoint, save_checkpoint, Checkpoint, RunPlan, CHECKPOINT_FILE,
};
use snn_wgpu::experiments::diehl_cook::config::DcConfig;
use snn_wgpu::experiments::diehl_cook::engine::DcEngine;
use snn_wgpu::experiments::diehl_cook::io::{
    receptive_fields_png, remove_stale_temp_files, save_network, write_atomic,
};
use snn_wgpu::experiments::diehl_cook::multi::{
    ensemble, run_from, NetworkRun, Round, Sizes, Start,
};
use snn_wgpu::experiments::diehl_cook::sweep::{network_configs, parse_sweep};
use snn_wgpu::experiments::diehl_cook::train::{runaway_advice, theta_diagnosis};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// The file of a many-network run that lists its networks, plan and backend (for `--resume`).
pub(crate) const MANIFEST_FILE: &str = "networks.json";

/// `RUN_DIR/networks.json`: what `--resume` needs to continue every network, including
/// those killed before their first checkpoint.
#[derive(serde::Serialize, serde::Deserialize)]
struct Manifest {
    /// snn-wgpu version that started the run.
    crate_version: String,
    /// One config per network (`net{k}` is `networks[k]`).
    networks: Vec<DcConfig>,
    /// Sizes and data, shared by all networks.
    plan: RunPlan,
    /// `cpu` or `gpu`: the backend the run trains on (the checkpoints' state suits both; a
    /// resume continues on this one unless `--backend` says otherwise).
    backend: String,
}

/// The many-network flags of `snn train`.
#[derive(clap::Args)]
pub(crate) struct MultiArgs {
    /// Train K independent networks in one run, seeds --seed, --seed + 1, …, as the copies
    /// of one engine (each with the bits of its single run). Each is saved in RUN_DIR/net{k}/
    /// as a single run; the JSON line adds their ensemble vote.
    #[arg(long)]
    networks: Option<usize>,
    /// A parameter sweep: a TOML file with one `[[network]]` table of config overrides per
    /// network (e.g. `theta_plus_mv = 0.1`), applied after the flags; unknown keys are an
    /// error. See docs/diehl_cook.md.
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
    ck: &RunArgs,
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
    let k = cfgs.len();
    super::memory::check_networks(&cfgs)?;
    let run_dir = out
        .unwrap_or_else(|| PathBuf::from(format!("runs/{}-seed{}-x{k}", base.preset, base.seed)));
    // Claimed (locked) before the data is read; see `rundir`.
    let _claimed = RunDir::claim(&run_dir)?;
    if !ck.overwrite && holds_a_multi_run(&run_dir) {
        let resume = if is_multi_run(&run_dir) {
            format!(
                "resume it with `snn train --resume {}`, ",
                run_dir.display()
            )
        } else {
            String::new()
        };
        bail!(
            "{} already holds a many-network run: {resume}pick another --out, or pass \
             --overwrite to replace it",
            run_dir.display()
        );
    }
    let (train_set, test_set, data_desc) = load_data(common.data.as_deref(), common.validation)?;
    let n_train = super::train_images(train_samples, train_set.len())?;
    let plan = super::train::plan(n_train, common, data_desc, &train_set);
    let starts = vec![Start::fresh(); k];
    go(
        cfgs,
        starts,
        plan,
        &run_dir,
        (&train_set, &test_set),
        &Policy::from(ck),
        common,
        base,
    )
}

fn holds_a_multi_run(d: &Path) -> bool {
    d.join(MANIFEST_FILE).exists() || d.join("net0").exists()
}

/// Whether `dir` holds a many-network run that checkpoints (`--resume` takes it as one).
pub(crate) fn is_multi_run(dir: &Path) -> bool {
    dir.join(MANIFEST_FILE).exists()
}

/// `snn train --resume RUN_DIR` of a many-network run: every network from its last
/// checkpoint (or from the start, if it had none), then labelling, test and the ensemble.
pub(crate) fn resume(
    dir: &Path,
    asked_backend: Option<BackendArg>,
    ck: &RunArgs,
    common: &Common,
) -> Result<()> {
    let _claimed = RunDir::claim(dir)?;
    let path = dir.join(MANIFEST_FILE);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let m: Manifest = serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: not a many-network run's manifest (damaged?); its networks resume one by one \
             with `snn train --resume {}/net<k>`",
            path.display(),
            dir.display()
        )
    })?;
    // The state suits either engine: the run continues where it was asked to, else where
    // it trained.
    let backend = asked_backend.unwrap_or(if m.backend == "gpu" {
        BackendArg::Gpu
    } else {
        BackendArg::Cpu
    });
    if common.validation && !m.plan.validation {
        bail!(
            "--validation with --resume: the run in {} tests on the test set; drop --validation",
            dir.display()
        );
    }
    let data_dir = common.data.clone().or(m.plan.data_dir.clone());
    let (train_set, test_set, data_desc) = load_data(data_dir.as_deref(), m.plan.validation)?;
    let print = fingerprint(&train_set, m.plan.n_train);
    if print != m.plan.data_fingerprint {
        bail!(
            "the training data differs from the run's ({}, fingerprint {}; now {}, fingerprint \
             {}): resume with --data pointing at the same MNIST files",
            m.plan.data,
            m.plan.data_fingerprint,
            data_desc,
            print
        );
    }
    let mut starts = vec![];
    let mut at = vec![];
    for (k, cfg) in m.networks.iter().enumerate() {
        let net = dir.join(format!("net{k}"));
        remove_stale_temp_files(&net);
        if !net.join(CHECKPOINT_FILE).exists() {
            starts.push(Start::fresh());
            at.push(0);
            continue;
        }
        let c = load_checkpoint(&net)
            .with_context(|| format!("cannot resume network {k} from {}", net.display()))?;
        if &c.config != cfg || c.plan != m.plan {
            bail!(
                "{}: the checkpoint's experiment or plan differs from network {k} of {} \
                 (files from another run?)",
                net.join(CHECKPOINT_FILE).display(),
                path.display()
            );
        }
        at.push(c.train.stats.images);
        starts.push(Start {
            train: c.train,
            snapshot: Some(c.snapshot),
            train_seconds: c.train_seconds,
        });
    }
    if common.chatty() {
        eprintln!(
            "resuming {} networks of {} at images {:?}, started by snn-wgpu {}",
            m.networks.len(),
            dir.display(),
            at,
            m.crate_version
        );
    }
    let common2 = Common {
        data: data_dir,
        label_samples: common.label_samples.or(m.plan.label_samples),
        test_samples: common.test_samples.or(m.plan.test_samples),
        backend,
        batch: common.batch,
        quiet: common.quiet,
        json: common.json,
        validation: m.plan.validation,
    };
    let base = m.networks[0].clone();
    go(
        m.networks,
        starts,
        m.plan,
        dir,
        (&train_set, &test_set),
        &Policy::from(ck),
        &common2,
        &base,
    )
}

/// Trains from `starts`, labels, tests, saves and prints the JSON line.
#[allow(clippy::too_many_arguments)]
fn go(
    cfgs: Vec<DcConfig>,
    starts: Vec<Start>,
    plan: RunPlan,
    run_dir: &Path,
    (train_set, test_set): (&Dataset, &Dataset),
    policy: &Policy,
    common: &Common,
    base: &DcConfig,
) -> Result<()> {
    let sizes = Sizes {
        n_train: plan.n_train,
        n_label: common
            .label_samples
            .unwrap_or(plan.n_train)
            .min(train_set.len()),
        n_test: common
            .test_samples
            .unwrap_or(test_set.len())
            .min(test_set.len()),
        batch: common.batch,
    };
    let k = cfgs.len();
    let resumed: Vec<Option<usize>> = starts
        .iter()
        .map(|s| s.snapshot.is_some().then_some(s.train.stats.images))
        .collect();
    let (engines, adapter) = super::engine_choice(common.backend)?;
    let backend = engines.kind().to_string();
    if common.chatty() {
        eprintln!(
            "training {k} networks ({} exc neurons, {} epoch(s) x {} images each, seeds {}) on {backend} [{adapter}], data: {}, run dir: {}",
            base.n_exc,
            base.epochs,
            plan.n_train,
            cfgs.iter()
                .map(|c| c.seed.to_string())
                .collect::<Vec<_>>()
                .join(","),
            plan.data,
            run_dir.display(),
        );
    }
    std::fs::create_dir_all(run_dir)
        .with_context(|| format!("creating the run directory {}", run_dir.display()))?;
    if policy.enabled() {
        let m = Manifest {
            crate_version: env!("CARGO_PKG_VERSION").into(),
            networks: cfgs.clone(),
            plan: plan.clone(),
            backend: backend.clone(),
        };
        write_json(&run_dir.join(MANIFEST_FILE), &serde_json::to_value(&m)?)?;
        for i in 0..k {
            let d = run_dir.join(format!("net{i}"));
            std::fs::create_dir_all(&d)
                .with_context(|| format!("creating the run directory {}", d.display()))?;
        }
    }
    let total: usize = cfgs.iter().map(|c| plan.n_train * c.epochs as usize).sum();
    let pb = bar(total, common.quiet, "train");
    let done = AtomicUsize::new(starts.iter().map(|s| s.train.stats.images).sum());
    pb.set_position(done.load(Ordering::Relaxed) as u64);
    pb.reset_eta();
    let t0 = Instant::now();
    let last_ck = Mutex::new(vec![Instant::now(); k]);
    // After each round of a batch: progress, and when due (by the batch's first network
    // still training, or a network's last image) a checkpoint of every network of the batch
    // still training, all at this round.
    let after = |r: &Round<'_>, b: &mut DcEngine| -> snn_wgpu::Result<()> {
        for _ in r.done {
            pb.set_position(done.fetch_add(1, Ordering::Relaxed) as u64 + 1);
        }
        if !policy.enabled() {
            return Ok(());
        }
        let lead = r.training.iter().position(|&t| t);
        let since = |i: usize| last_ck.lock().map_or(0.0, |t| t[i].elapsed().as_secs_f64());
        let due = r.done.iter().any(|(c, p)| {
            p.images_done == p.images_total
                || (Some(*c) == lead && policy.due(p.images_done, since(r.networks[*c])))
        });
        if !due {
            return Ok(());
        }
        for (c, &i) in r.networks.iter().enumerate() {
            if !r.training[c] {
                continue;
            }
            let ck = Checkpoint {
                trained_on: backend.clone(),
                config: cfgs[i].clone(),
                plan: plan.clone(),
                train: r.states[c].clone(),
                train_seconds: r.seconds[c],
                snapshot: b.snapshot_of(c)?,
                crate_version: env!("CARGO_PKG_VERSION").into(),
            };
            save_checkpoint(&run_dir.join(format!("net{i}")), &ck)?;
            if let Ok(mut t) = last_ck.lock() {
                t[i] = Instant::now();
            }
        }
        Ok(())
    };
    let stopped = || {
        if policy.enabled() {
            format!(
                "training stopped; the networks' last checkpoints in {}/net*/ are kept \
                 (`snn train --resume {}` continues them once the cause is fixed)",
                run_dir.display(),
                run_dir.display()
            )
        } else {
            "training stopped (no checkpoints: --checkpoint-every 0)".to_string()
        }
    };
    let runs = run_from(&cfgs, starts, train_set, test_set, &sizes, &engines, &after)
        .with_context(stopped)?;
    pb.finish();
    // A single run warns at the image; here the networks train side by side, so each one
    // that ran away is named once training is over (and in its JSON entry).
    for (i, r) in runs.iter().enumerate() {
        if r.stats.skipped_images > 0 {
            pb.warn(&format!(
                "network {i} (seed {}): {} training images drew fewer than {} excitatory \
                 spikes after {} retries and were skipped (`skipped_images`). {}",
                r.config.seed,
                r.stats.skipped_images,
                r.config.min_spikes,
                r.config.max_retries,
                theta_diagnosis(&r.theta_mv, &r.config)
            ));
        }
        if let Some(image) = r.stats.runaway_at {
            pb.warn(&format!(
                "network {i} (seed {}): {}",
                r.config.seed,
                runaway_advice(&r.config, image)
            ));
        }
    }
    let seconds = t0.elapsed().as_secs_f64();
    let labels = &test_set.labels[..sizes.n_test];
    let ens = ensemble(&runs.iter().map(|r| &r.tested).collect::<Vec<_>>(), labels)?;

    let mut nets = vec![];
    for (i, r) in runs.iter().enumerate() {
        let dir = run_dir.join(format!("net{i}"));
        save_run(&dir, r, &plan.data, &backend, &adapter)?;
        let mut entry = summary(r, &dir);
        entry["resumed_from_image"] = serde_json::json!(resumed[i]);
        nets.push(entry);
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
        "data": plan.data,
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
    crate::stdout::line(line);
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
        "skipped_images": r.stats.skipped_images,
        "runaway_at_image": r.stats.runaway_at,
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
        "skipped_images": r.stats.skipped_images,
        "runaway_at_image": r.stats.runaway_at,
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
