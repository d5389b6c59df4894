"""The theory checker: a verdict per (stored run group, theorem).

Runs that differ only in their seed form one group (the theorem is a statement in expectation; the
seeds estimate it). For each theorem linked to the plugin (``PluginSpec.theorems``) or asked for:

1. the theorem's adapter maps the runs onto its symbols (workload constants, the run's parameters,
   the run's measurements such as the largest delay); a run it cannot map is ``not-applicable`` with
   the reason;
2. every condition is evaluated; one that fails makes the verdict ``not-applicable``, naming the
   condition and its two sides;
3. the measured quantity (:mod:`harness.theory.measures`) is averaged over the seeds; with n >= 2 seeds the
   one-sided upper confidence limit mean + t_{0.95, n-1} sd / sqrt(n) is compared with the bound at
   every recorded point (with one seed there is no margin, and the detail says so). ``holds`` if it
   stays under the bound everywhere (the slack ratio bound / measured is reported, with its minimum
   and where), ``violated`` if it crosses (where, by how much, and whether the mean itself crosses);
4. a one-sided rate check: the slope fitted to the tail of the mean curve (log-log for a polynomial
   rate T^p, semi-log for a geometric rate rho^T) must be at most the theorem's rate plus a
   tolerance of 25 % of it: the measured curve decays at least as fast as the theorem says.

Verdicts are stored with every run of the group (``Store.save_verdict``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Iterable, Sequence

import numpy as np
import sympy as sp

from .core import NotApplicable, Theorem
from .measures import measure

HOLDS, VIOLATED, NOT_APPLICABLE = "holds", "violated", "not-applicable"
VERDICTS = (HOLDS, VIOLATED, NOT_APPLICABLE)
CONFIDENCE = 0.95
RATE_TOL = 0.25


def group_key(run) -> tuple:
    """The runs judged together: the same run but for the seed (``harness.identity``'s 'seeds' view)."""
    from harness.identity import record_key

    return record_key(run, "seeds")


def group_runs(runs: Iterable) -> list[list]:
    """Seed groups, each seed counted once (the newest run of a seed, whatever reruns were stored)."""
    from harness.identity import latest_per_key

    groups: dict[tuple, list] = defaultdict(list)
    for r in latest_per_key(list(runs)):
        groups[group_key(r)].append(r)
    return [sorted(g, key=lambda r: r.seed) for g in groups.values()]


def linked_theorems(run) -> list[str]:
    from harness.registry import plugins

    spec = plugins().items.get(run.plugin)
    return list(spec.theorems) if spec is not None else []


def check(runs: Sequence, theorem_ids: Sequence[str] | None = None, *, store=None, save: bool = True,
          confidence: float = CONFIDENCE) -> list[dict[str, Any]]:
    """Verdicts for every group of ``runs`` and every linked (or given) theorem; saved to ``store``."""
    from .registry import get

    out = []
    for group in group_runs(runs):
        ok_runs = [r for r in group if r.ok and r.points]
        ids = list(theorem_ids) if theorem_ids else linked_theorems(group[0])
        for tid in ids:
            try:
                thm = get(tid)
            except Exception as exc:  # noqa: BLE001 - a plugin listing an id the theory module lacks
                out.append({"theorem": tid, "verdict": NOT_APPLICABLE, "reason": f"no such theorem: {exc}",
                            "citation": "", "runs": [r.id for r in group]})
                continue
            if not ok_runs:
                detail = _na(thm, f"no finished run with points (status: {', '.join(sorted({r.status for r in group}))})")
            else:
                detail = check_group(thm, ok_runs, confidence=confidence)
            detail["runs"] = [r.id for r in group]
            detail["label"] = group[0].label() if hasattr(group[0], "label") else ""
            out.append(detail)
            if store is not None and save:
                for r in group:
                    if r.id is not None:
                        store.save_verdict(r.id, tid, detail["verdict"], detail)
    return out


def _na(thm: Theorem, reason: str, **extra) -> dict[str, Any]:
    return {"theorem": thm.id, "citation": thm.citation.text(), "verdict": NOT_APPLICABLE, "reason": reason, **extra}


def merge_values(vals: list[dict[str, Any]]) -> dict[str, Any]:
    """One set of inputs for a group of seeds: equal values as they are; values that differ (the
    measured delay, run-measured constants) take their maximum over seeds, which is the assumption
    that covers every seed (tau <= Delta for all)."""
    out: dict[str, Any] = {}
    for k in vals[0]:
        xs = [v.get(k) for v in vals]
        if all(_same(x, xs[0]) for x in xs):
            out[k] = xs[0]
        else:
            try:
                out[k] = max(xs)
            except TypeError:
                out[k] = xs[0]
    return out


def _same(a, b) -> bool:
    try:
        return bool(np.all(np.asarray(a) == np.asarray(b)))
    except Exception:  # noqa: BLE001
        return a is b


def check_group(thm: Theorem, runs: Sequence, *, confidence: float = CONFIDENCE) -> dict[str, Any]:
    if thm.adapter is None:
        return _na(thm, "this theorem has no per-run adapter (" + (thm.notes.split('.')[0] if thm.notes else
                                                                   "it is not a statement about one run") + ")")
    try:
        vals = [thm.adapter(r) for r in runs]
    except NotApplicable as exc:
        return _na(thm, str(exc))
    values = merge_values(vals)
    ev = thm.evaluate(values)
    conds = ev["conditions"]
    base = {"theorem": thm.id, "citation": thm.citation.text(), "values": ev["values"], "derived": ev["derived"],
            "free_chosen": ev["free_chosen"], "conditions": conds, "n_seeds": len(runs),
            "measured": thm.measured, "measured_doc": thm.measured_doc}
    failing = [c for c in conds if c.get("gating", True) and not c["holds"]]
    if failing:
        reason = "; ".join(_describe_failure(c) for c in failing)
        return {**base, "verdict": NOT_APPLICABLE, "reason": f"condition fails: {reason}",
                "failing": [c["name"] for c in failing]}
    if thm.bound is None:
        rate = _rate_for(thm, runs, values, None)
        return {**base, "verdict": NOT_APPLICABLE, "rate": rate,
                "reason": "an O(.) statement without constants: no bound curve to compare (rate check only)"}
    if thm.direction != "upper":
        return {**base, "verdict": NOT_APPLICABLE,
                "reason": "a lower bound over all first-order algorithms on a worst-case class, not a per-instance bound"}
    v = {k: x for k, x in ev["values"].items()}
    v.update({k: x for k, x in values.items() if k.startswith("_")})
    curves = [measure(thm.measured, r, thm, v) for r in runs]
    curves = [(x, y) for x, y in curves if len(x)]
    if not curves:
        return {**base, "verdict": NOT_APPLICABLE,
                "reason": f"the runs record no curve for '{thm.measured}' ({thm.measured_doc})"}
    x, ys = _common_grid(curves)
    if thm.asymptotic_from > 0:
        keep = x >= thm.asymptotic_from * x.max()
        x, ys = x[keep], ys[:, keep]
    if len(x) == 0:
        return {**base, "verdict": NOT_APPLICABLE, "reason": "no measured point on the theorem's horizon"}
    mean = ys.mean(axis=0)
    n = ys.shape[0]
    if n >= 2:
        from scipy import stats

        sd = ys.std(axis=0, ddof=1)
        margin = stats.t.ppf(confidence, n - 1) * sd / math.sqrt(n)
        margin_doc = f"one-sided {confidence:.0%} upper limit over {n} seeds (t-quantile x sd / sqrt(n))"
    else:
        margin = np.zeros_like(mean)
        margin_doc = "one seed: no confidence margin (run several seeds for one)"
    upper = mean + margin
    bound = thm.bound_fn()(ev["values"], x)
    with np.errstate(all="ignore"):
        ratio = np.where(upper > 0, bound / upper, np.inf)
    crosses = upper > bound * (1 + 1e-9)
    i_min = int(np.argmin(ratio))
    detail = {
        **base,
        "margin": margin_doc,
        "slack": {"min": _f(ratio[i_min]), "at": _f(x[i_min]), "median": _f(np.median(ratio[np.isfinite(ratio)]))
                  if np.isfinite(ratio).any() else None, "final": _f(ratio[-1])},
        "curve": _thin({"x": x, "mean": mean, "upper": upper, "bound": bound,
                        "lo": ys.min(axis=0), "hi": ys.max(axis=0)}),
        "horizon": thm.horizon,
        "rate": _rate_for(thm, runs, values, (x, mean)),
    }
    if crosses.any():
        j = int(np.argmax(crosses))
        detail.update(verdict=VIOLATED,
                      reason=(f"{thm.measured_doc} crosses the bound at {thm.horizon} = {x[j]:g}: measured "
                              f"{upper[j]:.4g} (mean {mean[j]:.4g}) > bound {bound[j]:.4g}; "
                              f"{int(crosses.sum())} of {len(x)} points above"),
                      mean_crosses=bool((mean > bound * (1 + 1e-9)).any()), first_crossing=_f(x[j]))
    else:
        detail.update(verdict=HOLDS,
                      reason=(f"{thm.measured_doc} stays under the bound at all {len(x)} points; "
                              f"smallest slack bound/measured = {ratio[i_min]:.3g} at {thm.horizon} = {x[i_min]:g}"))
    return detail


def _describe_failure(c: dict[str, Any]) -> str:
    if c.get("error"):
        return f"'{c['name']}' cannot be evaluated ({c['error']})"
    where = f" (layer {c['layer']})" if "layer" in c else ""
    return f"'{c['name']}'{where}: {c['relation']} with lhs = {c['lhs']:.6g}, rhs = {c['rhs']:.6g}"


def _common_grid(curves: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Points every seed recorded (a deterministic schedule gives the same x); otherwise the first
    seed's x inside the common range, the others interpolated (log-linear) onto it."""
    common = curves[0][0]
    for x, _ in curves[1:]:
        common = np.intersect1d(common, x)
    if len(common) >= max(2, len(curves[0][0]) // 2):
        ys = np.vstack([np.interp(common, x, y) for x, y in curves])
        return common, ys
    lo = max(c[0].min() for c in curves)
    hi = min(c[0].max() for c in curves)
    grid = curves[0][0][(curves[0][0] >= lo) & (curves[0][0] <= hi)]
    ys = np.vstack([np.interp(grid, x, y) for x, y in curves])
    return grid, ys


def rate_kind(thm: Theorem) -> tuple[str, float | None]:
    """('poly', p) for a rate T^p, ('geom', log rho) for rho^T (rho symbolic: evaluated later), ('none', None)."""
    T = thm.T
    r = sp.simplify(thm.rate)
    if r.is_constant():
        return "none", None
    if r.is_Pow and r.base == T and r.exp.is_number:
        return "poly", float(r.exp)
    if r.is_Pow and r.exp == T:
        return "geom", None
    if r.is_Mul:  # c * T^p
        powers = [a for a in r.args if a.has(T)]
        if len(powers) == 1 and powers[0].is_Pow and powers[0].base == T and powers[0].exp.is_number:
            return "poly", float(powers[0].exp)
        if len(powers) == 1 and powers[0] == T:
            return "poly", 1.0
    return "other", None


def _rate_for(thm: Theorem, runs, values, curve) -> dict[str, Any]:
    kind, p = rate_kind(thm)
    out: dict[str, Any] = {"rate": str(thm.rate), "kind": kind}
    if kind in ("none", "other") or curve is None:
        out["ok"] = None
        out["note"] = "no rate to check" if kind == "none" else ("rate not of the form T^p or rho^T" if kind == "other"
                                                                  else "no curve")
        return out
    x, y = curve
    keep = (y > 0) & (x > 0)
    x, y = x[keep], y[keep]
    if len(x) < 4:
        out["ok"] = None
        out["note"] = "too few points for a fit"
        return out
    tail = x >= np.exp(0.5 * (np.log(x.min()) + np.log(x.max()))) if kind == "poly" else x >= 0.5 * (x.min() + x.max())
    if tail.sum() < 3:
        tail = np.ones_like(x, dtype=bool)
    xt, yt = x[tail], y[tail]
    if kind == "poly":
        slope = float(np.polyfit(np.log(xt), np.log(yt), 1)[0])
        expected = p
        out["axes"] = "log-log"
    else:
        slope = float(np.polyfit(xt, np.log(yt), 1)[0])
        T = thm.T
        rho = thm.rate.base
        try:
            expected = float(np.log(float(thm.value(rho, {**values, thm.horizon: 1.0}))))
        except Exception:  # noqa: BLE001
            out["ok"] = None
            out["note"] = "rate base not evaluable"
            return out
        out["axes"] = "semi-log"
    out.update(expected_slope=expected, fitted_slope=slope, tolerance=RATE_TOL,
               ok=bool(slope <= expected + RATE_TOL * abs(expected)))
    out["note"] = ("decays at least as fast as the theorem's rate" if out["ok"] else
                   "decays slower than the theorem's rate")
    return out


def _f(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _thin(curve: dict[str, np.ndarray], most: int = 200) -> dict[str, list]:
    n = len(curve["x"])
    idx = np.unique(np.linspace(0, n - 1, min(n, most)).round().astype(int)) if n else np.array([], dtype=int)
    return {k: [_f(v) for v in np.asarray(a)[idx]] for k, a in curve.items()}
