import sympy as sp
from harness.theory.api import Applied, Condition, Constant, Paper, RunMap, Theorem, sym

P = Paper("A. Nobody", "Nothing", "Nowhere", 2026)
eta, L, F0, T, Q = sym("eta L F0 T Q")


def _t(id, **kw):
    base = dict(id=id, title="t", citation=P.cite("1", "(1)", "Thm 1"), statement="s",
                symbols={"eta": "step", "L": "L", "F0": "F0", "T": "T"}, assumptions=["a"],
                conditions=[Condition("eta L <= 1", sp.LessThan(eta * L, 1), "c")],
                bound=2 * F0 / (eta * T), rate=1 / T, horizon="T", horizon_doc="it",
                measured="running_mean_grad_norm_sq", measured_doc="m", families=("gd",), solutions={"eta": 1 / L},
                runmap=RunMap(inputs={"eta": Applied("eta"), "L": Constant("L"), "F0": Constant("f0_minus_fstar")},
                              theory={"eta": "eta"}))
    base.update(kw)
    return Theorem(**base)


THEOREMS = []
for name, kw in [
    ("unsat", dict(conditions=[Condition("eta L <= 1", sp.LessThan(eta * L, 1), "c"),
                               Condition("eta L >= 2", sp.GreaterThan(eta * L, 2), "c")])),
    ("wrongvar", dict(bound=2 * F0 / (eta * L))),                # no horizon in the bound
    ("growing", dict(bound=2 * F0 * T / eta)),                    # grows, declared 1/T
    ("badmap", dict(runmap=RunMap(inputs={"eta": Applied("eta"), "L": Constant("L")}, theory={"eta": "eta"}))),
    ("badconst", dict(runmap=RunMap(inputs={"eta": Applied("eta"), "L": Constant("nonexistent_const"),
                                             "F0": Constant("f0_minus_fstar")}, theory={"eta": "eta"}))),
    ("negbound", dict(bound=-2 * F0 / (eta * T))),
    ("undeclared", dict(bound=2 * F0 * Q / (eta * T))),
    ("html", dict(title="<script>alert(1)</script>", statement="<img src=x onerror=alert(2)>")),
    ("wrongsol", dict(solutions={"eta": 5 / L})),
    ("trivial", dict(conditions=[Condition("eta > 0", sp.StrictGreaterThan(eta, 0), "c")])),
]:
    try:
        THEOREMS.append(_t("liars." + name, **kw))
    except Exception as e:  # noqa
        print(f"[liars] constructing {name} raised {type(e).__name__}: {e}")

COLLIDE = [_t("minibatch.lem-1")]   # entry named like a built-in namespace

