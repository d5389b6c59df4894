"""The trajectory audit (harness.run.trajectory): what each update did, inferred from consecutive
iterates, on trajectories built here with known steps, batches, staleness and inner loops; and what
the checker makes of it (harness.theory.audit): a figure beyond the reported one is violated, delays
it could not check leave a delay theorem at best 'holds (unverified)'."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from harness._core.monitor import Budget
from harness._core.registry import build_workload
from harness.run.trajectory import audit

import trajectories  # noqa: E402 - tests/theory's shared trajectories

WL = build_workload("ridge", {"n": 120, "d": 8})


def sgd(**kw):
    return trajectories.sgd(WL, **kw)


def svrg(**kw):
    return trajectories.svrg(WL, **kw)


def test_sgd_steps_batches_and_staleness_are_read_off_the_iterates():
    a = audit(WL, *sgd(eta=0.05, stale=lambda t: t % 4), family="asgd")
    assert a["status"] == "audited" and a["explained"] == a["observed"] == 100
    assert a["step"] == pytest.approx(0.05, rel=1e-9) and a["b"] == 1 and a["delay_max"] == 3
    assert a["delays"] == {"0": 25, "1": 25, "2": 25, "3": 25}
    three = audit(WL, *sgd(eta=0.3, b=3, T=40), family="sgd")
    assert three["b"] == 3 and three["b_share"] == 1.0 and three["step"] == pytest.approx(0.3, rel=1e-9)


def test_svrg_shows_its_snapshot_and_inner_loop():
    a = audit(WL, *svrg(m=10), family="svrg")
    assert a["status"] == "audited" and a["model"] == "svrg"
    assert a["inner_max"] == 10 and a["step"] == pytest.approx(0.02, rel=1e-9)
    longer = audit(WL, *svrg(m=60), family="svrg")
    assert longer["inner_max"] == 60


def test_updates_of_another_form_are_not_audited_saying_so():
    ups, W = sgd(T=60)
    V = np.zeros(WL.dim)                                      # heavy ball on the same gradients
    H = [np.zeros(WL.dim)]
    rng = np.random.default_rng(0)
    for _ in range(60):
        V = 0.9 * V - 0.05 * WL.batch_gradient(H[-1], rng.integers(0, WL.n, size=1))
        H.append(H[-1] + V)
    a = audit(WL, ups, np.array(H), family="heavy_ball")
    assert a["status"] == "unaudited" and "another form" in a["reason"]
    coord = W.copy()                                          # single-coordinate writes
    for t in range(1, len(coord)):
        coord[t] = coord[t - 1]
        coord[t, t % WL.dim] = W[t, t % WL.dim]
    assert audit(WL, ups, coord, family="sgd")["status"] == "unaudited"
    assert "no update was observed on its own" in audit(WL, ups[::2], W[::2], family="sgd")["reason"]


def _facts(audit_figures, **applied):
    from harness.theory.facts import RunFacts

    return RunFacts(plugin="p", family="asgd", backend="sim", workload="ridge", workers=4, seed=0, status="budget",
                    params=dict(applied), constants={}, applied=dict(applied), info={"audit": audit_figures},
                    tau_max=3.0, points=({"updates": 0, "tau_max": 3.0},))


def test_each_contradiction_names_the_inferred_and_the_reported_figure():
    from harness.theory.audit import trajectory_findings

    base = audit(WL, *sgd(eta=0.05, stale=lambda t: t % 4), family="asgd")
    assert trajectory_findings(_facts(base, eta=0.05, b=1)) == ([], None)
    lies, _ = trajectory_findings(_facts(base, eta=0.05 / 3, b=1))
    assert lies == ["applied step 0.05 inferred from the iterates vs eta = 0.0166667 reported"]
    stale = audit(WL, *sgd(eta=0.05, stale=lambda t: 23), family="asgd")
    lies, _ = trajectory_findings(_facts(stale, eta=0.05, b=1))
    assert len(lies) == 1 and lies[0].startswith("reads up to 23 updates old") and "largest delay of 3 reported" in lies[0]
    lies, _ = trajectory_findings(_facts(base, eta=0.05, b=4))
    assert lies == ["a mini-batch of 1 inferred from the iterates vs b = 4 reported"]
    lies, why = trajectory_findings(_facts({"status": "unaudited", "reason": "launched"}, eta=0.05, b=1))
    assert lies == [] and why == "launched"


def test_a_delay_theorem_is_unverified_where_the_delays_could_not_be_audited(store):
    """The same honest runs: audited, Lemma 1 and Theorem 4 hold; with the audit's figures gone
    (as for an MPI run), Theorem 4, which reads the measured delay, is 'holds (unverified)' and
    flagged, while Lemma 1 (no delay) keeps its 'holds' and says its step is self-reported."""
    from harness.run.checking import check
    from harness.run.runner import RunSpec, execute

    recs = [execute(RunSpec("sgd-serial", "ridge", {"eta": 0.05, "b": 1}, {"n": 200, "d": 10}, seed=s,
                            budget=Budget(updates=1000)), store) for s in (0, 1)]
    assert all(r.info["audit"]["status"] == "audited" for r in recs), recs[0].info["audit"]
    ids = ["minibatch.lem-1", "minibatch.thm-4"]
    out = {v.theorem: v for v in check(recs, ids)}
    assert [out[t].verdict for t in ids] == ["holds", "holds"], [out[t].reason for t in ids]
    blind = [replace(r, info={**r.info, "audit": {"status": "unaudited", "reason": "ran on other processes"}})
             for r in recs]
    out = {v.theorem: v for v in check(blind, ids)}
    assert out["minibatch.thm-4"].verdict == "holds (unverified)", out["minibatch.thm-4"].reason
    assert "unaudited: step, mini-batch, delays self-reported (ran on other processes)" in out["minibatch.thm-4"].flags
    assert "delays the run reports" in out["minibatch.thm-4"].reason
    assert out["minibatch.lem-1"].verdict == "holds"
    assert "unaudited: step, mini-batch self-reported (ran on other processes)" in out["minibatch.lem-1"].flags


def test_a_step_schedule_is_judged_on_every_window_a_decaying_one_is_clean():
    """A schedule bug that starts late (honest on the first 128 observed updates, 1.5x the reported
    step in one later window of 64) is caught although the median step is the reported one; an
    honest step decay (every step at most the reported initial eta) is clean."""
    from harness.theory.audit import trajectory_findings

    rng = np.random.default_rng(0)
    W = [np.zeros(WL.dim)]
    for t in range(192):
        W.append(W[-1] - (0.075 if t >= 128 else 0.05) * WL.batch_gradient(W[-1], rng.integers(0, WL.n, size=1)))
    late = audit(WL, np.arange(193), np.array(W), family="sgd")
    assert late["status"] == "audited" and late["step"] == pytest.approx(0.05, rel=1e-9)
    lies, _ = trajectory_findings(_facts(late, eta=0.05, b=1))
    assert len(lies) == 1 and lies[0].startswith("applied step 0.075 ") and lies[0].endswith("vs eta = 0.05 reported")
    W = [np.zeros(WL.dim)]
    for t in range(192):
        W.append(W[-1] - 0.05 * 0.5 ** (t // 64) * WL.batch_gradient(W[-1], rng.integers(0, WL.n, size=1)))
    decayed = audit(WL, np.arange(193), np.array(W), family="sgd")
    assert decayed["status"] == "audited" and trajectory_findings(_facts(decayed, eta=0.05, b=1)) == ([], None)


def test_a_batch_beyond_the_search_is_named_as_the_reason_not_another_form():
    """Plain SGD with b = 5 at n = 800 (above the n at which b = 3, 4 are searched exactly, and above the
    b = 3, 4 that anchors find) is not audited, and the reason says so (the reported b is beyond the
    search) instead of suggesting momentum, dual or coordinate-wise updates, which a newcomer reading an
    honest SGD's verdict would take for an accusation."""
    from harness.theory.audit import trajectory_findings

    big = build_workload("ridge", {"n": 800, "d": 8})
    rng = np.random.default_rng(0)
    W = [np.zeros(big.dim)]
    for _ in range(40):
        W.append(W[-1] - 0.05 * big.batch_gradient(W[-1], rng.integers(0, big.n, size=5)))
    a = audit(big, np.arange(41), np.array(W), family="sgd", reported={"b": 5})
    assert a["status"] == "unaudited" and a["b_searched"] == 2     # d = 8: sparse recovery resolves b up to 8 / 8
    assert "b = 5 is beyond what the sparse search resolves" in a["reason"] and "momentum" not in a["reason"], a["reason"]
    assert a["b_not_searched"].startswith("b = 3, 4 not searched exactly at n = 800"), a["b_not_searched"]
    assert "with b - 1 of the batch among the 128 (b = 3) or 64 (b = 4) samples" in a["b_not_searched"]
    lies, why = trajectory_findings(_facts(a, eta=0.05, b=5))
    assert lies == [] and why.startswith("b = 5 reported, above the mini-batches the audit searches at this n (b <= 2"), why


