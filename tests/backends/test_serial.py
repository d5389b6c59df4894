"""The serial reference plugins converge as their papers say, deterministically."""

import numpy as np
import pytest

from harness._core.monitor import Budget, Target
from harness.run.runner import RunSpec, execute
from harness._core.registry import build_workload

WP = dict(n=500, d=20, cond=10.0, lam=1e-2)


@pytest.mark.parametrize("workload", ["ridge", "logreg"])
def test_svrg_reaches_1e_minus_8(workload):
    L_max = build_workload(workload, WP).L_max
    rec = execute(RunSpec("svrg-serial", workload, {"eta": 1 / (4 * L_max), "b": 1}, WP,
                          budget=Budget(epochs=150), target=Target("subopt", 1e-9)))
    assert rec.status == "target", rec.reason
    assert rec.points[-1]["subopt"] < 1e-8
    # linear convergence: suboptimality falls by orders of magnitude, not a plateau
    assert rec.points[0]["subopt"] / rec.points[-1]["subopt"] > 1e6


def test_svrg_sparse_and_minibatch_and_warm_start():
    wp = dict(n=400, d=300, sparse=True, density=0.05, lam=1e-2)
    L_max = build_workload("logreg", wp).L_max
    rec = execute(RunSpec("svrg-serial", "logreg", {"eta": 1 / (4 * L_max), "b": 4, "warm_epochs": 1}, wp,
                          budget=Budget(epochs=60), target=Target("subopt", 1e-9)))
    assert rec.status == "target", rec.reason


def test_svrg_multinomial_digits_numpy_path():
    rec = execute(RunSpec("svrg-serial", "digits", {"eta": 0.5, "b": 8}, {"lam": 1e-2},
                          budget=Budget(epochs=20)))
    assert rec.points[-1]["subopt"] < 1e-3 * rec.points[0]["subopt"]


@pytest.mark.parametrize("schedule", ["constant", "inv", "poly"])
def test_sgd_schedules_reduce_objective_and_are_deterministic(schedule):
    spec = RunSpec("sgd-serial", "logreg", {"eta": 0.05, "b": 2, "schedule": schedule}, WP, seed=3,
                   budget=Budget(epochs=5))
    a, b = execute(spec), execute(spec)
    assert a.points[-1]["subopt"] < 0.2 * a.points[0]["subopt"]
    assert [p["objective"] for p in a.points] == [p["objective"] for p in b.points]


def test_sgd_decaying_steps_beat_constant_noise_floor():
    """With a constant step SGD stalls at a noise floor O(eta sigma^2); 1/t decay goes below it."""
    runs = {s: execute(RunSpec("sgd-serial", "logreg", {"eta": 0.2, "schedule": s, "t0": 200.0}, WP,
                               budget=Budget(epochs=40))) for s in ("constant", "inv")}
    assert runs["inv"].points[-1]["subopt"] < runs["constant"].points[-1]["subopt"]


def test_sgd_samples_and_epochs_count_batches():
    rec = execute(RunSpec("sgd-serial", "ridge", {"eta": 0.01, "b": 5}, WP, budget=Budget(updates=300)))
    last = rec.points[-1]
    assert last["updates"] == 300 and last["samples"] == 1500 and last["epochs"] == pytest.approx(1500 / 500)


@pytest.mark.parametrize("plugin", ["svrg-serial", "asysvrg-threads", "asysvrg-sim"])
def test_svrg_epoch_budget_stops_exactly_where_it_says(plugin):
    """``--budget epochs=20`` stops at 20.00 epochs (it ran 20.33: the chunk after a snapshot was sized
    before the snapshot's n samples were counted). n = 500, b = 1, m = n: an outer epoch reads 3n
    samples (n for the full gradient, 2 per inner iteration), so 20 epochs end 250 iterations into the
    7th outer epoch, at 6 * 500 + 250 updates."""
    rec = execute(RunSpec(plugin, "logreg", {"eta": 0.05, "b": 1}, WP, budget=Budget(epochs=20)))
    last = rec.points[-1]
    assert rec.status == "budget"
    assert last["samples"] == 20 * 500 and last["epochs"] == 20.0 and last["updates"] == 6 * 500 + 250


def test_svrg_epoch_budget_counts_its_full_gradient_pass():
    """An epoch is n samples read; SVRG's full gradient (the snapshot mu = grad f(u_0)) reads n, so
    ``--budget epochs=1`` is spent by it: the run stops after its first inner update, with the
    snapshot's time measured (not lost). measurement_cost.py printed that run as '0.000' s measured;
    it now prints the seconds to 3 digits, the updates and epochs, and a note saying why."""
    rec = execute(RunSpec("svrg-serial", "ridge", {"eta": 0.01, "b": 2}, WP, budget=Budget(epochs=1)))
    last = rec.points[-1]
    assert rec.status == "budget" and last["updates"] == 1 and last["samples"] == 500 + 2 * 2
    assert last["time_s"] > 0
    rec = execute(RunSpec("svrg-serial", "ridge", {"eta": 0.01, "b": 2}, WP, budget=Budget(epochs=3)))
    assert rec.points[-1]["epochs"] == pytest.approx(3.0, abs=0.05) and rec.points[-1]["updates"] >= 250
    import subprocess
    import sys

    from conftest import ROOT

    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "measurement_cost.py"), "--only", "svrg-serial",
                          "--budget", "epochs=1"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    row = next(line for line in out.stdout.splitlines() if line.startswith("svrg-serial"))
    measured, updates, epochs = float(row.split()[4]), row.split()[9], row.split()[10]
    assert measured > 0 and (updates, epochs) == ("1", "1")
    assert "its full-gradient pass (the SVRG snapshot) reads n samples" in out.stdout
    # the verdict 'short' is explained, on one line under the table (and met / MISSED with it)
    assert row.split()[-1] == "short"
    (line,) = [x for x in out.stdout.splitlines() if x.startswith("verdict: ")]
    assert out.stdout.rstrip().endswith(line)
    assert "met = wall/measured <= 2" in line and "MISSED" in line and "short = its shortest repeat measured under 10 s" in line
    assert "overshoot" not in line  # an epochs budget: no seconds to overshoot


@pytest.mark.parametrize("plugin,params", [("sgd-serial", {"eta": 0.05, "b": 2}),
                                           ("svrg-serial", {"eta": 0.02, "b": 3})])
def test_the_rewarm_after_each_evaluation_leaves_the_run_as_it_was(plugin, params, monkeypatch):
    """The serial plugins re-warm their kernel after each point's evaluation (Monitor.rewarm, off the
    clock): it runs (once per point but the last) and changes no iterate, no draw, no point."""
    from harness._core.monitor import Monitor

    spec = RunSpec(plugin, "logreg", params, {"n": 300, "d": 8}, seed=5, budget=Budget(epochs=4))
    calls = []
    real = Monitor.rewarm

    def counting(self, fn):
        def wrapped():
            calls.append(1)
            fn()
        real(self, wrapped)

    monkeypatch.setattr(Monitor, "rewarm", counting)
    warmed = execute(spec)
    monkeypatch.setattr(Monitor, "rewarm", lambda self, fn: None)
    cold = execute(spec, force=True)
    assert len(warmed.points) > 5 and len(calls) == len(warmed.points) - 1
    assert [p["objective"] for p in warmed.points] == [p["objective"] for p in cold.points]
    assert [p["updates"] for p in warmed.points] == [p["updates"] for p in cold.points]
