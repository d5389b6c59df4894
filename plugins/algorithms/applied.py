"""What a run reports it applied (``ctx.info["applied"]``, read by the theory checker), when several
parts of it apply their own copy of a value: the MPI workers' mini-batch, the model-parallel
modules' step sizes."""

from __future__ import annotations

from typing import Any, Sequence


def agreed(values: Sequence[Any]) -> Any:
    """One value when every part applied the same, the list of each part's value when they differ
    (the checker flags that as a mismatch with the stored parameter); None for no values."""
    if not values:
        return None
    return values[0] if all(v == values[0] for v in values) else list(values)
