"""Dis-dfSDCA (001 Ch. 3): the step-size conditions are the proofs' roots, the paper's data sets, errata."""

from __future__ import annotations

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.theory import dfsdca
from harness.theory.registry import get

FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
L, lam, n, H, tau, eta = sp.symbols("L lam n H tau eta", positive=True)


def test_convex_step_condition_is_the_root_of_the_proofs_bracket():
    """(3.21): 2 H tau^2 eta^2 + eta^2 lam n/(2L) + eta^2 - eta/(2L) <= 0  <=>  eta <= (3.18)."""
    bracket = 2 * H * tau**2 * eta**2 + eta**2 * lam * n / (2 * L) + eta**2 - eta / (2 * L)
    roots = [r for r in sp.solve(sp.Eq(bracket / eta, 0), eta)]
    assert len(roots) == 1
    assert sp.simplify(roots[0] - dfsdca.ETA_CVX.subs({s: sp.Symbol(s.name, positive=True) for s in dfsdca.ETA_CVX.free_symbols})) == 0


def test_nonconvex_step_condition_is_the_root_of_the_proofs_bracket():
    """(3.33) -> (3.30)."""
    bracket = (eta**2 + n * eta**2 * lam**2 / (4 * L**2) + lam * H * tau**2 * eta**2 / (2 * L)
               + 2 * H * tau**2 * (L + lam) ** 2 * eta**2 / (lam * L) - eta * lam / (4 * L**2))
    root = sp.solve(sp.Eq(bracket / eta, 0), eta)[0]
    target = dfsdca.ETA_NCV.subs({s: sp.Symbol(s.name, positive=True) for s in dfsdca.ETA_NCV.free_symbols})
    assert sp.simplify(root - target) == 0


def test_provable_contraction_of_the_nonconvex_case():
    """Lemma 3.4.2 in C = A/(4L^2) + B: B's coefficient is 1 + 2 eta lam H L^2/(4L^2) - 3 eta lam H/4 = 1 - eta lam H/4."""
    coeff = 1 + 2 * eta * lam * H * L**2 / (4 * L**2) - 3 * eta * lam * H / 4
    assert sp.simplify(coeff - (1 - eta * lam * H / 4)) == 0
    thm = get("dfsdca.thm-3.4.4")
    v = {"L": 1.0, "lam": 0.1, "n": 100.0, "H": 10.0, "tau": 1.0, "eta": 1e-4, "A0": 1.0, "B0": 1.0}
    provable = float(thm.bound_fn()(v, 10.0))
    printed = float(thm.value(thm.extra_bounds["bound as printed (1 - eta lam H)^S"], {**v, "S": 10.0}))
    assert printed < provable  # the printed factor claims more than the lemmas give


@pytest.mark.parametrize("name, n_v, lam_v, workers, eta_ok, eta_bad", [
    ("IJCNN1", 49990, 0.1, 4, 1e-4, 1e-3),
])
def test_ijcnn1_step_size_grid(name, n_v, lam_v, workers, eta_ok, eta_bad):
    """Notes Sec. 6.1: with the global n in the alpha update only eta = 1e-4 of the grid {1, .1, 1e-3, 1e-4} is
    admissible on IJCNN1 (lam = 0.1, unit-norm rows so L = 1), with H = 100 and tau = workers - 1."""
    thm = get("dfsdca.thm-3.4.2")
    base = {"L": 1.0, "lam": lam_v, "n": float(n_v), "H": 100.0, "tau": float(workers - 1), "A0": 1.0, "B0": 1.0}
    res = thm.solve("eta", base)
    closed = 1 / (4 * 100 * 1 * (workers - 1) ** 2 + lam_v * n_v + 2)
    assert res["value"] == pytest.approx(closed, rel=1e-6)
    assert res["closed_form_value"] == pytest.approx(closed, rel=1e-12)
    assert thm.evaluate({**base, "eta": eta_ok})["all_hold"]
    assert not thm.evaluate({**base, "eta": eta_bad})["all_hold"]
    grid = [1, 0.1, 1e-3, 1e-4]
    assert [g for g in grid if thm.evaluate({**base, "eta": g})["all_hold"]] == [1e-4]


def test_covtype_and_rcv1_admit_none_of_the_grid():
    thm = get("dfsdca.thm-3.4.2")
    for n_v, workers in ((581012, 8), (677399, 16)):
        base = {"L": 1.0, "lam": 0.1, "n": float(n_v), "H": 100.0, "tau": float(workers - 1), "A0": 1.0, "B0": 1.0}
        assert not any(thm.evaluate({**base, "eta": g})["all_hold"] for g in (1, 0.1, 1e-3, 1e-4))


@FAST
@given(st.floats(0.1, 10), st.floats(1e-4, 1), st.integers(10, 10**6), st.integers(1, 1000), st.integers(0, 30),
       st.integers(1, 10))
def test_more_staleness_means_a_smaller_step_and_more_rounds(L_v, lam_v, n_v, H_v, tau_v, more):
    H_v = min(H_v, n_v)  # no duplicate samples in a message: H <= n
    for thm_id, eta_expr in (("dfsdca.thm-3.4.2", dfsdca.ETA_CVX), ("dfsdca.thm-3.4.4", dfsdca.ETA_NCV)):
        thm = get(thm_id)
        base = {"L": L_v, "lam": lam_v, "n": float(n_v), "H": float(H_v)}
        e1 = float(thm.value(eta_expr, {**base, "tau": float(tau_v)}))
        e2 = float(thm.value(eta_expr, {**base, "tau": float(tau_v + more)}))
        assert e2 <= e1
        factor = 1.0 if thm_id.endswith("3.4.2") else 4.0
        r1 = dfsdca.rounds_needed(e1, lam_v, H_v, L_v, 1.0, 1e-6, factor)
        r2 = dfsdca.rounds_needed(e2, lam_v, H_v, L_v, 1.0, 1e-6, factor)
        assert r2 >= r1 * (1 - 1e-12)


def test_rounds_match_the_complexity_formula():
    """(3.27): 1/(eta lam H) = 4 L tau^2/lam + n/H + 2L/(lam H) at eta = (3.18)."""
    L_v, lam_v, n_v, H_v, tau_v = 2.0, 0.01, 5000.0, 50.0, 3.0
    eta_v = float(dfsdca.ETA_CVX.subs({sp.Symbol(k, positive=True): v for k, v in
                                       (("L", L_v), ("lam", lam_v), ("n", n_v), ("H", H_v), ("tau", tau_v))}))
    assert 1 / (eta_v * lam_v * H_v) == pytest.approx(4 * L_v * tau_v**2 / lam_v + n_v / H_v + 2 * L_v / (lam_v * H_v))


def test_implicit_conditions_are_enforced():
    thm = get("dfsdca.thm-3.4.3")
    v = {"L": 1.0, "lam": 1.0, "n": 10.0, "H": 1.0, "tau": 0.0, "A0": 1.0, "B0": 1.0}
    eta_max = thm.solve("eta", v)["value"]
    assert eta_max * 1.0 * 10.0 < 1  # eta lam n < 1 holds at the largest admissible step
    names = [c["name"] for c in thm.evaluate({**v, "eta": 0.5})["conditions"] if not c["holds"]]
    assert "eta lam n < 1" in names
