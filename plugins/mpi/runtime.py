"""What an MPI algorithm module sees on its rank: the rebuilt run context, the communicator, the
worker's local data partition and straggler, and on rank 0 the monitor (clock, points, stop)."""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.api import write_result
from harness.plugins.algorithms.applied import agreed
from harness.plugins.algorithms.partition import partition

from .faults import Straggler, maybe_fail
from .ps import Server, Worker, oversubscribed


class Runtime:
    def __init__(self, spec: dict[str, Any], comm):
        self.comm = comm
        self.rank = comm.Get_rank()
        self.P = comm.Get_size() - 1
        if self.P < 1:
            raise RuntimeError("the mpi backend needs a server and at least one worker (mpiexec -n P+1)")
        self.ctx = _child_context(spec, owns_monitor=self.rank == 0)
        self.wl = self.ctx.workload
        self.params = self.ctx.params
        self.options = self.ctx.options
        self.seed = self.ctx.seed
        self.mon = self.ctx.monitor
        self.parts = partition(self.wl.n, self.P, self.params.get("partition", "iid"),
                               getattr(self.wl, "y", None), self.seed)
        # worker k (rank k) holds parts[k-1]; its own RNG stream
        self.local = self.parts[self.rank - 1] if self.rank > 0 else None
        self.rng = np.random.default_rng([self.seed, self.rank])
        self.straggler = Straggler(self.params.get("straggler_p", 0.0), self.params.get("straggler_m", 0.0),
                                   is_straggler=self.rank == self.P and self.P > 1, seed=self.seed)
        self.info: dict[str, Any] = {}
        self.oversubscribed = oversubscribed(comm)   # collective: every rank asks at start-up

    # -- both sides -------------------------------------------------------------------------------
    def server(self, msg_len: int, reply_len: int) -> Server:
        return Server(self.comm, msg_len, reply_len, max_delay=self.params.get("max_delay"),
                      yield_cpu=self.oversubscribed)

    def worker(self, msg_len: int, reply_len: int) -> Worker:
        return Worker(self.comm, msg_len, reply_len, yield_cpu=self.oversubscribed)

    def ready(self) -> None:
        """All ranks set up: a barrier, then the server's clock starts."""
        self.comm.Barrier()
        if self.rank == 0:
            self.mon.start()

    def maybe_fail(self, count: int) -> None:
        maybe_fail(self.options, self.rank, count)

    def gather(self, obj: Any) -> list[Any] | None:
        """Collective: every rank hands one object to the server (index = rank)."""
        return self.comm.gather(obj, root=0)

    # -- server side ------------------------------------------------------------------------------
    def observe(self, ps: Server, w: np.ndarray, *, updates: int | None = None, force: bool = False,
                extra: dict[str, Any] | None = None) -> bool:
        """A point if due (clock paused while it evaluates); False once the run should stop."""
        t = ps.version if updates is None else updates
        if force or self.mon.due(t):
            self.mon.tick(t, w, samples=ps.samples, delays=ps.delays, extra=extra() if callable(extra) else extra,
                          force=force)
        return self.mon.status is None

    def finish(self, info: dict[str, Any] | None) -> None:
        write_result(self.ctx, info or {})

    @staticmethod
    def worker_applied(worker_facts: list[Any] | None, key: str) -> Any:
        """The value of ``key`` every worker reported it applied (``rt.gather({..., key: value})``):
        one value when they agree, the list by rank (1..P) when they do not (the checker then flags a
        mismatch with the stored parameter), None when no worker reported it."""
        return agreed([f[key] for f in (worker_facts or [])[1:] if f and key in f])

    def ps_info(self, ps: Server, dropped: int, worker_facts: list[Any] | None) -> dict[str, Any]:
        facts = [f for f in (worker_facts or [])[1:] if f]
        return {
            "backend": "mpi", "workers": self.P, "server_updates": ps.version, "messages": ps.messages,
            "dropped_in_flight": dropped, "delays": ps.delays.to_dict(), "tau_max": ps.delays.max,
            "server_busy_fraction": ps.busy_fraction(getattr(self.mon, "eval_seconds", 0.0)), "server_idle_s": ps.idle_s,
            "max_delay": ps.max_delay, "replies_held": ps.replies_held,
            "server_wait": "sleep" if ps.yield_cpu else "spin",
            "tau_mean": ps.delays.mean, "partition": self.params.get("partition", "iid"),
            "straggler_slept_s": float(sum(f.get("slept", 0.0) for f in facts)),
            "worker_messages": [f.get("sent", 0) for f in facts],
        }


def _child_context(spec: dict[str, Any], *, owns_monitor: bool):
    """``harness.api.child_context`` with the plugin found through this backend's entry point
    only: a rank does not load every installed backend's catalog."""
    from harness.api import child_context, find_plugin

    return child_context(spec, owns_monitor=owns_monitor, plugin=find_plugin(spec["plugin"], entry="mpi"))
