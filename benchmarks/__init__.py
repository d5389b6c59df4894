"""Benchmarks. asv discovers every module here (see asv.conf.json): its benchmarks live in
``asv_harness.py`` (``track_*`` from harness runs, ``time_*`` / ``peakmem_*`` for the kernels).
Standalone scripts here (e.g. ``monitor_overhead.py``) must do their work under
``if __name__ == "__main__":`` and define no top-level ``time_*`` / ``track_*`` / ``peakmem_*`` names,
so that asv's discovery imports them harmlessly."""
