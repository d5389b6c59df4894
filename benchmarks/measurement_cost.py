"""What measuring costs: wall time next to measured time for every plugin (issue 17).

Each registered plugin runs on its tour-sized workload (the tour's logistic regression for the
linear plugins, its digits MLP for the network plugins; cocoa on ridge) and, with ``--resnet``, the
network plugins of the large-batch and decoupled-backprop families on the small residual CNN of the
issue (cifar-synth), every run with the plugin's default measurements and the runner's default
snapshot schedule (what a user gets). Printed per configuration, over ``--repeats`` runs: the
measured time (the algorithm's clock at its last point), the evaluation time (the monitor's paused
time, ``info['eval_seconds']``), the rest (start-up: imports, launching ranks, JIT, data; the
end-of-run summary), the wall time, the points taken, the updates and epochs at the last point
(medians), and wall / measured as min / median / max. Seconds print to 3 significant digits (a
run of 0.2 ms is not '0.000'), and a run measured under ``SHORT_S`` gets a note saying what its
budget bought: an epoch is n samples read, so an SVRG-family plugin's full-gradient pass (its
snapshot, n samples) is a whole epoch and ``--budget epochs=1`` ends it after one inner update.

Target: wall / measured <= 2 for runs of >= 10 s measured. ``--plan`` picks the monitor's evaluation
plan (``harness._core.evalplan``): ``on`` (the default, what a user gets), ``off`` (every point on the
workload's whole evaluation subset, the schedule as it is: the behaviour before the plan) or ``both``
(each configuration both ways, after an unmeasured warm-up, interleaved repeat by repeat in
alternating order, the two rows side by side with the change of the median). ``--example`` runs issue 28's example instead: ddg-sim with K = 2 modules on
the residual CNN (cifar-synth, n_train = 1024, the command line's defaults otherwise: width 64,
depth 2, b = 32) at ``--budget updates=40`` (target wall / measured <= 3) and ``seconds=10``
(target <= 2), judged whatever it measured. ``--budget seconds=10`` sizes every run
to about 10 s of measured time (a run stops at the first tick past it, so its last chunk may
overshoot it a little); the verdict column says ``met`` / ``MISSED`` for runs whose
shortest repeat measured >= ``--min-measured`` seconds and ``short`` otherwise (start-up dominates a
short run, so it is not judged).

    python benchmarks/measurement_cost.py                                    # every plugin, short
    python benchmarks/measurement_cost.py --only ddg-sim,clars-serial --budget seconds=10 --repeats 3
    python benchmarks/measurement_cost.py --only clars-torch,ddg-sim --resnet-only --n-train 1024 --budget seconds=10
    python benchmarks/measurement_cost.py --budget seconds=20 --resnet --device cuda   # a GPU machine
    python benchmarks/measurement_cost.py --example --plan both --repeats 3        # issue 28: before / after
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LINEAR = {"n": 4000, "d": 40, "cond": 10.0, "lam": 1e-2}          # suites/tour.toml's defaults
MLP = {"depth": 2, "width": 32}                                     # the tour's torch runs
# the resnet example (n_train = 4096, width = 64, depth = 4, b = 1024 on the GPU machine)
RESNET = {"data": "cifar-synth", "width": 64, "depth": 4}
RESNET_FAMILIES = ("mnag", "lars", "clars", "ddg", "bp", "fr")
PARAMS = {  # the tour's settings where it has some; otherwise the plugin's defaults
    "asysvrg-threads": {"eta": 0.5}, "asysvrg-sim": {"eta": 0.5}, "asysvrg-mpi": {"eta": 0.05, "b": 4},
    "asysvrg-ps-sim": {"eta": 0.05, "b": 4}, "svrg-serial": {"eta": 0.5}, "sgd-serial": {"eta": 0.5},
}


def workload_of(spec) -> tuple[str, dict]:
    if "network" in spec.kinds:
        return "mlp", dict(MLP)
    return ("ridge" if spec.family == "cocoa" else "logreg"), dict(LINEAR)


SHORT_S = 0.01  # a run measured under this gets a note on what its budget bought
FULL_GRADIENT_FAMILIES = ("svrg", "asysvrg")  # each outer epoch starts with a full gradient (n samples)


EXAMPLE = ("ddg-sim", "resnet", {"data": "cifar-synth", "n_train": 1024}, 2)   # issue 28's example
EXAMPLE_BUDGETS = (("updates=40", 3.0), ("seconds=10", 2.0))                     # (budget, target wall/measured)


def one(name: str, workload: str, wparams: dict, params: dict, workers: int, budget: str, options: dict,
        plan: bool = True):
    """One run: (status, measured s, eval s, wall s, points, updates, epochs at the last point, reason,
    evaluation subset). ``plan``: the monitor's evaluation plan on (off: the behaviour before it)."""
    from harness._core.monitor import Budget, Schedule
    from harness.run.runner import RunSpec, execute

    rec = execute(RunSpec(name, workload, params, wparams, workers, 0, Budget.parse(budget),
                          schedule=Schedule(eval_plan=plan), options={"timeout_s": 900, **options}))
    measured = rec.points[-1]["time_s"] if rec.points else float("nan")
    ev = float(rec.info.get("eval_seconds") or 0.0)
    last = rec.points[-1] if rec.points else {}
    epochs = last.get("epochs")
    subset = (rec.info.get("eval_plan") or {}).get("eval_n")
    startup = rec.info.get("startup_s")
    return (rec.status, measured, ev, rec.wall_s, len(rec.points), last.get("updates", 0),
            float("nan") if epochs is None else epochs, rec.reason, float("nan") if subset is None else subset,
            float("nan") if startup is None else startup)


