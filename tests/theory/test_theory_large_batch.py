"""Large-batch mGD/mNAG (001 Ch. 4): raw vs stated conditions, corollaries from theorems, errata."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.theory import large_batch as lb
from harness.theory.registry import get

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_stated_summary_is_not_equivalent_to_the_raw_conditions():
    """Notes Sec. 5.3 counter-example: L = (1, 10), L_g = 10, gamma_k = gamma/L_k, mean gamma_k = 1/(2 L_g):
    the stated summary holds but the raw (4.22) fails, L_g^2 gamma_1 mean(gamma) = 0.4545 > 1/4."""
    thm = get("large_batch.thm-4.3.1")
    gamma = 0.05 * 2 / (1 + 0.1)  # mean of gamma/L_k = 0.05
    ev = thm.evaluate({"L_k": [1.0, 10.0], "M_k": [1e-9, 1e-9], "L_g": 10.0, "M_g": 1e-9, "M": 1.0, "B": 8.0,
                       "F0": 1.0, "gamma": gamma})
    by = {c["name"]: c for c in ev["conditions"]}
    assert not by["(4.22) L_g^2 gamma_k Sum(gamma)/K <= 1/4"]["holds"]
    assert by["(4.22) L_g^2 gamma_k Sum(gamma)/K <= 1/4"]["lhs"] == pytest.approx(0.4545, abs=1e-4)
    assert by["(4.22) L_g^2 gamma_k Sum(gamma)/K <= 1/4"]["layer"] == 0
    assert by["stated: mean gamma_k <= min{1/(2L_g), sqrt(B/M_g)/(2L_g)}"]["holds"]
    assert not ev["all_hold"]  # the raw conditions gate


def test_momentum_binding_constraint_at_beta_09():
    """Notes Sec. 5.7: for beta = 0.9 the binding constraint is mean gamma_k <= (1-beta)^2/(4 beta^2 L_g) ~ 0.00309/L_g."""
    thm = get("large_batch.thm-4.3.2")
    res = thm.solve("gamma", {"L_k": 1.0, "K": 4.0, "M_k": 1.0, "L_g": 1.0, "M_g": 1.0, "M": 1.0, "B": 8.0, "F0": 1.0,
                              "beta": 0.9})
    assert res["value"] == pytest.approx(0.1**2 / (4 * 0.81), rel=1e-6)
    assert res["binding"][0].startswith("(4.54)")


def test_mnag_at_zero_momentum_exceeds_mgd_by_2_kappa_M_gamma_over_B():
    d = sp.simplify(lb.THM432_BOUND.subs(lb.beta, 0) - lb.THM431_BOUND)
    assert sp.simplify(d - 2 * lb.kappa * lb.M * lb.gamma / lb.B) == 0


def test_corollary_433_derived_from_theorem_432_and_the_missing_1_over_B():
    """S = K/L_g, gamma = gamma_g L_g, kappa = 1, M = M_C/K, times K gives the encoded (4.65); printed - derived ~ (B-1)."""
    K = sp.Symbol("K", positive=True)
    from_thm = sp.simplify(K * lb.THM432_BOUND.subs({lb.Sinv: K / lb.Lg, lb.gamma: lb.gg * lb.Lg, lb.kappa: 1,
                                                     lb.M: lb.MC / K}))
    cor = get("large_batch.cor-4.3.3")
    assert sp.simplify(from_thm - cor.bound) == 0
    printed = cor.extra_bounds["bound as printed (no 1/B)"]
    noise = lb.MC * lb.Lg * lb.gg / (1 - lb.beta) * (6 + 2 / (1 - lb.beta))
    assert sp.simplify(printed - cor.bound - noise * (lb.B - 1) / lb.B) == 0  # proportional to (B - 1)


@FAST
@given(st.floats(1e-3, 1), st.floats(0.1, 100), st.floats(0.01, 10), st.integers(1, 512), st.floats(1e-3, 10),
       st.floats(10, 1e7), st.floats(1, 4))
def test_corollary_431_is_theorem_431_at_the_tuned_step(F0, M, Lk, B, Mk, T, kappa):
    """(4.26) >= (4.18) at gamma = min{1/8, sqrt(B F0/(T M S))} with S = 1/L_k (K = 1): the corollary only loosens."""
    S = 1 / Lk
    g = min(1 / 8, np.sqrt(B * F0 / (T * M * S)))
    v = {"F0": F0, "M": M, "B": float(B), "S": S, "kappa": kappa, "T": T, "gamma": g}
    thm = get("large_batch.thm-4.3.1")
    cor = get("large_batch.cor-4.3.1")
    b_thm = float(thm.value(thm.bound, v))
    b_cor = float(cor.value(cor.bound, v))
    assert b_cor >= b_thm * (1 - 1e-9)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.floats(0.1, 10), min_size=1, max_size=4), st.floats(0.1, 10), st.integers(1, 64), st.integers(1, 64))
def test_a_larger_batch_never_lowers_the_admissible_step(Ls, Mk, B1, extra):
    thm = get("large_batch.thm-4.3.1")
    Ls = np.asarray(Ls)
    base = {"L_k": Ls, "M_k": np.full(len(Ls), Mk), "L_g": float(Ls.max()), "M_g": Mk, "M": 1.0, "F0": 1.0}
    g1 = thm.solve("gamma", {**base, "B": float(B1)})["value"]
    g2 = thm.solve("gamma", {**base, "B": float(B1 + extra)})["value"]
    assert g2 >= g1 * (1 - 1e-9)


def test_layer_ceiling_saturates_at_the_critical_batch():
    c = [lb.layer_lr_ceiling(0.9, 2.0, 64.0, B) for B in (8, 16, 32, 64, 128, 256)]
    assert c[1] == pytest.approx(2 * c[0]) and c[3] == pytest.approx(2 * c[2])
    assert c[3] == c[4] == c[5] == pytest.approx(0.1 / 16)


def test_order_statement_has_no_bound_curve():
    thm = get("large_batch.thm-4.2.1")
    assert thm.bound is None
    ev = thm.evaluate({"gamma": 0.1, "beta": 0.9, "L_g": 1.0})
    assert not ev["all_hold"]  # gamma <= (1-beta)/(2 L_g) = 0.05


@FAST
@given(st.floats(0.0, 0.95), st.integers(1, 40), st.integers(0, 2**16))
def test_momentum_auxiliary_sequence_recursion_closed_form_and_z_identity(beta, T, seed):
    """Lemma 4.3.3: p_t from the definition p_t = beta/(1-beta)(w_t - w_{t-1} + g_{t-1}) equals the recursion (4.41)
    and its closed form (4.42); z_t = w_t + p_t moves as z_{t+1} = z_t - g_t/(1-beta) (the mNAG analysis in z)."""
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((T, 3))
    w, _ = lb.mnag_iterates(g, beta, rng.standard_normal(3))
    p_rec = lb.p_recursion(g, beta)
    for t in range(T + 1):
        prev_w = w[t - 1] if t > 0 else w[0]
        prev_g = g[t - 1] if t > 0 else np.zeros(3)
        p_def = beta / (1 - beta) * (w[t] - prev_w + prev_g)
        np.testing.assert_allclose(p_def, p_rec[t], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(lb.p_closed(g, beta, t), p_rec[t], rtol=1e-9, atol=1e-9)
    z = w + p_rec
    for t in range(T):
        np.testing.assert_allclose(z[t + 1], z[t] - g[t] / (1 - beta), rtol=1e-9, atol=1e-9)


# -- which plugin parameter the theorems' step gamma is ----------------------------------------------------
def _planned(family, params, info=None):
    from harness.theory.facts import RunFacts

    return RunFacts(plugin=f"{family}-x", family=family, backend="serial", workload="w", workers=1, seed=0,
                    status="planned", params=params, info=info or {},
                    constants={"L": 2.0, "L_max": 3.0, "dist0_sq": 1.0, "f0_minus_fstar": 1.0},
                    workload_facts={"sigma2_star": 0.1})


def test_the_guided_step_is_the_plugins_learning_rate_never_the_trust_coefficient():
    """The theorems' step is gamma (gamma_k = gamma / L_k); the large-batch plugins call it lr and their eta is
    LARS/CLARS's trust coefficient (4.3)/(4.7). The mapping named 'eta' (so eta=theory would have put
    gamma / L_k into a LARS plugin's trust coefficient, and the adapter fell back to reading eta as the step)."""
    from dataclasses import replace

    from harness._core.registry import link_problems, plugins
    from harness.theory.errors import TheoryError
    from harness.theory.guided import choose_parameters
    from harness.theory.registry import all_theorems

    mapped = [t for t in all_theorems() if t.id.startswith("large_batch.") and t.runmap is not None]
    checked = [t for t in mapped if t.runmap.theory]   # the corollaries' step is tuned to a run's horizon: set by none
    assert {t.id for t in mapped} - {t.id for t in checked} == {"large_batch.cor-4.3.1", "large_batch.cor-4.3.2"}
    assert checked and all(t.runmap.theory == {"lr": ("gamma", lb.lr_of_gamma)} for t in checked)
    linking = [s for s in plugins().items.values() if any(get(t) in checked for t in s.theorems)]
    assert {s.family for s in linking} == {"mnag", "lars", "clars"}
    for spec in linking:
        params = {p.name: p for p in spec.params}
        assert "learning rate" in params["lr"].doc                   # the parameter the mapping names
        if "eta" in params:
            assert "trust coefficient" in params["eta"].doc            # and the one it must not
    thms = {t.id: t for t in all_theorems()}
    assert link_problems(linking, thms) == {}
    # the registry's link check names a mapping to a parameter the plugin lacks (the old 'eta' on mnag)
    old = {tid: replace(t, runmap=replace(t.runmap, theory={"eta": ("gamma", lb.lr_of_gamma)}))
           for tid, t in thms.items() if t.runmap is not None}
    mnag = next(s for s in linking if s.family == "mnag")
    assert any("sets parameter(s) eta (=theory), which the plugin does not declare" in m
               for m in link_problems([mnag], old)[mnag.name])

    # lr=theory: gamma from Theorem 4.3.2, mapped back through L and the linear scaling B / b_base
    base = {"b": 8, "b_base": 4, "scaling": "linear", "beta": 0.0, "measure": "all"}
    params, choices = choose_parameters(_planned("mnag", {**base, "lr": "theory"}), {"lr": "float"},
                                        ["large_batch.thm-4.3.2"])
    ch = choices["lr"]
    assert ch["theorem"] == "large_batch.thm-4.3.2" and ch["symbol_value"] > 0
    assert params["lr"] == pytest.approx(ch["symbol_value"] / 2.0 / (8 / 4))
    # eta=theory on a LARS run: no theorem sets a trust coefficient
    with pytest.raises(TheoryError, match="no theorem admits a value for 'eta'"):
        choose_parameters(_planned("lars", {**base, "lr": 0.1, "eta": "theory"}), {"eta": "float"},
                          ["large_batch.thm-4.3.2"])
    # the adapter reads the step from lr (or the layer rates used) alone: the trust coefficient never stands in for
    # it, and a LARS/CLARS run, whose rates follow the iterate, is judged by none of these theorems
    thm = get("large_batch.thm-4.3.2")
    info = {"L_k": [2.0], "M": 0.1, "gamma_k": [0.05], "f0_minus_finf": 1.0}
    assert thm.runmap.map(_planned("mnag", {**base, "lr": 0.1}, info)).inputs["gamma"] == pytest.approx(0.05 * 2.0)
    assert thm.runmap.map(_planned("mnag", {**base, "lr": 0.1})).inputs["gamma"] == pytest.approx(0.1 * 8 / 4 * 2.0)
    from harness.theory.errors import NotApplicable

    for family, extra in (("lars", info), ("clars", info), ("lars", None)):
        with pytest.raises(NotApplicable, match="data-dependent"):
            thm.runmap.map(_planned(family, {**base, "lr": 0.1, "eta": 0.5}, extra))
    with pytest.raises(NotApplicable, match=r"no parameter 'lr'"):
        thm.runmap.map(_planned("mnag", base, info))
    from harness.theory.runmap import Mapped

    assert lb.lr_of_gamma(0.4, {"L_k": np.array([2.0, 4.0])}, Mapped(scale=2.0)) == pytest.approx(0.4 / 4.0 / 2.0)


