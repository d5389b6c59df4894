"""Large-batch training without warmup: convergence of mGD and mNAG with layer-wise step sizes
gamma_k = gamma / L_k (Huo's thesis (2020) Ch. 4, Sec. 4.2-4.3; what the text leaves implicit:
docs/derivations.md, large_batch).

Layer-wise constants are numpy arrays (one entry per layer k); conditions marked "for every layer"
are evaluated element-wise and must hold for all k. Aggregates come from the arrays:
S = sum_k 1/L_k, kappa = max_k L_g/L_k, K = number of layers. The measured quantity is the running
mean of G(w) = sum_k q_k ||grad_k f(w)||^2 with q_k = (1/L_k)/S; with one layer (K = 1) that is
||grad f||^2, which is how a plain mini-batch SGD run (``sgd-serial``) is checked (mGD with K = 1).

The proof's raw per-layer conditions gate the verdict; the paper's "equivalent" summary conditions
are reported alongside but are not equivalent (counter-example: docs/derivations.md, large_batch,
'stated conditions'), so they do not gate.

Names: the theorems' step is gamma (gamma_k = gamma / L_k); the plugins of these algorithms
(``mnag-*``, ``lars-*``, ``clars-*``) call their base learning rate ``lr`` (:data:`STEP_PARAM`,
applied as gamma_scale = lr B / b_base under linear scaling) and their ``eta`` is LARS/CLARS's trust
coefficient of (4.3)/(4.7), which no theorem here sets or reads. The one mapping between them is
:data:`STEP_PARAM` and :func:`lr_of_gamma` (``Theorem.guided``), so ``theory`` can never put a
learning rate into the trust coefficient, nor read the trust coefficient as the step.
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

FAMILIES = ("mnag", "lars", "clars", "mgd")  # the algorithms these theorems are about

gamma, Lk, Mk, Lg, Mg, M, B, K, beta, F0, T, Sinv, kappa, MC = sym("gamma L_k M_k L_g M_g M B K beta F0 T S kappa M_C")
gg = sym("gamma_g")
gk, Sg, gbar = sp.symbols("gamma_k Sigma_gamma gamma_bar")

# M here is the additive variance constant of Assumption 4.3.2: a real constant, not a count (numerics.is_count)
REAL_SYMBOLS = ("M",)
SYMBOLS = {
    "gamma": "global step size; layer k uses gamma_k = gamma / L_k", "L_k": "layer-wise Lipschitz constants (array)",
    "M_k": "layer-wise variance factors (array)", "L_g": "global Lipschitz constant (Assumption 4.2.1)",
    "M_g": "global variance factor (Assumption 4.2.2)", "M": "additive variance constant (Assumption 4.3.2)",
    "B": "batch size", "K": "number of layers (blocks)", "beta": "momentum (0 = mGD)", "F0": "f(w_0) - f_inf",
    "T": "iterations", "S": "sum_k 1/L_k", "kappa": "max_k L_g/L_k", "M_C": "global additive variance (= K M)",
    "gamma_g": "the common step size of Cor. 4.3.3",
}
ASSUMPTIONS = ["4.3.1 layer-wise Lipschitz gradients L_k (and 4.2.1 globally, L_g >= L_k)",
               "4.3.2 layer-wise bounded variance E||grad_k f_i - grad_k f||^2 <= M_k ||grad_k f||^2 + M"]
DEFS = [(gk, gamma / Lk), (Sg, gamma * Sinv), (gbar, Sg / K)]
Q = sp.Rational

# the plugin parameter the theorems' step gamma is (gamma_base of mnag/lars/clars-*); their 'eta' is the
# LARS/CLARS trust coefficient (4.3)/(4.7): never the step
STEP_PARAM = "lr"


def lr_scale(run) -> float:
    """gamma_scale / lr of a run: B / b_base under the linear scaling rule (``scaling=linear``), else 1."""
    if run.param("scaling", "none") != "linear":
        return 1.0
    return float(run.param("b", 1)) / float(run.param("b_base", 1))


def lr_of_gamma(g: float, v: dict[str, Any], mapped) -> float:
    """The plugin's ``lr`` (:data:`STEP_PARAM`) for the theorem's step ``g`` (gamma): one rate for every
    layer, gamma / L_k on the layer with the largest L_k (so no layer's rate exceeds its gamma / L_k),
    divided by gamma_scale / lr (B / b_base under linear scaling; ``mapped.scale``)."""
    return g / float(np.max(v["L_k"])) / float(mapped.scale)


def _prepare(v: dict[str, Any]) -> dict[str, Any]:
    v = dict(v)
    if "L_k" in v and v["L_k"] is not None:
        Lk_a = np.atleast_1d(np.asarray(v["L_k"], dtype=float))
        if Lk_a.size > 1:
            v["K"] = float(Lk_a.size)
            v["L_k"] = Lk_a
            v.setdefault("S", float(np.sum(1 / Lk_a)))
        else:
            v.setdefault("K", 1.0 if Lk_a.size == 1 and np.ndim(v["L_k"]) > 0 else v.get("K", 1.0))
            v["L_k"] = float(Lk_a[0])
            v.setdefault("S", float(v["K"]) / float(Lk_a[0]))
        if "L_g" in v:
            v.setdefault("kappa", float(np.max(float(v["L_g"]) / Lk_a)))
    if isinstance(v.get("M_k"), (list, tuple)):
        v["M_k"] = np.asarray(v["M_k"], dtype=float)
    return v


def _raw_431() -> list[Condition]:
    return [
        Condition("(4.19) L_k gamma_k <= 1/8", sp.LessThan(Lk * gk, Q(1, 8)), per_layer=True),
        Condition("(4.20) L_k gamma_k M_k / B <= 1/8", sp.LessThan(Lk * gk * Mk / B, Q(1, 8)), per_layer=True),
        Condition("(4.21) L_g^2 gamma_k M_k Sum(gamma)/(K B) <= 1/4", sp.LessThan(Lg**2 * gk * Mk * Sg / (K * B), Q(1, 4)),
                  per_layer=True),
        Condition("(4.22) L_g^2 gamma_k Sum(gamma)/K <= 1/4", sp.LessThan(Lg**2 * gk * Sg / K, Q(1, 4)), per_layer=True),
    ]


def _stated_431() -> list[Condition]:
    return [
        Condition("stated: gamma_k <= min{1/(8L_k), B/(8 L_k M_k)}", sp.LessThan(gk, sp.Min(1 / (8 * Lk), B / (8 * Lk * Mk))),
                  "the theorem's summary; reported, the raw (4.19)-(4.22) are what the proof uses", per_layer=True,
                  gating=False),
        Condition("stated: mean gamma_k <= min{1/(2L_g), sqrt(B/M_g)/(2L_g)}",
                  sp.LessThan(gbar, sp.Min(1 / (2 * Lg), sp.sqrt(B / Mg) / (2 * Lg))),
                  f"not equivalent to (4.21)-(4.22) ({derived('large_batch', 'stated conditions')}); reported",
                  gating=False),
    ]


def _raw_432() -> list[Condition]:
    om = 1 - beta
    return [
        Condition("(4.52) L_k gamma_k/(1-beta) <= 1/8", sp.LessThan(Lk * gk / om, Q(1, 8)), per_layer=True),
        Condition("(4.53) L_k gamma_k M_k/((1-beta)B) <= 1/8", sp.LessThan(Lk * gk * Mk / (om * B), Q(1, 8)), per_layer=True),
        Condition("(4.54) 2 L_g^2 beta^4 gamma_k Sum(gamma)/((1-beta)^4 K) <= 1/8",
                  sp.LessThan(2 * Lg**2 * beta**4 * gk * Sg / (om**4 * K), Q(1, 8)), per_layer=True),
        Condition("(4.55) 2 L_g^2 beta^4 gamma_k M_k Sum(gamma)/((1-beta)^4 K B) <= 1/8",
                  sp.LessThan(2 * Lg**2 * beta**4 * gk * Mk * Sg / (om**4 * K * B), Q(1, 8)),
                  "corrected: the source prints gamma_k Sum_k M_k gamma_k; Lemma 4.3.3 in (4.51) gives gamma_k M_k "
                  f"Sum_j gamma_j ({derived('large_batch', '(4.55)')})", per_layer=True),
        Condition("(4.56) 2 L_g^2 gamma_k M_k Sum(gamma)/((1-beta)^2 K B) <= 1/8",
                  sp.LessThan(2 * Lg**2 * gk * Mk * Sg / (om**2 * K * B), Q(1, 8)), per_layer=True),
        Condition("(4.57) 2 L_g^2 gamma_k Sum(gamma)/((1-beta)^2 K) <= 1/8",
                  sp.LessThan(2 * Lg**2 * gk * Sg / (om**2 * K), Q(1, 8)), per_layer=True),
        Condition("0 <= beta < 1", sp.StrictLessThan(beta, 1)),
    ]


def _stated_432() -> list[Condition]:
    om = 1 - beta
    return [
        Condition("stated (4.47): gamma_k <= min{(1-beta)/(8L_k), (1-beta)B/(8 L_k M_k)}",
                  sp.LessThan(gk, sp.Min(om / (8 * Lk), om * B / (8 * Lk * Mk))), per_layer=True, gating=False),
        Condition("stated (4.48): mean gamma_k <= min{...}",
                  sp.LessThan(gbar, sp.Min(om**2 / (4 * beta**2 * Lg), om**2 * sp.sqrt(B) / (4 * beta**2 * Lg * sp.sqrt(Mg)),
                                           om * sp.sqrt(B) / (4 * Lg * sp.sqrt(Mg)), om / (4 * Lg))), gating=False),
    ]


DATA_DEPENDENT = ("lars", "clars")   # layer rates set from the iterate and its gradients at every step (4.3)/(4.7)
MEASURED_LK = ("L_k, M_k, L_g: measured by the plugin at the run's snapshots (their maximum; L_k by power iteration "
               "on each layer's Hessian block), not over all w")
RAISED_LK = "; L_k raised to gamma/gamma_k >= the measured L_k, so that the run's constant layer rates are gamma/L_k"


def _layer_constants(run, values) -> Extra:
    """A run with a workload's smoothness L as mGD with one layer (K = 1, L_1 = L_g = L, gamma_1 = the
    applied step lr x gamma_scale/lr so gamma = gamma_1 L, M_1 = M_g = 0 and M = the variance bound
    measured on the run); or per-layer constants the plugin recorded (info['L_k'], info['M_k'],
    info['M']) with the layer rates it used (info['gamma_k']), constant for mNAG / mGD without warmup: gamma =
    max_k gamma_k L_k and L_k raised to gamma / gamma_k (a valid, larger Lipschitz constant), so gamma_k = gamma / L_k
    holds exactly; LARS / CLARS rates change with the iterate and no theorem here covers them. The step is the
    plugin's ``lr`` (:data:`STEP_PARAM`); a LARS/CLARS trust coefficient ``eta`` is never read as a step."""
    from .measures import variance_bound_on_run

    if run.family in DATA_DEPENDENT:
        raise NotApplicable("the run's layer rates are not gamma/L_k (LARS/CLARS rates are data-dependent, "
                            "set from the iterate and the batch I_t; Theorems 4.3.1-4.3.2 assume fixed gamma_k = gamma/L_k "
                            "and no theorem of Ch. 4 covers them: Sec. 4.4.1 relates LARS's factor to 1/L_k only "
                            "heuristically)")
    c, info = run.constants, (run.info or {})
    scale = lr_scale(run)   # gamma_scale / lr: the step the run applied is lr x scale
    if "L_k" in info:
        Lk_a = np.asarray(info["L_k"], dtype=float)
        if "M" not in info:
            raise NotApplicable("the run records L_k but not the variance constant M (info['M'])")
        if "gamma_k" not in info:
            raise NotApplicable("the run records L_k but not the layer rates it used (info['gamma_k'])")
        rates = np.asarray(info["gamma_k"], dtype=float)
        # the theorems need gamma_k = gamma / L_k. Constant rates (mNAG / mGD without warmup, the `when` above) are
        # that step for the Lipschitz constants L_k' = gamma / gamma_k with gamma = max_k gamma_k L_k: L_k' >= L_k, and
        # a larger constant still satisfies Assumption 4.3.1 (a global rate: L_k' = max_j L_j for every layer, the
        # setting of Cor. 4.3.3). L_g is kept at least max_k L_k' (Sec. 4.3 assumes L_g >= L_k with Assumption 4.3.1).
        g = float(np.max(rates * Lk_a))
        raised = g / rates
        vals = {"L_k": raised, "M_k": np.asarray(info.get("M_k", np.zeros_like(Lk_a)), dtype=float),
                "L_g": max(float(info.get("L_g", c.get("L", np.max(Lk_a)))), float(np.max(raised))),
                "M_g": float(info.get("M_g", 0.0)), "M": float(info["M"]), "gamma": g}
        posthoc = [MEASURED_LK + ("" if np.allclose(raised, Lk_a, rtol=1e-6) else RAISED_LK)]
    else:
        mode = run.params.get("measure")
        if mode is not None and mode != "all":  # a large-batch plugin that was not asked for L_k
            raise NotApplicable(f"measure = {mode}: the run did not measure the layer-wise constants L_k and M_k "
                                "(info['L_k'], info['M_k']); rerun with --param measure=all")
        if "L" not in c:
            raise NotApplicable("the workload has no known smoothness constant L")
        var = variance_bound_on_run(run)
        if var is None:
            raise NotApplicable("no variance bound: the workload's per-sample gradients at w* (or the run's distances) "
                                "are unknown")
        vals = {"L_k": float(c["L"]), "K": 1.0, "M_k": 0.0, "L_g": float(c["L"]), "M_g": 0.0, "M": var,
                "gamma": float(values["lr"]) * scale * float(c["L"])}
        posthoc = [POSTHOC_REGION.format(what="M: the variance bound")]
    F0_v = info.get("f0_minus_finf", c.get("f0_minus_fstar"))
    if F0_v is None:
        raise NotApplicable("f(w_0) - f_inf is unknown for this workload")
    vals["F0"] = float(F0_v)
    return Extra(inputs=vals, posthoc=posthoc, scale=scale)


