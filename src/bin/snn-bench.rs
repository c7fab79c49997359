//! `snn-bench`: end-to-end timings of the real workloads, one JSON line per measurement.
//!
//! ```text
//! cargo run --release --bin snn-bench -- --quick          # under a minute
//! cargo run --release --bin snn-bench -- --presets dc100,dc400,dc1600,dc6400 --backend all
//! ```
//!
//! Measurements (medians over `--reps` after `--warmup`):
//! - `train`: one learning presentation of the Diehl & Cook protocol (350 ms on + 150 ms rest
//!   at dt = 0.5 ms, normalisation, STDP) per image: seconds per image, images/s, and the
//!   synaptic events/s implied by the input spikes drawn (`expected_input_spikes · N`);
//!   `--backend cpu,gpu` times the protocol (`DcEngine`) on the CPU and the GPU engine in
//!   one run;
//! - `train_multi`: K networks learning side by side, one presentation each per round,
//!   each network on its own engine, on rayon workers; images/s summed over the networks;
//!   then `train_batch`: the same K networks as the copies of one engine
//!   (`DcEngine::build_batch`, `present_batch`: how `snn train --networks K` trains), the
//!   same rounds;
//! - `eval`: frozen batches (labelling/test) of several sizes: images/s;
//! - `train_series` (not in the default rows): `snn train`'s own loop (`train::train_from`,
//!   the retry rule) over `--series-images` images per repetition: seconds per image and the
//!   waits for the device per image; on the GPU, series of `--presentations-per-submission`
//!   (16 where not given, llvmpipe too) beside the same images presented one at a time
//!   (judged on the host) in alternated repetitions,
//!   with the ratio of the medians (`series_over_one_at_a_time`). Without device timing
//!   (which takes a submission per presentation);
//! - `overhead_series` (GPU, not in the default rows): the presentations of `overhead` in
//!   series of `--presentations-per-submission` (16 where not given; `DcEngine::present_rounds`,
//!   one submission each) beside the same series presented one at a time, alternated, without device
//!   timing: the median wall time per presentation of each, the waits per presentation and
//!   the ratio (`series_over_one_at_a_time`);
//! - `overhead` (not in the default rows): what a training presentation costs besides its
//!   steps, from `50 · --reps` learning presentations of 2 steps on and 1 of rest
//!   (normalisation, STDP, weight check, θ's decay as in `train`): the median wall time of one
//!   (`median_us_per_presentation`), and on the GPU the median time outside its waits for the
//!   device (`median_host_us_per_presentation`) and its waits (`device_waits_per_presentation`);
//! - `neuron_steps`: one population on the general engine (conductance LIF + θ, each neuron
//!   driven one-to-one by its own Poisson source: `experiments::benchmarks::driven_population`)
//!   at N = 400 and 6400: neuron-steps/s;
//! - `coba` (not in the default rows): Brette et al. 2007 COBA (`experiments::benchmarks`,
//!   80 inputs per neuron) at each N of `--coba-n` on the general CPU engine: construction
//!   time, wall and process CPU seconds per simulated second (medians over `--reps`, at most
//!   5, segments of `--coba-seconds` after one warm-up segment), synaptic events/s (spikes
//!   times their out-degree, over the wall time), rate, and memory as the process's peak and current resident set
//!   (`VmHWM`, `VmRSS` of /proc/self/status: the whole process, not the engine alone).
//!
//!   ```text
//!   snn-bench --rows coba --backend cpu --coba-n 4000,16000,64000,256000
//!   ```
//!
//! On the GPU, where the adapter takes timestamp queries, the `train`, `train_multi` and
//! `eval` rows also split the wall time (`GpuEngineOptions::device_timing`): the median
//! device time of the passes that run the steps (`median_device_s_per_image`, `_per_round`
//! summed over the networks, `_per_batch`; `device_us_per_step`, over every step of a
//! presentation, its quiet rest included: a training image's 1,000 at dt = 0.5 ms, a frozen
//! image's 700), and of the rest
//! (`median_other_s_per_image`, `_per_batch`): the host's work, submissions, waits and
//! readbacks, plus the short normalisation and weight-check passes. They are null where the
//! adapter has no timestamp queries. The GPU `train` row also gives the host's waits for the
//! device per image (`device_waits_per_image`, read-backs, each from the end of its
//! submission to the bytes on the host) and the median time of an image outside them
//! (`median_host_us_per_image`: the host's own work, encoding and submissions included), and
//! the `train_batch` row the same per round (`device_waits_per_round`,
//! `median_host_us_per_round`).

#[path = "snn/stdout.rs"]
mod stdout;

