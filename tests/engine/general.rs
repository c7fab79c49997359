//! The general CPU engine (`cpu::engine`) on small networks with known answers.

use crate::common;
use snn_wgpu::cpu::engine::{Engine, EngineOptions, Recording, Trial};
use snn_wgpu::model::net::{
    Connectivity, Delay, Delivery, MonitorKind, Network, PopulationKind, Projection, Weights,
    NORM_BLOCK,
};
use snn_wgpu::model::{
    CustomModel, LifParams, NeuronModel, ResetMode, StdpParams, StdpRule, Target,
};
use snn_wgpu::SnnError;

/// IF neurons that fire when `v >= threshold`, hard reset to 0.
fn if_model(threshold: f32) -> NeuronModel {
    NeuronModel::integrate_and_fire(threshold, 0.0)
}

fn spikes(e: &Engine, monitor: &str, copy: usize) -> Vec<(u32, u32)> {
    match e.recording(monitor, copy).expect("monitor") {
        Recording::Spikes(s) => s.clone(),
        other => panic!("not a spike recording: {other:?}"),
    }
}

fn state_values(e: &Engine, monitor: &str) -> Vec<f32> {
    match e.recording(monitor, 0).expect("monitor") {
        Recording::State { values, .. } => values.clone(),
        other => panic!("not a state recording: {other:?}"),
    }
}

#[test]
fn lif_decays_toward_rest_as_the_exponential() {
    let lif = NeuronModel::lif(
        LifParams {
            tau_m_ms: 20.0,
            v_rest_mv: -65.0,
        },
        -50.0,
    )
    .with_v_init_mv(-55.0);
    let net = Network::new(0.5).neurons("n", 1, lif).monitor(
        "v",
        "n",
        MonitorKind::State {
            variable: "v".into(),
            neurons: vec![0],
        },
    );
    let mut e = Engine::new(&net).expect("valid");
    e.run(200).expect("run");
    let v = state_values(&e, "v");
    assert_eq!(v.len(), 200);
    for (t, &x) in v.iter().enumerate() {
        let want = -65.0 + 10.0 * (-(t as f64 + 1.0) * 0.5 / 20.0).exp();
        assert!((x as f64 - want).abs() < 1e-4, "step {t}: {x} vs {want}");
    }
}

/// A source spikes neuron 0 at 3 ms and neuron 1 at 10 ms (dt = 1 ms); one-to-one with a
/// 4 ms delay into IF neurons that fire on one input, which relay one-to-one with a 2 ms
/// delay into a third population. A source spike of step t arrives at t + 4; a neuron spike
/// of step t at t + 1 + 2.
#[test]
fn one_to_one_relay_arrives_at_the_delayed_step_under_both_deliveries() {
    for delivery in [Delivery::AtEmission, Delivery::AtArrival] {
        let net = Network::new(1.0)
            .spike_times("src", 2, vec![(0, 3.0), (1, 10.0)])
            .neurons("a", 2, if_model(1.0))
            .neurons("b", 2, if_model(1.0))
            .project(
                Projection::new(
                    "src_a",
                    "src",
                    "a",
                    Target::MEMBRANE_EXC,
                    Connectivity::OneToOne,
                    1.0,
                )
                .with_delay(Delay::Constant(4.0), delivery),
            )
            .project(
                Projection::new(
                    "a_b",
                    "a",
                    "b",
                    Target::MEMBRANE_EXC,
                    Connectivity::OneToOne,
                    1.0,
                )
                .with_delay(Delay::Constant(2.0), delivery),
            )
            .monitor("a", "a", MonitorKind::Spikes { neurons: None })
            .monitor("b", "b", MonitorKind::Spikes { neurons: None });
        let mut e = Engine::new(&net).expect("valid");
        e.run(30).expect("run");
        assert_eq!(spikes(&e, "a", 0), vec![(7, 0), (14, 1)], "{delivery:?}");
        assert_eq!(spikes(&e, "b", 0), vec![(10, 0), (17, 1)], "{delivery:?}");
    }
}

/// Per-synapse delays 1..=5 ms from one spike at 0 ms: post i fires at step 1 + i.
#[test]
fn per_synapse_delays_deliver_each_synapse_at_its_own_step() {
    for delivery in [Delivery::AtEmission, Delivery::AtArrival] {
        let net = Network::new(1.0)
            .spike_times("src", 1, vec![(0, 0.0)])
            .neurons("post", 5, if_model(1.0))
            .project(
                Projection::new(
                    "p",
                    "src",
                    "post",
                    Target::MEMBRANE_EXC,
                    Connectivity::AllToAll,
                    1.0,
                )
                .with_delay(Delay::Array(vec![1.0, 2.0, 3.0, 4.0, 5.0]), delivery),
            )
            .monitor("s", "post", MonitorKind::Spikes { neurons: None });
        let mut e = Engine::new(&net).expect("valid");
        e.run(10).expect("run");
        let want: Vec<(u32, u32)> = (0..5).map(|i| (i + 1, i)).collect();
        assert_eq!(spikes(&e, "s", 0), want, "{delivery:?}");
    }
}

/// The weight is set to 0 while a spike is in flight: delivered at emission it still carries
/// 1 and the post fires; delivered at arrival it carries 0 and the post stays silent.
#[test]
fn delivery_at_emission_keeps_the_old_weight_and_at_arrival_reads_the_new() {
    for (delivery, fires) in [(Delivery::AtEmission, true), (Delivery::AtArrival, false)] {
        let net = Network::new(1.0)
            .spike_times("src", 1, vec![(0, 2.0)])
            .neurons("post", 1, if_model(1.0))
            .project(
                Projection::new(
                    "p",
                    "src",
                    "post",
                    Target::MEMBRANE_EXC,
                    Connectivity::OneToOne,
                    1.0,
                )
                .with_delay(Delay::Constant(5.0), delivery),
            )
            .monitor("s", "post", MonitorKind::Spikes { neurons: None });
        let mut e = Engine::new(&net).expect("valid");
        e.run(4).expect("run");
        e.set_weights("p", 0, &[0.0]).expect("in bounds");
        e.run(10).expect("run");
        let want = if fires { vec![(7, 0)] } else { vec![] };
        assert_eq!(spikes(&e, "s", 0), want, "{delivery:?}");
    }
}

#[test]
fn fixed_probability_counts_match_the_binomial_and_follow_the_seed() {
    let (n_pre, n_post, p) = (200u32, 150u32, 0.1f64);
    let count = |seed: u32| {
        Projection::new(
            "p",
            "a",
            "b",
            Target::MEMBRANE_EXC,
            Connectivity::FixedProbability { p, seed },
            1.0,
        )
        .synapses(n_pre, n_post, 1.0)
    };
    let n = (n_pre * n_post) as f64;
    let sd = (n * p * (1.0 - p)).sqrt();
    for seed in 0..5 {
        let c = count(seed).len() as f64;
        assert!(
            (c - n * p).abs() < 4.0 * sd,
            "seed {seed}: {c} synapses, expected {}",
            n * p
        );
    }
    assert_eq!(count(7), count(7));
    assert_ne!(count(7).pairs(), count(8).pairs());
    // Out-degrees vary around n_post·p: not the same count for every pre.
    let s = count(3);
    let degrees: Vec<u32> = s.offsets.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(degrees.iter().any(|&d| d != degrees[0]));
}