CONSTANT_STEP = [Require(Applied("schedule", "constant"), "==", "constant", "the theorem is for a constant step size"),
                 Require(Applied("warmup", 0), "==", 0, "the theorems are for constant step sizes (no warmup)")]
DOC = ("gamma: the applied lr x gamma_scale/lr (B/b_base under linear scaling) times L, or max_k info['gamma_k'] x L_k "
       "with L_k raised to gamma/gamma_k (a larger Lipschitz constant) so the constant layer rates are gamma/L_k; "
       "L_k, M_k, M: measured by the plugin (info), else one layer with the workload's L and M bounded on the region "
       "the run visited; LARS/CLARS (data-dependent rates): not covered")


def _runmap(momentum: bool) -> RunMap:
    inputs = {"B": Applied("b", 1)}
    when = list(CONSTANT_STEP)
    if momentum:
        inputs["beta"] = Applied("beta", 0.0)
    else:
        when.append(Require(Applied("beta", 0.0), "==", 0.0, "momentum beta > 0 is mNAG: see large_batch.thm-4.3.2"))
    return RunMap(inputs=inputs, uses={"lr": Applied(STEP_PARAM)}, when=when, extra=_layer_constants, extra_doc=DOC,
                  provides=("L_k", "M_k", "L_g", "M_g", "M", "gamma", "F0", "K", "S", "kappa"),
                  theory={STEP_PARAM: ("gamma", lr_of_gamma)})


