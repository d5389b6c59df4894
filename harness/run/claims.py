"""A paper's claims as checks on measured figures: ``reproduced``, ``not reproduced`` or ``not testable
at this scale``, each with the figure and the reason.

A suite's ``[report]`` declares them (``[[report.claims]]``, one table per claim)::

    [[report.claims]]
    text = "near-linear speedup in MPI workers"   # the claim, as the paper makes it
    check = "speedup"                              # speedup | less | more | above | below
    a = { plugin = "asysvrg-mpi" }                 # the runs it is about (any of plugin, workload, workers, params)
    workers = 3                                    # speedup: at P workers, against the fewest workers run
    at_least = 2.0                                 # speedup >= x
    requires = { cores = 4, min_time_s = 1.0 }     # when it is testable (see below)

Checks (``metric`` names a figure per run: ``time_to_target``, ``updates_to_target``, ``final_subopt``,
``to_target:COLUMN`` = the point column at the first point meeting the run's target, ``final:COLUMN`` = the
last recorded value of a column, e.g. ``final:test_acc``, ``max:COLUMN`` = its largest value,
``to_level:COLUMN`` = the column at the first point at or below the suboptimality b's runs end at (the
loosest of them: "reach the accuracy of b in fewer rounds"), ``diverged`` = 1 for a diverged run, else 0;
the figure of a group is the median over its runs):

- ``speedup``: T(fewest workers) / T(``workers``) of the runs ``a`` (the time to the loosest level every
  run reached, :func:`harness.metrics.speedups`) is at least ``at_least``; with ``b``, a's speedup is at
  least ``at_least`` times b's at the same worker count;
- ``less`` / ``more``: ``metric`` of ``a`` is below / above ``factor`` (default 1) times that of ``b``;
- ``above`` / ``below``: ``metric`` of ``a`` is above / below ``value`` (e.g. accuracy above chance).

Tuning (``tuned`` in ``a`` or ``b``): the paper compares each method at its best tuned step, not at one shared
step ("each method trains with the best tuned learning rate", Huo & Huang, AAAI 2017, Sec. Experiments), so a
side can follow that protocol over the grid the suite ran::

    a = { plugin = "svrg-serial", params = { warm_epochs = 0 }, tuned = "eta" }
    b = { plugin = "sgd-serial", tuned = { param = ["eta", "beta"], by = ["updates_to_target", "final_subopt"] } }

Among the runs matching the rest of the side's selection (runs whose tuned parameter the theory chose,
``eta = "theory"``, are no grid value and are left out), the runs are grouped by the tuned parameters' values;
each group's figure is the median over its runs of ``by`` (default: the claim's ``metric``; a list ranks by
the first and breaks ties with the next); the best group (lowest, or highest for an accuracy column:
``test_acc``, ``train_acc``, as a target on them is met from above) is the one the claim is judged on. Groups
whose first ``by`` figure does not exist are not ranked; a tie left after every ``by`` goes to the smallest
value. The reason says the value chosen and the grid (``a: best tuned eta = 0.2 of {0.05, 0.1, 0.2, 0.5} by
updates_to_target``) and the verdict's ``tuned`` holds it per side. ``by`` cannot be ``to_level:COLUMN`` (its
level comes from the other side); a tuned parameter is not also fixed in ``params``; ``speedup`` claims take no
tuning.

Preconditions (``requires``): ``cores`` (free cores now: the machine's count minus its 1-minute load;
a speedup on fewer cores than workers measures the scheduler), ``min_time_s`` (the runs of ``a`` last at
least that long: shorter runs are dominated by fixed costs), ``seeds`` (at least this many runs in
each group). A precondition that fails, no matching run, or a figure that does not exist (a target
never reached by either side) makes the claim ``not testable at this scale`` with the reason.
"""

from __future__ import annotations

import math
import os
from typing import Any, Sequence

import numpy as np

from harness._core.errors import UserError
from harness._core.monitor import Target
from .metrics import run_metrics, speedups
from .store import RunRecord

REPRODUCED, NOT_REPRODUCED, NOT_TESTABLE = "reproduced", "not reproduced", "not testable at this scale"
CHECKS = ("speedup", "less", "more", "above", "below")
KEYS = {"text", "check", "a", "b", "workers", "at_least", "metric", "factor", "value", "requires"}
SELECT_KEYS = {"plugin", "workload", "workers", "params", "tuned"}
TUNED_KEYS = {"param", "by"}
REQUIRES = {"cores", "min_time_s", "seeds"}


