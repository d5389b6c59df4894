"""B_t drawn a block ahead (``plugins/algorithms/draws.py``) is the stream a per-chunk draw gives, so
the serial plugins' curves did not move when they started drawing ahead."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness._core.monitor import Budget
from harness.plugins.algorithms import draws as D
from harness.plugins.algorithms.draws import IndexDraws
from harness.run.runner import RunSpec, execute

WP = dict(n=500, d=20, cond=10.0, lam=1e-2)


@settings(max_examples=60, deadline=None)
@given(n=st.sampled_from([1, 2, 7, 500, 20000, 2**31 - 1, 2**31 + 5, 2**40]),
       sizes=st.lists(st.integers(0, 3000), min_size=1, max_size=12), seed=st.integers(0, 2**32 - 1),
       block=st.sampled_from([1, 5, 64, D.BLOCK]))
def test_drawn_ahead_is_the_per_chunk_stream(n, sizes, seed, block):
    """numpy's integers(0, n) splits: one call of the total or calls of the parts give the same indices
    (what the block-ahead draw relies on; a numpy that buffers between calls fails here)."""
    ahead = IndexDraws(np.random.default_rng(seed), n, block=block)
    per_chunk = np.random.default_rng(seed)
    for k in sizes:
        got = ahead.take(k)
        assert got.dtype == np.int64 and got.shape == (k,) and got.flags.c_contiguous
        np.testing.assert_array_equal(got, per_chunk.integers(0, n, size=k))


def test_no_index_to_draw_is_refused():
    with pytest.raises(ValueError, match="no index"):
        IndexDraws(np.random.default_rng(0), 0)
    with pytest.raises(ValueError, match="block must be >= 1"):
        IndexDraws(np.random.default_rng(0), 5, block=0)
    with pytest.raises(ValueError, match="cannot take -1"):
        IndexDraws(np.random.default_rng(0), 5).take(-1)


def test_refills_reuse_one_buffer_that_grows_only_for_a_longer_chunk():
    """The indices are views of one kept buffer: refills within its size write over it (no fresh array), a
    chunk longer than it grows it once, and the stream stays numpy's."""
    draws, plain = IndexDraws(np.random.default_rng(1), 97, block=64), np.random.default_rng(1)
    got = None
    for k in (50, 30):                             # one block, then what is left and one more: 128 slots
        got = draws.take(k)
        np.testing.assert_array_equal(got, plain.integers(0, 97, size=k))
    kept = got.base
    for k in (10, 30, 64, 0, 63, 64, 1, 64):       # never more than 63 left + one block: within 128 slots
        got = draws.take(k)
        assert got.base is kept
        np.testing.assert_array_equal(got, plain.integers(0, 97, size=k))
    big = draws.take(1000)                         # outgrows it: one larger buffer, kept from then on
    np.testing.assert_array_equal(big, plain.integers(0, 97, size=1000))
    assert big.base is not kept and draws.take(5).base is big.base


class _PerChunk:
    """The draw the serial plugins made before: one generator call per chunk."""

    def __init__(self, rng, n, block=0):
        self.rng, self.n = rng, n

    def take(self, k):
        return self.rng.integers(0, self.n, size=k)


@pytest.mark.parametrize("plugin,params", [("sgd-serial", {"eta": 0.05, "b": 2}),
                                           ("svrg-serial", {"eta": 0.02, "b": 3, "warm_epochs": 1})])
def test_serial_curves_are_those_of_the_per_chunk_draw(plugin, params, monkeypatch):
    spec = RunSpec(plugin, "logreg", params, WP, seed=5, budget=Budget(epochs=6))
    ahead = execute(spec)
    import harness.plugins.serial.sgd as sgd_mod
    import harness.plugins.serial.svrg as svrg_mod

    for mod in (sgd_mod, svrg_mod):
        monkeypatch.setattr(mod, "IndexDraws", _PerChunk)
    before = execute(spec, force=True)
    assert len(ahead.points) > 5
    assert [p["objective"] for p in ahead.points] == [p["objective"] for p in before.points]
    assert [p["updates"] for p in ahead.points] == [p["updates"] for p in before.points]


@pytest.mark.parametrize("plugin,params", [("hogwild-threads", {"eta": 0.05}),
                                           ("asysvrg-threads", {"eta": 0.02, "warm_epochs": 1}),
                                           ("asysvrg-threads", {"eta": 0.02, "warm_epochs": 1, "coords": 3})])
def test_one_thread_curves_are_those_of_the_per_chunk_draw(plugin, params, monkeypatch):
    """One thread (no interleaving: a deterministic run): the curve is that of one generator call per
    chunk, also with SVRG's written blocks (coords > 0), whose starts have a stream of their own."""
    pytest.importorskip("numba")
    spec = RunSpec(plugin, "logreg", params, WP, workers=1, seed=5, budget=Budget(epochs=4))
    ahead = execute(spec)
    import harness.plugins.threads.linear as linear_mod

    monkeypatch.setattr(linear_mod, "IndexDraws", _PerChunk)
    before = execute(spec, force=True)
    assert ahead.status == before.status == "budget" and len(ahead.points) > 5
    assert [p["objective"] for p in ahead.points] == [p["objective"] for p in before.points]


@pytest.mark.parametrize("plugin,params", [("hogwild-threads", {"eta": 0.05}),
                                           ("asysvrg-threads", {"eta": 0.02, "warm_epochs": 1}),
                                           ("asysvrg-threads", {"eta": 0.02, "warm_epochs": 1, "coords": 3}),
                                           ("asysvrg-sim", {"eta": 0.02, "warm_epochs": 1, "coords": 3})])
def test_one_thread_run_does_not_depend_on_where_its_chunks_end(plugin, params):
    """Where chunks end (the evaluation points, the audit's one-update windows, a budget in seconds)
    changes no update: one thread's iterate after U updates is the same under any schedule. With
    SVRG's written blocks (coords > 0) drawn from B_t's generator after each chunk's B_t, a chunk
    boundary moved which draws became indices and which blocks (the final objectives differed in the
    5th digit between points 1.05x and 3x apart)."""
    pytest.importorskip("numba")
    from harness._core.monitor import Schedule

    ends = []
    for ratio in (1.05, 3.0):
        rec = execute(RunSpec(plugin, "logreg", params, WP, workers=1, seed=5, budget=Budget(updates=6000),
                              schedule=Schedule(ratio=ratio, max_interval_s=None)))
        assert rec.status == "budget" and rec.points[-1]["updates"] == 6000
        ends.append(rec.points[-1]["objective"])
    assert ends[0] == ends[1]
