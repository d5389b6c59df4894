"""The ``threads`` backend's plugins (entry point ``harness.plugins``: ``threads``)."""

from harness.api import PluginSpec
from harness.plugins.algorithms.params import COORDS, SGD_PARAMS, SVRG_PARAMS, skip_linear

PLUGINS = [
    PluginSpec("hogwild-threads", "sgd", "threads", "harness.plugins.threads.hogwild:run", kinds=("finite-sum",),
               params=SGD_PARAMS, needs=("numba",), skip=skip_linear, max_workers=64,
               description="Hogwild! SGD: numba nogil kernels on Python threads, lock-free shared iterate, "
                           "measured delays; sparse rows touch only their nonzeros (exact l2 on a scaled iterate)"),
    PluginSpec("asysvrg-threads", "svrg", "threads", "harness.plugins.threads.asysvrg:run", kinds=("finite-sum",),
               params=SVRG_PARAMS + (COORDS,), needs=("numba",), skip=skip_linear, max_workers=64,
               theorems=("asysvrg.thm-2.3.1", "asysvrg.thm-2.3.2"),
               description="Shared-AsySVRG (Algorithm 1) on threads with inconsistent reads and measured delays; "
                           "optional SGD warm start"),
]
