"""Mini-batch SGD (the baseline of every paper here; e.g. Bhardwaj & Cong 2017, eq. (1)):

    w_{t+1} = w_t - eta_t * (1/b) * sum_{i in B_t} grad f_i(w_t),   B_t ~ uniform, |B_t| = b

with eta_t constant, eta / (1 + t/t0) or eta / (1 + t/t0)^beta.
"""

from __future__ import annotations

import numpy as np

from harness.plugins.algorithms.draws import IndexDraws
from harness.plugins.algorithms.kernels import SCHEDULE_CODES
from harness.plugins.algorithms.steps import Steps


def run(ctx):
    wl, p, mon = ctx.workload, ctx.params, ctx.monitor
    n, b = wl.n, p["b"]
    steps = Steps(wl)
    schedule = SCHEDULE_CODES[p["schedule"]]
    t0 = p["t0"] or n / b
    ctx.applied(eta=p["eta"], b=b, schedule=p["schedule"], t0=t0)
    draws = IndexDraws(ctx.rng, n)                # B_t, drawn a block ahead (the same stream)
    mon.rewarm(steps.rewarm)                      # after each evaluation, off the clock: the kernel's path warm again
    w = np.zeros(wl.dim)
    t = 0
    mon.tick(0, w, samples=0)
    while mon.running:
        k = mon.next_chunk(t, cap=max(1, 2_000_000 // b), samples_per_update=b)
        idx = draws.take(k * b)                   # B_t for the k updates of this chunk
        steps.sgd(w, idx, b=b, eta=p["eta"], schedule=schedule, t0=t0, beta=p["beta"], t_start=t)
        t += k
        mon.tick(t, w, samples=t * b)