use anyhow::{bail, Result};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use snn_wgpu::backend::{DeviceWaits, EngineChoice, Simulator};
use snn_wgpu::cpu::engine::Engine;
use snn_wgpu::data::mnist::{embedded, Split};
use snn_wgpu::experiments::benchmarks;
use snn_wgpu::experiments::diehl_cook::config::DcConfig;
use snn_wgpu::experiments::diehl_cook::engine::{DcEngine, Input};
use snn_wgpu::experiments::diehl_cook::{PresentOptions, RestMode};
use snn_wgpu::gpu::{
    GpuContext, GpuEngine, GpuEngineOptions, DEFAULT_PRESENTATIONS_PER_SUBMISSION,
};
use std::sync::Arc;
use std::time::Instant;

#[path = "flags/engine.rs"]
mod engine;

#[derive(Parser)]
#[command(
    name = "snn-bench",
    about = "Times training, evaluation and kernels; prints JSON lines"
)]
struct Args {
    #[command(flatten)]
    engine: engine::EngineArgs,
    /// Small and fast: dc100 and dc400 only, few repetitions (under a minute).
    #[arg(long)]
    quick: bool,
    /// Presets to time, comma-separated.
    #[arg(long, default_value = "dc100,dc400,dc1600,dc6400")]
    presets: String,
    /// Comma-separated: cpu, gpu; or all (both).
    #[arg(long, default_value = "all")]
    backend: String,
    /// Timed repetitions per measurement.
    #[arg(long, default_value_t = 20)]
    reps: usize,
    /// Untimed repetitions first.
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Input delays on (the paper preset) or off.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    delays: bool,
    /// Network counts K of the `train_multi` rows, comma-separated.
    #[arg(long, default_value = "1,2,4")]
    networks: String,
    /// No progress bar and no notes on stderr (the JSON lines on stdout stay).
    #[arg(long)]
    quiet: bool,
    /// Measurements to run, comma-separated: train, train_multi, eval, neuron_steps, and
    /// the non-default overhead, overhead_series, train_series and coba.
    #[arg(long, default_value = "train,train_multi,eval,neuron_steps")]
    rows: String,
    /// Batch sizes of the `eval` rows, comma-separated [default: 1,16,64,256; with --quick
    /// 1,64 on the CPU and 1,8 on the GPU].
    #[arg(long)]
    eval_batches: Option<String>,
    /// Network sizes of the `coba` rows, comma-separated.
    #[arg(long, default_value = "4000,16000,64000,256000")]
    coba_n: String,
    /// Training images per repetition of the `train_series` rows.
    #[arg(long, default_value_t = 32)]
    series_images: usize,
    /// Simulated seconds of each timed `coba` segment.
    #[arg(long, default_value_t = 0.2)]
    coba_seconds: f64,
}

/// A comma-separated list of numbers, or an error naming the flag.
fn parse_list(flag: &str, s: &str) -> Result<Vec<usize>> {
    s.split(',')
        .map(|x| x.trim())
        .filter(|x| !x.is_empty())
        .map(|x| {
            x.parse::<usize>()
                .map_err(|e| anyhow::anyhow!("{flag}: `{x}` is not a count ({e})"))
        })
        .collect()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    let n = xs.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        xs[n / 2]
    } else {
        0.5 * (xs[n / 2 - 1] + xs[n / 2])
    }
}

/// A GPU row's wall time split by the device's timestamps: medians over the repetitions of
/// the step passes' device time, and of the rest (the host's work, submissions, waits and
/// readbacks, and the short normalisation and weight-check passes), with the device time
/// per simulated step.
struct DeviceSplit {
    device_s: f64,
    other_s: f64,
    device_us_per_step: f64,
}

impl DeviceSplit {
    /// From each repetition's wall and device seconds (None unless every repetition has
    /// its device time) and the steps of one repetition.
    fn of(wall: &[f64], device: &[f64], steps: u32) -> Option<Self> {
        if device.len() != wall.len() || wall.is_empty() {
            return None;
        }
        let device_s = median(device.to_vec());
        Some(DeviceSplit {
            device_s,
            other_s: median(wall.iter().zip(device).map(|(w, d)| w - d).collect()),
            device_us_per_step: device_s * 1e6 / f64::from(steps.max(1)),
        })
    }
}

/// One call's waits for the device and its time outside them (a GPU row's host share).
struct Waited {
    count: f64,
    host_s: f64,
}

impl Waited {
    /// The waits of `e` since `w0` and the time of a call of `wall` seconds outside them;
    /// None on an engine without a device.
    fn since(e: &dyn Simulator, w0: Option<DeviceWaits>, wall: f64) -> Option<Waited> {
        let (w1, w0) = (e.device_waits()?, w0?);
        Some(Waited {
            count: (w1.count - w0.count) as f64,
            host_s: wall - (w1.seconds - w0.seconds),
        })
    }

    /// The median waits per call and host microseconds per call; None without calls.
    fn medians(calls: Vec<Waited>) -> (Option<f64>, Option<f64>) {
        if calls.is_empty() {
            return (None, None);
        }
        let (count, host): (Vec<f64>, Vec<f64>) =
            calls.into_iter().map(|w| (w.count, w.host_s)).unzip();
        (Some(median(count)), Some(median(host) * 1e6))
    }
}

