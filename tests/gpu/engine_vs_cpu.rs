//! The general engines against each other: one test body per network, run on the CPU engine
//! (`cpu::engine::Engine`) and on the GPU engine (`gpu::GpuEngine`) under the passes
//! schedule and, where the network fits, the fused one, with
//! every recording, weight and state variable compared **bit for bit** on a software adapter
//! (the GPU engine keeps the CPU's order of operations and float sums, and llvmpipe rounds as
//! the CPU does). On a real GPU, which may fuse a multiply and an add, spikes must still be
//! equal and state, weights and recorded values agree within `common::REL_TOL`.
//!
//! Networks: every connectivity × every target (ge, gi, excitatory and inhibitory membrane)
//! × no delay, one delay and per-synapse delays, under both deliveries; each STDP rule on a
//! dense and on a sparse projection (all-to-all pairing too, and Song et al.'s network);
//! K = 2 or 3 copies throughout; and the calls between runs (learning off, new rates, new
//! weights, normalisation).

use crate::common::{self, assert_close, gpu_ctx};
use snn_wgpu::backend::{Presentation, Simulator, Trial};
use snn_wgpu::cpu::engine::Engine;
use snn_wgpu::gpu::engine::{compose_module, compose_module_for};
use snn_wgpu::gpu::{EngineSchedule, GpuEngine, GpuEngineOptions};
use snn_wgpu::model::net::{
    Connectivity, Delay, Delivery, MonitorKind, Network, PopulationKind, Projection, Recording,
    Weights, NORM_BLOCK,
};
use snn_wgpu::model::{CondLifParams, NeuronKind, NeuronModel, StdpParams, StdpRule, Target};
use snn_wgpu::Result;

/// Everything observable after a body: recordings, weights and state of every copy.
#[derive(Debug, PartialEq)]
enum Seen {
    Spikes(Vec<(u32, u32)>),
    Counts(Vec<u32>),
    /// Float bits.
    Bits(Vec<u32>),
}

fn bits(x: &[f32]) -> Seen {
    Seen::Bits(x.iter().map(|v| v.to_bits()).collect())
}

fn observe(net: &Network, e: &dyn Simulator) -> Vec<(String, Seen)> {
    let mut out = vec![];
    for c in 0..net.batch() {
        for m in &net.monitors {
            let seen = match e.recording(&m.name, c).expect("monitor") {
                Recording::Spikes(s) => Seen::Spikes(s.clone()),
                Recording::Rate(r) => Seen::Counts(r.clone()),
                Recording::State { values, .. } => bits(values),
            };
            out.push((format!("copy {c} monitor {}", m.name), seen));
        }
        for p in &net.projections {
            let w = e.weights(&p.name, c).expect("weights");
            out.push((format!("copy {c} weights {}", p.name), bits(&w)));
        }
        for p in &net.populations {
            if let PopulationKind::Neurons(m) = &p.kind {
                for v in m.state_var_names() {
                    let s = e.state(&p.name, &v, c).expect("state");
                    out.push((format!("copy {c} {}.{v}", p.name), bits(&s)));
                }
            }
        }
    }
    out.push(("steps".into(), Seen::Counts(vec![e.step_count()])));
    out
}

/// Runs `body` on the CPU engine and on the GPU engine, under the passes schedule and,
/// where the network fits, the fused one, and asserts that everything observable is bit for
/// bit the same; returns the CPU's spike count per spike monitor of copy 0, for the caller
/// to check that the network was active.
pub(crate) fn on_both(net: &Network, body: impl Fn(&mut dyn Simulator)) -> Vec<(String, usize)> {
    on_both_to(net, body, true, None)
}

/// [`on_both`] for a network that fits the fused schedule (it fails if it does not).
pub(crate) fn on_all(net: &Network, body: impl Fn(&mut dyn Simulator)) -> Vec<(String, usize)> {
    on_both_to(net, body, true, Some(GpuEngineOptions::default()))
}

/// [`on_both`], bit for bit only where `bits` and the adapter is a software one; elsewhere
/// equal spikes and floats within `common::REL_TOL`. With `fused`, the GPU engine runs under
/// those options and the fused schedule must take the network.
pub(crate) fn on_both_to(
    net: &Network,
    body: impl Fn(&mut dyn Simulator),
    bits: bool,
    fused: Option<GpuEngineOptions>,
) -> Vec<(String, usize)> {
    let mut cpu = Engine::new(net).expect("cpu engine");
    body(&mut cpu);
    let a = observe(net, &cpu);
    let ctx = gpu_ctx();
    let exact = bits && ctx.is_software();
    let opts = fused.unwrap_or_default();
    let build = |schedule| {
        let opts = GpuEngineOptions { schedule, ..opts };
        GpuEngine::with_options(ctx.clone(), net, opts)
    };
    let mut engines = vec![build(EngineSchedule::Passes).expect("gpu engine, passes")];
    match build(EngineSchedule::Fused) {
        Ok(e) => engines.push(e),
        Err(e) if fused.is_some() => panic!("the network does not fit the fused schedule: {e}"),
        // Too large for one workgroup: forcing fused is an error that says why.
        Err(snn_wgpu::SnnError::Unsupported(m)) => assert!(m.contains("fused"), "{m}"),
        Err(e) => panic!("fused refused for another reason: {e}"),
    }
    for mut gpu in engines {
        // Subgroup operations where asked (the suite's llvmpipe has them), by default on
        // hardware that has them.
        let subgroups = opts
            .subgroups
            .unwrap_or(ctx.has_subgroups() && !ctx.is_software());
        assert_eq!(
            gpu.uses_subgroups(),
            subgroups && gpu.schedule() == EngineSchedule::Fused,
            "{}",
            gpu.describe()
        );
        body(&mut gpu);
        let b = observe(net, &gpu);
        compare(&a, &b, exact, &format!("{:?}: ", gpu.schedule()));
    }
    a.iter()
        .filter_map(|(name, s)| match s {
            Seen::Spikes(v) if name.starts_with("copy 0 ") => Some((name.clone(), v.len())),
            _ => None,
        })
        .collect()
}

/// Asserts that the GPU's observations `b` are the CPU's `a`: bit for bit where `exact`,
/// else equal spikes and floats within `common::REL_TOL`.
fn compare(a: &[(String, Seen)], b: &[(String, Seen)], exact: bool, what: &str) {
    assert_eq!(a.len(), b.len());
    for ((name, x), (_, y)) in a.iter().zip(b) {
        if let (Seen::Bits(x), Seen::Bits(y), false) = (x, y, exact) {
            // A real GPU may fuse a multiply and an add: state within the suite's tolerance.
            let f = |v: &[u32]| v.iter().map(|&b| f32::from_bits(b)).collect::<Vec<_>>();
            assert_close(&f(y), &f(x), &format!("{what}{name}"));
            continue;
        }
        if x != y {
            let detail = match (x, y) {
                (Seen::Bits(x), Seen::Bits(y)) if x.len() == y.len() => {
                    let k = x.iter().zip(y).position(|(p, q)| p != q).unwrap_or(0);
                    format!(
                        "first difference at {k}: cpu {} vs gpu {}",
                        f32::from_bits(x[k]),
                        f32::from_bits(y[k])
                    )
                }
                (Seen::Spikes(x), Seen::Spikes(y)) => {
                    let k = x.iter().zip(y).position(|(p, q)| p != q);
                    format!(
                        "{} vs {} spikes; first difference at {k:?}: cpu {:?} vs gpu {:?}",
                        x.len(),
                        y.len(),
                        k.map(|k| x[k]),
                        k.map(|k| y[k])
                    )
                }
                _ => format!("cpu {x:?} vs gpu {y:?}"),
            };
            panic!("{what}{name}: {detail}");
        }
    }
}

pub(crate) fn assert_active(counts: &[(String, usize)], at_least: usize) {
    for (name, n) in counts {
        assert!(
            *n >= at_least,
            "{name}: only {n} spikes, the test sees too little"
        );
    }
}

const DT_MS: f32 = 0.5;

/// Conductance LIF (ge, gi) with a low threshold, and LIF (membrane targets).
fn cond_model() -> NeuronModel {
    NeuronModel {
        kind: NeuronKind::CondLif(CondLifParams::diehl_cook_inhibitory()),
        ..NeuronModel::diehl_cook_inhibitory()
    }
}

fn lif_model() -> NeuronModel {
    NeuronModel::lif(
        snn_wgpu::model::LifParams {
            tau_m_ms: 10.0,
            v_rest_mv: -65.0,
        },
        -60.0,
    )
    .with_refractory_ms(1.0)
}

/// The delay variants: none, one delay, per-synapse delays drawn from a range.
fn delays() -> [Delay; 3] {
    [
        Delay::None,
        Delay::Constant(1.5),
        Delay::Range {
            min_ms: 0.0,
            max_ms: 2.5,
            seed: 9,
        },
    ]
}

