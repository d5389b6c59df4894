"""Stored runs as data: one flat row per run (or per curve point), one column per parameter.

    >>> from harness.analysis import results
    >>> runs = results.load()                        # one row per run (pandas.DataFrame)
    >>> pts = results.load(points=True, plugin="sgd-serial")  # one row per curve point
    >>> pts.groupby(["param.eta", "updates"])["subopt"].median()

Columns of a run row: ``run_id``, ``suite``, ``run_key`` (the content hash: equal keys, equal
runs), ``git_commit``, ``git_dirty``, ``plugin``, ``plugin_version``, ``family``, ``backend``,
``workload``, ``workers``, ``seed``, ``status``, ``reason``, ``wall_s``, ``created`` (UTC datetime),
``budget.<key>`` (epochs, updates, seconds), ``target.metric``, ``target.value``,
``param.<name>`` for every plugin parameter, ``workload.<name>`` for every workload parameter,
``verdict.<theorem>`` (the theory checker's stored verdict), ``measured_s`` (the algorithm's clock at
the last point) and ``eval_s`` (the monitor's evaluation time), ``eval_plan`` (how the evaluation
was planned: ``counted``, ``timed``, ``off``, ``as asked``; None for a workload it does not plan) and
``eval_n`` (the subset its points were evaluated on), ``info.<key>`` for each scalar fact
the run reported (``server_busy_fraction``, ``tau_max``, ``server_wait``, ...) and ``final.<metric>`` (the last
point's ``subopt``, ``objective``, ``updates``, ...). A point row adds the point's own fields
(``updates``, ``epochs``, ``time_s``, ``objective``, ``subopt``, ... in the monitor's units).
A parameter a plugin does not have is missing (NaN / None) in that plugin's rows.

pandas is needed only by :func:`load` (``pip install 'asyncopt-harness[data]'``); :func:`rows`
gives the same table as a list of dicts.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

from harness._core.monitor import POINT_FIELDS
from harness._core.output import json_default
from harness.run.store import RunRecord, Store, run_to_dict

RUN_COLUMNS = ("run_id", "suite", "run_key", "git_commit", "git_dirty", "plugin", "plugin_version", "family",
               "backend", "workload", "workers", "seed", "status", "reason", "wall_s", "created")


def run_row(rec: RunRecord, verdicts: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The flat run-level row of one record (see the module's docstring for the columns)."""
    row: dict[str, Any] = {
        "run_id": rec.id, "suite": rec.suite, "run_key": rec.hash, "git_commit": rec.env.get("git_commit"),
        "git_dirty": rec.env.get("git_dirty"), "plugin": rec.plugin, "plugin_version": rec.plugin_version,
        "family": rec.family, "backend": rec.backend, "workload": rec.workload, "workers": rec.workers,
        "seed": rec.seed, "status": rec.status, "reason": rec.reason, "wall_s": rec.wall_s, "created": _when(rec.created),
    }
    row.update({f"budget.{k}": v for k, v in (rec.budget or {}).items()})
    row["target.metric"] = (rec.target or {}).get("metric")
    row["target.value"] = (rec.target or {}).get("value")
    row.update({f"param.{k}": _scalar(v) for k, v in rec.params.items()})
    row.update({f"workload.{k}": _scalar(v) for k, v in rec.workload_params.items()})
    row.update({f"verdict.{thm}": v.get("verdict") for thm, v in (verdicts or {}).items()})
    info = rec.info or {}
    row["measured_s"] = rec.points[-1].get("time_s") if rec.points else None   # the algorithm's clock
    row["eval_s"] = info.get("eval_seconds")                                  # the monitor's paused time
    plan = info.get("eval_plan") or {}
    row["eval_plan"] = plan.get("how")                                        # the evaluation plan (evalplan)
    row["eval_n"] = plan.get("eval_n")                                        # the subset the points were evaluated on
    # the run's scalar facts (server_busy_fraction, tau_max, server_wait, ...): numbers, flags, short names
    row.update({f"info.{k}": v for k, v in sorted(info.items())
                if isinstance(v, (bool, int, float)) or (isinstance(v, str) and len(v) <= 80 and "\n" not in v)})
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
        from harness._core.errors import MissingDependency

        raise MissingDependency("pandas (for harness.analysis.results.load)", "data") from None
    st = store if isinstance(store, Store) else Store(store)
    recs, verdicts = select(st, with_points=True, **filters)
    table = rows(recs, verdicts, points=points)
    if not table:
        return pd.DataFrame(columns=list(RUN_COLUMNS))
    return pd.DataFrame(table).astype({c: "Int64" for c in _integer_columns(table)})