/// Lateral input three ways: all-but-self of one weight (total minus self), all-but-self with
/// an array of weights (sparse rows), all-to-all minus a one-to-one inhibition. Weights of
/// 0.5 make every sum exact, so the membrane potentials agree bit for bit.
#[test]
fn all_but_self_equals_all_to_all_minus_self() {
    let n = 30u32;
    let quiet = if_model(1e9);
    let net = Network::new(1.0)
        .poisson("src", n, 200.0)
        .neurons("abs", n, quiet.clone())
        .neurons("abs_sparse", n, quiet.clone())
        .neurons("diff", n, quiet)
        .project(Projection::new(
            "c",
            "src",
            "abs",
            Target::MEMBRANE_EXC,
            Connectivity::AllButSelf,
            0.5,
        ))
        .project(
            Projection::new(
                "s",
                "src",
                "abs_sparse",
                Target::MEMBRANE_EXC,
                Connectivity::AllButSelf,
                0.5,
            )
            .with_weights(Weights::Array(vec![0.5; (n * (n - 1)) as usize]), 0.0, 0.5),
        )
        .project(Projection::new(
            "all",
            "src",
            "diff",
            Target::MEMBRANE_EXC,
            Connectivity::AllToAll,
            0.5,
        ))
        .project(Projection::new(
            "self",
            "src",
            "diff",
            Target::MEMBRANE_INH,
            Connectivity::OneToOne,
            0.5,
        ));
    let mut e = Engine::new(&net).expect("valid");
    for _ in 0..20 {
        e.run(1).expect("run");
        let a = e.state("abs", "v", 0).expect("v");
        assert_eq!(a, e.state("abs_sparse", "v", 0).expect("v"));
        assert_eq!(a, e.state("diff", "v", 0).expect("v"));
    }
    assert!(e.state("abs", "v", 0).expect("v").iter().any(|&v| v > 0.0));
}

/// One plastic synapse pre → post under `stdp`; the pre and post spikes are forced by two
/// spike-time sources at `pre_ms` and `post_ms` (dt = 1 ms).
fn pairing(stdp: StdpParams, pre_ms: f32, post_ms: f32) -> Network {
    Network::new(1.0)
        .spike_times("pre", 1, vec![(0, pre_ms)])
        .spike_times("drive", 1, vec![(0, post_ms)])
        .neurons("post", 1, if_model(10.0))
        .project(
            Projection::new(
                "w",
                "pre",
                "post",
                Target::MEMBRANE_EXC,
                Connectivity::OneToOne,
                0.5,
            )
            .with_weights(Weights::Constant(0.5), 0.0, 1.0)
            .with_stdp(stdp),
        )
        .project(Projection::new(
            "d",
            "drive",
            "post",
            Target::MEMBRANE_EXC,
            Connectivity::OneToOne,
            20.0,
        ))
        .monitor("s", "post", MonitorKind::Spikes { neurons: None })
}

/// One plastic synapse pre → post (pair rule); the pre and post spikes are forced by two
/// spike-time sources. Pre 5 ms before post potentiates; post 5 ms before pre depresses.
#[test]
fn pair_stdp_potentiates_pre_before_post_and_depresses_post_before_pre() {
    let run = |pre_ms: f32, post_ms: f32| {
        let stdp = StdpParams {
            rule: StdpRule::Pair,
            nu_pre: 0.01,
            nu_post: 0.01,
            tau_pre_ms: 20.0,
            tau_post1_ms: 20.0,
            tau_post2_ms: 40.0,
        };
        let net = pairing(stdp, pre_ms, post_ms);
        let mut e = Engine::new(&net).expect("valid");
        e.run(40).expect("run");
        assert_eq!(spikes(&e, "s", 0), vec![(post_ms as u32, 0)]);
        e.weights("w", 0).expect("w")[0]
    };
    let up = run(10.0, 15.0);
    let down = run(15.0, 10.0);
    let expect = 0.01 * (-5.0f32 / 20.0).exp();
    assert!((up - (0.5 + expect)).abs() < 1e-6, "pre before post: {up}");
    assert!(
        (down - (0.5 - expect)).abs() < 1e-6,
        "post before pre: {down}"
    );
}

/// The triplet rule scales potentiation by post2 before the spike: the first post spike
/// after a silence potentiates nothing, where the pair rule potentiates. Both depress a
/// post-before-pre pairing; the weight-dependent rule never depresses.
#[test]
fn triplet_needs_an_earlier_post_spike_and_weight_dependent_never_depresses() {
    let after = |rule: StdpRule, pre_ms: f32, post_ms: f32| {
        let stdp = StdpParams {
            rule,
            ..StdpParams::diehl_cook()
        };
        let mut e = Engine::new(&pairing(stdp, pre_ms, post_ms)).expect("valid");
        e.run(30).expect("run");
        e.weights("w", 0).expect("w")[0]
    };
    assert_eq!(after(StdpRule::Triplet, 10.0, 15.0), 0.5);
    assert!(after(StdpRule::Pair, 10.0, 15.0) > 0.5);
    assert!(after(StdpRule::Triplet, 15.0, 10.0) < 0.5);
    let wd = StdpRule::WeightDependent {
        x_tar: 0.0,
        mu: 1.0,
    };
    assert_eq!(after(wd, 15.0, 10.0), 0.5);
    assert!(after(wd, 10.0, 15.0) > 0.5);
}

/// Learning off: no weight moves.
#[test]
fn learning_off_freezes_the_weights() {
    let net = Network::new(1.0)
        .poisson("in", 20, 100.0)
        .neurons("out", 5, if_model(2.0))
        .project(
            Projection::new(
                "w",
                "in",
                "out",
                Target::MEMBRANE_EXC,
                Connectivity::AllToAll,
                0.5,
            )
            .with_weights(Weights::Constant(0.5), 0.0, 1.0)
            .with_stdp(StdpParams::diehl_cook()),
        );
    let mut e = Engine::new(&net).expect("valid");
    e.set_learning(false);
    e.run(200).expect("run");
    assert!(e.weights("w", 0).expect("w").iter().all(|&w| w == 0.5));
    e.set_learning(true);
    e.run(200).expect("run");
    assert!(e.weights("w", 0).expect("w").iter().any(|&w| w != 0.5));
}

