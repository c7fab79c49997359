//! `snn train` for one network: training with checkpoints, `--resume`, then labelling, test,
//! and the run directory (library: `experiments::diehl_cook::{train, checkpoint, io}`).

use super::rundir::RunDir;
use super::{bar, label_and_test, load_data, make_backend, BackendArg, Common};
use anyhow::{bail, Context, Result};
use snn_wgpu::backend::EngineChoice;
use snn_wgpu::experiments::diehl_cook::checkpoint::{
    check_same, fingerprint, load_checkpoint, save_checkpoint, Checkpoint, RunPlan, CHECKPOINT_FILE,
};
use snn_wgpu::experiments::diehl_cook::config::{DcConfig, SHORT_PRESET};
use snn_wgpu::experiments::diehl_cook::engine::DcEngine;
use snn_wgpu::experiments::diehl_cook::io::{
    receptive_fields_png, remove_stale_temp_files, save_network, write_atomic, SavedNetwork,
    NETWORK_FILE,
};
use snn_wgpu::experiments::diehl_cook::train::{
    runaway_advice, silence_diagnosis, skip_advice, train_from, TrainState,
};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Default checkpoint interval when `--checkpoint-every` is not given (s of training).
pub(crate) const DEFAULT_CHECKPOINT_SECS: f64 = 120.0;

/// The flags of `snn train` for one network's run: checkpoints, resuming, overwriting, and
/// the backend that labels and tests.
#[derive(clap::Args)]
pub(crate) struct RunArgs {
    /// Continue the run in RUN_DIR from its last checkpoint (bit-identical to a run that
    /// was never stopped). The experiment, sizes and data come from the checkpoint; flags
    /// that contradict it are refused.
    #[arg(long, value_name = "RUN_DIR")]
    resume: Option<PathBuf>,
    /// Write RUN_DIR/checkpoint.npz every N training images (0: never). Default: every
    /// 2 minutes of training, and always once training ends (before labelling).
    #[arg(long, value_name = "N")]
    checkpoint_every: Option<usize>,
    /// Train into an --out directory that already holds a run, replacing it.
    #[arg(long)]
    pub(crate) overwrite: bool,
    /// Backend for labelling and test after training (default: --backend). The frozen
    /// batches give the same counts on both, so the accuracy does not change; on a real GPU,
    /// `--backend cpu --eval-backend gpu` trains one network on the CPU (faster there) and
    /// labels and tests on the GPU (about 10,000 images/s for dc400 on an H200).
    #[arg(long, value_enum)]
    pub eval_backend: Option<BackendArg>,
    /// For tests: abort the process (an injected crash, no cleanup) once N training images
    /// are done and their checkpoint, if due, is written.
    #[arg(long, value_name = "N", hide = true)]
    stop_after_images: Option<usize>,
}

impl RunArgs {
    pub(crate) fn resume_dir(&self) -> Option<&Path> {
        self.resume.as_deref()
    }
}

/// Flags given on the command line that a resumed run must agree with (None: not given).
#[derive(Default)]
pub(crate) struct Asked {
    pub preset: Option<String>,
    pub seed: Option<u32>,
    pub epochs: Option<u32>,
    pub backend: Option<BackendArg>,
    pub train_samples: Option<usize>,
    pub config_given: bool,
}

/// When to write checkpoints.
pub(crate) struct Policy {
    every_images: Option<usize>,
    every_secs: f64,
    stop_after_images: Option<usize>,
}

impl Policy {
    pub(crate) fn from(args: &RunArgs) -> Self {
        Policy {
            every_images: args.checkpoint_every,
            every_secs: DEFAULT_CHECKPOINT_SECS,
            stop_after_images: args.stop_after_images,
        }
    }

