"""The ``mpi`` backend's plugins (entry point ``harness.plugins``: ``mpi``). Metadata only: nothing
here imports mpi4py; every plugin runs through ``harness.plugins.mpi.launch:run``, which starts
``mpiexec -n workers+1`` (rank 0 the parameter server, ranks 1..P the workers)."""

from harness.api import Backend, PluginSpec
from harness.plugins.algorithms.params import (ASGD_PARAMS, ASYSVRG_PARAMS, COCOA_PARAMS, DFSDCA_PARAMS, GROWING_PARAMS,
                                               linear_only, squared_only)

IMPL = "harness.plugins.mpi.launch:run"
NEEDS = ("mpi4py",)

BACKEND = Backend("mpi", launched=True, server_ranks=1, launcher="harness.plugins.launchers.mpiexec",
                  description="one MPI rank per worker and a parameter server's rank, through mpiexec")

PLUGINS = [
    BACKEND,
    PluginSpec("asysvrg-mpi", "asysvrg", "mpi", IMPL, derived="harness.plugins.algorithms.svrg:derived", params=ASYSVRG_PARAMS, needs=NEEDS, min_workers=1,
               theorems=("asysvrg.thm-2.4.1", "asysvrg.thm-2.4.2"),
               description="Distributed-AsySVRG (thesis Alg. 2-3): parameter server + P workers on local data"),
    PluginSpec("asgd-mpi", "asgd", "mpi", IMPL, params=ASGD_PARAMS, needs=NEEDS, min_workers=1,
               theorems=("minibatch.thm-4", "minibatch.thm-5"),
               description="Downpour-style ASGD (Bhardwaj & Cong 2017): N learners, mini-batch M, "
                           "a fixed total of S samples"),
    PluginSpec("dfsdca-mpi", "dfsdca", "mpi", IMPL, params=DFSDCA_PARAMS, needs=NEEDS, min_workers=1,
               skip=linear_only,
               theorems=("dfsdca.thm-3.4.1", "dfsdca.thm-3.4.2", "dfsdca.thm-3.4.3", "dfsdca.thm-3.4.4"),
               description="Dis-dfSDCA (thesis Alg. 6-7), dual update with lambda*n: w = sum alpha_i/(lambda n) kept"),
    PluginSpec("cocoa-mpi", "cocoa", "mpi", IMPL, params=COCOA_PARAMS, needs=NEEDS, min_workers=1,
               skip=squared_only,
               description="synchronous CoCoA+ rounds with a local SDCA solver (the thesis's Ch. 3 baseline)"),
    PluginSpec("hogwild-growing-batch-mpi", "growing_batch", "mpi", IMPL, params=GROWING_PARAMS, needs=NEEDS,
               min_workers=1, theorems=("growing_batch.thm-2", "growing_batch.thm-3"),
               description="Hogwild! over local data with increasing mini-batch sizes (Nguyen et al. 2021, Alg. 2-4): "
                           "aggregator + compute nodes, round step sizes"),
]