def validate(claims: Any, where: str) -> list[dict[str, Any]]:
    """The ``[[report.claims]]`` list checked (keys, kinds, what each check needs); errors name the claim."""
    if not isinstance(claims, list):
        raise UserError(f"{where}: claims must be a list of tables ([[report.claims]]), got {claims!r}")
    out = []
    for i, c in enumerate(claims, 1):
        at = f"{where}: claim #{i}"
        if not isinstance(c, dict):
            raise UserError(f"{at} must be a table, got {c!r}")
        bad = sorted(set(c) - KEYS)
        if bad:
            raise UserError(f"{at}: unknown key '{bad[0]}' (expected {', '.join(sorted(KEYS))})")
        if not isinstance(c.get("text"), str) or not c["text"].strip():
            raise UserError(f"{at}: text (the claim as the paper makes it) is required")
        if c.get("check") not in CHECKS:
            raise UserError(f"{at}: check must be one of {', '.join(CHECKS)}, got {c.get('check')!r}")
        need = {"speedup": ("a", "workers", "at_least"), "less": ("a", "b", "metric"), "more": ("a", "b", "metric"),
                "above": ("a", "metric", "value"), "below": ("a", "metric", "value")}[c["check"]]
        for k in need:
            if k not in c:
                raise UserError(f"{at}: check '{c['check']}' needs '{k}'")
        c = dict(c)
        for side in ("a", "b"):
            if side in c:
                if not isinstance(c[side], dict) or set(c[side]) - SELECT_KEYS:
                    raise UserError(f"{at}: {side} selects runs by {', '.join(sorted(SELECT_KEYS))}, got {c[side]!r}")
                if "tuned" in c[side]:
                    c[side] = {**c[side], "tuned": _tuned(c[side], c, f"{at}: {side}.tuned")}
        req = c.get("requires", {})
        if not isinstance(req, dict) or set(req) - REQUIRES:
            raise UserError(f"{at}: requires takes {', '.join(sorted(REQUIRES))}, got {req!r}")
        if "metric" in c:
            _metric_name(c["metric"], at)
            if c["metric"].startswith("to_level:") and c["check"] not in ("less", "more"):
                raise UserError(f"{at}: to_level:COLUMN (the level b ends at) needs a check less or more")
        out.append(dict(c))
    return out


def _tuned(sel: dict[str, Any], claim: dict[str, Any], at: str) -> dict[str, list[str]]:
    """A side's ``tuned`` (a parameter, a list of them, or ``{param, by}``) as ``{"param": [...], "by": [...]}``."""
    t = sel["tuned"]
    if isinstance(t, dict):
        bad = sorted(set(t) - TUNED_KEYS)
        if bad or "param" not in t:
            raise UserError(f"{at}: takes param (a parameter or a list of them) and by (a metric or a list), got {t!r}")
        param, by = t["param"], t.get("by")
    else:
        param, by = t, None
    params = [param] if isinstance(param, str) else param
    if not isinstance(params, list) or not params or not all(isinstance(p, str) and p for p in params) \
            or len(set(params)) != len(params):
        raise UserError(f"{at}: the tuned parameter must be a name or a list of distinct names (e.g. \"eta\"), got {param!r}")
    fixed = sorted(set(params) & set(sel.get("params") or {}))
    if fixed:
        raise UserError(f"{at}: '{fixed[0]}' is both tuned and fixed in params: tune it or fix it")
    if claim.get("check") == "speedup":
        raise UserError(f"{at}: a speedup claim compares worker counts at one configuration; it takes no tuning")
    if by is None:
        if claim.get("metric") is None or str(claim["metric"]).startswith("to_level:"):
            raise UserError(f"{at}: name the metric to tune by (by = ...): the claim's metric "
                            f"{claim.get('metric')!r} cannot rank a side on its own")
        by = [claim["metric"]]
    bys = [by] if isinstance(by, str) else by
    if not isinstance(bys, list) or not bys:
        raise UserError(f"{at}: by must be a metric or a list of metrics, got {by!r}")
    for m in bys:
        _metric_name(m, at)
        if m.startswith("to_level:"):
            raise UserError(f"{at}: by cannot be {m} (its level comes from the other side)")
    return {"param": list(params), "by": list(bys)}


NAMED = ("time_to_target", "updates_to_target", "final_subopt", "diverged")
PREFIXES = ("to_target:", "final:", "max:", "to_level:")


def _metric_name(m: Any, at: str) -> str:
    if not isinstance(m, str) or not (m in NAMED or (m.startswith(PREFIXES) and m.split(":", 1)[1])):
        raise UserError(f"{at}: metric must be one of {', '.join(NAMED)} or to_target:COLUMN, final:COLUMN, max:COLUMN, "
                        f"to_level:COLUMN, got {m!r}")
    return m


