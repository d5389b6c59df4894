"""Errors a user can cause. The CLI prints them as one line and exits 2, never with a traceback."""

from __future__ import annotations

import difflib
from typing import Iterable


class UserError(Exception):
    """A mistake in what the user asked for: unknown name, bad value, malformed file."""


class MissingDependency(UserError):
    """An optional dependency is not installed; the message names the extra that provides it."""

    def __init__(self, what: str, extra: str):
        super().__init__(f"{what} is not installed: pip install 'harness[{extra}]'")
        self.extra = extra


class PluginFailure(Exception):
    """A plugin's run failed (for MPI / torch: on some rank); carries the rank's message."""

    def __init__(self, message: str, rank: int | None = None):
        super().__init__(message if rank is None else f"rank {rank}: {message}")
        self.rank = rank


class RunTimeout(Exception):
    """A launched job ran past its wall-clock limit (the run's status becomes 'timeout')."""


def unknown(kind: str, name: str, known: Iterable[str]) -> UserError:
    """`unknown plugin 'sgd-serail' (did you mean: sgd-serial?)`."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f" (did you mean: {', '.join(close)}?)" if close else (f" (known: {', '.join(known)})" if len(known) <= 12 else "")
    return UserError(f"unknown {kind} '{name}'{hint}")
