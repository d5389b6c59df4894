"""The ``threads`` backend: numba nogil kernels on Python threads sharing the iterate, no locks."""
