"""Where a batch of runs executes: side by side on this machine (``local``, ``--jobs N``), on a
dask.distributed cluster (``dask``), or as SLURM jobs through submitit (``submitit``; ``submitit-local``:
submitit's local processes, asked for by name, never a silent fallback).

Every engine runs the same job, :func:`run_job`: one :class:`~harness.run.runner.Resolved` run
executed without a store, its :class:`~harness.run.store.RunRecord` returned as a plain dict. The
parent (this process) resolves and cache-checks each spec before anything is sent (the job receives
the resolved record and only rebuilds the workload's data), and writes every returned record to the
store itself: the store has one writer, and a job that dies (a killed worker, a
SLURM node lost) is still stored, as status 'error' with the engine's message.

Slots: ``slots`` runs' worth of cores. A run with W workers holds min(W, slots) slots while it runs
(a serial or simulated run holds one: its simulated workers share one process),
so ``--jobs 4`` never asks 4 cores to carry more than 4 workers (an MPI parameter server's extra
process aside). Runs start in suite order; a smaller run may start ahead of a wide one that does
not fit yet. On SLURM a run asks for ``cpus_per_task = W``.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from harness._core import lifeline, poolhome, scratch, signals
from harness._core.errors import MissingDependency, UserError
from harness._core.monitor import ERROR, INTERRUPTED
from harness._core.registry import plugins
from .runner import Resolved, RunSpec, new_record, run_resolved
from .store import RunRecord, Store, record_from_dict, run_to_dict

ENGINES = ("local", "dask", "submitit", "submitit-local")


# how long an interrupted batch waits for its running jobs to return their points (an in-process
# run returns within a measurement chunk of the signal; one stuck in a compiled kernel is dropped)
INTERRUPT_GRACE_S = 10.0


def run_job(res: Resolved, scratch: str | None = None, token: str | None = None) -> dict[str, Any]:
    """The job every engine runs (importable by reference, so pickles stay small). ``scratch``: a
    folder the parent made on this machine for its jobs' work folders (removed by the parent, so
    a job killed on the way out leaves nothing behind); None on another machine. ``token``: the
    local pool's name for this job: the worker writes its pid to ``scratch/job-<token>.pid`` first,
    so a worker that dies (the OOM killer) is matched to the run it was executing."""
    if scratch is not None and token is not None:
        with contextlib.suppress(OSError):
            Path(scratch, f"job-{token}.pid").write_text(str(os.getpid()))
    with signals.job(), _tempdir(scratch):
        rec = run_resolved(res, None)
    return run_to_dict(rec)


class JobLost(Exception):
    """A job whose worker process died under it (its run is stored 'error' with this message)."""


@contextlib.contextmanager
def _tempdir(folder: str | None):
    if folder is None or not os.path.isdir(folder):
        yield
        return
    before, tempfile.tempdir = tempfile.tempdir, folder
    try:
        yield
    finally:
        tempfile.tempdir = before


def slots_of(res: Resolved, slots: int) -> int:
    """Cores a run holds: the cores its backend keeps busy (``Backend.cores``: its worker count,
    1 for a serial or simulated run), at most the whole machine."""
    return max(1, min(res.backend.cores(res.spec.workers), slots))


# -- engines --------------------------------------------------------------------------------
class Engine:
    """``submit(spec) -> handle``; ``wait(handles, timeout) -> finished handles``; ``result(h) -> dict``;
    ``interrupt(handles, signum)``: pass a signal on to the running jobs, True when they return
    their runs 'interrupted' with the points measured so far (else they are lost)."""

    slots: int = 1
    name: str = ""
    scratch: str | None = None  # the jobs' temp folder on this machine (see run_job), removed by close

    def _make_scratch(self) -> None:
        self.scratch = str(scratch.make("harness-jobs-"))

    def _remove_scratch(self) -> None:
        if self.scratch is not None:
            scratch.remove(self.scratch)

    def submit(self, res: Resolved) -> Any:
        raise NotImplementedError

    def submit_all(self, resolved: Sequence[Resolved]) -> list[Any] | None:
        """Every run of a batch at once, where the engine schedules them itself (a SLURM job array,
        which runs ``slots`` at a time): their handles in order; None where it does not (then
        :func:`run_parallel` submits them one by one as slots free up)."""
        return None

    def wait(self, handles: Sequence[Any], timeout: float) -> list[Any]:
        raise NotImplementedError

    def result(self, handle: Any) -> dict[str, Any]:
        raise NotImplementedError

    def cancel(self, handles: Sequence[Any]) -> None:
        pass

    def interrupt(self, handles: Sequence[Any], signum: int) -> bool:
        self.cancel(handles)
        return False

    def close(self) -> None:
        pass


class _Job:
    """A run on the local pool: its resolved record, the future of its current attempt, and, once
    its worker died under it, why (``lost``)."""

    def __init__(self, res: Resolved, token: str):
        self.res, self.token = res, token
        self.future: cf.Future | None = None
        self.lost: str | None = None
        self.attempts = 0


class LocalEngine(Engine):
    """A pool of ``slots`` processes on this machine, forked from a fork server that imported the
    grid's plugin and workload modules once (``preload``): a worker's first run does not pay the
    imports again, and no worker inherits this process's threads (progress, BLAS, numba).

    Nothing outlives this process, even killed with ``kill -9``: each worker watches a pipe only
    this process holds open (:mod:`harness._core.lifeline`) and, at its end-of-file, exits; the
    fork server and the resource tracker then end by themselves (python/cpython#111873), the latter
    unlinking the pool's semaphores (``/dev/shm/sem.mp-*``). Whatever the pool writes in ``$TMPDIR``
    (the jobs' folders, multiprocessing's sockets) lies in one folder that a keeper process, started
    before it, removes once this process is gone (:mod:`harness._core.poolhome`), even when no
    worker had started yet.
    A worker that dies (the OOM killer) fails only the run it was executing ('error', naming
    the death); the runs beside it, which ``concurrent.futures`` fails with it, are run again on
    a new pool."""

    name = "local"
    RETRIES = 2  # a run whose pool broke under it this often, its own worker never seen dying, is given up

    def __init__(self, slots: int, preload: Sequence[str] = ()):
        self.slots = slots
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(["harness.run.runner", *preload])
        # in the pool's folder (multiprocessing's sockets are there too), which its keeper removes
        # once this process is gone: made before anything of multiprocessing's starts
        self.scratch = tempfile.mkdtemp(prefix="jobs-", dir=poolhome.home())
        # the read end goes to every worker; only this process ever holds the write end
        self._lifeline_r, self._lifeline_w = self._ctx.Pipe(duplex=False)
        self._tokens = 0
        self._live: set[_Job] = set()
        self._seen: dict[int, Any] = {}  # pid -> the pool's worker process, for exit codes after a break
        self._retired: list[Any] = []    # the workers of pools replaced after a break
        self.pool = self._new_pool()

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(max_workers=self.slots, mp_context=self._ctx, initializer=_worker_init,
                                      initargs=(self._lifeline_r,))

    def submit(self, res):
        self._tokens += 1
        job = _Job(res, str(self._tokens))
        self._start(job)
        self._live.add(job)
        return job

    def _start(self, job: _Job) -> None:
        job.attempts += 1
        Path(self.scratch, f"job-{job.token}.pid").unlink(missing_ok=True)
        job.future = self.pool.submit(run_job, job.res, self.scratch, job.token)

    def wait(self, handles, timeout):
        lost = [h for h in handles if h.lost is not None]
        if lost:
            return lost
        self._seen.update((p.pid, p) for p in self._workers())
        futures = {h.future: h for h in handles}
        done, _ = cf.wait(futures, timeout=timeout, return_when=cf.FIRST_COMPLETED)
        if not any(_broken(f) for f in done):
            return [futures[f] for f in done]
        self._recover()
        return [h for h in handles if h.lost is not None] + [futures[f] for f in done if not _broken(f)]

    def _recover(self) -> None:
        """The pool broke (a worker died): each run whose worker died is lost, with the death's
        cause; every other run of the broken pool starts again on a new one."""
        live = [j for j in self._live if j.lost is None]
        cf.wait([j.future for j in live], timeout=5)  # the broken pool fails its futures one by one
        self._seen.update((p.pid, p) for p in self._workers())
        deadline = time.monotonic() + 2.0
        while True:  # the dead worker's status comes through the fork server: a moment after the break
            dead = {pid: p.exitcode for pid, p in self._seen.items() if p.exitcode is not None}
            if dead or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        old, self._retired = self.pool, self._retired + list(self._seen.values())
        old.shutdown(wait=False, cancel_futures=True)
        self._kill(self._retired)
        self._seen = {}
        self.pool = self._new_pool()
        for job in sorted(live, key=lambda j: int(j.token)):
            if not (job.future.done() and _broken(job.future)):  # finished before the break: kept
                continue
            try:
                pid = int(Path(self.scratch, f"job-{job.token}.pid").read_text())
            except (OSError, ValueError):
                pid = None
            if pid in dead:
                job.lost = f"its worker process (pid {pid}) died: {_death(dead[pid])}"
            elif job.attempts > self.RETRIES:
                job.lost = f"its worker pool broke {job.attempts} times under it (a worker died: " \
                           f"{', '.join(_death(c) for c in dead.values()) or 'unknown cause'})"
            else:
                self._start(job)

    def result(self, handle):
        self._live.discard(handle)
        if handle.lost is not None:
            raise JobLost(handle.lost)
        return handle.future.result()

    def cancel(self, handles):
        for h in handles:
            h.future.cancel()

    def _workers(self) -> list:
        # the pool's processes (a private attribute: concurrent.futures has no public one before 3.14)
        return list((getattr(self.pool, "_processes", None) or {}).values())

    def interrupt(self, handles, signum):
        """The signal to every worker: the one running a job returns it 'interrupted' with its
        points (``signals.install_worker``); an idle one ignores it."""
        self.cancel(handles)
        for p in self._workers():
            with contextlib.suppress(OSError):
                os.kill(p.pid, signum)
        return True

    @staticmethod
    def _kill(procs) -> None:
        for p in procs:
            with contextlib.suppress(OSError, ValueError):
                p.kill()
        for p in procs:
            with contextlib.suppress(ValueError):
                p.join(5)

    def close(self):
        """Nothing outlives the command: queued jobs are cancelled, the workers (idle, or still in
        a run after an interruption's grace) are killed, and their temp folder removed."""
        procs = self._workers()
        self.pool.shutdown(wait=False, cancel_futures=True)
        self._kill(procs + self._retired)
        self._lifeline_w.close()
        self._lifeline_r.close()
        self._remove_scratch()


def _worker_init(lifeline_r) -> None:
    """A local pool worker's initializer: signals as a serial run takes them
    (``signals.install_worker``), and the watch on the parent (:mod:`harness._core.lifeline`): once the
    harness is gone (or its engine closed), this worker exits (its launched job's guard then ends
    the job, :mod:`harness._core.jobguard`; the pool's folder is its keeper's, :mod:`harness._core.poolhome`)."""
    signals.install_worker()
    lifeline.watch(lifeline_r, lambda: os._exit(1))


def _broken(future: cf.Future) -> bool:
    return not future.cancelled() and isinstance(future.exception(), cf.BrokenExecutor)


def _death(exitcode: int) -> str:
    if exitcode < 0:
        name = signal.Signals(-exitcode).name if -exitcode in signal.Signals._value2member_map_ else str(-exitcode)
        return f"killed by {name}" + (" (as the out-of-memory killer does)" if -exitcode == signal.SIGKILL else "")
    return f"exited with code {exitcode}"


# A LocalCluster that opens nothing beyond this machine: scheduler, nannies and workers on
# 127.0.0.1, and no dashboard. ``dashboard_address=None`` is not "off": the scheduler's HTTP server
# (health and metrics routes) then starts anyway, on port 8787 (and warns when that port is taken),
# so it is given loopback and a port the system picks, with the dashboard itself turned off. TCP
# even for threads (processes=False): dask's in-process transport left the workers' HTTP servers
# on every interface.
LOOPBACK_CLUSTER = {"host": "127.0.0.1", "protocol": "tcp://", "dashboard_address": "127.0.0.1:0",
                    "worker_dashboard_address": None, "scheduler_kwargs": {"dashboard": False}}


class DaskEngine(Engine):
    """dask.distributed: the scheduler at ``address``, or a LocalCluster of ``slots`` one-thread
    worker processes (``processes=False``: threads of this process, for tests and debugging)
    listening on loopback only (:data:`LOOPBACK_CLUSTER`)."""

    name = "dask"

    def __init__(self, slots: int, address: str | None = None, processes: bool = True):
        try:
            import logging

            from dask.distributed import Client, LocalCluster

            from harness._core.environment import number
        except ImportError:
            raise MissingDependency("dask.distributed (for --executor dask)", "cluster") from None
        self.slots, self.cluster, self._job_scratch = slots, None, None
        address = address or os.environ.get("DASK_SCHEDULER_ADDRESS")
        try:
            if address:
                self.client = Client(address, timeout=number("HARNESS_DASK_CONNECT_S", 30.0))
            else:
                import dask

                # the scheduler's and workers' scratch (dask-scratch-space/, its locks) in a folder
                # removed by close(), not left in $TMPDIR
                self._make_scratch()
                with dask.config.set({"temporary-directory": self.scratch}):
                    self.cluster = LocalCluster(n_workers=slots, threads_per_worker=1, processes=processes,
                                                silence_logs=logging.ERROR, local_directory=self.scratch,
                                                **LOOPBACK_CLUSTER)
                if processes:  # the jobs' work folders there too (threads of this one clean up after themselves)
                    self._job_scratch = self.scratch
                self.client = Client(self.cluster)
        except (OSError, TimeoutError) as exc:  # no scheduler at that address
            raise UserError(f"cannot reach the dask scheduler at {address}: {exc}") from None
        self._n = 0

    def submit(self, res):
        self._n += 1
        return self.client.submit(run_job, res, self._job_scratch, pure=False, key=f"harness-run-{self._n}-{os.getpid()}")

    def wait(self, handles, timeout):
        from dask.distributed import wait

        try:
            done, _ = wait(handles, timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return []
        return list(done)

    def result(self, handle):
        return handle.result()

    def cancel(self, handles):
        self.client.cancel(list(handles))

    def close(self):
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        self._remove_scratch()


class SubmititEngine(Engine):
    """One submitit job per run: SLURM (``cluster='slurm'``, or found automatically), or submitit's
    local executor (``cluster='local'``, subprocesses on this machine: how the tests run it).
    ``params`` are submitit's (``slurm_partition``, ``timeout_min``, ``mem_gb``, ...).

    ``arrays`` (default: on SLURM): a batch goes out as job arrays (submitit's ``map_array``: one
    ``sbatch`` for all the runs that ask for the same CPU count, ``slurm_array_parallelism`` =
    ``slots`` of them at a time, time limit the longest of theirs), rather than one job per run.
    submitit's local executor starts an array's jobs all at once, so there it is off unless asked."""

    name = "submitit"

    def __init__(self, slots: int, folder: str | os.PathLike | None = None, cluster: str | None = None,
                 params: dict[str, Any] | None = None, arrays: bool | None = None):
        try:
            import submitit
        except ImportError:
            raise MissingDependency("submitit (for --executor submitit)", "cluster") from None
        self.slots = slots
        if cluster in (None, "slurm") and shutil.which("sbatch") is None:
            # submitit's AutoExecutor falls back to local processes without a word: on a login node
            # that would run the whole grid there
            raise UserError("--executor submitit sends each run to SLURM, and this machine has no sbatch on PATH; "
                            "ask for --executor submitit-local to run the jobs as processes here")
        # submitit keeps each job's pickled function and result here and loads them back (the jobs
        # and this process): a folder others can write would run their code
        from .._core.paths import private_dir

        self.folder = private_dir(folder or Path(".harness") / "submitit", "submitit folder")
        self.executor = submitit.AutoExecutor(folder=self.folder / "%j", cluster=cluster)
        self.params = dict(params or {})
        # the jobs import harness from where this process did (a source checkout is not installed)
        from harness._core.launch import _pythonpath

        os.environ["PYTHONPATH"] = _pythonpath()
        self.arrays = self.executor.cluster == "slurm" if arrays is None else bool(arrays)

    def _parameters(self, resolved: Sequence[Resolved], name: str) -> None:
        timeout_s = max(float(r.spec.options.get("timeout_s") or 3600) for r in resolved)
        params = {"timeout_min": max(1, int(timeout_s / 60) + 5), "cpus_per_task": slots_of(resolved[0], 1 << 30),
                  "name": name, **({"slurm_array_parallelism": self.slots} if len(resolved) > 1 else {}), **self.params}
        try:
            self.executor.update_parameters(**params)
        except (ValueError, TypeError) as exc:
            raise UserError(f"submitit rejected the job parameters: {exc}") from None

    def submit(self, res):
        self._parameters([res], f"harness-{res.spec.plugin}")
        return self.executor.submit(run_job, res)

    def submit_all(self, resolved):
        if not self.arrays:
            return None
        groups: dict[int, list[int]] = {}  # one array per CPU count (an array's jobs share their resources)
        for i, res in enumerate(resolved):
            groups.setdefault(slots_of(res, 1 << 30), []).append(i)
        handles: list[Any] = [None] * len(resolved)
        for members in groups.values():
            batch = [resolved[i] for i in members]
            if len(batch) == 1:
                jobs = [self.submit(batch[0])]
            else:
                plugins = sorted({r.spec.plugin for r in batch})
                self._parameters(batch, f"harness-{plugins[0]}" if len(plugins) == 1 else "harness-grid")
                jobs = self.executor.map_array(run_job, batch)
            for i, job in zip(members, jobs):
                handles[i] = job
        return handles

    def wait(self, handles, timeout):
        end = time.monotonic() + timeout
        while True:
            done = [h for h in handles if h.done()]
            if done or time.monotonic() >= end:
                return done
            time.sleep(min(0.5, max(0.0, end - time.monotonic())))

    def result(self, handle):
        return handle.result()

    def cancel(self, handles):
        for h in handles:
            try:
                h.cancel(check=False)
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass

    def close(self):
        # submitit makes the folder pattern itself, '%j' literally, and leaves it empty beside the jobs' folders
        with contextlib.suppress(OSError):
            (self.folder / "%j").rmdir()


def preload_modules(specs: Sequence[RunSpec]) -> list[str]:
    """The modules the runs of ``specs`` import first: their plugins' implementations, their
    workloads' factories, and scikit-learn's dataset loaders (the built-in workloads' data)."""
    import importlib.util

    from harness._core.registry import workloads

    mods: dict[str, None] = {}
    for s in specs:
        mods[plugins().get(s.plugin).impl.partition(":")[0]] = None
        mods[workloads().get(s.workload).factory.partition(":")[0]] = None
    if importlib.util.find_spec("sklearn") is not None:
        mods["sklearn.datasets"] = None
    return list(mods)


def make_engine(kind: str, slots: int, *, specs: Sequence[RunSpec] = (), address: str | None = None,
                processes: bool = True, folder: str | None = None, cluster: str | None = None,
                params: dict[str, Any] | None = None) -> Engine:
    """The engine for ``--executor KIND``: ``specs`` (what will run) lets the local pool import
    ahead; ``address`` is dask's scheduler; ``folder``, ``cluster`` and ``params`` are submitit's."""
    if slots < 1:
        raise UserError(f"--jobs must be at least 1, got {slots}")
    if kind == "local":
        from .manifest import usable_cores
        from .runner import MAX_RANKS_PER_CORE

        cores = usable_cores()
        if slots > MAX_RANKS_PER_CORE * cores:  # --jobs 100000: a typo, not a plan (each slot may be a process)
            raise UserError(f"--jobs {slots}: the local pool runs at most {MAX_RANKS_PER_CORE * cores} runs side by "
                            f"side on this machine's {cores} cores ({MAX_RANKS_PER_CORE} per core)")
        return LocalEngine(slots, preload=preload_modules(specs))
    if kind == "dask":
        return DaskEngine(slots, address=address, processes=processes)
    if kind == "submitit":
        return SubmititEngine(slots, folder=folder, cluster=cluster, params=params)
    if kind == "submitit-local":
        return SubmititEngine(slots, folder=folder, cluster="local", params=params)
    raise UserError(f"unknown executor '{kind}' (expected {', '.join(ENGINES)})")


# -- contention -----------------------------------------------------------------------------
class Contention:
    """Whether runs side by side on this machine (the local engine) had more busy workers than the
    machine has cores at some moment of their lives: such a run's times carry the others' load
    (a 1-worker run that takes 0.6 s alone showed 16 s beside 3 others on 2 cores). Warns once on
    stderr the first time it happens and marks each such run: ``info['contention'] = {contended,
    busy_peak (busy workers at the fullest moment of its life), cores, jobs, load (1-min load
    average when it started and ended)}``. Reports show the mark; speedups leave marked runs out."""

    def __init__(self, engine: "Engine"):
        from .manifest import usable_cores

        self.on = engine.name == "local"
        self.cores = usable_cores()
        self.jobs = engine.slots
        self.busy: dict[int, int] = {}       # in-flight run -> its busy workers
        self.peak: dict[int, int] = {}
        self.load0: dict[int, float] = {}
        self.warned = False

    def started(self, i: int, res: Resolved, in_flight: list[int]) -> None:
        if not self.on:
            return
        self.busy[i] = max(1, res.backend.cores(res.spec.workers))
        self.load0[i] = _load()
        total = sum(self.busy.get(j, 0) for j in in_flight)
        for j in in_flight:
            self.peak[j] = max(self.peak.get(j, 0), total)
        if total > self.cores and not self.warned:
            self.warned = True
            print(f"harness: warning: --jobs {self.jobs}: {total} busy workers on {self.cores} cores: the runs' times "
                  "are contended (marked in the runs and the report; speedups leave them out)", file=sys.stderr)

    def mark(self, i: int, rec: RunRecord) -> None:
        if not self.on or i not in self.busy:
            return
        del self.busy[i]
        peak = self.peak.pop(i, 0)
        rec.info = {**(rec.info or {}), "contention": {
            "contended": peak > self.cores, "busy_peak": peak, "cores": self.cores, "jobs": self.jobs,
            "load": [round(self.load0.pop(i, float("nan")), 2), round(_load(), 2)]}}


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:  # pragma: no cover - no load average on this OS
        return float("nan")


# -- scheduling -----------------------------------------------------------------------------
def run_parallel(resolved: Sequence[Resolved], store: Store, engine: Engine, *, force: bool = False,
                 progress: Any = None, poll_s: float = 1.0,
                 on_record: Callable[[RunRecord], None] | None = None,
                 grace_s: float = INTERRUPT_GRACE_S) -> list[RunRecord]:
    """Run the resolved runs on ``engine`` (each job receives its record: nothing is resolved
    again); return their records in suite order (cache hits included).

    Every finished run is stored as it arrives. Ctrl-C (or SIGTERM/SIGHUP, ``harness._core.signals``)
    cancels what has not started and stores nothing for it; the runs in flight are stored
    'interrupted': with the points measured so far when their job returns them within ``grace_s``
    (the local pool's do), else without points; then the engine's workers are ended."""
    records: list[RunRecord | None] = [None] * len(resolved)
    pending: list[int] = []
    for i, res in enumerate(resolved):
        hit = None if force else store.find_cached(res.hash, suite=res.spec.suite)
        if hit is not None:
            records[i] = hit
            if progress:
                progress.done()
        else:
            pending.append(i)
    in_flight: dict[Any, tuple[int, int]] = {}
    free = engine.slots
    watch = Contention(engine)

    def store_result(h: Any, interrupted: BaseException | None = None) -> None:
        i, _ = in_flight[h]
        try:
            rec = record_from_dict(engine.result(h))
            rec.id, rec.cached = None, False
        except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - a lost job is stored, never lost
            rec = new_record(resolved[i])
            why = str(exc) if isinstance(exc, JobLost) else f"{type(exc).__name__}: {exc}"
            rec.status, rec.reason = ERROR, f"{engine.name} job failed: {why}"
            if interrupted is not None or isinstance(exc, KeyboardInterrupt):
                rec.status, rec.reason = INTERRUPTED, f"interrupted by {signals.signal_name(interrupted or exc)} " \
                                                      "before its job returned: its points are lost"
        watch.mark(i, rec)
        store.save(rec)
        records[i] = rec
        del in_flight[h]  # after the save: a signal during it leaves the run to be stored again
        if on_record:
            on_record(rec)
        if progress:
            progress.done()

    try:
        batch = engine.submit_all([resolved[i] for i in pending]) if pending else None
        if batch is not None:  # the engine schedules them (a job array): no slots to count here
            in_flight.update((h, (i, 0)) for h, i in zip(batch, pending))
            pending = []
        while pending or in_flight:
            for i in list(pending):
                need = slots_of(resolved[i], engine.slots)
                if need <= free:
                    in_flight[engine.submit(resolved[i])] = (i, need)
                    free -= need
                    pending.remove(i)
                    watch.started(i, resolved[i], [j for j, _ in in_flight.values()])
            if progress:
                progress.running(len(in_flight))
            for h in engine.wait(list(in_flight), timeout=poll_s):
                free += in_flight[h][1]
                store_result(h)
    except KeyboardInterrupt as exc:
        _interrupted(exc, engine, in_flight, store_result, grace_s)
        with signals.sigint_ignored():  # a further Ctrl-C must not lose these rows half-written
            for i, _ in list(in_flight.values()):
                rec = new_record(resolved[i])
                rec.status, rec.reason = INTERRUPTED, f"interrupted by {signals.signal_name(exc)}; its " \
                                                      f"{engine.name} job did not return its points (lost)"
                store.save(rec)
                records[i] = rec
    finally:
        with signals.sigint_ignored():  # the workers end however the batch ends
            engine.close()
    return [r for r in records if r is not None]


def _interrupted(exc: BaseException, engine: Engine, in_flight: dict, store_result: Callable, grace_s: float) -> None:
    """Ctrl-C or SIGTERM during a batch: the signal passed on to the running jobs, and for at most
    ``grace_s`` seconds each one that returns is stored (an in-process run returns 'interrupted'
    with the points measured so far). A second Ctrl-C stops the wait."""
    signum = getattr(exc, "signum", signal.SIGINT)
    try:
        if not engine.interrupt(list(in_flight), signum):
            return
        end = time.monotonic() + grace_s
        while in_flight and time.monotonic() < end:
            for h in engine.wait(list(in_flight), timeout=min(0.5, max(0.0, end - time.monotonic()))):
                store_result(h, interrupted=exc)
    except KeyboardInterrupt:
        pass