def test_the_seeds_reasons_for_an_unaudited_run_are_said_once_per_form():
    """Three seeds unaudited for the same reason with different counts (the newcomer's gradient-descent
    plugin: the flag said it three times): one reason, the first seed's figures; two forms: each names
    its seeds."""
    from harness.theory.audit import _grouped

    same = [(s, f"none of the {30 + s} observed updates tried is a gradient step: the search spent its work "
                f"budget (4e+08 units) after {9 + s} of the {30 + s} observed updates") for s in (0, 1, 2)]
    assert _grouped(same) == [same[0][1]]
    mixed = same[:2] + [(2, "ran on other processes")]
    assert _grouped(mixed) == [same[0][1] + " (seeds 0, 1)", "ran on other processes (seed 2)"]


def test_gradient_descent_is_read_off_the_iterates_as_full_batch_steps():
    """Gradient descent (the docs' example plugin: w -= eta grad f(w)) is the SGD form with b = n, every
    sample once: each step explained, the step and b = n read off the iterates, so a GD plugin that
    applies 3x the eta it reports is caught (a newcomer's run said 'none of the observed updates is a
    gradient step' and check-plugin took them for SVRG steps reading their snapshot)."""
    from types import SimpleNamespace

    from harness.theory.audit import trajectory_findings

    W = [np.zeros(WL.dim)]
    for _ in range(60):
        W.append(W[-1] - 0.15 * WL.gradient(W[-1]))
    a = audit(WL, np.arange(61), np.array(W), family="gd")
    assert a["status"] == "audited" and a["model"] == "sgd" and a["explained"] == a["observed"] == 60, a
    assert a["step"] == pytest.approx(0.15, rel=1e-9) and a["b"] == WL.n and a["delay_max"] == 0
    run = SimpleNamespace(info={"audit": a}, family="gd", seed=0, constants={"n": WL.n},
                          param=lambda k, default=None: {"eta": 0.05}.get(k, default))
    lies, why = trajectory_findings(run, reads=("eta", "b"), delay=False)
    assert why is None and lies == ["applied step 0.15 inferred from the iterates vs eta = 0.05 reported"]
    honest = SimpleNamespace(**{**vars(run), "param": lambda k, default=None: {"eta": 0.15}.get(k, default)})
    assert trajectory_findings(honest, reads=("eta", "b"), delay=False) == ([], None)   # b = n is GD's batch
    sgd_run = audit(WL, *sgd(eta=0.05, T=40), family="sgd")     # b = 1 SGD is still b = 1
    assert sgd_run["b"] == 1 and sgd_run["explained"] == 40


