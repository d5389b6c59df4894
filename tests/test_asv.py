"""asv from a fresh repository: `asv check`, `asv run --python=same --quick`, a recorded run and
`asv publish`, on a tiny parameter set (one family, one backend, one workload) narrowed through the
environment. The grid is keyed by plugin name. asv's machine file goes to a temporary HOME, results and HTML to the temporary repo."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ASV = Path(sys.executable).parent / "asv"

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not ASV.exists(), reason="asv not installed in this venv")]

TINY = {"HARNESS_ASV_PLUGINS": "svrg-serial", "HARNESS_ASV_WORKLOADS": "ridge"}


def _asv(repo: Path, home: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, **TINY, "HOME": str(home)}
    proc = subprocess.run([str(ASV), *args], cwd=repo, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"asv {' '.join(args)} -> {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture
def repo(tmp_path):
    """A fresh git repository holding the checkout's asv.conf.json and benchmarks/ (the harness
    itself is the one installed in this venv, as in a clean clone with the .venv active)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(ROOT / "asv.conf.json", repo)
    shutil.copytree(ROOT / "benchmarks", repo / "benchmarks", ignore=shutil.ignore_patterns("__pycache__"))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "init.defaultBranch=main"]
    for cmd in (["init", "-q"], ["add", "."], ["commit", "-qm", "benchmarks"]):
        subprocess.run(git + cmd, cwd=repo, check=True, capture_output=True, timeout=30)
    return repo


def test_asv_check_quick_run_record_and_publish(repo, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    _asv(repo, home, "machine", "--yes", "--machine", "ci")
    _asv(repo, home, "check", "--python=same")
    quick = _asv(repo, home, "run", "--python=same", "--quick", "--machine", "ci", "--show-stderr", timeout=280)
    out = quick.stdout
    for name in ("track_time_to_target", "track_updates_to_target", "track_final_subopt", "track_theory_slack",
                 "track_bound_violations", "time_sgd_dense", "time_svrg_inner_dense", "peakmem_svrg_serial_run"):
        assert f"asv_harness." in out and name in out, name
    assert "failed" not in out.replace("track_theory_slack", ""), out[-3000:]
    assert "skipped" not in out, out[-3000:]  # quiet: no empty cells of a family x backend cross

    # a recorded run (quick runs are not saved) of the convergence benchmarks, then the site
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    _asv(repo, home, "run", "--python=same", "--machine", "ci", "--set-commit-hash", commit, "--bench",
         "track_updates_to_target|track_bound_violations", "-a", "repeat=1", "-a", "rounds=1", timeout=280)
    (result_file,) = [p for p in (repo / ".asv" / "results" / "ci").glob("*.json") if p.name != "machine.json"]
    results = json.loads(result_file.read_text())["results"]
    updates = results["asv_harness.HarnessRuns.track_updates_to_target"][0]
    violations = results["asv_harness.HarnessRuns.track_bound_violations"][0]
    assert violations == [0]

    # the value asv recorded is what the harness measures for the same runs (median over seeds)
    from harness.compare import run_metrics
    from harness.monitor import Budget, Target
    from harness.runner import RunSpec, execute

    sys.path.insert(0, str(repo / "benchmarks" / "asv_suite"))
    try:
        import asv_harness as A
    finally:
        sys.path.pop(0)
    import statistics

    direct = [run_metrics(execute(RunSpec("svrg-serial", "ridge", {"eta": 0.1, "b": 4}, dict(A.WORKLOAD_PARAMS), 1, s,
                                          Budget.parse(A.BUDGET), Target("subopt", A.TARGET)), None))["updates_to_target"]
              for s in A.SEEDS]
    assert updates == [statistics.median(direct)]

    _asv(repo, home, "publish")
    index = repo / ".asv" / "html" / "index.html"
    assert index.exists()
    info = json.loads((repo / ".asv" / "html" / "index.json").read_text())
    assert "asv_harness.HarnessRuns.track_updates_to_target" in info["benchmarks"]


def test_grid_is_keyed_by_plugin_name(monkeypatch):
    """Every registered finite-sum plugin on the chosen backends is its own series: two plugins of
    one family on one backend (asysvrg-sim, asysvrg-ps-sim) both appear; none replaces another."""
    import importlib

    from harness.registry import plugins

    monkeypatch.delenv("HARNESS_ASV_PLUGINS", raising=False)
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks" / "asv_suite"))
    import asv_harness as A

    A = importlib.reload(A)
    reg = plugins()
    expected = [n for n in reg.names() if reg.items[n].backend in ("serial", "sim", "threads")
                and "finite-sum" in reg.items[n].kinds]
    assert A.PLUGINS == expected and {"asysvrg-sim", "asysvrg-ps-sim", "sgd-serial"} <= set(A.PLUGINS)
    assert A.HarnessRuns.param_names == ("plugin", "workload") and A.HarnessRuns.params[0] == expected
