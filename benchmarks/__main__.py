"""``python -m benchmarks``: every side-by-side benchmark in a short mode, one performance table.

Runs, each measured ``--repeats`` times interleaved with its anchor (the same load on both sides):

- the monitor's cost: measured time / a bare loop (``monitor_overhead.py``)          target <= 1.02
- hogwild-threads, 1 thread, per-update throughput / scikit-learn's ``SGDClassifier``, sparse and
  dense, by CPU time and by wall clock (``threads_vs_sklearn.py`` (a))               target >= 1.5
- asysvrg-threads (2 threads) time to 1e-6 / scikit-learn's best ``LogisticRegression`` fit on
  the three problems of ``threads_vs_sklearn.py`` (c), each side the time of its cheapest run that
  gets there, at b = 1 and at the mini-batch b = 8 (one step-size rule)  target <= 1, <= 1, <= 2
- beside benchopt 1.10 (``benchopt_side_by_side.py``, b; benchopt in its own venv, built on first use,
  the part skipped with the reason where it cannot be): the same SGD and SVRG curves on logreg
  n = 200000, the whole ``harness run`` / ``benchopt run`` wall and CPU time     target <= 1
  and the b = 1 kernels' CPU time / a plain numba loop                           target <= 1.1
- what measuring costs (``measurement_cost.py --example``, e): ddg-sim with K = 2 on the residual
  CNN (cifar-synth, n_train = 1024), the run's wall time / its measured time, the evaluation plan on,
  at ``--budget updates=40``                                                     target <= 3
  and ``--budget seconds=10``                                                    target <= 2

and writes one Markdown table (measure, anchor, ratio min / median / max, target, met?) and the same
as JSON, with the date, the machine and its load average before and after. ``--readme`` puts the
table into README.md between the ``perf-table`` markers. A ratio measured while the load average
exceeded the cores is marked: on a shared machine a wall-clock ratio then says more about the
neighbours than about the code (the CPU-time ratio less so).

    python -m benchmarks [--repeats 3] [--out benchmarks/results] [--readme] [--skip cbe]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MARK_BEGIN, MARK_END = "<!-- perf-table:begin (python -m benchmarks --readme) -->", "<!-- perf-table:end -->"


def _row(measure, anchor, ratios, target, higher_is_better, load, clock="wall"):
    r = np.asarray(ratios, dtype=float)
    med = float(np.median(r))
    met = med >= target if higher_is_better else med <= target
    return {"measure": measure, "anchor": anchor, "min": float(r.min()), "median": med, "max": float(r.max()),
            "target": f"{'>=' if higher_is_better else '<='} {target:g}", "met": bool(met), "load": load,
            "clock": clock, "repeats": len(r)}


def _load() -> float:
    return round(os.getloadavg()[0], 1)


def run(repeats: int, skip: str) -> dict:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from threadpoolctl import threadpool_limits

    from benchmarks import monitor_overhead as mo
    from benchmarks import threads_vs_sklearn as tvs

    rows, start = [], time.time()
    load0 = _load()
    with threadpool_limits(limits=1):
        if "m" not in skip:
            load = _load()
            # 10 epochs: ~25 ms now; 40 epochs: the 0.1 s run issue 28 measured (10 epochs took 0.1 s then)
            for epochs in (10.0, 40.0):
                res = mo.measure(repeats=max(repeats, 9), epochs=epochs)
                rows.append(_row(f"monitor: measured time, SGD {epochs:.0f} epochs (logreg 20000 x 100, "
                                 f"{res['points']} points)", "the same loop, bare", res["measured"], 1.02, False, load))
                load = _load()
        if "a" not in skip:
            load = _load()
            for name, wall, cpu in tvs.part_a(repeats, 5, eta=0.1):
                rows.append(_row(f"hogwild-threads 1 thread, updates per CPU s ({name})", "SGDClassifier", cpu,
                                 1.5, True, load, clock="cpu"))
                rows.append(_row(f"hogwild-threads 1 thread, updates per wall s ({name})", "SGDClassifier", wall,
                                 1.5, True, load))
    if "c" not in skip:
        load = _load()
        for name, b, ratios in tvs.part_c(repeats, tvs.CASES_C):
            rows.append(_row(f"asysvrg-threads 2 threads b={b}, time to 1e-6 of its cheapest run ({name})",
                             "scikit-learn's best LogisticRegression", ratios, tvs.C_TARGETS[name], False, load))
    notes: list[str] = []
    if "b" not in skip:
        rows += _benchopt_rows(repeats, notes)
    if "e" not in skip:
        rows += _evaluation_rows(repeats)
    return {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
            f"{platform.processor() or platform.platform()}", "cores": os.cpu_count(), "load_start": load0,
            "load_end": _load(), "seconds": round(time.time() - start, 1), "repeats": repeats, "rows": rows,
            "notes": notes}


def _benchopt_rows(repeats: int, notes: list[str]) -> list[dict]:
    """Part b: ``benchopt_side_by_side.measure`` at n = 200000 (its progress on stderr)."""
    from benchmarks import benchopt_side_by_side as bo

    load = _load()
    res = bo.measure(sizes=(bo.WALL_TARGET_N,), repeats=repeats,
                     log=lambda line: print(line, file=sys.stderr, flush=True))
    rows = []
    for c in res["side_by_side"].values():
        ag = c["agreement"]
        same = "bit for bit" if ag["bit_for_bit"] else f"max rel diff {ag['max_rel_diff']:.2g}"
        what = f"(logreg n={c['n']}, {res['epochs']} epochs, {ag['points']} points; curves {same})"
        for clock in ("wall", "cpu"):
            rows.append(_row(f"{c['alg']}-serial, whole `harness run`, {clock} time {what}",
                             "benchopt 1.10 callback mode, `benchopt run`", c[f"{clock}_ratio"]["values"],
                             bo.WALL_TARGET, False, round(c["load"]["median"], 1), clock=clock))
    for alg in ("sgd", "svrg"):
        k = res["kernel"][alg]
        rows.append(_row(f"{alg} b = 1 kernel, CPU time (logreg n={res['kernel']['n']}, same draws)",
                         "a plain numba b = 1 loop", k["ratio"]["values"], bo.KERNEL_TARGET, False, load, clock="cpu"))
    if res["skipped"]:
        notes.append(f"benchopt side by side not run: {res['skipped']}")
    notes += [f"`svrg-serial --budget epochs={res['epochs']}` at n = {n} stopped at {ep:.2f} epochs"
              for n, ep in res["epochs_check"].items()]
    return rows


def _evaluation_rows(repeats: int) -> list[dict]:
    """Part e: issue 28's residual-network example (``measurement_cost.EXAMPLE``), the evaluation plan
    on, after an unmeasured warm-up: the run's wall time / its measured time at each budget."""
    from benchmarks import measurement_cost as mc

    name, wl, wp, workers = mc.EXAMPLE
    mc.one(name, wl, wp, {}, workers, "updates=2", {}, True)
    rows = []
    for budget, target in mc.EXAMPLE_BUDGETS:
        load = _load()
        runs = [mc.one(name, wl, wp, {}, workers, budget, {}, True) for _ in range(repeats)]
        rows.append(_row(f"{name} K={workers} on {wl} (cifar-synth, n_train 1024), --budget {budget}: the run's wall "
                         f"time (evaluated on {runs[0][8]:.0f} samples, {runs[0][4]} points)", "its measured time",
                         [r[3] / r[1] for r in runs], target, False, load))
    return rows


