"""What several backends share: one definition of each algorithm piece, below every backend.

Layers (``docs/architecture.md``; import-linter checks them): the core contracts (``harness.api``)
<- this package and :mod:`harness.plugins.launchers` <- the backends (``serial``, ``threads``,
``sim``, ``mpi``, ``torch_dp``, ``torch_mp``) <- their catalogs. No backend imports another: what
two of them need lives here.

- :mod:`.params` -- each algorithm's declared parameters and skip rules (every backend that
  implements the algorithm lists the same ``Param``s);
- :mod:`.applied` -- what a run reports it applied when its parts (workers, modules) each apply a copy;
- :mod:`.partition` -- the workers' local data (iid or by label);
- :mod:`.schedules` -- Nguyen et al. 2021's growing mini-batch rounds: s_i, s_{i,c}, eta_t (Table 1, D.2.2);
- :mod:`.svrg` -- SVRG's inner-loop length m and the SGD -> SVRG warm start (thesis Sec. 2.5);
- :mod:`.linear` -- the linear models' loss pieces (phi', sums of loss gradients, the dual invariant);
- :mod:`.steps` -- chunked mini-batch SGD / SVRG updates on a finite-sum workload;
- :mod:`.draws` -- the mini-batches' sample indices, drawn a block ahead (the same stream);
- :mod:`.kernels` -- the numba kernels those steps (and the threads and sim kernels) build on.
"""
