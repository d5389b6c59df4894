import numpy as np
from harness.api import DelayStats


def _async(ctx, extra):
    wl, p, mon, P = ctx.workload, ctx.params, ctx.monitor, ctx.workers
    ctx.applied(eta=p["eta"], b=p["b"])
    w, t, rng = np.zeros(wl.dim), 0, ctx.rng
    hist = [w.copy()]
    d = DelayStats()
    mon.tick(0, w, samples=0, delays=d)
    while mon.running:
        k = mon.next_chunk(t)
        for _ in range(k):
            tau = min(P - 1, t)
            read = hist[max(t - tau - extra, 0)]
            w = w - p["eta"] * wl.batch_gradient(read, rng.integers(0, wl.n, size=p["b"]))
            hist.append(w.copy()); d.add_one(tau); t += 1
        mon.tick(t, w, samples=t * p["b"], delays=d)


def stale(ctx):
    _async(ctx, 0 if ctx.workload.name == "probe" else 20)


def stale_always(ctx):
    _async(ctx, 20)


def step3(ctx):
    wl, p, mon = ctx.workload, ctx.params, ctx.monitor
    c = 1.0 if wl.name == "probe" else 3.0
    ctx.applied(eta=p["eta"], b=p["b"])
    w, t, rng = np.zeros(wl.dim), 0, ctx.rng
    mon.tick(0, w, samples=0)
    while mon.running:
        k = mon.next_chunk(t)
        for _ in range(k):
            w -= c * p["eta"] * wl.batch_gradient(w, rng.integers(0, wl.n, size=p["b"]))
        t += k
        mon.tick(t, w, samples=t * p["b"])


