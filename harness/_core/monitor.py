"""The monitor: decides when to snapshot, evaluates off the clock, and says when to stop.

A plugin's loop, whatever its backend::

    mon = ctx.monitor
    t = 0
    while mon.running:
        k = mon.next_chunk(t)          # updates until the next snapshot is due (respects budget)
        ... apply k updates ...         # the timed work
        t += k
        mon.tick(t, w, samples=t * b)  # snapshot if due; may stop the run

Schedule: geometric over updates (point at 0, then at ``ceil(prev * ratio)``, at least +1), with a
wall-clock floor (a point at least every ``max_interval_s`` measured seconds) and an evaluation
budget (a point the schedule or the floor asks for is postponed while the evaluations so far, with
this one, would take more than ``eval_fraction`` of the measured time plus ``eval_grace_s``:
measurement costs less than the work; the budget's last point is always taken). Both are
wall-clock rules: a deterministic backend runs without them under an update or epoch budget, so its
curve depends only on the seed; under a seconds budget (where how far the run gets depends on the
clock anyway) they apply to it too. The clock is paused while the monitor works: in :meth:`Monitor.tick`
(its bookkeeping, the iterate's copy, the metrics), :meth:`Monitor.next_chunk` and :meth:`Monitor.finish`:
``time_s`` is the algorithm's time only (the plugin's work between the monitor's calls). The trajectory
audit's observation windows (:mod:`.observe`: chunks of one update) are measurement too: their own seconds
are replaced, when the run ends, by their updates at the run's own
unobserved rate, never more than they took (:meth:`Monitor.settle`: the design choice and its guarantee).

Evaluation plan (:mod:`harness._core.evalplan`): at the first point, before it is
evaluated, a workload that declares its evaluation's cost (``Workload.eval_costs``: the network
workloads) has the number of points and the size of its evaluation subset chosen from the budget,
by counting (an update or epoch budget: no clock read, so a deterministic curve stays one) or from
a timed pilot (a seconds budget); the plugin says what its updates and its own per-point measurements
cost with :meth:`Monitor.costs`. The plan is kept in ``Monitor.plan`` and stored with the run.

Stops on: budget (updates, epochs, seconds), target (suboptimality <= target, or another metric),
divergence (non-finite metric, or objective > ``diverge_factor`` x its initial value + 1).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable

import numpy as np

from .observe import Observer
from .staleness import DelayStats

# statuses (the design's list)
DONE, TARGET, BUDGET, TIMEOUT, DIVERGED, ERROR, SKIPPED, INTERRUPTED = (
    "done", "target", "budget", "timeout", "diverged", "error", "skipped", "interrupted")
STATUSES = (DONE, TARGET, BUDGET, TIMEOUT, DIVERGED, ERROR, SKIPPED, INTERRUPTED)
FINISHED_OK = (DONE, TARGET, BUDGET)

POINT_FIELDS = ("updates", "samples", "epochs", "time_s", "objective", "subopt", "grad_norm_sq", "dist_sq",
                "test_loss", "test_acc", "tau_max", "tau_mean", "tau_q50", "tau_q90", "tau_q99")


@dataclass
class Budget:
    updates: int | None = None
    epochs: float | None = None
    seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def parse(cls, text: str | dict | None) -> "Budget":
        """'updates=1e5,epochs=10,seconds=30' (the command line's ``--budget``) or a dict (a suite's
        ``budget = { epochs = 10 }``); None: no budget (the caller's default applies). Each key once,
        at least one, each value a finite number > 0 (not true/false): updates a whole number up to
        :data:`MAX_UPDATES`, epochs up to :data:`MAX_EPOCHS` (past those the update counters
        overflow int64). Raises :class:`UserError` otherwise: an empty budget would never end a run."""
        from .errors import UserError
        from .params import parse_pairs

        if text is None:
            return cls()
        keys = ("updates", "epochs", "seconds")
        if isinstance(text, dict):
            items = dict(text)
            if not items:
                raise UserError("budget is empty: expected updates, epochs or seconds (a run without one never ends)")
        else:
            items = parse_pairs(str(text), "budget", keys)
        out = cls()
        for key, value in items.items():
            key = str(key).strip()
            if key not in keys:
                raise UserError(f"bad budget key '{key}': expected updates, epochs or seconds")
            try:
                if isinstance(value, bool):
                    raise ValueError
                num = float(value)
            except (TypeError, ValueError):
                raise UserError(f"bad budget value {value!r} for '{key}': expected a positive number") from None
            if not (num > 0 and math.isfinite(num)):
                raise UserError(f"bad budget value {value!r} for '{key}': expected a positive number")
            if key == "updates" and num != int(num):  # 1.5 updates was run as 1
                raise UserError(f"bad budget value {value!r} for 'updates': expected a whole number of updates")
            top = {"updates": MAX_UPDATES, "epochs": MAX_EPOCHS}.get(key)
            if top is not None and num > top:  # epochs=1e20 died in the run: "high is out of bounds for int64"
                raise UserError(f"bad budget value {value!r} for '{key}': at most {top:.0e} {key}")
            setattr(out, key, int(num) if key == "updates" else num)
        return out


# the largest budgets in updates and epochs: counters and sample indices are int64 (epochs x n too)
MAX_UPDATES = 2**53      # the largest whole number a float holds exactly (about 9e15)
MAX_EPOCHS = 1e9
# a run's budget when none is given (``harness run --plugin P --workload W``, a suite's [[run]] without one)
DEFAULT_BUDGET = Budget(epochs=10.0)


@dataclass
class Schedule:
    """When the monitor snapshots. ``ratio``: geometric spacing in updates; ``max_interval_s``: a
    point at least every so many measured seconds; ``min_gap``: updates between points at least;
    ``eval_fraction`` / ``eval_grace_s``: a point is postponed while the evaluation seconds so far
    with its own (estimated by their mean) would exceed ``eval_fraction * measured seconds +
    eval_grace_s`` (None: no budget). The last two and the floor are wall-clock rules: a
    deterministic backend runs without them unless its budget is in seconds. ``points``: about
    this many points in all instead of ``ratio`` (planned when the first chunk is sized, from the
    update or epoch budget: the grid 0, 1, r, r^2, ... reaching the budget's last update in
    ``points - 1`` steps, two points: the first and the last; under a seconds budget only, a floor
    of seconds / points and r = 2). ``eval_plan``: the evaluation plan sizes the points and the
    evaluation subset from the budget (:mod:`harness._core.evalplan`; it keeps the evaluation within
    ``eval_fraction`` of the work plus ``eval_grace_s``, counted, for every plugin); off: every point
    on the workload's whole evaluation subset."""

    ratio: float = 1.3
    max_interval_s: float | None = 2.0
    min_gap: int = 1
    eval_fraction: float | None = 0.25
    eval_grace_s: float = 1.0
    points: int | None = None
    eval_plan: bool = True


@dataclass
class Target:
    metric: str = "subopt"
    value: float | None = None

    def reached(self, point: dict[str, Any]) -> bool:
        v = point.get(self.metric)
        if self.value is None or v is None or not np.isfinite(v):
            return False
        if self.metric in ("test_acc", "train_acc"):
            return v >= self.value
        return v <= self.value


class Monitor:
    def __init__(self, evaluate: Callable[[Any], dict[str, float]], *, n_samples: int | None = None,
                 budget: Budget | None = None, target: Target | None = None, schedule: Schedule | None = None,
                 deterministic: bool = False, diverge_factor: float = 1e6,
                 copy: Callable[[Any], Any] | None = None,
                 on_point: Callable[[dict[str, Any], "Monitor"], None] | None = None,
                 clock: Callable[[], float] = time.perf_counter,
                 cpu_clock: Callable[[], float] = time.process_time, on_start: Callable[[], None] | None = None,
                 sizer: Any = None, update_samples: float | None = None, device: str = "cpu",
                 observer: Observer | None = None):
        """``cpu_clock``: this process's CPU seconds, paused with the wall clock; ``cpu_to_target``
        is its reading at the point that reached the target (meaningful where the run computes in
        this process: another process's load takes wall time, not this process's CPU time).
        ``sizer``: the workload whose evaluation the plan sizes (``eval_costs()``,
        ``use_eval_size(size, seconds=)``, ``eval_size()``; None or ``eval_costs() is None``: no
        plan); ``update_samples``: sample gradients per update (the plugin's ``b``) until the plugin
        says otherwise (:meth:`costs`); ``device``: ``cuda`` or the CPU, for the plan's nominal speed.
        ``observer``: per-update observation windows (:mod:`.observe`; the trajectory audit): inside
        them every chunk is one update and each ticked iterate is kept."""
        self.evaluate = evaluate
        self.n_samples = n_samples
        self.budget = budget or Budget()
        self.target = target or Target()
        self.schedule = schedule or Schedule()
        self.sizer = sizer
        self.device = "cuda" if str(device).startswith("cuda") else "cpu"
        self.update_samples = update_samples
        self.point_samples = 0.0
        self.plan: dict[str, Any] | None = None
        self._plan_fraction = self.schedule.eval_fraction   # the counted plan's bound, whatever the clock rules
        if deterministic and self.budget.seconds is None:   # points by update count only: same curve twice
            self.schedule = replace(self.schedule, max_interval_s=None, eval_fraction=None)
        self.diverge_factor = diverge_factor
        self.copy = copy or _default_copy
        self.on_point = on_point
        self.on_start = on_start
        self.started_at: float | None = None  # time.time() when the clock started (the budget's start)
        self._clock = clock
        self._cpu_clock = cpu_clock
        self._cpu_t0: float | None = None
        self._cpu_paused = 0.0
        self.cpu_to_target: float | None = None
        self.points: list[dict[str, Any]] = []
        self.status: str | None = None
        self.reason = ""
        self._paused_total = 0.0
        self._frozen_at: float | None = None   # the clock's reading when the monitor's current call began
        self._cpu_frozen_at = 0.0              # ... and the CPU clock's
        self._t0: float | None = None
        self._next_at = 0
        self._last_point_time = 0.0
        self._f0: float | None = None
        self.eval_seconds = 0.0
        self.samples_per_update: float = 1.0
        # samples counted so far (ticks and :meth:`count`) and where the last interval began: the epoch
        # budget is spent in samples, and the coming chunk's samples per update is the last interval's
        self._samples = 0.0
        self._planned = False                         # schedule.points turned into a ratio
        self._mark: tuple[int, float] | None = None   # (updates, samples) at the last tick or count
        self._rate: float | None = None               # samples per update over the last interval
        self.observer = observer
        # the observation windows' clock (see :meth:`settle`): measured (and, with a target, CPU)
        # seconds when the last tick returned, the updates it ticked, the observed chunks' own seconds
        # and count so far, and per point its actual time and the observed seconds / updates before it
        self._ticked = 0
        self._out_s = self._out_cpu = 0.0
        self._chunk_observed = False
        self.observed_s = self.observed_cpu = 0.0
        self.observed_updates = 0
        self._actual: list[tuple[float, float, int]] = []
        self._target_cpu: tuple[float, float, int] | None = None
        self._target_at = 0
        self.charge: dict[str, Any] | None = None
        self._rewarm: Callable[[], None] | None = None

    def rewarm(self, fn: Callable[[], None] | None) -> None:
        """Run ``fn()`` after each point's evaluation, the clock still stopped (None: nothing). A point's
        evaluation leaves the processor's caches and branch predictors full of its own code and data,
        so the plugin's next chunk starts cold and the measured time would carry the pause: on this
        2-core machine a one-update SGD chunk took 11.6 us right after an evaluation and 1.6 us warm
        (a fixed ~10 us per point, ~2% of a 25 ms run's 45 points). ``fn`` re-warms that code path
        (the serial plugins' ``Steps.rewarm``: one update on scratch data). It must leave the run's
        state as it found it (no update of the iterate, no draw from the run's generator): it is the
        measurement undoing its own trace, never the algorithm's work done off the clock."""
        self._rewarm = fn

    # -- clock --------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the clock (backends call this after their set-up and any barrier)."""
        if self._t0 is None:
            self._cpu_t0 = self._cpu_clock()
            self._t0 = self._clock()
            self.started_at = time.time()
            if self.on_start is not None:
                self.on_start()

    def elapsed(self) -> float:
        """Measured seconds: wall time since start minus the time spent in the monitor's own calls
        (:meth:`tick`, :meth:`next_chunk`: its bookkeeping and the evaluation); inside one of them,
        the reading when it was entered."""
        if self._t0 is None:
            return 0.0
        now = self._frozen_at if self._frozen_at is not None else self._clock()
        return now - self._t0 - self._paused_total

    def _freeze(self) -> bool:
        """Stop the measured clock for the monitor's own call (True: this call froze it, and
        :meth:`_thaw` restarts it; False: it was frozen already, by the call around this one). What the
        monitor does between the plugin's chunks is measurement, not the algorithm's work: ~10 us a
        tick right after an evaluation (its Python code cold) and ~3 us a ``next_chunk``, ~2% of a 30-ms
        SGD run of 45 points."""
        if self._frozen_at is not None or self._t0 is None:
            return False
        self._frozen_at = self._clock()
        self._cpu_frozen_at = self._cpu_clock()   # the CPU clock stops with it: cpu_to_target, the gate's
        return True                               # time for in-process runs, counts what time_s counts

    def _thaw(self, froze: bool) -> None:
        if froze:
            self._cpu_paused += self._cpu_clock() - self._cpu_frozen_at
            self._paused_total += self._clock() - self._frozen_at
            self._frozen_at = None

    @property
    def running(self) -> bool:
        if self._t0 is None:
            self.start()
        return self.status is None

    # -- schedule -----------------------------------------------------------------------------
    def next_chunk(self, updates: int, cap: int | None = None, samples_per_update: float | None = None) -> int:
        """How many updates to run before the next tick (>= 1): up to the next scheduled snapshot,
        within the update/epoch budget, and, with a wall floor, not much longer than the floor; over
        the evaluation budget, as many as it takes (at the rate measured so far) to meet it, in
        chunks of at most the floor (the rate is measured again after each). ``samples_per_update``:
        what each update of the coming chunk touches (b for SGD, 2b for an SVRG inner iteration), so
        an epoch budget ends on the exact sample count (see :meth:`_update_limit`)."""
        froze = self._freeze()
        try:
            return self._next_chunk(updates, cap, samples_per_update)
        finally:
            self._thaw(froze)

    def _next_chunk(self, updates: int, cap: int | None, samples_per_update: float | None) -> int:
        if self.schedule.points and not self._planned:
            self._plan_points(updates, samples_per_update)
        k = max(self._next_at - updates, 1)
        if updates > 0 and (self.schedule.max_interval_s or self.schedule.eval_fraction is not None):
            rate = updates / max(self.elapsed(), 1e-9)              # updates per measured second so far
            if self.schedule.max_interval_s:
                k = min(k, max(int(rate * self.schedule.max_interval_s), 1))
            wait = self._eval_wait()
            if wait > 0:  # over the evaluation budget: no point until it is met; run on, a floor's worth at a time
                step = min(wait, self.schedule.max_interval_s) if self.schedule.max_interval_s else wait
                k = max(k, int(math.ceil(rate * step)))
                if self.budget.seconds is not None:
                    k = min(k, max(int(math.ceil(rate * (self.budget.seconds - self.elapsed()))), 1))
        limit = self._update_limit(updates, samples_per_update)
        if limit is not None:
            k = min(k, max(limit - updates, 1))
        if cap is not None:
            k = min(k, cap)
        if self.observer is not None:
            if self.observer.windows is None:
                self.observer.plan(self._update_limit(updates, samples_per_update))
            k = self.observer.chunk(updates, k)
        return int(k)

    def _plan_points(self, updates: int, per_update: float | None) -> None:
        """``schedule.points`` as a ratio (see :class:`Schedule`); planned once, at the first chunk."""
        self._planned = True
        n = max(int(self.schedule.points), 2)
        limit = self._update_limit(updates, per_update)
        if limit is not None and limit > 1 and n == 2:      # the first point and the last
            self.schedule = replace(self.schedule, min_gap=max(limit - updates, 1))
            self._next_at = max(self._next_at, limit)
        elif limit is not None and limit > 1:
            ratio = float(limit) ** (1.0 / max(n - 2, 1))
            self.schedule = replace(self.schedule, ratio=max(ratio, 1.0 + 1e-9))
        elif self.budget.seconds is not None:
            self.schedule = replace(self.schedule, ratio=2.0, max_interval_s=self.budget.seconds / n)

    # -- the evaluation plan (harness._core.evalplan) ---------------------------------------------
    def costs(self, *, update: float | None = None, point: float | None = None) -> None:
        """What the plugin's work costs, in sample gradients (one sample's forward and backward pass):
        ``update`` per update (b for SGD on b samples), ``point`` what the plugin measures at each
        point beyond the workload's metrics (ddg's sigma_dir: its window's forward and backward
        passes). Read by the evaluation plan at the first point: call it before the first tick."""
        if update is not None:
            self.update_samples = float(update)
        if point is not None:
            self.point_samples = float(point)

    def _plan_evaluation(self) -> None:
        """Size the points and the evaluation subset from the budget (the module docstring's
        evaluation plan); at the first point, before it is evaluated. Leaves ``self.plan``."""
        from . import evalplan

        facts = self.sizer.eval_costs() if self.sizer is not None and hasattr(self.sizer, "eval_costs") else None
        if facts is None:
            return
        self.sizer.use_eval_size(None)                    # the subset as asked, whatever an earlier run chose
        asked = facts.sizes[0]
        base = {"param": facts.param, "asked": asked, "eval_n": asked, "sizes": list(facts.sizes),
                "point_extra": self.point_samples, "update_cost": self.update_samples,
                "flops_per_sample_gradient": facts.flops, "fraction": self._plan_fraction,
                "grace_s": self.schedule.eval_grace_s}
        if not self.schedule.eval_plan or self._plan_fraction is None:
            self.plan = {**base, "how": "off", "why": "eval_plan=false or eval_fraction=none: every point on the "
                                                     "whole subset, the schedule as it is"}
            return
        limit = self._update_limit(0, self.update_samples) if self.update_samples else None
        if limit is not None:
            work = float(limit) * float(self.update_samples)
            if self.budget.epochs is not None and self.n_samples:
                work = min(work, self.budget.epochs * self.n_samples)
            fixed = self.schedule.points is not None
            points = int(self.schedule.points) if fixed else evalplan.grid_points(
                limit, self.schedule.ratio, self.schedule.min_gap)
            speed = evalplan.NOMINAL_FLOPS[self.device]
            grace = self.schedule.eval_grace_s * speed / facts.flops if facts.flops > 0 else 0.0
            got = evalplan.counted(facts, work=work, point_extra=self.point_samples, points=points,
                                   points_fixed=fixed, fraction=self._plan_fraction, grace=grace)
            self.plan = {**base, "how": "counted", "work": work, "updates": limit, "points_schedule": points,
                         "grace": grace, **got}
            if got["eval_n"] != asked:
                self.sizer.use_eval_size(got["eval_n"])
            if got["points"] < points and not fixed:
                self.schedule = replace(self.schedule, points=got["points"])
                self._planned = False
        elif self.budget.seconds is not None:
            allowance = (self._plan_fraction * self.budget.seconds + self.schedule.eval_grace_s) / evalplan.TIMED_POINTS
            self.sizer.use_eval_size(None, seconds=allowance)
            self.plan = {**base, "how": "timed", "allowance_s": allowance,
                         "why": f"one evaluation in about {allowance:.3g} s, sized on a pilot at the first point"}
        else:
            self.plan = {**base, "how": "as asked", "why": "no update cost declared: nothing to count the budget in"}

    def _eval_wait(self) -> float:
        """Measured seconds still to run before the evaluation budget allows a point (0: allowed):
        the evaluations so far plus this one (as long as the mean so far) within
        ``eval_fraction * measured + eval_grace_s``."""
        frac = self.schedule.eval_fraction
        if not frac or not self.points:
            return 0.0
        spent = self.eval_seconds * (1.0 + 1.0 / len(self.points))
        over = spent - self.schedule.eval_grace_s - frac * self.elapsed()
        return over / frac if over > 0 else 0.0

    def remaining(self, updates: int) -> int | None:
        """Updates left in the update/epoch budget (None: no such budget). A plugin whose natural
        unit is bigger than one update (a round of growing size, an outer epoch) clips it to this."""
        lim = self._update_limit(updates)
        return None if lim is None else max(lim - updates, 0)

    def count(self, updates: int, samples: float) -> None:
        """The plugin touched samples outside its updates (SVRG's snapshot: a full gradient, n
        samples) and has now touched ``samples`` in all at update ``updates``: counted at once, so the
        epoch budget sees them before the next chunk is sized (the chunk then gets exactly the samples
        left; when the snapshot alone spent the budget, one update, whose tick takes the last point)."""
        self._observe(updates, float(samples))

    def _observe(self, updates: int, samples: float) -> None:
        if self._mark is not None and updates > self._mark[0]:
            self._rate = (samples - self._mark[1]) / (updates - self._mark[0])
        self._mark = (updates, samples)
        self._samples = samples
        if updates > 0:
            self.samples_per_update = samples / updates

    def _epochs_spent(self) -> bool:
        if self.budget.epochs is None or not self.n_samples:
            return False
        return self._samples >= self.budget.epochs * self.n_samples * (1.0 - 1e-12)

    def _update_limit(self, updates: int | None = None, per_update: float | None = None) -> int | None:
        """The update count at which the update or epoch budget is spent. Epochs are counted in
        samples: from the last tick or :meth:`count` (``updates`` is there), the samples left at
        ``per_update`` samples per update (the plugin's own figure for the coming chunk), else at
        the rate of the last interval (a snapshot's samples were counted before the chunk), else at
        the mean so far. Asked from elsewhere than the last mark: from zero at the mean, as before."""
        limits = []
        if self.budget.updates is not None:
            limits.append(int(self.budget.updates))
        if self.budget.epochs is not None and self.n_samples:
            total = self.budget.epochs * self.n_samples
            if self._mark is not None and (updates is None or updates == self._mark[0]):
                at, left = self._mark[0], total - self._samples
                rate = per_update or self._rate or self.samples_per_update
            else:
                at, left, rate = 0, total, per_update or self.samples_per_update
            limits.append(at + max(int(math.ceil(left / rate - 1e-9)), 0))
        return min(limits) if limits else None

    def due(self, updates: int) -> bool:
        lim = self._update_limit()
        if lim is not None and updates >= lim:
            return True
        if self._epochs_spent():
            return True
        if self.budget.seconds is not None and self.elapsed() >= self.budget.seconds:
            return True
        floor = self.schedule.max_interval_s
        asked = updates >= self._next_at or (bool(floor) and (self.elapsed() - self._last_point_time) >= floor)
        return asked and self._eval_wait() == 0.0

    # -- snapshots ----------------------------------------------------------------------------
    def tick(self, updates: int, iterate: Any, *, samples: float | None = None,
             delays: DelayStats | None = None, extra: dict[str, Any] | None = None,
             force: bool = False) -> bool:
        """Snapshot if due (or forced); returns whether the run should go on. Off the measured clock,
        all of it (see :meth:`_freeze`)."""
        if self._t0 is None:
            self.start()
        froze = self._freeze()
        try:
            return self._tick(updates, iterate, samples, delays, extra, force)
        finally:
            self._thaw(froze)

    def _tick(self, updates, iterate, samples, delays, extra, force) -> bool:
        if samples is not None:
            self._observe(updates, float(samples))
        elif updates > 0:
            self._observe(updates, updates * self.samples_per_update)
        obs = self.observer
        if obs is None:
            if force or self.due(updates):
                self._snapshot(updates, iterate, samples, delays, extra)
            return self.status is None
        self._chunk_observed = obs.observed(self._ticked, updates)
        obs.record(updates, iterate)
        if force or self.due(updates):
            self._snapshot(updates, iterate, samples, delays, extra)
        if self._chunk_observed or updates < obs.last_end:   # past the windows nothing is left to split
            self._close_chunk(updates)
        if self.status is not None:
            self.settle()
        return self.status is None

    # -- the observation windows' cost, off the clock ------------------------------------------
    def _cpu_elapsed(self) -> float:
        """CPU seconds since start less the monitor's own calls (the reading at entry inside one)."""
        if self._cpu_t0 is None:
            return 0.0
        now = self._cpu_frozen_at if self._frozen_at is not None else self._cpu_clock()
        return now - self._cpu_t0 - self._cpu_paused

    def _close_chunk(self, updates: int) -> None:
        """At the end of a tick: the chunk it closed (from the previous tick's return to this one's,
        evaluation excluded) goes to the observed seconds if it was one update in a window."""
        m = self.elapsed()
        cpu = self._cpu_elapsed() if self.target.value is not None else 0.0
        if self._chunk_observed:
            self.observed_s += m - self._out_s
            self.observed_cpu += cpu - self._out_cpu
            self.observed_updates += 1
        self._out_s, self._out_cpu, self._ticked, self._chunk_observed = m, cpu, updates, False

    def settle(self) -> None:
        """Take the observation windows' own cost off the points' ``time_s`` (and ``cpu_to_target``).

        Inside a window the plugin runs chunks of one update (:mod:`.observe`), each paying the plugin's per-chunk work
        (drawing its batch, entering its kernel) and the monitor's tick and iterate copy: measurement's cost,
        10-100x an update on a fast kernel. Those chunks' seconds ``A`` (ticks included) are replaced by their
        ``O`` updates charged at the rate ``r`` this run measured where it was not observed (its unobserved
        seconds / unobserved updates up to its last point, per-chunk costs included), never by more than they
        took: a point's ``time_s`` is its actual measured time ``- A(p) + min(A(p), r O(p))``, with ``A(p)``,
        ``O(p)`` the observed seconds and updates before it. Every second outside the observed chunks stays
        counted as it was, so the charge cannot hide work done outside the windows; each observed update is
        counted at what an update costs this run unobserved; a run with no unobserved update (all observed)
        keeps its actual time. Monotone in the points (``A``, ``O`` and ``r O`` never decrease), and idempotent:
        it recomputes from the actual times, so calling it again after more ticks uses the rate measured so far.
        The figures go to :attr:`charge` (the runner stores them as ``info["audit"]["clock"]``). Live decisions (a
        seconds budget, the wall-clock floor) read the actual clock, which errs towards more time, never less."""
        if not self.points or len(self._actual) != len(self.points) or not self._actual[-1][2]:
            return
        last, (last_actual, last_a, last_o) = self.points[-1]["updates"], self._actual[-1]

        def rate_of(spent: float, unobserved: int) -> float | None:
            return spent / unobserved if unobserved > 0 and spent > 0 else None

        rate = rate_of(last_actual - last_a, last - last_o)       # up to the last point: what the run measured
        charged = last_a if rate is None else min(last_a, rate * last_o)
        for point, (actual, a, o) in zip(self.points, self._actual):
            point["time_s"] = actual if rate is None else actual - a + min(a, rate * o)
        if self._target_cpu is not None:
            actual, a, o = self._target_cpu
            cpu_rate = rate_of(actual - a, self._target_at - o)
            self.cpu_to_target = actual if cpu_rate is None else actual - a + min(a, cpu_rate * o)
        self.charge = {"observed_updates": last_o, "observed_s": round(last_a, 6),
                       "charged_s": round(charged, 6),
                       "rate_s_per_update": None if rate is None else float(f"{rate:.4g}"),
                       "unobserved_updates": last - last_o, "last_point_actual_s": round(last_actual, 6),
                       "how": ("observed updates charged at the run's unobserved seconds per update"
                               if rate is not None else "no unobserved update: the observed chunks' actual time")}

    def finish(self, updates: int, iterate: Any, *, samples: float | None = None,
               delays: DelayStats | None = None, extra: dict[str, Any] | None = None) -> None:
        """The plugin's own loop ended (e.g. its epochs are done): a final point, status 'done'."""
        self._rewarm = None          # the run is over: no chunk follows this point to re-warm for
        froze = self._freeze()
        try:
            if not self.points or self.points[-1]["updates"] != updates:
                self._chunk_observed = self.observer is not None and self.observer.observed(self._ticked, updates)
                self._snapshot(updates, iterate, samples, delays, extra)
                if self.observer is not None:
                    self._close_chunk(updates)
        finally:
            self._thaw(froze)
        if self.status is None:
            self.status = DONE
        self.settle()

    def _snapshot(self, updates, iterate, samples, delays, extra) -> None:
        # called by tick and finish only, inside their freeze: elapsed() is the reading when they were entered
        time_s = self.elapsed()
        pause = self._clock()
        try:
            if not self.points:
                self._plan_evaluation()
            frozen = self.copy(iterate)
            point: dict[str, Any] = {"updates": int(updates)}
            samples = float(samples) if samples is not None else updates * self.samples_per_update
            point["samples"] = samples
            point["epochs"] = samples / self.n_samples if self.n_samples else None
            point["time_s"] = time_s
            try:
                with _one_blas_thread():
                    metrics = self.evaluate(frozen)
            except FloatingPointError:
                metrics = {"objective": float("nan")}
            point.update(metrics)
            if self.plan is not None and self.plan["how"] == "timed" and len(self.points) == 0:
                self.plan["eval_n"] = int(self.sizer.eval_size())      # what the pilot chose
                self.plan["why"] += f": {self.plan['eval_n']} of {self.plan['asked']} samples"
            if delays is not None:
                point.update(delays.summary())
            if extra:
                point["extra"] = extra
            self.points.append(point)
            if self.observer is not None:   # the observed seconds and updates before this point (see settle)
                part = time_s - self._out_s if self._chunk_observed else 0.0
                self._actual.append((time_s, self.observed_s + part, self.observed_updates + self._chunk_observed))
            self._last_point_time = time_s
            self._next_at = max(int(math.ceil(updates * self.schedule.ratio)), updates + self.schedule.min_gap)
            self._check_stop(point)
            if self.status == TARGET and self.cpu_to_target is None and self._cpu_t0 is not None:
                self.cpu_to_target = self._cpu_elapsed()
                if self.observer is not None:
                    part = self.cpu_to_target - self._out_cpu if self._chunk_observed else 0.0
                    self._target_cpu = (self.cpu_to_target, self.observed_cpu + part,
                                        self.observed_updates + self._chunk_observed)
                    self._target_at = int(updates)
            if self.on_point is not None:
                self.on_point(point, self)
            if self._rewarm is not None and self.status is None:   # the next chunk starts as warm as the last one ended
                self._rewarm()
        finally:
            self.eval_seconds += self._clock() - pause

    def _check_stop(self, p: dict[str, Any]) -> None:
        if self.status is not None:
            return
        obj = p.get("objective")
        finite = all(np.isfinite(v) for k, v in p.items() if k in POINT_FIELDS and isinstance(v, float))
        if obj is not None and self._f0 is None and np.isfinite(obj):
            self._f0 = float(obj)
        if not finite or (obj is not None and self._f0 is not None and
                          obj > self.diverge_factor * (abs(self._f0) + 1.0)):
            self.status, self.reason = DIVERGED, f"metric not finite or blew up at update {p['updates']}"
            return
        if self.target.reached(p):
            self.status, self.reason = TARGET, f"{self.target.metric} <= {self.target.value:g}"
            return
        lim = self._update_limit()
        if (lim is not None and p["updates"] >= lim) or self._epochs_spent():
            self.status, self.reason = BUDGET, "update/epoch budget spent"
        elif self.budget.seconds is not None and p["time_s"] >= self.budget.seconds:
            self.status, self.reason = BUDGET, "time budget spent"

    # -- for child processes (MPI / torch ranks) -----------------------------------------------
    def config(self) -> dict[str, Any]:
        return {"n_samples": self.n_samples, "budget": self.budget.to_dict(),
                "target": asdict(self.target), "schedule": asdict(self.schedule),
                "diverge_factor": self.diverge_factor, "update_samples": self.update_samples, "device": self.device,
                "plan_fraction": self._plan_fraction}

    @classmethod
    def from_config(cls, cfg: dict[str, Any], evaluate, **kw) -> "Monitor":
        mon = cls(evaluate, n_samples=cfg.get("n_samples"), budget=Budget(**cfg.get("budget", {})),
                  target=Target(**cfg.get("target", {})), schedule=Schedule(**cfg.get("schedule", {})),
                  diverge_factor=cfg.get("diverge_factor", 1e6), update_samples=cfg.get("update_samples"),
                  device=cfg.get("device", "cpu"), **kw)
        if "plan_fraction" in cfg:   # the parent's, before a deterministic plugin's clock rules were dropped
            mon._plan_fraction = cfg["plan_fraction"]
        return mon

    def stop(self, status: str, reason: str = "") -> None:
        if self.status is None:
            self.status, self.reason = status, reason
        self.settle()


_BLAS = None


def _one_blas_thread():
    """Evaluation runs with one BLAS thread: a multi-threaded BLAS call leaves its worker threads
    spinning after it returns, and they would steal the timed loop's core on a small machine."""
    global _BLAS
    if _BLAS is None:
        try:
            from threadpoolctl import ThreadpoolController

            _BLAS = ThreadpoolController()
        except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
            _BLAS = False
    if _BLAS is False:
        import contextlib

        return contextlib.nullcontext()
    return _BLAS.limit(limits=1, user_api="blas")


def _default_copy(iterate: Any) -> Any:
    if isinstance(iterate, np.ndarray):
        return iterate.copy()
    if hasattr(iterate, "state_dict"):  # a torch module: metrics evaluate it directly (clock is paused)
        return iterate
    if hasattr(iterate, "clone"):
        return iterate.detach().clone()
    return iterate
