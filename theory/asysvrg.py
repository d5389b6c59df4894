"""AsySVRG for non-convex finite sums: Shared-AsySVRG (coordinate-wise lock-free writes, D = d) and
Distributed-AsySVRG (parameter server, whole-vector updates, D = 1).

Sources: Huo's thesis (2020) Ch. 2 (statements with proofs, Sec. 2.3-2.4) and the
Huo & Huang's AAAI 2017 paper (statements only: Thms 1-4 = thesis Thms 2.3.1, 2.3.2, 2.4.1,
2.4.2).

Both pairs of theorems are one statement with D in {d, 1} (derivation: docs/derivations.md, asysvrg,
'one statement'):

    X = 2 L^2 Delta^2 eta^2,  kc = 4 L^2 / ((D - X) b),  theta = eta beta / D + kc eta^2,
    K0 = kc (L^2 Delta^2 eta^3 / (2D) + eta^2 L / 2)
    c_m = 0,  c_t = c_{t+1} (1 + theta) + K0                       (2.13) / (2.34)
    Gamma_t = eta/(2D) - 4/(D - X) (L^2 Delta^2 eta^3/(2D) + eta^2 L/2 + c_{t+1} eta^2)   (2.14) / (2.35)
    (1/T) sum_{s,t} E||grad f(w_t^{s+1})||^2 <= (f(w^0) - f*) / (T gamma),  gamma = min_t Gamma_t   (2.15) / (2.36)

c_t decreases in t, so gamma = Gamma_0 (it uses c_1) and "c_{t+1} <= beta/2 for all t" is c_1 <= beta/2.
The recursion is encoded as a recursion (:data:`C_RECURSION`) and its closed form
c_t = K0 ((1 + theta)^(m - t) - 1) / theta is what the bound uses; tests check one against the other.

The step ``eta=theory`` takes (:mod:`harness.theory.guided`): the bound (2.15)/(2.36) is the rate 1/T
times the factor F0/gamma, gamma = Gamma_0 of (2.14)/(2.35). Gamma_0 is eta/(2D) minus terms of order
eta^2 and higher (the c_1 term grows with m through (2.13)/(2.34)), so it rises from 0, peaks and falls
back to 0 where the condition Gamma_0 > 0 binds: the *largest* admissible step drives gamma to 0 and
the bound to infinity (1e19 on a small ridge problem), a vacuous guarantee. ``eta=theory`` takes the
admissible step with the smallest factor F0/gamma instead (the largest gamma, beta chosen per step
as everywhere: the admissible beta with the smallest bound); ``theory solve --for eta`` still
reports the largest admissible step.

How a run maps onto the symbols (the adapter): eta, b, m from the plugin's parameters (m = 0 means
n // b, as ``svrg-serial`` does, times d with single-coordinate writes, as the shared-memory plugins count
an iteration; the applied eta, b, m a run reports take precedence), Delta = the measured maximum delay (0 for a serial run), L = the
largest per-sample smoothness ``L_max`` (Assumption 2.2.3 asks every f_i to be L-smooth with the
same L as f), f(w^0) - f* from the workload (w^0 = 0). ``svrg-serial`` is Algorithm 2/3 with one
worker: whole-vector updates, snapshot = last inner iterate (w^{s+1} = u_m), so the D = 1 theorems
apply with Delta = 0; the D = d theorems need coordinate-wise writes (a plugin says so with
``info["write"] == "coordinate"``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import sympy as sp

from sympy.codegen.cfunctions import expm1, log1p

from .runmap import Applied, Constant, Delay, Require, RunMap
from .statement import Condition, Recursion, Theorem, sym
from .papers import HUO_THESIS as SOURCE, derived

FAMILIES = ("svrg", "asysvrg")  # the algorithms these theorems are about

L, eta, beta, Delta, b, m, D, F0, T = sym("L eta beta Delta b m D F0 T")
u0, alpha, n = sym("u0 alpha n")
X, kc, theta, K0, c1, c0, Gamma0, gamma, sigma = sp.symbols("X kappa_c theta K_0 c_1 c_0 Gamma_0 gamma sigma")

SYMBOLS = {
    "L": "Lipschitz constant of grad f and of every grad f_i (Assumption 2.2.3); a run uses L_max",
    "d": "the dimension (D = d for coordinate-wise writes)",
    "eta": "constant step size", "beta": "free analysis constant beta_t = beta > 0 (Young's inequality)",
    "Delta": "maximum delay (Assumption 2.2.4): coordinate writes (D = d) or server updates (D = 1)",
    "b": "mini-batch size |I_t|", "m": "inner iterations per outer iteration", "D": "d (shared) or 1 (distributed)",
    "F0": f"f(w^0) - f* (f* = inf f: the paper's f(w*) for a non-convex f; {derived('asysvrg', 'f*')})",
    "T": f"total iterations S*m (the cumulative form holds at every T: {derived('asysvrg', 'cumulative form')})",
    "u0": "step-size constant, eta = u0 b / (L n^alpha)", "alpha": "exponent 0 < alpha <= 1", "n": "samples",
}

ASSUMPTIONS = [
    "2.2.1 independence: samples drawn independently",
    "2.2.2 unbiased gradient: E grad f_i(w) = grad f(w)",
    "2.2.3 Lipschitz gradient: f and every f_i are L-smooth (same L); f may be non-convex",
    "2.2.4 maximum delay: tau <= Delta",
]


def _definitions(D_val: Any) -> list[tuple[sp.Symbol, sp.Expr]]:
    """X, kappa_c, theta, K_0 of (2.13)/(2.34), the closed form of the c_t recursion, Gamma_0 (2.14)/(2.35)."""
    return [
        (X, 2 * L**2 * Delta**2 * eta**2),
        (kc, 4 * L**2 / ((D_val - X) * b)),
        (theta, eta * beta / D_val + kc * eta**2),
        (K0, kc * (L**2 * Delta**2 * eta**3 / (2 * D_val) + eta**2 * L / 2)),
        # closed form of the recursion, K0 ((1 + theta)^k - 1)/theta, written with expm1/log1p (no cancellation)
        (c1, K0 * expm1((m - 1) * log1p(theta)) / theta),
        (c0, K0 * expm1(m * log1p(theta)) / theta),
        (Gamma0, eta / (2 * D_val) - 4 / (D_val - X) * (L**2 * Delta**2 * eta**3 / (2 * D_val) + eta**2 * L / 2 + c1 * eta**2)),
        (gamma, Gamma0),
    ]


def _expanded(expr: sp.Expr, D_val: Any) -> sp.Expr:
    for s_, e in reversed(_definitions(D_val)):
        expr = expr.subs(s_, e)
    return expr


def _general(D_val: Any, tid: str, section: str, eqs: str, source: str, aaai: str, shared: bool) -> Theorem:
    defs = _definitions(D_val)
    conds = [
        Condition("D - 2 L^2 Delta^2 eta^2 > 0", sp.StrictGreaterThan(D_val - X, 0),
                  "Lemma 2.3.1 (2.8) (distributed analogue in the proof of Thm 2.4.1)", implicit=True),
        Condition("c_1 <= beta/2", sp.LessThan(c1, beta / 2),
                  "proof of (2.20)/(2.41): c_{t+1} <= beta_t/2 for all t; c_t decreases, so c_1 is the largest",
                  implicit=True),
        Condition("gamma = Gamma_0 > 0", sp.StrictGreaterThan(Gamma0, 0), "Gamma_t > 0 for 0 <= t <= m-1; min at t = 0"),
        Condition("m >= 1", sp.GreaterThan(m, 1), "at least one inner iteration"),
    ]
    where = "shared memory, coordinate-wise writes, D = d" if shared else "parameter server, whole-vector updates, D = 1"
    return Theorem(
        id=tid, families=FAMILIES,
        title=f"{'Shared' if shared else 'Distributed'}-AsySVRG, general constants ({where})",
        citation=SOURCE.cite(section, eqs, source, f"Huo & Huang, AAAI 2017, {aaai}"),
        statement=(
            "Suppose f and the f_i satisfy Assumptions 2.2.1-2.2.4. Let c_m = 0, eta > 0 constant, beta_t = beta > 0, "
            "b = |I_t|, c_t and Gamma_t as defined, with Gamma_t > 0 for 0 <= t <= m-1 and gamma = min_t Gamma_t. Then "
            "(1/T) sum_{s=0}^{S-1} sum_{t=0}^{m-1} E||grad f(w_t^{s+1})||^2 <= E[f(w^0) - f(w*)] / (T gamma)."),
        symbols=SYMBOLS, assumptions=ASSUMPTIONS, conditions=conds, definitions=defs,
        bound=F0 / (T * gamma),
        measured="running_mean_grad_norm_sq",
        measured_doc="running mean over iterations of ||grad f(w_t)||^2",
        rate=1 / T,
        recursions=[C_RECURSION],
        free={"beta": _beta_grid},
        runmap=_runmap(shared=shared, explicit=False), prepare=_alias_d if shared else None,
        judges=("single-coordinate writes (coords = 1), no SGD warm start" if shared else "no SGD warm start"),
        errata=(
            "Encoded with the implicit conditions of the proof (Lemma 2.3.1 and the proof of (2.20)/(2.41); "
            f"{derived('asysvrg', 'implicit conditions')}): D - 2L^2 Delta^2 eta^2 > 0, "
            "c_1 <= beta/2 (c_{t+1} <= beta_t/2 for all t), and gamma = Gamma_0 > 0. The proof's recursion (2.22) is "
            "algebraically identical to (2.13) (sympy-checked in the tests). The summed Lemma 2.3.1 is applied with "
            "t-dependent weights in (2.21); using c_1 (as gamma = Gamma_0 does) makes it rigorous. For a non-convex f, "
            f"f(w*) is read as inf f (a lower bound makes the bound conservative; {derived('asysvrg', 'f*')})."),
        notes=(
            "beta is a free analysis constant: the statement holds for every admissible beta > 0, so the checker uses "
            "the admissible beta with the smallest bound (the paper's explicit choice is beta = 2L). The Lyapunov "
            "argument gives the cumulative form sum_{k<T} ||grad f||^2 <= F0/gamma at every T, also mid-epoch "
            "(R_0 - R_t <= f(w~) - f* since c_t >= 0), which is what the checker compares at each recorded point."),
    )


def _delay_rhs(D_val: Any) -> sp.Expr:
    """The right side of the delay condition (2.26)/(2.46): min{D/(2 u0 b), (3D - 28 u0 b D)/(28 u0^2 b^2)}."""
    return sp.Min(D_val / (2 * u0 * b), (3 * D_val - 28 * u0 * b * D_val) / (28 * u0**2 * b**2))


def _explicit(D_val: Any, tid: str, section: str, eqs: str, source: str, aaai: str, shared: bool) -> Theorem:
    ub = u0 * b
    defs = [
        (sigma, u0 * (sp.Rational(1, 2) - (14 * u0**2 * b**2 * Delta**2 + 14 * u0 * b * D_val) / (3 * D_val))),
    ]
    delay_rhs = _delay_rhs(D_val)
    conds = [
        Condition("Delta^2 < min{D/(2 u0 b), (3D - 28 u0 b D)/(28 u0^2 b^2)}", sp.StrictLessThan(Delta**2, delay_rhs),
                  f"the delay condition ({'2.26' if shared else '2.46'})"),
        Condition("eta = u0 b / (L n^alpha)", sp.Eq(eta, u0 * b / (L * n**alpha)), "the theorem's step size"),
        Condition("m <= floor(D n^alpha / (6 u0 b))", sp.LessThan(m, sp.floor(D_val * n**alpha / (6 * ub))),
                  "the theorem sets m = floor(D n^alpha/(6 u0 b)); the proof only uses m theta <= 1, so any smaller m "
                  "is covered too"),
        Condition("D n^alpha <= D n^(2 alpha) - 2 Delta^2 u0^2 b^2",
                  sp.LessThan(D_val * n**alpha, D_val * n**(2 * alpha) - 2 * Delta**2 * u0**2 * b**2),
                  f"assumed in the proof ({'2.28' if shared else '2.48'})", implicit=True),
        Condition("u0 b < 3/28", sp.StrictLessThan(ub, sp.Rational(3, 28)),
                  "positivity of the second term of the delay condition: eta < 3/(28 L n^alpha) whatever b "
                  f"({derived('asysvrg', 'u0 b < 3/28')})",
                  implicit=True),
        Condition("0 < u0 < 1", sp.StrictLessThan(u0, 1), "statement"),
        Condition("0 < alpha <= 1", sp.LessThan(alpha, 1), "statement (the proof uses alpha < 1)"),
        Condition("sigma > 0", sp.StrictGreaterThan(sigma, 0), "the final inequality of (2.30)/(2.50)", implicit=True),
    ]
    return Theorem(
        id=tid, families=FAMILIES,
        title=f"{'Shared' if shared else 'Distributed'}-AsySVRG, explicit parameters: O(1/T), independent of the delay",
        citation=SOURCE.cite(section, eqs, source, f"Huo & Huang, AAAI 2017, {aaai}"),
        statement=(
            f"Let eta = u0 b/(L n^alpha) with 0 < u0 < 1, 0 < alpha <= 1, beta = 2L, m = floor({'d' if shared else ''} n^alpha/(6 u0 b)). "
            "If the maximum delay satisfies Delta^2 < min{D/(2 u0 b), (3D - 28 u0 b D)/(28 u0^2 b^2)}, there are "
            "universal constants u0, sigma with gamma >= sigma b/(D L n^alpha) and "
            "(1/T) sum E||grad f(w_t^{s+1})||^2 <= D L n^alpha E[f(w^0) - f(w*)] / (b T sigma)."),
        symbols=SYMBOLS, assumptions=ASSUMPTIONS, conditions=conds, definitions=defs,
        bound=D_val * L * n**alpha * F0 / (b * T * sigma),
        measured="running_mean_grad_norm_sq", measured_doc="running mean over iterations of ||grad f(w_t)||^2",
        rate=1 / T, free={"alpha": _alpha_grid}, derived_inputs=("eta", "u0"),
        prepare=_explicit_shared_prepare if shared else _explicit_prepare,
        solutions={"Delta": sp.sqrt(delay_rhs)}, runmap=_runmap(shared=shared, explicit=True),
        judges=("single-coordinate writes (coords = 1), no SGD warm start" if shared else "no SGD warm start"),
        errata=(
            "sigma is never given in the text; the value implied by the last inequality of (2.30)/(2.50) is encoded "
            f"({derived('asysvrg', 'sigma')}): sigma = u0 (1/2 - (14 u0^2 b^2 Delta^2 + 14 u0 b D)/(3D)). The implicit "
            "conditions D n^alpha <= D n^(2alpha) - 2 Delta^2 u0^2 b^2 ((2.28)/(2.48)) and u0 b < 3/28 are enforced. The "
            "statement says 0 < alpha <= 1, the proof 0 < alpha < 1; the statement's range is encoded. The statement's "
            "requirement c_0 <= beta/2 = L is what the first term of the delay condition secures (a sufficient choice: "
            f"{derived('asysvrg', 'c_0 <= beta/2')})."),
        notes=(
            "For a run, u0 is read off the step size: u0 = eta L n^alpha / b, and alpha is a free constant of the "
            "analysis (any alpha in (0, 1] that makes the conditions hold gives a valid bound; the checker takes the "
            "one with the smallest bound). The delay limit is Delta^2 < 1/(2 eta L n^alpha) for D = 1: a larger step "
            "size tolerates fewer workers."),
    )


def _beta_grid(v: dict[str, Any]) -> list[float]:
    Lv = float(v.get("L", 1.0))
    return [2 * Lv] + list(Lv * np.geomspace(1e-6, 1e6, 121))


def _alpha_grid(v: dict[str, Any]) -> list[float]:
    return [1.0] + list(np.linspace(0.01, 1.0, 100))


# c_t recursion (2.13)/(2.34) in the unified form, with its closed form; the numbers come from the
# sympy definitions above (one source), lambdified
_THETA_K0 = sp.lambdify([L, Delta, eta, beta, b, D], [_expanded(theta, D), _expanded(K0, D)], modules="math")


def _c_vals(v):
    return _THETA_K0(*(float(v[k]) for k in ("L", "Delta", "eta", "beta", "b", "D")))


C_RECURSION = Recursion(
    name="c_t",
    doc="c_m = 0, c_t = c_{t+1} (1 + eta beta/D + kc eta^2) + kc (L^2 Delta^2 eta^3/(2D) + eta^2 L/2)   (2.13)/(2.34)",
    step=lambda c_next, v: c_next * (1 + _c_vals(v)[0]) + _c_vals(v)[1],
    start=lambda v: 0.0,
    closed=lambda v, t: _c_vals(v)[1] * math.expm1((int(v["m"]) - t) * math.log1p(_c_vals(v)[0])) / _c_vals(v)[0],
    backward=True,
    sympy_text="c_t = K0 ((1 + theta)^(m - t) - 1) / theta",
)


def c_recursion_as_printed(v: dict[str, Any], t_next_c: float) -> float:
    """(2.13) exactly as printed (D = d form generalised to D), for the test against (2.22)."""
    Dv, Lv, Dl, et, bt, bb = (float(v[k]) for k in ("D", "L", "Delta", "eta", "beta", "b"))
    den = (Dv - 2 * Lv**2 * Dl**2 * et**2) * bb
    return t_next_c * (1 + et * bt / Dv + 4 * Lv**2 * et**2 / den) + 4 * Lv**2 / den * (Lv**2 * Dl**2 * et**3 / (2 * Dv) + et**2 * Lv / 2)


def c_recursion_proof_form(v: dict[str, Any], t_next_c: float) -> float:
    """(2.22), the proof's form."""
    Dv, Lv, Dl, et, bt, bb = (float(v[k]) for k in ("D", "L", "Delta", "eta", "beta", "b"))
    den = (Dv - 2 * Lv**2 * Dl**2 * et**2) * bb
    return t_next_c * (1 + et * bt / Dv) + 4 * Lv**2 / den * (Lv**2 * Dl**2 * et**3 / (2 * Dv) + et**2 * Lv / 2 + t_next_c * et**2)


