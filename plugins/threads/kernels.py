"""numba ``nogil`` kernels of the shared-memory backend: each call runs one thread's chunk of
lock-free updates on the shared iterate (the Hogwild! model: coordinate-wise inconsistent reads).

Coordinate writes (``write`` code, :data:`WRITE_CODES`): Nguyen et al. 2021 (Sec. 2, "the only atomic operation
is the update of a single coordinate") and Huo & Huang 2017's (2.4) apply each coordinate's update atomically:

    0 atomic  every write is applied, each coordinate's update atomic. Dense rows (``scheme``,
              :data:`SCHEMES`): by default the row's writes under one lock word (``lock``, taken
              with one ``lock cmpxchg``, released with a store): writers exclude each other, readers
              still read inconsistently (2.6); or a hardware transaction per block of TX_BLOCK
              coordinates where the CPU has them (x86 RTM), after an abort by compare-and-swap
              16-byte pairs; or those pairs only (:func:`write_all`). Sparse rows and single
              coordinates: a transaction per row where the CPU has them, else a compare-and-swap
              loop per coordinate; the failed attempts (another thread wrote the coordinate in
              between) are counted.
    1 racy    read, compute, one compare-and-swap: when another thread wrote the coordinate in between,
              this write is dropped, as an unsynchronised store would drop one of the two; the lost
              writes are counted exactly
    2 plain   unsynchronised load and store (the fastest; lost writes happen and are not observable)

Per-thread counters: ``slots[r, 1]`` coordinate writes attempted, ``slots[r, 2]`` failed
compare-and-swaps (atomic: retries; racy: lost writes), ``slots[r, 3]`` blocks committed in a
transaction, ``slots[r, 4]`` transaction attempts aborted, ``slots[r, 5]`` rows written under the
row lock, ``slots[r, 6]`` of those, the ones that found it held and waited.

Staleness stamps (no atomics needed): ``slots[r, 0]`` counts the updates thread r has written
(only thread r writes its slot; rows are 64 bytes apart so threads do not share a cache line).
The global update count is the sum of the slots. An update reads it when it starts reading the
iterate (``read``) and again just before it writes (``now``); its delay is tau = now - read, the
number of other threads' updates completed while it computed. With one thread tau = 0.

Sparse data (CSR): an update touches only the nonzero coordinates of its rows. The dense part of
an update, the l2 shrink (and SVRG's constant drift eta grad_loss f(w~)), is the same affine map on
every coordinate, so over a chunk it is carried exactly by two scalars per update count instead of
O(d) work per update ("scaled iterate", as in Bottou's and scikit-learn's SGD, extended to the drift):

    w_t = S[t] v - Q[t] mu      (t = update count - T0; v the stored vector, mu = grad_loss f(w~))
    SGD:   S[t+1] = (1 - eta_t lam) S[t],                    Q = 0
    SVRG:  S[t] = a^t,  Q[t] = eta (1 + a + ... + a^(t-1)),  a = 1 - eta lam

An update reads the margin x_i . w_t = S[t] (x_i . v) - Q[t] (x_i . mu) (x_i . mu once per snapshot)
and writes its sparse step as v_j -= eta_t g x_ij / S[t+1] (the table H[t] = eta_t / S[t+1]). The
chunk's end turns v back into w (the monitor then sees the exact iterate). With one thread this is
the serial exact kernel up to rounding; with several, only the sparse writes race (the dense part is
exact for every update count). The chunk is capped so that S stays above e^-200.
Every update prefetches the rows it will read a few rows later (``harness.plugins.algorithms.kernels.PREFETCH_*``; they are
drawn up front).
No allocation, RNG or spin-wait inside the loops: indices are drawn per thread before the call.

The update kernels are compiled without numba's reference counting (``_nrt=False``: they allocate
nothing and hold their array arguments for the whole call). With it, numba increfs / decrefs an array
each time an inlined helper or a row view takes it, and in the update loops that was an atomic add on
the array's header per use: on the shared iterate, a cache line every thread writes, two per update
(measured in the generated code: ``write_all``'s arguments and the prefetched row of X).
"""

from __future__ import annotations

import math
import platform

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from harness.plugins.algorithms.kernels import (PREFETCH_CSR, PREFETCH_GATHER_MIN_D, csr_dot, dphi,
                                                prefetch, prefetch_ahead_dense, prefetch_ahead_dense_svrg,
                                                prefetch_csr_row, prefetch_gather, step_size)


