#!/usr/bin/env python3
"""Brette et al. 2007 Benchmark 1 (COBA; Vogels & Abbott 2005) in Brian2, with the constants
of snn-wgpu's `examples/coba.rs`, timed; prints the same JSON line.

    peers/.venv/bin/python peers/brian2_coba.py --n 4000 --seconds 1 --mode runtime
    peers/.venv/bin/python peers/brian2_coba.py --n 4000 --seconds 1 --mode cpp_standalone

N neurons (80 % excitatory), C = 200 pF, gL = 10 nS, El = -60, Vt = -50, Vr = -60 mV,
refractory 5 ms (v clamped), Ee = 0, Ei = -80 mV, taue = 5 ms, taui = 10 ms, we = 6 nS,
wi = 67 nS, connections with p = 80/N (0.02 at N = 4000), v ~ U[Vr, Vt], ge ~ N(40, 15) nS,
gi ~ N(200, 120) nS; forward Euler at dt = 0.1 ms; spike at v >= Vt (snn-wgpu's test).
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
    from brian2 import ms, mV, nS, pF

    build_dir = c.setup(b2, a, "brian2_coba_")
    n_exc = int(round(a.n * 0.8))
    ns = dict(
        C=200 * pF, gL=10 * nS, El=-60 * mV, Vt=-50 * mV, Vr=-60 * mV, Ee=0 * mV,
        Ei=-80 * mV, taue=5 * ms, taui=10 * ms, we=6 * nS, wi=67 * nS,
    )
    eqs = """
    dv/dt = (gL*(El - v) + ge*(Ee - v) + gi*(Ei - v)) / C : volt (unless refractory)
    dge/dt = -ge / taue : siemens
    dgi/dt = -gi / taui : siemens
    """
    P = b2.NeuronGroup(a.n, eqs, threshold="v >= Vt", reset="v = Vr", refractory=5 * ms,
                       method="euler", namespace=ns)
    P.v = "Vr + rand() * (Vt - Vr)"
    P.ge = "(randn() * 1.5 + 4) * 10 * nS"
    P.gi = "(randn() * 12 + 20) * 10 * nS"
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
