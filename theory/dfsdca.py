"""Dis-dfSDCA: asynchronous dual-free SDCA on a parameter server (Huo's thesis (2020)
Ch. 3, Sec. 3.4; what the text leaves implicit: docs/derivations.md, dfsdca).

Problem: P(w) = (1/n) sum_i phi_i(w) + (lam/2)||w||^2, phi_i L-smooth. Workers send sums of H residues
kappa_i = grad phi_i(w^{d(t)}) + alpha_i; the server steps w <- w - eta v; delays d(t) >= t - tau.
Lyapunov function C_t = A_t/(2 lam L) + B_t (convex phi_i) or A_t/(4L^2) + B_t (non-convex phi_i,
convex P), A_t = (1/n) sum ||alpha_i - alpha_i*||^2, B_t = ||w - w*||^2, alpha_i* = -grad phi_i(w*).

What a run maps to: L = max_i L(phi_i) (the data part of the per-sample smoothness, without lam),
lam, n from the workload; eta, H and the round length (server updates per outer round) from the
plugin's parameters; tau = the measured maximum delay. With alpha^0 = 0 and w^0 = 0:
A_0 = (1/n) sum ||grad phi_i(w*)||^2 and B_0 = ||w*||^2 (derivation: docs/derivations.md, dfsdca, 'C_0').
"""

from __future__ import annotations

import math
from typing import Any

import sympy as sp

from .errors import NotApplicable
from .runmap import Applied, Constant, Delay, Extra, Fact, Mapped, RunMap
from .statement import Condition, Theorem, sym
from .papers import HUO_THESIS as SOURCE, derived

FAMILIES = ("dfsdca",)  # the algorithms these theorems are about

L, lam, n, H, tau, eta, A0, B0, S, T = sym("L lam n H tau eta A0 B0 S T")
C0, rho = sp.symbols("C_0 rho")

SYMBOLS = {
    "L": "Lipschitz constant of every grad phi_i (Assumption 3.4.1)", "lam": "l2 regularisation lambda",
    "n": "samples", "H": "residues summed per worker message (local steps)", "tau": "maximum delay (Assumption 3.4.2)",
    "eta": "server step size", "A0": "(1/n) sum ||alpha_i^0 - alpha_i*||^2", "B0": "||w^0 - w*||^2",
    "S": "outer rounds (each of T server updates)", "T": "server updates within a round",
}
ASSUMPTIONS = [
    "3.4.1 every grad phi_i is L-Lipschitz, so P is (L + lam)-smooth",
    "3.4.2 maximum delay: d(t) >= t - tau",
]
ETA_CVX = 1 / (4 * H * L * tau**2 + lam * n + 2 * L)                                                     # (3.18)
ETA_NCV = lam**2 / (2 * H * L * tau**2 * lam**2 + 8 * H * L * tau**2 * (L + lam)**2 + 4 * lam * L**2 + n * lam**3)  # (3.30)


def _conds(eta_max, eq: str, convex: bool) -> list[Condition]:
    cs = [Condition(f"eta <= eta_max {eq}", sp.LessThan(eta, eta_max), "the step-size condition of the theorem"),
          Condition("eta L <= 1", sp.LessThan(eta * L, 1), "used when summing the delay terms ((3.21)/(3.33))",
                    implicit=True)]
    cs.append(Condition("H <= n", sp.LessThan(H, n), "I_t has no duplicate samples (Sec. 3.4), so H <= n_k <= n",
                        implicit=True))
    if not convex:
        cs.append(Condition("eta lam n < 1", sp.StrictLessThan(eta * lam * n, 1),
                            "needed for the alpha-recursion's coefficient -eta lam (1 - eta lam n) of E||v^t||^2 in "
                            "(3.28) to be negative", implicit=True))
    return cs


