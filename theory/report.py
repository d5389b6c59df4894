"""The bound report: for every group of runs (seeds pooled) and every theorem linked to its plugin, a
PNG of the measured quantity (mean over seeds with the min-max band and the one-sided upper limit)
under the theorem's bound envelope, the conditions table with the values, and the verdicts.

Passed as a section to :func:`harness.report.write_report` by the commands that write reports
(``harness report``, ``harness run --report``: :func:`harness.commands.report_sections`).
Axes: log-log for polynomial rates (1/T, 1/sqrt(T)), semi-log for geometric rates (rho^S).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Sequence

from harness.output import fmt


def theory_section(records: Sequence, outdir: Path, store=None) -> list[tuple[str, str]]:
    from .checker import check, group_runs, linked_theorems, rate_kind
    from .registry import get

    blocks: list[tuple[str, str]] = []
    groups = [g for g in group_runs([r for r in records if r.points]) if linked_theorems(g[0])]
    if not groups:
        return blocks
    md = ["## Theory: bounds, conditions and verdicts", ""]
    hb = ["<h2>Theory: bounds, conditions and verdicts</h2>"]
    summary_rows = []
    k = 0
    for group in groups:
        verdicts = check(group, store=store, save=store is not None)
        label = group[0].label().split(" (workers")[0] + f" (workers={group[0].workers}, seeds={len(group)})"
        md += [f"### {label}", ""]
        hb += [f"<h3>{html.escape(label)}</h3>"]
        for d in verdicts:
            try:
                thm = get(d["theorem"])
            except Exception:  # noqa: BLE001 - an id the theory module lacks: its verdict row says so
                summary_rows.append((label, d["theorem"], d["verdict"], None, d.get("reason", "")))
                continue
            summary_rows.append((label, d["theorem"], d["verdict"], d.get("slack", {}).get("min") if d.get("slack") else None,
                                 d.get("reason", "")))
            md += [f"#### {d['theorem']}: **{d['verdict']}**", "", f"{thm.title}. {d['citation']}", "",
                   f"{d.get('reason', '')}", ""]
            hb += [f"<h4>{html.escape(d['theorem'])}: <b>{html.escape(d['verdict'])}</b></h4>",
                   f"<p>{html.escape(thm.title)}. {html.escape(d['citation'])}</p>",
                   f"<p>{html.escape(d.get('reason', ''))}</p>"]
            if d.get("curve"):
                png = outdir / f"bound-{k}.png"
                k += 1
                _plot(d, thm, rate_kind(thm)[0], png, f"{label}\n{d['theorem']}: {d['verdict']}")
                md += [f"![{d['theorem']}]({png.name})", ""]
                hb += [f'<img src="{png.name}" style="max-width:100%">']
            if d.get("conditions"):
                md += [_md_conditions(d["conditions"]), ""]
                hb += [_html_conditions(d["conditions"])]
            if d.get("free_chosen"):
                txt = "free analysis constants: " + ", ".join(f"{a} = {fmt(b)}" for a, b in d["free_chosen"].items())
                md += [txt, ""]
                hb += [f"<p>{html.escape(txt)}</p>"]
            rate = d.get("rate") or {}
            if rate.get("ok") is not None:
                txt = (f"rate check ({rate.get('axes')}): fitted slope {fmt(rate['fitted_slope'])} vs the theorem's "
                       f"{fmt(rate['expected_slope'])} (one-sided, tolerance {rate['tolerance']:.0%}): {rate['note']}")
                md += [txt, ""]
                hb += [f"<p>{html.escape(txt)}</p>"]
    head = ["| runs | theorem | verdict | min slack | why |", "|---|---|---|---|---|"]
    head += [f"| {a} | {b} | **{c}** | {fmt(s)} | {w} |" for a, b, c, s, w in summary_rows]
    hhead = ("<table><tr><th>runs</th><th>theorem</th><th>verdict</th><th>min slack</th><th>why</th></tr>"
             + "".join(f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td><td><b>{html.escape(c)}</b></td>"
                       f"<td>{html.escape(fmt(s))}</td><td>{html.escape(w)}</td></tr>" for a, b, c, s, w in summary_rows)
             + "</table>")
    md[2:2] = ["Verdicts:", ""] + head + [""]
    hb[1:1] = [hhead]
    blocks.append(("\n".join(md), "\n".join(hb)))
    return blocks


def _plot(d: dict[str, Any], thm, kind: str, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    c = d["curve"]
    x = np.asarray(c["x"], dtype=float)
    arr = {k: np.asarray([np.nan if v is None else v for v in c[k]], dtype=float) for k in ("mean", "upper", "bound", "lo", "hi")}
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    ax.plot(x, arr["bound"], color="crimson", lw=2.2, label=f"bound ({thm.id})")
    ax.fill_between(x, arr["bound"], np.nanmax(np.concatenate([arr["bound"], arr["hi"]])) * 10, color="crimson", alpha=0.06)
    ax.plot(x, arr["mean"], color="navy", lw=1.8, label=f"measured: mean over {d.get('n_seeds', 1)} seed(s)")
    if d.get("n_seeds", 1) > 1:
        ax.fill_between(x, arr["lo"], arr["hi"], color="navy", alpha=0.18, label="seed band (min-max)")
        ax.plot(x, arr["upper"], color="navy", lw=0.9, ls="--", label="one-sided 95% upper limit")
    ax.set_xscale("log" if kind != "geom" and (x > 0).all() else "linear")
    positive = np.isfinite(arr["mean"]).any() and (np.nanmin(np.concatenate([arr["lo"], arr["bound"]])) > 0)
    if positive:
        ax.set_yscale("log")
    ax.set_xlabel(f"{thm.horizon}: {thm.horizon_doc}")
    ax.set_ylabel(thm.measured_doc)
    slack = d.get("slack") or {}
    if slack.get("min") is not None:
        ax.annotate(f"min slack bound/measured = {slack['min']:.3g}", xy=(0.02, 0.03), xycoords="axes fraction", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


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

