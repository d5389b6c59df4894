"""Which unexplained updates the trajectory audit (harness.run.trajectory) counts against a run: all
but those that may have read (or, for SVRG, taken their snapshot) before the iterates that were kept,
within the delays and inner loop the run shows or reports. Excusing every miss before a window's
first explained update let a plugin that behaves on a few late updates of each window be audited."""

from __future__ import annotations

import numpy as np

from harness._core.registry import build_workload
from harness.run.trajectory import audit

WL = build_workload("ridge", {"n": 120, "d": 8})


def stretches(first: int, length: int, gap: int, count: int) -> list[range]:
    """``count`` runs of ``length`` observed steps: the first from update ``first``, each next one
    ``gap`` updates (unkept) after the last."""
    out, s = [], first
    for _ in range(count):
        out.append(range(s, s + length))
        s += length + gap
    return out


def observed(W: list[np.ndarray], runs: list[range]) -> tuple[np.ndarray, np.ndarray]:
    """(updates, iterates) kept: each run's iterates before and after each of its steps."""
    ups = sorted({u for r in runs for u in (*r, r[-1] + 1)})
    return np.array(ups), np.array([W[u] for u in ups])


def sgd_run(runs, honest, stale=lambda t: 0, eta=0.05, b=1, seed=0):
    """SGD on WL (b samples a step), a step of another form (a random direction, the size of a gradient step) where
    ``honest(t)`` is False."""
    rng = np.random.default_rng(seed)
    T = runs[-1][-1] + 1
    W = [np.zeros(WL.dim)]
    for t in range(T):
        g = WL.batch_gradient(W[max(t - stale(t), 0)], rng.integers(0, WL.n, size=b))
        if not honest(t):
            v = rng.standard_normal(WL.dim)
            g = v / np.linalg.norm(v) * np.linalg.norm(g)
        W.append(W[-1] - eta * g)
    return observed(W, runs)


def offset(runs, t) -> int | None:
    """Where update t falls in its stretch (None: not observed)."""
    return next((t - r[0] for r in runs if t in r), None)


def lies(runs, t, first: int, last: int) -> bool:
    """Whether update t is observed after the first stretch, at an offset in [first, last)."""
    o = offset(runs, t)
    return t > runs[0][-1] and o is not None and first <= o < last


def test_a_plugin_honest_only_late_in_each_window_is_not_audited():
    """Honest on the first stretch and on the last 2 of the 10 updates of each of 30 later ones (a
    random step elsewhere), with a serial plugin's reads (no delay). The misses before each
    stretch's first explained update used to be excused (it came out audited, 70 of the 310 updates
    tried explained); no read of a serial update precedes its own iterate, so they count."""
    runs = stretches(0, 10, 2, 31)
    a = audit(WL, *sgd_run(runs, lambda t: not lies(runs, t, 0, 8)), family="sgd", reported={"b": 1})
    assert a["status"] == "unaudited" and a.get("excused") == 0 and a["unexplained"] > a["explained"], a
    assert a["reason"].startswith(f"only {a['explained']} of the {a['tried']} observed updates tried and counted"), a["reason"]


def test_stale_reads_before_a_window_are_excused_within_the_delays_shown():
    """An honest asynchronous SGD (delays 0-3) observed in stretches with one unkept update between:
    the updates whose read is that update are unexplained and excused (the delay 3 the search finds
    bounds them); every other update is explained (b = 2: a read is told apart from its neighbours).
    One that lies on all but the last 2 updates of each later stretch has its lies from the fourth
    update of each stretch on counted (all were excused: audited on 38 of 192)."""
    runs = stretches(0, 16, 2, 12)
    stale = np.random.default_rng(1).integers(0, 4, size=runs[-1][-1] + 1).__getitem__
    a = audit(WL, *sgd_run(runs, lambda t: True, stale=stale, b=2), family="asgd")
    assert a["status"] == "audited" and a["unexplained"] == 0 and a["excused"] > 0, a
    assert a["explained"] + a["excused"] == a["tried"] == 16 * 12 and a["delay_max"] == 3, a
    b = audit(WL, *sgd_run(runs, lambda t: not lies(runs, t, 0, 14), stale=stale, b=2), family="asgd")
    assert b["status"] == "unaudited" and b["unexplained"] > b["explained"], b
    counted = b["explained"] + b["unexplained"]   # the reason names the excused ones beside the count
    assert b["excused"] > 0 and f"of the {counted} observed updates tried and counted" in b["reason"], b
    assert f"({b['excused']} more tried, which may have read an iterate from before their window" in b["reason"], b


