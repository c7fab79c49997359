//! Configuration values: errors and warnings name the field, the value and what to use.

use super::helpers::*;

fn lif(tau: f32) -> NeuronModel {
    NeuronModel::lif(
        LifParams {
            tau_m_ms: tau,
            v_rest_mv: -65.0,
        },
        -50.0,
    )
}

fn cond(f: impl Fn(&mut CondLifParams)) -> NeuronModel {
    let mut m = NeuronModel::diehl_cook_excitatory();
    if let NeuronKind::CondLif(p) = &mut m.kind {
        f(p);
    }
    m
}

pub fn time_constants_at_or_below_dt_are_errors_naming_field_and_dt() {
    let dt = 0.5;
    let with_theta_tau = |tau| {
        NeuronModel::diehl_cook_excitatory().with_theta(ThetaParams {
            theta_init_mv: 0.0,
            theta_plus_mv: 0.05,
            tau_theta_ms: tau,
            frozen: false,
        })
    };
    let cases: Vec<(NeuronModel, &str, &str)> = vec![
        (lif(0.5), "lif.tau_m_ms", "use dt <= 0.1 ms"),
        (lif(0.0), "lif.tau_m_ms", "> 0"),
        (lif(-3.0), "lif.tau_m_ms", "> 0"),
        (
            cond(|p| p.tau_m_ms = 0.25),
            "cond_lif.tau_m_ms",
            "larger than dt = 0.5",
        ),
        (
            cond(|p| p.tau_ge_ms = 0.5),
            "cond_lif.tau_ge_ms",
            "larger than dt = 0.5",
        ),
        (
            cond(|p| p.tau_gi_ms = 0.1),
            "cond_lif.tau_gi_ms",
            "larger than dt = 0.5",
        ),
        (with_theta_tau(0.4), "theta.tau_theta_ms", "larger than dt"),
        (with_theta_tau(-1.0), "theta.tau_theta_ms", "> 0"),
        (
            lif(20.0).with_refractory_ms(0.3),
            "refractory_ms",
            "use dt <= 0.3 ms",
        ),
        (
            lif(20.0).with_refractory_ms(f32::NAN),
            "refractory_ms",
            ">= 0",
        ),
        (lif(20.0).with_lockout_ms(0.2), "lockout_ms", "one step"),
    ];
    for (model, field, hint) in cases {
        let e = err_text(model.validate(dt));
        has_all(&e, &[field, hint]);
        let net = snn_wgpu::model::net::Network::new(dt).neurons("p", 4, model);
        let e = err_text(snn_wgpu::cpu::engine::Engine::new(&net).map(|_| ()));
        has_all(&e, &["population `p`", field]);
    }
    // A refractory period of exactly one step is exact, and allowed.
    lif(20.0).with_refractory_ms(0.5).validate(dt).unwrap();
    // STDP traces.
    for (f, edit) in [
        (
            "stdp.tau_pre_ms",
            (|s: &mut StdpParams| s.tau_pre_ms = 0.5) as fn(&mut _),
        ),
        ("stdp.tau_post1_ms", |s| s.tau_post1_ms = 0.2),
    ] {
        let mut s = StdpParams::diehl_cook();
        edit(&mut s);
        has_all(&err_text(s.validate(dt)), &[f, "larger than dt = 0.5"]);
    }
    // A negative or NaN τ gets no dt hint ("use dt <= -4 ms" made no sense).
    for (f, edit) in [
        (
            "stdp.tau_post1_ms",
            (|s: &mut StdpParams| s.tau_post1_ms = -20.0) as fn(&mut _),
        ),
        ("stdp.tau_post2_ms", |s| s.tau_post2_ms = f32::NAN),
    ] {
        let mut s = StdpParams::diehl_cook();
        edit(&mut s);
        let e = err_text(s.validate(dt));
        has_all(&e, &[f, "a finite time constant > 0 ms"]);
        assert!(!e.contains("use dt"), "{e}");
    }
    // In the competitive layer the population is named.
    let mut spec = small_config().to_spec();
    if let NeuronKind::CondLif(p) = &mut spec.inh.kind {
        p.tau_ge_ms = 0.5;
    }
    has_all(
        &err_text(spec.validate()),
        &["inh.cond_lif.tau_ge_ms", "= 0.5"],
    );
}

