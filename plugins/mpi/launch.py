"""Parent side of the ``mpi`` backend (the ``impl`` of every MPI plugin): ``mpiexec -n P+1`` ranks
of :mod:`harness.plugins.mpi.rank` (rank 0 the parameter server, ranks 1..P the workers) through the
shared launcher :mod:`harness.plugins.launchers.mpiexec`."""

from __future__ import annotations

from typing import Any

from harness.plugins.launchers import mpiexec

RANK_MODULE = "harness.plugins.mpi.rank"


def command(workers: int, hostfile: str | None = None) -> list[str]:
    """The mpiexec argv of a run with ``workers`` workers (plus the server)."""
    return mpiexec.command(RANK_MODULE, workers + 1, hostfile)


def run(ctx) -> dict[str, Any]:
    """Launch the job and fold its results into ``ctx``."""
    return mpiexec.launch(ctx, RANK_MODULE, ctx.workers + 1)
