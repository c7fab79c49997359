//! `snn train`: how a run starts or resumes, for one network or K (`--networks`, `--sweep`).
//! Either way the run is a list of networks with their starts, trained, labelled and tested
//! by `job::go` (library: `experiments::diehl_cook::{multi, checkpoint, io}`).
//!
//! A run of one network lives in RUN_DIR itself (`checkpoint.npz`, `network.npz`, …); a run
//! of K keeps network k in `RUN_DIR/net{k}/` as a run of one, and `RUN_DIR/networks.json`
//! lists the networks, plan and backend, so that `--resume` continues them all (those killed
//! before their first checkpoint from the start).

use super::job::{self, Job};
use super::rundir::RunDir;
use super::{load_data, BackendArg, Common};
use anyhow::{bail, Context, Result};
use snn_wgpu::data::mnist::Dataset;
use snn_wgpu::experiments::diehl_cook::checkpoint::{
    check_same, eval_fingerprint, fingerprint, load_checkpoint, RunPlan, CHECKPOINT_FILE,
};
use snn_wgpu::experiments::diehl_cook::config::DcConfig;
use snn_wgpu::experiments::diehl_cook::io::{
    remove_stale_temp_files, CONFIG_FILE, NETWORK_FILE, RESULTS_FILE,
};
use snn_wgpu::experiments::diehl_cook::multi::Start;
use snn_wgpu::experiments::diehl_cook::spec::RestMode;
use snn_wgpu::experiments::diehl_cook::sweep::{network_configs, parse_sweep};
use snn_wgpu::model::net::MAX_CLOCK_STEP;
use std::path::{Path, PathBuf};

/// Default checkpoint interval when `--checkpoint-every` is not given (s of training).
pub(crate) const DEFAULT_CHECKPOINT_SECS: f64 = 120.0;

/// The file of a many-network run that lists its networks, plan and backend (for `--resume`).
pub(crate) const MANIFEST_FILE: &str = "networks.json";

/// The flags of `snn train` about the run: checkpoints, resuming, overwriting, and the
/// backend that labels and tests.
#[derive(clap::Args)]
pub(crate) struct RunArgs {
    /// Continue the run in RUN_DIR from its last checkpoint (bit-identical to a run that
    /// was never stopped). The experiment, sizes and data come from the checkpoint; flags
    /// that contradict it are refused.
    #[arg(long, value_name = "RUN_DIR")]
    resume: Option<PathBuf>,
    /// Write each network's checkpoint.npz every N training images (0: never). Default:
    /// every 2 minutes of training, and always once training ends (before labelling).
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
    /// For tests: abort the process (an injected crash, no cleanup) once a network has done
    /// N training images and its checkpoint, if due, is written.
    #[arg(long, value_name = "N", hide = true)]
    stop_after_images: Option<usize>,
}

impl RunArgs {
    pub(crate) fn resume_dir(&self) -> Option<&Path> {
        self.resume.as_deref()
    }
}

/// The many-network flags of `snn train`.
#[derive(clap::Args)]
pub(crate) struct MultiArgs {
    /// Train K independent networks in one run, seeds --seed, --seed + 1, … (on the GPU as
    /// the copies of one engine), each with the bits of its single run. Each is saved in
    /// RUN_DIR/net{k}/ as a single run; the JSON line adds their ensemble vote.
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

    /// The images between two checkpoints where they are counted in images (0: by time,
    /// or none): where a series of training presentations ends.
    pub(crate) fn every_images(&self) -> usize {
        self.every_images.unwrap_or(0)
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

/// Where a run keeps its networks.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// One network, in RUN_DIR.
    Single,
    /// Network k in RUN_DIR/net{k}, and the manifest in RUN_DIR.
    Many,
}

impl Layout {
    /// The directory of network `k` of the run in `run_dir`.
    pub(crate) fn dir(self, run_dir: &Path, k: usize) -> PathBuf {
        match self {
            Layout::Single => run_dir.to_path_buf(),
            Layout::Many => run_dir.join(format!("net{k}")),
        }
    }
}

/// `RUN_DIR/networks.json`: what `--resume` needs to continue every network, including
/// those killed before their first checkpoint.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Manifest {
    /// snn-wgpu version that started the run.
    pub crate_version: String,
    /// One config per network (`net{k}` is `networks[k]`).
    pub networks: Vec<DcConfig>,
    /// Sizes and data, shared by all networks.
    pub plan: RunPlan,
    /// `cpu` or `gpu`: the backend the run trains on (the checkpoints' state suits both; a
    /// resume continues on this one unless `--backend` says otherwise).
    pub backend: String,
}

