"""The trajectory audit (harness.run.trajectory) on mini-batches beyond its exact search (b > 4):
sparse recovery over the per-sample gradients finds the batch, the step and SVRG's inner loop of
honest runs; a b that no step on fewer atoms than dimensions can show is reported as not
identifiable, one beyond what the search resolves as such, never as a claim."""

from __future__ import annotations

import pytest

from harness._core.registry import build_workload
from harness.run.trajectory import audit

import trajectories  # noqa: E402 - tests/theory's shared trajectories

pytestmark = pytest.mark.slow      # a few audits of 1-3 s each on a loaded machine


def sgd(wl, eta, b, T=30, seed=0):
    return trajectories.sgd(wl, eta=eta, b=b, T=T, seed=seed)


def svrg(wl, eta, b, m, T=30, seed=0):
    return trajectories.svrg(wl, eta=eta, b=b, m=m, T=T, seed=seed)


@pytest.mark.parametrize("b, d", [(8, 100), (16, 200)])
def test_an_honest_mini_batch_step_is_recovered_with_its_step_and_batch(b, d):
    wl = build_workload("logreg", {"n": 2000, "d": d})
    a = audit(wl, *sgd(wl, 0.05, b), family="sgd", reported={"eta": 0.05, "b": b})
    assert a["status"] == "audited", a.get("reason")
    assert a["b"] == b and a["b_share"] == 1.0 and a["delay_max"] == 0
    assert a["step"] == pytest.approx(0.05, rel=1e-9) and a["step_max"] == pytest.approx(0.05, rel=1e-9)
    assert a["explained"] >= 0.8 * a["tried"] and a["tried"] >= 10


def test_a_batch_larger_than_the_reported_one_is_what_the_audit_reports():
    wl = build_workload("logreg", {"n": 2000, "d": 200})
    a = audit(wl, *sgd(wl, 0.05, 16, T=20), family="sgd", reported={"eta": 0.05, "b": 8})
    assert a["status"] == "audited" and a["b"] == 16 and a["step"] == pytest.approx(0.05, rel=1e-9)


def test_svrg_with_a_mini_batch_of_8_shows_its_batch_step_and_inner_loop():
    wl = build_workload("logreg", {"n": 2000, "d": 100})
    a = audit(wl, *svrg(wl, 0.02, 8, m=10), family="svrg", reported={"b": 8, "m": 10})
    assert a["status"] == "audited" and a["model"] == "svrg", a.get("reason")
    assert a["b"] == 8 and a["inner_max"] == 10 and a["step"] == pytest.approx(0.02, rel=1e-9)


def test_a_batch_of_at_least_the_dimension_is_not_identifiable_and_says_so():
    wl = build_workload("ridge", {"n": 200, "d": 10})
    a = audit(wl, *sgd(wl, 0.01, 12, T=12), family="sgd", reported={"b": 12})
    assert a["status"] == "unaudited"
    assert "b = 12 is not identifiable" in a["reason"] and "span only 10 dimensions" in a["reason"]


def test_a_batch_beyond_what_the_search_resolves_says_so_not_momentum():
    wl = build_workload("logreg", {"n": 2000, "d": 50})
    a = audit(wl, *sgd(wl, 0.05, 16, T=10), family="sgd", reported={"b": 16})
    assert a["status"] == "unaudited"
    assert "b = 16 is beyond what the sparse search resolves" in a["reason"] and "momentum" not in a["reason"]


def test_coordinate_wise_writes_are_named_where_the_run_reports_them():
    wl = build_workload("ridge", {"n": 200, "d": 10})
    ups, W = sgd(wl, 0.05, 1, T=20)
    coord = W.copy()
    for t in range(1, len(coord)):
        coord[t] = coord[t - 1]
        coord[t, t % wl.dim] = W[t, t % wl.dim]
    a = audit(wl, ups, coord, family="svrg", reported={"b": 1, "coords": 1})
    assert a["status"] == "unaudited" and "coordinate-wise writes (coords = 1" in a["reason"]


def test_the_work_budget_is_named_with_how_far_the_search_got():
    wl = build_workload("logreg", {"n": 2000, "d": 50})
    a = audit(wl, *sgd(wl, 0.05, 16, T=10), family="sgd", work=1.0, reported={"b": 16})
    assert a["status"] == "unaudited" and "the search spent its work budget (1 units" in a["reason"], a["reason"]
    assert a["reason"].startswith("no observed update was searched to the end") and "after 0 of the 10" in a["reason"]
