"""The ``sim`` backend's own parameters: the delay model and the order of the workers' messages.
Kept apart from :mod:`.engine` so listing plugins does not import numba."""

from __future__ import annotations

from harness.api import Param

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

SHARES_PARAM = Param("worker_shares", "", "str",
                     doc="relative message rates of the workers (e.g. an MPI run's worker_messages); '' = equal")
