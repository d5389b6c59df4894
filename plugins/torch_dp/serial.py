"""``mnag-serial`` / ``lars-serial`` / ``clars-serial``: the same training loop in one process (the
all-reduce is the identity), the reference the data-parallel plugins must agree with."""

from __future__ import annotations


def run(ctx):
    import torch

    from .train import train

    threads = torch.get_num_threads()
    torch.set_num_threads(1)            # as each torch rank does: W=1 and serial time the same work
    try:
        return train(ctx, ctx.plugin.family)
    finally:
        torch.set_num_threads(threads)
