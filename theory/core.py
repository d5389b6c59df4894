"""The objects every paper module builds: :class:`Citation`, :class:`Condition`, :class:`Recursion`
and :class:`Theorem`.

A theorem holds sympy objects (conditions as relations, the bound as an expression in the horizon
symbol ``T`` and the constants) plus the numeric machinery built from them:

- ``evaluate(values)``: every condition at the given values (holds, both sides, margin) and the bound;
- ``bound_fn()``: the bound as a vectorised numpy function (``lambdify``);
- ``solve(var, values)``: the largest value of one symbol for which every condition holds, the others
  fixed (a closed form where the module gives one, checked against the numeric search);
- ``free`` analysis constants (e.g. AsySVRG's ``beta``): the statement holds for *every* admissible
  value, so the evaluation picks the admissible value with the smallest bound, and says so.

Derived quantities (``definitions``) are kept as named symbols for display (``gamma = Gamma_0``) and
substituted for numerics.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import sympy as sp

from .errors import NotApplicable, TheoryError

__all__ = ["Citation", "Condition", "Recursion", "Theorem", "NotApplicable", "TheoryError", "sym"]


RTOL = 1e-12  # relative tolerance of non-strict relations when a run or a user's values are checked
INTEGER_SYMBOLS = ("Delta", "tau", "K", "N", "H", "b", "B", "M", "m", "workers", "d_wait", "s")


# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Citation:
    """Where a statement comes from: the seed file in ``../shared/papers``, section, equations."""

    seed: str
    section: str
    equations: str = ""
    source: str = ""  # the paper's own name for it ("Theorem 2.4.1", "Theorem 1 (AAAI)")
    also: str = ""    # a second source (e.g. the conference paper, or the notes' erratum)

    def short(self) -> str:
        eq = f", eqs. {self.equations}" if self.equations else ""
        return f"{self.seed} {self.section}{eq}"

    def text(self) -> str:
        out = f"{self.source}: " if self.source else ""
        out += self.short()
        if self.also:
            out += f"; also {self.also}"
        return out

    def to_dict(self) -> dict[str, str]:
        return {"seed": self.seed, "section": self.section, "equations": self.equations, "source": self.source,
                "also": self.also}


# --------------------------------------------------------------------------------------------------
@dataclass
class Condition:
    """One condition of a theorem, as a sympy relation (``<``, ``<=``, ``>``, ``>=``, ``Eq``).

    ``implicit``: used in the proof but not in the statement (the notes list them; a checker must
    enforce them all). ``per_layer``: the relation is vectorised over per-layer arrays and must hold
    for every layer.
    """

    name: str
    rel: sp.Basic
    doc: str = ""
    implicit: bool = False
    per_layer: bool = False
    gating: bool = True   # False: reported (e.g. a paper's 'equivalent' summary) but not required

    def text(self) -> str:
        return sp.sstr(self.rel)

    def pretty(self) -> str:
        return sp.pretty(self.rel, use_unicode=True)


@dataclass
class Recursion:
    """A recursion ``x[t] = step(x[t+1], t)`` (backward, from ``x[end] = start``) or forward, with
    its closed form where one exists. ``run(values, n)`` iterates it numerically; tests compare with
    ``closed(values, t)``."""

    name: str
    doc: str
    step: Callable[[float, Mapping[str, float]], float]
    start: Callable[[Mapping[str, float]], float]
    closed: Callable[[Mapping[str, float], int], float] | None = None
    backward: bool = True
    sympy_text: str = ""

    def run(self, values: Mapping[str, float], length: int) -> np.ndarray:
        """The sequence x[0..length] (backward recursions: x[length] = start, computed down to x[0])."""
        x = np.empty(length + 1)
        if self.backward:
            x[length] = self.start(values)
            for t in range(length - 1, -1, -1):
                x[t] = self.step(x[t + 1], values)
        else:
            x[0] = self.start(values)
            for t in range(length):
                x[t + 1] = self.step(x[t], values)
        return x


# --------------------------------------------------------------------------------------------------
@dataclass
class Theorem:
    """One statement of a paper, declared in one expression by its module.

    Groups of fields: what it is (id, title, citation, statement, paper, symbols, assumptions);
    the mathematics (conditions, definitions, bound, rate, horizon, free, solutions, recursions,
    extra_bounds, direction); how a run maps onto it (adapter, reads, measured, prepare,
    derived_inputs, guided, asymptotic_from, asymptotic_only); what the encoding says (errata, notes).
    ``reads``: the run parameters its adapter needs from every plugin that links it (the plugin
    registry checks they are declared); parameters read only when a plugin has them are not listed.
    ``asymptotic_only``: non-empty when the theorem's constants are not all known (an O(.) term with
    no constant): no verdict on runs, the text says why.
    """

    id: str
    title: str
    citation: Citation
    statement: str
    symbols: dict[str, str]                       # name -> meaning (inputs and derived)
    conditions: list[Condition]
    bound: sp.Expr | None                         # None: an O(.) statement without constants
    measured: str                                 # key of the measured quantity (see harness.theory.measures)
    measured_doc: str
    rate: sp.Expr                                 # in the horizon symbol, e.g. 1/T or rho**T
    horizon: str = "T"                            # the symbol the bound runs over
    horizon_doc: str = "iterations (updates applied)"
    assumptions: list[str] = field(default_factory=list)
    definitions: list[tuple[sp.Symbol, sp.Expr]] = field(default_factory=list)
    recursions: list[Recursion] = field(default_factory=list)
    free: dict[str, Callable[[Mapping[str, float]], Sequence[float]]] = field(default_factory=dict)
    solutions: dict[str, sp.Expr] = field(default_factory=dict)   # closed-form largest admissible values
    adapter: Callable[..., dict[str, Any]] | None = None
    # the plugin parameter (by the plugin's own name) -> the theorem symbol it is, or (symbol, f(symbol value,
    # adapter values) -> parameter value) when the parameter is not the symbol itself (large_batch: lr <- gamma)
    guided: dict[str, Any] = field(default_factory=dict)
    errata: str = ""
    notes: str = ""
    paper: str = ""
    extra_bounds: dict[str, sp.Expr] = field(default_factory=dict)  # e.g. the 'as printed' form
    prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # fills aggregates (e.g. per-layer sums)
    derived_inputs: tuple[str, ...] = ()   # inputs the prepare hook can derive from others (u0 <-> eta)
    direction: str = "upper"      # 'upper': measured <= bound; 'lower': a lower bound (not per-instance)
    asymptotic_from: float = 0.0  # check only points with horizon >= this fraction of the last (uncontrolled O() terms)
    reads: tuple[str, ...] = ()   # run parameters the adapter reads (eta, b, m, warm_epochs, ...)
    families: tuple[str, ...] = ()  # the algorithms (plugin families) it is about; () = any (reports plot only these)
    asymptotic_only: str = ""     # why no verdict is given on runs (an O(.) term without a constant)

    # -- which runs it judges ---------------------------------------------------------------------
    def about(self, family: str) -> bool:
        """Is this theorem about the algorithm ``family`` (a plugin's family: 'svrg', 'ddg', ...)? The
        one rule for which runs it judges (the checker: another family's run is ``not-applicable``),
        which runs a report plots against it, which theorem ``eta=theory`` may consult, and which
        plugins may link it (``harness._core.registry.link_problems``). ``families == ()``: any algorithm.
        A statement that also covers a special case of another algorithm (DDG with K = 1 module is
        SGD) is still about its own algorithm: the other algorithm's own theorems judge it."""
        return not self.families or family in self.families

    def not_about(self, family: str) -> str:
        """Why a run of ``family`` is not judged by this theorem ('' when it is)."""
        if self.about(family):
            return ""
        return (f"{self.id} is about {', '.join(self.families)}; this run's algorithm is {family or 'unnamed'} "
                "(a theorem judges only runs of the algorithms it is about)")

    # -- symbolic -------------------------------------------------------------------------------
    @property
    def T(self) -> sp.Symbol:
        return sp.Symbol(self.horizon, positive=True)

    def expand(self, expr: sp.Basic) -> sp.Basic:
        """Substitute the derived quantities (latest first, so definitions may use earlier ones)."""
        for sym, val in reversed(self.definitions):
            expr = expr.subs(sym, val)
        return expr

    def inputs(self) -> list[str]:
        """The symbols a user (or an adapter) must give: free symbols of the expanded conditions and bound."""
        names: set[str] = set()
        for c in self.conditions:
            names |= {s.name for s in self.expand(c.rel).free_symbols}
        if self.bound is not None:
            names |= {s.name for s in self.expand(self.bound).free_symbols}
        return sorted(names)

    # -- numeric ----------------------------------------------------------------------------------
    def _lambdify(self, expr: sp.Basic) -> tuple[Callable, list[str]]:
        cache = self.__dict__.setdefault("_cache", {})
        hit = cache.get(id(expr))
        if hit is None or hit[0] is not expr:
            e = self.expand(expr)
            syms = sorted(e.free_symbols, key=lambda s: s.name)
            fn = sp.lambdify(syms, e, modules=[{"floor": np.floor, "ceiling": np.ceil, "harmonic": _harmonic}, "scipy", "numpy"])
            hit = cache[id(expr)] = (expr, fn, [s.name for s in syms])
        return hit[1], hit[2]

    def value(self, expr: sp.Basic, values: Mapping[str, Any]) -> Any:
        fn, names = self._lambdify(expr)
        missing = [n for n in names if n not in values]
        if missing:
            raise KeyError(f"{self.id}: missing value(s) for {', '.join(missing)}")
        with np.errstate(all="ignore"):
            return fn(*[_num(values[n]) for n in names])

    def bound_fn(self) -> Callable[..., Any]:
        """``f(values, T)``: the bound at horizon(s) ``T`` (array ok) for the given values."""
        if self.bound is None:
            raise ValueError(f"{self.id} is an O(.) statement without constants: it has no bound curve")

        def f(values: Mapping[str, Any], T: Any) -> Any:
            v = dict(values)
            v[self.horizon] = np.asarray(T, dtype=float)
            return np.broadcast_to(self.value(self.bound, v), np.shape(v[self.horizon])).astype(float)

        return f

    def check_domain(self, values: Mapping[str, Any]) -> None:
        """Refuse a value outside its symbol's declared domain (a negative value for a positive or
        non-negative constant such as L, eta, b): raises :class:`TheoryError` with one line."""
        declared = {s.name: s for e in [*(c.rel for c in self.conditions), *([self.bound] if self.bound is not None else []),
                                        *(x for d in self.definitions for x in d)]
                    for s in getattr(e, "free_symbols", ())}
        for k, x in values.items():
            s = declared.get(k)
            if s is None or x is None or isinstance(x, str) or callable(x):
                continue
            try:
                arr = np.asarray(_num(x), dtype=float)
            except (TypeError, ValueError):
                continue
            if (s.is_positive or s.is_nonnegative) and np.any(arr < 0):
                raise TheoryError(f"{self.id}: {k} = {x} is outside its domain ({k} >= 0: {self.symbols.get(k, 'a non-negative constant')})")
            if np.any(np.isnan(arr)):
                raise TheoryError(f"{self.id}: {k} = {x} is not a number")

    def _relation(self, rel: sp.Basic, values: Mapping[str, Any], rtol: float):
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
        for c in self.conditions:
            rel = c.rel
            base = {"name": c.name, "relation": c.text(), "implicit": c.implicit, "doc": c.doc, "gating": c.gating}
            if isinstance(rel, sp.logic.boolalg.BooleanTrue):
                out.append({**base, "holds": True, "lhs": None, "rhs": None, "margin": None})
                continue
            try:
                ok, lhs, rhs, margin = self._relation(rel, values, rtol)
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

    def _prepared(self, values: Mapping[str, Any]) -> dict[str, Any]:
        v = {k: _num(x) if not k.startswith("_") else x for k, x in values.items()}
        return self.prepare(v) if self.prepare is not None else v

    def resolve_free(self, values: Mapping[str, Any], rtol: float = RTOL) -> dict[str, Any]:
        """Fill the free analysis constants not given: among candidate values, the one where all
        conditions hold with the smallest bound (at T = values[T] or 1); if none is admissible, the
        first candidate (the paper's default), so the failing condition is reported for it. The
        ``prepare`` hook runs for each candidate (a derived input such as u0 = eta L n^alpha / b may
        depend on the free constant)."""
        import itertools

        given = dict(values)
        todo = [k for k in self.free if given.get(k) is None]
        if not todo:
            return self._prepared(given)
        v0 = self._prepared(given)
        combos = list(itertools.product(*[list(self.free[k](v0)) for k in todo]))
        vectorise = not any(c.per_layer for c in self.conditions)
        Tv = given.get(self.horizon, 1.0)
        best = None
        if vectorise:
            cols = {k: np.asarray([c[i] for c in combos], dtype=float) for i, k in enumerate(todo)}
            trial = self._prepared({**given, **cols})
            ok = np.ones(len(combos), dtype=bool)
            for c in self.conditions:
                if not c.gating or isinstance(c.rel, sp.logic.boolalg.BooleanTrue):
                    continue
                r, _, _, _ = self._relation(c.rel, trial, rtol)
                ok &= np.broadcast_to(r, ok.shape)
            if ok.any():
                i = int(np.nonzero(ok)[0][0])
                if self.bound is not None:
                    with np.errstate(all="ignore"):
                        bv = np.broadcast_to(np.asarray(self.value(self.bound, {**trial, self.horizon: Tv}), dtype=float),
                                             ok.shape).copy()
                    bv[~ok | ~np.isfinite(bv)] = np.inf
                    i = int(np.argmin(bv))
                best = self._prepared({**given, **dict(zip(todo, combos[i]))})
        else:
            best_val = math.inf
            for combo in combos:
                trial = self._prepared({**given, **dict(zip(todo, combo))})
                if not _all_hold(self.check_conditions(trial, rtol)):
                    continue
                if self.bound is None:
                    best = trial
                    break
                bval = float(np.min(self.value(self.bound, {**trial, self.horizon: Tv})))
                if np.isfinite(bval) and bval < best_val:
                    best, best_val = trial, bval
        if best is None:
            best = self._prepared({**given, **dict(zip(todo, combos[0]))})
        chosen = {k: float(best[k]) for k in todo}
        chosen.update({k: float(best[k]) for k in self.derived_inputs if given.get(k) is None and best.get(k) is not None})
        best["_free_chosen"] = chosen
        return best

    def evaluate(self, values: Mapping[str, Any], T: Any = None) -> dict[str, Any]:
        self.check_domain(values)
        v = self.resolve_free(values)
        conds = self.check_conditions(v)
        out: dict[str, Any] = {"theorem": self.id, "values": {k: _jsonable(x) for k, x in v.items() if not k.startswith("_")},
                               "free_chosen": v.get("_free_chosen", {}), "conditions": conds,
                               "all_hold": _all_hold(conds)}
        derived = {}
        for s, _ in self.definitions:
            try:
                derived[s.name] = _jsonable(self.value(s, v))
            except (KeyError, TypeError, ValueError):
                pass
        out["derived"] = derived
        if self.bound is not None and (T is not None or self.horizon in v):
            Tv = np.asarray(T if T is not None else v[self.horizon], dtype=float)
            out["bound"] = _jsonable(self.bound_fn()(v, Tv))
        return out

    # -- solving ----------------------------------------------------------------------------------
    def admissible(self, values: Mapping[str, Any], rtol: float = RTOL) -> bool:
        v = self.resolve_free(values, rtol)
        return _all_hold(self.check_conditions(v, rtol))

    def solve(self, var: str, values: Mapping[str, Any], *, lo: float | None = None, hi: float | None = None,
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
        self.check_domain(values)
        if integer is None:
            integer = var in INTEGER_SYMBOLS
        lo = lo if lo is not None else (0.0 if integer else 1e-12)
        hi = hi if hi is not None else (1e7 if integer else 1e6)

        def ok(x: float) -> bool:
            return self.admissible({**values, var: x}, rtol=0.0)

        if integer:
            grid = np.unique(np.concatenate([np.arange(int(lo), min(int(hi), int(lo) + 64) + 1),
                                             np.round(np.geomspace(max(lo, 1), hi, 200))])).astype(float)
        else:
            grid = np.geomspace(lo, hi, 96)
        flags = np.array([ok(x) for x in grid])
        result: dict[str, Any] = {"theorem": self.id, "for": var, "given": {k: _jsonable(x) for k, x in values.items()}}
        closed = None
        if var in self.solutions:
            try:
                sup = float(self.value(self.solutions[var], self.resolve_free({**values, var: grid[0]})))
                closed = sup
                result["closed_form"] = sp.sstr(self.solutions[var])
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
                          failing=[c for c in self.evaluate({**values, var: grid[0]})["conditions"]
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
            conds = self.check_conditions(self.resolve_free({**values, var: above}, 0.0), 0.0)
            result["binding"] = [c["name"] for c in conds if c["gating"] and not c["holds"]]
        else:
            result["binding"] = []
            result["note"] = f"admissible up to the search limit {hi:g}"
        result["free_chosen"] = self.resolve_free({**values, var: a}).get("_free_chosen", {})
        return result

    def rate_factor(self) -> sp.Expr | None:
        """The factor of the bound that a step size trades off, when the bound has the form
        factor x rate: ``rho`` for a geometric rate ``rho**T`` (the contraction factor), else
        ``bound / rate`` when it does not depend on the horizon (AsySVRG's F0/(T gamma) over 1/T is
        F0/gamma). None when the bound mixes horizons (e.g. Lemma 1's (D_f/S + ...)/(...)): no
        single factor to minimise."""
        cache = self.__dict__.setdefault("_cache", {})
        if "rate_factor" not in cache:
            out = None
            if self.bound is not None and self.direction == "upper":
                r = self.rate
                if r.is_Pow and r.exp == self.T:
                    out = r.base
                else:
                    q = sp.simplify(self.bound / r)
                    out = None if self.T in self.expand(q).free_symbols else q
            cache["rate_factor"] = out
        return cache["rate_factor"]

    def solve_best_rate(self, var: str, values: Mapping[str, Any], largest: dict[str, Any] | None = None) -> dict[str, Any]:
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
        res = dict(largest) if largest is not None else self.solve(var, values)
        fac = self.rate_factor()
        x_max = res.get("value")
        integer = var in INTEGER_SYMBOLS
        if x_max is None or fac is None or integer or x_max <= 0:
            res.setdefault("policy", "largest admissible value, other parameters fixed"
                           + ("" if fac is not None or x_max is None else " (the bound has no single rate factor)"))
            return res

        def factor(x: float) -> float:
            v = self.resolve_free({**values, var: x})
            if not _all_hold(self.check_conditions(v, 0.0)):
                return math.inf
            with np.errstate(all="ignore"):
                f = float(np.max(np.asarray(self.value(fac, v), dtype=float)))
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
        conds = self.check_conditions(self.resolve_free({**values, var: x}, 0.0), 0.0)
        res.update(value=float(x), rate_factor=f, binding=[],
                   margins={c["name"]: c.get("relative_margin") for c in conds if c["gating"]},
                   free_chosen=self.resolve_free({**values, var: x}).get("_free_chosen", {}),
                   policy=f"the admissible value with the smallest rate factor {sp.sstr(fac)} "
                          f"({f:.4g}; {_f_or_none(fs[-1]) or math.inf:.4g} at the largest admissible {x_max:.4g})")
        return res

    # -- description ------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "paper": self.paper, "citation": self.citation.to_dict(),
            "citation_text": self.citation.text(), "measured": self.measured, "measured_doc": self.measured_doc,
            "rate": str(self.rate), "horizon": self.horizon, "bound": None if self.bound is None else sp.sstr(self.bound),
            "conditions": [{"name": c.name, "relation": c.text(), "implicit": c.implicit, "per_layer": c.per_layer,
                            "doc": c.doc} for c in self.conditions],
            "definitions": {s.name: sp.sstr(e) for s, e in self.definitions},
            "inputs": self.inputs(), "symbols": self.symbols, "assumptions": self.assumptions,
            "free": sorted(self.free), "solutions": {k: sp.sstr(v) for k, v in self.solutions.items()},
            "extra_bounds": {k: sp.sstr(v) for k, v in self.extra_bounds.items()},
            "recursions": [{"name": r.name, "doc": r.doc, "closed_form": r.sympy_text} for r in self.recursions],
            "errata": self.errata, "notes": self.notes, "statement": self.statement,
            "checkable": self.adapter is not None and not self.asymptotic_only,
            "asymptotic_only": self.asymptotic_only, "reads": list(self.reads), "families": list(self.families),
        }

    def show(self) -> str:
        """The statement in readable math (sympy's unicode pretty printer)."""
        lines = [f"{self.id}: {self.title}", f"  {self.citation.text()}", "", self.statement.strip(), ""]
        if self.assumptions:
            lines += ["Assumptions:"] + [f"  - {a}" for a in self.assumptions] + [""]
        if self.definitions:
            lines.append("Definitions:")
            for s, e in self.definitions:
                lines.append(_indent(sp.pretty(sp.Eq(s, e, evaluate=False), use_unicode=True), f"  "))
            lines.append("")
        lines.append("Conditions:")
        for c in self.conditions:
            tag = " [implicit in the proof]" if c.implicit else ""
            tag += " [for every layer k]" if c.per_layer else ""
            lines.append(f"  ({c.name}){tag}")
            lines.append(_indent(c.pretty(), "      "))
            if c.doc:
                lines.append(f"      {c.doc}")
        lines.append("")
        if self.bound is not None:
            lines.append(f"Bound on {self.measured_doc} after {self.horizon} = {self.horizon_doc}:")
            lines.append(_indent(sp.pretty(self.bound, use_unicode=True), "  "))
        else:
            lines.append(f"Bound: an O(.) statement without constants on {self.measured_doc}.")
        for k, e in self.extra_bounds.items():
            lines.append(f"{k}:")
            lines.append(_indent(sp.pretty(e, use_unicode=True), "  "))
        lines.append(f"Rate: {sp.sstr(self.rate)}   (in {self.horizon})")
        if self.asymptotic_only:
            lines.append(f"Asymptotic only (no verdict on runs): {self.asymptotic_only}")
        if self.reads:
            lines.append(f"A linked plugin's parameters it reads: {', '.join(self.reads)}")
        if self.recursions:
            lines.append("")
            lines.append("Recursions:")
            for r in self.recursions:
                lines.append(f"  {r.name}: {r.doc}")
                if r.sympy_text:
                    lines.append(f"    closed form: {r.sympy_text}")
        if self.errata:
            lines += ["", "Errata / what is encoded:", _indent(self.errata.strip(), "  ")]
        if self.notes:
            lines += ["", "Notes:", _indent(self.notes.strip(), "  ")]
        return "\n".join(lines)


def _harmonic(n, m=1):
    """Generalised harmonic number H_n^(m) for real n >= 0 (m = 1 or 2), vectorised."""
    from scipy.special import digamma, polygamma

    n = np.asarray(n, dtype=float)
    if m == 1:
        return digamma(n + 1) + np.euler_gamma
    if m == 2:
        return np.pi**2 / 6 - polygamma(1, n + 1)
    raise ValueError("harmonic numbers of order 1 or 2 only")


def _f_or_none(x: Any) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _all_hold(conds: list[dict[str, Any]]) -> bool:
    return all(c["holds"] for c in conds if c.get("gating", True))


def _indent(text: str, pad: str) -> str:
    return "\n".join(pad + line for line in text.splitlines())


def _num(x: Any) -> Any:
    """Every number as numpy float64 (Python or numpy, int or float: 1/0 -> inf, 2**-1 -> 0.5, never
    ZeroDivisionError or 'Integers to negative integer powers'); sequences and int arrays as float arrays."""
    if isinstance(x, (list, tuple)):
        return np.asarray(x, dtype=float)
    if isinstance(x, np.ndarray):
        return x.astype(float) if x.dtype.kind in "iub" else x
    if isinstance(x, (numbers.Real, np.number)) and not isinstance(x, (bool, np.bool_)):
        return np.float64(x)
    return x


def _jsonable(x: Any) -> Any:
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
        return {k: _jsonable(v) for k, v in x.items()}
    return x


def sym(names: str, **kw) -> Any:
    """Positive real symbols by default (all constants of these theorems are positive)."""
    kw.setdefault("positive", True)
    return sp.symbols(names, **kw)
