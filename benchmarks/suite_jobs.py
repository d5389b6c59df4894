"""A suite run with ``--jobs 2`` vs one run after another: the wall time of the whole batch,
measured side by side in one process, interleaved, repeated, each batch into a fresh store.

    python benchmarks/suite_jobs.py [--suite minibatch] [--epochs 3] [--jobs 2] [--repeats 3] [--with-mpi]

The grid is the ``minibatch`` suite's, trimmed to keep this under a minute on 2 cores: the budget is
``--epochs`` (the suite says 10) and the MPI rows are left out unless ``--with-mpi`` (each MPI run
starts mpiexec, which dominates at this scale). The first batch warms the constants cache (f*, L)
and is not timed. Printed: serial / parallel wall-time ratio (min / median / max over the repeats;
the ideal with N free cores is N, less the pool's start-up and the slowest run's tail).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def grid(suite: str, epochs: float, with_mpi: bool):
    from harness._core.monitor import Budget
    from harness.run.suite import load_suite

    _, specs, _ = load_suite(suite)
    specs = [s for s in specs if with_mpi or not s.plugin.endswith("-mpi")]
    for s in specs:
        s.budget = Budget(epochs=epochs)
    return specs


def batch(specs, jobs: int) -> float:
    from harness.cli.run import run_specs
    from harness.run.executors import make_engine, run_parallel
    from harness.run.store import Store

    with tempfile.TemporaryDirectory() as d:
        store = Store(Path(d) / "results.db")
        t0 = time.perf_counter()
        recs = (run_specs(specs, store, quiet=True) if jobs == 1
                else run_parallel(specs, store, make_engine("local", jobs, specs=specs)))
        wall = time.perf_counter() - t0
        assert len(recs) == len(specs) and store.count()[0] == len(specs), "runs lost"
        bad = [r for r in recs if not r.ok]
        assert not bad, f"{bad[0].label()}: {bad[0].status} {bad[0].reason}"
    return wall


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="minibatch")
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--with-mpi", action="store_true")
    a = ap.parse_args(argv)
    specs = grid(a.suite, a.epochs, a.with_mpi)
    print(f"{a.suite}: {len(specs)} runs, epochs={a.epochs:g}, jobs={a.jobs}")
    batch(specs, 1)  # warm the constants cache and numba's on-disk cache
    ratios = []
    for r in range(a.repeats):
        serial = batch(specs, 1)
        parallel = batch(specs, a.jobs)
        ratios.append(serial / parallel)
        print(f"  repeat {r}: serial {serial:.2f} s, --jobs {a.jobs} {parallel:.2f} s, ratio {ratios[-1]:.2f}")
    print(f"serial / --jobs {a.jobs} wall time: min {min(ratios):.2f}  median {statistics.median(ratios):.2f}  "
          f"max {max(ratios):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
