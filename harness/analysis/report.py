"""Reports: Markdown + HTML with matplotlib PNGs of the measured curves.

``write_report(records, outdir)`` groups runs by workload, plots suboptimality (or the objective)
against updates and against measured time with a band over seeds, and writes ``index.md`` and
``index.html``. The theory section (bound envelopes, conditions, verdicts: :func:`theory_section`)
is written explicitly; a caller adds its own through ``write_report(..., sections=[f])`` (the
commands add the performance profile), each ``f(records, outdir, store) -> [(markdown, html), ...]``."""

from __future__ import annotations

import html
import os
import textwrap
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from harness.run.metrics import speedups, time_to_level  # noqa: F401 - re-exported: the report's speedup figures
from harness.run.store import RunRecord
from harness._core.paths import folder_lock, write_atomic

def curve_metric(records: Sequence[RunRecord]) -> str:
    for m in ("subopt", "objective", "test_loss"):
        if any(p.get(m) is not None for r in records for p in r.points):
            return m
    return "objective"


def seed_band(records: Sequence[RunRecord], x: str, metric: str, grid_points: int = 60, log_x: bool | None = None):
    """Median and min/max over seeds of ``metric`` on a common grid of ``x`` (log-spaced for a log
    axis, where x = 0 points are dropped); each seed's curve is interpolated in log space."""
    log_x = (x == "updates") if log_x is None else log_x
    curves = []
    for r in records:
        xs = r.column(x)
        ys = r.column(metric)
        ok = np.isfinite(xs) & np.isfinite(ys) & ((xs > 0) if log_x else True)
        if ok.sum() >= 2:
            curves.append((xs[ok], ys[ok]))
    if not curves:
        return None
    hi = max(c[0].max() for c in curves)
    if log_x:
        lo = min(c[0].min() for c in curves)
        grid = np.geomspace(max(lo, 1e-12), hi, grid_points) if hi > lo > 0 else np.linspace(0, hi, grid_points)
    else:
        grid = np.linspace(min(c[0].min() for c in curves), hi, 4 * grid_points)
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


X_LABELS = {"updates": "updates applied", "epochs": "epochs (samples / n)", "time_s": "measured time (s, evaluation excluded)",
            "rounds": "communication rounds completed"}


def plot_workload(records: Sequence[RunRecord], path: Path, title: str, xs: Sequence[str] = ("updates", "time_s"),
                  metric: str | None = None, yscale: str | None = None) -> str:
    """Write the workload's curves as a PNG at ``path``; return the HTML that draws them interactively."""
    from .._core.interactive import save

    return save(workload_figure(records, title, xs, metric, yscale), path, alt=title)  # Agg backend set first


