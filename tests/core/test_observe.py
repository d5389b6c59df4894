"""The monitor's observation windows (harness._core.observe): one update per chunk inside them, the
iterates kept there, windows drawn from the run's seed, a cap on what is kept."""

import numpy as np
import pytest

from harness._core.monitor import Budget, Monitor, Schedule, Target
from harness._core.observe import Observer


def _run(observer, updates=2000, d=3, iterate=None):
    mon = Monitor(lambda w: {"objective": 0.0}, budget=Budget(updates=updates), observer=observer,
                  schedule=Schedule(ratio=1.5, max_interval_s=None, eval_fraction=None))
    w, t, chunks = np.zeros(d), 0, []
    mon.tick(0, w if iterate is None else iterate)
    while mon.running:
        k = mon.next_chunk(t)
        chunks.append((t, k))
        w = w + k
        t += k
        mon.tick(t, w if iterate is None else iterate)
    return mon, chunks


def test_chunks_are_one_update_inside_each_window_and_the_iterates_there_are_kept():
    obs = Observer(seed=3)
    mon, chunks = _run(obs)
    assert obs.windows[0] == (0, 128) and len(obs.windows) == 3
    for start, end in obs.windows:
        inside = [k for t, k in chunks if start <= t < end]
        assert inside and set(inside) == {1}, (start, end)
        assert any(t == start for t, _ in chunks)            # a chunk ends where a window starts
    ups, its = obs.trajectory()
    assert list(ups[:129]) == list(range(129))               # the head, its end included
    assert its.shape == (len(ups), 3) and np.all(its[:, 0] == ups)   # copies of what was ticked, not views
    assert mon.status == "budget" and max(k for _, k in chunks) > 1  # outside the windows chunks grow


def test_windows_follow_the_seed_and_stay_inside_the_budget():
    a, b, c = Observer(seed=1), Observer(seed=1), Observer(seed=2)
    for o in (a, b, c):
        o.plan(5000)
    assert a.windows == b.windows and a.windows != c.windows
    assert all(end <= 5000 for _, end in a.windows)
    short = Observer(seed=1)
    short.plan(100)                                          # a run shorter than the head: the head only
    assert short.windows == [(0, 128)]


def test_what_is_kept_is_capped_and_a_non_vector_iterate_is_said():
    obs = Observer(seed=0, max_floats=50)
    _run(obs, d=10)
    assert len(obs.iterates) == 5 and "kept up to" in obs.dropped
    odd = Observer(seed=0)
    _run(odd, iterate=[1.0, 2.0])
    assert not odd.iterates and "not a 1-D float numpy vector" in odd.dropped


# -- the windows' own cost, off the clock (Monitor.settle) ---------------------------------------------
class _Clock:
    """Time that passes only where the test says: the plugin's work and the evaluation."""

    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def _timed_run(updates, *, per_update=1.0, per_chunk=5.0, eval_s=1000.0, target=None, values=None):
    """A plugin whose chunk of k updates takes ``k * per_update + per_chunk`` seconds (its batch
    draw and kernel entry), under a monitor with observation windows; the evaluation takes
    ``eval_s`` (off the clock). Returns the monitor and the chunks (start, k)."""
    clock, cpu = _Clock(), _Clock()

    def evaluate(w):
        clock.t += eval_s
        v = float(w[0]) if values is None else values(w)
        return {"objective": v, "subopt": v}

    mon = Monitor(evaluate, budget=Budget(updates=updates), observer=Observer(seed=7), clock=clock,
                  cpu_clock=cpu, target=target or Target(),
                  schedule=Schedule(ratio=1.3, max_interval_s=None, eval_fraction=None))
    w, t, chunks = np.zeros(2), 0, []
    mon.tick(0, w)
    while mon.running:
        k = mon.next_chunk(t)
        chunks.append((t, k))
        spent = k * per_update + per_chunk
        clock.t += spent
        cpu.t += spent
        w = w + k
        t += k
        mon.tick(t, w)
    return mon, chunks


def _expected(chunks, obs, per_update, per_chunk):
    observed = [(t, k) for t, k in chunks if obs.observed(t, t + k)]
    plain = [(t, k) for t, k in chunks if not obs.observed(t, t + k)]
    spent = sum(k * per_update + per_chunk for _, k in plain)
    rate = spent / sum(k for _, k in plain)
    actual = sum(k * per_update + per_chunk for _, k in observed)
    return len(observed), actual, rate, spent


def test_observed_chunks_are_charged_at_the_runs_unobserved_rate_and_nothing_else_moves():
    mon, chunks = _timed_run(20_000)
    n_obs, actual, rate, spent = _expected(chunks, mon.observer, 1.0, 5.0)
    assert n_obs == 256                                          # the head and two windows of 64
    assert mon.observed_updates == 256 and mon.observed_s == pytest.approx(actual)
    assert mon.charge["charged_s"] == pytest.approx(rate * 256, rel=1e-6) and rate * 256 < actual
    assert mon.charge["unobserved_updates"] == 20_000 - 256
    assert mon.points[-1]["time_s"] == pytest.approx(spent + rate * 256)   # every unobserved second kept
    times = [p["time_s"] for p in mon.points]
    assert times == sorted(times) and times[0] == 0.0
    # the actual clock, for each point: what it would have said without the charge, never less
    for p, (act, a, o) in zip(mon.points, mon._actual):
        assert p["time_s"] <= act + 1e-9 and p["time_s"] == pytest.approx(act - a + min(a, rate * o))
    assert mon.eval_seconds == 1000.0 * len(mon.points)         # evaluation stays off the clock as before


