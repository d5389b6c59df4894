"""Training neural networks using features replay (FR): Huo's thesis (2020) Ch. 6,
Sec. 6.4 (Lemma 6.4.1, Theorems 6.4.1-6.4.2); what the text leaves implicit: docs/derivations.md,
features_replay.

Assumptions: the expected FR direction is a sufficient descent direction with constant sigma > 0
(6.10), f is L-smooth and the direction's second moment is at most M (Assumption 6.4.2).

What a run maps to: sigma (``sigma_dir``), L (``L_est``) and M (``M_est``) from the run's ``info``
(an FR plugin measures sigma as docs/derivations.md, features_replay, 'measuring sigma' describes); for plain SGD (FR with K = 1, where the
direction is the stochastic gradient) sigma = 1, L from the workload and M = sup ||grad f||^2 +
Var / b bounded by the run's measured region.
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

FAMILIES = ("fr", "bp")  # the algorithms these theorems are about

L, M, sigma, gamma, gamma0, t0, F0, T = sym("L M sigma gamma gamma0 t0 F0 T")
GammaT, S2 = sp.symbols("Gamma_T S_2")

# M here is the bound of Assumption 6.4.2: a real constant, not a count (numerics.is_count)
REAL_SYMBOLS = ("M",)
SYMBOLS = {"L": "Lipschitz constant of grad f", "M": "bound on E||sum_k g_k^t||^2 (Assumption 6.4.2)",
           "sigma": "sufficient-direction constant (6.10), sigma > 0", "gamma": "constant step size",
           "gamma0": "gamma_t = gamma0/(1 + t/t0)", "t0": "schedule time scale, t0 > 0 (so (6.18) holds)", "F0": "f(w^0) - f(w*)",
           "T": "iterations"}
ASSUMPTIONS = ["6.4.1 sufficient direction: <grad f(w^t), E sum_k g_k^t> >= sigma ||grad f(w^t)||^2, sigma > 0",
               "6.4.2 L-Lipschitz gradient and E||sum_k g_k^t||^2 <= M"]


POSTHOC_M = POSTHOC_REGION.format(what="M: the second-moment bound")


def _constants(run, values, *, diminishing: bool) -> Extra:
    """sigma, L, M as the FR plugin measured them (info['sigma_dir'], 'L_est', 'M_est'); for one
    module (plain SGD, where the FR direction is the stochastic gradient) sigma = 1, the workload's L
    and M bounded on the region the run visited. The diminishing form's t0 is the applied one (0:
    one epoch n / b)."""
    from .measures import second_moment_bound_on_run

    c, info = run.constants, (run.info or {})
    posthoc: list[str] = []
    if "sigma_dir" in info:
        sig, L_v, M_v = float(info["sigma_dir"]), info.get("L_est"), info.get("M_est")
        if L_v is None or M_v is None:
            raise NotApplicable("the run records sigma_dir but not L_est / M_est (L_est is estimated on request: "
                                "--param L_iters=10)")
    elif int(run.applied.get("K") or run.params.get("K") or 1) == 1 and run.family in ("sgd", "fr", "bp", ""):
        sig, L_v, M_v = 1.0, c.get("L"), second_moment_bound_on_run(run)
        if L_v is None or M_v is None:
            raise NotApplicable("no L or M for this workload")
        posthoc.append(POSTHOC_M)
    else:
        raise NotApplicable("the run records no measured sufficient-direction constant info['sigma_dir']")
    F0_v = float(info.get("f0_minus_finf", c.get("f0_minus_fstar", np.nan)))
    if not np.isfinite(F0_v):
        raise NotApplicable("f(w^0) - f* is unknown for this workload (and the run records no info['f0_minus_finf'])")
    out = Extra(inputs={"L": float(L_v), "M": float(M_v), "sigma": sig, "F0": F0_v}, posthoc=posthoc)
    if diminishing:
        g0, t0_v = float(values["gamma0"]), float(values["t0"])
        if not t0_v:
            t0_v = float(c["n"]) / float(run.applied.get("b") or run.params.get("b") or 1)
        out.inputs["t0"] = t0_v
        out.schedule = lambda x, g0=g0, t0_v=t0_v: g0 / (1 + np.asarray(x, dtype=float) / t0_v)
    return out


SGD_FORM = Require(Applied("opt", "sgd"), "==", "sgd", "the theorems are for the SGD form; the Adam form has no theorem")
DOC = ("sigma, L, M: info['sigma_dir'], info['L_est'], info['M_est'] when the plugin measured them; with one module "
       "sigma = 1, the workload's L and M bounded on the region the run visited; F0: f(w^0) - inf f")


def _runmap(*, diminishing: bool) -> RunMap:
    if not diminishing:
        return RunMap(inputs={"gamma": Applied("eta")}, extra=lambda r, v: _constants(r, v, diminishing=False),
                      provides=("L", "M", "sigma", "F0"),
                      extra_doc=DOC,
                      when=[SGD_FORM, Require(Applied("schedule", "constant"), "==", "constant", "a constant step size")])
    return RunMap(inputs={"gamma0": Applied("eta"), "t0": Applied("t0", 0.0)}, extra_doc=DOC,
                  extra=lambda r, v: _constants(r, v, diminishing=True), provides=("L", "M", "sigma", "F0", "t0"),
                  when=[SGD_FORM, Require(Applied("schedule", "constant"), "==", "inv", "gamma_t = gamma0/(1 + t/t0)")])


THEOREMS = [
    Theorem(
        id="features_replay.thm-6.4.1", families=FAMILIES, title="Features replay with a fixed step size",
        real_symbols=REAL_SYMBOLS,
        citation=SOURCE.cite("Sec. 6.4", "(6.10)-(6.17)", "Theorem 6.4.1"),
        statement=("Under Assumptions 6.4.1-6.4.2 with gamma_t = gamma: (1/T) sum_{t<T} E||grad f(w^t)||^2 <= "
                   "(f(w^0) - f(w*))/(sigma gamma T) + gamma L M/(2 sigma)."),
        symbols=SYMBOLS, assumptions=ASSUMPTIONS,
        conditions=[Condition("non-vacuous: gamma L < 2/sigma", sp.StrictLessThan(gamma * L, 2 / sigma),
                              f"the floor gamma L M/(2 sigma) is below the trivial bound M/sigma^2 "
                              f"({derived('features_replay', 'non-vacuity')}); "
                              "reported", gating=False)],
        bound=F0 / (sigma * gamma * T) + gamma * L * M / (2 * sigma), measured="running_mean_grad_norm_sq",
        measured_doc="running mean over iterations of ||grad f(w_t)||^2", rate=1 / T,
        runmap=_runmap(diminishing=False), judges="the SGD form with a constant step",
        extra_bounds={"floor (T -> oo)": gamma * L * M / (2 * sigma),
                      "at gamma* = sqrt(2 F0/(T L M))": sp.sqrt(2 * F0 * L * M / T) / sigma},
        errata="No step-size condition is needed (Lemma 6.4.1). With sigma = 1 this is the SGD bound of Bottou et al.",
        notes=("sigma (sufficient direction) and Ch. 5's sigma (step-size ratio, sigma_lr here) share a symbol in the "
               f"thesis. The bound at gamma* is the minimum over gamma ({derived('features_replay', 'best fixed step')})."),
    ),
    Theorem(
        id="features_replay.thm-6.4.2", families=FAMILIES, title="Features replay with diminishing step sizes",
        real_symbols=REAL_SYMBOLS,
        citation=SOURCE.cite("Sec. 6.4", "(6.18)-(6.22)", "Theorem 6.4.2"),
        statement=("Under Assumptions 6.4.1-6.4.2 with sum gamma_t = oo and sum gamma_t^2 < oo (6.18), Gamma_T = sum_{t<T} "
                   "gamma_t: (1/Gamma_T) sum_t gamma_t E||grad f(w^t)||^2 <= (f(w^0) - f(w*))/(sigma Gamma_T) + "
                   "L M/(2 sigma) sum_t gamma_t^2 / Gamma_T. Encoded for gamma_t = gamma0/(1 + t/t0), which satisfies (6.18)."),
        symbols=SYMBOLS, assumptions=ASSUMPTIONS,
        conditions=[],   # sigma > 0 (Assumption 6.4.1) and t0 > 0 (so (6.18) holds): their domains
        definitions=[(GammaT, gamma0 * t0 * (sp.polygamma(0, t0 + T) - sp.polygamma(0, t0))),
                     (S2, gamma0**2 * t0**2 * (sp.polygamma(1, t0) - sp.polygamma(1, t0 + T)))],
        bound=F0 / (sigma * GammaT) + L * M / (2 * sigma) * S2 / GammaT, measured="weighted_mean_grad_norm_sq",
        measured_doc="gamma_t-weighted mean over iterations of ||grad f(w_t)||^2", rate=1 / sp.log(T),
        runmap=_runmap(diminishing=True), judges="the SGD form with gamma_t = gamma0/(1 + t/t0)",
        errata=("The proof cites '(6.11) in Lemma 5.4.1': it is Lemma 6.4.1. Remark 6.4.1's 'lim_{s->oo}' is a limit "
                "in T."),
        notes="Gamma_T = gamma0 t0 (psi(t0 + T) - psi(t0)), sum gamma_t^2 = gamma0^2 t0^2 (psi'(t0) - psi'(t0 + T)).",
    ),
]
