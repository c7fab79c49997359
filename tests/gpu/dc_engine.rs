//! The Diehl & Cook protocol (`DcEngine`) on the general GPU engine against the same protocol
//! on the general CPU engine, **bit for bit** on a software adapter (llvmpipe rounds as the
//! CPU does; elsewhere the counts must agree and the floats within `common::REL_TOL`): a
//! small dc100-like network with input delays learns over a few presentations (both rest
//! modes, a faint start that forces retries), then answers a frozen labelling pass (retries
//! again); a snapshot of either engine restores into the other and the runs go on equal.
//! dc400 as the preset has it, the reversal clamp, and K networks through the `--networks`
//! path; a recorded presentation (`record::present_recorded`), spikes and traces. And the
//! protocol calls themselves (`rest`, `set_poisson_stream`, `run_counting`, `run_trials`,
//! `network_state`) on two copies, through `dyn Simulator`.

use crate::common::{self, assert_close};
use snn_wgpu::backend::{EngineChoice, Presentation, Series, Shown, Simulator, Trial};
use snn_wgpu::cpu::engine::Engine;
use snn_wgpu::cpu::engine::EngineOptions;
use snn_wgpu::data::mnist::{embedded, Split};
use snn_wgpu::experiments::diehl_cook::config::DcConfig;
use snn_wgpu::experiments::diehl_cook::engine::DcEngine;
use snn_wgpu::experiments::diehl_cook::model::{network, EXC, INPUT, INPUT_EXC};
use snn_wgpu::experiments::diehl_cook::multi::{run, Sizes};
use snn_wgpu::experiments::diehl_cook::record::present_recorded;

/// A loop budget (loop passes per dispatch) under which the last presentation of
/// `a_presentation_equals_its_calls` needs a second submission: 1.8 of the test network's
/// worst-case steps (2,860 loop passes each), so that its quiet steps run more steps per
/// dispatch than its loud ones.
const LOW_BUDGET: u64 = 5_150;
use snn_wgpu::experiments::diehl_cook::train::{
    respond_frozen, respond_frozen_of, train, train_batch, train_from, TrainState,
};
use snn_wgpu::experiments::diehl_cook::{PresentOptions, RestMode};
use snn_wgpu::gpu::{EngineSchedule, GpuEngine, GpuEngineOptions};
use snn_wgpu::model::net::{Connectivity, Network, Projection};
use snn_wgpu::model::{NeuronModel, Target};
use snn_wgpu::SnnError;

