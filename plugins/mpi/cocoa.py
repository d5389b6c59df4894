"""Synchronous baseline for Dis-dfSDCA: CoCoA+ rounds with a local SDCA solver (Ma et al. 2015,
thesis ref [66]; the thesis's Ch. 3 comparison, Huo 2020, Sec. 3.5.1), squared loss (3.38).

Each round (synchronous: every worker must report before the server moves on, so one straggler
slows everyone - the point of the comparison)::

    server: broadcast w
    worker k: H SDCA coordinate steps on its local subproblem (sigma' = K: "adding"),
              i uniform in its local data:
        delta = (y_i - x_i.(w + sigma' dw_k) - alpha_i) / (1 + sigma' ||x_i||^2 / (lambda n))
        alpha_i += delta;   dw_k += delta x_i / (lambda n)
              send dw_k
    server: w = w + sum_k dw_k          (gamma = 1)

The dual variables follow the same convention as dfSDCA (w = (1/(lambda n)) sum alpha_i x_i).
Updates counted: rounds; samples: H per worker per round; staleness 0 by construction.
"""

from __future__ import annotations

import time

import numpy as np

from .ps import HELLO, PARAMS, ROUND, STOP


def server(rt):
    wl, P = rt.wl, rt.P
    d = wl.dim
    ps = rt.server(d, d)
    w = np.zeros(d)
    rt.ready()
    rt.observe(ps, w, force=True)
    for _ in range(P):
        ps.next()                                        # HELLO
    ps.broadcast(PARAMS, w)                              # broadcast w
    while True:
        acc, got = np.zeros(d), 0
        while got < P:                                   # the round waits for every worker
            msg = ps.next()
            ps.record_delay(msg)                         # always 0: everyone read this round's w
            acc += msg.payload
            got += 1
        w += acc                                         # w = w + sum_k dw_k   (gamma = 1)
        ps.version += 1
        if not rt.observe(ps, w):
            break
        ps.broadcast(PARAMS, w)
    dropped = ps.shutdown(range(1, P + 1))
    facts = rt.gather(None)
    return {**rt.ps_info(ps, dropped, facts), "rounds": ps.version}


def worker(rt):
    wl, p = rt.wl, rt.params
    d, n, lam, H = wl.dim, wl.n, wl.lam, p["H"]
    sigma = p["sigma"] or float(rt.P)
    local, rng = rt.local, rt.rng
    X, y = wl.X, wl.y
    sparse = wl.sparse
    alpha = np.zeros(len(local))
    rows_sq = wl.row_norms_sq[local]
    wk = rt.worker(d, d)
    rt.ready()
    kind = wk.exchange(HELLO)
    while kind != STOP:
        w, version = wk.payload.copy(), wk.version
        rt.maybe_fail(wk.sent)
        t0 = time.perf_counter()
        dw = np.zeros(d)
        for j in rng.integers(0, len(local), size=H):    # local SDCA on the CoCoA+ subproblem
            i = local[j]
            xi = X[i].toarray().ravel() if sparse else X[i]
            delta = (y[i] - xi @ (w + sigma * dw) - alpha[j]) / (1.0 + sigma * rows_sq[j] / (lam * n))
            alpha[j] += delta
            dw += (delta / (lam * n)) * xi
        rt.straggler.after_compute(time.perf_counter() - t0)
        kind = wk.exchange(ROUND, dw, version=version, samples=H)
    rt.gather({"sent": wk.sent, "slept": rt.straggler.slept})
