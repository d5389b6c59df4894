"""The harness beside benchopt 1.10 (what this field's users would pick instead), issue 28: the same
SGD and SVRG curves (batch 1, constant step) on the same data, from the command line of each tool.

benchopt runs in its own virtual environment, built by this script (``--venv``; default: the
harness's cache folder), with the project's numpy and numba pinned so both sides run the same
compiler; it is no dependency of the project. Its benchmark is ``benchmarks/benchopt_logreg/``: an
objective, a dataset that loads the harness's ``logreg`` arrays (exported once, bit for bit) and two
solvers in callback mode whose loops are plain numba b = 1 loops (``benchmark_utils/loops.py``), one
callback per epoch (SGD: n steps) or per outer iteration (SVRG: a snapshot and m = n inner steps).
The harness runs ``sgd-serial`` / ``svrg-serial`` with the same seed, step and budget and one point
per epoch / outer iteration (``--schedule ratio=1.000001,min_gap=n``): 21 points over 20 epochs on
both sides, drawn from ``default_rng(0)`` in the same chunks, so the curves agree bit for bit (the
script checks it and prints how close they are if not).

Printed, per algorithm and size, min / median / max over ``--repeats`` interleaved repeats (which
tool goes first alternates; the machine's load is printed beside):

- wall: the whole command as a user types it (``harness run ...`` / ``benchopt run ...``: start-up,
  data, every evaluation, the results written), harness / benchopt        target at n = 200000: <= 1
- CPU: the same commands' CPU seconds (the process and its children, ``getrusage``): less at the
  mercy of the neighbours on a shared machine than the wall clock
- measured: each tool's own solver clock (evaluations excluded), harness / benchopt
- where the harness's wall time goes: start-up before its clock, measured, evaluation, the rest
- kernel: the harness's SGD and SVRG inner kernels on the same data and draws, in this process,
  against the plain loops (the solver-only time)                                   target <= 1.1
- exact budget: ``svrg-serial --budget epochs=E`` stops at E.00 epochs

    python benchmarks/benchopt_side_by_side.py [--sizes 2000,200000] [--epochs 20] [--repeats 3]
        [--algs sgd,svrg] [--venv PATH] [--json FILE] [--quick] [--dry-run]

``--quick``: the default size only, 5 epochs, one repeat (a smoke test); ``--dry-run``: print the
plan (the venv, the commands) and exit without building or running anything. Where the venv cannot
be built (no package index), the side by side is skipped with the reason and the kernel part still
runs (it needs no benchopt).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BENCHOPT = "benchopt==1.10.0"
BENCH_SRC = ROOT / "benchmarks" / "benchopt_logreg"
DEFAULT_N = 2000                         # the logreg workload's default size
SIZES = (DEFAULT_N, 200000)
ALGS = {  # alg: (harness plugin, benchopt solver, step size: each plugin's default)
    "sgd": ("sgd-serial", "sgd-numba", 0.1),
    "svrg": ("svrg-serial", "svrg-numba", 0.01),
}
WALL_TARGET_N, WALL_TARGET, KERNEL_TARGET = 200000, 1.0, 1.1
VENV_TIMEOUT_S, RUN_TIMEOUT_S = 900, 600
KERNEL_UPDATES = 1_000_000


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def summary(xs) -> dict:
    xs = [float(x) for x in xs]
    return {"min": min(xs), "median": statistics.median(xs), "max": max(xs), "n": len(xs), "values": xs}


def fmt(s: dict, digits: int = 3) -> str:
    return f"{s['min']:.{digits}g} / {s['median']:.{digits}g} / {s['max']:.{digits}g}"


# -- the benchopt venv ----------------------------------------------------------------------------------
def default_venv() -> Path:
    from harness._core.cache import cache_root

    return cache_root() / "benchopt-1.10.0-venv"


def pins() -> list[str]:
    """benchopt and the project's own numpy / numba: the same compiler and the same draws on both sides."""
    import numba
    import numpy

    return [BENCHOPT, f"numpy=={numpy.__version__}", f"numba=={numba.__version__}"]


