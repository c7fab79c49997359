//! K learning networks in one dispatch (`gpu::wta_multi`) against the CPU reference: three
//! small networks, each given its own sequence of presentations (keys, intensities, and
//! presentations it sits out), give each network's single-run spike counts exactly and its
//! weights and θ within the tolerance of `wta_gpu_vs_cpu.rs`; and `snn train --networks`'s
//! lockstep driver on the GPU gives the CPU's networks.

use crate::common;

use crate::common::assert_close as close;

use snn_wgpu::backend::{CompetitiveBackend, CompetitiveMulti};
use snn_wgpu::data::mnist::{embedded, Split};
use snn_wgpu::experiments::diehl_cook::config::DcConfig;
use snn_wgpu::experiments::diehl_cook::engine::DcEngine;
use snn_wgpu::experiments::diehl_cook::lockstep::run_lockstep;
use snn_wgpu::experiments::diehl_cook::multi::{run_cpu, Sizes};
use snn_wgpu::experiments::diehl_cook::sweep::network_configs;
use snn_wgpu::gpu::wta::GpuCompetitive;
use snn_wgpu::gpu::wta_multi::GpuCompetitiveMulti;
use snn_wgpu::model::{PresentOptions, RestMode};

fn configs(delays: bool) -> Vec<DcConfig> {
    let mut c = DcConfig::preset("dc100").unwrap();
    c.n_exc = 24;
    c.seed = 3;
    if !delays {
        c.input_delay_max_ms = 0.0;
    }
    network_configs(&c, Some(3), None).unwrap()
}

fn networks_agree(delays: bool, rest: RestMode) {
    let ctx = common::gpu_ctx();
    let cfgs = configs(delays);
    let specs: Vec<_> = cfgs.iter().map(|c| c.to_spec()).collect();
    let data = embedded(Split::Train).unwrap();
    let mut cpu: Vec<DcEngine> = specs.iter().map(|s| DcEngine::new(s).unwrap()).collect();
    let mut gpu = GpuCompetitiveMulti::new(ctx, &specs).unwrap();
    assert_eq!(gpu.networks(), 3);
    for (k, c) in cpu.iter_mut().enumerate() {
        close(&gpu.weights(k).unwrap(), &c.weights().unwrap(), "initial w");
    }
    let mut keys = [0u32; 3];
    let mut total = 0;
    for round in 0..5usize {
        // Network k sits out round k + 1; each has its own key sequence and intensity.
        let rates: Vec<Vec<f32>> = (0..3)
            .map(|k| DcConfig::rates(data.image(round * 3 + k), 2.0 + (round + k) as f32))
            .collect();
        let opts: Vec<PresentOptions> = (0..3)
            .map(|k| PresentOptions {
                steps_on: 700,
                steps_rest: 300,
                rest,
                learn: true,
                key: keys[k],
            })
            .collect();
        let inputs: Vec<Option<(&[f32], PresentOptions)>> = (0..3)
            .map(|k| (round != k + 1).then(|| (rates[k].as_slice(), opts[k])))
            .collect();
        let got = gpu.present(&inputs).unwrap();
        for k in 0..3 {
            match (&inputs[k], &got[k]) {
                (Some((r, o)), Some(counts)) => {
                    let want = cpu[k].present(r, o).unwrap();
                    assert_eq!(counts, &want, "round {round}, network {k}: spike counts");
                    total += want.iter().sum::<u32>();
                    keys[k] += 1;
                }
                (None, None) => {}
                _ => panic!("round {round}, network {k}: counts for the wrong networks"),
            }
        }
        for (k, c) in cpu.iter_mut().enumerate() {
            close(
                &gpu.theta(k).unwrap(),
                &c.theta().unwrap(),
                &format!("network {k} theta"),
            );
            close(
                &gpu.weights(k).unwrap(),
                &c.weights().unwrap(),
                &format!("network {k} w"),
            );
        }
    }
    assert!(
        total > 40,
        "too few spikes ({total}) for a meaningful comparison"
    );
    // The networks really are different networks.
    let (w0, w1) = (gpu.weights(0).unwrap(), gpu.weights(1).unwrap());
    assert_ne!(w0, w1);
}

pub fn three_networks_agree_with_the_cpu_without_delays() {
    networks_agree(false, RestMode::Simulate);
}

pub fn three_networks_agree_with_the_cpu_with_delays_and_reset_rest() {
    networks_agree(true, RestMode::Reset);
}