def markdown(res: dict) -> str:
    cores = res["cores"] or 1
    lines = [f"Measured {res['date']} on {res['machine']}; load average {res['load_start']} at the start, "
             f"{res['load_end']} at the end; {res['repeats']} interleaved repeats per figure "
             f"({res['seconds']:.0f} s in all, `python -m benchmarks`).", "",
             "| measure | anchor | ratio min / median / max | target | met? | load |", "|---|---|---|---|---|---|"]
    for r in res["rows"]:
        met = "yes" if r["met"] else "no"
        if r["clock"] == "wall" and r["load"] > cores:   # the neighbours' share is in a wall-clock ratio
            met += " (not judged: load above the cores)"
        lines.append(f"| {r['measure']} | {r['anchor']} | {r['min']:.3g} / {r['median']:.3g} / {r['max']:.3g} | "
                     f"{r['target']} | {met} | {r['load']} |")
    lines += [f"\n{note}" for note in res.get("notes", [])]
    return "\n".join(lines) + "\n"


def put_in_readme(md: str, readme: Path) -> None:
    text = readme.read_text()
    if MARK_BEGIN in text and MARK_END in text:
        head, rest = text.split(MARK_BEGIN, 1)
        tail = rest.split(MARK_END, 1)[1]
        text = f"{head}{MARK_BEGIN}\n{md}{MARK_END}{tail}"
    else:
        raise SystemExit(f"{readme}: no '{MARK_BEGIN}' ... '{MARK_END}' markers to put the table between")
    readme.write_text(text)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"), help="folder for performance.md / .json")
    ap.add_argument("--readme", action="store_true", help="also put the table into README.md")
    ap.add_argument("--skip", default="", help="letters of the parts to leave out: m (monitor), a, c, b (benchopt), "
                                                   "e (evaluation cost)")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        print("python -m benchmarks: error: --repeats must be at least 1", file=sys.stderr)
        return 2
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    res = run(args.repeats, args.skip)
    md = markdown(res)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "performance.md").write_text(md)
    (out / "performance.json").write_text(json.dumps(res, indent=1))
    print(md)
    if args.readme:
        put_in_readme(md, ROOT / "README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
