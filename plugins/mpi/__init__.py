"""The ``mpi`` backend: a parameter server on mpi4py (rank 0) with P worker ranks, launched with the
venv's own ``mpiexec -n P+1``. See ``launch.py`` (parent side), ``rank.py`` (each rank),
``ps.py`` (the parameter-server layer) and one module per algorithm."""