def _when(created: float | None):
    """A run's creation time as a UTC datetime (a timestamp column in pandas and parquet, ISO 8601
    text in CSV); the JSON export keeps the store's Unix seconds."""
    import datetime

    return None if not created else datetime.datetime.fromtimestamp(float(created), tz=datetime.timezone.utc)


def _integer_columns(table: list[dict[str, Any]]) -> list[str]:
    """The columns whose values are all integers: they stay integers where some rows lack them
    (pandas would make them float: ``param.b`` beside a plugin without ``b``), as nullable Int64."""
    kinds: dict[str, set] = {}
    for row in table:
        for k, v in row.items():
            if v is not None:
                kinds.setdefault(k, set()).add(type(v))
    return [k for k, t in kinds.items() if t == {int}]


def _scalar(v: Any) -> Any:
    """A parameter value as one cell: lists and tables as their JSON text (parquet needs one type)."""
    if isinstance(v, (list, tuple, dict)):
        import json

        return json.dumps(v, sort_keys=True)
    return v


def export(store: Store, path: str | os.PathLike, fmt: str | None = None, ids: Iterable[int] | None = None, *,
           points: bool = True, plugin: str | None = None, workload: str | None = None,
           status: str | None = None, suite: str | None = None, meta: dict[str, Any] | None = None) -> Path:
    """Write the runs that pass the filters as JSON (one object per run, points and verdicts
    nested: what ``gate`` and ``compare`` read back) or as a flat table, CSV or parquet: one row
    per point (``points=False``: per run) with one column per parameter and workload parameter
    and the run-level columns above. ``meta`` (JSON only): a ``"meta"`` object written with the runs.
    The file is replaced atomically (:func:`harness._core.paths.replaced_atomically`): a full disk or a
    crash leaves the previous file as it was, and the error (a UserError) names the file."""
    from harness._core.paths import replaced_atomically, write_atomic

    from harness._core.errors import UserError

    path = Path(path)
    fmt = fmt or path.suffix.lstrip(".") or "json"
    if fmt not in ("json", "csv", "parquet"):
        raise UserError(f"unknown export format '{fmt}': expected json, csv or parquet")
    recs = store.runs(ids=ids, plugin=plugin, workload=workload, status=status, suite=suite, with_points=True)
    verdicts = {r.id: store.verdicts(r.id) for r in recs}
    if fmt == "json":
        data = {"harness_export": 1, "runs": [run_to_dict(r) | {"verdicts": verdicts[r.id]} for r in recs]}
        if meta is not None:
            data["meta"] = meta
        return write_atomic(path, json.dumps(data, indent=1, default=json_default), "export")
    table_rows = rows(recs, verdicts, points=points)
    if fmt == "csv":
        with replaced_atomically(path, "export") as tmp, tmp.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(table_rows[0]) if table_rows else ["run_id"])
            writer.writeheader()
            writer.writerows(table_rows)
        return path
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        from harness._core.errors import MissingDependency

        raise MissingDependency("pyarrow (for parquet export)", "data") from None
    try:
        table = pa.Table.from_pylist(table_rows)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # a name with values of several types: text
        kinds = {c: {float if type(r[c]) is int else type(r[c]) for r in table_rows if r[c] is not None}
                 for c in table_rows[0]}
        mixed = {c for c, k in kinds.items() if len(k) > 1}
        table = pa.Table.from_pylist([{c: (str(v) if c in mixed and v is not None else v) for c, v in r.items()}
                                      for r in table_rows])
    with replaced_atomically(path, "export") as tmp:
        pq.write_table(table, tmp)
    return path
