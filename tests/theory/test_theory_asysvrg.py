"""AsySVRG theorems (000 / 001 Ch. 2): the papers' numbers, the recursion, and structural properties."""

from __future__ import annotations

import math

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.theory import asysvrg
from harness.theory.registry import get

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# the notes' table of the delay limit (2.46) (Sec. 3.5, [DERIVED]): u0 b -> (max integer Delta, sigma/u0 at Delta = 0)
TABLE = [(1e-4, 70, 0.4995), (1e-3, 22, 0.4953), (5e-3, 9, 0.4767), (1e-2, 7, 0.4533), (2e-2, 4, 0.4067),
         (5e-2, 3, 0.2667), (7e-2, 2, 0.1733), (0.1, 0, 0.0333)]


@pytest.mark.parametrize("u0b, delta_max, sigma_over_u0", TABLE)
def test_distributed_delay_limit_at_the_papers_numbers(u0b, delta_max, sigma_over_u0):
    thm = get("asysvrg.thm-2.4.2")
    # n large so the implicit condition D n^a <= D n^2a - 2 Delta^2 u0^2 b^2 does not bind; b = 1 so u0 = u0 b
    base = {"u0": u0b, "b": 1.0, "L": 1.0, "n": 1e6, "alpha": 1.0, "m": 1.0, "F0": 1.0}
    res = thm.solve("Delta", base)
    assert res["value"] == delta_max
    assert asysvrg.delay_limit(u0b, 1.0) == delta_max
    sig = float(thm.value(sp.Symbol("sigma"), thm.resolve_free({**base, "Delta": 0.0})))
    assert sig / u0b == pytest.approx(sigma_over_u0, abs=6e-5)


def test_shared_memory_delay_limit_scales_with_d():
    """Notes Sec. 2.5: d = 79,510 (784x100x10 MLP), u0 b = 0.01 gives Delta < 1994, u0 b = 0.001 gives 6305."""
    assert asysvrg.delay_limit(0.01, 79510) == 1993
    assert asysvrg.delay_limit(0.001, 79510) == 6305
    thm = get("asysvrg.thm-2.3.2")
    res = thm.solve("Delta", {"u0": 0.01, "b": 1.0, "L": 1.0, "n": 1e9, "alpha": 1.0, "m": 1.0, "F0": 1.0, "D": 79510.0},
                    hi=1e5)
    assert res["value"] == 1993


def test_step_size_cap_regardless_of_batch():
    """u0 b < 3/28: eta < 3/(28 L n^alpha) whatever b (notes Sec. 2.5)."""
    thm = get("asysvrg.thm-2.4.2")
    for b in (1.0, 10.0, 100.0):
        base = {"b": b, "L": 1.0, "n": 1e6, "alpha": 1.0, "m": 1.0, "F0": 1.0, "Delta": 0.0}
        res = thm.solve("u0", base, hi=1.0)
        assert res["value"] * b < 3 / 28
        assert res["value"] * b == pytest.approx(3 / 28, rel=1e-6)  # at Delta = 0, sigma > 0 is exactly u0 b < 3/28


def test_theta_identity_in_the_explicit_proof():
    """(2.28): with eta = u0 b/(L n^a), beta = 2L, theta = 2u0b/(d n^a) + 4 u0^2 b/(d n^2a - 2 Delta^2 u0^2 b^2)."""
    L, u0, b, n, a, d, Dl = sp.symbols("L u0 b n alpha d Delta", positive=True)
    eta = u0 * b / (L * n**a)
    theta = eta * 2 * L / d + 4 * L**2 * eta**2 / ((d - 2 * L**2 * Dl**2 * eta**2) * b)
    stated = 2 * u0 * b / (d * n**a) + 4 * u0**2 * b / (d * n**(2 * a) - 2 * Dl**2 * u0**2 * b**2)
    assert sp.simplify(theta - stated) == 0


vals = st.fixed_dictionaries({
    "L": st.floats(0.1, 10), "eta": st.floats(1e-5, 1e-2), "Delta": st.integers(0, 20).map(float),
    "b": st.integers(1, 64).map(float), "m": st.integers(1, 300).map(float), "beta": st.floats(0.01, 20),
    "D": st.sampled_from([1.0, 50.0]),
})


