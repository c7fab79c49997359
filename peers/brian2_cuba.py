#!/usr/bin/env python3
"""Brette et al. 2007 Benchmark 2 (CUBA) in Brian2, with the constants of snn-wgpu's
`examples/cuba.rs`, timed; prints the same JSON line.

    peers/.venv/bin/python peers/brian2_cuba.py --n 4000 --seconds 1 --mode runtime
    peers/.venv/bin/python peers/brian2_cuba.py --n 4000 --seconds 1 --mode cpp_standalone

dv/dt = (ge + gi - (v - El)) / taum, taum = 20 ms, El = -49, Vt = -50, Vr = -60 mV,
refractory 5 ms (v clamped), taue = 5 ms, taui = 10 ms, we = 1.62 mV, wi = -9 mV (jumps of
ge, gi), connections with p = 80/N, v ~ U[Vr, Vt], ge = gi = 0; forward Euler at
dt = 0.1 ms; spike at v >= Vt.
"""

import argparse

import b2_common as c


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=4000)
    c.add_common_args(ap)
    a = ap.parse_args()
    if a.n < 5 or a.seconds <= 0:
        raise SystemExit("--n must be at least 5 and --seconds > 0")

    import brian2 as b2
    from brian2 import ms, mV

    build_dir = c.setup(b2, a, "brian2_cuba_")
    n_exc = int(round(a.n * 0.8))
    ns = dict(taum=20 * ms, taue=5 * ms, taui=10 * ms, El=-49 * mV, Vt=-50 * mV,
              Vr=-60 * mV, we=1.62 * mV, wi=-9 * mV)
    eqs = """
    dv/dt = (ge + gi - (v - El)) / taum : volt (unless refractory)
    dge/dt = -ge / taue : volt
    dgi/dt = -gi / taui : volt
    """
    P = b2.NeuronGroup(a.n, eqs, threshold="v >= Vt", reset="v = Vr", refractory=5 * ms,
                       method="euler", namespace=ns)
    P.v = "Vr + rand() * (Vt - Vr)"
    p = min(1.0, 80.0 / a.n)
    Ce = b2.Synapses(P[:n_exc], P, on_pre="ge += we", namespace=ns)
    Ci = b2.Synapses(P[n_exc:], P, on_pre="gi += wi", namespace=ns)
    Ce.connect(p=p)
    Ci.connect(p=p)
    M = b2.SpikeMonitor(P)
    net = b2.Network(P, Ce, Ci, M)
    out = {"simulator": f"brian2 {b2.__version__}", "mode": a.mode, "n": a.n}
    c.run_timed(b2, net, a, build_dir, out)
    out["synapses"] = int(len(Ce) + len(Ci))
    out["sim_s"] = a.seconds
    out.update(c.spike_stats(M.i[:], M.t[:] / b2.second, a.n, a.seconds))
    out.update({"backend": "cpu", "adapter": None})
    c.emit(out)


if __name__ == "__main__":
    main()