def workload_figure(records: Sequence[RunRecord], title: str, xs: Sequence[str] = ("updates", "time_s"),
                    metric: str | None = None, yscale: str | None = None):
    """One panel per x axis, one curve per group of runs (median over seeds, min/max band). A group
    with fewer than two points on an axis (a run of a single update) is drawn as markers; a panel
    with nothing to draw says why instead of staying blank."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = metric or curve_metric(records)
    groups: dict[str, list[RunRecord]] = defaultdict(list)
    keys = varying_params(records)
    for r in records:
        groups[label_of(r, keys)].append(r)
    fig, axes = plt.subplots(1, len(xs), figsize=(6 * len(xs), 4.5), squeeze=False)
    axes = axes[0]
    log_axes = {x: x == "updates" or (x == "time_s" and _spans_decades(records, x)) for x in xs}
    for (label, runs), color in zip(sorted(groups.items()), _colors()):
        for ax, x in zip(axes, xs):
            band = seed_band(runs, x, metric, log_x=log_axes[x])
            if band is None:  # fewer than two points per run here: the points themselves
                px, py = _finite_points(runs, x, metric, positive_x=log_axes[x])
                if len(px):
                    ax.plot(px, py, "o", color=color, label=f"{label} (n={len(runs)})")
                continue
            grid, med, lo, hi = band
            ax.plot(grid, med, color=color, label=f"{label} (n={len(runs)})")
            if len(runs) > 1:
                ax.fill_between(grid, lo, hi, color=color, alpha=0.2)
                _seeds_on_demand(ax, runs, x, metric, color, label, positive_x=log_axes[x])
            _mark_below_zero(ax, runs, x, metric, color)
    for ax, x in zip(axes, xs):
        ax.set_xlabel(X_LABELS.get(x, x))
        ax.set_ylabel(_metric_label(metric))
        if yscale or metric in ("subopt", "grad_norm_sq", "dist_sq"):
            ax.set_yscale(yscale or "log")  # a suite's [report] yscale = "log" (e.g. a diverging run's loss)
        if log_axes[x]:
            ax.set_xscale("log")
        ax.grid(True, which="both", alpha=0.3)
        if not ax.has_data():
            where = f"{x} > 0" if log_axes[x] else f"a measured {x}"
            ax.text(0.5, 0.5, f"no point with {where}", transform=ax.transAxes, ha="center", va="center",
                    color="0.4")
    fig.suptitle(textwrap.fill(title, 110))
    legend = {}  # every labelled curve, from whichever panel drew it, once
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(lab, h)
    handles, labels = list(legend.values()), list(legend)
    if not labels:
        fig.tight_layout()
    elif len(labels) <= 4:
        axes[0].legend(handles, labels, fontsize=8, loc="best")
        fig.tight_layout()
    else:  # many curves: the legend goes under the plots instead of over the data
        ncol = 2 if len(labels) > 6 and max(map(len, labels)) < 70 else 1
        rows = -(-len(labels) // ncol)
        fig.set_size_inches(fig.get_size_inches()[0], 4.5 + 0.22 * rows)
        fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=ncol, frameon=False)
        fig.tight_layout(rect=(0, 0.05 * rows * 4.5 / (4.5 + 0.22 * rows) + 0.02, 1, 1))
    return fig


def _seeds_on_demand(ax, runs: Sequence[RunRecord], x: str, metric: str, color, label: str, positive_x: bool) -> None:
    """Each seed's own curve, drawn only on demand: invisible in the PNG, a hidden series of the
    interactive plot (``interactive.ONDEMAND``) that its legend entry shows."""
    from .._core.interactive import ONDEMAND

    for r in runs:
        xs, ys = r.column(x), r.column(metric)
        ok = np.isfinite(xs) & np.isfinite(ys) & ((xs > 0) if positive_x else True)
        if ok.sum() >= 1:
            ax.plot(xs[ok], ys[ok], color=color, lw=0.8, ls="--", visible=False,
                    gid=f"{ONDEMAND}{label} seed {r.seed}", label="_seed")


def _finite_points(runs: Sequence[RunRecord], x: str, metric: str, positive_x: bool) -> tuple[np.ndarray, np.ndarray]:
    """All runs' finite (x, metric) points (x > 0 on a log axis)."""
    xs = np.concatenate([r.column(x) for r in runs]) if runs else np.zeros(0)
    ys = np.concatenate([r.column(metric) for r in runs]) if runs else np.zeros(0)
    ok = np.isfinite(xs) & np.isfinite(ys) & ((xs > 0) if positive_x else True)
    return xs[ok], ys[ok]


def _mark_below_zero(ax, runs: Sequence[RunRecord], x: str, metric: str, color) -> None:
    """Points whose suboptimality is below zero (f* was not the minimum) cannot sit on a log axis:
    they are drawn as red triangles at the bottom of the plot instead of silently dropped."""
    if metric != "subopt":
        return
    pts = [(p[x], p[metric]) for r in runs for p in r.points
           if p.get(metric) is not None and p[metric] <= 0 and p.get(x) is not None and (x != "updates" or p[x] > 0)]
    if not pts:
        return
    positive = [p[metric] for r in runs for p in r.points if p.get(metric) is not None and p[metric] > 0]
    floor = min(positive) / 3 if positive else 1e-16
    ax.scatter([a for a, _ in pts], [floor] * len(pts), marker="v", color="red", edgecolors=color, zorder=5,
               label=f"subopt <= 0 ({len(pts)} points): f* is wrong")


