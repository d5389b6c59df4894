"""``network`` workloads: a torch module factory plus data (extra ``torch``).

Architectures are lists of sequential **blocks** so a model can be split into K modules at chosen
block boundaries (model-parallel DDG / features replay put module k on rank k):

- ``mlp``: Flatten, then ``depth`` blocks of (Linear, ReLU), then a Linear classifier block.
- ``resnet``: a small residual CNN: a stem conv block, ``depth`` residual blocks (two 3x3 convs with
  batch-free GroupNorm and an identity or 1x1 shortcut), then a pooling + Linear head.

Data: ``digits`` (scikit-learn's 8x8 handwritten digits, real data shipped with the package),
``cifar-synth`` (generated 3x32x32 images: a fixed random template per class + noise, learnable,
deterministic for a seed), ``cifar`` (CIFAR-10 python batches from a directory a user points to:
``data_batch_1..5`` and ``test_batch``, read without running anything in them, :mod:`.cifar`),
``mnist`` (MNIST's four IDX files, Huo & Huang 2017's data: downloaded into the cache with their SHA-256
checked, or read from ``path``; its own 60,000 / 10,000 split). Everything is deterministic for ``seed``.

``metrics(model)`` accepts an ``nn.Module`` or a list of stage modules (composed in order) and
returns, on a fixed evaluation subset E of the training set (``eval_n`` samples of a seeded
permutation; all of them when ``eval_n`` = 0 or >= n), the training loss on E as ``objective``,
``train_acc``, ``grad_norm_sq`` (squared norm of the gradient of the loss on E), and on the first
``eval_n`` test samples ``test_loss`` and ``test_acc``. It runs on the model's device, in batches of
``eval_batch`` samples (memory bounded whatever n), the test pass under ``no_grad`` (the monitor
gives torch the machine's cores while it evaluates). ``eval_n`` is what a run asks for at most: the
monitor's evaluation plan (``harness.api.EvalCosts``) may evaluate a short budget's points on a
smaller subset E_m (m a power of two, at least :data:`MIN_EVAL`): the first m of the same seeded
permutation, so E_m is inside E and equal to what ``eval_n = m`` asks for; the run stores it.
"""

from __future__ import annotations

import contextlib
import functools
import os
from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from harness.api import Param, Workload, WorkloadSpec


def _blocked_siblings() -> int:
    """This job's other ranks on this node (torch.distributed's ``LOCAL_WORLD_SIZE``, or
    ``WORLD_SIZE`` from our single-node launcher, less this one): they wait blocked in a collective
    while the monitor rank evaluates, so the cores they hold while training are free then. 0 in a
    single process."""
    size = os.environ.get("LOCAL_WORLD_SIZE") or os.environ.get("WORLD_SIZE") or "1"
    try:
        return max(int(size) - 1, 0)
    except ValueError:
        return 0


@contextlib.contextmanager
def _evaluation_threads():
    """While a network is evaluated (the monitor's clock paused), torch's intra-op threads at the CPUs
    this process may use that are idle: the torch plugins time their loop on one thread, and their evaluation need not
    crawl on it. Idle = the CPUs minus the 1-minute load average (this process's loop among it),
    less this job's other ranks on the node, which wait blocked while we evaluate though the
    average still counts them (measured: bp-torch's resnet evaluation with 2 ranks on 2 cores ran on
    one thread, 6.6 s a point against 1.8 s). The load average, not an instant count: an
    evaluation's results change in their last bits with its thread count, and a deterministic
    plugin's two runs must give the same curve, so the count must not jitter from run to run. On a
    busy machine no thread is added: a team of threads waiting for taken cores is many times
    slower than one thread (measured: a digits-MLP evaluation 40x slower at load 4 on 2 cores)."""
    import torch

    before = torch.get_num_threads()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    load = (os.getloadavg()[0] if hasattr(os, "getloadavg") else float(cores)) - _blocked_siblings()
    threads = max(before, min(cores, before + int(cores - load)))
    if threads != before:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if threads != before:
            torch.set_num_threads(before)


MIN_EVAL = 64   # the smallest evaluation subset the plan chooses (accuracy in steps of 1/64)


