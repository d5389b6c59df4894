"""Time per step of the torch plugins next to a plain PyTorch training loop of the same model, batch
and device (issue 17), measured side by side in one process.

- ``mnag`` / ``lars`` / ``clars`` (W = 1): ``LargeBatch.step`` (plugins/torch_dp/large_batch.py), the step
  the data-parallel ranks run, against ``torch.optim.SGD(momentum=beta, nesterov=True)`` over
  forward / backward / step on the same batches. Targets: <= 1.1x for mnag and lars; CLARS's
  extra is the cost of its exact per-sample gradient norms.
- ``bp`` / ``ddg`` / ``fr`` (K modules in one process, ``--K``): one iteration of all K stages
  (``plugins/torch_mp/driver.sim_iteration``, what ``*-sim`` runs; each ``*-torch`` rank runs its
  stage's share of it) against the same plain loop on the whole network.

Every configuration is timed ``--repeats`` times, interleaved (plain, mnag, lars, ..., plain, ...),
``--steps`` steps each after ``--warmup`` untimed ones; printed as min / median / max seconds per
step and the ratio of medians. On a GPU (``--device cuda``) each timing ends with a synchronize, and
the script prints nvidia-smi's utilisation when it is there.

    python benchmarks/torch_step.py                                        # short, CPU, small resnet
    python benchmarks/torch_step.py --device cuda --n-train 4096 --width 64 --depth 4 --b 1024 --steps 20
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def plain_loop(wl, X, y, b: int, lr: float, beta: float, seed: int, device):
    """A plain PyTorch loop: returns step(t) (forward, backward, SGD-with-Nesterov step)."""
    import torch

    from harness.plugins.torch_dp.large_batch import Batches

    model = wl.build_model(seed=seed).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=beta, nesterov=True)
    batches = Batches(len(X), b, seed)

    def step(t: int) -> None:
        idx = torch.as_tensor(batches(t)).to(device, non_blocking=True)   # as the plugin step: no stream sync
        loss = wl.loss_fn(model(X[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def large_batch(wl, X, y, rule: str, b: int, lr: float, beta: float, seed: int, device):
    from harness.plugins.torch_dp.large_batch import LargeBatch

    model = wl.build_model(seed=seed).to(device)
    opt = LargeBatch(model, X, y, wl.loss_fn, rule=rule, p={"b": b, "lr": lr, "b_base": b, "beta": beta,
                                                             "eta": 0.001, "chunk": 64}, seed=seed)
    return opt.step


def model_parallel(wl, X, y, algo: str, K: int, b: int, lr: float, seed: int, device):
    from harness.plugins.torch_mp.core import Sampler
    from harness.plugins.torch_mp.stages import build_stages
    from harness.plugins.torch_mp.driver import sim_iteration

    _, stages_d, _ = build_stages(wl, {"eta": lr, "b": b}, K, seed, algo, device)
    stages = [stages_d[k] for k in range(K)]
    sampler = Sampler(len(X), b, seed, device)
    pending: dict = {}

    def step(t: int) -> None:
        nonlocal pending
        idx = sampler.batch(t)
        pending = sim_iteration(stages, t, X[idx], y[idx], algo, pending)

    return step


def time_steps(step, t0: int, steps: int, device) -> float:
    sync(device)
    start = time.perf_counter()
    for t in range(t0, t0 + steps):
        step(t)
    sync(device)
    return (time.perf_counter() - start) / steps


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workload", choices=("resnet", "mlp"), default="resnet")
    ap.add_argument("--n-train", type=int, default=256)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--b", type=int, default=64)
    ap.add_argument("--K", type=int, default=2, help="modules of bp / ddg / fr")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    ap.add_argument("--rules", default="mnag,lars,clars,bp,ddg,fr")
    a = ap.parse_args(argv)
    import torch

    if a.threads:
        torch.set_num_threads(a.threads)
    from harness._core.registry import workloads

    wp = {"n_train": a.n_train, "width": a.width, "depth": a.depth}
    if a.workload == "resnet":
        wp["data"] = "cifar-synth"
    wl = workloads().get(a.workload).build(wp)
    from harness._core.errors import UserError
    from harness.plugins.launchers.torch_dist import local_device

    try:
        device = local_device(a.device)            # cuda on a machine without one: a clear error, exit 2
    except UserError as exc:
        print(f"torch_step: error: {exc}", file=sys.stderr)
        return 2
    X, y, _, _ = wl.data()
    X, y = X.to(device), y.to(device)
    lr, beta, seed = 0.01, 0.9, 0
    rules = a.rules.split(",")
    makers = {"plain": lambda: plain_loop(wl, X, y, a.b, lr, beta, seed, device)}
    for r in rules:
        if r in ("mnag", "lars", "clars"):
            makers[r] = lambda r=r: large_batch(wl, X, y, r, a.b, lr, beta, seed, device)
        else:
            makers[r] = lambda r=r: model_parallel(wl, X, y, r, a.K, a.b, lr, seed, device)
    steps = {name: make() for name, make in makers.items()}
    for name, step in steps.items():                  # warm-up (first vmap / allocator / cudnn autotune)
        time_steps(step, 0, a.warmup, device)
    times: dict[str, list[float]] = {name: [] for name in steps}
    t0 = a.warmup
    for _ in range(a.repeats):
        for name, step in steps.items():
            times[name].append(time_steps(step, t0, a.steps, device))
        t0 += a.steps
    print(f"{a.workload} {wp}, batch b = {a.b}, device {device}, torch threads {torch.get_num_threads()}, "
          f"{a.steps} steps x {a.repeats} repeats (after {a.warmup} warm-up), s/step min / median / max")
    base = float(np.median(times["plain"]))
    print(f"  {'step':24s} {'min':>9s} {'median':>9s} {'max':>9s} {'/ plain (medians)':>18s}")
    for name, ts in times.items():
        label = name if name in ("plain", "mnag", "lars", "clars") else f"{name} (K = {a.K}, one process)"
        if name in ("mnag", "lars", "clars"):
            label = f"{name}-torch step (W = 1)"
        print(f"  {label:24s} {min(ts):9.4f} {np.median(ts):9.4f} {max(ts):9.4f} {np.median(ts) / base:18.2f}")
    if device.type == "cuda" and shutil.which("nvidia-smi"):
        out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu,memory.used", "--format=csv"],
                             capture_output=True, text=True, timeout=30)
        print(out.stdout.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