fn batch_net(seeds: Vec<u32>) -> Network {
    let lif = NeuronModel::lif(
        LifParams {
            tau_m_ms: 10.0,
            v_rest_mv: 0.0,
        },
        1.0,
    );
    Network::new(1.0)
        .with_seeds(seeds)
        .poisson("in", 50, 40.0)
        .neurons("out", 20, lif)
        .project(
            Projection::new(
                "w",
                "in",
                "out",
                Target::MEMBRANE_EXC,
                Connectivity::FixedProbability { p: 0.3, seed: 9 },
                0.0,
            )
            .with_weights(
                Weights::Uniform {
                    low: 0.0,
                    high: 0.6,
                },
                0.0,
                1.0,
            )
            .with_stdp(StdpParams::diehl_cook()),
        )
        .monitor("s", "out", MonitorKind::Spikes { neurons: None })
}

#[test]
fn copies_with_equal_seeds_are_equal_and_with_different_seeds_differ() {
    let mut e = Engine::new(&batch_net(vec![1, 2, 1])).expect("valid");
    e.run(300).expect("run");
    let s: Vec<_> = (0..3).map(|b| spikes(&e, "s", b)).collect();
    assert!(!s[0].is_empty());
    assert_eq!(s[0], s[2]);
    assert_ne!(s[0], s[1]);
    assert_eq!(e.weights("w", 0).expect("w"), e.weights("w", 2).expect("w"));
    assert_ne!(e.weights("w", 0).expect("w"), e.weights("w", 1).expect("w"));
    // A copy in a batch runs as it would alone.
    let mut alone = Engine::new(&batch_net(vec![2])).expect("valid");
    alone.run(300).expect("run");
    assert_eq!(spikes(&alone, "s", 0), s[1]);
}

#[test]
fn poisson_rates_set_between_runs_change_the_rate() {
    let net = Network::new(1.0)
        .poisson("in", 100, 0.0)
        .monitor("r", "in", MonitorKind::Rate);
    let mut e = Engine::new(&net).expect("valid");
    e.run(100).expect("run");
    e.set_rates("in", 0, &[50.0; 100]).expect("valid rates");
    e.run(1000).expect("run");
    let r = e.rate_hz("r", 0).expect("rate");
    assert!(r[..100].iter().all(|&x| x == 0.0));
    let mean = r[100..].iter().sum::<f32>() / 1000.0;
    assert!((mean - 50.0).abs() < 2.0, "mean rate {mean} Hz");
    assert!(matches!(
        e.set_rates("in", 0, &[2000.0; 100]),
        Err(SnnError::InvalidNetwork { ref field, .. }) if field == "rates_hz[0]"
    ));
}

#[test]
fn normalisation_sets_each_incoming_sum() {
    let net = batch_net(vec![4, 5]);
    let mut e = Engine::new(&net).expect("valid");
    e.normalize_columns("w", 3.0).expect("normalise");
    let pairs = e.synapses("w").expect("synapses");
    for b in 0..2 {
        let w = e.weights("w", b).expect("w");
        let mut sums = [0f32; 20];
        for (&(_, i), &x) in pairs.iter().zip(w) {
            sums[i as usize] += x;
        }
        for s in sums {
            assert!((s - 3.0).abs() < 1e-4, "copy {b}: column sum {s}");
        }
    }
}

/// Normalisation sums each column in blocks of `NORM_BLOCK` synapses in synapse order, then
/// the blocks' sums in order (`NORM_BLOCK`'s doc), for all-to-all and for columns of
/// varying length (fixed probability), and so differs from one running sum where the
/// weights span decades.
#[test]
fn normalisation_sums_in_blocks() {
    let n_in = 300u32;
    for conn in [
        Connectivity::AllToAll,
        Connectivity::FixedProbability { p: 0.6, seed: 5 },
    ] {
        let net = Network::new(1.0)
            .poisson("in", n_in, 10.0)
            .neurons("out", 40, if_model(1.0))
            .project(
                Projection::new("w", "in", "out", Target::MEMBRANE_EXC, conn.clone(), 0.0)
                    .with_weights(Weights::Constant(0.0), 0.0, 1.0),
            );
        let mut e = Engine::new(&net).expect("valid");
        let pairs = e.synapses("w").expect("synapses");
        let w: Vec<f32> = (0..pairs.len() as u32)
            .map(|k| 10f32.powf(-4.0 * (k.wrapping_mul(2_654_435_761) >> 8) as f32 / 16_777_216.0))
            .collect();
        e.set_weights("w", 0, &w).expect("weights");
        e.normalize_columns("w", 7.0).expect("normalise");
        // The definition, synapse by synapse in synapse order (by ascending pre).
        let (mut blocked, mut block, mut seen, mut running) =
            ([0f32; 40], [0f32; 40], [0usize; 40], [0f32; 40]);
        for (&(_, i), &x) in pairs.iter().zip(&w) {
            let i = i as usize;
            block[i] += x;
            running[i] += x;
            seen[i] += 1;
            if seen[i] % NORM_BLOCK == 0 {
                blocked[i] += block[i];
                block[i] = 0.0;
            }
        }
        for i in 0..40 {
            if seen[i] % NORM_BLOCK != 0 {
                blocked[i] += block[i];
            }
        }
        assert!(
            seen.iter().all(|&m| m > 2 * NORM_BLOCK),
            "{conn:?}: three blocks or more"
        );
        let scaled = |sums: &[f32; 40]| -> Vec<f32> {
            let f: Vec<f32> = sums.iter().map(|&s| 7.0 / s).collect();
            pairs
                .iter()
                .zip(&w)
                .map(|(&(_, i), &x)| x * f[i as usize])
                .collect()
        };
        let got = e.weights("w", 0).expect("w");
        assert_eq!(got, &scaled(&blocked)[..], "{conn:?}");
        assert_ne!(
            got,
            &scaled(&running)[..],
            "{conn:?}: one running sum gives the same"
        );
    }
}

/// `batch_net` with per-synapse delays (all-to-all, so the depression queue applies).
fn delayed_net() -> Network {
    let mut net = batch_net(vec![3]);
    let p = &mut net.projections[0];
    p.connectivity = Connectivity::AllToAll;
    p.delay = Delay::Range {
        min_ms: 0.0,
        max_ms: 4.0,
        seed: 2,
    };
    net
}

/// A state taken with `network_state` and put into a fresh engine continues as the original
/// (spikes and weights), through a rest and a Poisson stream of its own; the state holds the
/// delayed spikes still in flight.
#[test]
fn a_network_state_continues_in_another_engine() {
    // All-to-all pairing keeps a pre trace per synapse beside its last arrival.
    let mut all_pairs = delayed_net();
    if let Some(s) = all_pairs.projections[0].stdp.as_mut() {
        s.rule = StdpRule::PairAllToAll;
    }
    // A custom model's own variables travel in the state too (an adaptation variable `a`
    // that each input pulls up and that pulls v down).
    let adapting = CustomModel::new(
        "adapting",
        "o.a = s.a * decay_a + 0.1 * x; o.v = s.v * 0.9 + x - s.a;",
        |s: &mut [f32], p: &[f32], x: f32| {
            let (v, a) = (s[0], s[1]);
            s[1] = a * p[0] + 0.1 * x;
            s[0] = v * 0.9 + x - a;
        },
    )
    .with_var("a", 0.0)
    .with_param("decay_a", 0.95);
    let mut custom = delayed_net();
    custom.populations[1].kind = PopulationKind::Neurons(NeuronModel::custom(
        adapting,
        1.0,
        ResetMode::Hard { v_reset_mv: 0.0 },
    ));
    for net in [delayed_net(), all_pairs, custom] {
        state_continues(&net);
    }
}

