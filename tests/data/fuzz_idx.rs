//! Property tests ("fuzzing") of the readers of untrusted files: the IDX reader
//! (`data::mnist`) and the run-directory loader (`experiments::diehl_cook::io::load_network`).
//!
//! Arbitrary bytes, mutated valid files, lying headers and gzip-wrapped garbage must give
//! `Ok` (for valid input) or `Err`, never a panic, and never a huge allocation: a counting
//! global allocator records the largest single allocation of each thread, and every case
//! checks it. Case counts keep the whole file to a few seconds in release mode.

use std::path::Path;

use crate::common::{gz, idx_header as header, idx_images, idx_labels, TempDir};
use crate::fuzz_support::{config, find, largest_alloc, ALLOC_LIMIT};
use ndarray::{Array1, Array2};
use ndarray_npy::NpzWriter;
use proptest::prelude::*;
use snn_wgpu::data::mnist::{load_split, read_idx_images, read_idx_labels, Split};
use snn_wgpu::experiments::diehl_cook::io::{load_network, save_network, SavedNetwork};

/// An IDX label file of `n` labels 0, 1, …, 9, 0, …
fn valid_labels(n: u32) -> Vec<u8> {
    idx_labels(&(0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>())
}

/// Reads `path` both as images and as labels; checks that an `Ok` is self-consistent and
/// that nothing allocated more than [`ALLOC_LIMIT`].
fn read_both(path: &Path) -> (bool, bool) {
    let ((images, labels), largest) =
        largest_alloc(|| (read_idx_images(path), read_idx_labels(path)));
    assert!(
        largest <= ALLOC_LIMIT,
        "{}: an allocation of {largest} bytes",
        path.display()
    );
    if let Ok((rows, cols, px)) = &images {
        assert!((1..=4096).contains(rows) && (1..=4096).contains(cols));
        assert_eq!(px.len() % (rows * cols), 0);
    }
    (images.is_ok(), labels.is_ok())
}

/// Header fields that matter at their edges, and anything else.
fn edgy_u32() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0u32),
        Just(1),
        Just(2),
        Just(3),
        Just(28),
        Just(4096),
        Just(4097),
        Just(1 << 31),
        Just(u32::MAX),
        any::<u32>(),
    ]
}

// ---- IDX ----

proptest! {
    #![proptest_config(config(192))]

    /// Arbitrary bytes, raw and gzip'd: an `Err` (or a consistent `Ok`), never a panic.
    #[test]
    fn idx_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let t = TempDir::new("arb");
        read_both(&t.write("raw", &bytes));
        read_both(&t.write("wrapped.gz", &gz(&bytes)));
    }

    /// The gzip magic followed by garbage is a corrupt stream: an `Err`.
    #[test]
    fn idx_gzip_magic_then_garbage(tail in proptest::collection::vec(any::<u8>(), 0..512)) {
        let t = TempDir::new("gzgarbage");
        let mut bytes = vec![0x1f, 0x8b];
        bytes.extend_from_slice(&tail);
        prop_assert_eq!(read_both(&t.write("g.gz", &bytes)), (false, false));
    }
}

