"""How far the trajectory audit's search goes (harness.run.trajectory): a work budget counted from
the shapes it searches, not a clock, so the same iterates give the same figures on a machine at any
load; a wall clock stays only as a safety net far above the budget's expected time, and says so
where it fires."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

from harness._core.registry import build_workload
from harness.run import trajectory
from harness.run.trajectory import audit

import trajectories  # noqa: E402 - tests/theory's shared trajectories

WL = build_workload("ridge", {"n": 200, "d": 10})
UPS, W = trajectories.sgd(WL, eta=0.05, b=4, T=60)     # b = 4 by pair sums: ~1.5e8 units to search every step


def figures(a: dict) -> dict:
    """The audit without its wall time (and the runner's clock charge), what may differ between machines."""
    return {k: v for k, v in a.items() if k not in ("seconds", "clock")}


def clock(monkeypatch, jump: float) -> None:
    """The audit's clock (and only the audit's) jumps ``jump`` seconds at every read."""
    ticks = itertools.count()
    monkeypatch.setattr(trajectory, "time", SimpleNamespace(perf_counter=lambda: jump * next(ticks)))


def test_a_slow_clock_changes_nothing_the_audit_reports(monkeypatch):
    """The same iterates under a clock that jumps 50 ms at every read (a machine ~100x slower, or
    one shared with many jobs) give the same figures as under the real clock. The wall-clock cap
    this replaced (0.2-1 s) stopped such a search after a handful of updates."""
    real = figures(audit(WL, UPS, W, family="sgd", reported={"b": 4}))
    assert real["status"] == "audited" and real["b"] == 4 and real["tried"] == 60, real
    clock(monkeypatch, 0.05)
    # the safety net out of reach: the subject here is the budget (its own test is below)
    monkeypatch.setattr(trajectory, "SAFETY_FLOOR", 1e12, raising=False)
    assert figures(audit(WL, UPS, W, family="sgd", reported={"b": 4})) == real


def test_the_budget_stops_a_search_at_the_same_update_every_time():
    """A budget that runs out part way: the same updates tried and explained on every call, the
    reason naming the budget; a run's budget follows its update count, between a floor and a cap."""
    runs = [figures(audit(WL, UPS, W, family="sgd", reported={"b": 4}, work=3e7)) for _ in range(2)]
    assert runs[0] == runs[1]
    a = runs[0]
    assert 0 < a["tried"] < a["observed"] == 60 and a["work"] <= a["work_budget"] == 3e7, a
    assert a["note"].startswith("the search spent its work budget (3e+07 units") and f"after {a['tried']} of the 60" in a["note"]
    assert trajectory.work_budget(3000) == trajectory.WORK_FLOOR < trajectory.work_budget(6500) < trajectory.WORK_CAP
    assert trajectory.work_budget(10**7) == trajectory.work_budget(None) == trajectory.WORK_CAP


def test_the_wall_clock_safety_net_says_it_fired_where_and_why(monkeypatch):
    """A clock that jumps a second at every read: the safety net (20 s at the largest budget) stops the search
    before its budget, and the result says where (the update and the batch searched), how far (the work spent,
    the rate), that these figures depend on it, and which cause the process's CPU time points to: the CPU held
    by other processes (the message blamed the machine in every case), or pieces dearer than counted."""
    clock(monkeypatch, 1.0)
    a = audit(WL, UPS, W, family="sgd", reported={"b": 4})
    text = a.get("reason") or a.get("note")
    net = trajectory.safety_seconds(trajectory.WORK_CAP)                  # 10 x the cap's longest expected seconds
    assert f"the search hit its wall-clock safety net ({net:.3g} s)" in text, a
    assert "these figures depend on that" in text, a
    assert "in update " in text and "(SGD form)" in text and "ns a unit where the count expects at most 1" in text, text
    assert "other processes held the machine" in text, text
    assert a["work"] < a["work_budget"]
    ticks = itertools.count()                  # the process computing all along (its CPU time is the clock's)
    now = [0.0]
    tick = lambda: now.__setitem__(0, next(ticks)) or now[0]      # noqa: E731
    monkeypatch.setattr(trajectory, "time", SimpleNamespace(perf_counter=tick))
    monkeypatch.setattr(trajectory, "process_time", lambda: now[0])
    text = (lambda a: a.get("reason") or a.get("note"))(audit(WL, UPS, W, family="sgd", reported={"b": 4}))
    assert "this search's pieces cost more than the count weighs them" in text, text


def test_the_runner_audits_a_run_within_its_budget(monkeypatch):
    """Through the runner: a run's audit budget comes from its update count (here 3000), and the
    audit's clock at 50 ms a read leaves the figures of the same run alone."""
    from harness._core.monitor import Budget
    from harness.run.runner import RunSpec, execute

    def run() -> dict:
        rec = execute(RunSpec("sgd-serial", "ridge", {"eta": 0.05, "b": 4}, {"n": 200, "d": 10}, seed=0,
                              budget=Budget(updates=3000)))
        return figures(rec.info["audit"])

    real = run()
    assert real["status"] == "audited" and real["work_budget"] == trajectory.work_budget(3000) and real["b"] == 4, real
    clock(monkeypatch, 0.05)
    monkeypatch.setattr(trajectory, "SAFETY_FLOOR", 1e12)
    assert run() == real