fn state_continues(net: &Network) {
    let mut a = Engine::new(net).expect("valid");
    a.run(137).expect("run");
    let st = a.network_state();
    assert!(st.copies[0].projections[0].ring.iter().any(|&x| x != 0.0));
    let mut b = Engine::new(net).expect("valid");
    b.set_network_state(&st).expect("same network");
    assert_eq!(b.network_state(), st);
    for e in [&mut a, &mut b] {
        e.clear_recordings();
        e.run(100).expect("run");
        e.rest(0).expect("copy 0");
        e.set_poisson_stream("in", 0, 77, 300)
            .expect("a Poisson source");
        e.run(100).expect("run");
    }
    assert!(!spikes(&a, "s", 0).is_empty());
    assert_eq!(spikes(&a, "s", 0), spikes(&b, "s", 0));
    assert_eq!(a.weights("w", 0).unwrap(), b.weights("w", 0).unwrap());
    // Another network's state is refused, naming the array.
    let mut other = st.clone();
    other.copies[0].projections[0].weights.pop();
    assert!(matches!(
        b.set_network_state(&other),
        Err(SnnError::InvalidParam { ref field, .. }) if field.contains("weights")
    ));
}

/// `rest` puts the neurons at rest and keeps θ; a trial of `run_trials` gives the counts the
/// copy itself gives from rest with the same rates and stream, and leaves the engine as it
/// was.
#[test]
fn trials_count_as_the_copy_itself_from_rest() {
    let mut e = Engine::new(&delayed_net()).expect("valid");
    e.run(50).expect("run");
    let before = e.network_state();
    let rates: Vec<Vec<f32>> = (0..3).map(|k| vec![20.0 + 10.0 * k as f32; 50]).collect();
    let trials = common::trials(&rates, 100);
    let counts = e.run_trials(0, "in", &trials, 200, "out").expect("trials");
    assert_eq!(e.network_state(), before, "the engine is left as it was");
    assert!(counts.iter().all(|c| c.iter().sum::<u32>() > 0));
    assert_ne!(counts[0], counts[2]);
    e.set_learning(false);
    for (k, r) in rates.iter().enumerate() {
        e.rest(0).expect("copy 0");
        let v = e.state("out", "v", 0).expect("v");
        assert!(v.iter().all(|&x| x == 0.0), "v at rest");
        e.set_rates("in", 0, r).expect("rates");
        e.set_poisson_stream("in", 0, 100 + k as u32, e.step_count())
            .expect("a Poisson source");
        let alone = e.run_counting(200, "out").expect("run");
        assert_eq!(alone[0], counts[k], "trial {k}");
    }
}

/// Copy `copy`'s own delays for [`own_delays_net`] (ms; the longest differs by copy).
fn own_delays(copy: usize) -> Vec<f32> {
    let (mul, span) = [(7, 5), (11, 7)][copy];
    (0..50 * 20).map(|k| ((k * mul) % span) as f32).collect()
}

/// [`batch_net`] all-to-all with the delays `delay`, delivered as `delivery`, learning by
/// `rule`.
fn own_delays_net(seeds: Vec<u32>, delay: Delay, delivery: Delivery, rule: StdpRule) -> Network {
    let mut net = batch_net(seeds);
    let p = &mut net.projections[0];
    p.connectivity = Connectivity::AllToAll;
    (p.delay, p.delivery) = (delay, delivery);
    if let Some(s) = p.stdp.as_mut() {
        s.rule = rule;
    }
    net
}

/// Copies with delays of their own (`Delay::PerCopy`) run each as a network of that copy
/// alone with its delays (`Delay::Array`): the same spikes, weights and membranes through
/// learning (buckets and, for the depressing rules, the depression queue), a
/// normalisation, a state carried into another engine, and trials from the copy.
#[test]
fn copies_with_delays_of_their_own_run_as_each_alone() {
    let seeds = [3, 8];
    let rules = [StdpRule::Triplet, StdpRule::PairAllToAll, StdpRule::Pair];
    for (rule, delivery) in rules
        .into_iter()
        .flat_map(|r| [(r, Delivery::AtEmission), (r, Delivery::AtArrival)])
    {
        let what = format!("{rule:?}, {delivery:?}");
        let own = Delay::PerCopy(vec![own_delays(0), own_delays(1)]);
        let batch = own_delays_net(seeds.to_vec(), own, delivery, rule);
        let learn = |e: &mut Engine| {
            e.run(200).expect("run");
            e.normalize_columns("w", 10.0).expect("normalize");
            e.run(100).expect("run");
        };
        let mut e = Engine::new(&batch).expect("valid");
        learn(&mut e);
        // Carried into another engine, the batch goes on as it would have.
        let mut carried = Engine::new(&batch).expect("valid");
        carried
            .set_network_state(&e.network_state())
            .expect("same network");
        for x in [&mut e, &mut carried] {
            x.clear_recordings();
            x.run(100).expect("run");
        }
        let rates = vec![30.0; 50];
        let trials = [Trial {
            rates_hz: &rates,
            key: 5,
        }];
        for (c, &seed) in seeds.iter().enumerate() {
            let net = own_delays_net(vec![seed], Delay::Array(own_delays(c)), delivery, rule);
            let mut alone = Engine::new(&net).expect("valid");
            learn(&mut alone);
            alone.clear_recordings();
            alone.run(100).expect("run");
            let s = spikes(&alone, "s", 0);
            assert!(!s.is_empty(), "{what}: copy {c} silent");
            for x in [&e, &carried] {
                assert_eq!(spikes(x, "s", c), s, "{what}: copy {c} spikes");
                assert_eq!(
                    x.weights("w", c).expect("w"),
                    alone.weights("w", 0).expect("w"),
                    "{what}: copy {c} weights"
                );
                assert_eq!(
                    x.state("out", "v", c).expect("v"),
                    alone.state("out", "v", 0).expect("v"),
                    "{what}: copy {c} membranes"
                );
            }
            assert_eq!(
                e.run_trials(c, "in", &trials, 100, "out").expect("trials"),
                alone
                    .run_trials(0, "in", &trials, 100, "out")
                    .expect("trials"),
                "{what}: copy {c} trial"
            );
        }
        // The two copies' delays do differ.
        let shared = own_delays_net(seeds.to_vec(), Delay::Array(own_delays(0)), delivery, rule);
        let mut shared = Engine::new(&shared).expect("valid");
        learn(&mut shared);
        assert_ne!(
            shared.weights("w", 1).expect("w"),
            Engine::new(&batch)
                .map(|mut x| {
                    learn(&mut x);
                    x.weights("w", 1).expect("w").to_vec()
                })
                .expect("valid"),
            "{what}: copy 1 ran with copy 0's delays"
        );
    }
    // One array per copy, each one per synapse.
    let one = Delay::PerCopy(vec![own_delays(0)]);
    let net = own_delays_net(seeds.to_vec(), one, Delivery::AtEmission, StdpRule::Pair);
    expect_invalid(&net, "projection `w`", "delay.per_copy");
    let short = Delay::PerCopy(vec![own_delays(0), vec![1.0; 3]]);
    let net = own_delays_net(seeds.to_vec(), short, Delivery::AtEmission, StdpRule::Pair);
    expect_invalid(&net, "projection `w`", "delay.per_copy[1]");
}

