"""Execute one run spec: resolve names and parameters, consult the cache, run the plugin under its
monitor, and store what was measured, whatever happened (error, Ctrl-C, timeout)."""

from __future__ import annotations

import gc
import os
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable

from harness import __version__
from harness._core.context import RunContext
from harness._core.errors import PluginFailure, RunTimeout, UserError, located
from .manifest import machine_seconds, manifest, usable_cores
from harness._core.signals import signal_name
from harness._core.cache import looks_like_damaged_cache, numba_cache_dir, repair_numba_cache
from harness._core.identity import code_fingerprint, run_hash
from harness._core.environment import computing
from harness._core.observe import EVERY, Observer
from harness._core.monitor import (DIVERGED, DONE, ERROR, FINISHED_OK, INTERRUPTED, SKIPPED, TARGET, TIMEOUT, Budget,
                                   Monitor, Schedule, Target)
from .checking import expected_applied
from harness._core.params import THEORY, check_options
from harness._core.plugin import PluginSpec
from harness._core import scratch
from harness._core.backend import Backend
from harness._core.registry import backend_of, plugins, workloads
from .planting import planted_changes, planted_run
from .store import RunRecord, Store
from harness._core.workload import Workload, check_kind, check_memory


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
    # where it was written (``FILE: [[run]] #k`` of a suite file): prefixes the errors resolving it finds; not its identity
    where: str | None = field(default=None, compare=False)
    # a suite entry's ``size = {...}`` (:class:`harness.run.sizing.Sizing`): the gate sizes the group on the
    # machine that saves its baseline; not its identity (the value chosen is, in the workload parameters)
    size: Any = field(default=None, compare=False)
    # the trajectory audit observes every update (check-plugin's audit run: a short run whose late lies the
    # seeded windows may miss), not the head and two windows; the plugin sees nothing of it; not its identity
    observe_every: bool = field(default=False, compare=False)

    def describe(self) -> str:
        ps = ",".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.plugin}{f'[{ps}]' if ps else ''} on {self.workload} w={self.workers} seed={self.seed}"


@dataclass
class Resolved:
    """A run resolved once, by the parent: the spec, every parameter value (the ones the theory chose
    included, with ``theory_choices`` saying how), and the run's identity (``harness._core.identity``)
    with its cache key ``hash``. Everything downstream takes this record (the runner, a pool or dask
    job, a SLURM job, compare's warm-up); none resolves again.

    Picklable: what crosses to another process is the record itself; the workload's data
    (``workload``, built from ``spec.workload`` / ``spec.workload_params``) and the plugin's spec
    (``plugin``, by name) are looked up again there on first use, never the parameters or the identity.
    """

    spec: RunSpec
    params: dict[str, Any]
    theory_choices: dict[str, Any]
    hash: str
    identity: dict[str, Any] = field(default_factory=dict)
    _plugin: PluginSpec | None = field(default=None, repr=False, compare=False)
    _workload: Workload | None = field(default=None, repr=False, compare=False)

    @property
    def plugin(self) -> PluginSpec:
        if self._plugin is None:
            self._plugin = plugins().get(self.spec.plugin)
        return self._plugin

    @property
    def backend(self) -> Backend:
        return backend_of(self.plugin)

    @property
    def workload(self) -> Workload:
        if self._workload is None:
            self._workload = workloads().get(self.spec.workload).build(self.spec.workload_params)
        return self._workload

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_plugin": None, "_workload": None}

    def warm_up(self, updates: int = 2) -> Resolved:
        """The same run cut to ``updates`` updates and no target (an untimed warm-up that loads the
        plugin's compiled kernels): the values resolved here, the workload object shared."""
        budget, target = Budget(updates=updates), Target()
        spec = replace(self.spec, budget=budget, target=target)
        identity = {**self.identity, "budget": budget.to_dict(), "target": [target.metric, target.value]}
        return replace(self, spec=spec, hash=run_hash(identity), identity=identity)


