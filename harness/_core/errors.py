"""Errors a user can cause. The CLI prints them as one line and exits 2, never with a traceback."""

from __future__ import annotations

import contextlib
import difflib
from typing import Iterable, Iterator


class UserError(Exception):
    """A mistake in what the user asked for: unknown name, bad value, malformed file."""


DISTRIBUTION = "asyncopt-harness"  # the name on the package index (``harness`` there is another project)


def install_hint(extra: str) -> str:
    """The command that installs an extra of this package: ``pip install 'asyncopt-harness[torch]'``."""
    return f"pip install '{DISTRIBUTION}[{extra}]'"


class MissingDependency(UserError):
    """An optional dependency is not installed; the message names the extra that provides it."""

    def __init__(self, what: str, extra: str):
        super().__init__(f"{what} is not installed: {install_hint(extra)}")
        self.extra = extra


class PluginFailure(Exception):
    """A plugin's run failed (for MPI / torch: on some rank); carries the rank's message."""

    def __init__(self, message: str, rank: int | None = None):
        super().__init__(message if rank is None else f"rank {rank}: {message}")
        self.rank = rank


class RunTimeout(Exception):
    """A launched job ran past its wall-clock limit (the run's status becomes 'timeout')."""


CLOSE_CUTOFF = 0.6  # difflib's similarity ratio a suggestion needs: below it 'nosuch' matched 'dni-torch'


def close_matches(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    """The known names worth suggesting for a mistyped ``name`` (at most ``n``), case-insensitively:
    the name in other letter case alone; else those that contain it (``asysvrg-thread`` ->
    ``asysvrg-threads``; for a ``name`` of 3+ characters), where it starts earliest and shortest
    first, then those difflib rates at least ``CLOSE_CUTOFF`` similar (``sgd-serail`` ->
    ``sgd-serial``), most similar first. Unrelated names are never suggested: often none is. Every
    "unknown X" message (:func:`unknown`, the theory's unknown theorem) suggests through this."""
    known = sorted(set(known))
    low = {k.lower(): k for k in known}
    typed = name.strip().lower()
    if typed in low:  # the name in other letter case
        return [low[typed]]
    within = sorted((k for k in known if len(typed) >= 3 and typed in k.lower()),
                    key=lambda k: (k.lower().index(typed), len(k), k))
    similar = [low[k] for k in difflib.get_close_matches(typed, list(low), n=n, cutoff=CLOSE_CUTOFF)]
    return list(dict.fromkeys(within + similar))[:n]


def unknown(kind: str, name: str, known: Iterable[str], *, of: str = "", see: str = "") -> UserError:
    """`unknown plugin 'sgd-serail' (did you mean: sgd-serial?; see: harness list plugins)`:
    ``of`` names the owner after the name (`unknown parameter 'etaa' of plugin sgd-serial`),
    ``see`` the command that lists what is known."""
    known = sorted(known)
    close = close_matches(name, known)
    hints = [f"did you mean: {', '.join(close)}?"] if close else ([f"known: {', '.join(known)}"] if len(known) <= 16 else [])
    hints += [f"see: {see}"] if see else []
    hint = f" ({'; '.join(hints)})" if hints else ""
    return UserError(f"unknown {kind} '{name}'{f' of {of}' if of else ''}{hint}")


@contextlib.contextmanager
def located(where: str | None) -> Iterator[None]:
    """Prefix every :class:`UserError` raised inside with ``where: `` (e.g. ``s.toml: [[run]] #2``):
    the one place a suite entry's mistakes get its location, whichever check raised them. The
    exception keeps its type (a :class:`MissingDependency` still names its extra); ``None``: no prefix."""
    try:
        yield
    except UserError as exc:
        if where:
            exc.args = (f"{where}: {exc}",)
        raise