def test_a_gd_plugin_whose_steps_are_mini_batches_is_caught():
    """Gradient descent touches every sample once (b = n, no draw): a gd plugin whose every step is a
    mini-batch of 2 is contradicted (the with-replacement allowance for smaller batches is SGD's, and at
    b = n it excused everything), while an honest one stands."""
    from types import SimpleNamespace

    from harness.theory.audit import trajectory_findings

    def gd_run(a):
        return SimpleNamespace(info={"audit": a}, family="gd", seed=0, constants={"n": WL.n},
                               param=lambda k, default=None: {"eta": 0.1}.get(k, default))

    a = audit(WL, *sgd(eta=0.1, b=2, T=40), family="gd", reported={"eta": 0.1})
    assert a["status"] == "audited" and a["b"] == 2 and a["b_share"] == 1.0, a
    lies, why = trajectory_findings(gd_run(a), reads=("eta", "b"), delay=False)
    assert why is None and lies == [f"a mini-batch of 2 inferred from the iterates vs b = {WL.n} reported"], lies
    W = [np.zeros(WL.dim)]
    for _ in range(40):
        W.append(W[-1] - 0.1 * WL.gradient(W[-1]))
    assert trajectory_findings(gd_run(audit(WL, np.arange(41), np.array(W), family="gd")),
                               reads=("eta", "b"), delay=False) == ([], None)