def _tuned_step(run, values, cap) -> Extra:
    """A constant-rate run as a corollary's configuration: the corollary's step is gamma* = min{cap,
    sqrt(B F0/(T M S))} for the horizon T the run ran (its last recorded update). gamma S = sum_k gamma_k does
    not depend on the L_k, so gamma* = min{cap, B F0/(T M sum_k gamma_k)} (cap where M = 0); where gamma* is at
    least the run's gamma = max_k gamma_k L_k, L_k' = gamma*/gamma_k >= L_k are valid Lipschitz constants under
    which the run is exactly the corollary's step. Otherwise the values stay, and the condition 'gamma = ...'
    fails with the run's gamma against the corollary's step. ``cap``: f(values) (1/8, or (1-beta)/8 for mNAG)."""
    e = _layer_constants(run, values)
    v = _prepare({**values, **e.inputs})
    T_v = max((p.get("updates", 0) for p in run.points), default=0)
    if T_v <= 0:
        raise NotApplicable("the run records no update: the corollary's step is tuned to the horizon T it ran")
    Lk_a = np.atleast_1d(np.asarray(v["L_k"], dtype=float))
    rates = float(v["gamma"]) / Lk_a
    total, M_v = float(np.sum(rates)), float(v["M"])
    tuned = float(cap(v)) if M_v <= 0 else min(float(cap(v)), float(v["B"]) * float(v["F0"]) / (T_v * M_v * total))
    inputs = {**e.inputs, "T": float(T_v)}
    posthoc = list(e.posthoc)
    if tuned >= float(v["gamma"]) * (1 - 1e-12):
        raised = tuned / rates
        inputs.update(gamma=tuned, L_k=raised if np.ndim(v["L_k"]) else float(raised[0]),
                      L_g=max(float(v["L_g"]), float(np.max(raised))))
        posthoc.append(f"L_k raised to gamma/gamma_k with gamma = the corollary's step {tuned:.4g} for the run's "
                       f"horizon T = {T_v:g} (its rates are that step for these larger Lipschitz constants)")
    return Extra(inputs=inputs, posthoc=posthoc, scale=e.scale)


