"""What a plugin's ``run`` receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

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
    # the applied values the linked theorems read, or a function that finds them (the runner's: it loads
    # every theorem, a second or two of sympy, so it is called only when a value needs the answer)
    expects: tuple[str, ...] | Callable[[], tuple[str, ...]] = ()

    def applied(self, **values: Any) -> dict[str, Any]:
        """Record the values the update loop applied (``ctx.applied(eta=0.01, b=4, m=50)``): the one
        seam from a plugin to the theory checker, which judges these values (not the stored
        parameters) and compares them with the stored ones. Call it once the values are known (again
        to add more; later values replace earlier ones). Every value is a number, a string or a list
        of them; a value a linked theorem reads (``expects``, from the theorems' run maps, looked up
        only for a value that is no number) must be a number or a string the parameter allows; NaN, and a bool for a numeric
        parameter, are refused. Raises ``TypeError`` naming the value otherwise. Returns everything recorded so far (``info['applied']``)."""
        for k, v in values.items():
            if not _applied_value(v):
                raise TypeError(f"ctx.applied({k}={v!r}): a number, a string or a list of them")
            if _has_nan(v):  # NaN is no value a theorem can judge (and a traceback in theory check later)
                raise TypeError(f"ctx.applied({k}={v!r}): not a number (NaN)")
            if isinstance(v, (bool, np.bool_)) and k in self.plugin.paramset.names() and \
                    self.plugin.paramset.get(k).kind in ("int", "float"):
                raise TypeError(f"ctx.applied({k}={v!r}): parameter {k} is a number, not a bool")
            if not isinstance(v, (list, tuple, int, float, np.integer, np.floating)) and \
                    k in self.plugin.paramset.names() and self.plugin.paramset.get(k).kind in ("int", "float") \
                    and k in self.expected():
                raise TypeError(f"ctx.applied({k}={v!r}): parameter {k} is a number ({self.plugin.paramset.get(k).kind})")
        rec = self.info.setdefault("applied", {})
        rec.update({k: (v.item() if isinstance(v, np.generic) else v) for k, v in values.items()})
        return dict(rec)

    def expected(self) -> tuple[str, ...]:
        """The applied values the linked theorems read (``expects``, found on first use and kept)."""
        if callable(self.expects):
            self.expects = tuple(self.expects())
        return self.expects

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
            "expects": list(self.expected()),
        }


def _applied_value(v: Any) -> bool:
    if isinstance(v, (list, tuple)):
        return all(_applied_value(x) for x in v)
    return v is None or isinstance(v, (str, bool, int, float, np.integer, np.floating))


def _has_nan(v: Any) -> bool:
    if isinstance(v, (list, tuple)):
        return any(_has_nan(x) for x in v)
    return isinstance(v, (float, np.floating)) and v != v


def _jsonable(v: Any) -> bool:
    import json

    try:
        json.dumps(v)
        return True
    except TypeError:
        return False