struct Target {
    name: &'static str,
    adapter: String,
    ctx: Option<Arc<GpuContext>>,
    /// The engine and its options.
    choice: EngineChoice,
}

fn make(t: &Target, cfg: &DcConfig) -> Result<DcEngine> {
    Ok(DcEngine::build(&cfg.to_spec(), &t.choice)?)
}

fn main() -> Result<()> {
    let mut a = Args::parse();
    engine::warn_removed_variables();
    let mut presets: Vec<String> = a
        .presets
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if a.quick {
        presets.retain(|p| p == "dc100" || p == "dc400");
        a.reps = a.reps.min(5);
        a.warmup = a.warmup.min(1);
    }
    let mut targets = vec![];
    let cpu_opts = a.engine.cpu();
    let backends: Vec<&str> = match a.backend.as_str() {
        "all" => vec!["cpu", "gpu"],
        list => list.split(',').map(str::trim).collect(),
    };
    if let Some(bad) = backends.iter().find(|b| !["cpu", "gpu"].contains(b)) {
        bail!("--backend: unknown backend `{bad}`; give cpu, gpu (comma-separated) or all");
    }
    let wants = |b: &str| backends.contains(&b);
    if wants("cpu") {
        targets.push(Target {
            name: "cpu",
            adapter: format!(
                "cpu ({} threads, {})",
                rayon::current_num_threads(),
                cpu_opts
                    .simd
                    .unwrap_or_else(snn_wgpu::cpu::simd::SimdLevel::best)
                    .name()
            ),
            ctx: None,
            choice: EngineChoice::Cpu(cpu_opts),
        });
    }
    if wants("gpu") {
        match GpuContext::new(&a.engine.gpu()) {
            Ok(ctx) => {
                let ctx = Arc::new(ctx);
                // Device time from timestamp queries beside the wall time, where the
                // adapter has them.
                let opts = GpuEngineOptions {
                    device_timing: true,
                    ..a.engine.gpu_engine()
                };
                targets.push(Target {
                    name: "gpu",
                    adapter: ctx.adapter_description(),
                    ctx: Some(ctx.clone()),
                    choice: EngineChoice::Gpu(ctx, opts),
                });
            }
            Err(e) if a.backend != "all" => return Err(e.into()),
            Err(e) if !a.quiet => eprintln!("gpu rows skipped: {e}"),
            Err(_) => {}
        }
    }
    if targets.is_empty() {
        bail!("--backend: no backend to time");
    }
    const ROWS: [&str; 8] = [
        "train",
        "train_multi",
        "eval",
        "neuron_steps",
        "coba",
        "overhead",
        "train_series",
        "overhead_series",
    ];
    let rows: Vec<&str> = a.rows.split(',').map(str::trim).collect();
    if let Some(bad) = rows.iter().find(|r| !ROWS.contains(r)) {
        bail!(
            "--rows: unknown measurement `{bad}`; known: {}",
            ROWS.join(", ")
        );
    }
    let row = |r: &str| rows.contains(&r);
    parse_list("--networks", &a.networks)?;
    let coba_n = parse_list("--coba-n", &a.coba_n)?;
    if row("coba") && !(a.coba_seconds >= 0.001 && a.coba_seconds <= 1000.0) {
        bail!(
            "--coba-seconds {}: give 0.001 to 1000 simulated seconds",
            a.coba_seconds
        );
    }
    if let Some(b) = &a.eval_batches {
        parse_list("--eval-batches", b)?;
    }
    let images = embedded(Split::Train)?;
    // Progress on stderr (a terminal only; hidden under --quiet): one tick per measurement
    // group, so the ETA is rough where presets differ in size.
    let pb = if a.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new((presets.len() * 3 * targets.len() + 2 * targets.len()) as u64)
    };
    pb.set_style(
        ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} eta {eta} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_prefix("snn-bench");
    let step = |what: String| {
        pb.set_message(what);
    };
    for preset in &presets {
        let mut cfg = DcConfig::preset(preset)?;
        if !a.delays {
            cfg.input_delay_max_ms = 0.0;
        }
        for t in &targets {
            if row("train") {
                step(format!("train {preset} {}", t.name));
                bench_train(t, &cfg, &images, &a)?;
            }
            pb.inc(1);
            if row("train_multi") {
                step(format!("train_multi {preset} {}", t.name));
                bench_train_multi(t, &cfg, &images, &a)?;
            }
            pb.inc(1);
            if row("eval") {
                step(format!("eval {preset} {}", t.name));
                bench_eval(t, &cfg, &images, &a)?;
            }
            if row("train_series") {
                step(format!("train_series {preset} {}", t.name));
                bench_train_series(t, &cfg, &images, &a)?;
            }
            if row("overhead_series") {
                step(format!("overhead_series {preset} {}", t.name));
                bench_overhead_series(t, &cfg, &images, &a)?;
            }
            if row("overhead") {
                step(format!("overhead {preset} {}", t.name));
                bench_overhead(t, &cfg, &images, &a)?;
            }
            pb.inc(1);
        }
    }
    for n in [400u32, 6400] {
        for t in &targets {
            if row("neuron_steps") {
                step(format!("neuron_steps N={n} {}", t.name));
                bench_neuron_steps(t, n, &a)?;
            }
            pb.inc(1);
        }
    }
    if row("coba") {
        for t in &targets {
            for &n in &coba_n {
                step(format!("coba N={n} {}", t.name));
                let n = u32::try_from(n)
                    .map_err(|_| anyhow::anyhow!("--coba-n: {n} neurons is too many"))?;
                bench_coba(t, n, &a)?;
            }
        }
    }
    pb.finish_and_clear();
    Ok(())
}

