"""numba kernels shared by the linear-model plugins (serial, threads, sim, MPI workers).

Loss codes: 0 = logistic (y in {-1,+1}), 1 = squared, 2 = linear phi(z) = -y z (a test loss, in no
workload: every update adds exactly eta_t y x_i, so lost writes show in the iterate).
``dphi`` is d phi / d z at z = x.w.
Dense rows are ``X[i]``; CSR rows are ``data[indptr[i]:indptr[i+1]]`` at ``indices[...]``.
All kernels are ``nogil`` (thread backends call them from Python threads) and cached on disk.
Step-size schedules (code): 0 constant eta; 1 eta / (1 + t / t0); 2 eta / (1 + t / t0) ** beta.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

LOSS_CODES = {"logistic": 0, "squared": 1}
SCHEDULE_CODES = {"constant": 0, "inv": 1, "poly": 2}


def csr_arrays(X) -> tuple:
    """``(data, indices, indptr)`` of the scipy CSR matrix ``X`` for the kernels, the index arrays
    unsigned: ``indices`` as uint32 or uint64 (a view of scipy's int32 / int64), ``indptr`` as uint64.
    numba wraps a negative index around on every access with a signed index (a compare and a select
    per load and store); with an unsigned one it does not, and the sparse update loops run 1.5x faster
    (sparse logreg, 50 nonzeros per row, one thread, measured). The values read are the same, so are
    the results, bit for bit."""
    indices = np.ascontiguousarray(X.indices)
    indices = indices.view(np.uint32 if indices.itemsize == 4 else np.uint64)
    indptr = np.ascontiguousarray(X.indptr, dtype=np.int64).view(np.uint64)
    return np.ascontiguousarray(X.data, dtype=np.float64), indices, indptr


def loss_code(workload) -> int:
    try:
        return LOSS_CODES[workload.loss]
    except KeyError:
        raise ValueError(f"no numba kernel for loss {workload.loss!r}") from None


@njit(nogil=True, cache=True, inline="always")
def dphi(code, z, y):
    if code == 0:
        t = y * z
        if t > 0:
            e = math.exp(-t)
            return -y * e / (1.0 + e)
        return -y / (1.0 + math.exp(t))
    if code == 2:
        return -y
    return z - y


@njit(nogil=True, cache=True, inline="always")
def step_size(schedule, eta, t0, beta, t):
    if schedule == 0:
        return eta
    if schedule == 1:
        return eta / (1.0 + t / t0)
    return eta / (1.0 + t / t0) ** beta


@intrinsic
def prefetch(typingctx, arr, i):
    """Hint the CPU to bring the cache line of ``arr[i]`` into cache (``llvm.prefetch``: read, high
    locality). Random rows of a data set that does not fit in L2 cost a cache miss each; the update
    loops know their future rows (indices are drawn up front) and ask for them a few rows ahead."""
    sig = types.void(arr, i)

    def codegen(context, builder, signature, args):
        arrty = signature.args[0]
        ary = context.make_array(arrty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, arrty, ary, [args[1]], wraparound=False)
        i8p = builder.bitcast(ptr, ir.IntType(8).as_pointer())
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p.type, i32, i32, i32]),
                                            "llvm.prefetch")
        builder.call(fn, [i8p, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen


# how many rows ahead the update loops prefetch (measured on this machine kind, one thread, random rows):
# CSR rows of 50 nonzeros in L3: 1-4 alike (2.2x faster than no prefetch), 8 worse;
# dense rows of 50 from DRAM (40 MB of data): 2 -> 2.2x, 8 -> 2.8x, 16 no better.
# and for CSR rows, the coordinates of w the next row reads once w no longer fits in L2 (512 KiB here):
# d = 1M: 1.5x on one thread; d <= 100k: no gain (it costs one more pass over the row's indices).
PREFETCH_CSR = 2
PREFETCH_DENSE = 8
PREFETCH_GATHER_MIN_D = 1 << 16


@njit(nogil=True, cache=True, inline="always")
def prefetch_csr_row(data, indices, indptr, i):
    """Every cache line of CSR row i (its values and column indices)."""
    lo, hi = indptr[i], indptr[i + 1]
    for k in range(lo, hi, 64 // data.itemsize):
        prefetch(data, k)
    for k in range(lo, hi, 64 // indices.itemsize):
        prefetch(indices, k)


@njit(nogil=True, cache=True, inline="always")
def prefetch_gather(w, indices, indptr, i):
    """The coordinates of w that CSR row i reads (its indices should already be in cache)."""
    for k in range(indptr[i], indptr[i + 1]):
        prefetch(w, indices[k])


@njit(nogil=True, cache=True, inline="always")
def prefetch_dense_row(X, i):
    for j in range(0, X.shape[1], 64 // X.itemsize):
        prefetch(X[i], j)


@njit(nogil=True, cache=True, inline="always")
def prefetch_ahead_dense(X, y, idx, p):
    """Row idx[p + PREFETCH_DENSE] of X and its label y[idx[p + PREFETCH_DENSE]], where there is one: the
    update reading row idx[p] asks for what it will read PREFETCH_DENSE rows later (the serial b = 1 SGD
    loop on dense logreg n = 20000, d = 100 went from 34 to 23.5 ms per 200000 updates with the row, and
    from 27.6 to 23.1 ms with the label too: y, 160 KB, does not stay in L2 while rows of X stream
    through it; the same iterate bit for bit)."""
    if p + PREFETCH_DENSE < idx.shape[0]:
        i = idx[p + PREFETCH_DENSE]
        prefetch_dense_row(X, i)
        prefetch(y, i)


@njit(nogil=True, cache=True, inline="always")
def prefetch_ahead_dense_svrg(X, y, z0, idx, p):
    """As :func:`prefetch_ahead_dense`, and the row's value at the snapshot z0[i] (SVRG's margins or
    loss derivatives at w~, one per sample, read at random as y is)."""
    if p + PREFETCH_DENSE < idx.shape[0]:
        i = idx[p + PREFETCH_DENSE]
        prefetch_dense_row(X, i)
        prefetch(y, i)
        prefetch(z0, i)


@njit(nogil=True, cache=True, inline="always")
def prefetch_ahead_csr(data, indices, indptr, y, idx, p):
    """As :func:`prefetch_ahead_dense` for CSR rows, PREFETCH_CSR rows ahead."""
    if p + PREFETCH_CSR < idx.shape[0]:
        i = idx[p + PREFETCH_CSR]
        prefetch_csr_row(data, indices, indptr, i)
        prefetch(y, i)


@njit(nogil=True, cache=True, inline="always")
def prefetch_ahead_csr_svrg(data, indices, indptr, y, z0, idx, p):
    """As :func:`prefetch_ahead_csr`, and z0[i] (see :func:`prefetch_ahead_dense_svrg`)."""
    if p + PREFETCH_CSR < idx.shape[0]:
        i = idx[p + PREFETCH_CSR]
        prefetch_csr_row(data, indices, indptr, i)
        prefetch(y, i)
        prefetch(z0, i)


@njit(nogil=True, cache=True)
def dense_dot(X, i, w):
    s = 0.0
    for j in range(X.shape[1]):
        s += X[i, j] * w[j]
    return s


@njit(nogil=True, cache=True)
def csr_dot(data, indices, indptr, i, w):
    s = 0.0
    for k in range(indptr[i], indptr[i + 1]):
        s += data[k] * w[indices[k]]
    return s


@njit(nogil=True, cache=True, inline="always")
def csr_scatter(w, data, indices, indptr, idx, first, b, step, coef):
    """The sparse part of a mini-batch step: w -= step * coef[r] / b * x_i for the b rows
    i = idx[first .. first + b - 1] (only their nonzero coordinates are touched)."""
    for r in range(b):
        i = idx[first + r]
        c = step * coef[r] / b
        for k in range(indptr[i], indptr[i + 1]):
            w[indices[k]] -= c * data[k]


@njit(nogil=True, cache=True)
def sgd_dense(w, X, y, idx, b, code, lam, schedule, eta, t0, beta, t_start, gbuf):
    """len(idx) // b mini-batch SGD updates (eq.: w <- w - eta_t (1/b) sum_i grad f_i(w)), in place, each
    row asked for PREFETCH_DENSE rows ahead. b = 1 makes two passes over d per update (the margin, then
    the write), as a plain numba loop does;
    b > 1 accumulates the mini-batch gradient in ``gbuf`` first (the same values: g x_ij / 1 = g x_ij)."""
    d = w.shape[0]
    n_upd = idx.shape[0] // b
    if b == 1:          # one pass over x_i to read and one to write, as a plain loop (no gradient buffer)
        for u in range(n_upd):
            prefetch_ahead_dense(X, y, idx, u)
            i = idx[u]
            g = dphi(code, dense_dot(X, i, w), y[i])
            eta_t = step_size(schedule, eta, t0, beta, t_start + u)
            for j in range(d):
                w[j] -= eta_t * (g * X[i, j] + lam * w[j])
        return
    for u in range(n_upd):
        for j in range(d):
            gbuf[j] = 0.0
        for r in range(b):
            prefetch_ahead_dense(X, y, idx, u * b + r)
            i = idx[u * b + r]
            g = dphi(code, dense_dot(X, i, w), y[i])
            for j in range(d):
                gbuf[j] += g * X[i, j]
        eta_t = step_size(schedule, eta, t0, beta, t_start + u)
        for j in range(d):
            w[j] -= eta_t * (gbuf[j] / b + lam * w[j])


@njit(nogil=True, cache=True)
def sgd_csr(w, data, indices, indptr, y, idx, b, code, lam, schedule, eta, t0, beta, t_start, gbuf):
    """As sgd_dense on CSR rows; the l2 term is applied exactly (a dense O(d) scaling per update)."""
    d = w.shape[0]
    n_upd = idx.shape[0] // b
    for u in range(n_upd):
        eta_t = step_size(schedule, eta, t0, beta, t_start + u)
        # the mini-batch gradient is read at w before the update: collect margins first
        for r in range(b):
            prefetch_ahead_csr(data, indices, indptr, y, idx, u * b + r)
            i = idx[u * b + r]
            gbuf[r] = dphi(code, csr_dot(data, indices, indptr, i, w), y[i])
        shrink = 1.0 - eta_t * lam
        for j in range(d):
            w[j] *= shrink
        csr_scatter(w, data, indices, indptr, idx, u * b, b, eta_t, gbuf)


@njit(nogil=True, cache=True)
def retouch_dense(X, y, z0, idx, lo, hi):
    """Read rows idx[lo:hi] of X (every cache line), y and z0 at them, oldest first, and return their sum
    (so the reads are kept): what an update loop that just read those rows had in cache. z0: SVRG's
    snapshot margins, or an empty array. No write, nothing drawn."""
    s = 0.0
    d = X.shape[1]
    step = 64 // X.itemsize
    for p in range(lo, hi):
        i = idx[p]
        for j in range(0, d, step):
            s += X[i, j]
        s += X[i, d - 1] + y[i]
        if z0.shape[0] > i:
            s += z0[i]
    return s


@njit(nogil=True, cache=True)
def retouch_csr(data, indices, indptr, y, z0, w, idx, lo, hi):
    """As :func:`retouch_dense` for CSR rows: each row's values and column indices, and the
    coordinates of w it reads."""
    s = 0.0
    for p in range(lo, hi):
        i = idx[p]
        for k in range(indptr[i], indptr[i + 1]):
            s += data[k] + w[indices[k]]
        s += y[i]
        if z0.shape[0] > i:
            s += z0[i]
    return s


@njit(nogil=True, cache=True)
def svrg_inner_dense(u_vec, X, y, z0, mu_loss, idx, b, code, lam, eta, gbuf):
    """SVRG inner updates: v = (1/b) sum_{i in B} (grad f_i(u) - grad f_i(u0)) + grad f(u0);
    u <- u - eta v.  z0 = X u0 (margins at the snapshot), mu_loss = grad of the loss part at u0,
    so v = (1/b) sum (dphi(x_i.u) - dphi(z0_i)) x_i + lam u + mu_loss."""
    d = u_vec.shape[0]
    n_upd = idx.shape[0] // b
    if b == 1:          # one pass to read, one to write (no gradient buffer)
        for t in range(n_upd):
            prefetch_ahead_dense_svrg(X, y, z0, idx, t)
            i = idx[t]
            g = dphi(code, dense_dot(X, i, u_vec), y[i]) - dphi(code, z0[i], y[i])
            for j in range(d):
                u_vec[j] -= eta * (g * X[i, j] + lam * u_vec[j] + mu_loss[j])
        return
    for t in range(n_upd):
        for j in range(d):
            gbuf[j] = 0.0
        for r in range(b):
            prefetch_ahead_dense_svrg(X, y, z0, idx, t * b + r)
            i = idx[t * b + r]
            g = dphi(code, dense_dot(X, i, u_vec), y[i]) - dphi(code, z0[i], y[i])
            for j in range(d):
                gbuf[j] += g * X[i, j]
        for j in range(d):
            u_vec[j] -= eta * (gbuf[j] / b + lam * u_vec[j] + mu_loss[j])


@njit(nogil=True, cache=True)
def svrg_inner_csr(u_vec, data, indices, indptr, y, z0, mu_loss, idx, b, code, lam, eta, gbuf):
    """As svrg_inner_dense on CSR rows (the dense part lam u + mu_loss applied exactly, O(d))."""
    d = u_vec.shape[0]
    n_upd = idx.shape[0] // b
    for t in range(n_upd):
        for r in range(b):
            prefetch_ahead_csr_svrg(data, indices, indptr, y, z0, idx, t * b + r)
            i = idx[t * b + r]
            gbuf[r] = dphi(code, csr_dot(data, indices, indptr, i, u_vec), y[i]) - dphi(code, z0[i], y[i])
        for j in range(d):
            u_vec[j] -= eta * (lam * u_vec[j] + mu_loss[j])
        csr_scatter(u_vec, data, indices, indptr, idx, t * b, b, eta, gbuf)
