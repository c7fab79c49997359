//! Every bad input gets a clear error, never a panic: each case asserts that the message names
//! the file, field or value and says what to do. MNIST files, configuration values (and the
//! warnings for a coarse dt), networks too large for the GPU, no adapter, NaN/Inf in the
//! state, and output folders that cannot be written. CLI cases run the `snn` binary on the
//! embedded subset with a few images.

mod common;

use snn_wgpu::backend::CompetitiveBackend;
use snn_wgpu::cpu::wta::CpuCompetitive;
use snn_wgpu::data::mnist::{self, Split};
use snn_wgpu::experiments::diehl_cook::config::DcConfig;
use snn_wgpu::experiments::diehl_cook::io::{
    check_writable_dir, save_network, write_atomic, SavedNetwork, NETWORK_FILE,
};
use snn_wgpu::gpu::wta::{GpuCompetitive, MAX_EXC, MAX_INPUTS};
use snn_wgpu::gpu::{GpuContext, GpuOptions};
use snn_wgpu::model::*;
use snn_wgpu::SnnError;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

// ---- helpers ----

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("snn-bad-input-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// Names in the directory, sorted.
    fn entries(&self, sub: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.0.join(sub))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn idx_images(count: u32, rows: u32, cols: u32) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [0x0803, count, rows, cols] {
        v.extend_from_slice(&u32::to_be_bytes(x));
    }
    v.extend((0..count * rows * cols).map(|i| (i % 251) as u8));
    v
}

fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [0x0801, labels.len() as u32] {
        v.extend_from_slice(&u32::to_be_bytes(x));
    }
    v.extend_from_slice(labels);
    v
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// A directory with both MNIST splits of `n` images of `rows`x`cols`.
fn mnist_dir(tag: &str, n: u32, rows: u32, cols: u32) -> TempDir {
    let t = TempDir::new(tag);
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    for p in ["train", "t10k"] {
        t.write(
            &format!("{p}-images-idx3-ubyte.gz"),
            &gz(&idx_images(n, rows, cols)),
        );
        t.write(&format!("{p}-labels-idx1-ubyte"), &idx_labels(&labels));
    }
    t
}

fn err_text<T>(r: snn_wgpu::Result<T>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

/// Asserts that `text` contains every needle.
#[track_caller]
fn has_all(text: &str, needles: &[&str]) {
    for n in needles {
        assert!(text.contains(n), "expected `{n}` in:\n{text}");
    }
}

fn snn(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_snn"));
    c.args(args);
    c
}

/// Runs a command that must fail, without panicking, and returns its stderr.
#[track_caller]
fn fails(mut c: Command) -> String {
    let out: Output = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "expected a failure; stderr:\n{stderr}"
    );
    assert!(
        !stderr.contains("panicked"),
        "a panic instead of an error:\n{stderr}"
    );
    stderr
}

/// Runs a command that must succeed and returns its stderr.
#[track_caller]
fn succeeds(mut c: Command) -> String {
    let out = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "expected success; stderr:\n{stderr}");
    stderr
}

/// Tiny sample counts for CLI runs on the embedded subset.
const TINY: [&str; 7] = [
    "--train-samples",
    "2",
    "--label-samples",
    "2",
    "--test-samples",
    "2",
    "--quiet",
];

/// `snn presets --show dc100` with `edit` applied, written to `dir/name`.
fn preset_toml(dir: &TempDir, name: &str, edit: impl Fn(String) -> String) -> PathBuf {
    let out = snn(&["presets", "--show", "dc100"]).output().unwrap();
    assert!(out.status.success());
    let text = edit(String::from_utf8(out.stdout).unwrap());
    dir.write(name, text.as_bytes())
}

fn small_config() -> DcConfig {
    let mut c = DcConfig::preset("dc100").unwrap();
    c.n_exc = 10;
    c
}

// ---- MNIST files ----

#[test]
fn mnist_missing_folder_or_file_says_how_to_get_it() {
    let t = TempDir::new("missing");
    let gone = t.path("no-such-dir");
    let e = err_text(mnist::load_mnist(&gone, Split::Train));
    has_all(
        &e,
        &[
            "no-such-dir",
            &format!("snn fetch-mnist --to {}", gone.display()),
            "--data",
        ],
    );
    t.write("train-images-idx3-ubyte", &idx_images(2, 28, 28));
    let e = err_text(mnist::load_mnist(&t.0, Split::Train));
    has_all(
        &e,
        &[
            "no MNIST labels file",
            "train-labels-idx1-ubyte.gz",
            "snn fetch-mnist --to",
        ],
    );
}

