"""SIGTERM and SIGHUP handled like Ctrl-C (SIGINT).

CI runners, ``timeout``, batch schedulers and a closed terminal send SIGTERM or SIGHUP, not
SIGINT. :func:`install` makes both raise :class:`Terminated` (a ``KeyboardInterrupt``) in the main
thread, so every path that keeps a Ctrl-C'd run keeps theirs: the points measured so far are
stored with status ``interrupted``, a launched job's whole process group is ended
(``launch.kill_group``), a suite stops after storing the run in flight. The command then exits
``128 + signal`` (143 for SIGTERM, 129 for SIGHUP, 130 for SIGINT). A second signal while the run
is being stored is ignored, so the row is not lost half-written.
"""

from __future__ import annotations

import contextlib
import signal
import threading

HANDLED = (signal.SIGTERM, signal.SIGHUP)


class Terminated(KeyboardInterrupt):
    """A SIGTERM or SIGHUP, raised where Ctrl-C would raise KeyboardInterrupt."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_received: list[int] = []


def _handler(signum, _frame):
    if _received:  # already unwinding: let the run be stored
        return
    _received.append(signum)
    raise Terminated(signum)


def install() -> dict:
    """Handle SIGTERM and SIGHUP like SIGINT (main thread only; elsewhere a no-op). Returns the
    handlers it replaced, for :func:`restore` (``harness.cli.main`` called in-process, e.g. by
    tests, leaves its caller's handlers as they were)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    _received.clear()
    return {sig: signal.signal(sig, _handler) for sig in HANDLED}


def restore(previous: dict) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


@contextlib.contextmanager
def sigint_ignored():
    """Ctrl-C ignored while the runs of an interrupted command are stored (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def signal_name(exc: BaseException) -> str:
    return signal.Signals(exc.signum).name if isinstance(exc, Terminated) else "the user (SIGINT)"


def exit_code(exc: BaseException) -> int:
    """128 + the signal that stopped the command (130 for Ctrl-C)."""
    return 128 + (exc.signum if isinstance(exc, Terminated) else signal.SIGINT)


def received() -> int | None:
    """The SIGTERM/SIGHUP received by this process, if any (the run was stored as interrupted)."""
    return _received[0] if _received else None


# -- a worker process of a parallel executor (``--jobs N``) ------------------------------------
_job_running: list[bool] = []
_in_worker: list[bool] = []  # install_worker ran in this process


def _worker_handler(signum, _frame):
    if not _job_running or _received:  # idle (the parent ends it), or already unwinding: store the run
        return
    _received.append(signum)
    raise KeyboardInterrupt if signum == signal.SIGINT else Terminated(signum)


def install_worker() -> None:
    """A pool worker's initializer: SIGINT, SIGTERM and SIGHUP interrupt the run it is executing
    (inside :func:`job`) the way they interrupt a serial run, so the run returns 'interrupted' with
    the points measured so far; an idle worker ignores them (dying there would break the pool and
    lose the other workers' runs) and is ended by its parent."""
    _in_worker.append(True)
    for sig in (signal.SIGINT, *HANDLED):
        signal.signal(sig, _worker_handler)


@contextlib.contextmanager
def job():
    """The span of one run in a pool worker: a signal received in it interrupts the run (once).
    Elsewhere (a dask worker's thread, this process's threads) it changes nothing."""
    if not _in_worker:
        yield
        return
    _received.clear()
    _job_running.append(True)
    try:
        yield
    finally:
        _job_running.clear()
