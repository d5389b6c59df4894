"""A theorem's numerics: its expressions lambdified once (:func:`numerics` caches one
:class:`Numerics` per theorem), evaluated at given values.

- ``value(expr, values)``: any expression of the statement (definitions substituted);
- ``bound_fn()``: the bound as a vectorised function ``f(values, T)``;
- ``check_conditions(values)``: every condition (holds, both sides at the worst layer, margin);
- ``resolve_free(values)``: the ``free`` analysis constants (e.g. AsySVRG's beta) chosen among
  their candidates as the admissible value with the smallest bound (the statement holds for every
  admissible value);
- ``evaluate(values, T)``: all of it in one JSON-able dict.

Solving for a symbol is :mod:`.solving`; the statement is :mod:`.statement`.
"""

from __future__ import annotations

import itertools
import numbers
import weakref
from typing import Any, Callable, Mapping

import numpy as np
import sympy as sp

from .errors import TheoryError

INTEGER_SYMBOLS = ("Delta", "tau", "K", "N", "H", "b", "B", "M", "m", "workers", "d_wait", "s")  # solved as integers


def is_count(thm, name: str) -> bool:
    """Whether ``thm`` counts ``name`` in whole units (a mini-batch b, a delay bound tau, workers K, ...):
    a name in INTEGER_SYMBOLS that the theorem does not declare real (``Theorem.real_symbols``: the
    same letter for a real constant, e.g. M the additive variance constant of Assumption 4.3.2)."""
    return name in INTEGER_SYMBOLS and name not in thm.real_symbols


RTOL = 1e-12  # relative tolerance of non-strict relations when a run or a user's values are checked

_CACHE: "weakref.WeakKeyDictionary[Any, Numerics]" = weakref.WeakKeyDictionary()


def numerics(thm) -> "Numerics":
    """The theorem's :class:`Numerics`, built once per theorem object."""
    n = _CACHE.get(thm)
    if n is None:
        n = _CACHE[thm] = Numerics(thm)
    return n