/// This process's CPU time (s, all threads), where the platform gives it (Linux).
fn process_cpu_s() -> Option<f64> {
    #[cfg(target_os = "linux")]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec through a valid pointer.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
        (rc == 0).then_some(ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// `VmHWM` and `VmRSS` of this process (MiB), where /proc/self/status has them.
fn memory_mib() -> (Option<f64>, Option<f64>) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn bench_coba(t: &Target, n: u32, a: &Args) -> Result<()> {
    use snn_wgpu::cpu::engine::Recording;
    use snn_wgpu::experiments::benchmarks::{coba, sim_seconds, DT_MS};
    let t0 = Instant::now();
    let bench = coba(n, 1)?;
    let mut e = match bench.start(t.ctx.clone()) {
        Ok(e) => e,
        Err(err) => {
            // A row that says why, also under --quiet: a refused size is a result too.
            stdout::line(serde_json::json!({
                "bench": "coba", "backend": t.name, "adapter": t.adapter, "n": n,
                "skipped": err.to_string(),
            }));
            return Ok(());
        }
    };
    let build_s = t0.elapsed().as_secs_f64();
    // Out-degree of every neuron (exc then inh), for the synaptic events of its spikes.
    let n_exc = e.network().populations[0].size as usize;
    let mut out_degree = vec![0u64; n as usize];
    for p in &e.network().projections {
        let base = if p.pre == "exc" { 0 } else { n_exc };
        if let snn_wgpu::model::net::Connectivity::List(l) = &p.connectivity {
            for &(j, _) in l {
                out_degree[base + j as usize] += 1;
            }
        }
    }
    let steps = (a.coba_seconds * 1000.0 / DT_MS as f64).round().max(1.0) as u32;
    let reps = a.reps.clamp(1, 5);
    let (mut times, mut cpu, mut events, mut spikes) = (vec![], vec![], 0u64, 0u64);
    for k in 0..=reps {
        e.clear_recordings();
        let (t1, c1) = (Instant::now(), process_cpu_s());
        e.run(steps)?;
        let dt = t1.elapsed().as_secs_f64();
        if k == 0 {
            continue;
        }
        times.push(dt);
        if let (Some(a), Some(b)) = (c1, process_cpu_s()) {
            cpu.push(b - a);
        }
        for (m, base) in [("exc_spikes", 0usize), ("inh_spikes", n_exc)] {
            if let Recording::Spikes(s) = e.recording(m, 0)? {
                spikes += s.len() as u64;
                events += s
                    .iter()
                    .map(|&(_, i)| out_degree[base + i as usize])
                    .sum::<u64>();
            }
        }
    }
    let sim_s = sim_seconds(steps);
    let wall_per_sim_s = median(times.clone()) / sim_s;
    let total_wall: f64 = times.iter().sum();
    let (peak, now) = memory_mib();
    stdout::line(serde_json::json!({
        "bench": "coba", "backend": t.name, "adapter": t.adapter, "n": n,
        "synapses": bench.synapses(), "build_s": build_s, "segment_sim_s": sim_s, "reps": reps,
        "wall_s_per_sim_s": wall_per_sim_s,
        "cpu_s_per_sim_s": (!cpu.is_empty()).then(|| median(cpu) / sim_s),
        "rate_hz": spikes as f64 / (n as f64 * sim_s * reps as f64),
        "syn_events_per_s": events as f64 / total_wall,
        "peak_rss_mib": peak, "rss_mib": now,
    }));
    Ok(())
}

/// One learning presentation of the Diehl & Cook protocol, timed.
struct Timed {
    wall_s: f64,
    /// Its waits for the device and its time outside them (an engine with a device).
    waited: Option<Waited>,
    /// Device time of its step passes (where the adapter takes timestamp queries).
    device_s: Option<f64>,
}

/// Presents image `k` (of `images`, cycled; key `k`) to `b` as a training presentation of
/// `steps_on` steps and `steps_rest` of simulated rest, timed; also returns its rates.
fn present_timed(
    b: &mut DcEngine,
    cfg: &DcConfig,
    images: &snn_wgpu::data::mnist::Dataset,
    k: usize,
    (steps_on, steps_rest): (u32, u32),
) -> Result<(Timed, Vec<f32>)> {
    let rates = DcConfig::rates(images.image(k % images.len()), cfg.intensity_start);
    let opts = PresentOptions {
        steps_on,
        steps_rest,
        rest: RestMode::Simulate,
        learn: true,
        key: k as u32,
    };
    let w0 = b.engine().device_waits();
    let (t0, d0) = (Instant::now(), b.engine().device_seconds());
    b.present(&rates, &opts)?;
    let wall_s = t0.elapsed().as_secs_f64();
    let timed = Timed {
        wall_s,
        waited: Waited::since(b.engine(), w0, wall_s),
        device_s: b.engine().device_seconds().zip(d0).map(|(d1, d0)| d1 - d0),
    };
    Ok((timed, rates))
}

fn bench_train(
    t: &Target,
    cfg: &DcConfig,
    images: &snn_wgpu::data::mnist::Dataset,
    a: &Args,
) -> Result<()> {
    let mut b = make(t, cfg)?;
    let (steps_on, steps_rest) = (cfg.steps_on(), cfg.steps_rest());
    let reps = if (cfg.n_exc >= 1600 || t.ctx.is_some()) && a.quick {
        2
    } else {
        a.reps
    };
    let mut times = vec![];
    let mut device = vec![];
    let mut expected_input_spikes = 0.0f64;
    // Per repetition: the waits for the device and the time outside them.
    let mut waits = vec![];
    for k in 0..a.warmup + reps {
        let (timed, rates) = present_timed(&mut b, cfg, images, k, (steps_on, steps_rest))?;
        if k >= a.warmup {
            times.push(timed.wall_s);
            waits.extend(timed.waited);
            device.extend(timed.device_s);
            expected_input_spikes += rates
                .iter()
                .map(|r| *r as f64 * cfg.dt_ms as f64 / 1000.0)
                .sum::<f64>()
                * steps_on as f64;
        }
    }
    let split = DeviceSplit::of(&times, &device, steps_on + steps_rest);
    let med = median(times);
    let events = expected_input_spikes / reps as f64 * cfg.n_exc as f64;
    let (waits, host) = Waited::medians(waits);
    stdout::line(serde_json::json!({
        "bench": "train", "preset": cfg.preset, "backend": t.name, "adapter": t.adapter, "workgroup_size": b.engine().workgroup_size(), "engine": b.describe(), "n": cfg.n_exc,
        "dt_ms": cfg.dt_ms, "steps": steps_on + steps_rest, "input_delays": cfg.input_delay_max_ms > 0.0,
        "warmup": a.warmup, "reps": reps, "median_s_per_image": med, "images_per_s": 1.0 / med,
        "synaptic_events_per_s": events / med,
        "median_device_s_per_image": split.as_ref().map(|s| s.device_s),
        "device_us_per_step": split.as_ref().map(|s| s.device_us_per_step),
        "median_other_s_per_image": split.as_ref().map(|s| s.other_s),
        "device_waits_per_image": waits,
        "median_host_us_per_image": host,
    }));
    Ok(())
}

/// `choice` without device timing (which adds a resolve and its read-back to every
/// submission) and, where given, with `per` presentations per submission; the CPU's as it is.
fn untimed(choice: &EngineChoice, per: Option<u32>) -> EngineChoice {
    match choice {
        EngineChoice::Gpu(ctx, opts) => EngineChoice::Gpu(
            ctx.clone(),
            GpuEngineOptions {
                device_timing: false,
                presentations_per_submission: per.or(opts.presentations_per_submission),
                ..*opts
            },
        ),
        cpu => cpu.clone(),
    }
}

/// The engines of the series rows, each with its presentations per submission: on the GPU
/// one with series of `--presentations-per-submission` (16 where not given) and one that
/// presents one at a time, both without device timing (which takes a submission per
/// presentation); on the CPU, which presents one at a time, its engine.
fn series_engines(t: &Target, cfg: &DcConfig) -> Result<Vec<(u32, DcEngine)>> {
    let choices = match &t.choice {
        EngineChoice::Gpu(_, opts) => {
            let per = opts
                .presentations_per_submission
                .unwrap_or(DEFAULT_PRESENTATIONS_PER_SUBMISSION)
                .max(1);
            let with = |per| (per, untimed(&t.choice, Some(per)));
            vec![with(per), with(1)]
        }
        cpu => vec![(1, cpu.clone())],
    };
    choices
        .into_iter()
        .map(|(per, choice)| Ok((per, DcEngine::build(&cfg.to_spec(), &choice)?)))
        .collect()
}

/// `snn train`'s loop over `--series-images` images per repetition (`train_from`, a
/// continuing run): on the GPU with series of presentations in one submission and one at a
/// time (alternated repetitions of two engines trained on the same images), on the CPU one
/// at a time; the median seconds per image and waits per image, and on the GPU the ratio.
fn bench_train_series(
    t: &Target,
    cfg: &DcConfig,
    images: &snn_wgpu::data::mnist::Dataset,
    a: &Args,
) -> Result<()> {
    use snn_wgpu::experiments::diehl_cook::train::{train_from, TrainState};
    let n = a.series_images.max(1);
    let mut runs: Vec<_> = series_engines(t, cfg)?
        .into_iter()
        .map(|(per, b)| (per, b, TrainState::new(0), vec![], vec![]))
        .collect();
    for rep in 0..a.warmup + a.reps {
        for (_, b, state, times, waits) in &mut runs {
            let w0 = b.engine().device_waits();
            let t0 = Instant::now();
            train_from(b, cfg, images, (rep + 1) * n, state, |_, _, _| Ok(()))?;
            let s = t0.elapsed().as_secs_f64() / n as f64;
            if rep >= a.warmup {
                times.push(s);
                let w1 = b.engine().device_waits();
                if let (Some(w0), Some(w1)) = (w0, w1) {
                    waits.push((w1.count - w0.count) as f64 / n as f64);
                }
            }
        }
    }
    let one = runs.iter().find(|r| r.0 == 1).map(|r| median(r.3.clone()));
    for (per, b, state, times, waits) in runs {
        let med = median(times);
        stdout::line(serde_json::json!({
            "bench": "train_series", "preset": cfg.preset, "backend": t.name, "adapter": t.adapter,
            "workgroup_size": b.engine().workgroup_size(), "n": cfg.n_exc, "presentations_per_submission": per,
            // What ran: the presentations one submission holds on this engine (1 where it
            // presents one at a time whatever was asked: the passes schedule, recordings).
            "series_len": b.engine().series_len(), "engine": b.describe(),
            "images_per_rep": n, "warmup": a.warmup, "reps": a.reps, "retries": state.stats.retries,
            "median_s_per_image": med, "images_per_s": 1.0 / med,
            "device_waits_per_image": (!waits.is_empty()).then(|| median(waits)),
            "series_over_one_at_a_time": one.filter(|_| per != 1).map(|o| med / o),
        }));
    }
    Ok(())
}

/// `overhead`'s presentations (2 steps on, 1 of rest) in series of the GPU engine's
/// `presentations_per_submission`, on an engine that runs each series in one submission and
/// on one that presents them one at a time, alternated: per repetition one series each (50
/// series per `--reps`).
fn bench_overhead_series(
    t: &Target,
    cfg: &DcConfig,
    images: &snn_wgpu::data::mnist::Dataset,
    a: &Args,
) -> Result<()> {
    if t.ctx.is_none() {
        return Ok(());
    }
    let mut runs: Vec<_> = series_engines(t, cfg)?
        .into_iter()
        .map(|(per, b)| (per, b, vec![], vec![]))
        .collect();
    let per = runs[0].0;
    let opts = PresentOptions {
        steps_on: 2,
        steps_rest: 1,
        rest: RestMode::Simulate,
        learn: true,
        key: 0,
    };
    let n = 50 * a.reps;
    for rep in 0..a.warmup + n {
        let rates: Vec<Vec<f32>> = (0..per as usize)
            .map(|r| {
                let k = (rep * per as usize + r) % images.len();
                DcConfig::rates(images.image(k), cfg.intensity_start)
            })
            .collect();
        let rounds: Vec<Vec<Option<Input<'_>>>> = rates
            .iter()
            .enumerate()
            .map(|(r, x)| {
                vec![Some(Input {
                    rates_hz: x,
                    key: (rep * per as usize + r) as u32,
                })]
            })
            .collect();
        for (_, b, times, waits) in &mut runs {
            let w0 = b.engine().device_waits();
            let t0 = Instant::now();
            b.present_rounds(&rounds, &[], &opts, &[0])?;
            let s = t0.elapsed().as_secs_f64() / per as f64;
            if rep >= a.warmup {
                times.push(s);
                if let (Some(w0), Some(w1)) = (w0, b.engine().device_waits()) {
                    waits.push((w1.count - w0.count) as f64 / per as f64);
                }
            }
        }
    }
    let one = median(runs[1].2.clone());
    for (p, b, times, waits) in runs {
        let med = median(times);
        stdout::line(serde_json::json!({
            "bench": "overhead_series", "preset": cfg.preset, "backend": t.name, "adapter": t.adapter,
            "workgroup_size": b.engine().workgroup_size(), "n": cfg.n_exc, "steps": 3,
            "presentations_per_submission": p, "series_len": b.engine().series_len(),
            "engine": b.describe(), "warmup": a.warmup, "series": n,
            "median_us_per_presentation": med * 1e6,
            "device_waits_per_presentation": median(waits),
            "series_over_one_at_a_time": (p != 1).then(|| med / one),
        }));
    }
    Ok(())
}

/// What a training presentation costs besides its steps: `50 · reps` learning presentations
/// of 2 steps on and 1 of rest after `warmup` of them; the median wall time of one, and on an
/// engine with a device the median of its time outside the waits and of its waits. The GPU
/// engine runs without device timing here, as under the `overhead_series` rows (timing adds a
/// resolve and its read-back to every presentation).
fn bench_overhead(
    t: &Target,
    cfg: &DcConfig,
    images: &snn_wgpu::data::mnist::Dataset,
    a: &Args,
) -> Result<()> {
    let mut b = DcEngine::build(&cfg.to_spec(), &untimed(&t.choice, None))?;
    let n = 50 * a.reps;
    let (mut times, mut waits) = (vec![], vec![]);
    for k in 0..a.warmup + n {
        let (timed, _) = present_timed(&mut b, cfg, images, k, (2, 1))?;
        if k >= a.warmup {
            times.push(timed.wall_s);
            waits.extend(timed.waited);
        }
    }
    let (count, host) = Waited::medians(waits);
    stdout::line(serde_json::json!({
        "bench": "overhead", "preset": cfg.preset, "backend": t.name, "adapter": t.adapter, "workgroup_size": b.engine().workgroup_size(),
        "n": cfg.n_exc, "steps": 3, "warmup": a.warmup, "presentations": n,
        "median_us_per_presentation": median(times) * 1e6,
        "device_waits_per_presentation": count,
        "median_host_us_per_presentation": host,
    }));
    Ok(())
}

/// `snn train --networks K`'s training throughput: per round, one learning presentation to
/// each of K networks (seeds 0..K), all at once; images/s = K / median round time. Rows
/// `train_multi` (an engine per network, on rayon workers) and `train_batch` (one engine
/// whose copies are the networks, as `snn train --networks K` runs them).
fn bench_train_multi(
    t: &Target,
    cfg: &DcConfig,
    images: &snn_wgpu::data::mnist::Dataset,
    a: &Args,
) -> Result<()> {
    use rayon::prelude::*;
    let opts = PresentOptions {
        steps_on: cfg.steps_on(),
        steps_rest: cfg.steps_rest(),
        rest: RestMode::Simulate,
        learn: true,
        key: 0,
    };
    let seeds = |k: usize| {
        (0..k as u32).map(|seed| DcConfig {
            seed,
            ..cfg.clone()
        })
    };
    for k in parse_list("--networks", &a.networks)? {
        let k = k.max(1);
        let reps = if (cfg.n_exc >= 1600 || t.ctx.is_some()) && a.quick {
            2
        } else {
            a.reps
        };
        // Round r's images, one per network.
        let rates = |r: usize| -> Vec<Vec<f32>> {
            (0..k)
                .map(|n| {
                    DcConfig::rates(
                        images.image((r * k + n) % images.len()),
                        cfg.intensity_start,
                    )
                })
                .collect()
        };
        let mut nets = seeds(k).map(|c| make(t, &c)).collect::<Result<Vec<_>>>()?;
        // `wg`: the workgroup size of the engine that ran the row; `waits`: per round, the
        // host's waits for the device and the time outside them.
        let row = |bench: &str, wg, times: Vec<f64>, device: Vec<f64>, waits: Vec<Waited>| {
            let split = DeviceSplit::of(&times, &device, cfg.steps_on() + cfg.steps_rest());
            let med = median(times);
            let (count, host) = Waited::medians(waits);
            stdout::line(serde_json::json!({
                "bench": bench, "preset": cfg.preset, "backend": t.name, "adapter": t.adapter, "workgroup_size": wg,
                "n": cfg.n_exc, "networks": k, "dt_ms": cfg.dt_ms, "steps": cfg.steps_on() + cfg.steps_rest(),
                "input_delays": cfg.input_delay_max_ms > 0.0, "warmup": a.warmup, "reps": reps,
                "median_s_per_round": med, "images_per_s": k as f64 / med,
                "median_device_s_per_round": split.as_ref().map(|s| s.device_s),
                "device_waits_per_round": count,
                "median_host_us_per_round": host,
            }));
        };
        // Summed over the networks' engines (their passes may overlap on the device).
        let device_total = |nets: &[DcEngine]| -> Option<f64> {
            nets.iter().map(|b| b.engine().device_seconds()).sum()
        };
        let (mut times, mut device) = (vec![], vec![]);
        for r in 0..a.warmup + reps {
            let (rates, opts) = (
                rates(r),
                PresentOptions {
                    key: r as u32,
                    ..opts
                },
            );
            let (t0, d0) = (Instant::now(), device_total(&nets));
            nets.par_iter_mut()
                .zip(&rates)
                .try_for_each(|(b, x)| b.present(x, &opts).map(|_| ()))?;
            if r >= a.warmup {
                times.push(t0.elapsed().as_secs_f64());
                device.extend(device_total(&nets).zip(d0).map(|(d1, d0)| d1 - d0));
            }
        }
        let wg = nets[0].engine().workgroup_size();
        row("train_multi", wg, times, device, vec![]);
        drop(nets);
        let specs: Vec<_> = seeds(k).map(|c| c.to_spec()).collect();
        let mut batch = DcEngine::build_batch(&specs, &t.choice)?;
        let (mut times, mut device, mut waits) = (vec![], vec![], vec![]);
        for r in 0..a.warmup + reps {
            let rates = rates(r);
            let inputs: Vec<Option<Input<'_>>> = rates
                .iter()
                .map(|x| {
                    Some(Input {
                        rates_hz: x,
                        key: r as u32,
                    })
                })
                .collect();
            let w0 = batch.engine().device_waits();
            let (t0, d0) = (Instant::now(), batch.engine().device_seconds());
            batch.present_batch(&inputs, &opts)?;
            if r >= a.warmup {
                let wall = t0.elapsed().as_secs_f64();
                times.push(wall);
                let d1 = batch.engine().device_seconds();
                device.extend(d1.zip(d0).map(|(d1, d0)| d1 - d0));
                waits.extend(Waited::since(batch.engine(), w0, wall));
            }
        }
        row(
            "train_batch",
            batch.engine().workgroup_size(),
            times,
            device,
            waits,
        );
    }
    Ok(())
}

fn bench_eval(
    t: &Target,
    cfg: &DcConfig,
    images: &snn_wgpu::data::mnist::Dataset,
    a: &Args,
) -> Result<()> {
    let mut b = make(t, cfg)?;
    // --quick keeps the GPU rows small: llvmpipe runs one network per thread.
    let sizes: Vec<usize> = match (&a.eval_batches, a.quick, t.ctx.is_some()) {
        (Some(list), _, _) => parse_list("--eval-batches", list)?,
        (None, true, true) => vec![1, 8],
        (None, true, false) => vec![1, 64],
        _ => vec![1, 16, 64, 256],
    };
    for batch in sizes {
        if cfg.n_exc >= 1600 && batch > 64 && a.quick {
            continue;
        }
        let rates: Vec<Vec<f32>> = (0..batch)
            .map(|i| DcConfig::rates(images.image(i % images.len()), cfg.intensity_start))
            .collect();
        let opts = PresentOptions {
            steps_on: cfg.steps_on(),
            steps_rest: 0,
            rest: RestMode::Reset,
            learn: false,
            key: 0,
        };
        let reps = (a.reps / 4).max(2);
        let (mut times, mut device) = (vec![], vec![]);
        for k in 0..1 + reps {
            let (t0, d0) = (Instant::now(), b.engine().device_seconds());
            b.present_frozen_batch(&rates, &opts)?;
            if k >= 1 {
                times.push(t0.elapsed().as_secs_f64());
                device.extend(b.engine().device_seconds().zip(d0).map(|(d1, d0)| d1 - d0));
            }
        }
        let split = DeviceSplit::of(&times, &device, cfg.steps_on());
        let med = median(times);
        stdout::line(serde_json::json!({
            "bench": "eval", "preset": cfg.preset, "backend": t.name, "adapter": t.adapter, "workgroup_size": b.engine().workgroup_size(), "n": cfg.n_exc,
            "dt_ms": cfg.dt_ms, "steps": cfg.steps_on(), "batch": batch, "warmup": 1, "reps": reps,
            "median_s_per_batch": med, "images_per_s": batch as f64 / med,
            "median_device_s_per_batch": split.as_ref().map(|s| s.device_s),
            "median_other_s_per_batch": split.as_ref().map(|s| s.other_s),
        }));
    }
    Ok(())
}

fn bench_neuron_steps(t: &Target, n: u32, a: &Args) -> Result<()> {
    let net = benchmarks::driven_population(n, 0);
    let mut sim: Box<dyn Simulator> = match &t.ctx {
        None => Box::new(Engine::new(&net)?),
        Some(ctx) => Box::new(GpuEngine::new(ctx.clone(), &net)?),
    };
    let steps = 700u32;
    let mut times = vec![];
    for k in 0..a.warmup + a.reps.min(10) {
        // `run` returns once the device has finished (it reads the state back).
        let t0 = Instant::now();
        sim.run(steps)?;
        if k >= a.warmup {
            times.push(t0.elapsed().as_secs_f64());
        }
    }
    let med = median(times);
    stdout::line(serde_json::json!({
        "bench": "neuron_steps", "backend": t.name, "adapter": t.adapter, "n": n, "dt_ms": benchmarks::DRIVEN_DT_MS, "steps": steps,
        "warmup": a.warmup, "reps": a.reps.min(10), "median_s": med, "neuron_steps_per_s": (n as f64 * steps as f64) / med,
    }));
    Ok(())
}
