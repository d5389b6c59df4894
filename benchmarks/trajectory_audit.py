"""What the trajectory audit costs (harness.run.trajectory): the inference's own seconds per run, and a
whole run with the observation windows and the audit / the same run without them, side by side in
one process, interleaved, repeated.

    python benchmarks/trajectory_audit.py [--repeats 5] [--n 200] [--d 10] [--updates 2000]

Rows (min / median / max over the repeats):

- ``audit s``: the inference's seconds on the 256 updates observed (``info["audit"]["seconds"]``),
  per plugin: sgd-serial b = 1, svrg-serial b = 1, asgd-sim M = 4 (4 workers; b = 4 is searched by
  sums of pairs and stops after as long as the run took, at least 0.2 s: its row is that cap);
- ``run ratio``: the whole run's wall time (plugin, monitor, audit) with the audit / without it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CASES = [("sgd-serial", {"eta": 0.05, "b": 1}, 1), ("svrg-serial", {"eta": 0.01, "b": 1, "m": 20}, 1),
         ("asgd-sim", {"eta": 0.05, "M": 4}, 4)]


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
    args = ap.parse_args(argv)
    print(f"ridge n={args.n} d={args.d}, {args.updates} updates, {args.repeats} repeats (min / median / max)")
    for plugin, params, workers in CASES:
        one(plugin, params, workers, args.n, args.d, 50, True)            # warm-up: data, kernels
        secs, ratios, explained = [], [], []
        for _ in range(args.repeats):
            with_s, a = one(plugin, params, workers, args.n, args.d, args.updates, True)
            without_s, _ = one(plugin, params, workers, args.n, args.d, args.updates, False)
            secs.append(a.get("seconds", float("nan")))
            ratios.append(with_s / without_s)
            explained.append(f"{a.get('explained', 0)}/{a.get('observed', 0)}")
        fmt = lambda xs, f: " / ".join(f.format(x) for x in (min(xs), statistics.median(xs), max(xs)))  # noqa: E731
        print(f"{plugin:12s} audit s {fmt(secs, '{:.3f}')}   run ratio {fmt(ratios, '{:.2f}')}   "
              f"explained {explained[-1]} ({a.get('status')})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