ALWAYS_SHOWN = ("eta", "b", "tau", "lr")  # the step size, batch and delay: a reader always wants to see them


def varying_params(records: Sequence[RunRecord]) -> dict[str, list[str]]:
    """Per plugin name, the parameters that label its runs, in the order the plugin declares them:
    those that differ between its runs or from its declared default, or that a run asked the theory
    for (:func:`harness._core.labels.shown_params`), plus the step size, batch and delay where the
    plugin has them (:data:`ALWAYS_SHOWN`), which a reader always wants to see."""
    from harness._core.labels import in_declared_order, shown_params

    shown = shown_params(records)
    has = defaultdict(set)
    for r in records:
        has[r.plugin].update(k for k in r.params if k in ALWAYS_SHOWN)
    return {plugin: in_declared_order(plugin, [*keys, *has[plugin]]) for plugin, keys in shown.items()}


def _spans_decades(records: Sequence[RunRecord], x: str, decades: float = 1.3) -> bool:
    """Whether the runs' final x values differ by more than ``decades`` orders of magnitude (e.g. a
    parameter server's seconds beside a numba kernel's milliseconds): then a log axis shows both."""
    ends = [r.points[-1].get(x) for r in records if r.points and (r.points[-1].get(x) or 0) > 0]
    return len(ends) > 1 and np.log10(max(ends) / min(ends)) > decades


def label_of(r: RunRecord, keys: Mapping[str, Sequence[str]] | None = None) -> str:
    """``plugin xW [k=v, ...]``: the run's plugin, its workers (above one) and the parameters that label
    its plugin's runs (``keys``: :func:`varying_params`; by default the step and batch)."""
    own = ("eta", "b") if keys is None else keys.get(r.plugin, ())
    ps = ", ".join(f"{k}={_short(r.params[k])}" for k in own if k in r.params)
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
                 config: dict[str, Any] | None = None,
                 sections: Sequence[Callable[..., list[tuple[str, str]]]] = (),
                 failed: list[str] | None = None) -> Path:
    """``sections``: further section writers ``f(records, outdir, store) -> [(markdown, html)]``
    from the layers above (the commands add the performance profile). A section that fails is
    shown loudly in the report and on stderr, and its message appended to ``failed`` (the
    command's exit code says so). Two processes writing one folder take turns (a lock file in it)."""

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    with folder_lock(outdir):
        return _write_report(records, outdir, store, title, config, sections, failed)