def _runmap(*, by_round: bool) -> RunMap:
    """A Dis-dfSDCA run: L = max_i L(phi_i) and A_0 at the workload's optimum, the applied step eta,
    residues per message H and (by rounds) the round length T the plugin applied, the measured delay."""
    inputs = {"L": Fact("Lphi_max"), "lam": Constant("lam"), "n": Constant("n"), "H": Applied("H"), "tau": Delay(),
              "eta": Applied("eta"), "A0": Fact("phi_grad_sq_star"), "B0": Constant("dist0_sq")}
    if not by_round:
        return RunMap(inputs=inputs, theory={"eta": "eta"})
    return RunMap(inputs=inputs, theory={"eta": "eta"}, extra=_round_length,
                  extra_doc="round length: the server updates per outer round the plugin applied (T)")


def _round_length(run, values) -> Extra:
    T_v = Applied("T").read(run, Mapped())
    if not T_v:
        raise NotApplicable("the run does not say how many server updates make an outer round (applied T)")
    return Extra(round_updates=float(T_v))


def _one_round(tid, title, eq_cond, eqs, source, convex, Cdef, rho_expr, errata, notes_extra="", printed=None) -> Theorem:
    return Theorem(
        id=tid, families=FAMILIES, title=title,
        citation=SOURCE.cite("Sec. 3.4", eqs, source),
        statement=(f"Suppose the phi_i are {'convex' if convex else 'possibly non-convex with P convex'} with "
                   f"L-Lipschitz gradients; alpha_i* = -grad phi_i(w*), C_t = {Cdef}. As long as eta <= eta_max {eq_cond}, "
                   "E[C_T] <= (1 - eta lam H) E[C_0]."),
        symbols=SYMBOLS, assumptions=ASSUMPTIONS + (["3.4.3 the phi_i are convex"] if convex else []),
        conditions=_conds(ETA_CVX if convex else ETA_NCV, eq_cond, convex),
        definitions=[(C0, A0 / (2 * lam * L) + B0 if convex else A0 / (4 * L**2) + B0), (rho, rho_expr)],
        bound=rho * C0, horizon="T", horizon_doc="server updates (any T >= 1)",
        measured="dist_sq", measured_doc="||w - w*||^2 (= B_t <= C_t)", rate=sp.Integer(1),
        solutions={"eta": ETA_CVX if convex else ETA_NCV},
        runmap=_runmap(by_round=False),
        extra_bounds={} if printed is None else {"bound as printed (1 - eta lam H) C_0": printed * C0},
        errata=errata, notes=("The proof discards the intermediate contraction ((3.23)/(3.35)): one factor rho per round "
                              "of T server updates, for any T >= 1. The checker compares ||w - w*||^2 <= C_t "
                              "with rho C_0 at every recorded point after the first update." + notes_extra),
    )


def _rounds(tid, title, eq_cond, eqs, source, convex, Cdef, rho_expr, errata, printed=None) -> Theorem:
    extra = {}
    if printed is not None:
        extra["bound as printed (1 - eta lam H)^S"] = (L + lam) / 2 * printed**S * C0
    return Theorem(
        id=tid, families=FAMILIES, title=title,
        citation=SOURCE.cite("Sec. 3.4", eqs, source),
        statement=(f"With C^{{s+1,0}} = C^{{s,T}} and C = {Cdef}: E[C_{{S,0}}] <= rho^S E[C_{{0,0}}], hence "
                   "E[P(w^{S,0}) - P(w*)] <= (L + lam)/2 rho^S C_{0,0} (3.24); eps-accuracy after "
                   f"S >= log((L + lam) C_{{0,0}}/(2 eps)) / (-log rho) rounds ({derived('dfsdca', 'exact S')})."),
        symbols=SYMBOLS, assumptions=ASSUMPTIONS + (["3.4.3 the phi_i are convex"] if convex else []),
        conditions=_conds(ETA_CVX if convex else ETA_NCV, eq_cond, convex),
        definitions=[(C0, A0 / (2 * lam * L) + B0 if convex else A0 / (4 * L**2) + B0), (rho, rho_expr)],
        bound=(L + lam) / 2 * rho**S * C0, horizon="S", horizon_doc="outer rounds s = floor(updates / T)",
        measured="subopt_by_round", measured_doc="P(w) - P* within round s (largest recorded)",
        rate=rho**S, solutions={"eta": ETA_CVX if convex else ETA_NCV}, extra_bounds=extra,
        runmap=_runmap(by_round=True),
        errata=errata,
        notes="Within round s every point is covered by rho^s C_{0,0} (C_{s,t} <= rho C_{s,0} for t >= 1 and rho <= 1).",
    )


