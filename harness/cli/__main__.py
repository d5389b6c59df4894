"""``python -m harness.cli ...``: the same command line as ``harness ...``."""

import sys

from . import main

sys.exit(main())