WRITE_CODES = {"atomic": 0, "racy": 1, "plain": 2}
WRITES, FAILED = 1, 2   # stamp-slot columns of the write counters
# how the atomic writes of a dense row are made (``write_all``); measured here, 2 threads on 2 cores writing
# the whole row on every update (benchmarks/threads_vs_sklearn.py (c), d = 50 / 100): the row lock runs at
# the plain stores' speed, transactions and compare-and-swap pairs at a sixth of it (each conflict aborts a
# transaction; a pair is a locked instruction per 2 coordinates)
SCHEMES = {"lock": 2, "tx": 1, "cas": 0}
_X86 = platform.machine().lower() in ("x86_64", "amd64")
_LINUX_X86 = _X86 and platform.system() == "Linux"
SCHEME_CAS, SCHEME_TX, SCHEME_LOCK = 0, 1, 2
LOCK_ROWS, LOCK_WAITS = 5, 6   # stamp-slot columns: rows written under the row lock, and those that waited for it
SPIN_YIELD = 1 << 12   # spins on a held lock between two sched_yield calls (a preempted holder gets the core)


def _word(context, builder, signature, args):
    """The address of ``arr[i]`` for an intrinsic whose first two arguments are (arr, i)."""
    arrty = signature.args[0]
    ary = context.make_array(arrty)(context, builder, args[0])
    return cgutils.get_item_pointer(context, builder, arrty, ary, [args[1]], wraparound=False)


@intrinsic
def cas_f64(typingctx, arr, i, expected, new):
    """Compare-and-swap on the float64 ``arr[i]``: if its bits equal ``expected``'s, store ``new`` and
    return True, else False (LLVM ``cmpxchg`` on the 64-bit word; numba has no public CPU atomics)."""
    sig = types.boolean(arr, i, expected, new)

    def codegen(context, builder, signature, args):
        ptr = _word(context, builder, signature, args)
        i64 = ir.IntType(64)
        word = builder.bitcast(ptr, i64.as_pointer())
        res = builder.cmpxchg(word, builder.bitcast(args[2], i64), builder.bitcast(args[3], i64),
                              "monotonic", "monotonic")
        return builder.extract_value(res, 1)

    return sig, codegen


@intrinsic
def cas2_f64(typingctx, arr, i, e0, e1, n0, n1):
    """Compare-and-swap on the 16 bytes ``arr[i], arr[i + 1]`` (``&arr[i]`` 16-byte aligned): if their
    bits equal ``e0, e1``, store ``n0, n1`` and return True, else False (LLVM ``cmpxchg`` on i128: x86
    ``lock cmpxchg16b``). Two coordinates' updates in one locked instruction, each still atomic."""
    sig = types.boolean(arr, i, e0, e1, n0, n1)

    def codegen(context, builder, signature, args):
        ptr = _word(context, builder, signature, args)
        i64, i128 = ir.IntType(64), ir.IntType(128)
        word = builder.bitcast(ptr, i128.as_pointer())

        def pair(lo, hi):
            lo = builder.zext(builder.bitcast(lo, i64), i128)
            hi = builder.zext(builder.bitcast(hi, i64), i128)
            return builder.or_(lo, builder.shl(hi, ir.Constant(i128, 64)))

        res = builder.cmpxchg(word, pair(args[2], args[3]), pair(args[4], args[5]), "monotonic", "monotonic")
        return builder.extract_value(res, 1)

    return sig, codegen




@intrinsic
def lock_try(typingctx, arr, i):
    """Take the lock word ``arr[i]`` (int64, 0 free, 1 held) if it is free: True when taken (a
    ``cmpxchg`` 0 -> 1 with acquire order: no access of the locked section moves before it)."""
    sig = types.boolean(arr, i)

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        res = builder.cmpxchg(_word(context, builder, signature, args), ir.Constant(i64, 0), ir.Constant(i64, 1),
                              "acquire", "monotonic")
        return builder.extract_value(res, 1)

    return sig, codegen


@intrinsic
def lock_held(typingctx, arr, i):
    """Whether the lock word ``arr[i]`` is held (an atomic load: a spinning thread reads its cached
    copy until the holder's release invalidates it, and writes nothing)."""
    sig = types.boolean(arr, i)

    def codegen(context, builder, signature, args):
        val = builder.load_atomic(_word(context, builder, signature, args), "monotonic", 8)
        return builder.icmp_unsigned("!=", val, ir.Constant(ir.IntType(64), 0))

    return sig, codegen