_DELAY_RHS = sp.lambdify([u0, D], _delay_rhs(D).subs(b, 1), modules="math")


def delay_limit(u0b: float, D: float = 1.0) -> int:
    """Largest integer Delta with Delta^2 < min{D/(2 u0 b), (3D - 28 u0 b D)/(28 u0^2 b^2)} (2.26)/(2.46)
    (the right side evaluated from the theorem's sympy expression, with u0 b as one number); -1 if none."""
    rhs = float(_DELAY_RHS(u0b, D))
    if rhs <= 0:
        return -1
    k = math.isqrt(int(math.floor(rhs)))
    while k * k >= rhs:
        k -= 1
    return k


# --------------------------------------------------------------------------------------------------
def _runmap(*, shared: bool, explicit: bool) -> RunMap:
    """An SVRG-family run: the step, mini-batch and inner-loop length the plugin applied (its m is
    computed once, by ``harness.plugins.algorithms.svrg.derived``, and reported), L = L_max, the
    measured delay; the shared-memory forms (D = d) need single-coordinate writes."""
    when = [Require(Applied("warm_epochs", 0), "==", 0, "the theorem covers SVRG started at w^0, not SGD->SVRG "
                    "(warm_epochs > 0)")]
    if shared:
        when.append(Require(Applied("coords", 0), "==", 1, "D = d needs single-coordinate writes (Shared-AsySVRG, "
                            "Algorithm 1, eq. (2.4)); set coords=1"))
    inputs = {"L": Constant("L_max"), "eta": Applied("eta"), "Delta": Delay(), "b": Applied("b"), "m": Applied("m"),
              "F0": Constant("f0_minus_fstar"), "n": Constant("n")}
    if shared:
        inputs["d"] = Constant("dim")
    return RunMap(inputs=inputs, when=when, theory={} if explicit else {"eta": "eta"})


