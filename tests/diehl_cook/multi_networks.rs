//! Many networks in one run (`experiments::diehl_cook::multi`): each network of a K = 3 CPU
//! run equals a single run with its config (the protocol of `snn train`: training, then the
//! labelling and test passes with the key carried on): identical weights, θ and counts.
//! (`tests/gpu/dc_engine.rs` runs the same path on the GPU engine against the CPU's.) And
//! networks that differ in their seed only, trained as the copies of one engine in
//! lockstep (`train_batch`), each equal its run alone.

use ndarray::Array2;
use snn_wgpu::backend::EngineChoice;
use snn_wgpu::cpu::engine::EngineOptions;
use snn_wgpu::data::mnist::{embedded, Split};
use snn_wgpu::experiments::diehl_cook::config::DcConfig;
use snn_wgpu::experiments::diehl_cook::engine::DcEngine;
use snn_wgpu::experiments::diehl_cook::evaluate::assign_labels;
use snn_wgpu::experiments::diehl_cook::multi::{
    batches, ensemble, label_and_test, run, run_from, Engines, Sizes, Start,
};
use snn_wgpu::experiments::diehl_cook::sweep::{network_configs, parse_sweep};
use snn_wgpu::experiments::diehl_cook::train::{
    respond_frozen, respond_frozen_of, train, train_batch, train_from, TrainState,
};
use std::sync::atomic::{AtomicUsize, Ordering};

fn base() -> DcConfig {
    let mut c = DcConfig::preset("dc100").unwrap();
    c.n_exc = 24;
    c.seed = 11;
    c
}

/// A single run as `snn train` makes it: weights, θ, label counts and test counts.
fn single(cfg: &DcConfig, sizes: &Sizes) -> (Vec<f32>, Vec<f32>, Array2<u32>, Vec<i32>) {
    let (tr, te) = (
        embedded(Split::Train).unwrap(),
        embedded(Split::Test).unwrap(),
    );
    let mut b = DcEngine::new(&cfg.to_spec()).unwrap();
    let mut key = 0u32;
    train(&mut b, cfg, &tr, sizes.n_train, &mut key, |_| {}).unwrap();
    let lab = respond_frozen(
        &mut b,
        cfg,
        &tr,
        sizes.n_label,
        sizes.batch,
        &mut key,
        |_| {},
    )
    .unwrap();
    let a = assign_labels(lab.view(), &tr.labels[..sizes.n_label]).unwrap();
    let test = respond_frozen(
        &mut b,
        cfg,
        &te,
        sizes.n_test,
        sizes.batch,
        &mut key,
        |_| {},
    )
    .unwrap();
    (b.weights().unwrap(), b.theta().unwrap(), test, a.assignment)
}

