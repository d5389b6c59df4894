"""Module k of K under each algorithm: one class per algorithm (Huo 2020 (thesis), Ch. 5-6), the update
apart from its measurement.

- :class:`BPStage`: forward keeps the graph of batch t; backward (k = K..1, backward locking)
  back-propagates the boundary gradient of the same batch and updates, (5.3)-(5.5).
- :class:`DDGStage` (Algorithm 9 / 10, eqs. (5.6)-(5.9)): a FIFO of the forward graphs of batches
  t-K+k..t, each built with the weights of its time (weight stashing: updates are out of place);
  at iteration t the oldest graph back-propagates delta_k^{t-K+k}; warm-up g = 0 (5.8).
- :class:`FRStage` (Algorithm 11, eqs. (6.6)-(6.9)): the forward ("play") keeps no graph, only the
  last K-k+1 inputs; the backward replays the oldest input with the **current** weights and
  back-propagates delta_k^t; warm-up: no update (erratum 16).
- :class:`DNIStage`: module k < K updates right after its forward with a synthetic gradient
  S_k(h_k, y); S_k regresses the true boundary gradient one iteration later (``train_synth``).

The top module (the loss) behaves as in BP under every algorithm (its delay is K - 1 - k = 0).
What is measured (time per forward / backward, activation and stash memory, delays, the applied
gradients sigma_dir needs, ||g||^2) lives in :class:`Meter`; a stage calls it around its work,
and the meter synchronises a GPU for its clock only inside the recording window.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from harness.api import DelayStats

from .core import boundary_shapes, make_synth, parse_boundaries
from .memory import SavedStorages, _storage
from .optim import SGD, Adam


class Meter:
    """Measurements of one stage: per-iteration time (after the pipeline fill, in the recording
    window [t_from, t_to) of each chunk), live activation and stashed-weight bytes, measured delays,
    ||g||^2 of the applied gradients (on the device), and the applied gradients and weights of the
    window (for sigma_dir). ``applied``: tests set it to a list to receive (t, batch, gradient)."""

    def __init__(self, K: int, device):
        self.device = device
        self.delays = DelayStats(cap=64)
        self.fwd_s = self.bwd_s = 0.0
        self.n_fwd = self.n_bwd = 0
        self.n_timed = 0
        self.timed_from = K + 1          # after the pipeline fill and lazy set-up
        self.queue_max = 0
        self.act_peak = self.stash_peak = 0
        self.input_bytes = 0
        self.g2_sum = torch.zeros((), dtype=torch.float64, device=device)
        self.g2_max = torch.zeros((), dtype=torch.float64, device=device)
        self.g2_n = 0
        self.recent: list[tuple[int, int, torch.Tensor]] = []  # (iteration, batch, flat applied gradient)
        self.recent_w: dict[int, list] = {}                     # iteration -> the module's weights w^t
        self.window = (0, 0)
        self.grads_from = 0
        self.applied: list[tuple[int, int, list]] | None = None

    def set_window(self, t_from: int, t_to: int, grads_from: int | None = None) -> None:
        self.window = (t_from, t_to)
        self.grads_from = t_from if grads_from is None else grads_from
        self.recent, self.recent_w = [], {}

    def recording(self, t: int) -> bool:
        return self.window[0] <= t < self.window[1]

    def timing(self, t: int) -> bool:
        return t >= self.timed_from and self.recording(t)

    def sync(self, t: int) -> None:
        if self.device.type == "cuda" and self.timing(t):
            torch.cuda.synchronize(self.device)

    @contextlib.contextmanager
    def timed(self, what: str, t: int):
        """Adds the block's seconds to ``fwd_s`` / ``bwd_s`` when iteration t is timed."""
        self.sync(t)
        t0 = time.perf_counter()
        yield
        self.sync(t)
        if self.timing(t):
            setattr(self, what, getattr(self, what) + time.perf_counter() - t0)

    def update(self, t: int, s: int | None, g: list | None, w: list) -> None:
        """Record an update at iteration t with the gradient of batch s (None: warm-up) at weights w."""
        keep = self.recording(t) and t >= self.grads_from         # sigma_dir's part of the window
        if keep:  # w^t before its update (out-of-place updates: a reference suffices)
            self.recent_w[t] = [wi.detach() for wi in w]
        if g is None:
            return
        n2 = torch.stack([(gi.double() ** 2).sum() for gi in g]).sum()
        self.g2_sum = self.g2_sum + n2
        self.g2_max = torch.maximum(self.g2_max, n2)
        self.g2_n += 1
        if keep:  # kept on the device: copied to the host (ranks) only at the snapshot
            self.recent.append((t, int(s), torch.cat([gi.reshape(-1) for gi in g])))
        if self.applied is not None:
            self.applied.append((t, int(s), [gi.clone() for gi in g]))

    def memory(self, queue, w: list, extra: dict[int, int] | None = None) -> None:
        """Live activation bytes now: storages saved by the stored graphs, the stored inputs, and
        ``extra`` (a replay graph); counted once per storage. Stashed weights: older weight versions
        that stored graphs keep alive (DDG)."""
        live: dict[int, int] = {}
        cur = {_storage(wi)[0] for wi in w}
        stash: dict[int, int] = {}
        for e in queue:
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