fn expect_invalid(net: &Network, element: &str, field: &str) {
    match net.validate() {
        Err(SnnError::InvalidNetwork {
            element: el,
            field: f,
            ..
        }) => {
            assert_eq!((el.as_str(), f.as_str()), (element, field));
        }
        other => panic!("expected {element}.{field} to be refused, got {other:?}"),
    }
    assert!(Engine::new(net).is_err());
}

#[test]
fn validate_names_the_element_and_the_field() {
    let base = || {
        Network::new(1.0)
            .poisson("in", 10, 10.0)
            .neurons("out", 10, if_model(1.0))
    };
    let p = |c: Connectivity| Projection::new("ee", "in", "out", Target::MEMBRANE_EXC, c, 0.5);
    expect_invalid(
        &base().project(p(Connectivity::FixedProbability { p: 1.5, seed: 0 })),
        "projection `ee`",
        "connectivity.p",
    );
    // Past 32-bit synapse indices: 70,000 neurons all-but-self (4.9 · 10^9 synapses), and
    // 100,000 × 100,000 at p = 0.5; neither is drawn to be refused.
    let big = Network::new(1.0)
        .poisson("in", 100_000, 1.0)
        .neurons("out", 100_000, if_model(1.0))
        .neurons("lat", 70_000, if_model(1.0));
    for (pre, post, c) in [
        ("lat", "lat", Connectivity::AllButSelf),
        (
            "in",
            "out",
            Connectivity::FixedProbability { p: 0.5, seed: 1 },
        ),
    ] {
        let net = big.clone().project(Projection::new(
            "ee",
            pre,
            post,
            Target::MEMBRANE_EXC,
            c,
            0.5,
        ));
        expect_invalid(&net, "projection `ee`", "connectivity");
        let msg = net.validate().expect_err("refused").to_string();
        assert!(msg.contains("32-bit"), "{msg}");
    }
    let err = base()
        .project(p(Connectivity::FixedProbability { p: 1.5, seed: 0 }))
        .validate()
        .expect_err("refused");
    let msg = err.to_string();
    assert!(
        msg.contains("`ee`") && msg.contains("connectivity.p") && msg.contains("1.5"),
        "{msg}"
    );
    expect_invalid(
        &base().project(Projection::new(
            "ee",
            "in",
            "nowhere",
            Target::MEMBRANE_EXC,
            Connectivity::AllToAll,
            0.5,
        )),
        "projection `ee`",
        "post",
    );
    expect_invalid(
        &base().project(Projection::new(
            "ee",
            "out",
            "in",
            Target::MEMBRANE_EXC,
            Connectivity::AllToAll,
            0.5,
        )),
        "projection `ee`",
        "post",
    );
    expect_invalid(
        &base().project(Projection::new(
            "ee",
            "in",
            "out",
            Target::Ge,
            Connectivity::AllToAll,
            0.5,
        )),
        "projection `ee`",
        "target",
    );
    expect_invalid(
        &base().project(p(Connectivity::AllToAll).with_weights(Weights::Constant(2.0), 0.0, 1.0)),
        "projection `ee`",
        "weights.constant",
    );
    expect_invalid(
        &base().project(p(Connectivity::AllToAll).with_weights(
            Weights::Array(vec![0.5; 3]),
            0.0,
            1.0,
        )),
        "projection `ee`",
        "weights.array",
    );
    expect_invalid(
        &base().project(
            p(Connectivity::OneToOne).with_delay(Delay::Constant(-1.0), Delivery::AtArrival),
        ),
        "projection `ee`",
        "delay.constant_ms",
    );
    expect_invalid(
        &base().project(p(Connectivity::FixedInDegree { k: 11, seed: 0 })),
        "projection `ee`",
        "connectivity.k",
    );
    let mut stdp = StdpParams::diehl_cook();
    stdp.tau_pre_ms = 0.5;
    expect_invalid(
        &base().project(p(Connectivity::AllToAll).with_stdp(stdp)),
        "projection `ee`",
        "stdp.tau_pre_ms",
    );
    expect_invalid(
        &base().poisson("x", 3, 5000.0),
        "population `x`",
        "rates_hz[0]",
    );
    expect_invalid(
        &base().neurons("x", 3, if_model(1.0).with_refractory_ms(-1.0)),
        "population `x`",
        "refractory_ms",
    );
    expect_invalid(
        &base().neurons("in", 3, if_model(1.0)),
        "population `in`",
        "name",
    );
    expect_invalid(
        &base().monitor(
            "m",
            "out",
            MonitorKind::State {
                variable: "ge".into(),
                neurons: vec![0],
            },
        ),
        "monitor `m`",
        "variable",
    );
    expect_invalid(
        &base().monitor(
            "m",
            "out",
            MonitorKind::Spikes {
                neurons: Some(vec![10]),
            },
        ),
        "monitor `m`",
        "neurons",
    );
    expect_invalid(&base().with_seeds(vec![]), "network", "seeds");
}

/// Brette et al. 2007 COBA at N = 4000 (`experiments::benchmarks`), 0.5 s: the asynchronous
/// irregular state. Brian2 runs of the same network give about 20 Hz (RESULTS.md); a rate
/// outside 10–40 Hz, or regular firing (mean ISI CV <= 1), means the model or the engine
/// changed.
#[test]
fn coba_4000_fires_asynchronously_and_irregularly() {
    use snn_wgpu::experiments::benchmarks::{coba, spike_stats};
    let bench = coba(4000, 1).expect("network");
    let mut e = bench.start(None).expect("engine");
    e.run(5000).expect("run");
    let s = spike_stats(e.as_ref(), 5000).expect("stats");
    assert!(
        (10.0..=40.0).contains(&s.rate_hz),
        "rate {} Hz outside 10–40 Hz",
        s.rate_hz
    );
    assert!(
        s.cv_isi > 1.0,
        "mean ISI CV {} <= 1: not irregular",
        s.cv_isi
    );
    assert!(s.neurons_with_3_spikes > 2000, "{s:?}");
}