@FAST
@given(vals)
def test_c_recursion_equals_its_closed_form(v):
    if 2 * v["L"] ** 2 * v["Delta"] ** 2 * v["eta"] ** 2 >= v["D"]:
        return
    m = int(v["m"])
    seq = asysvrg.C_RECURSION.run(v, m)
    for t in (0, 1, m // 2, m - 1, m):
        assert seq[t] == pytest.approx(asysvrg.C_RECURSION.closed(v, t), rel=1e-9, abs=1e-300)
    # the theorem's symbolic c_1 and c_0 are the recursion's
    thm = get("asysvrg.thm-2.4.1") if v["D"] == 1.0 else get("asysvrg.thm-2.3.1")
    vv = {**v, "d": v["D"]}
    # (the closed form is encoded with expm1/log1p, so it agrees to rounding even for tiny theta)
    assert float(thm.value(sp.Symbol("c_1"), vv)) == pytest.approx(seq[1], rel=1e-9, abs=1e-300)
    assert float(thm.value(sp.Symbol("c_0"), vv)) == pytest.approx(seq[0], rel=1e-9, abs=1e-300)
    assert all(seq[t] >= seq[t + 1] for t in range(m))  # c_t decreases in t: gamma = Gamma_0


@FAST
@given(vals, st.floats(0, 100))
def test_printed_recursion_equals_the_proofs_form(v, c_next):
    """(2.13) as printed and (2.22) in the proof are the same recursion (notes Sec. 2.4, [DERIVED])."""
    if 2 * v["L"] ** 2 * v["Delta"] ** 2 * v["eta"] ** 2 >= v["D"]:
        return
    assert asysvrg.c_recursion_as_printed(v, c_next) == pytest.approx(asysvrg.c_recursion_proof_form(v, c_next), rel=1e-12)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.floats(0.5, 10), st.integers(1, 200), st.integers(0, 10), st.integers(1, 10))
def test_a_larger_delay_never_admits_a_larger_step_size(L, m, d1, extra):
    thm = get("asysvrg.thm-2.4.1")
    base = {"L": L, "b": 1.0, "m": float(m), "F0": 1.0}
    e1 = thm.solve("eta", {**base, "Delta": float(d1)})["value"]
    e2 = thm.solve("eta", {**base, "Delta": float(d1 + extra)})["value"]
    assert e1 is not None and e2 is not None
    assert e2 <= e1 * (1 + 1e-9)


@FAST
@given(vals, st.floats(1e-3, 10), st.floats(1.01, 100), st.floats(1, 1e6))
def test_the_bound_grows_with_the_initial_gap(v, F0, factor, T):
    thm = get("asysvrg.thm-2.4.1")
    v = {**v, "D": 1.0}
    ev1 = thm.evaluate({**v, "F0": F0}, T=T)
    if not ev1["all_hold"]:
        return
    ev2 = thm.evaluate({**v, "F0": F0 * factor}, T=T)
    assert ev2["bound"] > ev1["bound"]
    assert ev2["bound"] == pytest.approx(ev1["bound"] * factor, rel=1e-9)  # linear in F0, 1/T in T


@FAST
@given(st.floats(1e-4, 0.05), st.integers(0, 5), st.floats(0.3, 1.0))
def test_explicit_gamma_lower_bound_holds_for_the_exact_gamma(u0b, delta, alpha):
    """Notes Sec. 9.1's sanity check: with eta = u0 b/(L n^a), beta = 2L, m = floor(n^a/(6 u0 b)) and the explicit
    theorem's conditions, the exact gamma = Gamma_0 of Theorem 2.4.1 is >= sigma b/(L n^a)."""
    n, L, b = 1e5, 2.0, 1.0
    explicit = get("asysvrg.thm-2.4.2")
    vals_e = {"u0": u0b, "b": b, "L": L, "n": n, "alpha": alpha, "Delta": float(delta), "F0": 1.0}
    vals_e["m"] = float(math.floor(n**alpha / (6 * u0b)))
    ev = explicit.evaluate(vals_e)
    if not ev["all_hold"]:
        return
    sigma = ev["derived"]["sigma"]
    eta = u0b * b / (L * n**alpha)
    general = get("asysvrg.thm-2.4.1")
    g = float(general.value(sp.Symbol("gamma"), {"L": L, "eta": eta, "Delta": float(delta), "b": b, "m": vals_e["m"],
                                                  "beta": 2 * L}))
    c0 = float(general.value(sp.Symbol("c_0"), {"L": L, "eta": eta, "Delta": float(delta), "b": b, "m": vals_e["m"],
                                                 "beta": 2 * L}))
    assert c0 <= L  # c_0 <= beta/2 as the proof requires
    assert g >= sigma * b / (L * n**alpha) * (1 - 1e-9)


def test_every_condition_named_when_it_fails():
    thm = get("asysvrg.thm-2.4.1")
    ev = thm.evaluate({"L": 1.0, "eta": 1.0, "Delta": 0.0, "b": 1.0, "m": 100.0, "F0": 1.0})
    failing = [c["name"] for c in ev["conditions"] if not c["holds"]]
    assert failing and {"c_1 <= beta/2", "gamma = Gamma_0 > 0"} & set(failing)
    ev = thm.evaluate({"L": 1.0, "eta": 1.0, "Delta": 1.0, "b": 1.0, "m": 1.0, "F0": 1.0})
    assert "D - 2 L^2 Delta^2 eta^2 > 0" in [c["name"] for c in ev["conditions"] if not c["holds"]]