/// dc100's constants on 12 neurons, with input delays (up to 3 ms), 60 ms presentations and
/// 20 ms rests; the faint start intensity (0.25) makes the first presentations too weak
/// for 5 spikes, so the retry rule runs.
fn cfg(rest: RestMode) -> DcConfig {
    let mut c = DcConfig::preset("dc100").unwrap();
    c.n_exc = 12;
    c.seed = 7;
    c.input_delay_max_ms = 3.0;
    c.present_ms = 60.0;
    c.rest_ms = 20.0;
    c.intensity_start = 0.25;
    c.intensity_step = 1.0;
    c.rest = rest;
    c
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Whether the floats of this adapter must equal the CPU's bit for bit.
fn exact() -> bool {
    common::gpu_ctx().is_software()
}

/// Weights and θ of `gpu` equal to `cpu`'s: bit for bit on a software adapter.
fn same_network(cpu: &mut DcEngine, gpu: &mut DcEngine, at: &str) {
    let (wc, wg) = (cpu.weights().unwrap(), gpu.weights().unwrap());
    let (tc, tg) = (cpu.theta().unwrap(), gpu.theta().unwrap());
    if exact() {
        assert_eq!(bits(&wc), bits(&wg), "{at}: weights");
        assert_eq!(bits(&tc), bits(&tg), "{at}: theta");
        // The whole state, every ring, trace and arrival step included.
        assert_eq!(
            cpu.snapshot().unwrap(),
            gpu.snapshot().unwrap(),
            "{at}: state"
        );
    } else {
        assert_close(&wg, &wc, &format!("{at}: weights"));
        assert_close(&tg, &tc, &format!("{at}: theta"));
    }
}

fn learning_agrees(rest: RestMode) {
    let ctx = common::gpu_ctx();
    let c = cfg(rest);
    let spec = c.to_spec();
    assert!(
        spec.input_delay_max_ms.is_some(),
        "the network has input delays"
    );
    let set = embedded(Split::Train).unwrap().take(3);
    let mut cpu = DcEngine::new(&spec).unwrap();
    let mut gpu = DcEngine::on_gpu(ctx.clone(), &spec, GpuEngineOptions::default()).unwrap();
    assert!(gpu.describe().starts_with("gpu:"), "{}", gpu.describe());
    same_network(&mut cpu, &mut gpu, "initial");
    let (mut key_c, mut key_g) = (0u32, 0u32);
    let s_c = train(&mut cpu, &c, &set, set.len(), &mut key_c, |_| {}).unwrap();
    let s_g = train(&mut gpu, &c, &set, set.len(), &mut key_g, |_| {}).unwrap();
    assert!(s_c.retries > 0, "{rest:?}: the faint start forced no retry");
    assert_eq!((key_c, s_c.retries), (key_g, s_g.retries), "{rest:?}");
    assert!(
        cpu.theta().unwrap().iter().any(|&t| t > 0.0),
        "some neuron fired"
    );
    same_network(&mut cpu, &mut gpu, &format!("{rest:?} after training"));

    // A frozen labelling pass in batches of 3 (the last one short), retries included.
    let more = embedded(Split::Test).unwrap().take(4);
    let key_before = key_c;
    let r_c = respond_frozen(&mut cpu, &c, &more, more.len(), 3, &mut key_c, |_| {}).unwrap();
    let r_g = respond_frozen(&mut gpu, &c, &more, more.len(), 3, &mut key_g, |_| {}).unwrap();
    assert_eq!(r_c, r_g, "{rest:?}: frozen counts");
    assert!(r_c.sum() > 0);
    // Without a retry the pass would take one key per image.
    assert!(
        key_c - key_before > 4,
        "{rest:?}: the frozen pass retried no image"
    );
    assert_eq!(key_c, key_g, "{rest:?}: keys after the frozen pass");
    same_network(
        &mut cpu,
        &mut gpu,
        &format!("{rest:?} after the frozen pass"),
    );

    // Each engine's snapshot restores into the other; all four go on alike.
    let mut gpu_from_cpu =
        DcEngine::on_gpu(ctx.clone(), &spec, GpuEngineOptions::default()).unwrap();
    gpu_from_cpu.restore(&cpu.snapshot().unwrap()).unwrap();
    let mut cpu_from_gpu = DcEngine::new(&spec).unwrap();
    cpu_from_gpu.restore(&gpu.snapshot().unwrap()).unwrap();
    let next = embedded(Split::Train).unwrap().take(2);
    let nets: [&mut DcEngine; 4] = [&mut cpu, &mut gpu, &mut gpu_from_cpu, &mut cpu_from_gpu];
    let mut after = vec![];
    for net in nets {
        let mut key = key_c;
        let s = train(net, &c, &next, next.len(), &mut key, |_| {}).unwrap();
        after.push((key, s.retries, net.weights().unwrap(), net.theta().unwrap()));
    }
    for (k, a) in after.iter().enumerate().skip(1) {
        assert_eq!(
            (a.0, a.1),
            (after[0].0, after[0].1),
            "{rest:?}: network {k}"
        );
        if exact() {
            assert_eq!(
                bits(&a.2),
                bits(&after[0].2),
                "{rest:?}: network {k} weights"
            );
            assert_eq!(bits(&a.3), bits(&after[0].3), "{rest:?}: network {k} theta");
        } else {
            assert_close(&a.2, &after[0].2, &format!("{rest:?}: network {k} weights"));
        }
    }
}

pub fn dc_learning_on_the_gpu_engine_agrees_with_simulated_rest() {
    learning_agrees(RestMode::Simulate);
}

pub fn dc_learning_on_the_gpu_engine_agrees_with_reset_rest() {
    learning_agrees(RestMode::Reset);
}

/// The protocol calls on two copies of the D&C network, through `dyn Simulator`: counting
/// runs on keyed streams, a rest of one copy, frozen trials from the other (2, then 5: the
/// GPU's trial engine grows), the whole state after each, and a state moved from one engine
/// to the other.
pub fn protocol_calls_agree() {
    let ctx = common::gpu_ctx();
    let spec = cfg(RestMode::Simulate).to_spec();
    let net = network(&spec).unwrap().with_seeds(vec![7, 8]);
    let mut cpu = Engine::new(&net).unwrap();
    let mut gpu = GpuEngine::new(ctx, &net).unwrap();
    let data = embedded(Split::Train).unwrap();
    let rates: Vec<Vec<f32>> = (0..5)
        .map(|i| DcConfig::rates(data.image(i), 4.0))
        .collect();
    let engines: [&mut dyn Simulator; 2] = [&mut cpu, &mut gpu];
    let mut seen = vec![];
    for e in engines {
        let mut out = vec![];
        e.set_rates(INPUT, 0, &rates[0]).unwrap();
        e.set_rates(INPUT, 1, &rates[1]).unwrap();
        e.set_poisson_stream(INPUT, 1, 99, 5).unwrap();
        out.push(e.run_counting(300, EXC).unwrap());
        e.set_poisson_stream(INPUT, 0, 12345, e.step_count())
            .unwrap();
        out.push(e.run_counting(30, "inh").unwrap());
        e.rest(0).unwrap();
        let state_after_rest = e.network_state().unwrap();
        let trials = common::trials(&rates, 1000);
        out.push(e.run_trials(1, INPUT, &trials[..2], 250, EXC).unwrap());
        out.push(e.run_trials(1, INPUT, &trials, 250, EXC).unwrap());
        // Trials leave the engine as it was.
        assert_eq!(
            e.network_state().unwrap(),
            state_after_rest,
            "{}",
            e.describe()
        );
        out.push(e.run_counting(20, EXC).unwrap());
        // Errors name what is wrong, as on the CPU.
        let bad = e.run_trials(0, EXC, &trials, 10, EXC).unwrap_err();
        assert!(matches!(bad, SnnError::InvalidNetwork { .. }), "{bad}");
        assert!(e.rest(2).is_err() && e.set_poisson_stream(INPUT, 2, 0, 0).is_err());
        seen.push((out, e.network_state().unwrap()));
    }
    assert!(
        seen[0].0[0].iter().flatten().sum::<u32>() > 0,
        "input drove spikes"
    );
    assert!(
        seen[0].0[3].iter().flatten().sum::<u32>() > 0,
        "trials spiked"
    );
    assert_eq!(seen[0].0, seen[1].0, "counts");
    if exact() {
        assert_eq!(seen[0].1, seen[1].1, "network state");
    }
    // The CPU's state on the GPU and the GPU's on the CPU: both go on as the CPU does.
    let (cpu_state, gpu_state) = (seen[0].1.clone(), seen[1].1.clone());
    // A damaged state is refused alike: a weight that is not finite, a lateral weight other
    // than the projection's one constant, synapses of one pre neuron and delay that did not
    // arrive together.
    let mut bad = [cpu_state.clone(), cpu_state.clone(), cpu_state.clone()];
    bad[0].copies[1].projections[0].weights[3] = f32::NAN;
    bad[1].copies[0].projections[2].weights[0] += 1.0;
    let last = &mut bad[2].copies[0].projections[0].last_arrival_step;
    last[0] = if last[0] == 7 { 8 } else { 7 };
    for (k, st) in bad.iter().enumerate() {
        let on_cpu = cpu.set_network_state(st).unwrap_err().to_string();
        let on_gpu = gpu.set_network_state(st).unwrap_err().to_string();
        assert_eq!(on_cpu, on_gpu, "bad state {k}");
    }
    gpu.set_network_state(&cpu_state).unwrap();
    cpu.set_network_state(&gpu_state).unwrap();
    let a = Simulator::run_counting(&mut cpu, 60, EXC).unwrap();
    let b = Simulator::run_counting(&mut gpu, 60, EXC).unwrap();
    assert_eq!(a, b, "after swapping states");
    if exact() {
        assert_eq!(
            Simulator::network_state(&cpu).unwrap(),
            gpu.network_state().unwrap(),
            "state after swapping"
        );
    }
}

/// `present` on two copies of the D&C network equals the calls it stands for (the CPU's
/// default, call by call) under both GPU schedules: a rest simulated with the input at 0
/// (which it stays at: a run after it draws no input spike), a rest by reset (the rates
/// stay on), and a rest of no steps, each ending with θ's decay; the counts and the whole
/// state after each, bit for bit on a software adapter. Under the fused schedule a
/// presentation waits for the device once, and its weight check answers
/// `first_non_finite_weight` without another wait. One input per copy, or an error naming
/// `inputs`, and a decay in `[0, 1]`, or an error naming `decay`, alike. `scale_state`
/// against its calls too, and a product past f32 refused alike with nothing changed. Fused
/// again under a loop budget so low that the last presentation, which follows quiet steps
/// (few loop passes per step, so few dispatches expected), needs a second submission during
/// its steps on: the source's thresholds, silenced at the end of the first, are written
/// back, and θ decays once in copy 0 (a dim input: it reaches its last step in the first)
/// as in copy 1.
pub fn a_presentation_equals_its_calls() {
    let ctx = common::gpu_ctx();
    let spec = cfg(RestMode::Simulate).to_spec();
    let net = network(&spec).unwrap().with_seeds(vec![7, 8]);
    let data = embedded(Split::Train).unwrap();
    // Copy 0 dim: it runs more steps per dispatch than copy 1.
    let rates: Vec<Vec<f32>> = [(0, 0.5), (1, 4.0)]
        .iter()
        .map(|&(i, intensity)| DcConfig::rates(data.image(i), intensity))
        .collect();
    let inputs = [
        Trial {
            rates_hz: &rates[0],
            key: 5,
        },
        Trial {
            rates_hz: &rates[1],
            key: 6,
        },
    ];
    let p = |rest_steps, inputs| Presentation {
        normalize: Some((INPUT_EXC, 78.0)),
        source: INPUT,
        inputs,
        steps_on: 200,
        counted: EXC,
        rest_steps,
        check_weights: Some(INPUT_EXC),
        decay: Some((EXC, "theta", 0.875)),
    };
    // Also the waits of the last presentation, which follows quiet steps.
    let run = |e: &mut dyn Simulator| {
        let (mut out, mut states, mut last) = (vec![], vec![], 0);
        for rest in [Some(120), None, Some(0), Some(0)] {
            let w0 = e.device_waits().map_or(0, |w| w.count);
            out.push(e.present(&p(rest, &inputs)).unwrap());
            last = e.device_waits().map_or(0, |w| w.count) - w0;
            states.push(e.network_state().unwrap());
            out.push(e.run_counting(30, INPUT).unwrap());
            out.push(e.run_counting(30, EXC).unwrap());
        }
        // θ decays alike; a decay past f32 is refused alike, nothing changed.
        e.scale_state(EXC, "theta", 0.75).unwrap();
        states.push(e.network_state().unwrap());
        e.run(5).unwrap();
        states.push(e.network_state().unwrap());
        let huge = e.scale_state(EXC, "theta", f32::INFINITY).unwrap_err();
        states.push(e.network_state().unwrap());
        let bad = e.present(&p(Some(10), &inputs[..1])).unwrap_err();
        let no_decay = Presentation {
            decay: Some((EXC, "theta", 1.5)),
            ..p(Some(10), &inputs)
        };
        let growth = e.present(&no_decay).unwrap_err();
        states.push(e.network_state().unwrap());
        // A variable that the rest by reset sets, decayed at the presentation's end: its
        // rest value decayed (the rest comes before the decay).
        let v_decay = Presentation {
            decay: Some((EXC, "v", 0.5)),
            ..p(None, &inputs)
        };
        out.push(e.present(&v_decay).unwrap());
        states.push(e.network_state().unwrap());
        let v = e.state(EXC, "v", 1).unwrap();
        let v_rest = match &spec.exc.kind {
            snn_wgpu::model::NeuronKind::CondLif(p) => p.v_rest_mv,
            other => panic!("Diehl & Cook's excitatory neurons are conductance LIF: {other:?}"),
        };
        assert!(
            v.iter().all(|&x| x == v_rest * 0.5),
            "v after a decayed rest: {v:?}"
        );
        (out, states, format!("{bad} / {huge} / {growth}"), last)
    };
    let mut cpu = Engine::new(&net).unwrap();
    let want = run(&mut cpu);
    assert!(
        want.0[0].iter().flatten().sum::<u32>() > 0,
        "input drove spikes"
    );
    assert!(
        want.0[1].iter().flatten().all(|&c| c == 0),
        "the input stays at 0 after a simulated rest"
    );
    assert!(
        want.0[4].iter().flatten().sum::<u32>() > 0,
        "the input stays on after a rest by reset"
    );
    assert!(want.2.contains("inputs"), "{}", want.2);
    assert!(want.2.contains("decay"), "{}", want.2);
    for (schedule, loop_budget) in [
        (EngineSchedule::Fused, None),
        (EngineSchedule::Passes, None),
        (EngineSchedule::Fused, Some(LOW_BUDGET)),
    ] {
        let opts = GpuEngineOptions {
            schedule,
            loop_budget,
            ..GpuEngineOptions::default()
        };
        let mut gpu = GpuEngine::with_options(ctx.clone(), &net, opts).unwrap();
        let got = run(&mut gpu);
        if loop_budget.is_some() {
            assert!(got.3 > 1, "the last presentation took {} submission", got.3);
        }
        let schedule = (schedule, loop_budget);
        let differ = got.0.iter().zip(&want.0).position(|(g, w)| g != w);
        assert_eq!(differ, None, "{schedule:?}: the counts of call k differ");
        assert_eq!(got.2, want.2, "{schedule:?}: the refusal");
        if exact() {
            let differ = got.1.iter().zip(&want.1).position(|(g, w)| g != w);
            assert_eq!(differ, None, "{schedule:?}: the state after call k differs");
        }
    }
    let mut gpu = GpuEngine::new(ctx, &net).unwrap();
    assert_eq!(gpu.schedule(), EngineSchedule::Fused);
    let w0 = gpu.device_waits().count;
    Simulator::present(&mut gpu, &p(Some(120), &inputs)).unwrap();
    assert_eq!(
        gpu.device_waits().count - w0,
        1,
        "waits of one presentation"
    );
    assert_eq!(gpu.first_non_finite_weight(INPUT_EXC, 1).unwrap(), None);
    assert_eq!(
        gpu.device_waits().count - w0,
        1,
        "waits of its weight check"
    );
}

/// A series whose first presentation draws from another source than the rest, with up to
/// 4 presentations per submission: the second, whose input sets (what a late copy shows)
/// would hold the first's inputs, of the other source's size, runs as the host presents
/// it, then the last two in one submission. The GPU's counts, what each copy showed and
/// (bit for bit on a software adapter) the state equal the CPU's; the second to fourth ran
/// in one submission before, its last round's inputs read from the wrong place.
pub fn a_series_after_another_source_agrees() {
    let lif = NeuronModel::integrate_and_fire(1.0, 0.0);
    let net = Network::new(0.5)
        .poisson("a", 8, 0.0)
        .poisson("b", 40, 0.0)
        .neurons("pop", 6, lif)
        .project(Projection::new(
            "a_pop",
            "a",
            "pop",
            Target::MEMBRANE_EXC,
            Connectivity::AllToAll,
            0.3,
        ))
        .project(Projection::new(
            "b_pop",
            "b",
            "pop",
            Target::MEMBRANE_EXC,
            Connectivity::AllToAll,
            0.2,
        ))
        .with_seeds(vec![4, 5]);
    // `rates[r][copy]`: presentation 0 on "a", the others on "b".
    let rates: Vec<Vec<Vec<f32>>> = (0..4usize)
        .map(|r| {
            let n = if r == 0 { 8 } else { 40 };
            (0..2usize)
                .map(|c| {
                    (0..n)
                        .map(|i| 20.0 + 15.0 * ((r * 7 + c * 3 + i) % 9) as f32)
                        .collect()
                })
                .collect()
        })
        .collect();
    let inputs: Vec<Vec<Trial<'_>>> = rates
        .iter()
        .enumerate()
        .map(|(r, copies)| {
            copies
                .iter()
                .enumerate()
                .map(|(c, x)| Trial {
                    rates_hz: x,
                    key: 10 * r as u32 + c as u32,
                })
                .collect()
        })
        .collect();
    let ps: Vec<Presentation<'_>> = inputs
        .iter()
        .enumerate()
        .map(|(r, inputs)| Presentation {
            normalize: None,
            source: if r == 0 { "a" } else { "b" },
            inputs,
            steps_on: 30,
            counted: "pop",
            rest_steps: Some(10),
            check_weights: None,
            decay: None,
        })
        .collect();
    let series = Series {
        presentations: &ps,
        retries: &[],
        least: &[0, 0],
    };
    let mut cpu = Engine::new(&net).unwrap();
    let want = cpu.present_series(&series).unwrap();
    assert_eq!(want.counts.len(), 4);
    assert!(
        want.counts[3].iter().flatten().sum::<u32>() > 0,
        "the last round spiked"
    );
    let opts = GpuEngineOptions {
        schedule: EngineSchedule::Fused,
        presentations_per_submission: Some(4),
        ..GpuEngineOptions::default()
    };
    let mut gpu = GpuEngine::with_options(common::gpu_ctx(), &net, opts).unwrap();
    let got = gpu.present_series(&series).unwrap();
    assert_eq!(got, want);
    if exact() {
        assert_eq!(gpu.network_state().unwrap(), cpu.network_state());
    }
}

/// A series of presentations (`Simulator::present_series`) on the GPU engine against the
/// same series presented one at a time on the CPU engine: the rounds that ran, what each
/// copy showed, their counts, the clock and (bit for bit on a software adapter) the whole
/// state after each series, under the fused schedule with a series in one submission, in
/// submissions of three (a retry that opens the next submission), with a loop budget so
/// low that rounds stall and go on from the host, and under the passes (after quiet
/// steps, from which the fused schedule expects more steps per dispatch than the bright
/// rounds run under the low budget: the first round stalls in its steps on, with copy 1
/// short of its least count so far, where a judge that moved it to its retry would change
/// the input the round goes on with). Copy 0's least count is 0 and never stops a series.
/// The first series runs whole (copy 1's retry of its short second round falls past its
/// end); the second retries copy 1's silent third round in its fourth, brighter (under the
/// low budget that round stalls in its steps on, and copy 1 goes on with its retry's
/// input), and shows copy 1's fourth input in its fifth; the third runs whole; the fourth retries copy 1's silent
/// first round in its second; the fifth stops after its second round, silent without a
/// retry; the sixth after its second, a silent retry of a silent first. A run follows
/// each. A series in one submission costs one wait on the device.
pub fn a_series_equals_its_presentations() {
    let ctx = common::gpu_ctx();
    let spec = cfg(RestMode::Simulate).to_spec();
    let net = network(&spec).unwrap().with_seeds(vec![7, 8]);
    let data = embedded(Split::Train).unwrap();
    // Images 0 to 5 at intensity 16, then (6) image 4 brighter, at 28.
    let mut rates: Vec<Vec<f32>> = (0..6)
        .map(|i| DcConfig::rates(data.image(i), 16.0))
        .collect();
    rates.push(DcConfig::rates(data.image(4), 28.0));
    let silent = vec![0.0; rates[0].len()];
    let image = |x: Option<usize>| x.map_or(&silent[..], |i| &rates[i][..]);
    // `rounds[r]`: (copy 0's image, copy 1's image; None: silence), copy 1's retries
    // (round, image; None: silence) and its least count.
    type Rounds<'a> = (
        &'a [(usize, Option<usize>)],
        &'a [(usize, Option<usize>)],
        u32,
    );
    let series: [Rounds<'_>; 6] = [
        (
            &[(0, Some(1)), (2, Some(3))],
            &[(0, Some(4)), (1, Some(5))],
            28,
        ),
        (
            &[
                (0, Some(1)),
                (2, Some(3)),
                (4, None),
                (5, Some(0)),
                (1, Some(2)),
            ],
            &[(0, Some(3)), (2, Some(6)), (3, Some(5))],
            1,
        ),
        (&[(3, Some(4)), (5, Some(5)), (0, Some(1))], &[], 1),
        (&[(2, None), (3, Some(4)), (1, Some(2))], &[(0, Some(5))], 1),
        (&[(4, Some(5)), (1, None), (2, Some(3))], &[(0, Some(1))], 1),
        (&[(2, None), (3, Some(4)), (1, Some(2))], &[(0, None)], 5),
    ];
    let run = |e: &mut dyn Simulator| {
        let (mut out, mut states, mut waits) = (vec![], vec![], vec![]);
        // Quiet steps first: the fused schedule then expects more steps per dispatch than
        // the loud rounds run under the low budget.
        e.run(300).unwrap();
        let mut key = 0;
        for (rounds, retried, least) in series {
            let trials: Vec<Vec<Trial<'_>>> = rounds
                .iter()
                .map(|&(a, b)| {
                    key += 2;
                    vec![
                        Trial {
                            rates_hz: &rates[a],
                            key,
                        },
                        Trial {
                            rates_hz: image(b),
                            key: key + 1,
                        },
                    ]
                })
                .collect();
            let ps: Vec<Presentation<'_>> = trials
                .iter()
                .map(|inputs| Presentation {
                    normalize: Some((INPUT_EXC, 78.0)),
                    source: INPUT,
                    inputs,
                    steps_on: 150,
                    counted: EXC,
                    rest_steps: Some(60),
                    check_weights: Some(INPUT_EXC),
                    decay: Some((EXC, "theta", 0.875)),
                })
                .collect();
            let retries: Vec<Vec<Option<&[f32]>>> = (0..rounds.len())
                .map(|r| {
                    let x = retried.iter().find(|x| x.0 == r);
                    vec![None, x.map(|x| image(x.1))]
                })
                .collect();
            let w0 = e.device_waits().map_or(0, |w| w.count);
            out.push(
                e.present_series(&Series {
                    presentations: &ps,
                    retries: &retries,
                    least: &[0, least],
                })
                .unwrap(),
            );
            waits.push(e.device_waits().map_or(0, |w| w.count) - w0);
            states.push((e.step_count(), e.network_state().unwrap()));
            e.run(7).unwrap();
            states.push((e.step_count(), e.network_state().unwrap()));
        }
        (out, states, waits)
    };
    let mut cpu = Engine::new(&net).unwrap();
    let want = run(&mut cpu);
    assert_eq!(
        want.0.iter().map(|s| s.counts.len()).collect::<Vec<_>>(),
        [2, 5, 3, 3, 2, 2],
        "rounds run"
    );
    let shown = |p: usize, retry: bool| Shown {
        presentation: p,
        retry,
    };
    assert_eq!(want.0[1].shown[3][1], shown(2, true), "copy 1 retries");
    assert_eq!(want.0[1].shown[4], [shown(4, false), shown(3, false)]);
    assert_eq!(want.0[3].shown[1][1], shown(0, true), "copy 1 retries");
    let drew = |s: &[Vec<Vec<u32>>], c: usize| s.iter().all(|r| r[c].iter().sum::<u32>() > 0);
    let second = &want.0[1].counts;
    assert!(
        drew(&second[..2], 1) && drew(&second[3..], 1) && drew(&want.0[2].counts, 1),
        "copy 1 drew spikes"
    );
    let fused = |budget, per| GpuEngineOptions {
        schedule: EngineSchedule::Fused,
        loop_budget: budget,
        presentations_per_submission: Some(per),
        ..GpuEngineOptions::default()
    };
    let passes = GpuEngineOptions {
        schedule: EngineSchedule::Passes,
        ..GpuEngineOptions::default()
    };
    for (what, opts) in [
        ("fused", fused(None, 16)),
        ("fused, three per submission", fused(None, 3)),
        ("fused, stalling", fused(Some(LOW_BUDGET), 16)),
        ("passes", passes),
    ] {
        let mut gpu = GpuEngine::with_options(ctx.clone(), &net, opts).unwrap();
        let got = run(&mut gpu);
        assert_eq!(
            got.0, want.0,
            "{what}: the counts of the rounds run, and what they showed"
        );
        let clocks = |s: &[(u32, _)]| s.iter().map(|x| x.0).collect::<Vec<_>>();
        assert_eq!(clocks(&got.1), clocks(&want.1), "{what}: the clock");
        if exact() {
            let differ = got.1.iter().zip(&want.1).position(|(g, w)| g.1 != w.1);
            assert_eq!(
                differ, None,
                "{what}: the state after series or run k differs"
            );
        }
        match what {
            "fused" => assert_eq!(got.2, [1; 6], "{what}: waits of each series"),
            "fused, stalling" => assert!(got.2[0] > 1, "{what}: no round stalled"),
            _ => {}
        }
    }
}