/// Song, Miller & Abbott 2000 (`experiments::benchmarks::song`): in 20 simulated seconds of
/// all-to-all pair STDP the uniform weights start to split toward 0 and gmax: both tails
/// (w/gmax < 0.1, > 0.9) gain at least 2 points and the sd of w/gmax grows by 5 % (from
/// 0.285 to 0.312 with seed 1; a uniform U(0, 1) has 0.289).
/// With nearest-spike traces (rule `Pair`) the same network sends every weight to gmax.
#[test]
fn song_stdp_splits_the_weights_toward_both_bounds() {
    use snn_wgpu::experiments::benchmarks::{song, weight_fractions, SONG_GMAX};
    let sd = |w: &[f32]| {
        let r: Vec<f64> = w.iter().map(|&x| (x / SONG_GMAX) as f64).collect();
        let m = r.iter().sum::<f64>() / r.len() as f64;
        (r.iter().map(|x| (x - m).powi(2)).sum::<f64>() / r.len() as f64).sqrt()
    };
    let mut e = Engine::new(&song(1)).expect("engine");
    let w0 = e.weights("syn", 0).expect("weights").to_vec();
    e.run(200_000).expect("run"); // 20 s at dt = 0.1 ms
    let w1 = e.weights("syn", 0).expect("weights").to_vec();
    let (lo0, hi0, _) = weight_fractions(&w0, SONG_GMAX);
    let (lo1, hi1, _) = weight_fractions(&w1, SONG_GMAX);
    let (sd0, sd1) = (sd(&w0), sd(&w1));
    assert!(lo1 >= lo0 + 0.02, "below 0.1: {lo0} -> {lo1}");
    assert!(hi1 >= hi0 + 0.02, "above 0.9: {hi0} -> {hi1}");
    assert!(sd1 >= 1.05 * sd0, "sd of w/gmax: {sd0} -> {sd1}");
}

/// Current LIF (CUBA's neuron): with ge = 5 mV, gi = 2 mV set at the start (`set_state`),
/// v follows the forward Euler recursion of `τm dv/dt = (El − v) + ge − gi` with both
/// currents decaying at their own rates.
#[test]
fn current_lif_follows_its_euler_recursion_from_a_set_state() {
    use snn_wgpu::model::{CurrentLifParams, Integration, NeuronKind, ResetMode};
    let model = NeuronModel {
        kind: NeuronKind::CurrentLif(CurrentLifParams {
            tau_m_ms: 20.0,
            v_rest_mv: -49.0,
            tau_ge_ms: 5.0,
            tau_gi_ms: 10.0,
            integration: Integration::Euler,
        }),
        v_threshold_mv: 100.0,
        reset: ResetMode::Hard { v_reset_mv: -60.0 },
        refractory_ms: 0.0,
        lockout_ms: 0.0,
        v_init_mv: -60.0,
        theta: None,
    };
    let net = Network::new(0.1).neurons("n", 1, model).monitor(
        "v",
        "n",
        MonitorKind::State {
            variable: "v".into(),
            neurons: vec![0],
        },
    );
    let mut e = Engine::new(&net).expect("valid");
    e.set_state("n", "ge", 0, &[5.0]).expect("ge");
    e.set_state("n", "gi", 0, &[2.0]).expect("gi");
    assert!(e.set_state("n", "gi", 0, &[1.0, 2.0]).is_err());
    e.run(300).expect("run");
    let v = state_values(&e, "v");
    let (mut vr, mut ge, mut gi) = (-60.0f64, 5.0f64, 2.0f64);
    for (t, &x) in v.iter().enumerate() {
        vr += ((-49.0 - vr) + ge - gi) * (0.1 / 20.0);
        ge *= 1.0 - 0.1 / 5.0;
        gi *= 1.0 - 0.1 / 10.0;
        assert!((x as f64 - vr).abs() < 1e-3, "step {t}: {x} vs {vr}");
    }
    let ge_end = e.state("n", "ge", 0).expect("ge")[0] as f64;
    assert!((ge_end - ge).abs() < 1e-3 * ge, "ge {ge_end} vs {ge}");
}

/// What a run of [`chunked_run`] leaves: the whole state, every recording, the trial counts.
type ChunkedRun = (String, String, Vec<Vec<u32>>);

/// `net` run on `threads` threads with `opts`: 150 steps learning, its input normalised
/// (when `normalize` names a projection), 100 more, trials from rest, 50 steps frozen.
/// Floats are compared through `{:?}`, which tells every value's bits apart (−0.0 too).
fn chunked_run(
    net: &Network,
    initial: &[(String, String, Vec<f32>)],
    opts: &EngineOptions,
    threads: usize,
    normalize: Option<&str>,
) -> ChunkedRun {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    pool.install(|| {
        let mut e = Engine::with_options(net, opts).expect("valid");
        for (pop, var, values) in initial {
            e.set_state(pop, var, 0, values).expect("initial state");
        }
        e.run(150).expect("run");
        if let Some(p) = normalize {
            e.normalize_columns(p, 7.5).expect("normalise");
        }
        e.run(100).expect("run");
        let counts = match net.populations.iter().any(|p| p.name == "in") {
            true => {
                let rates: Vec<Vec<f32>> =
                    (0..3).map(|k| vec![30.0 + 20.0 * k as f32; 50]).collect();
                let trials = common::trials(&rates, 7);
                e.run_trials(0, "in", &trials, 60, &net.populations[1].name)
                    .expect("trials")
            }
            false => vec![],
        };
        e.set_learning(false);
        e.run(50).expect("run");
        let records: Vec<_> = net
            .monitors
            .iter()
            .map(|m| e.recording(&m.name, 0).expect("monitor").clone())
            .collect();
        (
            format!("{:?}", e.network_state()),
            format!("{records:?}"),
            counts,
        )
    })
}

/// A sparse recurrent network with STDP on every kind of projection walk: input with
/// per-synapse delays (CSR buckets), recurrent inhibition at arrival with a uniform delay,
/// all-but-self inhibition as total minus self, a one-to-one relay into a second population
/// of another size; spike, state and rate monitors.
fn sparse_recurrent_net() -> Network {
    let lif = NeuronModel::lif(
        LifParams {
            tau_m_ms: 10.0,
            v_rest_mv: 0.0,
        },
        1.0,
    );
    let uniform = |high| Weights::Uniform { low: 0.0, high };
    let fp = |p, seed| Connectivity::FixedProbability { p, seed };
    Network::new(1.0)
        .with_seeds(vec![5])
        .poisson("in", 50, 40.0)
        .neurons("out", 100, lif.clone())
        .neurons("relay", 70, if_model(0.5))
        .project(
            Projection::new("w", "in", "out", Target::MEMBRANE_EXC, fp(0.3, 9), 0.0)
                .with_weights(uniform(0.6), 0.0, 1.0)
                .with_stdp(StdpParams::diehl_cook())
                .with_delay(
                    Delay::Range {
                        min_ms: 0.0,
                        max_ms: 4.0,
                        seed: 3,
                    },
                    Delivery::AtEmission,
                ),
        )
        .project(
            Projection::new(
                "rec",
                "out",
                "out",
                Target::Membrane {
                    sign: snn_wgpu::model::Sign::Inhibitory,
                },
                fp(0.1, 4),
                0.0,
            )
            .with_weights(uniform(0.3), 0.0, 0.5)
            .with_stdp(StdpParams::diehl_cook())
            .with_delay(Delay::Constant(2.0), Delivery::AtArrival),
        )
        .project(Projection::new(
            "lateral",
            "out",
            "out",
            Target::Membrane {
                sign: snn_wgpu::model::Sign::Inhibitory,
            },
            Connectivity::AllButSelf,
            0.05,
        ))
        .project(Projection::new(
            "copy",
            "relay",
            "out",
            Target::MEMBRANE_EXC,
            Connectivity::List((0..70).map(|i| (i, i + 30)).collect()),
            0.2,
        ))
        .project(Projection::new(
            "mirror",
            "out",
            "out",
            Target::MEMBRANE_EXC,
            Connectivity::OneToOne,
            0.1,
        ))
        .project(
            Projection::new(
                "drive",
                "in",
                "relay",
                Target::MEMBRANE_EXC,
                fp(0.2, 6),
                0.3,
            )
            .with_delay(Delay::Constant(1.0), Delivery::AtEmission),
        )
        .monitor("s", "out", MonitorKind::Spikes { neurons: None })
        .monitor(
            "v",
            "out",
            MonitorKind::State {
                variable: "v".into(),
                neurons: vec![0, 17, 63, 99],
            },
        )
        .monitor("r", "relay", MonitorKind::Rate)
}

