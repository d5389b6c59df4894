"""Model-parallel plugins (entry point ``harness.plugins``: ``torch_mp``): BP, DNI, DDG and features
replay with module k on torch.distributed rank k (``*-torch``, ``--workers K`` = number of
modules), and their single-process twins with exactly the same delays (``*-sim``, deterministic:
the reference every ``*-torch`` run must match)."""

from harness.api import Param, PluginSpec
from harness.plugins.launchers.torch_dist import BACKEND

COMMON = (
    Param("eta", 0.05, "float", low=0.0, open_low=True, doc="step size gamma (Adam: its constant gamma)"),
    Param("b", 32, "int", low=1, doc="mini-batch size"),
    Param("opt", "sgd", "choice", choices=("sgd", "adam"),
          doc="sgd: (5.9) / Alg. 11 line 13; adam: Algorithm 10 per module"),
    Param("schedule", "constant", "choice", choices=("constant", "inv"),
          doc="gamma_t = eta (Thm 5.4.1 / 6.4.1) or eta/(1+t/t0) (Thm 5.4.2 / 6.4.2 with t0 = 1); sgd only"),
    Param("t0", 1.0, "float", low=0.0, open_low=True, doc="time scale of the 'inv' schedule, in iterations"),
    Param("beta1", 0.9, "float", low=0.0, high=1.0, open_high=True, doc="Adam beta1"),
    Param("beta2", 0.999, "float", low=0.0, high=1.0, open_high=True, doc="Adam beta2"),
    Param("eps", 1e-8, "float", low=0.0, open_low=True, doc="Adam epsilon"),
    Param("boundaries", "", "str", doc="block indices where modules 2..K start, e.g. '2' or '1,3' "
                                        "(default: balanced by parameter count)"),
    Param("sigma_window", 4, "int", low=1, doc="iterations before each snapshot whose applied gradients give "
                                               "sigma_dir (docs/derivations.md, features_replay, 'measuring "
                                               "sigma'); each costs K forward/backward passes of the whole "
                                               "network at the snapshot"),
    Param("L_iters", 0, "int", low=0, doc="power iterations for the local smoothness estimate L_est "
                                            "at the end of the run (0: skip, the default: it costs "
                                            "2 L_iters backward passes through a retained graph)"),
    Param("L_n", 256, "int", low=1, doc="samples of the evaluation subset L_est uses"),
)
DNI_PARAMS = COMMON + (Param("synth_eta", 1e-3, "float", low=0.0, open_low=True,
                             doc="Adam step size of the synthetic-gradient modules"),)

DDG_THEOREMS = ("ddg.thm-5.4.1", "ddg.thm-5.4.2")
FR_THEOREMS = ("features_replay.thm-6.4.1", "features_replay.thm-6.4.2")

_ALGOS = {
    # family: (params, theorems, description)
    "bp": (COMMON, (), "backpropagation split into K sequential modules (backward locking; the baseline)"),
    "dni": (DNI_PARAMS, (), "decoupled neural interfaces: synthetic gradients S_k(h_k, y), no delay, biased"),
    "ddg": (COMMON, DDG_THEOREMS,
            "decoupled parallel backpropagation (thesis Alg. 9 SGD / Alg. 10 Adam): module k applies the "
            "gradient of batch t-K+k at weights w^{t-K+k} (weight stashing)"),
    "fr": (COMMON, FR_THEOREMS,
           "features replay (thesis Alg. 11): module k keeps its last K-k+1 inputs and replays the oldest "
           "with its current weights"),
}


def _skip_workers(workload, params, workers):
    n_blocks = workload.params.get("depth", 0) + (1 if workload.params.get("arch") == "mlp" else 2)
    if workers > n_blocks:
        return f"{workers} modules need at least {workers} blocks; the workload has {n_blocks} (raise depth)"
    return None


PLUGINS: list = [BACKEND]
for _family, (_params, _thms, _desc) in _ALGOS.items():
    PLUGINS.append(PluginSpec(
        f"{_family}-torch", _family, "torch", "harness.plugins.torch_mp.launch:run", kinds=("network",), params=_params,
        theorems=_thms, needs=("torch",), min_workers=1, max_workers=8, skip=_skip_workers,
        description=_desc + "; module k on torch.distributed rank k (gloo on CPU, NCCL with K GPUs)"))
    PLUGINS.append(PluginSpec(
        f"{_family}-sim", _family, "sim", "harness.plugins.torch_mp.driver:run_sim", kinds=("network",), params=_params,
        theorems=_thms, needs=("torch",), min_workers=1, max_workers=16, skip=_skip_workers, deterministic=True,
        description=_desc + "; the K modules in one process with the same delays (deterministic reference)"))