def svrg_run(runs, honest_from=None, m=10, eta=0.02, seed=0):
    """SVRG b = 1 on WL, a snapshot every m updates; where ``honest_from`` is given, in each stretch
    after the first, random steps before that offset, where a new inner loop starts (its snapshot the
    iterate there)."""
    rng = np.random.default_rng(seed)
    T = runs[-1][-1] + 1
    W, u, mu, start = [np.zeros(WL.dim)], None, None, 0
    for t in range(T):
        o = offset(runs, t)
        if t - start == m or t == 0 or (honest_from is not None and t > runs[0][-1] and o == honest_from):
            u, mu, start = W[-1].copy(), WL.gradient(W[-1]), t
        i = rng.integers(0, WL.n, size=1)
        g = WL.batch_gradient(W[-1], i) - WL.batch_gradient(u, i) + mu
        if honest_from is not None and lies(runs, t, 0, honest_from):
            v = rng.standard_normal(WL.dim)
            g = v / np.linalg.norm(v) * np.linalg.norm(g)
        W.append(W[-1] - eta * g)
    return observed(W, runs)


def test_svrg_updates_whose_snapshot_precedes_the_window_are_excused_within_m():
    """An honest SVRG (m = 10) observed in stretches of 40 that start inside an inner loop: the
    updates before each stretch's first snapshot are excused (their snapshot was not kept). One
    that steps at random for the first 30 updates of each stretch and then runs one honest inner
    loop has its misses from the m-th update of the stretch on counted, and is not audited (all were
    excused: audited on 90 of 240)."""
    runs = stretches(0, 40, 7, 6)
    honest = audit(WL, *svrg_run(runs), family="svrg", reported={"m": 10})
    assert honest["status"] == "audited" and honest["unexplained"] == 0 and honest["inner_max"] == 10, honest
    assert honest["excused"] > 0 and honest["explained"] + honest["excused"] == honest["tried"] == 240, honest
    liar = audit(WL, *svrg_run(runs, honest_from=30), family="svrg", reported={"m": 10})
    assert liar["status"] == "unaudited" and liar["unexplained"] > liar["explained"], liar



# A plugin from outside the harness (harness.api only): SGD b = 1 on its first HONEST updates, random steps of a
# gradient step's size after them, every update reporting a measured delay of TAU (a serial loop: it reads its own
# iterate); the monitor's head (128 updates) and two later windows of 64 are what the audit sees.
LIAR = '''
import numpy as np

from harness.api import DelayStats, Param, PluginSpec

HONEST, TAU = 100, 64


def run(ctx):
    wl, mon = ctx.workload, ctx.monitor
    rng = np.random.default_rng(ctx.seed)
    stats = DelayStats()
    w = np.zeros(wl.dim)
    t = 0
    mon.tick(0, w, samples=0, delays=stats)
    while mon.running:
        k = mon.next_chunk(t)
        for _ in range(k):
            g = wl.batch_gradient(w, rng.integers(0, wl.n, size=1))
            if t >= HONEST:
                v = rng.standard_normal(wl.dim)
                g = v / np.linalg.norm(v) * np.linalg.norm(g)
            w = w - 0.05 * g
            t += 1
        stats.add(np.full(k, TAU))
        mon.tick(t, w, samples=t, delays=stats)


PLUGINS = [PluginSpec("liar-sgd", "asgd", "serial", "audit_liar:run", kinds=("finite-sum",), deterministic=True)]
'''


