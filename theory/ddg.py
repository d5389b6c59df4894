"""Decoupled parallel backpropagation with convergence guarantee (DDG): Huo's thesis (2020)
Ch. 5, Sec. 5.4 (Lemma 5.4.1, Theorems 5.4.1-5.4.2); what the text leaves implicit:
docs/derivations.md, ddg.

The network is split into K modules; module k uses the gradient delayed by K - k iterations.
Assumptions: L-smooth f (5.10) and a uniform bound M on every per-sample squared gradient norm (5.11).
M_K = K M + sigma_lr K^4 M with sigma_lr = max_t gamma_{max(0, t-K+1)}/gamma_t (1 for a constant step,
exactly K for gamma_0/(1+t)).

What a run maps to: K = the module count (``K``/``modules`` parameter; a plain SGD run is K = 1, where
DDG is back-propagation), L and M from the run's ``info`` (``L_est``, ``M_est``: a network plugin
estimates them) or, for a linear finite-sum workload, L from the workload and M measured on the run
(max_i ||grad f_i(w*)|| + L_max max_t ||w_t - w*||)^2.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from .errors import NotApplicable
from .measures import POSTHOC_REGION
from .runmap import Applied, Extra, Require, RunMap
from .statement import Condition, Theorem, sym
from .papers import HUO_THESIS as SOURCE, derived

FAMILIES = ("ddg", "bp")  # the algorithms these theorems are about

L, M, K, gamma, gamma0, F0, T = sym("L M K gamma gamma0 F0 T")
MK, GammaT, S2 = sp.symbols("M_K Gamma_T S_2")
# H_T = sum_{t<T} 1/(1+t) and H_T^(2) = sum_{t<T} 1/(1+t)^2, written with polygamma (sympy's printer drops the
# parentheses around harmonic() when it rewrites it for numpy: checked against direct sums in the tests)
HARMONIC_T = sp.polygamma(0, T + 1) + sp.EulerGamma
HARMONIC2_T = sp.pi**2 / 6 - sp.polygamma(1, T + 1)

# M here is the bound (5.11) on ||grad f_x(w)||^2: a real constant, not a count (numerics.is_count)
REAL_SYMBOLS = ("M",)
SYMBOLS = {"L": "Lipschitz constant of grad f (5.10)", "M": "bound on every ||grad f_x(w)||^2 (5.11)",
           "K": "number of modules", "gamma": "constant step size", "gamma0": "gamma_t = gamma0/(1+t)",
           "F0": "f(w^0) - f(w*)", "T": "iterations"}
ASSUMPTIONS = ["5.4.1 L-Lipschitz gradient", "5.4.2 bounded second moment: ||grad f_x(w)||^2 <= M for every sample",
               "implicit: L gamma_t <= 1 and gamma_t non-increasing (used in (5.18)-(5.19))"]


def sigma_lr(gammas: np.ndarray, K_v: int) -> float:
    """max_t gamma_{max(0, t-K+1)} / gamma_t for a step-size sequence (Lemma 5.4.1)."""
    g = np.asarray(gammas, dtype=float)
    idx = np.maximum(0, np.arange(len(g)) - K_v + 1)
    return float(np.max(g[idx] / g))


def stable_delayed_gd(tau: int) -> float:
    """Largest a = gamma L for which x_{t+1} = x_t - a x_{t-tau} is stable: 2 sin(pi/(2(2 tau + 1)))
    (derivation: docs/derivations.md, ddg, 'delayed gradient stability'; outside the thesis's assumptions: a
    stress test)."""
    return float(2 * np.sin(np.pi / (2 * (2 * tau + 1))))


POSTHOC_M = POSTHOC_REGION.format(what="M: the second-moment bound")
MODULE_FAMILIES = ("ddg", "fr", "bp", "dni")   # plugins whose workers are the network's modules


def network_constants(run, values, *, schedule=None) -> Extra:
    """L and M as the plugin measured them (info['L_est'], info['M_est']: a network plugin estimates
    them), else L of the workload and M bounded on the region the run visited; K the module count
    the plugin applied (a module-parallel plugin's workers, else 1); F0 = f(w^0) - inf f."""
    from .measures import second_moment_bound_on_run

    c, info = run.constants, (run.info or {})
    K_v = run.applied.get("K") or run.params.get("K") or (run.workers if run.family in MODULE_FAMILIES else 1)
    posthoc: list[str] = []
    if info.get("L_est") is not None and info.get("M_est") is not None:
        L_v, M_v = float(info["L_est"]), float(info["M_est"])
    else:
        if "L" not in c:
            raise NotApplicable("no smoothness constant: the workload has none and the run records no info['L_est'] "
                                "(the network plugins estimate it on request: --param L_iters=10)")
        L_v, M_v = float(c["L"]), second_moment_bound_on_run(run)
        if M_v is None:
            raise NotApplicable("no bound M on the per-sample gradients (info['M_est'] or a linear workload)")
        posthoc.append(POSTHOC_M)
    F0_v = float(info.get("f0_minus_finf", c.get("f0_minus_fstar", np.nan)))
    if not np.isfinite(F0_v):
        raise NotApplicable("f(w^0) - f* is unknown for this workload")
    return Extra(inputs={"L": L_v, "M": M_v, "K": float(K_v), "F0": F0_v}, posthoc=posthoc,
                 schedule=None if schedule is None else schedule(values))


PROVIDES = ("L", "M", "K", "F0")
SGD_FORM = Require(Applied("opt", "sgd"), "==", "sgd", "the theorems are for the SGD form; the Adam form has no theorem")
DOC_CONSTANTS = ("L, M: info['L_est'], info['M_est'] when the plugin measured them, else the workload's L and M bounded "
                 "on the region the run visited; K: the module count applied; F0: f(w^0) - inf f")


def _runmap(*, diminishing: bool) -> RunMap:
    if not diminishing:
        return RunMap(inputs={"gamma": Applied("eta")}, theory={"eta": "gamma"}, extra=network_constants, provides=PROVIDES,
                      extra_doc=DOC_CONSTANTS,
                      when=[SGD_FORM, Require(Applied("schedule", "constant"), "==", "constant", "a constant step size")])
    return RunMap(inputs={"gamma0": Applied("eta")}, theory={"eta": "gamma0"}, extra_doc=DOC_CONSTANTS, provides=PROVIDES,
                  extra=lambda run, v: network_constants(run, v, schedule=lambda v: (
                      lambda x, g0=float(v["gamma0"]): g0 / (1 + np.asarray(x, dtype=float)))),
                  when=[SGD_FORM, Require(Applied("schedule", "constant"), "==", "inv", "gamma_t = gamma0/(1+t)"),
                        Require(Applied("t0", 1.0), "==", 1.0, "gamma_t = gamma0/(1+t) (t0 = 1)")])


def _fixed() -> Theorem:
    return Theorem(
        id="ddg.thm-5.4.1", families=FAMILIES, title="DDG with a fixed step size: O(1/T) to a neighbourhood 2 gamma L M_K",
        real_symbols=REAL_SYMBOLS,
        citation=SOURCE.cite("Sec. 5.4", "(5.10)-(5.21)", "Theorem 5.4.1"),
        statement=("Under Assumptions 5.4.1-5.4.2 with gamma_t = gamma and gamma L <= 1, sigma_lr = 1 and "
                   "M_K = K M + K^4 M: (1/T) sum_{t<T} E||grad f(w^t)||^2 <= 2 (f(w^0) - f(w*))/(gamma T) + 2 gamma L M_K."),
        symbols=SYMBOLS, assumptions=ASSUMPTIONS,
        conditions=[Condition("gamma L <= 1", sp.LessThan(gamma * L, 1), "stated"),
                    Condition("K >= 1", sp.GreaterThan(K, 1)),
                    Condition("non-vacuous: gamma L < 1/(2(K + K^4))", sp.StrictLessThan(gamma * L, 1 / (2 * (K + K**4))),
                              "the floor 2 gamma L M_K is below the trivial bound M "
                              f"({derived('ddg', 'non-vacuity')}); reported",
                              gating=False)],
        definitions=[(MK, K * M + K**4 * M)],
        bound=2 * F0 / (gamma * T) + 2 * gamma * L * MK, measured="running_mean_grad_norm_sq",
        measured_doc="running mean over iterations of ||grad f(w_t)||^2", rate=1 / T,
        solutions={"gamma": 1 / L}, runmap=_runmap(diminishing=False), judges="the SGD form with a constant step",
        extra_bounds={"floor (T -> oo)": 2 * gamma * L * MK,
                      "at the best step min{1/L, sqrt(F0/(T L M_K))}": 4 * sp.sqrt(F0 * L * MK / T)},
        errata=("Lemma 5.4.1 omits conditions its proof uses in (5.18)-(5.19): L gamma_t <= 1 (stated only in the "
                "theorems) and gamma_t non-increasing (for gamma_j <= gamma_{max(0, t-K+1)}); they are conditions here. "
                "The K^4 term of (5.18) is a loose count (K(K-1)/2 delayed pairs suffice: "
                f"{derived('ddg', 'K^4 count')}) but valid; the thesis's constant is encoded."),
        notes=("With K = 1 DDG is back-propagation (plain SGD), so a serial SGD run is checked with K = 1. The bound at "
               f"the best step is the minimum over gamma ({derived('ddg', 'best fixed step')})."),
    )


def _diminishing() -> Theorem:
    return Theorem(
        id="ddg.thm-5.4.2", families=FAMILIES, title="DDG with gamma_t = gamma0/(1+t): O(1/log T)",
        real_symbols=REAL_SYMBOLS,
        citation=SOURCE.cite("Sec. 5.4", "(5.22)-(5.28)", "Theorem 5.4.2"),
        statement=("Under Assumptions 5.4.1-5.4.2 with gamma_t = gamma0/(1+t), gamma_0 L <= 1, sigma_lr = K and "
                   "M_K = K M + K^5 M, Gamma_T = sum_{t<T} gamma_t: (1/Gamma_T) sum_t gamma_t E||grad f(w^t)||^2 <= "
                   "2 (f(w^0) - f(w*))/Gamma_T + 2 sum_t gamma_t^2 L M_K / Gamma_T."),
        symbols=SYMBOLS, assumptions=ASSUMPTIONS,
        conditions=[Condition("gamma0 L <= 1", sp.LessThan(gamma0 * L, 1), "stated (gamma_t L <= 1 for all t)"),
                    Condition("K >= 1", sp.GreaterThan(K, 1))],
        definitions=[(MK, K * M + K**5 * M), (GammaT, gamma0 * HARMONIC_T), (S2, gamma0**2 * HARMONIC2_T)],
        bound=2 * F0 / GammaT + 2 * S2 * L * MK / GammaT, measured="weighted_mean_grad_norm_sq",
        measured_doc="gamma_t-weighted mean over iterations of ||grad f(w_t)||^2", rate=1 / sp.log(T),
        solutions={"gamma0": 1 / L}, runmap=_runmap(diminishing=True), judges="the SGD form with gamma_t = gamma0/(1+t)",
        errata=("The statement says 'let sigma = K', the proof 'sigma <= K'; sigma_lr = K exactly for this schedule "
                f"(attained at t = K - 1; tested; {derived('ddg', 'sigma_lr')}). Corollaries 5.4.1-5.4.2 (the limit -> 0, "
                "'lim_{s->oo}' meaning T -> oo) follow from this bound."),
        notes="Gamma_T = gamma0 H_T and sum gamma_t^2 = gamma0^2 H_T^(2) (harmonic numbers), so the bound is O(1/log T).",
    )


THEOREMS = [_fixed(), _diminishing()]