def short_note(name: str, family: str, budget: str, measured: float, updates: float, epochs: float) -> str:
    """Why a run measured almost nothing: what its budget bought (updates, epochs: samples / n)."""
    why = (f"{name} measured {measured:.3g} s: the budget {budget} ended it after {updates:.0f} update(s) and "
           f"{epochs:.3g} epoch(s) (an epoch is n samples read")
    if "epochs" in budget and family in FULL_GRADIENT_FAMILIES:
        why += ("; its full-gradient pass (the SVRG snapshot) reads n samples without an update: a whole epoch, "
                "so epochs=1 ends after the first inner update")
    return why + "); give a larger budget (e.g. seconds=10) to measure it"


def legend(budget: str, min_measured: float) -> str:
    """The one line under the table that says what each verdict means."""
    text = (f"verdict: met = wall/measured <= 2 at every repeat; MISSED = above 2 at some repeat; short = "
            f"its shortest repeat measured under {min_measured:g} s (--min-measured), not judged: start-up "
            f"dominates a short run")
    if "seconds" in budget:
        text += ("; under a seconds budget a run stops at the first tick past it, so it may measure a "
                 "little more (its last chunk)")
    return text


def check_device(device: str) -> str | None:
    """None if the torch device option can run here, else why not (CUDA asked for, none present)."""
    if device in ("", "cpu"):
        return None
    from harness._core.errors import UserError
    from harness.plugins.launchers.torch_dist import local_device

    try:
        local_device(device)
    except UserError as exc:
        return str(exc)
    return None


