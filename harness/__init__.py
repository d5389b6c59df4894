"""A pluggable benchmarking harness with a theory checker for asynchronous and distributed optimization."""

__version__ = "0.1.0"
