"""Performance profiles (Dolan-More): the ratios and rho_s(tau) of a hand-computed table, and the
profile of real stored runs in `harness compare` and the suite report."""

import math

import pytest

from harness.profiles import performance_profile


def test_profile_by_hand():
    inf = math.inf
    prof = performance_profile({"A": {"p1": 1.0, "p2": 4.0, "p3": inf}, "B": {"p1": 2.0, "p2": 2.0, "p3": 3.0}},
                               taus=(1.0, 2.0, 4.0))
    assert prof.ratios == {"A": {"p1": 1.0, "p2": 2.0, "p3": inf}, "B": {"p1": 2.0, "p2": 1.0, "p3": 1.0}}
    assert prof.rho["A"] == pytest.approx([1 / 3, 2 / 3, 2 / 3]) and prof.solved["A"] == pytest.approx(2 / 3)
    assert prof.rho["B"] == pytest.approx([2 / 3, 1.0, 1.0]) and prof.solved["B"] == 1.0
    assert [r[0] for r in prof.rows()] == ["B", "A"]  # best first


def test_profile_edge_cases():
    nobody = performance_profile({"A": {"p": math.inf}, "B": {"p": math.nan}})
    assert nobody.solved == {"A": 0.0, "B": 0.0} and all(v == 0 for v in nobody.rho["A"])
    missing = performance_profile({"A": {"p": 1.0, "q": 1.0}, "B": {"p": 3.0}})  # B never ran q: unsolved
    assert missing.ratios["B"]["q"] == math.inf and missing.solved["B"] == 0.5
    with pytest.raises(ValueError, match="positive"):
        performance_profile({"A": {"p": 0.0}, "B": {"p": 1.0}})
    with pytest.raises(ValueError, match=">= 1"):
        performance_profile({"A": {"p": 1.0}}, taus=(0.5,))
