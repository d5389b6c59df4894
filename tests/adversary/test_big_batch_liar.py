"""A plugin that reports a mini-batch of 8 while it runs 16 (and reports the samples 8 implies, so
the run's own accounting agrees with the lie) is caught by the trajectory audit's sparse search
through the real runner and checker: 'violated', naming both figures; its honest twin is not.
Written against ``harness.api`` only, as an outside plugin would be."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.api import Budget, Param, PluginSpec
from harness._core.registry import plugins
from harness.run.runner import RunSpec, execute

sys.path.insert(0, str(Path(__file__).parent / "liars"))
from liars.algo import _sgd_loop  # noqa: E402 - the liars' serial SGD loop (reports eta and b)

pytestmark = pytest.mark.slow

WL = {"n": 2000, "d": 200}    # b = 16 is within what the sparse search resolves at d = 200 (rank / 8)


def twice_the_batch(ctx):
    """Reports b (and the samples b implies), runs 2 b."""
    _sgd_loop(ctx, lambda t, k: 1.0, batch=lambda t: 2 * ctx.params["b"])


def honest_batch(ctx):
    _sgd_loop(ctx, lambda t, k: 1.0)


E, B = Param("eta", 0.01, "float", low=0.0, open_low=True, theory=True), Param("b", 1, "int", low=1)
LIAR = PluginSpec("adv-twice-b", "sgd", "serial", "test_big_batch_liar:twice_the_batch", params=(E, B),
                  theorems=("minibatch.lem-1",), deterministic=True)
HONEST = PluginSpec("adv-honest-b", "sgd", "serial", "test_big_batch_liar:honest_batch", params=(E, B),
                    theorems=("minibatch.lem-1",), deterministic=True)


@pytest.fixture(autouse=True)
def _room(monkeypatch):
    """The search's work budget follows the run's length (3000 updates: its floor, ~0.2 s of work); a b = 16 update
    costs the sparse search 10-30 ms, so few updates are searched. The subject here is what the search
    finds, not how much of the run it affords: room is given (the same at any load)."""
    from harness.run import trajectory

    monkeypatch.setattr(trajectory, "WORK_FLOOR", 5e9)


@pytest.mark.parametrize("spec", [LIAR, HONEST], ids=lambda s: s.name)
def test_a_plugin_running_twice_the_mini_batch_it_reports_is_violated(spec, store, monkeypatch):
    from harness.run.checking import check

    monkeypatch.setitem(plugins().items, spec.name, spec)
    recs = [execute(RunSpec(spec.name, "ridge", {"eta": 0.01, "b": 8}, WL, seed=s, budget=Budget(updates=3000)), store)
            for s in (0, 1)]
    assert all(r.status in ("done", "budget") for r in recs), [r.reason for r in recs]
    audits = [r.info["audit"] for r in recs]
    assert all(a["status"] == "audited" for a in audits), audits
    (v,) = [x for x in check(recs) if x.theorem == "minibatch.lem-1"]
    if spec is LIAR:
        assert [a["b"] for a in audits] == [16, 16]
        assert v.verdict == "violated", (v.verdict, v.reason)
        assert "a mini-batch of 16 inferred from the iterates vs b = 8 reported" in v.reason
    else:
        assert [a["b"] for a in audits] == [8, 8]
        assert v.verdict != "violated" and not any(f.startswith("trajectory") for f in v.flags), (v.verdict, v.flags)
