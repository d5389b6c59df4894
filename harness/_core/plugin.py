"""What a plugin author declares: one algorithm on one backend.

A plugin is a :class:`PluginSpec` (pure metadata, cheap to import) whose ``impl`` names the module
and callable that run it (``"harness.plugins.serial.sgd:run"``). Listing plugins imports only the specs,
never torch or mpi4py; the implementation is imported when a run starts.

The implementation is a callable ``run(ctx: RunContext) -> dict | None`` that applies updates,
calls ``ctx.monitor.tick(...)`` at update boundaries and returns optional extra facts to store.
An optional ``skip(workload, params, workers) -> str | None`` in the spec declines a combination
with a reason (benchopt's ``skip``).
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .errors import MissingDependency, UserError
from .params import Param, ParamSet

WORKLOAD_KINDS = ("finite-sum", "network")

# what a plugin may need -> (importable module, extra that provides it)
NEEDS = {
    "numba": ("numba", "all"),
    "mpi4py": ("mpi4py", "mpi"),
    "torch": ("torch", "torch"),
    "sklearn": ("sklearn", "all"),
}


@dataclass(frozen=True)
class PluginSpec:
    name: str
    family: str
    backend: str
    impl: str
    kinds: Sequence[str] = ("finite-sum",)
    params: Sequence[Param] = ()
    theorems: Sequence[str] = ()
    needs: Sequence[str] = ()
    version: str = "1"
    description: str = ""
    min_workers: int = 1
    max_workers: int | None = None
    skip: Callable[..., str | None] | None = field(default=None, compare=False)
    # True when the plugin's trajectory is a deterministic function of (spec, seed): sim / serial.
    deterministic: bool = False
    # "module:callable", f(params, workload) -> dict: the values the plugin derives from its parameters
    # before running (SVRG's inner-loop length m for m = 0), which it reports with ctx.applied(...);
    # a planned run (eta=theory) reads them too. Computed once, by the plugin's own code.
    derived: str = ""
    # linked theorems about another family that this plugin's algorithm is a case of, said explicitly
    # (a serial SGD run is DDG with K = 1 module): the checker then judges its runs with them
    covers: Sequence[str] = ()

    def __post_init__(self):
        if not self.name or not isinstance(self.name, str):
            raise ValueError("plugin name must be a non-empty string")
        if not self.backend or not isinstance(self.backend, str):
            raise ValueError(f"plugin {self.name}: backend must be a registered backend's name")
        for k in self.kinds:
            if k not in WORKLOAD_KINDS:
                raise ValueError(f"plugin {self.name}: workload kind {k!r} is not one of {WORKLOAD_KINDS}")
        if ":" not in self.impl:
            raise ValueError(f"plugin {self.name}: impl must be 'module:callable', got {self.impl!r}")
        for need in self.needs:
            if need not in NEEDS:
                raise ValueError(f"plugin {self.name}: unknown need {need!r} (known: {sorted(NEEDS)})")
        if self.backend == "serial":  # one worker, whatever the plugin says: a 4-worker serial run is not one
            if self.max_workers not in (None, 1) or self.min_workers != 1:
                raise ValueError(f"plugin {self.name}: a serial backend runs one worker (min_workers = max_workers "
                                 f"= 1), got {self.min_workers}..{self.max_workers}")
            object.__setattr__(self, "max_workers", 1)

    @property
    def paramset(self) -> ParamSet:
        return ParamSet(tuple(self.params))

    def missing(self) -> list[str]:
        """The needs that are not importable here (checked without importing them)."""
        return [n for n in self.needs if importlib.util.find_spec(NEEDS[n][0]) is None]

    def check_available(self) -> None:
        for need in self.missing():
            raise MissingDependency(f"{need} (needed by plugin {self.name})", NEEDS[need][1])

    def derive(self, params: dict[str, Any], workload: Any) -> dict[str, Any]:
        """The values ``derived`` computes for these parameters ({} without ``derived``)."""
        if not self.derived:
            return {}
        module, _, attr = self.derived.partition(":")
        return dict(getattr(importlib.import_module(module), attr)(params, workload))

    def load(self) -> Callable[..., Any]:
        self.check_available()
        module, _, attr = self.impl.partition(":")
        try:
            mod = importlib.import_module(module)
        except ImportError as exc:  # a broken plugin, reported with its name
            raise UserError(f"plugin {self.name} cannot be imported: {exc}") from exc
        try:
            return getattr(mod, attr)
        except AttributeError:
            raise UserError(f"plugin {self.name}: {module} has no attribute {attr!r}") from None

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "family": self.family,
            "backend": self.backend,
            "kinds": list(self.kinds),
            "theorems": list(self.theorems),
            "needs": list(self.needs),
            "version": self.version,
            "params": {p.name: {"default": p.default, "domain": p.domain(), "doc": p.doc, "theory": p.theory}
                       for p in self.params},
            "description": self.description,
            "missing": self.missing(),
        }