def resolve(spec: RunSpec) -> Resolved:
    """Check names, domains and worker bounds; build the workload (lazily), solve ``eta=theory``
    and compute the run's identity. Called once per run, by the process that plans it: everything
    after takes the :class:`Resolved` (a second call would solve the theory's step again)."""
    if not isinstance(spec, RunSpec):
        raise TypeError(f"resolve() takes a RunSpec, got {type(spec).__name__} (a Resolved is resolved already)")
    with located(spec.where):  # a suite entry's unknown names and bad values name the file and the entry
        return _resolve(spec)


def _resolve(spec: RunSpec) -> Resolved:
    pspec: PluginSpec = plugins().get(spec.plugin)
    wspec = workloads().get(spec.workload)
    workload = wspec.build(spec.workload_params)
    check_kind(pspec.kinds, workload, pspec.name)
    params = pspec.paramset.resolve(spec.params, f"plugin {pspec.name}", see=f"harness list plugins {pspec.name}")
    checked_options = check_options(spec.options)
    if checked_options.get("device") == "cuda" and "torch" not in pspec.needs:
        raise UserError(f"plugin {pspec.name} computes with numpy/numba on the CPU: --option device=cuda applies "
                        "to the torch plugins only (harness list plugins)")
    if not isinstance(spec.workers, int) or spec.workers < pspec.min_workers or (
            pspec.max_workers is not None and spec.workers > pspec.max_workers):
        hi = "" if pspec.max_workers is None else f"..{pspec.max_workers}"
        if pspec.max_workers == pspec.min_workers == 1:
            raise UserError(f"plugin {pspec.name} runs with 1 worker ({pspec.backend} backend), got {spec.workers}")
        raise UserError(f"plugin {pspec.name} runs with {pspec.min_workers}{hi or '+'} workers, got {spec.workers}")
    _check_local_ranks(pspec, spec.workers, checked_options)
    n = workload.sizes().get("n")
    b = params.get("b")
    if n and isinstance(b, int) and b > n:  # b = n is full-batch; more would be one update per epoch of repeats
        raise UserError(f"plugin {pspec.name}: mini-batch b={b} is larger than the workload's n={n} training "
                        f"samples (expected b <= {n})")
    choices: dict[str, Any] = {}
    asked = dict(params)
    if any(v == THEORY for v in params.values()):
        from .checking import choose_parameters

        params, choices = choose_parameters(pspec, workload, params, spec.workers)
        asked.update({k: THEORY for k in choices})   # what the theory set reads 'theory' (identity.asked_params)
    options = {k: v for k, v in spec.options.items() if k not in _UNHASHED_OPTIONS}
    env = computing() if pspec.backend == "threads" else {}
    if env:  # HARNESS_THREADS_ATOMIC=cas, HARNESS_THREADS_TX=0: the threads kernels write another way: another run
        options["env"] = env
    planted = planted_changes()
    if planted:
        options["planted"] = planted
    sched = {k: v for k, v in asdict(spec.schedule).items() if v != getattr(Schedule, k)}
    if sched:  # another point schedule is another curve (the default keeps the keys runs had before)
        options["schedule"] = sched
    parts = {
        "plugin": pspec.name, "params": asked, "workload": {"name": workload.name, "params": workload.params},
        "data": _data_identity(workload), "workers": spec.workers, "seed": spec.seed,
        "budget": spec.budget.to_dict(), "target": [spec.target.metric, spec.target.value], "options": options,
        "code": {"plugin_version": pspec.version, **code_fingerprint(pspec.impl, (type(workload).__module__,))}, "harness": __version__,
        "backend": pspec.backend,
    }
    if choices:  # the chosen values follow from the parts above; kept to show what ran
        parts["theory_chose"] = {k: params[k] for k in choices if k in params}
    return Resolved(spec, params, choices, run_hash(parts), parts, _plugin=pspec, _workload=workload)


# more ranks than this per core is a typo (--workers 1000), not a plan: refused unless asked for
MAX_RANKS_PER_CORE = 4