#[test]
fn each_network_equals_its_single_run() {
    let (tr, te) = (
        embedded(Split::Train).unwrap(),
        embedded(Split::Test).unwrap(),
    );
    // Networks 0 and 1 differ by seed (12, 13 after the override of network 0's seed);
    // network 2 also learns θ faster and has no input delays.
    let sweep = parse_sweep(
        "[[network]]\nseed = 12\n[[network]]\n[[network]]\ntheta_plus_mv = 0.1\ninput_delay_max_ms = 0.0\n",
    )
    .unwrap();
    let cfgs = network_configs(&base(), Some(3), Some(&sweep)).unwrap();
    assert_eq!(
        cfgs.iter().map(|c| c.seed).collect::<Vec<_>>(),
        [12, 12, 13]
    );
    let sizes = Sizes {
        n_train: 12,
        n_label: 20,
        n_test: 15,
        batch: 8,
    };
    let images = AtomicUsize::new(0);
    let cpu = EngineChoice::Cpu(EngineOptions::default());
    let runs = run(&cfgs, &tr, &te, &sizes, &cpu, &|_| {
        images.fetch_add(1, Ordering::Relaxed);
    })
    .unwrap();
    assert_eq!(images.load(Ordering::Relaxed), 36);
    assert_eq!(runs.len(), 3);
    for (k, (r, cfg)) in runs.iter().zip(&cfgs).enumerate() {
        let (w, th, test, assignment) = single(cfg, &sizes);
        assert_eq!(&r.config, cfg);
        assert_eq!(r.weights, w, "network {k}: weights");
        assert_eq!(r.theta_mv, th, "network {k}: theta");
        assert_eq!(r.tested.test_counts, test, "network {k}: test counts");
        assert_eq!(
            r.tested.assignments.assignment, assignment,
            "network {k}: labels"
        );
        assert_eq!(r.stats.images, 12);
        let saved = r.saved().unwrap();
        assert_eq!(saved.weights.as_slice().unwrap(), &w[..]);
    }
    // Same config, same seed: same network; a different θ⁺ (or seed) gives another.
    assert_eq!(runs[0].weights, runs[1].weights);
    assert_ne!(runs[1].weights, runs[2].weights);
    let tested: Vec<_> = runs.iter().map(|r| &r.tested).collect();
    let e = ensemble(&tested, &te.labels[..15]).unwrap();
    assert_eq!(e.all_activity.total(), 15);
    assert_eq!(e.majority.total(), 15);
}

/// The first `n` training images, the 4th and 5th blank (skipped after their retries), and
/// three seeds of a small dc100 (12 neurons, 2 retries): networks whose retries differ.
/// Labelling and test run on the engine `Engines::eval` names, each network loaded into one
/// of its own: a CPU engine split into chunks of 16 neurons gives the counts of the engine
/// that trained, and one that cannot be built stops the run (so it is built and used).
#[test]
fn labelling_and_test_run_on_the_eval_engine() {
    let (tr, te) = (
        embedded(Split::Train).unwrap(),
        embedded(Split::Test).unwrap(),
    );
    let cfgs = network_configs(&base(), Some(2), None).unwrap();
    let sizes = Sizes {
        n_train: 4,
        n_label: 10,
        n_test: 8,
        batch: 4,
    };
    let cpu = EngineChoice::Cpu(EngineOptions::default());
    let eval = |eval: &EngineChoice| {
        run_from(
            &cfgs,
            vec![Start::fresh(); 2],
            (&tr, &te),
            &sizes,
            Engines {
                train: &cpu,
                eval: Some(eval),
                series_every: 0,
            },
            &|_, _| Ok(()),
            &|_, _, _, _| {},
        )
    };
    let alone = run(&cfgs, &tr, &te, &sizes, &cpu, &|_| {}).unwrap();
    let chunked = EngineChoice::Cpu(EngineOptions {
        chunk_neurons: 16,
        split_min_neurons: 0,
        ..EngineOptions::default()
    });
    for (a, b) in eval(&chunked).unwrap().iter().zip(&alone) {
        assert_eq!(a.tested.test_counts, b.tested.test_counts);
        assert_eq!(a.tested.assignments, b.tested.assignments);
        assert_eq!(a.tested.eval, b.tested.eval);
        assert_eq!((&a.weights, &a.theta_mv), (&b.weights, &b.theta_mv));
    }
    let bad = EngineChoice::Cpu(EngineOptions {
        chunk_neurons: 8,
        ..EngineOptions::default()
    });
    let e = eval(&bad).unwrap_err().to_string();
    assert!(e.contains("chunk_neurons"), "{e}");
}

fn three_seeds_and_blank_images(n: usize) -> (snn_wgpu::data::mnist::Dataset, Vec<DcConfig>) {
    let mut data = embedded(Split::Train).unwrap().take(n);
    let px = data.rows * data.cols;
    data.images[3 * px..5 * px].fill(0);
    let mut cfg = base();
    (cfg.n_exc, cfg.max_retries) = (12, 2);
    let cfgs = [3, 4, 5]
        .into_iter()
        .map(|seed| DcConfig {
            seed,
            ..cfg.clone()
        })
        .collect();
    (data, cfgs)
}