/// A trial whose neuron variable turns NaN is named alike on both engines, as the first bad
/// trial in trial order: an excitatory and an inhibitory membrane projection of the same huge
/// weight from one source give `inf − inf` once two inputs spike in one step.
pub fn a_bad_trial_is_named_alike() {
    let ctx = common::gpu_ctx();
    let huge = 3e38;
    let net = Network::new(1.0)
        .poisson("in", 4, 0.0)
        .neurons("n", 2, NeuronModel::integrate_and_fire(1.0, 0.0))
        .project(Projection::new(
            "e",
            "in",
            "n",
            Target::MEMBRANE_EXC,
            Connectivity::AllToAll,
            huge,
        ))
        .project(Projection::new(
            "i",
            "in",
            "n",
            Target::MEMBRANE_INH,
            Connectivity::AllToAll,
            huge,
        ));
    let mut cpu = Engine::new(&net).unwrap();
    let mut gpu = GpuEngine::new(ctx, &net).unwrap();
    let (quiet, loud) = (vec![0.0; 4], vec![1000.0; 4]);
    let trials = [
        Trial {
            rates_hz: &quiet,
            key: 1,
        },
        Trial {
            rates_hz: &loud,
            key: 2,
        },
        Trial {
            rates_hz: &loud,
            key: 3,
        },
    ];
    let engines: [&mut dyn Simulator; 2] = [&mut cpu, &mut gpu];
    let mut said = vec![];
    for e in engines {
        let err = e.run_trials(0, "in", &trials, 5, "n").unwrap_err();
        assert!(matches!(err, SnnError::NonFinite { .. }), "{err}");
        said.push(err.to_string());
        // The engine itself ran nothing and is fine.
        e.run(5).unwrap();
    }
    assert!(said[0].contains("n (trial 1)"), "{}", said[0]);
    assert_eq!(said[0], said[1]);
}

