"""Each algorithm's parameters and skip rules, declared once for every backend that implements it
(the MPI plugins and their ``sim`` twins, the serial / threads / sim SGD and SVRG plugins).
Metadata only: importing this module imports neither numba nor mpi4py."""

from __future__ import annotations

from dataclasses import replace

from harness.api import Param

LINEAR_LOSSES = ("logistic", "squared")


# -- skip rules (PluginSpec.skip: (workload, params, workers) -> reason or None) ---------------------
def skip_linear(workload, params, workers) -> str | None:
    """The numba kernels' rule: a linear loss, and coordinate-wise writes on dense data only."""
    from .kernels import LOSS_CODES

    if getattr(workload, "loss", None) not in LOSS_CODES:
        return f"needs a linear loss (logistic or squared), not {getattr(workload, 'loss', workload.kind)!r}"
    if params.get("coords") and workload.sparse:
        return "coords > 0 (coordinate-wise writes of Algorithm 1) is implemented for dense data only"
    return None


def linear_only(workload, params, workers) -> str | None:
    loss = getattr(workload, "loss", None)
    return None if loss in LINEAR_LOSSES else f"needs a linear model with loss in {LINEAR_LOSSES}, got {loss}"


def squared_only(workload, params, workers) -> str | None:
    loss = getattr(workload, "loss", None)
    return None if loss == "squared" else f"the local SDCA solver is closed-form for the squared loss only, got {loss}"


# -- SGD and SVRG (serial, threads, sim) -------------------------------------------------------------
SGD_PARAMS = (
    Param("eta", 0.1, "float", low=0.0, open_low=True, theory=True, doc="step size (base of the schedule)"),
    Param("b", 1, "int", low=1, doc="mini-batch size"),
    Param("schedule", "constant", "choice", choices=("constant", "inv", "poly"),
          doc="eta_t = eta | eta/(1+t/t0) | eta/(1+t/t0)^beta"),
    Param("t0", 0.0, "float", low=0.0, doc="schedule time scale in updates (0: one epoch, n/b)"),
    Param("beta", 0.5, "float", low=0.0, high=1.0, doc="polynomial decay exponent"),
)

# the asynchronous SGD twins (Hogwild! on threads, simulated delays) link no theorem that chooses eta
ASYNC_SGD_PARAMS = tuple(replace(p, theory=False) for p in SGD_PARAMS)

SVRG_PARAMS = (
    Param("eta", 0.01, "float", low=0.0, open_low=True, theory=True,
          doc="inner step size (the default converges on every linear workload at its default size; eta=theory: the largest the linked theorem admits)"),
    Param("b", 1, "int", low=1, doc="inner mini-batch size"),
    Param("m", 0, "int", low=0, doc="inner iterations per epoch (0: n/b, one pass)"),
    Param("warm_epochs", 0, "int", low=0, doc="epochs of SGD before SVRG (the thesis's SGD->SVRG)"),
    Param("warm_eta", 0.0, "float", low=0.0, doc="SGD warm-start step size (0: eta)"),
)

COORDS = Param("coords", 0, "int", low=0,
               doc="coordinates written per iteration (0: all; 1: Algorithm 1's single k_t; c: a random block of c)")


# -- parameter-server algorithms (mpi and their sim twins) -------------------------------------------
PS_PARAMS = (
    Param("partition", "iid", "choice", choices=("iid", "label"),
          doc="local data per worker: a random equal split (iid) or sorted by label "
              "(biased, Nguyen et al. 2021, D.2.4)"),
    Param("straggler_p", 0.0, "float", low=0.0, high=1.0,
          doc="probability that the straggler (the last worker) is slowed down for one message"),
    Param("straggler_m", 10.0, "float", low=0.0,
          doc="slow-down factor m ~ U[0, straggler_m] times its compute time (Huo 2020, Sec. 3.5: p=0.2, m in [0,10])"),
)

MAX_DELAY_PARAM = Param(
    "max_delay", None, "int", low=0, nullable=True,
    doc="bounded delay tau_max enforced by the server (it holds a reply back rather than let an update "
        "arrive older than tau_max; at least workers - 1); none = unbounded, as the OS schedules")

ASYSVRG_PARAMS = (
    Param("eta", 0.02, "float", low=0.0, open_low=True, theory=True, doc="constant step size (2.32)"),
    Param("b", 4, "int", low=1, doc="mini-batch size |I_t|"),
    Param("m", 0, "int", low=0, doc="server updates per outer epoch (0: n/b)"),
    MAX_DELAY_PARAM,
) + PS_PARAMS

ASGD_PARAMS = (
    Param("eta", 0.05, "float", low=0.0, open_low=True, theory=True,
          doc="step on the mean mini-batch gradient (Bhardwaj & Cong 2017's gamma on the sum is eta/M)"),
    Param("M", 4, "int", low=1, doc="mini-batch size per learner"),
    Param("S", 0, "int", low=0, doc="total samples to process, the run's budget (0: use --budget)"),
    MAX_DELAY_PARAM,
) + PS_PARAMS

DFSDCA_PARAMS = (
    Param("eta", 0.02, "float", low=0.0, open_low=True, theory=True, doc="step size (3.5), (3.7)"),
    Param("H", 10, "int", low=1, doc="samples per worker message |I_t| (no duplicates)"),
    Param("T", 0, "int", low=0, doc="server iterations per outer round (0: n/H)"),
    MAX_DELAY_PARAM,
) + PS_PARAMS

COCOA_PARAMS = (
    Param("H", 100, "int", low=1, doc="local SDCA coordinate steps per round and worker"),
    Param("sigma", 0.0, "float", low=0.0, doc="CoCoA+ subproblem parameter sigma' (0: the number of workers, 'adding')"),
) + PS_PARAMS

GROWING_PARAMS = (
    Param("eta0", 0.005, "float", low=0.0, open_low=True, doc="initial step size eta_0 (the default converges on ridge and logreg at their default sizes)"),
    Param("beta", 0.001, "float", low=0.0, doc="eta_t = eta0/(1+beta t) or eta0/(1+beta sqrt t)"),
    Param("schedule", "inv", "choice", choices=("inv", "inv_sqrt", "constant"),
          doc="Nguyen et al. 2021, Table 1: inv (strongly convex), inv_sqrt (plain / non-convex)"),
    Param("sizes", "power", "choice", choices=("power", "ilogi", "constant"),
          doc="round sizes s_i: a i^c + b, a i/ln i + b, or a (Nguyen et al. 2021, D.2.2)"),
    Param("a", 50.0, "float", low=0.0, doc="s_i = a i^c + b (total over the nodes)"),
    Param("c", 1.0, "float", low=0.0, doc="exponent of i"),
    Param("b", 0.0, "float", low=0.0, doc="offset"),
    Param("lag", 1, "int", low=0, doc="d: a node may run round i only once it has broadcast k >= i - d"),
) + PS_PARAMS