def test_constant_layer_rates_are_the_theorems_step_for_raised_lipschitz_constants():
    """mNAG / mGD without warmup apply constant layer rates gamma_k (one global rate for the plugins here). The
    theorems need gamma_k = gamma / L_k; with gamma = max_k gamma_k L_k and L_k' = gamma / gamma_k >= L_k (a larger
    Lipschitz constant still satisfies Assumption 4.3.1) that holds exactly, so such a run gets a verdict (before:
    'not gamma/L_k' for every mNAG run with more than one layer). L_g stays >= every L_k'."""
    thm = get("large_batch.thm-4.3.1")
    info = {"L_k": [1.0, 4.0, 0.5], "M_k": [2.0, 3.0, 1.0], "M": 0.0, "L_g": 3.0, "gamma_k": [0.02, 0.02, 0.02],
            "f0_minus_finf": 1.0}
    m = thm.runmap.map(_planned("mnag", {"b": 100, "lr": 0.1, "beta": 0.0, "scaling": "none", "measure": "all"}, info))
    v = m.inputs
    assert v["gamma"] == pytest.approx(0.08) and np.allclose(v["L_k"], [4.0, 4.0, 4.0]) and v["L_g"] == 4.0
    assert any("raised to gamma/gamma_k" in p for p in m.posthoc)
    failing = [c["name"] for c in thm.evaluate(v)["conditions"] if c.get("gating", True) and not c["holds"]]
    assert failing == []
    # per-layer rates: gamma from the layer with the largest gamma_k L_k, the others' L_k raised to gamma / gamma_k
    mixed = {**info, "gamma_k": [0.1, 0.05, 0.4]}
    v = thm.runmap.map(_planned("mnag", {"b": 100, "lr": 0.1, "beta": 0.0, "scaling": "none", "measure": "all"},
                                mixed)).inputs
    assert v["gamma"] == pytest.approx(0.2) and np.allclose(v["L_k"], [2.0, 4.0, 0.5])
    assert np.allclose(np.asarray([0.1, 0.05, 0.4]) * v["L_k"], v["gamma"])
    # rates measured equal to gamma / L_k already: nothing raised, nothing said about it
    exact = {**info, "gamma_k": [0.4, 0.1, 0.8]}
    m = thm.runmap.map(_planned("mnag", {"b": 100, "lr": 0.1, "beta": 0.0, "scaling": "none", "measure": "all"}, exact))
    assert np.allclose(m.inputs["L_k"], info["L_k"]) and not any("raised" in p for p in m.posthoc)


