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


def install() -> None:
    """Handle SIGTERM and SIGHUP like SIGINT (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in HANDLED:
        signal.signal(sig, _handler)


def signal_name(exc: BaseException) -> str:
    return signal.Signals(exc.signum).name if isinstance(exc, Terminated) else "the user (SIGINT)"


def exit_code(exc: BaseException) -> int:
    """128 + the signal that stopped the command (130 for Ctrl-C)."""
    return 128 + (exc.signum if isinstance(exc, Terminated) else signal.SIGINT)


def received() -> int | None:
    """The SIGTERM/SIGHUP received by this process, if any (the run was stored as interrupted)."""
    return _received[0] if _received else None