proptest! {
    #![proptest_config(config(384))]

    /// Headers with any magic, count and size, a body of any length, raw or gzip'd: `Ok`
    /// exactly when the header is right and the body is exactly as long as it says.
    #[test]
    fn idx_headers_against_an_oracle(
        magic in prop_oneof![Just(2051u32), Just(2049), Just(0x0803_0000), any::<u32>()],
        count in edgy_u32(),
        rows in edgy_u32(),
        cols in edgy_u32(),
        body_len in prop_oneof![Just(None), (0usize..600).prop_map(Some)],
        delta in -2i64..=2,
        cut_header in proptest::option::weighted(0.1, 0usize..16),
        wrap in any::<bool>(),
    ) {
        // The images reading: magic, count, rows, cols, body.
        let claimed = u64::from(count) * u64::from(rows) * u64::from(cols);
        let len = match body_len {
            // "Exact or nearly", where the claim is small enough to write out.
            None if claimed <= 600 => (claimed as i64 + delta).max(0) as usize,
            None => 0,
            Some(n) => n,
        };
        let mut bytes = header(&[magic, count, rows, cols]);
        bytes.extend((0..len).map(|i| i as u8));
        if let Some(c) = cut_header {
            bytes.truncate(c);
        }
        let t = TempDir::new("oracle");
        let file = if wrap { gz(&bytes) } else { bytes.clone() };
        let (images_ok, labels_ok) = read_both(&t.write("f", &file));
        let side_ok = |s: u32| (1..=4096).contains(&s);
        let images_expected = cut_header.is_none()
            && magic == 2051
            && side_ok(rows)
            && side_ok(cols)
            && len as u64 == claimed;
        prop_assert_eq!(images_ok, images_expected);
        // As labels, the body starts after 8 bytes, so rows and cols belong to it.
        let labels_expected = bytes.len() >= 8
            && magic == 2049
            && (bytes.len() - 8) as u64 == u64::from(count);
        prop_assert_eq!(labels_ok, labels_expected);
    }

    /// Valid files with bytes flipped, cut off or appended, raw or gzip'd (the mutation hits
    /// the gzip stream itself half of the time), and as a split directory.
    #[test]
    fn idx_mutated_valid_files(
        n in 0u32..6,
        rows in 1u32..6,
        cols in 1u32..6,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 0..4),
        cut in proptest::option::of(any::<prop::sample::Index>()),
        extra in proptest::collection::vec(any::<u8>(), 0..4),
        wrap in any::<bool>(),
        mutate_compressed in any::<bool>(),
    ) {
        let t = TempDir::new("mutated");
        for original in [idx_images(n, rows, cols), valid_labels(n)] {
            let mut bytes = if wrap && mutate_compressed { gz(&original) } else { original.clone() };
            let untouched = flips.is_empty() && cut.is_none() && extra.is_empty();
            for (at, x) in &flips {
                let i = at.index(bytes.len());
                bytes[i] ^= x;
            }
            if let Some(c) = cut {
                let c = c.index(bytes.len());
                bytes.truncate(c);
            }
            bytes.extend_from_slice(&extra);
            if wrap && !mutate_compressed {
                bytes = gz(&bytes);
            }
            let (i, l) = read_both(&t.write("f", &bytes));
            if untouched {
                prop_assert!(i || l, "a valid file was refused");
            }
        }
        // The same mutations through load_split's pairing of images and labels.
        let img = idx_images(n, rows, cols);
        let mut lab = valid_labels(n);
        if let Some(c) = cut {
            let c = c.index(lab.len());
            lab.truncate(c);
        }
        t.write("t10k-images-idx3-ubyte", &img);
        t.write("t10k-labels-idx1-ubyte.gz", &gz(&lab));
        let (r, largest) = largest_alloc(|| load_split(&t.0, Split::Test));
        prop_assert!(largest <= ALLOC_LIMIT);
        if cut.is_none() {
            let d = r.unwrap();
            prop_assert_eq!(d.len(), n as usize);
            prop_assert_eq!(d.images, img[16..].to_vec());
        }
    }
}

/// Headers claiming billions of images: refused without allocating anything of that size,
/// whether the body is short or a gzip stream that expands to many megabytes of zeros.
#[test]
fn idx_huge_claims_are_refused_before_allocating() {
    let t = TempDir::new("huge");
    let zeros = vec![0u8; 32 << 20];
    for (name, head) in [
        ("images", header(&[2051, u32::MAX, 28, 28])),
        ("images-wide", header(&[2051, 4_000_000_000, 4096, 4096])),
        ("labels", header(&[2049, u32::MAX])),
    ] {
        let mut short = head.clone();
        short.extend_from_slice(&[7; 100]);
        let mut bomb = head.clone();
        bomb.extend_from_slice(&zeros);
        for (kind, bytes) in [("short", short.clone()), ("bomb", bomb)] {
            let p = t.write(&format!("{name}-{kind}.gz"), &gz(&bytes));
            let ((i, l), largest) = largest_alloc(|| (read_idx_images(&p), read_idx_labels(&p)));
            assert!(i.is_err() && l.is_err(), "{name}-{kind}");
            assert!(
                largest < 4 << 20,
                "{name}-{kind}: an allocation of {largest} bytes"
            );
        }
        let p = t.write(&format!("{name}-short"), &short);
        let (r, largest) = largest_alloc(|| (read_idx_images(&p), read_idx_labels(&p)));
        assert!(r.0.is_err() && r.1.is_err());
        assert!(
            largest < 1 << 20,
            "{name}: an allocation of {largest} bytes"
        );
    }
    // A small, honest header followed by a gzip bomb: cut off near the claimed size.
    let mut bytes = idx_images(10, 28, 28);
    bytes.extend_from_slice(&zeros);
    let p = t.write("bomb-after-valid.gz", &gz(&bytes));
    let (r, largest) = largest_alloc(|| read_idx_images(&p));
    let e = r.unwrap_err().to_string();
    assert!(e.contains("bomb-after-valid.gz"), "{e}");
    assert!(largest < 4 << 20, "an allocation of {largest} bytes");
}

// ---- network.npz ----

