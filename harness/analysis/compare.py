"""Side-by-side comparison of two algorithms (or one algorithm at two stored baselines): the
statistics and their rendering (tables, Markdown, plots). This module runs nothing.

A *side* is a set of stored runs: a plugin's (run, or fetched from the store's cache, on the
comparison's workloads, seeds and worker counts by :mod:`harness.cli.sides`) or a JSON export
written by ``harness runs export`` / ``harness gate --save-baseline``. When one side is a file and
the other a plugin, the plugin is run on the file's grid: the same workloads, workload parameters,
worker counts, seeds, budget and target.

Runs are grouped by (workload, workload parameters, workers) -- plus (plugin, parameters) when
both sides hold the same set of plugins, i.e. two versions of the same thing -- and inside a
group the seeds are the samples. Per group and metric: the median over seeds with a bootstrap
CI, the ratio B/A of the medians and asv's significance rule (Mann-Whitney U when there are
enough seeds for it to reach alpha, else non-overlapping CIs); ``~`` marks a difference that is
not significant. A geometric mean of the per-group ratios summarises across workloads
(AlgoPerf style). Metrics:

- ``time_to_target``: measured seconds (evaluation excluded) at the first evaluated point that
  meets the target; ``inf`` if none does (AlgoPerf).
- ``updates_to_target``: updates applied at that point; ``inf`` if none.
- ``final_subopt``: suboptimality at the last point.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from . import stats
from harness._core.errors import UserError
from harness._core.paths import write_atomic
from harness._core.monitor import FINISHED_OK, Target
from harness._core.identity import latest_per_key, record_key
from harness.run.metrics import METRIC_LABELS, METRICS, run_metrics, target_for  # noqa: F401 - re-exported
from harness.run.store import RunRecord, record_from_dict

# -- loading sides --------------------------------------------------------------------------------
@dataclass
class Export:
    """A JSON export (``{"harness_export": 1, "runs": [...]}``) read back: records and verdicts."""

    path: Path
    records: list[RunRecord]
    verdicts: dict[int, dict[str, dict[str, Any]]]
    meta: dict[str, Any] = field(default_factory=dict)


def load_export(path: str | Path, what: str = "export file") -> Export:
    """A JSON export (``runs export``, ``gate --save-baseline``); ``what`` names it in errors
    ("baseline file", "current file")."""
    from harness._core.paths import input_file

    path = input_file(path, what)
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: not a JSON export: {exc}") from None
    if not isinstance(doc, dict) or "harness_export" not in doc or not isinstance(doc.get("runs"), list):
        raise UserError(f"{path}: not a harness JSON export (write one with `harness runs export FILE.json` "
                        "or `harness gate --save-baseline FILE.json`)")
    records, verdicts = [], {}
    for k, d in enumerate(doc["runs"]):
        try:
            rec = record_from_dict(d)
        except TypeError as exc:
            raise UserError(f"{path}: run #{k} is malformed: {exc}") from None
        records.append(rec)
        verdicts[id(rec)] = d.get("verdicts") or {}
    return Export(path, records, verdicts, doc.get("meta") or {})


def is_export_path(text: str) -> bool:
    return text.endswith(".json") or Path(text).is_file()


@dataclass
class Side:
    label: str
    records: list[RunRecord]
    source: str                      # "plugin" or the export's path
    plugin: str | None = None        # the plugin name for a plugin side
    # a plugin side's parameters as asked, those that label it (they differ from the plugin's declared
    # default or from the other side's: harness._core.labels.shown_params), the same in all its runs
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        """The label and the parameters that tell the side apart: ``sgd-serial [eta=0.3, b=4]``."""
        from harness._core.output import fmt

        return self.label + (f" [{', '.join(f'{k}={fmt(v)}' for k, v in self.params.items())}]" if self.params else "")


# -- grouping and statistics ----------------------------------------------------------------------
def workload_title(key: str) -> str:
    """'logreg (lam=0.01)': the workload with the parameters that differ from its defaults."""
    doc = json.loads(key)
    name, wparams = (doc["name"], doc["params"]) if isinstance(doc, dict) else doc
    try:
        from harness._core.registry import workloads

        defaults = {p.name: p.default for p in workloads().get(name).params}
    except Exception:  # noqa: BLE001 - an export from elsewhere may name a workload not installed here
        defaults = {}
    wp = ", ".join(f"{k}={v}" for k, v in sorted(wparams.items()) if k not in defaults or defaults[k] != v)
    return f"{name} ({wp})" if wp else name


def group_key(rec: RunRecord, with_plugin: bool) -> tuple:
    """(workload, workers[, plugin, params as asked]): the identity's 'group' view."""
    key = record_key(rec, "group")
    return key if with_plugin else key[:2]