class Stage:
    """Module k (0-based) of K: its weights w (updated out of place), optimizer and meter. The base
    behaviour is back-propagation's: forward keeps the graph, backward consumes the oldest one."""

    algo = "bp"

    def __init__(self, k: int, K: int, module: nn.Module, *, eta: float, opt: str = "sgd",
                 schedule: str = "constant", t0: float = 1.0, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, loss_fn=None, device=None, **_):
        self.k, self.K = k, K
        self.top = k == K - 1
        self.device = device or torch.device("cpu")
        self.module = module.to(self.device)
        self.names = [n for n, _ in module.named_parameters()]
        self.w = [p.detach().clone().requires_grad_(True) for p in module.parameters()]
        self.opt = Adam(eta, self.w, beta1, beta2, eps) if opt == "adam" else SGD(eta, schedule, t0)
        self.loss_fn = loss_fn
        self.delay = self.tau(k, K)
        self.queue: deque = deque()   # forward graphs (FR below the top: stored inputs)
        self.meter = Meter(K, self.device)

    @staticmethod
    def tau(k: int, K: int) -> int:
        """Module k's delay: tau_k = K - k (1-based) for DDG / FR, 0 for BP and DNI."""
        return 0

    # the meter's records, by the names the drivers and tests use
    @property
    def delays(self) -> DelayStats:
        return self.meter.delays

    @property
    def applied(self):
        return self.meter.applied

    @applied.setter
    def applied(self, value) -> None:
        self.meter.applied = value

    MEASURED = ("queue_max", "act_peak", "stash_peak", "input_bytes", "fwd_s", "bwd_s", "n_fwd", "n_bwd", "n_timed")

    def __getattr__(self, name: str):
        """The meter's figures (``MEASURED``) read as the stage's own (``st.queue_max``)."""
        if name in Stage.MEASURED and "meter" in self.__dict__:
            return getattr(self.__dict__["meter"], name)
        raise AttributeError(name)

    def set_window(self, t_from: int, t_to: int, grads_from: int | None = None) -> None:
        """Record time and activation memory for t in [t_from, t_to), the applied gradients and
        weights (for sigma_dir) for t in [grads_from, t_to) (default: the whole window)."""
        self.meter.set_window(t_from, t_to, grads_from)

    def expects_delta(self, t: int) -> bool:
        """Does module k consume a boundary gradient from module k+1 at iteration t?"""
        return not self.top and t >= self.delay

    def _f(self, w: list, x):
        return functional_call(self.module, dict(zip(self.names, w)), (x,))

    # -- forward: (5.3) with the current weights w^t, graph kept -------------------------------------
    def forward(self, t: int, x, y=None):
        """Iteration t's forward of batch t. Returns (output to send up or None at the top, input
        gradient to send down now or None)."""
        m = self.meter
        if not m.input_bytes:
            m.input_bytes = _storage(x)[1]
        with m.timed("fwd_s", t):
            out, gin = self._forward(t, x, y)
        m.n_fwd += 1
        m.n_timed += m.timing(t)
        m.queue_max = max(m.queue_max, len(self.queue))
        return (None if self.top else out.detach()), gin

    def _forward(self, t: int, x, y):
        entry = self._graph(t, x, y)
        self.queue.append(entry)        # DDG: FIFO of the graphs of batches t-K+k..t
        if self.meter.recording(t):
            self.meter.memory(self.queue, self.w)
        return entry["out"], None

    def _graph(self, t: int, x, y) -> dict[str, Any]:
        rec = self.meter.recording(t)
        xin = x.detach().requires_grad_(self.k > 0)
        with SavedStorages({_storage(wi)[0] for wi in self.w}, rec) as saved:
            out = self._f(self.w, xin)
            if self.top:
                out = self.loss_fn(out, y)  # f(h^t_{L_K}, y^t)
        return {"s": t, "x": xin, "out": out, "w": self.w, "saved": saved.saved if rec else None}

    # -- backward -----------------------------------------------------------------------------------
    def backward(self, t: int, delta=None):
        """Iteration t's backward. ``delta`` is the boundary gradient from module k+1 (None at the
        top). Returns the input gradient to send to module k-1 (None at the bottom or in warm-up)."""
        if t < self.delay:  # warm-up: t - K + k < 0, g = 0 (5.8) / FR skips (erratum 16)
            self._apply(t, None, None)
            return None
        m = self.meter
        with m.timed("bwd_s", t):
            e = self.queue.popleft()  # the oldest: batch s = t - tau_k
            grads = self._gradients(t, e, delta)
            nw = len(self.w)
            gin = grads[nw] if self.k > 0 else None
            m.delays.add_one(t - e["s"])  # measured: iteration now - batch (= version) the gradient used
            self._apply(t, e["s"], list(grads[:nw]))
        m.n_bwd += 1
        return gin

    def _gradients(self, t: int, e: dict, delta):
        """(5.6)/(5.7): back-propagate delta through the graph built at the weights of batch e['s']."""
        inputs = e["w"] + ([e["x"]] if self.k > 0 else [])
        return torch.autograd.grad(e["out"], inputs, grad_outputs=None if self.top else delta)

    # -- update (5.9) / Alg. 11 line 13, and what the monitor reads --------------------------------------
    def _apply(self, t: int, s: int | None, g: list | None) -> None:
        if g is not None:
            g = [gi.detach() for gi in g]
        self.meter.update(t, s, g, self.w)
        self.w = self.opt.step(self.w, g, t)

    def weights(self) -> list:
        return [wi.detach() for wi in self.w]

    def stats(self, with_weights: bool = True, host: bool = True) -> dict[str, Any]:
        """The stage's figures at a snapshot, with its weights and the recording window's applied
        gradients and weights: host copies (``host``, what a rank sends to the monitor's rank), or
        references to the device tensors (the simulator: the evaluation stays on the device; the
        updates are out of place, so a reference keeps its values)."""
        m = self.meter
        keep = (lambda x: x.detach().cpu().clone()) if host else (lambda x: x.detach())  # noqa: E731
        out = {"k": self.k, "delay": self.delay, "delays": m.delays.to_dict(), "fwd_s": m.fwd_s,
               "bwd_s": m.bwd_s, "n_fwd": m.n_fwd, "n_bwd": m.n_bwd, "n_timed": m.n_timed, "queue_max": m.queue_max,
               "act_peak": m.act_peak, "stash_peak": m.stash_peak, "input_bytes": m.input_bytes,
               "g2_sum": float(m.g2_sum), "g2_n": m.g2_n, "g2_max": float(m.g2_max),
               "recent": [(t, s, keep(g)) for t, s, g in m.recent], "synth_loss": float("nan"),
               "opt": self.opt.facts(),
               "recent_w": {t: [keep(w) for w in ws] for t, ws in m.recent_w.items()}}
        if with_weights:
            out["w"] = [keep(wi) for wi in self.w]
        return out


