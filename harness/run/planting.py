"""Test-only planted regressions: ``HARNESS_PLANT="slowdown=2,eta=0.5"`` makes every run of the
process worse on purpose, so that the gate's own checks can be seen to fail
(benchmarks/gate_false_alarms.py, docs/workflows.md). ``slowdown=F`` runs the monitor's clocks (wall and CPU)
F times as fast (every measured time F times longer); ``eta=F`` scales the step size a plugin
receives. A planted run carries the changes in its identity (``options.planted``), so it is never a
cache hit for an unplanted run, and stores the parameters as asked."""

from __future__ import annotations

import math
import os
import time
from typing import Any

from harness._core.errors import UserError

PLANT_ENV = "HARNESS_PLANT"


def planted_changes() -> dict[str, float]:
    """The changes ``HARNESS_PLANT`` asks for (empty: none); a malformed value is a UserError."""
    from harness._core.params import parse_pairs

    text = os.environ.get(PLANT_ENV, "").strip()
    out: dict[str, float] = {}
    # each change once, no empty item ('slowdown=2,slowdown=3' planted 3 without a word)
    for k, v in (parse_pairs(text, PLANT_ENV, ("slowdown", "eta")) if text else {}).items():
        part = f"{k}={v}"
        if k not in ("slowdown", "eta"):
            raise UserError(f"{PLANT_ENV}: unknown planted change '{k}' (slowdown=F or eta=F)")
        try:
            out[k] = float(v)
        except ValueError:
            raise UserError(f"{PLANT_ENV}: '{part}' needs a number") from None
        if not (math.isfinite(out[k]) and out[k] > 0):  # slowdown=-1 stored negative times
            raise UserError(f"{PLANT_ENV}: '{part}' needs a finite number > 0")
    return out


def planted_run(planted: dict[str, float], params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """For a run whose identity holds ``planted``: the Monitor's extra keyword arguments (a faster
    clock) and the parameters its plugin receives (a scaled step)."""
    params = dict(params)
    if "eta" in planted and isinstance(params.get("eta"), (int, float)):
        params["eta"] = params["eta"] * planted["eta"]
    slow = float(planted.get("slowdown", 1.0))
    clocks = {"clock": lambda: slow * time.perf_counter(), "cpu_clock": lambda: slow * time.process_time()}
    return (clocks if slow != 1.0 else {}), params
