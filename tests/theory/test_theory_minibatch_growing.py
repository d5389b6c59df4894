"""The mini-batch/learners paper (002) and Hogwild! with growing mini-batches (003): the papers' and notes'
numbers, monotonicity properties, and sgd-serial runs checked against Lemma 1 / Theorem 4."""

from __future__ import annotations


import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness._core.monitor import Budget
from harness.run.runner import RunSpec, execute
from harness.theory import growing_batch as gb
from harness.theory import minibatch as mb
from harness.theory.registry import get

FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("Ml, Mh, alpha, exact, paper", [(1, 400, 100, 5.79, 5.62), (2, 1000, 50, 27.53, 27.51)])
def test_theorem_2_factor_at_the_notes_numbers(Ml, Mh, alpha, exact, paper):
    t = get("minibatch.thm-2")
    v = {"M_l": Ml, "M_h": Mh, "L": 1.0, "D_f": 1.0, "sigma2": 1.0, "S": float(alpha**2)}  # alpha = sqrt(S)
    ev = t.evaluate(v, T=v["S"])
    assert ev["all_hold"]
    assert ev["bound"] == pytest.approx(exact, abs=0.01)
    assert float(t.value(t.extra_bounds["factor (paper, approximate)"], v)) == pytest.approx(paper, abs=0.01)


@pytest.mark.parametrize("alpha, N, ratio", [(16, 16, 1.49), (16, 64, 3.88), (32, 128, 4.00), (20, 1000, 47.1)])
def test_theorem_4_ratio_at_the_notes_numbers(alpha, N, ratio):
    assert mb.asgd_ratio(alpha, N) == pytest.approx(ratio, abs=0.02 * ratio)


@pytest.mark.parametrize("N, g", [(1, 0.5), (2, 0.297), (4, 0.162), (16, 0.0432)])
def test_asgd_step_cap(N, g):
    assert mb.asgd_gamma_max(N, 1.0, 1.0) == pytest.approx(g, abs=1e-3)
    res = get("minibatch.thm-4").solve("gamma", {"L": 1.0, "M": 1.0, "N": float(N), "tau": 0.0, "sigma2": 1.0, "D_f": 1.0, "L_max": 1.0})
    assert res["value"] == pytest.approx(res["closed_form_value"], rel=1e-6)


@FAST
@given(st.floats(0.1, 10), st.floats(0.01, 10), st.floats(0.01, 10), st.floats(1e2, 1e8), st.integers(1, 1000),
       st.integers(1, 1000))
def test_best_guarantee_grows_with_the_batch(L, Df, s2, S, M1, extra):
    assert mb.B_star(M1 + extra, S, L, Df, s2) > mb.B_star(M1, S, L, Df, s2)
    eps = mb.B_star(M1, S, L, Df, s2)
    # the samples needed to reach eps grow (linearly) with M, and S_req(M1) is exactly S at eps = B*(M1, S)
    assert mb.samples_required_sgd(M1, eps, L, Df, s2) == pytest.approx(S, rel=1e-6)
    assert mb.samples_required_sgd(M1 + extra, eps, L, Df, s2) > S


def test_samples_needed_grow_with_the_learners():
    req = [mb.samples_required_asgd(N, 0.05, 1.0, 4.0, 1.0, 1.0) for N in (1, 2, 4, 8, 16)]
    assert all(b >= a * (1 - 1e-9) for a, b in zip(req, req[1:]))
    assert req[-1] > req[0]


def test_sgd_serial_against_lemma_1_and_theorem_4(store):
    from harness.run.checking import check

    wl = {"n": 200, "d": 10}
    recs = [execute(RunSpec("sgd-serial", "logreg", {"eta": 0.4, "b": 4}, wl, seed=s, budget=Budget(epochs=10)), store)
            for s in range(2)]
    out = {d.theorem: d for d in check(recs, ["minibatch.lem-1", "minibatch.thm-4"], store=store)}
    assert out["minibatch.lem-1"].verdict == "holds", out["minibatch.lem-1"].reason
    assert out["minibatch.thm-4"].verdict == "holds", out["minibatch.thm-4"].reason
    assert out["minibatch.lem-1"].values["gamma"] == pytest.approx(0.4 / 4)  # the sum-form step eta / M
    # eta >= 2/L breaks Lemma 1's validity condition: not-applicable, named
    L = recs[0].constants["L"]
    bad = execute(RunSpec("sgd-serial", "logreg", {"eta": 2.5 / L, "b": 4}, wl, seed=0, budget=Budget(epochs=2)), store)
    d = check([bad], ["minibatch.lem-1"])[0]
    assert d.verdict == "not-applicable" and "gamma - L M gamma^2/2 > 0" in d.failing


# -- growing batch ---------------------------------------------------------------------------------
def test_strongly_convex_sample_sizes_at_the_papers_numbers():
    """Sec. 4.1: s_0 = ceil(31.989/(d+1)) = 16 for d = 1, m + 1 = 2(d+1) 1937; notes: s_1000 = 18, s_100000 = 166."""
    d, m = 1, 2 * 2 * 1937 - 1
    s = gb.sample_sizes_strongly_convex(np.array([0, 1, 2, 1000, 100000]), d, m)
    assert list(s) == [16, 16, 16, 18, 166]
    seq = gb.sample_sizes_strongly_convex(np.arange(20000), d, m)
    assert gb.property_3_holds(seq, lambda x: gb.tau_strongly_convex(x, d, m, 10.0), d)


