"""The training loop shared by the serial plugins (one process) and the torch ranks.

Rank 0 owns the monitor: it decides how many steps run before the next snapshot and broadcasts
that count (0 = stop) to every rank, so all ranks stop together after the same number of steps;
it evaluates the workload's metrics plus the measurements of :mod:`.measure` at each snapshot
(clock paused). Points record ``updates`` = optimizer steps and ``samples`` = steps * B.
"""

from __future__ import annotations

from typing import Any

from .large_batch import LargeBatch


def check_batch(ctx) -> None:
    """A batch larger than the training set is the user's mistake (exit 2), caught before launching."""
    b = ctx.params.get("b")
    if b and int(b) > ctx.workload.n:
        from harness.api import UserError

        raise UserError(f"batch size b={b} exceeds the training set of {ctx.workload.name} (n={ctx.workload.n}); "
                        "b=0 means the whole set")


def train(ctx, rule: str, dist=None) -> dict[str, Any]:
    """Run one large-batch training job; returns the run-level info (rank 0) or {}."""
    import torch

    from harness.plugins.launchers.torch_dist import fault, local_device

    wl, p, mon = ctx.workload, ctx.params, ctx.monitor
    rank, world = (dist.rank, dist.world) if dist else (0, 1)
    device = dist.device if dist else local_device(ctx.options.get("device", "cpu"))
    X, y, _, _ = wl.data()
    if device.type != "cpu":
        X, y = X.to(device), y.to(device)
    check_batch(ctx)
    model = wl.build_model(seed=ctx.seed).to(device)   # initialisation and batches from the run's seed
    opt = LargeBatch(model, X, y, wl.loss_fn, rule=rule, p=p, seed=ctx.seed, rank=rank, world=world,
                     reduce=dist.all_reduce_ if dist else None)
    owner = rank == 0
    meas = None
    if owner:
        from .measure import Measurements

        meas = Measurements(wl, opt, p, ctx.seed)
        mon.evaluate = meas
        mon.costs(update=opt.B, point=meas.point_cost())
    if dist:
        dist.barrier()
    if owner:
        mon.start()
        mon.tick(0, model, samples=0)
    t = 0
    while True:
        k = mon.next_chunk(t) if (owner and mon.running) else 0
        if dist:
            k = dist.broadcast_int(k)
        if k <= 0:
            break
        for _ in range(k):
            fault(ctx.options, rank, t + 1)
            opt.step(t)
            t += 1
        if owner:
            mon.tick(t, model, samples=t * opt.B)
    if not owner:
        return {}
    info = meas.summary()
    info["applied"] = ctx.applied(**opt.applied)
    info.update({"rule": rule, "world": world, "backend": dist.backend if dist else "serial",
                 "device": str(device), "steps": t,
                 "per_sample_norms": opt.per_sample.method if opt.per_sample else "not needed"})
    save = ctx.options.get("save_params")
    if save:
        torch.save({n: q.detach().cpu() for n, q in model.named_parameters()}, save)
    return info
