"""The one module a theorem author imports (``harness.theory.api``; the guide is docs/theorems.md).

A theorem is data, registered through the ``harness.theorems`` entry-point group (an entry names one
:class:`Theorem` or a list; the entry's name is the ids' namespace)::

    # mypkg/theorems.py              pyproject.toml: [project.entry-points."harness.theorems"]
    import sympy as sp                               #               mypkg = "mypkg.theorems:THEOREMS"
    from harness.theory.api import Applied, Condition, Constant, Paper, RunMap, Theorem, sym

    eta, L, F0, T = sym("eta L F0 T")                # positive symbols: the domain every symbol needs
    PAPER = Paper("Author One & Author Two", "Title", "Venue", 2024)
    THEOREMS = [Theorem(
        id="mypkg.thm-1", title="...", citation=PAPER.cite("Sec. 3", "(7)", "Theorem 1"),
        statement="If eta L <= 1, (1/T) sum_t ||grad f(x_t)||^2 <= 2 F0/(eta T).",
        symbols={"eta": "step size", "L": "smoothness", "F0": "f(x_0) - inf f", "T": "iterations"},
        conditions=[Condition("eta L <= 1", sp.LessThan(eta * L, 1))],
        bound=2 * F0 / (eta * T), rate=1 / T, measured="running_mean_grad_norm_sq",
        measured_doc="running mean of ||grad f(x_t)||^2", families=("gd",), solutions={"eta": 1 / L},
        runmap=RunMap(inputs={"eta": Applied("eta"), "L": Constant("L"), "F0": Constant("f0_minus_fstar")},
                      theory={"eta": "eta"}))]

The statement: :class:`Theorem` (symbols with meanings, domains from :func:`sym`, assumptions,
:class:`Condition` s gating or reported, the bound as a sympy expression in the horizon, what it
bounds (``measured``: a key of :data:`MEASURES`), its rate, the :class:`Citation` built by
:meth:`Paper.cite`, which runs it judges: ``families``). The run map: :class:`RunMap` with sources
:class:`Applied` (a parameter the plugin applied, reported by ``ctx.applied(...)``), :class:`Constant`
(a workload constant), :class:`Fact` (at the workload's optimum), :class:`Info` (measured by the
plugin), :class:`Delay`, :class:`Workers`, :class:`Computed` (code); :class:`Require` (conditions on
the run); ``theory`` (which plugin parameter ``=theory`` chooses). :func:`assert_theorem_passes` is
the pytest helper: every check of ``harness check-theorem``.
"""

from __future__ import annotations

from .errors import NotApplicable, TheoryError
from .measures import MEASURES
from .runmap import Applied, Computed, Constant, Delay, Extra, Fact, Info, Mapped, Require, RunMap, Workers
from .selfcheck import Check, check_theorem
from .statement import Citation, Condition, Paper, Recursion, Theorem, sym

__all__ = [
    # the statement
    "Theorem", "Condition", "Citation", "Paper", "Recursion", "sym", "MEASURES",
    # the run map
    "RunMap", "Applied", "Constant", "Fact", "Info", "Delay", "Workers", "Computed", "Require", "Extra", "Mapped",
    # errors and checks
    "NotApplicable", "TheoryError", "Check", "check_theorem", "assert_theorem_passes",
]


def assert_theorem_passes(theorem: Theorem) -> list[Check]:
    """Run every check of ``harness check-theorem`` on ``theorem``; raise ``AssertionError`` naming each
    failed check (for an author's own tests). Returns the checks."""
    checks = check_theorem(theorem)
    bad = [c for c in checks if c.ok is False]
    assert not bad, "; ".join(f"{c.theorem} {c.check}: {c.detail}" for c in bad)
    return checks
