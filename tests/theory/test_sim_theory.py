"""The theory checker on simulated Shared-AsySVRG (D = d): with the delay inside Theorem 2.3.2's
condition (2.26) both AsySVRG shared-memory theorems hold; far outside it they are not applicable.

The run is Algorithm 1 as stated (one coordinate written per iteration, ``coords=1``), so the
measured delay counts coordinate writes, as Delta does in (2.26); L = L_max of the workload. A
one-coordinate write shows too little of the update for the trajectory audit to tell which iterate
it read, so the delay is the plugin's report: the verdict is 'holds (unverified)', saying so."""

from __future__ import annotations

import pytest

from harness._core.monitor import Budget
from harness._core.registry import workloads
from harness.run.runner import RunSpec, execute

try:
    from harness.run.checking import check
except ImportError as exc:  # pragma: no cover - the theory module is another issue's
    pytest.skip(f"harness.theory.checker is not available yet ({exc})", allow_module_level=True)


def verdicts(tau):
    L_max = workloads().get("logreg").build({}).constants()["L_max"]
    params = {"eta": 0.05 / L_max, "b": 1, "m": 150, "coords": 1, "delay": "fixed", "tau": tau,
              "read": "coordinate"}
    rec = execute(RunSpec("asysvrg-sim", "logreg", params, {}, 1, 0, Budget(updates=20000)))
    assert rec.status == "budget" and rec.info["write"] == "coordinate"
    return rec, {v.theorem: v for v in check([rec])}


def test_delay_inside_the_condition_holds():
    rec, out = verdicts(5)
    assert rec.points[-1]["tau_max"] == 5.0
    # (2.26) at this step size: Delta^2 < min{d/(2 u0 b), ...} admits Delta <= 21 here
    for tid in ("asysvrg.thm-2.3.1", "asysvrg.thm-2.3.2"):
        assert out[tid].verdict == "holds (unverified)", out[tid]
        assert any(f.startswith("unaudited:") and "delays self-reported" in f for f in out[tid].flags), out[tid].flags


def test_delay_far_outside_is_not_applicable():
    rec, out = verdicts(400)
    assert rec.points[-1]["tau_max"] == 149.0          # clipped at the epoch start (m = 150)
    assert out["asysvrg.thm-2.3.2"].verdict == "not-applicable"
    assert "Delta^2 < min" in out["asysvrg.thm-2.3.2"].reason
    assert out["asysvrg.thm-2.3.1"].verdict == "not-applicable"