def _cor_runmap(momentum: bool) -> RunMap:
    base = _runmap(momentum)
    cap = (lambda v: (1 - float(v["beta"])) / 8) if momentum else (lambda v: 0.125)
    return RunMap(inputs=base.inputs, uses=base.uses, when=base.when, extra=lambda run, v: _tuned_step(run, v, cap),
                  extra_doc=DOC + "; T: the run's last update, gamma: the corollary's step for that T where the run's "
                  "rates are at most it (L_k raised to gamma/gamma_k)", provides=base.provides + ("T",))


def _thm(tid, title, eqs, source, conds, bound, momentum, errata="", notes="", adapter=True, extra=None, defs=None,
         statement="", measured="running_mean_G", runmap=None) -> Theorem:
    final_only = runmap is not None   # a corollary: its step is tuned to the horizon T, its bound claimed at T only
    return Theorem(
        id=tid, families=FAMILIES, title=title,
        real_symbols=REAL_SYMBOLS,
        citation=SOURCE.cite("Sec. 4.3" if "4.3" in tid else "Sec. 4.2", eqs, source),
        statement=statement, symbols=SYMBOLS, assumptions=ASSUMPTIONS, conditions=conds,
        definitions=defs if defs is not None else DEFS, bound=bound, measured=measured,
        measured_doc="running mean over iterations of G(w_t) = sum_k q_k ||grad_k f(w_t)||^2 (K = 1: ||grad f||^2)",
        rate=1 / T, prepare=_prepare, runmap=runmap or (_runmap(momentum) if adapter else None),
        judges=("a constant step without warmup" + ("" if momentum else ", no momentum (beta = 0)")
                + (", at the end of the run (the step is tuned to its horizon)" if final_only else ""))
        if adapter or final_only else "",
        asymptotic_from=1.0 if final_only else 0.0,
        errata=errata, notes=notes, extra_bounds=extra or {},
    )


