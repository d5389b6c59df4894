"""numba kernels of the delay simulator for the linear losses (logistic, squared).

They are the serial kernels of :mod:`harness.plugins.algorithms.kernels` with one change: the margin x_i . w of each
sample is read at a stale iterate w_hat (a whole past iterate, or coordinate-wise mixed past
iterates, from the ring ``ring[s % R] = w_s``). The l2 term and the SVRG correction are applied to
the written iterate, as the shared-memory kernels' read-modify-write does. When the delay is 0 the
margin is ``dense_dot`` / ``csr_dot`` of the current iterate and every other operation is the
serial kernel's, in the same order: the result is bit-identical.

State passed in and returned: ``s`` (updates since the ring was reset; ``ring[s % R]`` is the
current iterate). ``taus`` holds the drawn delays on entry and the applied (clipped) ones on exit.
"""

from __future__ import annotations

from numba import njit

from harness.plugins.algorithms.kernels import (csr_dot, csr_scatter, dense_dot, dphi, prefetch_ahead_csr,
                                                prefetch_ahead_csr_svrg, prefetch_ahead_dense,
                                                prefetch_ahead_dense_svrg, step_size)

from .engine import coord_delay


@njit(nogil=True, cache=True, inline="always")
def stale_dot_dense(X, i, w, ring, s, tau, mode, key, t):
    """x_i . w_hat: w_hat = w_{s - tau} (mode 0) or w_hat[j] = w_{s - tau_j}[j] (mode 1)."""
    if tau == 0:
        return dense_dot(X, i, w)
    R = ring.shape[0]
    acc = 0.0
    if mode == 0:
        slot = (s - tau) % R
        for j in range(X.shape[1]):
            acc += X[i, j] * ring[slot, j]
    else:
        for j in range(X.shape[1]):
            acc += X[i, j] * ring[(s - coord_delay(key, t, j, tau)) % R, j]
    return acc


@njit(nogil=True, cache=True, inline="always")
def stale_dot_csr(data, indices, indptr, i, w, ring, s, tau, mode, key, t):
    if tau == 0:
        return csr_dot(data, indices, indptr, i, w)
    R = ring.shape[0]
    acc = 0.0
    if mode == 0:
        slot = (s - tau) % R
        for k in range(indptr[i], indptr[i + 1]):
            acc += data[k] * ring[slot, indices[k]]
    else:
        for k in range(indptr[i], indptr[i + 1]):
            j = indices[k]
            acc += data[k] * ring[(s - coord_delay(key, t, j, tau)) % R, j]
    return acc


@njit(nogil=True, cache=True, inline="always")
def _clip(tau, s, R):
    if tau > s:
        tau = s
    if tau > R - 1:
        tau = R - 1
    if tau < 0:
        tau = 0
    return tau


@njit(nogil=True, cache=True, inline="always")
def _push(ring, s, w):
    R = ring.shape[0]
    if R > 1:
        slot = s % R
        for j in range(w.shape[0]):
            ring[slot, j] = w[j]


