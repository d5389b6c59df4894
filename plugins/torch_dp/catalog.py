"""Large-batch training plugins (entry point ``harness.plugins``: ``torch_dp``).

Huo's thesis (2020) Ch. 4 "Large batch training does not need warmup":
mNAG / mGD (4.2), LARS (4.3) and CLARS (4.7, Algorithm 8), all as the layer-wise mNAG step (4.6).

- ``mnag-torch``, ``lars-torch``, ``clars-torch``: data parallel over ``workers`` torch.distributed
  ranks (gloo on the CPU; NCCL when the machine has ``workers`` CUDA devices), each holding a shard
  of the global batch B.
- ``mnag-serial``, ``lars-serial``, ``clars-serial``: the same code in one process (the reference).

Metadata only: importing this module does not import torch.
"""

from harness.api import Param, PluginSpec

THEOREMS = ("large_batch.thm-4.3.1", "large_batch.cor-4.3.1", "large_batch.thm-4.3.2", "large_batch.cor-4.3.2")

COMMON = (
    Param("lr", 0.1, "float", low=0.0, open_low=True, doc="gamma_base: base learning rate (scaled by B/B_base)"),
    Param("b", 128, "int", low=0, doc="global batch size B (0: the whole training set)"),
    Param("b_base", 128, "int", low=1, doc="B_base of the linear scaling rule"),
    Param("scaling", "linear", "choice", choices=("linear", "none"),
          doc="gamma_scale = lr * B / b_base (linear, Goyal et al.) or lr as given (none)"),
    Param("beta", 0.9, "float", low=0.0, high=1.0, open_high=True, doc="momentum of mNAG (0: mGD)"),
    Param("warmup", 0.0, "float", low=0.0, doc="gradual warmup length in epochs (0: none)"),
    Param("layers", "tensor", "choice", choices=("tensor", "block"),
          doc="what a layer k is: each parameter tensor, or each workload block"),
    Param("measure", "off", "choice", choices=("all", "variance", "off"),
          doc="snapshot measurements besides the workload's metrics and the step's own facts (off, the default): "
              "the gradient variance M_k by per-sample gradients (variance), or M_k and the layer-wise smoothness "
              "L_k by Hessian power iteration with the learning-rate bound of Thm 4.3.2 (all: costly; what the "
              "theorems' verdicts and lr_flags need)"),
    Param("measure_n", 256, "int", low=0, doc="samples in the variance measurement set S (0: all)"),
    Param("lk_n", 64, "int", low=0, doc="samples of S used for the L_k power iterations (0: all of S)"),
    Param("power_iters", 8, "int", low=1, doc="power iterations per layer for L_k"),
    Param("lk_every", 1, "int", low=1, doc="estimate L_k at every m-th snapshot (the first always)"),
)
ETA_LARS = Param("eta", 0.001, "float", low=0.0, open_low=True, doc="trust coefficient eta (LARS: 0.001)")
ETA_CLARS = Param("eta", 0.01, "float", low=0.0, open_low=True, doc="trust coefficient eta (Algorithm 8: 0.01)")
CHUNK = Param("chunk", 256, "int", low=1, doc="samples per call for the exact per-sample gradient norms")
PER_SAMPLE = Param("per_sample", "auto", "choice", choices=("auto", "vmap"),
                   doc="exact per-sample norms: ghost norms for all-Linear models else torch.func vmap (auto), or vmap")

ALGOS = {
    "mnag": (COMMON, "mNAG (4.2) with linear LR scaling and optional gradual warmup; beta = 0 is mGD"),
    "lars": (COMMON + (ETA_LARS,), "LARS (4.3): layer-wise rate eta ||w_k|| / ||mean gradient_k||, in mNAG (4.6)"),
    "clars": (COMMON + (ETA_CLARS, CHUNK, PER_SAMPLE),
              "CLARS (4.7, Algorithm 8): eta ||w_k|| / mean of per-sample gradient norms_k (exact), in mNAG (4.6)"),
}


def _specs():
    out = []
    for family, (params, text) in ALGOS.items():
        out.append(PluginSpec(f"{family}-torch", family, "torch", "harness.plugins.torch_dp.launch:run", kinds=("network",),
                              params=params, theorems=THEOREMS, needs=("torch",), min_workers=1,
                              description=text + "; data parallel over torch.distributed ranks"))
        out.append(PluginSpec(f"{family}-serial", family, "serial", "harness.plugins.torch_dp.serial:run",
                              kinds=("network",), params=params, theorems=THEOREMS, needs=("torch",),
                              max_workers=1, deterministic=True, description=text + "; one process"))
    return out


PLUGINS = _specs()