@pytest.mark.parametrize("K, T", [(1e4, 588), (1e5, 4822), (1e6, 26131)])
def test_communication_rounds(K, T):
    d, m = 1, 7747
    assert gb.rounds_for(K, lambda i: gb.sample_sizes_strongly_convex(i, d, m)) == T


def test_round_step_sizes_keep_alpha_in_range():
    """alpha_t = mu eta_bar_i (t + 2 tau(t)) in [12, 36] (notes: ~[12, 12.08] for d = 1, m + 1 = 7748, L/mu = 10)."""
    d, m = 1, 7747
    s = gb.sample_sizes_strongly_convex(np.arange(3000), d, m)
    eta = gb.round_step_sizes(s, 1.0, d, m, 10.0)
    Ti = np.concatenate([[0.0], np.cumsum(s)[:-1]]).astype(float)
    alphas = [eta[i] * (t + 2 * gb.tau_strongly_convex(t, d, m, 10.0)) for i in range(3000) for t in (Ti[i], Ti[i] + s[i] - 1)]
    assert 12 - 1e-9 <= min(alphas) and max(alphas) <= 12.1
    v = {"N": 1.0, "mu": 1.0, "L": 10.0, "alpha_min": min(alphas), "alpha_max": max(alphas)}
    thm = get("growing_batch.thm-2")
    # Lemma 5's delay conditions hold for the recipe's tau(t) once t is past T_1 (here ~6e8), not before
    late = thm.evaluate({**v, "t": 1e10, "tau_t": float(gb.tau_strongly_convex(1e10, d, m, 10.0))})
    assert late["all_hold"], [c for c in late["conditions"] if not c["holds"]]
    early = thm.evaluate({**v, "t": 1e5, "tau_t": float(gb.tau_strongly_convex(1e5, d, m, 10.0))})
    assert [c["name"] for c in early["conditions"] if not c["holds"]] == ["Lemma 5: tau(t) <= sqrt(t/ln t)(1 - 1/ln t)"]
    from harness.theory.checker import check_group

    assert check_group(thm, []).reason.startswith("asymptotic only")


@FAST
@given(st.sampled_from([1.5, 2.0, 3.0, 4.0]), st.integers(0, 3), st.sampled_from([0, 5, 50]))
def test_lemma_1_power_law_sequences_satisfy_property_3(g, d, m):
    s = gb.sample_sizes_power(np.arange(3000), g, d, m)
    assert gb.property_3_holds(s, lambda x: gb.tau_power(x, g, d, m), d)


def test_lower_bound_calibration_instance():
    """f = (mu/2)||w - xi||^2, xi ~ N(xbar, I): SGD with eta_t = 1/(mu (t+1)) is the running mean, so
    E||w_t - w*||^2 = d/t = N/(2 mu^2 t) exactly: it meets Theorem 3's lower bound, and sits far under Theorem 2's."""
    rng = np.random.default_rng(0)
    mu, dim, T, reps = 2.0, 3, 400, 4000
    xbar = np.ones(dim)
    w = np.zeros((reps, dim)) + 5.0
    for t in range(T):
        xi = xbar + rng.standard_normal((reps, dim))
        w -= (1.0 / (mu * (t + 1))) * mu * (w - xi)
    err = np.mean(np.sum((w - xbar) ** 2, axis=1))
    N = 2 * mu**2 * dim  # 2 E||grad f(w*; xi)||^2 = 2 mu^2 tr(Sigma)
    lower = float(get("growing_batch.thm-3").bound_fn()({"N": N, "mu": mu}, float(T)))
    upper = float(get("growing_batch.thm-2").bound_fn()({"N": N, "mu": mu}, float(T)))
    assert err == pytest.approx(lower, rel=0.06)
    assert upper / lower == pytest.approx(10368)
    assert get("growing_batch.thm-3").direction == "lower"


def test_theory_guided_eta_maps_the_sum_form_step_back():
    """sgd-serial with eta=theory: Lemma 1 admits gamma < 2/(L M) for the sum-form step, and the per-sample condition
    eta L_max <= 1 binds first on a linear model, so the mean-form eta = gamma M is 1/L_max whatever the batch size (the
    run records which theorem chose it and what bound)."""
    from harness.run.runner import RunSpec, resolve

    for b in (1, 8):
        r = resolve(RunSpec("sgd-serial", "ridge", {"eta": "theory", "b": b}, {"n": 200, "d": 10}))
        ch = r.theory_choices["eta"]
        L_max = r.workload.constants()["L_max"]
        assert ch["theorem"] == "minibatch.lem-1" and ch["binding"] == ["per-sample: eta L_max = gamma M L_max <= 1"]
        assert r.params["eta"] == pytest.approx(1 / L_max, rel=1e-6) and r.params["eta"] <= 1 / L_max
        assert ch["symbol_value"] == pytest.approx(r.params["eta"] / b)