#[test]
fn mnist_damaged_files_name_the_file_and_say_fetch_again() {
    let t = TempDir::new("damaged");
    let images = idx_images(3, 28, 28);
    // Wrong magic: a labels file where images belong.
    let p = t.write("wrong-magic", &idx_labels(&[1, 2, 3]));
    let e = err_text(mnist::read_idx_images(&p));
    has_all(
        &e,
        &[
            "wrong-magic",
            "found 2049",
            "expected 2051",
            "snn fetch-mnist --to",
        ],
    );
    // Truncated body and header.
    let p = t.write("cut-images", &images[..images.len() - 100]);
    let e = err_text(mnist::read_idx_images(&p));
    has_all(
        &e,
        &["cut-images", "truncated", "2352 bytes", "snn fetch-mnist"],
    );
    let p = t.write("cut-header", &images[..9]);
    has_all(
        &err_text(mnist::read_idx_images(&p)),
        &[
            "cut-header",
            "truncated IDX images header",
            "snn fetch-mnist",
        ],
    );
    // A corrupt .gz: cut in the middle, and a flipped CRC.
    let good = gz(&images);
    let p = t.write("cut.gz", &good[..good.len() / 2]);
    has_all(
        &err_text(mnist::read_idx_images(&p)),
        &["cut.gz", "corrupt gzip", "snn fetch-mnist"],
    );
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 8] ^= 0x55;
    let p = t.write("crc.gz", &bad);
    has_all(
        &err_text(mnist::read_idx_images(&p)),
        &["crc.gz", "corrupt gzip"],
    );
    // An empty file.
    let p = t.write("empty", &[]);
    has_all(
        &err_text(mnist::read_idx_labels(&p)),
        &["empty", "truncated"],
    );
}

#[test]
fn mnist_counts_that_disagree_name_both_files() {
    let t = TempDir::new("counts");
    t.write("t10k-images-idx3-ubyte", &idx_images(3, 28, 28));
    t.write("t10k-labels-idx1-ubyte", &idx_labels(&[1, 2]));
    let e = err_text(mnist::load_mnist(&t.0, Split::Test));
    has_all(
        &e,
        &[
            "t10k-images-idx3-ubyte holds 3 images",
            "t10k-labels-idx1-ubyte holds 2 labels",
            "same split",
            "snn fetch-mnist",
        ],
    );
}

#[test]
fn mnist_images_that_are_not_28x28_are_refused() {
    let t = mnist_dir("size", 4, 14, 14);
    // A generic IDX reader accepts them...
    assert_eq!(mnist::load_split(&t.0, Split::Train).unwrap().rows, 14);
    // ...but not as MNIST for the 784-input network.
    let e = err_text(mnist::load_mnist(&t.0, Split::Train));
    has_all(
        &e,
        &[
            "train-images-idx3-ubyte.gz",
            "14x14",
            "196 inputs",
            "28x28",
            "784 inputs",
            "--data",
        ],
    );
    // Labels that are not digits.
    let t = TempDir::new("labels");
    t.write("train-images-idx3-ubyte", &idx_images(2, 28, 28));
    t.write("train-labels-idx1-ubyte", &idx_labels(&[3, 12]));
    let e = err_text(mnist::load_mnist(&t.0, Split::Train));
    has_all(
        &e,
        &["train-labels-idx1-ubyte", "label 12 of example 1", "0..=9"],
    );
}

#[test]
fn cli_bad_mnist_folders_fail_with_the_file_named() {
    let t = mnist_dir("cli-size", 3, 14, 14);
    let mut c = snn(&["train", "--quiet", "--data"]);
    c.arg(&t.0);
    let e = fails(c);
    has_all(&e, &["train-images-idx3-ubyte.gz", "14x14", "28x28"]);

    let t = mnist_dir("cli-gz", 3, 28, 28);
    let good = std::fs::read(t.path("t10k-images-idx3-ubyte.gz")).unwrap();
    t.write("t10k-images-idx3-ubyte.gz", &good[..good.len() - 20]);
    let mut c = snn(&["evaluate", "--quiet", "--run", "/nonexistent-run", "--data"]);
    c.arg(&t.0);
    // The run is checked first; train reads the data.
    has_all(&fails(c), &["network.npz"]);
    let mut c = snn(&["train", "--quiet", "--data"]);
    c.arg(&t.0);
    let e = fails(c);
    has_all(
        &e,
        &[
            "t10k-images-idx3-ubyte.gz",
            "corrupt gzip",
            "snn fetch-mnist --to",
        ],
    );
}

// ---- configuration values ----

fn lif(tau: f32) -> NeuronModel {
    NeuronModel::lif(
        LifParams {
            tau_m_ms: tau,
            v_rest_mv: -65.0,
        },
        -50.0,
    )
}

