"""Serial reference plugins (entry point ``harness.plugins``: ``serial``)."""

from harness.params import Param
from harness.plugin import PluginSpec

SGD_PARAMS = (
    Param("eta", 0.1, "float", low=0.0, open_low=True, theory=True, doc="step size (base of the schedule)"),
    Param("b", 1, "int", low=1, doc="mini-batch size"),
    Param("schedule", "constant", "choice", choices=("constant", "inv", "poly"),
          doc="eta_t = eta | eta/(1+t/t0) | eta/(1+t/t0)^beta"),
    Param("t0", 0.0, "float", low=0.0, doc="schedule time scale in updates (0: one epoch, n/b)"),
    Param("beta", 0.5, "float", low=0.0, high=1.0, doc="polynomial decay exponent"),
)

SVRG_PARAMS = (
    Param("eta", 0.1, "float", low=0.0, open_low=True, theory=True, doc="inner step size"),
    Param("b", 1, "int", low=1, doc="inner mini-batch size"),
    Param("m", 0, "int", low=0, doc="inner iterations per epoch (0: n/b, one pass)"),
    Param("warm_epochs", 0, "int", low=0, doc="epochs of SGD before SVRG (the thesis's SGD->SVRG)"),
    Param("warm_eta", 0.0, "float", low=0.0, doc="SGD warm-start step size (0: eta)"),
)

PLUGINS = [
    PluginSpec("sgd-serial", "sgd", "serial", "harness.plugins.serial.sgd:run", kinds=("finite-sum",), params=SGD_PARAMS,
               needs=("numba",), deterministic=True, max_workers=1,
               theorems=("minibatch.lem-1", "minibatch.thm-4", "large_batch.thm-4.3.1", "ddg.thm-5.4.1",
                         "ddg.thm-5.4.2", "features_replay.thm-6.4.1", "features_replay.thm-6.4.2"),
               description="mini-batch SGD with constant, 1/t or polynomial step sizes (one process)"),
    PluginSpec("svrg-serial", "svrg", "serial", "harness.plugins.serial.svrg:run", kinds=("finite-sum",), params=SVRG_PARAMS,
               needs=("numba",), deterministic=True, max_workers=1, theorems=("asysvrg.thm-2.4.1", "asysvrg.thm-2.4.2"),
               description="mini-batch SVRG (AsySVRG's Algorithm 1 with one worker), optional SGD warm start"),
]