/// A network whose projections all have connectivity `conn`: each target (ge and gi into
/// conductance LIF, excitatory and inhibitory membrane into LIF) under each delay variant,
/// delays delivered as `delivery`; from a Poisson source, and between the populations (so
/// both a source's spikes of the step and a population's of the step before travel).
fn connectivity_network(conn: &Connectivity, delivery: Delivery, n: u32) -> Network {
    let mut net = Network::new(DT_MS)
        .with_seeds(vec![3, 11])
        .poisson("in", n, 150.0)
        .neurons("c", n, cond_model())
        .neurons("m", n, lif_model());
    let targets = [
        ("in", "c", Target::Ge, 1.2),
        ("m", "c", Target::Gi, 0.3),
        ("in", "m", Target::MEMBRANE_EXC, 1.5),
        ("c", "m", Target::MEMBRANE_INH, 1.0),
    ];
    for (t, (pre, post, target, high)) in targets.into_iter().enumerate() {
        for (d, delay) in delays().into_iter().enumerate() {
            let name = format!("{pre}_{post}_{t}_{d}");
            let mut p = Projection::new(&name, pre, post, target, conn.clone(), high);
            // All-but-self with a constant weight and one delay is the total-minus-self
            // strategy; with per-synapse delays it is sparse.
            let weights = match (conn, &delay) {
                (Connectivity::AllButSelf, Delay::Range { .. }) | (Connectivity::List(_), _) => {
                    Weights::Array(
                        (0..p.deterministic_count(n, n).expect("known count"))
                            .map(|k| high * ((k * 7 % 11) as f32 / 11.0))
                            .collect(),
                    )
                }
                (Connectivity::AllButSelf, _) => Weights::Constant(high / 16.0),
                _ => Weights::Uniform { low: 0.0, high },
            };
            p = p.with_weights(weights, 0.0, high);
            if delay != Delay::None {
                p = p.with_delay(delay, delivery);
            }
            net = net.project(p);
        }
    }
    net.monitor("c", "c", MonitorKind::Spikes { neurons: None })
        .monitor("m", "m", MonitorKind::Spikes { neurons: None })
        .monitor("in", "in", MonitorKind::Spikes { neurons: None })
        .monitor("rate_m", "m", MonitorKind::Rate)
        .monitor(
            "v",
            "c",
            MonitorKind::State {
                variable: "v".into(),
                neurons: vec![0, n - 1, 3],
            },
        )
        .monitor(
            "gi",
            "c",
            MonitorKind::State {
                variable: "gi".into(),
                neurons: vec![1],
            },
        )
}

fn connectivities(n: u32) -> Vec<(&'static str, Connectivity)> {
    let list: Vec<(u32, u32)> = (0..n * 3)
        .map(|k| ((k * 13 + 5) % n, (k * 7 + k / n) % n))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .rev()
        .collect();
    vec![
        ("all_to_all", Connectivity::AllToAll),
        ("one_to_one", Connectivity::OneToOne),
        ("all_but_self", Connectivity::AllButSelf),
        (
            "fixed_probability",
            Connectivity::FixedProbability { p: 0.3, seed: 5 },
        ),
        (
            "fixed_in_degree",
            Connectivity::FixedInDegree { k: 6, seed: 8 },
        ),
        ("list", Connectivity::List(list)),
    ]
}

fn run_connectivity(name: &str, delivery: Delivery) {
    run_connectivity_under(name, delivery, GpuEngineOptions::default(), 40);
}

/// [`run_connectivity`] with the GPU engine under `opts` (the network must fit fused), at
/// `n` neurons per population.
fn run_connectivity_under(name: &str, delivery: Delivery, opts: GpuEngineOptions, n: u32) {
    let (_, conn) = connectivities(n)
        .into_iter()
        .find(|(c, _)| *c == name)
        .expect("a connectivity");
    let net = connectivity_network(&conn, delivery, n);
    let counts = on_both_to(
        &net,
        |e| {
            e.run(150).expect("run");
            e.run(1).expect("run");
            e.run(149).expect("run");
        },
        true,
        Some(opts),
    );
    assert_active(&counts, 5);
}

/// llvmpipe silently ends a dispatch's loops past 65,535 passes, so a fused dispatch runs
/// steps while the loop passes it has counted and one more step's worst case fit the loop
/// budget. Under a budget of 5,000 passes every step's worst case allows a few steps per
/// dispatch; counting the passes made allows more, many dispatches per submission and a
/// shorter last one (runs of 150, 1 and 149 steps), and it still gives the CPU's bits.
pub fn fused_chunks_under_a_low_loop_budget_agree() {
    // The budgets are sized for 64 invocations (a smaller workgroup makes each one pass
    // more often per step).
    let opts = GpuEngineOptions {
        loop_budget: Some(5_000),
        workgroup_size: Some(64),
        ..GpuEngineOptions::default()
    };
    let (_, conn) = connectivities(40).swap_remove(0);
    let net = connectivity_network(&conn, Delivery::AtArrival, 40);
    let fused = GpuEngineOptions {
        schedule: EngineSchedule::Fused,
        ..opts
    };
    let mut e = GpuEngine::with_options(gpu_ctx(), &net, fused).expect("fused");
    let s = e.steps_per_dispatch();
    assert!(
        (2..=8).contains(&s),
        "{s} steps per dispatch at the worst case"
    );
    // A run shorter than a dispatch's reach keeps the worst case's estimate; without a
    // budget one dispatch runs every step of a submission, after a short run too.
    e.run(1).expect("run");
    assert_eq!(e.steps_per_dispatch(), s, "after a run of one step");
    let unbudgeted = GpuEngineOptions {
        loop_budget: Some(u64::MAX),
        ..fused
    };
    let mut one = GpuEngine::with_options(gpu_ctx(), &net, unbudgeted).expect("fused");
    one.run(1).expect("run");
    assert_eq!(one.steps_per_dispatch(), u32::MAX, "without a budget");
    e.run(200).expect("run");
    let counted = e.steps_per_dispatch();
    assert!(
        counted > s && counted < 200,
        "{counted} steps per dispatch counted"
    );
    // `Auto` takes fused wherever a step fits the budget, and the passes where only each
    // pass does (a budget of 1,000 passes).
    let auto = |opts| GpuEngine::with_options(gpu_ctx(), &net, opts).expect("auto");
    assert_eq!(auto(opts).schedule(), EngineSchedule::Fused);
    let tight = GpuEngineOptions {
        loop_budget: Some(1_000),
        ..opts
    };
    assert_eq!(auto(tight).schedule(), EngineSchedule::Passes);
    run_connectivity_under("all_to_all", Delivery::AtArrival, opts, 40);
}

/// The fused module as a real GPU runs it, without a loop budget (no count checked at a
/// step's start, nor the barriers of that check), in runs of 3 steps, one dispatch each,
/// which stay under llvmpipe's loop cap: every connectivity under both deliveries, with
/// state monitors, COBA at N = 400, and a network without sources whose 400 tonic neurons
/// drive 40 more give the CPU's bits, the first two with and without subgroup operations,
/// the connectivities with them. Without sources a step keeps its barrier at the end:
/// there the next step's propagation opens it, reading the spike list of the 400 that
/// invocations 0 to 12 wrote as they emitted its 13 words just before (dropping that
/// barrier fails this test).
pub fn fused_without_a_loop_budget_agrees() {
    let no_budget = GpuEngineOptions {
        loop_budget: Some(u64::MAX),
        ..GpuEngineOptions::default()
    };
    let bench = snn_wgpu::experiments::benchmarks::coba(400, 1).expect("coba");
    // With and without subgroup operations: COBA's and the tonic network's steps have many
    // spikes in a word, which a subgroup sets at once.
    for subgroups in [Some(false), Some(true)] {
        let opts = GpuEngineOptions {
            subgroups,
            ..no_budget
        };
        fused_without_a_loop_budget_on(&bench, opts);
    }
    let opts = GpuEngineOptions {
        subgroups: Some(true),
        ..no_budget
    };
    for (name, conn) in connectivities(40) {
        for delivery in [Delivery::AtArrival, Delivery::AtEmission] {
            let net = connectivity_network(&conn, delivery, 40);
            let counts = on_both_to(
                &net,
                |e| {
                    for _ in 0..50 {
                        e.run(3).expect("run");
                    }
                },
                true,
                Some(opts),
            );
            assert!(
                counts.iter().all(|(_, n)| *n > 0),
                "{name} {delivery:?}: {counts:?}"
            );
        }
    }
}

