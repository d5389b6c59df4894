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