def _check_local_ranks(pspec: PluginSpec, workers: int, options: dict[str, Any]) -> None:
    """A plugin that starts one process per worker here may start at most MAX_RANKS_PER_CORE per
    usable core, unless the ranks go to other machines (``hostfile``, ``torchrun_args``) or the user
    says so (``--option oversubscribe=true``)."""
    backend = backend_of(pspec)
    if not backend.launched or options.get("oversubscribe") or options.get("hostfile") \
            or options.get("torchrun_args"):
        return
    cores = usable_cores()
    ranks = backend.processes(workers)                        # an MPI job has the parameter server's rank too
    if workers > MAX_RANKS_PER_CORE * cores:                  # the workers compute; the server mostly waits
        raise UserError(f"plugin {pspec.name}: {workers} workers would start {ranks} {pspec.backend} processes on "
                        f"this machine's {cores} cores (at most {MAX_RANKS_PER_CORE * cores} workers, "
                        f"{MAX_RANKS_PER_CORE} per core): give --hostfile to spread them over machines, or "
                        "--option oversubscribe=true")


def _data_identity(workload: Workload) -> dict[str, Any]:
    try:
        return workload.data_identity()
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - an unreadable data source: the run's own error says why
        return {"name": workload.name, "params": workload.params, "unreadable": f"{type(exc).__name__}: {exc}"}


# options that change how a run is launched or watched, not what it computes
_UNHASHED_OPTIONS = {"timeout_s", "hung_after_s", "hostfile", "progress", "launcher", "torchrun_args", "oversubscribe"}

def execute(spec: RunSpec, store: Store | None = None, *, force: bool = False,
            on_point: Callable[[dict[str, Any], Monitor], None] | None = None,
            on_start: Callable[[], None] | None = None) -> RunRecord:
    """Resolve one spec and run it (:func:`run_resolved`)."""
    return run_resolved(resolve(spec), store, force=force, on_point=on_point, on_start=on_start)


def run_resolved(res: Resolved, store: Store | None = None, *, force: bool = False,
                 on_point: Callable[[dict[str, Any], Monitor], None] | None = None,
                 on_start: Callable[[], None] | None = None) -> RunRecord:
    """Run (or fetch from the cache) one resolved run and store the result. User mistakes raise
    UserError; everything a plugin does wrong ends as a stored run with status 'error'. One row per
    run key: a rerun (``force``, or after a failure) replaces the stored row. ``on_start()``: called
    when the run's budget starts (its set-up done). Once stored, the run's workload lets go of what
    it held for it (``Workload.release``): memory stays flat across a suite's runs."""
    if store is not None and not force:
        hit = store.find_cached(res.hash, suite=res.spec.suite)
        if hit is not None:
            return hit
    try:
        rec = _run_resolved(res, on_point, on_start)
        if rec.status == ERROR and looks_like_damaged_cache(rec.reason):
            removed = repair_numba_cache()
            if removed:
                print(f"harness: discarded {len(removed)} damaged compiled-kernel cache file(s) under "
                      f"{numba_cache_dir()} ({removed[0].name}...); recompiling", file=sys.stderr)
                rec = _run_resolved(res, on_point, on_start)
        rec = _check_suboptimality(res, rec, on_point)
        if store is not None:
            store.save(rec)
    finally:
        res.workload.release()
        gc.collect()  # the run's iterates, kernel buffers and snapshots go now, cycles included
    return rec


# suboptimality below -NEG_REL_TOL * max(|f*|, 1e-3) means the reference f* is not the minimum
NEG_REL_TOL = 1e-9


def negative_floor(f_star: float) -> float:
    return -NEG_REL_TOL * max(abs(f_star), 1e-3)


def _check_suboptimality(res: Resolved, rec: RunRecord, on_point) -> RunRecord:
    """A measured suboptimality below zero (beyond the tolerance) means f* was wrong: solve for it
    more tightly; rerun once if the run stopped at a target it only reached against the wrong f*;
    if it stays negative, flag the run and never count it as reaching the target."""
    f_star = rec.constants.get("f_star")
    subs = [p["subopt"] for p in rec.points if p.get("subopt") is not None]
    if f_star is None or not subs or min(subs) >= negative_floor(f_star):
        return rec
    refine = getattr(res.workload, "refine_optimum", None)
    new_f = float(refine()) if refine is not None else f_star
    if new_f < f_star and rec.status == TARGET:  # stopped against a stale reference: measure again
        again = _run_resolved(res, on_point, None)
        again.info["f_star_refined"] = {"from": f_star, "to": new_f}
        if min((p["subopt"] for p in again.points if p.get("subopt") is not None), default=0.0) >= \
                negative_floor(new_f):
            return again
        rec = again
    else:
        for p in rec.points:
            if p.get("objective") is not None:
                p["subopt"] = float(p["objective"]) - new_f
        rec.constants["f_star"] = new_f
        rec.info["f_star_refined"] = {"from": f_star, "to": new_f}
    worst = min(p["subopt"] for p in rec.points if p.get("subopt") is not None)
    if worst < negative_floor(new_f):
        rec.info["subopt_negative"] = {"min": worst, "f_star": new_f}
        note = f"suboptimality below zero ({worst:.3g}) even after f* was solved again: the reference is wrong"
        if rec.status == TARGET:
            rec.status = DONE
            note += "; not counted as reaching the target"
        rec.reason = f"{rec.reason}; {note}" if rec.reason else note
    return rec


