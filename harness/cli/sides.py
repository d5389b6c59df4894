"""The runs a comparison or the gate needs: the two sides of ``harness compare`` (stored exports, or
plugins run on a shared grid) and the specs a stored run or an export reproduces. This module runs
what the store lacks (:func:`run_missing`); the statistics and the rendering stay in
:mod:`harness.analysis.compare`, which runs nothing."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, Iterable, Sequence

from harness.analysis.compare import Side, is_export_path, load_export
from harness._core.errors import UserError
from harness._core.identity import asked_params
from harness._core.monitor import Budget, Schedule, Target
from harness.run.runner import Resolved, RunSpec, resolve, run_resolved
from harness.run.store import RunRecord, Store


def spec_of(rec: RunRecord, plugin: str | None = None, params: dict[str, Any] | None = None,
            options: dict[str, Any] | None = None, schedule: dict[str, Any] | None = None) -> RunSpec:
    """The spec that reproduces a stored run (optionally for another plugin / parameters; ``schedule``:
    point schedule fields over the default)."""
    tgt = rec.target or {}
    if params is None:  # a value the theory chose is asked for again as 'theory'
        params = asked_params(rec.params, (rec.info or {}).get("theory_choices"))
    return RunSpec(plugin=plugin or rec.plugin, workload=rec.workload,
                   params=dict(params), workload_params=dict(rec.workload_params),
                   workers=rec.workers, seed=rec.seed, budget=Budget(**(rec.budget or {})),
                   target=Target(str(tgt.get("metric") or "subopt"), tgt.get("value")),
                   schedule=replace(Schedule(), **(schedule or {})), options=dict(options or {}), suite=rec.suite)


def run_missing(resolved: Sequence[Resolved], store: Store, *, force: bool = False, quiet: bool = True,
                warm_up: bool = True) -> list[RunRecord]:
    """Execute the resolved runs not in the store's cache (all of them with ``force``), after a
    short untimed warm-up run of each in-process plugin so JIT loading stays out of the measurements
    (the warm-up is the resolved run cut short: nothing is resolved again)."""
    from .run import run_specs

    if warm_up:
        todo = [r for r in resolved if force or store.find_cached(r.hash) is None]
        warmed = set()
        for res in todo:
            s = res.spec
            key = (s.plugin, s.workload, json.dumps(s.workload_params, sort_keys=True, default=str), s.workers)
            # a plugin that runs in this process is warmed up: its numba kernels load before the clock starts
            if not res.backend.in_process or key in warmed:
                continue
            warmed.add(key)
            run_resolved(res.warm_up(), None)
    return run_specs(list(resolved), store, force=force, quiet=quiet)


def plugin_specs(plugin: str, grid: Iterable[RunRecord] | None, *, workloads: Sequence[str], workload_params,
                 params: dict[str, Any], workers: Sequence[int], seeds: Sequence[int], budget: Budget,
                 target: Target, options: dict[str, Any], schedule: dict[str, Any] | None = None) -> list[RunSpec]:
    if grid is not None:
        specs = []
        for rec in grid:
            same = rec.plugin == plugin
            p = {**(rec.params if same else {}), **params}
            specs.append(spec_of(rec, plugin, p, options, schedule))  # the file's budget and stopping target
        return _dedupe(specs)
    sched = replace(Schedule(), **(schedule or {}))
    return [RunSpec(plugin, w, dict(params), dict(workload_params), n, seed, budget, target, schedule=sched,
                    options=dict(options)) for w in workloads for n in workers for seed in seeds]


def _dedupe(specs: list[RunSpec]) -> list[RunSpec]:
    seen, out = set(), []
    for s in specs:
        key = json.dumps([s.plugin, s.workload, s.params, s.workload_params, s.workers, s.seed], sort_keys=True,
                         default=str)
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


def build_sides(a_text: str, b_text: str, store: Store, *, workloads: Sequence[str] = (),
                workload_params: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
                params_a: dict[str, Any] | None = None, params_b: dict[str, Any] | None = None,
                workers: Sequence[int] = (1,), seeds: Sequence[int] = (0, 1, 2), budget: Budget | None = None,
                target: Target | None = None, options: dict[str, Any] | None = None, force: bool = False,
                quiet: bool = True, stop_at_target: bool = False,
                schedule: dict[str, Any] | None = None) -> tuple[Side, Side]:
    """Load file sides, then run (or fetch from the cache) the plugin sides on the shared grid.
    Plugin runs go to the end of their budget (so the curves and the final suboptimality say
    something past the target) unless ``stop_at_target``; time to target is read off the curve."""
    from harness._core.registry import plugins

    texts = {"A": a_text, "B": b_text}
    exports = {k: load_export(t) for k, t in texts.items() if is_export_path(t)}
    for k, t in texts.items():
        if k not in exports:
            plugins().get(t)  # an unknown name: one line, with the closest matches
    sides: dict[str, Side] = {}
    for k, ex in exports.items():
        recs = [r for r in ex.records if not workloads or r.workload in workloads]
        if not recs:
            raise UserError(f"{ex.path}: no runs" + (f" on {', '.join(workloads)}" if workloads else ""))
        label = f"{texts[k]}" + (f" ({', '.join(sorted({r.plugin for r in recs}))})" if len(exports) == 2 else "")
        sides[k] = Side(label, recs, str(ex.path))
    grid = next((s.records for s in sides.values()), None)
    if grid is None and not workloads:
        raise UserError("compare two plugins on which workload? give --workload W (repeatable)")
    _check_param_names(texts, sides, params or {}, {"A": params_a or {}, "B": params_b or {}})
    specs: dict[str, list[RunSpec]] = {}
    for k, t in texts.items():
        if k in sides:
            continue
        own = {**(params or {}), **((params_a if k == "A" else params_b) or {})}
        own = _known_params(t, own)
        specs[k] = plugin_specs(t, grid, workloads=workloads, workload_params=workload_params or {}, params=own,
                                workers=workers, seeds=seeds, budget=budget or Budget(epochs=10.0),
                                target=(target or Target()) if stop_at_target else Target(), options=options or {},
                                schedule=schedule)
    # every name and value is checked before anything runs; each spec is resolved once
    specs = {k: [resolve(s) for s in ss] for k, ss in specs.items()}
    for k, ss in specs.items():
        recs = run_missing(ss, store, force=force, quiet=quiet)
        sides[k] = Side(texts[k], recs, "plugin", texts[k])
    return _with_params(sides["A"], sides["B"]), _with_params(sides["B"], sides["A"])


def _with_params(side: Side, other: Side) -> Side:
    """A plugin side with the parameters that label it (:attr:`Side.params`): those of
    :func:`~harness._core.labels.shown_params` over both sides' runs that the side asked the same
    value of in every run (a grid read from a file may vary one from run to run: its groups say it)."""
    from harness._core.labels import shown_params

    if side.source != "plugin" or not side.records:
        return side
    asked = [asked_params(r.params, (r.info or {}).get("theory_choices")) for r in side.records]
    first = asked[0]
    same = {k: first[k] for k in shown_params(side.records + other.records).get(side.plugin, ())
            if k in first and all(a.get(k, object()) == first[k] for a in asked)}
    return replace(side, params=same)


def _check_param_names(texts: dict[str, str], file_sides: dict, both: dict[str, Any],
                       own: dict[str, dict[str, Any]]) -> None:
    """Before anything runs: a ``--param`` name no plugin side has, or a ``--param-a`` /
    ``--param-b`` name its side's plugin lacks (or given for a side read from a file), is a
    UserError naming the closest known names (it was silently dropped)."""
    from harness._core.errors import unknown
    from harness._core.registry import plugins

    names = {k: {p.name for p in plugins().get(t).params} for k, t in texts.items() if k not in file_sides}
    for key in both:
        if not any(key in n for n in names.values()):
            shown = " or ".join(texts[k] for k in names) or "no plugin side"
            raise unknown("parameter", key, set().union(*names.values()) if names else (), of=f"plugin {shown} (--param)")
    for side, given in own.items():
        opt = f"--param-{side.lower()}"
        if given and side not in names:
            raise UserError(f"{opt}: side {side} is read from {texts[side]}, not run: it takes no parameters")
        for key in given:
            if key not in names.get(side, set()):
                raise unknown("parameter", key, names[side], of=f"plugin {texts[side]} ({opt})",
                              see=f"harness list plugins {texts[side]}")


def _known_params(plugin: str, params: dict[str, Any]) -> dict[str, Any]:
    """--param applies to both sides where the plugin has the parameter."""
    from harness._core.registry import plugins

    names = {p.name for p in plugins().get(plugin).params}
    return {k: v for k, v in params.items() if k in names}