def test_a_plugin_reporting_a_delay_of_64_is_not_audited_on_its_first_100_updates(tmp_path, monkeypatch, store):
    """Through the runner: honest on updates 0-99 of the head, random steps from 100 on, a tau_max of 64
    reported. The runner passed that tau_max to the audit, which excused every miss of both later
    windows (64 updates each) and audited the run (100 explained, 28 unexplained, 128 excused); the
    misses count now and it is not."""
    import importlib
    import sys

    from harness._core.monitor import Budget
    from harness.run.runner import RunSpec, execute

    (tmp_path / "audit_liar.py").write_text(LIAR)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("HARNESS_EXTRA_PLUGINS", "audit_liar:PLUGINS")
    importlib.import_module("audit_liar")
    try:
        rec = execute(RunSpec("liar-sgd", "ridge", {}, {"n": 120, "d": 8}, 1, 0, Budget.parse("updates=2000")),
                      store, force=True)
    finally:
        sys.modules.pop("audit_liar", None)
    a = rec.info["audit"]
    assert rec.points[-1]["tau_max"] == 64 and len(a["windows"]) == 3, a
    assert a["status"] == "unaudited" and a["excused"] == 0 and a["explained"] == 100, a
    assert a["unexplained"] == a["tried"] - 100 > 100, a


def test_one_stale_read_in_the_head_excuses_no_more_misses_than_such_reads_make_likely():
    """The monitor's layout (a head of 128 updates from update 0, later windows of 64): one read 64
    updates stale at update 64 made the run's delay bound 64, which excused every miss of the later
    windows, all of whose reads are in reach of 64: a plugin honest on its first 100 updates and
    stepping at random after them came out audited (100 explained, 28 counted, 128 excused). One such
    delay among the head's 100 makes a few later reads unkept, not 128: the rest count. An honest run
    with that delay and others of 0-3 keeps its excuses, within what its head's delays allow."""
    runs = [range(0, 128), range(1000, 1064), range(5000, 5064)]
    small = np.random.default_rng(2).integers(0, 4, size=runs[-1][-1] + 1)

    def stale(t):
        return 64 if t == 64 else int(small[t])

    liar = audit(WL, *sgd_run(runs, lambda t: t < 100, stale=stale), family="asgd")
    ex = liar["excuse"]
    assert liar["status"] == "unaudited" and liar["unexplained"] > liar["explained"] == 100, liar
    assert ex["sample"] == 100 and ex["by_delay"] == 128 and ex["counted"] == 128 - ex["allowed"] > 90, ex
    assert liar["excused"] == ex["allowed"] and liar["unexplained"] == 28 + ex["counted"], liar
    assert (f"{ex['counted']} of those counted may have read before their window too, but the delays of the updates "
            f"whose reads were all kept make only {ex['allowed']} such misses likely") in liar["reason"], liar["reason"]
    honest = audit(WL, *sgd_run(runs, lambda t: True, stale=stale), family="asgd")
    assert honest["status"] == "audited" and honest["unexplained"] == 0 and honest["delay_max"] == 64, honest
    assert 0 < honest["excused"] == honest["excuse"]["by_delay"] <= honest["excuse"]["allowed"], honest
    assert honest["excuse"]["counted"] == 0 and honest["explained"] + honest["excused"] == honest["tried"] == 256


def test_an_asynchronous_svrgs_misses_before_its_windows_first_snapshot_are_not_capped_by_its_delays():
    """An honest asynchronous SVRG (m = 60, delays 0 but for 3% of 20, a read never before its inner
    loop's snapshot) observed in the monitor's layout: each later window starts inside an inner loop,
    so its updates before the first snapshot found are misses, excused by that unkept snapshot. Those
    within the largest delay of the window's start were also taken as excused by the delays, and the
    head's delays (nearly all 0) make few such reads likely: 48 of them counted against the honest run."""
    runs = [range(0, 128)] + [range(1000 + 337 * i, 1064 + 337 * i) for i in range(4)]
    T, m = runs[-1][-1] + 1, 60
    rng = np.random.default_rng(0)
    stale = np.where(rng.random(T) < 0.03, 20, 0)
    W, u, mu = [np.zeros(WL.dim)], None, None
    for t in range(T):
        if t % m == 0:
            u, mu = W[-1].copy(), WL.gradient(W[-1])
        r = max(t - int(stale[t]), t - t % m)
        i = rng.integers(0, WL.n, size=1)
        W.append(W[-1] - 0.02 * (WL.batch_gradient(W[r], i) - WL.batch_gradient(u, i) + mu))
    a = audit(WL, *observed(W, runs), family="svrg", reported={"m": m, "b": 1})
    assert a["status"] == "audited" and a["delay_max"] == 20 and a["inner_max"] == m, a
    assert a["unexplained"] == 0 and a["excused"] > 40 and a["explained"] + a["excused"] == a["tried"] == 384, a


