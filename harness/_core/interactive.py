"""Interactive plots that work offline: every matplotlib figure of a report also drawn in the browser.

:func:`save` writes a figure's PNG (kept for Markdown, CI logs and the index's thumbnails) and returns
the HTML that shows it interactively: the figure's axes are read back from matplotlib (lines,
markers, min..max bands, log axes, labels, titles) into a JSON spec that the page draws with uPlot
(MIT licence, 51 kB, vendored in ``harness/_vendor/uplot``): hover read-out of every series'
value, click a legend entry to hide or show a series, drag to zoom (double-click resets), buttons
that switch each axis between log and linear. Curves a report draws only on demand (each seed of a
median, say) are lines with ``gid="ondemand:NAME"`` and ``visible=False``: absent from the PNG,
hidden in the browser until their legend entry is clicked.

:func:`page_head` is the ``<head>`` part every report page includes once: uPlot's script and style
and the glue that draws each spec are inlined, so a page works from disk with no network and keeps
working when its folder is moved. Without JavaScript the PNG stays in place.

uPlot was chosen over plotly (4.6 MB of JavaScript per page), bokeh (1+ MB and a Python-side
server model) and vega-lite (three libraries, ~1 MB): its size lets every page carry it inline.
"""

from __future__ import annotations

import html
import json
import math
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

ONDEMAND = "ondemand:"  # gid prefix of a line drawn only on demand (hidden in the PNG and at first)


def save(fig, path: Path, *, alt: str = "", width: str = "100%", **savefig: Any) -> str:
    """Write ``fig`` as a PNG at ``path`` (``savefig`` keywords passed on; the figure is closed) and
    return the HTML block that draws it interactively, with the PNG as its fallback."""
    import matplotlib.pyplot as plt

    from .paths import replaced_atomically

    spec = figure_spec(fig)
    with replaced_atomically(path, "plot") as tmp:  # a full disk leaves the previous PNG, not half of one
        fig.savefig(tmp, **{"dpi": 110, "format": Path(path).suffix.lstrip(".") or "png", **savefig})
    plt.close(fig)
    return block(spec, Path(path).name, alt=alt, width=width)