class NetworkWorkload(Workload):
    kind = "network"
    _eval_m: int | None = None          # the evaluation plan's subset (None: as asked)
    _pilot_s: float | None = None       # a timed plan's allowance, until its pilot ran

    def __init__(self, name, arch="mlp", data="digits", path="", n_train=0, width=64, depth=2, test_fraction=0.25,
                 seed=0, eval_n=2048, eval_batch=512):
        super().__init__(name, arch=arch, data=data, path=path, n_train=n_train, width=width, depth=depth,
                         test_fraction=test_fraction, seed=seed, eval_n=eval_n, eval_batch=eval_batch)
        self._eval_sets: dict[tuple, tuple] = {}

    def spec_dict(self) -> dict[str, Any]:
        """As the base class, without ``arch`` (implied by the registered name), so that
        ``build_workload(spec['name'], spec['params'])`` rebuilds it in a child process."""
        return {"name": self.name, "params": {k: v for k, v in self.params.items() if k != "arch"}}

    def data_identity(self) -> dict[str, Any]:
        """Data read from files is identified by the files' SHA-256 (wherever they are), not by
        their folder: MNIST's four IDX files (fetched here, in the process that resolves the run,
        before any rank starts; ranks then find them in the cache) and CIFAR-10's batches (a folder
        whose batches were rewritten was served the old run from the cache)."""
        ident = super().data_identity()
        if self.params["data"] not in ("mnist", "cifar"):
            return ident
        from harness.api import file_sha256

        if self.params["data"] == "mnist":
            from .mnist import mnist_files

            paths = mnist_files(self.params["path"])
        else:
            paths = cifar10_files(self.params["path"])
            _check_batches(paths)
        files = {f.name.removesuffix(".gz"): file_sha256(f) for f in paths}
        return {**ident, "params": {k: v for k, v in ident["params"].items() if k != "path"}, "files": files}

    # -- memory -------------------------------------------------------------------------------------
    _INPUT = {"digits": (1797, 64), "cifar-synth": (None, 3 * 32 * 32), "cifar": (60000, 3 * 32 * 32),
              "mnist": (70000, 28 * 28)}

    def sizes(self) -> dict[str, int]:
        """Training samples as ``_arrays`` splits them (CIFAR-10, MNIST from a folder: unknown until
        the folder is read; MNIST downloaded: its 60,000 training images)."""
        p = self.params
        if p["data"] == "cifar" or (p["data"] == "mnist" and p["path"]):
            return {}
        if p["data"] == "mnist":
            return {"n": min(60000, p["n_train"]) if p["n_train"] else 60000}
        total = self._INPUT[p["data"]][0] or int(round(max(p["n_train"] or 2048, 64) / (1 - p["test_fraction"])))
        n = total - int(round(p["test_fraction"] * total))
        return {"n": min(n, p["n_train"]) if p["n_train"] else n}

    def _n_weights(self) -> int:
        p = self.params
        fan_in = self._INPUT[p["data"]][1]
        if p["arch"] == "mlp":
            widths = [fan_in] + [p["width"]] * p["depth"] + [10]
            return sum(a * b + b for a, b in zip(widths, widths[1:]))
        chans = max(8, p["width"] // 4)
        return 3 * chans * 9 + p["depth"] * 2 * chans * chans * 9 + chans * 10

    def estimate_bytes(self) -> int:
        """The images as generated / read and as float32 tensors (about 3 copies of 4 bytes per
        pixel), and the weights with their gradients, optimizer state and per-rank copies (about 8
        copies of 4 bytes per weight)."""
        p = self.params
        total, pixels = self._INPUT[p["data"]]
        total = total or int(round(max(p["n_train"] or 2048, 64) / (1 - p["test_fraction"])))
        return 4 * (3 * total * pixels + 8 * self._n_weights())

    def memory_note(self) -> str:
        p = self.params
        return f"{p['arch']} width={p['width']:,} depth={p['depth']:,}: {self._n_weights():,} weights, data={p['data']}"

    # -- data -----------------------------------------------------------------------------------
    @cached_property
    def _tensors(self):
        import torch

        X, y, Xt, yt = self._arrays()
        cap = self.params["n_train"]
        if cap and cap < len(X):
            X, y = X[:cap], y[:cap]
        as_t = lambda a, dt: torch.as_tensor(np.ascontiguousarray(a), dtype=dt)  # noqa: E731
        return (as_t(X, torch.float32), as_t(y, torch.long), as_t(Xt, torch.float32), as_t(yt, torch.long))

    def release(self) -> None:
        self.__dict__.pop("_tensors", None)
        self._eval_sets.clear()
        self._eval_m, self._pilot_s = None, None

    def _arrays(self):
        p = self.params
        rng = np.random.default_rng(p["seed"])
        if p["data"] == "digits":
            from .datasets import digits

            images, target = digits()
            X = (images / 16.0).astype(np.float32)[:, None, :, :]  # (N, 1, 8, 8)
            y = target.astype(np.int64)
        elif p["data"] == "cifar-synth":
            n = max(p["n_train"] or 2048, 64)
            total = int(round(n / (1 - p["test_fraction"])))
            templates = rng.standard_normal((10, 3, 32, 32)).astype(np.float32)
            y = rng.integers(0, 10, size=total)
            X = (0.5 * templates[y] + rng.standard_normal((total, 3, 32, 32)).astype(np.float32))
        else:  # the datasets with their own test split
            if p["data"] == "mnist":
                from .mnist import load_mnist

                X, y, Xt, yt = load_mnist(p["path"])
            else:
                X, y, Xt, yt = load_cifar10(p["path"])
            X, Xt = _standardise(X, Xt)
            return X, y, Xt, yt
        perm = rng.permutation(len(X))
        n_test = int(round(p["test_fraction"] * len(X)))
        te, tr = perm[:n_test], perm[n_test:]
        Xtr, Xte = _standardise(X[tr], X[te])
        return Xtr, y[tr], Xte, y[te]

    def data(self):
        """(X_train, y_train, X_test, y_test) as torch tensors (float32 images, long labels)."""
        return self._tensors

    @property
    def n(self) -> int:
        return int(self._tensors[0].shape[0])

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self._tensors[0].shape[1:])

    @property
    def n_classes(self) -> int:
        return 10

    # -- model ----------------------------------------------------------------------------------
    def blocks(self, seed: int | None = None) -> list:
        """The model as a list of sequential blocks, initialised deterministically from ``seed``."""
        import torch
        from torch import nn

        torch.manual_seed(self.params["seed"] if seed is None else seed)
        c, h, w = self.input_shape
        width, depth = self.params["width"], self.params["depth"]
        if self.params["arch"] == "mlp":
            blocks: list[nn.Module] = []
            fan_in = c * h * w
            for k in range(depth):
                layers = [nn.Flatten()] if k == 0 else []
                blocks.append(nn.Sequential(*layers, nn.Linear(fan_in, width), nn.ReLU()))
                fan_in = width
            head = [nn.Flatten()] if depth == 0 else []
            blocks.append(nn.Sequential(*head, nn.Linear(fan_in, self.n_classes)))
            return blocks
        chans = max(8, width // 4)
        blocks = [nn.Sequential(nn.Conv2d(c, chans, 3, padding=1, bias=False), nn.GroupNorm(1, chans), nn.ReLU())]
        residual = _residual_block()
        for _ in range(depth):
            blocks.append(residual(chans, chans))
        blocks.append(nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(chans, self.n_classes)))
        return blocks

    def build_model(self, seed: int | None = None):
        from torch import nn

        return nn.Sequential(*self.blocks(seed))

    def split(self, blocks: Sequence, K: int, boundaries: Sequence[int] | None = None) -> list:
        """Group blocks into K sequential modules. ``boundaries``: the block indices where modules
        2..K start (default: as even as possible by parameter count)."""
        from torch import nn

        blocks = list(blocks)
        if not 1 <= K <= len(blocks):
            from harness.api import UserError

            raise UserError(f"cannot split {len(blocks)} blocks into {K} modules (depth too small?)")
        if boundaries is None:
            sizes = np.array([sum(p.numel() for p in b.parameters()) + 1 for b in blocks], dtype=float)
            cum = np.cumsum(sizes) / sizes.sum()
            boundaries = []
            for k in range(1, K):
                cut = int(np.searchsorted(cum, k / K)) + 1
                lo = (boundaries[-1] + 1) if boundaries else 1
                cut = min(max(cut, lo), len(blocks) - (K - k))
                boundaries.append(cut)
        edges = [0, *boundaries, len(blocks)]
        if any(a >= b for a, b in zip(edges, edges[1:])):
            from harness.api import UserError

            raise UserError(f"bad module boundaries {list(boundaries)} for {len(blocks)} blocks")
        return [nn.Sequential(*blocks[a:b]) for a, b in zip(edges, edges[1:])]

    # -- metrics --------------------------------------------------------------------------------
    def loss_fn(self, logits, y):
        import torch.nn.functional as F

        return F.cross_entropy(logits, y)

    def _asked_eval(self) -> int:
        """The subset size ``eval_n`` asks for: at most n (0: all)."""
        n, m = self.n, int(self.params["eval_n"])
        return n if m <= 0 or m >= n else m

    def eval_indices(self) -> np.ndarray:
        """The evaluation subset E: ``eval_n`` training indices of a permutation seeded by the data
        seed, sorted (all of 0..n-1 when eval_n = 0 or >= n); the plan's E_m: its first m."""
        n, m = self.n, self._eval_m or self._asked_eval()
        if m >= n:
            return np.arange(n)
        return np.sort(np.random.default_rng([self.params["seed"], 104729]).permutation(n)[:m])

    def eval_set(self, device) -> tuple:
        """(X_E, y_E, X_test, y_test) on ``device`` (cached per device and size; the test part capped
        at the subset's size)."""
        key = (str(device), self._eval_m)
        if key not in self._eval_sets:
            import torch

            X, y, Xt, yt = self._tensors
            ii = torch.as_tensor(self.eval_indices(), dtype=torch.long)
            m = int(self.params["eval_n"]) if self._eval_m is None else self._eval_m
            cap = len(Xt) if m <= 0 else min(m, len(Xt))
            self._eval_sets[key] = tuple(t.to(device) for t in (X[ii], y[ii], Xt[:cap], yt[:cap]))
        return self._eval_sets[key]

    # -- the evaluation plan ------------------------------------------------------------------------
    def eval_costs(self):
        """The plan's facts (``harness.api.EvalCosts``): subsets of the asked size and every power of
        two below it down to :data:`MIN_EVAL`; the test samples evaluated at the asked size; FLOPs of
        one sample gradient (three forward passes, counted by torch's FLOP counter on one sample)."""
        from harness.api import EvalCosts

        asked = self._asked_eval()
        sizes = [asked] + [2 ** k for k in range(max(asked - 1, 1).bit_length() - 1, -1, -1)
                           if MIN_EVAL <= 2 ** k < asked]
        m = int(self.params["eval_n"])
        n_test = len(self._tensors[2])
        return EvalCosts(tuple(sizes), test=n_test if m <= 0 else min(m, n_test), flops=3.0 * self._forward_flops(),
                         param="eval_n")

    def _forward_flops(self) -> float:
        """FLOPs of one sample's forward pass: 2 per multiply-add of its convolutions and linear
        layers (counted by hooks on one sample; normalisation and activations are not counted; 2 per
        weight where neither occurs). torch's own FLOP counter is not used: it leaves a
        ``torchinductor_<user>`` folder in the temporary directory."""
        if "_fwd_flops" not in self.__dict__:
            import torch
            from torch import nn

            model = self.build_model(seed=0)
            count = [0.0]

            def hook(mod, inputs, out):
                if isinstance(mod, nn.Conv2d):
                    per_out = mod.in_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1]
                    count[0] += 2.0 * out.numel() * per_out
                elif isinstance(mod, nn.Linear):
                    count[0] += 2.0 * out.numel() * mod.in_features

            handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
            try:
                with torch.no_grad():
                    model(torch.zeros((1, *self.input_shape)))
            finally:
                for h in handles:
                    h.remove()
            self.__dict__["_fwd_flops"] = count[0] or 2.0 * sum(p.numel() for p in model.parameters())
        return self.__dict__["_fwd_flops"]

    def use_eval_size(self, size: int | None, *, seconds: float | None = None) -> None:
        asked = self._asked_eval()
        self._eval_m = None if size is None or size >= asked else int(size)
        self._pilot_s = seconds

    def eval_size(self) -> int:
        return self._eval_m or self._asked_eval()

    def metrics(self, model: Any) -> dict[str, float]:
        with _evaluation_threads():
            if self._pilot_s is not None:
                return self._piloted(model)
            return self._evaluate(model)

    def _piloted(self, model: Any) -> dict[str, float]:
        """A timed plan's first evaluation: the smallest subset, timed, sizes the subset every point
        uses (``harness.api.EvalCosts``); the pilot's own result is the point's when that is the size."""
        import time

        costs, allowance = self.eval_costs(), self._pilot_s
        self._pilot_s = None
        self.use_eval_size(costs.sizes[-1])
        t0 = time.perf_counter()
        out = self._evaluate(model)
        size = costs.timed_size(time.perf_counter() - t0, allowance)
        if size == costs.sizes[-1]:
            return out
        self.use_eval_size(size)
        return self._evaluate(model)

    def _evaluate(self, model: Any) -> dict[str, float]:
        import torch
        from torch import nn

        if isinstance(model, (list, tuple)):
            model = nn.Sequential(*model)
        params = [p for p in model.parameters() if p.requires_grad]
        dev = params[0].device if params else torch.device("cpu")
        X, y, Xt, yt = self.eval_set(dev)
        bs = max(1, int(self.params["eval_batch"]))
        was_training = model.training
        model.eval()
        try:
            m = len(X)
            loss_sum = torch.zeros((), dtype=torch.float64, device=dev)
            correct = torch.zeros((), dtype=torch.float64, device=dev)
            gsum = [torch.zeros_like(p, dtype=torch.float64) for p in params]
            for a in range(0, m, bs):                              # f_E = (1/m) sum_batches |batch| f_batch
                logits = model(X[a:a + bs])
                loss = self.loss_fn(logits, y[a:a + bs]) * (len(logits) / m)
                grads = torch.autograd.grad(loss, params, allow_unused=True)
                for acc, g in zip(gsum, grads):
                    if g is not None:
                        acc += g.double()
                loss_sum += loss.detach().double()
                correct += (logits.detach().argmax(1) == y[a:a + bs]).double().sum()
            gsq = sum((g ** 2).sum() for g in gsum) if gsum else torch.zeros((), dtype=torch.float64)
            vals = [loss_sum, correct / max(m, 1), gsq]
            if len(Xt):
                with torch.no_grad():
                    tl = torch.zeros((), dtype=torch.float64, device=dev)
                    tc = torch.zeros((), dtype=torch.float64, device=dev)
                    for a in range(0, len(Xt), bs):
                        lt = model(Xt[a:a + bs])
                        tl += self.loss_fn(lt, yt[a:a + bs]).double() * len(lt)
                        tc += (lt.argmax(1) == yt[a:a + bs]).double().sum()
                    vals += [tl / len(Xt), tc / len(Xt)]
            host = torch.stack([v.to(dev) for v in vals]).cpu().tolist()   # one device-to-host copy
            out = {"objective": host[0], "train_acc": host[1], "grad_norm_sq": host[2]}
            if len(Xt):
                out["test_loss"], out["test_acc"] = host[3], host[4]
        finally:
            model.train(was_training)
        return out

    def constants(self) -> dict[str, float]:
        n_params = sum(p.numel() for b in self.blocks() for p in b.parameters())
        return {"n": float(self.n), "d": float(np.prod(self.input_shape)), "n_params": float(n_params),
                "n_blocks": float(len(self.blocks()))}