/// One network's step split into chunks of post neurons gives the bits of the whole step,
/// on one thread or several: the whole state (weights, traces, rings, last arrivals,
/// neurons), every recording and the trial counts, through normalisation and a frozen run.
/// Networks: sparse and recurrent with STDP ([`sparse_recurrent_net`]); all-to-all with
/// per-synapse delays, the depression queue and all-to-all pairing; a custom model; COBA.
#[test]
fn chunks_on_any_thread_count_give_the_bits_of_the_whole_step() {
    let whole = EngineOptions {
        split_min_neurons: u32::MAX,
        ..Default::default()
    };
    let chunked = |chunk_neurons| EngineOptions {
        chunk_neurons,
        split_min_neurons: 0,
        ..Default::default()
    };
    let mut all_pairs = delayed_net();
    all_pairs.populations[1].size = 90;
    if let Some(s) = all_pairs.projections[0].stdp.as_mut() {
        s.rule = StdpRule::PairAllToAll;
    }
    let mut custom = sparse_recurrent_net();
    custom.populations[1].kind = PopulationKind::Neurons(NeuronModel::custom(
        CustomModel::new(
            "leaky",
            "o.v = s.v * 0.9 + x;",
            |s: &mut [f32], _: &[f32], x| {
                s[0] = s[0] * 0.9 + x;
            },
        ),
        1.0,
        ResetMode::Hard { v_reset_mv: 0.0 },
    ));
    let coba = snn_wgpu::experiments::benchmarks::coba(4000, 1).expect("network");
    let nets = [
        (sparse_recurrent_net(), vec![], Some("w")),
        (all_pairs, vec![], Some("w")),
        (custom, vec![], Some("rec")),
        (coba.network, coba.initial, None),
    ];
    for (net, initial, normalize) in &nets {
        let want = chunked_run(net, initial, &whole, 1, *normalize);
        assert!(want.1.contains("Spikes([(") || net.monitors.is_empty());
        for (chunk, threads) in [(16, 1), (16, 3), (32, 2), (512, 2), (0, 2), (0, 3)] {
            let got = chunked_run(net, initial, &chunked(chunk), threads, *normalize);
            assert!(got == want, "chunks of {chunk} on {threads} threads differ");
        }
    }
    // A chunk size that is not a multiple of 16 is refused, naming the field.
    assert!(matches!(
        Engine::with_options(&sparse_recurrent_net(), &chunked(100)),
        Err(SnnError::InvalidParam { ref field, .. }) if field == "chunk_neurons"
    ));
}

