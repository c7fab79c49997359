//! One `snn train` run from its networks' starts to the saved run, for one network or K:
//! training with progress, warnings and checkpoints, labelling and test
//! (`experiments::diehl_cook::multi::run_from`), each network saved as a run of one, and the
//! JSON line (with the ensemble vote of K networks).

use super::progress::Progress;
use super::train::{Layout, Manifest, Policy, MANIFEST_FILE};
use super::{bar, BackendArg, Common};
use anyhow::{Context, Result};
use snn_wgpu::data::mnist::Dataset;
use snn_wgpu::experiments::diehl_cook::checkpoint::{
    save_checkpoint, Checkpoint, RunPlan, CHECKPOINT_FILE,
};
use snn_wgpu::experiments::diehl_cook::config::{DcConfig, SHORT_PRESET};
use snn_wgpu::experiments::diehl_cook::engine::DcEngine;
use snn_wgpu::experiments::diehl_cook::io::{receptive_fields_png, save_network, write_atomic};
use snn_wgpu::experiments::diehl_cook::multi::{
    ensemble, run_from, Engines, NetworkRun, Pass, Round, Sizes, Start,
};
use snn_wgpu::experiments::diehl_cook::train::{runaway_advice, silence_diagnosis_of, skip_advice};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

/// A run about to train: its networks, where each starts, and where it is saved.
pub(crate) struct Job {
    /// The preset or config file with the flags applied: what names the run.
    pub base: DcConfig,
    /// One config per network.
    pub cfgs: Vec<DcConfig>,
    /// Where each network starts (fresh, or from its checkpoint).
    pub starts: Vec<Start>,
    /// Sizes and data.
    pub plan: RunPlan,
    pub run_dir: PathBuf,
    pub layout: Layout,
    /// The engine that trains.
    pub backend: BackendArg,
    /// The engine that labels and tests (None: `backend`).
    pub eval_backend: Option<BackendArg>,
    /// `--overwrite` of a run in `run_dir`: the old run's files go once the engines have
    /// taken the first network, before this run writes anything (a run that fails before
    /// leaves them).
    pub replaces: bool,
}

/// What the progress report keeps of one network while the run trains.
struct Follow {
    /// When its last checkpoint was written (or training started).
    last_checkpoint: Instant,
    /// Its images done when this process started.
    images_at_start: usize,
    /// Its skipped images when this process started.
    skipped_at_start: u64,
    /// Whether this process has warned that it ran away.
    warned_runaway: bool,
    /// Its latest running accuracy, retries and skipped images.
    accuracy: Option<f64>,
    retries: u64,
    skipped: u64,
}

/// The report of labelling and test: the one shown (of one pass, or of both passes of every
/// network: `None`), and each network's images done in each pass.
struct PassReport {
    shown: Option<(Option<Pass>, Progress)>,
    done: Vec<[usize; 2]>,
}

