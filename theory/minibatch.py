"""Inefficiency of SGD with larger mini-batches and more learners (Bhardwaj & Cong, ICLR 2017 submission,
Sec. 3-4 and the appendix; what the text leaves implicit: docs/derivations.md, minibatch).

The paper's SGD update uses the SUM of the M sample gradients with step gamma; the mean-gradient
step eta of a plugin is eta = gamma M (docs/derivations.md, minibatch, 'mean form'). Assumptions:
unbiased samples, variance sigma^2 per sample, L-smooth f. D_f = f(x_1) - inf f.

Lemma 1 and Theorem 4's ASGD bound are checked on runs (sgd-serial is ASGD with N = 1 learner and
no delay); Theorems 2, 3 and 5 compare optimised guarantees across batch sizes / learner counts and
are evaluated (exact closed forms: docs/derivations.md, minibatch) rather than checked per run.
"""

from __future__ import annotations

import math
from typing import Any

import sympy as sp

from .measures import POSTHOC_REGION
from .runmap import Applied, Computed, Constant, Delay, Require, RunMap, Workers
from .statement import Condition, Theorem, sym
from .papers import MINIBATCH as SOURCE, derived

FAMILIES = ("sgd", "asgd")  # the algorithms these theorems are about

gamma, L, M, sigma2, Df, K, S, N, Ml, Mh, eps = sym("gamma L M sigma2 D_f K S N M_l M_h epsilon")
alpha = sp.Symbol("alpha")
Lmax = sym("L_max")

# Implicit in applying A.2 to a linear model (docs/derivations.md, minibatch, 'eta L_max <= 1'): the variance is not bounded over all x
# (it grows with ||x - x*||), only over the region the run visits; for convex L_max-smooth f_i, co-coercivity gives
# E||x+ - x*||^2 <= ||x - x*||^2 - 2 eta (1 - eta L_max) <grad f(x), x - x*> + 2 eta^2 sigma_*^2, so with
# eta L_max <= 1 that region stays bounded (in mean square) and the measured sigma^2 covers the iterates.
PER_SAMPLE = Condition(
    "per-sample: eta L_max = gamma M L_max <= 1", sp.LessThan(gamma * M * Lmax, 1),
    "keeps the iterates where A.2's sigma^2 (measured over the visited region) holds: eta L_max <= 1 for convex "
    f"L_max-smooth f_i (co-coercivity); A.2 for all x fails on a linear model ({derived('minibatch', 'eta L_max <= 1')})",
    implicit=True)

SYMBOLS = {"gamma": "step size of the SUM-form update (eta = gamma M for a mean-gradient plugin)",
           "L_max": "largest per-sample smoothness constant (max_i L_i)",
           "L": "Lipschitz constant of grad f (A.3)", "M": "mini-batch size", "sigma2": "per-sample variance bound (A.2)",
           "D_f": "f(x_1) - inf f", "K": "iterations (server updates for ASGD)", "S": "samples processed (S = M K)",
           "N": "learners (the age bound tau <= N)", "M_l": "small batch", "M_h": "large batch", "epsilon": "target (> 0)"}
ASSUMPTIONS = ["A.1 unbiased: E G(x, z) = grad f(x)", "A.2 bounded variance: E||G(x,z) - grad f(x)||^2 <= sigma^2",
               "A.3 L-Lipschitz gradient", "samples in a mini-batch i.i.d. (with replacement)"]


def B_star(M_v, S_v, L_v, Df_v, s2):
    """The optimised Lemma-1 guarantee (derivation: docs/derivations.md, minibatch, 'B*'):
    M L D/S + sqrt((M L D/S)^2 + 2 L D sigma^2/S)."""
    a = M_v * L_v * Df_v / S_v
    return a + math.sqrt(a * a + 2 * L_v * Df_v * s2 / S_v)


def samples_required_sgd(M_v, eps_v, L_v, Df_v, s2):
    """Theorem 3, quantitative (derivation: docs/derivations.md, minibatch, 'S_req'):
    S_req(M, eps) = 2 L D_f (sigma^2 + eps M)/eps^2, linear in M."""
    return 2 * L_v * Df_v * (s2 + eps_v * M_v) / eps_v**2


def asgd_gamma_max(N_v, L_v, M_v):
    """(8) solved for gamma: (sqrt(1 + 8 N^2) - 1)/(4 L M N^2)."""
    return (math.sqrt(1 + 8 * N_v**2) - 1) / (4 * L_v * M_v * N_v**2)