@functools.lru_cache(maxsize=1)
def _residual_block():
    from torch import nn

    class _ResidualBlock(nn.Module):
        """x + conv(relu(norm(conv(x)))), GroupNorm instead of BatchNorm (no batch statistics, so
        splitting a batch across ranks or replaying features changes nothing)."""

        def __init__(self, c_in: int, c_out: int):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.GroupNorm(1, c_out),
                                      nn.ReLU(), nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
                                      nn.GroupNorm(1, c_out))
            self.shortcut = nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1, bias=False)
            self.act = nn.ReLU()

        def forward(self, x):
            return self.act(self.body(x) + self.shortcut(x))

    return _ResidualBlock


def __getattr__(name):  # ResidualBlock without importing torch when the catalog is listed
    if name == "ResidualBlock":
        return _residual_block()
    raise AttributeError(name)


def _standardise(X, Xt):
    mean = X.mean(axis=(0, 2, 3), keepdims=True)
    std = X.std(axis=(0, 2, 3), keepdims=True) + 1e-8
    return ((X - mean) / std).astype(np.float32), ((Xt - mean) / std).astype(np.float32)


def cifar10_files(path: str | Path) -> list[Path]:
    """The CIFAR-10 batches in folder ``path`` (:func:`harness.suites.cifar.batch_files`)."""
    from .cifar import batch_files

    return batch_files(path)


