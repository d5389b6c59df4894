"""Large-batch training on a ``network`` workload: mNAG / mGD, LARS and CLARS, one step at a time.

Huo's thesis (2020), Chapter 4 "Large batch training does not need warmup"
(Huo, Gu & Huang 2020; what the text leaves implicit: docs/derivations.md, large_batch). One iteration of every rule here is the
layer-wise mNAG step (4.6) with ``v_0 = w_0``::

    v_{t+1} = w_t - sum_k gamma_k U_k ( (1/B) sum_{i in I_t} grad_k f_i(w_t) )        (4.6)
    w_{t+1} = v_{t+1} + beta (v_{t+1} - v_t)

and the rules differ only in the layer-wise learning rates ``gamma_k`` (with ``gamma_t`` the
maximum learning rate ``gamma_scale = gamma_base * B / B_base`` under the optional gradual warmup):

    mNAG  (4.2):  gamma_k = gamma_t                                                    (beta = 0: mGD)
    LARS  (4.3):  gamma_k = gamma_t * eta * ||(w_t)_k|| / || (1/B) sum_i grad_k f_i(w_t) ||
    CLARS (4.7):  gamma_k = gamma_t * eta * ||(w_t)_k|| / ( (1/B) sum_i ||grad_k f_i(w_t)|| )

(if ``||(w_t)_k|| = 0`` or the denominator is 0, the trust ratio ``eta ||(w_t)_k|| / ...`` is replaced
by 1, so that layer's learning rate is ``gamma_t``: the TF LARS convention, e.g. for a bias that
starts at zero).

Device: every tensor of a step lives on the parameters' device (the batch is indexed on the device
the data is on); the norms, learning rates and the update are device tensors, and a step makes no
host synchronisation (``.item()``, ``.cpu()``, ``float(tensor)``): the per-step facts the monitor
reads (``last``, ``lr_max``) are converted when it reads them, at snapshots.

Data parallel: the global batch ``I_t`` is drawn identically on every rank (an epoch-wise random
permutation from the run's seed, batches of ``B`` consecutive indices, the last partial batch of an
epoch dropped); rank r takes the r-th contiguous shard. Each rank packs its shard's share of the
sums, ``sum_{i in shard} grad f_i / B`` and, for CLARS, ``sum_{i in shard} ||grad_k f_i|| / B`` per
layer, into one flat buffer; one all-reduce (sum) gives every rank the global quantities, so the
layer norms and learning rates above are computed from all-reduced numbers and every rank applies
the same update. With one process the reduction is the identity: the serial plugins run this very
code.

The per-sample gradient norms CLARS needs are exact (:class:`PerSample`). For an all-``Linear``
model (the MLP) the ghost-norm identity ``||delta_i a_i^T|| = ||delta_i|| ||a_i||`` gives them from
one ordinary forward/backward (hooks keep the layer inputs and output gradients): the extra cost is
``O(B (d_in + d_out))`` per layer. For any other model (the residual CNN) they come from
``torch.func.vmap(grad(loss of one sample))`` over chunks of the shard (``chunk`` samples at a
time): the per-sample gradients of a chunk are materialised (``chunk x d`` floats, d = number of
parameters) and the weight gradients are formed per sample instead of being accumulated by one
matrix product, so a step costs a batched forward/backward plus ``O(B d)`` memory traffic. Either
way the mean gradient is summed in the same pass (no second backward).
``benchmarks/torch_dp_step.py`` measures the ratio to an mNAG step at the same batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

RULES = ("mnag", "lars", "clars")


# -- layers -----------------------------------------------------------------------------------
@dataclass
class Layers:
    """The K layers ``w = [(w)_1, ..., (w)_K]`` of (4.6): groups of parameter tensors.

    ``mode='tensor'``: every parameter tensor is a layer (weights and biases apart, as in the
    reference LARS code); ``mode='block'``: the parameters of each top-level block of the workload's
    ``nn.Sequential`` form one layer."""

    names: list[str]            # one name per layer
    tensor_names: list[str]     # parameter names, in model.parameters() order
    layer_of: list[int]         # tensor index -> layer index

    @classmethod
    def of(cls, model: torch.nn.Module, mode: str = "tensor") -> "Layers":
        tnames = [n for n, p in model.named_parameters() if p.requires_grad]
        if mode == "tensor":
            return cls(list(tnames), tnames, list(range(len(tnames))))
        if mode != "block":
            raise ValueError(f"unknown layer mode {mode!r}")
        heads: list[str] = []
        layer_of = []
        for n in tnames:
            head = n.split(".", 1)[0]
            if head not in heads:
                heads.append(head)
            layer_of.append(heads.index(head))
        return cls([f"block {h}" for h in heads], tnames, layer_of)

    @property
    def K(self) -> int:
        return len(self.names)

    def norms(self, tensors) -> torch.Tensor:
        """Layer-wise l2 norms (K,) float64, on the tensors' device, of a list of tensors aligned with
        the parameters (no host synchronisation)."""
        tensors = list(tensors)
        dev = tensors[0].device
        per_tensor = torch.stack([t.detach().double().pow(2).sum() for t in tensors])
        sq = torch.zeros(self.K, dtype=torch.float64, device=dev)
        sq.index_add_(0, self.index(dev), per_tensor)
        return sq.sqrt()

    def index(self, device) -> torch.Tensor:
        """``layer_of`` as a long tensor on ``device`` (cached)."""
        cache = self.__dict__.setdefault("_index", {})
        key = str(device)
        if key not in cache:
            cache[key] = torch.as_tensor(self.layer_of, dtype=torch.long, device=device)
        return cache[key]


# -- per-sample gradients ---------------------------------------------------------------------
class PerSample:
    """Exact per-sample gradient norms, per layer, and the summed gradient, chunk by chunk.

    Two exact methods:

    - ``ghost`` (chosen by ``auto`` when every parameterised module is an ``nn.Linear`` fed a 2-D
      input, e.g. the MLP): for ``z_i = W a_i + b`` the per-sample gradient is rank one,
      ``grad_W f_i = delta_i a_i^T`` with ``delta_i = d f_i / d z_i``, so
      ``||grad_W f_i|| = ||delta_i|| ||a_i||`` and ``||grad_b f_i|| = ||delta_i||``: one ordinary
      forward/backward of ``sum_i f_i`` (hooks keep ``a_i`` and ``delta_i``), no per-sample gradient
      is ever formed (Goodfellow 2015's trick);
    - ``vmap`` (any architecture): ``torch.func.vmap(grad(loss of one sample))``; the per-sample
      gradients of a chunk are materialised (``chunk x d`` floats).
    """

    def __init__(self, model: torch.nn.Module, loss_fn: Callable, layers: Layers, method: str = "auto"):
        from torch.func import functional_call, grad, vmap

        self.model, self.layers, self.loss_fn = model, layers, loss_fn
        self.names = layers.tensor_names
        self.params = [q for q in model.parameters() if q.requires_grad]
        self.linears = _linears(model, self.params)
        self.method = "ghost" if (method == "auto" and self.linears is not None) else "vmap"

        def loss_one(pdict, x, y):
            out = functional_call(model, pdict, (x.unsqueeze(0),))
            return loss_fn(out, y.unsqueeze(0))

        self._vgrad = vmap(grad(loss_one), in_dims=(None, 0, 0))

    def chunks(self, X: torch.Tensor, y: torch.Tensor, chunk: int):
        """Yield, per chunk, (the chunk's summed gradient as a list aligned with the parameters,
        the per-sample per-layer squared gradient norms (c, K) in float64)."""
        for a in range(0, len(X), chunk):
            Xc, yc = X[a:a + chunk], y[a:a + chunk]
            if self.method == "ghost":
                out = self._ghost(Xc, yc)
                if out is not None:
                    yield out
                    continue
                self.method = "vmap"                                   # an input that is not 2-D
            yield self._vmap(Xc, yc)

    def _vmap(self, X, y):
        named = dict(self.model.named_parameters())
        pdict = {n: named[n].detach() for n in self.names}
        per = self._vgrad(pdict, X, y)
        grads = [per[n] for n in self.names]
        c = grads[0].shape[0]
        sq = torch.zeros(c, self.layers.K, dtype=torch.float64, device=grads[0].device)
        for j, g in enumerate(grads):
            sq[:, self.layers.layer_of[j]] += torch.linalg.vector_norm(g.reshape(c, -1), dim=1).double() ** 2
        return [g.sum(0) for g in grads], sq

    def _ghost(self, X, y):
        acts: dict[int, torch.Tensor] = {}
        deltas: dict[int, torch.Tensor] = {}

        def hook(mod, inp, out):
            acts[id(mod)] = inp[0].detach()
            out.register_hook(lambda g, key=id(mod): deltas.__setitem__(key, g.detach()))

        handles = [m.register_forward_hook(hook) for m, _, _ in self.linears]
        try:
            loss = self.loss_fn(self.model(X), y) * len(X)             # sum_i f_i: row i of dL/dz is delta_i
            grads = torch.autograd.grad(loss, self.params)
        finally:
            for h in handles:
                h.remove()
        c = len(X)
        sq = torch.zeros(c, self.layers.K, dtype=torch.float64, device=X.device)
        for m, jw, jb in self.linears:
            a, d = acts[id(m)], deltas[id(m)]
            if a.dim() != 2:
                return None
            dsq = d.double().pow(2).sum(1)                                 # ||delta_i||^2
            sq[:, self.layers.layer_of[jw]] += dsq * a.double().pow(2).sum(1)   # ||delta_i||^2 ||a_i||^2
            if jb is not None:
                sq[:, self.layers.layer_of[jb]] += dsq
        return list(grads), sq


def _linears(model: torch.nn.Module, params: list) -> list | None:
    """[(module, weight index, bias index)] if every trainable parameter belongs to an nn.Linear."""
    index = {id(q): j for j, q in enumerate(params)}
    out, seen = [], set()
    for m in model.modules():
        own = [q for q in m.parameters(recurse=False) if q.requires_grad]
        if not own:
            continue
        if not isinstance(m, torch.nn.Linear):
            return None
        jb = index[id(m.bias)] if m.bias is not None and m.bias.requires_grad else None
        out.append((m, index[id(m.weight)], jb))
        seen.update(id(q) for q in own)
    return out if out and len(seen) == len(params) else None


# -- batches ----------------------------------------------------------------------------------
class Batches:
    """``I_t``: epoch-wise random permutations of range(n) from the run's seed, cut into batches of
    B (the last partial batch of an epoch dropped); identical on every rank."""

    def __init__(self, n: int, B: int, seed: int):
        if not 1 <= B <= n:
            raise ValueError(f"batch size {B} must be in [1, n={n}]")
        self.n, self.B, self.seed = n, B, seed
        self.per_epoch = n // B
        self._epoch, self._perm = -1, None

    def __call__(self, t: int) -> np.ndarray:
        e, j = divmod(t, self.per_epoch)
        if e != self._epoch:
            self._epoch, self._perm = e, np.random.default_rng([self.seed, e]).permutation(self.n)
        return self._perm[j * self.B:(j + 1) * self.B]


def shard(idx: np.ndarray, rank: int, world: int) -> np.ndarray:
    """This rank's contiguous part of the global batch."""
    return np.array_split(idx, world)[rank]


# -- the optimizer ----------------------------------------------------------------------------
class LargeBatch:
    """Layer-wise mNAG (4.6) with the mNAG / LARS / CLARS learning rates, data parallel.

    ``reduce(buffer)`` sums a flat float64... tensor over ranks in place (identity for one process).
    """

    def __init__(self, model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, loss_fn: Callable, *,
                 rule: str, p: dict[str, Any], seed: int, rank: int = 0, world: int = 1,
                 reduce: Callable[[torch.Tensor], Any] | None = None):
        if rule not in RULES:
            raise ValueError(f"unknown rule {rule!r}")
        self.model, self.X, self.y, self.loss_fn = model, X, y, loss_fn
        self.rule, self.rank, self.world = rule, rank, world
        self.reduce = reduce or (lambda buf: buf)
        self.n = int(len(X))
        self.B = int(p["b"]) if p.get("b") else self.n                      # b = 0: the whole training set
        self.beta = float(p.get("beta", 0.9))
        self.eta = float(p.get("eta", 0.001))
        self.lr = float(p["lr"])                                               # gamma_base
        # gamma_scale = gamma_base * B / B_base (linear scaling, Goyal et al.), or gamma_base as given
        self.gamma_scale = self.lr * (self.B / float(p.get("b_base", 128))
                                      if p.get("scaling", "linear") == "linear" else 1.0)
        self.batches = Batches(self.n, self.B, seed)
        self.warmup_steps = int(round(float(p.get("warmup", 0.0)) * self.batches.per_epoch))
        self.chunk = int(p.get("chunk", 256))
        self.params = [q for q in model.parameters() if q.requires_grad]
        self.layers = Layers.of(model, p.get("layers", "tensor"))
        self.per_sample = PerSample(model, loss_fn, self.layers, p.get("per_sample", "auto")) if rule == "clars" else None
        with torch.no_grad():
            self.v = [q.detach().clone() for q in self.params]               # v_0 = w_0
        self.sizes = [q.numel() for q in self.params]
        self._last: tuple | None = None                                       # (t, gamma_t, ||g_k||, gamma_k, mean norms) on the device
        self._lr_max = torch.zeros(self.layers.K, dtype=torch.float64, device=self.params[0].device)

    @property
    def applied(self) -> dict[str, Any]:
        """What :meth:`step` applies, for ``info['applied']`` (the theory checker compares it with the
        stored parameters): gamma_base ``lr`` and the gamma_scale it gives, the global batch ``b`` = B
        (the whole set when b = 0), momentum ``beta``, the warmup in steps and in epochs (the stored warmup in epochs
        rounded to whole steps), and for LARS / CLARS the trust coefficient ``eta``."""
        out = {"lr": self.lr, "gamma_scale": self.gamma_scale, "b": self.B, "beta": self.beta,
               "warmup_steps": self.warmup_steps, "warmup": self.warmup_steps / self.batches.per_epoch}
        if self.rule != "mnag":
            out["eta"] = self.eta
        return out

    @property
    def lr_max(self) -> np.ndarray:
        """Largest gamma_k used per layer so far (K,) (a host copy: read at snapshots)."""
        return self._lr_max.cpu().numpy()

    @property
    def last(self) -> dict[str, Any]:
        """The last step's facts for the monitor's snapshot: gamma_t, ||g_k||, gamma_k (and CLARS's rho_k)."""
        if self._last is None:
            return {}
        t, gamma, g_norm, lr, mean_norm = self._last
        out = {"step": t, "gamma_t": gamma, "grad_norm_k": g_norm.tolist(), "lr_k": lr.tolist()}
        if self.rule == "clars":                                               # rho_k of (4.8), in [0, 1]
            out["rho_k"] = (g_norm / mean_norm.clamp_min(1e-300)).tolist()
        return out

    # warmup: gamma_t = gamma_scale * min(1, (t + 1) / warmup_steps) (gradual, linear in steps)
    def gamma_t(self, t: int) -> float:
        if self.warmup_steps > 0 and t < self.warmup_steps:
            return self.gamma_scale * (t + 1) / self.warmup_steps
        return self.gamma_scale

    def _local_sums(self, idx: np.ndarray) -> torch.Tensor:
        """This shard's share: [ sum_{i in shard} grad f_i / B  (flat, d) | sum_{i in shard} ||grad_k f_i|| / B (K) ]."""
        dev = self.params[0].device
        ii = torch.as_tensor(idx, dtype=torch.long).to(self.X.device, non_blocking=True)
        X, y = self.X[ii].to(dev, non_blocking=True), self.y[ii].to(dev, non_blocking=True)
        K = self.layers.K
        buf = torch.zeros(sum(self.sizes) + K, dtype=torch.float64, device=dev)
        if len(idx) == 0:
            return buf
        if self.per_sample is None:
            loss = self.loss_fn(self.model(X), y) * (len(idx) / self.B)      # = sum_i f_i / B over the shard
            grads = torch.autograd.grad(loss, self.params)
            buf[:-K] = torch.cat([g.reshape(-1).double() for g in grads])
            return buf
        gsum = [torch.zeros_like(q, dtype=torch.float64) for q in self.params]
        norm_sum = torch.zeros(K, dtype=torch.float64, device=dev)
        for part, sq in self.per_sample.chunks(X, y, self.chunk):
            for acc, g in zip(gsum, part):
                acc += g.double()
            norm_sum += sq.sqrt().sum(0)                                      # sum_i ||grad_k f_i(w_t)||
        buf[:-K] = torch.cat([g.reshape(-1) for g in gsum]) / self.B
        buf[-K:] = norm_sum / self.B
        return buf

    def step(self, t: int) -> None:
        I_t = self.batches(t)                                                  # Alg. 8 line 2
        buf = self._local_sums(shard(I_t, self.rank, self.world))
        self.reduce(buf)                                                       # all-reduce: global sums on every rank
        K = self.layers.K
        flat, mean_norm = buf[:-K], buf[-K:]
        g = [s.view_as(q) for s, q in zip(torch.split(flat, self.sizes), self.params)]  # (1/B) sum_i grad f_i(w_t), line 3
        g_norm = self.layers.norms(g)                                          # ||(1/B) sum_i grad_k f_i(w_t)||
        gamma = self.gamma_t(t)
        if self.rule == "mnag":                                                # (4.2): one rate for all layers
            lr = torch.full((K,), gamma, dtype=torch.float64, device=flat.device)
        else:
            w_norm = self.layers.norms(self.params)                            # ||(w_t)_k||
            den = g_norm if self.rule == "lars" else mean_norm                 # (4.3) / (4.7), lines 4-5
            lr = gamma * trust_ratio(w_norm, den, self.eta)
        lr_of = lr[self.layers.index(lr.device)]                               # gamma_k per parameter tensor
        with torch.no_grad():                                                  # (4.6), line 6
            for j, (w, v, gj) in enumerate(zip(self.params, self.v, g)):
                v_next = w.detach().double() - lr_of[j] * gj
                w.copy_(v_next + self.beta * (v_next - v.double()))
                v.copy_(v_next)
        torch.maximum(self._lr_max, lr, out=self._lr_max)
        self._last = (t, gamma, g_norm, lr, mean_norm)


def trust_ratio(w_norm: torch.Tensor, den: torch.Tensor, eta: float) -> torch.Tensor:
    """eta ||(w)_k|| / den_k where both norms are positive, else 1 (the TF LARS convention: a layer
    with a zero norm gets the learning rate gamma_t itself, not gamma_t * eta)."""
    ok = (w_norm > 0) & (den > 0)
    return torch.where(ok, eta * w_norm / torch.where(ok, den, torch.ones_like(den)), torch.ones_like(w_norm))


def finite(x: float) -> bool:
    return x is not None and math.isfinite(x)