@intrinsic
def lock_release(typingctx, arr, i):
    """Release the lock word ``arr[i]`` (a store of 0 with release order: every access of the locked
    section is visible before it)."""
    sig = types.void(arr, i)

    def codegen(context, builder, signature, args):
        builder.store_atomic(ir.Constant(ir.IntType(64), 0), _word(context, builder, signature, args), "release", 8)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def spin_pause(typingctx, spins):
    """One turn of a spin wait: x86 ``pause``, and every SPIN_YIELD turns (Linux x86-64) the
    ``sched_yield`` system call, so that a lock holder preempted on a loaded machine gets a core."""
    sig = types.void(spins)

    def codegen(context, builder, signature, args):
        if not _X86:
            return context.get_dummy_value()
        builder.asm(ir.FunctionType(ir.VoidType(), []), "pause", "~{memory}", [], True)
        if _LINUX_X86:
            i64 = ir.IntType(64)
            due = builder.icmp_unsigned("==", builder.and_(args[0], ir.Constant(i64, SPIN_YIELD - 1)),
                                        ir.Constant(i64, 0))
            with builder.if_then(due, likely=False):
                builder.asm(ir.FunctionType(i64, [i64]), "syscall", "={rax},{rax},~{rcx},~{r11},~{memory}",
                            [ir.Constant(i64, 24)], True)   # 24: sched_yield
        return context.get_dummy_value()

    return sig, codegen


@njit(nogil=True, cache=True, inline="always")
def lock_acquire(lock):
    """Take the row lock ``lock[0]``, spinning on a read while another thread holds it; returns 1 when
    it had to wait, else 0."""
    if lock_try(lock, 0):
        return 0
    spins = 1
    while lock_held(lock, 0) or not lock_try(lock, 0):
        spin_pause(spins)
        spins += 1
    return 1


# hardware transactions (x86 RTM), for the atomic dense writes: one transaction applies a block of
# coordinate updates where a compare-and-swap pair costs a locked instruction (~20 cycles) per 2 coordinates
TX_STARTED = -1        # tx_begin's value when the transaction runs
TX_CAPACITY = 8        # abort status bit: the transaction's data exceeded what the CPU can track
TX_BLOCK = 256         # coordinates per transaction: 2 KiB, 32 cache lines (L1 tracks the write set)
TX_TRIES = 3           # attempts per block before the compare-and-swap path
TX_GIVE_UP = 64        # aborts in one kernel call after which it stops trying while they outnumber commits
                       # (a CPU whose transactions always abort, a storm of conflicts: CAS pairs are cheaper)
TX_COMMITS, TX_ABORTS = 3, 4   # stamp-slot columns of the transaction counters


if _X86:   # the JIT assembles tx_begin / tx_end's inline asm (numba sets up the native target, not its asm parser)
    from llvmlite import binding as _llvm

    _llvm.initialize_native_asmparser()


def cpu_has_rtm() -> bool:
    """Whether this CPU runs x86 RTM transactions: CPUID says so (as LLVM reads it) and, on Linux, so
    does the kernel (``rtm`` in /proc/cpuinfo's flags: it drops the flag where TSX is turned off or
    made to always abort by microcode, which CPUID can still show). ``tx_begin`` must not run where
    the CPU lacks RTM (#UD); where transactions abort anyway the kernels stop trying (TX_GIVE_UP)."""
    if not _X86:
        return False
    try:
        if not _llvm.get_host_cpu_features().get("rtm", False):
            return False
    except (RuntimeError, OSError):  # pragma: no cover - llvmlite cannot read the host's features
        return False
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:  # not Linux: CPUID alone
        return True
    return "rtm" in flags.split()


@intrinsic
def tx_begin(typingctx):
    """Start a hardware transaction (``xbegin``): returns TX_STARTED, or after an abort (every store since
    rolled back, execution resumed here) the abort status (bit 1: a retry may land, 2: conflict, 3:
    capacity). Emitted as raw bytes (``C7 F8`` rel32 = 0: the abort path is the next instruction, as
    compilers expand ``_xbegin()``), so it compiles whatever LLVM's target features; it runs only where
    :func:`cpu_has_rtm` (elsewhere it is an illegal instruction). Not x86: always "aborted" (0)."""
    sig = types.int32()

    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        if not _X86:
            return ir.Constant(i32, 0)
        return builder.asm(ir.FunctionType(i32, []), "movl $$-1, %eax\n\t.byte 0xc7, 0xf8, 0x00, 0x00, 0x00, 0x00",
                           "={eax},~{memory}", [], True)

    return sig, codegen


