"""Shared by the Brian2 benchmark scripts: device setup, timing, spike statistics, output."""

import json
import os
import tempfile
import time

import numpy as np


def add_common_args(ap):
    ap.add_argument("--mode", choices=["runtime", "cpp_standalone"], default="runtime")
    ap.add_argument("--seconds", type=float, default=1.0, help="simulated seconds")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--build-dir", help="standalone project folder [default: a temporary one]")
    ap.add_argument(
        "--reps",
        type=int,
        default=1,
        help="standalone: run the compiled program this many times; cpu_s is the median",
    )


def setup(b2, a, prefix):
    """Chooses the device and dt (0.1 ms); returns the standalone folder (None in runtime)."""
    b2.prefs.logging.console_log_level = "WARNING"
    b2.defaultclock.dt = 0.1 * b2.ms
    if a.mode == "runtime":
        b2.prefs.codegen.target = "cython"
        b2.seed(a.seed)
        return None
    build_dir = a.build_dir or tempfile.mkdtemp(prefix=prefix)
    b2.set_device("cpp_standalone", directory=build_dir, build_on_run=False)
    # Brian2's default is `make -j` (no limit): one compiler per file at once.
    b2.prefs.devices.cpp_standalone.extra_make_args_unix = [f"-j{os.cpu_count() or 1}"]
    b2.seed(a.seed)
    return build_dir


def run_timed(b2, net, a, build_dir, out, namespace=None):
    """Runs `net` for a.seconds; puts the simulation's own time in `out`.

    Runtime (Cython): a first run of 0 ms generates and compiles the code, untimed; then the
    run is timed: `wall_s` (wall clock) and `cpu_s` (this process's CPU time). Standalone:
    the main loop as the generated program times it (Brian2's `_last_run_time`), without
    code generation, compilation, building the synapses or writing results. That timer is
    `std::clock()`, the program's CPU time, so it is `cpu_s`; the loop's wall time is not
    measured (`wall_s` is null). `binary_s` is the whole program's wall time, `codegen_s`
    generation and compiling. With `--reps K` the program runs K times (the same
    simulation) and `cpu_s` is the median (`cpu_s_runs` all of them).
    """
    duration = a.seconds * b2.second
    if a.mode == "runtime":
        t0 = time.perf_counter()
        net.run(0 * b2.ms, namespace=namespace)
        out["codegen_s"] = time.perf_counter() - t0
        t0, c0 = time.perf_counter(), time.process_time()
        net.run(duration, namespace=namespace)
        out["wall_s"] = time.perf_counter() - t0
        out["cpu_s"] = time.process_time() - c0
    else:
        net.run(duration, namespace=namespace)
        device = b2.get_device()
        t0 = time.perf_counter()
        device.build(directory=build_dir, compile=True, run=False)
        out["codegen_s"] = time.perf_counter() - t0
        runs = []
        for _ in range(max(1, a.reps)):
            device.run(directory=build_dir, with_output=False)
            runs.append(device._last_run_time)
        out["binary_s"] = device.timers["run_binary"]
        out["wall_s"] = None
        out["cpu_s"] = float(np.median(runs))
        out["cpu_s_runs"] = runs


def spike_stats(i, t_s, n, sim_s):
    """Spikes, mean rate (Hz) and mean ISI CV over neurons with >= 3 spikes (population sd),
    as snn-wgpu's `experiments::benchmarks::stats_of_trains`."""
    i = np.asarray(i)
    t_s = np.asarray(t_s)
    order = np.lexsort((t_s, i))
    i, t_s = i[order], t_s[order]
    cvs = []
    bounds = np.searchsorted(i, np.arange(n + 1))
    for k in range(n):
        t = t_s[bounds[k] : bounds[k + 1]]
        if len(t) >= 3:
            isi = np.diff(t)
            cvs.append(isi.std() / isi.mean())
    return {
        "spikes": int(len(i)),
        "rate_hz": len(i) / (n * sim_s),
        "cv_isi": float(np.mean(cvs)) if cvs else float("nan"),
    }


def emit(out):
    print(json.dumps(out))
