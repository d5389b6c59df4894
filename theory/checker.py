"""The theory checker: a :class:`~harness.theory.verdict.Verdict` per (run group, theorem).

Input: :class:`~harness.theory.facts.RunFacts` records (the harness builds them from stored runs);
output: verdicts. Nothing is stored here (the harness saves the verdicts with the runs).

Runs that differ only in their seed form one group (the theorem bounds an expectation; the seeds
estimate it). For each theorem asked for (default: those the plugin links, ``RunFacts.theorems``) that is about the
runs' algorithm (:meth:`Theorem.about`; a theorem about another algorithm is ``not-applicable``, saying so):

1. the theorem's adapter maps the runs onto its symbols, reading the step sizes and batch sizes the
   plugin *applied* (``RunFacts.applied``; the stored parameters where a plugin reports none). A run
   it cannot map is ``not-applicable`` with the reason.
2. every condition is evaluated; one that fails makes the verdict ``not-applicable``, naming it and
   its two sides.
3. a run that applied a step size (or b, m) different from the one it stores is ``violated``: the
   stored run does not describe what ran (the detail still judges the applied values).
4. a run of the group that diverged while every condition holds is ``violated``, naming the update
   at which it blew up: the theorem bounds the expectation of a quantity the run drove to infinity.
5. the measured quantity (:mod:`harness.theory.measures`) is tested against the bound at every
   recorded point, H0_j: E[measured_j] <= bound_j, with a family-wise error rate ``alpha`` (0.05) over
   all points of the group (Holm's step-down procedure over the points). A point's p-value: with n >= 2
   seeds and spread, the one-sided t-test of the seeds' mean; with seeds that agree (a spread below
   1e-12 of the mean is rounding), an exact comparison (a deterministic quantity is its own
   expectation); with one seed, Markov's inequality for the non-negative measured quantity,
   P(X >= x) <= E[X]/x <= bound/x (so one seed is significant only when it exceeds the bound by the
   factor 1/p needed, never by a zero-width interval). A point is rejected only where the mean is
   above the bound by more than 1e-9 of it (a curve on the bound is never violated by rounding).
   ``violated``: some point rejected. ``holds``: no point rejected and the seeds' mean stays under the
   bound at every point (the data are consistent with the theorem; the slack bound/mean is reported).
   ``inconclusive``: the mean crosses the bound somewhere, but not significantly.
6. a rate check, informative only: the slope fitted to the tail of the mean curve (log-log for a
   polynomial rate T^p, semi-log for rho^T) against the bound's own slope on the same window: the
   curve "decays like / faster than / slower than the bound" (within 25 % of the larger slope is
   "like"; an upper bound does not promise a rate of decay; the bound is the claim).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Iterable, Sequence

import numpy as np
import sympy as sp

from .audit import audit as _audit
from .errors import NotApplicable, TheoryError
from .facts import RunFacts
from .guided import step_hint
from .measures import measure
from .numerics import numerics
from .runmap import Mapped
from .statement import Theorem
from .verdict import HOLDS, HOLDS_UNVERIFIED, INCONCLUSIVE, NOT_APPLICABLE, VERDICTS, VIOLATED, Verdict

__all__ = ["check", "check_group", "group_runs", "merge_mapped", "points_test", "ALPHA", "VERDICTS", "HOLDS",
           "HOLDS_UNVERIFIED", "INCONCLUSIVE", "VIOLATED", "NOT_APPLICABLE"]

ALPHA = 0.05
REL_TOL = 1e-9      # a mean above the bound by less than this fraction of it is on the bound (rounding)
SPREAD_TOL = 1e-12  # a spread across seeds below this fraction of the mean is rounding: the seeds agree
RATE_TOL = 0.25
TEST_DOC = ("H0: E[measured] <= bound at every recorded point; family-wise error rate {alpha:.0%} over the {m} "
            "points (Holm); per point a one-sided t-test over the seeds, or Markov's inequality "
            "(P(X >= x) <= bound/x) with one seed; seeds that agree (spread below 1e-12 of the mean) compared "
            "exactly; a point is rejected only where the mean is above the bound by more than 1e-9 of it")


def group_runs(runs: Iterable[RunFacts]) -> list[list[RunFacts]]:
    groups: dict[str, list[RunFacts]] = defaultdict(list)
    for r in runs:
        groups[r.group].append(r)
    return [sorted(g, key=lambda r: r.seed) for g in groups.values()]


def check(runs: Sequence[RunFacts], theorem_ids: Sequence[str] | None = None, *, alpha: float = ALPHA) -> list[Verdict]:
    """Verdicts for every group of ``runs`` and every linked (or given) theorem."""
    from .registry import get

    out = []
    for group in group_runs(runs):
        judged = [r for r in group if (r.ok or r.diverged) and r.points]
        for tid in (list(theorem_ids) if theorem_ids else list(group[0].theorems)):
            try:
                thm = get(tid)
            except TheoryError as exc:  # a plugin listing an id the theory module lacks
                v = Verdict(tid, NOT_APPLICABLE, f"no such theorem: {exc}")
            else:
                if thm.not_about(group[0].family) and tid not in group[0].covers:
                    v = _na(thm, thm.not_about(group[0].family))
                elif not judged:
                    status = ", ".join(sorted({r.status for r in group}))
                    v = _na(thm, f"no finished or diverged run with points (status: {status})")
                else:
                    v = check_group(thm, judged, alpha=alpha)
                    if thm.not_about(group[0].family):   # judged only because the plugin says so (covers=)
                        _rests_on_covers(v, thm, group[0].family)
            v.runs = [r.run_id for r in group]
            v.label = group[0].label
            out.append(v)
    return out


def _rests_on_covers(v: Verdict, thm: Theorem, family: str) -> None:
    """Mark a verdict on a theorem about another family that the plugin's ``covers=`` claims its
    algorithm is a case of: the harness does not verify that claim (a momentum method that says it is
    SGD is judged as SGD), so the verdict rests on it, and says so in its flags and its reason."""
    claim = (f"the plugin's claim (covers={thm.id!r}) that its algorithm ({family or 'unnamed'}) is a case of "
             f"{', '.join(thm.families)}, which the harness does not verify")
    v.flags.append(f"covers: rests on {claim}")
    if v.verdict != NOT_APPLICABLE:
        v.reason += f". Rests on {claim}"


def _na(thm: Theorem, reason: str, **extra) -> Verdict:
    return Verdict(thm.id, NOT_APPLICABLE, reason, citation=thm.citation.text(), **extra)


def merge_mapped(maps: list[Mapped]) -> Mapped:
    """One set of inputs for a group of seeds: equal values as they are; values that differ (the
    measured delay, run-measured constants) take their maximum over seeds, which is the assumption
    that covers every seed (tau <= Delta for all), per entry for arrays (layer-wise L_k, M_k); the
    metadata of the first seed, the post-hoc notes and the unreported parameters pooled."""
    out = Mapped(schedule=maps[0].schedule, round_updates=maps[0].round_updates, scale=maps[0].scale)
    for k in maps[0].inputs:
        xs = [m.inputs.get(k) for m in maps]
        if all(_same(x, xs[0]) for x in xs):
            out.inputs[k] = xs[0]
        elif all(isinstance(x, np.ndarray) and x.shape == xs[0].shape for x in xs):
            out.inputs[k] = np.maximum.reduce(xs)   # per-layer constants (L_k, M_k): the largest per layer
        else:
            try:
                out.inputs[k] = max(xs)
            except TypeError:
                out.inputs[k] = xs[0]
    for m in maps:
        out.posthoc += [p for p in m.posthoc if p not in out.posthoc]
        out.unreported += [u for u in m.unreported if u not in out.unreported]
    return out


def _same(a, b) -> bool:
    try:
        return bool(np.all(np.asarray(a) == np.asarray(b)))
    except Exception:  # noqa: BLE001
        return a is b


def check_group(thm: Theorem, runs: Sequence[RunFacts], *, alpha: float = ALPHA) -> Verdict:
    """The verdict of one theorem on one group of seeds (the module docstring's steps); the theorem's
    numerics are evaluated once for the group."""
    if thm.asymptotic_only:
        return _na(thm, f"asymptotic only: {thm.asymptotic_only}")
    if thm.runmap is None:
        return _na(thm, "this theorem has no run map (" + (thm.notes.split('.')[0] if thm.notes else
                                                          "it is not a statement about one run") + ")")
    try:
        meta = merge_mapped([thm.runmap.map(r) for r in runs])
        return judge(thm, runs, meta, alpha=alpha)
    except NotApplicable as exc:
        return _na(thm, str(exc))
    except (TheoryError, TypeError, ValueError) as exc:  # a value the run reported that is no number (a list, a
        # string where a symbol needs one number): this group is not judged, and every other group still is
        return _na(thm, f"the run's reported values cannot be judged: {exc}")


def judge(thm: Theorem, runs: Sequence[RunFacts], meta: Mapped, *, alpha: float = ALPHA) -> Verdict:
    """The verdict of ``thm`` on ``runs`` already mapped onto its symbols (``meta``): conditions, the
    curve test, the applied-value and accounting audits (``harness check-theorem`` plants curves here)."""
    nm = numerics(thm)
    ev = nm.evaluate(meta.inputs)
    conds = ev["conditions"]
    base = Verdict(thm.id, NOT_APPLICABLE, citation=thm.citation.text(), values=ev["values"], derived=ev["derived"],
                   free_chosen=ev["free_chosen"], conditions=conds, n_seeds=len(runs), measured=thm.measured,
                   measured_doc=thm.measured_doc, horizon=thm.horizon, posthoc=list(meta.posthoc),
                   reported=not meta.unreported, unreported=list(meta.unreported))
    base.flags = _flags(runs, thm)
    mism = {k: v for r in runs for k, v in r.mismatches().items() if k in thm.reads}
    failing = [c for c in conds if c.get("gating", True) and not c["holds"]]
    if failing:
        base.reason = "condition fails: " + "; ".join(_describe_failure(thm, c) for c in failing)
        base.failing = [c["name"] for c in failing]
        hint = step_hint(thm, meta, base.failing, runs[0].params if runs else {})
        base.reason += f"; so: {hint}" if hint else ""
    elif thm.bound is None:
        base.rate = _rate_for(thm, meta.inputs, None)
        base.reason = "an O(.) statement without constants: no bound curve to compare (rate check only)"
    elif thm.direction != "upper":
        base.reason = "a lower bound over all first-order algorithms on a worst-case class, not a per-instance bound"
    else:
        _judge_curve(thm, nm, runs, meta, ev, base, alpha)
    if mism:
        what = ", ".join(f"{k} = {a!r} applied where the run stores {s!r}" for k, (s, a) in sorted(mism.items()))
        base.verdict = VIOLATED
        base.reason = (f"the plugin applied other parameters than it stores ({what}): the stored run does not describe "
                       f"what ran. Judged with the applied values: {base.reason}")
    _audit(thm, runs, meta, base)
    return base


def _flags(runs: Sequence[RunFacts], thm: Theorem) -> list[str]:
    out = []
    for r in runs:
        for k, (s, a) in sorted(r.mismatches().items()):
            out.append(f"seed {r.seed}: {k} applied = {a!r}, stored = {s!r}")
        x, y = r.curve("objective")
        y = y[np.isfinite(y)]
        if len(y) >= 2 and y[-1] > y[0]:
            out.append(f"seed {r.seed}: the objective ends above its start ({y[0]:.4g} -> {y[-1]:.4g})")
    return out


def _judge_curve(thm: Theorem, nm, runs: Sequence[RunFacts], meta: Mapped, ev: dict[str, Any], out: Verdict,
                 alpha: float) -> None:
    v = dict(ev["values"])
    finished = [r for r in runs if r.ok]
    diverged = [r for r in runs if r.diverged]
    curves = [(r, *measure(thm.measured, r, thm, v, meta)) for r in (finished or diverged)]
    curves = [(r, x, y) for r, x, y in curves if len(x)]
    bound_fn = nm.bound_fn()
    if curves:
        x, ys = _common_grid([(x, y) for _, x, y in curves])
        if thm.asymptotic_from > 0 and len(x):
            keep = x >= thm.asymptotic_from * x.max()
            x, ys = x[keep], ys[:, keep]
    else:
        x, ys = np.array([]), np.zeros((0, 0))
    if len(x):
        bound = bound_fn(ev["values"], x)
        test = points_test(ys, bound, alpha)
        mean = ys.mean(axis=0)
        with np.errstate(all="ignore"):
            ratio = np.where(mean > 0, bound / mean, np.inf)
        i_min = int(np.argmin(ratio))
        out.test = TEST_DOC.format(alpha=alpha, m=len(x))
        out.alpha = alpha
        out.slack = {"min": _f(ratio[i_min]), "at": _f(x[i_min]),
                     "median": _f(np.median(ratio[np.isfinite(ratio)])) if np.isfinite(ratio).any() else None,
                     "final": _f(ratio[-1])}
        out.curve = _thin({"x": x, "mean": mean, "upper": test["upper"], "bound": bound,
                           "lo": ys.min(axis=0), "hi": ys.max(axis=0)})
        out.rate = _rate_for(thm, meta.inputs, (x, mean), bound)
        if test["rejected"].any():
            j = int(np.argmax(test["rejected"]))
            out.verdict = VIOLATED
            out.first_crossing = _f(x[j])
            out.reason = (f"{thm.measured_doc} exceeds the bound at {thm.horizon} = {x[j]:g}: mean {mean[j]:.4g} > bound "
                          f"{bound[j]:.4g} (p = {test['p'][j]:.2g}; {int(test['rejected'].sum())} of {len(x)} points "
                          f"rejected at family-wise error rate {alpha:.0%})")
        elif test["above"].any():
            j = int(np.argmax(test["above"]))
            out.verdict = INCONCLUSIVE
            out.first_crossing = _f(x[j])
            out.reason = (f"the mean of {thm.measured_doc} is above the bound at {int(test['above'].sum())} of {len(x)} "
                          f"points (first at {thm.horizon} = {x[j]:g}: {mean[j]:.4g} > {bound[j]:.4g}) but not "
                          f"significantly (smallest Holm-adjusted p = {test['p_adj'].min():.2g} > {alpha:g}"
                          + ("; one seed" if ys.shape[0] == 1 else "") + ")")
        else:
            out.verdict = HOLDS
            out.reason = (f"consistent with the bound: the mean of {thm.measured_doc} stays under it at all {len(x)} "
                          f"points; smallest slack bound/mean = {ratio[i_min]:.3g} at {thm.horizon} = {x[i_min]:g}")
    if diverged:
        r = diverged[0]
        last = max((p.get("updates", 0) for p in r.points), default=0)
        out.verdict = VIOLATED
        out.reason = (f"seed {r.seed} diverged at update {last:g} ({len(diverged)} of {len(runs)} seeds diverged) while "
                      f"every condition holds: the theorem bounds E[{thm.measured_doc}], which the run drove to "
                      f"infinity" + (f". On the finished seeds: {out.reason}" if finished and out.reason else ""))
        out.first_crossing = float(last)
        if not finished:   # the curve is the blow-up itself: a slack or a fitted slope would say nothing
            out.slack = None
            out.rate = None
    elif not len(x):
        out.reason = (f"the runs record no curve for '{thm.measured}' ({thm.measured_doc})" if not curves else
                      "no measured point on the theorem's horizon")
    if out.posthoc and out.verdict in (HOLDS, VIOLATED, INCONCLUSIVE):
        out.reason += ". Rests on constants measured on the run after the fact: " + "; ".join(out.posthoc)


def points_test(ys: np.ndarray, bound: np.ndarray, alpha: float = ALPHA) -> dict[str, np.ndarray]:
    """The test of H0_j: E[Y_j] <= bound_j at every point j, family-wise error rate ``alpha`` (Holm).

    ``ys``: (seeds, points) non-negative measurements; ``bound``: (points,). Returns p (per point),
    p_adj (Holm-adjusted), rejected, above (mean > bound beyond the tolerance), exact (the points
    judged as deterministic), upper (the simultaneous Bonferroni upper confidence limit of the mean:
    inf where it has no finite value).

    Decisions at the boundary are sound against rounding:

    - a point is rejected only where its mean exceeds the bound by more than ``REL_TOL`` (1e-9) of
      the bound: a mean that sits on the bound up to the last digits of a float (``np.mean`` of seven
      equal values can round up by 4e-15) is never significant;
    - a spread across seeds below ``SPREAD_TOL`` (1e-12) of the mean is rounding, not noise, and
      counts as none: a t-test on a standard deviation of 1e-16 would call any mean 1e-16 above the
      bound significant;
    - where two or more seeds agree (exactly, or within that spread), the quantity is deterministic
      and is its own expectation: the point is compared exactly (p = 0 above the bound beyond the
      tolerance, p = 1 otherwise), so agreeing seeds at 10x the bound are violated and agreeing seeds
      on the bound never are;
    - one seed keeps Markov's inequality for the non-negative measured quantity, P(X >= x) <= bound/x
      (one draw cannot tell noise from determinism)."""
    from scipy import stats

    ys = np.asarray(ys, dtype=float)
    bound = np.broadcast_to(np.asarray(bound, dtype=float), ys.shape[1:])
    n, m = ys.shape
    mean = ys.mean(axis=0)
    sd = ys.std(axis=0, ddof=1) if n >= 2 else np.zeros(m)
    with np.errstate(all="ignore"):
        above = mean > bound + REL_TOL * np.abs(bound)
        exact = (n >= 2) & (sd <= SPREAD_TOL * np.abs(mean))
        use_t = (n >= 2) & ~exact & np.isfinite(sd)
        tstat = (mean - bound) / (sd / math.sqrt(max(n, 1)))
        p_t = stats.t.sf(tstat, max(n - 1, 1))
        p_markov = np.where(mean > 0, np.minimum(1.0, bound / mean), 1.0)
        p = np.where(use_t, p_t, np.where(exact, np.where(above, 0.0, 1.0), p_markov))
        p = np.where(np.isnan(mean) | ~np.isfinite(bound), 1.0, p)
        p = np.where(np.isinf(mean) & np.isfinite(bound), 0.0, p)
        upper = np.where(use_t, mean + stats.t.ppf(1 - alpha / m, max(n - 1, 1)) * sd / math.sqrt(max(n, 1)),
                         np.where(exact, mean, np.inf))
    order = np.argsort(p)
    p_adj_sorted = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
    p_adj = np.empty(m)
    p_adj[order] = p_adj_sorted
    return {"p": p, "p_adj": p_adj, "rejected": (p_adj <= alpha) & above, "above": above, "exact": exact,
            "upper": upper}


BLOWN_UP = 1e12  # a side this many times the other (and 1) is a quantity that blew up, said in words


def _describe_failure(thm: Theorem, c: dict[str, Any]) -> str:
    """'NAME': RELATION with lhs = X, rhs = Y; where the left side is infinite or huge beside the right
    (a recursion's c_1 = inf, Gamma_0 = -2e267 at too large a step) it also says which quantity blew up."""
    if c.get("error"):
        return f"'{c['name']}' cannot be evaluated ({c['error']})"
    where = f" (layer {c['layer']})" if "layer" in c else ""
    text = f"'{c['name']}'{where}: {c['relation']} with lhs = {c['lhs']:.6g}, rhs = {c['rhs']:.6g}"
    lhs, rhs = float(c["lhs"]), float(c["rhs"])
    if not math.isnan(lhs) and (math.isinf(lhs) or abs(lhs) >= BLOWN_UP * max(1.0, abs(rhs))):
        rel = next((x.rel for x in thm.conditions if x.name == c["name"]), None)
        what = sp.sstr(rel.lhs) if isinstance(rel, sp.core.relational.Relational) else "the left side"
        text += (f" ({what} {'is' if math.isinf(lhs) else 'grows to'} {'+' if lhs > 0 else '-'}"
                 f"{'infinity' if math.isinf(lhs) else f'{abs(lhs):.3g}'} at these values: it blows up)")
    return text


def _common_grid(curves: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Points every seed recorded (a deterministic schedule gives the same x); otherwise the first
    seed's x inside the common range, the others interpolated (linearly) onto it."""
    common = curves[0][0]
    for x, _ in curves[1:]:
        common = np.intersect1d(common, x)
    if len(common) >= max(2, len(curves[0][0]) // 2):
        return common, np.vstack([np.interp(common, x, y) for x, y in curves])
    lo = max(c[0].min() for c in curves)
    hi = min(c[0].max() for c in curves)
    grid = curves[0][0][(curves[0][0] >= lo) & (curves[0][0] <= hi)]
    return grid, np.vstack([np.interp(grid, x, y) for x, y in curves])


def rate_kind(thm: Theorem) -> tuple[str, float | None]:
    """('poly', p) for a rate T^p, ('geom', None) for rho^T (rho evaluated later), ('none'|'other', None)."""
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


def _rate_for(thm: Theorem, values, curve, bound: np.ndarray | None = None) -> dict[str, Any]:
    """The rate check (informative): the slope of the mean curve's tail against the slope of the bound's
    own curve on the same window and axes (log-log for a rate T^p, semi-log for rho^T), worded "decays
    like / faster than / slower than the bound". Without a bound curve (an O(.) statement), against the
    declared rate's slope. The slopes agree ("like") within ``RATE_TOL`` (25%) of the larger of the two.

    A bound's own tail slope can be far from its declared rate (a sigma^2 floor makes the slope of
    Bhardwaj & Cong 2017's Lemma 1 -0.00016 where the rate reads T^-1): comparing with the declared exponent called
    every curve under such a bound "slower"."""
    kind, p = rate_kind(thm)
    out: dict[str, Any] = {"rate": str(thm.rate), "kind": kind, "ok": None}
    if kind in ("none", "other") or curve is None:
        out["note"] = "no rate to check" if kind == "none" else ("rate not of the form T^p or rho^T" if kind == "other"
                                                                  else "no curve")
        return out
    x, y = curve
    keep = (y > 0) & (x > 0) & np.isfinite(y)
    if bound is not None:
        bound = np.broadcast_to(np.asarray(bound, dtype=float), np.shape(x))
        keep &= (bound > 0) & np.isfinite(bound)
    x, y = x[keep], y[keep]
    if len(x) < 4:
        out["note"] = "too few points for a fit"
        return out
    tail = x >= np.exp(0.5 * (np.log(x.min()) + np.log(x.max()))) if kind == "poly" else x >= 0.5 * (x.min() + x.max())
    if tail.sum() < 3:
        tail = np.ones_like(x, dtype=bool)
    xt, yt = x[tail], y[tail]
    ax = np.log(xt) if kind == "poly" else xt
    slope = float(np.polyfit(ax, np.log(yt), 1)[0])
    out["axes"] = "log-log" if kind == "poly" else "semi-log"
    if kind == "poly":
        declared = p
    else:
        try:
            declared = float(np.log(float(thm.value(thm.rate.base, {**values, thm.horizon: 1.0}))))
        except Exception:  # noqa: BLE001 - a rate base the values cannot evaluate
            declared = None
    if bound is not None:
        reference, against = float(np.polyfit(ax, np.log(bound[keep][tail]), 1)[0]), "the bound"
        out["bound_slope"] = reference
    elif declared is not None:
        reference, against = declared, f"the theorem's rate {thm.rate}"
    else:
        out["note"] = "rate base not evaluable"
        return out
    tol = RATE_TOL * max(abs(reference), abs(slope))
    word = "like" if abs(slope - reference) <= tol else ("faster than" if slope < reference else "slower than")
    out.update(expected_slope=declared, reference_slope=reference, fitted_slope=slope, tolerance=RATE_TOL,
               ok=word != "slower than", against=word,
               window=[_f(xt.min()), _f(xt.max())],
               note=f"decays {word} {against} over {thm.horizon} in [{xt.min():g}, {xt.max():g}] (fitted slope "
                    f"{slope:.3g} vs {reference:.3g}; informative: the bound, not a rate, is the theorem's claim)")
    return out


def _f(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _thin(curve: dict[str, np.ndarray], most: int = 200) -> dict[str, list]:
    n = len(curve["x"])
    idx = np.unique(np.linspace(0, n - 1, min(n, most)).round().astype(int)) if n else np.array([], dtype=int)
    return {k: [_f(v) for v in np.asarray(a)[idx]] for k, a in curve.items()}