def block(spec: dict, png: str, *, alt: str = "", width: str = "100%") -> str:
    """The HTML of one figure: its spec (JSON, ``<`` escaped so it cannot close the script) and the PNG."""
    data = json.dumps(spec, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")
    return (f'<figure class="hplot"><script type="application/json">{data}</script>'
            f'<img src="{html.escape(png)}" alt="{html.escape(alt)}" style="max-width:{width}"></figure>')


def figure_spec(fig) -> dict:
    """The figure's title and one panel per axes that holds data (see :func:`axes_spec`)."""
    title = fig._suptitle.get_text() if getattr(fig, "_suptitle", None) is not None else ""
    panels = [axes_spec(ax) for ax in fig.get_axes() if ax.lines or ax.collections]
    return {"title": title, "panels": [p for p in panels if p["series"]]}


def axes_spec(ax) -> dict:
    """One axes as uPlot's aligned data: the union of every series' x values, each series' y on it
    (null where it has no point), a band per ``fill_between``, the axes' labels and scales."""
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import to_hex

    xlog, ylog = ax.get_xscale() == "log", ax.get_yscale() == "log"
    raw = []  # (name, color, kind, xs, ys, show, dash)
    for line in ax.lines:
        gid = line.get_gid() or ""
        ondemand = gid.startswith(ONDEMAND)
        if not line.get_visible() and not ondemand:
            continue
        name = gid[len(ONDEMAND):] if ondemand else line.get_label()
        if name.startswith("_") and not ondemand:  # matplotlib's unlabelled lines (reference lines)
            name = ""
        xs, ys = (list(map(float, v)) for v in line.get_data())
        if line.get_transform() == ax.get_yaxis_transform():    # axhline: y in data, x across the axes
            xs, ys = list(ax.get_xlim()), [ys[0], ys[0]]
        elif line.get_transform() == ax.get_xaxis_transform():  # axvline: x in data, y across the axes
            xs, ys = [xs[0], xs[0]], list(ax.get_ylim())
        if len(xs) < 1:
            continue
        points = line.get_linestyle() in ("None", "", " ", "none")
        dash = [] if line.get_linestyle() in ("-", "solid") or points else [6, 4]
        raw.append({"name": name, "color": to_hex(line.get_color()), "points": points, "xs": xs, "ys": ys,
                    "show": not ondemand, "dash": dash})
    bands = []
    for coll in ax.collections:
        if not isinstance(coll, PolyCollection) or not coll.get_paths():
            continue
        edges = _band_edges(coll.get_paths()[0].vertices)
        if edges is None:
            continue
        xs, lo, hi = edges
        color = to_hex(coll.get_facecolor()[0][:3]) if len(coll.get_facecolor()) else "#888888"
        base = len(raw)
        raw.append({"name": "", "color": color, "points": False, "xs": xs, "ys": hi, "show": True, "dash": [],
                    "edge": True})
        raw.append({"name": "", "color": color, "points": False, "xs": xs, "ys": lo, "show": True, "dash": [],
                    "edge": True})
        bands.append([base + 1, base + 2, color])  # uPlot's series index: 0 is x
    grid = sorted({x for s in raw for x in s["xs"] if _ok(x, xlog)})
    index = {x: i for i, x in enumerate(grid)}
    series = []
    for s in raw:
        ys = [None] * len(grid)
        for x, y in zip(s["xs"], s["ys"]):
            if _ok(x, xlog) and math.isfinite(y) and (y > 0 or not ylog):
                ys[index[x]] = y
        series.append({k: v for k, v in s.items() if k not in ("xs", "ys")} | {"y": ys})
    return {"title": ax.get_title(), "xlabel": ax.get_xlabel(), "ylabel": ax.get_ylabel(), "xlog": xlog,
            "ylog": ylog, "x": grid, "series": series, "bands": bands}


def _ok(x: float, log: bool) -> bool:
    return math.isfinite(x) and (x > 0 or not log)


def _band_edges(vertices) -> tuple[list[float], list[float], list[float]] | None:
    """A ``fill_between`` polygon's x and its lower and upper edges. matplotlib draws it as
    (x0, y2_0), (x_i, y1_i) for i up, (x_n, y2_n), (x_i, y2_i) for i down, back to the start."""
    v = [(float(a), float(b)) for a, b in vertices]
    if len(v) < 6:
        return None
    n = (len(v) - 3) // 2
    upper = v[1:n + 1]
    lower = list(reversed(v[n + 2:2 * n + 2]))
    if len(upper) != len(lower) or any(abs(a[0] - b[0]) > 1e-12 * max(1.0, abs(a[0])) for a, b in zip(upper, lower)):
        return None
    xs = [a[0] for a in upper]
    y1, y2 = [a[1] for a in upper], [b[1] for b in lower]
    return xs, [min(a, b) for a, b in zip(y1, y2)], [max(a, b) for a, b in zip(y1, y2)]


@lru_cache(maxsize=1)
def page_head() -> str:
    """uPlot's script and style and the glue that draws every ``figure.hplot`` of the page, inlined
    (about 60 kB): the page needs no network and no file beside it."""
    vendor = resources.files("harness") / "_vendor" / "uplot"
    js = (vendor / "uPlot.iife.min.js").read_text(encoding="utf-8")
    css = (vendor / "uPlot.min.css").read_text(encoding="utf-8")
    glue = (Path(__file__).with_name("interactive.js")).read_text(encoding="utf-8")
    return (f"<style>{css}\n{STYLE}</style>\n<script>{js}</script>\n<script>{glue}</script>")


# uPlot's live inline legend puts ':' after each label; a still page (no cursor) has empty read-outs
# (interactive.js's fmt), so every entry ended in a dangling ':'. The colon goes before a value instead.
STYLE = """
figure.hplot{margin:0 0 1em 0}
figure.hplot.drawn>img{display:none}
.hplot-title{font-weight:bold;margin:4px 0}
.hplot-panels{display:flex;flex-wrap:wrap;gap:12px}
.hplot-tools{font-size:12px;margin:2px 0}
.hplot-tools button{font-size:11px;margin-right:4px}
.u-legend{font-size:12px}
.u-legend .u-series th,.u-legend .u-series td{padding:1px 4px}
.u-inline.u-live th::after{content:none}
.u-inline.u-live .u-value:not(:empty)::before{content:": "}
"""
