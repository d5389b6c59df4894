"""Parent side of ``mnag-torch`` / ``lars-torch`` / ``clars-torch``: check the batch, then launch
``ctx.workers`` torch.distributed ranks of :mod:`harness.plugins.torch_dp.rank` through the shared
launcher :mod:`harness.plugins.launchers.torch_dist` (gloo on CPU, NCCL when W CUDA devices exist)."""

from __future__ import annotations


def run(ctx):
    from harness.plugins.launchers import torch_dist

    from .train import check_batch

    check_batch(ctx)
    return torch_dist.launch(ctx, "harness.plugins.torch_dp.rank")