/// A fresh run of `base` (the preset or config file with the flags applied, validated): one
/// network, or those of `multi`.
pub(crate) fn start(
    base: DcConfig,
    multi: &MultiArgs,
    train_samples: Option<usize>,
    out: Option<PathBuf>,
    ck: &RunArgs,
    common: &Common,
) -> Result<()> {
    let (cfgs, layout) = if multi.requested() {
        let sweep = match &multi.sweep {
            None => None,
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
                Some(
                    parse_sweep(&text)
                        .with_context(|| format!("{}: bad sweep file", p.display()))?,
                )
            }
        };
        if let Some(k) = multi.networks {
            super::memory::check_network_count(k)?;
        }
        let cfgs = network_configs(&base, multi.networks, sweep.as_deref())?;
        super::memory::check_networks(&cfgs)?;
        (cfgs, Layout::Many)
    } else {
        (vec![base.clone()], Layout::Single)
    };
    let run_dir = out.unwrap_or_else(|| free_run_dir(&base, layout, cfgs.len()));
    // Claimed (locked) before the data is read: a second run into the same directory, or
    // one that cannot be written, fails before any work.
    let _claimed = RunDir::claim(&run_dir)?;
    let held = held_run(&run_dir);
    if let Some(what) = held.as_ref().filter(|_| !ck.overwrite) {
        let resume = if resumable(&run_dir) {
            format!(
                "resume it with `snn train --resume {}`, ",
                run_dir.display()
            )
        } else {
            String::new()
        };
        bail!(
            "{} already holds a run or files one writes ({what}): {resume}pick another \
             --out, or pass --overwrite to replace them",
            run_dir.display()
        );
    }
    let (train_set, test_set, data_desc) = load_data(common.data.as_deref(), common.validation)?;
    let n_train = super::train_images(train_samples, train_set.len())?;
    check_clock(&cfgs, n_train)?;
    let plan = plan(n_train, common, data_desc, (&train_set, &test_set));
    let starts = vec![Start::fresh(); cfgs.len()];
    let started = Job {
        base,
        cfgs,
        starts,
        plan,
        run_dir,
        layout,
        backend: common.backend,
        eval_backend: ck.eval_backend,
        // `--overwrite` of a run: it goes once the data is read and the engines take the
        // network.
        replaces: held.is_some(),
    };
    job::go(started, (&train_set, &test_set), &Policy::from(ck), common)
}

/// Refuses a run whose training would take the step clock past its last step
/// ([`MAX_CLOCK_STEP`]): every image's presentation steps (its rest's too where the rest is
/// simulated) over every epoch, with room for one retry in every four images, so that a run
/// that cannot finish fails before its hours of training, not at their end.
fn check_clock(cfgs: &[DcConfig], n_train: usize) -> Result<()> {
    for c in cfgs {
        let (rest_steps, rest_ms) = match c.rest {
            RestMode::Simulate => (u64::from(c.steps_rest()), c.rest_ms),
            RestMode::Reset => (0, 0.0),
        };
        let per_image = u64::from(c.steps_on()) + rest_steps;
        let steps = per_image * n_train as u64 * u64::from(c.epochs);
        let with_retries = steps + steps / 4;
        if with_retries > u64::from(MAX_CLOCK_STEP) {
            bail!(
                "{} epoch(s) of {n_train} images at {per_image} steps each ({} ms of dt = {} \
                 ms) take {steps} steps, and with retries more, past the step clock's last \
                 step {MAX_CLOCK_STEP}: fewer epochs or images, or a larger dt_ms",
                c.epochs,
                c.present_ms + rest_ms,
                c.dt_ms
            );
        }
    }
    Ok(())
}

/// The plan of a fresh run on the first `n_train` images of `train_set` (described as
/// `data_desc`), tested on `test_set`, with the sizes and data directory of `common`.
fn plan(
    n_train: usize,
    common: &Common,
    data_desc: String,
    (train_set, test_set): (&Dataset, &Dataset),
) -> RunPlan {
    RunPlan {
        n_train,
        label_samples: common.label_samples,
        test_samples: common.test_samples,
        batch: common.batch(),
        data: data_desc,
        // Absolute: a resume from another working directory finds it.
        data_dir: common
            .data
            .as_ref()
            .map(|d| std::path::absolute(d).unwrap_or_else(|_| d.clone())),
        data_fingerprint: fingerprint(train_set, n_train),
        validation: common.validation,
        eval_fingerprint: Some(eval_fingerprint(
            train_set,
            test_set,
            n_train,
            common.label_samples,
            common.test_samples,
        )),
    }
}

