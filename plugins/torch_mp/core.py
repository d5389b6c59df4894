"""One module of a network split into K sequential modules, and what it does at iteration t under
BP, DNI, DDG (thesis 001 Ch. 5, Algorithms 9-10) and features replay (Ch. 6, Algorithm 11).

The :class:`Stage` below is the only place where the algorithms live. The single-process simulator
(``driver.py``, ``run_sim``) and the K-rank torch.distributed backend (``rank.py``) both drive K stages with the same
per-stage calls in the same order (``forward(t)`` then ``backward(t)`` / ``train_synth(t)``); they
differ only in how boundary tensors travel (a Python variable vs ``isend``/``irecv``). That is why
the simulator is the exact reference of the parallel run.

Notation (notes ``ddg-features-replay.md``): modules k = 1..K bottom to top (here 0-based,
``k = 0..K-1``); module k's delay is ``tau_k = K - k`` (1-based) = ``K - 1 - k`` (0-based).

- **BP**: forward k = 1..K, backward k = K..1 with the boundary gradient of the same batch, update.
- **DDG** (Algorithm 9, eqs. (5.6)-(5.9)): module k keeps a FIFO of the forward graphs of batches
  t-K+k..t (at most K-k+1); at iteration t it back-propagates the boundary gradient
  delta_k^{t-K+k} (received from module k+1 at iteration t-1) through the oldest graph, built at
  iteration t-K+k **with the weights of that time** (weight stashing: updates are out of place, so
  the stored graph keeps w^{t-K+k}); hence the applied update is exactly the block-k BP gradient of
  batch t-K+k at w^{t-K+k}. Warm-up (t < K-k): g = 0 as in (5.8) (fed to Adam's moments literally,
  Algorithm 10).
- **FR** (Algorithm 11, eqs. (6.6)-(6.9)): the forward ("play") keeps no graph; module k stores its
  last K-k+1 inputs and, at iteration t, replays the oldest (batch t+k-K) with its **current**
  weights w^t and back-propagates delta_k^t (6.7) from module k+1. Warm-up (t < K-k): no update
  (the reference code's skip; the thesis feeds h = 0, notes erratum 16).
- **DNI** (Jaderberg et al., as Ch. 5/6 describe it): module k < K updates right after its own
  forward with a synthetic gradient S_k(h_k, y) (zero-initialised synthesizer, label-conditioned);
  S_k is trained one iteration later to regress the boundary gradient module k+1 back-propagated
  (bootstrapped from S_{k+1} below the top).
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any, Sequence

import numpy as np

import torch
from torch import nn
from torch.func import functional_call

from harness.staleness import DelayStats

ALGOS = ("bp", "ddg", "fr", "dni")


# -- data order --------------------------------------------------------------------------------
class Sampler:
    """Batch t of a seeded epoch-wise shuffle (last partial batch dropped): every rank computes the
    same indices on its own, so labels never travel."""

    def __init__(self, n: int, b: int, seed: int):
        if b > n:
            from harness.errors import UserError

            raise UserError(f"batch size b={b} exceeds the {n} training samples")
        self.n, self.b, self.seed = n, b, seed
        self.per_epoch = n // b
        self._epoch, self._perm = -1, None

    def batch(self, t: int) -> torch.Tensor:
        e, j = divmod(int(t), self.per_epoch)
        if e != self._epoch:
            self._epoch, self._perm = e, np.random.default_rng([self.seed, e]).permutation(self.n)
        return torch.from_numpy(self._perm[j * self.b:(j + 1) * self.b].copy())


# -- optimizers (functional, out of place: a stored graph keeps the weights it was built with) ---
def step_size(eta: float, schedule: str, t: int, t0: float = 1.0) -> float:
    """gamma_t: constant (Thm 5.4.1 / 6.4.1) or gamma_0 / (1 + t/t0) (Thm 5.4.2 / 6.4.2: t0 = 1)."""
    return eta if schedule == "constant" else eta / (1.0 + t / t0)


class SGD:
    def __init__(self, eta: float, schedule: str = "constant", t0: float = 1.0):
        self.eta, self.schedule, self.t0 = eta, schedule, t0

    def step(self, w: list, g: list | None, t: int) -> list:
        if g is None:  # (5.8): the delayed gradient is 0 while t - K + k < 0
            return w
        lr = step_size(self.eta, self.schedule, t, self.t0)
        # (5.9) / Alg. 11 line 13: w^{t+1}_G(k) = w^t_G(k) - gamma_t g^t_G(k)
        return [(wi.detach() - lr * gi).requires_grad_(True) for wi, gi in zip(w, g)]


class Adam:
    """Algorithm 10 (Adam-DDG) per module: constant gamma, beta1 = 0.9, beta2 = 0.999, eps = 1e-8."""

    def __init__(self, eta: float, w: list, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        self.eta, self.b1, self.b2, self.eps = eta, beta1, beta2, eps
        self.m = [torch.zeros_like(wi) for wi in w]
        self.v = [torch.zeros_like(wi) for wi in w]

    def step(self, w: list, g: list | None, t: int) -> list:
        if g is None:  # literal (5.8): g = 0 enters m and v; the bias-correction counter still runs
            g = [torch.zeros_like(wi) for wi in w]
        out = []
        for i, (wi, gi) in enumerate(zip(w, g)):
            self.m[i] = self.b1 * self.m[i] + (1 - self.b1) * gi          # m^{t+1}
            self.v[i] = self.b2 * self.v[i] + (1 - self.b2) * gi * gi     # v^{t+1}
            mhat = self.m[i] / (1 - self.b1 ** (t + 1))
            vhat = self.v[i] / (1 - self.b2 ** (t + 1))
            out.append((wi.detach() - self.eta * mhat / (vhat.sqrt() + self.eps)).requires_grad_(True))
        return out


# -- DNI synthesizers ---------------------------------------------------------------------------
class MLPSynth(nn.Module):
    """S(h, y) for a flat boundary (B, D): two hidden layers on [h, onehot(y)], zero output init."""

    def __init__(self, dim: int, n_classes: int = 10):
        super().__init__()
        hid = max(dim, 32)
        self.n_classes = n_classes
        self.net = nn.Sequential(nn.Linear(dim + n_classes, hid), nn.ReLU(), nn.Linear(hid, hid), nn.ReLU(),
                                 nn.Linear(hid, dim))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, h, y):
        onehot = torch.nn.functional.one_hot(y, self.n_classes).to(h.dtype)
        return self.net(torch.cat([h.flatten(1), onehot], 1)).view_as(h)


class ConvSynth(nn.Module):
    """S(h, y) for an image boundary (B, C, H, W): three 5x5 convolutions with C filters and
    resolution-preserving padding, labels as extra constant channels (thesis Ch. 5 §5.5.1)."""

    def __init__(self, channels: int, n_classes: int = 10):
        super().__init__()
        self.n_classes = n_classes
        self.net = nn.Sequential(nn.Conv2d(channels + n_classes, channels, 5, padding=2), nn.ReLU(),
                                 nn.Conv2d(channels, channels, 5, padding=2), nn.ReLU(),
                                 nn.Conv2d(channels, channels, 5, padding=2))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, h, y):
        onehot = torch.nn.functional.one_hot(y, self.n_classes).to(h.dtype)
        lab = onehot[:, :, None, None].expand(-1, -1, h.shape[2], h.shape[3])
        return self.net(torch.cat([h, lab], 1))


def make_synth(shape: Sequence[int], seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return MLPSynth(int(np.prod(shape))) if len(shape) != 3 else ConvSynth(int(shape[0]))


# -- measured activation memory -------------------------------------------------------------------
class SavedStorages:
    """Records the storages autograd saves for backward inside the block (the activations a stored
    graph keeps alive), excluding the given parameter storages. Bytes are per unique storage."""

    def __init__(self, exclude: set[int], on: bool = True):
        self.exclude, self.on, self.saved = exclude, on, {}
        self._cm = None

    def _pack(self, t):
        try:
            st = t.untyped_storage()
            ptr = st.data_ptr()
            if ptr not in self.exclude:
                self.saved[ptr] = st.nbytes()
        except (RuntimeError, NotImplementedError):  # a tensor without storage (never in these nets)
            pass
        return t

    def __enter__(self):
        if self.on:
            self._cm = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t)
            self._cm.__enter__()
        return self

    def __exit__(self, *exc):
        if self._cm is not None:
            self._cm.__exit__(*exc)
        return False


def _storage(t) -> tuple[int, int]:
    st = t.untyped_storage()
    return st.data_ptr(), st.nbytes()


# -- one module ---------------------------------------------------------------------------------
class Stage:
    """Module k (0-based) of K, its weights, queues and measurements."""

    def __init__(self, k: int, K: int, module: nn.Module, algo: str, *, eta: float, opt: str = "sgd",
                 schedule: str = "constant", t0: float = 1.0, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 loss_fn=None, synth: nn.Module | None = None, synth_eta: float = 1e-3, device=None):
        if algo not in ALGOS:
            raise ValueError(f"unknown algorithm {algo!r}")
        self.k, self.K, self.algo = k, K, algo
        self.top = k == K - 1
        self.device = device or torch.device("cpu")
        self.module = module.to(self.device)
        self.names = [n for n, _ in module.named_parameters()]
        self.w = [p.detach().clone().requires_grad_(True) for p in module.parameters()]
        self.opt = (Adam(eta, self.w, beta1, beta2, eps) if opt == "adam" else SGD(eta, schedule, t0))
        self.loss_fn = loss_fn
        # tau_k = K - k (1-based): DDG's delayed gradient, FR's replayed input; 0 for BP and DNI
        self.delay = (K - 1 - k) if algo in ("ddg", "fr") else 0
        self.queue: deque = deque()  # BP/DDG/DNI-top: forward graphs; FR (k < K): stored inputs
        self.synth = synth.to(self.device) if synth is not None else None
        self.synth_opt = torch.optim.Adam(self.synth.parameters(), lr=synth_eta) if synth is not None else None
        self.synth_inputs: deque = deque()
        self.synth_loss = float("nan")
        # measurements
        self.delays = DelayStats(cap=64)
        self.fwd_s = self.bwd_s = 0.0
        self.n_fwd = self.n_bwd = 0
        self.n_timed = 0  # iterations timed: from t = K + 1 on (after the pipeline fill and lazy set-up), in the recording windows
        self._timed_from = K + 1
        self.queue_max = 0
        self.act_peak = 0
        self.stash_peak = 0
        self.input_bytes = 0
        # sum / max of ||g||^2 over the applied gradients, on the device (read at snapshots: no host sync per step)
        self._g2_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        self._g2_max = torch.zeros((), dtype=torch.float64, device=self.device)
        self.g2_n = 0
        self.recent: list[tuple[int, int, torch.Tensor]] = []  # (iteration, batch, flat applied gradient)
        self.recent_w: dict[int, list] = {}  # iteration -> this module's weights w^t_G(k) (for sigma_dir)
        self._rec = (0, 0)
        self.applied: list[tuple[int, int, list]] | None = None  # tests: (t, batch, gradient) per update

    # -- the module as a function of explicit weights ------------------------------------------
    def _f(self, w: list, x):
        return functional_call(self.module, dict(zip(self.names, w)), (x,))

    def set_window(self, t_from: int, t_to: int) -> None:
        """Record applied gradients (for sigma_dir) and activation memory for t in [t_from, t_to)."""
        self._rec = (t_from, t_to)
        self.recent, self.recent_w = [], {}

    def _recording(self, t: int) -> bool:
        return self._rec[0] <= t < self._rec[1]

    def _timing(self, t: int) -> bool:
        """Iteration t is timed: after the pipeline fill, inside the recording window (the last
        iterations of each chunk), so a GPU is synchronised for the clock only there."""
        return t >= self._timed_from and self._recording(t)

    def _sync(self, t: int):
        if self.device.type == "cuda" and self._timing(t):
            torch.cuda.synchronize(self.device)

    def expects_delta(self, t: int) -> bool:
        """Does module k consume a boundary gradient from module k+1 at iteration t?"""
        if self.top:
            return False
        if self.algo == "bp":
            return True
        if self.algo == "dni":
            return t >= 1  # S_k is trained on batch t-1's target
        return t >= self.delay  # DDG / FR: delta_k for batch t - tau_k, sent by k+1 at t-1

    # -- forward -----------------------------------------------------------------------------------
    def forward(self, t: int, x, y=None):
        """Iteration t's forward of batch t. Returns (output to send up or None at the top, input
        gradient to send down now or None); DNI also updates here (update-unlocked)."""
        rec = self._recording(t)
        self._sync(t)
        t0 = time.perf_counter()
        if not self.input_bytes:
            self.input_bytes = _storage(x)[1]
        gin = None
        if self.algo == "fr" and not self.top:
            with torch.no_grad():  # Alg. 11 line 6: "play", no graph kept
                out = self._f(self.w, x)
            self.queue.append({"s": t, "x": x})  # line 5: store h^t_{L_{k-1}} (history K-k+1)
            self._sync(t)
            self._time("fwd_s", t, t0)
        else:
            xin = x.detach().requires_grad_(self.k > 0)
            params = {_storage(wi)[0] for wi in self.w}
            with SavedStorages(params, rec) as saved:
                out = self._f(self.w, xin)  # (5.3) with the current weights w^t
                if self.top:
                    out = self.loss_fn(out, y)  # f(h^t_{L_K}, y^t)
            entry = {"s": t, "x": xin, "out": out, "w": self.w, "saved": saved.saved if rec else None}
            self._sync(t)
            t1 = time.perf_counter()
            self._time("fwd_s", t, t0, t1)
            if self.algo == "dni" and not self.top:
                dhat = self.synth(out.detach(), y)  # synthetic gradient S_k(h^t_{L_k}, y^t)
                inputs = self.w + ([xin] if self.k > 0 else [])
                grads = torch.autograd.grad(out, inputs, grad_outputs=dhat.detach())
                gin = grads[len(self.w)] if self.k > 0 else None
                self.synth_inputs.append((out.detach(), y))
                if rec:
                    self._account(extra=entry["saved"])
                self.delays.add_one(0)
                self._apply(t, t, list(grads[:len(self.w)]))
                self._sync(t)
                self._time("bwd_s", t, t1)
                self.n_bwd += 1
            else:
                self.queue.append(entry)  # DDG: FIFO of graphs of batches t-K+k..t
        self.n_fwd += 1
        self.n_timed += self._timing(t)
        self.queue_max = max(self.queue_max, len(self.queue))
        if rec and self.algo != "dni":
            self._account()
        return (None if self.top else out.detach()), gin

    # -- backward ----------------------------------------------------------------------------------
    def backward(self, t: int, delta=None):
        """Iteration t's backward (BP, DDG, FR; the loss module under DNI). ``delta`` is the
        boundary gradient from module k+1 (None at the top). Returns the input gradient to send to
        module k-1 (None at the bottom or in warm-up)."""
        if self.algo == "dni" and not self.top:
            raise RuntimeError("DNI's lower modules update in forward(); use train_synth()")
        if t < self.delay:  # warm-up: t - K + k < 0, g = 0 (5.8) / FR skips (erratum 16)
            self._apply(t, None, None)
            return None
        rec = self._recording(t)
        self._sync(t)
        t0 = time.perf_counter()
        e = self.queue.popleft()  # the oldest: batch s = t - tau_k
        if self.algo == "fr" and not self.top:
            xin = e["x"].detach().requires_grad_(self.k > 0)
            params = {_storage(wi)[0] for wi in self.w}
            with SavedStorages(params, rec) as saved:
                # (6.6) replay: htilde^t_{L_k} = F_G(k)(h^{t+k-K}_{L_{k-1}}; w^t_G(k)), current weights
                out = self._f(self.w, xin)
            if rec:
                self._account(extra={**saved.saved, **dict([_storage(xin)])})
            inputs = self.w + ([xin] if self.k > 0 else [])
            grads = torch.autograd.grad(out, inputs, grad_outputs=delta)  # (6.8) weights, (6.9) input
        else:
            inputs = e["w"] + ([e["x"]] if self.k > 0 else [])
            # (5.6)/(5.7): back-propagate delta_k^{t-K+k} through the graph built at w^{t-K+k}
            grads = torch.autograd.grad(e["out"], inputs, grad_outputs=None if self.top else delta)
        nw = len(self.w)
        gin = grads[nw] if self.k > 0 else None
        self.delays.add_one(t - e["s"])  # measured: iteration now - batch (= version) the gradient used
        self._apply(t, e["s"], list(grads[:nw]))
        self._sync(t)
        self._time("bwd_s", t, t0)
        self.n_bwd += 1
        return gin

    def train_synth(self, t: int, delta) -> None:
        """DNI: regress S_k(h^{t-1}, y^{t-1}) on the boundary gradient module k+1 sent at t-1."""
        self._sync(t)
        t0 = time.perf_counter()
        h, y = self.synth_inputs.popleft()
        self.synth_opt.zero_grad(set_to_none=True)
        loss = ((self.synth(h, y) - delta) ** 2).sum() / h.shape[0]
        loss.backward()
        self.synth_opt.step()
        self.synth_loss = loss.detach()          # a tensor: converted at snapshots
        self._sync(t)
        self._time("bwd_s", t, t0)

    def _time(self, what: str, t: int, t0: float, t1: float | None = None) -> None:
        if self._timing(t):
            setattr(self, what, getattr(self, what) + (t1 if t1 is not None else time.perf_counter()) - t0)

    # -- update and bookkeeping --------------------------------------------------------------------
    def _apply(self, t: int, s: int | None, g: list | None) -> None:
        if self._recording(t):  # w^t before its update (out-of-place updates: a reference suffices)
            self.recent_w[t] = [wi.detach() for wi in self.w]
        if g is not None:
            g = [gi.detach() for gi in g]
            n2 = torch.stack([(gi.double() ** 2).sum() for gi in g]).sum()
            self._g2_sum = self._g2_sum + n2
            self._g2_max = torch.maximum(self._g2_max, n2)
            self.g2_n += 1
            if self._recording(t):
                self.recent.append((t, int(s), torch.cat([gi.reshape(-1) for gi in g]).cpu()))
            if self.applied is not None:
                self.applied.append((t, int(s), [gi.clone() for gi in g]))
        self.w = self.opt.step(self.w, g, t)

    def _account(self, extra: dict[int, int] | None = None) -> None:
        """Live activation bytes now: storages saved by the stored graphs, the stored inputs, and
        ``extra`` (a replay graph); counted once per storage. Stashed weights: older weight versions
        that stored graphs keep alive (DDG)."""
        live: dict[int, int] = {}
        cur = {_storage(wi)[0] for wi in self.w}
        stash: dict[int, int] = {}
        for e in self.queue:
            if "out" in e:
                if e["saved"] is None:
                    return  # a graph built before recording began: its size is unknown, skip this count
                live.update(e["saved"])
            else:  # an FR stored input
                ptr, nb = _storage(e["x"])
                live[ptr] = nb
            for wi in e.get("w", ()):
                ptr, nb = _storage(wi)
                if ptr not in cur:
                    stash[ptr] = nb
        if extra:
            live.update(extra)
        self.act_peak = max(self.act_peak, sum(live.values()))
        self.stash_peak = max(self.stash_peak, sum(stash.values()))

    def weights(self) -> list:
        return [wi.detach() for wi in self.w]

    def stats(self, with_weights: bool = True) -> dict[str, Any]:
        out = {"k": self.k, "delay": self.delay, "delays": self.delays.to_dict(), "fwd_s": self.fwd_s,
               "bwd_s": self.bwd_s, "n_fwd": self.n_fwd, "n_bwd": self.n_bwd, "n_timed": self.n_timed, "queue_max": self.queue_max,
               "act_peak": self.act_peak, "stash_peak": self.stash_peak, "input_bytes": self.input_bytes,
               "g2_sum": float(self._g2_sum), "g2_n": self.g2_n, "g2_max": float(self._g2_max),
               "recent": list(self.recent), "synth_loss": float(self.synth_loss),
               "recent_w": {t: [w.cpu().clone() for w in ws] for t, ws in self.recent_w.items()}}
        if with_weights:
            out["w"] = [wi.detach().cpu().clone() for wi in self.w]
        return out


# -- evaluation helpers (the rank owning the monitor, clock paused) ------------------------------
def load_weights(modules: Sequence[nn.Module], weights: Sequence[Sequence[torch.Tensor]]) -> None:
    with torch.no_grad():
        for m, ws in zip(modules, weights):
            for p, w in zip(m.parameters(), ws):
                p.copy_(w.to(p.device))


def sigma_dir(modules: Sequence[nn.Module], stats: Sequence[dict], X, y, sampler: Sampler, loss_fn):
    """The sufficient-direction constant per module (notes §6, the author's ``check_gradient``):
    sigma_k = sum_t <N_k^t, g_k^t> / sum_t ||N_k^t||^2 over the module's applied gradients g_k^t of
    the recording window (the last iterations before this snapshot), where N_k^t is the block-k BP
    gradient of the whole network **at the weights w^t of that iteration** on the same batch s the
    module used (s = t for BP, DNI and the top module; t - K + k for DDG / FR's lower modules).
    So BP gives sigma = 1 exactly, and the ratio isolates what staleness (DDG) or replay with mixed
    weight versions (FR) does to the direction. The global ratio is (6.10)'s. Returns (per-module
    list with None where nothing was applied, global or None)."""
    pairs = sorted({(t, s) for st in stats for t, s, _ in st["recent"]})
    if not pairs:
        return [None] * len(stats), None
    model = nn.Sequential(*modules)
    params = [list(m.parameters()) for m in modules]
    flat_all = [p for ps in params for p in ps]
    ref: dict[tuple[int, int], list[torch.Tensor]] = {}
    for t, s in pairs:
        load_weights(modules, [st["recent_w"][t] for st in stats])  # w^t of every module
        idx = sampler.batch(s)
        loss = loss_fn(model(X[idx.to(X.device)]), y[idx.to(y.device)])
        grads = torch.autograd.grad(loss, flat_all)
        per, i = [], 0
        for ps in params:
            per.append(torch.cat([g.reshape(-1) for g in grads[i:i + len(ps)]]).detach().cpu().double())
            i += len(ps)
        ref[(t, s)] = per
    load_weights(modules, [st["w"] for st in stats])  # back to the snapshot's weights
    sig, num_all, den_all = [], 0.0, 0.0
    for k, st in enumerate(stats):
        num = den = 0.0
        for t, s, g in st["recent"]:
            n_k = ref[(t, s)][k]
            num += float(n_k @ g.double())
            den += float(n_k @ n_k)
        sig.append(num / den if den > 0 else None)
        num_all += num
        den_all += den
    return sig, (num_all / den_all if den_all > 0 else None)


def point_extra(algo: str, stats: Sequence[dict], sig, sig_global) -> tuple[dict[str, Any], DelayStats]:
    """The per-point ``extra``: per-module delay, forward/backward ms, peak activation memory per
    rank (= per module), stashed weights, history sizes, sigma_dir; and the merged delays."""
    merged = DelayStats(cap=64)
    for st in stats:
        merged.merge(DelayStats.from_dict(st["delays"]))
    ms = lambda s, n: 1e3 * s / n if n else None  # noqa: E731
    m_mean = sum(st["g2_sum"] / st["g2_n"] for st in stats if st["g2_n"])
    extra = {
        "algo": algo, "K": len(stats),
        "delay_max": [st["delays"]["max"] for st in stats],
        "delay_mean": [st["delays"]["total"] / st["delays"]["count"] if st["delays"]["count"] else None
                       for st in stats],
        "fwd_ms": [ms(st["fwd_s"], st["n_timed"]) for st in stats],  # per iteration, from t = K + 1
        "bwd_ms": [ms(st["bwd_s"], st["n_timed"]) for st in stats],
        "act_peak_bytes": [st["act_peak"] for st in stats],
        "stash_peak_bytes": [st["stash_peak"] for st in stats],
        "input_bytes": [st["input_bytes"] for st in stats],
        "history_max": [st["queue_max"] for st in stats],
        "sigma_dir": sig, "sigma_dir_global": sig_global,
        "M_mean": m_mean, "M_max": sum(st["g2_max"] for st in stats),
    }
    if any("cuda_peak" in st for st in stats):  # NCCL runs: the allocator's peak per rank as well
        extra["cuda_peak_bytes"] = [st.get("cuda_peak") for st in stats]
    if algo == "dni":
        extra["synth_loss"] = [st["synth_loss"] for st in stats[:-1]]
    return extra, merged


def parse_boundaries(text: str) -> list[int] | None:
    text = str(text or "").strip()
    if not text:
        return None
    try:
        return [int(x) for x in text.replace(";", ",").split(",") if x.strip()]
    except ValueError:
        from harness.errors import UserError

        raise UserError(f"bad boundaries {text!r}: expected block indices like '2' or '1,3'") from None


def build_stages(workload, params: dict[str, Any], K: int, seed: int, algo: str, device, ranks=None):
    """The K module skeletons for evaluation (CPU; same initialisation on every rank, from ``seed``)
    and a Stage on ``device`` for each k in ``ranks`` (default: all, the simulator)."""
    bounds = parse_boundaries(params.get("boundaries", ""))
    modules = workload.split(workload.blocks(seed), K, bounds)  # for evaluation (weights loaded in)
    own = workload.split(workload.blocks(seed), K, bounds)      # the stages' own (functional) modules
    shapes = boundary_shapes(modules, workload)
    stages = {}
    for k in (range(K) if ranks is None else ranks):
        synth = None
        if algo == "dni" and k < K - 1:
            synth = make_synth(shapes[k + 1], seed * 1009 + k + 1)
        stages[k] = Stage(k, K, own[k], algo, eta=params["eta"], opt=params.get("opt", "sgd"),
                          schedule=params.get("schedule", "constant"), t0=params.get("t0", 1.0), beta1=params.get("beta1", 0.9),
                          beta2=params.get("beta2", 0.999), eps=params.get("eps", 1e-8), loss_fn=workload.loss_fn,
                          synth=synth, synth_eta=params.get("synth_eta", 1e-3), device=device)
    return modules, stages, shapes  # ``modules``: the evaluator moves them to its device


def boundary_shapes(modules: Sequence[nn.Module], workload) -> list[tuple[int, ...]]:
    """Per-sample shape of module k's input (k = 0..K-1) and of the network output (index K)."""
    x = torch.zeros((2, *workload.input_shape), device=next(modules[0].parameters()).device)
    shapes = [tuple(x.shape[1:])]
    with torch.no_grad():
        for m in modules:
            x = m(x)
            shapes.append(tuple(x.shape[1:]))
    return shapes


def window(t: int, chunk: int, W: int, K: int) -> tuple[int, int]:
    """Iterations of the chunk [t, t + chunk) whose gradients (last W) and memory are recorded; at
    least 2K so every live graph was built while recording."""
    return max(t, t + chunk - max(W, 2 * K)), t + chunk
