"""Performance profiles (Dolan & Moré, Math. Programming 91, 2002), as AlgoPerf scores submissions:
how often a solver is within a factor tau of the best one, over a set of problems.

For problems p and solvers s with cost t_{p,s} (here: time to target, inf when the target is
never reached):

    r_{p,s} = t_{p,s} / min_s' t_{p,s'}                    performance ratio (>= 1; inf: not solved)
    rho_s(tau) = |{p : r_{p,s} <= tau}| / |P|               the profile, a step function of tau >= 1

rho_s(1) is the fraction of problems on which s is (one of) the fastest; rho_s(tau -> inf) the
fraction it solves at all. A problem no solver solves counts as unsolved for all. Here a problem
is one workload configuration (workload and its parameters) and a solver one plugin configuration
(plugin, parameters, workers); seeds of the same pair are pooled by their median first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

from harness._core.paths import save_figure

TAUS = (1.0, 1.25, 1.5, 2.0, 4.0, 8.0, 16.0)


@dataclass
class Profile:
    """``rho[s][k]`` = rho_s(taus[k]); ``solved[s]`` = rho_s(inf); ``ratios[s][p]`` = r_{p,s}."""

    solvers: list[str]
    problems: list[str]
    taus: tuple[float, ...]
    rho: dict[str, list[float]]
    solved: dict[str, float]
    ratios: dict[str, dict[str, float]]

    def rows(self) -> list[tuple]:
        """(solver, rho(tau) for each tau..., solved) per solver, best first (by the area under rho)."""
        order = sorted(self.solvers, key=lambda s: (-sum(self.rho[s]), -self.solved[s], s))
        return [(s, *self.rho[s], self.solved[s]) for s in order]


def performance_profile(costs: Mapping[str, Mapping[str, float]], taus: Sequence[float] = TAUS) -> Profile:
    """``costs[solver][problem]``: a cost (seconds to target), inf or NaN or missing when not solved.
    Raises ValueError for a cost <= 0 (a ratio needs positive costs) or a tau < 1."""
    if any(t < 1 for t in taus):
        raise ValueError(f"taus must be >= 1, got {list(taus)}")
    solvers = sorted(costs)
    problems = sorted({p for s in solvers for p in costs[s]})
    best: dict[str, float] = {}
    for p in problems:
        vals = [_cost(costs[s].get(p)) for s in solvers]
        if any(v <= 0 for v in vals):
            raise ValueError(f"problem {p}: costs must be positive, got {vals}")
        best[p] = min(vals)
    ratios = {s: {p: (_cost(costs[s].get(p)) / best[p] if math.isfinite(best[p]) else math.inf)
                  for p in problems} for s in solvers}
    n = len(problems) or 1
    rho = {s: [sum(r <= t for r in ratios[s].values()) / n for t in taus] for s in solvers}
    solved = {s: sum(math.isfinite(r) for r in ratios[s].values()) / n for s in solvers}
    return Profile(solvers, problems, tuple(taus), rho, solved, ratios)


def _cost(v: float | None) -> float:
    return math.inf if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def profile_of_runs(records, metric: str = "time_to_target") -> Profile | None:
    """The profile of stored runs: solvers = plugin configurations, problems = workload
    configurations, cost = the median over seeds of ``metric`` (from ``harness.run.metrics.run_metrics``).
    None when fewer than two solvers share a problem (nothing to compare)."""
    import json
    import statistics

    from harness._core.labels import shown_params
    from harness.run.metrics import run_metrics

    pooled: dict[str, dict[str, list[float]]] = {}
    shown = shown_params(records)
    for r in records:
        if not r.points:
            continue
        solver = _label(r.plugin, r.params, r.workers, shown[r.plugin])
        problem = r.workload + ("" if not r.workload_params else " " + json.dumps(r.workload_params, sort_keys=True))
        value = _cost(run_metrics(r).get(metric) if r.ok or r.status == "diverged" else math.inf)
        # a target met at the first point costs ~0 s: floor it at 1 us so that ratios stay defined
        pooled.setdefault(solver, {}).setdefault(problem, []).append(max(value, 1e-6))
    costs = {s: {p: statistics.median(v) for p, v in probs.items()} for s, probs in pooled.items()}
    shared = [p for p in {p for c in costs.values() for p in c} if sum(p in c for c in costs.values()) >= 2]
    if len(costs) < 2 or not shared or all(math.isinf(v) for c in costs.values() for v in c.values()):
        return None  # fewer than two solvers on a common problem, or no target reached (or set) at all
    return performance_profile({s: {p: c[p] for p in shared if p in c} for s, c in costs.items()})


def profile_of_comparison(cmp) -> Profile | None:
    """The two sides of a ``harness compare`` as solvers, its groups (workload, workers) as
    problems, cost = the side's median time to target over its seeds in the group."""
    import statistics

    from harness.run.metrics import run_metrics

    la, lb = (cmp.a.title, cmp.b.title) if cmp.a.title != cmp.b.title else (f"A: {cmp.a.title}", f"B: {cmp.b.title}")
    costs: dict[str, dict[str, float]] = {la: {}, lb: {}}
    for g in cmp.groups:
        for label, runs in ((la, g.a_runs), (lb, g.b_runs)):
            vals = [max(_cost(run_metrics(r, g.target)["time_to_target"]), 1e-6) for r in runs]
            costs[label][g.title] = statistics.median(vals) if vals else math.inf
    if all(math.isinf(v) for c in costs.values() for v in c.values()):
        return None
    return performance_profile(costs)