om = 1 - beta
THM431_BOUND = 8 * F0 / (T * gamma * Sinv) + (4 + 2 * kappa) * M * gamma / B
THM432_BOUND = 8 * om * F0 / (T * gamma * Sinv) + M * gamma / (om * B) * (4 + 2 * kappa + 2 * kappa / om)
COR431_GAMMA = sp.Min(Q(1, 8), sp.sqrt(B * F0 / (T * M * Sinv)))
COR432_GAMMA = sp.Min(om / 8, sp.sqrt(B * F0 / (T * M * Sinv)))

THEOREMS = [
    Theorem(
        id="large_batch.thm-4.2.1", families=FAMILIES,
        real_symbols=REAL_SYMBOLS,
        title="mNAG with a global step size (prior work, Yang, Lin & Li 2016): an O(.) rate",
        citation=SOURCE.cite("Sec. 4.2", "(4.4)-(4.5)", "Theorem 4.2.1"),
        statement=("Under Assumptions 4.2.1-4.2.2 with M_g = 0, as long as gamma <= (1 - beta)/(2 L_g), "
                   "min_t ||grad f(w_t)||^2 converges at the rate O(1/(T gamma) + L_g gamma M_C)."),
        symbols=SYMBOLS, assumptions=["4.2.1 L_g-Lipschitz gradient", "4.2.2 bounded variance with M_g = 0"],
        conditions=[Condition("gamma <= (1 - beta)/(2 L_g)", sp.LessThan(gamma, (1 - beta) / (2 * Lg)),
                              "'L' in the text is L_g, the constant of Assumption 4.2.1")],
        bound=None, measured="running_mean_grad_norm_sq", measured_doc="min_t ||grad f(w_t)||^2",
        rate=1 / T, extra_bounds={"shape (no constants)": 1 / (T * gamma) + Lg * gamma * MC},
        errata="An O(.) statement without constants: only its conditions and the rate's shape can be checked.",
        notes="No constants: the checker reports it not-applicable for a bound and gives the rate check only.",
    ),
    _thm("large_batch.thm-4.3.1", "mGD with layer-wise step sizes gamma_k = gamma/L_k", "(4.12)-(4.25)", "Theorem 4.3.1",
         _raw_431() + _stated_431(), THM431_BOUND, False,
         statement=("Under Assumptions 4.3.1-4.3.2 with gamma_k = gamma/L_k, q_k = (1/L_k)/S and the (raw) conditions "
                    "(4.19)-(4.22): (1/T) sum_t sum_k q_k E||grad_k f(w_t)||^2 <= 8 (f(w_0) - f_inf)/(T gamma S) "
                    "+ (4 + 2 kappa) M gamma / B."),
         errata=("The proof's raw per-layer conditions (4.19)-(4.22) gate; the stated summary is reported (it is not "
                 f"equivalent: {derived('large_batch', 'stated conditions')}). Two steps of the proof are the thesis's "
                 "claims and are kept: the first step of (4.15) has a factor 1/K that Assumption 4.2.1 does not give (the "
                 "term may be optimistic by up to K), and (4.13) treats the batch gradient at w_t as independent of "
                 "w_{t:s}, which depends on the same batch I_t through the earlier blocks."),
         notes="For a mini-batch SGD run: K = 1, gamma = eta L, M_1 = 0, M = the variance bound measured on the run."),
    _thm("large_batch.cor-4.3.1", "mGD, tuned step size: O(1/sqrt(T B))", "(4.26)-(4.28)", "Corollary 4.3.1",
         [Condition("B >= M_k (1/(8 L_k) dominates)", sp.GreaterThan(B, Mk), per_layer=True),
          Condition("gamma = min{1/8, sqrt(B F0/(T M S))}", sp.Eq(gamma, COR431_GAMMA), "(4.27)")] + _raw_431(),
         64 * F0 / (T * Sinv) + (12 + 2 * kappa) * sp.sqrt(M * F0 / (T * B * Sinv)), False, runmap=_cor_runmap(False),
         statement=("If 1/(8L_k) dominates the bound on gamma_k (B >= M_k) and gamma = min{1/8, sqrt(B F0/(T M S))}, then "
                    "(1/T) sum_t sum_k q_k E||grad_k f(w_t)||^2 <= 64 F0/(T S) + (12 + 2 kappa) sqrt(M F0/(T B S))."),
         errata="'Theorem 6.4.2' in the text is Theorem 4.3.1. The corollary ignores the mean-step "
                "conditions 'for simplicity'; they are encoded (the theorem's raw (4.19)-(4.22), with (4.21)-(4.22) on the "
                "mean step Sum(gamma)/K), so with several layers it is admissible only where Theorem 4.3.1 applies.",
         notes=("A statement about the step size tuned to the horizon T: a run is judged at its last point, with T its "
                "updates and gamma the corollary's step for that T where the run's constant rates are at most it (the "
                "L_k raised to gamma/gamma_k, valid larger Lipschitz constants); the bound is not claimed before T.")),
    _thm("large_batch.thm-4.3.2", "mNAG with layer-wise step sizes gamma_k = gamma/L_k", "(4.29)-(4.61)", "Theorem 4.3.2",
         _raw_432() + _stated_432(), THM432_BOUND, True,
         statement=("Under Assumptions 4.3.1-4.3.2 with gamma_k = gamma/L_k and the raw conditions (4.52)-(4.57): "
                    "(1/T) sum_t sum_k q_k E||grad_k f(w_t)||^2 <= 8(1-beta) F0/(T gamma S) + M gamma/((1-beta)B) "
                    "(4 + 2kappa + 2kappa/(1-beta))."),
         errata=("(4.55) corrected from the printed gamma_k Sum_k M_k gamma_k to gamma_k M_k Sum_j gamma_j, what (4.51) gives "
                 f"({derived('large_batch', '(4.55)')}); '(4.50) where we have z_t = w_0' means z_0 = w_0."),
         notes="At beta = 0 this bound exceeds Theorem 4.3.1's by 2 kappa M gamma / B (tested)."),
    _thm("large_batch.cor-4.3.2", "mNAG, tuned step size: O(1/sqrt(T B))", "(4.62)-(4.64)", "Corollary 4.3.2",
         [Condition("B >= M_k", sp.GreaterThan(B, Mk), per_layer=True),
          Condition("gamma = min{(1-beta)/8, sqrt(B F0/(T M S))}", sp.Eq(gamma, COR432_GAMMA), "(4.63)")] + _raw_432(),
         64 * F0 / (om * T * Sinv) + (8 + (4 + 2 * kappa + 2 * kappa / om) / om) * sp.sqrt(M * F0 / (T * B * Sinv)), True,
         runmap=_cor_runmap(True),
         statement=("With gamma = min{(1-beta)/8, sqrt(B F0/(T M S))}: min_t sum_k q_k E||grad_k f(w_t)||^2 <= "
                    "64 F0/((1-beta) T S) + (8 + (4 + 2kappa + 2kappa/(1-beta))/(1-beta)) sqrt(M F0/(T B S))."),
         errata=("Encoded with the theorem's raw conditions (4.52)-(4.57), including the mean-step conditions "
                 "(4.54)-(4.57) the corollary leaves implicit, so with several layers it is admissible only where "
                 "Theorem 4.3.2 applies."),
         notes=("A statement about the step size tuned to the horizon T: judged at a run's last point as Corollary "
                "4.3.1 is, with the cap (1-beta)/8. The bound holds for the running mean too (it is Theorem 4.3.2's at "
                "the tuned step), which is what is measured.")),
    _thm("large_batch.cor-4.3.3", "mNAG with L_k = L_g and M_k = M_g (a global step size)", "(4.65)", "Corollary 4.3.3",
         [Condition("gamma_g <= min{...} (corrected)", sp.LessThan(gg, sp.Min(
             om / (8 * Lg), B * om / (8 * Lg * Mg), om * sp.sqrt(B) / (4 * Lg * sp.sqrt(Mg)),
             om**2 * sp.sqrt(B) / (4 * beta**2 * Lg * sp.sqrt(Mg)), om**2 / (4 * beta**2 * Lg), om / (4 * Lg))),
             "the printed last term (1-beta)/(4 beta^2 L_g) corrected to (1-beta)^2/(4 beta^2 L_g), as (4.48) has it "
             f"with L_k = L_g ({derived('large_batch', 'Corollary 4.3.3')})"),
          Condition("0 <= beta < 1", sp.StrictLessThan(beta, 1))],
         8 * om * F0 / (T * gg) + MC * Lg * gg / (om * B) * (6 + 2 / om), True, adapter=False, defs=[],
         extra={"bound as printed (no 1/B)": 8 * om * F0 / (T * gg) + MC * Lg * gg / om * (6 + 2 / om)},
         statement=("With L_k = L_g, M_k = M_g, M_C = K M and a common gamma_g under the conditions: (1/T) sum_t "
                    "E||grad f(w_t)||^2 <= 8(1-beta) F0/(T gamma_g) + M_C L_g gamma_g/((1-beta) B) (6 + 2/(1-beta))."),
         errata=("As printed, (4.65) has (1 - eta) for (1 - beta) and drops the 1/B of the noise term; substituting "
                 "S = K/L_g, gamma = gamma_g L_g, kappa = 1 into (4.49) and multiplying by K gives the encoded form "
                 "(sympy-checked in the tests: printed - derived is proportional to (B - 1); "
                 f"{derived('large_batch', 'Corollary 4.3.3')}). The printed form is kept as 'bound as printed'."),
         notes="Evaluated, not checked per run (a global-step-size network run would need M_g, M_C measured)."),
]