def workers_of(spec, asked: int, device: str) -> int:
    """The workers a plugin runs with here: 1 for a one-process plugin; under ``--device cuda`` a
    plugin of torch.distributed ranks takes one GPU per rank, so at most this machine's CUDA device
    count (a one-GPU machine runs ``*-torch`` with W = 1; asking for 2 was exit 2 at the first row);
    else ``asked``."""
    if spec.max_workers == 1:
        return 1
    if device == "cuda" and spec.backend == "torch":
        import torch

        return max(1, min(asked, torch.cuda.device_count()))
    return asked


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget", default="epochs=2", help="per run (e.g. seconds=10 for the target's size, epochs=20)")
    ap.add_argument("--only", default="", help="comma-separated plugin names (default: all)")
    ap.add_argument("--workers", type=int, default=2,
                    help="workers of the multi-worker plugins (with --device cuda: at most one torch rank per GPU)")
    ap.add_argument("--repeats", type=int, default=1, help="runs per configuration (min / median / max)")
    ap.add_argument("--resnet", action="store_true", help="also the network plugins on the small residual CNN")
    ap.add_argument("--resnet-only", action="store_true", help="only the residual CNN runs")
    ap.add_argument("--n-train", type=int, default=512, help="resnet training samples")
    ap.add_argument("--b", type=int, default=128, help="resnet batch")
    ap.add_argument("--min-measured", type=float, default=10.0, help="judge the target only for runs this long")
    ap.add_argument("--device", default="", help="torch device option (cuda on a GPU machine)")
    ap.add_argument("--plan", choices=("on", "off", "both"), default="on",
                    help="the evaluation plan: on (default), off (the behaviour before it), both (side by side)")
    ap.add_argument("--example", action="store_true",
                    help="issue 28's example: ddg-sim K=2 on resnet (cifar-synth, n_train 1024) at updates=40 "
                         "and seconds=10")
    a = ap.parse_args(argv)
    why = check_device(a.device)
    if why:
        print(f"measurement_cost: error: {why}", file=sys.stderr)
        return 2
    from harness._core.registry import plugins

    reg = plugins()
    names = [x for x in a.only.split(",") if x] or reg.names()
    unknown = [x for x in names if x not in reg.names()]
    if unknown:
        print(f"measurement_cost: error: unknown plugin(s) {', '.join(unknown)}", file=sys.stderr)
        return 2
    options = {"device": a.device} if a.device else {}
    plans = {"on": (True,), "off": (False,), "both": (False, True)}[a.plan]
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    budgets = ", ".join(b for b, _ in EXAMPLE_BUDGETS) if a.example else a.budget
    print(f"budget {budgets}, {a.repeats} repeat(s), evaluation plan {a.plan}, load average {load[0]:.2f} "
          f"{load[1]:.2f} {load[2]:.2f}; seconds, medians (measured = the algorithm's clock; eval = the monitor's "
          f"paused time; other = the run's wall less both (launch, JIT, summary); start = from the run's "
          f"beginning to its clock's start (info['startup_s']: data, set-up; wall counts only its last part); subset = the samples each point "
          f"was evaluated on); target wall/measured " +
          (", ".join(f"<= {t:g} at {b}" for b, t in EXAMPLE_BUDGETS) if a.example else
           f"<= 2 where measured >= {a.min_measured:g} s"))
    head = (f"{'plugin':25s} {'workload':8s} {'W':>2s} {'status':8s} {'measured':>9s} {'eval':>8s} {'other':>8s} "
            f"{'wall':>8s} {'points':>6s} {'updates':>8s} {'epochs':>6s} {'subset':>6s} {'plan':>4s} {'start':>6s}  "
            f"{'wall/measured min/median/max':>28s}  verdict")
    if not a.example:
        print(head, flush=True)

    errors = []

    def row(name, family, wl, w, budget, plan, runs, target=None):   # each row as soon as it is measured
        """Print one configuration's row; ``target``: judged against it whatever was measured (else
        the default rule). Returns the median wall / measured."""
        errors.extend(f"{name} on {wl}: {r[7]}" for r in runs if r[0] == "error")
        status = ",".join(sorted({r[0] for r in runs}))
        meas, ev, wall, pts, upd, ep, sub, start = (np.array([r[i] for r in runs], dtype=float)
                                                    for i in (1, 2, 3, 4, 5, 6, 8, 9))
        ratio = np.where(meas > 0, wall / np.where(meas > 0, meas, 1.0), np.inf)
        other = wall - meas - ev
        if target is not None:
            verdict = "met" if np.max(ratio) <= target else "MISSED"
        else:
            verdict = ("short" if not np.nanmin(meas) >= a.min_measured else
                       "met" if np.max(ratio) <= 2.0 else "MISSED")
        spread = f"{np.min(ratio):.2f} / {np.median(ratio):.2f} / {np.max(ratio):.2f}"
        subset = "-" if np.all(np.isnan(sub)) else f"{np.nanmedian(sub):.0f}"
        print(f"{name:25s} {wl:8s} {w:>2d} {status:8s} {np.median(meas):9.3g} {np.median(ev):8.3g} "
              f"{np.median(other):8.3g} {np.median(wall):8.3g} {np.median(pts):6.0f} {np.median(upd):8.0f} "
              f"{np.median(ep):6.3g} {subset:>6s} {'on' if plan else 'off':>4s} {np.median(start):6.3g}  {spread:>28s}  "
              f"{verdict}", flush=True)
        if np.median(meas) < SHORT_S:
            print(f"  note: {short_note(name, family, budget, *(np.median(x) for x in (meas, upd, ep)))}", flush=True)
        return float(np.median(ratio))

    def measure(name, family, wl, wp, params, workers, budget, opts, target=None):
        """Every plan asked for, interleaved repeat by repeat; then the rows and, for both, the change."""
        runs: dict[bool, list] = {p: [] for p in plans}
        if len(plans) == 2:   # a warm-up first (JIT, torch's first calls): not the first plan's bill
            one(name, wl, wp, dict(params), workers, "updates=2", opts, True)
        for k in range(a.repeats):
            for plan in (plans if k % 2 == 0 else plans[::-1]):   # alternating, so drift in load is shared
                runs[plan].append(one(name, wl, wp, dict(params), workers, budget, opts, plan))
        med = {plan: row(name, family, wl, workers, budget, plan, runs[plan], target) for plan in plans}
        if len(plans) == 2:
            print(f"  {name} on {wl}, {budget}: wall/measured {med[False]:.2f} (plan off) -> {med[True]:.2f} (plan on), "
                  f"{med[False] / med[True]:.1f}x less", flush=True)

    if a.example:
        name, wl, wp, workers = EXAMPLE
        spec = reg.get(name)
        for budget, target in EXAMPLE_BUDGETS:
            print(f"== {name} K={workers} on {wl} {wp}, budget {budget}: target wall/measured <= {target:g}", flush=True)
            print(head, flush=True)
            measure(name, spec.family, wl, wp, {}, workers, budget, options, target)
    for name in ([] if a.example else names):
        spec = reg.get(name)
        workers = workers_of(spec, a.workers, a.device)
        opts = options if "torch" in spec.needs else {}      # device=cuda is a torch option
        if not a.resnet_only:
            wl, wp = workload_of(spec)
            measure(name, spec.family, wl, wp, PARAMS.get(name, {}), workers, a.budget, opts)
        if (a.resnet or a.resnet_only) and "network" in spec.kinds and spec.family in RESNET_FAMILIES:
            measure(name, spec.family, "resnet", {**RESNET, "n_train": a.n_train}, {"b": a.b}, workers, a.budget, opts)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
    print(legend(budgets, a.min_measured) if not a.example else
          "verdict: met = wall/measured within the example's target at every repeat; MISSED = above it at some repeat",
          flush=True)
    for e in errors:                               # the table is whole; the exit status says a run failed
        print(f"error: {e}", flush=True)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
