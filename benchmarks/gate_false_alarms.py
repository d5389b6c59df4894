"""How often the CI gate cries wolf, and whether it catches what it must.

Reruns the gate (``suites/gate.toml`` against ``suites/gate-baseline.json``, the rules of
``.ci/run`` plus ``time_to_target:50%``) N times on unchanged code, then once with a planted 2x
slowdown (``HARNESS_PLANT=slowdown=2``: the monitor's clock runs twice as fast) and once with a
planted change in updates to target (``HARNESS_PLANT=eta=0.5``: the step size a plugin receives is
halved). Prints the counts, each rerun's exit code and the timed group's median ratio
(min / median / max over the reruns). Everything runs in this process (the kernels compile once).

    python benchmarks/gate_false_alarms.py            # 20 reruns (about a minute on 2 busy cores)
    python benchmarks/gate_false_alarms.py --runs 5
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RULES = ("updates_to_target:0%", "final_subopt:2x", "theory:no-violation", "theory:no-regression",
         "time_to_target:50%")


def gate(suite: str, baseline: str, plant: str = "") -> tuple[int, dict]:
    from harness._core import registry
    from harness.cli import main

    os.environ["HARNESS_PLANT"] = plant
    registry._cache.clear()
    args = ["gate", suite, "--baseline", baseline, "--json", "-q"]
    for r in RULES:
        args += ["--fail", r]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(args)
    os.environ.pop("HARNESS_PLANT", None)
    return code, json.loads(out.getvalue())


def timed_ratio(doc: dict) -> float | None:
    for c in doc["checks"]:
        if c["rule"].startswith("time_to_target") and c["outcome"] != "not judged":
            return c["ratio"]
    return None


def failed(doc: dict) -> list[str]:
    return [f"{c['rule']} {c['group'][:60]}: {c['outcome']} {c['ratio']:.3g}x ({c['how'][:80]})"
            for c in doc["checks"] if c["outcome"] in ("REGRESSION", "VIOLATION")] + doc["problems"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--suite", default=str(ROOT / "suites" / "gate.toml"))
    ap.add_argument("--baseline", default=str(ROOT / "suites" / "gate-baseline.json"))
    a = ap.parse_args()
    scratch = tempfile.mkdtemp(prefix="gate-fa-")
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)  # the gate's store, however this ends
    os.environ["HARNESS_STORE"] = str(Path(scratch) / "gate.db")
    t0 = time.perf_counter()
    codes, ratios = [], []
    for k in range(a.runs):
        t = time.perf_counter()
        code, doc = gate(a.suite, a.baseline)
        codes.append(code)
        r = timed_ratio(doc)
        if r is not None:
            ratios.append(r)
        print(f"rerun {k + 1:2d}: exit {code}  timed ratio {r if r is None else f'{r:.3f}'}  "
              f"({time.perf_counter() - t:.1f} s)" + "".join(f"\n    {f}" for f in failed(doc)), flush=True)
    slow_code, slow_doc = gate(a.suite, a.baseline, "slowdown=2")
    utt_code, utt_doc = gate(a.suite, a.baseline, "eta=0.5")
    passes = codes.count(0)
    print()
    print(f"unchanged code: {passes} of {a.runs} reruns passed (exit codes: "
          f"{', '.join(f'{c}: {codes.count(c)}' for c in sorted(set(codes)))})")
    if ratios:
        print(f"timed group's median time ratio current/baseline over the reruns: min {min(ratios):.3f}  "
              f"median {statistics.median(ratios):.3f}  max {max(ratios):.3f}")
    print(f"planted 2x slowdown: exit {slow_code} (must be 1), timed ratio {timed_ratio(slow_doc)}")
    for f in failed(slow_doc)[:3]:
        print(f"    {f}")
    print(f"planted change in updates to target (eta x 0.5): exit {utt_code} (must be 1); "
          f"{sum(c['rule'].startswith('updates_to_target') and c['outcome'] == 'REGRESSION' for c in utt_doc['checks'])}"
          " updates_to_target checks failed")
    print(f"total {time.perf_counter() - t0:.0f} s")
    ok = passes == a.runs and slow_code == 1 and utt_code == 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
