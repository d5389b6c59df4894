"""How tight is a bound: the paper's bound beside the tight worst case of the same quantity.

A performance estimation problem (PEP; Drori & Teboulle, "Performance of first-order methods for
smooth convex minimization: a novel approach", 2014; Taylor, Hendrickx & Glineur, "Smooth strongly
convex interpolation and exact worst-case performance of first-order methods", 2017) computes, as a
semidefinite program, the exact worst case of a quantity over every function of a class for a fixed
first-order method and horizon. PEPit (Goujaud et al., "PEPit: computer-assisted worst-case analyses
of first-order optimization methods in Python", 2024) writes it; it is the optional extra ``[pep]``.

The worst case is computed on the *deterministic specialisation* of a theorem, where its algorithm
becomes delayed gradient descent on an L-smooth (possibly non-convex) f:

    x_{t+1} = x_t - s grad f(x_{max(0, t - delay)}),   t = 0 .. T-1,

and the quantity is the one the theorem bounds, the running mean (1/T) sum_{t<T} ||grad f(x_t)||^2,
over the class {f L-smooth, f(x_0) - f(x_T) <= F0}. That class contains every f with
f(x_0) - inf f <= F0 (f(x_T) >= inf f), so the PEP value is at least the worst case under the
theorem's own initial condition (the relaxation keeps it a valid upper bound; on these three cases
it is attained: 2 L F0 / K for gradient descent at step 1/L is both the PEP value and Lemma 1's).

Specialisations (:data:`SPECIALISATIONS`):

- AsySVRG, Distributed (Huo & Huang, thesis Thm 2.4.1): one component (n = 1) makes the variance-
  reduced gradient exact, so the inner loop is gradient descent with step eta; a delay Delta is
  taken as the constant delay Delta (one pattern with tau <= Delta: the worst case over all patterns
  is at least this, so the ratio is an upper estimate of the slack).
- Bhardwaj & Cong, Lemma 1 (sigma^2 = 0): mini-batch SGD in sum form is gradient descent with step
  gamma M, horizon K. Theorem 4 (sigma^2 = 0): ASGD with age bound N, taken as the constant delay N.

Results are cached by their inputs in ``<harness cache>/pep/`` (an SDP takes 0.1-1 s for T <= 20 and
grows with T: :data:`MAX_T` caps the horizon).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .errors import TheoryError

MAX_T = 60
KIND = "delayed-gd-nonconvex-running-mean-grad-sq/v2"
SOLVERS = ("CLARABEL", "SCS")   # interior point first (faster and more accurate here), then first-order
MAX_GAP = 1e-3                  # relative duality gap a worst case is accepted with


def available() -> str | None:
    """None where PEPit can run; else the reason (one line) it cannot."""
    try:
        import PEPit  # noqa: F401
    except ImportError:
        return "PEPit is not installed (pip install 'asyncopt-harness[pep]')"
    return None


@dataclass(frozen=True)
class Specialisation:
    """How a theorem becomes a PEP: ``args(values)`` gives (L, step, T, delay, F0) from the theorem's
    evaluated values, or raises :class:`TheoryError` with the reason it does not specialise."""

    theorem: str
    doc: str
    args: Callable[[Mapping[str, Any]], tuple[float, float, int, int, float]]


def _num(values: Mapping[str, Any], name: str) -> float:
    if name not in values or values[name] is None:
        raise TheoryError(f"give a value for {name} (--set {name}=VALUE)")
    return float(values[name])


def _horizon(x: float, name: str) -> int:
    if x != int(x) or not 1 <= x <= MAX_T:
        raise TheoryError(f"{name} = {x:g}: the tight worst case is computed for whole horizons 1 <= {name} <= {MAX_T} "
                          f"(the SDP grows with the horizon)")
    return int(x)


def _delay(x: float, name: str) -> int:
    if x != int(x) or x < 0:
        raise TheoryError(f"{name} = {x:g}: a delay is a whole number of updates >= 0")
    return int(x)


def _asysvrg(v: Mapping[str, Any]) -> tuple[float, float, int, int, float]:
    return (_num(v, "L"), _num(v, "eta"), _horizon(_num(v, "T"), "T"), _delay(_num(v, "Delta"), "Delta"), _num(v, "F0"))


def _noiseless(v: Mapping[str, Any]) -> None:
    if _num(v, "sigma2") != 0:
        raise TheoryError(f"sigma2 = {_num(v, 'sigma2'):g}: the deterministic specialisation needs sigma2 = 0 "
                          f"(a PEP has no noise model here)")


def _lemma1(v: Mapping[str, Any]) -> tuple[float, float, int, int, float]:
    _noiseless(v)
    return (_num(v, "L"), _num(v, "gamma") * _num(v, "M"), _horizon(_num(v, "K"), "K"), 0, _num(v, "D_f"))


def _asgd(v: Mapping[str, Any]) -> tuple[float, float, int, int, float]:
    _noiseless(v)
    return (_num(v, "L"), _num(v, "gamma") * _num(v, "M"), _horizon(_num(v, "K"), "K"), _delay(_num(v, "N"), "N"),
            _num(v, "D_f"))


SPECIALISATIONS = {s.theorem: s for s in [
    Specialisation("asysvrg.thm-2.4.1", "one component (n = 1): the inner loop is gradient descent with step eta; "
                   "the delay is the constant delay Delta (one pattern with tau <= Delta)", _asysvrg),
    Specialisation("minibatch.lem-1", "sigma^2 = 0: sum-form mini-batch SGD is gradient descent with step gamma M",
                   _lemma1),
    Specialisation("minibatch.thm-4", "sigma^2 = 0: ASGD is gradient descent with step gamma M and the constant delay "
                   "N (one pattern with age tau <= N)", _asgd),
]}


def worst_case(L: float, step: float, T: int, delay: int, F0: float, *, cache: bool = True) -> float:
    """The tight worst case of (1/T) sum_{t<T} ||grad f(x_t)||^2 for x_{t+1} = x_t - step grad f(x_{max(0, t-delay)})
    over L-smooth f with f(x_0) - f(x_T) <= F0 (a PEP solved with PEPit). Units: those of F0 L. Cached by the
    inputs in ``<harness cache>/pep/``. Raises :class:`TheoryError` where PEPit is missing or the SDP fails."""
    why = available()
    if why:
        raise TheoryError(why)
    key = {"kind": KIND, "L": float(L), "step": float(step), "T": int(T), "delay": int(delay), "F0": float(F0)}
    path = None
    if cache:
        from harness._core.cache import cache_dir

        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
        path = cache_dir() / "pep" / f"{digest}.json"
        try:
            return float(json.loads(path.read_text())["value"])
        except (OSError, ValueError, KeyError):
            pass
    value = _solve(**key)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({**key, "value": value}))
        tmp.replace(path)
    return value


def _solve(kind: str, L: float, step: float, T: int, delay: int, F0: float) -> float:
    from PEPit import PEP
    from PEPit.functions import SmoothFunction

    problem = PEP()
    f = problem.declare_function(SmoothFunction, L=L)
    xs = [problem.set_initial_point()]
    grads = []
    for t in range(T):
        grads.append(f.gradient(xs[t]))
        xs.append(xs[t] - step * grads[max(0, t - delay)])
    problem.set_initial_condition(f(xs[0]) - f(xs[T]) <= F0)
    problem.set_performance_metric(sum(g ** 2 for g in grads) / T)
    import contextlib
    import io
    import warnings

    import cvxpy

    tried = []
    for solver in [s for s in SOLVERS if s in cvxpy.installed_solvers()]:
        try:
            with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                warnings.simplefilter("ignore")       # PEPit prints, cvxpy warns: the gap below is the judge
                dual = problem.solve(verbose=0, solver=solver)
                primal = float(problem.objective.eval())
        except Exception as exc:  # noqa: BLE001 - a solver failure is a reason to try the next one
            tried.append(f"{solver}: {type(exc).__name__}")
            continue
        if dual is None or not math.isfinite(dual):
            tried.append(f"{solver}: no finite value")
            continue
        gap = abs(dual - primal) / max(abs(primal), 1e-12)
        if gap <= MAX_GAP:
            return float(dual)     # the dual value: an upper bound on the worst case, within MAX_GAP of the primal example
        tried.append(f"{solver}: relative duality gap {gap:.2g}")
    raise TheoryError(f"the PEP solvers did not converge at step {step:g}, T = {T} ({'; '.join(tried) or 'no SDP solver'})")


def tightness(theorem, values: Mapping[str, Any]) -> dict[str, Any]:
    """The paper's bound at ``values`` (the horizon included), the tight worst case of the same quantity on the
    deterministic specialisation, and their ratio bound / worst case (>= 1 for a valid bound; 1 is tight).
    Raises :class:`TheoryError` where the theorem has no specialisation, a value is missing, PEPit is absent or a
    condition of the theorem fails at ``values`` (a bound outside its conditions says nothing)."""
    spec = SPECIALISATIONS.get(theorem.id)
    if spec is None:
        raise TheoryError(f"no tight worst case computable for {theorem.id}: no deterministic specialisation is encoded "
                          f"(those with one: {', '.join(sorted(SPECIALISATIONS))})")
    T = values.get(theorem.horizon)
    if T is None:
        raise TheoryError(f"give the horizon: --set {theorem.horizon}=VALUE")
    ev = theorem.evaluate(dict(values), T=T)
    failing = [c for c in ev["conditions"] if c.get("gating", True) and not c["holds"]]
    if failing:
        c = failing[0]
        raise TheoryError(f"{theorem.id}: condition '{c['name']}' fails at these values (lhs {c.get('lhs')}, rhs "
                          f"{c.get('rhs')}): the bound says nothing there")
    bound = _scalar(ev.get("bound"))
    L, step, Tn, delay, F0 = spec.args({**ev["values"], theorem.horizon: T})
    wc = worst_case(L, step, Tn, delay, F0)
    return {"theorem": theorem.id, "specialisation": spec.doc, "quantity": theorem.measured_doc,
            "class": f"L-smooth f (L = {L:g}) with f(x_0) - f(x_{Tn}) <= F0 = {F0:g}",
            "method": f"gradient descent, step {step:g}, delay {delay}, horizon {Tn}",
            "bound": bound, "worst_case": wc, "ratio": bound / wc if wc > 0 else math.inf}


def _scalar(x) -> float:
    try:
        import numpy as np

        return float(np.max(np.asarray(x, dtype=float)))
    except (TypeError, ValueError):
        raise TheoryError(f"the bound does not evaluate to a number here ({x!r})") from None


PLOT_MAX_T = 30     # horizons the report's bound plot computes the worst case at (an SDP each, cached)
PLOT_HORIZONS = 4


def along_curve(theorem, values: Mapping[str, Any], xs) -> dict[str, Any]:
    """The tight worst case at up to ``PLOT_HORIZONS`` whole horizons of ``xs`` at most ``PLOT_MAX_T`` (the
    report's bound plot draws it beside the bound): ``{"x", "worst_case", "bound_ratio"?, "note"}``, or only
    ``{"note": "no tight worst case computable: <why>"}``. ``values``: the verdict's evaluated values."""
    why = available()
    if why:
        return {"note": f"no tight worst case computable: {why}"}
    spec = SPECIALISATIONS.get(theorem.id)
    if spec is None:
        return {"note": "no tight worst case computable: no deterministic specialisation of this theorem is encoded"}
    hs = sorted({int(x) for x in xs if x is not None and 1 <= x <= PLOT_MAX_T and float(x) == int(x)})
    if not hs:
        return {"note": f"no tight worst case computable: no recorded horizon {theorem.horizon} <= {PLOT_MAX_T}"}
    if len(hs) > PLOT_HORIZONS:  # log-spaced over the recorded horizons, the last one included
        import numpy as np

        hs = [hs[i] for i in np.unique(np.round(np.geomspace(1, len(hs), PLOT_HORIZONS)).astype(int) - 1)]
    out_x, out_w = [], []
    try:
        for T in hs:
            L, step, Tn, delay, F0 = spec.args({**values, theorem.horizon: T})
            out_x.append(T)
            out_w.append(worst_case(L, step, Tn, delay, F0))
    except TheoryError as exc:
        return {"note": f"no tight worst case computable: {exc}"}
    return {"x": out_x, "worst_case": out_w,
            "note": f"tight worst case (PEP, PEPit) on the deterministic specialisation: {spec.doc}"}