/// COBA at N = 400 and the tonic network of [`fused_without_a_loop_budget_agrees`] under
/// `opts`.
fn fused_without_a_loop_budget_on(
    bench: &snn_wgpu::experiments::benchmarks::Benchmark,
    opts: GpuEngineOptions,
) {
    let counts = on_both_to(
        &bench.network,
        |e| {
            for (pop, var, values) in &bench.initial {
                e.set_state(pop, var, 0, values).expect("initial state");
            }
            for _ in 0..100 {
                e.run(3).expect("run");
            }
        },
        true,
        Some(opts),
    );
    assert_active(&counts, 20);
    let tonic = NeuronModel::lif(
        snn_wgpu::model::LifParams {
            tau_m_ms: 10.0,
            v_rest_mv: -55.0,
        },
        -60.0,
    )
    .with_refractory_ms(1.0);
    let net = Network::new(DT_MS)
        .neurons("big", 400, tonic)
        .neurons("post", 40, lif_model())
        .project(
            Projection::new(
                "big_post",
                "big",
                "post",
                Target::MEMBRANE_EXC,
                Connectivity::AllToAll,
                0.05,
            )
            .with_weights(
                Weights::Uniform {
                    low: 0.0,
                    high: 0.05,
                },
                0.0,
                0.05,
            ),
        )
        .monitor("big", "big", MonitorKind::Spikes { neurons: None })
        .monitor("post", "post", MonitorKind::Spikes { neurons: None });
    let v0: Vec<f32> = (0..400)
        .map(|i| -65.0 + (i * 37 % 400) as f32 / 80.0)
        .collect();
    let counts = on_both_to(
        &net,
        |e| {
            e.set_state("big", "v", 0, &v0).expect("initial state");
            for _ in 0..60 {
                e.run(3).expect("run");
            }
        },
        true,
        Some(opts),
    );
    assert_active(&counts, 20);
}

/// Every connectivity under both deliveries at 48 neurons per population with 16
/// invocations per workgroup: the passes dispatch 3 workgroups per pass (the fused schedule
/// strides 3 items per invocation), and both give the CPU's bits on llvmpipe.
pub fn several_workgroups_agree() {
    let opts = GpuEngineOptions {
        workgroup_size: Some(16),
        ..GpuEngineOptions::default()
    };
    for (name, _) in connectivities(48) {
        for delivery in [Delivery::AtArrival, Delivery::AtEmission] {
            run_connectivity_under(name, delivery, opts, 48);
        }
    }
}

/// Sparse projections without STDP are pushed: the spikes arriving in a step file their
/// synapses with their post neurons, and each post neuron sums them in ascending pre order
/// (a sort of the few filed), at emission without delay and at arrival after one delay.
/// A source firing at 1 kHz files about 18 synapses per step with each post neuron of
/// `hot_c`, past the 16 that a post neuron sorts, so many post neurons walk their synapses
/// instead, and others do not. Under both schedules: the CPU's spikes, and its bits on
/// llvmpipe.
pub fn pushed_projections_agree() {
    let n = 40;
    let sparse = |seed| Connectivity::FixedProbability { p: 0.3, seed };
    let net = Network::new(DT_MS)
        .with_seeds(vec![3, 11])
        .poisson("in", n, 150.0)
        .poisson("hot", n, 1000.0)
        .neurons("c", n, cond_model())
        .neurons("m", n, lif_model())
        .project(
            Projection::new("in_c", "in", "c", Target::Ge, sparse(5), 1.2).with_weights(
                Weights::Uniform {
                    low: 0.0,
                    high: 1.2,
                },
                0.0,
                1.2,
            ),
        )
        .project(
            Projection::new(
                "in_m",
                "in",
                "m",
                Target::MEMBRANE_EXC,
                Connectivity::FixedInDegree { k: 6, seed: 8 },
                1.5,
            )
            .with_delay(Delay::Constant(1.0), Delivery::AtArrival),
        )
        .project(
            Projection::new("c_m", "c", "m", Target::MEMBRANE_INH, sparse(9), 1.0)
                .with_delay(Delay::Constant(2.0), Delivery::AtArrival),
        )
        .project(
            Projection::new(
                "hot_c",
                "hot",
                "c",
                Target::Gi,
                Connectivity::FixedProbability { p: 0.9, seed: 4 },
                0.01,
            )
            .with_weights(
                Weights::Uniform {
                    low: 0.0,
                    high: 0.02,
                },
                0.0,
                0.02,
            ),
        )
        .monitor("c", "c", MonitorKind::Spikes { neurons: None })
        .monitor("m", "m", MonitorKind::Spikes { neurons: None });
    let mut cpu = Engine::new(&net).expect("cpu engine");
    cpu.run(300).expect("run");
    let want = observe(&net, &cpu);
    let ctx = gpu_ctx();
    for schedule in [EngineSchedule::Passes, EngineSchedule::Fused] {
        let opts = GpuEngineOptions {
            schedule,
            ..GpuEngineOptions::default()
        };
        let mut gpu = GpuEngine::with_options(ctx.clone(), &net, opts).expect("gpu engine");
        gpu.run(300).expect("run");
        let got = observe(&net, &gpu);
        compare(&want, &got, ctx.is_software(), &format!("{schedule:?}: "));
    }
    let spikes = |m: &str| match cpu.recording(m, 0).expect("monitor") {
        Recording::Spikes(s) => s.len(),
        _ => 0,
    };
    assert!(spikes("c") > 5 && spikes("m") > 5, "too few spikes");
}

/// A weight that is not finite is found alike: the GPU engine flags it on the device and
/// reads the weights back only then. Columns of one denormal weight normalised to 1 get
/// `1 / 1e-45 = inf` as their factor: the denormal becomes inf and every zero NaN. The same
/// within presentations: one that starts from weights not known finite checks them all
/// (and finds the NaN already there); after one whose check found them finite, the GPU
/// engine checks the next by the flag its writes raise (`store_weight`), with no pass over
/// the weights, and the normalisation that makes them NaN raises it.
pub fn a_weight_that_is_not_finite_is_found_alike() {
    let (n_in, n) = (40, 3);
    let net = Network::new(DT_MS)
        .poisson("in", n_in, 50.0)
        .neurons("m", n, NeuronModel::integrate_and_fire(1.0, 0.0))
        .project(Projection::new(
            "p",
            "in",
            "m",
            Target::MEMBRANE_EXC,
            Connectivity::AllToAll,
            0.01,
        ));
    // Synapse order is pre-major: synapse j·n + i; the denormals sit at row 5.
    let w: Vec<f32> = (0..n_in * n)
        .map(|k| if k / n == 5 { 1e-45 } else { 0.0 })
        .collect();
    let rates = vec![50.0; n_in as usize];
    let inputs = [Trial {
        rates_hz: &rates,
        key: 3,
    }];
    // A presentation of no steps: its normalisation (to 1) and its check.
    let present = |e: &mut dyn Simulator, normalize: bool| {
        e.present(&Presentation {
            normalize: normalize.then_some(("p", 1.0)),
            source: "in",
            inputs: &inputs,
            steps_on: 0,
            counted: "m",
            rest_steps: Some(0),
            check_weights: Some("p"),
            decay: None,
        })
        .expect("present");
        e.first_non_finite_weight("p", 0).expect("check")
    };
    let mut cpu = Engine::new(&net).expect("cpu");
    let mut gpu = GpuEngine::new(gpu_ctx(), &net).expect("gpu");
    let engines: [&mut dyn Simulator; 2] = [&mut cpu, &mut gpu];
    let mut found = vec![];
    for e in engines {
        e.run(20).expect("run");
        let before = e.first_non_finite_weight("p", 0).expect("check");
        e.set_weights("p", 0, &w).expect("weights");
        let still = e.first_non_finite_weight("p", 0).expect("check");
        e.normalize_columns("p", 1.0).expect("normalise");
        let after = e.first_non_finite_weight("p", 0).expect("check");
        // Weights not finite at its start: a presentation checks them.
        let kept = present(e, false);
        e.set_weights("p", 0, &w).expect("weights");
        let checked = present(e, false);
        let by_writes = present(e, true);
        found.push((before, still, after, kept, checked, by_writes));
    }
    let want = (None, None, Some(0), Some(0), None, Some(0));
    assert_eq!(found[0], want, "cpu");
    assert_eq!(found[1], found[0], "gpu");
}

/// The loop budget is what keeps the fused schedule right on llvmpipe: with no budget, one
/// dispatch would run a submission of 256 steps of 200 Poisson inputs at 100 Hz through
/// delays of up to 5 ms (about 1,000 loop passes per step), past the cap: llvmpipe silently
/// ends its loops, the step loop among them (the next dispatch continues from the step it
/// reached), and drops spikes; with the default budget the dispatches stop in time and give
/// the CPU's spikes. A real GPU gives them either way.
pub fn unchunked_fused_run_shows_the_loop_cap() {
    let n = 200;
    let net = Network::new(DT_MS)
        .poisson("in", n, 100.0)
        .neurons("m", n, NeuronModel::integrate_and_fire(1.0, 0.0))
        .project(
            Projection::new(
                "p",
                "in",
                "m",
                Target::MEMBRANE_EXC,
                Connectivity::AllToAll,
                0.01,
            )
            .with_delay(
                Delay::Range {
                    min_ms: 0.0,
                    max_ms: 5.0,
                    seed: 1,
                },
                Delivery::AtArrival,
            ),
        )
        .monitor("s", "m", MonitorKind::Spikes { neurons: None });
    let mut cpu = Engine::new(&net).expect("cpu");
    cpu.run(256).expect("run");
    let want = cpu.recording("s", 0).expect("spikes").clone();
    let Recording::Spikes(spikes) = &want else {
        panic!("a spike monitor")
    };
    assert!(spikes.len() > 1000, "{} spikes", spikes.len());
    let ctx = gpu_ctx();
    for budget in [None, Some(u64::MAX)] {
        let opts = GpuEngineOptions {
            schedule: EngineSchedule::Fused,
            loop_budget: budget,
            ..GpuEngineOptions::default()
        };
        let mut gpu = GpuEngine::with_options(ctx.clone(), &net, opts).expect("fused");
        gpu.run(256).expect("run");
        let got = gpu.recording("s", 0).expect("spikes");
        let chunked = gpu.steps_per_dispatch() < 256;
        assert!(chunked || !ctx.is_software(), "budget {budget:?}");
        if budget.is_none() || !ctx.is_software() {
            assert_eq!(got, &want, "budget {budget:?}");
        } else {
            assert_ne!(
                got, &want,
                "256 steps in one dispatch kept llvmpipe's loop cap"
            );
        }
    }
}

