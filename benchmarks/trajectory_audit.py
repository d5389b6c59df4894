"""What the trajectory audit costs (harness.run.trajectory): the inference's own seconds per run, and a
whole run with the observation windows and the audit / the same run without them, side by side in
one process, interleaved, repeated.

    python benchmarks/trajectory_audit.py [--repeats 5] [--n 200] [--d 10] [--updates 2000] [--big-n 2000] [--big-d 100]

Rows (min / median / max over the repeats):

- ``audit s``: the inference's seconds on the 256 updates observed (``info["audit"]["seconds"]``),
  per plugin: sgd-serial b = 1, svrg-serial b = 1, asgd-sim M = 4 (4 workers; b = 4 is searched by
  sums of pairs and stops at its work budget, the floor of 4e8 units at 2000 updates: its row is what that takes), and
  sgd-serial / svrg-serial b = 8 on a larger ridge (``--big-n`` x ``--big-d``: b = 8 is found by
  sparse recovery, which needs b well below the dimension); ``explained`` is what the search
  explained of the updates it tried and observed in its time (explained / tried / observed);
- ``run ratio``: the whole run's wall time (plugin, monitor, audit) with the audit / without it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CASES = [("sgd-serial", {"eta": 0.05, "b": 1}, 1, False), ("svrg-serial", {"eta": 0.01, "b": 1, "m": 20}, 1, False),
         ("asgd-sim", {"eta": 0.05, "M": 4}, 4, False),
         ("sgd-serial", {"eta": 0.005, "b": 8}, 1, True), ("svrg-serial", {"eta": 0.002, "b": 8, "m": 20}, 1, True)]


def one(plugin, params, workers, n, d, updates, audit: bool):
    from harness._core.monitor import Budget
    from harness.run import runner

    keep = runner.not_audited
    if not audit:
        runner.not_audited = lambda workload: "switched off for the benchmark"
    try:
        t = time.perf_counter()
        rec = runner.execute(runner.RunSpec(plugin, "ridge", params, {"n": n, "d": d}, workers=workers, seed=0,
                                            budget=Budget(updates=updates)))
        return time.perf_counter() - t, rec.info["audit"]
    finally:
        runner.not_audited = keep


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--d", type=int, default=10)
    ap.add_argument("--updates", type=int, default=2000)
    ap.add_argument("--big-n", type=int, default=2000)
    ap.add_argument("--big-d", type=int, default=100)
    args = ap.parse_args(argv)
    print(f"ridge n={args.n} d={args.d} (b = 8 rows: n={args.big_n} d={args.big_d}), {args.updates} updates, "
          f"{args.repeats} repeats (min / median / max), load {os.getloadavg()[0]:.1f}")
    for plugin, params, workers, big in CASES:
        n, d = (args.big_n, args.big_d) if big else (args.n, args.d)
        one(plugin, params, workers, n, d, 50, True)            # warm-up: data, kernels
        secs, ratios, explained = [], [], []
        for _ in range(args.repeats):
            with_s, a = one(plugin, params, workers, n, d, args.updates, True)
            without_s, _ = one(plugin, params, workers, n, d, args.updates, False)
            secs.append(a.get("seconds", float("nan")))
            ratios.append(with_s / without_s)
            explained.append(f"{a.get('explained', 0)}/{a.get('tried', 0)}/{a.get('observed', 0)}")
        fmt = lambda xs, f: " / ".join(f.format(x) for x in (min(xs), statistics.median(xs), max(xs)))  # noqa: E731
        label = f"{plugin} b={params.get('b', params.get('M'))}"
        print(f"{label:16s} audit s {fmt(secs, '{:.3f}')}   run ratio {fmt(ratios, '{:.2f}')}   "
              f"explained {explained[-1]} ({a.get('status')}{': ' + a['reason'][:90] if a.get('reason') else ''})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
