"""SVRG's pieces shared by the serial, threads and sim backends (Huo 2020 (thesis), Ch. 2; AsySVRG, Huo & Huang 2017).

- :func:`inner_iterations`: the inner-loop length m (:func:`derived`: as ``PluginSpec.derived`` reports it);
- :func:`write_kind`: what an inner iteration writes (Algorithm 1's single coordinate, a block, all);
- :func:`sgd_warm_start`: the thesis's SGD -> SVRG (Sec. 2.5), ``warm_epochs`` passes of SGD first.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np


def inner_iterations(p, n: int, d: int) -> int:
    """m: ``p['m']`` if given, else one pass over the data (n/b), times d/c when only c = ``p['coords']``
    coordinates are written per iteration."""
    if p["m"]:
        return p["m"]
    per = max(1, n // p["b"])
    return per * (-(-d // p["coords"]) if p.get("coords") else 1)


def derived(p, workload) -> dict[str, int]:
    """What an SVRG plugin derives from its parameters before running (``PluginSpec.derived``): the
    inner-loop length m it applies and reports (``ctx.applied(**derived(p, wl))``)."""
    return {"m": inner_iterations(p, workload.n, workload.dim)}


def write_kind(coords: int) -> str:
    """What an iteration writes: one coordinate (Algorithm 1 as stated, D = d), a block, or the whole vector."""
    return "coordinate" if coords == 1 else ("block" if coords else "vector")


def sgd_warm_start(mon, w: np.ndarray, *, n: int, b: int, epochs: int,
                   sgd: Callable[[int, int], Any], cap: int | None = None, **tick: Any) -> tuple[int, float]:
    """SGD -> SVRG (thesis Sec. 2.5): ``epochs`` passes of mini-batch SGD (max(1, n/b) updates each)
    before SVRG's first snapshot.

    ``sgd(k, t)`` applies k updates of batch ``b`` to ``w`` in place, starting at update t (the
    backend's own step: serial numba, threads, simulated delays); ``cap`` bounds the updates per
    chunk; ``tick`` are extra ``mon.tick`` keywords (e.g. ``delays=``). Ticks the monitor after each
    chunk and returns (t, samples): the updates applied and the samples touched (b per update)."""
    updates = epochs * max(1, n // b)
    t, samples = 0, 0.0
    while mon.running and t < updates:
        k = min(mon.next_chunk(t, cap=cap, samples_per_update=b), updates - t)
        sgd(k, t)
        t += k
        samples += k * b
        mon.tick(t, w, samples=samples, **tick)
    return t, samples