def select(records: Sequence[RunRecord], sel: dict[str, Any]) -> list[RunRecord]:
    """The runs matching every given field (``params``: each given parameter equal; ``"theory"`` matches a
    value the run asked the theory for, ``info['theory_choices']``, and a number never does)."""
    out = []
    for r in records:
        if "plugin" in sel and r.plugin != sel["plugin"]:
            continue
        if "workload" in sel and r.workload != sel["workload"]:
            continue
        if "workers" in sel and r.workers != sel["workers"]:
            continue
        chosen = (r.info or {}).get("theory_choices") or {}
        if any((k not in chosen) if v == "theory" else (k in chosen or r.params.get(k) != v)
               for k, v in (sel.get("params") or {}).items()):
            continue
        out.append(r)
    return out


def figure(r: RunRecord, metric: str, level: float | None = None) -> float:
    """One run's figure for ``metric`` (nan where it has none, inf for a target or level never reached).
    ``to_level:COLUMN`` reads COLUMN at the first point whose suboptimality is at most ``level``."""
    if metric == "diverged":
        return 1.0 if r.status == "diverged" else 0.0
    if metric in NAMED:
        return run_metrics(r)[metric]
    kind, col = metric.split(":", 1)
    if kind in ("final", "max"):
        vals = [v for v in (_value(p, col) for p in r.points) if v is not None and not math.isnan(v)]
        return (float(vals[-1]) if kind == "final" else float(max(vals))) if vals else math.nan
    if kind == "to_level":
        if level is None or not math.isfinite(level):
            return math.nan
        for p in r.points:
            if p.get("subopt") is not None and p["subopt"] <= level and _value(p, col) is not None:
                return float(_value(p, col))
        return math.inf
    from .metrics import target_for

    tgt = target_for(r)
    if tgt.value is None:
        return math.nan
    for p in r.points:
        if tgt.reached(p) and _value(p, col) is not None:
            return float(_value(p, col))
    return math.inf


def _value(p: dict[str, Any], col: str) -> float | None:
    """A point's column, or the plugin's own figure of that name (``extra``, e.g. the rounds completed)."""
    v = p.get(col)
    if v is None and isinstance(p.get("extra"), dict):
        v = p["extra"].get(col)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _figures(rs: Sequence[RunRecord], metric: str, level: float | None = None) -> list[float]:
    """The runs' ``metric`` (:func:`figure`), those that have it."""
    return [v for v in (figure(r, metric, level) for r in rs) if not math.isnan(v)]


def _median(rs: Sequence[RunRecord], metric: str, level: float | None = None) -> float:
    vals = _figures(rs, metric, level)
    return float(np.median(vals)) if vals else math.nan


def higher_is_better(metric: str) -> bool:
    """Whether a larger ``metric`` is better: an accuracy column (the monitor's :class:`Target` is met from
    above on those); times, updates, suboptimality, delays and ``diverged`` are better low."""
    col = metric.split(":", 1)[1] if ":" in metric else metric
    return Target(metric=col, value=0.0).reached({col: 1.0})


def tune(runs: Sequence[RunRecord], tuned: dict[str, list[str]]) -> tuple[list[RunRecord], dict[str, Any]]:
    """The runs of the best tuned value among ``runs`` (see the module docstring: grouped by the values of
    ``tuned['param']``, ranked by the medians of ``tuned['by']`` in turn, ties to the smallest value) and what
    was chosen: ``{"param", "value", "grid", "by", "figure"}`` (``figure``: the first ``by`` median of each grid
    value, nan where it has none). No ranked value: ``([], {... "value": None})``."""
    params, by = tuned["param"], tuned["by"]
    groups: dict[tuple, list[RunRecord]] = {}
    for r in runs:
        chosen = (r.info or {}).get("theory_choices") or {}
        if any(k in chosen or k not in r.params for k in params):
            continue  # a theory-chosen value (eta = "theory") or a run without the parameter: no grid value
        groups.setdefault(tuple(r.params[k] for k in params), []).append(r)
    try:
        grid = sorted(groups)
    except TypeError:  # values of mixed kinds: their text's order
        grid = sorted(groups, key=repr)
    figures = {v: [_median(groups[v], m) for m in by] for v in grid}

    def rank(v: tuple) -> tuple:
        return tuple(math.inf if math.isnan(f) else (-f if higher_is_better(m) else f) for f, m in zip(figures[v], by))

    ranked = [v for v in grid if not math.isnan(figures[v][0])]
    best = min(ranked, key=rank) if ranked else None   # min keeps the first (smallest) of equal ranks
    info = {"param": params, "value": _unwrap(best), "grid": [_unwrap(v) for v in grid], "by": by,
            "figure": {_show(_unwrap(v)): _finite_or_inf(figures[v][0]) for v in grid}}
    return (groups[best] if best is not None else []), info


