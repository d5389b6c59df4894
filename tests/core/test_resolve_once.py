"""Each run is resolved once, by the process that plans it: a suite run with ``--jobs 2`` and a
``compare`` with its warm-up resolve every run exactly once (one ``eta=theory`` solve per run), and
the pool's workers resolve nothing (they receive the resolved record and rebuild the workload's data).

Counted for real: a ``sitecustomize`` on the commands' PYTHONPATH wraps the runner's resolution and
the theory's parameter choice in every process the command starts (the pool's fork server included)
and logs each call with its process id."""

from __future__ import annotations

import json
import os
from collections import Counter

import pytest

from conftest import run_cli

COUNTER = '''
import os

from harness.run import checking, runner

_resolve, _choose = runner._resolve, checking.choose_parameters


def _log(what):
    with open(os.environ["HARNESS_TEST_RESOLVE_LOG"], "a") as fh:
        fh.write(f"{os.getpid()} {what}\\n")


def counted_resolve(spec):
    _log(f"resolve {spec.plugin} {spec.seed}")
    return _resolve(spec)


def counted_choose(*args, **kwargs):
    _log("theory")
    return _choose(*args, **kwargs)


runner._resolve, checking.choose_parameters = counted_resolve, counted_choose
'''

WP = ("--workload-param", "n=200", "--workload-param", "d=5")


@pytest.fixture
def counted(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(COUNTER)
    log = tmp_path / "resolutions.log"
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
           "HARNESS_TEST_RESOLVE_LOG": str(log)}

    def calls() -> list[tuple[int, str]]:
        lines = log.read_text().splitlines() if log.exists() else []
        return [(int(pid), what) for pid, _, what in (ln.partition(" ") for ln in lines)]

    return env, calls


def _parent(calls) -> int:
    pids = {pid for pid, _ in calls}
    assert len(pids) == 1, f"resolved in {len(pids)} processes: {calls}"
    return pids.pop()


@pytest.mark.slow
def test_a_suite_run_with_two_jobs_resolves_each_run_once_in_the_parent(counted, tmp_path):
    env, calls = counted
    suite = tmp_path / "once.toml"
    suite.write_text('name = "once"\n'
                     '[defaults]\nbudget = "epochs=2"\nseeds = 2\nworkload_params = { n = 200, d = 5 }\n'
                     '[[run]]\nplugin = "svrg-serial"\nworkload = "ridge"\nparams = { eta = "theory", m = 20 }\n'
                     '[[run]]\nplugin = "sgd-serial"\nworkload = "ridge"\nparams = { eta = "theory", b = 4 }\n')
    proc = run_cli("run", str(suite), "--jobs", "2", "--no-report", "--json", env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = json.loads(proc.stdout)["runs"]
    assert [r["status"] for r in runs] == ["budget"] * 4 and not any(r["cached"] for r in runs)
    seen = calls()
    _parent(seen)
    resolved = Counter(what for _, what in seen if what.startswith("resolve"))
    assert resolved == Counter({"resolve svrg-serial 0": 1, "resolve svrg-serial 1": 1,
                                "resolve sgd-serial 0": 1, "resolve sgd-serial 1": 1}), seen
    assert sum(what == "theory" for _, what in seen) == 4, seen   # one eta=theory solve per run


@pytest.mark.slow
def test_compare_with_its_warm_up_resolves_each_run_once(counted):
    env, calls = counted
    proc = run_cli("compare", "svrg-serial", "sgd-serial", "-w", "ridge", *WP, "--param", "eta=theory",
                   "--seeds", "2", "--budget", "epochs=2", "--no-plot", "--json", "-q", env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = calls()
    _parent(seen)
    resolved = Counter(what for _, what in seen if what.startswith("resolve"))
    # 2 plugins x 2 seeds; the warm-up of each in-process plugin reuses its first run's record
    assert resolved == Counter({"resolve svrg-serial 0": 1, "resolve svrg-serial 1": 1,
                                "resolve sgd-serial 0": 1, "resolve sgd-serial 1": 1}), seen
    assert sum(what == "theory" for _, what in seen) == 4, seen


def test_a_resolved_run_crosses_to_a_job_without_its_workload_and_rebuilds_only_the_data():
    """The record a job receives pickles without the built workload or the plugin's spec (the job
    looks both up by name) and with every value the parent chose."""
    import pickle

    from harness.run.runner import RunSpec, resolve

    res = resolve(RunSpec("svrg-serial", "ridge", {"eta": "theory", "m": 20}, {"n": 200, "d": 5}))
    assert res.workload.n == 200                   # built (and its data loaded) in the parent
    back = pickle.loads(pickle.dumps(res))
    assert back._workload is None and back._plugin is None
    assert (back.params, back.theory_choices, back.hash, back.identity) == \
        (res.params, res.theory_choices, res.hash, res.identity)
    assert back.workload is not res.workload and back.workload.n == 200 and back.plugin.name == "svrg-serial"
    with pytest.raises(TypeError, match="resolved already"):
        resolve(res)
