#!/usr/bin/env python3
"""Diehl & Cook 2015 training in Brian2, with the constants of snn-wgpu's dc presets, timed.

Trains a fresh network on the first N MNIST training images (one learning presentation per
image: 350 ms of Poisson input, then 150 ms of rest, dt = 0.5 ms; no retries, as the `train`
row of `snn-bench`) and prints one JSON line: n_exc, images, mode, wall_s (the simulation
only, without code generation or compilation), s_per_image and the mean number of
excitatory spikes per presentation.

    peers/.venv/bin/python peers/brian2_diehl_cook.py --n-exc 400 --images 20 --mode runtime
    peers/.venv/bin/python peers/brian2_diehl_cook.py --n-exc 400 --images 50 --mode cpp_standalone

Model (src/experiments/diehl_cook/config.rs, src/model/neuron.rs, src/model/stdp.rs):
- excitatory: conductance LIF, tau_m 100 ms, v_rest -65 mV, E_exc 0 mV, E_inh -100 mV,
  tau_ge 1 ms, tau_gi 2 ms, spike at v > theta - 72 mV, reset -65 mV, theta += 0.05 mV,
  theta decays with tau 1e7 ms, v starts at -105 mV, theta at 20 mV; after a spike no spike
  for 5 ms but v is not clamped (the original code as Brian 1 runs it: the presets'
  `refractory_exc_ms = 0`, `lockout_exc_ms = 4.5`, i.e. the next spike 10 steps later);
- inhibitory: tau_m 10 ms, v_rest -60 mV, E_inh -85 mV, threshold -40 mV, reset -45 mV,
  v clamped for 2 ms, v starts at -100 mV;
- forward Euler for both;
- input: 784 Poisson generators at pixel / 8 * 2 Hz, all-to-all onto the excitatory layer,
  weights 0.3 * (U + 0.01), delays U[0, 10) ms, nearest-spike triplet STDP (pre trace
  20 ms, post traces 20 / 40 ms, nu_pre 1e-4, nu_post 1e-2, w clipped to [0, 1]), each
  neuron's incoming weights scaled to sum to 78 before every image;
- excitatory -> inhibitory one-to-one (ge += 10.4), inhibitory -> excitatory all but self
  (gi += 17).

Differences from snn-wgpu that do not change the work done: Brian2 computes in float64
(snn-wgpu in float32); a delayed input spike adds the weight it finds on arrival (Brian2's
`on_pre`; snn-wgpu, as Brian 1, the weight at emission); its random numbers differ.
"""

import argparse
import gzip
import json
import os
import sys
import tempfile
import time

import numpy as np

N_INPUT = 784
PRESENT_MS = 350.0
REST_MS = 150.0
DT_MS = 0.5
INTENSITY = 2.0
NORM_TARGET = 78.0


