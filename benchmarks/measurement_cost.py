"""What measuring costs: wall time next to measured time for every plugin (issue 17).

Each registered plugin runs once on its tour-sized workload (the tour's logistic regression for the
linear plugins, its digits MLP for the network plugins; cocoa on ridge) and, with ``--resnet``, the
torch plugins on the small residual CNN of the issue (cifar-synth). Printed per run: the measured
time (the algorithm's clock at its last point), the evaluation time (the monitor's paused time,
``info['eval_seconds']``), the rest (start-up: imports, launching ranks, JIT, data), the wall time,
and wall / measured. Target: wall / measured <= 2 for runs of >= 10 s measured (``--budget
epochs=...`` sizes them; the default is short, for this 2-core machine, where start-up dominates).

    python benchmarks/measurement_cost.py                           # every plugin, short
    python benchmarks/measurement_cost.py --only clars-torch,ddg-sim --resnet --n-train 1024
    python benchmarks/measurement_cost.py --budget seconds=20 --resnet --device cuda   # a GPU machine
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LINEAR = {"n": 4000, "d": 40, "cond": 10.0, "lam": 1e-2}          # suites/tour.toml's defaults
MLP = {"depth": 2, "width": 32}                                     # the tour's torch runs
# the resnet example (n_train = 4096, width = 64, depth = 4, b = 1024 on the GPU machine)
RESNET = {"data": "cifar-synth", "width": 64, "depth": 4}
PARAMS = {  # the tour's settings where it has some; otherwise the plugin's defaults
    "asysvrg-threads": {"eta": 0.5}, "asysvrg-sim": {"eta": 0.5}, "asysvrg-mpi": {"eta": 0.05, "b": 4},
    "asysvrg-ps-sim": {"eta": 0.05, "b": 4}, "svrg-serial": {"eta": 0.5}, "sgd-serial": {"eta": 0.5},
}


def workload_of(spec) -> tuple[str, dict]:
    if "network" in spec.kinds:
        return "mlp", dict(MLP)
    return ("ridge" if spec.family == "cocoa" else "logreg"), dict(LINEAR)


def one(name: str, workload: str, wparams: dict, params: dict, workers: int, budget: str, options: dict):
    from harness.monitor import Budget, Schedule
    from harness.runner import RunSpec, execute

    rec = execute(RunSpec(name, workload, params, wparams, workers, 0, Budget.parse(budget),
                          schedule=Schedule(ratio=2.0), options={"timeout_s": 900, **options}))
    measured = rec.points[-1]["time_s"] if rec.points else float("nan")
    ev = float(rec.info.get("eval_seconds") or 0.0)
    return rec.status, measured, ev, rec.wall_s


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget", default="epochs=2", help="per run (e.g. epochs=20, seconds=10)")
    ap.add_argument("--only", default="", help="comma-separated plugin names (default: all)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--resnet", action="store_true", help="also the torch plugins on the small residual CNN")
    ap.add_argument("--n-train", type=int, default=512, help="resnet training samples")
    ap.add_argument("--b", type=int, default=128, help="resnet batch")
    ap.add_argument("--device", default="", help="torch device option (cuda on a GPU machine)")
    a = ap.parse_args(argv)
    from harness.registry import plugins

    reg = plugins()
    names = [x for x in a.only.split(",") if x] or reg.names()
    options = {"device": a.device} if a.device else {}
    print(f"budget {a.budget}; seconds (measured = the algorithm's clock; eval = the monitor's paused time; "
          "other = start-up, launch, JIT, data)")
    print(f"{'plugin':28s} {'workload':8s} {'W':>2s} {'status':8s} {'measured':>9s} {'eval':>8s} {'other':>8s} "
          f"{'wall':>8s} {'wall/measured':>14s}", flush=True)

    def show(name, wl, w, status, measured, ev, wall):        # each row as soon as it is measured
        ratio = wall / measured if measured and measured > 0 else float("inf")
        print(f"{name:28s} {wl:8s} {w:>2d} {status:8s} {measured:9.3f} {ev:8.3f} {wall - measured - ev:8.3f} "
              f"{wall:8.3f} {ratio:14.1f}", flush=True)

    for name in names:
        spec = reg.get(name)
        workers = 1 if spec.max_workers == 1 else a.workers
        wl, wp = workload_of(spec)
        show(name, wl, workers, *one(name, wl, wp, dict(PARAMS.get(name, {})), workers, a.budget,
                                     options if spec.backend in ("torch", "sim", "serial") else {}))
        if a.resnet and "network" in spec.kinds and spec.family in ("mnag", "lars", "clars", "ddg", "bp", "fr"):
            wp = {**RESNET, "n_train": a.n_train}
            params = {"b": a.b} | ({"measure": "off"} if spec.family in ("mnag", "lars", "clars") else {})
            show(name, "resnet", workers, *one(name, "resnet", wp, params, workers, a.budget, options))
    return 0


if __name__ == "__main__":
    sys.exit(main())