def group_title(key: tuple) -> str:
    title = f"{workload_title(key[0])}, workers={key[1]}"
    if len(key) > 2:
        ps = ", ".join(f"{k}={v}" for k, v in sorted(json.loads(key[3]).items()))
        title = f"{key[2]} [{ps}] on {title}"
    return title


@dataclass
class MetricRow:
    metric: str
    a: stats.Estimate
    b: stats.Estimate
    ratio: float
    significant: bool
    how: str
    mark: str

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "a": self.a.to_dict(), "b": self.b.to_dict(), "ratio_b_over_a": self.ratio,
                "significant": self.significant, "test": self.how, "mark": self.mark}


@dataclass
class Group:
    key: tuple
    title: str
    a_runs: list[RunRecord]
    b_runs: list[RunRecord]
    rows: list[MetricRow]
    target: Target
    plot: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.title, "target": {"metric": self.target.metric, "value": self.target.value},
                "a_runs": [r.id for r in self.a_runs], "b_runs": [r.id for r in self.b_runs],
                "a_seeds": [r.seed for r in self.a_runs], "b_seeds": [r.seed for r in self.b_runs],
                "metrics": [m.to_dict() for m in self.rows], "plot": str(self.plot) if self.plot else None}


@dataclass
class Comparison:
    a: Side
    b: Side
    groups: list[Group]
    summary: dict[str, dict[str, Any]]
    unmatched: list[str]
    failed: list[RunRecord]
    alpha: float

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a.label, "b": self.b.label, "a_params": self.a.params, "b_params": self.b.params,
                "alpha": self.alpha,
                "groups": [g.to_dict() for g in self.groups], "geomean": self.summary,
                "unmatched": self.unmatched,
                "failed_runs": [{"id": r.id, "plugin": r.plugin, "status": r.status, "reason": r.reason}
                                for r in self.failed]}


NEITHER = "neither reached the target"  # the test column of a to-target row where no seed of A or B got there


def mark_for(a: Sequence[float], b: Sequence[float], alpha: float) -> tuple[bool, str, str]:
    """asv's marks: ``+`` B is larger (worse: slower, more updates, higher subopt), ``-`` B is
    smaller (better), ``~`` a difference that is not significant, ``=`` identical samples."""
    different, how = stats.is_different(a, b, alpha=alpha)
    if how == "identical":
        return False, how, "="
    if not different:
        return False, how, "~"
    ma, mb = stats.median(a), stats.median(b)
    return True, how, "+" if stats.ratio(mb, ma) > 1 else "-"


