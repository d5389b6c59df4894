"""The GPU path without a GPU: a whole run with ``--option device=cuda`` as on a one-GPU machine.

``fake_cuda`` makes ``torch.cuda`` report one device, so that ``device=cuda`` passes every check
and ``local_device`` (what the one-process torch plugins call) resolves it to ``cuda``; that device
is then swapped for torch's ``meta`` device (shapes, no data: a CPU tensor mixed into an op raises,
and ``host_copies`` answers a host copy as a zero tensor would and counts it). A dispatch mode
watches every tensor operation of each step and each snapshot, so the tests below see the device of
every tensor, not only of the state that survives a step, and the host synchronisations per step
(``.item()``, ``.cpu()``, ``float()``, ...: each waits for a GPU) and per snapshot. These are the
figures of the scale audit: a step of the large-batch and model-parallel plugins never waits for
the device; a snapshot reaches the host a fixed number of times."""

from __future__ import annotations

from collections import Counter

import pytest

pytestmark = pytest.mark.torch

RESNET = {"data": "cifar-synth", "n_train": 32, "width": 8, "depth": 2}
TO_DEVICE = {("aten.lift_fresh.default", ("cpu",)), ("aten._to_copy.default", ("cpu", "meta"))}


@pytest.fixture
def fake_cuda(monkeypatch):
    """torch.cuda reports one GPU; the device ``local_device`` resolves (cuda) is replaced by meta.
    Returns the devices ``local_device`` resolved."""
    import torch

    from harness.plugins.launchers import torch_dist
    from harness.plugins.torch_mp import driver

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    real, resolved = torch_dist.local_device, []

    def local_device(want="cpu"):
        dev = real(want)
        resolved.append(dev)
        return torch.device("meta") if dev.type == "cuda" else dev

    monkeypatch.setattr(torch_dist, "local_device", local_device)
    monkeypatch.setattr(driver, "local_device", local_device)        # imported by name there
    return resolved


def watch(monkeypatch, owner, name: str, copies: list) -> list[tuple[Counter, Counter]]:
    """Replace ``owner.name`` by a wrapper that, per call, records the host copies of meta tensors
    it made (Counter of method names) and every operation that had a tensor off the meta device
    (Counter of (op, devices))."""
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten

    class OffDevice(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.ops: Counter = Counter()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            devs = tuple(sorted({t.device.type for t in tree_flatten((args, kwargs, out))[0]
                                 if hasattr(t, "device")}))
            if devs != ("meta",):
                self.ops[(str(func), devs)] += 1
            return out

    log: list[tuple[Counter, Counter]] = []
    orig = getattr(owner, name)

    def wrapper(*args, **kwargs):
        n, mode = len(copies), OffDevice()
        with mode:
            out = orig(*args, **kwargs)
        log.append((Counter(m for m, dev in copies[n:] if dev == "meta"), mode.ops))
        return out

    monkeypatch.setattr(owner, name, wrapper)
    return log


def run(plugin: str, workers: int):
    from harness._core.monitor import Budget
    from harness.run.runner import RunSpec, execute

    return execute(RunSpec(plugin, "resnet", {"b": 8}, RESNET, workers, 0, Budget.parse("updates=6"),
                           options={"device": "cuda"}))


def check_snapshots(ticks, per_snapshot: Counter) -> None:
    """The first snapshot moves the evaluation subset to the device (once per run) and copies the
    metrics to the host; every later one reaches the host exactly ``per_snapshot`` times and
    computes nothing on the host (only copies onto the device)."""
    first, later = ticks[0], ticks[1:]
    assert first[0] == Counter({"cpu": 1}), first
    assert later and all(c == per_snapshot for c, _ in later), ticks
    assert all(set(ops) <= TO_DEVICE for _, ops in later), ticks


@pytest.mark.parametrize("plugin, facts", [("mnag-serial", 2), ("lars-serial", 2), ("clars-serial", 3)])
def test_large_batch_run_with_device_cuda_keeps_every_tensor_there(plugin, facts, fake_cuda, host_copies,
                                                                    monkeypatch):
    """A step: every operation on the device but the batch's index copy onto it (one per step, no
    wait), no host synchronisation. A snapshot: the metrics' one host copy, plus the step's facts
    converted when the monitor reads them (``.tolist()`` of ||g_k|| and gamma_k; CLARS's mean
    per-sample norms too)."""
    from harness._core.monitor import Monitor
    from harness.plugins.torch_dp.large_batch import LargeBatch

    copies = host_copies()
    steps = watch(monkeypatch, LargeBatch, "step", copies)
    ticks = watch(monkeypatch, Monitor, "tick", copies)
    rec = run(plugin, 1)
    assert [d.type for d in fake_cuda] == ["cuda"]
    assert rec.status == "budget" and rec.info["device"] == "meta", (rec.reason, rec.info.get("traceback"))
    assert len(steps) == 6 and all(c == Counter() for c, _ in steps), steps
    assert all(ops == Counter(dict.fromkeys(TO_DEVICE, 1)) for _, ops in steps), steps
    check_snapshots(ticks, Counter({"cpu": 1, "tolist": facts}))


@pytest.mark.parametrize("plugin", ["bp-sim", "ddg-sim", "fr-sim"])
def test_model_parallel_run_with_device_cuda_keeps_every_tensor_there(plugin, fake_cuda, host_copies, monkeypatch):
    """An iteration of the K = 2 modules (inside the recording window too: every update is a
    snapshot here): every operation on the device (the batch is a slice of the permutation kept
    there), no host synchronisation. A snapshot: two host copies, the metrics' and sigma_dir's."""
    from harness._core.monitor import Monitor
    from harness.plugins.torch_mp import driver

    copies = host_copies()
    iters = watch(monkeypatch, driver, "sim_iteration", copies)
    ticks = watch(monkeypatch, Monitor, "tick", copies)
    rec = run(plugin, 2)
    assert [d.type for d in fake_cuda] == ["cuda"]
    assert rec.status == "budget", (rec.reason, rec.info.get("traceback"))
    assert len(iters) == 6 and all(c == Counter() and ops == Counter() for c, ops in iters), iters
    check_snapshots(ticks, Counter({"cpu": 2}))


def test_measurement_cost_gives_each_torch_rank_a_gpu(fake_cuda):
    """benchmarks/measurement_cost.py under --device cuda on a one-GPU machine: the torch.distributed
    plugins run one rank (two were refused, exit 2, at the device run's first row); one-process
    plugins keep --workers."""
    from benchmarks.measurement_cost import workers_of
    from harness._core.registry import plugins

    reg = plugins()
    assert workers_of(reg.get("mnag-torch"), 2, "cuda") == 1 and workers_of(reg.get("ddg-torch"), 2, "cuda") == 1
    assert workers_of(reg.get("ddg-sim"), 2, "cuda") == 2 and workers_of(reg.get("mnag-torch"), 2, "cpu") == 2
    assert workers_of(reg.get("clars-serial"), 2, "cuda") == 1