fn cond(f: impl Fn(&mut CondLifParams)) -> NeuronModel {
    let mut m = NeuronModel::diehl_cook_excitatory();
    if let NeuronKind::CondLif(p) = &mut m.kind {
        f(p);
    }
    m
}

#[test]
fn time_constants_at_or_below_dt_are_errors_naming_field_and_dt() {
    let dt = 0.5;
    let with_theta_tau = |tau| {
        NeuronModel::diehl_cook_excitatory().with_theta(ThetaParams {
            theta_init_mv: 0.0,
            theta_plus_mv: 0.05,
            tau_theta_ms: tau,
            frozen: false,
        })
    };
    let cases: Vec<(NeuronModel, &str, &str)> = vec![
        (lif(0.5), "lif.tau_m_ms", "use dt <= 0.1 ms"),
        (lif(0.0), "lif.tau_m_ms", "> 0"),
        (lif(-3.0), "lif.tau_m_ms", "> 0"),
        (
            cond(|p| p.tau_m_ms = 0.25),
            "cond_lif.tau_m_ms",
            "larger than dt = 0.5",
        ),
        (
            cond(|p| p.tau_ge_ms = 0.5),
            "cond_lif.tau_ge_ms",
            "larger than dt = 0.5",
        ),
        (
            cond(|p| p.tau_gi_ms = 0.1),
            "cond_lif.tau_gi_ms",
            "larger than dt = 0.5",
        ),
        (with_theta_tau(0.4), "theta.tau_theta_ms", "larger than dt"),
        (with_theta_tau(-1.0), "theta.tau_theta_ms", "> 0"),
        (
            lif(20.0).with_refractory_ms(0.3),
            "refractory_ms",
            "use dt <= 0.3 ms",
        ),
        (
            lif(20.0).with_refractory_ms(f32::NAN),
            "refractory_ms",
            ">= 0",
        ),
        (lif(20.0).with_lockout_ms(0.2), "lockout_ms", "one step"),
    ];
    for (model, field, hint) in cases {
        let e = err_text(model.validate(dt));
        has_all(&e, &[field, hint]);
        let spec = NetworkSpec::new("p", 4, model);
        assert!(snn_wgpu::cpu::CpuBackend::new(&spec).is_err(), "{field}");
    }
    // A refractory period of exactly one step is exact, and allowed.
    lif(20.0).with_refractory_ms(0.5).validate(dt).unwrap();
    // STDP traces.
    for (f, edit) in [
        (
            "stdp.tau_pre_ms",
            (|s: &mut StdpParams| s.tau_pre_ms = 0.5) as fn(&mut _),
        ),
        ("stdp.tau_post1_ms", |s| s.tau_post1_ms = -20.0),
        ("stdp.tau_post2_ms", |s| s.tau_post2_ms = f32::NAN),
    ] {
        let mut s = StdpParams::diehl_cook();
        edit(&mut s);
        has_all(&err_text(s.validate(dt)), &[f, "larger than dt = 0.5"]);
    }
    // In the competitive layer the population is named.
    let mut spec = small_config().to_spec();
    if let NeuronKind::CondLif(p) = &mut spec.inh.kind {
        p.tau_ge_ms = 0.5;
    }
    has_all(
        &err_text(spec.validate()),
        &["inh.cond_lif.tau_ge_ms", "= 0.5"],
    );
}

#[test]
fn a_coarse_dt_is_a_warning_naming_the_time_constant() {
    // dt > τ/5 warns, dt <= τ/5 does not.
    assert!(lif(2.5).warnings(0.5).is_empty());
    let w = lif(2.0).warnings(0.5);
    assert_eq!(w.len(), 1, "{w:?}");
    has_all(
        &w[0],
        &["lif.tau_m_ms", "2 ms", "4.0 steps", "use dt <= 0.4 ms"],
    );
    let w = NetworkSpec::new("p", 3, lif(2.0)).warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    // Every time constant of the conductance neuron, θ and the periods.
    let m = cond(|p| {
        p.tau_m_ms = 2.0;
        p.tau_ge_ms = 1.0;
        p.tau_gi_ms = 2.0;
    })
    .with_theta(ThetaParams {
        theta_init_mv: 0.0,
        theta_plus_mv: 0.05,
        tau_theta_ms: 1.5,
        frozen: false,
    })
    .with_refractory_ms(1.2)
    .with_lockout_ms(0.8);
    let w = m.warnings(0.5).join("\n");
    has_all(
        &w,
        &[
            "cond_lif.tau_m_ms",
            "cond_lif.tau_ge_ms",
            "cond_lif.tau_gi_ms",
            "theta.tau_theta_ms",
            "refractory_ms` = 1.2 ms rounds to 2 step(s)",
            "lockout_ms",
        ],
    );
    // A period of a whole number of steps is exact: no warning, however few steps.
    assert!(lif(20.0).with_refractory_ms(1.0).warnings(0.5).is_empty());
    // STDP traces.
    let mut s = StdpParams::diehl_cook();
    s.tau_post1_ms = 2.0;
    let w = s.warnings(0.5);
    assert_eq!(w.len(), 1, "{w:?}");
    has_all(&w[0], &["stdp.tau_post1_ms"]);
    // The competitive layer names the population.
    let mut spec = small_config().to_spec();
    spec.dt_ms = 0.3;
    let w = spec.warnings().join("\n");
    has_all(&w, &["exc.cond_lif.tau_ge_ms", "inh.cond_lif.tau_ge_ms"]);
}

