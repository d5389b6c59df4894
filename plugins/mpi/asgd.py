"""ASGD with N learners and a parameter server (Downpour-style), Bhardwaj & Cong 2017, Sec. 4, eq. (6).

Each learner asynchronously repeats (Bhardwaj & Cong 2017, Sec. 4, VERBATIM gist):
  pull the parameters; compute the gradient of a random mini-batch of size M;
  push it; the server subtracts it times the learning rate (atomically):

    x_{k+1} = x_k - gamma * G(x_{k-tau}, z),   G = sum over the M samples            (6)

Here the step is taken on the mean gradient, eta = gamma * M (docs/derivations.md, minibatch, 'mean form'), so ``eta`` is
comparable across M. ``S`` fixes the total number of samples processed (the paper's
learner-count experiment: same S, more learners); the age tau is measured (theory: tau <= N).
"""

from __future__ import annotations

import time

import numpy as np

from .ps import HELLO, PARAMS, STOP, UPDATE


def server(rt):
    wl, p = rt.wl, rt.params
    d, eta, S = wl.dim, p["eta"], p["S"]
    ps = rt.server(d, d)
    x = np.zeros(d)
    rt.ready()
    rt.observe(ps, x, force=True)
    deferred: set[int] = set()
    while rt.mon.status is None:
        msg = ps.next()                                  # a learner pushes G(x_{k-tau}, z)
        if msg.kind == HELLO:                            # a learner joins: it pulls x_0
            ps.reply(msg.source, PARAMS, x)
            continue
        ps.record_delay(msg)                             # age tau = k - (k - tau)
        x -= eta * msg.payload                           # (6) x_{k+1} = x_k - gamma G (mean form)
        ps.version += 1
        going = rt.observe(ps, x)
        if going and S and ps.samples >= S:              # the fixed sample budget S is spent
            if rt.mon.points[-1]["updates"] != ps.version:
                rt.observe(ps, x, force=True)
            rt.mon.stop("budget", f"S = {S} samples processed")
            going = False
        if not going:
            deferred.add(msg.source)
            break
        ps.reply(msg.source, PARAMS, x)                  # the learner pulls the new x
    dropped = ps.shutdown(deferred)
    facts = rt.gather(None)
    return {**rt.ps_info(ps, dropped, facts), "learners": rt.P, "M": p["M"], "S": S,
            "applied": rt.ctx.applied(eta=eta, b=rt.worker_applied(facts, "M"))}   # the learners' mini-batch M is b


def worker(rt):
    wl, p = rt.wl, rt.params
    M, local, rng = p["M"], rt.local, rt.rng
    wk = rt.worker(wl.dim, wl.dim)
    rt.ready()
    kind = wk.exchange(HELLO)
    while kind != STOP:
        x, version = wk.payload, wk.version             # pull
        rt.maybe_fail(wk.sent)
        t0 = time.perf_counter()
        batch = local[rng.integers(0, len(local), size=M)]   # M samples, i.i.d. with replacement
        g = wl.batch_gradient(x, batch)                  # compute (mean over the mini-batch)
        rt.straggler.after_compute(time.perf_counter() - t0)
        kind = wk.exchange(UPDATE, g, version=version, samples=M)   # push
    rt.gather({"sent": wk.sent, "slept": rt.straggler.slept, "M": M})   # M: the mini-batch this learner drew