def test_settling_changes_only_time_and_is_the_same_twice():
    a, chunks_a = _timed_run(5000)
    b, chunks_b = _timed_run(5000, per_chunk=50.0)   # a slower plugin: other times, the same curve
    assert chunks_a == chunks_b
    strip = lambda pts: [{k: v for k, v in p.items() if k != "time_s"} for p in pts]   # noqa: E731
    assert strip(a.points) == strip(b.points)
    before = [p["time_s"] for p in a.points]
    a.settle()
    assert [p["time_s"] for p in a.points] == before             # idempotent


def test_a_run_that_is_all_observed_keeps_its_actual_time():
    mon, chunks = _timed_run(100)                               # shorter than the head
    assert all(k == 1 for _, k in chunks) and mon.observed_updates == 100
    assert mon.points[-1]["time_s"] == pytest.approx(100 * 6.0)   # each update's chunk, as it took
    assert mon.charge["rate_s_per_update"] is None and mon.charge["charged_s"] == pytest.approx(600.0)


def test_a_charge_never_exceeds_what_the_observed_chunks_took():
    # a plugin whose big chunks are slow per update (no per-chunk cost, 10 s per update) and whose
    # one-update chunks are cheap: the observed updates keep their actual (smaller) time
    clock = _Clock()
    mon = Monitor(lambda w: {"objective": 0.0}, budget=Budget(updates=2000), observer=Observer(seed=1),
                  clock=clock, schedule=Schedule(ratio=1.3, max_interval_s=None, eval_fraction=None))
    t = 0
    mon.tick(0, np.zeros(2))
    while mon.running:
        k = mon.next_chunk(t)
        clock.t += 0.5 if k == 1 else 10.0 * k
        t += k
        mon.tick(t, np.full(2, float(t)))
    assert mon.charge["charged_s"] == pytest.approx(mon.observed_s)
    assert mon.points[-1]["time_s"] == pytest.approx(clock.t)


def test_cpu_to_target_is_charged_the_same_way():
    target = Target("subopt", 5000.0)
    mon, chunks = _timed_run(20_000, target=target, values=lambda w: 20_000.0 - w[0])
    assert mon.status == "target" and mon.points[-1]["updates"] < 20_000
    reached = mon.points[-1]["updates"]
    n_obs, actual, rate, spent = _expected([(t, k) for t, k in chunks if t + k <= reached], mon.observer, 1.0, 5.0)
    assert mon.cpu_to_target == pytest.approx(spent + min(actual, rate * n_obs))
    assert mon.cpu_to_target == pytest.approx(mon.points[-1]["time_s"])   # the fake CPU clock runs with the wall one


def test_a_run_records_what_its_windows_took_and_what_its_time_charges_for_them():
    from harness.run.runner import RunSpec, execute

    rec = execute(RunSpec("sgd-serial", "ridge", {"eta": 0.05, "b": 1}, {"n": 200, "d": 10}, seed=0,
                          budget=Budget(updates=3000)))
    clock = rec.info["audit"]["clock"]
    assert rec.info["audit"]["status"] == "audited" and clock["observed_updates"] == 256
    assert clock["unobserved_updates"] == 3000 - 256 and clock["rate_s_per_update"] > 0
    assert 0 < clock["charged_s"] <= clock["observed_s"]
    times = [p["time_s"] for p in rec.points]
    assert times == sorted(times) and times[-1] <= rec.wall_s


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_whatever_the_chunks_cost_every_unobserved_second_stays_and_no_point_gains_time(seed):
    """Chunks of random cost (an update costing anything from 0 to 3 s, a chunk 0 to 20 s more): each
    point's time lies between its unobserved seconds and its actual time, and the times stay monotone."""
    rng = np.random.default_rng(seed)
    clock = _Clock()
    mon = Monitor(lambda w: {"objective": 0.0}, budget=Budget(updates=3000), observer=Observer(seed=seed),
                  clock=clock, schedule=Schedule(ratio=1.2, max_interval_s=None, eval_fraction=None))
    t, plain_before = 0, {0: 0.0}
    plain = 0.0
    mon.tick(0, np.zeros(2))
    while mon.running:
        k = mon.next_chunk(t)
        spent = float(rng.uniform(0, 3) * k + rng.uniform(0, 20))
        clock.t += spent
        if not mon.observer.observed(t, t + k):
            plain += spent
        t += k
        plain_before[t] = plain
        mon.tick(t, np.full(2, float(t)))
    times = [p["time_s"] for p in mon.points]
    assert times == sorted(times) and mon.observed_updates == 256
    for p, (actual, _, _) in zip(mon.points, mon._actual):
        assert plain_before[p["updates"]] - 1e-9 <= p["time_s"] <= actual + 1e-9
