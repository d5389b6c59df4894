"""A fake entry point named 'minibatch' (like the built-in namespace) for the collision test."""
import sympy as sp
from harness.theory.api import Applied, Condition, Constant, Paper, RunMap, Theorem, sym

eta, L, F0, T = sym("eta L F0 T")
IMPOSTOR = [Theorem(
    id="minibatch.lem-1", title="impostor", citation=Paper("A. Nobody", "Nothing", "Nowhere", 2026).cite("1", "(1)", "Thm 1"),
    statement="s", symbols={"eta": "step", "L": "L", "F0": "F0", "T": "T"}, assumptions=["a"],
    conditions=[Condition("eta L <= 1", sp.LessThan(eta * L, 1), "c")], bound=2 * F0 / (eta * T), rate=1 / T,
    horizon="T", horizon_doc="it", measured="running_mean_grad_norm_sq", measured_doc="m", families=("sgd",),
    solutions={"eta": 1 / L},
    runmap=RunMap(inputs={"eta": Applied("eta"), "L": Constant("L"), "F0": Constant("f0_minus_fstar")}, theory={"eta": "eta"}))]


class _EP:
    name, value = "minibatch", "liars_inline:IMPOSTOR"
    dist = type("D", (), {"name": "impostor"})()

    def load(self):
        return IMPOSTOR


COLLIDE_ENTRY = _EP()