def _write_report(records, outdir: Path, store, title, config, sections, failed) -> Path:
    from harness._core.identity import latest_per_key

    records = latest_per_key(records)  # each seed once, whatever reruns the store holds
    by_workload: dict[str, list[RunRecord]] = defaultdict(list)
    for r in records:
        if r.points:
            by_workload[_workload_key(r)].append(r)
    config = config or {}
    md = [f"# {title}", "", f"{len(records)} runs.", ""]
    hb = [f"<h1>{html.escape(title)}</h1>", f"<p>{len(records)} runs.</p>"]
    if config.get("paper") or config.get("claim"):
        md += [f"**Paper:** {config.get('paper', '')}", "", f"> **The paper's claim:** {config.get('claim', '')}", ""]
        hb += [f"<p><b>Paper:</b> {html.escape(str(config.get('paper', '')))}</p>",
               f"<blockquote><b>The paper's claim:</b> {html.escape(str(config.get('claim', '')))}</blockquote>"]
    xs = tuple(config.get("x", ("updates", "time_s")))
    pngs = []
    for i, (wk, runs) in enumerate(sorted(by_workload.items())):
        png = outdir / f"curves-{i}.png"
        figure = plot_workload(runs, png, wk, xs=xs, metric=config.get("metric"), yscale=config.get("yscale"))
        pngs.append(png.name)
        md += [f"## {wk}", "", f"![{wk}]({png.name})", "", _md_table(runs), ""]
        hb += [f"<h2 id='workload-{i}'>{html.escape(wk)}</h2>", figure, _html_table(runs)]
        planned = _planned_note(runs)
        if planned:
            md += [planned, ""]
            hb += [f"<p>{html.escape(planned)}</p>"]
        if config.get("speedup"):
            sp = plot_speedup(runs, outdir / f"speedup-{i}.png", wk)
            if sp is not None:
                pngs.append(f"speedup-{i}.png")
                md += [f"![speedup {wk}](speedup-{i}.png)", ""]
                hb += [sp]
    judged = judged_claims(records, config)
    claims = claims_block(judged)
    if claims:
        md += ["## The paper's claims, checked", "", CLAIMS_NOTE, "", claims[0], ""]
        hb += ["<h2 id='claims'>The paper's claims, checked</h2>", f"<p>{html.escape(CLAIMS_NOTE)}</p>", claims[1]]
    measured = measured_summary(records)
    if measured:
        md += ["## What was measured", "", MEASURED_NOTE, "", measured[0], ""]
        hb += ["<h2 id='measured'>What was measured</h2>", f"<p>{html.escape(MEASURED_NOTE)}</p>", measured[1]]
    for section in [theory_section, price_section, *sections]:
        try:
            blocks = section(records, outdir, store)
        except Exception as exc:  # noqa: BLE001 - a failing section is shown loudly, the rest of the report stays
            name = getattr(section, "__module__", "") + "." + getattr(section, "__name__", "section")
            msg = f"report section {name} failed: {type(exc).__name__}: {exc}"
            import sys

            print(f"harness: warning: {msg}", file=sys.stderr)
            if failed is not None:
                failed.append(msg)
            blocks = [(f"> **{msg}**", f"<p style='color:#b00'><b>{html.escape(msg)}</b></p>")]
        for m, h in blocks:
            md.append(m)
            hb.append(h)
    write_atomic(outdir / "index.md", "\n".join(md) + "\n", "report file")
    write_atomic(outdir / "index.html", html_page(title, hb), "report file")
    _write_meta(records, outdir, title, config, pngs, store, judged)
    return outdir / "index.html"


PAGE_STYLE = ("body{font-family:sans-serif;max-width:1200px;margin:auto;padding:0 8px}table{border-collapse:collapse}"
              "td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}nav.toc{font-size:13px;margin:.5em 0}"
              "nav.toc a{margin-right:1em}")


def html_page(title: str, body: Sequence[str], *, back: str | None = "../index.html") -> str:
    """A report page: the interactive plots' script inlined once (no network), a table of contents
    of its ``<h2 id=...>`` sections, and a link back to the index of all reports (``back``)."""
    import re

    from .._core.interactive import page_head

    toc = [f"<a href='#{m.group(1)}'>{m.group(2)}</a>"
           for m in (re.match(r"<h2 id='([^']+)'>(.*?)</h2>", b) for b in body) if m]
    top = [f"<p><a href='{back}'>&larr; all reports</a></p>"] if back else []
    nav = ["<nav class='toc'><b>Contents:</b> " + " ".join(toc) + "</nav>"] if len(toc) > 1 else []
    body = list(body)
    if body and body[0].startswith("<h1"):
        body = [body[0], *top, *nav, *body[1:]]
    else:
        body = [*top, *nav, *body]
    return ("<!doctype html><html><head><meta charset='utf-8'><title>" + html.escape(title) + "</title>"
            f"<style>{PAGE_STYLE}</style>{page_head()}</head><body>" + "\n".join(body) + "</body></html>")


