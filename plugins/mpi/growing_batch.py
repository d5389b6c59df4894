"""Hogwild! over distributed local data sets with increasing mini-batch sizes: Nguyen et al. 2021, Supplement A,
Algorithms 2 (setup), 3 (server / aggregator) and 4 (compute node), with Table 1's defaults.

Setup (Algorithm 2): round sizes s_i (a i^c + b, a i/ln i + b, or constant), split evenly over the
nodes (s_{i,c} = s_i / n); round step sizes eta_bar_i = eta_t at t = sum_{j<i} s_j ("diminishing2",
the theory's choice) with eta_t = eta0/(1+beta t) or eta0/(1+beta sqrt t).

Compute node c (Algorithm 4)::

    i = 0; w^ = v^_0
    loop:
        wait while i - k > d                      (practical wait rule, Supp. B.2: i - k <= d)
        U = 0
        for h < s_{i,c}:  xi ~ D_c;  g = grad f(w^; xi);  U += g;  w^ = w^ - eta_bar_i g
        send (i, c, U);  i += 1

Server (Algorithm 3)::

    on (i, c, U):  v^ = v^ - eta_bar_i U;  H.add((i, c))
                   while H has (k, c) for all c:  k += 1;  broadcast (v^, k)

Here a node receives the server's model at round boundaries only: the reply to its round-i
message is (v^, k) as soon as i+1-k <= d (deferred until then), and it restarts from v^ (its
partial round U is empty at that moment, so Alg. 4's ISR w^ = v^ - eta_bar_i U reduces to v^).
Updates counted: SGD steps aggregated at the server (t = sum of s_{i,c} received).

Delay unit: **rounds**, as in the sim twin (``growing-batch-sim``) and Theorem 1 (d bounds i - k).
The delay of a message (i, c, U) is its round lag i - k, k the broadcast round index of the model
the node started round i from (it travels in the message's version field); the points' tau
columns and ``info['delays']`` are in rounds, comparable with the twin's. ``info['round_lag']``
(the lag at each round start, kept by the server when it releases a node; Theorem 1's invariant
<= d) is the histogram the twin replays with ``delay=measured``.
"""

from __future__ import annotations

import time
from collections import defaultdict

import numpy as np

from harness.api import DelayStats
from harness.plugins.algorithms.schedules import ROUNDS_KEPT, Schedule, applied_facts

from .ps import HELLO, PARAMS, ROUND, STOP


def server(rt):
    wl, p, P = rt.wl, rt.params, rt.P
    d, lag = wl.dim, p["lag"]
    sched = Schedule(p, P)
    ps = rt.server(d, d)
    v = np.zeros(d)                                      # v^_0
    rt.ready()
    rt.observe(ps, v, force=True)
    k = 0
    done: dict[int, int] = defaultdict(int)              # H: how many nodes sent round i
    waiting: dict[int, int] = {}                         # node -> the round it wants to start
    lags = DelayStats()
    rounds_sent = 0
    etas: dict[int, float] = {}                          # eta_bar_i applied, rounds 0..ROUNDS_KEPT-1
    while rt.mon.status is None:
        msg = ps.next()                                  # (i, c, U) from node c
        if msg.kind == HELLO:                            # a node joins: it starts round 0 from v^
            lags.add_one(0)
            ps.reply(msg.source, PARAMS, v, aux=k)
            continue
        i = int(msg.aux)
        ps.record_delay(msg, tau=i - msg.version)        # round lag i - k (rounds, as the twin)
        eta_i = sched.eta(i)
        v -= eta_i * msg.payload                         # v^ = v^ - eta_bar_i U_{i,c}
        if i < ROUNDS_KEPT:
            etas[i] = eta_i
        ps.version += sched.share(i, msg.source - 1)     # t: SGD steps aggregated so far
        done[i] += 1
        rounds_sent += 1
        while done.get(k, 0) == P:                       # H has (k, c) for all c: k++, broadcast
            del done[k]
            k += 1
        waiting[msg.source] = i + 1
        if not rt.observe(ps, v, extra={"rounds": k}):   # communication rounds completed (the paper's x axis)
            break
        for node, nxt in list(waiting.items()):          # release the nodes with i - k <= d
            if nxt - k <= lag:
                lags.add_one(nxt - k)
                ps.reply(node, PARAMS, v, aux=k)
                del waiting[node]
    dropped = ps.shutdown(list(waiting))
    facts = rt.gather(None)
    return {**rt.ps_info(ps, dropped, facts), "delay_unit": "rounds", "broadcast_k": k, "round_lag": lags.to_dict(),
            "round_lag_max": lags.max, "round_sizes": sched.sizes[:ROUNDS_KEPT], "node_rounds": rounds_sent,
            "applied": rt.ctx.applied(**applied_facts(p, lag, [etas[j] for j in sorted(etas)]))}   # rounds in order


def worker(rt):
    from harness.plugins.algorithms.steps import Steps   # numba: the workers only

    wl, p, P = rt.wl, rt.params, rt.P
    node = rt.rank - 1
    sched = Schedule(p, P)
    local, rng = rt.local, rt.rng
    steps = Steps(wl)
    wk = rt.worker(wl.dim, wl.dim)
    rt.ready()
    kind = wk.exchange(HELLO)
    i = 0
    while kind != STOP:
        w = wk.payload.copy()                            # w^ = v^_k (the freshest model received)
        k_read = int(wk.aux)                             # the broadcast round index of v^_k
        rt.maybe_fail(wk.sent)
        t0 = time.perf_counter()
        s_ic, eta_i = sched.share(i, node), sched.eta(i)
        xi = local[rng.integers(0, len(local), size=s_ic)]
        start = w.copy()
        steps.sgd(w, xi, b=1, eta=eta_i)       # s_{i,c} steps w^ -= eta_bar_i grad f(w^; xi)
        U = (start - w) / eta_i                          # U = sum_h g_h (exact: the step is constant)
        rt.straggler.after_compute(time.perf_counter() - t0)
        kind = wk.exchange(ROUND, U, version=k_read, samples=s_ic, aux=i)
        i += 1
    rt.gather({"sent": wk.sent, "slept": rt.straggler.slept})
