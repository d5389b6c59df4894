"""Solving a theorem's conditions for one symbol: :func:`solve` (the largest admissible value, the
others fixed; ``harness theory solve``) and :func:`solve_best_rate` (the admissible value with the
smallest rate factor; ``eta=theory``)."""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import sympy as sp

from .numerics import Numerics, all_hold, is_count, jsonable


def solve(nm: Numerics, var: str, values: Mapping[str, Any], *, lo: float | None = None, hi: float | None = None,
          integer: bool | None = None) -> dict[str, Any]:
    """Largest value of ``var`` with every condition holding exactly (no tolerance), the other
    values fixed; an integer symbol gets the largest admissible integer (a strict inequality
    x < 10 gives 9).

    Numeric: a log-spaced scan of [lo, hi] for the admissible set, then bisection at its upper
    edge (the conditions of these theorems define an interval (0, x_max] in each of the step
    size, delay, batch and worker count, which the scan verifies on its grid). A closed form in
    ``solutions`` (the supremum of the admissible set for the condition it solves) is reported
    side by side: ``closed_form_sup`` is its value, ``closed_form_value`` the largest admissible
    value it gives (the largest admissible integer at or below it for an integer symbol)."""
    nm.check_domain(values)
    if integer is None:
        integer = is_count(nm.thm, var)
    lo = lo if lo is not None else (0.0 if integer else 1e-12)
    hi = hi if hi is not None else (1e7 if integer else 1e6)

    def ok(x: float) -> bool:
        return nm.admissible({**values, var: x}, rtol=0.0)

    if integer:
        grid = np.unique(np.concatenate([np.arange(int(lo), min(int(hi), int(lo) + 64) + 1),
                                         np.round(np.geomspace(max(lo, 1), hi, 200))])).astype(float)
    else:
        grid = np.geomspace(lo, hi, 96)
    flags = np.array([ok(x) for x in grid])
    result: dict[str, Any] = {"theorem": nm.thm.id, "for": var, "given": {k: jsonable(x) for k, x in values.items()}}
    closed = None
    if var in nm.thm.solutions:
        try:
            sup = float(nm.value(nm.thm.solutions[var], nm.resolve_free({**values, var: grid[0]})))
            closed = sup
            result["closed_form"] = sp.sstr(nm.thm.solutions[var])
            result["closed_form_sup"] = sup
            if integer and math.isfinite(sup):
                k = math.floor(sup)
                result["closed_form_value"] = k if ok(k) else k - 1
            else:
                result["closed_form_value"] = sup
            result["closed_form_meaning"] = ("the supremum of the admissible set for the condition it solves; "
                                             + ("closed_form_value is the largest admissible integer at or below it"
                                                if integer else "the value itself when that condition binds"))
        except (KeyError, TypeError, ValueError):
            closed = None
    if not flags.any():
        result.update(value=None, reason=f"no admissible {var} in [{lo:g}, {hi:g}]",
                      failing=[c for c in nm.evaluate({**values, var: grid[0]})["conditions"]
                               if c["gating"] and not c["holds"]])
        return result
    i = int(np.nonzero(flags)[0].max())
    gaps = not flags[int(np.nonzero(flags)[0].min()): i + 1].all()
    a = grid[i]
    above = None
    if i + 1 < len(grid):
        b = grid[i + 1]
        if integer:
            while b - a > 1:
                mid = math.floor((a + b) / 2)
                a, b = (mid, b) if ok(mid) else (a, mid)
        else:
            for _ in range(60):
                mid = 0.5 * (a + b)
                if mid in (a, b):
                    break
                a, b = (mid, b) if ok(mid) else (a, mid)
            if closed is not None and not integer and a > closed and closed > 0 and ok(closed):
                a = closed  # an ulp above the closed form can pass the rounded test: report the exact edge
        above = b
    result["value"] = int(a) if integer else float(a)
    result["interval"] = not gaps
    if above is not None:
        conds = nm.check_conditions(nm.resolve_free({**values, var: above}, 0.0), 0.0)
        result["binding"] = [c["name"] for c in conds if c["gating"] and not c["holds"]]
    else:
        result["binding"] = []
        result["note"] = f"admissible up to the search limit {hi:g}"
    result["free_chosen"] = nm.resolve_free({**values, var: a}).get("_free_chosen", {})
    return result