    /// Aborts the process once `images_done` reaches `--stop-after-images` (a crash injected
    /// by tests of `--resume`).
    pub(crate) fn crash_if_due(&self, images_done: usize) {
        if self.stop_after_images.is_some_and(|n| images_done >= n) {
            std::process::abort();
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.every_images != Some(0)
    }

    pub(crate) fn due(&self, images_done: usize, since_last: f64) -> bool {
        match self.every_images {
            Some(0) => false,
            Some(n) => images_done.is_multiple_of(n),
            None => since_last >= self.every_secs,
        }
    }
}

/// A fresh run: `cfg` validated, flags applied.
pub(crate) fn run(
    cfg: DcConfig,
    train_samples: Option<usize>,
    out: Option<PathBuf>,
    ck: &RunArgs,
    common: &Common,
) -> Result<()> {
    let run_dir = out.unwrap_or_else(|| free_run_dir(&cfg));
    // Claimed (locked) before the data is read: a second run into the same directory, or
    // one that cannot be written, fails before any work.
    let _claimed = RunDir::claim(&run_dir)?;
    if !ck.overwrite && holds_a_run(&run_dir) {
        bail!(
            "{} already holds a run ({} or {}): resume it with `snn train --resume {}`, \
             pick another --out, or pass --overwrite to replace it",
            run_dir.display(),
            CHECKPOINT_FILE,
            NETWORK_FILE,
            run_dir.display()
        );
    }
    let (train_set, test_set, data_desc) = load_data(common.data.as_deref(), common.validation)?;
    let n_train = super::train_images(train_samples, train_set.len())?;
    let plan = plan(n_train, common, data_desc, &train_set);
    let (b, engine, adapter) = make_backend(common.backend, &cfg)?;
    let session = Session {
        cfg,
        plan,
        train: TrainState::new(0),
        train_seconds: 0.0,
        resumed_from: None,
        run_dir,
        adapter,
        engine,
        backend: common.backend,
        eval_backend: ck.eval_backend,
    };
    session.go(b, &train_set, &test_set, &Policy::from(ck), common)
}

/// The plan of a fresh run on the first `n_train` images of `train_set` (described as
/// `data_desc`), with the sizes and data directory of `common`.
pub(crate) fn plan(
    n_train: usize,
    common: &Common,
    data_desc: String,
    train_set: &snn_wgpu::data::mnist::Dataset,
) -> RunPlan {
    RunPlan {
        n_train,
        label_samples: common.label_samples,
        test_samples: common.test_samples,
        batch: common.batch,
        data: data_desc,
        data_dir: common.data.clone(),
        data_fingerprint: fingerprint(train_set, n_train),
        validation: common.validation,
    }
}

/// `--resume RUN_DIR`.
pub(crate) fn resume(dir: &Path, asked: &Asked, ck: &RunArgs, common: &Common) -> Result<()> {
    if !dir.is_dir() {
        bail!("--resume {}: no such run directory", dir.display());
    }
    let _claimed = RunDir::claim(dir)?;
    let removed = remove_stale_temp_files(dir);
    let c: Checkpoint = load_checkpoint(dir).with_context(|| {
        format!(
            "cannot resume {}: no usable checkpoint (a run killed before its first checkpoint \
             has to start again)",
            dir.display()
        )
    })?;
    if asked.config_given {
        bail!(
            "--config with --resume: the experiment comes from {}; drop --config",
            dir.join(CHECKPOINT_FILE).display()
        );
    }
    check_same("--preset", asked.preset.clone(), c.config.preset.clone())?;
    check_same("--seed", asked.seed, c.config.seed)?;
    check_same("--epochs", asked.epochs, c.config.epochs)?;
    check_same("--train-samples", asked.train_samples, c.plan.n_train)?;
    // The state suits either engine: the run continues where it was asked to, else where
    // it trained.
    let backend = asked.backend.unwrap_or(if c.trained_on == "gpu" {
        BackendArg::Gpu
    } else {
        BackendArg::Cpu
    });
    if common.validation && !c.plan.validation {
        bail!(
            "--validation with --resume: the run in {} tests on the test set; drop --validation",
            dir.display()
        );
    }
    let data_dir = common.data.clone().or(c.plan.data_dir.clone());
    let (train_set, test_set, data_desc) = load_data(data_dir.as_deref(), c.plan.validation)?;
    let print = fingerprint(&train_set, c.plan.n_train);
    if print != c.plan.data_fingerprint {
        bail!(
            "the training data differs from the checkpoint's ({}, fingerprint {}; now {}, \
             fingerprint {}): resume with --data pointing at the same MNIST files",
            c.plan.data,
            c.plan.data_fingerprint,
            data_desc,
            print
        );
    }
    // Labelling and test sizes come from the checkpoint unless given again; the batch
    // size does not change results.
    let common2 = Common {
        data: data_dir,
        label_samples: common.label_samples.or(c.plan.label_samples),
        test_samples: common.test_samples.or(c.plan.test_samples),
        backend,
        batch: common.batch,
        quiet: common.quiet,
        json: common.json,
        validation: c.plan.validation,
    };
    let (mut b, engine, adapter) = make_backend(backend, &c.config)?;
    b.restore(&c.snapshot)
        .with_context(|| format!("restoring the network state from {}", dir.display()))?;
    if common.chatty() {
        eprintln!(
            "resuming {} at image {} of {} (epoch {}), written by snn-wgpu {}{}",
            dir.display(),
            c.train.stats.images,
            c.plan.n_train * c.config.epochs as usize,
            (c.train.stats.images / c.plan.n_train.max(1) + 1).min(c.config.epochs as usize),
            c.crate_version,
            if removed.is_empty() {
                String::new()
            } else {
                format!("; removed {} unfinished checkpoint write(s)", removed.len())
            }
        );
    }
    let session = Session {
        resumed_from: Some(c.train.stats.images),
        cfg: c.config,
        plan: c.plan,
        train: c.train,
        train_seconds: c.train_seconds,
        run_dir: dir.to_path_buf(),
        adapter,
        engine,
        backend,
        eval_backend: ck.eval_backend,
    };
    session.go(b, &train_set, &test_set, &Policy::from(ck), &common2)
}

fn holds_a_run(d: &Path) -> bool {
    d.join(CHECKPOINT_FILE).exists() || d.join(NETWORK_FILE).exists()
}

/// `runs/<preset>-seed<seed>`, or with `-2`, `-3`, … when that one holds a run already.
fn free_run_dir(cfg: &DcConfig) -> PathBuf {
    let base = format!("runs/{}-seed{}", cfg.preset, cfg.seed);
    (1..)
        .map(|k| match k {
            1 => PathBuf::from(&base),
            _ => PathBuf::from(format!("{base}-{k}")),
        })
        .find(|d| !holds_a_run(d))
        .unwrap_or_else(|| PathBuf::from(base))
}

struct Session {
    cfg: DcConfig,
    plan: RunPlan,
    train: TrainState,
    train_seconds: f64,
    resumed_from: Option<usize>,
    run_dir: PathBuf,
    adapter: String,
    /// The engine it trains on.
    backend: BackendArg,
    /// That engine, built as the engine flags say.
    engine: EngineChoice,
    eval_backend: Option<BackendArg>,
}

impl Session {
    fn checkpoint(
        &self,
        state: &TrainState,
        b: &mut DcEngine,
        seconds: f64,
    ) -> snn_wgpu::Result<()> {
        let ck = Checkpoint {
            trained_on: format!("{:?}", self.backend).to_lowercase(),
            config: self.cfg.clone(),
            plan: self.plan.clone(),
            train: state.clone(),
            train_seconds: seconds,
            snapshot: b.snapshot()?,
            crate_version: env!("CARGO_PKG_VERSION").into(),
        };
        save_checkpoint(&self.run_dir, &ck)
    }

