"""The bound report's rendering: for a run group's verdicts, a PNG of the measured quantity (mean over
seeds with the seeds' min-max band and the simultaneous upper confidence limit) under the theorem's
bound, the conditions table with the values, and the verdict with its test.

Pure rendering: it takes :class:`~harness.theory.verdict.Verdict` objects and writes files; the
harness (``harness.analysis.report``) groups the stored runs, asks the checker and stores the verdicts.
A group is plotted only against the theorems about its algorithm (``Theorem.about``, the rule the
checker also applies: another algorithm's theorem gets a ``not-applicable`` verdict, so no curve). Axes: log-log for polynomial rates (1/T, 1/sqrt(T)),
semi-log for geometric rates (rho^S).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Sequence

from harness._core.output import fmt

from .verdict import Verdict

TEST_TEXT = ("How a verdict is decided: H0 is 'E[measured] <= bound' at every recorded point of a run group (the seeds "
             "of one configuration). The points are tested together with a family-wise error rate of 5% (Holm): per point "
             "a one-sided t-test over the seeds, or, with one seed (or seeds that agree exactly), Markov's inequality "
             "P(X >= x) <= bound/x for the non-negative measured quantity. **violated**: some point rejected, or a seed "
             "diverged while the conditions hold, or the plugin applied a step other than the stored one, or the run's "
             "own accounting (samples and updates) contradicts the inner-loop length, batch or residues it reports. "
             "**holds**: nothing rejected and the seeds' mean under the bound everywhere (consistent with the theorem); "
             "**holds (unverified)**: the same, but the plugin did not report the values it applied (ctx.applied), "
             "so the stored parameters stood in. "
             "**inconclusive**: the mean crosses the bound somewhere, not significantly. **not-applicable**: a condition "
             "fails (named), or the theorem says nothing checkable about this run.")


def theory_section(groups: Sequence[tuple[str, str, Sequence[Verdict]]], outdir: Path) -> list[tuple[str, str]]:
    """``groups``: (label, algorithm family, verdicts) per run group. Returns one (markdown, html) block."""
    from .checker import rate_kind
    from .registry import get

    if not groups:
        return []
    md = ["## Theory: bounds, conditions and verdicts", ""]
    hb = ["<h2 id='theory'>Theory: bounds, conditions and verdicts</h2>"]
    rows = []
    k = 0
    for label, family, verdicts in groups:
        md += [f"### {label}", ""]
        hb += [f"<h3>{html.escape(label)}</h3>"]
        for d in verdicts:
            slack = (d.slack or {}).get("min")
            rows.append((label, d.theorem, d.verdict, slack, d.reason))
            try:
                thm = get(d.theorem)
            except ValueError:  # an id the theory module lacks: its row says so
                continue
            md += [f"#### {d.theorem}: **{d.verdict}**", "", f"{thm.title}. {d.citation}", "", d.reason, ""]
            hb += [f"<h4>{html.escape(d.theorem)}: <b>{html.escape(d.verdict)}</b></h4>",
                   f"<p>{html.escape(thm.title)}. {html.escape(d.citation)}</p>", f"<p>{html.escape(d.reason)}</p>"]
            if d.curve and thm.about(family):
                png = outdir / f"bound-{k}.png"
                k += 1
                figure = plot_bound(d, thm, rate_kind(thm)[0], png, f"{label}\n{d.theorem}: {d.verdict}")
                md += [f"![{d.theorem}]({png.name})", ""]
                hb += [figure]
            for txt in ([f"test: {d.test}"] if d.test else []) + [f"flag: {f}" for f in d.flags]:
                md += [txt, ""]
                hb += [f"<p>{html.escape(txt)}</p>"]
            if d.conditions:
                md += [_md_conditions(d.conditions), ""]
                hb += [_html_conditions(d.conditions)]
            if d.free_chosen:
                txt = "free analysis constants: " + ", ".join(f"{a} = {fmt(b)}" for a, b in d.free_chosen.items())
                md += [txt, ""]
                hb += [f"<p>{html.escape(txt)}</p>"]
            rate = d.rate or {}
            if rate.get("ok") is not None:
                txt = (f"rate check ({rate.get('axes')}, informative): fitted slope {fmt(rate['fitted_slope'])} vs the "
                       f"theorem's {fmt(rate['expected_slope'])} (tolerance {rate['tolerance']:.0%}): {rate['note']}")
                md += [txt, ""]
                hb += [f"<p>{html.escape(txt)}</p>"]
    head = ["| runs | theorem | verdict | min slack | why |", "|---|---|---|---|---|"]
    head += [f"| {a} | {b} | **{c}** | {fmt(s)} | {w} |" for a, b, c, s, w in rows]
    hhead = ("<table><tr><th>runs</th><th>theorem</th><th>verdict</th><th>min slack</th><th>why</th></tr>"
             + "".join(f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td><td><b>{html.escape(c)}</b></td>"
                       f"<td>{html.escape(fmt(s))}</td><td>{html.escape(w)}</td></tr>" for a, b, c, s, w in rows)
             + "</table>")
    md[2:2] = [TEST_TEXT, "", "Verdicts:", ""] + head + [""]
    hb[1:1] = [f"<p>{html.escape(TEST_TEXT).replace('**', '')}</p>", hhead]
    return [("\n".join(md), "\n".join(hb))]


def plot_bound(d: Verdict, thm, kind: str, path: Path, title: str) -> str:
    """The measured mean, the seeds' band and the upper confidence limit under the bound; every
    shaded area is in the legend. Writes the PNG at ``path``; returns the HTML that draws it
    interactively."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    c = d.curve
    x = np.asarray(c["x"], dtype=float)
    arr = {k: np.asarray([np.nan if v is None else v for v in c[k]], dtype=float) for k in ("mean", "upper", "bound", "lo", "hi")}
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.plot(x, arr["bound"], color="crimson", lw=2.2, label=f"bound ({thm.id})")
    top = np.nanmax(np.concatenate([arr["bound"], arr["hi"]])) * 10
    ax.fill_between(x, arr["bound"], top, color="crimson", alpha=0.06, label="above the bound (excluded by the theorem)")
    ax.plot(x, arr["mean"], color="navy", lw=1.8, label=f"measured: mean over {d.n_seeds} seed(s)")
    if d.n_seeds > 1:
        ax.fill_between(x, arr["lo"], arr["hi"], color="navy", alpha=0.18, label="seeds' range (min-max)")
        if np.isfinite(arr["upper"]).any():
            ax.plot(x, arr["upper"], color="navy", lw=0.9, ls="--",
                    label=f"simultaneous {1 - (d.alpha or 0.05):.0%} upper limit of the mean")
    ax.set_xscale("log" if kind != "geom" and (x > 0).all() else "linear")
    if np.isfinite(arr["mean"]).any() and np.nanmin(np.concatenate([arr["lo"], arr["bound"]])) > 0:
        ax.set_yscale("log")
    ax.set_xlabel(f"{thm.horizon}: {thm.horizon_doc}")
    ax.set_ylabel(_wrap(thm.measured_doc, 45))
    slack = d.slack or {}
    if slack.get("min") is not None:
        ax.annotate(f"min slack bound/mean = {slack['min']:.3g}", xy=(0.02, 0.03), xycoords="axes fraction", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    fig.tight_layout()
    from harness._core.interactive import save

    return save(fig, path, alt=title, bbox_inches="tight")


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) or text


