"""Sim twin of ``dfsdca-mpi``: Dis-dfSDCA (Huo 2020 (thesis), Sec. 3.3, Algorithms 6-7, eqs. (3.5)-(3.8))
in one process with an exact delay model in place of the parameter server's asynchrony.

Server update t: the message comes from worker k (uniform over the P workers); it drew I_t (|I_t| =
H, no duplicates) from its local partition and used the iterate read tau_t updates ago, and its
own (always current) dual variables::

    kappa_i = grad phi_i(w_{t - tau_t}) + alpha_i                  (3.6)
    alpha_i = alpha_i - eta lambda n kappa_i                       (3.7)
    w_{t+1} = w_t - eta sum_{i in I_t} kappa_i                     (3.5), (3.8)

so ``w = (1/(lambda n)) sum_i alpha_i`` holds throughout; each point records ``invariant_err``.
"""

from __future__ import annotations

import numpy as np

from harness.plugins.algorithms.linear import dphi, invariant_error
from harness.plugins.algorithms.partition import partition

from . import engine
from .engine import delays_for, run_info, worker_picker


def run(ctx):
    wl, p, mon, P = ctx.workload, ctx.params, ctx.monitor, ctx.workers
    n, d, eta, H, lam = wl.n, wl.dim, p["eta"], p["H"], wl.lam
    # T: server updates per outer round (the analysis' unit, as dfsdca-mpi counts it)
    ctx.applied(eta=eta, H=H, T=p["T"] or max(1, n // H))
    parts = partition(n, P, p["partition"], getattr(wl, "y", None), ctx.seed)
    if H > min(len(q) for q in parts):
        raise ValueError(f"H={H} exceeds the smallest local data set ({min(len(q) for q in parts)} samples)")
    X, y = wl.X, wl.y
    rng = ctx.rng
    pick = worker_picker(p["worker_shares"], ctx.workers, rng)
    delays = delays_for(ctx)
    w = np.zeros(d)
    ahat = np.zeros(n)                                       # alpha_i = ahat_i x_i, all workers' duals
    worst = [0.0]

    def metrics(frozen):
        err = invariant_error(wl, frozen, ahat)
        worst[0] = max(worst[0], err)
        return {**wl.metrics(frozen), "invariant_err": err}

    mon.evaluate = metrics
    hist = engine.History(w, delays.model.bound + 1)
    t = 0
    mon.tick(0, w, samples=0, delays=delays.stats)
    while mon.running:
        k = mon.next_chunk(t)
        taus = delays.draw(k)
        applied = np.empty(k, dtype=np.int64)
        for u in range(k):
            part = parts[pick()]                             # the worker whose v_k arrives
            I = part[rng.choice(len(part), size=H, replace=False)]
            applied[u] = hist.clip(taus[u])
            w_read = hist.read(applied[u])                   # w^{s, d(t)}
            kappa = dphi(wl, X[I], y[I], w_read) + ahat[I]   # (3.6)
            ahat[I] -= eta * lam * n * kappa                 # (3.7) with lambda n
            w -= eta * np.asarray(X[I].T @ kappa).ravel()    # (3.8) then (3.5)
            hist.push(w)
        delays.record(applied)
        t += k
        mon.tick(t, w, samples=t * H, delays=delays.stats)
    return {**run_info(delays, "whole"), "workers": P, "invariant_max_err": worst[0]}
