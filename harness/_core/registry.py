"""Discovery of plugins and workloads through ``importlib.metadata`` entry points.

Groups: ``harness.plugins`` and ``harness.workloads``. An entry point may name one spec or an
iterable of specs (a catalog module registers a whole backend at once). Loading an entry point
imports only the lightweight spec module. A broken entry (import error, bad metadata) is recorded
in ``problems`` with its name and reason; the rest still load.

``HARNESS_EXTRA_PLUGINS`` / ``HARNESS_EXTRA_WORKLOADS`` (comma-separated ``module:attr``) add specs
without installing a distribution: used by tests and for trying a plugin out.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Iterable, Mapping

from .errors import unknown
from .plugin import PluginSpec
from .workload import Workload, WorkloadSpec

PLUGIN_GROUP = "harness.plugins"
WORKLOAD_GROUP = "harness.workloads"


@dataclass
class Registry:
    kind: str
    items: dict[str, Any] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)

    def add(self, spec: Any, source: str) -> None:
        if spec.name in self.items and self.items[spec.name] != spec:
            self.problems[spec.name] = f"duplicate {self.kind} name (also from {source})"
            return
        self.items[spec.name] = spec

    def get(self, name: str) -> Any:
        if name in self.items:
            return self.items[name]
        if name in self.problems:
            from .errors import UserError

            raise UserError(f"{self.kind} '{name}' is broken: {self.problems[name]}")
        raise unknown(self.kind, name, self.items, see=f"harness list {self.kind}s")

    def names(self) -> list[str]:
        return sorted(self.items)


def _specs_of(obj: Any, expected: type) -> list[Any]:
    if isinstance(obj, expected):
        return [obj]
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, Iterable) and not isinstance(obj, (str, bytes)):
        items = list(obj)
        bad = [x for x in items if not isinstance(x, expected)]
        if bad:
            raise TypeError(f"expected {expected.__name__} objects, got {type(bad[0]).__name__}")
        return items
    raise TypeError(f"expected a {expected.__name__} or a list of them, got {type(obj).__name__}")


def _load(group: str, env: str, expected: type, kind: str) -> Registry:
    reg = Registry(kind)
    sources: list[tuple[str, Any]] = [(ep.name, ep.load) for ep in entry_points(group=group)]
    for ref in filter(None, (os.environ.get(env) or "").split(",")):
        module, _, attr = ref.strip().partition(":")
        sources.append((ref, lambda m=module, a=attr: getattr(importlib.import_module(m), a)))
    for name, loader in sources:
        try:
            for spec in _specs_of(loader(), expected):
                reg.add(spec, name)
        except Exception as exc:  # noqa: BLE001 - any failure of third-party code is reported, not raised
            reg.problems[name] = f"{type(exc).__name__}: {exc}"
    return reg


_cache: dict[str, Registry] = {}


def plugins(refresh: bool = False) -> Registry:
    if refresh or "plugins" not in _cache:
        _cache["plugins"] = _load(PLUGIN_GROUP, "HARNESS_EXTRA_PLUGINS", PluginSpec, "plugin")
    return _cache["plugins"]


def link_problems(specs: Iterable[PluginSpec], theorems: Mapping[str, Any]) -> dict[str, list[str]]:
    """What is wrong with the plugins' theorem links, by plugin name: an id that names no theorem,
    a theorem about another algorithm (``Theorem.about(family)``: the checker would never judge the
    plugin's runs with it), or an applied parameter the theorem's run map reads (``Theorem.reads``, a tuple of parameter
    names) that the plugin does not declare, a parameter a linked theorem about the algorithm sets
    (``Theorem.runmap.theory``: plugin parameter -> theorem symbol) that the plugin does not declare, or a
    parameter that accepts ``theory`` while no linked theorem about the algorithm chooses it. ``theorems``: id -> Theorem (``harness.theory``'s
    registry, passed in by the caller: the registry sits below the theory package). Never raises."""
    out: dict[str, list[str]] = {}
    for spec in specs:
        declared = {p.name for p in spec.params}
        guided: set[str] = set()      # the parameters a linked theorem about the algorithm chooses
        for tid in spec.theorems:
            thm = theorems.get(tid)
            if thm is None:
                out.setdefault(spec.name, []).append(f"{tid}: no such theorem (harness theory list)")
                continue
            about = getattr(thm, "about", None)
            if about is not None and not about(spec.family) and tid not in getattr(spec, "covers", ()):
                out.setdefault(spec.name, []).append(
                    f"{tid} is about {', '.join(thm.families)}, not the plugin's algorithm {spec.family} (a theorem "
                    "judges only the algorithms it is about; if this algorithm is a case of it, say so: "
                    f"PluginSpec(covers=('{tid}',)))")
            else:
                sets = dict(getattr(getattr(thm, "runmap", None), "theory", None) or {})
                guided.update(sets)
                # a theorem names the plugin parameter it sets (its step may be called lr, eta or gamma):
                # a name the plugin lacks means the mapping names another algorithm's parameter
                undeclared = [k for k in sets if k not in declared]
                if undeclared:
                    out.setdefault(spec.name, []).append(
                        f"{tid} sets parameter(s) {', '.join(undeclared)} (=theory), which the plugin does not declare")
            missing = [r for r in getattr(thm, "reads", ()) if r not in declared]
            if missing:
                out.setdefault(spec.name, []).append(
                    f"{tid} reads parameter(s) {', '.join(missing)}, which the plugin does not declare")
        for p in spec.params:
            if getattr(p, "theory", False) and p.name not in guided:
                out.setdefault(spec.name, []).append(
                    f"parameter {p.name} accepts 'theory' but no linked theorem about {spec.family} chooses it")
    return out


def find_plugin(name: str, entry: str | None = None) -> PluginSpec:
    """The plugin ``name``. With ``entry`` (the name of the ``harness.plugins`` entry point that
    registers it, e.g. ``"mpi"``) only that entry point is loaded: a launched rank does not import
    every installed catalog. Raises UserError for an unknown name."""
    if entry is not None and "plugins" not in _cache:
        for ep in entry_points(group=PLUGIN_GROUP, name=entry):
            for spec in _specs_of(ep.load(), PluginSpec):
                if spec.name == name:
                    return spec
    return plugins().get(name)


def workloads(refresh: bool = False) -> Registry:
    if refresh or "workloads" not in _cache:
        _cache["workloads"] = _load(WORKLOAD_GROUP, "HARNESS_EXTRA_WORKLOADS", WorkloadSpec, "workload")
    return _cache["workloads"]


def build_workload(name: str, params: Mapping[str, Any] | None = None) -> Workload:
    """The registered workload ``name`` built with ``params`` (validated; data made lazily).
    Raises UserError for an unknown name or a bad parameter."""
    return workloads().get(name).build(params)