ERR_CVX = ("Lemma 3.4.1 (3.17) lacks the factor H on its first and third terms (E v^t = H grad P(w^{d(t)})); with it "
           f"the combination (3.20) is consistent; they agree for H = 1 ({derived('dfsdca', 'factor H in (3.17)')}). "
           "The step-size condition (3.18) is exactly the root of the bracket in (3.21) (sympy-checked in the tests; "
           f"{derived('dfsdca', 'step-size conditions')}). The alpha update must use lam n (eq. 3.7), not "
           f"lam n_k (Algorithm 7), for the primal-dual relation (3.3) to hold ({derived('dfsdca', 'lam n, not lam n_k')}).")
ERR_NCV = ("The stated contraction (1 - eta lam H) does not follow from Lemma 3.4.2 as printed: the coefficient of B_t "
           "in C_t = A_t/(4L^2) + B_t is 1 + 2 eta lam H L^2/(4L^2) - 3 eta lam H/4 = 1 - eta lam H/4 "
           f"({derived('dfsdca', 'contraction of Theorem 3.4.3')}). The provable factor rho = 1 - eta lam H/4 is encoded "
           "as the bound; the printed one is kept as 'bound as printed'. (3.29)'s '2H tau H^2' is read as 2H tau, as the "
           "proof (3.32) uses. Condition (3.30) is the root of the bracket in (3.33) (sympy-checked in the tests; "
           f"{derived('dfsdca', 'step-size conditions')}). Implicit: eta L <= 1, eta lam n < 1.")

THEOREMS = [
    _one_round("dfsdca.thm-3.4.1", "Dis-dfSDCA, convex phi_i: one contraction per round", "(3.18)", "(3.14)-(3.23)",
               "Theorem 3.4.1", True, "A_t/(2 lam L) + B_t", 1 - eta * lam * H, ERR_CVX),
    _rounds("dfsdca.thm-3.4.2", "Dis-dfSDCA, convex phi_i: linear convergence over rounds", "(3.18)", "(3.24)-(3.27)",
            "Theorem 3.4.2", True, "A_t/(2 lam L) + B_t", 1 - eta * lam * H, ERR_CVX),
    _one_round("dfsdca.thm-3.4.3", "Dis-dfSDCA, non-convex phi_i, convex P: one contraction per round", "(3.30)",
               "(3.28)-(3.35)", "Theorem 3.4.3", False, "A_t/(4 L^2) + B_t", 1 - eta * lam * H / 4, ERR_NCV,
               " The stated factor is (1 - eta lam H); the provable (1 - eta lam H/4) is what is checked.",
               printed=1 - eta * lam * H),
    _rounds("dfsdca.thm-3.4.4", "Dis-dfSDCA, non-convex phi_i, convex P: linear convergence over rounds", "(3.30)",
            "(3.36)-(3.37)", "Theorem 3.4.4", False, "A_t/(4 L^2) + B_t", 1 - eta * lam * H / 4, ERR_NCV,
            printed=1 - eta * lam * H),
]


def rounds_needed(eta_v: float, lam_v: float, H_v: float, L_v: float, C00: float, eps: float, provable_factor: float = 1.0) -> float:
    """Exact S from (3.24)-(3.25): S >= log((L + lam) C00 / (2 eps)) / (-log(1 - eta lam H / factor))."""
    x = eta_v * lam_v * H_v / provable_factor
    if not 0 < x < 1:
        raise ValueError(f"eta lam H / factor = {x:g} is outside (0, 1): the conditions (H <= n, eta <= eta_max) fail")
    return math.log((L_v + lam_v) * C00 / (2 * eps)) / (-math.log1p(-x))