def compare_sides(a: Side, b: Side, *, target: Target | None = None, alpha: float = stats.DEFAULT_ALPHA) -> Comparison:
    plugins_a = {r.plugin for r in a.records}
    plugins_b = {r.plugin for r in b.records}
    with_plugin = plugins_a == plugins_b and (len(plugins_a) > 1 or a.source != "plugin" or b.source != "plugin")
    if not with_plugin and (len(plugins_a) > 1 or len(plugins_b) > 1):
        raise UserError(f"each side must be one plugin, or both the same set of plugins: A has {sorted(plugins_a)}, "
                        f"B has {sorted(plugins_b)}")
    failed = [r for r in a.records + b.records if r.status not in FINISHED_OK and r.status != "skipped"]
    groups_a: dict[tuple, list[RunRecord]] = defaultdict(list)
    groups_b: dict[tuple, list[RunRecord]] = defaultdict(list)
    for side, into in ((a, groups_a), (b, groups_b)):
        for r in latest_per_key(side.records):  # each seed once, whatever reruns the store holds
            if r.status in FINISHED_OK and r.points:
                into[group_key(r, with_plugin)].append(r)
    unmatched = [f"{group_title(k)} (only in {'A' if k in groups_a else 'B'})"
                 for k in sorted(set(groups_a) ^ set(groups_b))]
    groups = []
    for key in sorted(set(groups_a) & set(groups_b)):
        ra, rb = groups_a[key], groups_b[key]
        tgt = target_for(ra[0], target)
        ma = [run_metrics(r, tgt) for r in ra]
        mb = [run_metrics(r, tgt) for r in rb]
        rows = []
        for m in METRICS:
            xa, xb = [x[m] for x in ma], [x[m] for x in mb]
            ea, eb = stats.bootstrap_ci(xa, alpha=alpha), stats.bootstrap_ci(xb, alpha=alpha)
            sig, how, mark = mark_for(xa, xb, alpha)
            both_inf = math.isinf(ea.value) and math.isinf(eb.value)  # neither reached the target: no ratio
            if all(math.isinf(x) for x in xa + xb):  # no seed on either side reached it: nothing to compare
                sig, how, mark = False, NEITHER, ""
            rows.append(MetricRow(m, ea, eb, math.nan if both_inf else stats.ratio(eb.value, ea.value), sig, how, mark))
        groups.append(Group(key, group_title(key), ra, rb, rows, tgt))
    summary = {}
    for m in METRICS:
        # a group where neither side reached the target says nothing about the ratio: left out
        ratios = [row.ratio for g in groups for row in g.rows if row.metric == m and not math.isnan(row.ratio)]
        usable = [x for x in ratios if x > 0 and math.isfinite(x)]
        summary[m] = {"geomean_ratio": stats.geomean(usable), "groups": len(usable),
                      "left_out": len(ratios) - len(usable),
                      "neither": sum(1 for g in groups for row in g.rows if row.metric == m and math.isnan(row.ratio))}
    return Comparison(a, b, groups, summary, unmatched, failed, alpha)