def load_cifar10(path: str | Path):
    """CIFAR-10's batches in folder ``path``, read without running anything in them
    (:func:`harness.suites.cifar.load`): float32 images (N, 3, 32, 32) in [0, 1], int64 labels."""
    from .cifar import load

    return load(path)


def save_cifar10_batch(path: str | Path, images_uint8: np.ndarray, labels: Sequence[int]) -> None:
    """Write one CIFAR-10 python batch (used by tests to make small files)."""
    from .cifar import save_batch

    save_batch(path, images_uint8, labels)


_checked_folders: set[str] = set()


def _check_batches(paths: Sequence[Path]) -> None:
    """Once per folder and process (the one that resolves the run, before any rank starts): every
    batch read and checked (a bad one is the run's one-line refusal), then one line naming the
    batches that differ from the published ones."""
    from .cifar import check_files

    folder = str(Path(paths[0]).parent.resolve())
    if folder in _checked_folders:
        return
    differ = check_files(paths)
    _checked_folders.add(folder)
    if differ:
        import sys

        print(f"harness: CIFAR-10 folder {folder}: {', '.join(differ)} differ from the published batches (MD5): "
              f"not the official CIFAR-10; read as given, checked for shape and labels", file=sys.stderr)


DATA = ("digits", "cifar-synth", "cifar", "mnist")
_net_params = (
    Param("data", "digits", "choice", choices=DATA),
    Param("path", "", "str", doc="CIFAR-10 python batches directory (data=cifar); MNIST's four IDX files' folder "
                                 "(data=mnist; empty: downloaded into the cache)"),
    Param("n_train", 0, "int", low=0, doc="cap on training samples (0: all; cifar-synth: how many to generate)"),
    Param("width", 64, "int", low=1, doc="hidden width (mlp) / 4x channels (resnet)"),
    Param("depth", 2, "int", low=0, doc="hidden blocks (mlp) / residual blocks (resnet)"),
    Param("test_fraction", 0.25, "float", low=0.0, high=0.9),
    Param("seed", 0, "int", low=0, doc="data and initialisation seed"),
    Param("eval_n", 2048, "int", low=0, doc="evaluation subset: training (and test) samples the metrics use "
                                            "(0: all); a fixed seeded subset; at most: a short budget's evaluation "
                                            "plan may take the first 64, 128, ... of it (stored with the run)"),
    Param("eval_batch", 512, "int", low=1, doc="samples per evaluation batch (bounds the evaluation's memory)"),
)

CONSTANTS = ("n", "d", "n_params", "n_blocks")   # what NetworkWorkload.constants() provides
WORKLOADS = [
    WorkloadSpec("mlp", "network", "harness.suites.network:MLP", _net_params,
                 "MLP classifier (default: scikit-learn digits), splittable into K modules", needs=("torch",),
                 constants=CONSTANTS),
    WorkloadSpec("resnet", "network", "harness.suites.network:ResNet",
                 tuple(p if p.name != "data" else Param("data", "cifar-synth", "choice", choices=DATA)
                       for p in _net_params),
                 "small residual CNN (default: generated CIFAR-shaped images), splittable into K modules",
                 needs=("torch",), constants=CONSTANTS),
]


class MLP(NetworkWorkload):
    def __init__(self, name, **params):
        super().__init__(name, arch="mlp", **params)


class ResNet(NetworkWorkload):
    def __init__(self, name, **params):
        super().__init__(name, arch="resnet", **params)
