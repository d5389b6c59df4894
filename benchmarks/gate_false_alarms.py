"""How often the CI gate cries wolf, and whether it catches what it must.

Saves a baseline of ``suites/gate.toml`` here (on this machine, now; ``--baseline FILE`` judges
against a given one instead), then reruns the gate (the rules of ``.ci/run`` plus
``time_to_target:50%``) N times on unchanged code, then once with a planted 2x slowdown
(``HARNESS_PLANT=slowdown=2``: the monitor's clock runs twice as fast) and once with a planted
change in updates to target (``HARNESS_PLANT=eta=0.5``: the step size a plugin receives is halved).
``--busy K`` runs it all beside K busy loops (CPU spinners, one process each). Prints each rerun's
exit code and the timed group's ratio, then a table: the reruns that passed, the timed group's
median time ratio (min / median / max over the reruns), its time to target in the baseline (the
group must stay above the gate's floor, :data:`harness.gate.MIN_TIMED_S`, on the machine that
judges it), the size the baseline chose for it on this machine (``size = {...}`` in the suite:
:mod:`harness.run.sizing`; every rerun runs that size), the machine's load average through the
reruns, and the two planted regressions' exit codes. Everything runs in this process (the kernels
compile once); the temporary store and baseline are removed at the end.

    python benchmarks/gate_false_alarms.py              # 20 reruns
    python benchmarks/gate_false_alarms.py --busy 2     # the same beside two busy loops
    python benchmarks/gate_false_alarms.py --runs 5 --baseline suites/gate-baseline.json
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RULES = ("updates_to_target:0%", "final_subopt:2x", "theory:no-violation", "theory:no-regression",
         "time_to_target:50%")


def harness(*args: str, plant: str = "") -> tuple[int, str]:
    from harness._core import registry
    from harness.cli import main

    os.environ["HARNESS_PLANT"] = plant
    registry._cache.clear()
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(list(args))
    os.environ.pop("HARNESS_PLANT", None)
    return code, out.getvalue()


def gate(suite: str, baseline: str, plant: str = "") -> tuple[int, dict]:
    args = ["gate", suite, "--baseline", baseline, "--json", "-q"]
    for r in RULES:
        args += ["--fail", r]
    code, out = harness(*args, plant=plant)
    return code, json.loads(out)


def timed_check(doc: dict) -> dict | None:
    for c in doc["checks"]:
        if c["rule"].startswith("time_to_target") and c["outcome"] != "not judged":
            return c
    return None


def timed_ratio(doc: dict) -> float | None:
    c = timed_check(doc)
    return None if c is None else c["ratio"]


def p_value(check: dict | None) -> float | None:
    """The one-sided p-value the gate's 'how' reports for a time check (Mann-Whitney p=...)."""
    m = re.search(r"\bp=([0-9.eE+-]+)", (check or {}).get("how", ""))
    return float(m.group(1)) if m else None


def sizing(path: str) -> str:
    """The timed group's size as the baseline chose it here, with the probes."""
    from harness.analysis.compare import load_export

    sized = load_export(path).meta.get("sized") or []
    return "; ".join(f"{d['param']}={d['value']} (probed " + ", ".join(f"{v}: {t * 1e3:.0f} ms" for v, t in d["probes"])
                     + f"; window {d['window_s'][0]:g}-{d['window_s'][1]:g} s)" for d in sized) or "not sized"


def failed(doc: dict) -> list[str]:
    return [f"{c['rule']} {c['group'][:60]}: {c['outcome']} {c['ratio']:.3g}x ({c['how'][:80]})"
            for c in doc["checks"] if c["outcome"] in ("REGRESSION", "VIOLATION")] + doc["problems"]


def baseline_times(path: str) -> list[tuple[float, float]]:
    """(wall, CPU) seconds to target of the baseline's runs in groups of 5 or more seeds (the timed group)."""
    from harness.analysis.compare import load_export
    from harness.run.metrics import run_metrics

    recs = load_export(path).records
    groups: dict[str, list[tuple[float, float]]] = {}
    for r in recs:
        key = json.dumps([r.plugin, r.workload, r.workload_params, r.params], sort_keys=True, default=str)
        cpu = (r.info or {}).get("cpu_to_target_s")
        groups.setdefault(key, []).append((run_metrics(r)["time_to_target"], float("nan") if cpu is None else cpu))
    return next((v for v in groups.values() if len(v) >= 5), [])


