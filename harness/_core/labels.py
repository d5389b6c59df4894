"""Which parameters label a run where runs are listed (run tables, ``runs list``, reports, ``compare``):
those that differ between the runs shown, those set away from the plugin's declared default, and
those asked of the theory; a parameter at its default everywhere stays hidden, so labels stay short.
Kept apart from :mod:`harness._core.output` because it reads the plugin registry for the defaults."""

from __future__ import annotations

import json
from typing import Any, Iterable, Sequence

from .output import fmt


def shown_params(records: Sequence[Any]) -> dict[str, list[str]]:
    """The plugin parameters that label these runs, per plugin name, in the order the plugin declares
    them: those whose values differ between its runs, those a run set away from the plugin's declared
    default, and those a run asked the theory for (``info['theory_choices']``). A parameter at its
    default in every run of its plugin stays hidden. A run is compared with the default as declared
    (``t0 = 0`` meaning n/b, ``eta = 0.01``), by the value it asked for (``theory`` for a theory
    choice, not the step the theory solved for); a plugin not installed here has no declared
    defaults, so only its varying and theory-chosen parameters are named (sorted by name)."""
    from collections import defaultdict

    from .identity import asked_params

    values: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    shown: dict[str, set[str]] = defaultdict(set)
    for r in records:
        defaults, chosen = declared_defaults(r.plugin) or {}, _theory_choices(r)
        shown[r.plugin].update(chosen)
        shown[r.plugin].update(k for k, v in asked_params(r.params or {}, chosen).items()
                               if k in defaults and _canonical(v) != _canonical(defaults[k]) and v != defaults[k])
        for k, v in (r.params or {}).items():
            values[r.plugin][k].add(_canonical(v))
    return {plugin: in_declared_order(plugin, keys | {k for k, vs in values[plugin].items() if len(vs) > 1})
            for plugin, keys in shown.items()}


def in_declared_order(plugin: str, keys: Iterable[str]) -> list[str]:
    """``keys`` in the order the plugin declares its parameters; names it does not declare (or all,
    for a plugin not installed here) last, by name."""
    order, keys = list(declared_defaults(plugin) or ()), set(keys)
    return [k for k in order if k in keys] + sorted(keys - set(order))


def declared_defaults(plugin: str) -> dict[str, Any] | None:
    """The plugin's declared parameter defaults in declaration order; None where it is not installed
    (a stored run of a plugin removed since, an export from another machine)."""
    from .errors import UserError
    from .registry import plugins

    try:
        return plugins().get(plugin).paramset.defaults()
    except UserError:
        return None


def _canonical(v: Any) -> str:
    return json.dumps(v, sort_keys=True, default=str)


def varying_columns(records: Sequence[Any], shown: dict[str, list[str]] | None = None) -> list[tuple[str, Any]]:
    """The parameters that label these runs, as ``(column title, record -> value)``: a plugin
    parameter of :func:`shown_params` (varying between runs of the plugin, away from its declared
    default, or asked of the theory: its value marked ``(theory)``, so what ``eta=theory`` resolved to
    is seen where the run is listed), and a workload parameter whose values differ between runs of the
    same workload, its title prefixed ``w.`` (``w.n``). Plugin columns come in the order the plugins
    declare them. ``shown``: :func:`shown_params` of ``records`` where the caller has it already."""
    cols: list[tuple[str, Any]] = []
    shown = shown_params(records) if shown is None else shown
    keys = dict.fromkeys(k for ks in shown.values() for k in ks)
    cols.extend((k, lambda r, k=k: _param_cell(r, "params", k)) for k in keys)
    seen: dict[tuple[str, str], set[str]] = {}
    for r in records:
        for k, v in (r.workload_params or {}).items():
            seen.setdefault((r.workload, k), set()).add(_canonical(v))
    wkeys = dict.fromkeys(k for (_, k), values in seen.items() if len(values) > 1)
    cols.extend(("w." + k, lambda r, k=k: _param_cell(r, "workload_params", k)) for k in wkeys)
    return cols


def _theory_choices(rec: Any) -> dict[str, Any]:
    return (getattr(rec, "info", None) or {}).get("theory_choices") or {}


def _param_cell(rec: Any, attr: str, key: str) -> Any:
    value = (getattr(rec, attr) or {}).get(key)
    if attr == "params" and key in _theory_choices(rec):
        return f"{fmt(value)} (theory)"
    return value


def params_cell(records: Sequence[Any]):
    """One cell for the parameters that label each run (:func:`varying_columns`): ``eta=0.5 b=4``
    (a theory choice marked), a plugin parameter only where it labels that run's plugin
    (:func:`shown_params`), so a table stays readable at 100 columns however many parameters a grid
    varies. Returns ``record -> str``."""
    own = shown_params(records)
    columns = varying_columns(records, own)
    plugin_keys = {k for ks in own.values() for k in ks}

    def cell(r) -> str:
        return " ".join(f"{t}={fmt(v)}" for t, g in columns
                        if (t not in plugin_keys or t in own.get(r.plugin, ())) and (v := g(r)) is not None) or "-"
    return cell
