"""Hogwild! SGD on shared memory (the recursion of Nguyen et al. 2021, eq. (2); Niu et al. 2011): every thread loops

    read w (coordinate by coordinate, while others write)  ->  w_hat_t
    pick B_t, |B_t| = b
    w <- w - eta_t (1/b) sum_{i in B_t} grad f_i(w_hat_t)          (coordinate-wise writes, no locks)

Each coordinate's write is atomic (Nguyen et al. 2021, Sec. 2: "the only atomic operation is the update of a single
coordinate": a dense row under the row lock or as ``HARNESS_THREADS_ATOMIC`` picks, a CSR row in a
hardware transaction where the CPU has one, else a compare-and-swap loop per coordinate)
unless ``write=racy`` / ``plain`` asks for unsynchronised writes; the run reports its coordinate
writes and lost writes (``info["writes"]``).

with eta_t constant, eta / (1 + t/t0) or eta / (1 + t/t0)^beta at the global update count t.
Each update's delay tau = (updates completed when it writes) - (when it read) is measured.
"""

from __future__ import annotations

import numpy as np

from harness.api import DelayStats
from harness.plugins.algorithms.kernels import SCHEDULE_CODES

from .linear import ThreadLinear
from .team import Team, single_threaded_blas


def run(ctx):
    wl, p, mon = ctx.workload, ctx.params, ctx.monitor
    n, b, eta = wl.n, p["b"], p["eta"]
    schedule = SCHEDULE_CODES[p["schedule"]]
    t0 = p["t0"] or n / b
    ctx.applied(eta=eta, b=b, schedule=p["schedule"], t0=t0)
    stats = DelayStats()
    with Team(ctx.workers, ctx.seed) as team, single_threaded_blas():
        lin = ThreadLinear(wl, team, p["write"])
        lin.warmup(b, svrg=False)                  # JIT / cache load before the clock starts
        cap = lin.chunk_cap(eta, b)
        w = np.zeros(wl.dim)                       # the shared iterate
        t = 0
        mon.tick(0, w, samples=0, delays=stats)
        while mon.running:
            k = mon.next_chunk(t, cap=cap, samples_per_update=b)
            lin.sgd(w, k, b=b, eta=eta, schedule=schedule, t0=t0, beta=p["beta"], delays=stats)   # k updates across the threads
            t += k
            mon.tick(t, w, samples=t * b, delays=stats)
    return {"delays": stats.to_dict(), "threads": ctx.workers, "writes": lin.writes(), "dispatch": lin.dispatch(),
            "l2": "scaled iterate, exact (sparse)" if lin.sparse else "exact"}
