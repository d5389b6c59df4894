"""The quantities Chapter 4 relies on, measured at the monitor's snapshots (clock paused).

On a fixed measurement set S (the first ``measure_n`` training samples of a seeded permutation,
all of them when n is smaller), at the snapshot's iterate w:

- **gradient variance** (Figure 12, Sec. 4.4.3): per-sample gradients by ``torch.func``;
  ``var_k = (1/|S|) sum_i ||grad_k f_i(w) - gbar_k||^2``, ``gsq_k = ||gbar_k||^2`` and the variance
  factor ``M_k = var_k / gsq_k`` (the tight M_k of Assumption 4.3.2 when the additive M is 0);
  ``var = sum_k var_k`` (Assumption 4.2.2's left-hand side).
- **layer-wise smoothness** ``L_k`` (Assumption 4.3.1; Figure 9, Sec. 4.4.1): the spectral norm of
  the diagonal Hessian block ``grad^2_kk f(w)``, estimated on the first ``lk_n`` samples of S by
  power iteration on Hessian-vector products restricted to layer k (``power_iters``
  double-backward passes per layer through one retained graph; a lower estimate of the norm that
  converges from below), at every ``lk_every``-th snapshot; ``L_g`` the same on the whole Hessian.
- **the learning-rate upper bound** (Figure 9; Theorem 4.3.2 condition (4.47), Theorem 4.3.1 at
  beta = 0): ``lr_ub_k = min{ (1-beta)/(8 L_k), (1-beta) B / (8 L_k M_k) }``, and the classical
  divergence threshold of NAG on a quadratic, ``lr_stable_k = 2(1+beta) / ((1+2beta) L_k)``
  (docs/derivations.md, large_batch, 'NAG stability'; not from the thesis). A layer whose learning rate exceeds ``lr_ub_k`` is flagged.

What is measured is the ``measure`` parameter: ``off`` (the default) the workload's metrics and
the step's own facts (gamma_t, ||g_k||, gamma_k, CLARS's rho_k) only; ``variance`` adds the
gradient variance at every snapshot (a per-sample pass over S); ``all`` adds ``L_k`` and the
learning-rate bounds too (Hessian power iterations, the costly part). The theorems' verdicts and
``lr_flags`` need ``all``: a run without it is "not applicable", naming L_k and M_k.

Everything runs on the model's device (the measurement set is moved there once; on the CPU the
monitor gives torch the machine's cores while it evaluates); ``measure=off`` evaluates the
workload's metrics only (on its evaluation subset, ``eval_n``), on the device, with no model copy.

Cost per snapshot: one per-sample pass over S, one create-graph backward and
``(K + 1) * power_iters`` Hessian-vector products on ``lk_n`` samples (measured on a loaded
2-core machine: ~0.2 s for the digits MLP, K = 6; ~6 s for the residual CNN on digits, K = 17;
the clock is paused meanwhile, but use ``lk_every`` or ``measure=variance`` on long CNN runs).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from .large_batch import Layers, PerSample


def measurement_set(n: int, size: int, seed: int) -> np.ndarray:
    if size <= 0 or size >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng([seed, 7919]).permutation(n)[:size])


def variance(model, layers: Layers, loss_fn: Callable, X, y, chunk: int = 256) -> dict[str, Any]:
    ps = PerSample(model, loss_fn, layers)
    m = len(X)
    gsum = None
    sq_sum = torch.zeros(layers.K, dtype=torch.float64, device=X.device)
    for grads, sq in ps.chunks(X, y, chunk):
        part = [g.double() for g in grads]
        gsum = part if gsum is None else [a + b for a, b in zip(gsum, part)]
        sq_sum += sq.sum(0)
    gbar = [g / m for g in gsum]
    gsq = layers.norms(gbar).pow(2)                                   # ||gbar_k||^2
    var = (sq_sum / m - gsq).clamp_min(0.0)                           # mean ||g_ik||^2 - ||gbar_k||^2
    M = torch.where(gsq > 0, var / gsq.clamp_min(1e-300), torch.full_like(var, float("inf")))
    var, gsq, M = (t.cpu() for t in (var, gsq, M))
    return {"var_k": var.tolist(), "gsq_k": gsq.tolist(), "M_k": M.tolist(), "var": float(var.sum())}


def smoothness(model, layers: Layers, loss_fn: Callable, X, y, iters: int = 10, seed: int = 0) -> dict[str, Any]:
    """Power iteration on the diagonal Hessian blocks (and the whole Hessian) of f_S at w."""
    params = [p for p in model.parameters() if p.requires_grad]
    loss = loss_fn(model(X), y)
    grads = torch.autograd.grad(loss, params, create_graph=True)
    gen = torch.Generator().manual_seed(int(seed))           # CPU draws: the same vectors on every device
    groups = [[j for j in range(len(params)) if layers.layer_of[j] == k] for k in range(layers.K)]

    def power(idx: list[int]) -> float:
        vs = [torch.randn(params[j].shape, generator=gen, dtype=params[j].dtype).to(params[j].device) for j in idx]
        nrm = torch.sqrt(sum((v ** 2).sum() for v in vs))
        vs = [v / nrm for v in vs]
        lam = 0.0
        for _ in range(max(1, iters)):
            hv = torch.autograd.grad([grads[j] for j in idx], [params[j] for j in idx], grad_outputs=vs,
                                     retain_graph=True, allow_unused=True)
            hv = [h if h is not None else torch.zeros_like(v) for h, v in zip(hv, vs)]
            nrm = float(torch.sqrt(sum((h.double() ** 2).sum() for h in hv)))
            lam = nrm                                                 # ||H_kk v||, v unit: -> |lambda_max|
            if nrm == 0.0 or not np.isfinite(nrm):
                break
            vs = [h / nrm for h in hv]
        return lam

    L_k = [power(g) for g in groups]
    L_g = power(list(range(len(params))))
    return {"L_k": L_k, "L_g": L_g}


def lr_bounds(L_k, M_k, B: int, beta: float) -> dict[str, list[float]]:
    """Theorem 4.3.2 (4.47) (= Theorem 4.3.1's first condition at beta = 0) and the quadratic
    stability threshold, per layer."""
    ub, stable = [], []
    for L, M in zip(L_k, M_k):
        if not (L and np.isfinite(L) and L > 0):
            ub.append(float("inf"))
            stable.append(float("inf"))
            continue
        first = (1 - beta) / (8 * L)
        second = (1 - beta) * B / (8 * L * M) if (M and np.isfinite(M) and M > 0) else float("inf")
        ub.append(min(first, second))
        stable.append(2 * (1 + beta) / ((1 + 2 * beta) * L))
    return {"lr_ub_k": ub, "lr_stable_k": stable}


class Measurements:
    """The monitor's evaluate function: the workload's metrics plus the chapter's measurements,
    returned under ``extra`` so the store keeps them with each point (the clock is paused)."""

    def __init__(self, workload, opt, p: dict[str, Any], seed: int):
        self.workload, self.opt = workload, opt
        self.mode = p.get("measure", "off")
        self.power_iters = int(p.get("power_iters", 8))
        self.lk_every = int(p.get("lk_every", 1))
        self.lk_n = int(p.get("lk_n", 64))
        X, y, _, _ = workload.data()
        S = measurement_set(len(X), int(p.get("measure_n", 256)), seed)
        ii = torch.as_tensor(S, dtype=torch.long)
        dev = opt.params[0].device
        self.XS, self.yS = X[ii].to(dev), y[ii].to(dev)
        self.seed = seed
        self.history: list[dict[str, Any]] = []

    def point_cost(self) -> float:
        """Sample gradients these measurements add at a snapshot beyond the workload's metrics, for
        the monitor's evaluation plan (``Monitor.costs``), an estimate: the per-sample pass over S
        (``variance``); with ``all``, a create-graph backward and ``(K + 1) * power_iters``
        Hessian-vector products on ``lk_n`` samples (about 2 sample gradients each) every
        ``lk_every``-th snapshot."""
        if self.mode == "off":
            return 0.0
        cost = float(len(self.XS))
        if self.mode == "all":
            m = len(self.XS) if self.lk_n <= 0 else min(self.lk_n, len(self.XS))
            cost += (2.0 + 2.0 * (self.opt.layers.K + 1) * self.power_iters) * m / self.lk_every
        return cost

    def __call__(self, model) -> dict[str, Any]:
        out = dict(self.workload.metrics(model))
        if not self.history:
            self.f0 = out.get("objective")
        extra: dict[str, Any] = dict(self.opt.last)
        if self.mode != "off" and np.isfinite(out.get("objective", float("nan"))):
            layers, loss_fn = self.opt.layers, self.workload.loss_fn
            try:
                extra.update(variance(model, layers, loss_fn, self.XS, self.yS, self.opt.chunk))
                if self.mode == "all" and len(self.history) % self.lk_every == 0:
                    m = len(self.XS) if self.lk_n <= 0 else min(self.lk_n, len(self.XS))
                    extra.update(smoothness(model, layers, loss_fn, self.XS[:m], self.yS[:m], self.power_iters,
                                            seed=self.seed + len(self.history)))
                    extra.update(lr_bounds(extra["L_k"], extra["M_k"], self.opt.B, self.opt.beta))
            except (RuntimeError, FloatingPointError) as exc:  # a blown-up iterate: keep the metrics
                extra["measure_error"] = f"{type(exc).__name__}: {exc}"
        self.history.append(extra)
        out["extra"] = extra
        return out

    def summary(self) -> dict[str, Any]:
        """Run-level facts: L_k and M_k maximised over the snapshots, the learning-rate upper bound
        they give, the largest rate each layer used, and flags where it was exceeded."""
        opt = self.opt
        info: dict[str, Any] = {"layers": opt.layers.names, "B": opt.B, "gamma_scale": opt.gamma_scale,
                                "steps_per_epoch": opt.batches.per_epoch, "warmup_steps": opt.warmup_steps,
                                "lr_used_max_k": opt.lr_max.tolist()}
        if getattr(self, "f0", None) is not None and np.isfinite(self.f0):
            info["f0_minus_finf"] = float(self.f0)   # cross-entropy >= 0, so f_inf >= 0: an upper estimate
        Ls = [h["L_k"] for h in self.history if "L_k" in h]
        Ms = [h["M_k"] for h in self.history if "M_k" in h]
        if Ls:
            L = np.nanmax(np.array(Ls, dtype=float), axis=0)
            M = np.nanmax(np.array(Ms, dtype=float), axis=0) if Ms else np.zeros_like(L)
            b = lr_bounds(L.tolist(), M.tolist(), opt.B, opt.beta)
            # the inputs harness.theory.large_batch reads from a run's info (an M = 0 envelope: var_k <= M_k gsq_k at
            # every snapshot), and the per-layer rates actually used
            info.update({"L_k": L.tolist(), "M_k": M.tolist(), "M": 0.0, "M_g": float(np.max(M)),
                         "L_g": float(np.nanmax([h["L_g"] for h in self.history if "L_g" in h])),
                         "gamma_k": opt.lr_max.tolist()})
            info.update({"L_k_max": L.tolist(), "M_k_max": M.tolist(),
                         "L_g_max": float(np.nanmax([h["L_g"] for h in self.history if "L_g" in h])),
                         "lr_upper_bound_k": b["lr_ub_k"], "lr_stable_k": b["lr_stable_k"],
                         "lr_bound_source": "large_batch.thm-4.3.2 (4.47) with measured L_k, M_k (max over snapshots)"})
            first = next((h for h in self.history if "lr_ub_k" in h), None)
            if first is not None:                                     # the bound at the first snapshot (w_0)
                info["lr_upper_bound_w0_k"] = first["lr_ub_k"]
            flags = []
            for k, name in enumerate(opt.layers.names):
                used, ub = float(opt.lr_max[k]), b["lr_ub_k"][k]
                if used > ub:
                    flags.append(f"layer {k} ({name}): learning rate {used:.4g} > upper bound {ub:.4g}"
                                 f" = min((1-beta)/(8 L_k), (1-beta) B/(8 L_k M_k)) [thm-4.3.2 (4.47)]"
                                 + (f"; also > stability threshold {b['lr_stable_k'][k]:.4g}"
                                    if used > b["lr_stable_k"][k] else ""))
            info["lr_flags"] = flags
        return info