def to_dict(profile: Profile) -> dict:
    return {"taus": list(profile.taus), "problems": profile.problems,
            "solvers": {s: {"rho": profile.rho[s], "solved": profile.solved[s],
                            "ratios": {p: (r if math.isfinite(r) else None) for p, r in profile.ratios[s].items()}}
                        for s in profile.solvers}}


def header(profile: Profile) -> list[str]:
    return ["solver", *[f"rho({t:g})" for t in profile.taus], "solved"]


def markdown(profile: Profile) -> str:
    """The profile as a Markdown table with a one-line legend."""
    head = header(profile)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in profile.rows():
        lines.append("| " + " | ".join([row[0], *[f"{v:.2f}" for v in row[1:]]]) + " |")
    legend = (f"rho(tau): fraction of the {len(profile.problems)} problems on which a solver's time to target is within "
              "a factor tau of the fastest; rho(1): fastest; solved: target reached at all (Dolan-More).")
    return "\n".join(lines) + "\n\n" + legend + "\n"


def print_profile(profile: Profile) -> None:
    from rich.markup import escape

    from harness._core.output import table

    table("performance profile: time to target", header(profile),
          [(escape(r[0]), *[f"{v:.2f}" for v in r[1:]]) for r in profile.rows()])


def profile_section(records, outdir, store=None) -> list[tuple[str, str]]:
    """The suite report's section: the profile of its plugin configurations over its workloads
    (nothing when fewer than two of them share a workload or no target was set)."""
    import html
    from pathlib import Path

    prof = profile_of_runs(records)
    if prof is None:
        return []
    png = Path(outdir) / "performance-profile.png"
    plot(prof, png)
    md = markdown(prof)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(c) if isinstance(c, str) else f'{c:.2f}')}</td>" for c in r)
                   + "</tr>" for r in prof.rows())
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header(prof))
    return [("## Performance profile (time to target)\n\n" + f"![profile]({png.name})\n\n" + md,
             "<h2>Performance profile (time to target)</h2>" + f'<img src="{png.name}" style="max-width:60%">'
             + f"<table><tr>{head}</tr>{rows}</table><p>{html.escape(md.splitlines()[-1])}</p>")]


ALWAYS_SHOWN = ("eta", "b", "tau", "m", "M", "lr")


def _label(plugin: str, params: Mapping, workers: int, shown: Sequence[str] = ()) -> str:
    """``plugin[k=v,...] w=W``, a solver of the profile: the step, batch, delay and inner-loop
    lengths, and the parameters that label the plugin's runs (``shown``: differing between them or from
    the declared default, :func:`harness._core.labels.shown_params`), in the plugin's order. Runs
    that differ in a parameter are different solvers: an ``inv`` schedule is not pooled with a constant one."""
    from harness._core.labels import in_declared_order

    keys = in_declared_order(plugin, [*shown, *(k for k in ALWAYS_SHOWN if k in params)])
    text = ",".join(f"{k}={params[k]}" for k in keys if k in params)
    return f"{plugin}[{text}] w={workers}" if text else f"{plugin} w={workers}"


def plot(profile: Profile, path) -> None:
    """rho_s(tau) as step functions on a log2 tau axis, written to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    finite = [r for s in profile.solvers for r in profile.ratios[s].values() if math.isfinite(r)]
    top = max(2.0, max(finite, default=2.0) * 1.1)
    fig, ax = plt.subplots(figsize=(6, 4))
    for s in profile.solvers:
        rs = sorted(r for r in profile.ratios[s].values() if math.isfinite(r))
        xs = [1.0] + rs + [top]
        ys = [sum(r <= x for r in rs) / len(profile.problems) for x in xs]
        ax.step(xs, ys, where="post", label=s)
    ax.set_xscale("log", base=2)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("tau (within a factor tau of the best time to target)")
    ax.set_ylabel("fraction of problems")
    ax.set_title("performance profile (Dolan-More)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
