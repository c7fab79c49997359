//! Property tests ("fuzzing") of the checkpoint loader (`checkpoint::load_checkpoint`, what
//! `snn train --resume` reads): arbitrary bytes, a real checkpoint with bytes flipped, cut or
//! appended, and array headers that claim enormous shapes give `Ok` (for the untouched file)
//! or an `Err` naming the file, never a panic and never a huge allocation.

use crate::common::TempDir;
use crate::fuzz_support::{config, find, largest_alloc, ALLOC_LIMIT};
use proptest::prelude::*;
use snn_wgpu::experiments::diehl_cook::checkpoint::{
    load_checkpoint, save_checkpoint, Checkpoint, RunPlan, CHECKPOINT_FILE,
};
use snn_wgpu::experiments::diehl_cook::config::DcConfig;
use snn_wgpu::experiments::diehl_cook::engine::DcEngine;
use snn_wgpu::experiments::diehl_cook::train::TrainState;
use std::sync::OnceLock;

/// A real checkpoint of a small network (8 neurons, input delays on) after a few images.
fn sample() -> &'static (Checkpoint, Vec<u8>) {
    static S: OnceLock<(Checkpoint, Vec<u8>)> = OnceLock::new();
    S.get_or_init(|| {
        let mut config = DcConfig::preset("dc100").unwrap();
        config.n_exc = 8;
        let mut b = DcEngine::new(&config.to_spec()).unwrap();
        let data = snn_wgpu::data::mnist::embedded(snn_wgpu::data::mnist::Split::Train).unwrap();
        let mut train = TrainState::new(0);
        snn_wgpu::experiments::diehl_cook::train::train_from(
            &mut b,
            &config,
            &data,
            3,
            &mut train,
            |_, _, _| Ok(()),
        )
        .unwrap();
        let ck = Checkpoint {
            trained_on: "cpu".into(),
            plan: RunPlan {
                n_train: 3,
                label_samples: None,
                test_samples: None,
                batch: 8,
                data: "embedded".into(),
                data_dir: None,
                data_fingerprint: "x".into(),
                validation: false,
                eval_fingerprint: None,
            },
            config,
            train,
            train_seconds: 1.0,
            snapshot: b.snapshot().unwrap(),
            crate_version: env!("CARGO_PKG_VERSION").into(),
        };
        let t = TempDir::new("ck-sample");
        save_checkpoint(&t.0, &ck).unwrap();
        let bytes = std::fs::read(t.0.join(CHECKPOINT_FILE)).unwrap();
        (ck, bytes)
    })
}

fn load(bytes: &[u8]) -> (Result<Checkpoint, snn_wgpu::SnnError>, usize) {
    let t = TempDir::new("ck");
    t.write(CHECKPOINT_FILE, bytes);
    largest_alloc(|| load_checkpoint(&t.0))
}

proptest! {
    #![proptest_config(config(96))]

    /// Arbitrary bytes: an `Err` naming the file, never a panic.
    #[test]
    fn checkpoint_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let (r, largest) = load(&bytes);
        let e = r.unwrap_err().to_string();
        prop_assert!(e.contains(CHECKPOINT_FILE), "{}", e);
        prop_assert!(largest <= ALLOC_LIMIT, "an allocation of {} bytes", largest);
    }

    /// A real checkpoint with bytes flipped, cut or appended.
    #[test]
    fn checkpoint_mutated(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 0..4),
        cut in proptest::option::weighted(0.3, any::<prop::sample::Index>()),
        extra in proptest::collection::vec(any::<u8>(), 0..3),
    ) {
        let (ck, original) = sample();
        let mut bytes = original.clone();
        let untouched = flips.is_empty() && cut.is_none() && extra.is_empty();
        for (at, x) in &flips {
            let i = at.index(bytes.len());
            bytes[i] ^= x;
        }
        if let Some(c) = cut {
            bytes.truncate(c.index(bytes.len()));
        }
        bytes.extend_from_slice(&extra);
        let (r, largest) = load(&bytes);
        prop_assert!(largest <= ALLOC_LIMIT, "an allocation of {} bytes", largest);
        if untouched {
            prop_assert_eq!(&r.unwrap(), ck);
        }
    }
}

/// Array headers rewritten in place to claim enormous shapes: refused before allocating.
#[test]
fn checkpoint_huge_shapes_are_refused_before_allocating() {
    let (ck, original) = sample();
    assert_eq!(&load(original).0.unwrap(), ck);
    let w_shape = format!("'shape': ({},)}}", 784 * 8);
    for (from, to) in [
        (w_shape.as_str(), "'shape': (300000000000,)}"),
        ("'shape': (8,)}", "'shape': (4611686018427387904,)}"),
    ] {
        let mut patched = original.clone();
        let i = find(&patched, from.as_bytes()).unwrap_or_else(|| panic!("{from} not found"));
        let pad = patched[i + from.len()..]
            .iter()
            .take_while(|&&b| b == b' ')
            .count();
        assert!(to.len() <= from.len() + pad, "not enough header padding");
        let mut new = to.as_bytes().to_vec();
        new.resize(from.len() + pad, b' ');
        patched[i..i + from.len() + pad].copy_from_slice(&new);
        let (r, largest) = load(&patched);
        let e = r.unwrap_err().to_string();
        assert!(e.contains(CHECKPOINT_FILE) && e.contains("damaged"), "{e}");
        assert!(
            largest <= ALLOC_LIMIT,
            "{to}: an allocation of {largest} bytes"
        );
    }
}