def ensure_venv(venv: Path) -> tuple[Path | None, str]:
    """(the venv's ``benchopt`` executable, "") once built (kept: a later call reuses it while its
    pins are the same), or (None, why it could not be built)."""
    exe, marker, want = venv / "bin" / "benchopt", venv / ".pins", " ".join(pins())
    if exe.exists() and marker.exists() and marker.read_text() == want:
        return exe, ""
    try:
        if not (venv / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, text=True,
                           timeout=120)
        out = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *pins()],
                             capture_output=True, text=True, timeout=VENV_TIMEOUT_S)
    except (subprocess.SubprocessError, OSError) as exc:
        return None, f"could not create the venv {venv}: {exc}"
    if out.returncode != 0 or not exe.exists():
        tail = [ln for ln in out.stderr.splitlines() if ln.strip() and "is ignored" not in ln][-2:]
        return None, f"pip could not install {' '.join(pins())} into {venv}: {' | '.join(tail) or out.returncode}"
    marker.write_text(want)
    return exe, ""


# -- the data, the same arrays on both sides ---------------------------------------------------------------
def workload(n: int):
    from harness._core.registry import build_workload

    return build_workload("logreg", {"n": n})


def export_data(n: int, folder: Path) -> None:
    """The harness's logreg training arrays as ``logreg_n{n}_X.npy`` / ``_y.npy`` (rewritten when the
    data's content hash changed: a new generator)."""
    import numpy as np

    wl = workload(n)
    stamp = folder / f"logreg_n{n}.content"
    if stamp.exists() and stamp.read_text() == wl.content and (folder / f"logreg_n{n}_X.npy").exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / f"logreg_n{n}_X.npy", np.ascontiguousarray(wl.X))
    np.save(folder / f"logreg_n{n}_y.npy", np.ascontiguousarray(wl.y))
    stamp.write_text(wl.content)


# -- one run of each tool -------------------------------------------------------------------------------
def harness_cmd(alg: str, n: int, epochs: int) -> list[str]:
    plugin, _, eta = ALGS[alg]
    # SGD: n updates an epoch; SVRG: m = n inner updates an outer iteration (its snapshot is no update)
    return [sys.executable, "-m", "harness", "run", "-p", plugin, "-w", "logreg", "--workload-param", f"n={n}",
            "--param", f"eta={eta}", "--budget", f"updates={epochs * n}",
            "--schedule", f"ratio=1.000001,min_gap={n}", "--no-report", "--force", "-q", "--json"]


def benchopt_cmd(exe: Path, bench: Path, alg: str, n: int, epochs: int, out: Path) -> list[str]:
    _, solver, eta = ALGS[alg]
    return [str(exe), "run", str(bench), "-s", f"{solver}[eta={eta}]", "-d", f"harness-logreg[n={n}]",
            "-n", str(epochs), "--no-plot", "--no-display", "--no-cache", "--no-timeout", "--output", str(out)]


def _timed(cmd: list[str], env: dict) -> tuple[float, float, subprocess.CompletedProcess]:
    """(wall seconds, CPU seconds of the process and its children, the finished process)."""
    r0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    wall, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... exited {out.returncode}: {out.stderr[-1500:]}")
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), out


def run_harness(alg: str, n: int, epochs: int, env: dict) -> dict:
    wall, cpu, out = _timed(harness_cmd(alg, n, epochs), env)
    run_id = json.loads(out.stdout)["runs"][0]["id"]
    rec = json.loads(subprocess.run([sys.executable, "-m", "harness", "runs", "show", str(run_id), "--json"], env=env,
                                    capture_output=True, text=True, timeout=120, check=True).stdout)
    pts = rec["points"]
    return {"wall": wall, "cpu": cpu, "measured": pts[-1]["time_s"], "eval": rec["info"].get("eval_seconds", 0.0),
            "startup": rec["info"].get("startup_s", 0.0),
            "updates": [p["updates"] for p in pts], "values": [p["objective"] for p in pts]}


