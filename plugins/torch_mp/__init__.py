"""Model-parallel torch backend: BP, DNI, decoupled parallel backpropagation (DDG) and features
replay (FR) with module k on rank k (``torch`` backend) or all K modules in one process with the
exact same per-module code and delays (``sim`` backend, the deterministic reference).

Huo 2020 (thesis), Ch. 5 (Algorithms 9-10) and Ch. 6 (Algorithm 11); what the text leaves
implicit: docs/derivations.md, ddg and features_replay.
"""