/// Networks that differ in their seed only train as the copies of one engine
/// (`DcEngine::build_batch`, `train_batch`), one try of each per round: each gives the bits
/// of its run alone (weights, θ, key, images, retries, skipped images, running window, and
/// the frozen responses after), though their retries differ, so that they finish at
/// different rounds, and two blank images are skipped after their retries.
#[test]
fn a_batch_trains_each_network_as_it_trains_alone() {
    let (data, cfgs) = three_seeds_and_blank_images(10);
    let specs: Vec<_> = cfgs.iter().map(DcConfig::to_spec).collect();
    let cpu = EngineChoice::Cpu(EngineOptions::default());
    let mut batch = DcEngine::build_batch(&specs, &cpu).unwrap();
    assert!(batch.weights().is_err(), "a batch names the copy");
    // So do labelling and test: the forms without a copy refuse a batch, naming the call.
    let mut key = 0;
    let e = respond_frozen(&mut batch, &cfgs[0], &data, 2, 2, &mut key, |_| {}).unwrap_err();
    assert!(
        e.to_string().contains("respond_frozen on a batch of 3"),
        "{e}"
    );
    let Err(e) = label_and_test(
        &mut batch,
        &cfgs[0],
        (&data, 2),
        (&data, 2),
        2,
        &mut key,
        |_, _, _| {},
    ) else {
        panic!("label_and_test on a batch ran");
    };
    assert!(
        e.to_string().contains("label_and_test on a batch of 3"),
        "{e}"
    );
    assert_eq!(key, 0, "nothing ran");
    let mut states = vec![TrainState::new(0); 3];
    let mut reports = vec![vec![]; 3];
    train_batch(
        &mut batch,
        &cfgs,
        &data,
        10,
        &mut states,
        0,
        |done, _, _| {
            done.iter()
                .for_each(|(k, p)| reports[*k].push(p.images_done));
            Ok(())
        },
    )
    .unwrap();
    let retries: Vec<u64> = states.iter().map(|s| s.stats.retries).collect();
    assert!(
        retries.iter().any(|&r| r != retries[0]),
        "the networks should finish at different rounds: retries {retries:?}"
    );
    for (k, cfg) in cfgs.iter().enumerate() {
        assert_eq!(
            reports[k],
            (1..=10).collect::<Vec<_>>(),
            "network {k}: reports"
        );
        let mut alone = DcEngine::new(&specs[k]).unwrap();
        let mut st = TrainState::new(0);
        train_from(&mut alone, cfg, &data, 10, &mut st, |_, _, _| Ok(())).unwrap();
        assert_eq!(states[k], st, "network {k}: training state");
        assert_eq!(st.stats.skipped_images, 2, "network {k}: the blank images");
        let bits = |v: Vec<f32>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let same = |a: Vec<f32>, b: Vec<f32>| bits(a) == bits(b);
        let (wb, wa) = (batch.weights_of(k).unwrap(), alone.weights().unwrap());
        assert!(same(wb, wa), "network {k}: weights differ");
        let (tb, ta) = (batch.theta_of(k).unwrap(), alone.theta().unwrap());
        assert!(same(tb, ta), "network {k}: theta differs");
        let (mut key_b, mut key_a) = (st.key, st.key);
        let frozen_b =
            respond_frozen_of(&mut batch, k, cfg, &data, 10, 4, &mut key_b, |_| {}).unwrap();
        let frozen_a = respond_frozen(&mut alone, cfg, &data, 10, 4, &mut key_a, |_| {}).unwrap();
        assert_eq!(frozen_b, frozen_a, "network {k}: frozen responses");
    }
    // A batch holds one experiment under several seeds.
    let mut other = cfgs.clone();
    other[2].theta_plus_mv *= 2.0;
    let specs: Vec<_> = other.iter().map(DcConfig::to_spec).collect();
    let e = DcEngine::build_batch(&specs, &cpu)
        .err()
        .expect("another experiment");
    assert!(e.to_string().contains("network 2 (seed 5)"), "{e}");
}

