"""``*-torch``: launch K torch.distributed ranks (module k on rank k) for this run through the
shared launcher :mod:`harness.plugins.launchers.torch_dist` (gloo on CPU, NCCL when K CUDA devices exist;
a failing or killed rank stops the others and ends the run with ``error`` and that rank's message)."""

from __future__ import annotations


def run(ctx):
    from harness.plugins.launchers import torch_dist

    return torch_dist.launch(ctx, "harness.plugins.torch_mp.rank")