def run_benchopt(exe: Path, bench: Path, alg: str, n: int, epochs: int, env: dict, scratch: Path) -> dict:
    out_file = scratch / f"benchopt-{alg}-{n}.parquet"
    out_file.unlink(missing_ok=True)
    wall, cpu, _ = _timed(benchopt_cmd(exe, bench, alg, n, epochs, out_file), env)
    read = ("import json, sys, pandas as pd; df = pd.read_parquet(sys.argv[1]).sort_values('stop_val'); "
            "print(json.dumps({k: df[c].tolist() for k, c in (('it', 'stop_val'), ('time', 'time'), "
            "('values', 'objective_value'))}))")
    cols = json.loads(subprocess.run([str(exe.parent / "python"), "-c", read, str(out_file)], capture_output=True,
                                     text=True, timeout=120, check=True).stdout)
    return {"wall": wall, "cpu": cpu, "measured": cols["time"][-1], "it": cols["it"], "values": cols["values"]}


def agreement(h: dict, b: dict, n: int) -> dict:
    """Whether the two curves are the same points (update counts) with the same values, bit for bit."""
    same_points = h["updates"] == [it * n for it in b["it"]]
    diffs = [abs(x - y) / max(abs(x), 1e-300) for x, y in zip(h["values"], b["values"])]
    return {"points": len(h["values"]), "same_points": same_points,
            "bit_for_bit": same_points and h["values"] == b["values"], "max_rel_diff": max(diffs) if diffs else None}


# -- the kernels alone: the solver-only time ----------------------------------------------------------------
def plain_loops():
    """``benchmark_utils/loops.py`` of the benchopt benchmark, loaded by path (numpy and numba only)."""
    name = "benchopt_plain_loops"
    if name not in sys.modules:  # numba's disk cache finds a kernel's module by its name on loading
        spec = importlib.util.spec_from_file_location(name, BENCH_SRC / "benchmark_utils" / "loops.py")
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


def kernel_ratios(n: int, epochs: int, repeats: int) -> dict:
    """The harness's b = 1 kernels (``Steps.sgd`` / ``Steps.svrg_inner``: ``kernels.sgd_dense`` and
    ``svrg_inner_dense``) against the plain loops, on the same data and pre-drawn indices, interleaved;
    this thread's CPU seconds in the kernel calls only (judged: on a shared machine the wall clock
    mostly measures the neighbours) and their wall seconds. Also checks that the iterates are
    bit-identical."""
    import numpy as np

    from harness.plugins.algorithms.steps import Steps

    wl = workload(n)
    X, y, lam = wl.X, wl.y, wl.lam
    steps, loops = Steps(wl), plain_loops()
    loops.sgd_epoch(np.zeros(wl.d), X, y, np.zeros(1, dtype=np.int64), 0.0, lam)  # compile / load, off the clock
    loops.svrg_inner(np.zeros(wl.d), X, y, np.zeros(n), np.zeros(wl.d), np.zeros(1, dtype=np.int64), 0.0, lam)
    draws = np.random.default_rng(0).integers(0, n, size=(epochs, n))
    u0 = np.random.default_rng(1).standard_normal(wl.d) * 0.1
    z0, mu_loss = loops.snapshot(X, y, u0, lam)

    def sgd(harness: bool):
        w = np.zeros(wl.d)
        t0, c0 = time.perf_counter(), time.thread_time()
        for e in range(epochs):
            if harness:
                steps.sgd(w, draws[e], b=1, eta=ALGS["sgd"][2], schedule=0, t_start=e * n)
            else:
                loops.sgd_epoch(w, X, y, draws[e], ALGS["sgd"][2], lam)
        return time.thread_time() - c0, time.perf_counter() - t0, w

    def svrg(harness: bool):
        w = u0.copy()
        t0, c0 = time.perf_counter(), time.thread_time()
        for e in range(epochs):
            if harness:
                steps.svrg_inner(w, u0, (z0, mu_loss, None), draws[e], b=1, eta=ALGS["svrg"][2])
            else:
                loops.svrg_inner(w, X, y, z0, mu_loss, draws[e], ALGS["svrg"][2], lam)
        return time.thread_time() - c0, time.perf_counter() - t0, w

    out = {}
    for name, fn in (("sgd", sgd), ("svrg", svrg)):
        runs, same = [], True
        for r in range(repeats):
            order = (True, False) if r % 2 == 0 else (False, True)
            res = {h: fn(h) for h in order}
            runs.append((res[True], res[False]))
            same &= bool(np.array_equal(res[True][2], res[False][2]))
        out[name] = {"ratio": summary([h[0] / p[0] for h, p in runs]), "wall_ratio": summary([h[1] / p[1] for h, p in runs]),
                     "harness_s": summary([h[0] for h, _ in runs]), "plain_s": summary([p[0] for _, p in runs]),
                     "bit_for_bit": same}
    return out


