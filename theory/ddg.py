"""Decoupled parallel backpropagation with convergence guarantee (DDG): thesis
``001_5c18eb65c467c540.txt`` Ch. 5, Sec. 5.4 (Lemma 5.4.1, Theorems 5.4.1-5.4.2); notes
``ddg-features-replay.md`` Sec. 4.1-4.4 and 8.

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

from .core import Citation, Condition, NotApplicable, Theorem, sym

PAPER = "Decoupled parallel backpropagation (Huo, Gu, Yang & Huang, ICML 2018; thesis Ch. 5)"
FAMILIES = ("ddg", "bp")  # the algorithms these theorems are about
THESIS = "001_5c18eb65c467c540.txt"

L, M, K, gamma, gamma0, F0, T = sym("L M K gamma gamma0 F0 T")
MK, GammaT, S2 = sp.symbols("M_K Gamma_T S_2")
# H_T = sum_{t<T} 1/(1+t) and H_T^(2) = sum_{t<T} 1/(1+t)^2, written with polygamma (sympy's printer drops the
# parentheses around harmonic() when it rewrites it for numpy: checked against direct sums in the tests)
HARMONIC_T = sp.polygamma(0, T + 1) + sp.EulerGamma
HARMONIC2_T = sp.pi**2 / 6 - sp.polygamma(1, T + 1)

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
    (notes Sec. 4.4, [DERIVED]; outside the thesis's assumptions: a stress test)."""
    return float(2 * np.sin(np.pi / (2 * (2 * tau + 1))))


READS = ("eta", "schedule", "t0")  # K and opt are read when a plugin has them (default 1 module, SGD)


def _adapt(run, *, diminishing: bool) -> dict[str, Any]:
    from .measures import second_moment_bound_on_run

    p, c, info = run.params, run.constants, (run.info or {})
    K_v = float(run.param("K", None, aliases=("modules", "splits")) or (run.info or {}).get("K")
                or (run.workers if run.family in ("ddg", "fr", "bp", "dni") else 1))
    sched = run.param("schedule", "constant")
    if run.param("opt", "sgd") != "sgd":
        raise NotApplicable(f"opt = {p.get('opt')}: Theorems 5.4.1-5.4.2 are for the SGD form; the Adam form has no theorem")
    eta_v = run.param("eta", None, aliases=("gamma", "lr"))
    if eta_v is None:
        raise NotApplicable("the run has no step size parameter eta")
    if diminishing:
        if sched != "inv" or float(run.param("t0", 0.0) or 0.0) != 1.0:
            raise NotApplicable(f"needs gamma_t = gamma0/(1+t) (schedule 'inv' with t0 = 1); the run has schedule = "
                                f"{sched}, t0 = {p.get('t0')}")
    elif sched not in ("constant", None):
        raise NotApplicable(f"schedule = {sched}: Theorem 5.4.1 is for a constant step size")
    if "L_est" in info and "M_est" in info:
        L_v, M_v = float(info["L_est"]), float(info["M_est"])
    else:
        if "L" not in c:
            raise NotApplicable("no smoothness constant: the workload has none and the run records no info['L_est'] "
                                "(the network plugins estimate it on request: --param L_iters=10)")
        L_v = float(c["L"])
        M_v = second_moment_bound_on_run(run)
        if M_v is None:
            raise NotApplicable("no bound M on the per-sample gradients (info['M_est'] or a linear workload)")
    F0_v = float(info.get("f0_minus_finf", c.get("f0_minus_fstar", np.nan)))
    if not np.isfinite(F0_v):
        raise NotApplicable("f(w^0) - f* is unknown for this workload")
    vals = {"L": L_v, "M": M_v, "K": K_v, "F0": F0_v}
    if "M_est" not in info:
        vals["_posthoc"] = ["M: the second-moment bound over the region the run visited (its largest recorded ||w - w*||), not over all w"]
    if diminishing:
        g0 = float(eta_v)
        vals["gamma0"] = g0
        vals["_schedule"] = lambda x, g0=g0: g0 / (1 + np.asarray(x, dtype=float))
    else:
        vals["gamma"] = float(eta_v)
    return vals




