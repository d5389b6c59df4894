"""Backend helpers shared by plugins (launching torch.distributed ranks, ...)."""