def _unwrap(v: tuple | None) -> Any:
    return v[0] if v is not None and len(v) == 1 else (list(v) if v is not None else None)


def _show(v: Any) -> str:
    if isinstance(v, (tuple, list)):
        return "(" + ", ".join(map(_show, v)) + ")"
    return f"{v:g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)


def tuned_text(side: str, info: dict[str, Any]) -> str:
    """E.g. ``a: best tuned eta = 0.2 of {0.05, 0.1, 0.2, 0.5} by updates_to_target (median 1.5e+04)``."""
    name = info["param"][0] if len(info["param"]) == 1 else "(" + ", ".join(info["param"]) + ")"
    grid = "{" + ", ".join(map(_show, info["grid"])) + "}"
    by = ", then ".join(info["by"])
    if not info["grid"]:
        return f"{side}: no run has a value of its own for {name} (absent, or chosen by the theory): nothing to tune"
    if info["value"] is None:
        return f"{side}: no value of {name} in {grid} records {info['by'][0]}: nothing to tune by"
    return (f"{side}: best tuned {name} = {_show(info['value'])} of {grid} by {by} (median "
            f"{info['figure'][_show(info['value'])]:.4g})")


def _seeds_per_configuration(rs: Sequence[RunRecord]) -> dict[tuple, int]:
    """Runs per configuration (plugin, workload, workers, parameters): the seeds a figure's median pools."""
    from collections import Counter

    return Counter((r.plugin, r.workload, r.workers, repr(sorted(r.params.items()))) for r in rs)


def free_cores() -> float:
    """The machine's cores minus its 1-minute load average (what a parallel run can count on now)."""
    n = os.cpu_count() or 1
    try:
        return max(0.0, n - os.getloadavg()[0])
    except OSError:  # no load average on this platform
        return float(n)


def _sel_text(sel: dict[str, Any]) -> str:
    parts = [f"{k}={v}" for k, v in sel.items() if k not in ("params", "tuned")]
    parts += [f"{k}={v}" for k, v in (sel.get("params") or {}).items()]
    return ", ".join(parts)


def judge(claim: dict[str, Any], records: Sequence[RunRecord]) -> dict[str, Any]:
    """The claim's status, figure and reason on ``records`` (the suite's runs)."""
    out = _judge(claim, records)
    notes = [tuned_text(side, info) for side, info in (out.get("tuned") or {}).items()]
    if notes:
        out["reason"] = "; ".join(notes + [out["reason"]] if out["reason"] else notes)
    return out