def theory_section(records: Sequence[RunRecord], outdir: Path, store=None) -> list[tuple[str, str]]:
    """The bound report: every run group (seeds pooled) against the theorems its plugin links; the
    verdicts are stored with the runs when a store is given (rendering: harness.theory.report)."""
    from harness.theory.report import theory_section as render

    from harness.run.checking import check, group_key, linked_theorems

    groups: dict[str, list[RunRecord]] = defaultdict(list)
    for r in records:
        if r.points and linked_theorems(r.plugin):
            groups[group_key(r)].append(r)
    out = []
    for runs in groups.values():
        runs = sorted(runs, key=lambda r: r.seed)
        label = runs[0].label().split(" (workers")[0] + f" (workers={runs[0].workers}, seeds={len(runs)})"
        out.append((label, runs[0].family, check(runs, store=store, save=store is not None and not getattr(store, "readonly", False))))
    return render(out, outdir)


def plot_speedup(runs: Sequence[RunRecord], path: Path, title: str) -> str | None:
    """Write the speedup plot as a PNG at ``path``; return the HTML that draws it interactively (None:
    no configuration with several worker counts)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = curve_metric(runs)
    sp = speedups(runs, metric)
    if not sp:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    top = max(w for pts in sp.values() for w, _ in pts)
    low = min(w for pts in sp.values() for w, _ in pts)
    ax.plot([low, top], [1, top / low], "k--", label="ideal (linear)")
    for (plugin, pts), color in zip(sorted(sp.items()), _colors()):
        ax.plot([w for w, _ in pts], [s for _, s in pts], "o-", color=color, label=plugin)
    ax.set_xlabel("workers (threads / MPI workers / ranks)")
    ax.set_ylabel(f"speedup vs {low} worker(s): time to the same {metric}")
    ax.set_xticks(range(1, top + 1))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"{textwrap.fill('speedup: ' + title, 70)}\n({os.cpu_count()} cores on this machine)", fontsize=9)
    fig.tight_layout()
    from .._core.interactive import save

    return save(fig, path, alt=f"speedup: {title}", width="70%")


TAU_MAX_OF_SEEDS = "tau max (all seeds)"
MEASURED_NOTE = ("One row per workload and configuration: final values, epochs and time are medians over "
                 "the seeds; tau max is the largest delay any seed measured (what a maximum-delay "
                 "condition reads), '-' where the backend measures none.")


def measured_summary(records: Sequence[RunRecord]) -> tuple[str, str] | None:
    """One row per (workload, plugin configuration): what a reader compares with the paper's claim."""
    groups: dict[tuple[str, str], list[RunRecord]] = defaultdict(list)
    keys = varying_params(records)
    for r in records:
        if r.points:
            groups[(_workload_key(r), label_of(r, keys))].append(r)
    if not groups:
        return None
    from harness._core.output import fmt
    from harness.run.metrics import contended, tau_max

    cols = ("workload", "configuration", "seeds", "statuses", "final " + curve_metric(records), "final test_acc",
            "epochs", "time s", TAU_MAX_OF_SEEDS)
    rows = []
    for (wk, label), rs in sorted(groups.items()):
        metric = curve_metric(rs)
        last = [r.points[-1] for r in rs]
        med = lambda key: float(np.median([p[key] for p in last if p.get(key) is not None])) if any(  # noqa: E731
            p.get(key) is not None for p in last) else None
        time_s = med("time_s")
        n_cont = sum(map(contended, rs))
        if time_s is not None and n_cont:   # the time carries other runs' load (--jobs beyond the cores)
            time_s = f"{fmt(time_s)} (contended: {n_cont}/{len(rs)})"
        rows.append([wk, label, len(rs), ",".join(sorted({r.status for r in rs})), med(metric), med("test_acc"),
                     med("epochs"), time_s, max((t for t in map(tau_max, rs) if t is not None), default=None)])

    md = "\n".join(["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)] +
                   ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows])
    head = "".join(f"<th>{c}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(fmt(v))}</td>" for v in row) + "</tr>" for row in rows)
    return md, f"<table><tr>{head}</tr>{body}</table>"