fn sample_network(n_exc: usize) -> SavedNetwork {
    SavedNetwork {
        n_input: 784,
        n_exc,
        weights: Array2::from_shape_fn((784, n_exc), |(p, j)| (p * 3 + j) as f32 / 4000.0),
        theta_mv: (0..n_exc).map(|j| j as f32 * 0.5).collect(),
        assignments: (0..n_exc).map(|j| j as i32 % 10).collect(),
        config_json: "{}".to_string(),
    }
}

/// The bytes of a valid network.npz: zip-deflated (as `save_network` writes it) or stored.
fn network_npz(compressed: bool) -> Vec<u8> {
    let t = TempDir::new("npz-src");
    let net = sample_network(3);
    if compressed {
        save_network(&t.0, &net).unwrap();
    } else {
        let mut w = NpzWriter::new(std::fs::File::create(t.0.join("network.npz")).unwrap());
        w.add_array("weights", &net.weights).unwrap();
        w.add_array("theta_mv", &Array1::from(net.theta_mv.clone()))
            .unwrap();
        w.add_array("assignments", &Array1::from(net.assignments.clone()))
            .unwrap();
        w.finish().unwrap();
    }
    std::fs::read(t.0.join("network.npz")).unwrap()
}

/// Loads `npz` as a run directory's network.npz (with a config.json beside it).
fn load(t: &TempDir, npz: &[u8]) -> (Result<SavedNetwork, snn_wgpu::SnnError>, usize) {
    t.write("network.npz", npz);
    t.write("config.json", b"{}");
    let (r, largest) = largest_alloc(|| load_network(&t.0));
    if let Ok(net) = &r {
        net.validate().unwrap();
    }
    (r, largest)
}

proptest! {
    #![proptest_config(config(128))]

    /// Arbitrary bytes as network.npz: an `Err`, never a panic.
    #[test]
    fn npz_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let t = TempDir::new("npz-arb");
        let (r, largest) = load(&t, &bytes);
        prop_assert!(r.is_err());
        prop_assert!(largest <= ALLOC_LIMIT, "an allocation of {} bytes", largest);
    }

    /// Valid network.npz files, zip-deflated or stored, with bytes flipped, cut or appended.
    #[test]
    fn npz_mutated_valid_files(
        compressed in any::<bool>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 0..4),
        cut in proptest::option::weighted(0.3, any::<prop::sample::Index>()),
        extra in proptest::collection::vec(any::<u8>(), 0..3),
    ) {
        let mut bytes = network_npz(compressed);
        let untouched = flips.is_empty() && cut.is_none() && extra.is_empty();
        for (at, x) in &flips {
            let i = at.index(bytes.len());
            bytes[i] ^= x;
        }
        if let Some(c) = cut {
            let c = c.index(bytes.len());
            bytes.truncate(c);
        }
        bytes.extend_from_slice(&extra);
        let t = TempDir::new("npz-mut");
        let (r, largest) = load(&t, &bytes);
        prop_assert!(largest <= ALLOC_LIMIT, "an allocation of {} bytes", largest);
        if untouched {
            prop_assert_eq!(r.unwrap(), sample_network(3));
        }
    }
}

/// A stored (uncompressed) network.npz whose array headers claim enormous shapes, written
/// over the real ones in place (same length, so the zip stays readable up to the CRC):
/// refused before allocating.
#[test]
fn npz_huge_shapes_are_refused_before_allocating() {
    let original = network_npz(false);
    let t = TempDir::new("npz-huge");
    let (r, _) = load(&t, &original);
    assert_eq!(r.unwrap(), sample_network(3));
    for (from, to) in [
        ("'shape': (784, 3)}", "'shape': (784, 300000000000)}"),
        ("'shape': (784, 3)}", "'shape': (4000000000, 4000000000)}"),
        ("'shape': (3,)}", "'shape': (300000000000,)}"),
        ("'shape': (3,)}", "'shape': (4611686018427387904,)}"),
    ] {
        let mut patched = original.clone();
        let mut hits = 0;
        let mut at = 0;
        while let Some(i) = find(&patched[at..], from.as_bytes()) {
            let i = at + i;
            // Replace `from` plus the padding spaces after it by `to` plus fewer spaces.
            let pad = patched[i + from.len()..]
                .iter()
                .take_while(|&&b| b == b' ')
                .count();
            assert!(to.len() <= from.len() + pad, "not enough header padding");
            let mut new = to.as_bytes().to_vec();
            new.resize(from.len() + pad, b' ');
            patched[i..i + from.len() + pad].copy_from_slice(&new);
            hits += 1;
            at = i + new.len();
        }
        assert!(hits > 0, "{from} not found in the npz");
        let (r, largest) = load(&t, &patched);
        let e = r.unwrap_err().to_string();
        assert!(e.contains("network.npz"), "{e}");
        assert!(
            largest <= ALLOC_LIMIT,
            "{to}: an allocation of {largest} bytes"
        );
    }
}
