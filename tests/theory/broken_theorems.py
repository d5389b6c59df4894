"""Planted broken theorems for `harness check-theorem` (tests/test_theorem_plugins.py registers each
through HARNESS_EXTRA_THEOREMS under its own namespace). Each is a copy of a good O(1/T) statement
with one thing wrong."""

import sympy as sp

from harness.theory.api import Applied, Condition, Constant, Paper, RunMap, Theorem, sym

PAPER = Paper("A. Author", "A Planted Paper", "Tests", 2026)
eta, L, F0, T = sym("eta L F0 T")
RUNMAP = RunMap(inputs={"eta": Applied("eta"), "L": Constant("L"), "F0": Constant("f0_minus_fstar")},
                theory={"eta": "eta"})
GOOD = dict(title="planted", citation=PAPER.cite("Sec. 1", "(1)", "Theorem 1"), statement="planted",
            symbols={"eta": "step", "L": "smoothness", "F0": "f(x_0) - inf f", "T": "iterations"},
            conditions=[Condition("eta L <= 1", sp.LessThan(eta * L, 1))], bound=2 * F0 / (eta * T), rate=1 / T,
            measured="running_mean_grad_norm_sq", measured_doc="running mean of ||grad f||^2", families=("gd",),
            solutions={"eta": 1 / L}, runmap=RUNMAP)


def planted(ns: str, **change) -> list[Theorem]:
    return [Theorem(id=f"{ns}.thm-1", **{**GOOD, **change})]


c = sp.Symbol("c")   # no domain, no meaning
UNDECLARED = planted("undeclared", bound=2 * F0 / (eta * T) + c)
UNSATISFIABLE = planted("unsatisfiable", conditions=[Condition("eta L <= 1", sp.LessThan(eta * L, 1)),
                                                     Condition("eta L >= 2", sp.GreaterThan(eta * L, 2))])
GROWS = planted("grows", bound=2 * F0 * T / eta)                      # grows with T, declared 1/T
BADSOLVE = planted("badsolve", solutions={"eta": 2 / L})               # the closed form lands outside eta L <= 1
NOMAP = planted("nomap", runmap=RunMap(inputs={"eta": Applied("eta"), "L": Constant("L")}, theory={"eta": "eta"}))
FLAT = planted("flat", bound=2 * F0 / (eta * L))                        # declared 1/T, no T in the bound
DOMAINTRUE = planted("domaintrue", conditions=[Condition("eta > 0", sp.StrictGreaterThan(eta, 0))])  # eta is positive
NOCONST = planted("noconst", runmap=RunMap(inputs={"eta": Applied("eta"), "L": Constant("no_such_constant"),
                                                   "F0": Constant("f0_minus_fstar")}, theory={"eta": "eta"}))
GOOD_ONE = planted("good")
NOT_A_THEOREM = ["not a theorem"]
