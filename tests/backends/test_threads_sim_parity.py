"""The simulator is the reference the parallel backend must agree with: ``asysvrg-threads`` (real
threads, delays measured) and ``asysvrg-sim`` replaying the delay distribution that run measured
reach the same suboptimality on ``logreg``.

Tolerance: the final suboptimalities (geometric mean over 2 seeds each, same budget in samples)
agree within a factor of 10 (one decade). Seed-to-seed spread of either backend at this budget is
about a factor of 2.5 (measured), and SVRG's linear rate makes a systematic difference (e.g. the
threads backend losing updates, or the delays hurting more than the model says) grow by decades.
"""

from __future__ import annotations

import json
import math

from harness._core.monitor import Budget
from harness.run.runner import RunSpec, execute
from harness._core.staleness import DelayStats

WORKLOAD = {"lam": 1e-2}                       # logreg: n = 2000, d = 50 (dense)
PARAMS = {"eta": 0.03, "b": 1, "m": 20000}     # long epochs: chunks long enough for the threads to overlap
BUDGET = Budget(epochs=60)


def test_asysvrg_threads_and_sim_with_measured_delays_agree(tmp_path):
    logs_thr, logs_sim = [], []
    for seed in (0, 1):
        thr = execute(RunSpec("asysvrg-threads", "logreg", PARAMS, WORKLOAD, 2, seed, BUDGET))
        assert thr.status == "budget", (thr.status, thr.reason)
        measured = DelayStats.from_dict(thr.info["delays"])
        assert measured.count == thr.points[-1]["updates"]
        path = tmp_path / f"delays-{seed}.json"
        path.write_text(json.dumps(thr.info))          # a threads run's info is a valid delay file
        sim = execute(RunSpec("asysvrg-sim", "logreg", {**PARAMS, "delay": "measured", "delay_file": str(path)},
                              WORKLOAD, 2, seed, BUDGET))
        assert sim.status == "budget", (sim.status, sim.reason)
        assert sim.info["delay_model"]["bound"] == measured.max
        assert sim.points[-1]["samples"] == thr.points[-1]["samples"]
        for rec, logs in ((thr, logs_thr), (sim, logs_sim)):
            first, last = rec.points[0]["subopt"], rec.points[-1]["subopt"]
            assert last < 1e-4 * first                 # both converge (linearly) ...
            logs.append(math.log10(last))
    gap = abs(sum(logs_thr) / 2 - sum(logs_sim) / 2)
    assert gap <= 1.0, f"threads 10^{sum(logs_thr) / 2:.2f} vs sim 10^{sum(logs_sim) / 2:.2f}"   # ... to the same level
