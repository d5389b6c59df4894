"""RunContext.applied: the theorems a plugin links are looked up only when a value needs them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT


def _ctx(tmp_path, expects):
    from harness._core.context import RunContext
    from harness._core.monitor import Monitor
    from harness._core.registry import build_workload, plugins

    return RunContext(plugin=plugins().items["sgd-serial"], workload=build_workload("logreg", {"n": 50, "d": 3}),
                      params={}, workers=1, seed=0, monitor=Monitor(lambda w: {}), workdir=tmp_path, expects=expects)


def test_the_theorems_are_looked_up_once_and_only_for_a_value_that_is_no_number(tmp_path):
    calls = []

    def lookup():
        calls.append(1)
        return ("eta", "b")

    ctx = _ctx(tmp_path, lookup)
    ctx.applied(eta=0.1, b=1, schedule="constant", t0=2000.0)   # numbers, and a string for a choice
    assert calls == []
    with pytest.raises(TypeError, match=r"ctx.applied\(eta='fast'\): parameter eta is a number \(float\)"):
        ctx.applied(eta="fast")
    assert ctx.applied(t0="one epoch")["t0"] == "one epoch"    # no theorem reads t0: recorded as given
    assert calls == [1] and ctx.child_spec()["expects"] == ["eta", "b"]


@pytest.mark.slow
def test_a_dense_run_loads_no_theorem_and_no_scipy_sparse(tmp_path):
    """`harness run ... --no-report` on a plugin that links theorems, on dense data: sympy and the
    theorems (a second or two at every start) and scipy.sparse (a third of a second) stay unloaded."""
    code = ("import sys, json; from harness.cli.app import main; "
            "rc = main(['run', '-p', 'sgd-serial', '-w', 'logreg', '--budget', 'updates=200', '--no-report', '-q', "
            "'--json']); print(json.dumps({'rc': rc, 'theory': 'harness.theory.registry' in sys.modules, "
            "'sympy': 'sympy' in sys.modules, 'sparse': 'scipy.sparse' in sys.modules}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"rc": 0, "theory": False, "sympy": False,
                                                                 "sparse": False}
