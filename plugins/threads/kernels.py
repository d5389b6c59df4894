"""numba ``nogil`` kernels of the shared-memory backend: each call runs one thread's chunk of
lock-free updates on the shared iterate (the Hogwild! model: coordinate-wise racy reads and writes).

Staleness stamps (no atomics needed): ``slots[r, 0]`` counts the updates thread r has written
(only thread r writes its slot; rows are 64 bytes apart so threads do not share a cache line).
The global update count is the sum of the slots. An update reads it when it starts reading the
iterate (``read``) and again just before it writes (``now``); its delay is tau = now - read, the
number of other threads' updates completed while it computed. With one thread tau = 0.

Sparse data (CSR): an update touches only the nonzero coordinates of its rows. The l2 term (and
SVRG's dense correction grad f(w~)) is applied lazily and exactly ("just in time"): ``last[j]`` is
the global update count up to which coordinate j is current; an update reads j as if caught up and,
when it writes j, applies the skipped steps' dense part in closed form together with its own step,

    SGD:   w_j <- w_j * prod_{s=last_j}^{t-1} (1 - eta_s lam)         = w_j * P[t] / P[last_j]
    SVRG:  u_j <- a^k u_j - eta mu_j (1 + a + ... + a^{k-1}),  a = 1 - eta lam,  k = t - last_j

(a^k from small power tables for a constant step; a per-chunk table P for decaying steps) and the chunk's end brings every
coordinate up to date (the monitor then sees the exact iterate). With one thread this is the serial
exact kernel up to rounding; with several, ``last`` is itself racy (a catch-up may be applied twice
or skipped, the Hogwild! noise on the dense part, bounded by the delay).
No allocation, RNG or spin-wait inside the loops: indices are drawn per thread before the call.
"""

from __future__ import annotations

import math

from numba import njit

from plugins.kernels import csr_dot, dense_dot, dphi, step_size


@njit(nogil=True, cache=True, inline="always")
def global_count(slots):
    c = 0
    for r in range(slots.shape[0]):
        c += slots[r, 0]
    return c


@njit(nogil=True, cache=True, inline="always")
def _clamp(k, hi):
    if k < 0:
        return 0
    if k > hi:
        return hi
    return k