def read_idx_images(path):
    """The images of an MNIST IDX file (gzip'd or not) as a uint8 array (count, 784)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, count, rows, cols = np.frombuffer(data[:16], dtype=">u4")
    if magic != 2051:
        sys.exit(f"{path}: IDX magic {magic}, expected 2051 (an MNIST image file)")
    pixels = np.frombuffer(data[16:], dtype=np.uint8)
    if pixels.size != count * rows * cols:
        sys.exit(f"{path}: header says {count} images of {rows}x{cols}, file holds {pixels.size} bytes")
    return pixels.reshape(count, rows * cols)


def find_train_images(data_dir):
    for name in ("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"):
        p = os.path.join(data_dir, name)
        if os.path.exists(p):
            return p
    sys.exit(
        f"--data {data_dir}: no train-images-idx3-ubyte(.gz) there; point --data at a folder "
        "with the MNIST IDX files (the repo ships a subset in data/mnist-subset)"
    )


def build_network(b2, n_exc, images, seed):
    """The network, the plastic synapses, the spike monitor, the namespace of a run (the
    stimulus of `images`, a TimedArray) and each plastic synapse's target neuron."""
    ms, mV, Hz = b2.ms, b2.mV, b2.Hz
    b2.defaultclock.dt = DT_MS * ms
    b2.seed(seed)
    rng = np.random.RandomState(seed)

    # Rates: rows of 50 ms, 7 with the image (350 ms) and 3 at zero (150 ms rest).
    on_rows, rest_rows = int(PRESENT_MS / 50), int(REST_MS / 50)
    stim = np.zeros((len(images) * (on_rows + rest_rows), N_INPUT))
    for k, img in enumerate(images):
        start = k * (on_rows + rest_rows)
        stim[start : start + on_rows] = img.astype(float) / 8.0 * INTENSITY
    rates = b2.TimedArray(stim * Hz, dt=50 * ms, name="stim")

    exc = b2.NeuronGroup(
        n_exc,
        """
        dv/dt = ((-65*mV - v) + ge*(0*mV - v) + gi*(-100*mV - v)) / (100*ms) : volt
        dge/dt = -ge / (1*ms) : 1
        dgi/dt = -gi / (2*ms) : 1
        dtheta/dt = -theta / (1e7*ms) : volt
        """,
        threshold="v > theta - 72*mV",
        reset="v = -65*mV; theta += 0.05*mV",
        refractory=5 * ms,  # v has no `(unless refractory)`: a lockout, no clamp
        method="euler",
        name="exc",
    )
    exc.v = -105 * mV
    exc.theta = 20 * mV
    inh = b2.NeuronGroup(
        n_exc,
        """
        dv/dt = ((-60*mV - v) + ge*(0*mV - v) + gi*(-85*mV - v)) / (10*ms) : volt (unless refractory)
        dge/dt = -ge / (1*ms) : 1
        dgi/dt = -gi / (2*ms) : 1
        """,
        threshold="v > -40*mV",
        reset="v = -45*mV",
        refractory=2 * ms,
        method="euler",
        name="inh",
    )
    inh.v = -100 * mV

    poisson = b2.PoissonGroup(N_INPUT, rates="stim(t, i)", name="poisson")
    xe = b2.Synapses(
        poisson,
        exc,
        """
        w : 1
        post2before : 1
        dpre/dt = -pre / (20*ms) : 1 (event-driven)
        dpost1/dt = -post1 / (20*ms) : 1 (event-driven)
        dpost2/dt = -post2 / (40*ms) : 1 (event-driven)
        """,
        on_pre="ge_post += w; pre = 1.; w = clip(w - 0.0001*post1, 0, 1)",
        on_post="post2before = post2; w = clip(w + 0.01*pre*post2before, 0, 1); "
        "post1 = 1.; post2 = 1.",
        method="exact",
        name="xe",
    )
    pre_idx = np.repeat(np.arange(N_INPUT), n_exc)
    post_idx = np.tile(np.arange(n_exc), N_INPUT)
    xe.connect(i=pre_idx, j=post_idx)
    xe.w = ((rng.random_sample((N_INPUT, n_exc)) + 0.01) * 0.3).ravel()
    xe.delay = rng.random_sample(N_INPUT * n_exc) * 10.0 * ms

    ei = b2.Synapses(exc, inh, on_pre="ge_post += 10.4", name="ei")
    ei.connect(j="i")
    ie = b2.Synapses(inh, exc, on_pre="gi_post += 17.0", name="ie")
    ie.connect(condition="i != j")

    spikes = b2.SpikeMonitor(exc, record=True, name="exc_spikes")
    net = b2.Network(exc, inh, poisson, xe, ei, ie, spikes)
    return net, xe, spikes, {"stim": rates}, post_idx


def add_normalisation(b2, net, mode, xe, post_idx, n_exc):
    """Scales each excitatory neuron's incoming weights to sum to NORM_TARGET at the start of
    every image (every 500 ms, from t = 0), inside the one run: a NumPy network operation in
    runtime mode, a C++ function called by a one-neuron group's `run_regularly` in standalone
    mode (standalone programs cannot call back into Python, and a summed variable would
    recompute the sums at every step). Returns the names to add to the run's namespace."""
    period = (PRESENT_MS + REST_MS) * b2.ms
    if mode == "runtime":

        @b2.network_operation(dt=period, when="start")
        def normalise():
            w = np.asarray(xe.w[:])
            sums = np.bincount(post_idx, weights=w, minlength=n_exc)
            xe.w[:] = w * (NORM_TARGET / sums)[post_idx]

        net.add(normalise)
        return {}
    device = b2.get_device()
    w = device.get_array_name(xe.variables["w"], access_data=False)
    post = device.get_array_name(xe.variables["_synaptic_post"], access_data=False)
    code = f"""
    double peers_normalise(double t) {{
        std::vector<double> sums({n_exc}, 0.0);
        for (size_t k = 0; k < brian::{w}.size(); k++) sums[brian::{post}[k]] += brian::{w}[k];
        for (size_t k = 0; k < brian::{w}.size(); k++) brian::{w}[k] *= {NORM_TARGET} / sums[brian::{post}[k]];
        return t;
    }}
    """

    @b2.implementation("cpp", code)
    @b2.check_units(t=b2.second, result=b2.second)
    def peers_normalise(t):
        raise NotImplementedError("standalone only")

    group = b2.NeuronGroup(1, "last_norm : second", name="normaliser")
    group.run_regularly("last_norm = peers_normalise(t)", dt=period, when="start")
    net.add(group)
    return {"peers_normalise": peers_normalise}