/// What a run leaves in its directory besides pictures and its networks' directories
/// (`net<k>`): a training run into a directory that holds one of them needs `--overwrite`.
const RUN_FILES: [&str; 5] = [
    CHECKPOINT_FILE,
    NETWORK_FILE,
    MANIFEST_FILE,
    CONFIG_FILE,
    RESULTS_FILE,
];

/// The files of [`RUN_FILES`] that `d` holds, and `net0`, if any.
fn held_run(d: &Path) -> Option<String> {
    let found: Vec<&str> = RUN_FILES
        .into_iter()
        .chain(["net0"])
        .filter(|f| d.join(f).exists())
        .collect();
    (!found.is_empty()).then(|| found.join(", "))
}

/// Removes the run that `--overwrite` replaces in `d`: its [`RUN_FILES`] and network
/// directories (`net<k>`), which a resume or an evaluation would read, so that none of them
/// outlives it.
pub(crate) fn clear_run(d: &Path) -> Result<()> {
    for f in RUN_FILES {
        let path = d.join(f);
        if path.exists() {
            std::fs::remove_file(&path)
                .with_context(|| format!("--overwrite: removing {}", path.display()))?;
        }
    }
    for k in 0.. {
        let net = d.join(format!("net{k}"));
        if !net.is_dir() {
            break;
        }
        std::fs::remove_dir_all(&net)
            .with_context(|| format!("--overwrite: removing {}", net.display()))?;
    }
    Ok(())
}

/// Whether `snn train --resume` can continue the run in `d`.
fn resumable(d: &Path) -> bool {
    d.join(MANIFEST_FILE).exists() || d.join(CHECKPOINT_FILE).exists()
}

/// `runs/<preset>-seed<seed>` (`-x<k>` added for K networks), or with `-2`, `-3`, … when
/// that one holds a run already.
fn free_run_dir(base: &DcConfig, layout: Layout, k: usize) -> PathBuf {
    let name = match layout {
        Layout::Single => format!("runs/{}-seed{}", base.preset, base.seed),
        Layout::Many => format!("runs/{}-seed{}-x{k}", base.preset, base.seed),
    };
    (1..)
        .map(|n| match n {
            1 => PathBuf::from(&name),
            _ => PathBuf::from(format!("{name}-{n}")),
        })
        .find(|d| held_run(d).is_none())
        .unwrap_or_else(|| PathBuf::from(name))
}