def spread(values: list[float]) -> str:
    return f"{min(values) * 1e3:.0f} / {statistics.median(values) * 1e3:.0f} / {max(values) * 1e3:.0f} ms"


@contextlib.contextmanager
def busy_loops(k: int):
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(k)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait(timeout=10)


def main() -> int:
    from harness.analysis.gate import MIN_TIMED_S

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--suite", default=str(ROOT / "suites" / "gate.toml"))
    ap.add_argument("--baseline", default=None, help="judge against this file (default: save one here first)")
    ap.add_argument("--busy", type=int, default=0, help="run beside this many busy loops")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="gate-fa-") as tmp, busy_loops(a.busy):
        os.environ["HARNESS_STORE"] = str(Path(tmp) / "gate.db")
        t0 = time.perf_counter()
        baseline = a.baseline
        if baseline is None:
            baseline = str(Path(tmp) / "baseline.json")
            code, _ = harness("gate", a.suite, "--save-baseline", baseline, "-q")
            if code != 0:
                print(f"saving the baseline here failed: exit {code}")
                return 1
            print(f"baseline saved here in {time.perf_counter() - t0:.0f} s", flush=True)
        codes, ratios, pvals, loads = [], [], [], [os.getloadavg()[0]]
        for k in range(a.runs):
            t = time.perf_counter()
            code, doc = gate(a.suite, baseline)
            codes.append(code)
            r, p = timed_ratio(doc), p_value(timed_check(doc))
            if r is not None:
                ratios.append(r)
            if p is not None:
                pvals.append(p)
            loads.append(os.getloadavg()[0])
            print(f"rerun {k + 1:2d}: exit {code}  timed ratio {r if r is None else f'{r:.3f}'}  p {p}  "
                  f"load {loads[-1]:.1f}  ({time.perf_counter() - t:.1f} s)"
                  + "".join(f"\n    {f}" for f in failed(doc)), flush=True)
        slow_code, slow_doc = gate(a.suite, baseline, "slowdown=2")
        loads.append(os.getloadavg()[0])
        utt_code, utt_doc = gate(a.suite, baseline, "eta=0.5")
        times = baseline_times(baseline)
        size = sizing(baseline)
        total = time.perf_counter() - t0
    passes = codes.count(0)
    slow = timed_check(slow_doc)
    utt_failed = sum(c["rule"].startswith("updates_to_target") and c["outcome"] == "REGRESSION"
                     for c in utt_doc["checks"])
    rows = [
        ("machine", f"{os.cpu_count()} cores, beside {a.busy} busy loops; baseline "
                    f"{'saved here' if a.baseline is None else a.baseline}"),
        ("unchanged code: reruns passed", f"{passes} / {a.runs} (exit codes: "
                                          f"{', '.join(f'{c}: {codes.count(c)}' for c in sorted(set(codes)))})"),
        ("timed group ratio current/baseline", "-" if not ratios else
         f"min {min(ratios):.3f}  median {statistics.median(ratios):.3f}  max {max(ratios):.3f}"),
        ("its p-value (one-sided: slower; faster where 'improved')", "-" if not pvals else
         f"min {min(pvals):.3g}  median {statistics.median(pvals):.3g}  max {max(pvals):.3g}"),
        ("timed group size, chosen here", size),
        ("load average (1 min) through the reruns", f"min {min(loads):.1f}  median {statistics.median(loads):.1f}  "
                                                    f"max {max(loads):.1f} ({os.cpu_count()} cores)"),
        ("timed group to target, baseline (min/med/max)", "-" if not times else
         f"wall {spread([t for t, _ in times])}; CPU {spread([c for _, c in times])} (floor {MIN_TIMED_S * 1e3:.0f} ms)"),
        ("planted 2x slowdown", f"exit {slow_code} (must be 1); timed ratio " +
         ("not judged" if slow is None else f"{slow['ratio']:.2f}x, {slow['outcome']}, {slow['how'][:90]}")),
        ("planted eta x 0.5", f"exit {utt_code} (must be 1); {utt_failed} updates_to_target checks failed"),
        ("total", f"{total:.0f} s"),
    ]
    print()
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    ok = passes == a.runs and slow_code == 1 and utt_code == 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