#[test]
fn diehl_cook_config_warnings_spare_the_paper_and_flag_the_rest() {
    for p in ["dc100", "dc400", "dc1600", "dc6400"] {
        let c = DcConfig::preset(p).unwrap();
        assert!(c.warnings().is_empty(), "{p}: {:?}", c.warnings());
    }
    // A finer dt than the paper's: still nothing to say.
    let mut c = small_config();
    c.dt_ms = 0.25;
    c.validate().unwrap();
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
    // A coarser one: the model's 1 ms and 2 ms constants are flagged.
    c.dt_ms = 0.6;
    c.refractory_exc_ms = 6.0;
    c.validate().unwrap();
    let w = c.warnings().join("\n");
    has_all(
        &w,
        &[
            "exc.cond_lif.tau_ge_ms",
            "inh.cond_lif.tau_gi_ms",
            "inh.refractory_ms",
            "lower dt_ms",
        ],
    );
    // The config's own keys by their names.
    let mut c = small_config();
    c.stdp.tau_pre_ms = 2.0;
    c.refractory_exc_ms = 1.2;
    c.tau_theta_ms = 2.0;
    c.validate().unwrap();
    let w = c.warnings().join("\n");
    has_all(
        &w,
        &["stdp.tau_pre_ms", "`refractory_exc_ms`", "`tau_theta_ms`"],
    );
    // Retries that would push the rates past 1000/dt.
    let mut c = small_config();
    c.max_retries = 100;
    let w = c.warnings().join("\n");
    has_all(&w, &["max_retries", "2000 Hz", "lower max_retries"]);
}

#[test]
fn diehl_cook_config_errors_name_the_key() {
    type Edit = fn(&mut DcConfig);
    let cases: Vec<(Edit, &str)> = vec![
        (|c| c.dt_ms = 0.0, "dt_ms"),
        (|c| c.dt_ms = -0.5, "dt_ms"),
        (|c| c.dt_ms = 1.0, "tau_ge_ms"),
        (|c| c.tau_theta_ms = 0.0, "tau_theta_ms"),
        (|c| c.stdp.tau_post2_ms = 0.4, "stdp.tau_post2_ms"),
        (|c| c.refractory_exc_ms = 0.2, "refractory_exc_ms"),
        (|c| c.refractory_exc_ms = -5.0, "refractory_exc_ms"),
        (|c| c.lockout_exc_ms = -1.0, "lockout_exc_ms"),
        (|c| c.intensity_start = -2.0, "intensity_start"),
        (|c| c.intensity_start = f32::NAN, "intensity_start"),
        (|c| c.intensity_start = 100.0, "intensity_start"),
        (|c| c.intensity_step = -1.0, "intensity_step"),
        (|c| c.min_spikes = 10_000_000, "min_spikes"),
        (|c| c.epochs = 0, "epochs"),
        (|c| c.n_exc = 1, "n_exc"),
        (|c| c.theta_plus_mv = -0.05, "theta_plus_mv"),
        (|c| c.w_exc_inh = -10.4, "w_exc_inh"),
        (|c| c.w_inh_exc = f32::INFINITY, "w_inh_exc"),
        (|c| c.w_max = -1.0, "w_max"),
        (|c| c.norm_target = 0.0, "norm_target"),
        (|c| c.input_delay_max_ms = -10.0, "input_delay_max_ms"),
        (|c| c.input_delay_max_ms = f32::NAN, "input_delay_max_ms"),
        (|c| c.rest_ms = -150.0, "rest_ms"),
        (|c| c.present_ms = 0.0, "present_ms"),
        (|c| c.stdp.nu_post = -0.01, "stdp.nu_post"),
    ];
    for (edit, key) in cases {
        let mut c = small_config();
        edit(&mut c);
        let e = err_text(c.validate());
        assert!(e.contains(key), "expected `{key}` in: {e}");
        // The backends refuse what validate refuses in the spec.
        if let Err(spec_err) = c.to_spec().validate() {
            assert!(CpuCompetitive::new(&c.to_spec()).is_err(), "{spec_err}");
        }
    }
    has_all(
        &err_text(DcConfig::preset("dc200")),
        &["`preset` = dc200", "dc100, dc400", "snn presets"],
    );
}

