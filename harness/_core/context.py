"""What a plugin's ``run`` receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from .monitor import Monitor
from .plugin import PluginSpec
from .workload import Workload


@dataclass
class RunContext:
    """The workload, resolved parameters, worker count, a seeded RNG and the monitor.

    ``options`` carries backend options (``hostfile``, ``timeout_s``, ``fail_rank`` for fault tests,
    ...); ``workdir`` is a private scratch directory for launch files. ``info`` is where a plugin
    records facts about the run (e.g. the step size theory chose, peak memory); it is stored with it.
    """

    plugin: PluginSpec
    workload: Workload
    params: dict[str, Any]
    workers: int
    seed: int
    monitor: Monitor
    workdir: Path
    options: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def rng(self) -> np.random.Generator:
        """The run's generator, seeded with ``seed``: one stream per run (every read returns the same
        generator, so draws continue where the last one stopped)."""
        return np.random.default_rng(self.seed)

    def child_spec(self) -> dict[str, Any]:
        """Everything a child process (MPI rank, torch rank) needs to rebuild this context."""
        return {
            "plugin": self.plugin.name,
            "workload": self.workload.spec_dict(),
            "params": self.params,
            "workers": self.workers,
            "seed": self.seed,
            "monitor": self.monitor.config(),
            "options": {k: v for k, v in self.options.items() if _jsonable(v)},
            "workdir": str(self.workdir),
        }


def _jsonable(v: Any) -> bool:
    import json

    try:
        json.dumps(v)
        return True
    except TypeError:
        return False