class BPStage(Stage):
    """Back-propagation split into K modules (the baseline): backward locking, no delay."""

    algo = "bp"

    def expects_delta(self, t: int) -> bool:
        return not self.top


class DDGStage(Stage):
    """Decoupled parallel backpropagation (Algorithm 9 / 10): the oldest stored graph, built at
    w^{t-K+k}, back-propagates delta_k^{t-K+k}; the update is the block-k BP gradient of that batch
    at those weights (weight stashing)."""

    algo = "ddg"

    @staticmethod
    def tau(k: int, K: int) -> int:
        return K - 1 - k


class FRStage(DDGStage):
    """Features replay (Algorithm 11): play without a graph, store the input; replay the oldest
    input (batch t+k-K) with the current weights w^t and back-propagate delta_k^t."""

    algo = "fr"

    def _forward(self, t: int, x, y):
        if self.top:
            return super()._forward(t, x, y)
        with torch.no_grad():  # Alg. 11 line 6: "play", no graph kept
            out = self._f(self.w, x)
        self.queue.append({"s": t, "x": x})  # line 5: store h^t_{L_{k-1}} (history K-k+1)
        if self.meter.recording(t):
            self.meter.memory(self.queue, self.w)
        return out, None

    def _gradients(self, t: int, e: dict, delta):
        if self.top:
            return super()._gradients(t, e, delta)
        rec = self.meter.recording(t)
        xin = e["x"].detach().requires_grad_(self.k > 0)
        with SavedStorages({_storage(wi)[0] for wi in self.w}, rec) as saved:
            # (6.6) replay: htilde^t_{L_k} = F_G(k)(h^{t+k-K}_{L_{k-1}}; w^t_G(k)), current weights
            out = self._f(self.w, xin)
        if rec:
            self.meter.memory(self.queue, self.w, extra={**saved.saved, **dict([_storage(xin)])})
        inputs = self.w + ([xin] if self.k > 0 else [])
        return torch.autograd.grad(out, inputs, grad_outputs=delta)  # (6.8) weights, (6.9) input