#[test]
fn w_max_below_w_min_is_refused() {
    let mut spec = small_config().to_spec();
    spec.input.w_min = 0.5;
    spec.input.w_max = 0.2;
    has_all(
        &err_text(spec.validate()),
        &["input.w_max", "0.2", ">= w_min (0.5)"],
    );
    spec.input.w_min = -0.1;
    has_all(&err_text(spec.validate()), &["input.w_min", ">= 0"]);
}

/// Bad rates passed to `present` (and frozen batches) on one backend.
fn check_bad_rates(b: &mut dyn CompetitiveBackend) {
    let opts = PresentOptions {
        steps_on: 20,
        steps_rest: 0,
        rest: RestMode::Reset,
        learn: false,
        key: 0,
    };
    let what = b.describe();
    let mut rates = vec![10.0f32; 784];
    rates[17] = -1.0;
    let e = err_text(b.present(&rates, &opts));
    has_all(&e, &["rates_hz[17]", "-1", "[0, 2000] Hz"]);
    rates[17] = f32::NAN;
    has_all(
        &err_text(b.present(&rates, &opts)),
        &["rates_hz[17]", "NaN"],
    );
    rates[17] = 1e6;
    has_all(&err_text(b.present(&rates, &opts)), &["rates_hz[17]"]);
    has_all(
        &err_text(b.present(&[1.0; 100], &opts)),
        &["rates_hz", "100 values", "784"],
    );
    let mut rates = vec![10.0f32; 784];
    rates[3] = f32::INFINITY;
    let batch = vec![vec![5.0; 784], rates];
    has_all(
        &err_text(b.present_frozen_batch(&batch, &opts)),
        &["rates_hz[3]", "inf"],
    );
    // Loading a damaged network.
    let mut w = b.weights().unwrap();
    let theta = b.theta().unwrap();
    w[10 * 10 + 4] = f32::NAN;
    has_all(
        &err_text(b.load(&w, &theta)),
        &["weights[104] (input 10, neuron 4)", "NaN", "retrain"],
    );
    w[104] = 0.1;
    let mut th = theta.clone();
    th[2] = f32::NEG_INFINITY;
    has_all(&err_text(b.load(&w, &th)), &["theta_mv[2]", "-inf"]);
    has_all(
        &err_text(b.load(&w[1..], &theta)),
        &["loaded network", "7840 weights"],
    );
    // The network still works afterwards.
    b.present(&vec![10.0; 784], &opts)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
}

#[test]
fn bad_rates_and_loads_name_the_input_on_both_backends() {
    let spec = small_config().to_spec();
    check_bad_rates(&mut CpuCompetitive::new(&spec).unwrap());
    if let Some(ctx) = common::gpu() {
        check_bad_rates(&mut GpuCompetitive::new(ctx, &spec).unwrap());
    }
}

#[test]
fn cli_unknown_toml_key_names_key_file_and_presets_show() {
    let t = TempDir::new("toml");
    let cfg = preset_toml(&t, "typo.toml", |s| s.replace("w_max =", "wmax ="));
    let mut c = snn(&["train", "--quiet", "--config"]);
    c.arg(&cfg);
    let e = fails(c);
    has_all(
        &e,
        &[
            &cfg.display().to_string(),
            "unknown field `wmax`",
            "snn presets --show dc100",
        ],
    );
    // A negative count is a type error naming the key.
    let cfg = preset_toml(&t, "neg.toml", |s| {
        s.replace("min_spikes = 5", "min_spikes = -5")
    });
    let mut c = snn(&["train", "--quiet", "--config"]);
    c.arg(&cfg);
    has_all(&fails(c), &["neg.toml", "min_spikes = -5"]);
    // A bad value is named by its key.
    let cfg = preset_toml(&t, "dt.toml", |s| s.replace("dt_ms = 0.5", "dt_ms = -0.5"));
    let mut c = snn(&["train", "--quiet", "--config"]);
    c.arg(&cfg);
    has_all(&fails(c), &["dt_ms", "-0.5", "> 0"]);
    // A missing file.
    let mut c = snn(&["train", "--quiet", "--config"]);
    c.arg(t.path("absent.toml"));
    has_all(&fails(c), &["absent.toml"]);
}