def rate_factor(nm: Numerics) -> sp.Expr | None:
    """The factor of the bound that a step size trades off, when the bound has the form
    factor x rate: ``rho`` for a geometric rate ``rho**T`` (the contraction factor), else
    ``bound / rate`` when it does not depend on the horizon (AsySVRG's F0/(T gamma) over 1/T is
    F0/gamma). None when the bound mixes horizons (e.g. Lemma 1's (D_f/S + ...)/(...)): no
    single factor to minimise."""
    thm = nm.thm
    if not hasattr(nm, "_rate_factor"):
        out = None
        if thm.bound is not None and thm.direction == "upper":
            r = thm.rate
            if r.is_Pow and r.exp == thm.T:
                out = r.base
            else:
                q = sp.simplify(thm.bound / r)
                out = None if thm.T in thm.expand(q).free_symbols else q
        nm._rate_factor = out
    return nm._rate_factor

def solve_best_rate(nm: Numerics, var: str, values: Mapping[str, Any], largest: dict[str, Any] | None = None) -> dict[str, Any]:
    """The admissible value of ``var`` with the smallest rate factor (:meth:`rate_factor`), the
    others fixed: ``eta=theory``'s choice. The largest admissible value (:meth:`solve`, or
    ``largest`` if given) is kept when it is also the best (a factor decreasing in ``var``, as
    dfSDCA's rho = 1 - eta lam H) or when the theorem has no single factor; otherwise a value
    inside the admissible interval: at the edge of AsySVRG's conditions gamma = Gamma_0 -> 0
    and the bound F0/(T gamma) -> infinity, so the largest step is the worst guarantee.

    Numeric: the factor (free constants resolved per value, as everywhere) on a log grid of
    (1e-6 x_max, x_max], then a bounded scalar minimisation between the grid neighbours of the
    smallest. Adds ``largest`` (the largest admissible value), ``rate_factor`` (at the value),
    ``rate_factor_at_largest`` and ``policy`` to the result."""
    res = dict(largest) if largest is not None else solve(nm, var, values)
    fac = rate_factor(nm)
    x_max = res.get("value")
    integer = is_count(nm.thm, var)
    if x_max is None or fac is None or integer or x_max <= 0:
        res.setdefault("policy", "largest admissible value, other parameters fixed"
                       + ("" if fac is not None or x_max is None else " (the bound has no single rate factor)"))
        return res

    def factor(x: float) -> float:
        v = nm.resolve_free({**values, var: x})
        if not all_hold(nm.check_conditions(v, 0.0)):
            return math.inf
        with np.errstate(all="ignore"):
            f = float(np.max(np.asarray(nm.value(fac, v), dtype=float)))
        return f if math.isfinite(f) and f > 0 else math.inf

    grid = x_max * np.geomspace(1e-6, 1.0, 121)
    grid[-1] = x_max
    fs = np.array([factor(x) for x in grid])
    res.update(largest=x_max, rate_factor_at_largest=_f_or_none(fs[-1]), rate_factor_expr=sp.sstr(fac))
    i = int(np.argmin(fs))
    if not math.isfinite(fs[i]) or i == len(grid) - 1 or fs[-1] <= fs[i] * (1 + 1e-9):
        res.update(rate_factor=_f_or_none(fs[-1]),
                   policy="largest admissible value: it also has the smallest rate factor " + sp.sstr(fac))
        return res
    from scipy.optimize import minimize_scalar

    lo, hi = math.log(grid[max(i - 1, 0)]), math.log(grid[min(i + 1, len(grid) - 1)])
    opt = minimize_scalar(lambda u: factor(math.exp(u)), bounds=(lo, hi), method="bounded",
                          options={"xatol": 1e-6})
    x, f = (math.exp(opt.x), float(opt.fun)) if opt.fun < fs[i] else (float(grid[i]), float(fs[i]))
    conds = nm.check_conditions(nm.resolve_free({**values, var: x}, 0.0), 0.0)
    res.update(value=float(x), rate_factor=f, binding=[],
               margins={c["name"]: c.get("relative_margin") for c in conds if c["gating"]},
               free_chosen=nm.resolve_free({**values, var: x}).get("_free_chosen", {}),
               policy=f"the admissible value with the smallest rate factor {sp.sstr(fac)} "
                      f"({f:.4g}; {_f_or_none(fs[-1]) or math.inf:.4g} at the largest admissible {x_max:.4g})")
    return res


def _f_or_none(x: Any) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None
