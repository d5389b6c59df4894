"""The evaluation plan (harness._core.evalplan): a workload whose evaluation is expensive gets fewer,
cheaper points under a short budget, the plan is stored with the run and shown, and runs evaluated
on different subsets are never grouped as one. Costs are counted (evaluations and their data size),
never timed: these tests hold on any machine, at any load."""

from __future__ import annotations

import json
import textwrap

import pytest

from harness._core import evalplan
from harness._core.evalplan import EvalCosts
from harness._core.monitor import Budget, Schedule

# A plugin and a workload from outside the harness, through harness.api only: the workload's
# evaluation is declared expensive (a sample gradient of 1e9 FLOPs, so the plan's grace is 10
# sample gradients) and resizable; it records the subset every evaluation ran on.
FAKE = textwrap.dedent('''
    import time

    import numpy as np

    from harness.api import Backend, EvalCosts, Param, PluginSpec, Workload, WorkloadSpec

    CALLS = []        # the subset size of every evaluation, in order


    class Slow(Workload):
        kind = "network"

        def __init__(self, name, n=100000, eval_n=0, sample_s=0.0):
            super().__init__(name, n=n, eval_n=eval_n, sample_s=sample_s)
            self.n = n
            self._m = None

        def _asked(self):
            m = self.params["eval_n"]
            return self.n if m <= 0 or m >= self.n else m

        def eval_costs(self):
            asked = self._asked()
            sizes = [asked] + [2 ** k for k in range(20, 5, -1) if 64 <= 2 ** k < asked]
            return EvalCosts(tuple(sizes), test=0, flops=1e9)

        def use_eval_size(self, size, *, seconds=None):
            self._m = None if size is None or size >= self._asked() else size

        def eval_size(self):
            return self._m or self._asked()

        def metrics(self, w):
            CALLS.append(self.eval_size())
            time.sleep(self.eval_size() * self.params["sample_s"])   # a sample gradient takes sample_s
            return {"objective": float(np.sum((w - 1.0) ** 2))}


    def run(ctx):
        mon, b = ctx.monitor, ctx.params["b"]
        mon.costs(update=b)
        w = np.zeros(3)
        t = 0
        mon.tick(0, w, samples=0)
        while mon.running:
            k = mon.next_chunk(t)
            time.sleep(k * b * ctx.workload.params["sample_s"])
            w += 0.001 * k * (1.0 - w)
            t += k
            mon.tick(t, w, samples=t * b)


    WORKLOADS = [WorkloadSpec("slow", "network", "slow_eval:Slow",
                              (Param("n", 100000, "int", low=1), Param("eval_n", 0, "int", low=0),
                               Param("sample_s", 0.0, "float", low=0.0)))]
    PLUGINS = [PluginSpec("slow-sgd", "sgd", "serial", "slow_eval:run", kinds=("network",),
                          params=(Param("b", 10, "int", low=1),), deterministic=True)]
''')


