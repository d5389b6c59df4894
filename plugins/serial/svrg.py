"""Mini-batch SVRG: AsySVRG's Algorithm 1 (Huo & Huang 2017, Sec. 3; Huo 2020 (thesis), Sec. 2.3) with a single worker.

    for t = 0, 1, ...:                                   (outer iterations, "epochs")
        u_0 = w_t;  mu = grad f(u_0) = (1/n) sum_i grad f_i(w_t)        (full gradient)
        for m' = 0 .. m-1:
            pick B_m' of size b uniformly
            v = (1/b) sum_{i in B} [grad f_i(u_m') - grad f_i(u_0)] + mu
            u_{m'+1} = u_m' - eta v
        w_{t+1} = u_m                                    (last inner iterate)

Optional SGD warm start (thesis Sec. 2.5: "SGD->SVRG"): ``warm_epochs`` passes of plain SGD first.
Updates counted: inner steps (and warm-start SGD steps); samples: n per full gradient, 2b per
inner step, b per SGD step.
"""

from __future__ import annotations

import numpy as np

from harness.plugins.algorithms.draws import IndexDraws
from harness.plugins.algorithms.steps import Steps
from harness.plugins.algorithms.svrg import derived, sgd_warm_start


def run(ctx):
    wl, p, mon = ctx.workload, ctx.params, ctx.monitor
    n, b, eta = wl.n, p["b"], p["eta"]
    m = derived(p, wl)["m"]
    ctx.applied(eta=eta, b=b, m=m, warm_epochs=p["warm_epochs"])
    steps = Steps(wl)
    draws = IndexDraws(ctx.rng, n)                      # B_t, drawn a block ahead (the same stream)
    mon.rewarm(lambda: steps.rewarm("svrg"))            # after each evaluation, off the clock (Monitor.rewarm)
    w = np.zeros(wl.dim)
    mon.tick(0, w, samples=0)

    # SGD -> SVRG: warm start with plain SGD (constant step)
    def sgd(k, t):
        steps.sgd(w, draws.take(k * b), b=b, schedule=0, eta=p["warm_eta"] or eta, t_start=t)

    t, samples = sgd_warm_start(mon, w, n=n, b=b, epochs=p["warm_epochs"], sgd=sgd)

    while mon.running:
        u0 = w.copy()                                   # u_0 = w_t
        snap = steps.snapshot(u0)                       # mu = grad f(u_0)
        samples += n
        mon.count(t, samples)                           # its n samples, before the chunk is sized
        inner = 0
        while inner < m and mon.running:
            k = min(mon.next_chunk(t, samples_per_update=2 * b), m - inner)
            idx = draws.take(k * b)
            steps.svrg_inner(w, u0, snap, idx, b=b, eta=eta)  # u <- u - eta v, k times
            inner += k
            t += k
            samples += 2 * k * b
            mon.tick(t, w, samples=samples)
        # w_{t+1} = u_m: the inner loop updated w in place
