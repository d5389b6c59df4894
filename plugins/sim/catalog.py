"""The ``sim`` backend's plugins (entry point ``harness.plugins``: ``sim``): asynchronous SGD and
Shared-AsySVRG with simulated delays, and the one-process twins of the MPI plugins: the same
algorithm, parameters and local partitions in one process, with the parameter server's asynchrony
replaced by an exact delay model (``delay=measured`` + ``delay_file`` replays an MPI run's own
measured histogram: the parity check). The simulator's reusable core is :mod:`harness.plugins.sim.engine`.
"""

from harness.api import PluginSpec
from harness.plugins.algorithms.params import (ASGD_PARAMS, ASYNC_SGD_PARAMS, ASYSVRG_PARAMS, COORDS, DFSDCA_PARAMS, GROWING_PARAMS,
                                               SVRG_PARAMS, linear_only, skip_linear)

from .params import DELAY_PARAMS, SHARES_PARAM

_DELAYS = tuple(p for p in DELAY_PARAMS if p.name != "read")   # twins read whole vectors (D = 1)


def _twin(params, shares=True):
    # the delay model replaces the server's scheduling (stragglers) and its delay bound (max_delay)
    return (tuple(p for p in params if p.name not in ("straggler_p", "straggler_m", "max_delay")) + _DELAYS
            + ((SHARES_PARAM,) if shares else ()))


PLUGINS = [
    PluginSpec("asysgd-sim", "sgd", "sim", "harness.plugins.sim.asysgd:run", kinds=("finite-sum",),
               params=ASYNC_SGD_PARAMS + DELAY_PARAMS, needs=("numba",), deterministic=True, skip=skip_linear,
               description="asynchronous (Hogwild!) SGD with simulated delays: whole-vector or coordinate-wise "
                           "stale reads; tau = 0 is sgd-serial bit for bit"),
    PluginSpec("asysvrg-sim", "svrg", "sim", "harness.plugins.sim.asysvrg:run", kinds=("finite-sum",),
               derived="harness.plugins.algorithms.svrg:derived", params=SVRG_PARAMS + (COORDS,) + DELAY_PARAMS, needs=("numba",), deterministic=True,
               theorems=("asysvrg.thm-2.3.1", "asysvrg.thm-2.3.2"), skip=skip_linear,
               description="Shared-AsySVRG (Algorithm 1) with simulated inconsistent reads; tau = 0 is "
                           "svrg-serial bit for bit"),
    # the twins of the MPI plugins
    PluginSpec("asysvrg-ps-sim", "asysvrg", "sim", "harness.plugins.sim.asysvrg_ps:run", derived="harness.plugins.algorithms.svrg:derived", params=_twin(ASYSVRG_PARAMS),
               deterministic=True, theorems=("asysvrg.thm-2.4.1", "asysvrg.thm-2.4.2"),
               description="twin of asysvrg-mpi: Distributed-AsySVRG with simulated server delays"),
    PluginSpec("asgd-sim", "asgd", "sim", "harness.plugins.sim.asgd:run", params=_twin(ASGD_PARAMS),
               deterministic=True, theorems=("minibatch.thm-4", "minibatch.thm-5"),
               description="twin of asgd-mpi: ASGD with N learners and simulated ages"),
    PluginSpec("dfsdca-sim", "dfsdca", "sim", "harness.plugins.sim.dfsdca:run", params=_twin(DFSDCA_PARAMS),
               deterministic=True, skip=linear_only,
               theorems=("dfsdca.thm-3.4.1", "dfsdca.thm-3.4.2", "dfsdca.thm-3.4.3", "dfsdca.thm-3.4.4"),
               description="twin of dfsdca-mpi: Dis-dfSDCA with simulated server delays"),
    PluginSpec("growing-batch-sim", "growing_batch", "sim", "harness.plugins.sim.growing_batch:run",
               params=_twin(GROWING_PARAMS, shares=False), deterministic=True, needs=("numba",),
               theorems=("growing_batch.thm-2", "growing_batch.thm-3"),
               description="twin of hogwild-growing-batch-mpi: rounds with simulated round lags"),
]
