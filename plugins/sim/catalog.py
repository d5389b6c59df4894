"""The ``sim`` backend's plugins (entry point ``harness.plugins``: ``sim``).

Other simulated twins (e.g. of the MPI algorithms) append their specs to ``PLUGINS``; the
simulator's reusable core is :mod:`harness.plugins.sim.engine`.
"""

from harness.params import Param
from harness.plugin import PluginSpec
from harness.plugins.serial.catalog import SGD_PARAMS, SVRG_PARAMS

from .common import DELAY_PARAMS, skip_linear

COORDS = Param("coords", 0, "int", low=0,
               doc="coordinates written per iteration (0: all; 1: Algorithm 1's single k_t; c: a random block of c)")

PLUGINS = [
    PluginSpec("asysgd-sim", "sgd", "sim", "harness.plugins.sim.asysgd:run", kinds=("finite-sum",),
               params=SGD_PARAMS + DELAY_PARAMS, needs=("numba",), deterministic=True, skip=skip_linear,
               description="asynchronous (Hogwild!) SGD with simulated delays: whole-vector or coordinate-wise "
                           "stale reads; tau = 0 is sgd-serial bit for bit"),
    PluginSpec("asysvrg-sim", "svrg", "sim", "harness.plugins.sim.asysvrg:run", kinds=("finite-sum",),
               params=SVRG_PARAMS + (COORDS,) + DELAY_PARAMS, needs=("numba",), deterministic=True,
               theorems=("asysvrg.thm-2.3.1", "asysvrg.thm-2.3.2"), skip=skip_linear,
               description="Shared-AsySVRG (Algorithm 1) with simulated inconsistent reads; tau = 0 is "
                           "svrg-serial bit for bit"),
]
