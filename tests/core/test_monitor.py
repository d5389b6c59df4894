import numpy as np
import pytest

from harness._core.errors import UserError
from harness._core.monitor import Budget, Monitor, Schedule, Target
from harness._core.staleness import DelayStats


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def _quadratic_eval(w):
    return {"objective": float(w @ w), "subopt": float(w @ w)}


def test_geometric_schedule_and_budget():
    mon = Monitor(_quadratic_eval, budget=Budget(updates=1000), schedule=Schedule(ratio=2.0, max_interval_s=None))
    w = np.ones(3)
    t = 0
    mon.tick(0, w)
    chunks = []
    while mon.running:
        k = mon.next_chunk(t)
        chunks.append(k)
        t += k
        mon.tick(t, w)
    ups = [p["updates"] for p in mon.points]
    assert ups == [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000]
    assert mon.status == "budget" and t == 1000


def test_clock_is_paused_during_evaluation():
    clock = FakeClock()

    def slow_eval(w):
        clock.t += 10.0  # evaluation takes 10 s of wall time
        return {"objective": 1.0}

    mon = Monitor(slow_eval, clock=clock, schedule=Schedule(ratio=2.0, max_interval_s=None, eval_fraction=None))
    mon.start()
    for u in (0, 1, 2, 4):
        clock.t += 1.0  # 1 s of algorithm work per chunk
        mon.tick(u, np.zeros(1))
    assert [p["time_s"] for p in mon.points] == [1.0, 2.0, 3.0, 4.0]
    assert mon.eval_seconds == 40.0


def test_wall_clock_floor_forces_points():
    clock = FakeClock()
    mon = Monitor(lambda w: {"objective": 1.0}, clock=clock, schedule=Schedule(ratio=1000.0, max_interval_s=5.0))
    mon.start()
    mon.tick(0, np.zeros(1))
    for u in range(1, 50):
        clock.t += 1.0
        mon.tick(u, np.zeros(1))
    times = [p["time_s"] for p in mon.points]
    assert len(times) >= 10 and max(np.diff(times)) <= 5.0
    det = Monitor(lambda w: {"objective": 1.0}, clock=clock, deterministic=True,
                  schedule=Schedule(ratio=1000.0, max_interval_s=5.0))
    assert det.schedule.max_interval_s is None


def _slow_run(eval_fraction, eval_s=4.0, update_s=1.0, updates=400):
    """A run whose evaluation costs ``eval_s`` and each update ``update_s`` (a fake clock): the
    monitor, and how many chunks it asked for."""
    clock = FakeClock()

    def slow_eval(w):
        clock.t += eval_s
        return {"objective": 1.0}

    mon = Monitor(slow_eval, clock=clock, budget=Budget(updates=updates),
                  schedule=Schedule(ratio=1.3, max_interval_s=5.0, eval_fraction=eval_fraction, eval_grace_s=0.0))
    t, chunks = 0, 0
    mon.tick(0, np.zeros(1))
    while mon.running:
        k = mon.next_chunk(t)
        clock.t += update_s * k
        t += k
        chunks += 1
        mon.tick(t, np.zeros(1))
    assert mon.status == "budget" and t == updates
    return mon, chunks


def test_evaluation_budget_postpones_points():
    """Evaluating costs 4 s, an update 1 s: the floor (5 s) and the geometric schedule would evaluate
    about as long as they train; the budget (a quarter of the measured time) postpones points so
    that, up to the last point (the budget's end, always taken), evaluation stays within it, in few
    chunks; a deterministic run has no budget (its points depend on updates only)."""
    mon, chunks = _slow_run(0.25)
    measured = mon.points[-1]["time_s"]
    assert measured == 400.0 and mon.eval_seconds <= 0.25 * measured + 4.0 and len(mon.points) >= 15
    budget = [p["time_s"] * 0.25 for p in mon.points[1:-1]]     # each point within it, counting its own cost
    assert all(4.0 * (i + 2) <= b + 1e-9 for i, b in enumerate(budget)), budget
    assert chunks <= 400 / 5 + len(mon.points) + 2             # no tick per update while postponing: a floor's worth
    free, _ = _slow_run(None)
    assert free.eval_seconds > 0.6 * measured and len(free.points) > 2 * len(mon.points)
    det = Monitor(lambda w: {}, deterministic=True, schedule=Schedule(eval_fraction=0.25))
    assert det.schedule.eval_fraction is None