/// Learning presentation `k` of `c`, with its own presentation and rest lengths.
fn learning(c: &DcConfig, k: usize) -> PresentOptions {
    PresentOptions {
        steps_on: c.steps_on(),
        steps_rest: c.steps_rest(),
        rest: c.rest,
        learn: true,
        key: k as u32,
    }
}

/// `images` learning presentations of `c` (its own presentation and rest lengths, at
/// `intensity`) on both engines: equal counts after each, and equal networks at the end.
/// Returns the CPU engine's total spike count.
fn presentations_agree(c: &DcConfig, images: usize, intensity: f32, what: &str) -> u32 {
    presentations_agree_with(c, images, intensity, what, GpuEngineOptions::default())
}

/// [`presentations_agree`] with the GPU engine built with `opts`.
fn presentations_agree_with(
    c: &DcConfig,
    images: usize,
    intensity: f32,
    what: &str,
    opts: GpuEngineOptions,
) -> u32 {
    let ctx = common::gpu_ctx();
    let spec = c.to_spec();
    let data = embedded(Split::Train).unwrap();
    let mut cpu = DcEngine::new(&spec).unwrap();
    let mut gpu = DcEngine::on_gpu(ctx, &spec, opts).unwrap();
    assert_subgroups(&gpu, opts, what);

    let mut total = 0;
    for k in 0..images {
        let opts = learning(c, k);
        let rates = DcConfig::rates(data.image(k + 30), intensity);
        let a = cpu.present(&rates, &opts).unwrap();
        assert_eq!(gpu.present(&rates, &opts).unwrap(), a, "{what}: image {k}");
        total += a.iter().sum::<u32>();
    }
    same_network(&mut cpu, &mut gpu, what);
    total
}

