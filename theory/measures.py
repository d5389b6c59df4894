"""What a theorem bounds, computed from a stored run's curve.

Each measure maps a :class:`~harness.theory.facts.RunFacts` to ``(x, y)``: the horizon values (updates,
or outer rounds) and the measured quantity there.

- ``running_mean_grad_norm_sq``: (1/k) sum_{j<k} ||grad f(w_j)||^2. The monitor records
  ||grad f||^2 at a geometric schedule of update counts, not at every iterate; the sum is the
  trapezoid rule over the recorded points (exact when the curve is piecewise linear between
  snapshots; on these runs the recorded points are dense enough, ratio 1.3, that the estimate's
  error is far below the bounds' slack, which the report shows). A plugin that records the exact
  running sum (``extra["grad_norm_sq_sum"]``, sum over all iterates so far) is used as is.
- ``weighted_mean_grad_norm_sq``: sum_j gamma_j ||grad f(w_j)||^2 / sum_j gamma_j for a step
  schedule gamma_j (diminishing-rate theorems), by the same trapezoid rule.
- ``subopt``, ``dist_sq``, ``grad_norm_sq``: the recorded values.
- ``*_by_round``: horizon = the outer round s = floor(updates / round length), the largest value
  recorded within each round.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np


POSTHOC_REGION = "{what} over the region the run visited (its largest recorded ||w - w*||), not over all w"


def measured_delay(run) -> float:
    """The largest delay the run measured (``RunFacts.tau_max``; for a planned run, the delay assumed);
    0 for a one-worker serial run that records none. A parallel run that records no delay cannot be
    mapped (Delta unknown)."""
    from .errors import NotApplicable

    if run.tau_max is not None:
        return float(run.tau_max)
    if run.workers <= 1 and run.backend in ("serial", ""):
        return 0.0
    raise NotApplicable(f"the run ({run.backend}, {run.workers} workers) records no measured delay tau_max")


def _xy(run, metric: str) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = run.curve(metric)
    ok = np.isfinite(ys)
    return xs[ok], ys[ok]


def running_mean(x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Trapezoid running mean of y over the integer horizon x (from x[0] = 0), at each x > 0."""
    if len(x) < 2:
        return np.array([]), np.array([])
    w = np.ones_like(y) if weights is None else weights
    seg = 0.5 * (w[1:] * y[1:] + w[:-1] * y[:-1]) * np.diff(x)
    segw = 0.5 * (w[1:] + w[:-1]) * np.diff(x)
    num = np.concatenate([[0.0], np.cumsum(seg)])
    den = np.concatenate([[0.0], np.cumsum(segw)])
    keep = den > 0
    return x[keep], num[keep] / den[keep]


def running_mean_grad_norm_sq(run, theorem=None, values=None, meta=None):
    exact = [(p["updates"], p["grad_norm_sq_sum"]) for p in run.points if p.get("grad_norm_sq_sum") is not None]
    if exact:
        x = np.asarray([e[0] for e in exact], dtype=float)
        s = np.asarray([e[1] for e in exact], dtype=float)
        keep = x > 0
        return x[keep], s[keep] / x[keep]
    x, y = _xy(run, "grad_norm_sq")
    if len(x) == 0 or x[0] != 0:
        return np.array([]), np.array([])
    return running_mean(x, y)


def running_mean_G(run, theorem=None, values=None, meta=None):
    """Large-batch theorems: the running mean of G(w) = sum_k q_k ||grad_k f(w)||^2, q_k = (1/L_k)/sum_j 1/L_j,
    from the per-layer squared gradient norms a plugin records (``extra['gsq_k']``); with one layer, ||grad f||^2."""
    Lk = np.atleast_1d(np.asarray((values or {}).get("L_k", 1.0), dtype=float))
    pts = [(p["updates"], (p.get("extra") or {}).get("gsq_k", p.get("gsq_k"))) for p in run.points]
    if Lk.size > 1 and all(g is not None for _, g in pts) and pts:
        q = (1 / Lk) / np.sum(1 / Lk)
        x = np.asarray([u for u, _ in pts], dtype=float)
        y = np.asarray([float(np.dot(q, np.asarray(g, dtype=float))) for _, g in pts])
        if x[0] != 0:
            return np.array([]), np.array([])
        return running_mean(x, y)
    return running_mean_grad_norm_sq(run, theorem, values, meta)


