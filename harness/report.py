"""Reports: Markdown + HTML with matplotlib PNGs of the measured curves.

``write_report(records, outdir)`` groups runs by workload, plots suboptimality (or the objective)
against updates and against measured time with a band over seeds, and writes ``index.md`` and
``index.html``. Sections can be added by other modules through ``SECTIONS`` (the theory module adds
bound envelopes and verdicts)."""

from __future__ import annotations

import html
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .store import RunRecord

# extra section writers: f(records, outdir, store) -> list of (markdown, html) blocks
SECTIONS: list[Callable[..., list[tuple[str, str]]]] = []


def curve_metric(records: Sequence[RunRecord]) -> str:
    for m in ("subopt", "objective", "test_loss"):
        if any(p.get(m) is not None for r in records for p in r.points):
            return m
    return "objective"


def seed_band(records: Sequence[RunRecord], x: str, metric: str, grid_points: int = 60):
    """Median and min/max over seeds of ``metric`` on a common grid of ``x`` (log-spaced where it
    can be; x = 0 points are dropped then); each seed's curve is interpolated in log space."""
    curves = []
    for r in records:
        xs = r.column(x)
        ys = r.column(metric)
        ok = np.isfinite(xs) & np.isfinite(ys) & (xs > 0)
        if ok.sum() >= 2:
            curves.append((xs[ok], ys[ok]))
    if not curves:
        return None
    lo = min(c[0][c[0] > 0].min() if (c[0] > 0).any() else 1.0 for c in curves)
    hi = max(c[0].max() for c in curves)
    grid = np.geomspace(max(lo, 1e-12), hi, grid_points) if hi > lo > 0 else np.linspace(0, hi, grid_points)
    positive = all((c[1] > 0).all() for c in curves)
    rows = []
    for xs, ys in curves:
        yy = np.log(ys) if positive else ys
        # a run that stopped (target, budget) keeps its last value to the right: the median over
        # seeds at x is then defined wherever every seed has started
        v = np.interp(grid, xs, yy, left=np.nan, right=yy[-1])
        rows.append(np.exp(v) if positive else v)
    arr = np.vstack(rows)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return grid, np.nanmedian(arr, 0), np.nanmin(arr, 0), np.nanmax(arr, 0)


def plot_workload(records: Sequence[RunRecord], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = curve_metric(records)
    groups: dict[str, list[RunRecord]] = defaultdict(list)
    keys = varying_params(records)
    for r in records:
        groups[label_of(r, keys)].append(r)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for (label, runs), color in zip(sorted(groups.items()), _colors()):
        for ax, x in zip(axes, ("updates", "time_s")):
            band = seed_band(runs, x, metric)
            if band is None:
                continue
            grid, med, lo, hi = band
            ax.plot(grid, med, color=color, label=f"{label} (n={len(runs)})")
            if len(runs) > 1:
                ax.fill_between(grid, lo, hi, color=color, alpha=0.2)
    for ax, xl in zip(axes, ("updates applied", "measured time (s, evaluation excluded)")):
        ax.set_xlabel(xl)
        ax.set_ylabel(_metric_label(metric))
        if metric in ("subopt", "grad_norm_sq", "dist_sq"):
            ax.set_yscale("log")
        if xl.startswith("updates"):
            ax.set_xscale("log")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8, loc="best")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def varying_params(records: Sequence[RunRecord]) -> set[str]:
    """Parameter names whose values differ between runs of the same plugin (they tell curves apart),
    plus the step size and batch, which a reader always wants to see."""
    seen: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in records:
        for k, v in r.params.items():
            seen[(r.plugin, k)].add(repr(v))
    return {k for (_, k), vals in seen.items() if len(vals) > 1} | {"eta", "b"}


def label_of(r: RunRecord, keys: set[str] | None = None) -> str:
    keys = {"eta", "b"} if keys is None else keys
    ps = ", ".join(f"{k}={_short(v)}" for k, v in sorted(r.params.items()) if k in keys)
    w = f" x{r.workers}" if r.workers > 1 else ""
    return f"{r.plugin}{w}" + (f" [{ps}]" if ps else "")


