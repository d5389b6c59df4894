"""One torch.distributed rank of the data-parallel plugins (started by
``harness.plugins.launchers.torch_dist``), the parent side is :mod:`.launch`.

The rank rebuilds the run context from the spec (rank 0 owns the monitor and streams points to
``points.jsonl``), trains with :func:`harness.plugins.torch_dp.train.train` under gloo (CPU) or NCCL (when
this machine has ``workers`` CUDA devices), and rank 0 writes the result.
"""

from __future__ import annotations


def _body() -> int:
    from harness.plugins.launchers import torch_dist
    from harness.api import child_context, load_spec, write_result

    from .train import train

    spec = load_spec()
    opts = spec.get("options", {})
    dist = torch_dist.init(opts.get("device", "auto"), timeout_s=opts.get("timeout_s"))
    ctx = child_context(spec, owns_monitor=dist.rank == 0)
    info = train(ctx, ctx.plugin.family, dist)
    if dist.rank == 0:
        write_result(ctx, info)
    return 0


if __name__ == "__main__":
    from harness.plugins.launchers.torch_dist import rank_main

    rank_main(_body)
