"""Distributed-AsySVRG on a parameter server: Huo 2020 (thesis), Sec. 2.4, Algorithms 2 (server) and 3 (worker).

Server (Algorithm 2)::

    for s = 0, 1, ...:
        w~^s <- w^s;  broadcast w~^s                                   (SNAPSHOT)
        receive and compute grad f(w~^s) = (1/n) sum_k grad^k f(w~^s)  (GRAD from every worker)
        broadcast grad f(w~^s)                                         (FULLGRAD)
        for t = 0 .. m-1:
            receive v_t from a worker; w_{t+1} = w_t - eta v_t         (2.32)
            send w_{t+1} back to that worker                           (PARAMS)
        w^{s+1} <- w_m

Worker k (Algorithm 3), on its local data {1..n_k}::

    SNAPSHOT: send grad^k f(w~) = sum_{i <= n_k} grad phi_i(w~)        (a SUM over local data)
    PARAMS / FULLGRAD: pick I_t (|I_t| = b) from the local data,
        v_t = (1/b) sum_{i in I_t} [grad f_i(w_{t-tau}) - grad f_i(w~)] + grad f(w~)   (2.33)
        send v_t with the version of w_{t-tau} it read

Choices where the text is silent (Algorithms 2-3 of Huo 2020): the server sends the current w back to
the worker whose v it applied (so tau ~ P-1 with P equal workers: docs/derivations.md, asysvrg,
'delay of K workers'); the inner counter m counts all
server updates; updates still in flight when an epoch ends are dropped (they used the old
snapshot) and counted in ``info['dropped_in_flight']``. Samples: n per full gradient, 2b per v.
"""

from __future__ import annotations

import time

import numpy as np

from harness.plugins.algorithms.linear import loss_grad_sum
from harness.plugins.algorithms.svrg import derived

from .ps import FULLGRAD, GRAD, HELLO, PARAMS, SNAPSHOT, STOP, UPDATE


def server(rt):
    wl, p, P = rt.wl, rt.params, rt.P
    d, n, eta, b = wl.dim, wl.n, p["eta"], p["b"]
    m = derived(p, wl)["m"]
    ps = rt.server(d, d)
    w = np.zeros(d)
    rt.ready()
    rt.observe(ps, w, force=True)
    waiting = {ps.next().source for _ in range(P)}       # every worker says HELLO
    dropped, epochs_done, running = 0, 0, rt.mon.status is None
    while running:
        w_snap = w.copy()                                # w~^s <- w^s
        ps.broadcast(SNAPSHOT, w_snap)                   # broadcast w~^s
        full, got = np.zeros(d), 0
        while got < P:                                   # receive grad^k f(w~^s) from all workers
            msg = ps.next()
            full += msg.payload
            got += 1
        mu = full / n + wl.lam * w_snap                  # grad f(w~^s) = (1/n) sum_k grad^k f + lam w~
        ps.broadcast(FULLGRAD, mu)                       # broadcast grad f(w~^s)
        waiting, t = set(), 0
        while t < m:
            msg = ps.next()                              # receive v_t from a worker
            ps.record_delay(msg)                         # tau = version now - version read
            w -= eta * msg.payload                       # (2.32) w_{t+1} = w_t - eta v_t
            ps.version += 1
            t += 1
            running = rt.observe(ps, w)
            if not running or t == m:
                waiting.add(msg.source)
                break
            ps.reply(msg.source, PARAMS, w)              # send w_{t+1} back to that worker
        if not running:
            break
        epochs_done += 1
        while len(waiting) < P:                          # epoch ends: in-flight v's are dropped
            msg = ps.next()
            dropped += msg.kind == UPDATE
            waiting.add(msg.source)
    dropped += ps.shutdown(waiting)
    facts = rt.gather(None)
    return {**rt.ps_info(ps, dropped, facts), "outer_epochs": epochs_done, "m": m,
            "applied": rt.ctx.applied(eta=eta, m=m, b=rt.worker_applied(facts, "b"))}   # b: the workers' |I_t|


def worker(rt):
    wl, p = rt.wl, rt.params
    d, b = wl.dim, p["b"]
    local, rng = rt.local, rt.rng
    wk = rt.worker(d, d)
    rt.ready()
    kind = wk.exchange(HELLO)
    w_snap = mu = None
    while kind != STOP:
        if kind == SNAPSHOT:
            w_snap = wk.payload.copy()
            g = loss_grad_sum(wl, local, w_snap)         # grad^k f(w~) = sum over the local data
            kind = wk.exchange(GRAD, g, samples=len(local))
            continue
        if kind == FULLGRAD:
            mu = wk.payload.copy()
        w, version = wk.payload, wk.version              # w_{t-tau} (FULLGRAD: w = w~)
        if kind == FULLGRAD:
            w = w_snap
        rt.maybe_fail(wk.sent)
        t0 = time.perf_counter()
        batch = local[rng.integers(0, len(local), size=b)]                 # I_t from the local data
        v = wl.batch_gradient(w, batch) - wl.batch_gradient(w_snap, batch) + mu   # (2.33)
        rt.straggler.after_compute(time.perf_counter() - t0)
        kind = wk.exchange(UPDATE, v, version=version, samples=2 * b)
    rt.gather({"sent": wk.sent, "slept": rt.straggler.slept, "b": b})   # b: the |I_t| this worker drew
