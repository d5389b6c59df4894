"""The checks a theorem must pass before it judges anything (``harness check-theorem``).

:func:`check_theorem` returns one :class:`Check` per check, each passed, failed or skipped with a
one-line detail:

- ``symbols``: every symbol of the statement (conditions, bound; definitions substituted) has a
  meaning in ``symbols`` and a domain (a sympy assumption: ``sym`` makes positive symbols);
- ``satisfiable``: a witness point where every gating condition holds (found by a seeded search:
  random log-uniform points, each step-like symbol also shrunk by powers of 10), printed; and a
  point where some condition fails (the conditions are not always true); a condition that is true for
  every value its symbols' domains allow (``eta > 0`` for a positive ``eta``) fails, named: it
  restricts nothing, so either the domain already says it or it is not the condition the paper means;
- ``bound``: positive and finite at the witness for horizons 1..10^6;
- ``solve``: for every symbol with a closed form or that ``=theory`` chooses, ``solve`` at the
  witness gives a value that satisfies the conditions, and 1% past it (the next integer) does not; a
  closed form puts the condition it solves at its edge;
- ``rate``: where the declared rate does not grow (1/T, rho^T, a constant), the bound does not grow
  with the horizon either; where the rate depends on the horizon, the bound contains it (a bound
  constant in T cannot decay like 1/T);
- ``runmap``: the run map supplies every input symbol that is not free, derived or the horizon, and
  every workload constant it reads (``Constant("L")``) is one some registered workload declares
  (``WorkloadSpec(constants=...)``; ``harness list workloads NAME`` lists them);
- ``planted``: synthetic seeds inside the conditions whose measured curve sits at 2x the bound are
  ``violated`` and at 0.5x ``holds``, through the real checker (:func:`~.checker.judge`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Collection

import numpy as np
import sympy as sp

from .errors import TheoryError
from .numerics import all_hold, is_count, numerics
from .statement import Theorem

SEARCH = 600      # random points tried for a witness
HORIZONS = np.unique(np.round(np.geomspace(1, 1e6, 25)))


@dataclass
class Check:
    theorem: str
    check: str
    ok: bool | None     # None: skipped (the detail says why)
    detail: str


def check_theorem(thm: Theorem, seed: int = 0, constants: Collection[str] | None = None) -> list[Check]:
    """Every check on ``thm``. ``constants``: the workload constant names a run map may read (default:
    those the registered workloads declare, :func:`~.registry.workload_constants`)."""
    out = [_symbols(thm)]
    witness, failing = _search(thm, seed)
    trivial = [c for c in thm.conditions if _always_true(thm, c)]
    if trivial:
        out.append(Check(thm.id, "satisfiable", False, "; ".join(
            f"'{c.name}' is true for every value the domains of {', '.join(sorted(s.name for s in c.rel.free_symbols)) or 'its symbols'} "
            "allow: it restricts nothing (the symbols' domains say it already: drop it, or write the condition meant)"
            for c in trivial)))
    elif witness is None:
        out.append(Check(thm.id, "satisfiable", False, "no point found where every gating condition holds "
                         f"({SEARCH} seeded random points, step-like symbols shrunk)"))
    elif failing is None and all(isinstance(c.rel, sp.logic.boolalg.BooleanTrue) for c in thm.conditions if c.gating):
        out.append(Check(thm.id, "satisfiable", True, f"no condition beyond the symbols' domains (witness {_fmt(witness)})"))
    elif failing is None:
        out.append(Check(thm.id, "satisfiable", False, "the conditions held at every point tried: they are "
                         f"always true (witness {_fmt(witness)})"))
    else:
        out.append(Check(thm.id, "satisfiable", True, f"witness {_fmt(witness)}"))
    for fn in (_bound, _solve, _rate):
        out.append(fn(thm, witness))
    out.append(_runmap(thm, witness, constants))
    out.append(_planted(thm, witness))
    return out


# -- checks -------------------------------------------------------------------------------------------
def _symbols(thm: Theorem) -> Check:
    syms = thm.declared_symbols()
    derived = {s.name for s, _ in thm.definitions}
    inputs = set(thm.inputs()) | {thm.horizon}
    undeclared = sorted(n for n in inputs if n not in thm.symbols)
    no_domain = sorted(n for n in inputs - derived if n in syms and not _has_domain(syms[n]))
    if undeclared or no_domain:
        return Check(thm.id, "symbols", False, "; ".join(
            ([f"no meaning declared in symbols for {', '.join(undeclared)}"] if undeclared else [])
            + ([f"no domain (a sympy assumption such as positive=True) for {', '.join(no_domain)}"] if no_domain else [])))
    return Check(thm.id, "symbols", True, f"{len(inputs)} symbols, each with a meaning and a domain")


def _bound(thm: Theorem, w: dict | None) -> Check:
    if thm.bound is None:
        return Check(thm.id, "bound", None, "an O(.) statement without constants: no bound")
    if w is None:
        return Check(thm.id, "bound", None, "no witness point")
    nm = numerics(thm)
    v = nm.resolve_free(w)
    b = np.asarray(nm.bound_fn()(v, HORIZONS), dtype=float)
    bad = ~np.isfinite(b) | (b < 0) | (b[0] <= 0)   # a geometric bound may underflow to 0 at large horizons
    if bad.any():
        i = int(np.argmax(bad))
        return Check(thm.id, "bound", False, f"the bound is {b[i]:.4g} at {thm.horizon} = {HORIZONS[i]:g} "
                     "inside the conditions (must be positive and finite)")
    return Check(thm.id, "bound", True, f"positive and finite for {thm.horizon} in [1, 1e6] "
                 f"({b[0]:.4g} .. {b[-1]:.4g})")


def _solve(thm: Theorem, w: dict | None) -> Check:
    vars_ = list(thm.solutions) + [s for p in (thm.runmap.theory if thm.runmap else {}) for s in
                                   [thm.runmap.symbol_for(p)[0]] if s not in thm.solutions]
    if not vars_:
        return Check(thm.id, "solve", None, "no symbol to solve for (no closed form, no =theory parameter)")
    if w is None:
        return Check(thm.id, "solve", None, "no witness point")
    nm = numerics(thm)
    done = []
    for var in vars_:
        try:
            res = thm.solve(var, {k: x for k, x in w.items() if k != var})
        except (TheoryError, KeyError, TypeError, ValueError) as exc:
            return Check(thm.id, "solve", False, f"solve --for {var} fails at the witness: {exc}")
        x = res.get("value")
        if x is None:
            return Check(thm.id, "solve", False, f"solve --for {var}: {res.get('reason')}")
        if not nm.admissible({**w, var: x}, rtol=0.0):
            return Check(thm.id, "solve", False, f"solve --for {var} gives {x:.6g}, where the conditions do not hold")
        sup = res.get("closed_form_sup")
        if sup is not None and np.isfinite(sup):   # the supremum for the condition it solves: that one is tight there
            conds = nm.check_conditions(nm.resolve_free({**w, var: sup}), 0.0)
            tight = [c for c in conds if c["gating"] and c.get("relative_margin") is not None
                     and abs(c["relative_margin"]) < 1e-6]
            if not tight:
                return Check(thm.id, "solve", False, f"the closed form {var} = {res['closed_form']} gives {sup:.6g}, "
                             "which lands outside the conditions: no condition is at its edge there (the largest "
                             f"admissible value is {x:.6g})")
        if res.get("note"):   # admissible up to the search limit: no edge to step past
            done.append(f"{var} <= {x:.4g} ({res['note']})")
            continue
        past = x + 1 if is_count(thm, var) else x * 1.01
        if nm.admissible({**w, var: past}, rtol=0.0):
            return Check(thm.id, "solve", False, f"solve --for {var} gives {x:.6g}, but {past:.6g} (past it) "
                         "satisfies the conditions too: not the largest admissible value")
        done.append(f"{var} = {x:.4g}")
    return Check(thm.id, "solve", True, "round-trips: " + ", ".join(done))


def _rate(thm: Theorem, w: dict | None) -> Check:
    if thm.bound is not None and thm.T in thm.expand(thm.rate).free_symbols \
            and thm.horizon not in {s.name for s in thm.expand(thm.bound).free_symbols}:
        return Check(thm.id, "rate", False, f"the declared rate {thm.rate} depends on {thm.horizon} but the bound "
                     f"{thm.bound} does not contain {thm.horizon}: it cannot decay as declared")
    if thm.bound is None or w is None:
        return Check(thm.id, "rate", None, "no bound" if thm.bound is None else "no witness point")
    nm = numerics(thm)
    v = nm.resolve_free(w)
    b = np.asarray(nm.bound_fn()(v, HORIZONS), dtype=float)
    with np.errstate(all="ignore"):
        r = np.asarray(nm.value(thm.rate, {**v, thm.horizon: HORIZONS}), dtype=float) * np.ones_like(HORIZONS)
    if not np.all(np.isfinite(r)):
        return Check(thm.id, "rate", None, f"the rate {thm.rate} is not finite at the witness")
    if np.any(np.diff(r) > 1e-9 * np.abs(r[:-1])):
        return Check(thm.id, "rate", None, f"the declared rate {thm.rate} grows with {thm.horizon}: nothing to compare")
    grows = np.diff(b) > 1e-9 * np.abs(b[:-1])
    if grows.any():
        i = int(np.argmax(grows))
        return Check(thm.id, "rate", False, f"the declared rate {thm.rate} does not grow but the bound grows with "
                     f"{thm.horizon}: {b[i]:.4g} at {HORIZONS[i]:g} -> {b[i + 1]:.4g} at {HORIZONS[i + 1]:g}")
    return Check(thm.id, "rate", True, f"the bound does not grow over {thm.horizon} in [1, 1e6], as its rate {thm.rate}")


def _runmap(thm: Theorem, w: dict | None, constants: Collection[str] | None = None) -> Check:
    if thm.runmap is None:
        return Check(thm.id, "runmap", None, "no run map: evaluated, not checked on runs")
    exempt = set(thm.free) | set(thm.derived_inputs) | {thm.horizon}
    missing = sorted(set(thm.inputs()) - exempt - thm.runmap.covers())
    if missing:
        return Check(thm.id, "runmap", False, f"the run map supplies no value for {', '.join(missing)}")
    if constants is None:
        from .registry import workload_constants

        constants = workload_constants()
    unknown = sorted(set(thm.runmap.constant_keys()) - set(constants)) if constants else []
    if unknown:
        return Check(thm.id, "runmap", False, f"the run map reads workload constant(s) {', '.join(unknown)}, which no "
                     f"registered workload provides (they provide {', '.join(sorted(constants))})")
    return Check(thm.id, "runmap", True, f"covers {', '.join(sorted(set(thm.inputs()) - exempt))}"
                 + ("" if constants else " (no registered workload declares its constants: the constants read are not checked)"))


def _planted(thm: Theorem, w: dict | None) -> Check:
    from .checker import judge
    from .measures import MEASURES

    if thm.runmap is None or thm.bound is None or thm.direction != "upper" or thm.asymptotic_only:
        return Check(thm.id, "planted", None, "not judged on runs")
    if w is None:
        return Check(thm.id, "planted", None, "no witness point")
    if thm.measured not in MEASURES:
        return Check(thm.id, "planted", False, f"measured quantity '{thm.measured}' has no measure for runs")
    got = {}
    for factor, want in ((2.0, "violated"), (0.5, "holds")):
        runs, meta = synthetic_runs(thm, w, factor)
        got[factor] = judge(thm, runs, meta)
        if got[factor].verdict != want:
            return Check(thm.id, "planted", False, f"a planted curve at {factor:g}x the bound is "
                         f"'{got[factor].verdict}', not '{want}': {got[factor].reason}")
    return Check(thm.id, "planted", True, "2x the bound: violated; 0.5x: holds (5 synthetic seeds, 1% spread)")


# -- helpers ------------------------------------------------------------------------------------------
def synthetic_runs(thm: Theorem, w: dict, factor: float, seeds: int = 5):
    """Seeds whose measured quantity (as :mod:`.measures` computes it from their points) is ``factor``
    x the bound at the witness ``w``, times 1 + 1% noise per seed; with the :class:`Mapped` to judge them."""
    from .facts import RunFacts
    from .measures import running_mean
    from .runmap import Mapped

    nm = numerics(thm)
    x = np.unique(np.round(np.geomspace(1, 1000, 30)))
    target = factor * np.asarray(nm.bound_fn()(nm.resolve_free(w), x), dtype=float)
    rng = np.random.default_rng(0)
    round_len = 10.0
    weights = (lambda t: 1.0 / (1.0 + np.asarray(t, dtype=float)))
    meta = Mapped(inputs=dict(w), round_updates=round_len, schedule=weights)
    name = thm.measured
    runs = []
    for s in range(seeds):
        tgt = target * (1 + 0.01 * rng.standard_normal(len(x)))
        if name.endswith("_by_round"):
            metric = name.removesuffix("_by_round")
            pts = [{"updates": float(xi * round_len), metric: float(y)} for xi, y in zip(x, tgt)]
        elif name in ("running_mean_grad_norm_sq", "running_mean_G", "weighted_mean_grad_norm_sq"):
            xs = np.concatenate([[0.0], x])
            wts = weights(xs) if name.startswith("weighted") else np.ones_like(xs)
            ys = _inverse_running_mean(xs, tgt, wts)
            assert np.allclose(running_mean(xs, ys, wts)[1], tgt, rtol=1e-6)
            pts = [{"updates": float(a), "grad_norm_sq": float(b)} for a, b in zip(xs, ys)]
        else:
            pts = [{"updates": float(a), name: float(b)} for a, b in zip(x, tgt)]
        # planted curves, not runs: no iterates, so nothing for the trajectory audit to contradict or miss
        runs.append(RunFacts(plugin="planted", family=(thm.families or ("",))[0], backend="serial", workload="planted",
                             workers=1, seed=s, status="done", params={}, constants={}, points=tuple(pts),
                             group="planted", info={"audit": {"status": "audited", "planted": True}}))
    return runs, meta


def _inverse_running_mean(x: np.ndarray, target: np.ndarray, w: np.ndarray) -> np.ndarray:
    """y with the trapezoid weighted running mean of y over x (from x[0] = 0) equal to ``target`` at x[1:]."""
    segw = 0.5 * (w[1:] + w[:-1]) * np.diff(x)
    den = np.cumsum(segw)
    num = target * den
    y = np.empty(len(x))
    y[0] = target[0]
    prev = 0.0
    for k in range(1, len(x)):
        seg = num[k - 1] - prev
        y[k] = (2 * seg / (x[k] - x[k - 1]) - w[k - 1] * y[k - 1]) / w[k]
        prev = num[k - 1]
    return y


def _always_true(thm: Theorem, c) -> bool:
    """Whether condition ``c`` holds for every value its symbols' domains allow: sympy reduced it to
    True when it was built, or the sign of lhs - rhs follows from the symbols' assumptions alone."""
    rel = thm.expand(c.rel)
    if rel is sp.true:
        return True
    op = getattr(rel, "rel_op", None)
    if op not in (">", ">=", "<", "<="):
        return False
    diff = rel.lhs - rel.rhs
    return bool({">": diff.is_positive, ">=": diff.is_nonnegative, "<": diff.is_negative,
                 "<=": diff.is_nonpositive}[op])