def _svrg_10m(ctx, honest_samples: bool, **applied):
    """SVRG that reports its inner-loop length m (and ``applied``) but runs 10 x m; the samples it ticks
    are honest, or those the *reported* m implies (n per snapshot, 2b per inner step)."""
    wl, p, mon = ctx.workload, ctx.params, ctx.monitor
    n, b, eta, m = wl.n, p["b"], p["eta"], p["m"]
    ctx.applied(eta=eta, b=b, m=m, **applied)
    w, t, s, rng = np.zeros(wl.dim), 0, 0, ctx.rng
    mon.tick(0, w, samples=0)
    while mon.running:
        u0, mu = w.copy(), wl.gradient(w)
        s += n
        inner = 0
        while inner < 10 * m and mon.running:
            k = min(mon.next_chunk(t), 10 * m - inner)
            for _ in range(k):
                B = rng.integers(0, n, size=b)
                w -= eta * (wl.batch_gradient(w, B) - wl.batch_gradient(u0, B) + mu)
            inner, t, s = inner + k, t + k, s + 2 * k * b
            mon.tick(t, w, samples=s if honest_samples else n * -(-t // m) + 2 * b * t)


def svrg(ctx):
    """Runs 10 x m and ticks the samples of the reported m: the run's own accounting agrees with the lie."""
    _svrg_10m(ctx, honest_samples=False)


def types(ctx):
    wl, p, mon = ctx.workload, ctx.params, ctx.monitor
    how = p["how"]
    ret = None
    if how == "bool":
        ctx.applied(eta=True, b=True)
    elif how == "list":
        ctx.applied(eta=[p["eta"]], b=[p["b"]])
    elif how == "nan":
        ctx.applied(eta=float("nan"), b=p["b"])
    elif how == "inf":
        ctx.applied(eta=float("inf"), b=p["b"])
    elif how == "info":
        ctx.info["applied"] = {"eta": p["eta"], "b": p["b"]}
    elif how == "ret":
        ret = {"applied": {"eta": p["eta"], "b": p["b"]}}
    elif how == "none":
        ctx.applied(eta=None, b=None)
    elif how == "extra":
        ctx.applied(eta=p["eta"], b=p["b"], zzz="whatever", schedule="constant")
    w, t, rng = np.zeros(wl.dim), 0, ctx.rng
    mon.tick(0, w, samples=0)
    while mon.running:
        k = mon.next_chunk(t)
        for _ in range(k):
            w -= 3 * p["eta"] * wl.batch_gradient(w, rng.integers(0, wl.n, size=p["b"]))
        t += k
        mon.tick(t, w, samples=t * p["b"])
    return ret


def _sgd_loop(ctx, step, batch=None, dtype=float):
    """Serial SGD reporting eta and b; ``step(t, k)`` the factor on eta applied at update t in a chunk
    of k updates, ``batch(t)`` the batch size drawn at update t (default b)."""
    wl, p, mon = ctx.workload, ctx.params, ctx.monitor
    ctx.applied(eta=p["eta"], b=p["b"])
    w, t, rng = np.zeros(wl.dim, dtype=dtype), 0, ctx.rng
    mon.tick(0, w, samples=0)
    while mon.running:
        k = mon.next_chunk(t)
        for _ in range(k):
            bt = p["b"] if batch is None else batch(t)
            g = wl.batch_gradient(w.astype(float), rng.integers(0, wl.n, size=bt))
            w = (w - step(t, k) * p["eta"] * g).astype(dtype)
            t += 1
        mon.tick(t, w, samples=t * p["b"])


def step3_sometimes(ctx):
    """3 eta on every third update (a minority: the median step is the reported one)."""
    _sgd_loop(ctx, lambda t, k: 3.0 if t % 3 == 0 else 1.0)


def step3_late(ctx):
    """3 eta on the last 15% of its update budget, honest before (a bug that starts late)."""
    mon, end = ctx.monitor, []

    def step(t, k):
        if not end:
            end.append(t + (mon.remaining(t) or 0))
        return 3.0 if t >= 0.85 * end[0] else 1.0
    _sgd_loop(ctx, step)


def step3_unobserved(ctx):
    """3 eta whenever its chunk is longer than one update: honest exactly while observed."""
    _sgd_loop(ctx, lambda t, k: 1.0 if k == 1 else 3.0)


def b1_after_8(ctx):
    """Reports b and draws b samples for its first 8 updates, then one sample per update."""
    _sgd_loop(ctx, lambda t, k: 1.0, batch=lambda t: ctx.params["b"] if t < 8 else 1)


def sgd_as_svrg(ctx):
    """Declared an SVRG (reports eta, b, m) but runs plain SGD at 3 eta."""
    wl, p, mon = ctx.workload, ctx.params, ctx.monitor
    ctx.applied(eta=p["eta"], b=p["b"], m=p["m"])
    w, t, rng = np.zeros(wl.dim), 0, ctx.rng
    mon.tick(0, w, samples=0)
    while mon.running:
        k = mon.next_chunk(t)
        for _ in range(k):
            w = w - 3 * p["eta"] * wl.batch_gradient(w, rng.integers(0, wl.n, size=p["b"]))
            t += 1
        mon.tick(t, w, samples=wl.n * -(-t // p["m"]) + 2 * p["b"] * t)


def heavy_ball(ctx):
    """Momentum 0.9 on SGD's step, linked to SGD's lemma through ``covers``."""
    wl, p, mon = ctx.workload, ctx.params, ctx.monitor
    ctx.applied(eta=p["eta"], b=p["b"])
    w, v, t, rng = np.zeros(wl.dim), np.zeros(wl.dim), 0, ctx.rng
    mon.tick(0, w, samples=0)
    while mon.running:
        k = mon.next_chunk(t)
        for _ in range(k):
            v = 0.9 * v - p["eta"] * wl.batch_gradient(w, rng.integers(0, wl.n, size=p["b"]))
            w = w + v
        t += k
        mon.tick(t, w, samples=t * p["b"])


def svrg_warm(ctx):
    """Runs 10 x m with honest samples, and adds warm_epochs=1 to ctx.applied (the accounting audit
    once skipped any run that reported warm_epochs)."""
    _svrg_10m(ctx, honest_samples=True, warm_epochs=1)
