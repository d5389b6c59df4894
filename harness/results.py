"""Stored runs as data: one flat row per run (or per curve point), one column per parameter.

    >>> from harness import results
    >>> runs = results.load()                        # one row per run (pandas.DataFrame)
    >>> pts = results.load(points=True, plugin="sgd-serial")  # one row per curve point
    >>> pts.groupby(["param.eta", "updates"])["subopt"].median()

Columns of a run row: ``run_id``, ``suite``, ``run_key`` (the content hash: equal keys, equal
runs), ``git_commit``, ``git_dirty``, ``plugin``, ``plugin_version``, ``family``, ``backend``,
``workload``, ``workers``, ``seed``, ``status``, ``reason``, ``wall_s``, ``created`` (Unix s),
``budget.<key>`` (epochs, updates, seconds), ``target.metric``, ``target.value``,
``param.<name>`` for every plugin parameter, ``workload.<name>`` for every workload parameter,
``verdict.<theorem>`` (the theory checker's stored verdict) and ``final.<metric>`` (the last
point's ``subopt``, ``objective``, ``updates``, ...). A point row adds the point's own fields
(``updates``, ``epochs``, ``time_s``, ``objective``, ``subopt``, ... in the monitor's units).
A parameter a plugin does not have is missing (NaN / None) in that plugin's rows.

pandas is needed only by :func:`load` (``pip install 'asyncopt-harness[data]'``); :func:`rows`
gives the same table as a list of dicts.
"""

from __future__ import annotations

from typing import Any, Sequence

from .monitor import POINT_FIELDS
from .store import RunRecord, Store

RUN_COLUMNS = ("run_id", "suite", "run_key", "git_commit", "git_dirty", "plugin", "plugin_version", "family",
               "backend", "workload", "workers", "seed", "status", "reason", "wall_s", "created")


def run_row(rec: RunRecord, verdicts: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The flat run-level row of one record (see the module's docstring for the columns)."""
    row: dict[str, Any] = {
        "run_id": rec.id, "suite": rec.suite, "run_key": rec.hash, "git_commit": rec.env.get("git_commit"),
        "git_dirty": rec.env.get("git_dirty"), "plugin": rec.plugin, "plugin_version": rec.plugin_version,
        "family": rec.family, "backend": rec.backend, "workload": rec.workload, "workers": rec.workers,
        "seed": rec.seed, "status": rec.status, "reason": rec.reason, "wall_s": rec.wall_s, "created": rec.created,
    }
    row.update({f"budget.{k}": v for k, v in (rec.budget or {}).items()})
    row["target.metric"] = (rec.target or {}).get("metric")
    row["target.value"] = (rec.target or {}).get("value")
    row.update({f"param.{k}": _scalar(v) for k, v in rec.params.items()})
    row.update({f"workload.{k}": _scalar(v) for k, v in rec.workload_params.items()})
    row.update({f"verdict.{thm}": v.get("verdict") for thm, v in (verdicts or {}).items()})
    if rec.points:
        row.update({f"final.{k}": v for k, v in rec.points[-1].items() if k in POINT_FIELDS})
    return row


def rows(records: Sequence[RunRecord], verdicts: dict[int, dict[str, dict[str, Any]]] | None = None, *,
         points: bool = False) -> list[dict[str, Any]]:
    """Run rows (``points=False``) or point rows (the run's columns, less ``final.*``, on every point).
    Every row has every column (missing values None), so CSV and parquet writers see one schema."""
    verdicts = verdicts or {}
    out: list[dict[str, Any]] = []
    for rec in records:
        base = run_row(rec, verdicts.get(rec.id))
        if not points:
            out.append(base)
            continue
        base = {k: v for k, v in base.items() if not k.startswith("final.")}
        for i, p in enumerate(rec.points):
            out.append({**base, "point": i, **{f: p.get(f) for f in POINT_FIELDS}})
    columns: dict[str, None] = {}
    for r in out:
        columns.update(dict.fromkeys(r))
    return [{c: r.get(c) for c in columns} for r in out]


def select(store: Store, *, plugin: str | None = None, workload: str | None = None, status: str | None = None,
           suite: str | None = None, ids: Sequence[int] | None = None,
           with_points: bool = True) -> tuple[list[RunRecord], dict[int, dict[str, dict[str, Any]]]]:
    """The stored runs that pass the filters, and their verdicts by run id."""
    recs = store.runs(plugin=plugin, workload=workload, status=status, suite=suite, ids=ids, with_points=with_points)
    return recs, {r.id: store.verdicts(r.id) for r in recs}


def load(store: Store | str | None = None, *, points: bool = False, **filters: Any):
    """A pandas DataFrame of the stored runs (``points=True``: of their curve points), one column
    per parameter. ``store``: a Store, a path, or None for the default (``$HARNESS_STORE`` or
    ``.harness/results.db``). ``filters``: ``plugin``, ``workload``, ``status``, ``suite``, ``ids``.
    Raises MissingDependency when pandas is not installed."""
    try:
        import pandas as pd
    except ImportError:
        from .errors import MissingDependency

        raise MissingDependency("pandas (for harness.results.load)", "data") from None
    st = store if isinstance(store, Store) else Store(store)
    recs, verdicts = select(st, with_points=True, **filters)
    table = rows(recs, verdicts, points=points)
    return pd.DataFrame(table) if table else pd.DataFrame(columns=list(RUN_COLUMNS))


def _scalar(v: Any) -> Any:
    """A parameter value as one cell: lists and tables as their JSON text (parquet needs one type)."""
    if isinstance(v, (list, tuple, dict)):
        import json

        return json.dumps(v, sort_keys=True)
    return v