#[test]
fn cli_zero_counts_are_refused_by_flag() {
    for (flag, value, named) in [
        ("--train-samples", "0", "--train-samples"),
        ("--batch", "0", "--batch"),
        ("--label-samples", "0", "--label-samples"),
        ("--test-samples", "0", "--test-samples"),
        ("--epochs", "0", "--epochs"),
        ("--batch", "-3", "--batch"),
        ("--lockout-ms", "-1", "lockout_exc_ms"),
        ("--input-delay-ms", "-2", "input_delay_max_ms"),
    ] {
        has_all(
            &fails(snn(&["train", "--quiet", flag, value])),
            &[named, value],
        );
    }
    let e = fails(snn(&["evaluate", "--run", "x", "--batch", "0"]));
    has_all(&e, &["--batch", "0"]);
}

#[test]
fn cli_prints_warnings_unless_quiet() {
    let t = TempDir::new("warn");
    let cfg = preset_toml(&t, "coarse.toml", |s| {
        s.replace("n_exc = 100", "n_exc = 4")
            .replace("tau_post1_ms = 20.0", "tau_post1_ms = 2.0")
    });
    let run = |quiet: bool| {
        let out = t.path(if quiet { "run-quiet" } else { "run" });
        let mut c = snn(&[
            "train",
            "--train-samples",
            "1",
            "--label-samples",
            "1",
            "--test-samples",
            "1",
            "--config",
        ]);
        c.arg(&cfg).arg("--out").arg(out);
        if quiet {
            c.arg("--quiet");
        }
        succeeds(c)
    };
    let e = run(false);
    has_all(&e, &["warning: `stdp.tau_post1_ms` = 2 ms"]);
    assert!(!run(true).contains("warning:"));
}

// ---- networks too large for the GPU, no adapter ----

#[test]
fn a_layer_too_large_for_the_gpu_names_the_limit_and_the_ways_out() {
    let Some(ctx) = common::gpu() else { return };
    let mut spec = small_config().to_spec();
    spec.n_exc = MAX_EXC + 1;
    spec.input_delay_max_ms = None;
    let e = err_text(GpuCompetitive::new(ctx.clone(), &spec));
    has_all(
        &e,
        &[
            "n_exc",
            &format!("is {MAX_EXC}"),
            &format!("but {} are needed", MAX_EXC + 1),
            "--backend cpu",
            "smaller",
        ],
    );
    let mut spec = small_config().to_spec();
    spec.n_input = MAX_INPUTS + 1;
    has_all(
        &err_text(GpuCompetitive::new(ctx, &spec)),
        &["n_input", &format!("{}", MAX_INPUTS + 1), "--backend cpu"],
    );
}

#[test]
fn cli_a_layer_too_large_for_the_gpu() {
    if common::gpu().is_none() {
        return;
    }
    let t = TempDir::new("large");
    let n = MAX_EXC + 8;
    let cfg = preset_toml(&t, "huge.toml", |s| {
        s.replace("n_exc = 100", &format!("n_exc = {n}"))
    });
    let mut c = snn(&["train", "--backend", "gpu", "--config"]);
    c.arg(&cfg).args(TINY).arg("--out").arg(t.path("run"));
    let e = fails(c);
    has_all(
        &e,
        &[
            "n_exc",
            &format!("{n} are needed"),
            "--backend cpu",
            "smaller network",
        ],
    );
}

#[test]
fn bad_kernel_tuning_variables_name_the_variable_and_what_it_takes() {
    // Refused while the arguments are parsed, before any adapter is looked for.
    let t = TempDir::new("wg");
    let cases = [
        ("SNN_WORKGROUP_SIZE", "3", "a power of two from 1 to 1024"),
        (
            "SNN_WORKGROUP_SIZE",
            "2048",
            "a power of two from 1 to 1024",
        ),
        (
            "SNN_WORKGROUP_SIZE",
            "many",
            "a power of two from 1 to 1024",
        ),
        ("SNN_WORKGROUP_RING", "yes", "1 or 0"),
        ("SNN_UNROLL", "2", "1 or 0"),
        ("SNN_ARRIVAL_QUEUE", "on", "1 or 0"),
        ("SNN_CPU_SIMD", "bogus", "baseline, avx2, avx512"),
        ("SNN_CPU_DEPRESSION_QUEUE", "maybe", "1 or 0"),
    ];
    for (k, (var, bad, expected)) in cases.into_iter().enumerate() {
        let mut c = snn(&["train", "--backend", "gpu"]);
        c.args(TINY)
            .arg("--out")
            .arg(t.path(&format!("run{k}")))
            .env(var, bad);
        let e = fails(c);
        has_all(&e, &[var, bad, expected]);
    }
}

