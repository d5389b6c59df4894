"""What the model-parallel plugins share (Huo 2020 (thesis), Ch. 5-6): the data order (:class:`Sampler`),
the DNI synthesizers, loading weights, the evaluation helpers (:func:`sigma_dir`, the point's extra),
the modules' boundaries and the measurement window. The functional optimizers (out of place, so a
stored graph keeps the weights it was built with) are in :mod:`.optim`, activation-memory
measurement in :mod:`.memory`, and the algorithms themselves, one class per algorithm (BP, DDG, FR,
DNI), with :func:`build_stages`, in :mod:`.stages`.

The single-process simulator (``driver.py``, ``run_sim``) and the K-rank torch.distributed backend
(``rank.py``) both drive K stages with the same per-stage calls in the same order (``forward(t)``
then ``backward(t)`` / ``train_synth(t)``); they differ only in how boundary tensors travel (a
Python variable vs ``isend``/``irecv``). That is why the simulator is the exact reference of the
parallel run.

Notation (the thesis's, Ch. 5-6): modules k = 1..K bottom to top (here 0-based,
``k = 0..K-1``); module k's delay is ``tau_k = K - k`` (1-based) = ``K - 1 - k`` (0-based).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

import torch
from torch import nn

from harness.api import DelayStats

ALGOS = ("bp", "ddg", "fr", "dni")   # the classes: stages.STAGES


# -- data order --------------------------------------------------------------------------------
class Sampler:
    """Batch t of a seeded epoch-wise shuffle (last partial batch dropped): every rank computes the
    same indices on its own, so labels never travel. The epoch's permutation is copied to
    ``device`` once per epoch: a batch is a slice of it (no host-to-device copy, so no stream
    synchronisation, per iteration)."""

    def __init__(self, n: int, b: int, seed: int, device=None):
        if b > n:
            from harness.api import UserError

            raise UserError(f"batch size b={b} exceeds the {n} training samples")
        self.n, self.b, self.seed = n, b, seed
        self.device = torch.device(device or "cpu")
        self.per_epoch = n // b
        self._epoch, self._perm = -1, None

    def batch(self, t: int) -> torch.Tensor:
        """The indices of batch t (b,) long, on ``device``."""
        e, j = divmod(int(t), self.per_epoch)
        if e != self._epoch:
            perm = np.random.default_rng([self.seed, e]).permutation(self.n)
            self._epoch, self._perm = e, torch.from_numpy(perm).to(self.device)
        return self._perm[j * self.b:(j + 1) * self.b]


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


# -- evaluation helpers (the rank owning the monitor, clock paused) ------------------------------
def load_weights(modules: Sequence[nn.Module], weights: Sequence[Sequence[torch.Tensor]]) -> None:
    with torch.no_grad():
        for m, ws in zip(modules, weights):
            for p, w in zip(m.parameters(), ws):
                p.copy_(w.to(p.device))


def sigma_dir(modules: Sequence[nn.Module], stats: Sequence[dict], X, y, sampler: Sampler, loss_fn):
    """The sufficient-direction constant per module (docs/derivations.md, features_replay, 'measuring sigma'):
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
    dev = flat_all[0].device
    ref: dict[tuple[int, int], list[torch.Tensor]] = {}
    for t, s in pairs:
        load_weights(modules, [st["recent_w"][t] for st in stats])  # w^t of every module
        idx = sampler.batch(s).to(X.device)
        loss = loss_fn(model(X[idx]), y[idx])
        grads = torch.autograd.grad(loss, flat_all)
        per, i = [], 0
        for ps in params:
            per.append(torch.cat([g.reshape(-1) for g in grads[i:i + len(ps)]]).detach().double())
            i += len(ps)
        ref[(t, s)] = per
    load_weights(modules, [st["w"] for st in stats])  # back to the snapshot's weights
    # sums on the device, one host copy: (num_k, den_k) for every module
    sums = torch.zeros(len(stats), 2, dtype=torch.float64, device=dev)
    for k, st in enumerate(stats):
        for t, s, g in st["recent"]:
            n_k = ref[(t, s)][k]
            g = g.to(dev, torch.float64)
            sums[k, 0] += n_k @ g
            sums[k, 1] += n_k @ n_k
    host = sums.cpu().tolist()
    sig = [num / den if den > 0 else None for num, den in host]
    num_all, den_all = sum(r[0] for r in host), sum(r[1] for r in host)
    return sig, (num_all / den_all if den_all > 0 else None)


def sigma_cost(algo: str, W: int, K: int, b: int) -> float:
    """Sample gradients :func:`sigma_dir` costs at a snapshot (what the monitor's evaluation plan is
    told, ``Monitor.costs``): a forward and backward pass of the whole network on b samples per
    distinct (iteration, batch) pair of its window of W iterations: W for BP and DNI (every module
    used batch t), W * K for DDG and FR (module k used batch t - K + k)."""
    return float(W * (K if algo in ("ddg", "fr") else 1) * b)


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
        from harness.api import UserError

        raise UserError(f"bad boundaries {text!r}: expected block indices like '2' or '1,3'") from None


def boundary_shapes(modules: Sequence[nn.Module], workload) -> list[tuple[int, ...]]:
    """Per-sample shape of module k's input (k = 0..K-1) and of the network output (index K)."""
    x = torch.zeros((2, *workload.input_shape), device=next(modules[0].parameters()).device)
    shapes = [tuple(x.shape[1:])]
    with torch.no_grad():
        for m in modules:
            x = m(x)
            shapes.append(tuple(x.shape[1:]))
    return shapes


def window(t: int, chunk: int, W: int, K: int) -> tuple[int, int, int]:
    """The recording window of the chunk [t, t + chunk): ``(lo, hi, grads_from)``. Time and memory
    are recorded for t in [lo, hi), the last max(W, 2K) iterations (at least 2K, so every live graph
    was built while recording); the applied gradients and weights sigma_dir needs for the last W
    only (each costs sigma_dir K forward/backward passes at the snapshot)."""
    return max(t, t + chunk - max(W, 2 * K)), t + chunk, max(t, t + chunk - W)
