"""Sim twin of ``asysvrg-mpi``: Distributed-AsySVRG (Huo 2020 (thesis), Sec. 2.4, Algorithms 2-3, eqs.
(2.32)-(2.33)) in one process, the parameter server's asynchrony replaced by an exact delay model.

Update t (in the server's apply order): the message comes from worker k (uniform over the P
workers), whose mini-batch I_t is drawn from k's local partition; it was computed at the iterate
read tau_t server updates ago (tau_t from ``delay``: e.g. ``measured`` with the MPI run's own
histogram), clipped to the updates since the epoch's snapshot (all workers re-read w~ there)::

    v_t = (1/b) sum_{i in I_t} [grad f_i(w_{t - tau_t}) - grad f_i(w~)] + grad f(w~)     (2.33)
    w_{t+1} = w_t - eta v_t                                                             (2.32)

Same parameters, partitions and sample accounting as the MPI plugin (n per full gradient, 2b per
update); deterministic for a seed.
"""

from __future__ import annotations

import numpy as np

from harness.plugins.algorithms.partition import partition
from harness.plugins.algorithms.svrg import derived

from . import engine
from .engine import delays_for, run_info, worker_picker


def run(ctx):
    wl, p, mon, P = ctx.workload, ctx.params, ctx.monitor, ctx.workers
    n, d, eta, b = wl.n, wl.dim, p["eta"], p["b"]
    m = derived(p, wl)["m"]
    ctx.applied(eta=eta, b=b, m=m)
    parts = partition(n, P, p["partition"], getattr(wl, "y", None), ctx.seed)
    rng = ctx.rng
    pick = worker_picker(p["worker_shares"], ctx.workers, rng)
    delays = delays_for(ctx)
    w = np.zeros(d)
    hist = engine.History(w, delays.model.bound + 1)
    t, samples = 0, 0.0
    mon.tick(0, w, samples=0, delays=delays.stats)
    while mon.running:
        w_snap = w.copy()                                    # w~^s <- w^s
        mu = wl.gradient(w_snap)                             # grad f(w~^s) (from all workers' sums)
        samples += n
        mon.count(t, samples)                           # its n samples, before the chunk is sized
        hist.reset(w)
        inner = 0
        while inner < m and mon.running:
            k = min(mon.next_chunk(t, samples_per_update=2 * b), m - inner)
            taus = delays.draw(k)
            applied = np.empty(k, dtype=np.int64)
            for u in range(k):
                part = parts[pick()]                         # the worker whose v_t arrives
                batch = part[rng.integers(0, len(part), size=b)]
                applied[u] = hist.clip(taus[u])
                w_read = hist.read(applied[u])               # w_{t - tau_t}
                v = wl.batch_gradient(w_read, batch) - wl.batch_gradient(w_snap, batch) + mu   # (2.33)
                w -= eta * v                                 # (2.32)
                hist.push(w)
            delays.record(applied)
            inner += k
            t += k
            samples += 2 * k * b
            mon.tick(t, w, samples=samples, delays=delays.stats)
    return {**run_info(delays, "whole"), "m": m, "workers": P}