def test_a_step_both_b_1_and_gradient_descent_explain_is_read_as_the_b_reported():
    """Where every sample's gradient is the full gradient (a data set of one row repeated), an SGD
    step of one sample is also a gradient-descent step: the iterates cannot tell them apart, so the
    b = 1 the plugin reports stands (gradient descent tried first read it as b = n and the checker
    called an honest b = 1 plugin a liar)."""
    from types import SimpleNamespace

    from harness.theory.audit import trajectory_findings

    class Repeated:               # ridge on one row repeated n times
        n, dim, lam = 6, 5, 1e-3
        x = np.random.default_rng(1).standard_normal(5)

        def per_sample_gradients(self, w):
            return np.tile((self.x @ w - 1.0) * self.x + self.lam * w, (self.n, 1))

        def batch_gradient(self, w, idx):
            return self.per_sample_gradients(w)[idx].mean(axis=0)

    wl = Repeated()
    a = audit(wl, *trajectories.sgd(wl, eta=0.05, T=40), family="sgd", reported={"eta": 0.05, "b": 1})
    assert a["status"] == "audited" and a["b"] == 1 and a["b_share"] == 1.0 and a["step"] <= 0.05, a   # the least step any read allows
    run = SimpleNamespace(info={"audit": a}, family="sgd", seed=0, constants={"n": wl.n},
                          param=lambda k, default=None: {"eta": 0.05, "b": 1}.get(k, default))
    assert trajectory_findings(run, reads=("eta", "b"), delay=False) == ([], None)
    # a plugin that reports b = 1 and takes full-gradient steps is still read as gradient descent
    W = [np.zeros(WL.dim)]
    for _ in range(40):
        W.append(W[-1] - 0.1 * WL.gradient(W[-1]))
    liar = audit(WL, np.arange(41), np.array(W), family="sgd", reported={"eta": 0.1, "b": 1})
    assert liar["b"] == WL.n and liar["explained"] == 40 and liar["step"] == pytest.approx(0.1, rel=1e-9), liar


def test_an_honest_gd_plugin_on_a_workload_that_names_no_constants_stands():
    """A user's finite-sum workload need not list its constants (the base class gives none): the
    gradient-descent plugin's reported batch is still all n samples, the n the audit read its
    per-sample gradients at (it was taken for b = 1, and the GD steps for a lie)."""
    from types import SimpleNamespace

    from harness.theory.audit import trajectory_findings

    W = [np.zeros(WL.dim)]
    for _ in range(40):
        W.append(W[-1] - 0.1 * WL.gradient(W[-1]))
    a = audit(WL, np.arange(41), np.array(W), family="gd")
    assert a["b"] == a["n"] == WL.n, a
    run = SimpleNamespace(info={"audit": a}, family="gd", seed=0, constants={},
                          param=lambda k, default=None: {"eta": 0.1}.get(k, default))
    assert trajectory_findings(run, reads=("eta", "b"), delay=False) == ([], None)