/// A batch of three networks (`train_batch`) stopped at any round continues bit for bit
/// from each network's state and snapshot of that round (`snapshot_of`, `restore_copies`),
/// a retry pending within an image included; and from states of different rounds, which
/// `multi::batches` puts in separate batches.
#[test]
fn a_batch_resumes_from_any_round_bit_for_bit() {
    let (tr, cfgs) = three_seeds_and_blank_images(12);
    let specs: Vec<_> = cfgs.iter().map(DcConfig::to_spec).collect();
    let cpu = EngineChoice::Cpu(EngineOptions::default());
    // Every round's starts of the networks still training then, as `snn train` checkpoints.
    let mut straight = DcEngine::build_batch(&specs, &cpu).unwrap();
    let mut done_states = vec![TrainState::new(0); 3];
    let mut rounds: Vec<Vec<Option<Start>>> = vec![];
    train_batch(
        &mut straight,
        &cfgs,
        &tr,
        10,
        &mut done_states,
        0,
        |done, states, b| {
            let mut starts = vec![];
            for (c, st) in states.iter().enumerate() {
                let training = st.stats.images < 10 || done.iter().any(|(d, _)| *d == c);
                starts.push(match training {
                    true => Some(Start {
                        train: st.clone(),
                        snapshot: Some(b.snapshot_of(c)?),
                        train_seconds: 0.0,
                    }),
                    false => None,
                });
            }
            rounds.push(starts);
            Ok(())
        },
    )
    .unwrap();
    let all = |s: &Vec<Option<Start>>| s.iter().all(Option::is_some);
    let pending = rounds
        .iter()
        .position(|s| {
            all(s)
                && s.iter().flatten().any(|x| x.train.pending.is_some())
                && s.iter().flatten().all(|x| x.train.stats.images >= 1)
        })
        .expect("a round with a retry pending");
    let later = (pending + 1..rounds.len())
        .find(|&q| all(&rounds[q]))
        .expect("a later round with every network training");
    let at = |q: usize, c: usize| rounds[q][c].clone().expect("training");
    let mixed = vec![at(pending, 0), at(later, 1), at(later, 2)];
    assert_eq!(batches(&cfgs, &mixed), vec![vec![0], vec![1, 2]]);
    let whole: Vec<Start> = (0..3).map(|c| at(pending, c)).collect();
    assert_eq!(batches(&cfgs, &whole), vec![vec![0, 1, 2]]);
    let bits = |v: Vec<f32>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for (starts, groups) in [
        (whole, vec![vec![0, 1, 2]]),
        (mixed, vec![vec![0], vec![1, 2]]),
    ] {
        for nets in groups {
            let specs: Vec<_> = nets.iter().map(|&k| specs[k].clone()).collect();
            let cfgs: Vec<_> = nets.iter().map(|&k| cfgs[k].clone()).collect();
            let snaps: Vec<_> = nets
                .iter()
                .map(|&k| starts[k].snapshot.clone().unwrap())
                .collect();
            let mut states: Vec<_> = nets.iter().map(|&k| starts[k].train.clone()).collect();
            let mut b = DcEngine::build_batch(&specs, &cpu).unwrap();
            b.restore_copies(&snaps).unwrap();
            train_batch(&mut b, &cfgs, &tr, 10, &mut states, 0, |_, _, _| Ok(())).unwrap();
            for (c, &k) in nets.iter().enumerate() {
                assert_eq!(states[c], done_states[k], "network {k}: training");
                let same_w =
                    bits(b.weights_of(c).unwrap()) == bits(straight.weights_of(k).unwrap());
                assert!(same_w, "network {k}: weights differ");
                let same_t = bits(b.theta_of(c).unwrap()) == bits(straight.theta_of(k).unwrap());
                assert!(same_t, "network {k}: theta differs");
            }
        }
    }
}
