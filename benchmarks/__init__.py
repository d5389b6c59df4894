"""Benchmarks. Standalone scripts (``python benchmarks/<script>.py``) print ratios measured side by
side in one run, e.g. ``monitor_overhead.py``. asv's benchmarks are in ``asv_suite/`` (the
``benchmark_dir`` of asv.conf.json), so asv never imports the scripts here."""
