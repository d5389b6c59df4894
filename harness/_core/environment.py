"""The harness's numeric and switch environment variables, each with its domain, checked once before
any work (:func:`check`, called by ``harness`` at start-up) and read through :func:`number` / :func:`switch` / :func:`choice`.

A value outside its domain was taken silently before: ``HARNESS_THREADS_TX=off`` left the hardware
transactions on (only ``0`` turned them off), ``HARNESS_PROGRESS_EVERY=abc`` and ``HARNESS_POOL_MB=abc``
fell back to their defaults, ``HARNESS_PLANT=slowdown=-1`` stored negative times. Now each is one line
naming the variable and its domain, exit 2. (``HARNESS_CACHE``, ``HARNESS_STORE`` and
``HARNESS_MEMORY_LIMIT`` are paths and sizes, ``HARNESS_PLANT`` a test's planted change: checked by
their own readers, which ``harness`` also calls before any work.)
"""

from __future__ import annotations

import math
import os

from .errors import UserError

# name -> (lowest allowed value, whether it is excluded, what it sets)
NUMBERS = {
    "HARNESS_PROGRESS_EVERY": (0.1, False, "seconds between progress lines"),
    "HARNESS_POOL_MB": (0.0, False, "megabytes the shared-data pool may hold"),
    "HARNESS_DASK_CONNECT_S": (0.0, True, "seconds to wait for the dask scheduler"),
}
SWITCHES = {"HARNESS_THREADS_TX": "hardware transactions (x86 RTM) in the threads kernels' atomic writes of sparse "
                                  "rows, and of dense rows under HARNESS_THREADS_ATOMIC=tx (0: off, compare-and-swap)"}
# name -> (the allowed values, the first the default; what it sets)
CHOICES = {"HARNESS_THREADS_ATOMIC": (("lock", "tx", "cas"), "how the threads kernels write a dense row atomically: "
                                      "under a row lock, in hardware transactions, by compare-and-swap pairs")}


def _shown(name: str, text: str) -> str:
    """``NAME=value`` for an error message, the value quoted where it is not printable on one line
    (a newline in it made the one-line error two)."""
    return f"{name}={text}" if text.isprintable() else f"{name}={text!r}"


def number(name: str, default: float) -> float:
    """The variable ``name`` of :data:`NUMBERS` as a finite number in its domain; ``default`` when
    it is unset or empty. Raises :class:`UserError` naming the variable."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    low, open_low, what = NUMBERS[name]
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < low or (open_low and value == low):
        bound = f"> {low:g}" if open_low else f">= {low:g}"
        raise UserError(f"{_shown(name, text)}: expected a number {bound} ({what})")
    return value


def switch(name: str, default: bool = True) -> bool:
    """The variable ``name`` of :data:`SWITCHES`: ``1`` on, ``0`` off, ``default`` when unset."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if text not in ("0", "1"):
        raise UserError(f"{_shown(name, text)}: expected 0 or 1 ({SWITCHES[name]})")
    return text == "1"


def choice(name: str) -> str:
    """The variable ``name`` of :data:`CHOICES`: one of its values, the first when unset or empty."""
    text = os.environ.get(name, "").strip()
    values, what = CHOICES[name]
    if not text:
        return values[0]
    if text not in values:
        raise UserError(f"{_shown(name, text)}: expected one of {', '.join(values)} ({what})")
    return text


def computing() -> dict[str, str]:
    """The variables of :data:`SWITCHES` and :data:`CHOICES` (they change what a run computes: how the
    threads kernels write) set to other than their defaults, by name, for the run key
    (``options["env"]``): a rerun under another HARNESS_THREADS_ATOMIC was served the stored run of
    the default scheme. Unset or default values add nothing, so default runs keep their keys; the
    runner adds them to the keys of threads-backend runs only (nothing else reads them)."""
    out = {name: "0" for name in SWITCHES if not switch(name)}
    out.update({name: value for name in CHOICES if (value := choice(name)) != CHOICES[name][0][0]})
    return out


def described() -> list[tuple[str, str]]:
    """(name, what it sets and its domain) for every variable here, for ``harness --help``."""
    out = []
    for name, (low, open_low, what) in NUMBERS.items():
        out.append((name, f"{what} (a number {'>' if open_low else '>='} {low:g})"))
    out += [(name, f"{what}; 0 or 1, default 1") for name, what in SWITCHES.items()]
    out += [(name, f"{what}; one of {'|'.join(values)}, default {values[0]}") for name, (values, what) in CHOICES.items()]
    return out


def check() -> None:
    """Every variable of :data:`NUMBERS`, :data:`SWITCHES` and :data:`CHOICES` that is set, against its domain: the
    first one outside it is a UserError."""
    for name in NUMBERS:
        number(name, 0.0)
    for name in SWITCHES:
        switch(name)
    for name in CHOICES:
        choice(name)