/// Trains, labels, tests and saves the networks of `job`, then prints the JSON line.
pub(crate) fn go(
    job: Job,
    (train_set, test_set): (&Dataset, &Dataset),
    policy: &Policy,
    common: &Common,
) -> Result<()> {
    let Job {
        base,
        cfgs,
        starts,
        plan,
        run_dir,
        layout,
        backend,
        eval_backend,
        replaces,
    } = job;
    let k = cfgs.len();
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
        batch: common.batch(),
    };
    let resumed: Vec<Option<usize>> = starts
        .iter()
        .map(|s| s.snapshot.is_some().then_some(s.train.stats.images))
        .collect();
    let (engines, adapter) = super::engine_choice(backend)?;
    let eval = eval_backend.map(super::engine_choice).transpose()?;
    if replaces {
        // The engines take the first network (its options and the device's limits) before
        // the old run goes, so that no resume finds it: a run that cannot start leaves it.
        let spec = cfgs[0].to_spec();
        DcEngine::build(&spec, &engines)?;
        if let Some((e, _)) = &eval {
            DcEngine::build(&spec, e)?;
        }
        super::train::clear_run(&run_dir)?;
    }
    let kind = engines.kind().to_string();
    let net_name = |i: usize| match layout {
        Layout::Single => String::new(),
        Layout::Many => format!("network {i} (seed {}): ", cfgs[i].seed),
    };
    if common.chatty() {
        let what = match layout {
            Layout::Single => format!("{} ({} exc neurons,", base.preset, base.n_exc),
            Layout::Many => format!(
                "{k} networks ({} exc neurons, seeds {},",
                base.n_exc,
                cfgs.iter()
                    .map(|c| c.seed.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        };
        eprintln!(
            "training {what} {} epoch(s) x {} images{}) on {kind} [{adapter}], data: {}, \
             run dir: {}",
            base.epochs,
            plan.n_train,
            if k > 1 { " each" } else { "" },
            plan.data,
            run_dir.display(),
        );
    }
    std::fs::create_dir_all(&run_dir)
        .with_context(|| format!("creating the run directory {}", run_dir.display()))?;
    if policy.enabled() && layout == Layout::Many {
        let m = Manifest {
            crate_version: env!("CARGO_PKG_VERSION").into(),
            networks: cfgs.clone(),
            plan: plan.clone(),
            backend: kind.clone(),
        };
        write_json(&run_dir.join(MANIFEST_FILE), &serde_json::to_value(&m)?)?;
        for i in 0..k {
            let d = layout.dir(&run_dir, i);
            std::fs::create_dir_all(&d)
                .with_context(|| format!("creating the run directory {}", d.display()))?;
        }
    }

    let total: usize = cfgs.iter().map(|c| plan.n_train * c.epochs as usize).sum();
    let pb = bar(total, common.quiet, "train");
    let follow = Mutex::new(
        starts
            .iter()
            .map(|s| Follow {
                last_checkpoint: Instant::now(),
                images_at_start: s.train.stats.images,
                skipped_at_start: s.train.stats.skipped_images,
                warned_runaway: false,
                accuracy: None,
                retries: s.train.stats.retries,
                skipped: s.train.stats.skipped_images,
            })
            .collect::<Vec<_>>(),
    );
    let done_at_start: usize = starts.iter().map(|s| s.train.stats.images).sum();
    let done = std::sync::atomic::AtomicUsize::new(done_at_start);
    pb.resume_at(done_at_start as u64);
    // After each round of a batch: progress and warnings, and when due (by the batch's
    // first network still training, or a network's last image) a checkpoint of every
    // network of the batch still training, all at this round.
    let after = |r: &Round<'_>, b: &mut DcEngine| -> snn_wgpu::Result<()> {
        let n = r.done.len();
        pb.set_position(done.fetch_add(n, std::sync::atomic::Ordering::Relaxed) as u64 + n as u64);
        // The report's state is held for the warnings and the decision only: the batches
        // running beside this one go on while its checkpoints are written.
        let due = {
            let mut f = follow.lock().unwrap_or_else(|e| e.into_inner());
            for (c, p) in r.done {
                let i = r.networks[*c];
                let cfg = &cfgs[i];
                let st = &r.states[*c];
                if let Some(image) = p.runaway_at.filter(|_| !f[i].warned_runaway) {
                    f[i].warned_runaway = true;
                    pb.warn(&format!("{}{}", net_name(i), runaway_advice(cfg, image)));
                }
                if p.skipped_images == f[i].skipped_at_start + 1 && st.silent_run == 1 {
                    // This process's first skipped image of the network: once.
                    let why = silence_diagnosis_of(b, *c, cfg);
                    pb.warn(&format!(
                        "{}{}",
                        net_name(i),
                        skip_advice(cfg, p.images_done, &why)
                    ));
                }
                f[i].accuracy = p.running_accuracy.or(f[i].accuracy);
                f[i].retries = p.retries;
                f[i].skipped = p.skipped_images;
            }
            if let Some(msg) = running_message(&f) {
                pb.set_message(msg);
            }
            let lead = r.training.iter().position(|&t| t);
            policy.enabled()
                && r.done.iter().any(|(c, p)| {
                    p.images_done == p.images_total
                        || (Some(*c) == lead
                            && policy.due(
                                p.images_done,
                                f[r.networks[*c]].last_checkpoint.elapsed().as_secs_f64(),
                            ))
                })
        };
        if due {
            for (c, &i) in r.networks.iter().enumerate() {
                if !r.training[c] {
                    continue;
                }
                let ck = Checkpoint {
                    trained_on: kind.clone(),
                    config: cfgs[i].clone(),
                    plan: plan.clone(),
                    train: r.states[c].clone(),
                    train_seconds: r.seconds[c],
                    snapshot: b.snapshot_of(c)?,
                    crate_version: env!("CARGO_PKG_VERSION").into(),
                };
                save_checkpoint(&layout.dir(&run_dir, i), &ck)?;
                let mut f = follow.lock().unwrap_or_else(|e| e.into_inner());
                f[i].last_checkpoint = Instant::now();
            }
        }
        for (_, p) in r.done {
            policy.crash_if_due(p.images_done);
        }
        Ok(())
    };
    // Training ends before the first frozen batch: its report too.
    let trained = std::sync::atomic::AtomicBool::new(false);
    let end_training = || {
        if !trained.swap(true, std::sync::atomic::Ordering::Relaxed) {
            pb.finish();
        }
    };
    // One network: a report per pass. Several, whose passes run side by side: one report
    // over all their images.
    let passes = Mutex::new(PassReport {
        shown: None,
        done: vec![[0; 2]; k],
    });
    let on_batch = |i: usize, pass: Pass, d: usize, n: usize| {
        let mut g = passes.lock().unwrap_or_else(|e| e.into_inner());
        let PassReport { shown, done } = &mut *g;
        end_training();
        let report = (k == 1).then_some(pass);
        if shown.as_ref().is_none_or(|(r, _)| *r != report) {
            if let Some((_, pb)) = shown.take() {
                pb.finish();
            }
            let (total, name) = match report {
                Some(p) => (n, p.name()),
                None => (k * (sizes.n_label + sizes.n_test), "label+test"),
            };
            *shown = Some((report, bar(total, common.quiet, name)));
        }
        done[i][pass as usize] = d;
        if let Some((r, pb)) = shown {
            let at = match r {
                Some(p) => done[i][*p as usize],
                None => done.iter().flatten().sum(),
            };
            pb.set_position(at as u64);
        }
    };
    let stopped = || {
        let kept = (0..k).any(|i| layout.dir(&run_dir, i).join(CHECKPOINT_FILE).exists());
        match (policy.enabled() && kept, layout) {
            (true, Layout::Single) => format!(
                "the run stopped; the last checkpoint in {} is kept (`snn train --resume {}` \
                 continues from it once the cause is fixed)",
                run_dir.display(),
                run_dir.display()
            ),
            (true, Layout::Many) => format!(
                "the run stopped; the networks' last checkpoints in {}/net*/ are kept \
                 (`snn train --resume {}` continues them once the cause is fixed)",
                run_dir.display(),
                run_dir.display()
            ),
            (false, _) if policy.enabled() => {
                "the run stopped before the first checkpoint".to_string()
            }
            (false, _) => "the run stopped (no checkpoints: --checkpoint-every 0)".to_string(),
        }
    };
    let t0 = Instant::now();
    let runs = run_from(
        &cfgs,
        starts,
        (train_set, test_set),
        &sizes,
        Engines {
            train: &engines,
            eval: eval.as_ref().map(|(e, _)| e),
            series_every: policy.every_images(),
        },
        &after,
        &on_batch,
    )
    .with_context(stopped)?;
    end_training();
    if let Some((_, pb)) = passes.into_inner().unwrap_or_else(|e| e.into_inner()).shown {
        pb.finish();
    }
    let seconds = t0.elapsed().as_secs_f64();

    let follow = follow.into_inner().unwrap_or_else(|e| e.into_inner());
    let (eval_kind, eval_adapter, plot_engine) = match &eval {
        Some((e, a)) => (e.kind().to_string(), a.clone(), e),
        None => (kind.clone(), adapter.clone(), &engines),
    };
    let mut lines = vec![];
    for (i, r) in runs.iter().enumerate() {
        let dir = layout.dir(&run_dir, i);
        let mut line = serde_json::json!({
            "command": "train",
            "preset": r.config.preset,
            "backend": kind,
            "adapter": adapter,
            "seed": r.config.seed,
            "data": plan.data,
            "epochs": r.config.epochs,
            "train_images": r.stats.images,
            "retries": r.stats.retries,
            "skipped_images": r.stats.skipped_images,
            "runaway_at_image": r.stats.runaway_at,
            "label_images": r.tested.label_images,
            "test_images": r.tested.test_images,
            "batch": sizes.batch,
            "accuracy_all_activity": r.tested.eval.all_activity.accuracy(),
            "accuracy_proportion": r.tested.eval.proportion.accuracy(),
            "train_seconds": r.train_seconds,
            "seconds_per_train_image": r.train_seconds / r.stats.images.max(1) as f64,
            "images_this_session": r.stats.images - follow[i].images_at_start,
            "resumed_from_image": resumed[i],
            "label_test_seconds": r.tested.seconds,
            "eval_backend": eval_kind,
            "eval_adapter": eval_adapter,
            "learning_curve": r.stats.learning_curve,
            "run_dir": dir.display().to_string(),
        });
        save_run(&dir, r, &line)?;
        if layout == Layout::Many {
            if let Some(m) = line.as_object_mut() {
                m.remove("learning_curve");
            }
        }
        lines.push(line);
    }

    let line = match layout {
        Layout::Single => {
            if common.chatty() {
                eprintln!("{}", runs[0].tested.eval.all_activity.to_text());
                eprintln!(
                    "saved {} (network.npz, config.json, receptive_fields.png, results.json)",
                    run_dir.display()
                );
            }
            lines.swap_remove(0)
        }
        Layout::Many => {
            let labels = &test_set.labels[..sizes.n_test];
            let ens = ensemble(&runs.iter().map(|r| &r.tested).collect::<Vec<_>>(), labels)?;
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
                "backend": kind,
                "adapter": adapter,
                "seed": base.seed,
                "data": plan.data,
                "n_networks": k,
                "train_images": train_images,
                "label_images": sizes.n_label,
                "test_images": sizes.n_test,
                "batch": sizes.batch,
                "networks": lines,
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
            write_json(
                &run_dir.join(snn_wgpu::experiments::diehl_cook::io::RESULTS_FILE),
                &full,
            )?;
            line
        }
    };
    // The presentation of the plots is replayed on the engine that tested.
    for i in 0..k {
        super::plot::after_train(
            &layout.dir(&run_dir, i),
            test_set,
            plot_engine,
            !common.chatty(),
        );
    }
    if common.chatty() && layout == Layout::Single && plan.data_dir.is_none() {
        eprintln!("{}", first_run_note(&runs[0], plan.n_train));
    }
    super::stdout::line(line);
    Ok(())
}