def unavailable(spec: RunSpec) -> str | None:
    """Why ``spec`` cannot run on this install before it is even resolved: its workload needs an
    optional library that is missing (a base install meeting the tour's network workloads). The run
    is then skipped with this reason, as a plugin's missing library is, not the whole suite refused."""
    import importlib.util

    from harness._core.errors import install_hint
    from harness._core.plugin import NEEDS

    with located(spec.where):  # unknown names: the user's error, naming the suite file and entry
        pspec, wspec = plugins().get(spec.plugin), workloads().get(spec.workload)
    missing = [n for n in wspec.needs if importlib.util.find_spec(NEEDS[n][0]) is None]
    if not missing or wspec.kind not in pspec.kinds:  # a plugin that cannot take the workload: resolve says so
        return None
    return f"needs {', '.join(missing)} for workload {wspec.name} ({install_hint(NEEDS[missing[0]][1])})"


def skipped_record(spec: RunSpec, reason: str) -> RunRecord:
    """The record of a run skipped before resolution (:func:`unavailable`): shown, counted, not stored
    (without its workload's data it has no run key)."""
    pspec = plugins().get(spec.plugin)
    return RunRecord(id=None, hash="", plugin=pspec.name, workload=spec.workload,
                     workload_params=dict(spec.workload_params), params=dict(spec.params), workers=spec.workers,
                     seed=spec.seed, status=SKIPPED, reason=reason, plugin_version=pspec.version,
                     family=pspec.family, backend=pspec.backend, suite=spec.suite, created=time.time())


def new_record(res: Resolved) -> RunRecord:
    """The record a resolved spec will be stored as (status 'error' until the run says otherwise)."""
    spec, pspec, workload = res.spec, res.plugin, res.workload
    return RunRecord(id=None, hash=res.hash, plugin=pspec.name, workload=workload.name,
                    workload_params=workload.params, params=res.params, workers=spec.workers, seed=spec.seed,
                    status=ERROR, plugin_version=pspec.version, family=pspec.family, backend=pspec.backend,
                    budget=spec.budget.to_dict(), target={"metric": spec.target.metric, "value": spec.target.value},
                    env=manifest(), suite=spec.suite, created=time.time(),
                     info={"identity": res.identity,
                           **({"theory_choices": res.theory_choices} if res.theory_choices else {})})


def declined(res: Resolved) -> str | None:
    """Why the plugin does not run this resolved spec (its ``skip`` declines the combination, or a
    library it needs is missing), or None: such a run is stored with status 'skipped'."""
    pspec = res.plugin
    reason = pspec.skip(res.workload, res.params, res.spec.workers) if pspec.skip else None
    if reason is None:
        missing = pspec.missing()
        if missing:
            from harness._core.errors import install_hint
            from harness._core.plugin import NEEDS

            reason = f"needs {', '.join(missing)} ({install_hint(NEEDS[missing[0]][1])})"
    return reason


def launched_ranks(pspec: PluginSpec, workers: int) -> int:
    """Processes a run starts on this machine: one per worker and its backend's server ranks (an MPI
    parameter server), or none for an in-process backend."""
    backend = backend_of(pspec)
    return backend.processes(workers) if backend.launched else 0


