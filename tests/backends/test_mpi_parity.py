"""Parity: each MPI plugin and its ``sim`` twin, the twin given the delay distribution the MPI run
measured (``delay=measured`` + the run's histogram) and the workers' measured message shares, reach
the same suboptimality level at the same sample budget. The level: the geometric mean of the
suboptimality over the second half of the run (one seed's last iterate is too noisy for SGD-type
methods). Two MPI seeds against four twin
runs. Stated tolerance: within a factor of 2 (typically within 10-40 %: the twin replays the
measured delays i.i.d., the MPI run's are correlated in time).
Also: the twins alone (deterministic, invariant, sample accounting)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness._core.monitor import Budget
from harness.run.runner import RunSpec, execute

from conftest import needs_mpi

WP = {"n": 1000, "d": 20, "cond": 10.0, "lam": 0.01}
FACTOR = 2.0

PAIRS = [
    ("asysvrg-mpi", "asysvrg-ps-sim", {"eta": 0.1, "b": 4}, Budget(epochs=6), "delays"),
    ("dfsdca-mpi", "dfsdca-sim", {"eta": 0.02, "H": 10}, Budget(epochs=4), "delays"),
    ("asgd-mpi", "asgd-sim", {"eta": 0.05, "M": 4}, Budget(epochs=2), "delays"),
    pytest.param("hogwild-growing-batch-mpi", "growing-batch-sim", {"eta0": 0.1, "a": 20}, Budget(epochs=4),
                 "round_lag", marks=pytest.mark.slow),
]


def level(rec, epochs):
    subs = [p["subopt"] for p in rec.points if p["epochs"] >= epochs / 2]
    return float(np.exp(np.mean(np.log(subs))))


def _run(plugin, params, budget, workers=2, seed=0, **options):
    return execute(RunSpec(plugin, "logreg", params, WP, workers, seed, budget, options={"timeout_s": 60, **options}),
                   None, force=True)


@needs_mpi
@pytest.mark.mpi
@pytest.mark.parametrize("mpi,twin,params,budget,key", PAIRS, ids=["asysvrg", "dfsdca", "asgd", "growing-batch"])
def test_twin_with_measured_delays_matches_mpi(mpi, twin, params, budget, key, tmp_path):
    """Two MPI runs (seeds 0, 1) against four twin runs (seeds 0-3) replaying what each MPI run
    measured; the groups' levels (geometric means) agree within FACTOR."""
    real_levels, twin_levels = [], []
    for seed in (0, 1):
        real = _run(mpi, params, budget, seed=seed)
        assert real.status == "budget", real.reason
        measured = real.info[key]
        assert measured["count"] > 0
        delay_file = tmp_path / f"delays-{seed}.json"
        delay_file.write_text(json.dumps({"delays": measured}))
        twin_params = {**params, "delay": "measured", "delay_file": str(delay_file)}
        if twin != "growing-batch-sim":   # the measured arrival shares (a starved worker's data is visited less)
            twin_params["worker_shares"] = ",".join(str(c) for c in real.info["worker_messages"])
        for k in (0, 1):
            sim = _run(twin, twin_params, budget, seed=2 * seed + k)
            assert sim.status == "budget", sim.reason
            assert abs(real.points[-1]["epochs"] - sim.points[-1]["epochs"]) <= 0.1 * budget.epochs   # same samples
            assert sim.info["delays"]["max"] <= measured["max"]                 # replayed, never beyond
            twin_levels.append(level(sim, budget.epochs))
        assert real.points[-1]["subopt"] < 0.5 * real.points[0]["subopt"]      # it actually progressed
        real_levels.append(level(real, budget.epochs))
    a, b = float(np.exp(np.mean(np.log(real_levels)))), float(np.exp(np.mean(np.log(twin_levels))))
    assert 1 / FACTOR <= a / b <= FACTOR, (real_levels, twin_levels)


def test_twins_are_deterministic_and_use_their_delays(tmp_path):
    params = {"eta": 0.1, "b": 4, "delay": "fixed", "tau": 3}
    one = _run("asysvrg-ps-sim", params, Budget(epochs=3), workers=3)
    two = _run("asysvrg-ps-sim", params, Budget(epochs=3), workers=3)
    assert [p["subopt"] for p in one.points] == [p["subopt"] for p in two.points]
    assert one.points[-1]["tau_max"] == 3 and one.info["delays"]["hist"][0] >= 1          # clipped after the snapshot
    zero = _run("asysvrg-ps-sim", {**params, "tau": 0}, Budget(epochs=3), workers=3)
    assert zero.points[-1]["tau_max"] == 0 and zero.points[-1]["subopt"] != one.points[-1]["subopt"]


def test_dfsdca_twin_keeps_the_invariant_under_large_delays():
    rec = _run("dfsdca-sim", {"eta": 0.02, "H": 10, "delay": "uniform", "tau": 8}, Budget(epochs=5), workers=3)
    assert rec.status == "budget"
    assert max(p["invariant_err"] for p in rec.points) <= 1e-10
    assert rec.points[-1]["tau_max"] == 8 and rec.points[-1]["subopt"] < 0.05


def test_asgd_twin_stops_at_S_samples():
    rec = _run("asgd-sim", {"eta": 0.05, "M": 8, "S": 4000, "delay": "fixed", "tau": 2}, Budget(seconds=30), workers=4)
    assert rec.status == "budget" and "S = 4000" in rec.reason
    assert rec.points[-1]["samples"] == 4000


def test_growing_batch_twin_rounds_follow_the_sequence():
    rec = _run("growing-batch-sim", {"eta0": 0.1, "a": 20, "lag": 1, "delay": "fixed", "tau": 5}, Budget(epochs=3))
    sizes = rec.info["round_sizes"]
    assert sizes[:4] == [2, 20, 40, 60]
    ups = [p["updates"] for p in rec.points]
    starts = set(np.cumsum(sizes).tolist())
    assert all(u == 0 or u in starts for u in ups[:-1])                     # points at round ends
    assert ups[-1] == 3 * WP["n"] and rec.status == "budget"                # the last round is clipped to the budget
    assert rec.points[-1]["tau_max"] == 1                                   # lag clipped to d = 1
