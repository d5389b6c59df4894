"""pytest-benchmark micro-benchmarks of the threads backend (skipped by default: ``--benchmark-skip``
is in the project's addopts; run with ``pytest tests/bench/test_bench_threads.py --benchmark-enable``
or ``--benchmark-only``). Groups put the figures the issue compares side by side:

- ``hogwild-sparse``: one Hogwild! chunk (one epoch of sparse logreg) on 1 and 2 threads, and
  scikit-learn's ``SGDClassifier`` for one epoch of the same data;
- ``asysvrg-sparse``: one Shared-AsySVRG inner epoch on 1 and 2 threads.

The end-to-end ratios with their spread are printed by ``benchmarks/threads_vs_sklearn.py``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

SPARSE = {"sparse": True, "n": 20000, "d": 20000, "density": 0.0025, "lam": 1e-4}


@pytest.fixture(scope="module")
def workload():
    from harness._core.registry import workloads

    wl = workloads().get("logreg").build(SPARSE)
    wl.X  # noqa: B018 - build the data outside the timings
    return wl


def _lin(wl, workers):
    from harness.plugins.threads.linear import ThreadLinear
    from harness.plugins.threads.team import Team

    team = Team(workers, seed=0)
    lin = ThreadLinear(wl, team)
    lin.warmup(1, svrg=True)
    return team, lin


@pytest.mark.benchmark(group="hogwild-sparse")
@pytest.mark.parametrize("workers", [1, 2])
def test_hogwild_epoch(benchmark, workload, workers):
    team, lin = _lin(workload, workers)
    w = np.zeros(workload.dim)
    try:
        benchmark(lin.sgd, w, workload.n, 1, 0, 0.1, 1.0, 0.0)
    finally:
        team.close()
    assert np.isfinite(w).all() and team.count > 0


@pytest.mark.benchmark(group="hogwild-sparse")
def test_sklearn_sgd_epoch(benchmark, workload):
    from sklearn.linear_model import SGDClassifier

    clf = SGDClassifier(loss="log_loss", alpha=workload.lam, fit_intercept=False, learning_rate="constant", eta0=0.1,
                        max_iter=1, tol=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        benchmark(clf.fit, workload.X, workload.y)


@pytest.mark.benchmark(group="asysvrg-sparse")
@pytest.mark.parametrize("workers", [1, 2])
def test_asysvrg_inner_epoch(benchmark, workload, workers):
    team, lin = _lin(workload, workers)
    w = np.zeros(workload.dim)
    try:
        benchmark(lin.svrg, w, lin.snapshot(w), workload.n, 1, 1.0, 0)
    finally:
        team.close()
    assert np.isfinite(w).all()