def weighted_mean_grad_norm_sq(run, theorem=None, values=None, meta=None):
    x, y = _xy(run, "grad_norm_sq")
    sched = meta.schedule if meta is not None else None
    if sched is None or len(x) == 0 or x[0] != 0:
        return np.array([]), np.array([])
    return running_mean(x, y, sched(x))


def _plain(metric):
    def f(run, theorem=None, values=None, meta=None):
        x, y = _xy(run, metric)
        keep = x > 0
        return x[keep], y[keep]

    return f


def _by_round(metric):
    """Horizon = the outer round s = floor(updates / round length); within a round the largest value
    (a bound on the round's start value rho^s C_0 must cover every point of the round)."""

    def f(run, theorem=None, values=None, meta=None):
        per = float((meta.round_updates if meta is not None else 0) or 0)
        x, y = _xy(run, metric)
        if per <= 0 or len(x) == 0:
            return np.array([]), np.array([])
        s = np.floor(x / per + 1e-9)
        rounds = np.unique(s)
        return rounds, np.array([y[s == r].max() for r in rounds])

    return f


MEASURES: dict[str, Callable] = {
    "running_mean_grad_norm_sq": running_mean_grad_norm_sq,
    "weighted_mean_grad_norm_sq": weighted_mean_grad_norm_sq,
    "running_mean_G": running_mean_G,
    "subopt": _plain("subopt"),
    "dist_sq": _plain("dist_sq"),
    "grad_norm_sq": _plain("grad_norm_sq"),
    "subopt_by_round": _by_round("subopt"),
    "dist_sq_by_round": _by_round("dist_sq"),
}


def measure(name: str, run, theorem=None, values=None, meta=None) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` of the measure ``name`` on ``run``; ``values``: the theorem's evaluated inputs;
    ``meta``: the run's :class:`~harness.theory.runmap.Mapped` (schedule, round length)."""
    if name not in MEASURES:
        from .errors import NotApplicable

        raise NotApplicable(f"no measure '{name}' for stored runs")
    return MEASURES[name](run, theorem, values, meta)


def workload_facts(run) -> dict[str, float]:
    """Quantities at the optimum the harness computed from the workload (see RunFacts)."""
    return dict(run.workload_facts)


def variance_bound_on_run(run) -> float | None:
    """An upper estimate of sup_w E||grad f_i(w) - grad f(w)||^2 over the region the run visited:
    sqrt(Var(w)) <= sqrt(Var(w*)) + (L_max + L) ||w - w*|| (the deviation is (L_i + L)-Lipschitz),
    with ||w - w*|| the largest distance the run recorded. Measured on the run, as the design asks
    for the constants a theorem assumes but a workload cannot know in closed form."""
    facts = workload_facts(run)
    c = run.constants
    if "sigma2_star" not in facts or "L_max" not in c:
        return None
    d = [p.get("dist_sq") for p in run.points if p.get("dist_sq") is not None]
    if not d and "dist0_sq" in c:
        d = [c["dist0_sq"]]  # before a run (theory-guided parameters): the start point's distance
    if not d:
        return None
    r = float(np.sqrt(max(d)))
    return float((np.sqrt(facts["sigma2_star"]) + (c["L_max"] + c["L"]) * r) ** 2)


def second_moment_bound_on_run(run) -> float | None:
    """An upper estimate of sup_{i, w} ||grad f_i(w)||^2 over the region the run visited (DDG's
    Assumption 5.4.2): (max_i ||grad f_i(w*)|| + L_max ||w - w*||)^2 with the largest recorded distance."""
    facts = workload_facts(run)
    c = run.constants
    if "gmax2_star" not in facts or "L_max" not in c:
        return None
    d = [p.get("dist_sq") for p in run.points if p.get("dist_sq") is not None]
    if not d and "dist0_sq" in c:
        d = [c["dist0_sq"]]
    if not d:
        return None
    return float((np.sqrt(facts["gmax2_star"]) + c["L_max"] * np.sqrt(max(d))) ** 2)