def _run_resolved(res: Resolved, on_point, on_start) -> RunRecord:
    spec, pspec, workload = res.spec, res.plugin, res.workload
    begin = time.time()
    rec = new_record(res)
    reason = declined(res)
    if reason:
        rec.status, rec.reason = SKIPPED, reason
        return rec
    local = not (spec.options.get("hostfile") or spec.options.get("torchrun_args"))
    check_memory(workload, ranks=launched_ranks(pspec, spec.workers) if local else 0)

    planted_clock, params = planted_run(res.identity.get("options", {}).get("planted", {}), res.params)
    unobserved = not_audited(workload)
    observer = None if unobserved is not None else (
        Observer(spec.seed, head=EVERY, windows=0) if spec.observe_every else Observer(spec.seed))
    b = params.get("b")
    monitor = Monitor(workload.metrics, n_samples=getattr(workload, "n", None), budget=spec.budget,
                      target=spec.target, schedule=spec.schedule, deterministic=pspec.deterministic,
                      on_point=on_point, on_start=on_start, sizer=workload,
                      update_samples=b if isinstance(b, int) and not isinstance(b, bool) and b > 0 else None,
                      device=str(spec.options.get("device", "cpu")), observer=observer, **planted_clock)
    # made once the monitor has read the workload (its data may be refused: a UserError, no folder left)
    workdir = scratch.make(f"harness-{pspec.name}-")
    ctx = RunContext(plugin=pspec, workload=workload, params=params, workers=spec.workers,
                     seed=spec.seed, monitor=monitor, workdir=workdir, options=dict(spec.options),
                     expects=lambda: expected_applied(pspec))
    t0 = time.perf_counter()
    load0 = _load()
    try:
        rec.constants = _constants(workload)
        if spec.target.value is not None and res.backend.timed_beside_probe:
            rec.info["machine_s"] = machine_seconds()  # the machine's speed beside a time to target
        impl = pspec.load()
        extra = impl(ctx)
        if extra:
            ctx.info.update(extra)
        if monitor.status is None:
            monitor.stop("done", "plugin returned")
        rec.status, rec.reason = monitor.status, monitor.reason
    except KeyboardInterrupt as exc:
        rec.status, rec.reason = INTERRUPTED, f"interrupted by {signal_name(exc)} (points measured so far are kept)"
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
        rec.info["load"] = [load0, _load()]   # the machine's 1-min load average around the run, shown beside its times
        monitor.settle()                      # the observation windows' own cost off time_s (a stopped-short run too)
        rec.points = list(monitor.points)
        rec.info.update(ctx.info)
        rec.info.setdefault("eval_seconds", monitor.eval_seconds)
        if monitor.plan is not None:
            rec.info.setdefault("eval_plan", monitor.plan)
        rank_started = rec.info.pop("budget_started_at", None)  # the clock of a launched run's rank
        started = monitor.started_at or rank_started
        if started is not None:
            rec.info["startup_s"] = round(max(0.0, started - begin), 3)
        data = getattr(workload, "data_source", None)
        if data is not None:
            try:
                rec.info["data"] = data()
            except Exception:  # noqa: BLE001 - informative; the run's own error says what failed
                pass
        if rec.info.get("nodes"):  # a job across several nodes: each node's manifest beside this one's
            rec.env = {**rec.env, "nodes": rec.info.pop("nodes")}
        if res.backend.timed_beside_probe and monitor.cpu_to_target is not None:
            rec.info["cpu_to_target_s"] = monitor.cpu_to_target  # the gate's time where both sides have it
        # written last, over anything the plugin put under this key: the plugin cannot write its own audit;
        # a run stopped short (interrupted, timed out, failed) is not judged, and its shutdown is not delayed
        rec.info["audit"] = (trajectory_audit(workload, observer, pspec.family,
                                              int(rec.points[-1]["updates"]) if rec.points else None,
                                              {**params, **(rec.info.get("applied") or {})},
                                              work=EVERY_WORK if spec.observe_every else None)
                             if observer and rec.status in JUDGED else
                             {"status": "unaudited", "reason": unobserved or f"the run ended '{rec.status}'"})
        if monitor.charge is not None:   # what the windows took and what time_s charges for them instead
            rec.info["audit"]["clock"] = monitor.charge
        scratch.remove(workdir)
    note = evaluation_note(rec, spec.schedule)
    if note and (rec.plugin, rec.workload) not in _NOTED:   # once per plugin and workload: a suite's grid of
        _NOTED.add((rec.plugin, rec.workload))              # seeds said the same line for each of its runs
        print(f"harness: {note} (said once per plugin and workload)", file=sys.stderr)
    return rec


