"""Dis-dfSDCA: asynchronous dual-free SDCA on a parameter server, Huo 2020 (thesis), Sec. 3.3,
Algorithms 6 (server) and 7 (worker), for linear models (alpha_i = ahat_i x_i, O(n) memory).

Server (Algorithm 6)::

    w = 0
    for s = 0, 1, ...:                       (outer rounds of T server iterations)
        for t = 0 .. T-1:
            receive v^{s,t} = v_k from worker k
            w^{s,t+1} = w^{s,t} - eta v^{s,t}                          (3.5)
            send w^{s,t+1} back to worker k

Worker k (Algorithm 7)::

    alpha_[k] = 0
    repeat:
        receive w^{s,d(t)};  v_k = 0;  pick I_t from {1..n_k}, |I_t| = H, no duplicates
        for i in I_t:
            kappa = grad phi_i(w^{s,d(t)}) + alpha_i                   (3.6)
            alpha_i = alpha_i - eta lambda n kappa                     (3.7)  lambda*n, not lambda*n_k
            v_k = v_k + kappa                                          (3.8)
        send v_k

With ``lambda n`` in (3.7) the primal-dual relation (3.3) ``w = (1/(lambda n)) sum_i alpha_i`` holds
exactly (docs/derivations.md, dfsdca, 'lam n, not lam n_k'; ``lambda n_k`` would solve a problem with regularisation
lambda/K). The check is real: each message also carries the new ``ahat_i`` of its samples, the
server mirrors them, and every point records ``invariant_err = max|w - X^T ahat / (lambda n)|``
(evaluated off the clock); at the end the workers' own duals are gathered and checked again.

The round-end broadcast of Algorithm 6 is subsumed here: a worker blocks for the server's reply,
which is at least as fresh as the broadcast would be; T only counts outer rounds
(``info['outer_rounds']``), the unit of Theorems 3.4.1-3.4.4.
"""

from __future__ import annotations

import time

import numpy as np

from harness.plugins.algorithms.linear import dphi, invariant_error

from .ps import HELLO, PARAMS, STOP, UPDATE


def server(rt):
    wl, p = rt.wl, rt.params
    d, n, eta, H = wl.dim, wl.n, p["eta"], p["H"]
    T = p["T"] or max(1, n // H)
    ps = rt.server(d + 2 * H, d)
    w = np.zeros(d)
    ahat = np.zeros(n)                                   # the server's mirror of the workers' duals
    worst = [0.0]

    def metrics(frozen):
        err = invariant_error(wl, frozen, ahat)
        worst[0] = max(worst[0], err)
        return {**wl.metrics(frozen), "invariant_err": err}

    rt.mon.evaluate = metrics
    rt.ready()
    rt.observe(ps, w, force=True)
    t = rounds = 0
    deferred: set[int] = set()
    while rt.mon.status is None:
        msg = ps.next()                                  # receive v^{s,t} = v_k from worker k
        if msg.kind == HELLO:                            # a worker joins: send it w
            ps.reply(msg.source, PARAMS, w)
            continue
        ps.record_delay(msg)
        v = msg.payload[:d]
        w -= eta * v                                     # (3.5) w^{s,t+1} = w^{s,t} - eta v^{s,t}
        idx = msg.payload[d:d + H].astype(np.int64)
        ahat[idx] = msg.payload[d + H:d + 2 * H]
        ps.version += 1
        t += 1
        if t == T:                                       # end of outer round s
            t, rounds = 0, rounds + 1
        if not rt.observe(ps, w):
            deferred.add(msg.source)
            break
        ps.reply(msg.source, PARAMS, w)                  # send w^{s,t+1} back to worker k
    dropped = ps.shutdown(deferred)
    facts = rt.gather(None)
    final = np.zeros(n)
    for f in facts[1:]:
        final[np.asarray(f["idx"], dtype=np.int64)] = f["ahat"]
    final_err = invariant_error(wl, w, final)
    return {**rt.ps_info(ps, dropped, facts), "outer_rounds": rounds, "T": T, "round_updates": T,
            "invariant_max_err": max(worst[0], final_err), "invariant_final_err": final_err,
            "applied": rt.ctx.applied(eta=eta, T=T, H=rt.worker_applied(facts, "H"))}   # H: the workers' residues


def worker(rt):
    wl, p = rt.wl, rt.params
    d, n, eta, H, lam = wl.dim, wl.n, p["eta"], p["H"], wl.lam
    local, rng = rt.local, rt.rng
    nk = len(local)
    if H > nk:
        raise ValueError(f"H={H} exceeds the {nk} samples of worker {rt.rank}")
    X, y = wl.X, wl.y
    ahat = np.zeros(nk)                                  # alpha_[k] = 0 (alpha_i = ahat_i x_i)
    msg = np.zeros(d + 2 * H)
    wk = rt.worker(d + 2 * H, d)
    rt.ready()
    kind = wk.exchange(HELLO)
    J = old = None
    while kind != STOP:
        w, version = wk.payload, wk.version              # receive w^{s,d(t)}
        rt.maybe_fail(wk.sent)
        t0 = time.perf_counter()
        J = rng.choice(nk, size=H, replace=False)        # I_t, |I_t| = H, no duplicates
        I = local[J]
        kappa = dphi(wl, X[I], y[I], w) + ahat[J]        # (3.6) kappa = grad phi_i(w) + alpha_i
        old = ahat[J].copy()
        ahat[J] -= eta * lam * n * kappa                 # (3.7) alpha_i -= eta lambda n kappa
        msg[:d] = np.asarray(X[I].T @ kappa).ravel()     # (3.8) v_k = sum_i kappa_i
        msg[d:d + H] = I
        msg[d + H:] = ahat[J]
        rt.straggler.after_compute(time.perf_counter() - t0)
        kind = wk.exchange(UPDATE, msg, version=version, samples=H)
    if J is not None and wk.aux == 0.0:                  # the server dropped our last message: undo it
        ahat[J] = old
    rt.gather({"sent": wk.sent, "slept": rt.straggler.slept, "idx": local, "ahat": ahat, "H": H})   # H: |I_t| drawn