def _has_domain(s) -> bool:
    return any(getattr(s, f"is_{a}") for a in ("positive", "nonnegative", "real", "integer", "negative"))


def _search(thm: Theorem, seed: int) -> tuple[dict | None, dict | None]:
    """(a point where every gating condition holds, a point where one fails), seeded."""
    nm = numerics(thm)
    names = [n for n in thm.inputs() if n not in thm.free]
    names = [n for n in names if n not in thm.derived_inputs or n == thm.derived_inputs[0]]
    # an equality 'x = expr' of the statement (a tuned step) is set, not searched for
    eqs = [(c.rel.lhs.name, c.rel.rhs) for c in thm.conditions if c.gating and getattr(c.rel, "rel_op", "") == "=="
           and isinstance(c.rel.lhs, sp.Symbol) and c.rel.lhs.name in names
           and all(x.name in names for x in thm.expand(c.rel.rhs).free_symbols)]
    names = [n for n in names if n not in {e[0] for e in eqs}]
    steps = set(thm.solutions) | ({thm.runmap.symbol_for(p)[0] for p in thm.runmap.theory} if thm.runmap else set())
    rng = np.random.default_rng(seed)
    witness = failing = None
    ones = {n: 1.0 for n in names}
    cands = [ones] + [{n: _draw(rng, thm, n) for n in names} for _ in range(SEARCH)]
    for c in cands:
        for shrink in [0] + (list(range(1, 13)) if steps else []):
            p = {k: (x * 10.0 ** -shrink if k in steps else x) for k, x in c.items()}
            try:
                for lhs, rhs in eqs:
                    p[lhs] = float(np.max(nm.value(rhs, p)))
                ok = all_hold(nm.check_conditions(nm.resolve_free(p), 0.0))
            except (TheoryError, KeyError, TypeError, ValueError, ZeroDivisionError):
                ok = False
            if ok and witness is None:
                witness = p
            if not ok and failing is None:
                failing = p
            if ok:
                break
        if witness is not None and failing is not None:
            break
    return witness, failing


def _draw(rng, thm, name: str) -> float:
    """A candidate value of ``name``: the horizon a whole number up to 1e6, a count (:func:`is_count`) a whole
    number up to 1e3, any other input log-uniform over [1e-2, 1e2]."""
    if name == thm.horizon:
        return float(np.round(10 ** rng.uniform(0, 6)))
    if is_count(thm, name):
        return float(np.round(10 ** rng.uniform(0, 3)))
    return float(10 ** rng.uniform(-2, 2))


def _fmt(v: dict[str, Any]) -> str:
    return ", ".join(f"{k}={x:.4g}" for k, x in sorted(v.items()))
