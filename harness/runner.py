"""Execute one run spec: resolve names and parameters, consult the cache, run the plugin under its
monitor, and store what was measured, whatever happened (error, Ctrl-C, timeout)."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import __version__
from .context import RunContext
from .errors import PluginFailure, UserError
from .manifest import manifest
from .monitor import (DIVERGED, ERROR, INTERRUPTED, SKIPPED, TIMEOUT, Budget, Monitor, Schedule, Target)
from .params import THEORY, check_options
from .plugin import PluginSpec
from .registry import plugins, workloads
from .store import RunRecord, Store
from .workload import Workload, check_kind


class RunTimeout(Exception):
    """A launched job ran past its wall-clock limit (status 'timeout')."""


@dataclass
class RunSpec:
    plugin: str
    workload: str
    params: dict[str, Any] = field(default_factory=dict)
    workload_params: dict[str, Any] = field(default_factory=dict)
    workers: int = 1
    seed: int = 0
    budget: Budget = field(default_factory=Budget)
    target: Target = field(default_factory=Target)
    schedule: Schedule = field(default_factory=Schedule)
    options: dict[str, Any] = field(default_factory=dict)
    suite: str | None = None

    def describe(self) -> str:
        ps = ",".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.plugin}[{ps}] on {self.workload} w={self.workers} seed={self.seed}"


@dataclass
class Resolved:
    spec: RunSpec
    plugin: PluginSpec
    workload: Workload
    params: dict[str, Any]
    theory_choices: dict[str, Any]
    hash: str


def resolve(spec: RunSpec) -> Resolved:
    """Check names, domains and worker bounds; build the workload (lazily) and the content hash."""
    pspec: PluginSpec = plugins().get(spec.plugin)
    wspec = workloads().get(spec.workload)
    workload = wspec.build(spec.workload_params)
    check_kind(pspec.kinds, workload, pspec.name)
    params = pspec.paramset.resolve(spec.params, f"plugin {pspec.name}")
    check_options(spec.options)
    if not isinstance(spec.workers, int) or spec.workers < pspec.min_workers or (
            pspec.max_workers is not None and spec.workers > pspec.max_workers):
        hi = "" if pspec.max_workers is None else f"..{pspec.max_workers}"
        raise UserError(f"plugin {pspec.name} runs with {pspec.min_workers}{hi or '+'} workers, got {spec.workers}")
    n = workload.sizes().get("n")
    b = params.get("b")
    if n and isinstance(b, int) and b > n:  # b = n is full-batch; more would be one update per epoch of repeats
        raise UserError(f"plugin {pspec.name}: mini-batch b={b} is larger than the workload's n={n} training "
                        f"samples (expected b in [1, {n}])")
    choices: dict[str, Any] = {}
    if any(v == THEORY for v in params.values()):
        try:
            from harness.theory.guided import choose_parameters
        except ImportError as exc:
            raise UserError(f"'theory' parameter values need the theory module: {exc}") from None
        params, choices = choose_parameters(pspec, workload, params, spec.workers)
    content = {
        "plugin": pspec.name, "plugin_version": pspec.version, "backend": pspec.backend,
        "workload": workload.spec_dict(), "params": params, "workers": spec.workers, "seed": spec.seed,
        "budget": spec.budget.to_dict(), "target": [spec.target.metric, spec.target.value],
        "harness": __version__, "options": {k: v for k, v in spec.options.items() if k not in _UNHASHED_OPTIONS},
    }
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:24]
    return Resolved(spec, pspec, workload, params, choices, digest)


# options that change how a run is launched or watched, not what it computes
_UNHASHED_OPTIONS = {"timeout_s", "hostfile", "progress"}


def execute(spec: RunSpec, store: Store | None = None, *, force: bool = False,
            on_point: Callable[[dict[str, Any], Monitor], None] | None = None) -> RunRecord:
    """Run (or fetch from the cache) one spec and store the result. User mistakes raise UserError;
    everything a plugin does wrong ends as a stored run with status 'error'."""
    res = resolve(spec)
    if store is not None and not force:
        hit = store.find_cached(res.hash)
        if hit is not None:
            return hit
    rec = _run_resolved(res, on_point)
    if store is not None:
        store.save(rec)
    return rec


def new_record(res: Resolved) -> RunRecord:
    """The record a resolved spec will be stored as (status 'error' until the run says otherwise)."""
    spec, pspec, workload = res.spec, res.plugin, res.workload
    return RunRecord(id=None, hash=res.hash, plugin=pspec.name, workload=workload.name,
                    workload_params=workload.params, params=res.params, workers=spec.workers, seed=spec.seed,
                    status=ERROR, plugin_version=pspec.version, family=pspec.family, backend=pspec.backend,
                    budget=spec.budget.to_dict(), target={"metric": spec.target.metric, "value": spec.target.value},
                    env=manifest(), suite=spec.suite, created=time.time(),
                     info={"theory_choices": res.theory_choices} if res.theory_choices else {})


def _run_resolved(res: Resolved, on_point) -> RunRecord:
    spec, pspec, workload = res.spec, res.plugin, res.workload
    rec = new_record(res)
    reason = pspec.skip(workload, res.params, spec.workers) if pspec.skip else None
    if reason is None:
        missing = pspec.missing()
        if missing:
            from .plugin import NEEDS

            reason = f"needs {', '.join(missing)} (pip install 'harness[{NEEDS[missing[0]][1]}]')"
    if reason:
        rec.status, rec.reason = SKIPPED, reason
        return rec

    workdir = Path(tempfile.mkdtemp(prefix=f"harness-{pspec.name}-"))
    monitor = Monitor(workload.metrics, n_samples=getattr(workload, "n", None), budget=spec.budget,
                      target=spec.target, schedule=spec.schedule, deterministic=pspec.deterministic,
                      on_point=on_point)
    ctx = RunContext(plugin=pspec, workload=workload, params=dict(res.params), workers=spec.workers,
                     seed=spec.seed, monitor=monitor, workdir=workdir, options=dict(spec.options))
    t0 = time.perf_counter()
    try:
        rec.constants = _constants(workload)
        impl = pspec.load()
        extra = impl(ctx)
        if extra:
            ctx.info.update(extra)
        if monitor.status is None:
            monitor.stop("done", "plugin returned")
        rec.status, rec.reason = monitor.status, monitor.reason
    except KeyboardInterrupt:
        rec.status, rec.reason = INTERRUPTED, "interrupted by the user (points measured so far are kept)"
    except RunTimeout as exc:
        rec.status, rec.reason = TIMEOUT, str(exc)
    except PluginFailure as exc:
        rec.status, rec.reason = ERROR, str(exc)
        if exc.rank is not None:
            ctx.info["failed_rank"] = exc.rank
    except UserError:
        raise
    except FloatingPointError as exc:
        rec.status, rec.reason = DIVERGED, f"floating point error: {exc}"
    except Exception as exc:  # noqa: BLE001 - a plugin bug is a stored 'error', not a crash of the suite
        rec.status, rec.reason = ERROR, f"{type(exc).__name__}: {exc}"
        ctx.info["traceback"] = traceback.format_exc(limit=8)
    finally:
        rec.wall_s = time.perf_counter() - t0
        rec.points = list(monitor.points)
        rec.info.update(ctx.info)
        rec.info.setdefault("eval_seconds", monitor.eval_seconds)
        shutil.rmtree(workdir, ignore_errors=True)
    return rec


def _constants(workload: Workload) -> dict[str, Any]:
    try:
        return {k: float(v) for k, v in workload.constants().items()}
    except Exception as exc:  # noqa: BLE001 - constants are informative; a failure is recorded
        return {"error": f"{type(exc).__name__}: {exc}"}