class DNIStage(Stage):
    """Decoupled neural interfaces: module k < K updates in its forward with the synthetic gradient
    S_k(h_k, y) (update-unlocked); S_k is trained on the true boundary gradient one iteration later."""

    algo = "dni"

    def __init__(self, k: int, K: int, module: nn.Module, *, synth: nn.Module | None = None,
                 synth_eta: float = 1e-3, **kw):
        super().__init__(k, K, module, **kw)
        self.synth = synth.to(self.device) if synth is not None else None
        self.synth_opt = torch.optim.Adam(self.synth.parameters(), lr=synth_eta) if synth is not None else None
        self.synth_inputs: deque = deque()
        self.synth_loss = torch.tensor(float("nan"), device=self.device)   # a tensor: converted at snapshots

    def expects_delta(self, t: int) -> bool:
        return not self.top and t >= 1  # S_k is trained on batch t-1's target

    def forward(self, t: int, x, y=None):
        if self.top:
            return super().forward(t, x, y)
        m = self.meter
        if not m.input_bytes:
            m.input_bytes = _storage(x)[1]
        with m.timed("fwd_s", t):
            entry = self._graph(t, x, y)
        out = entry["out"]
        with m.timed("bwd_s", t):
            dhat = self.synth(out.detach(), y)  # synthetic gradient S_k(h^t_{L_k}, y^t)
            inputs = self.w + ([entry["x"]] if self.k > 0 else [])
            grads = torch.autograd.grad(out, inputs, grad_outputs=dhat.detach())
            gin = grads[len(self.w)] if self.k > 0 else None
            self.synth_inputs.append((out.detach(), y))
            if m.recording(t):
                m.memory([entry], self.w)
            m.delays.add_one(0)
            self._apply(t, t, list(grads[:len(self.w)]))
        m.n_bwd += 1
        m.n_fwd += 1
        m.n_timed += m.timing(t)
        return out.detach(), gin

    def backward(self, t: int, delta=None):
        if not self.top:
            raise RuntimeError("DNI's lower modules update in forward(); use train_synth()")
        return super().backward(t, delta)

    def train_synth(self, t: int, delta) -> None:
        """Regress S_k(h^{t-1}, y^{t-1}) on the boundary gradient module k+1 sent at t-1."""
        with self.meter.timed("bwd_s", t):
            h, y = self.synth_inputs.popleft()
            self.synth_opt.zero_grad(set_to_none=True)
            loss = ((self.synth(h, y) - delta) ** 2).sum() / h.shape[0]
            loss.backward()
            self.synth_opt.step()
            self.synth_loss = loss.detach()

    def stats(self, with_weights: bool = True, host: bool = True) -> dict[str, Any]:
        return {**super().stats(with_weights, host), "synth_loss": float(self.synth_loss)}


STAGES = {"bp": BPStage, "ddg": DDGStage, "fr": FRStage, "dni": DNIStage}


def make_stage(algo: str, k: int, K: int, module: nn.Module, **kw) -> Stage:
    """Module k of K under ``algo`` (bp, ddg, fr, dni)."""
    try:
        cls = STAGES[algo]
    except KeyError:
        raise ValueError(f"unknown algorithm {algo!r}") from None
    return cls(k, K, module, **kw)


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
        stages[k] = make_stage(algo, k, K, own[k], eta=params["eta"], opt=params.get("opt", "sgd"),
                          schedule=params.get("schedule", "constant"), t0=params.get("t0", 1.0), beta1=params.get("beta1", 0.9),
                          beta2=params.get("beta2", 0.999), eps=params.get("eps", 1e-8), loss_fn=workload.loss_fn,
                          synth=synth, synth_eta=params.get("synth_eta", 1e-3), device=device)
    return modules, stages, shapes  # ``modules``: the evaluator moves them to its device