def test_deterministic_run_under_a_seconds_budget_keeps_the_evaluation_budget():
    """Under a seconds budget how far a run gets depends on the clock anyway, so a deterministic
    plugin gets the wall-clock rules too: evaluating (4 s) stays within a quarter of the measured time
    (+ the last point) instead of the update schedule's ~1 point per 1.3x updates."""
    def run(deterministic, budget):
        clock = FakeClock()

        def slow_eval(w):
            clock.t += 4.0
            return {"objective": 1.0}

        mon = Monitor(slow_eval, clock=clock, budget=budget, deterministic=deterministic,
                      schedule=Schedule(ratio=1.3, max_interval_s=5.0, eval_fraction=0.25, eval_grace_s=0.0))
        t = 0
        mon.tick(0, np.zeros(1))
        while mon.running:
            k = mon.next_chunk(t)
            clock.t += 1.0 * k
            t += k
            mon.tick(t, np.zeros(1))
        return mon

    timed = run(True, Budget(seconds=200))
    assert timed.schedule.eval_fraction == 0.25 and timed.schedule.max_interval_s == 5.0
    measured = timed.points[-1]["time_s"]
    assert measured >= 200 and timed.eval_seconds <= 0.25 * measured + 4.0
    counted = run(True, Budget(updates=200))
    assert counted.schedule.eval_fraction is None and counted.schedule.max_interval_s is None
    assert counted.eval_seconds > 0.3 * 200                       # the update schedule alone: 19 points, 76 s
    assert [p["updates"] for p in counted.points] == [p["updates"] for p in run(True, Budget(updates=200)).points]


def test_target_epochs_and_seconds():
    mon = Monitor(_quadratic_eval, target=Target("subopt", 0.5))
    mon.tick(0, np.ones(1))
    mon.tick(1, np.array([0.5]))
    assert mon.status == "target"
    mon = Monitor(_quadratic_eval, n_samples=100, budget=Budget(epochs=2))
    t = 0
    while mon.running:
        k = mon.next_chunk(t)
        t += k
        mon.tick(t, np.ones(1), samples=t * 10)
    assert mon.status == "budget" and t == 20 and mon.points[-1]["epochs"] == 2.0
    clock = FakeClock()
    mon = Monitor(_quadratic_eval, clock=clock, budget=Budget(seconds=3))
    mon.start()
    while mon.running:
        clock.t += 1
        mon.tick(1, np.ones(1))
    assert mon.status == "budget" and mon.points[-1]["time_s"] >= 3


@pytest.mark.parametrize("value", [np.nan, 1e12])
def test_divergence(value):
    mon = Monitor(lambda w: {"objective": float(w[0])})
    mon.tick(0, np.array([1.0]))
    mon.tick(1, np.array([value]))
    assert mon.status == "diverged"


def test_delays_recorded_with_points():
    ds = DelayStats()
    ds.add([0, 1, 1, 2, 10])
    mon = Monitor(_quadratic_eval)
    mon.tick(0, np.ones(1), delays=ds, extra={"lr": [0.1]})
    p = mon.points[0]
    assert p["tau_max"] == 10 and p["tau_mean"] == pytest.approx(2.8) and p["tau_q50"] == 1
    assert p["extra"] == {"lr": [0.1]}


def test_delay_stats_merge_and_sample():
    a, b = DelayStats(cap=8), DelayStats(cap=8)
    a.add(np.arange(5))
    b.add([20, 3])
    a.merge(b)
    assert a.count == 7 and a.max == 20 and a.hist[9] == 1
    draws = a.sample(1000, np.random.default_rng(0))
    assert draws.max() <= 20 and set(np.unique(draws)) <= {0, 1, 2, 3, 4, 20}
    assert DelayStats.from_dict(a.to_dict()).summary() == a.summary()


def test_budget_parsing():
    assert Budget.parse("updates=1e5,epochs=2").to_dict() == {"updates": 100000, "epochs": 2.0}
    for bad in ("minutes=3", "epochs=-1", "updates=abc"):
        with pytest.raises(UserError):
            Budget.parse(bad)