@pytest.fixture
def fake(tmp_path, monkeypatch):
    (tmp_path / "slow_eval.py").write_text(FAKE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("HARNESS_EXTRA_PLUGINS", "slow_eval:PLUGINS")
    monkeypatch.setenv("HARNESS_EXTRA_WORKLOADS", "slow_eval:WORKLOADS")
    import importlib

    mod = importlib.import_module("slow_eval")
    mod.CALLS.clear()
    yield mod
    import sys

    sys.modules.pop("slow_eval", None)


def _run(store, schedule=None, budget="updates=1000", **wparams):
    from harness.run.runner import RunSpec, execute

    return execute(RunSpec("slow-sgd", "slow", {"b": 10}, wparams, 1, 0, Budget.parse(budget),
                           schedule=schedule or Schedule()), store, force=True)


def test_an_expensive_evaluation_gets_fewer_cheaper_points_within_the_bound(fake, store):
    """1000 updates of b = 10: 10,000 sample gradients of work. Evaluating the schedule's 25 points on
    all 100,000 samples would cost 250 times that; the plan keeps it within eval_fraction (0.25) of
    the work plus the grace, with at least 5 points, on one subset for every point."""
    rec = _run(store)
    plan = rec.info["eval_plan"]
    work, bound = 1000 * 10, 0.25 * 1000 * 10 + 1.0 * 1e10 / 1e9
    assert plan["how"] == "counted" and plan["work"] == work and plan["bound"] == pytest.approx(bound)
    assert plan["points_schedule"] == evalplan.grid_points(1000, 1.3) == 25
    # every point evaluated once, all on the planned subset; their counted cost within the bound
    assert len(fake.CALLS) == len(rec.points) == plan["points"] >= evalplan.MIN_POINTS
    assert set(fake.CALLS) == {plan["eval_n"]} and plan["eval_n"] < 100000
    assert sum(fake.CALLS) <= bound and not plan["over"]
    assert plan["eval_n"] == 256 and plan["points"] == 9         # the largest power of two that keeps 5+ points
    assert rec.points[0]["updates"] == 0 and rec.points[-1]["updates"] == 1000
    # stored with the run, as it ran
    again = store.load(rec.id)
    assert again.info["eval_plan"] == plan
    assert "planned subset of 256 of the 100000" in evalplan.describe(again.info["eval_plan"])


def test_without_the_plan_every_point_is_evaluated_on_everything(fake, store):
    """The old behaviour (``eval_plan=false``): the schedule's 25 points on all 100,000 samples,
    250 times the work; the run records that the plan was off."""
    rec = _run(store, Schedule(eval_plan=False))
    assert rec.info["eval_plan"]["how"] == "off"
    assert fake.CALLS == [100000] * 25 == [100000] * len(rec.points)
    assert sum(fake.CALLS) > 100 * 1000 * 10


def test_the_plan_is_counted_so_a_deterministic_curve_repeats(fake, store):
    """No clock enters a counted plan: two runs plan the same subset and take the same points."""
    a, b = _run(store), _run(store)
    assert a.info["eval_plan"] == b.info["eval_plan"]
    assert [p["updates"] for p in a.points] == [p["updates"] for p in b.points]
    assert [p["objective"] for p in a.points] == [p["objective"] for p in b.points]


def test_a_long_budget_keeps_the_schedule_and_points_fixed_by_the_user_stay(fake, store):
    """Where the schedule fits (cheap evaluations for the work), nothing changes; ``--points N``
    fixes the points and the plan sizes only the subset."""
    rec = _run(store, budget="updates=1000", eval_n=64)
    assert rec.info["eval_plan"]["eval_n"] == 64 and rec.info["eval_plan"]["points"] == 25
    assert fake.CALLS == [64] * 25
    fake.CALLS.clear()
    rec = _run(store, Schedule(points=20))
    plan = rec.info["eval_plan"]
    assert plan["points"] == 20 and plan["eval_n"] == 64 and set(fake.CALLS) == {64}
    assert len(rec.points) == len(fake.CALLS) and abs(len(rec.points) - 20) <= 2
    assert 20 * 64 <= plan["bound"]


def test_two_planned_points_are_the_first_and_the_last(fake, store):
    """A budget too short for more: the first point and the last, nothing at update 1."""
    rec = _run(store, budget="updates=20")
    assert rec.info["eval_plan"]["points"] == 2 and rec.info["eval_plan"]["over"]
    assert [p["updates"] for p in rec.points] == [0, 20]


def test_runs_evaluated_on_different_subsets_are_not_grouped_as_one(fake, store, tmp_path):
    """Compare, the theory checker, the gate and reports key runs by what they were evaluated on: a
    planned subset of 256 is the run that asked for eval_n = 256, not the unplanned run; the report
    says which runs were evaluated on a planned subset."""
    from harness._core.identity import evaluated_params, record_key
    from harness.analysis.compare import group_key
    from harness.analysis.report import write_report

    planned = _run(store)
    whole = _run(store, Schedule(eval_plan=False))
    asked = _run(store, Schedule(eval_plan=False), eval_n=256)
    assert evaluated_params(planned)["eval_n"] == 256 and planned.workload_params["eval_n"] == 0
    for view in ("group", "seeds", "gate", "benchmark"):
        assert record_key(planned, view) != record_key(whole, view)
    for view in ("group", "seeds", "benchmark"):        # the gate's view holds the data's identity as asked too
        assert record_key(planned, view) == record_key(asked, view)
    assert group_key(planned, True) != group_key(whole, True)
    assert json.loads(record_key(planned, "cache")[2])["params"]["eval_n"] == 0   # the key it was cached by
    out = write_report([planned, whole], tmp_path / "report")
    md = (out.parent / "index.md").read_text()
    assert "## slow (eval_n=256)" in md and "\n## slow\n" in md
    assert f"run {planned.id}: evaluated on a planned subset of 256" in md


def test_the_cli_says_when_evaluation_dominates_and_names_the_knob(fake, tmp_path):
    """Plan off, each point evaluated on all 1,000 samples (~20 sample gradients of work between
    points): one line on stderr names the knob. With the plan the run is stored with it."""
    from tests.conftest import run_cli

    env = {"PYTHONPATH": str(tmp_path), "HARNESS_EXTRA_PLUGINS": "slow_eval:PLUGINS",
           "HARNESS_EXTRA_WORKLOADS": "slow_eval:WORKLOADS"}
    args = ("run", "-p", "slow-sgd", "-w", "slow", "--workload-param", "n=1000", "--workload-param", "sample_s=2e-5",
            "--budget", "updates=200", "--no-report", "-q")
    off = run_cli(*args, "--schedule", "eval_plan=false,eval_grace_s=0", "--seeds", "3", env=env, timeout=120)
    assert off.returncode == 0, off.stderr
    lines = [ln for ln in off.stderr.splitlines() if "evaluating" in ln]   # three runs, said once
    assert len(lines) == 1 and "--schedule eval_plan=true" in lines[0], off.stderr
    on = run_cli(*args, env=env, timeout=120)
    assert on.returncode == 0, on.stderr
    shown = run_cli("runs", "show", "4", env=env, timeout=60)
    assert "evaluated on a planned subset of 64 of the 1000 samples asked for (eval_n=64)" in shown.stdout, shown.stdout


def test_the_counted_plan_chooses_by_cost():
    costs = EvalCosts((1000, 512, 256, 128, 64), test=300)
    assert costs.cost(1000) == 1100 and costs.cost(64) == 64 + 64 / 3
    fit = evalplan.counted(costs, work=1e6, point_extra=0, points=30, points_fixed=False, fraction=0.25, grace=0)
    assert (fit["eval_n"], fit["points"], fit["over"]) == (1000, 30, False)
    fewer = evalplan.counted(costs, work=3e4, point_extra=0, points=30, points_fixed=False, fraction=0.25, grace=0)
    assert fewer["eval_n"] == 1000 and 5 <= fewer["points"] < 30 and fewer["points"] * 1100 <= 7500
    smaller = evalplan.counted(costs, work=1e4, point_extra=100, points=30, points_fixed=False, fraction=0.25,
                               grace=0)
    assert smaller["eval_n"] == 256 and smaller["points"] >= 5 and smaller["points"] * (256 + 256 / 3 + 100) <= 2500
    over = evalplan.counted(costs, work=100, point_extra=100, points=30, points_fixed=False, fraction=0.25, grace=0)
    assert (over["eval_n"], over["points"], over["over"]) == (64, 2, True)
    # a timed plan: the largest subset a pilot on the smallest says fits the allowance
    assert costs.timed_size(pilot_s=1.0, allowance_s=1e9) == 1000
    assert costs.timed_size(pilot_s=1.0, allowance_s=1e-9) == 64
    assert costs.timed_size(pilot_s=1.0, allowance_s=1.001 * costs.cost(256) / costs.cost(64)) == 256


@pytest.mark.torch
def test_the_network_workloads_planned_subset_is_the_asked_one_of_that_size():
    """E_m is the first m of the same seeded permutation: inside the asked E, and equal to what
    eval_n = m evaluates (so a planned run and an asking run are the same evaluation)."""
    pytest.importorskip("torch")
    from harness.api import build_workload

    wl = build_workload("resnet", {"n_train": 300, "width": 8, "depth": 1, "eval_n": 200})
    costs = wl.eval_costs()
    assert costs.sizes == (200, 128, 64) and costs.test == min(200, len(wl.data()[2]))
    assert costs.flops > 0
    asked = set(wl.eval_indices())
    wl.use_eval_size(64)
    planned = wl.eval_indices()
    assert len(planned) == 64 and set(planned) <= asked and wl.eval_size() == 64
    other = build_workload("resnet", {"n_train": 300, "width": 8, "depth": 1, "eval_n": 64})
    assert list(planned) == list(other.eval_indices())
    X, _, Xt, _ = wl.eval_set("cpu")
    assert len(X) == 64 and len(Xt) == min(64, len(wl.data()[2]))
    wl.release()                                   # the next run starts from the asked subset
    assert wl.eval_size() == 200


@pytest.mark.torch
def test_a_timed_plan_sizes_the_subset_on_a_pilot():
    """A seconds budget: the first evaluation pilots the smallest subset and keeps the largest that
    fits the allowance (here one that every machine meets, and one none does)."""
    pytest.importorskip("torch")
    from harness.api import build_workload

    wl = build_workload("mlp", {"n_train": 600, "width": 8, "depth": 1, "eval_n": 0})
    model = wl.build_model(seed=0)
    wl.use_eval_size(None, seconds=1e9)
    wl.metrics(model)
    assert wl.eval_size() == 600
    wl.use_eval_size(None, seconds=1e-12)
    out = wl.metrics(model)
    assert wl.eval_size() == 64 and set(out) >= {"objective", "test_acc"}