def layer_lr_ceiling(beta_v: float, L_k: float, M_k: float, B_v: float) -> float:
    """(1-beta)/(8 L_k) min{1, B/M_k}: linear in B up to the critical batch size B = M_k, then flat."""
    return (1 - beta_v) / (8 * L_k) * min(1.0, B_v / M_k)


# -- the momentum auxiliary sequence of Lemma 4.3.3 (4.40)-(4.42), as a recursion and in closed form -----
def mnag_iterates(g: np.ndarray, beta_v: float, w0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run (4.2) with given steps g_t (the scaled stochastic gradients): v_{t+1} = w_t - g_t,
    w_{t+1} = v_{t+1} + beta (v_{t+1} - v_t), v_0 = w_0. Returns (w_0..w_T, v_0..v_T)."""
    T = len(g)
    w = np.empty((T + 1,) + np.shape(w0))
    v = np.empty_like(w)
    w[0] = v[0] = w0
    for t in range(T):
        v[t + 1] = w[t] - g[t]
        w[t + 1] = v[t + 1] + beta_v * (v[t + 1] - v[t])
    return w, v


def p_recursion(g: np.ndarray, beta_v: float) -> np.ndarray:
    """(4.41): p_0 = 0, p_{t+1} = beta p_t - beta^2/(1-beta) g_t."""
    p = np.zeros((len(g) + 1,) + np.shape(g[0]))
    for t in range(len(g)):
        p[t + 1] = beta_v * p[t] - beta_v**2 / (1 - beta_v) * g[t]
    return p


def p_closed(g: np.ndarray, beta_v: float, t: int) -> np.ndarray:
    """(4.42): p_t = -beta^2/(1-beta) sum_{j<t} beta^j g_{t-1-j}."""
    out = np.zeros(np.shape(g[0]))
    for j in range(t):
        out = out + beta_v**j * g[t - 1 - j]
    return -beta_v**2 / (1 - beta_v) * out
