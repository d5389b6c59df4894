"""Sim twin of ``hogwild-growing-batch-mpi``: Hogwild! over local data sets with increasing
mini-batch sizes (Nguyen et al. 2021, Supplement A, Algorithms 2-4) in one process, round by round.

Round i: every node c starts from the server's model v^_{i - l} (l = its round lag i - k, drawn
from ``delay``, e.g. the MPI run's measured ``round_lag`` histogram, clipped to [0, min(lag, i)]
so Theorem 1's invariant i - k <= d holds), runs s_{i,c} local SGD steps with the round step size
eta_bar_i on its own data, and sends U_{i,c}; then v^_{i+1} = v^_i - eta_bar_i sum_c U_{i,c}
(Algorithm 3). Points at round ends (updates = SGD steps aggregated, T_{i+1} = sum_{j<=i} s_j).

Delay unit: **rounds** (the round lag l = i - k of each node's model), as ``hogwild-growing-batch-mpi``
reports its delays, so the two runs' tau columns compare.
"""

from __future__ import annotations

import numpy as np

from harness.plugins.algorithms.partition import partition
from harness.plugins.algorithms.schedules import ROUNDS_KEPT, Schedule, applied_facts
from harness.plugins.algorithms.steps import Steps

from . import engine
from .engine import delays_for, run_info


def run(ctx):
    wl, p, mon, P = ctx.workload, ctx.params, ctx.monitor, ctx.workers
    lag = p["lag"]
    parts = partition(wl.n, P, p["partition"], getattr(wl, "y", None), ctx.seed)
    sched = Schedule(p, P)
    steps = Steps(wl)
    rng = ctx.rng
    delays = delays_for(ctx)
    v = np.zeros(wl.dim)                                     # v^_0
    models = engine.History(v, lag + 1)                      # v^_{i-lag} .. v^_i
    t, i = 0, 0
    etas: list[float] = []                                   # eta_bar_i applied, rounds 0..63
    mon.tick(0, v, samples=0, delays=delays.stats)
    while mon.running:
        eta_i = sched.eta(i)
        if i < ROUNDS_KEPT:
            etas.append(eta_i)
        lags = np.minimum(delays.draw(P), lag)
        total = np.zeros(wl.dim)
        applied = np.empty(P, dtype=np.int64)
        shares = [sched.share(i, c) for c in range(P)]       # s_{i,c}
        left = mon.remaining(t)
        if left is not None and sum(shares) > left:          # the last round ends with the budget
            shares = [min(s_ic, max(left - sum(shares[:c]), 0)) for c, s_ic in enumerate(shares)]
        for c in range(P):
            applied[c] = models.clip(lags[c])
            w = models.read(applied[c])                      # w^ = v^_k, k = i - l
            start = w.copy()
            xi = parts[c][rng.integers(0, len(parts[c]), size=shares[c])]
            steps.sgd(w, xi, b=1, eta=eta_i)       # s_{i,c} local steps
            total += (start - w) / eta_i                     # U_{i,c}
            t += shares[c]
        delays.record(applied)
        v = v - eta_i * total                                # v^_{i+1} = v^_i - eta_bar_i sum_c U_{i,c}
        models.push(v)
        i += 1
        mon.tick(t, v, samples=t, delays=delays.stats, extra={"rounds": i})   # communication rounds completed
    return {**run_info(delays, "whole"), "delay_unit": "rounds", "rounds": i, "round_sizes": sched.sizes[:ROUNDS_KEPT],
            "applied": ctx.applied(**applied_facts(p, lag, etas))}