@pytest.mark.parametrize("b", [float("inf"), float("nan"), -3, 2.5, True, "2", 10**12])
def test_a_reported_b_that_is_no_batch_size_is_no_hint(b):
    """What a plugin reports as b is a hint to the search, never trusted: one that is no batch size
    (infinite, negative, fractional, a flag, text, far beyond n) leaves the audit reading the run's
    own b (an infinite one failed the audit: 'cannot convert float infinity to integer')."""
    a = audit(WL, *sgd(eta=0.05, b=2, T=30), family="sgd", reported={"b": b})
    assert a["status"] == "audited" and a["b"] == 2 and a["explained"] == 30, a


def test_data_rows_along_one_vector_leave_the_step_unknown_and_say_so():
    """Ridge on rows that are multiples of one vector (x_i = a_i x): every per-sample gradient at the
    iterates (which stay on that line from w = 0) is parallel to x, of a size that varies with i, so
    any update along x is a step of some sample with some step size. The audit reported one of them
    as the step (here 'audited', a step it cannot know); it now says why it cannot tell. One row
    repeated (every gradient the same) still gives the step (the test above)."""

    class Line:                   # ridge on n multiples of one row
        n, dim, lam = 30, 5, 1e-3
        rng = np.random.default_rng(2)
        x, a, y = rng.standard_normal(5), rng.uniform(0.5, 2.0, 30), rng.standard_normal(30)

        def per_sample_gradients(self, w):
            X = self.a[:, None] * self.x
            return (X @ w - self.y)[:, None] * X + self.lam * w

        def batch_gradient(self, w, idx):
            return self.per_sample_gradients(w)[idx].mean(axis=0)

    wl = Line()
    a = audit(wl, *trajectories.sgd(wl, eta=0.05, T=40), family="sgd", reported={"eta": 0.05, "b": 1})
    assert a["status"] == "unaudited" and "all parallel" in a["reason"] and "neither the step" in a["reason"], a
    assert "step" not in a


@pytest.mark.parametrize("b", [3, 4])
def test_batches_of_3_and_4_beyond_the_pair_sums_are_found_by_anchors_where_matching_pursuit_misses(b, monkeypatch):
    """n = 800 (more than 706: the sums of all pairs are not sorted) and d = 20: matching pursuit
    resolves b up to about rank / 8, and misses b = 3, 4 here (the run came out unaudited on its first 8
    updates); b - 1 anchors among the rows most anti-aligned with the step, the last row looked up
    among all n, explain nearly every update with its batch, and a random step still is none."""
    import harness.run.trajectory as T

    wl = build_workload("logreg", {"n": 800, "d": 20, "cond": 10.0, "lam": 1e-2})
    rng = np.random.default_rng(0)
    W, batches = [np.zeros(wl.dim)], []
    for _ in range(64):
        batches.append(np.sort(rng.integers(0, wl.n, b)))
        W.append(W[-1] - 0.05 * wl.batch_gradient(W[-1], batches[-1]))
    found = audit(wl, np.arange(65), np.array(W), family="sgd", reported={"b": b})
    assert found["status"] == "audited" and found["explained"] >= 58 and found["batches"] == {str(b): found["explained"]}
    assert found["step_min"] == pytest.approx(0.05, rel=1e-6) and found["delays"] == {"0": found["explained"]}
    monkeypatch.setattr(T, "_anchored", lambda *a, **k: None)
    assert audit(wl, np.arange(65), np.array(W), family="sgd", reported={"b": b})["status"] == "unaudited"
    monkeypatch.undo()
    W[40] = W[39] + np.linalg.norm(W[40] - W[39]) * rng.standard_normal(wl.dim) / np.sqrt(wl.dim)   # a random step
    lied = audit(wl, np.arange(41), np.array(W[:41]), family="sgd", reported={"b": b})
    assert lied["unexplained"] >= 1 and lied["explained"] <= 39, lied