def test_a_corollary_judges_a_run_at_its_horizon_with_the_tuned_step():
    """Corollary 4.3.1's step is gamma* = min{1/8, sqrt(B F0/(T M S))} for the horizon T. With S = sum_k 1/L_k and
    gamma_k = gamma/L_k, gamma S = sum_k gamma_k, so gamma* = min{1/8, B F0/(T M sum_k gamma_k)}: a run whose rates
    have max_k gamma_k L_k <= gamma* is the corollary's configuration for L_k' = gamma*/gamma_k >= L_k (the
    condition 'gamma = ...' then holds exactly); a run above it is outside, with the two numbers."""
    from dataclasses import replace

    thm = get("large_batch.cor-4.3.1")
    assert thm.asymptotic_from == 1.0           # the bound is claimed at T only: the last point is judged
    info = {"L_k": [1.0, 2.0], "M_k": [1.0, 1.0], "M": 0.5, "L_g": 2.0, "gamma_k": [0.01, 0.01], "f0_minus_finf": 1.0}
    params = {"b": 10, "lr": 0.01, "beta": 0.0, "scaling": "none", "measure": "all"}
    run = replace(_planned("mnag", params, info), points=[{"updates": 0}, {"updates": 100}])
    m = thm.runmap.map(run)
    v = m.inputs
    assert 10 * 1.0 / (100 * 0.5 * 0.02) > 0.125       # B F0 / (T M sum gamma_k) = 10: the cap 1/8 binds
    assert v["gamma"] == pytest.approx(0.125) and v["T"] == 100
    assert np.allclose(v["L_k"], [12.5, 12.5]) and v["L_g"] == pytest.approx(12.5)
    ev = {c["name"]: c for c in thm.evaluate(v)["conditions"]}
    assert ev["gamma = min{1/8, sqrt(B F0/(T M S))}"]["holds"]
    # a long horizon makes the tuned step (0.01) smaller than the run's gamma = max gamma_k L_k = 0.02: outside, the
    # values as the run gives them (L_k' = 2, S = 1), the condition naming the run's gamma and sqrt(B F0/(T M S))
    long = replace(run, points=[{"updates": 0}, {"updates": 100000}])
    v = thm.runmap.map(long).inputs
    assert 10 / (100000 * 0.5 * 0.02) < 0.02 and v["gamma"] == pytest.approx(0.02)
    c = {c["name"]: c for c in thm.evaluate(v)["conditions"]}["gamma = min{1/8, sqrt(B F0/(T M S))}"]
    assert not c["holds"] and c["lhs"] == pytest.approx(0.02) and c["rhs"] == pytest.approx((10 / (1e5 * 0.5)) ** 0.5)
    # in between the sqrt term binds: gamma* = B F0/(T M sum gamma_k) = 0.05 for T = 20000
    mid = thm.runmap.map(replace(run, points=[{"updates": 0}, {"updates": 20000}])).inputs
    assert mid["gamma"] == pytest.approx(0.05)
    assert {c["name"]: c for c in thm.evaluate(mid)["conditions"]}["gamma = min{1/8, sqrt(B F0/(T M S))}"]["holds"]