/// `Simulator::present_series` on the CPU engine, round by round, against presenting each
/// round by hand: without retries the series stops after the first presentation in which
/// a copy drew fewer counted spikes than its least count (copy 1's third, its input
/// silent; copy 0's least of 0 never stops it); with a retry of that presentation, copy 1
/// shows the retry in the next round (with that round's key) and its later presentations
/// one round late, and the series runs whole; a retry that is short too stops it; least
/// counts of 0 never stop a series; one least count per copy, one list of retries per
/// presentation, and retry rates in range, checked before any round runs.
#[test]
fn a_series_retries_a_short_presentation_and_goes_on() {
    use snn_wgpu::backend::{Presentation, Series, Shown, Simulator};
    let net = batch_net(vec![1, 2]);
    let (on, off) = (vec![40.0f32; 50], vec![0.0f32; 50]);
    let trials: Vec<Vec<Trial<'_>>> = (0..5u32)
        .map(|r| {
            let copy1 = if r == 2 { &off } else { &on };
            vec![
                Trial {
                    rates_hz: &on,
                    key: 2 * r,
                },
                Trial {
                    rates_hz: copy1,
                    key: 2 * r + 1,
                },
            ]
        })
        .collect();
    fn with<'a>(inputs: &'a [Trial<'a>]) -> Presentation<'a> {
        Presentation {
            normalize: Some(("w", 4.0)),
            source: "in",
            inputs,
            steps_on: 100,
            counted: "out",
            rest_steps: Some(40),
            check_weights: Some("w"),
            decay: None,
        }
    }
    let ps: Vec<Presentation<'_>> = trials.iter().map(|t| with(t)).collect();
    let planned = |r: usize| {
        vec![
            Shown {
                presentation: r,
                retry: false
            };
            2
        ]
    };
    // The rounds presented by hand, each copy's inputs given.
    let by_hand = |rounds: &[Vec<Trial<'_>>]| {
        let mut one = Engine::new(&net).expect("valid");
        let counts: Vec<_> = rounds
            .iter()
            .map(|inputs| one.present(&with(inputs)).expect("present"))
            .collect();
        (counts, one.network_state())
    };

    let mut e = Engine::new(&net).expect("valid");
    let series = |retries, least| Series {
        presentations: &ps,
        retries,
        least,
    };
    let got = e.present_series(&series(&[], &[0, 1])).expect("series");
    assert_eq!(
        got.counts.len(),
        3,
        "the series stops after the silent presentation"
    );
    assert_eq!(got.shown, (0..3).map(planned).collect::<Vec<_>>());
    assert!(got.counts[..2].iter().all(|c| c[1].iter().sum::<u32>() > 0));
    assert_eq!(got.counts[2][1].iter().sum::<u32>(), 0);
    let (want, state) = by_hand(&trials[..3]);
    assert_eq!(got.counts, want);
    assert_eq!(e.network_state(), state);

    let retry: Vec<Vec<Option<&[f32]>>> = (0..5)
        .map(|r| vec![None, (r == 2).then_some(&on[..])])
        .collect();
    let mut e = Engine::new(&net).expect("valid");
    let got = e.present_series(&series(&retry, &[0, 1])).expect("series");
    assert_eq!(
        got.counts.len(),
        5,
        "the retry drew spikes: the series runs whole"
    );
    let late = |r: usize, retry: bool| Shown {
        presentation: r - 1,
        retry,
    };
    assert_eq!(got.shown[..3], (0..3).map(planned).collect::<Vec<_>>()[..]);
    assert_eq!(got.shown[3], [planned(3)[0], late(3, true)]);
    assert_eq!(got.shown[4], [planned(4)[0], late(4, false)]);
    let mut rounds = trials[..3].to_vec();
    rounds.push(vec![
        trials[3][0],
        Trial {
            rates_hz: &on,
            key: trials[3][1].key,
        },
    ]);
    rounds.push(vec![
        trials[4][0],
        Trial {
            rates_hz: trials[3][1].rates_hz,
            key: trials[4][1].key,
        },
    ]);
    let (want, state) = by_hand(&rounds);
    assert!(want[3][1].iter().sum::<u32>() > 0);
    assert_eq!(got.counts, want);
    assert_eq!(e.network_state(), state);

    let silent_retry: Vec<Vec<Option<&[f32]>>> = (0..5)
        .map(|r| vec![None, (r == 2).then_some(&off[..])])
        .collect();
    let mut e = Engine::new(&net).expect("valid");
    let got = e
        .present_series(&series(&silent_retry, &[0, 1]))
        .expect("series");
    assert_eq!(
        got.counts.len(),
        4,
        "a retry short too stops the series after it"
    );
    assert_eq!(got.shown[3][1], late(3, true));

    let all = e.present_series(&series(&[], &[0, 0])).expect("series");
    assert_eq!(all.counts.len(), 5, "least counts of 0 never stop a series");
    assert!(matches!(
        e.present_series(&series(&[], &[1])),
        Err(SnnError::InvalidParam { ref field, .. }) if field == "least"
    ));
    assert!(matches!(
        e.present_series(&series(&retry[..4], &[0, 1])),
        Err(SnnError::InvalidParam { ref field, .. }) if field == "retries"
    ));
    // A retry's rates are checked before any round runs, as the source's own.
    let negative = [-1.0f32; 50];
    let bad: Vec<Vec<Option<&[f32]>>> = (0..5)
        .map(|r| vec![None, (r == 4).then_some(&negative[..])])
        .collect();
    let before = e.step_count();
    let err = e.present_series(&series(&bad, &[0, 1])).unwrap_err();
    assert!(err.to_string().contains("rates_hz[0]"), "{err}");
    assert_eq!(e.step_count(), before, "no round ran");
}

/// A state the engine gives back is one it takes, and the states it refuses are the ones
/// it could not continue alike: an all-but-self projection of one constant weight but
/// per-synapse delays keeps a weight per synapse (its state was refused once one changed);
/// a last arrival at a step not yet run, a spike list out of order or with a repeat (its
/// spike would arrive twice), and variables in another order are refused, naming them.
#[test]
fn a_state_is_taken_as_given_and_refused_where_it_cannot_be_continued() {
    let lat = Projection::new(
        "lat",
        "a",
        "b",
        Target::MEMBRANE_EXC,
        Connectivity::AllButSelf,
        0.5,
    )
    .with_weights(Weights::Constant(0.5), 0.0, 1.0)
    .with_delay(Delay::Array(vec![1.0; 12]), Delivery::AtEmission);
    let net = Network::new(1.0)
        .poisson("a", 4, 100.0)
        .neurons("b", 4, if_model(1.0))
        .project(lat);
    let mut e = Engine::new(&net).unwrap();
    let mut w = e.weights("lat", 0).unwrap().to_vec();
    w[0] = 0.25;
    e.set_weights("lat", 0, &w).unwrap();
    e.run(5).unwrap();
    let st = e.network_state();
    e.set_network_state(&st).expect("its own state");

    let plastic = Network::new(1.0)
        .poisson("in", 3, 800.0)
        .neurons("out", 2, if_model(0.5))
        .project(
            Projection::new(
                "p",
                "in",
                "out",
                Target::MEMBRANE_EXC,
                Connectivity::AllToAll,
                0.3,
            )
            .with_stdp(StdpParams {
                rule: StdpRule::PairAllToAll,
                ..StdpParams::diehl_cook()
            }),
        );
    let mut e = Engine::new(&plastic).unwrap();
    e.set_learning(true);
    e.run(10).unwrap();
    let st = e.network_state();
    e.set_network_state(&st).expect("its own state");
    let mut refused = |edit: &dyn Fn(&mut snn_wgpu::model::net::state::NetworkState),
                       want: &str| {
        let mut bad = st.clone();
        edit(&mut bad);
        let err = e.set_network_state(&bad).unwrap_err().to_string();
        assert!(err.contains(want), "{want}: {err}");
    };
    refused(
        &|s| {
            let a = &mut s.copies[0].projections[0].last_arrival_step;
            let k = a.iter().position(|&x| x != u32::MAX).expect("an arrival");
            a[k] = s.step;
        },
        "last_arrival_step[",
    );
    refused(
        &|s| s.copies[0].projections[0].history[0] = vec![1, 0],
        "ascending",
    );
    refused(
        &|s| s.copies[0].projections[0].history[0] = vec![1, 1],
        "ascending",
    );
    refused(
        &|s| s.copies[0].populations[1].variables.swap(0, 1),
        "variables",
    );
}

/// A presentation refused for any of its settings changes nothing, on the engine that
/// runs it call by call (the weights were normalised, and a presentation past the clock ran
/// its steps on, before the refusal).
#[test]
fn a_refused_presentation_changes_nothing() {
    use snn_wgpu::backend::{Presentation, Simulator};
    let net = Network::new(0.5)
        .poisson("in", 2, 50.0)
        .neurons("out", 1, if_model(1.0))
        .project(
            Projection::new(
                "p",
                "in",
                "out",
                Target::MEMBRANE_EXC,
                Connectivity::AllToAll,
                0.4,
            )
            .with_stdp(StdpParams::diehl_cook()),
        );
    let mut e = Engine::new(&net).unwrap();
    e.run(3).unwrap();
    let before = e.network_state();
    let rates = [30.0, 40.0];
    let inputs = [Trial {
        rates_hz: &rates,
        key: 1,
    }];
    let ok = Presentation {
        normalize: Some(("p", 0.5)),
        source: "in",
        inputs: &inputs,
        steps_on: 10,
        counted: "out",
        rest_steps: Some(5),
        check_weights: None,
        decay: None,
    };
    let bad_rates = [30.0];
    let short = [Trial {
        rates_hz: &bad_rates,
        key: 1,
    }];
    for bad in [
        Presentation {
            counted: "nobody",
            ..ok
        },
        Presentation {
            check_weights: Some("nope"),
            ..ok
        },
        Presentation {
            inputs: &short,
            ..ok
        },
        Presentation {
            steps_on: u32::MAX - 10,
            ..ok
        },
    ] {
        assert!(Simulator::present(&mut e, &bad).is_err(), "{bad:?}");
        assert_eq!(e.network_state(), before, "{bad:?}");
    }
    Simulator::present(&mut e, &ok).unwrap();
}
