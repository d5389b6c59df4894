"""Measured activation memory: the storages autograd saves for backward (what a stored graph
keeps alive), counted once per storage."""

from __future__ import annotations

import torch


# -- measured activation memory -------------------------------------------------------------------
class SavedStorages:
    """Records the storages autograd saves for backward inside the block (the activations a stored
    graph keeps alive), excluding the given parameter storages. Bytes are per unique storage."""

    def __init__(self, exclude: set[int], on: bool = True):
        self.exclude, self.on, self.saved = exclude, on, {}
        self._cm = None

    def _pack(self, t):
        try:
            st = t.untyped_storage()
            ptr = st.data_ptr()
            if ptr not in self.exclude:
                self.saved[ptr] = st.nbytes()
        except (RuntimeError, NotImplementedError):  # a tensor without storage (never in these nets)
            pass
        return t

    def __enter__(self):
        if self.on:
            self._cm = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t)
            self._cm.__enter__()
        return self

    def __exit__(self, *exc):
        if self._cm is not None:
            self._cm.__exit__(*exc)
        return False


def _storage(t) -> tuple[int, int]:
    st = t.untyped_storage()
    return st.data_ptr(), st.nbytes()