def _fixed() -> Theorem:
    return Theorem(
        id="ddg.thm-5.4.1", paper=PAPER, families=FAMILIES, title="DDG with a fixed step size: O(1/T) to a neighbourhood 2 gamma L M_K",
        citation=Citation(THESIS, "Sec. 5.4", "(5.10)-(5.21)", "Theorem 5.4.1", "notes/ddg-features-replay.md Sec. 4.3, 8"),
        statement=("Under Assumptions 5.4.1-5.4.2 with gamma_t = gamma and gamma L <= 1, sigma_lr = 1 and "
                   "M_K = K M + K^4 M: (1/T) sum_{t<T} E||grad f(w^t)||^2 <= 2 (f(w^0) - f(w*))/(gamma T) + 2 gamma L M_K."),
        symbols=SYMBOLS, assumptions=ASSUMPTIONS,
        conditions=[Condition("gamma L <= 1", sp.LessThan(gamma * L, 1), "stated"),
                    Condition("K >= 1", sp.GreaterThan(K, 1)),
                    Condition("non-vacuous: gamma L < 1/(2(K + K^4))", sp.StrictLessThan(gamma * L, 1 / (2 * (K + K**4))),
                              "the floor 2 gamma L M_K is below the trivial bound M (notes, [DERIVED]); reported",
                              gating=False)],
        definitions=[(MK, K * M + K**4 * M)],
        bound=2 * F0 / (gamma * T) + 2 * gamma * L * MK, measured="running_mean_grad_norm_sq",
        measured_doc="running mean over iterations of ||grad f(w_t)||^2", rate=1 / T,
        solutions={"gamma": 1 / L}, adapter=lambda run: _adapt(run, diminishing=False), reads=READS, guided={"eta": "gamma"},
        extra_bounds={"floor (T -> oo)": 2 * gamma * L * MK,
                      "at the best step min{1/L, sqrt(F0/(T L M_K))}": 4 * sp.sqrt(F0 * L * MK / T)},
        errata=("Lemma 5.4.1 omits its conditions L gamma_t <= 1 and gamma_t non-increasing (notes errata 4); they are "
                "conditions here. The K^4 term is a loose count (K(K-1)/2 pairs suffice, notes errata 6) but valid; "
                "the thesis's constant is encoded."),
        notes="With K = 1 DDG is back-propagation (plain SGD), so a serial SGD run is checked with K = 1.",
    )


def _diminishing() -> Theorem:
    return Theorem(
        id="ddg.thm-5.4.2", paper=PAPER, families=FAMILIES, title="DDG with gamma_t = gamma0/(1+t): O(1/log T)",
        citation=Citation(THESIS, "Sec. 5.4", "(5.22)-(5.28)", "Theorem 5.4.2", "notes/ddg-features-replay.md Sec. 4.4, 8"),
        statement=("Under Assumptions 5.4.1-5.4.2 with gamma_t = gamma0/(1+t), gamma_0 L <= 1, sigma_lr = K and "
                   "M_K = K M + K^5 M, Gamma_T = sum_{t<T} gamma_t: (1/Gamma_T) sum_t gamma_t E||grad f(w^t)||^2 <= "
                   "2 (f(w^0) - f(w*))/Gamma_T + 2 sum_t gamma_t^2 L M_K / Gamma_T."),
        symbols=SYMBOLS, assumptions=ASSUMPTIONS,
        conditions=[Condition("gamma0 L <= 1", sp.LessThan(gamma0 * L, 1), "stated (gamma_t L <= 1 for all t)"),
                    Condition("K >= 1", sp.GreaterThan(K, 1))],
        definitions=[(MK, K * M + K**5 * M), (GammaT, gamma0 * HARMONIC_T), (S2, gamma0**2 * HARMONIC2_T)],
        bound=2 * F0 / GammaT + 2 * S2 * L * MK / GammaT, measured="weighted_mean_grad_norm_sq",
        measured_doc="gamma_t-weighted mean over iterations of ||grad f(w_t)||^2", rate=1 / sp.log(T),
        solutions={"gamma0": 1 / L}, adapter=lambda run: _adapt(run, diminishing=True), reads=READS, guided={"eta": "gamma0"},
        errata=("The statement says 'let sigma = K', the proof 'sigma <= K'; sigma_lr = K exactly for this schedule "
                "(attained at t = K - 1; tested). Corollaries 5.4.1-5.4.2 (the limit -> 0, 'lim_{s->oo}' meaning "
                "T -> oo) follow from this bound."),
        notes="Gamma_T = gamma0 H_T and sum gamma_t^2 = gamma0^2 H_T^(2) (harmonic numbers), so the bound is O(1/log T).",
    )


THEOREMS = [_fixed(), _diminishing()]
