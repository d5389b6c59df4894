"""The trajectory audit's figures on a fixed set of deterministic runs, as JSON, to compare two
versions of the search (harness.run.trajectory): every figure but ``seconds`` (and the runner's
``clock``) is a function of the run's iterates and the search's order, so a change that only makes
the search cheaper must leave them identical.

    python benchmarks/audit_figures.py OUT.json            # write the figures (and each audit's seconds)
    python benchmarks/audit_figures.py OUT.json --compare BEFORE.json   # and say which differ

Runs: the README tour's sgd-serial / svrg-serial on logreg (b = 4, eta = 0.5, 20 epochs, seed 0), and
short serial and simulator runs on ridge (n = 200, d = 10, 3000 updates, 4 workers where allowed),
sgd-serial b = 8 on ridge n = 2000, d = 100 (sparse recovery), and check-plugin's every-update audit run
(``delay_audit``) at two fixed seeds per plugin. Threads plugins are left out (their iterates depend on
the scheduler).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RIDGE = {"n": 200, "d": 10}
CASES = [
    ("tour sgd b=4", "sgd-serial", "logreg", {"b": 4, "eta": 0.5}, {}, 1, {"epochs": 20}),
    ("tour svrg b=4", "svrg-serial", "logreg", {"b": 4, "eta": 0.5}, {}, 1, {"epochs": 20}),
    ("sgd b=1", "sgd-serial", "ridge", {"eta": 0.05, "b": 1}, RIDGE, 1, {"updates": 3000}),
    ("sgd b=3", "sgd-serial", "ridge", {"eta": 0.05, "b": 3}, RIDGE, 1, {"updates": 3000}),
    ("svrg b=1", "svrg-serial", "ridge", {"eta": 0.01, "b": 1, "m": 20}, RIDGE, 1, {"updates": 3000}),
    ("asgd-sim M=4", "asgd-sim", "ridge", {"eta": 0.05, "M": 4}, RIDGE, 4, {"updates": 3000}),
    ("asysgd-sim", "asysgd-sim", "ridge", {}, RIDGE, 4, {"updates": 3000}),
    ("asysvrg-sim", "asysvrg-sim", "ridge", {}, RIDGE, 4, {"updates": 3000}),
    ("asysvrg-ps-sim", "asysvrg-ps-sim", "ridge", {}, RIDGE, 4, {"updates": 3000}),
    ("growing-batch-sim", "growing-batch-sim", "ridge", {}, RIDGE, 4, {"updates": 3000}),
    ("sgd b=8 sparse", "sgd-serial", "ridge", {"eta": 0.005, "b": 8}, {"n": 2000, "d": 100}, 1, {"updates": 3000}),
]
EVERY = ["sgd-serial", "svrg-serial", "asgd-sim", "asysgd-sim", "asysvrg-sim", "asysvrg-ps-sim", "growing-batch-sim"]
SEEDS = [1, 2]


def figures(a: dict) -> dict:
    return {k: v for k, v in a.items() if k not in ("seconds", "clock")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--compare", default=None)
    ap.add_argument("--only", default=None, help="run only the cases whose name contains this")
    args = ap.parse_args(argv)
    from harness._core.monitor import Budget
    from harness._core.registry import plugins
    from harness.analysis import contract
    from harness.run.runner import RunSpec, execute

    out: dict[str, dict] = {}
    seconds: dict[str, float] = {}
    for name, plugin, wl, params, wparams, workers, budget in CASES:
        if args.only and args.only not in name:
            continue
        rec = execute(RunSpec(plugin, wl, params, wparams, workers=workers, seed=0, budget=Budget(**budget)))
        a = rec.info["audit"]
        out[name], seconds[name] = figures(a), a.get("seconds", 0.0)
        print(f"{name:24s} {a.get('status'):10s} {a.get('explained')}/{a.get('tried')}/{a.get('observed')} "
              f"work {a.get('work')} {a.get('seconds')} s {a.get('reason', '')[:90]}", flush=True)
    for plugin in EVERY:
        for seed in SEEDS:
            name = f"check-plugin {plugin} seed {seed}"
            if args.only and args.only not in name:
                continue
            captured = {}
            keep = contract.trajectory_findings if hasattr(contract, "trajectory_findings") else None
            import harness.theory.audit as ta
            real = ta.trajectory_findings

            def spy(run, *a, **k):
                captured["audit"] = (run.info or {}).get("audit")
                return real(run, *a, **k)

            ta.trajectory_findings = spy
            try:
                t = time.perf_counter()
                check, ok, msg = contract.delay_audit(plugins().get(plugin), seed=seed)
            finally:
                ta.trajectory_findings = real
            a = captured.get("audit") or {}
            out[name], seconds[name] = {**figures(a), "check": [ok, msg]}, a.get("seconds", 0.0)
            print(f"{name:34s} {ok} {a.get('status')} {a.get('explained')}/{a.get('tried')}/{a.get('observed')} "
                  f"work {a.get('work')} {a.get('seconds')} s {msg[:100]}", flush=True)
    Path(args.out).write_text(json.dumps({"figures": out, "seconds": seconds}, indent=1, sort_keys=True))
    if args.compare:
        before = json.loads(Path(args.compare).read_text())
        diff = 0
        for name, f in out.items():
            g = before["figures"].get(name)
            if g is None:
                continue
            keys = sorted(k for k in set(f) | set(g) if f.get(k) != g.get(k))
            if keys:
                diff += 1
                print(f"DIFF {name}: " + "; ".join(f"{k}: {g.get(k)!r} -> {f.get(k)!r}" for k in keys))
            print(f"  {name:34s} seconds {before['seconds'].get(name)} -> {seconds[name]}")
        print(f"{diff} of {len(out)} runs differ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