def _bookkeeping_run(*, target=None, raise_at=None):
    """A run on fake wall and CPU clocks where only three things take time: the plugin's chunk (1 s of
    both), the evaluation (10 s) and the monitor's own bookkeeping between chunks (its sample count in
    ``tick``, 0.5 s; the budget's limit in ``next_chunk`` and ``tick``, 0.25 s a call): the last two are measurement."""
    clock, cpu = FakeClock(), FakeClock()

    def spend(s):
        clock.t += s
        cpu.t += s

    def evaluate(w):
        spend(10.0)
        if raise_at is not None and w[0] >= raise_at:
            raise RuntimeError("evaluation failed")
        return {"objective": float(w[0]), "subopt": float(w[0])}

    mon = Monitor(evaluate, clock=clock, cpu_clock=cpu, budget=Budget(updates=64), target=target or Target(),
                  schedule=Schedule(ratio=2.0, max_interval_s=None, eval_fraction=None))
    observe, limit = mon._observe, mon._update_limit
    mon._observe = lambda *a: (spend(0.5), observe(*a))[1]
    mon._update_limit = lambda *a: (spend(0.25), limit(*a))[1]     # in next_chunk, due and the stop check
    w, t, chunks = np.full(1, 100.0), 0, 0
    mon.tick(0, w)
    while mon.running:
        k = mon.next_chunk(t)
        spend(1.0)
        chunks += 1
        t += k
        w = w - k
        mon.tick(t, w)
    return mon, chunks


def test_the_monitors_own_calls_are_off_both_clocks():
    """time_s counts the plugin's chunks only (not the monitor's tick / next_chunk bookkeeping, not the
    evaluation), and cpu_to_target, the gate's time for in-process runs, the same seconds: the CPU clock
    is paused with the wall clock (it counted the bookkeeping that time_s left out)."""
    mon, chunks = _bookkeeping_run(target=Target("subopt", 70.0))
    assert mon.status == "target" and mon.points[-1]["updates"] == 32
    assert [p["time_s"] for p in mon.points] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0] and chunks == 6
    assert mon.cpu_to_target == mon.points[-1]["time_s"]
    assert 10.0 * len(mon.points) <= mon.eval_seconds <= 10.5 * len(mon.points)   # the point's own stop check


def test_an_evaluation_that_raises_leaves_the_clocks_running():
    mon, _ = _bookkeeping_run()
    assert mon.elapsed() == 7.0
    with pytest.raises(RuntimeError, match="evaluation failed"):
        _bookkeeping_run(raise_at=40.0)
    clock, cpu = FakeClock(), FakeClock()
    mon = Monitor(lambda w: 1 / 0, clock=clock, cpu_clock=cpu)
    mon.start()
    clock.t = cpu.t = 2.0
    with pytest.raises(ZeroDivisionError):
        mon.tick(1, np.zeros(1), force=True)
    clock.t = cpu.t = 5.0
    assert mon.elapsed() == 5.0 and mon._cpu_elapsed() == 5.0    # nothing was spent inside the failed tick


def test_rewarm_runs_after_each_evaluation_off_both_clocks():
    """Monitor.rewarm: the plugin's re-warm runs after every point's evaluation but the last (the
    run is over), with the wall and CPU clocks stopped: 5 s of re-warming per point show in no
    time_s and no cpu_to_target, only in the evaluation's seconds."""
    clock, cpu = FakeClock(), FakeClock()
    calls = []

    def rewarm():
        calls.append(len(mon.points))
        clock.t += 5.0
        cpu.t += 5.0

    mon = Monitor(lambda w: {"objective": 1.0}, clock=clock, cpu_clock=cpu, budget=Budget(updates=8),
                  schedule=Schedule(ratio=2.0, max_interval_s=None, eval_fraction=None))
    mon.rewarm(rewarm)
    t = 0
    mon.tick(0, np.zeros(2))
    while mon.running:
        k = mon.next_chunk(t)
        clock.t += 1.0 * k
        cpu.t += 1.0 * k
        t += k
        mon.tick(t, np.zeros(2))
    assert [p["updates"] for p in mon.points] == [0, 1, 2, 4, 8]
    assert [p["time_s"] for p in mon.points] == [0.0, 1.0, 2.0, 4.0, 8.0]
    assert calls == [1, 2, 3, 4]                      # after each point but the last
    assert mon.eval_seconds == 20.0
    assert mon._cpu_elapsed() == 8.0


def test_rewarm_does_not_run_after_the_point_finish_takes():
    """A plugin whose loop ends by itself takes its last point with ``finish``: the run is over, so
    its re-warm (off the clock, but real seconds of the run's wall time) does not run after it."""
    calls = []
    mon = Monitor(lambda w: {"objective": 1.0}, clock=FakeClock(), cpu_clock=FakeClock(), budget=Budget(updates=100),
                  schedule=Schedule(ratio=2.0, max_interval_s=None, eval_fraction=None))
    mon.rewarm(lambda: calls.append(len(mon.points)))
    for t in (0, 1, 2):
        mon.tick(t, np.zeros(2))
    mon.finish(5, np.zeros(2))
    assert [p["updates"] for p in mon.points] == [0, 1, 2, 5] and mon.status == "done"
    assert calls == [1, 2, 3]
