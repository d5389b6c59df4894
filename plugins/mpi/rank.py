"""What every MPI rank runs: ``mpiexec -n P+1 python -m harness.plugins.mpi.rank`` (spec in $HARNESS_SPEC).

Each rank is a small supervisor process around the real rank (the same module with
``HARNESS_MPI_INNER=1``). The supervisor imports nothing heavy; it only waits. If the real rank
dies without a word (``os._exit``, a signal, a segfault), the supervisor records
``died-<rank>.json`` (rank, exit code, time) before passing the exit code on to ``mpiexec``, which
then tears the job down; the launcher turns the earliest such record into the run's error. The
real rank is bound to its supervisor with ``PR_SET_PDEATHSIG`` so it never outlives it. However
its rank ends, the supervisor records it in ``exit-<rank>.json`` (the exit code, or the signal with
which the launcher stopped the supervisor: gforker's SIGQUIT once another rank failed, SIGTERM);
a rank without that record was killed where no process of ours could see it, which the launcher
reports (``mpiexec.gforker`` itself exits 0 then; see :mod:`harness.plugins.launchers.mpiexec`).

The real rank rebuilds the run context (rank 0 owns the monitor and streams the points),
dispatches to the plugin's algorithm module (``server(rt)`` on rank 0, ``worker(rt)`` elsewhere)
and records any exception in ``error-<rank>.json`` before ``MPI_Abort``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness.api import python_module

ALGORITHMS = {
    "asysvrg-mpi": "harness.plugins.mpi.asysvrg",
    "asgd-mpi": "harness.plugins.mpi.asgd",
    "dfsdca-mpi": "harness.plugins.mpi.dfsdca",
    "cocoa-mpi": "harness.plugins.mpi.cocoa",
    "hogwild-growing-batch-mpi": "harness.plugins.mpi.growing_batch",
}
INNER = "HARNESS_MPI_INNER"


def _rank_from_env() -> str:
    for key in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK"):
        if os.environ.get(key) is not None:
            return os.environ[key]
    return "x"


def _workdir() -> Path | None:
    try:
        return Path(json.loads(Path(os.environ["HARNESS_SPEC"]).read_text())["workdir"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def supervise() -> int:
    import ctypes

    from harness.plugins.launchers.mpiexec import EXIT

    libc = ctypes.CDLL(None, use_errno=True)

    def bind_to_parent():  # PR_SET_PDEATHSIG = 1: die with the supervisor
        libc.prctl(1, signal.SIGKILL)

    rank, workdir = _rank_from_env(), _workdir()

    def record(name: str, **what) -> None:
        if workdir is not None:
            try:
                (workdir / name).write_text(json.dumps({"rank": int(rank) if rank.isdigit() else None,
                                                        "time": time.time(), **what}))
            except OSError:
                pass

    def stopped(signum, _frame):  # the launcher ending this rank: say so, then go (the real rank follows)
        record(EXIT.format(rank), code=None, stopped=signal.Signals(signum).name)
        os._exit(128 + signum)

    for sig in (signal.SIGQUIT, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, stopped)
    proc = subprocess.Popen(python_module("harness.plugins.mpi.rank"), env={**os.environ, INNER: "1"},
                            close_fds=False, preexec_fn=bind_to_parent)  # PMI_FD must stay open
    rc = proc.wait()
    if rc != 0 and workdir is not None and not (workdir / f"error-{rank}.json").exists():
        what = f"killed by signal {-rc}" if rc < 0 else f"exit code {rc}"
        record(f"died-{rank}.json", code=rc, message=f"process died without an error report ({what})")
    record(EXIT.format(rank), code=rc)
    return rc if rc >= 0 else 128 - rc


def inner() -> None:
    import importlib

    from mpi4py import MPI

    from harness.api import child_main, load_spec

    spec = load_spec()
    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()

    def body():
        from .runtime import Runtime

        record_node(comm, spec["workdir"])

        module = importlib.import_module(ALGORITHMS[spec["plugin"]])
        rt = Runtime(spec, comm)
        if rank == 0:
            info = module.server(rt)
            rt.finish(info)
        else:
            module.worker(rt)

    child_main(body, spec["workdir"], rank, abort=lambda: comm.Abort(1))


def record_node(comm, workdir: str) -> None:
    """Across several nodes (MPI's own idea of a node: the ranks that share memory, from the
    launcher's process mapping, so two hostfile entries are two nodes), the first rank of each node
    records that node's machine manifest (``harness.api.write_node``); on one node, nothing."""
    from mpi4py import MPI

    from harness.api import write_node

    local = comm.Split_type(MPI.COMM_TYPE_SHARED)
    ranks = local.allgather(comm.Get_rank())
    leaders = comm.Split(0 if local.Get_rank() == 0 else MPI.UNDEFINED, comm.Get_rank())
    if leaders != MPI.COMM_NULL:
        if leaders.Get_size() > 1:
            write_node(workdir, leaders.Get_rank(), ranks)
        leaders.Free()
    local.Free()


def main() -> None:
    if os.environ.get(INNER) is None:
        sys.exit(supervise())
    inner()


if __name__ == "__main__":
    main()