@intrinsic
def tx_end(typingctx):
    """Commit the running transaction (``xend``, bytes ``0F 01 D5``)."""
    sig = types.void()

    def codegen(context, builder, signature, args):
        if _X86:
            builder.asm(ir.FunctionType(ir.VoidType(), []), ".byte 0x0f, 0x01, 0xd5", "~{memory}", [], True)
        return context.get_dummy_value()

    return sig, codegen


@njit(nogil=True, cache=True, inline="always")
def write(v, j, s, p, l, mode):
    """v[j] <- v[j] - s (p + l v[j]) under write ``mode`` (module docstring); returns the failed
    compare-and-swaps (atomic: retries; racy: 1 when the write was lost; plain: 0)."""
    if mode == 2:
        v[j] -= s * (p + l * v[j])
        return 0
    old = v[j]
    if cas_f64(v, j, old, old - s * (p + l * old)):
        return 0
    if mode == 1:
        return 1
    fails = 1
    while True:
        old = v[j]
        if cas_f64(v, j, old, old - s * (p + l * old)):
            return fails
        fails += 1


@njit(nogil=True, cache=True, inline="always")
def write_all(v, p, s, l, mode, first, scheme, lock):
    """v[j] <- v[j] - s (p[j] + l v[j]) for every j under write ``mode`` (:func:`write`, the same
    expression); returns (failed compare-and-swaps, blocks committed in a hardware transaction,
    transaction attempts aborted, 1 if it waited for the row lock).

    plain   one vectorised pass
    racy    one compare-and-swap per coordinate (its lost writes counted per coordinate)
    atomic  by ``scheme`` (:data:`SCHEMES`):
            lock  the plain pass under the row lock ``lock[0]`` (:func:`lock_acquire`): no other
                  writer between a coordinate's read and its write, so each update is atomic
            tx    blocks of TX_BLOCK coordinates, each in one hardware transaction (its updates land
                  together or not at all; up to TX_TRIES attempts, no more after a capacity abort);
                  a block that did not land goes as ``cas`` does
            cas   16-byte aligned pairs (``first``, 0 or 1: the first index whose address is a
                  multiple of 16), one ``lock cmpxchg16b`` per pair retried until it lands (a retry
                  counted per pair), a coordinate left at either end by a compare-and-swap loop.
            Measured here, d = 100, one thread: pairs cost ~250 ns per update over plain stores (a
            locked instruction per 2 coordinates), a transaction ~30 ns, the lock ~5 ns; two threads
            on two cores: the lock 3.9 M updates/s, plain stores 3.4 M, transactions 1.1 M, pairs 0.8 M."""
    d = v.shape[0]
    fails, commits, aborts = 0, 0, 0
    if mode == 2:
        for j in range(d):
            v[j] -= s * (p[j] + l * v[j])
    elif mode == 0 and scheme == SCHEME_LOCK:
        waited = lock_acquire(lock)
        for k in range(d):
            j = np.uint64(k)
            v[j] -= s * (p[j] + l * v[j])
        lock_release(lock, 0)
        return 0, 0, 0, waited
    elif mode == 1:
        for j in range(d):
            a = v[j]
            if not cas_f64(v, j, a, a - s * (p[j] + l * a)):
                fails += 1
    else:
        for lo in range(0, d, TX_BLOCK):
            hi = min(lo + TX_BLOCK, d)
            tries = TX_TRIES if scheme == SCHEME_TX else 0
            while tries > 0:
                status = tx_begin()
                if status == TX_STARTED:
                    for k in range(hi - lo):
                        j = np.uint64(lo + k)     # unsigned: no negative-index wraparound, a vectorised loop
                        v[j] -= s * (p[j] + l * v[j])
                    tx_end()
                    commits += 1
                    tries = -1                    # landed
                else:
                    aborts += 1
                    tries = 0 if status & TX_CAPACITY else tries - 1
            if tries == -1:
                continue
            j = lo                                # not landed: the block by compare-and-swap
            if (j - first) % 2 == 1:              # a coordinate before the first aligned pair
                while True:
                    a = v[j]
                    if cas_f64(v, j, a, a - s * (p[j] + l * a)):
                        break
                    fails += 1
                j += 1
            while j + 1 < hi:
                while True:
                    a, b = v[j], v[j + 1]
                    if cas2_f64(v, j, a, b, a - s * (p[j] + l * a), b - s * (p[j + 1] + l * b)):
                        break
                    fails += 1
                j += 2
            if j < hi:                            # one left at the end
                while True:
                    a = v[j]
                    if cas_f64(v, j, a, a - s * (p[j] + l * a)):
                        break
                    fails += 1
    return fails, commits, aborts, 0