/// Where `opts` asks for subgroup operations, the fused kernel uses them (the suite's
/// llvmpipe has them: 8 lanes).
fn assert_subgroups(gpu: &DcEngine, opts: GpuEngineOptions, what: &str) {
    if opts.subgroups == Some(true) {
        let d = gpu.describe();
        assert!(d.ends_with(", subgroups"), "{what}: {d}");
    }
}

/// dc400 as the preset has it (400 neurons, input delays up to 10 ms, 350 + 150 ms at
/// dt = 0.5 ms) learning over 3 presentations, fused at the adapter's workgroup size, at
/// 64 invocations, where the 784 inputs are drawn in registers too and listed as their 25
/// words are emitted (`fused.rs`, "Spike summaries and lists"), and at 512, the default on
/// hardware (`GpuContext::default_workgroup_size`), where each neuron has an invocation of
/// its own and most invocations have no spike word to emit; at 64 and 512 with subgroup
/// operations too (the hardware default), which set a subgroup's spikes at once.
pub fn dc400_learning_with_delays_agrees() {
    let c = DcConfig::preset("dc400").unwrap();
    assert!(c.input_delay_max_ms > 0.0 && c.n_exc == 400);
    for (workgroup_size, subgroups) in [
        (None, None),
        (Some(64), Some(true)),
        (Some(512), Some(false)),
        (Some(512), Some(true)),
    ] {
        let opts = GpuEngineOptions {
            schedule: EngineSchedule::Fused,
            workgroup_size,
            subgroups,
            ..GpuEngineOptions::default()
        };
        let total = presentations_agree_with(&c, 3, 2.0, "dc400", opts);
        assert!(total > 0, "dc400 never fired");
    }
}