def test_the_first_window_alone_cannot_carry_the_run():
    """Honest on exactly the head (128 updates from update 0) and stepping at random on every update of the
    two later windows: 128 of 256 explained made the 50% cover on a tie, and the run was audited. The later
    windows must be covered on their own too; an honest run's are."""
    runs = [range(0, 128), range(1000, 1064), range(5000, 5064)]
    liar = audit(WL, *sgd_run(runs, lambda t: t < 128), family="sgd", reported={"b": 1})
    assert liar["status"] == "unaudited" and liar["explained"] == 128 and liar["unexplained"] == 128, liar
    assert liar["reason"].startswith("the observed updates after the first window are not gradient steps of the SGD "
                                     "or SVRG form: only 0 of the 128 tried and counted there are"), liar["reason"]
    honest = audit(WL, *sgd_run(runs, lambda t: True), family="sgd", reported={"b": 1})
    assert honest["status"] == "audited" and honest["explained"] == 256, honest


def test_in_two_dimensions_a_batch_search_that_would_match_by_chance_is_not_made():
    """Per-sample gradients of rank 2: the sums of 2 or 3 of n = 300 samples put one within the tolerance
    of most random steps (the cap is TOL / pi of the circle): random steps after 5 honest updates were
    explained as batches of 3 or 4 (audited, 10 of 12). Those searches are not made where the expected
    chance matches exceed 1e-3, and the reason says so; b = 1 (300 candidates) still is, and an honest
    b = 1 run there is audited."""
    wl = build_workload("logreg", {"n": 300, "d": 2, "cond": 10.0, "lam": 1e-2})

    def run(b, honest_for):
        rng = np.random.default_rng(0)
        W = [np.zeros(wl.dim)]
        for t in range(40):
            g = wl.batch_gradient(W[-1], rng.integers(0, wl.n, size=b))
            if t >= honest_for:
                v = rng.standard_normal(wl.dim)
                g = v / np.linalg.norm(v) * np.linalg.norm(g)
            W.append(W[-1] - 0.05 * g)
        return audit(wl, np.arange(41), np.array(W), family="sgd", reported={"b": b}, run_updates=40)

    liar = run(3, 5)
    assert liar["status"] == "unaudited" and liar["explained"] <= 5, liar
    assert "b = 3" in liar["reason"] and "the per-sample gradients span 2 dimensions" in liar["reason"], liar["reason"]
    assert "a match would be chance" in liar["reason"]
    honest = run(1, 40)
    assert honest["status"] == "audited" and honest["explained"] == 40 and honest["batches"] == {"1": 40}, honest


def test_data_in_a_plane_of_100_dimensions_is_judged_in_the_plane():
    """Rows in a 2-D subspace of R^100: a liar's random steps in that plane are as easy to match by chance as
    in 2 dimensions, whatever d is; the span is measured (the Gram matrix's rank), not taken to be d."""
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.standard_normal((100, 2)))[0]

    class Plane:     # ridge on rows in a plane
        n, dim, lam = 300, 100, 1e-3
        X = rng.standard_normal((300, 2)) @ basis.T
        y = rng.standard_normal(300)

        def per_sample_gradients(self, w):
            return (self.X @ w - self.y)[:, None] * self.X + self.lam * w

        def batch_gradient(self, w, idx):
            return self.per_sample_gradients(w)[idx].mean(axis=0)

    wl, W = Plane(), [np.zeros(100)]
    for t in range(40):
        g = wl.batch_gradient(W[-1], rng.integers(0, wl.n, 3))
        if t >= 5:
            v = basis @ rng.standard_normal(2)
            g = v / np.linalg.norm(v) * np.linalg.norm(g)
        W.append(W[-1] - 0.05 * g)
    a = audit(wl, np.arange(41), np.array(W), family="sgd", reported={"b": 3})
    assert a["status"] == "unaudited" and "the per-sample gradients span 2 dimensions" in a["reason"], a