PRICE_NOTE = ("Where a plugin ran both at a theory-chosen step (eta = theory: the step with the theorem's best "
              "guarantee) and at tuned steps on the same workload: the suboptimality each reaches after the same number "
              "of updates (the shorter run's), theory-chosen over the best tuned run (median over seeds), beside the "
              "bound's smallest slack bound/measured on the theory-chosen run. A large ratio with a large slack: the "
              "theorem is loose here, and following it costs that much.")


def _subopt_at(r: RunRecord, h: float) -> float:
    """The run's suboptimality at its last point with at most ``h`` updates (nan without one)."""
    v = [p["subopt"] for p in r.points if p.get("subopt") is not None and p["updates"] <= h]
    return float(v[-1]) if v else float("nan")


def price_section(records: Sequence[RunRecord], outdir: Path, store=None) -> list[tuple[str, str]]:
    """The price of the guarantee: theory-chosen against tuned runs of the same plugin, workload and workers."""
    from harness._core.output import fmt

    groups: dict[tuple, dict[str, list[RunRecord]]] = defaultdict(lambda: defaultdict(list))
    keys = varying_params(records)
    for r in records:
        if r.points and any(p.get("subopt") is not None for p in r.points):
            groups[(_workload_key(r), r.plugin, r.workers)][label_of(r, keys)].append(r)
    rows = []
    for (wk, plugin, workers), by_label in sorted(groups.items()):
        theory = {k: rs for k, rs in by_label.items() if (rs[0].info or {}).get("theory_choices")}
        tuned = {k: rs for k, rs in by_label.items() if k not in theory}
        for tl, trs in theory.items():
            if not tuned:
                continue
            best = None
            for ul, urs in tuned.items():
                h = min(min(r.points[-1]["updates"] for r in trs), min(r.points[-1]["updates"] for r in urs))
                a = float(np.nanmedian([_subopt_at(r, h) for r in trs]))
                b = float(np.nanmedian([_subopt_at(r, h) for r in urs]))
                if np.isfinite(b) and (best is None or b < best[2]):
                    best = (ul, h, b, a)
            if best is None:
                continue
            ul, h, b, a = best
            slack = []
            if store is not None and trs[0].id is not None:
                for tid, v in sorted(store.verdicts(trs[0].id).items()):
                    if (v.get("slack") or {}).get("min") is not None:
                        slack.append(f"{tid}: {fmt(v['slack']['min'])} ({v['verdict']})")
            rows.append((wk, tl, ul, fmt(h), fmt(a), fmt(b), fmt(a / b) if b > 0 else "-",
                         "; ".join(slack) or "no bound curve (no judged verdict)"))
    if not rows:
        return []
    cols = ("workload", "theory-chosen", "best tuned", "after updates", "subopt (theory)", "subopt (tuned)",
            "theory / tuned", "bound's min slack on the theory run")
    md = "\n".join(["## The price of the guarantee", "", PRICE_NOTE, "", "| " + " | ".join(cols) + " |",
                    "|" + "---|" * len(cols)] + ["| " + " | ".join(r) + " |" for r in rows])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in r) + "</tr>" for r in rows)
    return [(md, f"<h2>The price of the guarantee</h2><p>{html.escape(PRICE_NOTE)}</p><table><tr>{head}</tr>{body}"
                 f"</table>")]


CLAIMS_NOTE = ("Each claim of the paper as a check on the figures measured here: reproduced, not reproduced, or not "
               "testable at this scale (a precondition such as free cores or run length fails, or no run gives the "
               "figure), with the figure and the reason.")


