"""Terminal output: tables, progress bars and JSON, in one place."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Sequence

from rich.console import Console
from rich.table import Table

# piped output (CI logs, tests) is not wrapped at 80 columns: tables stay readable and grep-able
console = Console(stderr=False, highlight=False, soft_wrap=True,
                  width=None if sys.stdout.isatty() else int(os.environ.get("COLUMNS") or 200))


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A table on stdout. Cells are plain text, never rich markup: a reason such as
    ``pip install 'asyncopt-harness[torch]'`` prints as written (rich read ``[torch]`` as a style)."""
    from rich.text import Text

    t = Table(title=None if title is None else Text(title), show_lines=False)
    for c in columns:
        t.add_column(Text(c), overflow="fold")
    for r in rows:
        t.add_row(*[Text(fmt(v)) for v in r])
    console.print(t)


def counted(n: int, noun: str) -> str:
    """``1 plugin``, ``2 plugins``: a count with its noun (an English plural by an 's')."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if v != v:
            return "nan"
        if v == 0 or 1e-3 <= abs(v) < 1e5:
            return f"{v:.4g}"
        return f"{v:.3e}"
    return str(v)


def json_default(o: Any):
    """``json.dumps(default=...)`` for numpy scalars and arrays; anything else raises TypeError."""
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=json_default) + "\n")


def varying_columns(records: Sequence[Any]) -> list[tuple[str, Any]]:
    """The parameters whose values differ between runs of the same plugin (workload parameters:
    of the same workload), as ``(column title, record -> value)``, so two runs that differ by a
    parameter can be told apart. A workload parameter's title is prefixed ``w.`` (``w.n``). A
    parameter a run asked the theory for (``info['theory_choices']``) always has a column, its
    value marked ``(theory)``: what ``eta=theory`` resolved to is seen where the run is listed."""
    cols: list[tuple[str, Any]] = []
    for attr, group, prefix in (("params", "plugin", ""), ("workload_params", "workload", "w.")):
        seen: dict[tuple[str, str], set[str]] = {}
        for r in records:
            for k, v in (getattr(r, attr) or {}).items():
                seen.setdefault((getattr(r, group), k), set()).add(json.dumps(v, sort_keys=True, default=str))
        keys = dict.fromkeys(k for (_, k), values in seen.items() if len(values) > 1)
        if attr == "params":
            keys.update(dict.fromkeys(k for r in records for k in _theory_choices(r)))
        cols.extend((prefix + k, lambda r, a=attr, k=k: _param_cell(r, a, k)) for k in keys)
    return cols


def _theory_choices(rec: Any) -> dict[str, Any]:
    return (getattr(rec, "info", None) or {}).get("theory_choices") or {}


def _param_cell(rec: Any, attr: str, key: str) -> Any:
    value = (getattr(rec, attr) or {}).get(key)
    if attr == "params" and key in _theory_choices(rec):
        return f"{fmt(value)} (theory)"
    return value


def params_cell(columns: Sequence[tuple[str, Any]]):
    """One cell for the parameters that differ between runs (:func:`varying_columns`):
    ``eta=0.5 b=4`` (a theory choice marked), so a table stays readable at 100 columns however many
    parameters a grid varies. Returns ``record -> str``."""
    return lambda r: " ".join(f"{t}={fmt(g(r))}" for t, g in columns if g(r) is not None) or "-"