/// The progress bar's message: the running accuracy (over the last 1,000 images) once there
/// is one, the networks' range where there are several; retries and skipped images.
fn running_message(f: &[Follow]) -> Option<String> {
    let acc: Vec<f64> = f.iter().filter_map(|n| n.accuracy).collect();
    let lo = acc.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = acc.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let accuracy = match acc.len() {
        0 => return None,
        _ if f.len() == 1 || hi - lo < 0.0005 => format!("{:.1}%", 100.0 * hi),
        _ => format!("{:.1}-{:.1}%", 100.0 * lo, 100.0 * hi),
    };
    let retries: u64 = f.iter().map(|n| n.retries).sum();
    let skipped: u64 = f.iter().map(|n| n.skipped).sum();
    Some(format!(
        "acc(last 1000) {accuracy} retries {retries}{}",
        match skipped {
            0 => String::new(),
            n => format!(" skipped {n}"),
        }
    ))
}

/// What a run on the embedded subset was, and how to run the paper's.
fn first_run_note(r: &NetworkRun, n_train: usize) -> String {
    let cfg = &r.config;
    let what = if cfg.preset == SHORT_PRESET {
        format!(
            "{SHORT_PRESET} (the paper's dc400, {} excitatory neurons, shortened: {} epochs \
             instead of 3, the rest between images done by a reset)",
            cfg.n_exc, cfg.epochs
        )
    } else {
        format!("{} ({} excitatory neurons)", cfg.preset, cfg.n_exc)
    };
    format!(
        "This was {what}, {} epoch(s) over the first {n_train} MNIST training images embedded \
         in the binary, labels from {} of them, tested on {} held-out test images. For the \
         paper's figures, train on the full MNIST (60,000 / 10,000 images): `snn fetch-mnist \
         --to ~/mnist`, then `snn train --preset dc400 --data ~/mnist` (3 epochs).",
        cfg.epochs, r.tested.label_images, r.tested.test_images
    )
}

/// Saves one network as a run of its own in `dir`: network.npz, config.json,
/// receptive_fields.png, and results.json (`line` with the confusion matrices, neurons per
/// class and config added).
fn save_run(dir: &Path, r: &NetworkRun, line: &serde_json::Value) -> Result<()> {
    let net = r.saved()?;
    save_network(dir, &net).with_context(|| format!("saving the run to {}", dir.display()))?;
    receptive_fields_png(
        &dir.join("receptive_fields.png"),
        net.weights.view(),
        Some(&net.assignments),
    )?;
    let mut full = line.clone();
    full["confusion_all_activity"] = serde_json::json!(r.tested.eval.all_activity.matrix);
    full["confusion_proportion"] = serde_json::json!(r.tested.eval.proportion.matrix);
    full["neurons_per_class"] = serde_json::json!(r.tested.assignments.neurons_per_class());
    full["config"] = serde_json::to_value(&r.config)?;
    write_json(
        &dir.join(snn_wgpu::experiments::diehl_cook::io::RESULTS_FILE),
        &full,
    )
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
