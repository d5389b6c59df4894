"""What the sim plugins share: delay parameters, the skip rule, the run's delay source."""

from __future__ import annotations

from typing import Any

from harness.params import Param

# kept here (not imported from the engine) so listing plugins does not import numba
DELAY_KINDS = ("fixed", "uniform", "geometric", "trace", "measured")
READ_MODES = ("whole", "coordinate")

DELAY_PARAMS = (
    Param("delay", "fixed", "choice", choices=DELAY_KINDS,
          doc="delay distribution: fixed tau | uniform on [0, tau] | geometric, mean tau | trace | measured"),
    Param("tau", -1, "int", low=-1, doc="the delay (fixed), its maximum (uniform) or mean (geometric); -1: workers - 1"),
    Param("tau_cap", 0, "int", low=0, doc="geometric: truncation point (0: 10 x the mean)"),
    Param("read", "whole", "choice", choices=READ_MODES,
          doc="whole-vector reads (w_{t-tau}) or coordinate-wise inconsistent reads (each coordinate its own delay <= tau)"),
    Param("delay_file", "", "str", doc="trace / measured: a JSON list of delays or a delay histogram (DelayStats)"),
)


def skip_linear(workload, params, workers) -> str | None:
    from harness.plugins.kernels import LOSS_CODES

    if getattr(workload, "loss", None) not in LOSS_CODES:
        return f"needs a linear loss (logistic or squared), not {getattr(workload, 'loss', workload.kind)!r}"
    if params.get("coords") and workload.sparse:
        return "coords > 0 (coordinate-wise writes of Algorithm 1) is implemented for dense data only"
    return None


def delays_for(ctx):
    from . import engine

    p: dict[str, Any] = dict(ctx.params)
    if p["tau"] < 0:
        p["tau"] = max(ctx.workers - 1, 0)
    return engine.from_params(p, ctx.seed)


def info(delays, read: str, sim=None) -> dict[str, Any]:
    out = {"delays": delays.stats.to_dict(), "delay_model": delays.model.describe(), "read": read}
    if sim is not None and sim.clipped_above is not None:
        out["delays_clipped_above"] = sim.clipped_above
    return out