/// `n` LIF neurons `out`, each driven by its own Poisson source in `in` at `rate_hz` through
/// a one-to-one projection `p` of weight `w_mv` onto the membrane.
fn driven_one_to_one(n: u32, rate_hz: f32, w_mv: f32) -> Network {
    Network::new(DT_MS)
        .poisson("in", n, rate_hz)
        .neurons("out", n, lif_model())
        .project(Projection::new(
            "p",
            "in",
            "out",
            Target::MEMBRANE_EXC,
            Connectivity::OneToOne,
            w_mv,
        ))
}

/// Under the fused schedule a population of at most 16 neurons per invocation keeps its state
/// in registers across a dispatch (one neuron per invocation, spike words gathered in
/// workgroup memory), and a Poisson source draws one neuron per invocation; larger ones
/// (a population fits only without incoming projections) run 32 neurons per invocation
/// through memory. All four beside each other, with a state monitor (the state goes to
/// memory every step) and without: the CPU's bits.
pub fn neurons_in_registers_and_in_memory_agree() {
    // 300 self-driven neurons (resting above threshold) at 16 invocations: 19 per invocation.
    let driven = NeuronModel::lif(
        snn_wgpu::model::LifParams {
            tau_m_ms: 10.0,
            v_rest_mv: -50.0,
        },
        -60.0,
    )
    .with_refractory_ms(1.0);
    // Poisson sources alike: `in` (40) one per invocation, `noise` (300) 32 per invocation.
    let base = driven_one_to_one(40, 200.0, 4.0)
        .neurons("big", 300, driven)
        .poisson("noise", 300, 40.0)
        .project(Projection::new(
            "np",
            "noise",
            "out",
            Target::MEMBRANE_EXC,
            Connectivity::AllToAll,
            0.05,
        ))
        .project(
            Projection::new(
                "in_delayed",
                "in",
                "out",
                Target::MEMBRANE_EXC,
                Connectivity::AllToAll,
                0.1,
            )
            .with_delay(
                Delay::Range {
                    min_ms: 0.0,
                    max_ms: 2.0,
                    seed: 3,
                },
                Delivery::AtEmission,
            ),
        )
        .monitor("noise", "noise", MonitorKind::Spikes { neurons: None })
        .monitor("in", "in", MonitorKind::Spikes { neurons: None })
        .monitor("out", "out", MonitorKind::Spikes { neurons: None })
        .monitor("big", "big", MonitorKind::Spikes { neurons: None });
    let monitored = base.clone().monitor(
        "v",
        "big",
        MonitorKind::State {
            variable: "v".into(),
            neurons: vec![0, 299],
        },
    );
    let opts = GpuEngineOptions {
        workgroup_size: Some(16),
        ..GpuEngineOptions::default()
    };
    for net in [base, monitored] {
        let counts = on_both_to(
            &net,
            |e| {
                let v: Vec<f32> = (0..300).map(|i| -70.0 + (i % 23) as f32).collect();
                e.set_state("big", "v", 0, &v).expect("set v");
                e.run(150).expect("run");
                e.run(90).expect("run");
            },
            true,
            Some(opts),
        );
        assert!(counts.iter().all(|(_, n)| *n > 50), "{counts:?}");
    }
}

/// A population past 16 neurons per invocation does not fit the fused schedule: `Auto`
/// takes the passes, and forcing fused is an error that names the pass and the rule.
pub fn fused_is_refused_where_the_network_does_not_fit() {
    let net = driven_one_to_one(2048, 10.0, 1.0);
    let ctx = gpu_ctx();
    let auto = GpuEngine::new(ctx.clone(), &net).expect("passes");
    assert_eq!(auto.schedule(), EngineSchedule::Passes);
    assert_eq!(auto.steps_per_dispatch(), 1);
    let forced = GpuEngineOptions {
        schedule: EngineSchedule::Fused,
        ..GpuEngineOptions::default()
    };
    match GpuEngine::with_options(ctx, &net, forced) {
        Err(snn_wgpu::SnnError::Unsupported(m)) => {
            assert!(m.contains("propagate_0") && m.contains("at most 16"), "{m}")
        }
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(_) => panic!("fused built for 32 neurons per invocation"),
    }
}

pub fn all_to_all_at_emission_agrees() {
    run_connectivity("all_to_all", Delivery::AtEmission);
}
pub fn all_to_all_at_arrival_agrees() {
    run_connectivity("all_to_all", Delivery::AtArrival);
}
pub fn one_to_one_at_emission_agrees() {
    run_connectivity("one_to_one", Delivery::AtEmission);
}
pub fn one_to_one_at_arrival_agrees() {
    run_connectivity("one_to_one", Delivery::AtArrival);
}
pub fn all_but_self_at_emission_agrees() {
    run_connectivity("all_but_self", Delivery::AtEmission);
}
pub fn all_but_self_at_arrival_agrees() {
    run_connectivity("all_but_self", Delivery::AtArrival);
}
pub fn fixed_probability_at_emission_agrees() {
    run_connectivity("fixed_probability", Delivery::AtEmission);
}
pub fn fixed_probability_at_arrival_agrees() {
    run_connectivity("fixed_probability", Delivery::AtArrival);
}
pub fn fixed_in_degree_at_emission_agrees() {
    run_connectivity("fixed_in_degree", Delivery::AtEmission);
}
pub fn fixed_in_degree_at_arrival_agrees() {
    run_connectivity("fixed_in_degree", Delivery::AtArrival);
}
pub fn list_at_emission_agrees() {
    run_connectivity("list", Delivery::AtEmission);
}
pub fn list_at_arrival_agrees() {
    run_connectivity("list", Delivery::AtArrival);
}

/// Given spike times into IF neurons, relayed one-to-one: the spike-time source's word
/// search, and three copies.
pub fn spike_times_relay_agrees() {
    let if_model = NeuronModel::integrate_and_fire(1.0, 0.0);
    let spikes: Vec<(u32, f32)> = (0..70u32)
        .map(|k| ((k * 17) % 70, (k * 3 % 40) as f32 * 0.75))
        .collect();
    let net = Network::new(DT_MS)
        .with_seeds(vec![1, 2, 3])
        .spike_times("src", 70, spikes)
        .neurons("a", 70, if_model.clone())
        .neurons("b", 70, if_model)
        .project(
            Projection::new(
                "s_a",
                "src",
                "a",
                Target::MEMBRANE_EXC,
                Connectivity::OneToOne,
                1.0,
            )
            .with_delay(Delay::Constant(2.0), Delivery::AtEmission),
        )
        .project(
            Projection::new(
                "a_b",
                "a",
                "b",
                Target::MEMBRANE_EXC,
                Connectivity::AllToAll,
                0.02,
            )
            .with_weights(
                Weights::Uniform {
                    low: 0.0,
                    high: 0.05,
                },
                0.0,
                0.05,
            )
            .with_delay(
                Delay::Range {
                    min_ms: 0.5,
                    max_ms: 3.0,
                    seed: 2,
                },
                Delivery::AtArrival,
            ),
        )
        .monitor("a", "a", MonitorKind::Spikes { neurons: None })
        .monitor(
            "b",
            "b",
            MonitorKind::Spikes {
                neurons: Some(vec![0, 5, 69]),
            },
        );
    let counts = on_all(&net, |e| e.run(80).expect("run"));
    assert!(counts[0].1 >= 60, "{counts:?}");
}

