"""The ``mpi`` backend's plugins (entry point ``harness.plugins``: ``mpi``). Metadata only: nothing
here imports mpi4py; every plugin runs through ``harness.plugins.mpi.launch:run``, which starts
``mpiexec -n workers+1`` (rank 0 the parameter server, ranks 1..P the workers)."""

from harness.params import Param
from harness.plugin import PluginSpec

from .common import COMMON_PARAMS, LINEAR_LOSSES, MAX_DELAY_PARAM

IMPL = "harness.plugins.mpi.launch:run"
NEEDS = ("mpi4py",)


def _linear_only(workload, params, workers):
    loss = getattr(workload, "loss", None)
    return None if loss in LINEAR_LOSSES else f"needs a linear model with loss in {LINEAR_LOSSES}, got {loss}"


def _squared_only(workload, params, workers):
    loss = getattr(workload, "loss", None)
    return None if loss == "squared" else f"the local SDCA solver is closed-form for the squared loss only, got {loss}"


ASYSVRG_PARAMS = (
    Param("eta", 0.02, "float", low=0.0, open_low=True, theory=True, doc="constant step size (2.32)"),
    Param("b", 4, "int", low=1, doc="mini-batch size |I_t|"),
    Param("m", 0, "int", low=0, doc="server updates per outer epoch (0: n/b)"),
    MAX_DELAY_PARAM,
) + COMMON_PARAMS

ASGD_PARAMS = (
    Param("eta", 0.05, "float", low=0.0, open_low=True, theory=True,
          doc="step on the mean mini-batch gradient (002's gamma on the sum is eta/M)"),
    Param("M", 4, "int", low=1, doc="mini-batch size per learner"),
    Param("S", 0, "int", low=0, doc="total samples to process, the run's budget (0: use --budget)"),
    MAX_DELAY_PARAM,
) + COMMON_PARAMS

DFSDCA_PARAMS = (
    Param("eta", 0.02, "float", low=0.0, open_low=True, theory=True, doc="step size (3.5), (3.7)"),
    Param("H", 10, "int", low=1, doc="samples per worker message |I_t| (no duplicates)"),
    Param("T", 0, "int", low=0, doc="server iterations per outer round (0: n/H)"),
    MAX_DELAY_PARAM,
) + COMMON_PARAMS

COCOA_PARAMS = (
    Param("H", 100, "int", low=1, doc="local SDCA coordinate steps per round and worker"),
    Param("sigma", 0.0, "float", low=0.0, doc="CoCoA+ subproblem parameter sigma' (0: the number of workers, 'adding')"),
) + COMMON_PARAMS

GROWING_PARAMS = (
    Param("eta0", 0.005, "float", low=0.0, open_low=True, doc="initial step size eta_0 (the default converges on ridge and logreg at their default sizes)"),
    Param("beta", 0.001, "float", low=0.0, doc="eta_t = eta0/(1+beta t) or eta0/(1+beta sqrt t)"),
    Param("schedule", "inv", "choice", choices=("inv", "inv_sqrt", "constant"),
          doc="003 Table 1: inv (strongly convex), inv_sqrt (plain / non-convex)"),
    Param("sizes", "power", "choice", choices=("power", "ilogi", "constant"),
          doc="round sizes s_i: a i^c + b, a i/ln i + b, or a (003 D.2.2)"),
    Param("a", 50.0, "float", low=0.0, doc="s_i = a i^c + b (total over the nodes)"),
    Param("c", 1.0, "float", low=0.0, doc="exponent of i"),
    Param("b", 0.0, "float", low=0.0, doc="offset"),
    Param("lag", 1, "int", low=0, doc="d: a node may run round i only once it has broadcast k >= i - d"),
) + COMMON_PARAMS

PLUGINS = [
    PluginSpec("asysvrg-mpi", "asysvrg", "mpi", IMPL, params=ASYSVRG_PARAMS, needs=NEEDS, min_workers=1,
               theorems=("asysvrg.thm-2.4.1", "asysvrg.thm-2.4.2"),
               description="Distributed-AsySVRG (thesis Alg. 2-3): parameter server + P workers on local data"),
    PluginSpec("asgd-mpi", "asgd", "mpi", IMPL, params=ASGD_PARAMS, needs=NEEDS, min_workers=1,
               theorems=("minibatch.thm-4", "minibatch.thm-5"),
               description="Downpour-style ASGD (002): N learners, mini-batch M, a fixed total of S samples"),
    PluginSpec("dfsdca-mpi", "dfsdca", "mpi", IMPL, params=DFSDCA_PARAMS, needs=NEEDS, min_workers=1,
               skip=_linear_only,
               theorems=("dfsdca.thm-3.4.1", "dfsdca.thm-3.4.2", "dfsdca.thm-3.4.3", "dfsdca.thm-3.4.4"),
               description="Dis-dfSDCA (thesis Alg. 6-7), dual update with lambda*n: w = sum alpha_i/(lambda n) kept"),
    PluginSpec("cocoa-mpi", "cocoa", "mpi", IMPL, params=COCOA_PARAMS, needs=NEEDS, min_workers=1,
               skip=_squared_only,
               description="synchronous CoCoA+ rounds with a local SDCA solver (the thesis's Ch. 3 baseline)"),
    PluginSpec("hogwild-growing-batch-mpi", "growing_batch", "mpi", IMPL, params=GROWING_PARAMS, needs=NEEDS,
               min_workers=1, theorems=("growing_batch.thm-2", "growing_batch.thm-3"),
               description="Hogwild! over local data with increasing mini-batch sizes (003 Alg. 2-4): "
                           "aggregator + compute nodes, round step sizes"),
]
