"""The threads backend: its kernels against the serial ones (one thread), measured delays with real
threads, convergence, the CLI, declined workloads, and that two threads really run in parallel."""

from __future__ import annotations

import os

import numpy as np
import pytest

from harness._core.monitor import Budget, Schedule
from harness._core.registry import workloads
from harness.run.runner import RunSpec, execute
from harness._core.staleness import DelayStats
from harness.plugins.algorithms import kernels as K0
from harness.plugins.algorithms.steps import Steps
from harness.plugins.threads.linear import SCHEME_NAMES, ThreadLinear
from harness.plugins.threads.team import Team

SPARSE = {"sparse": True, "n": 600, "d": 800, "density": 0.02}
DENSE = {"n": 600, "d": 20, "lam": 1e-2}
# big enough for both threads to be busy at once (50 nonzeros per row), small enough to build fast
SPEED = {"sparse": True, "n": 4000, "d": 5000, "density": 0.01}
# the speedup on rows of 50 nonzeros over d = 1M: the iterate (8 MB) lives in L3 for one thread too, so the
# lines the two threads take from each other cost little more than one thread's own misses. With w in L2
# (d <= 100k) one thread is fast and two pay a coherence miss on most lines: 1.1-1.6x measured.
WIDE = {"sparse": True, "n": 8000, "d": 1000000, "density": 0.00005}


def build(wparams):
    return workloads().get("logreg").build(wparams)


def run(plugin, params, wparams, workers, budget, seed=0, ratio=1.3, target=None):
    from harness._core.monitor import Target

    rec = execute(RunSpec(plugin, "logreg", params, wparams, workers, seed, Budget.parse(budget),
                          target=Target(value=target), schedule=Schedule(ratio=ratio)))
    assert rec.status in ("budget", "done", "target"), (rec.status, rec.reason, rec.info.get("traceback"))
    return rec


