//! The seed experiment: an IF neuron whose threshold rises by 1 at every spike, defined as a
//! custom model in a few lines and run on the general GPU engine (or the CPU engine with
//! `--cpu`).
//!
//! v_threshold = 1, hard reset to 0, constant input 0.1 per step (a source that spikes at
//! every step, projected onto `v` with weight 0.1), T = 128 steps. Prints
//! `t,v,v_threshold,spike` CSV rows (state after each step) and writes
//! `adaptive_threshold.png`.
//!
//! ```text
//! cargo run --release --example adaptive_threshold            # GPU (llvmpipe if no GPU)
//! cargo run --release --example adaptive_threshold -- --cpu   # CPU reference
//! ```

#[path = "../src/bin/flags/engine.rs"]
mod engine;

use anyhow::Context;
use clap::Parser;
use plotters::prelude::*;
use snn_wgpu::backend::Simulator;
use snn_wgpu::cpu::engine::Engine;
use snn_wgpu::gpu::{GpuContext, GpuEngine};
use snn_wgpu::model::net::{Connectivity, MonitorKind, Network, Projection, Recording};
use snn_wgpu::model::*;
use std::sync::Arc;

const T: u32 = 128;

/// Flags: `--cpu` runs the CPU reference; the GPU is chosen as in `snn`.
#[derive(Parser)]
struct Args {
    /// Run on the CPU reference instead of the GPU.
    #[arg(long)]
    cpu: bool,
    #[command(flatten)]
    engine: engine::EngineArgs,
}

fn main() -> anyhow::Result<()> {
    // The model: the charge stage in WGSL and its Rust twin; θ (+1 per spike, no decay)
    // and the hard reset are the engine's.
    let if_neuron = CustomModel::new("seed_if", "o.v = s.v + x;", |s, _p, x| s[0] += x);
    let model = NeuronModel::custom(if_neuron, 1.0, ResetMode::Hard { v_reset_mv: 0.0 })
        .with_theta(ThetaParams {
            theta_init_mv: 0.0,
            theta_plus_mv: 1.0,
            tau_theta_ms: f32::INFINITY,
            frozen: false,
        });
    let state = |v: &str| MonitorKind::State {
        variable: v.into(),
        neurons: vec![0],
    };
    let net = Network::new(1.0)
        .spike_times("drive", 1, (0..T).map(|t| (0, t as f32)).collect())
        .neurons("seed", 1, model)
        .project(Projection::new(
            "drive",
            "drive",
            "seed",
            Target::MEMBRANE_EXC,
            Connectivity::OneToOne,
            0.1,
        ))
        .monitor("spikes", "seed", MonitorKind::Spikes { neurons: None })
        .monitor("v", "seed", state("v"))
        .monitor("theta", "seed", state("theta"));

    let args = Args::parse();
    let mut sim: Box<dyn Simulator> = if args.cpu {
        Box::new(Engine::new(&net)?)
    } else {
        let ctx =
            Arc::new(GpuContext::new(&args.engine.gpu()).context("no GPU adapter (try --cpu)")?);
        Box::new(GpuEngine::new(ctx, &net)?)
    };
    sim.run(T)?;
    let values = |m: &str| -> anyhow::Result<Vec<f32>> {
        match sim.recording(m, 0)? {
            Recording::State { values, .. } => Ok(values.clone()),
            other => anyhow::bail!("monitor {m}: not a state recording: {other:?}"),
        }
    };
    let (v, theta) = (values("v")?, values("theta")?);
    let spikes: Vec<u32> = match sim.recording("spikes", 0)? {
        Recording::Spikes(s) => s.iter().map(|&(t, _)| t).collect(),
        other => anyhow::bail!("monitor spikes: not a spike recording: {other:?}"),
    };
    eprintln!("backend: {}", sim.describe());

    println!("t,v,v_threshold,spike");
    for t in 0..T {
        let k = t as usize;
        println!(
            "{t},{},{},{}",
            v[k],
            1.0 + theta[k],
            spikes.contains(&t) as u8
        );
    }
    plot("adaptive_threshold.png", &v, &theta, &spikes)?;
    eprintln!("wrote adaptive_threshold.png; spikes at steps {spikes:?}");
    Ok(())
}

fn plot(path: &str, v: &[f32], theta: &[f32], spikes: &[u32]) -> anyhow::Result<()> {
    let root = BitMapBackend::new(path, (900, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let y_max = theta.iter().fold(1.0f32, |m, &th| m.max(1.0 + th)) + 0.5;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "IF neuron with a threshold rising by 1 per spike (input 0.1/step)",
            ("sans-serif", 22),
        )
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(55)
        .build_cartesian_2d(0f32..T as f32, 0f32..y_max)?;
    chart
        .configure_mesh()
        .x_desc("step t (dt = 1)")
        .y_desc("potential (arbitrary units)")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .draw()?;
    chart
        .draw_series(LineSeries::new(
            v.iter().enumerate().map(|(t, &x)| (t as f32, x)),
            BLUE.stroke_width(2),
        ))?
        .label("v (after reset)")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLUE.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(
            theta
                .iter()
                .enumerate()
                .map(|(t, &th)| (t as f32, 1.0 + th)),
            RED.stroke_width(2),
        ))?
        .label("v_threshold = 1 + θ")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED.stroke_width(2)));
    chart
        .draw_series(
            spikes
                .iter()
                .map(|&t| Circle::new((t as f32, 0.1), 4, BLACK.filled())),
        )?
        .label("spike")
        .legend(|(x, y)| Circle::new((x + 10, y), 4, BLACK.filled()));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