class Numerics:
    """The numbers of one :class:`~.statement.Theorem` (see the module docstring)."""

    def __init__(self, thm) -> None:
        self.thm = thm
        self._fns: dict[int, tuple[sp.Basic, Callable, list[str]]] = {}
        self._symbols = thm.declared_symbols()

    def _lambdify(self, expr: sp.Basic) -> tuple[Callable, list[str]]:
        hit = self._fns.get(id(expr))
        if hit is None or hit[0] is not expr:
            e = self.thm.expand(expr)
            syms = sorted(e.free_symbols, key=lambda s: s.name)
            fn = sp.lambdify(syms, e, modules=[{"floor": np.floor, "ceiling": np.ceil, "harmonic": _harmonic},
                                               "scipy", "numpy"])
            hit = self._fns[id(expr)] = (expr, fn, [s.name for s in syms])
        return hit[1], hit[2]

    def value(self, expr: sp.Basic, values: Mapping[str, Any]) -> Any:
        fn, names = self._lambdify(expr)
        missing = [n for n in names if n not in values]
        if missing:
            raise KeyError(f"{self.thm.id}: missing value(s) for {', '.join(missing)}")
        with np.errstate(all="ignore"):
            return fn(*[num(values[n]) for n in names])

    def bound_fn(self) -> Callable[..., Any]:
        """``f(values, T)``: the bound at horizon(s) ``T`` (array ok) for the given values."""
        thm = self.thm
        if thm.bound is None:
            raise ValueError(f"{thm.id} is an O(.) statement without constants: it has no bound curve")

        def f(values: Mapping[str, Any], T: Any) -> Any:
            v = dict(values)
            v[thm.horizon] = np.asarray(T, dtype=float)
            val = self.value(thm.bound, v)   # a list given for an input (show --set m=1,2,3): one bound each
            return np.broadcast_to(val, np.broadcast_shapes(np.shape(val), np.shape(v[thm.horizon]))).astype(float)

        return f

    def check_domain(self, values: Mapping[str, Any]) -> None:
        """Refuse a value outside its symbol's declared domain (a negative value for a positive or
        non-negative constant such as L, eta, b): raises :class:`TheoryError` with one line."""
        for k, x in values.items():
            s = self._symbols.get(k)
            if s is None or x is None or isinstance(x, str) or callable(x):
                continue
            try:
                arr = np.asarray(num(x), dtype=float)
            except (TypeError, ValueError):
                continue
            if (s.is_positive or s.is_nonnegative) and np.any(arr < 0):
                raise TheoryError(f"{self.thm.id}: {k} = {x} is outside its domain ({k} >= 0: "
                                  f"{self.thm.symbols.get(k, 'a non-negative constant')})")
            if np.any(np.isnan(arr)):
                raise TheoryError(f"{self.thm.id}: {k} = {x} is not a number")

    def relation(self, rel: sp.Basic, values: Mapping[str, Any], rtol: float):
        """(holds, lhs, rhs, margin) arrays for one relation; ``rtol``: relative tolerance of the
        non-strict and equality relations (0 for an exact test)."""
        lhs = np.asarray(self.value(rel.lhs, values), dtype=float)
        rhs = np.asarray(self.value(rel.rhs, values), dtype=float)
        op = rel.rel_op
        with np.errstate(all="ignore"):
            tol = rtol * np.maximum(np.abs(lhs), np.abs(rhs))
            if op in ("<", "<="):
                ok = lhs < rhs if op == "<" else lhs <= rhs + tol
                margin = rhs - lhs
            elif op in (">", ">="):
                ok = lhs > rhs if op == ">" else lhs >= rhs - tol
                margin = lhs - rhs
            elif op == "==":  # an equality of two computed values holds to rounding, whatever rtol
                ok = np.abs(lhs - rhs) <= max(rtol, RTOL) * np.maximum(np.abs(lhs), np.abs(rhs))
                margin = -np.abs(lhs - rhs)
            else:  # pragma: no cover
                raise ValueError(op)
            ok = np.asarray(ok) & np.isfinite(lhs) & np.isfinite(rhs)
        return ok, lhs, rhs, margin

    def check_conditions(self, values: Mapping[str, Any], rtol: float = RTOL) -> list[dict[str, Any]]:
        """Every condition at ``values``: holds, both sides (at the worst layer), margin. Non-strict
        relations and equalities are accepted up to ``rtol`` relative to the larger side."""
        out = []
        for c in self.thm.conditions:
            base = {"name": c.name, "relation": c.text(), "implicit": c.implicit, "doc": c.doc, "gating": c.gating}
            if isinstance(c.rel, sp.logic.boolalg.BooleanTrue):
                out.append({**base, "holds": True, "lhs": None, "rhs": None, "margin": None})
                continue
            try:
                ok, lhs, rhs, margin = self.relation(c.rel, values, rtol)
            except KeyError as exc:
                out.append({**base, "holds": False, "lhs": None, "rhs": None, "margin": None, "error": str(exc)})
                continue
            lhs, rhs = np.broadcast_arrays(lhs, rhs)
            margin = np.broadcast_to(margin, lhs.shape)
            worst = int(np.argmin(margin)) if np.ndim(margin) else None
            with np.errstate(all="ignore"):
                rel_margin = float(np.min(margin) / max(float(np.max(np.abs(rhs))), float(np.max(np.abs(lhs))), 1e-300))
            out.append({
                **base, "holds": bool(np.all(ok)),
                "lhs": float(lhs.flat[worst]) if worst is not None else float(lhs),
                "rhs": float(rhs.flat[worst]) if worst is not None else float(rhs),
                "margin": float(np.min(margin)), "relative_margin": rel_margin,
                **({"layer": worst} if worst is not None else {}),
            })
        return out

    def prepared(self, values: Mapping[str, Any]) -> dict[str, Any]:
        v = {k: num(x) if not k.startswith("_") else x for k, x in values.items()}
        return self.thm.prepare(v) if self.thm.prepare is not None else v

    def resolve_free(self, values: Mapping[str, Any], rtol: float = RTOL) -> dict[str, Any]:
        """Fill the free analysis constants not given: among candidate values, the one where all
        conditions hold with the smallest bound (at T = values[T] or 1); if none is admissible, the
        first candidate (the paper's default), so the failing condition is reported for it. The
        ``prepare`` hook runs for each candidate (a derived input such as u0 = eta L n^alpha / b may
        depend on the free constant)."""
        thm = self.thm
        given = dict(values)
        todo = [k for k in thm.free if given.get(k) is None]
        if not todo:
            return self.prepared(given)
        v0 = self.prepared(given)
        combos = list(itertools.product(*[list(thm.free[k](v0)) for k in todo]))
        Tv = given.get(thm.horizon, 1.0)
        best = None
        scalars = all(np.ndim(x) == 0 for k, x in v0.items() if not k.startswith("_") and not isinstance(x, str))
        if scalars and not any(c.per_layer for c in thm.conditions):   # every candidate at once, as arrays
            # (a list given for an input, `theory show --set m=1,2,3`, does not broadcast against the
            # candidates' axis: those take the loop below, one candidate at a time)
            cols = {k: np.asarray([c[i] for c in combos], dtype=float) for i, k in enumerate(todo)}
            trial = self.prepared({**given, **cols})
            ok = np.ones(len(combos), dtype=bool)
            for c in thm.conditions:
                if not c.gating or isinstance(c.rel, sp.logic.boolalg.BooleanTrue):
                    continue
                r, _, _, _ = self.relation(c.rel, trial, rtol)
                ok &= np.broadcast_to(r, ok.shape)
            if ok.any():
                i = int(np.nonzero(ok)[0][0])
                if thm.bound is not None:
                    with np.errstate(all="ignore"):
                        bv = np.broadcast_to(np.asarray(self.value(thm.bound, {**trial, thm.horizon: Tv}), dtype=float),
                                             ok.shape).copy()
                    bv[~ok | ~np.isfinite(bv)] = np.inf
                    i = int(np.argmin(bv))
                best = self.prepared({**given, **dict(zip(todo, combos[i]))})
        else:
            best_val = np.inf
            for combo in combos:
                trial = self.prepared({**given, **dict(zip(todo, combo))})
                if not all_hold(self.check_conditions(trial, rtol)):
                    continue
                if thm.bound is None:
                    best = trial
                    break
                bval = float(np.min(self.value(thm.bound, {**trial, thm.horizon: Tv})))
                if np.isfinite(bval) and bval < best_val:
                    best, best_val = trial, bval
        if best is None:
            best = self.prepared({**given, **dict(zip(todo, combos[0]))})
        chosen = {k: float(best[k]) for k in todo}
        chosen.update({k: float(best[k]) for k in thm.derived_inputs if given.get(k) is None and best.get(k) is not None})
        best["_free_chosen"] = chosen
        return best

    def admissible(self, values: Mapping[str, Any], rtol: float = RTOL) -> bool:
        return all_hold(self.check_conditions(self.resolve_free(values, rtol), rtol))

    def evaluate(self, values: Mapping[str, Any], T: Any = None) -> dict[str, Any]:
        """Conditions, derived quantities, free constants chosen and (with a horizon) the bound."""
        thm = self.thm
        self.check_domain(values)
        v = self.resolve_free(values)
        conds = self.check_conditions(v)
        out: dict[str, Any] = {"theorem": thm.id, "values": {k: jsonable(x) for k, x in v.items() if not k.startswith("_")},
                               "free_chosen": v.get("_free_chosen", {}), "conditions": conds,
                               "all_hold": all_hold(conds)}
        derived = {}
        for s, _ in thm.definitions:
            try:
                derived[s.name] = jsonable(self.value(s, v))
            except (KeyError, TypeError, ValueError):
                pass
        out["derived"] = derived
        if thm.bound is not None and (T is not None or thm.horizon in v):
            Tv = np.asarray(T if T is not None else v[thm.horizon], dtype=float)
            out["bound"] = jsonable(self.bound_fn()(v, Tv))
        return out