#[test]
fn no_adapter_says_what_to_install_and_how_to_go_on() {
    // A filter that matches nothing.
    let e = err_text(GpuContext::new(&GpuOptions {
        backends: None,
        adapter_name: Some("nonexistent-adapter-42".into()),
        ..Default::default()
    }));
    has_all(
        &e,
        &[
            "no GPU adapter found",
            "nonexistent-adapter-42",
            "mesa-vulkan-drivers",
            "--backend cpu",
        ],
    );
    // No backend at all.
    let e = err_text(GpuContext::new(&GpuOptions {
        backends: Some(wgpu::Backends::empty()),
        ..Default::default()
    }));
    has_all(
        &e,
        &["no wgpu backend selected", "vulkan, gl", "--backend cpu"],
    );
}

#[test]
fn cli_no_adapter() {
    let mut c = snn(&["train", "--backend", "gpu"]);
    c.args(TINY)
        .env("WGPU_ADAPTER_NAME", "nonexistent-adapter-42");
    let e = fails(c);
    has_all(
        &e,
        &[
            "nonexistent-adapter-42",
            "mesa-vulkan-drivers",
            "--backend cpu",
        ],
    );
    let mut c = snn(&["train", "--backend", "gpu"]);
    c.args(TINY)
        .env("SNN_WGPU_BACKEND", "vulcan")
        .env_remove("WGPU_BACKEND");
    let e = fails(c);
    has_all(
        &e,
        &[
            "SNN_WGPU_BACKEND",
            "\"vulcan\"",
            "vulkan, gl",
            "--backend cpu",
        ],
    );
}

// ---- NaN / Inf in the state ----

/// A configuration whose inhibition overflows f32 as soon as neurons fire.
fn exploding_config() -> DcConfig {
    let mut c = small_config();
    c.w_exc_inh = 3e38;
    c.w_inh_exc = 3e38;
    c.intensity_start = 8.0;
    c
}

fn check_non_finite(b: &mut dyn CompetitiveBackend, rest: RestMode) {
    let what = b.describe();
    let img = mnist::embedded(Split::Train).unwrap();
    let rates = DcConfig::rates(img.image(0), 8.0);
    let opts = PresentOptions {
        steps_on: 700,
        steps_rest: 300,
        rest,
        learn: true,
        key: 0,
    };
    let e = b.present(&rates, &opts).unwrap_err();
    let SnnError::NonFinite {
        population,
        variable,
        neuron,
        step,
    } = &e
    else {
        panic!("{what}: expected NonFinite, got {e}");
    };
    assert!(population == "exc" || population == "inh", "{what}: {e}");
    assert!(["v", "ge", "gi", "theta"].contains(&variable.as_str()));
    assert!(*neuron < 10 && *step > 0, "{what}: {e}");
    has_all(
        &e.to_string(),
        &[
            &format!("population `{population}`"),
            &format!("variable `{variable}`"),
            &format!("neuron {neuron}"),
            &format!("by step {step}"),
            "check dt",
        ],
    );
    // A frozen batch names the image.
    let batch = vec![rates.clone(), rates];
    let e = b.present_frozen_batch(&batch, &opts).unwrap_err();
    assert!(matches!(e, SnnError::NonFinite { .. }), "{what}: {e}");
    has_all(&e.to_string(), &["frozen copy, image 0 of the batch"]);
}

#[test]
fn non_finite_state_stops_both_backends_naming_population_variable_neuron_step() {
    let spec = exploding_config().to_spec();
    for rest in [RestMode::Reset, RestMode::Simulate] {
        check_non_finite(&mut CpuCompetitive::new(&spec).unwrap(), rest);
        if let Some(ctx) = common::gpu() {
            check_non_finite(&mut GpuCompetitive::new(ctx, &spec).unwrap(), rest);
        }
    }
}

#[test]
fn non_finite_state_in_k_networks_on_the_gpu_names_population_variable_and_network() {
    use snn_wgpu::backend::CompetitiveMulti;
    let Some(ctx) = common::gpu() else { return };
    let spec = exploding_config().to_spec();
    let mut other = spec.clone();
    other.seed += 1;
    let mut b = snn_wgpu::gpu::wta_multi::GpuCompetitiveMulti::new(ctx, &[spec, other]).unwrap();
    let img = mnist::embedded(Split::Train).unwrap();
    let rates = DcConfig::rates(img.image(0), 8.0);
    let opts = PresentOptions {
        steps_on: 700,
        steps_rest: 300,
        rest: RestMode::Simulate,
        learn: true,
        key: 0,
    };
    let e = b
        .present(&[
            Some((rates.as_slice(), opts)),
            Some((rates.as_slice(), opts)),
        ])
        .unwrap_err();
    let SnnError::NonFinite {
        population,
        variable,
        ..
    } = &e
    else {
        panic!("not a NonFinite error: {e}");
    };
    assert!(population.contains("(network "), "{e}");
    assert!(
        ["exc", "inh"].iter().any(|p| population.starts_with(p)),
        "{e}"
    );
    assert!(
        ["v", "ge", "gi", "theta"].contains(&variable.as_str()),
        "{e}"
    );
}