def _alias_d(v: dict[str, Any]) -> dict[str, Any]:
    """The shared-memory forms name D by its value d (the dimension); accept either name."""
    if v.get("d") is None and v.get("D") is not None:
        v = {**v, "d": v["D"]}
    return v


def _explicit_prepare(v: dict[str, Any]) -> dict[str, Any]:
    """u0 from the step size, u0 = eta L n^alpha / b (a run gives eta), or eta from u0 (a user gives
    u0); alpha may be an array of candidates (the free constant), so this is numpy arithmetic."""
    have = lambda *ks: all(v.get(k) is not None for k in ks)  # noqa: E731
    if v.get("u0") is None and have("eta", "L", "n", "b", "alpha"):
        v = {**v, "u0": v["eta"] * v["L"] * np.power(v["n"], v["alpha"]) / v["b"]}
    elif v.get("eta") is None and have("u0", "L", "n", "b", "alpha"):
        v = {**v, "eta": v["u0"] * v["b"] / (v["L"] * np.power(v["n"], v["alpha"]))}
    return v


def _explicit_shared_prepare(v: dict[str, Any]) -> dict[str, Any]:
    return _explicit_prepare(_alias_d(v))


D_d = sp.Symbol("d", positive=True)
THEOREMS = [
    _general(D_d, "asysvrg.thm-2.3.1", "Sec. 2.3.2, Theorem 2.3.1", "(2.13)-(2.15)", "Theorem 2.3.1",
             "Theorem 1, eqs. (10)-(12)", shared=True),
    _explicit(D_d, "asysvrg.thm-2.3.2", "Sec. 2.3.2, Theorem 2.3.2", "(2.26)-(2.31)", "Theorem 2.3.2",
              "Theorem 2, eqs. (13)-(14)", shared=True),
    _general(sp.Integer(1), "asysvrg.thm-2.4.1", "Sec. 2.4.2, Theorem 2.4.1", "(2.34)-(2.45)", "Theorem 2.4.1",
             "Theorem 3, eqs. (17)-(19)", shared=False),
    _explicit(sp.Integer(1), "asysvrg.thm-2.4.2", "Sec. 2.4.2, Theorem 2.4.2", "(2.46)-(2.51)",
              "Theorem 2.4.2", "Theorem 4, eqs. (20)-(21)", shared=False),
]
