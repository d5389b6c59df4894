"""Workloads: a problem with data and, where they exist, its known constants.

Two kinds:
- ``finite-sum``: ``f(w) = (1/n) sum_i phi_i(w) + (lam/2)||w||^2`` over numpy data (dense or
  scipy CSR), with exact ``L``, per-sample ``L_i``, ``mu``, and ``f_star`` / ``w_star`` from a
  high-precision solve cached on disk (the linear models: ``harness.suites.finite_sum``).
- ``network``: a torch module factory plus data (``harness.suites.network``).

A :class:`WorkloadSpec` is the cheap registry entry; ``spec.build(params)`` makes the workload,
whose data is built lazily on first use.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from .errors import UserError
from .params import Param, ParamSet
from .plugin import NEEDS, WORKLOAD_KINDS


@dataclass(frozen=True)
class WorkloadSpec:
    name: str
    kind: str
    factory: str  # "module:Class"; called as Class(name=..., **params)
    params: Sequence[Param] = ()
    description: str = ""
    needs: Sequence[str] = ()

    def __post_init__(self):
        if self.kind not in WORKLOAD_KINDS:
            raise ValueError(f"workload {self.name}: kind {self.kind!r} is not one of {WORKLOAD_KINDS}")

    @property
    def paramset(self) -> ParamSet:
        return ParamSet(tuple(self.params))

    def build(self, given: Mapping[str, Any] | None = None) -> "Workload":
        import importlib.util

        from .errors import MissingDependency

        for need in self.needs:
            if importlib.util.find_spec(NEEDS[need][0]) is None:
                raise MissingDependency(f"{need} (needed by workload {self.name})", NEEDS[need][1])
        params = self.paramset.resolve(given, f"workload {self.name}")
        module, _, attr = self.factory.partition(":")
        cls = getattr(importlib.import_module(module), attr)
        return cls(name=self.name, **params)

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "params": {p.name: {"default": p.default, "domain": p.domain(), "doc": p.doc} for p in self.params},
        }


def params_key(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:20]


class Workload:
    """Base class. Subclasses set ``kind`` and implement ``metrics(iterate)``."""

    kind: str = "finite-sum"

    def __init__(self, name: str, **params: Any):
        self.name = name
        self.params = dict(params)
        self.seed = int(params.get("seed", 0))

    # bump when a subclass's data generation changes what it generates for the same parameters
    generator_version: str = "1"

    def spec_dict(self) -> dict[str, Any]:
        """The name and parameters that rebuild this workload (for child processes)."""
        return {"name": self.name, "params": self.params}

    def data_identity(self) -> dict[str, Any]:
        """What identifies this workload's data by content (run keys, the constants cache):
        generated data by its generator (class and ``generator_version``) and parameters; a
        file-backed workload overrides this with the file's SHA-256 (see ``harness.identity``)."""
        return {"name": self.name, "generator": f"{type(self).__qualname__}/{self.generator_version}",
                "params": self.params}

    def constants(self) -> dict[str, float]:
        """Known constants the theory module may use (L, mu, n, d, f_star, ...)."""
        return {}

    def metrics(self, iterate: Any) -> dict[str, float]:
        raise NotImplementedError


def check_kind(plugin_kinds: Sequence[str], workload: Workload, plugin_name: str) -> None:
    if workload.kind not in plugin_kinds:
        raise UserError(f"plugin {plugin_name} does not support {workload.kind} workloads (supports: {', '.join(plugin_kinds)})")
