"""The theory checker on MPI runs with the delay they measured: Distributed-AsySVRG (D = 1,
Theorems 2.4.1/2.4.2) and Dis-dfSDCA (Theorems 3.4.1-3.4.4). Step sizes are chosen so that the
conditions hold for any delay up to 50 (asysvrg) / 90 (dfsdca), and the parameter server enforces
that bound (``max_delay``: it holds a reply back rather than let an update arrive staler), so the
verdict is ``holds`` whatever the OS's scheduling; no theorem may be ``violated``. The twins
replaying the measured delays agree. The delays of an MPI run are the plugin's report only: the
trajectory audit cannot observe its updates (they happen on other processes), nor the twins' at this
size (b = 4 at n = 1000) or form (dual updates), so each verdict is ``holds (unverified)``, saying so."""

from __future__ import annotations

import json

import pytest

from harness._core.monitor import Budget
from harness.run.runner import RunSpec, execute

from conftest import needs_mpi

from harness.run import checking as checker

WP = {"n": 1000, "d": 20, "cond": 10.0, "lam": 0.01}


def _run(plugin, params, budget, workers=2):
    return execute(RunSpec(plugin, "logreg", params, WP, workers, 0, budget, options={"timeout_s": 60}), None,
                   force=True)


def _twin_params(params):
    return {k: v for k, v in params.items() if k != "max_delay"}


def _verdicts(rec):
    return {d.theorem: d for d in checker.check([rec], save=False)}


@needs_mpi
@pytest.mark.mpi
def test_asysvrg_mpi_holds_with_measured_delay(tmp_path):
    params = {"eta": 5e-4, "b": 4, "m": 50, "max_delay": 50}
    rec = _run("asysvrg-mpi", params, Budget(epochs=3))
    assert rec.status == "budget" and rec.info["tau_max"] >= 1
    v = _verdicts(rec)
    assert set(v) == {"asysvrg.thm-2.4.1", "asysvrg.thm-2.4.2"}
    assert rec.info["tau_max"] <= 50 and rec.info["max_delay"] == 50
    assert v["asysvrg.thm-2.4.1"].verdict == "holds (unverified)", v["asysvrg.thm-2.4.1"]
    assert any(f.startswith("unaudited: step, mini-batch, inner-loop length, delays self-reported")
               for f in v["asysvrg.thm-2.4.1"].flags), v["asysvrg.thm-2.4.1"].flags
    assert all(d.verdict != "violated" for d in v.values()), v
    # the twin, replaying the measured delays, gets the same verdict
    (tmp_path / "d.json").write_text(json.dumps({"delays": rec.info["delays"]}))
    twin = _run("asysvrg-ps-sim", {**_twin_params(params), "delay": "measured", "delay_file": str(tmp_path / "d.json")},
                Budget(epochs=3))
    # the same verdict, except that in one process the trajectory audit can check the twin's b = 4 steps and
    # replayed delays (sparse recovery): then it holds outright; where sparse recovery explains too few of them
    # within the audit's work budget (a function of the run, not of the load), unverified as the MPI run
    audited = twin.info["audit"].get("status") == "audited"
    assert _verdicts(twin)["asysvrg.thm-2.4.1"].verdict == ("holds" if audited else "holds (unverified)"), twin.info["audit"]


@needs_mpi
@pytest.mark.mpi
def test_dfsdca_mpi_holds_with_measured_delay(tmp_path):
    params = {"eta": 5e-6, "H": 1, "T": 100, "max_delay": 90}
    rec = _run("dfsdca-mpi", params, Budget(epochs=2))
    assert rec.status == "budget" and rec.info["tau_max"] >= 1
    assert rec.info["invariant_max_err"] <= 1e-10
    v = _verdicts(rec)
    assert set(v) == {f"dfsdca.thm-3.4.{k}" for k in (1, 2, 3, 4)}
    assert rec.info["tau_max"] <= 90 and rec.info["max_delay"] == 90
    for tid in ("dfsdca.thm-3.4.1", "dfsdca.thm-3.4.2"):       # convex phi_i (logistic): (3.18) holds
        assert v[tid].verdict == "holds (unverified)" and "unaudited" in " ".join(v[tid].flags), v[tid]
    for tid in ("dfsdca.thm-3.4.3", "dfsdca.thm-3.4.4"):       # (3.30) needs eta ~ 1e-11 here
        assert v[tid].verdict == "not-applicable" and "3.30" in v[tid].reason, v[tid]
    (tmp_path / "d.json").write_text(json.dumps({"delays": rec.info["delays"]}))
    twin = _run("dfsdca-sim", {**_twin_params(params), "delay": "measured", "delay_file": str(tmp_path / "d.json")},
                Budget(epochs=2))
    tv = _verdicts(twin)
    assert [tv[t].verdict for t in sorted(tv)] == [v[t].verdict for t in sorted(v)]


@needs_mpi
@pytest.mark.mpi
def test_eta_theory_bounds_the_delay_it_was_solved_for():
    """eta=theory solves the step for tau_max = workers - 1; left unbounded, the OS made the delay
    4 with 2 workers and the same theorem said not-applicable. The server now enforces that delay
    (max_delay chosen with the step), so the theorem that chose the step judges the run."""
    rec = _run("asysvrg-mpi", {"eta": "theory", "b": 4}, Budget(epochs=3))
    assert rec.status == "budget", (rec.status, rec.reason)
    assert rec.params["max_delay"] == 1 and set(rec.info["theory_choices"]) == {"eta", "max_delay"}
    assert rec.info["tau_max"] <= 1
    chosen = rec.info["theory_choices"]["eta"]["theorem"]
    assert _verdicts(rec)[chosen].verdict in ("holds (unverified)", "inconclusive"), _verdicts(rec)[chosen]


def test_eta_theory_for_one_worker_plans_no_delay():
    """One worker has delay 0 (it was planned as 'no measured delay' and eta=theory was refused)."""
    rec = execute(RunSpec("asysvrg-sim", "ridge", {"eta": "theory", "coords": 1, "m": 50}, {"n": 200, "d": 10}, 1, 0,
                          Budget(epochs=2)), None, force=True)
    assert rec.status == "budget" and rec.params["eta"] > 0, (rec.status, rec.reason)
    assert rec.info["theory_choices"]["eta"]["workers"] == 1
