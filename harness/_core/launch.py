"""Running a plugin in child processes (MPI ranks, torch.distributed ranks) and getting every
measured point back into the parent, whatever happens.

Parent side: :func:`run_job` writes the context's ``child_spec()`` to ``workdir/spec.json``, starts
the command in its own session (so a timeout or Ctrl-C can kill the whole process group, leaving
no orphans), waits with a timeout, and then replays what the children wrote:
``points.jsonl`` (one snapshot per line, appended by the rank that owns the monitor as it goes),
``result.json`` (final status, reason, info) and ``error-<rank>.json`` (a failing rank's message).

Child side: :func:`child_context` rebuilds the ``RunContext`` from the spec (the monitor streams
its points to ``points.jsonl``); :func:`child_main` wraps a rank's body so that an exception is
written to ``error-<rank>.json`` before the process exits non-zero.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Sequence

from .context import RunContext
from .errors import PluginFailure, RunTimeout
from .monitor import Monitor

SPEC, POINTS, RESULT = "spec.json", "points.jsonl", "result.json"


# -- parent -----------------------------------------------------------------------------------
def run_job(ctx: RunContext, argv: Sequence[str], *, timeout_s: float | None = None,
            env: dict[str, str] | None = None, after: Callable[[], None] | None = None) -> dict[str, Any]:
    """Run ``argv`` (which receives the spec path through ``HARNESS_SPEC``) and fold its results
    into ``ctx.monitor``. Returns the children's ``info``. Raises PluginFailure (a rank failed) or
    RunTimeout; KeyboardInterrupt kills the job and propagates (points are kept). ``after()`` runs
    once the job's process group was killed, however the job ended (a launcher's clean-up)."""

    # the ranks read their spec from here and the parent reads their results back: a folder others
    # can write would let them feed the run (private_dir: created 0700, made private, or refused)
    from .paths import private_dir

    workdir = private_dir(ctx.workdir, "run folder")
    for stale in (POINTS, RESULT):
        (workdir / stale).unlink(missing_ok=True)
    (workdir / SPEC).write_text(json.dumps(ctx.child_spec()))
    timeout_s = timeout_s or float(ctx.options.get("timeout_s") or 600)
    child_env = {**os.environ, **(env or {}), "HARNESS_SPEC": str(workdir / SPEC),
                 "PYTHONPATH": _pythonpath(), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                 "MKL_NUM_THREADS": "1"}
    out_path, err_path = workdir / "stdout.txt", workdir / "stderr.txt"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(list(argv), stdout=out, stderr=err, env=child_env, start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _end(proc, after)
            _fold_points(ctx.monitor, workdir)
            raise RunTimeout(f"job ran past its {timeout_s:g} s limit and was killed") from None
        except BaseException:
            _end(proc, after)
            _fold_points(ctx.monitor, workdir)
            raise
    _end(proc, after)  # stragglers of a finished job (e.g. a rank that outlived mpiexec)
    _fold_points(ctx.monitor, workdir)
    errors = sorted(workdir.glob("error-*.json"))
    if errors:
        first = json.loads(errors[0].read_text())
        raise PluginFailure(first.get("message", "failed"), rank=first.get("rank"))
    if rc != 0:
        tail = err_path.read_text(errors="replace").strip().splitlines()[-15:]
        raise PluginFailure(f"job exited with code {rc}: " + (" | ".join(tail) if tail else "no stderr"))
    result_path = workdir / RESULT
    if not result_path.exists():
        raise PluginFailure("job finished without writing its result")
    result = json.loads(result_path.read_text())
    if result.get("status"):
        ctx.monitor.stop(result["status"], result.get("reason", ""))
    return result.get("info", {})


def _end(proc: subprocess.Popen, after: Callable[[], None] | None) -> None:
    kill_group(proc)
    if after is not None:
        after()


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
                                  on_point=sink, deterministic=pspec.deterministic)
    return RunContext(plugin=pspec, workload=workload, params=spec["params"], workers=spec["workers"],
                      seed=spec["seed"], monitor=monitor, workdir=workdir, options=spec.get("options", {}),
                      expects=tuple(spec.get("expects", ())))


def write_result(ctx: RunContext, info: dict[str, Any] | None = None) -> None:
    """Called by the rank that owns the monitor when the run ends normally."""
    mon = ctx.monitor
    payload = {"status": mon.status or "done", "reason": mon.reason,
               "info": {"eval_seconds": mon.eval_seconds, **ctx.info, **(info or {})}}
    tmp = Path(ctx.workdir) / (RESULT + ".tmp")
    tmp.write_text(json.dumps(payload, default=_jsonable))
    os.replace(tmp, Path(ctx.workdir) / RESULT)


def write_error(workdir: str | Path, rank: int | None, exc: BaseException) -> None:
    msg = f"{type(exc).__name__}: {exc}"
    path = Path(workdir) / f"error-{rank if rank is not None else 'x'}.json"
    path.write_text(json.dumps({"rank": rank, "message": msg, "traceback": traceback.format_exc(limit=8)}))


def child_main(body: Callable[[], int | None], workdir: str | Path, rank: int | None,
               abort: Callable[[], None] | None = None) -> None:
    """Run a rank's body; on an exception record it, call ``abort`` (e.g. ``comm.Abort``) and exit 1."""
    try:
        code = body()
    except BaseException as exc:  # noqa: BLE001
        write_error(workdir, rank, exc)
        sys.stderr.write(f"rank {rank}: {type(exc).__name__}: {exc}\n")
        sys.stderr.flush()
        if abort is not None:
            abort()
        os._exit(1)
    sys.exit(code or 0)


def _jsonable(o: Any):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)
