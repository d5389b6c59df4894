"""Contract tests generated for every registered plugin (the idea of `benchopt test`): each plugin
runs on a tiny instance of each workload kind it supports, returns a curve with at least 5 points,
respects its budget, and reduces the objective."""

import math

import pytest

from harness.monitor import FINISHED_OK, Budget, Schedule
from harness.registry import plugins
from harness.runner import RunSpec, execute

TINY = {
    "finite-sum": ("logreg", {"n": 200, "d": 10, "lam": 1e-2}, Budget(epochs=3)),
    "network": ("mlp", {"n_train": 128, "width": 16, "depth": 2}, Budget(updates=24)),
}


def _cases():
    reg = plugins(refresh=True)
    cases = []
    for name in reg.names():
        spec = reg.items[name]
        for kind in spec.kinds:
            slow = spec.backend in ("mpi", "torch")
            marks = [pytest.mark.slow] if slow else []
            cases.append(pytest.param(name, kind, id=f"{name}-{kind}", marks=marks))
    return cases


@pytest.mark.parametrize("plugin, kind", _cases())
def test_plugin_contract(plugin, kind):
    spec = plugins().get(plugin)
    if spec.missing():
        pytest.skip(f"{plugin} needs {spec.missing()}")
    workload, wparams, budget = TINY[kind]
    workers = max(spec.min_workers, 2 if spec.backend in ("threads", "mpi", "sim") else 1)
    if spec.max_workers is not None:
        workers = min(workers, spec.max_workers)
    rec = execute(RunSpec(plugin, workload, {}, wparams, workers=workers, seed=0, budget=budget,
                          schedule=Schedule(ratio=1.5), options={"timeout_s": 120}))
    if rec.status == "skipped":
        pytest.skip(f"{plugin} declined {workload}: {rec.reason}")
    assert rec.status in FINISHED_OK, f"{rec.status}: {rec.reason}\n{rec.info.get('traceback', '')}"
    assert len(rec.points) >= 5
    ups = [p["updates"] for p in rec.points]
    assert ups == sorted(ups)
    if budget.updates is not None:
        # asynchronous workers may land a few updates after the stop: allow one per worker and chunk
        assert ups[-1] <= budget.updates * 1.1 + 4 * workers
    else:
        epochs = rec.points[-1]["epochs"]
        assert epochs is None or epochs <= budget.epochs * 1.1 + 0.1 * workers
    first, last = rec.points[0]["objective"], rec.points[-1]["objective"]
    assert math.isfinite(last) and last < first
