"""The ``sim`` backend: one process, asynchrony simulated exactly with a chosen delay distribution."""