_NOTED: set[tuple[str, str]] = set()   # (plugin, workload) pairs this process has said evaluation_note for


def evaluation_note(rec: RunRecord, schedule: Schedule) -> str | None:
    """One line when evaluating the points took more wall time than the measured work (beyond the
    schedule's grace), naming the knob that thins them; None otherwise."""
    ev = float(rec.info.get("eval_seconds") or 0.0)
    measured = float(rec.points[-1].get("time_s") or 0.0) if rec.points else 0.0
    if ev <= max(measured, schedule.eval_grace_s):
        return None
    plan = rec.info.get("eval_plan") or {}
    what = f"{rec.plugin} on {rec.workload} spent {ev:.3g} s evaluating {len(rec.points)} points beside {measured:.3g} s of measured work"
    if plan.get("how") == "off":
        return f"{what}: let the evaluation plan size them (--schedule eval_plan=true)"
    if plan.get("param"):
        m = plan.get("eval_n")
        return (f"{what} (each on {m} samples): fewer points (--points N) or a smaller subset "
                f"(--workload-param {plan['param']}=M, now {m})")
    return f"{what}: fewer points (--points N, or --schedule ratio=R with R > {schedule.ratio:g})"


JUDGED = (*FINISHED_OK, DIVERGED)   # the statuses the theory checker judges


# the search's work budget where every update was observed (check-plugin's short audit run: every update must
# be searched): 5x an ordinary run's cap, ~5-10 s of a quiet 2-core Xeon, where 500 updates at n = 200, d = 10 took
# 7e7 units (0.07 s); its wall-clock safety net is 100 s
EVERY_WORK = 1e10


def trajectory_audit(workload: Workload, observer: Observer, family: str, run_updates: int | None,
                     reported: dict[str, Any] | None = None, work: float | None = None) -> dict[str, Any]:
    """The trajectory audit of a finished run (:mod:`harness.run.trajectory`) from the iterates the
    monitor observed, searching within a work budget set by the run's update count ``run_updates``
    (or ``work``), the same at any load; ``reported``: the run's parameters and the values the plugin
    reported it applied (its mini-batch is searched first, as a hint the audit checks);
    ``{"status": "unaudited", "reason": ...}`` where it cannot run."""
    from .trajectory import audit

    try:
        ups, its = observer.trajectory()
        return audit(workload, ups, its, family=family, windows=observer.windows, dropped=observer.dropped,
                     run_updates=run_updates, reported=reported, work=work)
    except Exception as exc:  # noqa: BLE001 - an audit that fails says so; the run itself stands
        return {"status": "unaudited", "reason": f"the audit failed: {type(exc).__name__}: {exc}"}


def not_audited(workload: Workload) -> str | None:
    """Why runs on ``workload`` are not observed for the trajectory audit (None: they are): it gives no
    per-sample gradients, or they are too many to compute (n x dim above the audit's limit)."""
    from .trajectory import MAX_GRAD_FLOATS

    if type(workload).per_sample_gradients is Workload.per_sample_gradients:
        return f"workload {workload.name} gives no per-sample gradients"
    n, dim = getattr(workload, "n", None), getattr(workload, "dim", None)
    if not (n and dim):
        return f"workload {workload.name} has no sizes n and dim"
    if n * dim > MAX_GRAD_FLOATS:
        return f"not audited at this size: n x dim = {n} x {dim} per-sample gradients (at most {MAX_GRAD_FLOATS:g})"
    return None


def _constants(workload: Workload) -> dict[str, Any]:
    try:
        return {k: float(v) for k, v in workload.constants().items()}
    except Exception as exc:  # noqa: BLE001 - constants are informative; a failure is recorded
        return {"error": f"{type(exc).__name__}: {exc}"}


def _load() -> float | None:
    """This machine's 1-minute load average (None where the OS has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):  # pragma: no cover
        return None
