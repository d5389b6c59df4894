"""A timed group sized from what this machine measures: a suite entry with
``size = { param = "n", seconds = [0.1, 0.4] }`` has its workload parameter ``n`` chosen, on the
machine that saves a gate baseline, so that one run's CPU seconds to target land in the window.

Why: a fixed size is too short to time on a fast machine (under the gate's 50 ms floor: time is
never judged) and needlessly long on a slow one. The chosen value is written into the runs
(their workload parameters, hence their identity) and into the baseline's ``meta.sized``; a gate
that checks against that baseline runs the *baseline's* value, never a size of its own: a slower
build that sized itself would pick a smaller problem and hide the slowdown.

The rule (:func:`choose_size`): run the entry's first run (lowest seed) at the value written in
the suite, untimed warm-up first, twice, and take the smaller CPU seconds to target (load only
adds time). In the window: keep it. Else aim at the window's geometric middle ``sqrt(lo * hi)``:
first in proportion (an epoch is ``n`` samples, and the epochs to a fixed suboptimality barely move
with ``n``), then through the last two probes (time is closer to affine in ``n``: set-up, caches);
round to two significant digits (sizes repeat, and cache), keep within ``min..max``, and probe
again: at most :data:`MAX_PROBES` sizes; the one closest to the middle wins. Probe runs are not stored.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

from harness._core.errors import UserError
from .runner import RunSpec, resolve, run_resolved

MAX_PROBES = 4      # sizes tried at most (each run twice)
REPEATS = 2         # runs per probed size: the faster counts (other processes' load only adds time)
SIZE_KEYS = {"param", "seconds", "min", "max"}


@dataclass(frozen=True)
class Sizing:
    """What a suite entry's ``size = {...}`` asks for: the integer workload parameter ``param``
    that scales the run's work, the window ``seconds`` = (lo, hi) for one run's CPU seconds to
    target, and the bounds ``low``..``high`` for the value (default: the suite's value / 20 .. x 20)."""

    param: str
    seconds: tuple[float, float]
    low: int
    high: int

    def to_dict(self) -> dict[str, Any]:
        return {"param": self.param, "seconds": list(self.seconds), "min": self.low, "max": self.high}


def parse_sizing(value: Any, workload_params: Any) -> Sizing:
    """``size = { param = "n", seconds = [0.1, 0.4], min = 1000, max = 1000000 }`` checked against the
    entry's workload parameters (``param`` must be one of them, a positive integer, not a grid axis).
    Raises :class:`UserError` (the suite loader prefixes the file and entry)."""
    if not isinstance(value, dict):
        raise UserError(f"size must be a table like {{ param = \"n\", seconds = [0.1, 0.4] }}, got {value!r}")
    bad = sorted(set(value) - SIZE_KEYS)
    if bad:
        raise UserError(f"size: unknown key '{bad[0]}' (expected {', '.join(sorted(SIZE_KEYS))})")
    param = value.get("param")
    wparams = workload_params if isinstance(workload_params, dict) else {}
    nominal = wparams.get(param) if isinstance(param, str) else None
    if not isinstance(param, str) or param not in wparams:
        raise UserError(f"size: param must name one of the entry's workload_params ({', '.join(wparams) or 'none given'}),"
                        f" got {param!r}")
    if not _is_int(nominal) or nominal < 1:
        raise UserError(f"size: workload_params.{param} must be one positive integer (the starting size), got {nominal!r}")
    secs = value.get("seconds")
    if not (isinstance(secs, list) and len(secs) == 2 and all(_is_num(x) for x in secs)
            and 0 < secs[0] < secs[1] and math.isfinite(secs[1])):
        raise UserError(f"size: seconds must be [lo, hi] with 0 < lo < hi (CPU seconds to target of one run), got {secs!r}")
    low, high = value.get("min", max(1, nominal // 20)), value.get("max", nominal * 20)
    for key, v in (("min", low), ("max", high)):
        if not _is_int(v) or v < 1:
            raise UserError(f"size: {key} must be a positive integer, got {v!r}")
    if low > high:
        raise UserError(f"size: min {low} is above max {high}")
    return Sizing(param, (float(secs[0]), float(secs[1])), int(low), int(high))


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def group_key(spec: RunSpec, param: str) -> str:
    """What names a sized group across a baseline's save and a later check: plugin, workload,
    parameters, the workload parameters but the sized one, workers, budget and target."""
    wp = {k: v for k, v in spec.workload_params.items() if k != param}
    return json.dumps([spec.plugin, spec.workload, spec.params, wp, spec.workers, spec.budget.to_dict(),
                       [spec.target.metric, spec.target.value]], sort_keys=True, default=str)


@dataclass
class SizeChoice:
    """The size chosen for one group: ``value`` of ``param``, and every probe as (value, seconds)."""

    key: str
    param: str
    value: int
    window: tuple[float, float]
    probes: list[tuple[int, float]] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        t = dict(self.probes).get(self.value)
        return t is not None and self.window[0] <= t <= self.window[1]

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.key, "param": self.param, "value": self.value, "window_s": list(self.window),
                "probes": [[v, t] for v, t in self.probes], "fits": self.fits}

    def describe(self) -> str:
        tried = ", ".join(f"{self.param}={v}: {t * 1e3:.0f} ms" for v, t in self.probes)
        return (f"{self.param}={self.value} (CPU seconds to target of one run, window "
                f"{self.window[0]:g}-{self.window[1]:g} s; probed {tried})")


def nice(x: float) -> int:
    """``x`` rounded to two significant digits (123456 -> 120000), at least 1."""
    if x < 1:
        return 1
    step = 10 ** max(0, int(math.floor(math.log10(x))) - 1)
    return max(1, int(round(x / step)) * step)


def probe_seconds(spec: RunSpec, *, repeats: int = REPEATS) -> float:
    """The fewest CPU seconds to target over ``repeats`` runs of ``spec`` (after an untimed
    warm-up), not stored. Raises :class:`UserError` when a run does not reach its target."""
    res = resolve(spec)
    run_resolved(res.warm_up(), None)
    best = math.inf
    for _ in range(repeats):
        rec = run_resolved(res, None)
        cpu = (rec.info or {}).get("cpu_to_target_s")
        if rec.status != "target" or not isinstance(cpu, (int, float)) or cpu <= 0:
            raise UserError(f"sizing {spec.describe()}: the run ended '{rec.status}' without a time to target "
                            f"({rec.reason or 'no target reached'}): a sized group needs a target it reaches")
        best = min(best, float(cpu))
    return best


def choose_size(specs: Sequence[RunSpec], sizing: Sizing, *,
                measure: Callable[[RunSpec], float] = probe_seconds) -> SizeChoice:
    """The value of ``sizing.param`` for the group ``specs`` (one suite entry, seeds apart), from
    runs of its first spec on this machine (module docstring). ``measure``: seconds to target of
    one spec (tests pass a model of a machine)."""
    first = min(specs, key=lambda s: s.seed)
    lo, hi = sizing.seconds
    value = int(first.workload_params[sizing.param])
    choice = SizeChoice(group_key(first, sizing.param), sizing.param, value, sizing.seconds)
    for _ in range(MAX_PROBES):
        t = measure(replace(first, workload_params={**first.workload_params, sizing.param: value}, suite=None))
        choice.probes.append((value, t))
        if lo <= t <= hi:
            break
        nxt = min(sizing.high, max(sizing.low, nice(_next_value(choice.probes, math.sqrt(lo * hi)))))
        if nxt == value or nxt in dict(choice.probes):  # at a bound, or back to a size already tried
            break
        value = nxt
    mid = math.sqrt(lo * hi)
    # the size whose time came closest to the window's middle (the last probe, unless it overshot back)
    choice.value = min(choice.probes, key=lambda p: (not lo <= p[1] <= hi, abs(math.log(p[1] / mid))))[0]
    return choice


def _next_value(probes: list[tuple[int, float]], goal: float) -> float:
    """The next size to try for ``goal`` seconds: through the last two probes where they rise with the
    size (a run's time is about affine in n: set-up and cache effects), else in proportion to the
    last; at most 10x away from the last."""
    v1, t1 = probes[-1]
    guess = v1 * goal / t1
    if len(probes) >= 2:
        v0, t0 = probes[-2]
        if v1 != v0 and (t1 - t0) / (v1 - v0) > 0:
            guess = v1 + (goal - t1) * (v1 - v0) / (t1 - t0)
    return min(10 * v1, max(v1 / 10, guess))


def sized(specs: Sequence[RunSpec], param: str, value: int) -> list[RunSpec]:
    """``specs`` with ``param`` set to ``value`` in their workload parameters."""
    return [replace(s, workload_params={**s.workload_params, param: value}) for s in specs]


def _groups(specs: Sequence[RunSpec]) -> dict[str, list[int]]:
    """The sized groups among ``specs``: group key -> the indices of its specs, in order."""
    out: dict[str, list[int]] = {}
    for i, s in enumerate(specs):
        if s.size is not None:
            out.setdefault(group_key(s, s.size.param), []).append(i)
    return out


def size_groups(specs: Sequence[RunSpec], *,
                measure: Callable[[RunSpec], float] = probe_seconds) -> tuple[list[RunSpec], list[SizeChoice]]:
    """Every sized group of ``specs`` sized on this machine (:func:`choose_size`): the specs with the
    chosen values, and the choices (for the baseline's ``meta.sized``)."""
    out, choices = list(specs), []
    for idx in _groups(specs).values():
        group = [specs[i] for i in idx]
        choice = choose_size(group, group[0].size, measure=measure)
        for i, s in zip(idx, sized(group, choice.param, choice.value)):
            out[i] = s
        choices.append(choice)
    return out, choices


def sizes_from(specs: Sequence[RunSpec], sized_meta: Any,
               baseline_runs: Sequence[Any] = ()) -> tuple[list[RunSpec], list[str]]:
    """``specs`` with each sized group at the value a baseline chose (its ``meta.sized``), never a
    size of this machine's: a group the baseline names no size for keeps the suite's value (the
    gate then finds no counterpart and says so). Returns the specs and one note per group. A size
    outside the suite's ``min..max`` (a baseline edited by hand: ``n = 10**9`` ran out of memory
    after the other groups had run) raises :class:`UserError` before any run; so does a size that
    none of ``baseline_runs`` (the baseline's records) of the group's plugin and workload ran at:
    ``meta.sized`` edited apart from the runs (the gate ran every group, then could not judge)."""
    chosen = {(d.get("group"), d.get("param")): d for d in (sized_meta if isinstance(sized_meta, list) else [])
              if isinstance(d, dict)}
    out, notes = list(specs), []
    for key, idx in _groups(specs).items():
        first = specs[idx[0]]
        param = first.size.param
        d = chosen.get((key, param))
        value = d.get("value") if d else None
        what = f"{first.plugin} on {first.workload}"
        if not _is_int(value) or value < 1:
            notes.append(f"sized group {what}: the baseline names no size for it; run at the suite's "
                         f"{param}={first.workload_params[param]} (refresh the baseline with --save-baseline)")
            continue
        if not first.size.low <= value <= first.size.high:  # a hand-edited baseline, or bounds since changed
            raise UserError(f"the baseline's meta.sized runs {what} at {param}={value}, outside the suite's size "
                            f"bounds min {first.size.low} .. max {first.size.high}: refresh the baseline "
                            f"(harness gate SUITE --save-baseline FILE)")
        ran = {r.workload_params.get(param) for r in baseline_runs
               if (r.plugin, r.workload) == (first.plugin, first.workload)}
        if baseline_runs and value not in ran:
            raise UserError(f"the baseline's meta.sized runs {what} at {param}={value}, but none of its runs of {what} "
                            f"ran at that size ({param} = {', '.join(map(str, sorted(ran, key=str))) or 'none'}): "
                            f"the file was edited; refresh the baseline (harness gate SUITE --save-baseline FILE)")
        for i, s in zip(idx, sized([specs[i] for i in idx], param, value)):
            out[i] = s
        notes.append(f"sized group {what}: run at {param}={value}, the size the baseline chose")
    return out, notes