def asgd_bound(g, K_v, N_v, L_v, M_v, Df_v, s2):
    """(7): 2 D_f/(M K gamma) + sigma^2 L gamma + 2 sigma^2 L^2 M N gamma^2."""
    return 2 * Df_v / (M_v * K_v * g) + s2 * L_v * g + 2 * s2 * L_v**2 * M_v * N_v * g**2


def asgd_best_bound(K_v, N_v, L_v, M_v, Df_v, s2):
    """min over 0 < gamma <= gamma_max(N) of (7) (numerically; the minimiser may hit the cap)."""
    from scipy.optimize import minimize_scalar

    gmax = asgd_gamma_max(N_v, L_v, M_v)
    res = minimize_scalar(lambda g: asgd_bound(g, K_v, N_v, L_v, M_v, Df_v, s2), bounds=(gmax * 1e-9, gmax),
                          method="bounded", options={"xatol": gmax * 1e-12})
    return float(min(res.fun, asgd_bound(gmax, K_v, N_v, L_v, M_v, Df_v, s2)))


def samples_required_asgd(N_v, eps_v, L_v, M_v, Df_v, s2, K_hi: float = 1e15) -> float:
    """Theorem 5 (derivation: docs/derivations.md, minibatch, 'Theorem 5'): M * min{K : min_gamma (7) <= eps},
    by bisection on K (the best bound decreases in K)."""
    if asgd_best_bound(K_hi, N_v, L_v, M_v, Df_v, s2) > eps_v:
        return math.inf
    lo, hi = 1.0, K_hi
    while hi / lo > 1 + 1e-9:
        mid = math.sqrt(lo * hi)
        if asgd_best_bound(mid, N_v, L_v, M_v, Df_v, s2) <= eps_v:
            hi = mid
        else:
            lo = mid
    return M_v * hi


def asgd_ratio(alpha_v: float, N_v: float) -> float:
    """Theorem 4's exact comparison (derivation: docs/derivations.md, minibatch, 'Theorem 4 factor'): the
    optimised (19)-(20) for N learners over 1 learner,
    in units where gamma = c/(alpha M L): min_c (2/c + c + 2 N c^2/alpha) s.t. 2 N^2 c^2 + alpha c - alpha^2 <= 0."""
    from scipy.optimize import minimize_scalar

    def best(Nv):
        cmax = alpha_v / (4 * Nv**2) * (-1 + math.sqrt(1 + 8 * Nv**2))
        f = lambda c: 2 / c + c + 2 * Nv * c**2 / alpha_v  # noqa: E731
        r = minimize_scalar(f, bounds=(cmax * 1e-9, cmax), method="bounded", options={"xatol": 1e-12})
        return min(r.fun, f(cmax))

    return best(N_v) / best(1.0)


POSTHOC_SIGMA = POSTHOC_REGION.format(what="sigma^2: the variance bound")


def _variance(run):
    from .measures import variance_bound_on_run

    return variance_bound_on_run(run)


def _runmap(*, asgd: bool) -> RunMap:
    """A mean-gradient SGD run: gamma = eta / b (the sum-form step), M = b, sigma^2 bounded on the
    region the run visited; ASGD adds N = the workers and tau = the measured delay."""
    inputs = {"gamma": Applied("eta") / Applied("b", 1), "L": Constant("L"), "M": Applied("b", 1),
              "sigma2": Computed(_variance, "variance bound sigma^2 (needs w* and per-sample gradients)", POSTHOC_SIGMA),
              "D_f": Constant("f0_minus_fstar"), "L_max": Constant("L_max")}
    if asgd:
        inputs.update(N=Workers(), tau=Delay())
    return RunMap(inputs=inputs, when=[CONSTANT_STEP], theory={"eta": ("gamma", lambda g, v, m: g * v["M"])})


CONSTANT_STEP = Require(Applied("schedule", "constant"), "==", "constant", "the bound is for a constant step size")


tau = sym("tau")
alpha_expr = sp.sqrt(S * sigma2 / (L * Df))
LEMMA1 = (Df / S + L * sigma2 * gamma**2 / 2) / (gamma - L * M * gamma**2 / 2)
BSTAR = M * L * Df / S + sp.sqrt((M * L * Df / S) ** 2 + 2 * L * Df * sigma2 / S)
ASGD7 = 2 * Df / (M * K * gamma) + sigma2 * L * gamma + 2 * sigma2 * L**2 * M * N * gamma**2