@njit(nogil=True, cache=True)
def sim_sgd_dense(w, X, y, idx, b, code, lam, schedule, eta, t0, beta, t_start, gbuf, ring, s, taus, mode, key):
    """Asynchronous SGD (Hogwild! recursion, Nguyen et al. 2021, eq. (2)):
    w_{t+1} = w_t - eta_t (1/b) sum_i grad f_i(w_hat_t)."""
    d = w.shape[0]
    R = ring.shape[0]
    for u in range(idx.shape[0] // b):
        tau = _clip(taus[u], s, R)
        taus[u] = tau
        t = t_start + u
        for j in range(d):
            gbuf[j] = 0.0
        for r in range(b):
            prefetch_ahead_dense(X, y, idx, u * b + r)
            i = idx[u * b + r]
            g = dphi(code, stale_dot_dense(X, i, w, ring, s, tau, mode, key, t), y[i])
            for j in range(d):
                gbuf[j] += g * X[i, j]
        eta_t = step_size(schedule, eta, t0, beta, t)
        for j in range(d):
            w[j] -= eta_t * (gbuf[j] / b + lam * w[j])
        s += 1
        _push(ring, s, w)
    return s


@njit(nogil=True, cache=True)
def sim_sgd_csr(w, data, indices, indptr, y, idx, b, code, lam, schedule, eta, t0, beta, t_start, gbuf, ring, s,
                taus, mode, key):
    """As sim_sgd_dense on CSR rows (l2 applied exactly, as the serial sparse kernel does)."""
    d = w.shape[0]
    R = ring.shape[0]
    for u in range(idx.shape[0] // b):
        tau = _clip(taus[u], s, R)
        taus[u] = tau
        t = t_start + u
        eta_t = step_size(schedule, eta, t0, beta, t)
        for r in range(b):
            prefetch_ahead_csr(data, indices, indptr, y, idx, u * b + r)
            i = idx[u * b + r]
            gbuf[r] = dphi(code, stale_dot_csr(data, indices, indptr, i, w, ring, s, tau, mode, key, t), y[i])
        shrink = 1.0 - eta_t * lam
        for j in range(d):
            w[j] *= shrink
        csr_scatter(w, data, indices, indptr, idx, u * b, b, eta_t, gbuf)
        s += 1
        _push(ring, s, w)
    return s


@njit(nogil=True, cache=True)
def sim_svrg_dense(u_vec, X, y, z0, mu_loss, idx, b, code, lam, eta, gbuf, gr, ring, s, taus, mode, key, t_start,
                   coords, kidx):
    """Shared-AsySVRG inner iterations (Huo & Huang 2017, Alg. 1):
        v = (1/b) sum_{i in I_t} [grad f_i(w_hat_t) - grad f_i(w~)] + grad f(w~)      (2.5), w_hat (2.6)
        coords == 0: u <- u - eta v                     (every coordinate; the practical form)
        coords == c: (u)_k <- (u)_k - eta (v)_k  for c coordinates k from kidx[t]   (2.4)
    The c coordinates are a cyclic block starting at kidx[t] (c = 1: Algorithm 1's single k_t)."""
    d = u_vec.shape[0]
    R = ring.shape[0]
    for tt in range(idx.shape[0] // b):
        tau = _clip(taus[tt], s, R)
        taus[tt] = tau
        t = t_start + tt
        if coords == 0:
            for j in range(d):
                gbuf[j] = 0.0
            for r in range(b):
                prefetch_ahead_dense_svrg(X, y, z0, idx, tt * b + r)
                i = idx[tt * b + r]
                g = dphi(code, stale_dot_dense(X, i, u_vec, ring, s, tau, mode, key, t), y[i]) - dphi(code, z0[i], y[i])
                for j in range(d):
                    gbuf[j] += g * X[i, j]
            for j in range(d):
                u_vec[j] -= eta * (gbuf[j] / b + lam * u_vec[j] + mu_loss[j])
        else:
            for r in range(b):
                prefetch_ahead_dense_svrg(X, y, z0, idx, tt * b + r)
                i = idx[tt * b + r]
                gr[r] = dphi(code, stale_dot_dense(X, i, u_vec, ring, s, tau, mode, key, t), y[i]) - dphi(code, z0[i], y[i])
            k0 = kidx[tt]
            for c in range(coords):
                k = (k0 + c) % d
                acc = 0.0
                for r in range(b):
                    acc += gr[r] * X[idx[tt * b + r], k]
                u_vec[k] -= eta * (acc / b + lam * u_vec[k] + mu_loss[k])
        s += 1
        _push(ring, s, u_vec)
    return s


@njit(nogil=True, cache=True)
def sim_svrg_csr(u_vec, data, indices, indptr, y, z0, mu_loss, idx, b, code, lam, eta, gr, ring, s, taus, mode, key,
                 t_start):
    """As sim_svrg_dense (coords == 0) on CSR rows; the dense part lam u + mu is applied exactly."""
    d = u_vec.shape[0]
    R = ring.shape[0]
    for tt in range(idx.shape[0] // b):
        tau = _clip(taus[tt], s, R)
        taus[tt] = tau
        t = t_start + tt
        for r in range(b):
            prefetch_ahead_csr_svrg(data, indices, indptr, y, z0, idx, tt * b + r)
            i = idx[tt * b + r]
            gr[r] = (dphi(code, stale_dot_csr(data, indices, indptr, i, u_vec, ring, s, tau, mode, key, t), y[i])
                     - dphi(code, z0[i], y[i]))
        for j in range(d):
            u_vec[j] -= eta * (lam * u_vec[j] + mu_loss[j])
        csr_scatter(u_vec, data, indices, indptr, idx, tt * b, b, eta, gr)
        s += 1
        _push(ring, s, u_vec)
    return s