@njit(nogil=True, cache=True)
def hogwild_dense(w, X, y, idx, b, code, lam, schedule, eta, t0, beta, gbuf, slots, me, taus):
    """Hogwild! SGD (003 eq. (2)): w <- w - eta_t (1/b) sum_{i in B} grad f_i(w_hat), w_hat = w as read."""
    d = w.shape[0]
    for u in range(idx.shape[0] // b):
        read = global_count(slots)                 # version of the iterate this update reads
        if b == 1:                                 # one sample: no gradient buffer, one pass to write
            i = idx[u]
            g = dphi(code, fdot(X, i, w), y[i])
            eta_t = step_size(schedule, eta, t0, beta, read)
            now = global_count(slots)
            for j in range(d):
                w[j] -= eta_t * (g * X[i, j] + lam * w[j])
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
        for j in range(d):                         # racy coordinate-wise writes
            w[j] -= eta_t * (gbuf[j] / b + lam * w[j])
        slots[me, 0] += 1
        taus[u] = now - read


@njit(nogil=True, cache=True, inline="always")
def apow(PT, k):
    """a^k for k >= 0 from the power tables PT[l, i] = a^(i * 1024^l) (three L1-resident lookups at most)."""
    if k < 1024:
        return PT[0, k]
    if k < 1048576:
        return PT[0, k & 1023] * PT[1, k >> 10]
    return PT[0, k & 1023] * PT[1, (k >> 10) & 1023] * PT[2, min(k >> 20, 1023)]


@njit(nogil=True, cache=True, inline="always")
def _shrink(P, T0, K, PT, const, frm, to):
    """prod_{s=frm}^{to-1} (1 - eta_s lam): a^(to - frm) for a constant step (``const``), else the
    chunk's table P[s] = prod_{T0 <= r < T0+s} (1 - eta_r lam)."""
    if const:
        return apow(PT, to - frm)
    return P[_clamp(to - T0, K)] / P[_clamp(frm - T0, K)]


@njit(nogil=True, cache=True, fastmath={"reassoc"})
def fdot(X, i, w):
    """x_i . w with the sum reassociated (vectorised); the threads kernels' dense margin."""
    s = 0.0
    for j in range(X.shape[1]):
        s += X[i, j] * w[j]
    return s


@njit(nogil=True, cache=True)
def hogwild_csr(w, data, indices, indptr, y, idx, b, code, lam, schedule, eta, t0, beta, gbuf, last, P, T0, PT,
                const, slots, me, taus):
    """Hogwild! SGD on CSR rows: touches the rows' nonzeros only; the l2 shrinks a coordinate skipped are
    applied when it is next read (a^k from the power tables PT for a constant step; else the chunk's
    table P)."""
    K = P.shape[0] - 1
    for u in range(idx.shape[0] // b):
        read = global_count(slots)
        t = read
        for r in range(b):                         # margins at w (coordinates caught up to t)
            i = idx[u * b + r]
            z = 0.0
            for k in range(indptr[i], indptr[i + 1]):
                j = indices[k]
                wj = w[j]
                lj = last[j]
                if lj < t:                         # read as if caught up (written in the pass below)
                    wj *= _shrink(P, T0, K, PT, const, lj, t)
                z += data[k] * wj
            gbuf[r] = dphi(code, z, y[i])
        eta_t = step_size(schedule, eta, t0, beta, t)
        shrink = 1.0 - eta_t * lam if const else _shrink(P, T0, K, PT, const, t, t + 1)
        now = global_count(slots)
        for r in range(b):
            i = idx[u * b + r]
            c = eta_t * gbuf[r] / b
            for k in range(indptr[i], indptr[i + 1]):
                j = indices[k]
                lj = last[j]
                if lj <= t:                        # the skipped shrinks and this update's own, then the step
                    f = shrink if lj == t else _shrink(P, T0, K, PT, const, lj, t + 1)
                    w[j] = w[j] * f - c * data[k]
                    last[j] = t + 1
                else:                              # already caught up (a repeated coordinate, or another thread)
                    w[j] -= c * data[k]
        slots[me, 0] += 1
        taus[u] = now - read


@njit(nogil=True, cache=True)
def asysvrg_dense(u_vec, X, y, z0, mu_loss, idx, b, code, lam, eta, gbuf, gr, coords, kidx, slots, me, taus):
    """Shared-AsySVRG inner iterations (000 Alg. 1): v = (1/b) sum [grad f_i(w_hat) - grad f_i(w~)] + grad f(w~)
    (2.5) at the iterate as read (2.6); write (u)_k -= eta (v)_k (2.4) for every k (coords = 0) or for the
    cyclic block of ``coords`` coordinates starting at kidx[t]."""
    d = u_vec.shape[0]
    for t in range(idx.shape[0] // b):
        read = global_count(slots)
        for r in range(b):
            i = idx[t * b + r]
            gr[r] = dphi(code, fdot(X, i, u_vec), y[i]) - dphi(code, z0[i], y[i])
        if coords == 0:
            for j in range(d):
                gbuf[j] = 0.0
            for r in range(b):
                i = idx[t * b + r]
                g = gr[r]
                for j in range(d):
                    gbuf[j] += g * X[i, j]
            now = global_count(slots)
            for j in range(d):
                u_vec[j] -= eta * (gbuf[j] / b + lam * u_vec[j] + mu_loss[j])
        else:
            now = global_count(slots)
            k0 = kidx[t]
            for c in range(coords):
                k = (k0 + c) % d
                acc = 0.0
                for r in range(b):
                    acc += gr[r] * X[idx[t * b + r], k]
                u_vec[k] -= eta * (acc / b + lam * u_vec[k] + mu_loss[k])
        slots[me, 0] += 1
        taus[t] = now - read


@njit(nogil=True, cache=True)
def asysvrg_csr(u_vec, data, indices, indptr, y, z0, c_vec, idx, b, code, eta, gr, last, PT, inv1ma, slots, me, taus):
    """Shared-AsySVRG on CSR rows, every coordinate of v written lazily: the dense part of v,
    lam u + grad_loss f(w~), is the affine step u_j <- a u_j - c_j (a = 1 - eta lam, c = eta grad_loss f(w~))
    applied in closed form for the k skipped updates: u_j <- a^k u_j - c_j (1 - a^k) / (1 - a),
    a^k from the power tables PT, inv1ma = 1 / (1 - a)."""
    for t_ in range(idx.shape[0] // b):
        read = global_count(slots)
        t = read
        for r in range(b):
            i = idx[t_ * b + r]
            z = 0.0
            for k in range(indptr[i], indptr[i + 1]):
                j = indices[k]
                uj = u_vec[j]
                lj = last[j]
                if lj < t:                         # read as if caught up (written in the pass below)
                    ak = apow(PT, t - lj)
                    uj = ak * uj - c_vec[j] * (1.0 - ak) * inv1ma
                z += data[k] * uj
            gr[r] = dphi(code, z, y[i]) - dphi(code, z0[i], y[i])
        now = global_count(slots)
        for r in range(b):
            i = idx[t_ * b + r]
            c = eta * gr[r] / b
            for k in range(indptr[i], indptr[i + 1]):
                j = indices[k]
                lj = last[j]
                if lj <= t:
                    ak = apow(PT, t + 1 - lj)
                    u_vec[j] = ak * u_vec[j] - c_vec[j] * (1.0 - ak) * inv1ma - c * data[k]
                    last[j] = t + 1
                else:
                    u_vec[j] -= c * data[k]
        slots[me, 0] += 1
        taus[t_] = now - read


@njit(nogil=True, cache=True)
def loss_grad_rows_dense(X, y, w, lo, hi, code, z0, gsum):
    """Rows lo..hi-1 of the full gradient at the snapshot: z0_i = x_i . w, gsum += sum phi'(z0_i) x_i."""
    d = X.shape[1]
    for i in range(lo, hi):
        z = dense_dot(X, i, w)
        z0[i] = z
        g = dphi(code, z, y[i])
        for j in range(d):
            gsum[j] += g * X[i, j]


@njit(nogil=True, cache=True)
def loss_grad_rows_csr(data, indices, indptr, y, w, lo, hi, code, z0, gsum):
    for i in range(lo, hi):
        z = csr_dot(data, indices, indptr, i, w)
        z0[i] = z
        g = dphi(code, z, y[i])
        for k in range(indptr[i], indptr[i + 1]):
            gsum[indices[k]] += g * data[k]