def _md_conditions(conds) -> str:
    lines = ["| condition | holds | lhs | rhs | margin | note |", "|---|---|---|---|---|---|"]
    for c in conds:
        note = ("implicit in the proof" if c.get("implicit") else "") + ("" if c.get("gating", True) else " (reported, not required)")
        lines.append(f"| `{c['relation']}` ({c['name']}) | {'yes' if c['holds'] else '**no**'} | {fmt(c.get('lhs'))} | "
                     f"{fmt(c.get('rhs'))} | {fmt(c.get('margin'))} | {note.strip()} |")
    return "\n".join(lines)


def _html_conditions(conds) -> str:
    rows = "".join(
        f"<tr><td><code>{html.escape(c['relation'])}</code> ({html.escape(c['name'])})</td>"
        f"<td>{'yes' if c['holds'] else '<b>no</b>'}</td><td>{html.escape(fmt(c.get('lhs')))}</td>"
        f"<td>{html.escape(fmt(c.get('rhs')))}</td><td>{html.escape(fmt(c.get('margin')))}</td>"
        f"<td>{'implicit in the proof' if c.get('implicit') else ''}</td></tr>" for c in conds)
    return ("<table><tr><th>condition</th><th>holds</th><th>lhs</th><th>rhs</th><th>margin</th><th>note</th></tr>"
            + rows + "</table>")