def spikes_per_image(times_s, images):
    """Excitatory spikes in each image's 350 ms presentation window."""
    period_s = (PRESENT_MS + REST_MS) / 1000.0
    k = np.floor(times_s / period_s).astype(int)
    in_window = (times_s - k * period_s) < PRESENT_MS / 1000.0
    return np.bincount(k[in_window], minlength=images)[:images]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n-exc", type=int, default=400, help="excitatory (= inhibitory) neurons")
    ap.add_argument("--images", type=int, default=20, help="training images to present")
    ap.add_argument("--mode", choices=["runtime", "cpp_standalone"], default="runtime")
    ap.add_argument(
        "--data",
        default=os.path.join(here, "..", "data", "mnist-subset"),
        help="folder with train-images-idx3-ubyte(.gz) [default: the repo's data/mnist-subset]",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--threads",
        type=int,
        default=0,
        help="OpenMP threads of the standalone program (0: none, Brian2's default)",
    )
    ap.add_argument("--build-dir", help="standalone project folder [default: a temporary one]")
    a = ap.parse_args()
    if a.n_exc < 1 or a.images < 1:
        sys.exit("--n-exc and --images must be at least 1")

    all_images = read_idx_images(find_train_images(a.data))
    if a.images > len(all_images):
        sys.exit(f"--images {a.images}: {a.data} holds only {len(all_images)} training images")
    images = all_images[: a.images]

    import brian2 as b2

    b2.prefs.logging.console_log_level = "WARNING"
    period = (PRESENT_MS + REST_MS) * b2.ms
    out = {"simulator": f"brian2 {b2.__version__}", "n_exc": a.n_exc, "images": a.images, "mode": a.mode}

    if a.mode == "runtime":
        b2.prefs.codegen.target = "cython"
    else:
        build_dir = a.build_dir or tempfile.mkdtemp(prefix="brian2_dc_")
        b2.set_device("cpp_standalone", directory=build_dir, build_on_run=False)
        b2.prefs.devices.cpp_standalone.openmp_threads = a.threads
        # Brian2's default is `make -j` (no limit): one compiler per file at once.
        b2.prefs.devices.cpp_standalone.extra_make_args_unix = [f"-j{os.cpu_count() or 1}"]
        out["threads"] = a.threads
    net, xe, spikes, ns, post_idx = build_network(b2, a.n_exc, images, a.seed)
    ns.update(add_normalisation(b2, net, a.mode, xe, post_idx, a.n_exc))
    # One run over all images: the stimulus switches image and rest by itself.
    if a.mode == "runtime":
        # Code generation and Cython compilation happen here (a run of 0 ms), untimed.
        t0 = time.perf_counter()
        net.run(0 * b2.ms, namespace=ns)
        out["codegen_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        net.run(a.images * period, namespace=ns)
        wall = time.perf_counter() - t0
        clock = "wall"
    else:
        net.run(a.images * period, namespace=ns)
        device = b2.get_device()
        t0 = time.perf_counter()
        device.build(directory=build_dir, compile=True, run=False)
        out["codegen_s"] = time.perf_counter() - t0
        device.run(directory=build_dir, with_output=False)
        out["binary_s"] = device.timers["run_binary"]
        # The main loop of the run, as the program itself timed it (without building the
        # network and writing the results): `std::clock()`, the program's CPU time (its
        # wall time only with OpenMP threads), as `b2_common.run_timed` says.
        wall = device._last_run_time
        clock = "cpu"

    counts = spikes_per_image(np.asarray(spikes.t / b2.second), a.images)
    out.update(
        {
            # `s_per_image` is of the clock `s_per_image_clock` names.
            "wall_s": wall if clock == "wall" else None,
            "cpu_s": wall if clock == "cpu" else None,
            "s_per_image": wall / a.images,
            "s_per_image_clock": clock,
            "exc_spikes_per_image_mean": float(counts.mean()),
            "exc_spikes_per_image_median": float(np.median(counts)),
        }
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