@njit(nogil=True, cache=True, inline="always")
def global_count(slots):
    c = 0
    for r in range(slots.shape[0]):
        c += slots[r, 0]
    return c


@njit(nogil=True, cache=True, _nrt=False)
def hogwild_dense(w, X, y, idx, b, code, lam, schedule, eta, t0, beta, gbuf, mode, first, scheme, lock, slots, me,
                  taus):
    """Hogwild! SGD (Nguyen et al. 2021, eq. (2)): w <- w - eta_t (1/b) sum_{i in B} grad f_i(w_hat), w_hat = w as read;
    each coordinate written under ``mode`` (module docstring; :func:`write_all`: ``first`` its pairs' start,
    ``scheme`` how atomic rows are written, ``lock`` the row lock)."""
    d, rows = w.shape[0], idx.shape[0]
    fails, commits, aborts, waits = 0, 0, 0, 0
    for u in range(rows // b):
        read = global_count(slots)                 # version of the iterate this update reads
        for r in range(b):                         # each of its rows asks for the one PREFETCH_DENSE rows ahead
            prefetch_ahead_dense(X, y, idx, u * b + r)
        if scheme == SCHEME_TX and aborts > TX_GIVE_UP and aborts > commits:
            scheme = SCHEME_CAS                    # where transactions keep aborting, CAS pairs
        if b == 1:                                 # one sample: no gradient buffer, one pass to write
            i = idx[u]
            g = dphi(code, fdot(X, i, w), y[i])
            eta_t = step_size(schedule, eta, t0, beta, read)
            now = global_count(slots)
            if mode == 2:                          # fused: read x_i once more, no buffer
                for j in range(d):
                    w[j] -= eta_t * (g * X[i, j] + lam * w[j])
            else:
                for j in range(d):
                    gbuf[j] = g * X[i, j]
                f, c, a, z = write_all(w, gbuf, eta_t, lam, mode, first, scheme, lock)
                fails, commits, aborts, waits = fails + f, commits + c, aborts + a, waits + z
            slots[me, 0] += 1
            taus[u] = now - read
            continue
        for j in range(d):
            gbuf[j] = 0.0
        for r in range(b):
            i = idx[u * b + r]
            g = dphi(code, fdot(X, i, w), y[i])
            for j in range(d):
                gbuf[j] += g * X[i, j]
        eta_t = step_size(schedule, eta, t0, beta, read)
        now = global_count(slots)                  # version it writes onto
        for j in range(d):
            gbuf[j] /= b
        f, c, a, z = write_all(w, gbuf, eta_t, lam, mode, first, scheme, lock)
        fails, commits, aborts, waits = fails + f, commits + c, aborts + a, waits + z
        slots[me, 0] += 1
        taus[u] = now - read
    slots[me, WRITES] += (rows // b) * d
    slots[me, FAILED] += fails
    slots[me, TX_COMMITS] += commits
    slots[me, TX_ABORTS] += aborts
    if mode == 0 and scheme == SCHEME_LOCK:
        slots[me, LOCK_ROWS] += rows // b
        slots[me, LOCK_WAITS] += waits


@njit(nogil=True, cache=True, fastmath={"reassoc"})
def fdot(X, i, w):
    """x_i . w with the sum reassociated (vectorised); the threads kernels' dense margin."""
    s = 0.0
    for j in range(X.shape[1]):
        s += X[i, j] * w[j]
    return s


@njit(nogil=True, cache=True, fastmath={"reassoc"}, inline="always")
def fcsr_dot(data, indices, lo, hi, v):
    """sum_k data[k] v[indices[k]] for k in lo..hi-1 with the sum reassociated (several partial sums
    instead of one chain of dependent adds; the threads kernels' sparse margin, like ``fdot``)."""
    s = 0.0
    for k in range(lo, hi):
        s += data[k] * v[indices[k]]
    return s


@njit(nogil=True, cache=True, _nrt=False)
def asysvrg_dense(u_vec, X, y, g0, mu_loss, idx, b, code, lam, eta, gbuf, gr, coords, kidx, mode, first, scheme, lock,
                  slots, me, taus):
    """Shared-AsySVRG inner iterations (Huo & Huang 2017, Alg. 1):
    v = (1/b) sum [grad f_i(w_hat) - grad f_i(w~)] + grad f(w~) (2.5) at the iterate as read (2.6);
    write (u)_k -= eta (v)_k (2.4) for every k (coords = 0) or for the cyclic block of ``coords`` coordinates
    starting at kidx[t]; each under write ``mode`` (``first``, ``scheme``, ``lock``: :func:`write_all`).
    ``g0[i]`` = phi'(x_i . w~), taken with the snapshot (:func:`loss_grad_rows_dense`)."""
    d, rows = u_vec.shape[0], idx.shape[0]
    fails, commits, aborts, waits = 0, 0, 0, 0
    for t in range(rows // b):
        read = global_count(slots)
        for r in range(b):
            prefetch_ahead_dense_svrg(X, y, g0, idx, t * b + r)
        for r in range(b):
            i = idx[t * b + r]
            gr[r] = dphi(code, fdot(X, i, u_vec), y[i]) - g0[i]
        if scheme == SCHEME_TX and aborts > TX_GIVE_UP and aborts > commits:
            scheme = SCHEME_CAS                    # where transactions keep aborting, CAS pairs
        if coords == 0 and b == 1 and mode == 2:   # fused: the buffered expression in one pass, no buffer
            i = idx[t]
            g = gr[0]
            now = global_count(slots)
            for j in range(d):
                u_vec[j] -= eta * ((g * X[i, j] + mu_loss[j]) + lam * u_vec[j])   # b = 1: x / 1 = x exactly
        elif coords == 0 and b == 1:               # one sample: the buffer holds its step directly
            i = idx[t]
            g = gr[0]
            for j in range(d):
                gbuf[j] = g * X[i, j] + mu_loss[j]
            now = global_count(slots)
            f, c, a, z = write_all(u_vec, gbuf, eta, lam, mode, first, scheme, lock)
            fails, commits, aborts, waits = fails + f, commits + c, aborts + a, waits + z
        elif coords == 0:
            for j in range(d):
                gbuf[j] = 0.0
            for r in range(b):
                i = idx[t * b + r]
                g = gr[r]
                for j in range(d):
                    gbuf[j] += g * X[i, j]
            for j in range(d):
                gbuf[j] = gbuf[j] / b + mu_loss[j]
            now = global_count(slots)
            f, c, a, z = write_all(u_vec, gbuf, eta, lam, mode, first, scheme, lock)
            fails, commits, aborts, waits = fails + f, commits + c, aborts + a, waits + z
        else:
            now = global_count(slots)
            k0 = kidx[t]
            for c in range(coords):
                k = (k0 + c) % d
                acc = 0.0
                for r in range(b):
                    acc += gr[r] * X[idx[t * b + r], k]
                fails += write(u_vec, k, eta, acc / b + mu_loss[k], lam, mode)
        slots[me, 0] += 1
        taus[t] = now - read
    slots[me, WRITES] += (rows // b) * (d if coords == 0 else coords)
    slots[me, FAILED] += fails
    slots[me, TX_COMMITS] += commits
    slots[me, TX_ABORTS] += aborts
    if mode == 0 and scheme == SCHEME_LOCK and coords == 0:
        slots[me, LOCK_ROWS] += rows // b
        slots[me, LOCK_WAITS] += waits


@njit(nogil=True, cache=True, _nrt=False)
def linear_csr(v, data, indices, indptr, y, idx, b, code, T0, S, Q, H, x_mu, g0, svrg, gr, mode, tx, slots, me,
               taus):
    """Hogwild! SGD (Nguyen et al. 2021, eq. (2); ``svrg = 0``) or Shared-AsySVRG inner iterations
    (Huo & Huang 2017, Alg. 1, (2.4)-(2.6); ``svrg = 1``) on CSR rows, on the scaled iterate
    w_t = S[t] v - Q[t] mu (module docstring):

        z_i = x_i . w_hat = S[t] (x_i . v) - Q[t] (x_i . mu)             the iterate as read (2.6)
        g_i = phi'(z_i)              (SVRG: phi'(z_i) - g0[i], g0[i] = phi'(x_i . w~))   (2.5), loss part of row i
        v_j -= (eta_t / S[t+1]) (1/b) sum_i g_i x_ij                      sparse writes (2.4), ``mode``

    Atomic writes with ``tx``: a row's nonzeros (TX_BLOCK at a time) in one hardware transaction, as
    :func:`write_all` does for dense rows; a compare-and-swap loop per coordinate otherwise.
    ``indices`` and ``indptr`` unsigned, as ``csr_arrays`` gives them."""
    hi = H.shape[0] - 1
    rows = idx.shape[0]
    fails, writes, commits, aborts = 0, 0, 0, 0
    block = np.uint64(TX_BLOCK)
    gather = v.shape[0] >= PREFETCH_GATHER_MIN_D
    for u in range(rows // b):
        read = global_count(slots)
        t = min(max(read - T0, 0), hi)
        for r in range(b):                         # margins at the iterate as read
            p = u * b + r
            # the row PREFETCH_CSR ahead, and the next row's coordinates of v (d large: v outside L2). Written
            # out, not as algorithms.kernels.prefetch_ahead_csr + its own test for the gather: that form ran
            # 3.5-4% fewer updates per second at n = d = 1M, 1 and 2 threads, in two interleaved A/B rounds
            if p + PREFETCH_CSR < rows:
                ahead = idx[p + PREFETCH_CSR]
                prefetch_csr_row(data, indices, indptr, ahead)
                prefetch(y, ahead)                 # its label (and snapshot value): per-sample arrays read at random
                if svrg:
                    prefetch(x_mu, ahead)
                    prefetch(g0, ahead)
                if gather:
                    prefetch_gather(v, indices, indptr, idx[p + 1])
            i = idx[p]
            z = fcsr_dot(data, indices, indptr[i], indptr[i + 1], v) * S[t]
            if svrg:
                z -= Q[t] * x_mu[i]
                gr[r] = dphi(code, z, y[i]) - g0[i]
            else:
                gr[r] = dphi(code, z, y[i])
        now = global_count(slots)                  # version it writes onto
        c = H[t] / b
        for r in range(b):
            i = idx[u * b + r]
            cr = c * gr[r]
            if mode == 2:                          # plain: v - cr (x + 0 v) = v - cr x, one store per nonzero
                for k in range(indptr[i], indptr[i + 1]):
                    v[indices[k]] -= cr * data[k]
            elif mode == 0 and tx:
                lo, end = indptr[i], indptr[i + 1]
                while lo < end:
                    top = min(lo + block, end)
                    tries = TX_TRIES
                    while tries > 0:
                        status = tx_begin()
                        if status == TX_STARTED:
                            for k in range(lo, top):   # the plain store's value: v - cr x
                                v[indices[k]] -= cr * data[k]
                            tx_end()
                            commits += 1
                            tries = -1
                        else:
                            aborts += 1
                            tries = 0 if status & TX_CAPACITY else tries - 1
                    if tries == 0:                     # not landed: compare-and-swap per coordinate
                        for k in range(lo, top):
                            fails += write(v, indices[k], cr, data[k], 0.0, mode)
                    lo = top
            else:
                for k in range(indptr[i], indptr[i + 1]):
                    fails += write(v, indices[k], cr, data[k], 0.0, mode)
            writes += indptr[i + 1] - indptr[i]
        slots[me, 0] += 1
        taus[u] = now - read
        tx = tx and not (aborts > TX_GIVE_UP and aborts > commits)
    slots[me, WRITES] += writes
    slots[me, FAILED] += fails
    slots[me, TX_COMMITS] += commits
    slots[me, TX_ABORTS] += aborts


@njit(nogil=True, cache=True)
def fold_delays(taus, hist):
    """Adds the delays ``taus`` to the histogram ``hist`` (hist[min(tau, len(hist) - 1)] += 1, the
    last bin the overflow: ``DelayStats.hist``'s layout) in one pass, on the thread that measured them
    (so the fold is not serial work after the join); returns the sum of ``taus``, their max (0 at least) and
    their min where negative, else 0 (the caller refuses a negative delay)."""
    top = hist.shape[0] - 1
    total, hi, lo = 0, 0, 0
    for u in range(taus.shape[0]):
        t = taus[u]
        total += t
        hi = max(hi, t)
        lo = min(lo, t)
        hist[min(max(t, 0), top)] += 1
    return total, hi, lo


@njit(nogil=True, cache=True)
def drift_tables(schedule, eta, t0, beta, lam, T0, lo, k, const, S, Q, H):
    """Entries lo..k of S and Q and lo..k-1 of H (:func:`linear_csr`) for updates T0+lo .. T0+k-1
    (the entries below lo are already there). ``const``: a constant step eta (SGD's schedule 0, SVRG):
    the closed forms S[j] = a^j, Q[j] = eta (1 - a^j) / (1 - a), H[j] = eta / S[j+1], which do not
    depend on T0, evaluated exactly every 64 entries and by the one-step recurrences in between
    (S <- a S, Q <- a Q + eta, H <- H / a); else SGD's decaying schedule (Q unused)."""
    if lo == 0:
        S[0] = 1.0
        Q[0] = 0.0
    if const:
        a = 1.0 - eta * lam
        L = math.log1p(-eta * lam)
        for j in range(max(lo, 1), k + 1):
            if j % 64 == 0 or j == lo or j == 1:
                S[j] = math.exp(j * L)
                Q[j] = -math.expm1(j * L) / lam if lam > 0.0 else eta * j
            else:
                S[j] = S[j - 1] * a
                Q[j] = Q[j - 1] * a + eta
        for j in range(lo, k):
            H[j] = eta / S[j + 1]
        return
    for j in range(lo, k):
        eta_t = step_size(schedule, eta, t0, beta, T0 + j)
        S[j + 1] = S[j] * (1.0 - eta_t * lam)
        Q[j + 1] = 0.0
        H[j] = eta_t / S[j + 1]


@njit(nogil=True, cache=True)
def loss_grad_rows_dense(X, y, w, lo, hi, code, z0, g0, gsum):
    """Rows lo..hi-1 of the full gradient at the snapshot: z0_i = x_i . w (the reassociated ``fdot``, as
    the updates' margins), g0_i = phi'(z0_i), gsum = sum g0_i x_i."""
    d = X.shape[1]
    gsum[:] = 0.0
    for i in range(lo, hi):
        z = fdot(X, i, w)
        z0[i] = z
        g = dphi(code, z, y[i])
        g0[i] = g
        for j in range(d):
            gsum[j] += g * X[i, j]


@njit(nogil=True, cache=True)
def loss_grad_rows_csr(data, indices, indptr, y, w, lo, hi, code, z0, g0, gsum):
    """As :func:`loss_grad_rows_dense` on CSR rows."""
    gather = w.shape[0] >= PREFETCH_GATHER_MIN_D
    gsum[:] = 0.0
    for i in range(lo, hi):
        if gather and i + 1 < hi:                  # the coordinates the next row reads and writes
            prefetch_gather(w, indices, indptr, i + 1)
            prefetch_gather(gsum, indices, indptr, i + 1)
        z = csr_dot(data, indices, indptr, i, w)
        z0[i] = z
        g = dphi(code, z, y[i])
        g0[i] = g
        for k in range(indptr[i], indptr[i + 1]):
            gsum[indices[k]] += g * data[k]


@njit(nogil=True, cache=True)
def csr_matvec_rows(data, indices, indptr, x, lo, hi, out):
    """out[i] = row i . x for rows lo..hi-1."""
    gather = x.shape[0] >= PREFETCH_GATHER_MIN_D
    for i in range(lo, hi):
        if gather and i + 1 < hi:
            prefetch_gather(x, indices, indptr, i + 1)
        out[i] = csr_dot(data, indices, indptr, i, x)


@njit(nogil=True, cache=True)
def sum_rows(parts, scale, lo, hi, out):
    """out[j] = scale * sum_r parts[r, j] for coordinates lo..hi-1 (the threads' partial gradients)."""
    for j in range(lo, hi):
        acc = 0.0
        for r in range(parts.shape[0]):
            acc += parts[r, j]
        out[j] = scale * acc


@njit(nogil=True, cache=True)
def unscale(v, s, q, mu, lo, hi):
    """w = s v - q mu on coordinates lo..hi-1, in place (the scaled iterate back to w; q = 0: no mu)."""
    if q == 0.0:
        for j in range(lo, hi):
            v[j] *= s
    else:
        for j in range(lo, hi):
            v[j] = s * v[j] - q * mu[j]