def team_indices(seed, k, b, n):
    """The index stream thread 0 of a one-thread team draws."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    return rng.integers(0, n, size=k * b)


# -- one thread = the serial kernels (the lazy sparse l2 is exact) ---------------------------------------
@pytest.mark.parametrize("wparams", [DENSE, SPARSE], ids=["dense", "sparse"])
def test_one_thread_hogwild_is_serial_sgd(wparams):
    wl = build(wparams)
    k, b = 3000, 2
    with Team(1, seed=4) as team:
        lin = ThreadLinear(wl, team)
        w = np.zeros(wl.dim)
        taus = lin.sgd(w, k, b=b, schedule=K0.SCHEDULE_CODES["inv"], eta=0.8, t0=500.0, beta=0.5)
        taus2 = lin.sgd(w, k, b=b, schedule=K0.SCHEDULE_CODES["inv"], eta=0.8, t0=500.0, beta=0.5)   # second chunk: T0 = k
    assert (taus == 0).all() and (taus2 == 0).all() and team.count == 2 * k
    ref = np.zeros(wl.dim)
    steps = Steps(wl)
    rng = np.random.default_rng(np.random.SeedSequence(4).spawn(1)[0])
    for t_start in (0, k):
        steps.sgd(ref, rng.integers(0, wl.n, size=k * b), b=b, schedule=K0.SCHEDULE_CODES["inv"], eta=0.8, t0=500.0,
                  beta=0.5, t_start=t_start)
    np.testing.assert_allclose(w, ref, rtol=1e-10, atol=1e-14)
    assert np.abs(w).max() > 0.01


@pytest.mark.parametrize("wparams", [DENSE, SPARSE], ids=["dense", "sparse"])
def test_one_thread_asysvrg_is_serial_svrg(wparams):
    wl = build(wparams)
    k, b, eta = 2500, 3, 0.4
    steps = Steps(wl)
    w0 = np.random.default_rng(1).standard_normal(wl.dim) * 0.1
    with Team(1, seed=2) as team:
        lin = ThreadLinear(wl, team)
        snap = lin.snapshot(w0)
        ref_z0, ref_mu, _ = steps.snapshot(w0)
        np.testing.assert_allclose(snap.z0, ref_z0, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(snap.mu_loss, ref_mu, rtol=1e-10, atol=1e-14)
        w = w0.copy()
        taus = lin.svrg(w, snap, k // 2, b=b, eta=eta, coords=0)          # two chunks: the second starts at T0 > 0
        taus = np.concatenate([taus, lin.svrg(w, snap, k - k // 2, b=b, eta=eta, coords=0)])
    assert (taus == 0).all()
    ref = w0.copy()
    steps.svrg_inner(ref, w0, (ref_z0, ref_mu, None), team_indices(2, k, b, wl.n), b=b, eta=eta)
    np.testing.assert_allclose(w, ref, rtol=1e-9, atol=1e-13)


def test_drift_tables_match_the_one_step_recursions():
    """S, Q, H (the scaled iterate's dense part) equal the serial recursions S <- (1 - eta_t lam) S,
    Q <- a Q + eta, whether the constant-step tables are filled at once or extended chunk by chunk."""
    wl = build(SPARSE)
    eta, lam, k = 0.7, wl.lam, 3000
    with Team(1, seed=0) as team:
        lin = ThreadLinear(wl, team)
        for sizes in ([k], [10, 100, 1000, k]):
            for size in sizes:
                S, Q, H = (x.copy() for x in lin.drift(size, eta=eta, svrg=True))
            lin._tables_eta = None                       # forget them for the next fill pattern
            s, q = 1.0, 0.0
            for j in range(k):
                assert S[j] == pytest.approx(s, rel=1e-13) and Q[j] == pytest.approx(q, rel=1e-12, abs=1e-300)
                assert H[j] == pytest.approx(eta / (s * (1 - eta * lam)), rel=1e-13)
                s, q = s * (1 - eta * lam), q * (1 - eta * lam) + eta
        team.slots[0, 0] = 500                           # a decaying schedule depends on the first update count
        S, Q, H = lin.drift(k, schedule=K0.SCHEDULE_CODES["inv"], eta=eta, t0=50.0, svrg=False)
        etas = eta / (1 + (500 + np.arange(k)) / 50.0)
        np.testing.assert_allclose(S[1:], np.cumprod(1 - etas * lam), rtol=1e-12)
        np.testing.assert_allclose(H, etas / S[1:], rtol=1e-12)


# -- the team: each share runs once, on whichever thread is free first ----------------------------------------
def test_team_runs_shares_on_two_threads_when_the_worker_is_there():
    """Each share waits at a 2-party barrier (30 s timeout): the map can only finish with the two
    shares running at the same time, on the calling thread and the worker; results in share order."""
    import threading

    barrier = threading.Barrier(2, timeout=30)
    ran = {}

    def fn(r, k):
        ran[r] = threading.get_ident()
        barrier.wait()
        return r * 10 + k

    with Team(2, seed=0) as team:
        assert team.map(fn, [3, 4]) == [3, 14]
    assert ran[1] != ran[0] and threading.get_ident() in ran.values()


def test_team_calling_thread_takes_the_shares_no_worker_started():
    """With its worker held up, the calling thread runs every share itself (each exactly once, in
    share order of results) instead of waiting; the worker, once free, finds nothing left to run.
    ``alone`` runs them on the calling thread whatever the worker does; a share's exception reaches
    the caller."""
    import threading

    calls = []
    with Team(2, seed=0) as team:
        hold = threading.Event()
        team._pool.submit(hold.wait, 30)                   # the only worker is busy
        out = team.map(lambda r, k: calls.append((r, threading.get_ident())) or r + k, [5, 7])
        assert out == [5, 8] and sorted(r for r, _ in calls) == [0, 1]
        assert {t for _, t in calls} == {threading.get_ident()}
        hold.set()
        team._pool.submit(lambda: None).result(30)         # the worker has run the left-over task by now
        assert sorted(r for r, _ in calls) == [0, 1]        # ... which ran nothing again
        calls.clear()
        assert team.map(lambda r, k: calls.append(threading.get_ident()) or k, [1, 2], alone=True) == [1, 2]
        assert calls == [threading.get_ident()] * 2

        def boom(r, k):
            if r == 1:
                raise ValueError("share 1")
            return k

        with pytest.raises(ValueError, match="share 1"):
            team.map(boom, [1, 1])


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="no SCHED_BATCH policy on this OS")
def test_team_workers_do_not_preempt_the_thread_that_wakes_them():
    """The team's workers run under SCHED_BATCH (waking one does not preempt the calling thread); the
    calling thread keeps its own policy."""
    with Team(2, seed=0) as team:
        assert team._pool.submit(os.sched_getscheduler, 0).result(30) == os.SCHED_BATCH
    assert os.sched_getscheduler(0) != os.SCHED_BATCH


def test_a_chunk_too_small_to_split_runs_on_the_calling_thread_with_each_shares_stream():
    """Under SPLIT_MIN_OPS coordinates of work a 2-thread chunk runs on the calling thread alone: both
    shares (share r with index stream r and stamp slot r, as when split), no worker woken; a longer
    chunk is offered to the worker."""
    from harness.plugins.threads.linear import SPLIT_MIN_OPS

    wl = build(DENSE)
    small = SPLIT_MIN_OPS // (2 * wl.dim)
    with Team(2, seed=0) as team:
        lin = ThreadLinear(wl, team)
        w = np.zeros(wl.dim)
        team.trace = []
        offered = []
        real_submit = team._pool.submit
        team._pool.submit = lambda *a: offered.append(1) or real_submit(*a)
        lin.sgd(w, small, b=1, eta=0.1)
        assert not offered and [me for me, *_ in team.trace[-1][2]] == [0, 0]
        assert list(team.slots[:, 0]) == team.split(small)
        lin.sgd(w, 4 * SPLIT_MIN_OPS // wl.dim, b=1, eta=0.1)
        assert offered


# -- coordinate writes: atomic by default, lost writes counted -------------------------------------------------
def exact_increment_workload(sparse: bool, n: int = 64, d: int = 8):
    """Every row all ones, y = 1, lam = 0; with the linear test loss (kernel loss code 2, phi(z) = -y z)
    every update adds exactly eta to each coordinate it writes, whatever it read: after k updates with
    eta = 1 each coordinate holds k minus its lost writes (integers, exact in float64)."""
    import scipy.sparse as sp
    from types import SimpleNamespace

    X = np.ones((n, d))
    return SimpleNamespace(loss="squared", n=n, dim=d, lam=0.0, sparse=sparse, y=np.ones(n),
                           X=sp.csr_matrix(X) if sparse else X)


@pytest.mark.parametrize("write", ["atomic", "racy", "plain"])
@pytest.mark.parametrize("kind", ["dense-b1", "dense-b2", "dense-odd", "csr", "svrg-vector", "svrg-coords", "svrg-odd",
                                  "dense-b1-cas", "svrg-odd-cas", "dense-wide-odd", "dense-wide-odd-cas", "csr-cas",
                                  "dense-b1-tx", "svrg-odd-tx", "dense-wide-odd-tx"])
def test_two_threads_apply_every_counted_update_atomically(kind, write):
    """2 real threads on d = 8 shared coordinates (every update writes all of them, so the threads
    collide on most writes): atomic applies all k counted updates on every coordinate; racy reports
    exactly the writes its iterate misses; plain loses some silently (only the iterate shows it).
    Atomic dense rows go under the row lock by default; '-tx': in hardware transactions where the
    CPU has them (blocks of ``TX_BLOCK`` coordinates), after an abort or without them by
    compare-and-swap 16-byte pairs; '-cas': those pairs only. CSR rows: a transaction per row where
    the CPU has them, else (and '-cas') a compare-and-swap per coordinate. '-odd': d = 9 in an iterate
    8 bytes off a 16-byte boundary, so the pairs start at index 1 and a coordinate is left at each
    end; 'wide': d = 2 TX_BLOCK + 3, three blocks."""
    from harness.plugins.threads import kernels as KT
    from harness.plugins.threads.linear import Snapshot

    wide = "-wide" in kind
    k, b = 50_000 if wide else 200_000, 2 if kind == "dense-b2" else 1
    odd = "-odd" in kind
    d = 2 * KT.TX_BLOCK + 3 if wide else 9 if odd else 8
    wl = exact_increment_workload(sparse=kind.startswith("csr"), d=d)
    with Team(2, seed=0) as team:
        lin = ThreadLinear(wl, team, write)
        lin.code = 2                                      # the exact-increment test loss
        scheme = "cas" if kind.endswith("-cas") else "tx" if kind.endswith("-tx") else "lock"
        if scheme == "cas":
            lin.tx = False
        lin.scheme = KT.SCHEMES[scheme] if scheme != "tx" or lin.tx else KT.SCHEME_CAS
        w = np.zeros(wl.dim)
        if odd:
            buf = np.zeros(wl.dim + 2)
            w = buf[1:-1] if buf.ctypes.data % 16 == 0 else buf[:-2]
            assert ThreadLinear.first_pair(w) == 1
        if kind.startswith("svrg"):                       # grad f_i(w_hat) - grad f_i(w~) = 0: each update adds eta (-mu) = 1
            snap = Snapshot(np.zeros(wl.n), -np.ones(wl.dim), None, -wl.y)   # g0 = phi'(z0) = -y
            coords = 3 if kind == "svrg-coords" else 0   # svrg-odd: the whole vector
            lin.svrg(w, snap, k, b=b, eta=1.0, coords=coords)
            applied_per_update = coords or wl.dim
        else:
            lin.sgd(w, k, b=b, eta=1.0)
            applied_per_update = wl.dim
        writes = lin.writes()
    assert team.count == k
    assert writes["coordinate_writes"] == k * applied_per_update
    missing = k * applied_per_update - int(w.sum())       # writes the iterate does not hold
    assert (w == np.round(w)).all() and missing >= 0
    tx = writes["transactions"]
    if write == "atomic":
        assert missing == 0 and writes["lost"] == 0, (missing, writes)
        if kind != "svrg-coords":
            np.testing.assert_array_equal(w, np.full(wl.dim, float(k)))
        # the transactional path ran where the CPU has it (and only there, and not for a pair-only run);
        # the row lock took every dense row it was asked to (coords: single coordinates go by compare-and-swap)
        dense = not kind.startswith("csr")
        on = KT.cpu_has_rtm() and scheme != "cas" and (scheme == "tx" or not dense)
        assert tx["enabled"] == on and (tx["committed"] > 0) == (on and kind != "svrg-coords"), tx
        locked = k if dense and scheme == "lock" and kind != "svrg-coords" else 0
        assert writes["lock"]["rows"] == locked and writes["lock"]["waited"] <= locked, writes
        assert writes["scheme"] == (SCHEME_NAMES[lin.scheme] if dense and kind != "svrg-coords" else None)
        return
    assert not tx["enabled"] and tx["committed"] == tx["aborted"] == 0, tx
    assert writes["lock"] == {"rows": 0, "waited": 0} and writes["scheme"] is None
    if write == "racy":
        assert writes["lost"] == writes["cas_failed"] == missing, (missing, writes)
    else:
        assert writes["lost"] is None and writes["cas_failed"] == 0


@pytest.mark.parametrize("kind", ["sgd", "svrg"])
def test_four_threads_on_two_cores_lose_no_row_under_the_lock(kind):
    """4 real threads (more than this machine's cores: a lock holder is preempted while others wait for
    it), mini-batches of b = 3 rows, d = 9 coordinates in an iterate 8 bytes off a 16-byte boundary:
    every counted update lands on every coordinate, each row under the lock, once."""
    from harness.plugins.threads import kernels as KT
    from harness.plugins.threads.linear import Snapshot

    k, b = 200_000, 3
    wl = exact_increment_workload(sparse=False, d=9)
    with Team(4, seed=1) as team:
        lin = ThreadLinear(wl, team)
        lin.code = 2                                      # the exact-increment test loss
        assert lin.scheme == KT.SCHEME_LOCK               # the default
        buf = np.zeros(wl.dim + 2)
        w = buf[1:-1] if buf.ctypes.data % 16 == 0 else buf[:-2]
        if kind == "svrg":                                # each update adds eta (-mu) = 1 to every coordinate
            lin.svrg(w, Snapshot(np.zeros(wl.n), -np.ones(wl.dim), None, -wl.y), k, b=b, eta=1.0, coords=0)
        else:
            lin.sgd(w, k, b=b, eta=1.0)
        writes, dispatch = lin.writes(), lin.dispatch()
    assert team.count == k and dispatch["updates_on_team"] == k
    np.testing.assert_array_equal(w, np.full(wl.dim, float(k)))
    assert writes["lock"]["rows"] == k and 0 <= writes["lock"]["waited"] <= k and writes["lost"] == 0, writes
    assert writes["scheme"] == "row lock" and writes["cas_failed"] == 0 and not writes["transactions"]["enabled"]


@pytest.mark.parametrize("kind", ["dense", "csr", "svrg", "dense-cas", "csr-cas", "svrg-cas", "dense-b3", "svrg-b3",
                                  "dense-lock", "svrg-lock"])
def test_one_thread_applies_plain_stores_bit_for_bit_the_atomic_update(kind):
    """One thread has no concurrent writer: every asked mode applies plain stores (no compare-and-swap
    loop), records that and why, and gives the iterate the atomic kernel gives, bit for bit: its
    hardware transactions where the CPU has them, its compare-and-swap pairs ('-cas'), its row lock
    ('-lock'), and with b = 3 the mini-batch paths (b = 1: plain stores take fused one-pass loops, atomic ones a buffer)."""
    from harness.plugins.threads import kernels as KT
    from harness.plugins.threads.linear import Snapshot

    rng = np.random.default_rng(3)
    X = rng.standard_normal((200, 12))
    y = np.sign(rng.standard_normal(200))
    from types import SimpleNamespace

    import scipy.sparse as sp
    sparse = kind.startswith("csr")
    wl = SimpleNamespace(loss="logistic", n=200, dim=12, lam=1e-3, sparse=sparse, y=y,
                         X=sp.csr_matrix(X) if sparse else X)
    b = 3 if kind.endswith("-b3") else 1
    iterates = {}
    for forced in (None, "atomic"):
        with Team(1, seed=0) as team:
            lin = ThreadLinear(wl, team, "atomic")
            assert lin.applied == "plain" and "one thread" in lin.applied_why
            if forced:
                lin.mode = KT.WRITE_CODES[forced]               # the atomic kernel path
                lin.tx = lin.tx and not kind.endswith("-cas")
                lin.scheme = KT.SCHEME_CAS if kind.endswith("-cas") else KT.SCHEME_LOCK if kind.endswith("-lock") else (
                    KT.SCHEME_TX if lin.tx else KT.SCHEME_CAS)
            w = np.zeros(wl.dim)
            if kind.startswith("svrg"):
                snap = Snapshot(X @ np.zeros(12), 0.1 * np.ones(12), None, -y / 2)   # g0 = phi'(0) = -y / 2
                lin.svrg(w, snap, 3000, b=b, eta=0.05, coords=0)
            else:
                lin.sgd(w, 3000, b=b, eta=0.05)
            iterates[forced] = w.copy()
            assert lin.writes()["lost"] == 0
    np.testing.assert_array_equal(iterates[None], iterates["atomic"])


@pytest.mark.parametrize("svrg", [False, True], ids=["sgd", "svrg"])
def test_unsigned_csr_indices_give_the_same_iterates_bit_for_bit(svrg):
    """The CSR arrays the kernels get (``csr_arrays``: unsigned index views, so numba skips its
    negative-index wraparound) give the iterate scipy's own int32 arrays and int64 copies give, bit
    for bit (sparse Hogwild! and SVRG inner updates, mini-batch 2, one thread)."""
    from harness.plugins.threads import kernels as KT

    wl = build(SPARSE)
    X, k, b = wl.X, 2000, 2
    forms = {"unsigned": K0.csr_arrays(X), "int32": (X.data, X.indices, X.indptr),
             "int64": (X.data, X.indices.astype(np.int64), X.indptr.astype(np.int64))}
    assert forms["unsigned"][1].dtype == np.uint32 and forms["unsigned"][2].dtype == np.uint64
    idx = np.random.default_rng(5).integers(0, wl.n, size=k * b)
    iterates = {}
    with Team(1, seed=0) as team:
        lin = ThreadLinear(wl, team)
        snap = lin.snapshot(np.full(wl.dim, 0.01))
        S, Q, H = lin.drift(k, eta=0.5, svrg=svrg)
        for name, csr in forms.items():
            w = np.full(wl.dim, 0.01)
            KT.linear_csr(w, *csr, wl.y, idx, b, 0, 0, S, Q, H, snap.x_mu, snap.g0, int(svrg), np.empty(b), 2, False,
                          np.zeros((1, 8), dtype=np.int64), 0, np.empty(k, dtype=np.int64))
            iterates[name] = w
    assert np.abs(iterates["int64"] - 0.01).max() > 1e-3
    np.testing.assert_array_equal(iterates["unsigned"], iterates["int64"])
    np.testing.assert_array_equal(iterates["int32"], iterates["int64"])


@pytest.mark.slow
def test_kernels_stop_trying_transactions_that_keep_aborting(monkeypatch):
    """A transaction too big for the CPU to track aborts every time (a capacity abort: no retry): the
    block goes by compare-and-swap, and after TX_GIVE_UP aborts without a commit the kernel stops
    trying for the rest of its call; the iterate is the plain stores' one, bit for bit. A fresh
    compile of ``hogwild_dense`` with blocks of 2^22 coordinates over d = 200k (1.6 MB, beyond any L1)."""
    from numba import njit

    from harness.plugins.threads import kernels as KT

    if not KT.cpu_has_rtm():
        pytest.skip("this CPU has no hardware transactions (x86 RTM)")
    monkeypatch.setattr(KT, "TX_BLOCK", 1 << 22)
    kernel = njit(nogil=True, _nrt=False)(KT.hogwild_dense.py_func)   # TX_BLOCK read now, at compile time
    rng = np.random.default_rng(0)
    n, d, k = 8, 200_000, 200
    X, y = rng.standard_normal((n, d)), np.sign(rng.standard_normal(n))
    idx = rng.integers(0, n, size=k)
    out = {}
    for mode in (0, 2):
        w, slots = np.zeros(d), np.zeros((1, 8), dtype=np.int64)
        kernel(w, X, y, idx, 1, 0, 1e-3, 0, 0.01, 1.0, 0.0, np.empty(d), mode, 0, KT.SCHEME_TX, np.zeros(8, np.int64),
               slots, 0, np.empty(k, dtype=np.int64))
        out[mode] = (w, slots[0])
    w, slots = out[0]
    assert slots[KT.TX_COMMITS] == 0
    # one abort per update while it tries: it tried on more than TX_GIVE_UP updates but not on all k
    assert KT.TX_GIVE_UP < slots[KT.TX_ABORTS] <= (KT.TX_GIVE_UP + 1) * KT.TX_TRIES < k
    np.testing.assert_array_equal(w, out[2][0])


def test_transactions_follow_the_cpu_and_can_be_turned_off(monkeypatch):
    """Atomic writes try hardware transactions where the CPU has them, unless HARNESS_THREADS_TX=0;
    a 2-thread run records which (``info['writes']['transactions']``)."""
    from harness.plugins.threads import kernels as KT
    from harness.plugins.threads.linear import use_transactions

    monkeypatch.delenv("HARNESS_THREADS_TX", raising=False)
    monkeypatch.setenv("HARNESS_THREADS_ATOMIC", "tx")
    assert use_transactions() == KT.cpu_has_rtm()
    rec = run("hogwild-threads", {"eta": 0.5}, DENSE, 2, "epochs=2")
    assert rec.info["writes"]["transactions"]["enabled"] == KT.cpu_has_rtm()
    monkeypatch.setenv("HARNESS_THREADS_TX", "0")
    assert not use_transactions()
    rec = run("hogwild-threads", {"eta": 0.5}, DENSE, 2, "epochs=2")
    tx = rec.info["writes"]["transactions"]
    assert not tx["enabled"] and tx["committed"] == 0 and rec.info["writes"]["lost"] == 0


def test_dense_rows_go_under_the_row_lock_unless_asked_otherwise(monkeypatch):
    """With several threads an atomic dense row is written under the row lock (one locked instruction
    per row where pairs take one per 2 coordinates): every update of the run, recorded with the
    scheme's name; HARNESS_THREADS_ATOMIC picks another scheme and refuses a value it does not know."""
    from harness._core.errors import UserError
    from harness.plugins.threads.linear import dense_scheme

    monkeypatch.delenv("HARNESS_THREADS_ATOMIC", raising=False)
    rec = run("asysvrg-threads", {"eta": 0.5}, DENSE, 2, "epochs=2")
    w = rec.info["writes"]
    assert w["scheme"] == "row lock" and w["lock"]["rows"] == rec.points[-1]["updates"] > 0, w
    assert w["lost"] == 0 and not w["transactions"]["enabled"]
    monkeypatch.setenv("HARNESS_THREADS_ATOMIC", "cas")
    rec = run("hogwild-threads", {"eta": 0.5}, DENSE, 2, "epochs=2")
    w = rec.info["writes"]
    assert w["scheme"] == "compare-and-swap pairs" and w["lock"]["rows"] == 0, w
    monkeypatch.setenv("HARNESS_THREADS_ATOMIC", "fast")
    with pytest.raises(UserError, match="HARNESS_THREADS_ATOMIC=fast: expected one of lock, tx, cas"):
        dense_scheme()


@pytest.mark.parametrize("scheme", ["lock", "tx"])
def test_single_coordinate_writes_do_not_claim_a_dense_row_scheme(monkeypatch, scheme):
    """asysvrg-threads with coords = c > 0 writes single coordinates, each by compare-and-swap: no dense
    row goes under the row lock or in a transaction, so the run records no dense-row scheme and no
    transactions switched on (it recorded 'row lock' / 'hardware transactions' for writes that used
    neither). An SGD warm start writes dense rows: then the scheme and the rows it locked are recorded."""
    monkeypatch.setenv("HARNESS_THREADS_ATOMIC", scheme)
    rec = run("asysvrg-threads", {"eta": 0.5, "coords": 2}, DENSE, 2, "epochs=2")
    w = rec.info["writes"]
    assert w["scheme"] is None and w["lock"] == {"rows": 0, "waited": 0}, w
    assert not w["transactions"]["enabled"] and w["transactions"]["committed"] == 0 and w["lost"] == 0, w
    if scheme == "lock":
        rec = run("asysvrg-threads", {"eta": 0.5, "coords": 2, "warm_epochs": 1}, DENSE, 2, "epochs=3")
        w = rec.info["writes"]
        assert w["scheme"] == "row lock" and 0 < w["lock"]["rows"] < rec.points[-1]["updates"], w


def test_one_thread_runs_record_their_plain_writes():
    rec = run("hogwild-threads", {"eta": 0.5}, DENSE, 1, "epochs=2")
    w = rec.info["writes"]
    assert (w["mode"], w["applied"], w["lost"]) == ("atomic", "plain", 0) and "one thread" in w["why"]
    rec = run("hogwild-threads", {"eta": 0.5}, DENSE, 2, "epochs=2")
    assert (rec.info["writes"]["mode"], rec.info["writes"]["applied"]) == ("atomic", "atomic")


def test_plugins_report_their_writes():
    rec = run("hogwild-threads", {"eta": 0.5, "write": "racy"}, SPARSE, 2, "epochs=3")
    assert rec.info["writes"]["mode"] == "racy" and rec.info["writes"]["coordinate_writes"] > 0
    assert rec.info["writes"]["lost"] == rec.info["writes"]["cas_failed"]
    rec = run("asysvrg-threads", {"eta": 0.08}, DENSE, 2, "epochs=2")
    assert rec.info["writes"]["mode"] == "atomic" and rec.info["writes"]["lost"] == 0


def test_runs_record_how_their_updates_were_dispatched():
    """Chunks too small to wake a worker for run their shares on the calling thread: the run says how many."""
    rec = run("hogwild-threads", {"eta": 0.5}, SPEED, 2, "updates=400000", ratio=3.0)
    d = rec.info["dispatch"]
    assert d["threads"] == 2 and d["updates_alone"] + d["updates_on_team"] == rec.points[-1]["updates"]
    assert d["updates_alone"] > 0 and d["updates_on_team"] > 0   # the first points' chunks are small, the last large
    rec = run("asysvrg-threads", {"eta": 0.08}, DENSE, 2, "epochs=2")
    d = rec.info["dispatch"]
    assert d["updates_alone"] + d["updates_on_team"] == rec.points[-1]["updates"] > 0


# -- real threads: measured delays -----------------------------------------------------------------------------
def test_one_thread_measures_zero_delay_two_threads_measure_some():
    one = run("hogwild-threads", {"eta": 0.5}, SPEED, 1, "updates=200000", ratio=3.0)
    assert one.points[-1]["tau_max"] == 0.0
    two = run("hogwild-threads", {"eta": 0.5}, SPEED, 2, "updates=400000", ratio=3.0)
    hist = DelayStats.from_dict(two.info["delays"])
    assert hist.count == two.points[-1]["updates"] == 400000   # every update measured once
    assert hist.max > 0 and two.points[-1]["tau_max"] == hist.max
    assert all(k in two.points[-1] for k in ("tau_mean", "tau_q50", "tau_q90", "tau_q99"))
    assert two.info["threads"] == 2 and two.points[-1]["subopt"] < 0.8 * two.points[0]["subopt"]


@pytest.mark.parametrize("wparams", [DENSE, SPARSE], ids=["dense", "sparse"])
def test_delays_each_thread_folds_are_the_delays_it_measured(wparams):
    """lin.sgd / lin.svrg with ``delays=`` fold each thread's delays on that thread (two real threads): the
    histogram, sum and max are what DelayStats.add gives for the very arrays the threads folded, and
    every update is counted once."""
    wl = build(wparams)
    for method in ("sgd", "svrg"):
        with Team(2, seed=5) as team:
            lin = ThreadLinear(wl, team)
            w = np.zeros(wl.dim)
            snap = lin.snapshot(w) if method == "svrg" else None
            folded, arrays = DelayStats(cap=3), DelayStats(cap=3)   # a small cap: the overflow bin is used
            parts = []
            real = lin._measured

            def spy(taus, delays):
                parts.append(taus.copy())          # the array each thread folds, kept to compare
                return real(taus, delays)

            lin._measured = spy
            k = 8000   # k * (coordinates per row) over SPLIT_MIN_OPS: the chunks run on the team (at 4000 they ran alone)
            for _ in range(3):
                kw = dict(b=1, eta=0.05, delays=folded)
                got = lin.sgd(w, k, **kw) if method == "sgd" else lin.svrg(w, snap, k, coords=0, **kw)
                assert got is None
            for taus in parts:
                arrays.add(taus)
        assert lin.dispatch()["updates_on_team"] == 3 * k and len(parts) == 6
        assert folded.count == arrays.count == 3 * k == team.count
        assert (folded.hist == arrays.hist).all() and folded.total == arrays.total and folded.max == arrays.max


@pytest.mark.parametrize("plugin, params", [
    ("hogwild-threads", {"eta": 0.05}),
    ("asysvrg-threads", {"eta": 0.05, "coords": 0, "warm_epochs": 1}),
    ("asysvrg-threads", {"eta": 0.05, "coords": 5, "warm_epochs": 1}),
], ids=["hogwild", "asysvrg", "asysvrg-coords"])
def test_a_run_s_delays_count_every_update_once_alone_and_on_the_team(plugin, params):
    """The plugins' loop with the delays folded per thread (adversarial tester breaker30): the run's
    info["delays"] counts each update once, whether its chunk ran alone (small, under SPLIT_MIN_OPS) or on
    the team, and the points' tau fields are those of the histogram."""
    rec = run(plugin, params, {"n": 2000, "d": 300, "lam": 1e-2}, 2, "epochs=3")
    d, last, disp = rec.info["delays"], rec.points[-1], rec.info["dispatch"]
    assert disp["updates_on_team"] > 0 and disp["updates_alone"] > 0, disp
    assert d["count"] == sum(d["hist"].values()) == last["updates"] == disp["updates_on_team"] + disp["updates_alone"]
    assert last["tau_max"] == d["max"] and last["tau_mean"] == pytest.approx(d["total"] / d["count"], abs=1e-12)


def test_a_folded_histogram_of_another_shape_or_negative_counts_is_refused():
    stats = DelayStats(cap=3)
    with pytest.raises(ValueError, match="shape"):
        stats.add_histogram(np.zeros(4, dtype=np.int64), 0, 0)
    with pytest.raises(ValueError, match="negative"):
        stats.add_histogram(np.array([1, -1, 0, 0, 0]), 0, 0)
    stats.add_histogram(np.array([1, 2, 0, 0, 1]), 7, 9)
    assert (stats.count, stats.total, stats.max) == (4, 7, 9)


@pytest.mark.parametrize("wparams", [DENSE, SPARSE], ids=["dense", "sparse"])
def test_asysvrg_threads_converges_linearly(wparams):
    rec = run("asysvrg-threads", {"eta": 0.5 if wparams is SPARSE else 0.08}, wparams, 2, "epochs=80", target=1e-9)
    assert rec.status == "target", (rec.status, rec.points[-1]["subopt"])
    assert rec.info["write"] == "vector" and "delays" in rec.info


def test_asysvrg_threads_warm_start_and_coordinate_blocks():
    rec = run("asysvrg-threads", {"eta": 0.08, "warm_epochs": 2, "coords": 5}, DENSE, 2, "epochs=40")
    assert rec.info["write"] == "block" and rec.info["m"] == 600 * 4
    assert rec.points[-1]["subopt"] < 1e-3 * rec.points[0]["subopt"]


def test_declines_what_it_cannot_run():
    rec = execute(RunSpec("hogwild-threads", "digits", {}, {}, 2, 0, Budget(epochs=1)))
    assert rec.status == "skipped" and "linear loss" in rec.reason
    rec = execute(RunSpec("asysvrg-threads", "logreg", {"coords": 2}, SPARSE, 2, 0, Budget(epochs=1)))
    assert rec.status == "skipped" and "dense data only" in rec.reason


def test_cli_hogwild_threads(cli):
    proc = cli("run", "--plugin", "hogwild-threads", "--workload", "logreg", "--workers", "2", "--budget",
               "epochs=5", "--workload-param", "sparse=true", "--workload-param", "n=600",
               "--workload-param", "d=800", "--workload-param", "density=0.02", timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    from harness.run.store import Store

    (rec,) = Store().runs(plugin="hogwild-threads", with_points=True)
    assert rec.status == "budget" and rec.workers == 2 and rec.points[-1]["tau_max"] is not None


# -- two threads process about twice the updates per second of one ---------------------------------------------
def test_kernels_release_the_gil():
    """While a worker thread runs a kernel, the main thread keeps running Python code: the kernel
    holds no GIL (with the GIL held the main thread would make no progress until it returned)."""
    import threading
    import time

    from harness.plugins.threads import kernels as K

    wl = build(SPEED)
    csr = K0.csr_arrays(wl.X)
    k = 300_000
    idx = np.random.default_rng(0).integers(0, wl.n, size=k)
    with Team(1, seed=0) as team:
        S, Q, H = ThreadLinear(wl, team).drift(k, eta=0.5, svrg=False)
    args = (np.zeros(wl.dim), *csr, wl.y, idx, 1, 0, 0, S, Q, H, np.zeros(1), np.zeros(1), 0, np.empty(1),
            K.WRITE_CODES["atomic"], False, np.zeros((1, 8), dtype=np.int64), 0, np.empty(k, dtype=np.int64))
    K.linear_csr(*args[:5], idx[:0], *args[6:])             # compiled / loaded before timing
    window = []

    def work():
        window.append(time.perf_counter())
        K.linear_csr(*args)
        window.append(time.perf_counter())

    worker = threading.Thread(target=work)
    stamps, spins = [], 0
    worker.start()
    while worker.is_alive():
        spins += 1
        if spins % 256 == 0:
            stamps.append(time.perf_counter())
    worker.join()
    assert args[-3][0, 0] == k                                # the kernel ran all its updates
    lo, hi = window
    inside = [s for s in stamps if lo + 0.1 * (hi - lo) < s < hi - 0.1 * (hi - lo)]
    # with the GIL held, the main thread could not run at all while the kernel did
    assert hi - lo > 0.01 and len(inside) > 20, (len(inside), hi - lo)


@pytest.mark.slow
def test_two_threads_process_more_updates_per_second():
    """Best of 3 interleaved runs each, both with plain writes (one thread applies plain stores under
    every mode: against 2 atomic threads it would compare two kernels, not two thread counts); the
    physical limit is 2x. The tolerance (> 1.2x) is loose
    because this 2-core machine is shared; the benchmark (benchmarks/threads_vs_sklearn.py) reports
    the ratio with its spread. When the machine itself gives less than 1.6x to a compute-bound loop
    on 2 threads (``parallel_capacity``, measured interleaved: other jobs, or the host's other
    tenants) at any of the three probes, the speedup cannot show, and a miss is reported as skipped
    with that figure (one lucky probe among busy ones does not make the machine free: seen with two
    busy loops beside the suite, probes 1.95, 0.99, 1.29), or when the 1-minute load average
    exceeded 2.5 during the test (other jobs ran between the probes)."""
    from harness.plugins.threads.probe import parallel_capacity

    rates, capacity, load = {1: [], 2: []}, [], [os.getloadavg()[0]]
    for _ in range(3):
        capacity.append(parallel_capacity(2))
        for workers in (1, 2):
            rec = run("hogwild-threads", {"eta": 0.5, "write": "plain"}, WIDE, workers, "updates=1000000", ratio=8.0)
            last = rec.points[-1]
            rates[workers].append(last["updates"] / last["time_s"])
    ratio = max(rates[2]) / max(rates[1])
    load.append(os.getloadavg()[0])
    # the probes are instants; the load average (1 min) covers the runs between them: beyond this
    # test's own threads (<= 2), other jobs shared the cores
    if ratio <= 1.2 and (min(capacity) < 1.6 or max(load) > 2.5):
        pytest.skip(f"the machine gave 2 threads {min(capacity):.2f}x a compute loop's one-thread rate "
                    f"(load {max(load):.1f}): 2 threads / 1 thread = {ratio:.2f}")
    assert ratio > 1.2, f"2 threads / 1 thread updates per second = {ratio:.2f} ({rates}, capacity {capacity})"


LOCK_CACHE_PROBE = """
import json
import numpy as np
from harness.plugins.threads import kernels as KT
from harness.plugins.threads.linear import Snapshot, ThreadLinear
from harness.plugins.threads.team import Team
from types import SimpleNamespace
wl = SimpleNamespace(loss="squared", n=16, dim=9, lam=0.0, sparse=False, y=np.ones(16), X=np.ones((16, 9)))
with Team(2, seed=0) as team:
    lin = ThreadLinear(wl, team)
    lin.code = 2
    w = np.zeros(9)
    lin.sgd(w, 20000, b=2, eta=1.0)
    lin.svrg(w, Snapshot(np.zeros(16), -np.ones(9), None, -wl.y), 20000, b=1, eta=1.0, coords=0)
    rows = lin.writes()["lock"]["rows"]
stats = {f.__name__: (sum(f.stats.cache_hits.values()), sum(f.stats.cache_misses.values()))
         for f in (KT.hogwild_dense, KT.asysvrg_dense)}
print(json.dumps({"w": w.tolist(), "rows": rows, "stats": stats}))
"""


@pytest.mark.slow
def test_the_row_lock_kernels_compile_into_an_empty_cache_and_load_from_it(tmp_path):
    """A fresh clone's empty numba cache: the kernels with the row lock (its inline ``pause`` and
    ``sched_yield`` system call) compile and run exactly; a second process loads them from the cache
    (hits, no misses, nothing on stderr) and runs exactly too."""
    import json
    import subprocess
    import sys

    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba"), "PYTHONWARNINGS": "error"}
    env.pop("HARNESS_THREADS_ATOMIC", None)
    seen = []
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-c", LOCK_CACHE_PROBE], capture_output=True, text=True, env=env,
                              timeout=300)
        assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr[-2000:]
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        assert out["w"] == [40000.0] * 9 and out["rows"] == 40000, out
        seen.append(out["stats"])
    assert all(misses == 1 and hits == 0 for hits, misses in seen[0].values()), seen
    assert all(hits == 1 and misses == 0 for hits, misses in seen[1].values()), seen
