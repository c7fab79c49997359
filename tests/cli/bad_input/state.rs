//! NaN / Inf in the state stops every backend, naming population, variable, neuron and step.

use super::helpers::*;

/// A configuration whose inhibition overflows f32 as soon as neurons fire.
fn exploding_config() -> DcConfig {
    let mut c = small_config();
    c.w_exc_inh = 3e38;
    c.w_inh_exc = 3e38;
    c.intensity_start = 8.0;
    c
}

fn check_non_finite(b: &mut DcEngine, rest: RestMode) {
    let what = b.describe();
    let img = mnist::embedded(Split::Train).unwrap();
    let rates = DcConfig::rates(img.image(0), 8.0);
    let opts = PresentOptions {
        steps_on: 700,
        steps_rest: 300,
        rest,
        learn: true,
        key: 0,
    };
    let e = b.present(&rates, &opts).unwrap_err();
    let SnnError::NonFinite {
        population,
        variable,
        neuron,
        step,
    } = &e
    else {
        panic!("{what}: expected NonFinite, got {e}");
    };
    assert!(population == "exc" || population == "inh", "{what}: {e}");
    assert!(["v", "ge", "gi", "theta"].contains(&variable.as_str()));
    assert!(*neuron < 10 && *step > 0, "{what}: {e}");
    has_all(
        &e.to_string(),
        &[
            &format!("population `{population}`"),
            &format!("variable `{variable}`"),
            &format!("neuron {neuron}"),
            &format!("by step {step}"),
            "check dt",
        ],
    );
    // A frozen batch names the image: the engine's trial 0 (the first GPU kernels: "frozen
    // copy, image 0 of the batch").
    let batch = vec![rates.clone(), rates];
    let e = b.present_frozen_batch(&batch, &opts).unwrap_err();
    assert!(matches!(e, SnnError::NonFinite { .. }), "{what}: {e}");
    let s = e.to_string();
    assert!(
        s.contains("(trial 0)") || s.contains("frozen copy, image 0 of the batch"),
        "{what}: {s}"
    );
}

pub fn non_finite_state_stops_both_backends_naming_population_variable_neuron_step() {
    let spec = exploding_config().to_spec();
    for rest in [RestMode::Reset, RestMode::Simulate] {
        check_non_finite(&mut DcEngine::new(&spec).unwrap(), rest);
        if let Some(ctx) = crate::common::gpu() {
            check_non_finite(&mut on_gpu(ctx, &spec).unwrap(), rest);
        }
    }
}

pub fn non_finite_state_in_k_networks_names_population_variable_and_network() {
    use snn_wgpu::backend::EngineChoice;
    use snn_wgpu::cpu::engine::EngineOptions;
    use snn_wgpu::experiments::diehl_cook::multi::{run, Sizes};
    let cfg = exploding_config();
    let other = DcConfig {
        seed: cfg.seed + 1,
        ..cfg.clone()
    };
    let img = mnist::embedded(Split::Train).unwrap();
    let sizes = Sizes {
        n_train: 2,
        n_label: 2,
        n_test: 2,
        batch: 2,
    };
    let mut engines = vec![EngineChoice::Cpu(EngineOptions::default())];
    if let Some(ctx) = crate::common::gpu() {
        engines.push(EngineChoice::Gpu(ctx, GpuEngineOptions::default()));
    }
    for choice in &engines {
        let e = run(
            &[cfg.clone(), other.clone()],
            &img,
            &img,
            &sizes,
            choice,
            &|_| {},
        )
        .unwrap_err();
        check_named_network(&e);
    }
}

fn check_named_network(e: &SnnError) {
    let SnnError::NonFinite {
        population,
        variable,
        ..
    } = e
    else {
        panic!("not a NonFinite error: {e}");
    };
    assert!(population.contains("(network "), "{e}");
    assert!(
        ["exc", "inh"].iter().any(|p| population.starts_with(p)),
        "{e}"
    );
    assert!(
        ["v", "ge", "gi", "theta"].contains(&variable.as_str()),
        "{e}"
    );
}

pub fn cli_non_finite_state_is_an_error() {
    let t = TempDir::new("nan");
    let cfg = preset_toml(&t, "nan.toml", |s| {
        s.replace("n_exc = 100", "n_exc = 10")
            .replace("w_exc_inh = 10.4", "w_exc_inh = 3e38")
            .replace("w_inh_exc = 17.0", "w_inh_exc = 3e38")
    });
    let mut c = snn(&["train", "--config"]);
    c.arg(&cfg).args(TINY).arg("--out").arg(t.path("run"));
    let e = fails(c);
    has_all(&e, &["non-finite value in population", "variable", "step"]);
}
