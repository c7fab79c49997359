//! Two populations on the general engine: Poisson input → LIF neurons with STDP, and a
//! sparse recurrent projection among the LIF neurons with a 2 ms delay, in two copies.
//!
//! `cargo run --release --example recurrent_stdp -- --backend cpu|gpu` (default cpu) runs it
//! on the CPU engine or on the GPU engine; both print the same rates, and the time of the
//! run (engine built, 2000 steps).
use snn_wgpu::cpu::engine::Engine;
use snn_wgpu::gpu::{GpuContext, GpuEngine, GpuOptions};
use snn_wgpu::model::net::{
    Connectivity, Delay, Delivery, MonitorKind, Network, Projection, Weights,
};
use snn_wgpu::model::{LifParams, NeuronModel, StdpParams, Target};
use snn_wgpu::SnnError;
use std::sync::Arc;
use std::time::Instant;

fn main() -> snn_wgpu::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let backend = match args.as_slice() {
        [] => "cpu",
        [flag, b] if flag == "--backend" && (b == "cpu" || b == "gpu") => b.as_str(),
        other => {
            return Err(SnnError::invalid(
                "arguments",
                other.join(" "),
                "--backend cpu or --backend gpu",
            ))
        }
    };
    let net = network();
    // The two engines share their API; each copy's rate per step, 1 s of it.
    let rates: Vec<Vec<f32>> = if backend == "gpu" {
        let ctx = Arc::new(GpuContext::new(&GpuOptions::default())?);
        println!("backend: gpu ({})", ctx.adapter_description());
        let mut sim = GpuEngine::new(ctx, &net)?;
        println!("schedule: {:?}", sim.schedule());
        let t0 = Instant::now();
        sim.run(2000)?;
        println!("run: {:.1} ms", t0.elapsed().as_secs_f64() * 1e3);
        (0..2)
            .map(|c| sim.rate_hz("rate", c))
            .collect::<Result<_, _>>()?
    } else {
        println!("backend: cpu");
        let mut sim = Engine::new(&net)?;
        let t0 = Instant::now();
        sim.run(2000)?;
        println!("run: {:.1} ms", t0.elapsed().as_secs_f64() * 1e3);
        (0..2)
            .map(|c| sim.rate_hz("rate", c))
            .collect::<Result<_, _>>()?
    };
    for (c, rate) in rates.iter().enumerate() {
        println!(
            "copy {c}: {:.3} Hz",
            rate.iter().sum::<f32>() / rate.len() as f32
        );
    }
    Ok(())
}

/// The network: 200 Poisson inputs → 100 LIF neurons (dense, with the STDP of Diehl &
/// Cook's parameters), a sparse recurrent projection with a 2 ms delay, two copies.
pub fn network() -> Network {
    let lif = LifParams {
        tau_m_ms: 20.0,
        v_rest_mv: -65.0,
    };
    let exc = NeuronModel::lif(lif, -55.0).with_refractory_ms(2.0);
    let (to_v, dense) = (Target::MEMBRANE_EXC, Connectivity::AllToAll);
    let sparse = Connectivity::FixedProbability { p: 0.1, seed: 7 };
    Network::new(0.5) // dt = 0.5 ms
        .with_seeds(vec![1, 2]) // two independent copies
        .poisson("in", 200, 20.0)
        .neurons("exc", 100, exc)
        .project(
            Projection::new("in_exc", "in", "exc", to_v, dense, 0.0)
                .with_weights(
                    Weights::Uniform {
                        low: 0.0,
                        high: 0.3,
                    },
                    0.0,
                    0.5,
                )
                .with_stdp(StdpParams::diehl_cook()),
        )
        .project(
            Projection::new("rec", "exc", "exc", to_v, sparse, 0.5)
                .with_delay(Delay::Constant(2.0), Delivery::AtArrival),
        )
        .monitor("rate", "exc", MonitorKind::Rate)
}
