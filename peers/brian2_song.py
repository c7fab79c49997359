#!/usr/bin/env python3
"""Song, Miller & Abbott 2000 STDP in Brian2, with the constants of snn-wgpu's
`examples/song_stdp.rs`, timed; prints the same JSON line and the 10-bin histogram of
w/gmax at the end (`w_over_gmax_hist10`).

    peers/.venv/bin/python peers/brian2_song.py --seconds 100 --mode cpp_standalone

1000 Poisson inputs at 15 Hz -> one neuron, dv/dt = (ge (Ee - v) + El - v) / taum,
taum = 10 ms, El = -74, Vt = -54, Vr = -60 mV, Ee = 0, taue = 5 ms, v starting at Vr;
additive pair STDP, taupre = taupost = 20 ms, A+ = 0.01 gmax, A- = -1.05 A+, gmax = 0.01,
w ~ U(0, gmax) clipped to [0, gmax]; forward Euler at dt = 0.1 ms.

`--traces all` (default) adds A+ (A-) to a trace at each spike: all-to-all pairing, as
Song et al., Brian2's own example of this model and snn-wgpu's `PairAllToAll` rule.
`--traces nearest` sets the trace instead (snn-wgpu's `Pair` rule); then the neuron fires
ever faster and every weight runs to gmax.
"""

import argparse

import numpy as np

import b2_common as c


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    c.add_common_args(ap)
    ap.add_argument("--traces", choices=["nearest", "all"], default="all")
    ap.set_defaults(seconds=100.0)
    a = ap.parse_args()
    if a.seconds <= 0:
        raise SystemExit("--seconds must be > 0")

    import brian2 as b2
    from brian2 import Hz, ms, mV

    build_dir = c.setup(b2, a, "brian2_song_")
    gmax = 0.01
    ns = dict(taum=10 * ms, taupre=20 * ms, taupost=20 * ms, Ee=0 * mV, vt=-54 * mV,
              vr=-60 * mV, El=-74 * mV, taue=5 * ms, gmax=gmax, dApre=0.01 * gmax,
              dApost=-1.05 * 0.01 * gmax)
    eqs = """
    dv/dt = (ge * (Ee - v) + El - v) / taum : volt
    dge/dt = -ge / taue : 1
    """
    inp = b2.PoissonGroup(1000, rates=15 * Hz)
    neuron = b2.NeuronGroup(1, eqs, threshold="v >= vt", reset="v = vr", method="euler",
                            namespace=ns)
    neuron.v = -60 * mV
    op = "=" if a.traces == "nearest" else "+="
    S = b2.Synapses(
        inp, neuron,
        """w : 1
        dApre/dt = -Apre / taupre : 1 (event-driven)
        dApost/dt = -Apost / taupost : 1 (event-driven)""",
        on_pre=f"""ge += w
        Apre {op} dApre
        w = clip(w + Apost, 0, gmax)""",
        on_post=f"""Apost {op} dApost
        w = clip(w + Apre, 0, gmax)""",
        namespace=ns,
    )
    S.connect()
    S.w = "rand() * gmax"
    M = b2.SpikeMonitor(neuron)
    net = b2.Network(inp, neuron, S, M)
    out = {"simulator": f"brian2 {b2.__version__}", "mode": a.mode, "traces": a.traces}
    c.run_timed(b2, net, a, build_dir, out)
    r = np.asarray(S.w[:]) / gmax
    out.update({
        "sim_s": a.seconds,
        "out_rate_hz": int(M.num_spikes) / a.seconds,
        "frac_w_below_0.1": float(np.mean(r < 0.1)),
        "frac_w_above_0.9": float(np.mean(r > 0.9)),
        "mean_w_over_gmax": float(r.mean()),
        "w_over_gmax_hist10": np.histogram(np.minimum(r, 1.0), bins=10, range=(0, 1))[0].tolist(),
        "backend": "cpu",
        "adapter": None,
    })
    c.emit(out)


if __name__ == "__main__":
    main()