def _harmonic(n, m=1):
    """Generalised harmonic number H_n^(m) for real n >= 0 (m = 1 or 2), vectorised."""
    from scipy.special import digamma, polygamma

    n = np.asarray(n, dtype=float)
    if m == 1:
        return digamma(n + 1) + np.euler_gamma
    if m == 2:
        return np.pi**2 / 6 - polygamma(1, n + 1)
    raise ValueError("harmonic numbers of order 1 or 2 only")


def all_hold(conds: list[dict[str, Any]]) -> bool:
    return all(c["holds"] for c in conds if c.get("gating", True))


def num(x: Any) -> Any:
    """Every number as numpy float64 (Python or numpy, int or float: 1/0 -> inf, 2**-1 -> 0.5, never
    ZeroDivisionError or 'Integers to negative integer powers'); sequences and int arrays as float arrays."""
    if isinstance(x, (list, tuple)):
        return np.asarray(x, dtype=float)
    if isinstance(x, np.ndarray):
        return x.astype(float) if x.dtype.kind in "iub" else x
    if isinstance(x, (numbers.Real, np.number)) and not isinstance(x, (bool, np.bool_)):
        return np.float64(x)
    return x


def jsonable(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return x.tolist() if x.ndim else float(x)
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, sp.Basic):
        try:
            return float(x)
        except TypeError:
            return str(x)
    if isinstance(x, dict):
        return {k: jsonable(v) for k, v in x.items()}
    return x
