"""A pluggable benchmarking harness with a theory checker for asynchronous and distributed optimization.

Import names: ``harness`` (the core), ``harness.plugins``, ``harness.theory`` and ``harness.suites``.
Installed, the last three are sub-packages (``package-dir`` in pyproject.toml). In a source
checkout they are the repository's top-level folders ``plugins/``, ``theory/`` and ``suites/``
(the product card fixes that layout): the checkout's root is added to this package's search path,
so the same names resolve to the same tree that this ``harness`` came from, and a user's own
``plugins.py`` or ``theory.py`` can never stand in for ours.
"""

from pathlib import Path as _Path

__version__ = "0.1.0"

_here = _Path(__file__).resolve().parent
if not (_here / "plugins").is_dir() and (_here.parent / "plugins" / "__init__.py").is_file():
    __path__.append(str(_here.parent))  # noqa: F821 - the package's own __path__
del _Path, _here

from .cache import configure_numba as _configure_numba  # noqa: E402 - before anything imports numba

_configure_numba()
del _configure_numba
