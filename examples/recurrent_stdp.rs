//! Two populations on the general CPU engine: Poisson input → LIF neurons with STDP, and a
//! sparse recurrent projection among the LIF neurons with a 2 ms delay, in two copies.
use snn_wgpu::cpu::engine::Engine;
use snn_wgpu::model::net::{
    Connectivity, Delay, Delivery, MonitorKind, Network, Projection, Weights,
};
use snn_wgpu::model::{LifParams, NeuronModel, StdpParams, Target};

fn main() -> snn_wgpu::Result<()> {
    let lif = LifParams {
        tau_m_ms: 20.0,
        v_rest_mv: -65.0,
    };
    let exc = NeuronModel::lif(lif, -55.0).with_refractory_ms(2.0);
    let (to_v, dense) = (Target::MEMBRANE_EXC, Connectivity::AllToAll);
    let sparse = Connectivity::FixedProbability { p: 0.1, seed: 7 };
    let net = Network::new(0.5) // dt = 0.5 ms
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
        .monitor("rate", "exc", MonitorKind::Rate);
    let mut sim = Engine::new(&net)?;
    sim.run(2000)?; // 1 s
    let rate = sim.rate_hz("rate", 1)?; // copy 1
    println!(
        "copy 1: {:.1} Hz",
        rate.iter().sum::<f32>() / rate.len() as f32
    );
    Ok(())
}