/// A real GPU runs the fused module without a loop budget (no count checked at a step's
/// start, nor the barriers of that check), a whole submission in one dispatch. llvmpipe runs
/// that module right while a dispatch stays under its loop cap: a small Diehl & Cook network
/// with input delays (arrival queues, buckets), learning over 40 presentations of 6 steps on
/// and 3 of rest at high rates, so that its neurons spike and potentiate, on the GPU
/// engine without a budget at the software default and at 512 invocations (the hardware
/// default), with and without subgroup operations, equals the CPU engine bit for bit.
pub fn dc_learning_without_a_loop_budget_agrees() {
    let mut c = DcConfig::preset("dc100").unwrap();
    c.n_exc = 24;
    c.seed = 5;
    c.input_delay_max_ms = 10.0;
    let spec = c.to_spec();
    let data = embedded(Split::Train).unwrap();
    for (workgroup_size, subgroups) in [
        (None, Some(false)),
        (None, Some(true)),
        (Some(512), Some(false)),
        (Some(512), Some(true)),
    ] {
        let opts = GpuEngineOptions {
            loop_budget: Some(u64::MAX),
            schedule: EngineSchedule::Fused,
            workgroup_size,
            subgroups,
            ..GpuEngineOptions::default()
        };
        let mut cpu = DcEngine::new(&spec).unwrap();
        let mut gpu = DcEngine::on_gpu(common::gpu_ctx(), &spec, opts).unwrap();
        assert_subgroups(&gpu, opts, "without a loop budget");
        let mut fired = 0;
        for k in 0..40 {
            let opts = PresentOptions {
                steps_on: 6,
                steps_rest: 3,
                rest: RestMode::Simulate,
                learn: true,
                key: k,
            };
            let rates = DcConfig::rates(data.image(k as usize), 32.0);
            let a = cpu.present(&rates, &opts).unwrap();
            assert_eq!(gpu.present(&rates, &opts).unwrap(), a, "presentation {k}");
            fired += a.iter().sum::<u32>();
        }
        assert!(fired > 20, "{fired} spikes: too few to potentiate");
        same_network(&mut cpu, &mut gpu, "without a loop budget");
    }
}

