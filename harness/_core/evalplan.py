"""The evaluation plan: how many points a run evaluates, and on how much data, chosen from its budget.

A point's evaluation (the workload's metrics on its evaluation subset, plus what the plugin measures
at a point) runs with the clock paused, so it never shows in the measured time, but it is wall time
all the same: a residual network's 40-update run evaluated 13 points on 1,024 samples each and spent
21 times its measured work on them. The plan bounds it before the first point is evaluated:

- **counted** (an update or epoch budget): costs are counted in *sample gradients* (one training
  sample's forward and backward pass; an update of b samples costs b, a test sample's forward pass a
  third of one). With ``W`` the budget's work, the planned evaluation may cost
  ``eval_fraction * W + grace``, where ``grace`` is ``eval_grace_s`` seconds of work at the
  device's nominal speed (:data:`NOMINAL_FLOPS`; a cheap model's evaluations are never thinned).
  Within that the plan keeps the schedule's points on the whole subset when they fit, else fewer
  points (at least :data:`MIN_POINTS`) on the whole subset, else at least that many points on the
  largest smaller subset that fits (subsets of powers of two, nested: the first m of one seeded
  permutation), else its smallest subset and as many points as fit (two at least: the first and the
  last). Nothing here reads a clock, so a deterministic plugin's curve stays a function of its seed.
- **timed** (a seconds budget only, whose curve depends on the clock anyway): the subset is sized so
  that one evaluation of the workload's metrics takes about ``(eval_fraction * seconds +
  eval_grace_s) / TIMED_POINTS`` seconds, measured by the workload on a pilot of its smallest subset
  at the first point; the wall-clock rule of the schedule then spaces the points.

The plan is stored with the run (``info['eval_plan']``): how it was made, the subset (``eval_n``) of
how many asked, the points, each cost and the bound, and why. A run evaluated on a planned subset
reads, wherever runs are grouped or compared, as a run that asked for that subset
(:func:`harness._core.identity.evaluated_params`). ``--schedule eval_plan=false`` turns it off
(every point on the whole subset, the schedule as it is).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# FLOP/s of one device at which eval_grace_s of evaluation is free (deterministic: a constant, never
# measured): one CPU core running torch, one GPU
NOMINAL_FLOPS = {"cpu": 1e10, "cuda": 1e12}
MIN_POINTS = 5       # the points a thinned schedule keeps before it shrinks the subset
TIMED_POINTS = 5     # a seconds budget: the points one evaluation's allowance is sized for


@dataclass(frozen=True)
class EvalCosts:
    """What a workload's evaluation costs, in sample gradients (see the module's docstring).

    ``sizes``: the subset sizes its metrics can run on, the asked one first, then descending (one
    entry: not resizable); ``test``: test samples evaluated at the asked size (forward only; a
    smaller subset evaluates ``min(test, size)``); ``flops``: FLOPs of one sample gradient;
    ``param``: the workload parameter that names the subset size (``eval_n``)."""

    sizes: tuple[int, ...]
    test: int = 0
    flops: float = 0.0
    param: str = "eval_n"

    def cost(self, size: int) -> float:
        """Sample gradients one evaluation on ``size`` samples costs: ``size`` forward and backward
        passes, and a third of one per test sample."""
        return float(size) + min(self.test, size) / 3.0

    def timed_size(self, pilot_s: float, allowance_s: float) -> int:
        """The largest subset whose evaluation takes at most ``allowance_s`` seconds, scaled from a
        pilot evaluation of the smallest subset that took ``pilot_s`` (in proportion to
        :meth:`cost`); the smallest when none does."""
        small = self.sizes[-1]
        per = pilot_s / max(self.cost(small), 1e-12)
        return next((s for s in self.sizes if self.cost(s) * per <= allowance_s), small)


def grid_points(limit: int, ratio: float, min_gap: int = 1) -> int:
    """Points the monitor's geometric schedule takes over ``limit`` updates (0, then
    ``max(ceil(u * ratio), u + min_gap)``, the budget's last update always)."""
    n, u = 1, 0
    while u < limit:
        u = min(max(int(math.ceil(u * ratio)), u + min_gap), limit)
        n += 1
    return n


def counted(costs: EvalCosts, *, work: float, point_extra: float, points: int, points_fixed: bool,
            fraction: float, grace: float) -> dict[str, Any]:
    """The counted plan (module docstring). ``work``: the budget's sample gradients; ``point_extra``:
    what the plugin measures at a point beyond the metrics; ``points``: what the schedule would take
    (``points_fixed``: the user fixed them, only the subset is planned); ``fraction`` / ``grace``:
    the bound ``fraction * work + grace``. Returns ``eval_n``, ``points``, ``point_cost``, ``bound``,
    ``fraction_planned`` (planned evaluation / work), ``over`` and ``why``."""
    bound = fraction * work + grace
    asked = costs.sizes[0]

    def each(m: int) -> float:
        return costs.cost(m) + point_extra

    def fits(m: int) -> int:
        return int(bound // each(m))

    if points * each(asked) <= bound:
        m, p, why = asked, points, "the schedule's points on the whole subset fit"
    elif points_fixed:
        m = next((s for s in costs.sizes if points * each(s) <= bound), costs.sizes[-1])
        p, why = points, f"the {points} points asked for, on the largest subset that fits"
    else:
        keep = min(points, MIN_POINTS)
        if fits(asked) >= keep:
            m, p, why = asked, fits(asked), "fewer points on the whole subset"
        else:
            m = next((s for s in costs.sizes if fits(s) >= keep), costs.sizes[-1])
            p = max(2, min(points, fits(m)))
            why = (f"{p} points on a subset of {m}" if fits(m) >= keep else
                   f"the smallest subset ({m}) and {p} points")
    planned = p * each(m)
    over = planned > bound
    if over:
        why += f": still over the bound ({planned:.4g} > {bound:.4g} sample gradients)"
    return {"eval_n": m, "points": p, "point_cost": each(m), "bound": bound,
            "fraction_planned": planned / work if work > 0 else math.inf, "over": over, "why": why}


def subsampled(plan: dict[str, Any] | None) -> bool:
    """Whether a stored plan evaluated the run on a smaller subset than it asked for."""
    return bool(plan) and plan.get("eval_n") is not None and plan.get("eval_n") != plan.get("asked")


def describe(plan: dict[str, Any] | None) -> str:
    """One line saying how a run was evaluated, from its stored plan (``info['eval_plan']``)."""
    if not plan:
        return "evaluated as the workload does (no plan)"
    m, asked, param = plan.get("eval_n"), plan.get("asked"), plan.get("param", "eval_n")
    on = (f"on a planned subset of {m} of the {asked} samples asked for ({param}={m})" if subsampled(plan)
          else f"on the whole subset ({asked} samples)")
    pts = plan.get("points")
    points = "" if pts is None else (f", {pts} points (the schedule's {plan['points_schedule']})"
                                     if pts != plan.get("points_schedule") else f", {pts} points")
    return f"evaluated {on}{points}; plan {plan.get('how')}: {plan.get('why', '')}"