fn rules() -> [(&'static str, StdpRule); 4] {
    [
        ("pair", StdpRule::Pair),
        ("pair_all_to_all", StdpRule::PairAllToAll),
        ("triplet", StdpRule::Triplet),
        (
            "weight_dependent",
            StdpRule::WeightDependent {
                x_tar: 0.2,
                mu: 1.0,
            },
        ),
    ]
}

/// Poisson input → conductance LIF with θ through a plastic projection (`conn`), with
/// delays under `delivery`, and lateral inhibition; a plastic recurrent sparse projection.
fn plastic_network(rule: StdpRule, conn: Connectivity, delivery: Delivery) -> Network {
    plastic_network_delayed(rule, conn, delivery, input_delays())
}

/// The per-synapse input delays of the plastic test networks: 0–2 ms.
fn input_delays() -> Delay {
    Delay::Range {
        min_ms: 0.0,
        max_ms: 2.0,
        seed: 3,
    }
}

/// [`plastic_network`] with the input projection's delays `delay`.
fn plastic_network_delayed(
    rule: StdpRule,
    conn: Connectivity,
    delivery: Delivery,
    delay: Delay,
) -> Network {
    plastic_network_inputs(rule, conn, delivery, delay, 60, 120.0)
}

/// [`plastic_network_delayed`] with `n_in` inputs at `rate_hz`.
fn plastic_network_inputs(
    rule: StdpRule,
    conn: Connectivity,
    delivery: Delivery,
    delay: Delay,
    n_in: u32,
    rate_hz: f32,
) -> Network {
    let n = 24;
    let stdp = StdpParams {
        rule,
        nu_pre: 2e-3,
        nu_post: 2e-2,
        ..StdpParams::diehl_cook()
    };
    let mut exc = cond_model();
    exc.theta = Some(snn_wgpu::model::ThetaParams {
        theta_init_mv: 0.0,
        theta_plus_mv: 0.5,
        tau_theta_ms: 200.0,
        frozen: false,
    });
    Network::new(DT_MS)
        .with_seeds(vec![4, 5])
        .poisson("in", n_in, rate_hz)
        .neurons("exc", n, exc)
        .neurons("lif", n, lif_model())
        .project(
            Projection::new("in_exc", "in", "exc", Target::Ge, conn, 0.0)
                .with_weights(
                    Weights::Uniform {
                        low: 0.0,
                        high: 0.3,
                    },
                    0.0,
                    0.5,
                )
                .with_delay(delay, delivery)
                .with_stdp(stdp),
        )
        .project(Projection::new(
            "inhib",
            "exc",
            "exc",
            Target::Gi,
            Connectivity::AllButSelf,
            0.5,
        ))
        .project(
            Projection::new(
                "exc_lif",
                "exc",
                "lif",
                Target::MEMBRANE_EXC,
                Connectivity::FixedProbability { p: 0.4, seed: 1 },
                0.0,
            )
            .with_weights(
                Weights::Uniform {
                    low: 1.0,
                    high: 4.0,
                },
                0.0,
                6.0,
            )
            .with_delay(Delay::Constant(1.0), Delivery::AtArrival)
            .with_stdp(stdp),
        )
        .monitor("exc", "exc", MonitorKind::Spikes { neurons: None })
        .monitor("lif", "lif", MonitorKind::Spikes { neurons: None })
}

fn run_plastic(rule: &str, sparse: bool) {
    let (_, rule) = rules().into_iter().find(|(r, _)| *r == rule).expect("rule");
    for delivery in [Delivery::AtEmission, Delivery::AtArrival] {
        let conn = if sparse {
            Connectivity::FixedProbability { p: 0.5, seed: 6 }
        } else {
            Connectivity::AllToAll
        };
        let net = plastic_network(rule, conn, delivery);
        let counts = on_all(&net, |e| {
            let before = e.weights("in_exc", 1).expect("w");
            e.run(300).expect("run");
            assert_ne!(
                e.weights("in_exc", 1).expect("w"),
                before,
                "STDP changed nothing"
            );
            e.normalize_columns("in_exc", 3.0).expect("normalize");
            e.run(100).expect("run");
        });
        assert_active(&counts, 10);
    }
}

/// `net` (of [`plastic_network_inputs`]) learns 300 steps, has `in_exc` normalised and
/// learns 100 more alike on every engine, and is active.
fn learning_agrees(net: &Network, what: &str) {
    let counts = on_all(net, |e| {
        e.run(300).expect("run");
        e.normalize_columns("in_exc", 3.0).expect("normalize");
        e.run(100).expect("run");
    });
    assert_active(&counts, 10);
    eprintln!("{what}: agree");
}

/// A plastic all-to-all projection with per-synapse delays keeps its last arrivals per pre
/// neuron and delay (buckets), recorded from the pre population's spike list; past 1,024
/// inputs there is no list and the buckets are recorded from the spike words. Both
/// pairings (all-to-all keeps a trace per bucket), both deliveries: the CPU's bits.
pub fn bucketed_arrivals_without_a_spike_list_agree() {
    for (name, rule) in rules().into_iter().take(3) {
        for delivery in [Delivery::AtEmission, Delivery::AtArrival] {
            let (conn, delay) = (Connectivity::AllToAll, input_delays());
            let net = plastic_network_inputs(rule, conn, delivery, delay, 1100, 6.5);
            learning_agrees(&net, &format!("{name}, {delivery:?}"));
        }
    }
}

/// Copies with delays of their own (`Delay::PerCopy`, the longest differing between them):
/// dense (buckets, arrival queues) and sparse, both deliveries, all-to-all pairing and the
/// triplet rule, through a state taken and set again: the CPU's bits.
pub fn copies_with_delays_of_their_own_agree() {
    let own = |n_syn: usize| {
        Delay::PerCopy(
            (0..2)
                .map(|c| {
                    let (mul, span) = [(7, 4), (11, 6)][c];
                    (0..n_syn)
                        .map(|k| ((k * mul) % span) as f32 * DT_MS)
                        .collect()
                })
                .collect(),
        )
    };
    for (_, rule) in rules().into_iter().skip(1).take(2) {
        for delivery in [Delivery::AtEmission, Delivery::AtArrival] {
            let conns = [
                (Connectivity::AllToAll, 60 * 24),
                (Connectivity::FixedInDegree { k: 40, seed: 6 }, 40 * 24),
            ];
            for (conn, n_syn) in conns {
                let net = plastic_network_delayed(rule, conn, delivery, own(n_syn));
                // The state goes through the host and back (each copy's last arrivals
                // by its own delays) between the two runs.
                let counts = on_all(&net, |e| {
                    e.run(300).expect("run");
                    e.normalize_columns("in_exc", 3.0).expect("normalize");
                    let st = e.network_state().expect("state");
                    e.set_network_state(&st).expect("same network");
                    e.run(100).expect("run");
                });
                assert_active(&counts, 10);
            }
        }
    }
}

/// Copies with weights of their own (`Weights::PerCopy`) and shared delays: frozen trials
/// from one copy, then the other, then the first again (the GPU's trials share one engine
/// while the delays are shared, each chunk taking its copy's learnt weights), give the CPU's
/// counts, and the two copies' trials differ.
pub fn trials_of_copies_with_weights_of_their_own_agree() {
    let mut net = plastic_network(StdpRule::Pair, Connectivity::AllToAll, Delivery::AtEmission);
    let n_syn = 60 * 24;
    let p = net.projections.iter_mut().find(|p| p.name == "in_exc");
    p.expect("in_exc").weights = Weights::PerCopy(
        (0..2)
            .map(|c| {
                (0..n_syn)
                    .map(|k| ((k * (7 + 4 * c)) % 13) as f32 * 0.03)
                    .collect()
            })
            .collect(),
    );
    let rates: Vec<Vec<f32>> = (0..3).map(|k| vec![60.0 + 20.0 * k as f32; 60]).collect();
    let trials = common::trials(&rates, 40);
    let body = |e: &mut dyn Simulator| {
        e.run(200).expect("run");
        [1, 0, 1]
            .map(|c| e.run_trials(c, "in", &trials, 150, "exc").expect("trials"))
            .to_vec()
    };
    let mut cpu = Engine::new(&net).expect("cpu engine");
    let want = body(&mut cpu);
    assert_ne!(want[0], want[1], "the copies' trials should differ");
    assert_eq!(want[0], want[2], "trials leave the engine as it was");
    assert!(
        want[1].iter().flatten().sum::<u32>() > 0,
        "the trials are silent"
    );
    let mut gpu = GpuEngine::new(gpu_ctx(), &net).expect("gpu engine");
    assert_eq!(body(&mut gpu), want, "trial counts, copies 1, 0, 1");
}

/// [`plastic_network_inputs`] (pair rule, input delays, `n_in` inputs at 120 Hz) where only
/// arrivals change `in_exc`'s weights: ν_pre = 0 makes every depression +0, and the
/// excitatory neurons are kept silent, so that no potentiation clamps a column.
fn arrivals_only(conn: Connectivity, delivery: Delivery, n_in: u32) -> Network {
    let mut net =
        plastic_network_inputs(StdpRule::Pair, conn, delivery, input_delays(), n_in, 120.0);
    let p = net.projections.iter_mut().find(|p| p.name == "in_exc");
    p.and_then(|p| p.stdp.as_mut()).expect("in_exc").nu_pre = 0.0;
    let exc = net.populations.iter_mut().find(|p| p.name == "exc");
    match exc.map(|p| &mut p.kind) {
        Some(PopulationKind::Neurons(m)) => {
            m.theta.as_mut().expect("theta").theta_init_mv = 1.0e4;
        }
        _ => panic!("exc"),
    }
    net
}

/// With buckets a depression of +0 is skipped unless the post neuron's column may hold a
/// weight outside `[w_min, w_max]` ("loose", after a normalisation past `w_max`): there every
/// arrival still clamps its weight. ν_pre = 0 makes every depression +0, so loose columns
/// are the only ones that change at arrivals (the excitatory neurons kept silent, so that no
/// potentiation clamps a column).
pub fn loose_columns_are_clamped_alike() {
    // `restore`: the state goes through a snapshot after the normalisation (the engine
    // derives the flags from the weights).
    for (delivery, restore) in [
        (Delivery::AtEmission, false),
        (Delivery::AtArrival, false),
        (Delivery::AtEmission, true),
    ] {
        let net = arrivals_only(Connectivity::AllToAll, delivery, 60);
        on_all(&net, |e| {
            e.run(50).expect("run");
            // Column sums of 40 over 60 inputs: most weights past w_max = 0.5.
            e.normalize_columns("in_exc", 40.0).expect("normalize");
            if restore {
                let st = e.network_state().expect("state");
                e.set_network_state(&st).expect("restore");
            }
            let past = |e: &dyn Simulator| {
                let w = e.weights("in_exc", 0).expect("w");
                w.iter().filter(|&&x| x > 0.5).count()
            };
            let before = past(e);
            assert!(before > 500, "{before} weights past w_max: no loose column");
            e.run(10).expect("run");
            let after = past(e);
            assert!(
                after > 0 && after < before,
                "{before} → {after} weights past w_max"
            );
            e.run(100).expect("run");
        });
    }
}

/// Normalisation sums a column in blocks of `NORM_BLOCK` synapses (the GPU's blocks in
/// parallel, then the blocks' sums in order): over 150 inputs (blocks of 64, 64 and 22; under
/// fixed probability columns of about 105 synapses, their blocks ending at other inputs)
/// with weights over three decades, both engines give the same weights, bit for bit on
/// llvmpipe. All-to-all, with weights that end above `w_max` in the last block of each
/// column only: the column is loose (`loose_columns_are_clamped_alike`) on both, its
/// arrivals clamp those weights.
pub fn normalisation_in_blocks_agrees() {
    let n_in = 150;
    assert!(n_in > 2 * NORM_BLOCK as u32, "three blocks");
    for conn in [
        Connectivity::AllToAll,
        Connectivity::FixedProbability { p: 0.7, seed: 3 },
    ] {
        let dense = conn == Connectivity::AllToAll;
        let net = arrivals_only(conn, Delivery::AtEmission, n_in);
        let n_post = 24;
        on_all(&net, |e| {
            for c in 0..2 {
                let n_syn = e.weights("in_exc", c).expect("w").len();
                let w: Vec<f32> = (0..n_syn)
                    .map(|k| match dense {
                        // Synapse k = j·n_post + i: the last block's inputs weigh most.
                        true if k / n_post >= 2 * NORM_BLOCK => 0.45,
                        true => 1e-3,
                        false => {
                            let x = (k as u32 + 7 * c as u32).wrapping_mul(2_654_435_761) >> 8;
                            0.5 * 10f32.powf(-3.0 * x as f32 / (1u32 << 24) as f32)
                        }
                    })
                    .collect();
                e.set_weights("in_exc", c, &w).expect("set weights");
            }
            e.normalize_columns("in_exc", 30.0).expect("normalize");
            if dense {
                let past = |e: &dyn Simulator| {
                    let w = e.weights("in_exc", 0).expect("w");
                    let past: Vec<usize> = (0..w.len()).filter(|&k| w[k] > 0.5).collect();
                    assert!(past.iter().all(|k| k / n_post >= 2 * NORM_BLOCK));
                    past.len()
                };
                let before = past(e);
                assert_eq!(before, 22 * n_post, "the last block past w_max");
                e.run(60).expect("run");
                let after = past(e);
                assert!(after < before, "{before} → {after} weights past w_max");
            } else {
                e.run(20).expect("run");
            }
        });
    }
}

/// A column of 40,000 synapses normalises and is checked on llvmpipe as on the CPU: by
/// blocks of `NORM_BLOCK`, no invocation comes near llvmpipe's loop cap (one invocation per
/// column made 80,000 loop passes to normalise it, and the engine refused the network).
pub fn a_long_column_normalises_alike() {
    let n_in = 40_000;
    let net = Network::new(DT_MS)
        .poisson("in", n_in, 5.0)
        .neurons("m", 2, NeuronModel::integrate_and_fire(1.0, 0.0))
        .project(
            Projection::new(
                "p",
                "in",
                "m",
                Target::MEMBRANE_EXC,
                Connectivity::AllToAll,
                0.0,
            )
            .with_weights(
                Weights::Uniform {
                    low: 0.0,
                    high: 1e-3,
                },
                0.0,
                1.0,
            ),
        )
        .monitor("m", "m", MonitorKind::Spikes { neurons: None });
    // The passes schedule (1,250 input words do not fit one workgroup).
    let body = |e: &mut dyn Simulator| {
        e.normalize_columns("p", 2.0).expect("normalize");
        assert_eq!(e.first_non_finite_weight("p", 0).expect("check"), None);
        e.run(20).expect("run");
    };
    on_both_to(&net, body, true, None);
}

/// A plastic all-to-all projection with one delay for every synapse (none, and 1.5 ms),
/// where the CPU depresses the arriving rows and records their arrivals as vectors.
pub fn uniform_delay_stdp_dense_agrees() {
    for (name, rule) in rules().into_iter().take(3) {
        for delay_ms in [0.0, 1.5] {
            let delay = Delay::Constant(delay_ms);
            let net =
                plastic_network_delayed(rule, Connectivity::AllToAll, Delivery::AtEmission, delay);
            learning_agrees(&net, &format!("{name}, {delay_ms} ms"));
        }
    }
}

pub fn pair_stdp_dense_agrees() {
    run_plastic("pair", false);
}
pub fn pair_stdp_sparse_agrees() {
    run_plastic("pair", true);
}
pub fn pair_all_to_all_stdp_dense_agrees() {
    run_plastic("pair_all_to_all", false);
}
pub fn pair_all_to_all_stdp_sparse_agrees() {
    run_plastic("pair_all_to_all", true);
}
pub fn triplet_stdp_dense_agrees() {
    run_plastic("triplet", false);
}
pub fn triplet_stdp_sparse_agrees() {
    run_plastic("triplet", true);
}
pub fn weight_dependent_stdp_dense_agrees() {
    run_plastic("weight_dependent", false);
}
pub fn weight_dependent_stdp_sparse_agrees() {
    run_plastic("weight_dependent", true);
}

/// The weight-dependent rule with μ ≠ 1 takes a `pow`, which neither WGSL nor llvmpipe
/// rounds as Rust's `powf` does (weights differ in the last bit): spikes equal, weights and
/// state within `common::REL_TOL`.
pub fn weight_dependent_stdp_with_fractional_mu_agrees_within_tolerance() {
    let rule = StdpRule::WeightDependent {
        x_tar: 0.2,
        mu: 0.9,
    };
    for conn in [
        Connectivity::AllToAll,
        Connectivity::FixedProbability { p: 0.5, seed: 6 },
    ] {
        let net = plastic_network(rule, conn, Delivery::AtArrival);
        let counts = on_both_to(
            &net,
            |e| e.run(400).expect("run"),
            false,
            Some(GpuEngineOptions::default()),
        );
        assert_active(&counts, 10);
    }
}

/// The calls between runs: learning off and on, new rates for one copy, new weights for
/// one copy, normalisation; and runs longer than one submission.
pub fn calls_between_runs_agree() {
    let net = plastic_network(
        StdpRule::Triplet,
        Connectivity::AllToAll,
        Delivery::AtEmission,
    );
    let counts = on_all(&net, |e| {
        e.run(200).expect("run");
        e.set_learning(false);
        e.run(50).expect("run");
        let rates: Vec<f32> = (0..60).map(|i| (i % 5) as f32 * 40.0).collect();
        e.set_rates("in", 1, &rates).expect("rates");
        e.set_learning(true);
        e.run(100).expect("run");
        let w: Vec<f32> = e
            .weights("exc_lif", 0)
            .expect("w")
            .iter()
            .map(|x| x * 0.5)
            .collect();
        e.set_weights("exc_lif", 0, &w).expect("set");
        e.normalize_columns("exc_lif", 10.0).expect("normalize");
        e.run(600).expect("run");
    });
    assert_active(&counts, 10);
}

/// Arrival queues change speed only. A plastic projection delivered at emission with
/// per-synapse delays, dense and sparse, under every rule with all-to-all pairing's trace
/// record, with queues of 1 and 2 synapses (most slots overflow: every post neuron checks
/// the delay window there), 32 (the default) and none, fused under the default budget and
/// under a low one (where a step with an overflowed slot must fit its check of the window
/// too): the CPU's bits at every capacity, through the calls that leave arrivals due
/// outside the queues (learning off then on with spikes in flight, a state restored
/// mid-flight, a rest).
pub fn arrival_queues_agree_at_every_capacity() {
    let body = |e: &mut dyn Simulator| {
        e.run(120).expect("run");
        e.set_learning(false);
        e.run(3).expect("run");
        e.set_learning(true);
        e.run(60).expect("run");
        let st = e.network_state().expect("state");
        e.run(9).expect("run");
        e.set_network_state(&st).expect("restore");
        e.run(60).expect("run");
        e.rest(1).expect("rest");
        e.run(200).expect("run");
    };
    for conn in [
        Connectivity::AllToAll,
        Connectivity::FixedProbability { p: 0.5, seed: 6 },
    ] {
        let net = plastic_network(StdpRule::PairAllToAll, conn, Delivery::AtEmission);
        for (cap, budget) in [
            (1, None),
            (1, Some(3_000)),
            (2, None),
            (32, None),
            (0, None),
        ] {
            let opts = GpuEngineOptions {
                arrival_queue: cap,
                loop_budget: budget,
                ..GpuEngineOptions::default()
            };
            let counts = on_both_to(&net, body, true, Some(opts));
            assert_active(&counts, 10);
        }
    }
}

/// Where a sparse projection's arrival queues overflow, the step's check of the delay window
/// searches each spike's row for its post neuron, and under the fused schedule the kernel
/// counts those searches too in the step's worst case before it starts it: a dispatch of
/// such steps stops before llvmpipe's loop cap. A burst of about 40 input spikes per step
/// over a 10 ms delay window with queues of one synapse, under a budget of 65,000 loop
/// passes: counted without the searches, a dispatch's last step ran past the cap (65,535)
/// and lost loop passes.
pub fn overflowed_sparse_arrivals_count_their_searches() {
    let net = plastic_network_inputs(
        StdpRule::PairAllToAll,
        Connectivity::FixedProbability { p: 0.5, seed: 6 },
        Delivery::AtEmission,
        Delay::Range {
            min_ms: 0.0,
            max_ms: 10.0,
            seed: 3,
        },
        200,
        400.0,
    );
    // A budget just under the cap, so that a step counted short runs past the cap.
    let opts = GpuEngineOptions {
        arrival_queue: 1,
        loop_budget: Some(65_000),
        ..GpuEngineOptions::default()
    };
    let counts = on_both_to(&net, |e| e.run(200).expect("run"), true, Some(opts));
    assert_active(&counts, 10);
}

/// Under the fused schedule a step whose slot's arrival queues overflowed also checks the
/// delay window, and the kernel adds that check's loop passes to the step's worst case
/// before it starts it. Under a budget that leaves room for the worst case without the
/// check only (one step per dispatch), such a step cannot start: the run is an error that
/// says why, never a run past the budget.
pub fn an_overflowed_step_past_the_loop_budget_is_an_error() {
    let net = plastic_network(
        StdpRule::PairAllToAll,
        Connectivity::AllToAll,
        Delivery::AtEmission,
    );
    let ctx = gpu_ctx();
    let fused = |budget| GpuEngineOptions {
        schedule: EngineSchedule::Fused,
        loop_budget: Some(budget),
        arrival_queue: 1,
        ..GpuEngineOptions::default()
    };
    // The worst case of one step, from the steps per dispatch under a large budget.
    let big = 1_000_000_000u64;
    let e = GpuEngine::with_options(ctx.clone(), &net, fused(big)).expect("fused");
    let per_step = (big - 1) / e.steps_per_dispatch() as u64;
    let mut e = GpuEngine::with_options(ctx.clone(), &net, fused(per_step + 1)).expect("fused");
    assert_eq!(e.steps_per_dispatch(), 1);
    let err = e.run(300).expect_err("an overflowed step past the budget");
    assert!(
        err.to_string().contains("arrival queues overflowed"),
        "{err}"
    );
    // With room for the check, the same run goes through.
    let mut e = GpuEngine::with_options(ctx, &net, fused(per_step * 4)).expect("fused");
    e.run(300).expect("run");
}

/// Every network of this file composes, under both schedules, to a module that naga
/// validates (no adapter needed).
pub fn every_engine_program_validates() {
    let mut nets = vec![];
    for (_, c) in connectivities(40) {
        for d in [Delivery::AtEmission, Delivery::AtArrival] {
            nets.push(connectivity_network(&c, d, 40));
        }
    }
    for (_, r) in rules() {
        nets.push(plastic_network(
            r,
            Connectivity::AllToAll,
            Delivery::AtArrival,
        ));
    }
    let modules = nets.iter().flat_map(|net| {
        [
            compose_module(net).expect("compose"),
            compose_module_for(net, EngineSchedule::Fused).expect("compose fused"),
        ]
    });
    for m in modules {
        let module = naga::front::wgsl::parse_str(&m.source)
            .unwrap_or_else(|e| panic!("{}", e.emit_to_string(&m.source)));
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::default(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{}", e.emit_to_string(&m.source)));
    }
}

/// Brette et al. 2007 COBA and CUBA (`experiments::benchmarks`) at N = 400 (p = 80/400,
/// so 80 inputs per neuron as at N = 4000), from their random initial state set through
/// `Simulator::set_state`, for 0.1 s: the GPU's passes give the CPU's spikes, spike for
/// spike, and its state bit for bit on llvmpipe.
pub fn brette_benchmarks_at_400_agree() {
    use snn_wgpu::experiments::benchmarks::{coba, cuba};
    for bench in [coba(400, 1).expect("coba"), cuba(400, 1).expect("cuba")] {
        let counts = on_both(&bench.network, |e| {
            for (pop, var, values) in &bench.initial {
                e.set_state(pop, var, 0, values).expect("initial state");
            }
            e.run(1000).expect("0.1 s");
        });
        assert_active(&counts, 20);
    }
}

/// COBA at N = 16,000 (80 inputs per neuron) for 0.1 s, its projections pushed (a pass
/// costs the spikes' synapses, and a post neuron's sort or its walk over its synapses; the
/// scan of every spike by every post neuron that it replaced had a static worst case of
/// 116,027 loop passes per invocation, past llvmpipe's cap). Spike for spike the CPU's
/// (28,271 at seed 1), and bit for bit on llvmpipe.
pub fn coba_at_16000_agrees() {
    let bench = snn_wgpu::experiments::benchmarks::coba(16_000, 1).expect("coba");
    let counts = on_both(&bench.network, |e| {
        for (pop, var, values) in &bench.initial {
            e.set_state(pop, var, 0, values).expect("initial state");
        }
        e.run(1000).expect("0.1 s");
    });
    let total: usize = counts.iter().map(|(_, n)| n).sum();
    assert_eq!(total, 28_271, "{counts:?}");
}

/// The read-only tables split between bindings read as one: COBA at N = 400 with bindings
/// of at most 128 KiB (so that most regions of its projections take one each), its sparse
/// projections pushed, under both schedules (the passes under a low loop budget too),
/// for 0.1 s: the CPU's spikes and state, bit for bit on llvmpipe. Bindings smaller than the
/// largest region are refused with the limit's name.
pub fn tables_split_between_bindings_agree() {
    let bench = snn_wgpu::experiments::benchmarks::coba(400, 1).expect("coba");
    let net = &bench.network;
    let body = |e: &mut dyn Simulator| {
        for (pop, var, values) in &bench.initial {
            e.set_state(pop, var, 0, values).expect("initial state");
        }
        e.run(1000).expect("0.1 s");
    };
    let mut cpu = Engine::new(net).expect("cpu engine");
    body(&mut cpu);
    let want = observe(net, &cpu);
    let ctx = gpu_ctx();
    for (schedule, budget) in [
        (EngineSchedule::Passes, None),
        (EngineSchedule::Passes, Some(3_000)),
        (EngineSchedule::Fused, None),
    ] {
        let opts = GpuEngineOptions {
            schedule,
            loop_budget: budget,
            table_binding_bytes: Some(128 << 10),
            ..GpuEngineOptions::default()
        };
        let mut gpu = GpuEngine::with_options(ctx.clone(), net, opts).expect("gpu engine");
        assert!(
            gpu.table_bindings() >= 3,
            "{} bindings",
            gpu.table_bindings()
        );
        body(&mut gpu);
        let what = format!("{schedule:?}, budget {budget:?}: ");
        compare(&want, &observe(net, &gpu), ctx.is_software(), &what);
    }
    let opts = GpuEngineOptions {
        table_binding_bytes: Some(64 << 10),
        ..GpuEngineOptions::default()
    };
    match GpuEngine::with_options(ctx, net, opts) {
        Err(snn_wgpu::SnnError::LimitExceeded { limit, .. }) => {
            assert!(limit.contains("max_storage_buffer_binding_size"), "{limit}")
        }
        Err(e) => panic!("another error: {e}"),
        Ok(_) => panic!("a binding smaller than a region was taken"),
    }
}

/// Song, Miller & Abbott 2000 (`experiments::benchmarks::song`): 1000 Poisson inputs → one
/// conductance LIF through all-to-all pair STDP (each spike adds 1 to its trace), for 2 s;
/// the weights must have moved and the neuron fired.
pub fn song_all_to_all_stdp_agrees() {
    let net = snn_wgpu::experiments::benchmarks::song(1);
    let steps = (2000.0 / net.dt_ms).round() as u32;
    let counts = on_all(&net, |e| {
        let before = e.weights("syn", 0).expect("w");
        e.run(steps).expect("2 s");
        assert_ne!(
            e.weights("syn", 0).expect("w"),
            before,
            "STDP changed nothing"
        );
    });
    assert_active(&counts, 5);
}

/// The size of Diehl & Cook's dc400 network: 784 Poisson inputs → 400 conductance LIF with θ
/// through a dense triplet-STDP projection with per-synapse delays up to 10 ms, 400
/// inhibitory neurons one-to-one, inhibition back all-but-self; two copies, three
/// presentations of 350 + 150 steps with new rates and normalisation between them.
pub fn diehl_cook_sized_network_agrees() {
    let (n_in, n) = (784u32, 400u32);
    let mut exc = NeuronModel::diehl_cook_excitatory();
    if let Some(t) = &mut exc.theta {
        t.theta_init_mv = 0.0;
    }
    let net = Network::new(DT_MS)
        .with_seeds(vec![7, 8])
        .poisson("in", n_in, 0.0)
        .neurons("exc", n, exc)
        .neurons("inh", n, NeuronModel::diehl_cook_inhibitory())
        .project(
            Projection::new(
                "in_exc",
                "in",
                "exc",
                Target::Ge,
                Connectivity::AllToAll,
                0.0,
            )
            .with_weights(
                Weights::Uniform {
                    low: 0.0,
                    high: 0.3,
                },
                0.0,
                1.0,
            )
            .with_delay(
                Delay::Range {
                    min_ms: 0.0,
                    max_ms: 10.0,
                    seed: 1,
                },
                Delivery::AtEmission,
            )
            .with_stdp(StdpParams::diehl_cook()),
        )
        .project(Projection::new(
            "exc_inh",
            "exc",
            "inh",
            Target::Ge,
            Connectivity::OneToOne,
            10.4,
        ))
        .project(Projection::new(
            "inh_exc",
            "inh",
            "exc",
            Target::Gi,
            Connectivity::AllButSelf,
            17.0,
        ))
        .monitor("exc", "exc", MonitorKind::Spikes { neurons: None })
        .monitor("inh", "inh", MonitorKind::Rate);
    let counts = on_both(&net, |e| {
        for image in 0..3u32 {
            for c in 0..2 {
                let rates: Vec<f32> = (0..n_in)
                    .map(|i| ((i * 31 + image * 97 + c as u32 * 13) % 256) as f32 / 4.0)
                    .collect();
                e.set_rates("in", c, &rates).expect("rates");
            }
            e.normalize_columns("in_exc", 78.0).expect("normalize");
            e.run(350).expect("present");
            for c in 0..2 {
                e.set_rates("in", c, &vec![0.0; n_in as usize])
                    .expect("rest");
            }
            e.run(150).expect("rest");
        }
    });
    assert_active(&counts, 5);
}

/// On llvmpipe, whose loops stop silently after 65,535 passes, a network whose propagation
/// could pass that many is refused with the limit named, rather than run wrong: per-synapse
/// delays up to 100 ms (201 lags at dt = 0.5 ms), each lag a walk over 784 inputs. A real
/// GPU builds it.
pub fn a_network_past_llvmpipe_loop_cap_is_refused_there() {
    let net = Network::new(DT_MS)
        .poisson("in", 784, 10.0)
        .neurons("m", 10, lif_model())
        .project(
            Projection::new(
                "p",
                "in",
                "m",
                Target::MEMBRANE_EXC,
                Connectivity::AllToAll,
                0.1,
            )
            .with_delay(
                Delay::Range {
                    min_ms: 0.0,
                    max_ms: 100.0,
                    seed: 1,
                },
                Delivery::AtArrival,
            ),
        );
    let ctx = gpu_ctx();
    let built = GpuEngine::new(ctx.clone(), &net);
    if ctx.is_software() {
        match built {
            Err(snn_wgpu::SnnError::LimitExceeded { limit, needed, .. }) => {
                assert!(limit.contains("loop passes"), "{limit}");
                assert!(needed > 65_535, "{needed}");
            }
            Err(e) => panic!("refused for another reason: {e}"),
            Ok(_) => panic!("built on a software adapter past its loop cap"),
        }
    } else {
        built.expect("a real GPU has no loop cap");
    }
}

/// Both engines answer bad calls with the same errors, and report a non-finite state with
/// the same population, variable, neuron and step.
pub fn errors_agree() {
    let net = Network::new(1.0)
        .with_seeds(vec![1, 2])
        .poisson("in", 4, 100.0)
        .neurons("n", 3, NeuronModel::integrate_and_fire(1.0, 0.0))
        // Two inhibitory spikes of 3e38 mV take v to −inf.
        .project(Projection::new(
            "p",
            "in",
            "n",
            Target::MEMBRANE_INH,
            Connectivity::AllToAll,
            3e38,
        ))
        .project(Projection::new(
            "abs",
            "n",
            "n",
            Target::MEMBRANE_INH,
            Connectivity::AllButSelf,
            1.0,
        ))
        .monitor("s", "n", MonitorKind::Spikes { neurons: None });
    let body = |e: &mut dyn Simulator| -> Vec<String> {
        let err = |r: Result<()>| match r {
            Err(e) => e.to_string(),
            Ok(()) => "no error".to_string(),
        };
        vec![
            err(e.set_rates("n", 0, &[1.0; 3])),
            err(e.set_rates("in", 0, &[1.0; 3])),
            err(e.set_rates("in", 0, &[1e9; 4])),
            err(e.set_rates("in", 2, &[1.0; 4])),
            err(e.set_rates("nope", 0, &[1.0; 4])),
            err(e.weights("nope", 0).map(|_| ())),
            err(e.weights("p", 5).map(|_| ())),
            err(e.set_weights("p", 0, &[0.0; 3])),
            err(e.set_weights("p", 0, &[-1.0; 12])),
            err(e.set_weights("abs", 0, &[0.5; 6])),
            err(e.normalize_columns("abs", 1.0)),
            err(e.normalize_columns("p", f32::NAN)),
            err(e.state("in", "v", 0).map(|_| ())),
            err(e.state("n", "w", 0).map(|_| ())),
            err(e.state("n", "v", 2).map(|_| ())),
            err(e.recording("nope", 0).map(|_| ())),
            err(e.run(u32::MAX)),
            err(e.run(50)),
        ]
    };
    let cpu = body(&mut Engine::new(&net).expect("cpu"));
    let gpu = body(&mut GpuEngine::new(gpu_ctx(), &net).expect("gpu"));
    assert!(cpu.iter().all(|e| e != "no error"), "{cpu:#?}");
    assert!(
        cpu.last().is_some_and(|e| e.contains("non-finite")),
        "{cpu:#?}"
    );
    assert_eq!(cpu, gpu);
}

/// `GpuEngineOptions::device_timing` times the step passes of both schedules with timestamp
/// queries (where the adapter has them), through the trait too, without changing a bit of
/// the run; off, or on the CPU engine, there is no device time.
pub fn device_timing_times_the_step_passes() {
    let net = driven_one_to_one(40, 200.0, 8.0).with_seeds(vec![1, 2]);
    let ctx = gpu_ctx();
    for schedule in [EngineSchedule::Fused, EngineSchedule::Passes] {
        let opts = |device_timing| GpuEngineOptions {
            schedule,
            device_timing,
            ..GpuEngineOptions::default()
        };
        let mut timed = GpuEngine::with_options(ctx.clone(), &net, opts(true)).unwrap();
        let mut plain = GpuEngine::with_options(ctx.clone(), &net, opts(false)).unwrap();
        assert_eq!(plain.device_seconds(), None, "{schedule:?}: timing off");
        if !ctx.has_timestamps() {
            assert_eq!(
                timed.device_seconds(),
                None,
                "{schedule:?}: no timestamp queries"
            );
            continue;
        }
        assert_eq!(
            timed.device_seconds(),
            Some(0.0),
            "{schedule:?}: nothing run yet"
        );
        timed.run(300).unwrap();
        plain.run(300).unwrap();
        let first = timed.device_seconds().unwrap();
        assert!(first > 0.0, "{schedule:?}: {first} s for 300 steps");
        assert!(timed.timed_passes().unwrap() >= 1, "{schedule:?}");
        let c = timed.run_counting(300, "out").unwrap();
        assert_eq!(c, plain.run_counting(300, "out").unwrap(), "{schedule:?}");
        let second = (&timed as &dyn Simulator).device_seconds().unwrap();
        assert!(second > first, "{schedule:?}: {first} then {second} s");
        for b in 0..2 {
            assert_eq!(
                bits_of(&timed.state("out", "v", b).unwrap()),
                bits_of(&plain.state("out", "v", b).unwrap()),
                "{schedule:?}: timing changed copy {b}"
            );
        }
    }
    let cpu = Engine::new(&net).unwrap();
    assert_eq!((&cpu as &dyn Simulator).device_seconds(), None);
}

fn bits_of(x: &[f32]) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}
