"""Per-run metrics, the numbers ``compare``, ``gate`` and the performance profiles rank runs by
(AlgoPerf's rules):

- ``time_to_target``: measured seconds (evaluation excluded) at the first evaluated point that
  meets the target; ``inf`` if none does, ``nan`` without a target;
- ``updates_to_target``: updates applied at that point;
- ``final_subopt``: suboptimality at the last point that has one.
"""

from __future__ import annotations

import math

from harness._core.monitor import Target
from .store import RunRecord

METRICS = ("time_to_target", "updates_to_target", "final_subopt")
METRIC_LABELS = {"time_to_target": "time to target (s)", "updates_to_target": "updates to target",
                 "final_subopt": "final suboptimality"}


def tau_max(rec: RunRecord) -> float | None:
    """The largest delay tau (updates) the run measured, over all its points: what a theorem's
    maximum-delay condition reads. ``None`` for a run that measures no delay (serial, torch)."""
    taus = [p["tau_max"] for p in rec.points if p.get("tau_max") is not None and not math.isnan(p["tau_max"])]
    return float(max(taus)) if taus else None


def contended(rec: RunRecord) -> bool:
    """Whether the run's times were measured beside more busy workers than cores (``--jobs`` beyond
    the machine: ``harness.run.executors.Contention`` marks it in ``info['contention']``)."""
    return bool(((rec.info or {}).get("contention") or {}).get("contended"))


def target_for(rec: RunRecord, default: Target | None = None) -> Target:
    """The comparison target if one is given, else the run's own stopping target."""
    if default is not None and default.value is not None:
        return default
    t = rec.target or {}
    return Target(str(t.get("metric") or "subopt"), t.get("value"))


def run_metrics(rec: RunRecord, target: Target | None = None) -> dict[str, float]:
    """time/updates to target (first evaluated point meeting it, else inf) and final subopt."""
    tgt = target_for(rec, target)
    ttt = utt = math.inf
    if (rec.info or {}).get("subopt_negative"):
        pass  # below zero against its own f*: the reference is wrong, never counted as reaching a target
    elif tgt.value is not None:
        for p in rec.points:
            if tgt.reached(p):
                ttt, utt = float(p.get("time_s", math.nan)), float(p["updates"])
                break
    else:
        ttt = utt = math.nan
    final = math.nan
    for p in reversed(rec.points):
        if p.get("subopt") is not None:
            final = float(p["subopt"])
            break
    return {"time_to_target": ttt, "updates_to_target": utt, "final_subopt": final}
