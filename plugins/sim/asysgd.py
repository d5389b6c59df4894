"""Asynchronous SGD, simulated: the Hogwild! recursion (Nguyen et al. 2021, eq. (2); Lian et al. 2015's AsySGD)

    w_{t+1} = w_t - eta_t * (1/b) * sum_{i in B_t} grad f_i(w_hat_t),   B_t ~ uniform, |B_t| = b

with w_hat_t = w_{t - tau_t} (whole-vector read) or w_hat_t[j] = w_{t - tau_{t,j}}[j]
(coordinate-wise inconsistent read), tau_t from the chosen delay distribution.
The loop is ``sgd-serial``'s, draw for draw: with tau = 0 it reproduces it bit for bit.
"""

from __future__ import annotations

import numpy as np

from harness.plugins.algorithms.kernels import SCHEDULE_CODES

from .engine import coord_key, delays_for, run_info
from .linear import LinearSim


def run(ctx):
    wl, p, mon = ctx.workload, ctx.params, ctx.monitor
    n, b = wl.n, p["b"]
    delays = delays_for(ctx)
    sim = LinearSim(wl, delays, p["read"], coord_key(ctx.seed))
    schedule = SCHEDULE_CODES[p["schedule"]]
    t0 = p["t0"] or n / b
    ctx.applied(eta=p["eta"], b=b, schedule=p["schedule"], t0=t0)
    rng = ctx.rng
    w = np.zeros(wl.dim)
    sim.reset(w)                                  # all workers start from w_0
    t = 0
    mon.tick(0, w, samples=0, delays=delays.stats)
    while mon.running:
        k = mon.next_chunk(t, cap=max(1, 2_000_000 // b), samples_per_update=b)
        idx = rng.integers(0, n, size=k * b)      # B_t for the k updates of this chunk
        sim.sgd(w, idx, b=b, eta=p["eta"], schedule=schedule, t0=t0, beta=p["beta"], t_start=t)   # w_{t+1} = w_t - eta_t g(w_hat_t), k times
        t += k
        mon.tick(t, w, samples=t * b, delays=delays.stats)
    return run_info(delays, p["read"], sim)
