"""Progress of a batch of runs: a rich bar on a terminal, a plain line every few seconds otherwise
(CI logs, ``| tee``), nothing under ``--quiet``.

The plain line goes to stderr (stdout stays clean for ``--json`` and tables) and is printed by a
daemon thread, so a long run with few curve points still shows that it is alive::

    harness: 3/12 runs done, 41 s, 1.2 GiB held (now: sgd-serial[eta=0.1,b=4] on digits w=1 seed=0, start-up 2.1 s, 40%)

The current run's start-up (the seconds before its budget started: data, constants, compiling,
launching ranks) counts up until its budget starts, then stays; the memory is what this process
and its children hold (``harness._core.memory``), when a sampler is attached.

``HARNESS_PROGRESS_EVERY`` sets the interval in seconds (default 5).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from harness._core.output import console


def _every() -> float:
    from harness._core.environment import number

    return number("HARNESS_PROGRESS_EVERY", 5.0)  # checked at start-up: >= 0.1 s


class RunProgress:
    """``with RunProgress(total) as p: p.start(label, run=True); p.budget_started(); p.fraction(f); p.done();
    p.running(k)``."""

    def __init__(self, total: int, *, quiet: bool = False, what: str = "runs"):
        self.total, self.what = total, what
        self.finished, self.in_flight = 0, 0
        self.label, self.frac = "", 0.0
        self.t0 = time.monotonic()
        self.run_t0: float | None = None       # when the current run started ...
        self.startup: float | None = None      # ... and the seconds before its budget started
        self.memory: Any = None                # a harness._core.memory.PeakSampler, if any
        self.mode = "off" if quiet else ("rich" if console.is_terminal else "plain")
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._rich: Any = None

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> "RunProgress":
        if self.mode == "rich":
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self._rich = Progress(TextColumn("{task.description}"), BarColumn(),
                                  TextColumn("{task.completed:.0f}/{task.total:.0f}"), TimeElapsedColumn(),
                                  TimeRemainingColumn(), console=console, transient=True)
            self._rich.__enter__()
            self._overall = self._rich.add_task(self.what, total=self.total)
            self._current = self._rich.add_task("", total=100)
        elif self.mode == "plain":  # the first line after one interval: a quick mistake stays one error line
            threading.Thread(target=self._beat, name="harness-progress", daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._rich is not None:
            self._rich.__exit__(*exc)

    # -- updates -----------------------------------------------------------------------------
    def start(self, label: str, *, run: bool = False) -> None:
        """A new step is under way; ``run``: it is a run (its start-up is shown until its budget starts)."""
        with self._lock:
            self.label, self.frac = label, 0.0
            self.run_t0, self.startup = (time.monotonic() if run else None), None
        if self._rich is not None:
            self._rich.update(self._current, description=label[:60], completed=0)

    def budget_started(self) -> None:
        """The current run's set-up is over: its start-up time stops counting."""
        with self._lock:
            if self.run_t0 is not None and self.startup is None:
                self.startup = time.monotonic() - self.run_t0

    def fraction(self, frac: float) -> None:
        with self._lock:
            self.frac = frac
        if self._rich is not None:
            self._rich.update(self._current, completed=100 * frac)

    def running(self, k: int) -> None:
        with self._lock:
            self.in_flight = k
        if self._rich is not None:
            self._rich.update(self._current, description=f"{k} running", completed=0)

    def done(self, k: int = 1) -> None:
        with self._lock:
            self.finished += k
        if self._rich is not None:
            self._rich.advance(self._overall, k)

    # -- plain lines -------------------------------------------------------------------------
    def _beat(self) -> None:
        every = _every()
        while not self._stop.wait(every):
            self._line()

    def _line(self) -> None:
        with self._lock:
            parts = [f"{self.finished}/{self.total} {self.what} done"]
            if self.in_flight:
                parts.append(f"{self.in_flight} running")
            parts.append(f"{time.monotonic() - self.t0:.0f} s")
            if self.memory is not None and self.memory.last:
                from harness._core.workload import fmt_bytes

                parts.append(f"{fmt_bytes(self.memory.last)} held")
            pct = f", {100 * self.frac:.0f}%" if self.frac > 0 else ""
            up = self.startup if self.startup is not None else (
                time.monotonic() - self.run_t0 if self.run_t0 is not None else None)
            setup = f", start-up {up:.1f} s" if up is not None else ""
            now = f" (now: {self.label}{setup}{pct})" if self.label and not self.in_flight else ""
        try:
            print("harness: " + ", ".join(parts) + now, file=sys.stderr, flush=True)
        except (BrokenPipeError, ValueError):  # stderr closed under us
            self._stop.set()
