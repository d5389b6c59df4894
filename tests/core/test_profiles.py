"""Performance profiles (Dolan-More): the ratios and rho_s(tau) of a hand-computed table, and the
profile of real stored runs in `harness compare` and the suite report."""

import math

import pytest

from harness.analysis.profiles import performance_profile


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


SUITE = """
name = "prof"
[defaults]
budget = "epochs=6"
target = 1e-3
workload_params = { n = 300, d = 8, lam = 1e-2 }
[[run]]
plugin = ["sgd-serial", "svrg-serial"]
workload = ["logreg", "ridge"]
params = { eta = 0.1, b = 2 }
"""


def test_profile_in_compare_and_report(tmp_path):
    import json

    from conftest import run_cli

    cmp = run_cli("compare", "sgd-serial", "svrg-serial", "-w", "logreg", "-w", "ridge", "--workload-param", "n=300",
                  "--workload-param", "d=8", "--budget", "epochs=6", "--seeds", "2", "--target", "1e-3",
                  "--out", str(tmp_path / "cmp"), "--json", timeout=300)
    assert cmp.returncode in (0, 1), cmp.stderr
    doc = json.loads(cmp.stdout)
    prof = doc["performance_profile"]
    assert prof and set(prof["solvers"]) == {"sgd-serial", "svrg-serial"} and len(prof["problems"]) == 2
    for g in doc["groups"]:  # the profile's ratios are the groups' median times over the faster one
        t = {s: next(m[k]["median"] for m in g["metrics"] if m["metric"] == "time_to_target")
             for s, k in (("sgd-serial", "a"), ("svrg-serial", "b"))}
        best = min(t.values())
        for s in t:
            r = prof["solvers"][s]["ratios"][g["group"]]
            if math.isfinite(best) and math.isfinite(t[s]):
                assert r == pytest.approx(t[s] / best)
            else:
                assert r is None or not math.isfinite(t[s])
    assert (tmp_path / "cmp" / "performance-profile.png").exists()

    suite = tmp_path / "prof.toml"
    suite.write_text(SUITE)
    run = run_cli("run", str(suite), "--report", str(tmp_path / "rep"), "-q", timeout=300)
    assert run.returncode == 0, run.stderr
    md = (tmp_path / "rep" / "index.md").read_text()
    assert "## Performance profile (time to target)" in md and "rho(1)" in md
    assert (tmp_path / "rep" / "performance-profile.png").exists()
