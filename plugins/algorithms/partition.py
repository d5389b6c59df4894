"""The workers' local data: sample indices per worker, IID or biased by label (Nguyen et al. 2021, Sec. D.2.4:
"node 1 has only digit 0 and node 2 only digit 1"). The MPI ranks and their ``sim`` twins cut the
data with this one function, so a twin sees exactly the partitions of the run it replays."""

from __future__ import annotations

import numpy as np

from harness.api import UserError


def partition(n: int, workers: int, kind: str, y: np.ndarray | None, seed: int) -> list[np.ndarray]:
    """Sample indices held by each worker (0-based worker index), each sorted, int64.

    ``kind='iid'``: a random permutation of ``range(n)`` cut in ``workers`` near-equal parts;
    ``'label'``: indices sorted by label ``y`` (shape (n,); stable, ties in random order), then cut,
    so each worker sees few labels. Raises UserError for another kind or 'label' without labels."""
    rng = np.random.default_rng([seed, 7919])
    perm = rng.permutation(n)
    if kind == "label":
        if y is None:
            raise UserError("partition=label needs labels")
        perm = perm[np.argsort(np.asarray(y)[perm], kind="stable")]
    elif kind != "iid":
        raise UserError(f"unknown partition {kind!r}: expected iid or label")
    return [np.sort(part) for part in np.array_split(perm, workers)]