/// `--resume RUN_DIR`: a run of one network from its checkpoint, or of K from the manifest
/// and each network's last checkpoint (a network without one starts again).
pub(crate) fn resume(dir: &Path, asked: &Asked, ck: &RunArgs, common: &Common) -> Result<()> {
    if !dir.is_dir() {
        bail!("--resume {}: no such run directory", dir.display());
    }
    let _claimed = RunDir::claim(dir)?;
    if asked.config_given {
        bail!(
            "--config with --resume: the experiment comes from {}; drop --config",
            dir.display()
        );
    }
    let layout = if dir.join(MANIFEST_FILE).exists() {
        Layout::Many
    } else {
        Layout::Single
    };
    // A single run's checkpoint, read once.
    let mut first = None;
    let mut removed = 0;
    let (cfgs, plan, trained_on, written_by) = match layout {
        Layout::Many => {
            let path = dir.join(MANIFEST_FILE);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let m: Manifest = serde_json::from_str(&text).with_context(|| {
                format!(
                    "{}: not a many-network run's manifest (damaged?); its networks resume \
                     one by one with `snn train --resume {}/net<k>`",
                    path.display(),
                    dir.display()
                )
            })?;
            if m.networks.is_empty() {
                bail!(
                    "{}: lists no network (damaged?); start the run again",
                    path.display()
                );
            }
            for (k, c) in m.networks.iter().enumerate() {
                c.validate()
                    .with_context(|| format!("{}: network {k} (damaged?)", path.display()))?;
            }
            (m.networks, m.plan, m.backend, m.crate_version)
        }
        Layout::Single => {
            removed = remove_stale_temp_files(dir).len();
            let c =
                load_checkpoint(dir).with_context(|| match dir.join(CHECKPOINT_FILE).exists() {
                    true => format!(
                        "cannot resume {}: its checkpoint is unusable",
                        dir.display()
                    ),
                    false => format!(
                        "cannot resume {}: no usable checkpoint (a run killed before its first \
                         checkpoint has to start again: `snn train` with --overwrite)",
                        dir.display()
                    ),
                })?;
            let out = (
                vec![c.config.clone()],
                c.plan.clone(),
                c.trained_on.clone(),
                c.crate_version.clone(),
            );
            first = Some(c);
            out
        }
    };
    check_same("--preset", asked.preset.clone(), cfgs[0].preset.clone())?;
    check_same("--seed", asked.seed, cfgs[0].seed)?;
    for c in &cfgs {
        check_same("--epochs", asked.epochs, c.epochs)?;
    }
    check_same("--train-samples", asked.train_samples, plan.n_train)?;
    check_clock(&cfgs, plan.n_train)?;
    // As a fresh run is checked: this machine may be smaller than the one that started it.
    match layout {
        Layout::Many => super::memory::check_networks(&cfgs),
        Layout::Single => super::memory::check_network(&cfgs[0]),
    }
    .with_context(|| format!("cannot resume {} on this machine", dir.display()))?;
    if common.validation && !plan.validation {
        bail!(
            "--validation with --resume: the run in {} tests on the test set; drop --validation",
            dir.display()
        );
    }
    let data_dir = common.data.clone().or(plan.data_dir.clone());
    let (train_set, test_set, data_desc) = load_data(data_dir.as_deref(), plan.validation)
        .with_context(|| match (&common.data, &plan.data_dir) {
            (None, Some(d)) => format!(
                "the run's data directory {} (as its checkpoint records it): pass --data \
                 where the same MNIST files are now",
                d.display()
            ),
            _ => "reading the data of the resumed run".to_string(),
        })?;
    let print = fingerprint(&train_set, plan.n_train);
    if print != plan.data_fingerprint {
        bail!(
            "the training data differs from the run's ({}, fingerprint {}; now {}, fingerprint \
             {}): resume with --data pointing at the same MNIST files",
            plan.data,
            plan.data_fingerprint,
            data_desc,
            print
        );
    }
    if let Some(want) = &plan.eval_fingerprint {
        let print = eval_fingerprint(
            &train_set,
            &test_set,
            plan.n_train,
            plan.label_samples,
            plan.test_samples,
        );
        if &print != want {
            bail!(
                "the labelling or test images differ from the run's ({}: {want}; now {}: \
                 {print}): resume with --data pointing at the same MNIST files",
                plan.data,
                data_desc
            );
        }
    }
    let mut starts = vec![];
    for (k, cfg) in cfgs.iter().enumerate() {
        let net = layout.dir(dir, k);
        let c = match first.take() {
            Some(c) => c,
            None => {
                removed += remove_stale_temp_files(&net).len();
                if !net.join(CHECKPOINT_FILE).exists() {
                    starts.push(Start::fresh());
                    continue;
                }
                load_checkpoint(&net)
                    .with_context(|| format!("cannot resume network {k} from {}", net.display()))?
            }
        };
        if &c.config != cfg || c.plan != plan {
            bail!(
                "{}: the checkpoint's experiment or plan differs from network {k} of {} \
                 (files from another run?)",
                net.join(CHECKPOINT_FILE).display(),
                dir.join(MANIFEST_FILE).display()
            );
        }
        starts.push(Start {
            train: c.train,
            snapshot: Some(c.snapshot),
            train_seconds: c.train_seconds,
        });
    }
    if common.chatty() {
        let at: Vec<usize> = starts.iter().map(|s| s.train.stats.images).collect();
        let total = plan.n_train * cfgs[0].epochs as usize;
        let removed = match removed {
            0 => String::new(),
            n => format!("; removed {n} unfinished checkpoint write(s)"),
        };
        match layout {
            Layout::Single => eprintln!(
                "resuming {} at image {} of {total} (epoch {}), written by snn-wgpu \
                 {written_by}{removed}",
                dir.display(),
                at[0],
                (at[0] / plan.n_train.max(1) + 1).min(cfgs[0].epochs as usize),
            ),
            Layout::Many => eprintln!(
                "resuming {} networks of {} at images {at:?}, started by snn-wgpu \
                 {written_by}{removed}",
                cfgs.len(),
                dir.display(),
            ),
        }
    }
    // The state suits either engine: the run continues where it was asked to, else where
    // it trained. Labelling and test sizes, and the batch size (which decides the keys of
    // retried images), come from the checkpoint unless given again.
    let backend = asked.backend.unwrap_or(if trained_on == "gpu" {
        BackendArg::Gpu
    } else {
        BackendArg::Cpu
    });
    let common = Common {
        data: data_dir,
        label_samples: common.label_samples.or(plan.label_samples),
        test_samples: common.test_samples.or(plan.test_samples),
        backend,
        batch: common.batch.or(Some(plan.batch)),
        quiet: common.quiet,
        json: common.json,
        validation: plan.validation,
    };
    let started = Job {
        base: cfgs[0].clone(),
        cfgs,
        starts,
        plan,
        run_dir: dir.to_path_buf(),
        layout,
        backend,
        eval_backend: ck.eval_backend,
        replaces: false,
    };
    job::go(started, (&train_set, &test_set), &Policy::from(ck), &common)
}
