"""Training neural networks using features replay (FR): thesis ``001_5c18eb65c467c540.txt`` Ch. 6,
Sec. 6.4 (Lemma 6.4.1, Theorems 6.4.1-6.4.2); notes ``ddg-features-replay.md`` Sec. 4.5-4.9 and 8.

Assumptions: the expected FR direction is a sufficient descent direction with constant sigma > 0
(6.10), f is L-smooth and the direction's second moment is at most M (Assumption 6.4.2).

What a run maps to: sigma (``sigma_dir``), L (``L_est``) and M (``M_est``) from the run's ``info``
(an FR plugin measures sigma as the notes Sec. 6 describe); for plain SGD (FR with K = 1, where the
direction is the stochastic gradient) sigma = 1, L from the workload and M = sup ||grad f||^2 +
Var / b bounded by the run's measured region.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from .core import Citation, Condition, NotApplicable, Theorem, sym

PAPER = "Training neural networks using features replay (Huo, Gu & Huang, NeurIPS 2018; thesis Ch. 6)"
FAMILIES = ("fr", "bp")  # the algorithms these theorems are about
THESIS = "001_5c18eb65c467c540.txt"

L, M, sigma, gamma, gamma0, t0, F0, T = sym("L M sigma gamma gamma0 t0 F0 T")
GammaT, S2 = sp.symbols("Gamma_T S_2")

SYMBOLS = {"L": "Lipschitz constant of grad f", "M": "bound on E||sum_k g_k^t||^2 (Assumption 6.4.2)",
           "sigma": "sufficient-direction constant (6.10)", "gamma": "constant step size",
           "gamma0": "gamma_t = gamma0/(1 + t/t0)", "t0": "schedule time scale", "F0": "f(w^0) - f(w*)",
           "T": "iterations"}
ASSUMPTIONS = ["6.4.1 sufficient direction: <grad f(w^t), E sum_k g_k^t> >= sigma ||grad f(w^t)||^2, sigma > 0",
               "6.4.2 L-Lipschitz gradient and E||sum_k g_k^t||^2 <= M"]


READS = ("eta", "schedule", "t0", "b")  # K and opt are read when a plugin has them


def _adapt(run, *, diminishing: bool) -> dict[str, Any]:
    from .measures import second_moment_bound_on_run

    p, c, info = run.params, run.constants, (run.info or {})
    if run.param("opt", "sgd") != "sgd":
        raise NotApplicable(f"opt = {p.get('opt')}: Theorems 6.4.1-6.4.2 are for the SGD form; the Adam form has no theorem")
    eta_v = run.param("eta", None, aliases=("gamma", "lr"))
    if eta_v is None:
        raise NotApplicable("the run has no step size parameter eta")
    sched = run.param("schedule", "constant")
    if diminishing and sched != "inv":
        raise NotApplicable(f"schedule = {sched}: this encoding covers gamma_t = gamma0/(1 + t/t0) (schedule 'inv')")
    if not diminishing and sched not in ("constant", None):
        raise NotApplicable(f"schedule = {sched}: Theorem 6.4.1 is for a constant step size")
    if "sigma_dir" in info:
        sig, L_v, M_v = float(info["sigma_dir"]), info.get("L_est"), info.get("M_est")
        if L_v is None or M_v is None:
            raise NotApplicable("the run records sigma_dir but not L_est / M_est (L_est is estimated on request: "
                                "--param L_iters=10)")
    elif int(run.param("K", 1, aliases=("modules",))) == 1 and run.family in ("sgd", "fr", "bp", ""):
        sig = 1.0  # K = 1: the FR direction is the stochastic gradient, sigma = 1 (notes Sec. 4.5)
        L_v = c.get("L")
        M_v = second_moment_bound_on_run(run)  # E||g||^2 <= sup_i ||grad f_i||^2 (a mini-batch mean is no larger)
        if L_v is None or M_v is None:
            raise NotApplicable("no L or M for this workload")
    else:
        raise NotApplicable("the run records no measured sufficient-direction constant info['sigma_dir']")
    vals = {"_posthoc": [] if "sigma_dir" in info else ["M: the second-moment bound over the region the run visited (its largest recorded ||w - w*||), not over all w"],
            "L": float(L_v), "M": float(M_v), "sigma": sig, "F0": float(info.get("f0_minus_finf", c.get("f0_minus_fstar", np.nan)))}
    if not np.isfinite(vals["F0"]):
        raise NotApplicable("f(w^0) - f* is unknown for this workload (and the run records no info['f0_minus_finf'])")
    if diminishing:
        g0 = float(eta_v)
        t0_v = float(run.param("t0", 0.0) or 0.0) or float(c["n"]) / float(run.param("b", 1))
        vals.update(gamma0=g0, t0=t0_v)
        vals["_schedule"] = lambda x, g0=g0, t0_v=t0_v: g0 / (1 + np.asarray(x, dtype=float) / t0_v)
    else:
        vals["gamma"] = float(eta_v)
    return vals


THEOREMS = [
    Theorem(
        id="features_replay.thm-6.4.1", paper=PAPER, families=FAMILIES, title="Features replay with a fixed step size",
        citation=Citation(THESIS, "Sec. 6.4", "(6.10)-(6.17)", "Theorem 6.4.1", "notes/ddg-features-replay.md Sec. 4.7, 8"),
        statement=("Under Assumptions 6.4.1-6.4.2 with gamma_t = gamma: (1/T) sum_{t<T} E||grad f(w^t)||^2 <= "
                   "(f(w^0) - f(w*))/(sigma gamma T) + gamma L M/(2 sigma)."),
        symbols=SYMBOLS, assumptions=ASSUMPTIONS,
        conditions=[Condition("sigma > 0", sp.StrictGreaterThan(sigma, 0), "Assumption 6.4.1"),
                    Condition("gamma > 0", sp.StrictGreaterThan(gamma, 0)),
                    Condition("non-vacuous: gamma L < 2 sigma", sp.StrictLessThan(gamma * L, 2 * sigma),
                              "the floor gamma L M/(2 sigma) is below M (notes, [DERIVED]); reported", gating=False)],
        bound=F0 / (sigma * gamma * T) + gamma * L * M / (2 * sigma), measured="running_mean_grad_norm_sq",
        measured_doc="running mean over iterations of ||grad f(w_t)||^2", rate=1 / T,
        adapter=lambda run: _adapt(run, diminishing=False), reads=READS,
        extra_bounds={"floor (T -> oo)": gamma * L * M / (2 * sigma),
                      "at gamma* = sqrt(2 F0/(T L M))": sp.sqrt(2 * F0 * L * M / T) / sigma},
        errata="No step-size condition is needed (Lemma 6.4.1). With sigma = 1 this is the SGD bound of Bottou et al.",
        notes="sigma (sufficient direction) and Ch. 5's sigma (step-size ratio) share a symbol in the thesis (errata 7).",
    ),
    Theorem(
        id="features_replay.thm-6.4.2", paper=PAPER, families=FAMILIES, title="Features replay with diminishing step sizes",
        citation=Citation(THESIS, "Sec. 6.4", "(6.18)-(6.22)", "Theorem 6.4.2", "notes/ddg-features-replay.md Sec. 4.8, 8"),
        statement=("Under Assumptions 6.4.1-6.4.2 with sum gamma_t = oo and sum gamma_t^2 < oo (6.18), Gamma_T = sum_{t<T} "
                   "gamma_t: (1/Gamma_T) sum_t gamma_t E||grad f(w^t)||^2 <= (f(w^0) - f(w*))/(sigma Gamma_T) + "
                   "L M/(2 sigma) sum_t gamma_t^2 / Gamma_T. Encoded for gamma_t = gamma0/(1 + t/t0), which satisfies (6.18)."),
        symbols=SYMBOLS, assumptions=ASSUMPTIONS,
        conditions=[Condition("sigma > 0", sp.StrictGreaterThan(sigma, 0), "Assumption 6.4.1"),
                    Condition("t0 > 0 (so (6.18) holds)", sp.StrictGreaterThan(t0, 0))],
        definitions=[(GammaT, gamma0 * t0 * (sp.polygamma(0, t0 + T) - sp.polygamma(0, t0))),
                     (S2, gamma0**2 * t0**2 * (sp.polygamma(1, t0) - sp.polygamma(1, t0 + T)))],
        bound=F0 / (sigma * GammaT) + L * M / (2 * sigma) * S2 / GammaT, measured="weighted_mean_grad_norm_sq",
        measured_doc="gamma_t-weighted mean over iterations of ||grad f(w_t)||^2", rate=1 / sp.log(T),
        adapter=lambda run: _adapt(run, diminishing=True), reads=READS,
        errata="The proof cites '(6.11) in Lemma 5.4.1': it is Lemma 6.4.1 (notes errata 11). Remark 6.4.1's limit is in T.",
        notes="Gamma_T = gamma0 t0 (psi(t0 + T) - psi(t0)), sum gamma_t^2 = gamma0^2 t0^2 (psi'(t0) - psi'(t0 + T)).",
    ),
]