    fn go(
        mut self,
        mut b: DcEngine,
        train_set: &snn_wgpu::data::mnist::Dataset,
        test_set: &snn_wgpu::data::mnist::Dataset,
        policy: &Policy,
        common: &Common,
    ) -> Result<()> {
        let cfg = self.cfg.clone();
        let total = self.plan.n_train * cfg.epochs as usize;
        if common.chatty() && self.resumed_from.is_none() {
            eprintln!(
                "training {} ({} exc neurons, {} epoch(s) x {} images) on {} [{}], data: {}, \
                 run dir: {}",
                cfg.preset,
                cfg.n_exc,
                cfg.epochs,
                self.plan.n_train,
                b.describe(),
                self.adapter,
                self.plan.data,
                self.run_dir.display()
            );
        }
        std::fs::create_dir_all(&self.run_dir)
            .with_context(|| format!("creating the run directory {}", self.run_dir.display()))?;
        let t0 = Instant::now();
        let before = self.train_seconds;
        let mut last_ck = Instant::now();
        let pb = bar(total, common.quiet, "train");
        pb.set_position(self.train.stats.images as u64);
        pb.reset_eta();
        let mut state = std::mem::take(&mut self.train);
        let images_at_start = state.stats.images;
        // Once per process (a resumed run that ran away before is told again).
        let mut warned_runaway = false;
        let skipped_at_start = state.stats.skipped_images;
        train_from(
            &mut b,
            &cfg,
            train_set,
            self.plan.n_train,
            &mut state,
            |p, st, b| {
                pb.set_position(p.images_done as u64);
                if let Some(image) = p.runaway_at.filter(|_| !warned_runaway) {
                    warned_runaway = true;
                    pb.warn(&runaway_advice(&cfg, image));
                }
                if p.skipped_images == skipped_at_start + 1 && st.silent_run == 1 {
                    // This run's first skipped image (or a resumed part's): once.
                    pb.warn(&skip_advice(
                        &cfg,
                        p.images_done,
                        &silence_diagnosis(b, &cfg),
                    ));
                }
                if let Some(a) = p.running_accuracy {
                    pb.set_message(format!(
                        "acc(last 1000) {:.1}% retries {}{}",
                        100.0 * a,
                        p.retries,
                        match p.skipped_images {
                            0 => String::new(),
                            n => format!(" skipped {n}"),
                        }
                    ));
                }
                let last = p.images_done == p.images_total;
                if policy.enabled()
                    && (last || policy.due(p.images_done, last_ck.elapsed().as_secs_f64()))
                {
                    self.checkpoint(st, b, before + t0.elapsed().as_secs_f64())?;
                    last_ck = Instant::now();
                }
                policy.crash_if_due(p.images_done);
                Ok(())
            },
        )
        .with_context(|| {
            if policy.enabled() && self.run_dir.join(CHECKPOINT_FILE).exists() {
                format!(
                    "training stopped; the last checkpoint in {} is kept (`snn train --resume {}` \
                     continues from it once the cause is fixed)",
                    self.run_dir.display(),
                    self.run_dir.display()
                )
            } else {
                "training stopped before the first checkpoint".to_string()
            }
        })?;
        pb.finish();
        let train_seconds = before + t0.elapsed().as_secs_f64();
        let images_this_session = state.stats.images - images_at_start;
        let mut key = state.key;
        let stats = state.stats;
        // Labelling and test leave weights and θ alone: read them once, for the saved run and
        // for --eval-backend, which loads them into a fresh backend of that kind (its frozen
        // batches start from the rest state, as the trained backend's do).
        let weights = b.weights()?;
        let theta = b.theta()?;
        let mut eval_b = match self.eval_backend {
            Some(kind) => {
                let (mut e, choice, adapter) = make_backend(kind, &cfg)?;
                e.load(&weights, &theta)?;
                Some((e, choice, adapter))
            }
            None => None,
        };
        let tested = label_and_test(
            match eval_b.as_mut() {
                Some((e, ..)) => e,
                None => &mut b,
            },
            &cfg,
            (train_set, test_set),
            common,
            self.plan.n_train,
            &mut key,
        )?;
        let (eval_backend, eval_adapter) = match &eval_b {
            Some((e, _, a)) => (e.describe(), a.clone()),
            None => (b.describe(), self.adapter.clone()),
        };
        let run_dir = &self.run_dir;
        let net = SavedNetwork {
            n_input: 784,
            n_exc: cfg.n_exc as usize,
            weights: ndarray::Array2::from_shape_vec((784, cfg.n_exc as usize), weights)?,
            theta_mv: theta,
            assignments: tested.assignments.assignment.clone(),
            config_json: serde_json::to_string_pretty(&cfg)?,
        };
        save_network(run_dir, &net)
            .with_context(|| format!("saving the run to {}", run_dir.display()))?;
        receptive_fields_png(
            &run_dir.join("receptive_fields.png"),
            net.weights.view(),
            Some(&net.assignments),
        )?;
        if common.chatty() {
            eprintln!("{}", tested.eval.all_activity.to_text());
            eprintln!(
                "saved {} (network.npz, config.json, receptive_fields.png, results.json)",
                run_dir.display()
            );
        }
        let line = serde_json::json!({
            "command": "train",
            "preset": cfg.preset,
            "backend": b.describe(),
            "adapter": self.adapter,
            "seed": cfg.seed,
            "data": self.plan.data,
            "epochs": cfg.epochs,
            "train_images": stats.images,
            "retries": stats.retries,
            "skipped_images": stats.skipped_images,
            "runaway_at_image": stats.runaway_at,
            "label_images": tested.label_images,
            "test_images": tested.test_images,
            "accuracy_all_activity": tested.eval.all_activity.accuracy(),
            "accuracy_proportion": tested.eval.proportion.accuracy(),
            "train_seconds": train_seconds,
            "seconds_per_train_image": train_seconds / stats.images.max(1) as f64,
            "images_this_session": images_this_session,
            "resumed_from_image": self.resumed_from,
            "label_test_seconds": tested.seconds,
            "eval_backend": eval_backend,
            "eval_adapter": eval_adapter,
            "learning_curve": stats.learning_curve,
            "run_dir": run_dir.display().to_string(),
        });
        let mut full = line.clone();
        full["confusion_all_activity"] = serde_json::json!(tested.eval.all_activity.matrix);
        full["confusion_proportion"] = serde_json::json!(tested.eval.proportion.matrix);
        full["neurons_per_class"] = serde_json::json!(tested.assignments.neurons_per_class());
        full["config"] = serde_json::to_value(&cfg)?;
        let path = run_dir.join("results.json");
        let text = serde_json::to_string_pretty(&full)?;
        write_atomic(&path, |f| {
            f.write_all(text.as_bytes())
                .map_err(|source| snn_wgpu::SnnError::Io {
                    path: path.clone(),
                    source,
                })
        })?;
        // The presentation of the plots is replayed on the engine that tested.
        let plot_engine = eval_b.as_ref().map_or(&self.engine, |(_, c, _)| c);
        super::plot::after_train(run_dir, test_set, plot_engine, !common.chatty());
        if common.chatty() && self.plan.data_dir.is_none() {
            let what = if cfg.preset == SHORT_PRESET {
                format!(
                    "{SHORT_PRESET} (the paper's dc400, {} excitatory neurons, shortened: \
                     {} epochs instead of 3, the rest between images done by a reset)",
                    cfg.n_exc, cfg.epochs
                )
            } else {
                format!("{} ({} excitatory neurons)", cfg.preset, cfg.n_exc)
            };
            eprintln!(
                "This was {what}, {} epoch(s) over the first {} MNIST \
                 training images embedded in the binary, labels from {} of them, tested \
                 on {} held-out test images. For the paper's figures, train on the full \
                 MNIST (60,000 / 10,000 images): `snn fetch-mnist --to ~/mnist`, then \
                 `snn train --preset dc400 --data ~/mnist` (3 epochs).",
                cfg.epochs, self.plan.n_train, tested.label_images, tested.test_images
            );
        }
        crate::stdout::line(line);
        Ok(())
    }
}
