"""The ``threads`` backend's plugins (entry point ``harness.plugins``: ``threads``)."""

from harness.api import Backend, Param, PluginSpec
from harness.plugins.algorithms.params import ASYNC_SGD_PARAMS, COORDS, SVRG_PARAMS, skip_linear

WRITE = Param("write", "atomic", "choice", choices=("atomic", "racy", "plain"),
              doc="coordinate writes: atomic (the papers' atomic coordinate update: a dense row under a row lock, "
                  "or as $HARNESS_THREADS_ATOMIC=lock|tx|cas picks; a sparse row in a hardware transaction where the "
                  "CPU has one and $HARNESS_THREADS_TX is not 0, else a compare-and-swap loop), "
                  "racy (one compare-and-swap: a conflicting write is lost and counted) or plain "
                  "(unsynchronised store: lost writes not observable); a one-thread run applies plain stores under "
                  "every mode (nothing can race; bit for bit the atomic update), recorded in info['writes'] (`harness runs show ID`)")

BACKEND = Backend("threads", delay_audit=True, description="one thread per worker in this process (numba, the GIL released)")

PLUGINS = [
    BACKEND,
    PluginSpec("hogwild-threads", "sgd", "threads", "harness.plugins.threads.hogwild:run", kinds=("finite-sum",),
               params=ASYNC_SGD_PARAMS + (WRITE,), needs=("numba",), skip=skip_linear, max_workers=64,
               description="Hogwild! SGD: numba nogil kernels on Python threads, shared iterate with atomic "
                           "coordinate writes (write=racy|plain: unsynchronised), lost writes counted, "
                           "measured delays; sparse rows touch only their nonzeros (exact l2 on a scaled iterate)"),
    PluginSpec("asysvrg-threads", "svrg", "threads", "harness.plugins.threads.asysvrg:run", kinds=("finite-sum",),
               derived="harness.plugins.algorithms.svrg:derived", params=SVRG_PARAMS + (COORDS, WRITE), needs=("numba",), skip=skip_linear, max_workers=64,
               theorems=("asysvrg.thm-2.3.1", "asysvrg.thm-2.3.2"),
               description="Shared-AsySVRG (Algorithm 1) on threads with inconsistent reads and measured delays; "
                           "optional SGD warm start"),
]
