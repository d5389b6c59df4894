"""What a backend declares: where a plugin's workers run and what one run costs the machine.

A backend is a :class:`Backend` record, pure metadata, registered through the same
``harness.plugins`` entry points as the plugins that run on it (a catalog lists its backend beside
its :class:`~harness._core.plugin.PluginSpec` s). The registry checks every plugin's ``backend``
against the registered records, and the harness reads a run's traits from its backend's record,
never from its name: an outside package can bring a backend of its own.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backend:
    """``Backend(name, launched=False, server_ranks=0, worker_cores=1, timed_beside_probe=False,
    launcher=None, contract_workers=2, description="")``:

    - ``launched``: a run starts its workers as processes on this machine (MPI ranks,
      torch.distributed ranks); else they run inside the harness's process (the plugin's ``impl``
      is called in it), which is what a warm-up before measured runs can speed up;
    - ``server_ranks``: processes a launched run starts beside its workers (MPI's parameter server: 1),
      counted against the cores of this machine;
    - ``worker_cores``: cores one worker keeps busy (1), or 0 when every worker is simulated in the
      one process (a run then holds one core whatever its worker count);
    - ``timed_beside_probe``: a timed run (one with a target) has the machine's speed measured beside
      it (``info['machine_s']``), so times to target compare across machines;
    - ``launcher``: the module that starts a launched run's processes (``None`` in-process);
    - ``contract_workers``: the worker count ``harness check-plugin`` runs the backend's plugins with
      (within each plugin's own bounds);
    - ``delay_audit``: ``harness check-plugin`` audits the delays its plugins report against the
      iterates they read (an in-process backend whose workers' staleness is known step by step).
    """

    name: str
    launched: bool = False
    server_ranks: int = 0
    worker_cores: int = 1
    timed_beside_probe: bool = False
    launcher: str | None = None
    contract_workers: int = 2
    delay_audit: bool = False
    description: str = ""

    def __post_init__(self):
        if not self.name or not isinstance(self.name, str):
            raise ValueError("backend name must be a non-empty string")
        if self.server_ranks < 0 or self.worker_cores not in (0, 1) or self.contract_workers < 1:
            raise ValueError(f"backend {self.name}: server_ranks >= 0, worker_cores 0 or 1 and "
                             f"contract_workers >= 1 (got {self.server_ranks}, {self.worker_cores}, "
                             f"{self.contract_workers})")
        if self.server_ranks and not self.launched:
            raise ValueError(f"backend {self.name}: server ranks are processes; an in-process backend has none")

    @property
    def in_process(self) -> bool:
        return not self.launched

    def cores(self, workers: int) -> int:
        """Processor cores one run with ``workers`` workers keeps busy (its server ranks, which
        mostly wait, aside): 1 when the workers are simulated in one process, ``workers`` otherwise."""
        return max(1, self.worker_cores * int(workers or 1))

    def processes(self, workers: int) -> int:
        """Processes a launched run starts on this machine: its workers and its server ranks."""
        return int(workers) + self.server_ranks

    def summary(self) -> dict:
        return {"name": self.name, "launched": self.launched, "server_ranks": self.server_ranks,
                "worker_cores": self.worker_cores, "timed_beside_probe": self.timed_beside_probe,
                "launcher": self.launcher, "contract_workers": self.contract_workers, "delay_audit": self.delay_audit,
                "description": self.description}