def _judge(claim: dict[str, Any], records: Sequence[RunRecord]) -> dict[str, Any]:
    """:func:`judge`'s verdict before the tuning notes join its reason (``out['tuned']``: each tuned side's choice)."""
    out: dict[str, Any] = {"text": claim["text"], "check": claim["check"], "status": NOT_TESTABLE, "figure": None,
                           "reason": ""}
    done = [r for r in records if r.points]
    sides: dict[str, list[RunRecord]] = {}
    for side in ("a", "b"):
        if side not in claim:
            continue
        runs = select(done, claim[side])
        if not runs:
            out["reason"] = f"no run with points matches {side} ({_sel_text(claim[side])})"
            return out
        if "tuned" in claim[side]:
            runs, info = tune(runs, claim[side]["tuned"])
            out.setdefault("tuned", {})[side] = info
            if not runs:
                return out
        sides[side] = runs
    a, b = sides["a"], sides.get("b", [])
    req = claim.get("requires", {})
    if "seeds" in req:
        few = min(_seeds_per_configuration(a + b).values())
        if few < req["seeds"]:
            out["reason"] = f"{few} seed(s) in a configuration, fewer than the {req['seeds']} it needs"
            return out
    if "cores" in req and free_cores() < req["cores"]:
        out["reason"] = (f"{free_cores():.1f} cores free on this machine ({os.cpu_count()} cores), fewer than the "
                         f"{req['cores']} it needs: timings and delays on a busy machine measure its scheduler")
        return out
    if "min_time_s" in req:
        t = float(np.median([r.points[-1].get("time_s") or 0.0 for r in a]))
        if t < req["min_time_s"]:
            out["reason"] = (f"the runs of a last {t:.3g} s (median), under the {req['min_time_s']:g} s the claim needs "
                             f"(fixed costs dominate shorter runs)")
            return out
    kind = claim["check"]
    if kind == "speedup":
        P = int(claim["workers"])
        pts = dict(speedups(a).get(a[0].plugin, []))
        if P not in pts:
            have = sorted({r.workers for r in a})
            out["reason"] = f"no speedup at {P} workers: the runs of a have workers {have}"
            return out
        s = pts[P]
        if b:  # relative: a's speedup over b's at the same worker count
            pb = dict(speedups(b).get(b[0].plugin, []))
            if P not in pb:
                out["reason"] = f"no speedup of b at {P} workers"
                return out
            ok = bool(s >= claim["at_least"] * pb[P])
            out.update(figure=s / pb[P], status=REPRODUCED if ok else NOT_REPRODUCED,
                       reason=f"speedup at {P} workers: a {s:.3g}x, b {pb[P]:.3g}x (a/b = {s / pb[P]:.3g}, "
                              f"{'>=' if ok else '<'} {claim['at_least']:g})")
            return out
        out["figure"] = s
        ok = bool(s >= claim["at_least"])
        out["status"] = REPRODUCED if ok else NOT_REPRODUCED
        out["reason"] = f"speedup {s:.3g}x at {P} workers ({'>=' if ok else '<'} {claim['at_least']:g}x)"
        return out
    metric = claim["metric"]
    level = None
    if metric.startswith("to_level:"):  # the level b's runs end at (the loosest of them): 'reach b's accuracy'
        finals = [figure(r, "final:subopt") for r in b]
        level = max((f for f in finals if math.isfinite(f)), default=math.nan)
        if math.isnan(level):
            out["reason"] = "the runs of b record no suboptimality: no level to reach"
            return out
    fa = _median(a, metric, level)
    if math.isnan(fa):
        out["reason"] = f"the runs of a record no {metric}"
        return out
    if kind in ("above", "below"):
        v = float(claim["value"])
        out["figure"] = _finite(fa)
        ok = fa > v if kind == "above" else fa < v
        out["status"] = REPRODUCED if ok else NOT_REPRODUCED
        rel = ">" if fa > v else ("<" if fa < v else "=")
        out["reason"] = f"{metric} = {fa:.4g} (median of {len(a)}) {rel} {v:g}"
        return out
    fb = _median(b, metric, level)
    factor = float(claim.get("factor", 1.0))
    if math.isnan(fb) or (math.isinf(fa) and math.isinf(fb)):
        out["reason"] = (f"{metric}: a = {fa:.4g}, b = {fb:.4g}: neither side reached the target at this scale"
                         if math.isinf(fa) and math.isinf(fb) else f"the runs of b record no {metric}")
        return out
    ratio = fa / fb if fb not in (0.0,) and math.isfinite(fb) else (math.inf if fa > 0 else math.nan)
    out["figure"] = _finite(ratio)
    ok = fa < factor * fb if kind == "less" else fa > factor * fb
    out["status"] = REPRODUCED if ok else NOT_REPRODUCED
    rel = "<" if fa < factor * fb else ">="
    at = f" (the level b ends at: suboptimality {level:.3g})" if level is not None else ""
    out["reason"] = (f"{metric}{at}: a = {fa:.4g} {rel} {factor:g} x b = {factor * fb:.4g} (a/b = {ratio:.3g}; medians "
                     f"of {len(a)} and {len(b)} runs){_spread(a, b, metric, level, factor, ok)}")
    return out


def _spread(a: Sequence[RunRecord], b: Sequence[RunRecord], metric: str, level: float | None, factor: float,
            ok: bool) -> str:
    """'' where the medians' order holds run by run (every run of one side beyond every run of the other,
    after ``factor``) or a side has one run; else a note that the medians' order is within the runs'
    spread, with both ranges: a median 1.01x apart with the seeds spread over 0.9-1.1x is no evidence
    either way (minibatch's MPI claim)."""
    va, vb = _figures(a, metric, level), [factor * v for v in _figures(b, metric, level)]
    if len(va) < 2 or len(vb) < 2 or max(va) < min(vb) or min(va) > max(vb):
        return ""
    return (f"; within the runs' spread: a {min(va):.4g}-{max(va):.4g}, {factor:g} x b {min(vb):.4g}-{max(vb):.4g}, "
            f"so the {'order' if ok else 'miss'} is weak evidence")


def _finite_or_inf(x: float) -> float | None:
    """x, None for nan (JSON has no nan; inf stays: a target never reached)."""
    return None if math.isnan(x) else float(x)


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def judge_all(claims: Sequence[dict[str, Any]], records: Sequence[RunRecord]) -> list[dict[str, Any]]:
    return [judge(c, records) for c in claims]