/// `clamp_v_to_reversal` in a network whose inhibition is strong enough (w_inh_exc = 400:
/// one inhibitory spike gives gi·dt/τ_m = 2) that Euler steps overshoot E_inh: the engines
/// agree, and the clamp acts (the same network without it spikes otherwise).
pub fn reversal_clamp_agrees_and_acts() {
    let mut c = DcConfig::preset("dc100").unwrap();
    c.n_exc = 24;
    c.seed = 3;
    c.w_inh_exc = 400.0;
    c.input_delay_max_ms = 10.0;
    c.clamp_v_to_reversal = true;
    let clamped = presentations_agree(&c, 4, 4.0, "clamped");
    assert!(clamped > 0);
    let data = embedded(Split::Train).unwrap();
    let free_cfg = DcConfig {
        clamp_v_to_reversal: false,
        ..c.clone()
    };
    let (mut on, mut free) = (
        DcEngine::new(&c.to_spec()).unwrap(),
        DcEngine::new(&free_cfg.to_spec()).unwrap(),
    );
    let mut differs = false;
    for k in 0..4usize {
        let opts = learning(&c, k);
        let rates = DcConfig::rates(data.image(k + 30), 4.0);
        differs |= on.present(&rates, &opts).unwrap() != free.present(&rates, &opts).unwrap();
    }
    assert!(
        differs || on.theta().unwrap() != free.theta().unwrap(),
        "the clamp never acted: the test network is too gentle"
    );
}

/// `snn train --networks K`'s path (`multi::run`): three networks trained, labelled and
/// tested on the GPU engine equal the same run on the CPU engine.
pub fn networks_on_the_gpu_equal_the_cpu_runs() {
    let ctx = common::gpu_ctx();
    let (tr, te) = (
        embedded(Split::Train).unwrap(),
        embedded(Split::Test).unwrap(),
    );
    let cfgs: Vec<DcConfig> = (0..3)
        .map(|s| DcConfig {
            seed: 20 + s,
            ..cfg(RestMode::Simulate)
        })
        .collect();
    let sizes = Sizes {
        n_train: 4,
        n_label: 6,
        n_test: 5,
        batch: 4,
    };
    let cpu = run(
        &cfgs,
        &tr,
        &te,
        &sizes,
        &EngineChoice::Cpu(EngineOptions::default()),
        &|_| {},
    )
    .unwrap();
    let gpu = run(
        &cfgs,
        &tr,
        &te,
        &sizes,
        &EngineChoice::Gpu(ctx, GpuEngineOptions::default()),
        &|_| {},
    )
    .unwrap();
    for (k, (a, b)) in gpu.iter().zip(&cpu).enumerate() {
        assert_eq!(a.stats, b.stats, "network {k}: images and retries");
        assert_eq!(
            a.tested.test_counts, b.tested.test_counts,
            "network {k}: test counts"
        );
        if exact() {
            assert_eq!(bits(&a.weights), bits(&b.weights), "network {k}: weights");
            assert_eq!(bits(&a.theta_mv), bits(&b.theta_mv), "network {k}: theta");
        } else {
            assert_close(&a.weights, &b.weights, &format!("network {k}: weights"));
        }
    }
    assert!(cpu.iter().all(|r| r.stats.images == 4));
}

