"""asv's benchmark directory (``"benchmark_dir": "benchmarks/asv_suite"`` in asv.conf.json).

asv imports every module under its benchmark directory and treats every top-level ``time_*`` /
``track_*`` / ``peakmem_*`` name as a benchmark, so asv's benchmarks live in this package alone:
standalone scripts in ``benchmarks/`` (``python benchmarks/<script>.py``) are never imported by asv.
"""
