"""The time-to-target method of ``benchmarks/threads_vs_sklearn.py`` (c), on a small problem with real
threads: the harness side is timed as scikit-learn's is, by its cheapest run that gets there."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

pytest.importorskip("numba")

from benchmarks.threads_vs_sklearn import harness_time_to  # noqa: E402

SMALL = {"n": 2000, "d": 20, "lam": 1e-3}


@pytest.mark.slow   # 3-7 s each (numba compiles, ~15 runs)
@pytest.mark.parametrize("workers", [1, 2])
def test_time_to_target_is_the_cheapest_run_that_gets_there(workers):
    got = harness_time_to("asysvrg-threads", {"eta": 0.05, "m": 1000}, SMALL, workers, seed=0, target=1e-6)
    assert got["subopt"] <= 1e-6                       # the timed run itself ends under the target
    assert got["updates"] >= got["probe_updates"]      # no shorter than where the probe first got there
    assert got["updates"] <= got["probe_updates"] * 1.05 ** 12 + 1
    assert got["points"] < got["probe_points"]         # the default schedule: far fewer evaluations
    assert 0 < got["seconds"]


def test_the_svrg_rule_is_eta_one_over_the_mini_batch_smoothness():
    from types import SimpleNamespace

    from benchmarks.threads_vs_sklearn import svrg_rule

    wl = SimpleNamespace(L=2.0, L_max=50.0, n=20000)
    assert svrg_rule(wl, 1) == {"eta": 0.02, "m": 10000, "b": 1}          # b = 1: 1 / L_max, half a pass
    got = svrg_rule(wl, 8)
    assert got["m"] == 1250 and got["b"] == 8
    assert got["eta"] == pytest.approx(1.0 / (7 / 8 * 2.0 + 50.0 / 8), rel=1e-6)   # (1 - 1/b) L + L_max / b
    assert 1 / 50.0 < got["eta"] < 1 / 2.0                                 # between 1 / L_max and 1 / L
    # rows of norm ~ 1e4 (a LIBSVM file unscaled): L_b ~ 1e7, eta ~ 1e-7 (it was rounded to 0.0; breaker30)
    wide = svrg_rule(SimpleNamespace(L=3e6, L_max=2.5e7, n=1000), 8)
    assert wide["eta"] == pytest.approx(1.0 / (7 / 8 * 3e6 + 2.5e7 / 8), rel=1e-6) and wide["m"] == 62


def test_the_script_says_when_its_wall_clock_figures_are_not_judged(monkeypatch, capsys):
    """A load above the cores is named in the script's own output (as ``python -m benchmarks`` marks
    its table), and a quiet machine's output does not say so; no part runs (``--parts ''``)."""
    import os

    import benchmarks.threads_vs_sklearn as script

    for load, said in ((99.0, True), (0.0, False)):
        monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
        script.main(["--parts", ""])
        out = capsys.readouterr().out
        assert ("not judged" in out) is said, out


def test_part_c_names_its_mini_batches_as_values_not_an_interval(monkeypatch, capsys):
    """(c)'s header read 'b in (1, 8)', an open interval to a reader: it names b = 1 and b = 8."""
    import benchmarks.threads_vs_sklearn as script

    monkeypatch.setattr(script, "_workload", lambda wp: pytest.fail("no problem is built with no cases"))
    script.part_c(1, [], batches=(1, 8))
    head = capsys.readouterr().out.splitlines()[0]
    assert "at b = 1 and b = 8" in head and "(1, 8)" not in head