pub fn a_coarse_dt_is_a_warning_naming_the_time_constant() {
    // dt > τ/5 warns, dt <= τ/5 does not.
    assert!(lif(2.5).warnings(0.5).is_empty());
    let w = lif(2.0).warnings(0.5);
    assert_eq!(w.len(), 1, "{w:?}");
    has_all(
        &w[0],
        &["lif.tau_m_ms", "2 ms", "4.0 steps", "use dt <= 0.4 ms"],
    );
    // Every time constant of the conductance neuron, θ and the periods.
    let m = cond(|p| {
        p.tau_m_ms = 2.0;
        p.tau_ge_ms = 1.0;
        p.tau_gi_ms = 2.0;
    })
    .with_theta(ThetaParams {
        theta_init_mv: 0.0,
        theta_plus_mv: 0.05,
        tau_theta_ms: 1.5,
        frozen: false,
    })
    .with_refractory_ms(1.2)
    .with_lockout_ms(0.8);
    let w = m.warnings(0.5).join("\n");
    has_all(
        &w,
        &[
            "cond_lif.tau_m_ms",
            "cond_lif.tau_ge_ms",
            "cond_lif.tau_gi_ms",
            "theta.tau_theta_ms",
            "refractory_ms` = 1.2 ms rounds to 2 step(s)",
            "lockout_ms",
        ],
    );
    // A period of a whole number of steps is exact: no warning, however few steps.
    assert!(lif(20.0).with_refractory_ms(1.0).warnings(0.5).is_empty());
    // STDP traces.
    let mut s = StdpParams::diehl_cook();
    s.tau_post1_ms = 2.0;
    let w = s.warnings(0.5);
    assert_eq!(w.len(), 1, "{w:?}");
    has_all(&w[0], &["stdp.tau_post1_ms"]);
    // The competitive layer names the population.
    let mut spec = small_config().to_spec();
    spec.dt_ms = 0.3;
    let w = spec.warnings().join("\n");
    has_all(&w, &["exc.cond_lif.tau_ge_ms", "inh.cond_lif.tau_ge_ms"]);
}

pub fn diehl_cook_config_warnings_spare_the_paper_and_flag_the_rest() {
    for p in ["dc100", "dc400", "dc1600", "dc6400"] {
        let c = DcConfig::preset(p).unwrap();
        assert!(c.warnings().is_empty(), "{p}: {:?}", c.warnings());
    }
    // A finer dt than the paper's: still nothing to say.
    let mut c = small_config();
    c.dt_ms = 0.25;
    c.validate().unwrap();
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
    // A coarser one: the model's 1 ms and 2 ms constants are flagged.
    c.dt_ms = 0.6;
    c.refractory_exc_ms = 6.0;
    c.validate().unwrap();
    let w = c.warnings().join("\n");
    has_all(
        &w,
        &[
            "exc.cond_lif.tau_ge_ms",
            "inh.cond_lif.tau_gi_ms",
            "inh.refractory_ms",
            "lower dt_ms",
        ],
    );
    // The config's own keys by their names.
    let mut c = small_config();
    c.stdp.tau_pre_ms = 2.0;
    c.refractory_exc_ms = 1.2;
    c.tau_theta_ms = 2.0;
    c.validate().unwrap();
    let w = c.warnings().join("\n");
    has_all(
        &w,
        &["stdp.tau_pre_ms", "`refractory_exc_ms`", "`tau_theta_ms`"],
    );
    // Retries that would push the rates past 1000/dt.
    let mut c = small_config();
    c.max_retries = 100;
    let w = c.warnings().join("\n");
    has_all(&w, &["max_retries", "2000 Hz", "lower max_retries"]);
}