def judged_claims(records: Sequence[RunRecord], config: dict[str, Any]) -> list[dict[str, Any]]:
    """The suite's declared claims (``[[report.claims]]``) judged on ``records`` (:mod:`harness.claims`)."""
    from harness._core.identity import latest_per_key
    from harness.run.claims import judge_all

    return judge_all(config.get("claims") or [], latest_per_key(records))


def claims_block(judged: Sequence[dict[str, Any]]) -> tuple[str, str] | None:
    """The judged claims as a Markdown and an HTML table (None without claims)."""
    if not judged:
        return None
    from harness._core.output import fmt

    cols = ("claim", "check", "figure", "status", "why")
    rows = [(c["text"], c["check"], fmt(c["figure"]), c["status"], c["reason"]) for c in judged]
    md = "\n".join(["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
                    + ["| " + " | ".join(str(v).replace("|", "/") for v in r[:3]) + f" | **{r[3]}** | {r[4]} |"
                       for r in rows])
    head = "".join(f"<th>{c}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r[:3]) + f"<td><b>{html.escape(r[3])}</b>"
                   f"</td><td>{html.escape(r[4])}</td></tr>" for r in rows)
    return md, f"<table><tr>{head}</tr>{body}</table>"


def _write_meta(records, outdir: Path, title: str, config: dict[str, Any], pngs: list[str], store,
                claims: Sequence[dict[str, Any]] = ()) -> None:
    import json

    verdicts: dict[str, int] = defaultdict(int)
    if store is not None:
        for r in records:
            if r.id is not None:
                for v in store.verdicts(r.id).values():
                    verdicts[v["verdict"]] += 1
    statuses: dict[str, int] = defaultdict(int)
    for r in records:
        statuses[r.status] += 1
    meta = {"title": title, "paper": config.get("paper", ""), "claim": config.get("claim", ""),
            "runs": len(records), "statuses": dict(statuses), "verdicts": dict(verdicts), "plots": pngs,
            "claims": list(claims)}
    write_atomic(outdir / "meta.json", json.dumps(meta, indent=1), "report file")


def write_index(root: str | Path) -> Path:
    """The index page of every report folder under ``root`` (``latest/``, ``all/``, a suite's, a
    ``--report DIR`` written there): each with its paper and the paper's claim where its run gave
    them, its main plot, run statuses and theory verdicts (from its ``meta.json``; a folder without
    one is linked by name)."""
    import json

    root = Path(root)
    entries = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        if not any((folder / f).is_file() for f in ("meta.json", "index.html", "index.md")):
            continue  # not a report (plots of `harness compare`, a user's own folder)
        try:
            meta = json.loads((folder / "meta.json").read_text())
        except (OSError, ValueError):
            meta = {}
        entries.append((folder.name, meta if isinstance(meta, dict) else {}))
    md = ["# harness reports", ""]
    hb = ["<h1>harness reports</h1>"]
    for name, m in entries:
        counts = lambda d: ", ".join(f"{k}: {v}" for k, v in sorted((d or {}).items())) or "-"  # noqa: E731
        title = m.get("title") or name
        page = f"{name}/index.html" if (root / name / "index.html").is_file() else f"{name}/index.md"
        md_page = f"{name}/index.md" if (root / name / "index.md").is_file() else page
        md += [f"## [{title}]({md_page})", ""]
        hb += [f"<h2><a href='{page}'>{html.escape(title)}</a></h2>"]
        if m.get("paper"):  # shown only where the suite's [report] names them: no '-' placeholders
            md += [f"**Paper:** {m['paper']}", ""]
            hb += [f"<p><b>Paper:</b> {html.escape(m['paper'])}</p>"]
        if m.get("claim"):
            md += [f"> **Claim:** {m['claim']}", ""]
            hb += [f"<blockquote><b>Claim:</b> {html.escape(m['claim'])}</blockquote>"]
        if m.get("statuses") or m.get("verdicts"):
            md += [f"runs: {counts(m.get('statuses'))}; verdicts: {counts(m.get('verdicts'))}", ""]
            hb += [f"<p>runs: {html.escape(counts(m.get('statuses')))}; "
                   f"theory verdicts: {html.escape(counts(m.get('verdicts')))}</p>"]
        if m.get("plots"):
            md += [f"![{name}]({name}/{m['plots'][0]})", ""]
            hb += [f"<a href='{page}'><img src='{name}/{m['plots'][0]}' style='max-width:100%'></a>"]
    write_atomic(root / "index.md", "\n".join(md) + "\n", "report index")
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>harness reports</title>"
            "<style>body{font-family:sans-serif;max-width:1200px;margin:auto}</style></head><body>"
            + "\n".join(hb) + "</body></html>")
    write_atomic(root / "index.html", page, "report index")
    return root / "index.html"