#[test]
fn cli_non_finite_state_is_an_error() {
    let t = TempDir::new("nan");
    let cfg = preset_toml(&t, "nan.toml", |s| {
        s.replace("n_exc = 100", "n_exc = 10")
            .replace("w_exc_inh = 10.4", "w_exc_inh = 3e38")
            .replace("w_inh_exc = 17.0", "w_inh_exc = 3e38")
    });
    let mut c = snn(&["train", "--config"]);
    c.arg(&cfg).args(TINY).arg("--out").arg(t.path("run"));
    let e = fails(c);
    has_all(&e, &["non-finite value in population", "variable", "step"]);
}

// ---- output that cannot be written ----

#[test]
fn an_output_path_through_a_regular_file_fails_before_training() {
    let t = TempDir::new("out-file");
    let file = t.write("a-file", b"not a folder");
    let out = file.join("run");
    let e = err_text(check_writable_dir(&out));
    has_all(&e, &[&out.display().to_string(), "regular file", "--out"]);
    let mut c = snn(&["train"]);
    c.args(TINY).arg("--out").arg(&out);
    let t0 = std::time::Instant::now();
    let e = fails(c);
    has_all(&e, &[&out.display().to_string(), "regular file", "--out"]);
    assert!(
        t0.elapsed().as_secs() < 30,
        "it should fail before training"
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"not a folder");
    assert_eq!(t.entries(""), vec!["a-file"]);
}

#[test]
fn a_failing_write_leaves_no_temp_file_and_the_old_file_untouched() {
    let t = TempDir::new("full");
    let path = t.write("network.npz", b"old network");
    // A writer that fails as a full disk does, after writing part of the file.
    let e = write_atomic(&path, |w| {
        w.write_all(&[7u8; 100_000]).unwrap();
        Err(SnnError::Io {
            path: path.clone(),
            source: std::io::Error::from(std::io::ErrorKind::StorageFull),
        })
    })
    .unwrap_err();
    has_all(&e.to_string(), &["network.npz"]);
    assert_eq!(std::fs::read(&path).unwrap(), b"old network");
    assert_eq!(t.entries(""), vec!["network.npz"]);
}

/// A 32 KiB tmpfs mounted for the test (root only; `None` where mounting is not allowed).
struct TinyFs(PathBuf);

impl TinyFs {
    fn mount(tag: &str) -> Option<TinyFs> {
        let dir = std::env::temp_dir().join(format!("snn-tinyfs-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=32k", "tmpfs"])
            .arg(&dir)
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            let _ = std::fs::remove_dir(&dir);
            println!("SKIPPED: cannot mount a tmpfs here (needs root)");
            return None;
        }
        Some(TinyFs(dir))
    }
}

impl Drop for TinyFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).output();
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Names in `dir` that look like leftovers of an interrupted write.
fn temp_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp") || n.contains("probe"))
        .collect()
}

#[test]
fn a_full_disk_fails_naming_the_file_and_leaves_no_partial_file() {
    let Some(fs) = TinyFs::mount("full") else {
        return;
    };
    // The library: saving over an older run on a full disk.
    let run = fs.0.join("old-run");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(run.join(NETWORK_FILE), b"old network").unwrap();
    let n_exc = 100;
    let net = SavedNetwork {
        n_input: 784,
        n_exc,
        // Random weights: about 300 KB that do not compress into 32 KiB.
        weights: ndarray::Array2::from_shape_fn((784, n_exc), |(j, i)| {
            snn_wgpu::encode::rng::rng_u32(1, j as u32, i as u32) as f32 / u32::MAX as f32
        }),
        theta_mv: vec![20.0; n_exc],
        assignments: vec![-1; n_exc],
        config_json: "{}".into(),
    };
    let e = save_network(&run, &net).unwrap_err().to_string();
    has_all(
        &e,
        &[
            &run.join(NETWORK_FILE).display().to_string(),
            "No space left on device",
            "disk is full",
            "--out",
        ],
    );
    assert_eq!(
        std::fs::read(run.join(NETWORK_FILE)).unwrap(),
        b"old network",
        "the older file must be untouched"
    );
    assert!(temp_files(&run).is_empty(), "{:?}", temp_files(&run));
    // The CLI: a fresh run on the full disk.
    let run = fs.0.join("run");
    let mut c = snn(&["train"]);
    c.args(TINY).arg("--out").arg(&run);
    let e = fails(c);
    has_all(
        &e,
        &[
            &run.display().to_string(),
            "No space left on device",
            "--out",
        ],
    );
    assert!(temp_files(&run).is_empty(), "{:?}", temp_files(&run));
}
