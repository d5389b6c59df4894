"""pytest-benchmark: the monitor. Skipped by the default run (``--benchmark-skip``).

- ``test_snapshot``: one snapshot of the default monitor on logreg (copy + the workload's metrics:
  objective, suboptimality, gradient norm, distance, test metrics) -- the untimed cost per point.
- the ``monitor-overhead`` pair: the serial SGD loop (plugins/serial/sgd.py) under the default
  monitor (its geometric schedule, due/tick bookkeeping, iterate copies; the metrics replaced by a
  constant so only the monitor's own mechanics are timed) vs the same loop with no monitor. Their
  ratio is the overhead on the timed path (target <= 1.05); ``python benchmarks/monitor_overhead.py``
  prints it with the real metrics, measured time vs bare loop, in one run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.monitor_overhead import loop_with_monitor, loop_without_monitor, make_workload  # noqa: E402

N, D, EPOCHS = 20000, 100, 10  # the sizes of benchmarks/monitor_overhead.py (200k updates)


@pytest.fixture(scope="module")
def workload():
    wl = make_workload(N, D)
    wl.f_star  # noqa: B018 - the optimum is cached on disk, outside the timing
    loop_with_monitor(wl, 100)  # JIT load
    loop_without_monitor(wl, 100)
    return wl


def test_snapshot(benchmark, workload):
    from harness._core.monitor import Monitor

    mon = Monitor(workload.metrics, n_samples=workload.n, deterministic=True)
    w = np.full(workload.dim, 0.01)
    mon.start()

    def snap():
        mon.points.clear()
        mon.tick(10, w, samples=10, force=True)

    benchmark(snap)
    assert set(mon.points[0]) >= {"objective", "subopt", "grad_norm_sq", "time_s"}


@pytest.mark.benchmark(group="monitor-overhead")
def test_sgd_loop_default_monitor(benchmark, workload):
    constant = lambda w: {"objective": 1.0, "subopt": 1.0}  # noqa: E731 - time the monitor, not the metrics
    result = benchmark(loop_with_monitor, workload, EPOCHS * N, 1, 0.05, 0, constant)
    assert result[2] > 20  # the geometric schedule took its points


@pytest.mark.benchmark(group="monitor-overhead")
def test_sgd_loop_no_monitor(benchmark, workload):
    benchmark(loop_without_monitor, workload, EPOCHS * N)