def exact_epochs(n: int, epochs: int, env: dict) -> float:
    """The epochs ``svrg-serial --budget epochs=E`` ran (its last point)."""
    plugin, _, eta = ALGS["svrg"]
    out = subprocess.run([sys.executable, "-m", "harness", "run", "-p", plugin, "-w", "logreg", "--workload-param",
                          f"n={n}", "--param", f"eta={eta}", "--budget", f"epochs={epochs}", "--no-report", "--force",
                          "-q", "--json"], env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=True)
    return float(json.loads(out.stdout)["runs"][0]["final"]["epochs"])


# -- the whole measurement ------------------------------------------------------------------------------
def measure(sizes=SIZES, algs=tuple(ALGS), epochs: int = 20, repeats: int = 3, venv: Path | None = None,
            kernel_n: int | None = None, log=lambda line: print(line, flush=True)) -> dict:
    """Everything this script prints, as a dict (``python -m benchmarks`` takes its rows from it)."""
    work = default_venv().parent / "benchopt-side-by-side"
    work.mkdir(parents=True, exist_ok=True)
    res: dict = {"sizes": list(sizes), "algs": list(algs), "epochs": epochs, "repeats": repeats,
                 "load_start": _load(), "side_by_side": {}, "skipped": None}
    exe, why = ensure_venv(venv or default_venv())
    kernel_n = kernel_n or max(sizes)
    with tempfile.TemporaryDirectory(prefix="benchopt-side-") as tmp:
        scratch = Path(tmp)
        # bytecode cached for both tools alike (outside the checkout): with PYTHONDONTWRITEBYTECODE=1, an
        # editable checkout's modules are compiled from source at every start, pip-installed ones never
        env = {**os.environ, "HARNESS_STORE": str(scratch / "store.db"), "HARNESS_BENCHOPT_DATA": str(work / "data"),
               "PYTHONPYCACHEPREFIX": str(work / "pycache")}
        for var in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE"):
            env.pop(var, None)
        bo_env = {**env, "NUMBA_CACHE_DIR": str(work / "numba")}   # benchopt's kernels, compiled once
        res["epochs_check"] = {n: exact_epochs(n, epochs, env) for n in sizes}
        if exe is None:
            res["skipped"] = why
            log(f"benchopt side by side skipped: {why}")
        else:
            bench = work / "benchopt_logreg"   # a copy: benchopt writes into its benchmark's folder
            shutil.rmtree(bench, ignore_errors=True)
            shutil.copytree(BENCH_SRC, bench, ignore=shutil.ignore_patterns("__pycache__", "outputs"))
            for n in sizes:
                export_data(n, work / "data")
            cells = [(a, n) for n in sizes for a in algs]
            for a, n in cells:  # a round not counted: numba caches, page cache, benchopt's first import
                run_harness(a, n, 1, env)
                run_benchopt(exe, bench, a, n, 1, bo_env, scratch)
            runs: dict = {f"{a} n={n}": {"harness": [], "benchopt": [], "load": []} for a, n in cells}
            for r in range(repeats):
                for a, n in cells:
                    cell = runs[f"{a} n={n}"]
                    cell["load"].append(_load())
                    for tool in (("harness", "benchopt") if r % 2 == 0 else ("benchopt", "harness")):
                        cell[tool].append(run_harness(a, n, epochs, env) if tool == "harness"
                                          else run_benchopt(exe, bench, a, n, epochs, bo_env, scratch))
                    log(f"  repeat {r + 1}/{repeats} {a} n={n}: harness {cell['harness'][-1]['wall']:.2f} s, "
                        f"benchopt {cell['benchopt'][-1]['wall']:.2f} s (load {cell['load'][-1]})")
            for (a, n), key in zip(cells, runs):
                cell = runs[key]
                h, b = cell["harness"], cell["benchopt"]
                res["side_by_side"][key] = {
                    "alg": a, "n": n, "load": summary(cell["load"]),
                    "wall_ratio": summary([x["wall"] / y["wall"] for x, y in zip(h, b)]),
                    "cpu_ratio": summary([x["cpu"] / y["cpu"] for x, y in zip(h, b)]),
                    "measured_ratio": summary([x["measured"] / y["measured"] for x, y in zip(h, b)]),
                    "harness_wall": summary([x["wall"] for x in h]), "benchopt_wall": summary([y["wall"] for y in b]),
                    "harness_measured": summary([x["measured"] for x in h]),
                    "benchopt_measured": summary([y["measured"] for y in b]),
                    "harness_parts": {k: summary([x[k] for x in h]) for k in ("startup", "measured", "eval")},
                    "harness_rest": summary([x["wall"] - x["startup"] - x["measured"] - x["eval"] for x in h]),
                    "agreement": agreement(h[-1], b[-1], n),
                }
    k_epochs = max(1, -(-KERNEL_UPDATES // kernel_n))   # enough updates to time (0.1 s or more)
    res["kernel"] = {"n": kernel_n, "epochs": k_epochs, **kernel_ratios(kernel_n, k_epochs, max(repeats, 3))}
    res["load_end"] = _load()
    return res


def report(res: dict) -> str:
    lines = [f"benchopt side by side: logreg d = 50, {res['epochs']} epochs, {res['repeats']} interleaved repeats, "
             f"min / median / max; load average {res['load_start']} -> {res['load_end']} on {os.cpu_count()} cores"]
    if res["skipped"]:
        lines.append(f"side by side skipped: {res['skipped']}")
    if res["side_by_side"]:
        lines += ["", "| run | harness wall s | benchopt wall s | wall harness / benchopt | CPU harness / benchopt "
                      "| measured harness / benchopt | target (wall) | met? | curves (points) | load |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for key, c in res["side_by_side"].items():
            judged = c["n"] == WALL_TARGET_N
            met = ("yes" if c["wall_ratio"]["median"] <= WALL_TARGET else "no") if judged else "-"
            ag = c["agreement"]
            curves = ("bit for bit" if ag["bit_for_bit"] else
                      f"max rel diff {ag['max_rel_diff']:.2g}" + ("" if ag["same_points"] else ", other points"))
            lines.append(f"| {key} | {fmt(c['harness_wall'])} | {fmt(c['benchopt_wall'])} | {fmt(c['wall_ratio'])} | "
                         f"{fmt(c['cpu_ratio'])} | {fmt(c['measured_ratio'])} | {'<= 1' if judged else '-'} | {met} | {curves} ({ag['points']}) "
                         f"| {fmt(c['load'], 2)} |")
        lines += ["", "where the harness's wall time goes (median s): its run's start-up before the clock (data, "
                      "constants, kernels) | measured | evaluation | the rest (interpreter, imports, the store, exit)"]
        for key, c in res["side_by_side"].items():
            p = c["harness_parts"]
            lines.append(f"  {key}: {p['startup']['median']:.2f} | {p['measured']['median']:.2f} | "
                         f"{p['eval']['median']:.2f} | {c['harness_rest']['median']:.2f}  (benchopt measured "
                         f"{c['benchopt_measured']['median']:.2f})")
    k = res["kernel"]
    lines += ["", f"solver only, n = {k['n']}, {k['epochs']} epochs (this process, same data and draws; "
                  f"target <= {KERNEL_TARGET}):"]
    for name in ("sgd", "svrg"):
        c = k[name]
        lines.append(f"  {name} kernel / plain numba b = 1 loop, CPU time: {fmt(c['ratio'])} "
                     f"({'met' if c['ratio']['median'] <= KERNEL_TARGET else 'NOT met'}; {c['harness_s']['median']:.3f} s "
                     f"vs {c['plain_s']['median']:.3f} s; wall {fmt(c['wall_ratio'])}; iterates "
                     f"{'bit for bit' if c['bit_for_bit'] else 'DIFFER'})")
    for n, ep in res["epochs_check"].items():
        lines.append(f"svrg-serial --budget epochs={res['epochs']} at n = {n} stopped at {ep:.2f} epochs")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="benchopt_side_by_side.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)), help="training sizes n, comma-separated")
    ap.add_argument("--algs", default=",".join(ALGS), help="sgd, svrg or both")
    ap.add_argument("--epochs", type=int, default=20, help="epochs (SGD) / outer iterations (SVRG); points = this + 1")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--venv", default=None, help="benchopt's venv (built if missing; default: under the harness cache)")
    ap.add_argument("--json", default=None, metavar="FILE", help="also write the results as JSON")
    ap.add_argument("--quick", action="store_true", help=f"n = {DEFAULT_N} only, 5 epochs, one repeat")
    ap.add_argument("--dry-run", action="store_true", help="print the plan and exit: nothing built, nothing run")
    args = ap.parse_args(argv)
    try:
        sizes = tuple(int(float(s)) for s in args.sizes.split(",") if s.strip())
    except ValueError:
        sizes = ()
    algs = tuple(a.strip() for a in args.algs.split(",") if a.strip())
    bad = ("--sizes: expected positive whole numbers" if not sizes or min(sizes) < 2 else
           f"--algs: expected sgd and/or svrg, got {args.algs!r}" if not algs or set(algs) - set(ALGS) else
           "--epochs and --repeats must be at least 1" if min(args.epochs, args.repeats) < 1 else None)
    if bad:
        print(f"benchopt_side_by_side.py: error: {bad}", file=sys.stderr)
        return 2
    if args.quick:
        sizes, epochs, repeats = (DEFAULT_N,), 5, 1
    else:
        epochs, repeats = args.epochs, args.repeats
    venv = Path(args.venv) if args.venv else default_venv()
    if args.dry_run:
        ready = (venv / "bin" / "benchopt").exists()
        print(f"benchopt venv: {venv} ({'present' if ready else 'to be built'}: pip install {' '.join(pins())})")
        for a in algs:
            for n in sizes:
                print("harness: " + " ".join(harness_cmd(a, n, epochs)[1:]))
                print("benchopt: " + " ".join(benchopt_cmd(venv / "bin" / "benchopt", BENCH_SRC, a, n, epochs,
                                                           Path("OUT.parquet"))))
        print(f"then: the kernels alone at n = {max(sizes)}, {repeats} repeats; "
              f"svrg-serial --budget epochs={epochs} at each size")
        return 0
    res = measure(sizes, algs, epochs, repeats, venv)
    print(report(res))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