pub fn diehl_cook_config_errors_name_the_key() {
    type Edit = fn(&mut DcConfig);
    let cases: Vec<(Edit, &str)> = vec![
        (|c| c.dt_ms = 0.0, "dt_ms"),
        (|c| c.dt_ms = -0.5, "dt_ms"),
        (|c| c.dt_ms = 1.0, "tau_ge_ms"),
        (|c| c.tau_theta_ms = 0.0, "tau_theta_ms"),
        (|c| c.stdp.tau_post2_ms = 0.4, "stdp.tau_post2_ms"),
        (|c| c.refractory_exc_ms = 0.2, "refractory_exc_ms"),
        (|c| c.refractory_exc_ms = -5.0, "refractory_exc_ms"),
        (|c| c.lockout_exc_ms = -1.0, "lockout_exc_ms"),
        (|c| c.intensity_start = -2.0, "intensity_start"),
        (|c| c.intensity_start = f32::NAN, "intensity_start"),
        (|c| c.intensity_start = 100.0, "intensity_start"),
        (|c| c.intensity_step = -1.0, "intensity_step"),
        (|c| c.min_spikes = 10_000_000, "min_spikes"),
        (|c| c.epochs = 0, "epochs"),
        (|c| c.n_exc = 1, "n_exc"),
        (|c| c.theta_plus_mv = -0.05, "theta_plus_mv"),
        (|c| c.w_exc_inh = -10.4, "w_exc_inh"),
        (|c| c.w_inh_exc = f32::INFINITY, "w_inh_exc"),
        (|c| c.w_max = -1.0, "w_max"),
        (|c| c.norm_target = 0.0, "norm_target"),
        (|c| c.input_delay_max_ms = -10.0, "input_delay_max_ms"),
        (|c| c.input_delay_max_ms = f32::NAN, "input_delay_max_ms"),
        (|c| c.rest_ms = -150.0, "rest_ms"),
        (|c| c.present_ms = 0.0, "present_ms"),
        (|c| c.stdp.nu_post = -0.01, "stdp.nu_post"),
    ];
    for (edit, key) in cases {
        let mut c = small_config();
        edit(&mut c);
        let e = err_text(c.validate());
        assert!(e.contains(key), "expected `{key}` in: {e}");
        // The backends refuse what validate refuses in the spec.
        if let Err(spec_err) = c.to_spec().validate() {
            assert!(DcEngine::new(&c.to_spec()).is_err(), "{spec_err}");
        }
    }
    has_all(
        &err_text(DcConfig::preset("dc200")),
        &["`preset` = dc200", "dc100, dc400", "snn presets"],
    );
}

pub fn w_max_below_w_min_is_refused() {
    let mut spec = small_config().to_spec();
    spec.input.w_min = 0.5;
    spec.input.w_max = 0.2;
    has_all(
        &err_text(spec.validate()),
        &["input.w_max", "0.2", ">= w_min (0.5)"],
    );
    spec.input.w_min = -0.1;
    has_all(&err_text(spec.validate()), &["input.w_min", ">= 0"]);
}

/// Bad rates passed to `present` (and frozen batches) on one backend.
fn check_bad_rates(b: &mut DcEngine) {
    let opts = PresentOptions {
        steps_on: 20,
        steps_rest: 0,
        rest: RestMode::Reset,
        learn: false,
        key: 0,
    };
    let what = b.describe();
    let mut rates = vec![10.0f32; 784];
    rates[17] = -1.0;
    let e = err_text(b.present(&rates, &opts));
    has_all(&e, &["rates_hz[17]", "-1", "[0, 2000] Hz"]);
    rates[17] = f32::NAN;
    has_all(
        &err_text(b.present(&rates, &opts)),
        &["rates_hz[17]", "NaN"],
    );
    rates[17] = 1e6;
    has_all(&err_text(b.present(&rates, &opts)), &["rates_hz[17]"]);
    has_all(
        &err_text(b.present(&[1.0; 100], &opts)),
        &["rates_hz", "100 values", "784"],
    );
    let mut rates = vec![10.0f32; 784];
    rates[3] = f32::INFINITY;
    let batch = vec![vec![5.0; 784], rates];
    has_all(
        &err_text(b.present_frozen_batch(&batch, &opts)),
        &["rates_hz[3]", "inf"],
    );
    // Loading a damaged network.
    let mut w = b.weights().unwrap();
    let theta = b.theta().unwrap();
    w[10 * 10 + 4] = f32::NAN;
    has_all(
        &err_text(b.load(&w, &theta)),
        &["weights[104] (input 10, neuron 4)", "NaN", "retrain"],
    );
    w[104] = 0.1;
    let mut th = theta.clone();
    th[2] = f32::NEG_INFINITY;
    has_all(&err_text(b.load(&w, &th)), &["theta_mv[2]", "-inf"]);
    has_all(
        &err_text(b.load(&w[1..], &theta)),
        &["loaded network", "7840 weights"],
    );
    // The network still works afterwards.
    b.present(&vec![10.0; 784], &opts)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
}

pub fn bad_rates_and_loads_name_the_input_on_both_backends() {
    let spec = small_config().to_spec();
    check_bad_rates(&mut DcEngine::new(&spec).unwrap());
    if let Some(ctx) = crate::common::gpu() {
        check_bad_rates(&mut on_gpu(ctx, &spec).unwrap());
    }
}

