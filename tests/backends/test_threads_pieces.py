"""A chunk's updates handed out in pieces (``plugins/threads/pieces.py``, ``Team.map_pieces``): every
update of every share runs exactly once, with the share's own indices drawn once, whichever thread runs
it; a thread done first takes from a started share; exceptions reach the caller; one thread unchanged."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness._core.staleness import DelayStats
from harness.plugins.threads import kernels as KT
from harness.plugins.threads import linear as L
from harness.plugins.threads.linear import Snapshot, ThreadLinear
from harness.plugins.threads.pieces import Board
from harness.plugins.threads.team import Team


def covered(pieces, shares):
    """Each share's pieces sorted: they must tile 0..shares[r] exactly."""
    for r, k in enumerate(shares):
        ranges = sorted((lo, hi) for s, lo, hi in pieces if s == r)
        ends = [0] + [hi for _, hi in ranges]
        assert [lo for lo, _ in ranges] == ends[:-1] and ends[-1] == k, (r, ranges)
        assert all(hi > lo for lo, hi in ranges)


# -- the board alone: any interleaving of claims --------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(shares=st.lists(st.integers(0, 5000), min_size=1, max_size=4), threads=st.integers(1, 4),
       min_piece=st.integers(1, 700), order=st.lists(st.integers(0, 3), max_size=400))
