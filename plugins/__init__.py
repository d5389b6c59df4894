"""Built-in algorithm x backend plugins. Each backend package (``serial``, ``threads``, ``sim``,
``mpi``, ``torch_dp``, ``torch_mp``) has a ``catalog`` module listing its ``PluginSpec``s (registered
through the ``harness.plugins`` entry points); implementations live in sibling modules and are
imported only when a run starts. No backend imports another: what several share lives in
:mod:`.algorithms` (partitions, schedules, SVRG pieces, loss pieces, numba kernels) and
:mod:`.launchers` (mpiexec, torch.distributed). See docs/architecture.md."""
