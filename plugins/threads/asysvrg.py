"""Shared-AsySVRG on shared memory (Huo & Huang 2017, Algorithm 1; Huo 2020 (thesis), Sec. 2.3):

    for s = 0, 1, ...:
        w~ = w^s;  grad f(w~) = (1/n) sum_i grad f_i(w~)        (rows split across the threads; join)
        parallel on the threads, m iterations in all:
            pick I_t, |I_t| = b;  read w (inconsistently)  ->  w_hat_t                      (2.6)
            v_t = (1/b) sum_{i in I_t} [grad f_i(w_hat_t) - grad f_i(w~)] + grad f(w~)      (2.5)
            (w)_k <- (w)_k - eta (v_t)_k   for the written coordinates k (atomic each)      (2.4)
        w^{s+1} = w_m

``coords = 0`` writes every coordinate of v_t (the practical form); ``coords = c`` a random cyclic
block of c (c = 1 is Algorithm 1 as stated). Optional SGD warm start: ``warm_epochs`` passes of
Hogwild! SGD first (thesis Sec. 2.5, SGD->SVRG). Each update's delay is measured (stamp slots).
Coordinate writes are atomic unless ``write=racy`` / ``plain``: a dense row (coords = 0) under the
row lock (``HARNESS_THREADS_ATOMIC``), a CSR row in a hardware transaction where the CPU has one, a
single coordinate (coords > 0) by a compare-and-swap loop; lost writes are reported in ``info["writes"]``.
"""

from __future__ import annotations

import numpy as np

from harness.api import DelayStats
from harness.plugins.algorithms.svrg import derived, sgd_warm_start, write_kind

from .linear import ThreadLinear
from .team import Team, single_threaded_blas


def run(ctx):
    wl, p, mon = ctx.workload, ctx.params, ctx.monitor
    n, b, eta, coords = wl.n, p["b"], p["eta"], p["coords"]
    m = derived(p, wl)["m"]
    ctx.applied(eta=eta, b=b, m=m, warm_epochs=p["warm_epochs"], coords=coords)
    stats = DelayStats()
    with Team(ctx.workers, ctx.seed) as team, single_threaded_blas():
        lin = ThreadLinear(wl, team, p["write"])
        lin.warmup(b, svrg=True)
        w = np.zeros(wl.dim)                      # the shared iterate
        mon.tick(0, w, samples=0, delays=stats)

        # SGD -> SVRG: warm start with Hogwild! SGD (constant step)
        warm_eta = p["warm_eta"] or eta

        def sgd(k, t):
            lin.sgd(w, k, b=b, eta=warm_eta, delays=stats)

        t, samples = sgd_warm_start(mon, w, n=n, b=b, epochs=p["warm_epochs"], sgd=sgd,
                                    cap=lin.chunk_cap(warm_eta, b), delays=stats)

        cap = lin.chunk_cap(eta, b)
        while mon.running:
            snap = lin.snapshot(w)                  # w~ = w^s, grad f(w~) (loss part; + lam w~ in the update)
            samples += n
            mon.count(t, samples)                   # its n samples, before the chunk is sized
            inner = 0
            while inner < m and mon.running:
                k = min(mon.next_chunk(t, cap=cap, samples_per_update=2 * b), m - inner)
                lin.svrg(w, snap, k, b=b, eta=eta, coords=coords, delays=stats)   # (2.4)-(2.6), k iterations
                inner += k
                t += k
                samples += 2 * k * b
                mon.tick(t, w, samples=samples, delays=stats)
            # w^{s+1} = w_m: the threads updated w in place
    return {"delays": stats.to_dict(), "threads": ctx.workers, "writes": lin.writes(), "dispatch": lin.dispatch(), "m": m, "coords": coords or wl.dim, "write": write_kind(coords),
            "l2": "scaled iterate, exact (sparse)" if lin.sparse else "exact"}
