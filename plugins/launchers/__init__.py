"""How the distributed backends start their processes, beside each other and below every backend
(so a backend never imports another one to launch): :mod:`.mpiexec` (MPI ranks through the venv's
``mpiexec``) and :mod:`.torch_dist` (torch.distributed ranks, gloo or NCCL). Both run the job through
:func:`harness.api.run_job` (own process group, wall-clock limit, points and result folded back).

Every distributed backend has the same file roles: ``launch.py`` (parent side, the plugins' ``impl``),
``rank.py`` (one rank's body) and a one-process twin (``sim`` for ``mpi``, ``torch_dp/serial.py``,
``torch_mp/driver.py``'s ``run_sim``)."""
