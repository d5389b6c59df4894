"""Running a plugin in child processes (MPI ranks, torch.distributed ranks) and getting every
measured point back into the parent, whatever happens.

Parent side: :func:`run_job` writes the context's ``child_spec()`` to ``workdir/spec.json``, starts
the command in its own session (so a timeout or Ctrl-C can kill the whole process group, leaving
no orphans), waits with a timeout, and then replays what the children wrote:
``points.jsonl`` (one snapshot per line, appended by the rank that owns the monitor as it goes),
``result.json`` (final status, reason, info), ``error-<rank>.json`` (a failing rank's message) and,
for a job across several nodes, ``node-<k>.json`` (node k's machine manifest, written by one rank
there: :func:`write_node`), returned as ``info["nodes"]`` (the runner stores them in the run's
manifest, ``env["nodes"]``).

Child side: :func:`child_context` rebuilds the ``RunContext`` from the spec (the monitor streams
its points to ``points.jsonl``); :func:`child_main` wraps a rank's body so that an exception is
written to ``error-<rank>.json`` before the process exits non-zero.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Sequence

from . import jobguard, lifeline
from .context import RunContext
from .errors import PluginFailure, RunTimeout
from .jobguard import SPEC
from .monitor import Monitor

POINTS, RESULT = "points.jsonl", "result.json"
BEAT = "beat-"          # beat-<rank>: a rank's heartbeat file (its pid inside; touched every BEAT_S)
BEAT_S = 1.0
HUNG_AFTER_S = 60.0     # a rank whose heartbeat is this old is hung (option hung_after_s)
NODE = "node-{}.json"
JOIN = "join.json"


# -- parent -----------------------------------------------------------------------------------
def run_job(ctx: RunContext, argv: Sequence[str], *, timeout_s: float | None = None,
            env: dict[str, str] | None = None, after: Callable[[], None] | None = None,
            shm: str | None = None) -> dict[str, Any]:
    """Run ``argv`` (which receives the spec path through ``HARNESS_SPEC``) and fold its results
    into ``ctx.monitor``. Returns the children's ``info``. Raises PluginFailure (a rank failed) or
    RunTimeout; KeyboardInterrupt kills the job and propagates (points are kept). ``after()`` runs
    once the job's process group was killed, however the job ended (a launcher's clean-up).

    The job runs under a guard (:mod:`harness._core.jobguard`) that ends it and removes ``ctx.workdir``
    if this process dies first (``kill -9``), and also the new ``/dev/shm`` files matching the
    glob ``shm`` that no process maps any more (MPICH's segments). Its ranks' heartbeats
    (:class:`Heartbeat`) are watched: one silent for ``ctx.options['hung_after_s']`` seconds
    (default 60) stops the job with a PluginFailure naming that rank."""

    # the ranks read their spec from here and the parent reads their results back: a folder others
    # can write would let them feed the run (private_dir: created 0700, made private, or refused)
    from .paths import private_dir

    workdir = private_dir(ctx.workdir, "run folder")
    for stale in (POINTS, RESULT, *(p.name for p in workdir.glob(NODE.format("*")))):
        (workdir / stale).unlink(missing_ok=True)
    _write_spec(ctx, workdir)
    timeout_s = timeout_s or float(ctx.options.get("timeout_s") or 600)
    child_env = {**os.environ, **(env or {}), "HARNESS_SPEC": str(workdir / SPEC),
                 "PYTHONPATH": _pythonpath(), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                 "MKL_NUM_THREADS": "1"}
    out_path, err_path = workdir / "stdout.txt", workdir / "stderr.txt"
    hung_after_s = float(ctx.options.get("hung_after_s") or HUNG_AFTER_S)
    beats = HeartbeatWatch(workdir, hung_after_s)
    lifeline_r, lifeline_w = lifeline.pipe()
    # -S: the guard needs no site-packages (it imports the standard library and this package, found
    # through PYTHONPATH), which halves its start-up
    guarded = [sys.executable, "-S", "-P", "-m", "harness._core.jobguard", str(lifeline_r), str(workdir),
               *(("--shm", shm) if shm else ()), "--", *argv]
    with out_path.open("wb") as out, err_path.open("wb") as err:
        try:
            proc = subprocess.Popen(guarded, stdout=out, stderr=err, env=child_env, start_new_session=True,
                                    pass_fds=(lifeline_r,))
        except BaseException:
            os.close(lifeline_w)
            raise
        finally:
            os.close(lifeline_r)
        try:
            rc = _wait(proc, time.monotonic() + timeout_s, beats)
        except subprocess.TimeoutExpired:
            _end(proc, after, lifeline_w, job_marker(workdir))
            _fold_points(ctx.monitor, workdir)
            raise RunTimeout(f"job ran past its {timeout_s:g} s limit and was killed") from None
        except BaseException:
            _end(proc, after, lifeline_w, job_marker(workdir))
            _fold_points(ctx.monitor, workdir)
            raise
    _end(proc, after, lifeline_w, job_marker(workdir))  # stragglers of a finished job (e.g. a rank that outlived mpiexec)
    _fold_points(ctx.monitor, workdir)
    errors = sorted(workdir.glob("error-*.json"))
    if errors:
        first = _job_file(errors[0], "error report")
        raise PluginFailure(first.get("message", "failed"), rank=first.get("rank"))
    if rc != 0:
        tail = err_path.read_text(errors="replace").strip().splitlines()[-15:]
        full = disk_full(workdir)
        raise PluginFailure(f"job exited with code {rc}: " + (" | ".join(tail) if tail else "no stderr")
                            + (f" ({full})" if full else ""))
    result_path = workdir / RESULT
    if not result_path.exists():
        full = disk_full(workdir)
        raise PluginFailure("job finished without writing its result" + (f": {full}" if full else ""))
    result = _job_file(result_path, "result")
    if result.get("status"):
        ctx.monitor.stop(result["status"], result.get("reason", ""))
    nodes = read_nodes(workdir)
    return {**result.get("info", {}), **({"nodes": nodes} if nodes else {})}


def read_nodes(workdir: Path) -> list[dict[str, Any]]:
    """The ``node-<k>.json`` records of a job across several nodes, in node order (see :func:`write_node`)."""
    found = []
    for path in workdir.glob(NODE.format("*")):
        try:
            found.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return sorted(found, key=lambda n: n.get("node", 0))


def _write_spec(ctx: RunContext, workdir: Path) -> None:
    # atomically: a node that joins the run (`harness join`) may be reading it
    tmp = workdir / (SPEC + ".tmp")
    tmp.write_text(json.dumps(ctx.child_spec()))
    os.replace(tmp, workdir / SPEC)


def offer_join(ctx: RunContext, module: str, options: Sequence[str], then: Sequence[str], env: dict[str, str],
               lines: Sequence[str] = ("",)) -> list[str]:
    """Let other nodes join this run's job: writes the spec and ``join.json`` in the run's folder
    (each other node starts ``python -m module *options [LINE] *then`` with ``env``) and prints on
    stderr the line to type on each other node: ``harness join RUN-DIR`` followed by its entry of
    ``lines`` (one per node; e.g. ``--node-rank 1``, inserted as LINE; equal lines print once). The folder must be one all nodes see
    at the same path (``TMPDIR`` on a shared filesystem). Returns the printed commands."""
    from .paths import private_dir

    workdir = private_dir(ctx.workdir, "run folder")
    _write_spec(ctx, workdir)
    tmp = workdir / (JOIN + ".tmp")
    tmp.write_text(json.dumps({"module": module, "options": list(map(str, options)), "then": list(map(str, then)),
                               "env": dict(env), "timeout_s": float(ctx.options.get("timeout_s") or 600)}))
    os.replace(tmp, workdir / JOIN)
    commands = list(dict.fromkeys(f"harness join {workdir}" + (f" {extra}" if extra else "") for extra in lines))
    print(f"harness: this run waits for {len(lines)} more node(s); on " + ("each" if len(commands) == 1 else "one each")
          + ", type:", file=sys.stderr)
    for c in commands:
        print(f"    {c}", file=sys.stderr)
    sys.stderr.flush()
    return commands


def join_job(run_dir: str | Path, extra: Sequence[str] = ()) -> tuple[list[str], dict[str, str], float]:
    """(argv, environment, timeout in seconds) of this node's part of a run another node offered
    (:func:`offer_join`), read from ``run_dir/join.json``; ``extra``: what that node's line adds
    (``--node-rank K``). Raises UserError where ``run_dir`` is not such a run's folder."""
    from .errors import UserError
    from .paths import private_dir

    run_dir = Path(run_dir).resolve()
    if not (run_dir / JOIN).is_file() or not (run_dir / SPEC).is_file():
        raise UserError(f"{run_dir} is not the folder of a run waiting for other nodes (no {JOIN} and {SPEC}); "
                        f"give the folder the launching node printed")
    private_dir(run_dir, "run folder")  # we run what it names: refused where others could have written it
    try:
        job = json.loads((run_dir / JOIN).read_text())
        argv = python_module(job["module"], *job["options"], *extra, *job["then"])
        # this node's copy of the spec: its processes carry their own marker (HARNESS_SPEC=...), so the
        # starting node's clean-up (lifeline.kill_marked) never ends them where both share a machine;
        # `harness join` ends its own
        import socket

        spec = run_dir / f"spec.{socket.gethostname()}-{os.getpid()}.json"
        spec.write_bytes((run_dir / SPEC).read_bytes())
        env = {**os.environ, **job["env"], "HARNESS_SPEC": str(spec), "PYTHONPATH": _pythonpath(),
               "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        return argv, env, float(job["timeout_s"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{run_dir / JOIN} is unreadable: {exc}") from None


def _job_file(path: Path, what: str) -> dict[str, Any]:
    """A JSON file the job wrote; an empty or cut one (its disk filled: the writer died on ENOSPC)
    is a PluginFailure naming the file and, where it is so, the full disk (it read as
    'JSONDecodeError: Expecting value')."""
    from .paths import full_disk_note

    text = path.read_text(errors="replace")
    try:
        doc = json.loads(text)
    except ValueError:
        how = "empty" if not text.strip() else f"cut short at {len(text.encode())} bytes"
        raise PluginFailure(f"the job's {what} file {path.name} in {path.parent} is {how}"
                            f"{full_disk_note(path)}") from None
    return doc if isinstance(doc, dict) else {}


def _wait(proc: subprocess.Popen, deadline: float, beats: "HeartbeatWatch") -> int:
    """The job's exit status; TimeoutExpired past ``deadline`` (monotonic); PluginFailure naming
    the rank whose heartbeat stopped (a hung or stopped rank), checked about once a second."""
    while True:
        try:
            return proc.wait(timeout=max(0.0, min(1.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            if time.monotonic() >= deadline:
                raise
        hung = beats.hung()
        if hung is not None:
            raise hung


def _end(proc: subprocess.Popen, after: Callable[[], None] | None, lifeline_w: int, marker: bytes) -> None:
    try:
        kill_group(proc)
        lifeline.kill_marked(marker, grace_s=1.0)  # ranks in process groups of their own (hydra's)
    finally:
        os.close(lifeline_w)  # the guard sees the harness let go of the job (it is over)
    if after is not None:
        after()


def job_marker(workdir: Path | str) -> bytes:
    """The environment entry every process of a run's job carries (``HARNESS_SPEC=<workdir>/spec.json``):
    how its processes are found when they left its process group."""
    return jobguard.marker(str(workdir))


FULL_BYTES = 1 << 20     # under this much room the run folder's file system counts as full


def disk_full(folder: Path) -> str | None:
    """What to say where ``folder``'s file system has under :data:`FULL_BYTES` free (a job there cannot
    write its spec, heartbeats, points or errors, and its stderr is lost too), else None."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return None
    if free >= FULL_BYTES:
        return None
    return (f"the run folder's file system is full ({free // 1024} KiB free at {folder}: No space left on device; "
            "free some space or point TMPDIR elsewhere)")


class HeartbeatWatch:
    """The parent's watch over the ranks' heartbeats (:class:`Heartbeat`): a rank whose file has not
    changed for ``hung_after_s`` seconds of this process's clock (so the ranks' clocks, possibly
    another host's, do not matter) is hung. A rank is judged from its first beat on (imports and
    start-up before it are not), and no longer once it removed its file (it finished)."""

    def __init__(self, workdir: Path, hung_after_s: float):
        self.workdir, self.hung_after_s = Path(workdir), float(hung_after_s)
        self._seen: dict[str, tuple[int, float]] = {}  # file name -> (mtime_ns, when it last changed)

    def hung(self) -> PluginFailure | None:
        """The failure naming the first hung rank, or None."""
        now = time.monotonic()
        current = {}
        for path in self.workdir.glob(BEAT + "*"):
            try:
                current[path.name] = path.stat().st_mtime_ns
            except OSError:  # removed meanwhile: the rank finished
                continue
        for name, mtime in current.items():
            last = self._seen.get(name)
            if last is None or last[0] != mtime:
                self._seen[name] = (mtime, now)
        for name in list(self._seen):
            if name not in current:
                del self._seen[name]
        stale = [(changed, name) for name, (_, changed) in self._seen.items() if now - changed > self.hung_after_s]
        if not stale:
            return None
        changed, name = min(stale)
        rank = name[len(BEAT):]
        full = disk_full(self.workdir)
        if full:   # a rank that cannot write its files stops; its error went to the same full disk
            return PluginFailure(f"rank {rank}: no heartbeat for {now - changed:.0f} s, and {full}; the job was stopped",
                                 rank=int(rank) if rank.isdigit() else None)
        try:
            pid = int((self.workdir / name).read_text().strip() or 0)
        except (OSError, ValueError):
            pid = 0
        state = lifeline.process_state(pid) if pid else None
        how = {"T": "its process is stopped", "t": "its process is stopped by a debugger",
               "D": "its process waits on I/O", "Z": "its process is gone"}.get(state or "", "hung")
        message = f"no heartbeat for {now - changed:.0f} s{f' from pid {pid}' if pid else ''} ({how}); the job was stopped"
        if not rank.isdigit():
            return PluginFailure(f"rank {rank}: {message}")
        return PluginFailure(message, rank=int(rank))


def kill_group(proc: subprocess.Popen) -> None:
    """SIGTERM then SIGKILL the process group started for a job; never raises."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            proc.wait(timeout=3)
            # the leader may be gone while children of the group live on: check the group
            os.killpg(proc.pid, 0)
        except (ProcessLookupError, PermissionError):
            return
        except subprocess.TimeoutExpired:
            pass
        time.sleep(0.2)


def _fold_points(monitor: Monitor, workdir: Path) -> None:
    path = workdir / POINTS
    if not path.exists():
        return
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            monitor.points.append(json.loads(line))
        except ValueError:
            break  # a torn last line of a killed job


def python_module(module: str, *args: str) -> list[str]:
    """argv that runs ``python -m module args`` for a child (a rank, a launcher) with this interpreter.
    ``-P``: the child's working directory is not put on ``sys.path``, so a user's ``harness.py`` (or
    any module of theirs) cannot shadow ours; ``PYTHONPATH`` (set by :func:`run_job`) points at the
    tree this process runs from."""
    return [sys.executable, "-P", "-m", module, *args]


def _pythonpath() -> str:
    root = str(Path(__file__).resolve().parents[2])
    rest = os.environ.get("PYTHONPATH")
    return root + (os.pathsep + rest if rest else "")


# -- child ------------------------------------------------------------------------------------
def load_spec(path: str | None = None) -> dict[str, Any]:
    return json.loads(Path(path or os.environ["HARNESS_SPEC"]).read_text())


def child_context(spec: dict[str, Any], *, owns_monitor: bool, plugin=None) -> RunContext:
    """Rebuild the run context inside a child. The rank that ``owns_monitor`` streams each point
    to ``points.jsonl`` as it is taken; other ranks get a monitor that evaluates nothing.
    ``plugin``: the PluginSpec, when the backend has it at hand (saves loading every catalog)."""
    from .registry import build_workload, plugins

    pspec = plugin if plugin is not None else plugins().get(spec["plugin"])
    workload = build_workload(spec["workload"]["name"], spec["workload"]["params"])
    workdir = Path(spec["workdir"])
    sink = None
    if owns_monitor:
        fh = (workdir / POINTS).open("a")

        def sink(point, _mon, fh=fh):
            fh.write(json.dumps(point, default=_jsonable) + "\n")
            fh.flush()

    monitor = Monitor.from_config(spec["monitor"], workload.metrics if owns_monitor else (lambda w: {}),
                                  on_point=sink, deterministic=pspec.deterministic,
                                  sizer=workload if owns_monitor else None)
    return RunContext(plugin=pspec, workload=workload, params=spec["params"], workers=spec["workers"],
                      seed=spec["seed"], monitor=monitor, workdir=workdir, options=spec.get("options", {}),
                      expects=tuple(spec.get("expects", ())))


def write_result(ctx: RunContext, info: dict[str, Any] | None = None) -> None:
    """Called by the rank that owns the monitor when the run ends normally."""
    mon = ctx.monitor
    payload = {"status": mon.status or "done", "reason": mon.reason,
               "info": {"eval_seconds": mon.eval_seconds, "budget_started_at": mon.started_at,
                        **({"eval_plan": mon.plan} if mon.plan is not None else {}), **ctx.info, **(info or {})}}
    tmp = Path(ctx.workdir) / (RESULT + ".tmp")
    tmp.write_text(json.dumps(payload, default=_jsonable))
    os.replace(tmp, Path(ctx.workdir) / RESULT)


def write_node(workdir: str | Path, node: int, ranks: Sequence[int]) -> None:
    """Record this node's machine manifest for the run (``node-<node>.json`` in its work folder: one
    rank per node calls it, in a job across several nodes). ``ranks``: the job's ranks on this node.
    The parent returns them as ``info["nodes"]`` (:func:`run_job`)."""
    import socket

    from .machine import manifest

    payload = {"node": int(node), "host": socket.gethostname(), "ranks": [int(r) for r in ranks],
               "manifest": manifest()}
    tmp = Path(workdir) / (NODE.format(node) + ".tmp")
    tmp.write_text(json.dumps(payload, default=_jsonable))
    os.replace(tmp, Path(workdir) / NODE.format(node))


def write_error(workdir: str | Path, rank: int | None, exc: BaseException) -> None:
    msg = f"{type(exc).__name__}: {exc}"
    path = Path(workdir) / f"error-{rank if rank is not None else 'x'}.json"
    path.write_text(json.dumps({"rank": rank, "message": msg, "traceback": traceback.format_exc(limit=8)}))


def child_main(body: Callable[[], int | None], workdir: str | Path, rank: int | None,
               abort: Callable[[], None] | None = None) -> None:
    """Run a rank's body with its :class:`Heartbeat` going; on an exception record it, call
    ``abort`` (e.g. ``comm.Abort``) and exit 1."""
    beat = Heartbeat(workdir, rank)
    try:
        code = body()
    except BaseException as exc:  # noqa: BLE001
        write_error(workdir, rank, exc)
        sys.stderr.write(f"rank {rank}: {type(exc).__name__}: {exc}\n")
        sys.stderr.flush()
        if abort is not None:
            abort()
        os._exit(1)
    beat.stop()
    sys.exit(code or 0)


class Heartbeat:
    """A rank's sign of life for the parent (:class:`HeartbeatWatch`): ``beat-<rank>`` in the run's
    folder, holding the rank's pid, touched every ``BEAT_S`` seconds by a daemon thread of the rank
    itself; a stopped (SIGSTOP) or wedged process stops touching it. ``stop()`` removes it (the
    rank finished: no longer watched)."""

    def __init__(self, workdir: str | Path, rank: int | None, period_s: float = BEAT_S):
        import threading

        self.path = Path(workdir) / f"{BEAT}{rank if rank is not None else 'x'}"
        self._stopped = threading.Event()
        try:
            self.path.write_text(str(os.getpid()))
        except OSError:  # no folder to beat in: nothing to watch
            return

        def run():
            while not self._stopped.wait(period_s):
                try:
                    os.utime(self.path)
                except OSError:
                    return

        threading.Thread(target=run, name="harness-heartbeat", daemon=True).start()

    def stop(self) -> None:
        self._stopped.set()
        self.path.unlink(missing_ok=True)


def _jsonable(o: Any):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)
