"""A theorem's statement as frozen data: :class:`Citation`, :class:`Condition`, :class:`Recursion`
and :class:`Theorem`.

A :class:`Theorem` holds sympy objects only (conditions as relations, the bound as an expression in
the horizon symbol and the constants) and what it is about; the numbers come from
:mod:`.numerics` (evaluate, conditions, free constants), :mod:`.solving` (solve, best rate) and the
text from :mod:`.present` (show, JSON). The thin methods below delegate to them, computed once per
theorem (:func:`.numerics.numerics` caches the lambdified expressions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import sympy as sp

__all__ = ["Paper", "Citation", "Condition", "Recursion", "Theorem", "sym", "INTEGER_SYMBOLS"]

from .numerics import INTEGER_SYMBOLS  # noqa: F401 - re-exported: the symbols solved as integers


@dataclass(frozen=True)
class Paper:
    """A publication: ``authors`` ("Zhouyuan Huo & Heng Huang": full names, comma-separated, the last
    after " & "), ``title``, ``venue`` (journal, proceedings,
    "PhD thesis, University of Pittsburgh"), ``year``. ``cite(...)`` places a statement in it."""

    authors: str
    title: str
    venue: str
    year: int

    def reference(self) -> str:
        """``Authors (year). Title. Venue.`` (the bibliography entry)."""
        return f"{self.authors} ({self.year}). {self.title}. {self.venue}."

    def cite(self, section: str, equations: str = "", theorem: str = "", also: str = "") -> "Citation":
        return Citation(self, section, theorem, equations, also)


@dataclass(frozen=True)
class Citation:
    """Where a statement comes from: the :class:`Paper`, the place in it (``section``, the paper's
    own name ``theorem`` such as "Theorem 2.4.1", ``equations``) and a second source (``also``: the
    conference version of the same result), cited by authors, venue and year, never by a file."""

    paper: Paper
    section: str
    theorem: str = ""
    equations: str = ""
    also: str = ""

    def short(self) -> str:
        """``Huo 2020, Theorem 2.4.1 (Sec. 2.4.2), eqs. (2.34)-(2.45)``."""
        last = [a.split()[-1] for a in self.paper.authors.replace(" & ", ", ").split(", ")]
        who = last[0] if len(last) == 1 else (" & ".join(last) if len(last) == 2 else f"{last[0]} et al.")
        what = self.section if not self.theorem or self.theorem in self.section else f"{self.theorem} ({self.section})"
        one = re.fullmatch(r"\([^()]*\)", self.equations.strip())  # "(4.28)": eq., not eqs.
        eq = f", {'eq.' if one else 'eqs.'} {self.equations}" if self.equations else ""
        return f"{who} {self.paper.year}, {what}{eq}"

    def text(self) -> str:
        """The place and the reference; the second source after it."""
        out = f"{self.short()}. {self.paper.reference()}"
        return out + (f" Also: {self.also}." if self.also else "")

    def to_dict(self) -> dict[str, Any]:
        return {"authors": self.paper.authors, "title": self.paper.title, "venue": self.paper.venue,
                "year": self.paper.year, "section": self.section, "theorem": self.theorem,
                "equations": self.equations, "also": self.also}


@dataclass(frozen=True)
class Condition:
    """One condition of a theorem, as a sympy relation (``<``, ``<=``, ``>``, ``>=``, ``Eq``).

    ``implicit``: used in the proof but not in the statement (a checker must enforce them all).
    ``per_layer``: the relation is vectorised over per-layer arrays and must hold for every layer.
    ``gating``: False for a condition that is reported (e.g. a paper's 'equivalent' summary, a
    non-vacuity limit) but not required for a verdict.
    """

    name: str
    rel: sp.Basic
    doc: str = ""
    implicit: bool = False
    per_layer: bool = False
    gating: bool = True

    def text(self) -> str:
        return sp.sstr(self.rel)

    def pretty(self) -> str:
        from .present import pretty

        return pretty(self.rel)


@dataclass(frozen=True)
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


@dataclass(frozen=True, eq=False)
class Theorem:
    """One statement of a paper, declared in one expression.

    What it is: ``id``, ``title``, ``citation``, ``statement`` (the text), ``symbols`` (name ->
    meaning; the domain is the sympy symbol's: ``sym`` makes positive symbols), ``assumptions``.
    The mathematics: ``conditions``, ``definitions`` (derived quantities, substituted for numerics),
    ``bound`` (an expression in ``horizon``; None for an O(.) statement without constants), ``rate``,
    ``free`` (analysis constants the statement holds for every admissible value of: name ->
    candidates), ``solutions`` (closed-form largest admissible values), ``recursions``,
    ``extra_bounds``, ``direction`` ('upper' or 'lower'). What it bounds: ``measured`` (a key of
    :mod:`.measures`) and ``measured_doc``. Which runs it judges: ``families`` (the plugin families
    it is about; () = any) and ``judges`` (one line: the conditions on the run, e.g. 'single-
    coordinate writes'). How a run maps onto it: ``runmap`` (a :class:`~.runmap.RunMap`; None for a
    statement evaluated but never checked on runs). ``asymptotic_only``: why no verdict is given on
    runs (an O(.) term without a constant).
    """

    id: str
    title: str
    citation: Citation
    statement: str
    symbols: Mapping[str, str]
    conditions: Sequence[Condition]
    bound: sp.Expr | None
    measured: str
    measured_doc: str
    rate: sp.Expr
    horizon: str = "T"
    horizon_doc: str = "iterations (updates applied)"
    assumptions: Sequence[str] = ()
    definitions: Sequence[tuple[sp.Symbol, sp.Expr]] = ()
    recursions: Sequence[Recursion] = ()
    free: Mapping[str, Callable[[Mapping[str, float]], Sequence[float]]] = field(default_factory=dict)
    solutions: Mapping[str, sp.Expr] = field(default_factory=dict)
    runmap: Any = None
    errata: str = ""
    notes: str = ""
    extra_bounds: Mapping[str, sp.Expr] = field(default_factory=dict)
    prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # fills aggregates (e.g. per-layer sums)
    derived_inputs: tuple[str, ...] = ()   # inputs the prepare hook can derive from others (u0 <-> eta)
    direction: str = "upper"
    asymptotic_from: float = 0.0  # check only points with horizon >= this fraction of the last (uncontrolled O() terms)
    families: tuple[str, ...] = ()
    judges: str = ""
    asymptotic_only: str = ""
    # names in INTEGER_SYMBOLS that this theorem uses for a real constant (a variance bound M, N = 2 E||...||^2):
    # not counts, so neither solved in integers nor refused with a fraction (numerics.is_count)
    real_symbols: tuple[str, ...] = ()

    # -- which runs it judges ---------------------------------------------------------------------
    def about(self, family: str) -> bool:
        """Is this theorem about the algorithm ``family`` (a plugin's family)? The one rule for which
        runs it judges (another family's run is ``not-applicable``), which runs a report plots
        against it, which theorem ``eta=theory`` may consult, and which plugins may link it without
        saying so (``PluginSpec.covers``). ``families == ()``: any algorithm."""
        return not self.families or family in self.families

    def not_about(self, family: str) -> str:
        """Why a run of ``family`` is not judged by this theorem ('' when it is)."""
        if self.about(family):
            return ""
        return (f"{self.id} is about {', '.join(self.families)}; this run's algorithm is {family or 'unnamed'} "
                "(a theorem judges only runs of the algorithms it is about)")

    @property
    def reads(self) -> tuple[str, ...]:
        """The applied parameters a linked plugin must declare and report (the run map's)."""
        return self.runmap.required_applied() if self.runmap is not None else ()

    @property
    def checkable(self) -> bool:
        return self.runmap is not None and not self.asymptotic_only

    # -- symbolic -------------------------------------------------------------------------------
    @property
    def T(self) -> sp.Symbol:
        return sp.Symbol(self.horizon, positive=True)

    def expand(self, expr: sp.Basic) -> sp.Basic:
        """Substitute the derived quantities (latest first, so definitions may use earlier ones)."""
        for s, val in reversed(self.definitions):
            expr = expr.subs(s, val)
        return expr

    def inputs(self) -> list[str]:
        """The symbols a user (or the run map) must give: free symbols of the expanded conditions and bound."""
        names: set[str] = set()
        for c in self.conditions:
            names |= {s.name for s in self.expand(c.rel).free_symbols}
        if self.bound is not None:
            names |= {s.name for s in self.expand(self.bound).free_symbols}
        return sorted(names)

    def declared_symbols(self) -> dict[str, sp.Symbol]:
        """Every sympy symbol the statement uses (conditions, bound, definitions, solutions), by name."""
        exprs = [*(c.rel for c in self.conditions), *([self.bound] if self.bound is not None else []),
                 *(x for d in self.definitions for x in d), *self.solutions.values()]
        return {s.name: s for e in exprs for s in getattr(e, "free_symbols", ())}

    # -- numbers and text (delegated; see the module docstring) -----------------------------------
    def _num(self):
        from .numerics import numerics

        return numerics(self)

    def value(self, expr: sp.Basic, values: Mapping[str, Any]) -> Any:
        return self._num().value(expr, values)

    def bound_fn(self) -> Callable[..., Any]:
        return self._num().bound_fn()

    def check_domain(self, values: Mapping[str, Any]) -> None:
        self._num().check_domain(values)

    def check_conditions(self, values: Mapping[str, Any], rtol: float | None = None) -> list[dict[str, Any]]:
        return self._num().check_conditions(values, *(() if rtol is None else (rtol,)))

    def resolve_free(self, values: Mapping[str, Any], rtol: float | None = None) -> dict[str, Any]:
        return self._num().resolve_free(values, *(() if rtol is None else (rtol,)))

    def evaluate(self, values: Mapping[str, Any], T: Any = None) -> dict[str, Any]:
        return self._num().evaluate(values, T)

    def admissible(self, values: Mapping[str, Any], rtol: float | None = None) -> bool:
        return self._num().admissible(values, *(() if rtol is None else (rtol,)))

    def solve(self, var: str, values: Mapping[str, Any], **kw: Any) -> dict[str, Any]:
        from .solving import solve

        return solve(self._num(), var, values, **kw)

    def solve_best_rate(self, var: str, values: Mapping[str, Any], largest: dict[str, Any] | None = None) -> dict[str, Any]:
        from .solving import solve_best_rate

        return solve_best_rate(self._num(), var, values, largest)

    def rate_factor(self) -> sp.Expr | None:
        from .solving import rate_factor

        return rate_factor(self._num())

    def summary(self) -> dict[str, Any]:
        from .present import summary

        return summary(self)

    def show(self) -> str:
        from .present import show

        return show(self)


def sym(names: str, **kw) -> Any:
    """Positive real symbols by default (all constants of these theorems are positive)."""
    kw.setdefault("positive", True)
    return sp.symbols(names, **kw)
