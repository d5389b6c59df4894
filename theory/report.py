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
             "a one-sided t-test over the seeds; seeds that agree (a spread under 1e-12 of the mean) are compared exactly "
             "(a deterministic quantity is its own expectation); one seed, Markov's inequality P(X >= x) <= bound/x for "
             "the non-negative measured quantity. A point is rejected only where the mean is above the bound by more "
             "than 1e-9 of it. **violated**: some point rejected, or a seed "
             "diverged while the conditions hold, or the plugin applied a step other than the stored one, or the run's "
             "own accounting (samples and updates) contradicts the inner-loop length, batch or residues it reports, or "
             "the run's iterates (the trajectory audit) show a step, read staleness, batch or inner loop beyond the "
             "reported one. "
             "**holds**: nothing rejected and the seeds' mean under the bound everywhere (consistent with the theorem); "
             "**holds (unverified)**: the same, but on the plugin's word: it did not report the values it applied "
             "(ctx.applied), so the stored parameters stood in, or the theorem reads the delays the run reports and the "
             "trajectory audit could not check them (the verdict's flags say why). "
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
                tight = _tight(thm, d)
                figure = plot_bound(d, thm, rate_kind(thm)[0], png, f"{label}\n{d.theorem}: {d.verdict}", tight)
                md += [f"![{d.theorem}]({png.name})", "", tight["note"], ""]
                hb += [figure, f"<p>{html.escape(tight['note'])}</p>"]
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
                txt = f"rate check ({rate.get('axes')}, tolerance {rate['tolerance']:.0%}): {rate['note']}"
                md += [txt, ""]
                hb += [f"<p>{html.escape(txt)}</p>"]
    head = ["| runs | theorem | verdict | min slack | why |", "|---|---|---|---|---|"]
    head += [f"| {a} | {b} | **{c}** | {fmt(s)} | {w} |" for a, b, c, s, w in rows]
    hhead = ("<table><tr><th>runs</th><th>theorem</th><th>verdict</th><th>min slack</th><th>why</th></tr>"
             + "".join(f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td><td><b>{html.escape(c)}</b></td>"
                       f"<td>{html.escape(fmt(s))}</td><td>{html.escape(w)}</td></tr>" for a, b, c, s, w in rows)
             + "</table>")
    inside = per_theorem([d for _, _, vs in groups for d in vs])
    md[2:2] = [TEST_TEXT, "", "Runs inside each theorem's conditions:", ""] + [f"- {x}" for x in inside] + [
        "", "Verdicts:", ""] + head + [""]
    hb[1:1] = [f"<p>{html.escape(TEST_TEXT).replace('**', '')}</p>", "<p>Runs inside each theorem's conditions:</p><ul>"
               + "".join(f"<li>{html.escape(x)}</li>" for x in inside) + "</ul>", hhead]
    return [("\n".join(md), "\n".join(hb))]


JUDGED = ("holds", "holds (unverified)", "inconclusive", "violated")
# the checker's reasons for a theorem that judges no run at all (theory.checker.check_group)
NOT_PER_RUN = ("asymptotic only:", "this theorem has no run map")


def per_theorem(verdicts: Sequence[Verdict]) -> list[str]:
    """One line per theorem: how many run groups were inside its conditions (with their verdicts) and, for those
    outside, the condition that binds most often with its two numbers (from the group where it fails by the
    largest factor) or the other reason."""
    from collections import Counter, defaultdict

    by: dict[str, list[Verdict]] = defaultdict(list)
    for d in verdicts:
        by[d.theorem].append(d)
    lines = []
    for tid, ds in sorted(by.items()):
        judged = Counter(d.verdict for d in ds if d.verdict in JUDGED)
        n_in = sum(judged.values())
        if not n_in and all((d.reason or "").startswith(NOT_PER_RUN) for d in ds):   # no run is ever inside
            lines.append(f"{tid}: not checked per run: {ds[0].reason}")
            continue
        line = f"{tid}: {n_in} of {len(ds)} run group(s) inside its conditions"
        if n_in:
            line += " (" + ", ".join(f"{k} {v}" for k, v in sorted(judged.items())) + ")"
        out = [d for d in ds if d.verdict not in JUDGED]
        if out:
            names = Counter(n for d in out for n in (d.failing or [])[:1])
            if names:
                name, count = names.most_common(1)[0]
                worst = max((c for d in out for c in d.conditions if c["name"] == name and not c["holds"]),
                            key=_excess, default=None)
                line += (f"; outside: '{name}' fails in {count} of {len(out)}"
                         + (f" (lhs {fmt(worst.get('lhs'))} vs rhs {fmt(worst.get('rhs'))} where it fails most)"
                            if worst else ""))
                rest = len(out) - count
            else:
                rest = len(out)
            if rest:
                other = next(d.reason for d in out if not (d.failing and names and d.failing[0] == names.most_common(1)[0][0]))
                line += f"; {rest} other(s): {other.split('; ')[0][:160]}"
        lines.append(line)
    return lines


def _excess(c: dict) -> float:
    """How far a failing condition is from holding (|lhs - rhs| relative to the larger side)."""
    try:
        a, b = float(c.get("lhs")), float(c.get("rhs"))
        return abs(a - b) / max(abs(a), abs(b), 1e-300)
    except (TypeError, ValueError):
        return 0.0


def _tight(thm, d: Verdict) -> dict:
    """The tight worst case along the verdict's curve (:func:`harness.theory.tightness.along_curve`), with the
    ratio bound / worst case at each horizon added to its note."""
    from .errors import TheoryError
    from .tightness import along_curve

    try:
        t = along_curve(thm, {**(d.values or {}), **(d.derived or {})}, d.curve.get("x", []))
    except TheoryError as exc:
        return {"note": f"no tight worst case computable: {exc}"}
    if t.get("x"):
        import numpy as np

        b = np.interp(t["x"], [v for v in d.curve["x"]], [np.nan if v is None else v for v in d.curve["bound"]])
        t["note"] += "; bound / worst case = " + ", ".join(
            f"{bb / w:.3g} at {thm.horizon} = {x}" for x, w, bb in zip(t["x"], t["worst_case"], b) if w > 0)
    return t


def plot_bound(d: Verdict, thm, kind: str, path: Path, title: str, tight: dict | None = None) -> str:
    """The measured mean, the seeds' band and the upper confidence limit under the bound, and the tight
    worst case of the same quantity where one is computable (``tight``: :func:`_tight`); every shaded area
    is in the legend. Writes the PNG at ``path``; returns the HTML that draws it interactively."""
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
    if tight and tight.get("x"):
        ax.plot(tight["x"], tight["worst_case"], "o-", color="darkorange", lw=1.4, ms=4,
                label="tight worst case (PEP, deterministic specialisation)")
    else:
        ax.annotate(_wrap((tight or {}).get("note", "no tight worst case computable"), 90), xy=(0.02, 0.08),
                    xycoords="axes fraction", fontsize=7, color="0.35")
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