def test_claims_tile_every_share_once_in_any_order(shares, threads, min_piece, order):
    """Threads claiming in any order (``order``: who claims next, then the rest round robin) get pieces
    that tile each share's updates exactly once; a thread's first claim is its own share's front when
    it has one; a piece from a range of `left` updates is max(min_piece, left / 2T) of them (all at
    the end); a thread whose own share is still untaken takes it first."""
    shares = shares[:threads] + [0] * max(0, threads - len(shares))
    board, pieces, done = Board(shares, threads, min_piece), [], set()
    for me in order + list(range(threads)) * (sum(shares) + 1):
        me %= threads
        if me in done:
            continue
        left = board.ranges[me][2] - board.ranges[me][1]
        own_fresh = not left and me in board.fresh
        got = board.claim(me)
        if got is None:
            done.add(me)
            continue
        r, lo, hi = got
        if own_fresh:
            assert (r, lo) == (me, 0)
        if left:                                   # from the range it held
            assert hi - lo == min(left, max(min_piece, -(-left // (2 * threads))))
        pieces.append(got)
    assert len(done) == threads
    covered(pieces, shares)


def test_a_thread_out_of_work_takes_the_back_half_of_the_largest_range():
    board = Board([1000, 10], 2, min_piece=10)
    assert board.claim(0) == (0, 0, 250)           # its own share, a quarter (2T = 4) from the front
    assert board.claim(1) == (1, 0, 10)
    assert board.claim(1) == (0, 625, 719)         # share 0's 750 left: the back 375, a quarter of it ...
    assert board.ranges[0] == [0, 250, 625]        # ... share 0's owner keeps the front half
    assert board.claim(0) == (0, 250, 344)
    board.failed = True
    assert board.claim(1) is None                  # after an exception nothing more is handed out


# -- the team: real threads -----------------------------------------------------------------------------------
def test_the_worker_takes_pieces_of_a_share_the_calling_thread_started():
    """The calling thread's first piece of share 0 waits (30 s at most) until the worker has run a piece
    of share 0 (and the worker's pieces wait until that piece has started): it can only go on if the
    worker, done with its own share, took part of a share another thread had started (what
    ``Team.map`` never does). Each share is opened once; its pieces tile it."""
    stole, started = threading.Event(), threading.Event()
    opened, pieces = [], []

    def open_share(r, k):
        opened.append(r)
        return r

    def piece(r, me, lo, hi):
        pieces.append((r, lo, hi, me))
        if me == 1:
            assert started.wait(30)                # the calling thread has started share 0
            if r == 0:
                stole.set()
        elif r == 0 and lo == 0:
            started.set()
            assert stole.wait(30), "the worker never took a piece of share 0"

    with Team(2, seed=0) as team:
        assert team.map_pieces(open_share, piece, [4000, 100], min_piece=10) == [0, 1]
    assert sorted(opened) == [0, 1]
    covered([(r, lo, hi) for r, lo, hi, _ in pieces], [4000, 100])
    assert {me for r, *_, me in pieces if r == 0} == {0, 1}


def test_a_piece_s_exception_reaches_the_caller_after_the_others_are_done():
    """A piece raising on either thread is re-raised on the calling thread once every thread that took a
    piece is out; nothing more is handed out after it, and the team runs the next call normally."""
    for bad in (0, 1):
        ran = []

        def piece(r, me, lo, hi):
            if r == bad and lo > 0:
                raise ValueError(f"piece of share {r}")
            ran.append((r, lo, hi))

        with Team(2, seed=0) as team:
            with pytest.raises(ValueError, match=f"piece of share {bad}"):
                team.map_pieces(lambda r, k: r, piece, [1000, 1000], min_piece=10)
            assert all(r != bad or lo == 0 for r, lo, _ in ran)
            ran.clear()
            again = team.map_pieces(lambda r, k: r, lambda r, me, lo, hi: ran.append((r, lo, hi)), [50, 50], 10)
            assert again == [0, 1]
            covered(ran, [50, 50])


def exact_increment_workload(n: int = 64, d: int = 8):
    """Rows all ones, y = 1, lam = 0: with the linear test loss (kernel loss code 2) each update adds
    exactly eta to every coordinate it writes (as in test_threads.py)."""
    return SimpleNamespace(loss="squared", n=n, dim=d, lam=0.0, sparse=False, y=np.ones(n), X=np.ones((n, d)))


def stream(seed, r, threads, k):
    """The first k indices of thread r's stream in a team of ``threads`` seeded ``seed``."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(threads)[r])
    return rng.integers(0, 64, size=k)


def big_chunk(lin, b=1):
    """Updates per chunk for which each of 2 shares holds 2 * PIECES_MIN_PIECES pieces."""
    return 4 * L.PIECES_MIN_PIECES * -(-L.PIECE_MIN_OPS // (b * lin.row_ops))


@pytest.mark.parametrize("kind", ["sgd", "svrg-coords"])
def test_pieces_run_the_split_s_indices_once_on_both_threads(monkeypatch, kind):
    """Two real threads, two chunks large enough for pieces, the dense kernels replaced by a recorder
    (which stamps the running thread's slot as they do): the indices run are, as a multiset, exactly
    the split's (each share's stream, drawn once per chunk; SVRG's blocks' starts k_t too), the update
    count and the dispatch are exact, and the pieces ran on both threads."""
    wl = exact_increment_workload()
    runs, lock, worker_ran = [], threading.Lock(), threading.Event()

    def record(idx, kidx, me, taus, slots):
        with lock:
            runs.append((idx.copy(), kidx.copy(), me))
        slots[me, 0] += taus.shape[0]
        taus[:] = 0
        if me == 1:
            worker_ran.set()
        else:                                      # the calling thread waits for the worker (30 s at most)
            assert worker_ran.wait(30)

    no_blocks = np.zeros(0, np.int64)
    monkeypatch.setattr(KT, "hogwild_dense", lambda w, X, y, idx, b, *a: record(idx, no_blocks, a[-2], a[-1], a[-3]))
    monkeypatch.setattr(KT, "asysvrg_dense", lambda *a: record(a[5], a[13], a[-2], a[-1], a[-3]))
    with Team(2, seed=3) as team:
        lin = ThreadLinear(wl, team)
        k = big_chunk(lin)
        for _ in range(2):
            worker_ran.clear()
            if kind == "sgd":
                taus = lin.sgd(np.zeros(wl.dim), k, b=1, eta=1.0)
            else:
                taus = lin.svrg(np.zeros(wl.dim), Snapshot(np.zeros(wl.n), np.zeros(wl.dim), None, np.zeros(wl.n)),
                                k, b=1, eta=1.0, coords=3)
            assert taus.shape == (k,)
        assert team.count == 2 * k and lin.dispatch()["updates_on_team"] == lin.dispatch()["updates_in_pieces"] == 2 * k
    shares = team.split(k)
    want = np.concatenate([stream(3, r, 2, 2 * s) for r, s in enumerate(shares)])
    got = np.concatenate([idx for idx, _, _ in runs])
    np.testing.assert_array_equal(np.sort(got), np.sort(want))
    if kind != "sgd":
        blocks = [np.random.default_rng([3, r, 0xC0]).integers(0, wl.dim, size=2 * s) for r, s in enumerate(shares)]
        got_blocks = np.concatenate([kx for _, kx, _ in runs])
        np.testing.assert_array_equal(np.sort(got_blocks), np.sort(np.concatenate(blocks)))
    assert len(runs) > 4 and {me for *_, me in runs} == {0, 1}


@pytest.mark.parametrize("kind", ["sgd", "svrg"])
def test_pieces_lose_no_update_under_atomic_writes(monkeypatch, kind):
    """The real kernels on 2 threads, a chunk in pieces: every update lands on every coordinate (the
    exact-increment loss), the count is exact, and each thread's folded delays count each update once
    (the arrays the threads folded, summed, are the histogram)."""
    wl = exact_increment_workload()
    folded, arrays, seen = DelayStats(cap=3), DelayStats(cap=3), []
    real = KT.fold_delays

    def spy(taus, hist):
        seen.append(taus.copy())
        return real(taus, hist)

    with Team(2, seed=0) as team:
        lin = ThreadLinear(wl, team)
        lin.code = 2
        team.trace = []
        k = 2 * big_chunk(lin)
        w = np.zeros(wl.dim)
        monkeypatch.setattr(KT, "fold_delays", spy)
        if kind == "svrg":
            lin.svrg(w, Snapshot(np.zeros(wl.n), -np.ones(wl.dim), None, -wl.y), k, b=1, eta=1.0, coords=0,
                     delays=folded)
        else:
            lin.sgd(w, k, b=1, eta=1.0, delays=folded)
        assert team.count == k and lin.writes()["lost"] == 0
        spans = team.trace[-1][2]
    np.testing.assert_array_equal(w, np.full(wl.dim, float(k)))
    assert len(spans) > 4                          # shares opened and pieces run, not two whole shares
    for taus in seen:
        arrays.add(taus)
    assert folded.count == arrays.count == k
    assert (folded.hist == arrays.hist).all() and folded.total == arrays.total and folded.max == arrays.max


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_one_thread_and_small_chunks_keep_whole_shares(sparse):
    """One thread: the same iterate bit for bit with pieces on or off, one span per chunk (no pieces).
    Two threads, a chunk under PIECES_MIN_PIECES pieces per share: two whole shares, as Team.map ran."""
    from harness._core.registry import workloads

    wl = workloads().get("logreg").build({"sparse": sparse, "n": 3000, "d": 600, "density": 0.03, "lam": 1e-3}
                                         if sparse else {"n": 3000, "d": 40, "lam": 1e-3})
    ws = []
    for pieces in (True, False):
        with Team(1, seed=0, pieces=pieces) as team:
            lin = ThreadLinear(wl, team)
            team.trace = []
            w = np.zeros(wl.dim)
            lin.sgd(w, 2 * big_chunk(lin), b=1, eta=0.05)
            assert len(team.trace[0][2]) == 1
            ws.append(w)
    np.testing.assert_array_equal(ws[0], ws[1])
    with Team(2, seed=0) as team:
        lin = ThreadLinear(wl, team)
        team.trace = []
        lin.sgd(np.zeros(wl.dim), big_chunk(lin) // 4, b=1, eta=0.05)
        assert len(team.trace[0][2]) == 2 and lin.dispatch()["updates_in_pieces"] == 0


def test_a_share_whose_opening_raised_is_not_opened_again(monkeypatch):
    """The calling thread's opening of share 0 raises while the worker, done with share 1 and holding the
    back half of share 0, waits to open it: the worker does not open share 0 again (its indices drawn a
    second time) nor run a piece of it; the exception reaches the caller. The raising thread goes on only
    once the worker has had the lock and left it (the interleaving in which it opened share 0 again)."""
    from harness.plugins.threads import team as T

    waiting, left = threading.Event(), threading.Event()

    class Watched:
        """A lock that says when a thread waits for it while it is held, and whose holder, on release,
        waits (30 s at most) until that thread has taken it and let it go."""

        def __init__(self):
            self.lock, self.waiter = threading.Lock(), None

        def __enter__(self):
            if not self.lock.acquire(blocking=False):
                self.waiter = threading.get_ident()
                waiting.set()
                self.lock.acquire()
            return self

        def __exit__(self, *exc):
            self.lock.release()
            if self.waiter == threading.get_ident():
                left.set()
            elif self.waiter is not None:
                assert left.wait(30), "the waiting thread never took the lock"

    real = T.threading
    monkeypatch.setattr(T, "threading", SimpleNamespace(Lock=Watched, Condition=real.Condition))
    opened, pieces = [], []

    def open_share(r, k):
        opened.append(r)
        if r == 0:
            assert waiting.wait(30), "the worker never waited to open share 0"
            raise ValueError("share 0 cannot be opened")
        return r

    with Team(2, seed=0) as team:
        with pytest.raises(ValueError, match="share 0 cannot be opened"):
            team.map_pieces(open_share, lambda st, me, lo, hi: pieces.append((st, lo, hi)), [1000, 10], min_piece=10)
    assert sorted(opened) == [0, 1] and pieces == [(1, 0, 10)], (opened, pieces)