def _workload_key(r: RunRecord) -> str:
    """The workload's name and the parameters that differ from its defaults, as the run was
    evaluated (a planned evaluation subset in place of the one asked for: ``evaluated_params``)."""
    from harness._core.identity import evaluated_params

    try:
        from harness._core.registry import workloads

        defaults = workloads().get(r.workload).paramset.defaults()
    except Exception:  # noqa: BLE001 - a run of a workload no longer installed still gets a title
        defaults = {}
    wp = ", ".join(f"{k}={v}" for k, v in sorted(evaluated_params(r).items())
                   if (k in defaults or not defaults) and defaults.get(k, object()) != v)
    return f"{r.workload} ({wp})" if wp else r.workload


def _planned_note(runs) -> str | None:
    """A line under a workload's table naming the runs evaluated on a subset the evaluation plan
    chose from their budget (smaller than the one they asked for), and how."""
    from harness._core.evalplan import describe, subsampled

    hit = [r for r in runs if subsampled((r.info or {}).get("eval_plan"))]
    if not hit:
        return None
    return ("Evaluated on a planned subset (the budget was too short to evaluate every point on the whole "
            "subset; `--schedule eval_plan=false` turns the plan off): " +
            "; ".join(f"run {r.id}: {describe(r.info['eval_plan'])}" for r in hit))


_COLS = ("id", "plugin", "parameters", "workers", "seed", "status", "updates", "time_s", "subopt", "tau max", "load")


def _rows(runs):
    """One row per run; 'parameters' are those that tell this workload's runs apart (an eta = 0.05 and an
    eta = theory run of one plugin differ there), plus the step and batch. A time measured beside more
    busy workers than cores (``--jobs``) is marked contended; 'load' is the machine's load average
    when the run started / ended."""
    from harness.run.metrics import contended, tau_max

    keys = varying_params(runs)
    for r in runs:
        last = r.points[-1] if r.points else {}
        chosen = (r.info or {}).get("theory_choices") or {}
        ps = ", ".join(f"{k}=theory ({_short(r.params[k])})" if k in chosen else f"{k}={_short(r.params[k])}"
                       for k in keys.get(r.plugin, ()) if k in r.params)
        t = last.get("time_s")
        load = ((r.info or {}).get("contention") or {}).get("load") or (r.info or {}).get("load")
        yield [r.id, r.plugin, ps, r.workers, r.seed, r.status, last.get("updates"),
               f"{t:.4g} (contended)" if t is not None and contended(r) else t, last.get("subopt"), tau_max(r),
               "/".join(f"{x:.1f}" for x in load if x is not None) if isinstance(load, list) else load]


def _md_table(runs) -> str:
    from harness._core.output import fmt

    lines = ["| " + " | ".join(_COLS) + " |", "|" + "---|" * len(_COLS)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in _rows(runs)]
    return "\n".join(lines)


def _html_table(runs) -> str:
    from harness._core.output import fmt

    head = "".join(f"<th>{c}</th>" for c in _COLS)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(fmt(v))}</td>" for v in row) + "</tr>" for row in _rows(runs))
    return f"<table><tr>{head}</tr>{body}</table>"
