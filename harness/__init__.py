"""A pluggable benchmarking harness with a theory checker for asynchronous and distributed optimization.

Import names: ``harness.api`` (the one module a plugin or workload author imports), the layers
``harness.cli`` -> ``harness.analysis`` -> ``harness.run`` -> ``harness._core`` (private machinery;
docs/architecture.md), and ``harness.plugins``, ``harness.theory``, ``harness.suites``: the
repository's top-level folders ``plugins/``, ``theory/`` and ``suites/`` (the product card fixes
that layout), mapped under this package by pyproject's ``package-dir`` in an install, editable or
not, so nothing generic lands at the top of ``site-packages`` and a user's own ``plugins.py`` or
``theory.py`` can never stand in for ours.
"""

__version__ = "0.1.0"

from ._core.cache import configure_numba as _configure_numba  # noqa: E402 - before anything imports numba

_configure_numba()
del _configure_numba