/// Networks that differ in their seed only, as the copies of one GPU engine trained in
/// lockstep (`train_batch`, in series of up to 16 rounds in one submission; with the retry
/// rule running, so that they finish at different rounds and stop series), under both rest
/// modes: each network's training state, frozen responses, and
/// weights and θ (bit for bit on a software adapter) are those of its run alone on the CPU.
pub fn a_batch_on_the_gpu_equals_its_networks_alone_on_the_cpu() {
    let tr = embedded(Split::Train).unwrap().take(5);
    for rest in [RestMode::Simulate, RestMode::Reset] {
        let cfgs: Vec<DcConfig> = (0..3)
            .map(|s| DcConfig {
                seed: 30 + s,
                ..cfg(rest)
            })
            .collect();
        let specs: Vec<_> = cfgs.iter().map(DcConfig::to_spec).collect();
        // Rounds in series of up to 16 (llvmpipe's default is one at a time).
        let opts = GpuEngineOptions {
            presentations_per_submission: Some(16),
            ..GpuEngineOptions::default()
        };
        let gpu = EngineChoice::Gpu(common::gpu_ctx(), opts);
        let mut batch = DcEngine::build_batch(&specs, &gpu).unwrap();
        let mut states = vec![TrainState::new(0); 3];
        train_batch(&mut batch, &cfgs, &tr, 5, &mut states, 0, |_, _, _| Ok(())).unwrap();
        let retries: Vec<u64> = states.iter().map(|s| s.stats.retries).collect();
        assert!(
            retries.iter().all(|&r| r > 0),
            "{rest:?}: retries {retries:?}"
        );
        for (k, c) in cfgs.iter().enumerate() {
            let what = format!("{rest:?}, network {k}");
            let mut alone = DcEngine::new(&specs[k]).unwrap();
            let mut st = TrainState::new(0);
            train_from(&mut alone, c, &tr, 5, &mut st, |_, _, _| Ok(())).unwrap();
            assert_eq!(states[k], st, "{what}: training state");
            let (wg, wc) = (batch.weights_of(k).unwrap(), alone.weights().unwrap());
            let (tg, tc) = (batch.theta_of(k).unwrap(), alone.theta().unwrap());
            if exact() {
                assert!(bits(&wg) == bits(&wc), "{what}: weights differ");
                assert!(bits(&tg) == bits(&tc), "{what}: theta differs");
            } else {
                assert_close(&wg, &wc, &format!("{what}: weights"));
                assert_close(&tg, &tc, &format!("{what}: theta"));
            }
            let (mut kg, mut kc) = (st.key, st.key);
            let fg = respond_frozen_of(&mut batch, k, c, &tr, 5, 3, &mut kg, |_| {}).unwrap();
            let fc = respond_frozen(&mut alone, c, &tr, 5, 3, &mut kc, |_| {}).unwrap();
            assert_eq!(fg, fc, "{what}: frozen responses");
        }
    }
}

/// A presentation recorded (`record::present_recorded`) on the GPU engine against the same
/// presentation recorded on the CPU engine, for a network that has learned a little (θ above
/// 0, normalised weights): the same input, excitatory and inhibitory spikes and counts, and
/// the v, θ, ge, gi traces bit for bit on a software adapter (within `common::REL_TOL`
/// elsewhere).
pub fn a_presentation_recorded_on_the_gpu_equals_the_cpus() {
    let cpu_engine = EngineChoice::Cpu(EngineOptions::default());
    let gpu_engine = EngineChoice::Gpu(common::gpu_ctx(), GpuEngineOptions::default());
    let c = cfg(RestMode::Reset);
    let spec = c.to_spec();
    let data = embedded(Split::Train).unwrap();
    let mut b = DcEngine::new(&spec).unwrap();
    for k in 0..3 {
        b.present(&DcConfig::rates(data.image(k), 4.0), &learning(&c, k))
            .unwrap();
    }
    let (w, theta) = (b.weights().unwrap(), b.theta().unwrap());
    assert!(
        theta.iter().any(|&t| t > 0.0),
        "the network learned nothing"
    );
    // Every neuron traced.
    let neurons: Vec<u32> = (0..c.n_exc).collect();
    for k in 0..2 {
        let rates = DcConfig::rates(data.image(10 + k), 8.0);
        let opts = PresentOptions {
            key: 100 + k as u32,
            learn: false,
            ..learning(&c, k)
        };
        let record = |engine: &EngineChoice| {
            present_recorded(&spec, &w, &theta, &rates, &opts, &neurons, engine)
        };
        let (cpu, gpu) = (record(&cpu_engine).unwrap(), record(&gpu_engine).unwrap());
        let at = format!("image {k}");
        assert!(
            cpu.counts.iter().sum::<u32>() > 0 && !cpu.inh_spikes.is_empty(),
            "{at}: the CPU record has no excitatory or no inhibitory spike"
        );
        assert_eq!(gpu.input_spikes, cpu.input_spikes, "{at}: input spikes");
        assert_eq!(gpu.exc_spikes, cpu.exc_spikes, "{at}: excitatory spikes");
        assert_eq!(gpu.inh_spikes, cpu.inh_spikes, "{at}: inhibitory spikes");
        assert_eq!(gpu.counts, cpu.counts, "{at}: counts");
        assert_eq!(
            (gpu.steps, &gpu.neurons, gpu.dt_ms.to_bits()),
            (cpu.steps, &cpu.neurons, cpu.dt_ms.to_bits()),
            "{at}: shape"
        );
        let traces = [
            ("v", &gpu.v_mv, &cpu.v_mv),
            ("theta", &gpu.theta_mv, &cpu.theta_mv),
            ("ge", &gpu.ge, &cpu.ge),
            ("gi", &gpu.gi, &cpu.gi),
        ];
        for (var, g, c) in traces {
            assert_eq!(g.len(), neurons.len(), "{at}: {var} traces");
            for ((gt, ct), n) in g.iter().zip(c.iter()).zip(&neurons) {
                assert_eq!(gt.len(), cpu.steps as usize, "{at}: {var} of neuron {n}");
                if exact() {
                    assert_eq!(bits(gt), bits(ct), "{at}: {var} of neuron {n}");
                } else {
                    assert_close(gt, ct, &format!("{at}: {var} of neuron {n}"));
                }
            }
        }
    }
}
