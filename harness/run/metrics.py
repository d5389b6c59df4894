"""Per-run metrics, the numbers ``compare``, ``gate`` and the performance profiles rank runs by
(AlgoPerf's rules):

- ``time_to_target``: measured seconds (evaluation excluded) at the first evaluated point that
  meets the target; ``inf`` if none does, ``nan`` without a target;
- ``updates_to_target``: updates applied at that point;
- ``final_subopt``: suboptimality at the last point that has one.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Sequence

import numpy as np

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


def time_to_level(r: RunRecord, metric: str, level: float) -> float:
    """Measured seconds until ``metric`` first drops to ``level`` (inf if never): AlgoPerf's rule."""
    for p in r.points:
        v = p.get(metric)
        if v is not None and v <= level:
            return float(p["time_s"])
    return float("inf")


def speedups(runs: Sequence[RunRecord], metric: str = "subopt",
             include_contended: bool = False) -> dict[str, list[tuple[int, float]]]:
    """Per plugin: (workers, T(fewest workers) / T(workers)) with T the median over seeds of the time
    to reach the loosest final level every run of that plugin reached (thesis eq. (2.52)). Runs whose
    times were contended (``--jobs`` beyond the cores, :func:`contended`) are left out unless
    ``include_contended``: their times carry the other runs' load, not their own workers'."""
    by_plugin: dict[str, dict[int, list[RunRecord]]] = defaultdict(lambda: defaultdict(list))
    for r in runs:
        if contended(r) and not include_contended:
            continue
        by_plugin[r.plugin][r.workers].append(r)
    out = {}
    for plugin, by_w in by_plugin.items():
        if len(by_w) < 2:
            continue
        finals = [min(p.get(metric, np.inf) for p in r.points) for rs in by_w.values() for r in rs]
        level = max(f for f in finals if np.isfinite(f)) if any(np.isfinite(finals)) else None
        if level is None:
            continue
        t = {w: float(np.median([time_to_level(r, metric, level) for r in rs])) for w, rs in by_w.items()}
        base = t[min(t)]
        out[plugin] = [(w, base / t[w] if t[w] > 0 else np.nan) for w in sorted(t)]
    return out