def _short(v) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _metric_label(m: str) -> str:
    return {"subopt": "suboptimality f(w) - f*", "objective": "objective f(w)", "grad_norm_sq": "||grad f(w)||^2",
            "dist_sq": "||w - w*||^2", "test_loss": "test loss"}.get(m, m)


def _colors():
    import matplotlib

    cycle = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    while True:
        yield from cycle


def write_report(records: Sequence[RunRecord], outdir: str | Path, *, store=None, title: str = "harness report",
                 config: dict[str, Any] | None = None) -> Path:
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    by_workload: dict[str, list[RunRecord]] = defaultdict(list)
    for r in records:
        if r.points:
            by_workload[_workload_key(r)].append(r)
    md = [f"# {title}", "", f"{len(records)} runs.", ""]
    hb = [f"<h1>{html.escape(title)}</h1>", f"<p>{len(records)} runs.</p>"]
    for i, (wk, runs) in enumerate(sorted(by_workload.items())):
        png = plot_workload(runs, outdir / f"curves-{i}.png", wk)
        md += [f"## {wk}", "", f"![{wk}]({png.name})", "", _md_table(runs), ""]
        hb += [f"<h2>{html.escape(wk)}</h2>", f'<img src="{png.name}" style="max-width:100%">', _html_table(runs)]
    try:
        import theory.report  # noqa: F401 - registers the theory section (bound envelopes, conditions, verdicts)
    except ImportError:
        pass
    for section in SECTIONS:
        try:
            blocks = section(records, outdir, store)
        except Exception as exc:  # noqa: BLE001 - a failing section is shown loudly, the rest of the report stays
            name = getattr(section, "__module__", "") + "." + getattr(section, "__name__", "section")
            msg = f"report section {name} failed: {type(exc).__name__}: {exc}"
            import sys

            print(f"harness: warning: {msg}", file=sys.stderr)
            blocks = [(f"> **{msg}**", f"<p style='color:#b00'><b>{html.escape(msg)}</b></p>")]
        for m, h in blocks:
            md.append(m)
            hb.append(h)
    (outdir / "index.md").write_text("\n".join(md) + "\n")
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>" + html.escape(title) + "</title>"
            "<style>body{font-family:sans-serif;max-width:1200px;margin:auto}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}</style></head><body>"
            + "\n".join(hb) + "</body></html>")
    (outdir / "index.html").write_text(page)
    return outdir / "index.html"


def _workload_key(r: RunRecord) -> str:
    """The workload's name and the parameters that differ from its defaults."""
    try:
        from .registry import workloads

        defaults = workloads().get(r.workload).paramset.defaults()
    except Exception:  # noqa: BLE001 - a run of a workload no longer installed still gets a title
        defaults = {}
    wp = ", ".join(f"{k}={v}" for k, v in sorted(r.workload_params.items())
                   if defaults.get(k, object()) != v and k not in ("n_classes",))
    return f"{r.workload} ({wp})" if wp else r.workload


_COLS = ("id", "plugin", "workers", "seed", "status", "updates", "time_s", "subopt", "tau_max")


def _rows(runs):
    for r in runs:
        last = r.points[-1] if r.points else {}
        yield [r.id, r.plugin, r.workers, r.seed, r.status, last.get("updates"), last.get("time_s"),
               last.get("subopt"), last.get("tau_max")]


def _md_table(runs) -> str:
    from .output import fmt

    lines = ["| " + " | ".join(_COLS) + " |", "|" + "---|" * len(_COLS)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in _rows(runs)]
    return "\n".join(lines)


def _html_table(runs) -> str:
    from .output import fmt

    head = "".join(f"<th>{c}</th>" for c in _COLS)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(fmt(v))}</td>" for v in row) + "</tr>" for row in _rows(runs))
    return f"<table><tr>{head}</tr>{body}</table>"
