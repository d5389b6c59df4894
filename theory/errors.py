"""The theory package's own errors (it depends on nothing of the harness; the harness turns them into
its one-line ``harness: error: ...``)."""

from __future__ import annotations


class TheoryError(ValueError):
    """A mistake in what was asked of the theory: an unknown theorem or symbol, a value outside a
    symbol's domain, a parameter no theorem can choose."""


class NotApplicable(Exception):
    """An adapter cannot map this run onto the theorem (the message names what is missing or wrong)."""
