"""Helpers the benchopt solvers import (benchopt puts the benchmark's folder on ``sys.path``)."""
