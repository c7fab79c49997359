//! The large presets train without the forward-Euler runaway (spec §4, pitfall 3). With 6400
//! inhibitory neurons, a step in which a dozen of them fire at once gives `gi·dt/τ_m` above 1,
//! Euler drives v far past E_inh, the inhibitory term turns depolarising, and the whole layer
//! fires at its lockout rate from then on. dc6400 without `clamp_v_to_reversal` meets that
//! on its 52nd embedded training image; the preset turns the clamp on and trains through.
//! (Smaller overshoots come earlier: the two networks part from the second image on.)
//! CPU reference, learning on, the full protocol (350 ms + 150 ms of simulated rest).

use snn_wgpu::backend::CompetitiveBackend;
use snn_wgpu::cpu::wta::CpuCompetitive;
use snn_wgpu::data::mnist::{embedded, Split};
use snn_wgpu::experiments::diehl_cook::config::DcConfig;
use snn_wgpu::model::{PresentOptions, RestMode};

/// Trains `cfg` on the first `images` embedded training images; returns, per image, how
/// many excitatory neurons fired.
fn active_per_image(cfg: &DcConfig, images: usize) -> Vec<usize> {
    let mut b = CpuCompetitive::new(&cfg.to_spec()).unwrap();
    let data = embedded(Split::Train).unwrap();
    (0..images)
        .map(|k| {
            let opts = PresentOptions {
                steps_on: cfg.steps_on(),
                steps_rest: cfg.steps_rest(),
                rest: RestMode::Simulate,
                learn: true,
                key: k as u32,
            };
            let rates = DcConfig::rates(data.image(k), cfg.intensity_start);
            let counts = b.present(&rates, &opts).unwrap();
            counts.iter().filter(|&&c| c > 0).count()
        })
        .collect()
}

#[test]
fn large_presets_turn_the_reversal_clamp_on() {
    for (name, on) in [
        ("dc100", false),
        ("dc400", false),
        ("dc1600", true),
        ("dc6400", true),
    ] {
        assert_eq!(DcConfig::preset(name).unwrap().clamp_v_to_reversal, on, "{name}");
    }
}

#[test]
fn dc6400_trains_through_its_first_images_where_unclamped_euler_runs_away() {
    let images = 56;
    let preset = DcConfig::preset("dc6400").unwrap();
    let clamped = active_per_image(&preset, images);
    // A winner-take-all layer: a handful of neurons per image, never most of the layer.
    let most = clamped.iter().copied().max().unwrap();
    assert!(
        most < 100,
        "the dc6400 preset had {most} of 6400 neurons firing in one presentation: {clamped:?}"
    );
    // The same network without the clamp: the runaway this guards against is within reach.
    let unclamped = DcConfig {
        clamp_v_to_reversal: false,
        ..preset
    };
    let runaway = active_per_image(&unclamped, images);
    assert!(
        runaway.iter().any(|&a| a > 3200),
        "without the clamp, no image made most of the layer fire in the first {images} \
         (the runaway moved; pick a longer stretch): {runaway:?}"
    );
}