THEOREMS = [
    Theorem(
        id="minibatch.lem-1", families=FAMILIES, title="Mini-batch SGD with a constant step: the average gradient norm",
        citation=SOURCE.cite("Sec. 3, Lemma 1", "(1)-(3), (9)-(11)", "Lemma 1"),
        statement=("With mini-batches of size M and a constant step gamma (sum-form update), after K iterations "
                   "(S = M K samples): (1/K) sum_k E||grad f(x_k)||^2 <= (D_f/S + L sigma^2 gamma^2/2)/(gamma - L M gamma^2/2)."),
        symbols=SYMBOLS, assumptions=ASSUMPTIONS,
        conditions=[Condition("gamma - L M gamma^2/2 > 0", sp.StrictGreaterThan(gamma - L * M * gamma**2 / 2, 0),
                              "validity of (2): 0 < gamma < 2/(L M), i.e. eta < 2/L for the mean form", implicit=True),
                    PER_SAMPLE],
        definitions=[(S, M * K)], bound=LEMMA1, horizon="K",
        horizon_doc="iterations", measured="running_mean_grad_norm_sq",
        measured_doc="running mean over iterations of ||grad f(x_k)||^2", rate=1 / K,
        solutions={"gamma": 2 / (L * M)},
        runmap=_runmap(asgd=False), judges="a constant step size (schedule = constant)",
        extra_bounds={"mean form (eta = gamma M)": (Df / (K * gamma * M) + L * sigma2 * gamma * M / (2 * M))
                      / (1 - L * gamma * M / 2)},
        errata=("The appendix's chain for E||delta_k||^2 reads like M sum_i E||delta_ki||^2 <= M sigma^2; the correct "
                "E||delta_k||^2 = sum_i E||delta_ki||^2 <= M sigma^2 (independent samples) is what (2) uses. D_f needs "
                "f(x*) <= inf_k f(x_k): encoded with f* = inf f."),
        notes=(f"A mean-gradient plugin's eta maps to gamma = eta/M ({derived('minibatch', 'mean form')}). sigma^2 for a finite-sum workload is bounded on the "
               "region the run visited (harness.theory.measures.variance_bound_on_run)."),
    ),
    Theorem(
        id="minibatch.thm-2", families=FAMILIES, title="Same samples, larger mini-batch: a worse guarantee by ~2 M_h/(sqrt2 alpha + M_l)",
        citation=SOURCE.cite("Sec. 3, Theorem 2", "(4)-(5), (12)-(16)", "Theorem 2"),
        statement=("Let alpha = sqrt(S sigma^2/(L D_f)) with 4 M_l <= alpha <= M_h/4. The guarantee of SGD with batch M_h "
                   "after S samples can be worse than with M_l by a factor 2 M_h/(alpha sqrt2 + M_l)."),
        symbols=SYMBOLS, assumptions=ASSUMPTIONS,
        conditions=[Condition("4 M_l <= alpha", sp.LessThan(4 * Ml, alpha_expr)),
                    Condition("alpha <= M_h/4", sp.LessThan(alpha_expr, Mh / 4))],
        definitions=[], bound=BSTAR.subs(M, Mh) / BSTAR.subs(M, Ml), horizon="S", horizon_doc="samples processed",
        measured="guarantee_ratio", measured_doc="ratio of the optimised guarantees B*(M_h, S)/B*(M_l, S)",
        rate=sp.Integer(1),
        extra_bounds={"factor (paper, approximate)": 2 * Mh / (alpha_expr * sp.sqrt(2) + Ml),
                      "B*(M, S) (optimised Lemma 1)": BSTAR},
        errata=(f"Encoded with the exact optimised guarantee ({derived('minibatch', 'B*')}): the ratio is "
                "(M_h + sqrt(M_h^2 + 2 alpha^2))/(M_l + sqrt(M_l^2 + 2 alpha^2)); the paper's factor is its "
                "approximation. The appendix's 'With M = M_l <= alpha/4' in the large-batch case means M = M_h."),
        notes="Compares guarantees across batch sizes: evaluated (and tested at the paper's numbers), not checked per run.",
    ),
    Theorem(
        id="minibatch.thm-3", families=FAMILIES, title="Samples needed for a given guarantee grow with the mini-batch size",
        citation=SOURCE.cite("Sec. 3, Theorem 3", "(2)", "Theorem 3"),
        statement=("The number of samples SGD must process to achieve the same convergence guarantee increases as the "
                   "mini-batch size increases."),
        symbols=SYMBOLS, assumptions=ASSUMPTIONS, conditions=[],   # epsilon > 0: its domain
        bound=2 * L * Df * (sigma2 + eps * M) / eps**2, horizon="S", horizon_doc="samples",
        measured="samples_to_target", measured_doc="samples S_req(M, eps) for the optimised guarantee B*(M, S) <= eps",
        rate=sp.Integer(1),
        errata=(f"Quantitative form ({derived('minibatch', 'S_req')}): S_req = 2 L D_f (sigma^2 + eps M)/eps^2, linear "
                "in M; K_req saturates at 2 L D_f/eps beyond the critical batch sigma^2/eps."),
        notes="A monotonicity statement about guarantees: evaluated and property-tested, not checked per run.",
    ),
    Theorem(
        id="minibatch.thm-4", families=FAMILIES, title="ASGD with N learners (Lian et al.'s bound (7)-(8)): a worse guarantee by ~N/alpha",
        citation=SOURCE.cite("Sec. 4, Theorem 4", "(6)-(8), (17)-(23)", "Theorem 4"),
        statement=("With N learners (age tau <= N), batch M, constant gamma with L M gamma + 2 L^2 M^2 N^2 gamma^2 <= 1: "
                   "(1/K) sum_k E||grad f(x_k)||^2 <= 2 D_f/(M K gamma) + sigma^2 L gamma + 2 sigma^2 L^2 M N gamma^2 (7). "
                   "For alpha = sqrt(K sigma^2/(M L D_f)) <= N the optimal guarantees for 1 and N learners differ by a "
                   "factor of about N/alpha."),
        symbols={**SYMBOLS, "tau": "measured maximum age of an update"}, assumptions=ASSUMPTIONS + ["age tau <= N"],
        conditions=[Condition("(8) L M gamma + 2 L^2 M^2 N^2 gamma^2 <= 1",
                              sp.LessThan(L * M * gamma + 2 * L**2 * M**2 * N**2 * gamma**2, 1)),
                    Condition("tau <= N", sp.LessThan(tau, N), "the age bound of Lian et al. (measured delay)"),
                    PER_SAMPLE],
        bound=ASGD7, horizon="K", horizon_doc="server updates", measured="running_mean_grad_norm_sq",
        measured_doc="running mean over updates of ||grad f(x_k)||^2", rate=1 / K,
        solutions={"gamma": (sp.sqrt(1 + 8 * N**2) - 1) / (4 * L * M * N**2)},
        runmap=_runmap(asgd=True), judges="a constant step size (schedule = constant)",
        extra_bounds={"factor N learners / 1 learner (stated, corrected)": N / sp.sqrt(K * sigma2 / (M * L * Df))},
        errata=("Eq. (7) as printed in Sec. 4 ends in 2 sigma^2 L M N gamma; the appendix's proof (17) substitutes "
                "into 2 sigma^2 L^2 M N gamma^2, the term of Lian et al. (2015)'s Theorem 1, which is encoded. In the "
                "appendix, (8) rewritten in c prints as '2N^2 c^2 + alpha c - alpha <= 0' with the root's factor "
                "'alpha/(4N)'; from (8) they are alpha^2 and alpha/(4N^2), the factor (20) itself prints. The "
                "statement's factor 'approximately N' is N/alpha, as the paper's own discussion (end of Sec. 4) says; "
                f"the exact optimum is asgd_ratio, tested at the values of {derived('minibatch', 'Theorem 4 factor')}."),
        notes="A serial SGD run is ASGD with N = 1 learner and tau = 0.",
    ),
    Theorem(
        id="minibatch.thm-5", families=FAMILIES, title="Samples needed grow with the number of learners",
        citation=SOURCE.cite("Sec. 4, Theorem 5", "(7)-(8)", "Theorem 5"),
        statement=("For a constant mini-batch size M, the number of samples to process for the same convergence guarantee "
                   "increases as the number of learners increases."),
        symbols=SYMBOLS, assumptions=ASSUMPTIONS,
        conditions=[Condition("(8) at gamma_max(N)", sp.LessThan(L * M * gamma + 2 * L**2 * M**2 * N**2 * gamma**2, 1))],
        bound=ASGD7, horizon="K", horizon_doc="server updates", measured="samples_to_target",
        measured_doc="samples M min{K : min_gamma (7) <= eps}", rate=1 / K,
        solutions={"gamma": (sp.sqrt(1 + 8 * N**2) - 1) / (4 * L * M * N**2)},
        errata=("The full proof is absent from the text; encoded as a checker: S_req(N) = M min{K : min over "
                "0 < gamma <= gamma_max(N) of (7) <= eps}, non-decreasing in N (samples_required_asgd; property-tested; "
                f"{derived('minibatch', 'Theorem 5')})."),
        notes="A monotonicity statement about guarantees: evaluated and property-tested, not checked per run.",
    ),
]