@pytest.mark.parametrize("b", [3, 4])
def test_a_random_step_is_no_anchored_batch_at_or_above_the_rank(b):
    """n = 800, d = 2: the anchored search's L^(b-1) n sums each fall within TOL of a random direction
    with a probability of about TOL / pi, so a plugin honest on 5 updates and stepping at random after them
    had most of its random steps explained as batches of 3 or 4 and came out audited (b = 3: 20 of 40).
    A batch of at least the rank is not identifiable: the anchors are not searched for it."""
    wl = build_workload("logreg", {"n": 800, "d": 2, "cond": 10.0, "lam": 1e-2})
    rng = np.random.default_rng(0)
    W = [np.zeros(wl.dim)]
    for t in range(40):
        g = wl.batch_gradient(W[-1], rng.integers(0, wl.n, size=b))
        if t >= 5:
            v = rng.standard_normal(wl.dim)
            g = v / np.linalg.norm(v) * np.linalg.norm(g)
        W.append(W[-1] - 0.05 * g)
    a = audit(wl, np.arange(41), np.array(W), family="sgd", reported={"b": b}, run_updates=40)
    assert a["status"] == "unaudited" and a["unexplained"] > a["explained"], a
    assert f"b = {b} is not identifiable" in a["reason"], a["reason"]


def _written_l2_run(written: bool, T: int = 64, b: int = 2, eta: float = 0.05, seed: int = 0):
    """Asynchronous SGD on ridge (delays 0-3) whose l2 term is at the read (the papers' grad f_i(w_hat)) or,
    ``written``, at the iterate the update writes: w_{t+1} = w_t - eta ((1/b) sum phi'_i(w_hat) x_i + lam w_t)."""
    wl = build_workload("ridge", {"n": 120, "d": 8})
    rng = np.random.default_rng(seed)
    stale = rng.integers(0, 4, size=T)
    W = [np.zeros(wl.dim)]
    for t in range(T):
        r = max(t - int(stale[t]), 0)
        g = wl.batch_gradient(W[r], rng.integers(0, wl.n, size=b))
        W.append(W[t] - eta * (g + (wl.lam * (W[t] - W[r]) if written else 0.0)))
    return wl, np.arange(T + 1), np.array(W), stale


def test_the_l2_term_at_the_written_iterate_is_a_gradient_step_of_its_own_form(monkeypatch):
    """A shared-memory read-modify-write applies the l2 term to the iterate it writes (this harness's threads
    and simulator kernels do): its stale updates are no step of the papers' form grad f_i(w_hat), whose l2
    term is at the read. Both forms explain every update with the delays drawn; the written form says how
    many stale updates it explained (none of the papers' form), and with it switched off the written run's
    stale updates are misses (the tour's asysvrg-sim, tau = 4, was unaudited on 5 of 11)."""
    import harness.run.trajectory as T

    for written in (False, True):
        wl, ups, W, stale = _written_l2_run(written)
        a = audit(wl, ups, W, family="asgd", reported={"b": 2})
        drawn = {str(k): int(v) for k, v in zip(*np.unique(np.minimum(stale, np.arange(64)), return_counts=True))}
        assert a["status"] == "audited" and a["explained"] == a["tried"] == 64 and a["delays"] == drawn, a
        assert a.get("l2_written") == (sum(v for k, v in drawn.items() if k != "0") if written else None), a
    monkeypatch.setattr(T, "WRITTEN_TRIES", 0)
    off = audit(wl, ups, W, family="asgd", reported={"b": 2})
    assert off["explained"] < off["tried"] and "l2_written" not in off, off


def test_the_simulators_stale_svrg_updates_are_audited_through_the_runner(store):
    """asysvrg-sim with a fixed delay tau = 4 (its l2 term at the written iterate, as its kernels'
    read-modify-write): audited, the delay 4 found on the stale updates, nearly all explained in the written form
    (where w_t - w_hat is tiny the two forms agree within the tolerance)."""
    from harness.run.runner import RunSpec, execute

    spec = RunSpec("asysvrg-sim", "logreg", {"eta": 0.05, "b": 1, "tau": 4, "delay": "fixed"},
                   {"n": 300, "d": 10, "lam": 1e-2}, seed=0, budget=Budget(epochs=2))
    a = execute(spec, store=store).info["audit"]
    assert a["status"] == "audited" and a["delays"].get("4", 0) >= 100 and a["l2_written"] >= 0.9 * a["delays"]["4"], a
