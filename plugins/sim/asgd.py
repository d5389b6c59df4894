"""Sim twin of ``asgd-mpi``: ASGD with N learners (Bhardwaj & Cong 2017, Sec. 4, eq. (6)) in one process: update k
applies a learner's mean mini-batch gradient computed at the iterate read tau_k updates ago,

    x_{k+1} = x_k - eta * (1/M) sum_{z in batch} grad F(x_{k - tau_k}, z)      (6), eta = gamma M

the learner uniform over N, its M samples drawn i.i.d. from its local partition; ``S`` fixes the
total number of samples (the run stops with status 'budget' once S samples are processed).
"""

from __future__ import annotations

import numpy as np

from harness.plugins.algorithms.partition import partition

from . import engine
from .engine import delays_for, run_info, worker_picker


def run(ctx):
    wl, p, mon, N = ctx.workload, ctx.params, ctx.monitor, ctx.workers
    eta, M, S = p["eta"], p["M"], p["S"]
    ctx.applied(eta=eta, b=M)      # the learners' mini-batch M is the theorems' batch b
    parts = partition(wl.n, N, p["partition"], getattr(wl, "y", None), ctx.seed)
    rng = ctx.rng
    pick = worker_picker(p["worker_shares"], ctx.workers, rng)
    delays = delays_for(ctx)
    x = np.zeros(wl.dim)
    hist = engine.History(x, delays.model.bound + 1)
    k = 0
    mon.tick(0, x, samples=0, delays=delays.stats)
    while mon.running:
        chunk = mon.next_chunk(k, cap=(S // M - k) if S else None)
        if S and chunk <= 0:
            break
        taus = delays.draw(chunk)
        applied = np.empty(chunk, dtype=np.int64)
        for u in range(chunk):
            part = parts[pick()]                             # the learner that pushes
            batch = part[rng.integers(0, len(part), size=M)]
            applied[u] = hist.clip(taus[u])
            x -= eta * wl.batch_gradient(hist.read(applied[u]), batch)   # (6)
            hist.push(x)
        delays.record(applied)
        k += chunk
        mon.tick(k, x, samples=k * M, delays=delays.stats, force=bool(S) and k * M >= S)
        if S and k * M >= S:
            mon.stop("budget", f"S = {S} samples processed")
    return {**run_info(delays, "whole"), "learners": N}