# -- plots ----------------------------------------------------------------------------------------
def plot_group(group: Group, a: Side, b: Side, path: Path) -> str:
    """Both sides' curves (median over seeds, band min..max) against updates and measured time,
    with the target as a dashed line and each side's median time to target as a dotted line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .report import _colors, _metric_label, seed_band

    metric = group.target.metric if group.target.value is not None else "subopt"
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    colors = _colors()
    for side, runs, col in ((a, group.a_runs, next(colors)), (b, group.b_runs, next(colors))):
        ttt = next(r for r in group.rows if r.metric == "time_to_target").a if side is a else \
            next(r for r in group.rows if r.metric == "time_to_target").b
        utt = next(r for r in group.rows if r.metric == "updates_to_target")
        utt = utt.a if side is a else utt.b
        for ax, x, at in zip(axes, ("updates", "time_s"), (utt.value, ttt.value)):
            band = seed_band(runs, x, metric, log_x=True)
            if band is None:
                continue
            grid, med, lo, hi = band
            ax.plot(grid, med, color=col, lw=1.8, label=f"{'A' if side is a else 'B'}: {side.title} (n={len(runs)} seeds)")
            if len(runs) > 1:
                ax.fill_between(grid, lo, hi, color=col, alpha=0.2, lw=0)
            if math.isfinite(at):
                ax.axvline(at, color=col, ls=":", lw=1)
    for ax, xl in zip(axes, ("updates applied", "measured time (s, evaluation excluded)")):
        if group.target.value is not None:
            ax.axhline(group.target.value, color="k", ls="--", lw=1, label=f"target {metric} = {group.target.value:g}")
        ax.set_xlabel(xl)
        ax.set_ylabel(_metric_label(metric))
        if metric in ("subopt", "grad_norm_sq", "dist_sq"):
            ax.set_yscale("log")
        ax.set_xscale("log")  # seed_band's grid is log-spaced over positive x: show it evenly
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8, loc="best")
    fig.suptitle(f"{a.title} (A) vs {b.title} (B): {group.title}\nlines: median over seeds; bands: min..max; "
                 "dotted: median time/updates to target", fontsize=10)
    fig.tight_layout()
    from .._core.interactive import save

    return save(fig, path, alt=group.title)


def _inline_html(text: str) -> str:
    """The Markdown of ``summary_line`` and ``MARKS_HELP`` (``**bold**``, ```code```) as HTML, escaped:
    the page showed the asterisks and backticks literally."""
    out = html.escape(text)
    out = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", out)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", out)


def write_plots(cmp: Comparison, outdir: Path) -> Path:
    """Each group's plot (a PNG, and drawn interactively) and ``index.html``: the comparison's
    tables with the plots, readable offline. Returns the page."""
    from .report import html_page

    outdir.mkdir(parents=True, exist_ok=True)
    head = [h.replace("95%", _ci_pct(cmp.alpha)) for h in HEADER]
    title = f"{cmp.a.title} (A) vs {cmp.b.title} (B)"
    body = [f"<h1>{html.escape(title)}</h1>", f"<p>{_inline_html(summary_line(cmp))}</p>"]
    for i, g in enumerate(cmp.groups):
        slug = re.sub(r"[^A-Za-z0-9]+", "-", g.title).strip("-")[:60]
        g.plot = outdir / f"compare-{i}-{slug}.png"
        figure = plot_group(g, cmp.a, cmp.b, g.plot)
        tgt = f"target {g.target.metric} <= {g.target.value:g}" if g.target.value is not None else "no target"
        body += [f"<h2 id='group-{i}'>{html.escape(g.title)}</h2>", f"<p>{html.escape(tgt)}</p>",
                 "<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"
                 + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in table_rows(g))
                 + "</table>", figure]
    body += [f"<p>{_inline_html(MARKS_HELP)}</p>"]
    body += [f"<p>not compared: {html.escape(u)}</p>" for u in cmp.unmatched]
    page = outdir / "index.html"
    write_atomic(page, html_page(title, body, back=None), "comparison page")
    return page


# -- text renderings ------------------------------------------------------------------------------
def fmt_num(v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if math.isinf(v):
        return "inf"
    from harness._core.output import fmt

    return fmt(float(v))


def fmt_est(e: stats.Estimate) -> str:
    if e.n == 0 or math.isnan(e.value):
        return "-"
    if e.lo == e.hi:
        return fmt_num(e.value)
    return f"{fmt_num(e.value)} [{fmt_num(e.lo)}, {fmt_num(e.hi)}]"


def fmt_ratio(r: float) -> str:
    if math.isnan(r):
        return "-"
    return "inf" if math.isinf(r) else f"{r:.3g}x"


HEADER = ("", "metric", "A: median [95% CI]", "B: median [95% CI]", "B/A", "test")


def table_rows(g: Group) -> list[tuple[str, ...]]:
    return [(row.mark, METRIC_LABELS[row.metric], fmt_est(row.a), fmt_est(row.b), _ratio_cell(row), row.how)
            for row in g.rows]


def _ratio_cell(row) -> str:
    """B/A, or 'n/a' where a side never reached the target (its median is infinite: the ratio would
    read 0x or inf, which the summary line already leaves out as 'no finite ratio')."""
    never = [bool(e.n and math.isinf(e.value)) for e in (row.a, row.b)]
    if any(never) and not all(never):      # both never: no ratio at all ('-', below)
        return "n/a"
    return fmt_ratio(row.ratio)


def _ci_pct(alpha: float) -> str:
    return f"{100 * (1 - alpha):.0f}%"


def to_markdown(cmp: Comparison) -> str:
    out = [f"## {cmp.a.title} (A) vs {cmp.b.title} (B)", ""]
    head = [h.replace("95%", _ci_pct(cmp.alpha)) for h in HEADER]
    for g in cmp.groups:
        tgt = f"target {g.target.metric} <= {g.target.value:g}" if g.target.value is not None else "no target"
        out += [f"### {g.title}", "",
                f"{tgt}; seeds A: {sorted(r.seed for r in g.a_runs)}, B: {sorted(r.seed for r in g.b_runs)}", "",
                "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in table_rows(g)]
        if g.plot:
            out += ["", f"![{g.title}]({g.plot.name})"]
        out.append("")
    out += [summary_line(cmp), "", MARKS_HELP]
    out += [f"- not compared: {u}" for u in cmp.unmatched]
    out += [f"- failed run #{r.id} {r.plugin} ({r.status}): {r.reason}" for r in cmp.failed]
    return "\n".join(out) + "\n"


MARKS_HELP = ("`+` B larger (slower / worse), `-` B smaller (faster / better), `~` not significant, "
              "`=` identical, no mark: neither side reached the target; significance: Mann-Whitney U "
              "where the seeds allow it, else non-overlapping bootstrap CIs (asv's rule).")


def _groups(n: int) -> str:
    return f"{n} group" if n == 1 else f"{n} groups"


def summary_line(cmp: Comparison) -> str:
    parts = []
    for m in METRICS:
        s = cmp.summary[m]
        why = ([f"{_groups(s['left_out'])} where one side never reached the target"] if s["left_out"] else []) + \
              ([f"{_groups(s['neither'])} where neither side reached it"] if s.get("neither") else [])
        if s["groups"]:
            extra = f", {' and '.join(why)} left out" if why else ""
            parts.append(f"{METRIC_LABELS[m]} {fmt_ratio(s['geomean_ratio'])} over {_groups(s['groups'])}{extra}")
        else:
            parts.append(f"{METRIC_LABELS[m]} - (no finite ratio: {' and '.join(why) or 'no groups'})")
    return "**geometric mean of B/A:** " + "; ".join(parts)


def print_table(cmp: Comparison) -> None:
    from rich.markup import escape
    from rich.table import Table

    from harness._core.output import console

    console.print(f"[bold]A[/bold] = {escape(cmp.a.title)}   [bold]B[/bold] = {escape(cmp.b.title)}")
    head = [h.replace("95%", _ci_pct(cmp.alpha)) for h in HEADER]
    for g in cmp.groups:
        tgt = f"target {g.target.metric} <= {g.target.value:g}" if g.target.value is not None else "no target"
        t = Table(title=escape(f"{g.title}  ({tgt}; {len(g.a_runs)} vs {len(g.b_runs)} seeds)"), title_justify="left")
        for h in head:
            t.add_column(escape(h), overflow="fold")
        for row in table_rows(g):
            t.add_row(*[escape(c) for c in row])
        console.print(t)
        if g.plot:
            console.print(escape(f"plot: {g.plot}"))
    console.print(escape(summary_line(cmp).replace("**", "")))
    console.print(escape(MARKS_HELP.replace("`", "")))
    for u in cmp.unmatched:
        console.print(escape(f"not compared: {u}"))
    for r in cmp.failed:
        console.print(f"[red]{escape(f'failed run #{r.id} {r.plugin} ({r.status}): {r.reason}')}[/red]")
