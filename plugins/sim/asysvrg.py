"""Shared-AsySVRG, simulated (Huo & Huang 2017, Algorithm 1; Huo 2020 (thesis), Sec. 2.3, Algorithm 1):

    for s = 0, 1, ...:
        w~ = w^s;  grad f(w~) = (1/n) sum_i grad f_i(w~)                 (full gradient; workers sync)
        for t = 0 .. m-1:                                               (m iterations, all workers)
            pick I_t, |I_t| = b
            v_t = (1/b) sum_{i in I_t} [grad f_i(w_hat_t) - grad f_i(w~)] + grad f(w~)     (2.5)
            w_hat_t = w_t - sum_{j in J(t)} (w_{j+1} - w_j)                               (2.6)
            (w_{t+1})_k = (w_t)_k - eta (v_t)_k  for the written coordinates k             (2.4)
        w^{s+1} = w_m

The inconsistent read (2.6) is simulated with delays tau_t (J(t) = {t-1 .. t-tau_t}, or a
coordinate-wise subset with ``read=coordinate``), drawn from the chosen distribution and clipped at
the epoch start. ``coords=0`` writes every coordinate per iteration (the practical form); ``coords=c``
writes c coordinates (c = 1 is Algorithm 1 as stated: one theory iteration per update, so the delay
counts coordinate writes as Theorem 2.3.x's Delta does). Optional SGD warm start (thesis Sec. 2.5).
The loop is ``svrg-serial``'s, draw for draw: with tau = 0 and coords = 0 it reproduces it bit for bit.
"""

from __future__ import annotations

import numpy as np

from harness.plugins.algorithms.steps import Steps
from harness.plugins.algorithms.svrg import derived, sgd_warm_start, write_kind

from .engine import coord_key, delays_for, run_info
from .linear import LinearSim


def run(ctx):
    wl, p, mon = ctx.workload, ctx.params, ctx.monitor
    n, b, eta, coords = wl.n, p["b"], p["eta"], p["coords"]
    m = derived(p, wl)["m"]
    ctx.applied(eta=eta, b=b, m=m, warm_epochs=p["warm_epochs"], coords=coords)
    steps = Steps(wl)
    delays = delays_for(ctx)
    sim = LinearSim(wl, delays, p["read"], coord_key(ctx.seed))
    rng = ctx.rng
    krng = np.random.default_rng([ctx.seed, 0xC0]) if coords else None   # k_t, a stream of its own
    w = np.zeros(wl.dim)
    sim.reset(w)
    mon.tick(0, w, samples=0, delays=delays.stats)

    # SGD -> SVRG: warm start with (asynchronous) SGD, constant step
    def sgd(k, t):
        sim.sgd(w, rng.integers(0, n, size=k * b), b=b, eta=p["warm_eta"] or eta, t_start=t)

    t, samples = sgd_warm_start(mon, w, n=n, b=b, epochs=p["warm_epochs"], sgd=sgd, delays=delays.stats)

    while mon.running:
        u0 = w.copy()                                   # w~ = w^s
        snap = steps.snapshot(u0)                       # grad f(w~)
        samples += n
        mon.count(t, samples)                           # its n samples, before the chunk is sized
        sim.reset(w)                                    # workers synchronise at the epoch start
        inner = 0
        while inner < m and mon.running:
            k = min(mon.next_chunk(t, samples_per_update=2 * b), m - inner)
            idx = rng.integers(0, n, size=k * b)        # I_t
            kidx = krng.integers(0, wl.dim, size=k) if coords else None   # k_t
            sim.svrg_inner(w, snap, idx, b=b, eta=eta, t_start=t, coords=coords, kidx=kidx)   # (2.4)-(2.6), k times
            inner += k
            t += k
            samples += 2 * k * b
            mon.tick(t, w, samples=samples, delays=delays.stats)
        # w^{s+1} = w_m: the inner loop updated w in place
    return {**run_info(delays, p["read"], sim), "m": m, "coords": coords or wl.dim, "write": write_kind(coords)}