pub fn lockstep_training_on_the_gpu_equals_the_cpu_runs() {
    let ctx = common::gpu_ctx();
    let (tr, te) = (
        embedded(Split::Train).unwrap(),
        embedded(Split::Test).unwrap(),
    );
    let cfgs = configs(false);
    let sizes = Sizes {
        n_train: 8,
        n_label: 8,
        n_test: 6,
        batch: 8,
    };
    let reference = run_cpu(&cfgs, &tr, &te, &sizes, &|_| {}).unwrap();
    let specs: Vec<_> = cfgs.iter().map(|c| c.to_spec()).collect();
    let mut multi = GpuCompetitiveMulti::new(ctx.clone(), &specs).unwrap();
    let single = |cfg: &DcConfig| -> snn_wgpu::Result<Box<dyn CompetitiveBackend>> {
        Ok(Box::new(GpuCompetitive::new(ctx.clone(), &cfg.to_spec())?))
    };
    let runs = run_lockstep(&mut multi, single, &cfgs, &tr, &te, &sizes, &|_| {}).unwrap();
    for (k, (a, b)) in runs.iter().zip(&reference).enumerate() {
        assert_eq!(a.stats, b.stats, "network {k}: images and retries");
        close(&a.weights, &b.weights, &format!("network {k} w"));
        close(&a.theta_mv, &b.theta_mv, &format!("network {k} theta"));
        assert_eq!(
            a.tested.test_counts, b.tested.test_counts,
            "network {k}: test counts"
        );
    }
}

pub fn networks_that_differ_in_more_than_the_seed_are_refused() {
    let ctx = common::gpu_ctx();
    let mut cfgs = configs(false);
    cfgs[1].theta_plus_mv = 0.1;
    let specs: Vec<_> = cfgs.iter().map(|c| c.to_spec()).collect();
    let e = GpuCompetitiveMulti::new(ctx, &specs)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("network 1") && e.contains("seed"), "{e}");
}

/// Network 1's snapshot, restored after it trained on, takes it back: the presentations that
/// follow give the counts and weights they gave the first time, and network 0 is untouched.
/// Bad restores are refused and change nothing.
pub fn a_network_snapshot_restores_that_network_only() {
    let ctx = common::gpu_ctx();
    let cfgs = configs(true);
    let specs: Vec<_> = cfgs.iter().map(|c| c.to_spec()).collect();
    let data = embedded(Split::Train).unwrap();
    let mut gpu = GpuCompetitiveMulti::new(ctx, &specs).unwrap();
    let opts = |key: u32| PresentOptions {
        steps_on: 300,
        steps_rest: 100,
        rest: RestMode::Simulate,
        learn: true,
        key,
    };
    let rates = |i: usize| DcConfig::rates(data.image(i), 4.0);
    let r = [rates(0), rates(1), rates(2)];
    // Network 1 alone, so network 0 stays as it is.
    let present1 = |g: &mut GpuCompetitiveMulti, img: usize, key: u32| {
        g.present(&[None, Some((&r[img][..], opts(key))), None])
            .unwrap()[1]
            .clone()
            .unwrap()
    };
    present1(&mut gpu, 0, 0);
    let snap = gpu.snapshot(1).unwrap();
    let w0 = gpu.weights(0).unwrap();
    let first = (present1(&mut gpu, 1, 1), present1(&mut gpu, 2, 2));
    let w_first = gpu.weights(1).unwrap();
    assert!(first.0.iter().chain(&first.1).sum::<u32>() > 0);

    gpu.restore(1, &snap).unwrap();
    let again = (present1(&mut gpu, 1, 1), present1(&mut gpu, 2, 2));
    assert_eq!(again, first, "counts after the restore");
    let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect::<Vec<_>>();
    assert_eq!(
        bits(gpu.weights(1).unwrap()),
        bits(w_first),
        "weights after the restore"
    );
    assert_eq!(
        bits(gpu.weights(0).unwrap()),
        bits(w0),
        "network 0 untouched"
    );

    // Out of range, another kind, or another size: refused.
    assert!(gpu.snapshot(3).is_err());
    assert!(gpu.restore(3, &snap).is_err());
    let mut other = snn_wgpu::backend::Snapshot::new("cpu");
    other.arrays = snap.arrays.clone();
    assert!(gpu.restore(1, &other).is_err());
    let mut small = DcConfig::preset("dc100").unwrap();
    small.n_exc = 12;
    let ctx2 = common::gpu_ctx();
    let mut g2 = GpuCompetitiveMulti::new(ctx2, &[small.to_spec()]).unwrap();
    assert!(g2.restore(0, &snap).is_err(), "a snapshot of another size");
}
