"""``harness``: the command line, the entry layer. :mod:`.app` builds the parser and runs ``main``
(the console script ``harness`` and ``python -m harness.cli``); each sub-command lives in
``harness/cli/<name>.py`` and defines ``register(subparsers)``; :mod:`.common` holds what several
share, :mod:`.sides` the runs that ``compare`` and ``gate`` build, :mod:`.progress` the progress
display. Nothing here runs code at import: the sub-command modules (``list``, ``run``, ...) are
attributes of this package, so the parser lives in its own module.
"""

from .app import COMMANDS, build_parser, library_warnings, main

__all__ = ["COMMANDS", "build_parser", "library_warnings", "main"]
