"""asv benchmarks for the harness (discovered by asv through ``asv.conf.json``).

``HarnessRuns.track_*``: parameterised over plugin x workload (every registered finite-sum plugin
on the chosen backends is its own series, keyed by its name, so an outside plugin adds a series and
never replaces a built-in one), each value read from real harness runs (several seeds, median),
made once per asv process in ``setup_cache``: time to target, updates to target, final
suboptimality, the theory checker's slack ratio (bound / measured, the smallest over the theorems
that hold) and the number of bound violations. A plugin that declines a workload (its ``skip``)
is skipped for it (``NotImplementedError``, asv's way).

``Kernels.time_*`` / ``peakmem_*``: the numba update kernels (one chunk of SGD / SVRG updates)
and the peak memory of a whole harness run.

The grid can be narrowed (or widened to MPI / torch) through the environment::

    HARNESS_ASV_PLUGINS=svrg-serial,sgd-serial HARNESS_ASV_WORKLOADS=ridge asv run --python=same --quick
    HARNESS_ASV_BACKENDS=serial,sim,threads,mpi asv run --python=same     # the backends whose plugins run
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# In the current environment (``--python=same``, or outside asv) measure the checkout asv points at,
# not whatever is installed; in an environment asv built for a commit (``asv continuous A B``),
# measure the harness installed there: that commit's code.
if os.environ.get("ASV_ENV_TYPE", "existing") == "existing" and str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

SEEDS = (0, 1, 2)
WORKLOAD_PARAMS = {"n": 1000, "d": 20, "cond": 10.0, "lam": 0.01}
BUDGET = "epochs=20"
TARGET = 1e-4
# parameters per family where the plugin has them (others keep their defaults)
PRESETS = {"sgd": {"eta": 0.1, "b": 4}, "svrg": {"eta": 0.1, "b": 4}, "asysvrg": {"eta": 0.1, "b": 4},
           "asgd": {"eta": 0.1, "b": 4}, "growing_batch": {"eta": 0.1}}


def _env_list(name: str, default: str) -> list[str]:
    return [x.strip() for x in os.environ.get(name, default).split(",") if x.strip()]


BACKENDS = _env_list("HARNESS_ASV_BACKENDS", "serial,sim,threads")
WORKLOADS = _env_list("HARNESS_ASV_WORKLOADS", "logreg,ridge")


def _catalog() -> list[str]:
    """The finite-sum plugins on the chosen backends (``HARNESS_ASV_PLUGINS``: exactly these), by name."""
    from harness._core.registry import plugins

    reg = plugins()
    chosen = _env_list("HARNESS_ASV_PLUGINS", "")
    if chosen:
        return [n for n in chosen if n in reg.items]
    return [n for n in reg.names() if reg.items[n].backend in BACKENDS and "finite-sum" in reg.items[n].kinds
            and not reg.items[n].missing()]


try:
    PLUGINS = _catalog()
except Exception:  # noqa: BLE001 - discovery must not die on a broken plugin; asv reports the benchmark
    PLUGINS = ["sgd-serial", "svrg-serial"]


def _workers(spec) -> int:
    want = 2 if spec.backend in ("threads", "sim", "mpi", "torch") else 1
    want = max(want, spec.min_workers)
    return min(want, spec.max_workers) if spec.max_workers else want


def _spec(name: str, workload: str, seed: int):
    """The run of plugin ``name`` on ``workload`` for one seed (its family's preset parameters)."""
    from harness._core.monitor import Budget, Target
    from harness._core.registry import plugins
    from harness.run.runner import RunSpec

    spec = plugins().get(name)
    names = {p.name for p in spec.params}
    params = {k: v for k, v in PRESETS.get(spec.family, {}).items() if k in names}
    return RunSpec(name, workload, params, dict(WORKLOAD_PARAMS), _workers(spec), seed, Budget.parse(BUDGET),
                   Target("subopt", TARGET))


def _declined() -> list[tuple[str, str]]:
    """The (plugin, workload) cells a plugin declines (its ``skip``, a missing library): asv skips
    them before setup (``skip_params``), silently, instead of a "skipped" line per cell and benchmark."""
    from harness.run.runner import declined, resolve

    out = []
    for name in PLUGINS:
        for workload in WORKLOADS:
            try:
                if declined(resolve(_spec(name, workload, SEEDS[0]))):
                    out.append((name, workload))
            except Exception:  # noqa: BLE001 - a cell that cannot even resolve: setup_cache reports it
                pass
    return out


try:
    DECLINED = _declined()
except Exception:  # noqa: BLE001 - discovery must not die; the cells are then skipped in setup
    DECLINED = []


class HarnessRuns:
    """Convergence of each plugin, from harness runs (one run per seed; medians over seeds)."""

    params = (PLUGINS, WORKLOADS)
    param_names = ("plugin", "workload")
    skip_params = DECLINED  # asv_runner: these cells are neither set up nor run
    timeout = 1200

    def setup_cache(self):
        from harness.analysis.compare import run_metrics
        from harness.run.runner import execute
        from harness.analysis.stats import median
        from harness.run.store import Store

        tmp = Path(tempfile.mkdtemp(prefix="harness-asv-"))
        os.environ.setdefault("HARNESS_CACHE", str(tmp / "cache"))
        store = Store(tmp / "results.db")
        results = {}
        try:
            for name in PLUGINS:
                for workload in WORKLOADS:
                    if (name, workload) in DECLINED:
                        continue
                    recs = [execute(_spec(name, workload, seed), store, force=True) for seed in SEEDS]
                    if recs[0].status == "skipped":
                        continue  # the plugin declines this workload
                    # a diverged run is a measurement too (its target is never reached: n/a)
                    ok = [r for r in recs if (r.ok or r.status == "diverged") and r.points]
                    if not ok:
                        results[(name, workload)] = {"error": recs[0].status + ": " + recs[0].reason}
                        continue
                    m = [run_metrics(r) for r in ok]
                    res = {k: median([x[k] for x in m]) for k in ("time_to_target", "updates_to_target",
                                                                   "final_subopt")}
                    res.update(_theory(ok, store))
                    results[(name, workload)] = res
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return results

    def setup(self, results, plugin, workload):
        if (plugin, workload) not in results:
            raise NotImplementedError(f"{plugin} declines {workload}")
        if "error" in results[(plugin, workload)]:
            raise RuntimeError(results[(plugin, workload)]["error"])

    def track_time_to_target(self, results, plugin, workload):
        return _finite(results[(plugin, workload)]["time_to_target"])

    track_time_to_target.unit = "seconds"

    def track_updates_to_target(self, results, plugin, workload):
        return _finite(results[(plugin, workload)]["updates_to_target"])

    track_updates_to_target.unit = "updates"

    def track_final_subopt(self, results, plugin, workload):
        return _finite(results[(plugin, workload)]["final_subopt"])

    track_final_subopt.unit = "f(w) - f*"

    def track_theory_slack(self, results, plugin, workload):
        return _finite(results[(plugin, workload)]["theory_slack"])

    track_theory_slack.unit = "bound / measured"

    def track_bound_violations(self, results, plugin, workload):
        return results[(plugin, workload)]["bound_violations"]

    track_bound_violations.unit = "theorems violated"


def _finite(v: float) -> float:
    """asv shows NaN as n/a: a target never reached (inf), no theorem that holds."""
    return math.nan if v is None or not math.isfinite(v) else float(v)


def _theory(runs, store) -> dict[str, float]:
    """The checker's verdicts for the runs: smallest slack among 'holds', count of 'violated'."""
    from harness.run.checking import check

    slacks, violated = [], 0
    for d in check(runs, store=store):
        if d.verdict == "violated":
            violated += 1
        if d.verdict == "holds" and d.slack and d.slack.get("min") is not None:
            slacks.append(float(d.slack["min"]))
    return {"theory_slack": min(slacks) if slacks else math.nan, "bound_violations": violated}


class Kernels:
    """The numba update kernels: one chunk of 200 updates, dense logistic loss (n=2000, d=50)."""

    params = [1, 16]
    param_names = ["b"]

    def setup(self, b):
        from harness.plugins.algorithms import kernels as K

        rng = np.random.default_rng(0)
        self.K = K
        self.X = rng.standard_normal((2000, 50)) / np.sqrt(50)
        self.y = np.sign(rng.standard_normal(2000))
        self.idx = rng.integers(0, 2000, size=200 * b)
        self.w = np.zeros(50)
        self.z0 = self.X @ self.w
        self.mu = np.zeros(50)
        self.gbuf = np.empty(50)
        self.b = b
        self.time_sgd_dense(b)  # compile / load from numba's cache outside the timing
        self.time_svrg_inner_dense(b)

    def time_sgd_dense(self, b):
        self.K.sgd_dense(self.w, self.X, self.y, self.idx, b, 0, 1e-3, 0, 0.01, 1.0, 0.5, 0, self.gbuf)

    def time_svrg_inner_dense(self, b):
        self.K.svrg_inner_dense(self.w, self.X, self.y, self.z0, self.mu, self.idx, b, 0, 1e-3, 0.01, self.gbuf)


class Memory:
    """Peak resident memory of one whole svrg-serial run (workload, monitor, store)."""

    timeout = 300

    def setup(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="harness-asv-mem-"))
        os.environ.setdefault("HARNESS_CACHE", str(self.tmp / "cache"))

    def teardown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def peakmem_svrg_serial_run(self):
        from harness._core.monitor import Budget, Target
        from harness.run.runner import RunSpec, execute
        from harness.run.store import Store

        execute(RunSpec("svrg-serial", "logreg", {"eta": 0.1, "b": 4}, dict(WORKLOAD_PARAMS), 1, 0,
                        Budget.parse("epochs=5"), Target()), Store(self.tmp / "mem.db"), force=True)
