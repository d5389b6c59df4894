"""Serial reference plugins (entry point ``harness.plugins``: ``serial``)."""

from harness.api import PluginSpec
from harness.plugins.algorithms.params import SGD_PARAMS, SVRG_PARAMS

PLUGINS = [
    PluginSpec("sgd-serial", "sgd", "serial", "harness.plugins.serial.sgd:run", kinds=("finite-sum",), params=SGD_PARAMS,
               needs=("numba",), deterministic=True, max_workers=1,
               # the SGD theorems only: DDG / features replay with K = 1 module and mGD with one layer are SGD too,
               # but those theorems are about their own algorithms (Theorem.about), which the checker enforces
               theorems=("minibatch.lem-1", "minibatch.thm-4"),
               description="mini-batch SGD with constant, 1/t or polynomial step sizes (one process)"),
    PluginSpec("svrg-serial", "svrg", "serial", "harness.plugins.serial.svrg:run", kinds=("finite-sum",), derived="harness.plugins.algorithms.svrg:derived", params=SVRG_PARAMS,
               needs=("numba",), deterministic=True, max_workers=1, theorems=("asysvrg.thm-2.4.1", "asysvrg.thm-2.4.2"),
               description="mini-batch SVRG (AsySVRG's Algorithm 1 with one worker), optional SGD warm start"),
]
