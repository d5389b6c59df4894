"""The shipped plugin contract (harness/analysis/contract.py, what `harness check-plugin` runs) on every
registered plugin: each runs on a tiny instance of each workload kind it supports, returns a curve
with at least 5 points, respects its budget, reduces the objective, and is reproducible if it says so."""

import pytest

from conftest import needs_mpi, needs_torch
from harness.analysis.contract import check_plugin, failures
from harness._core.registry import plugins


def _cases():
    reg = plugins(refresh=True)
    cases = []
    for name in reg.names():
        spec = reg.items[name]
        for kind in spec.kinds:
            slow = spec.backend in ("mpi", "torch")
            marks = [pytest.mark.slow] if slow else []
            marks += [needs_torch] if "torch" in spec.needs else []
            marks += [needs_mpi] if "mpi4py" in spec.needs else []
            cases.append(pytest.param(name, kind, id=f"{name}-{kind}", marks=marks))
    return cases


@pytest.mark.parametrize("plugin, kind", _cases())
def test_plugin_contract(plugin, kind):
    findings = check_plugin(plugin, [kind])
    skipped = [f for f in findings if f.ok is None and f.check in ("loads", "runs")]
    if skipped:
        pytest.skip(f"{plugin}: {skipped[0].message}")
    bad = failures(findings)
    assert not bad, "\n".join(f"{f.check}: {f.message}" for f in bad)
    assert {f.check for f in findings} >= {"loads", "runs", "curve", "budget", "progress"}