pub fn cli_unknown_toml_key_names_key_file_and_presets_show() {
    let t = TempDir::new("toml");
    let cfg = preset_toml(&t, "typo.toml", |s| s.replace("w_max =", "wmax ="));
    let mut c = snn(&["train", "--quiet", "--config"]);
    c.arg(&cfg);
    let e = fails(c);
    has_all(
        &e,
        &[
            &cfg.display().to_string(),
            "unknown field `wmax`",
            "snn presets --show dc100",
        ],
    );
    // A negative count is a type error naming the key.
    let cfg = preset_toml(&t, "neg.toml", |s| {
        s.replace("min_spikes = 5", "min_spikes = -5")
    });
    let mut c = snn(&["train", "--quiet", "--config"]);
    c.arg(&cfg);
    has_all(&fails(c), &["neg.toml", "min_spikes = -5"]);
    // A bad value is named by its key.
    let cfg = preset_toml(&t, "dt.toml", |s| s.replace("dt_ms = 0.5", "dt_ms = -0.5"));
    let mut c = snn(&["train", "--quiet", "--config"]);
    c.arg(&cfg);
    has_all(&fails(c), &["dt_ms", "-0.5", "> 0"]);
    // A missing file.
    let mut c = snn(&["train", "--quiet", "--config"]);
    c.arg(t.path("absent.toml"));
    has_all(&fails(c), &["absent.toml"]);
}

pub fn cli_zero_counts_are_refused_by_flag() {
    for (flag, value, named) in [
        ("--train-samples", "0", "--train-samples"),
        ("--batch", "0", "--batch"),
        ("--label-samples", "0", "--label-samples"),
        ("--test-samples", "0", "--test-samples"),
        ("--epochs", "0", "--epochs"),
        ("--batch", "-3", "--batch"),
        ("--lockout-ms", "-1", "lockout_exc_ms"),
        ("--input-delay-ms", "-2", "input_delay_max_ms"),
    ] {
        has_all(
            &fails(snn(&["train", "--quiet", flag, value])),
            &[named, value],
        );
    }
    let e = fails(snn(&["evaluate", "--run", "x", "--batch", "0"]));
    has_all(&e, &["--batch", "0"]);
}

pub fn cli_prints_warnings_unless_quiet() {
    let t = TempDir::new("warn");
    let cfg = preset_toml(&t, "coarse.toml", |s| {
        s.replace("n_exc = 100", "n_exc = 4")
            .replace("tau_post1_ms = 20.0", "tau_post1_ms = 2.0")
    });
    let run = |quiet: bool| {
        let out = t.path(if quiet { "run-quiet" } else { "run" });
        let mut c = snn(&[
            "train",
            "--train-samples",
            "1",
            "--label-samples",
            "1",
            "--test-samples",
            "1",
            "--config",
        ]);
        c.arg(&cfg).arg("--out").arg(out);
        if quiet {
            c.arg("--quiet");
        }
        succeeds(c)
    };
    let e = run(false);
    has_all(&e, &["warning: `stdp.tau_post1_ms` = 2 ms"]);
    assert!(!run(true).contains("warning:"));
}

pub fn long_presentations_zero_neurons_and_bad_time_constants_name_the_key_and_limit() {
    type Edit = fn(&mut DcConfig);
    let cases: Vec<(Edit, &[&str])> = vec![
        // A rest past u32 steps used to wrap and be skipped; a huge presentation hung.
        (
            |c| c.rest_ms = 3e9,
            &["`rest_ms`", "3000000000", "at most 5000000 ms"],
        ),
        (
            |c| c.present_ms = 1e12,
            &["`present_ms`", "at most 5000000 ms"],
        ),
        (|c| c.n_exc = 0, &["`n_exc` = 0", "at least 1"]),
        // A hint "use dt <= -4 ms" or "dt <= NaN ms" made no sense.
        (
            |c| c.stdp.tau_pre_ms = -20.0,
            &["`stdp.tau_pre_ms` = -20", "> 0 ms"],
        ),
        (
            |c| c.stdp.tau_pre_ms = f32::NAN,
            &["`stdp.tau_pre_ms` = NaN", "> 0 ms"],
        ),
    ];
    for (edit, needles) in cases {
        let mut c = small_config();
        edit(&mut c);
        let e = err_text(c.validate());
        has_all(&e, needles);
        assert!(!e.contains("min_spikes"), "{e}");
        assert!(!e.contains("dt <= -") && !e.contains("dt <= NaN"), "{e}");
    }
}

pub fn cli_a_sweep_value_of_the_wrong_type_names_its_key() {
    let t = TempDir::new("sweeptype");
    let sweep = t.write(
        "sweep.toml",
        b"[[network]]\ntheta_plus_mv = \"big\"\n[[network]]\ntheta_plus_mv = 1\n",
    );
    let mut c = snn(&["train", "--sweep", sweep.to_str().unwrap()]);
    c.args(TINY).arg("--out").arg(t.path("run"));
    let e = fails(c);
    has_all(&e, &["network[0].theta_plus_mv", "\"big\"", "a float"]);
}
