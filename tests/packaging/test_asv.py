"""asv from a fresh repository: `asv check`, `asv run --python=same --quick`, a recorded run and
`asv publish`, on a tiny parameter set (one family, one backend, one workload) narrowed through the
environment. The grid is keyed by plugin name. asv's machine file goes to a temporary HOME, results and HTML to the temporary repo."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ASV = Path(sys.executable).parent / "asv"

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not ASV.exists(), reason="asv not installed in this venv")]

TINY = {"HARNESS_ASV_PLUGINS": "svrg-serial", "HARNESS_ASV_WORKLOADS": "ridge"}


def _asv(repo: Path, home: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, **TINY, "HOME": str(home), "ASV_PYTHONPATH": str(ROOT)}  # measure this checkout
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
    from harness.analysis.compare import run_metrics
    from harness._core.monitor import Budget, Target
    from harness.run.runner import RunSpec, execute

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
    _site_renders_without_the_network(repo / ".asv" / "html", tmp_path)


def _site_renders_without_the_network(site: Path, tmp_path: Path) -> None:
    """asv's page loads jQuery, flot and bootstrap from CDNs (blank offline): benchmarks/asv_offline.py
    vendors them; served on loopback, the page draws its benchmark list and requests nothing else."""
    from browser import CHROMIUM, load

    assert "cdnjs.cloudflare.com" in (site / "index.html").read_text()
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "asv_offline.py"), str(site)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    page = (site / "index.html").read_text()
    assert "https://" not in "".join(l for l in page.splitlines() if "<script" in l or "<link" in l)
    if CHROMIUM is None:
        pytest.skip("headless Chromium not installed: the offline site was written but not looked at")
    server = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "0"], cwd=site,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = server.stdout.readline()                       # "Serving HTTP on 127.0.0.1 port N (...)"
        port = int(line.split(" port ")[1].split()[0])
        dom, requests = load(f"http://127.0.0.1:{port}/", tmp_path, offline=False)
    finally:
        server.kill()
        server.wait(timeout=10)
    assert "track_updates_to_target" in dom and "js_load_failure" not in dom.split("<body")[1][:200]
    assert requests and all(u.startswith(f"http://127.0.0.1:{port}/") for u in requests), requests


def test_grid_is_keyed_by_plugin_name(monkeypatch):
    """Every registered finite-sum plugin on the chosen backends is its own series: two plugins of
    one family on one backend (asysvrg-sim, asysvrg-ps-sim) both appear; none replaces another."""
    import importlib

    from harness._core.registry import plugins

    monkeypatch.delenv("HARNESS_ASV_PLUGINS", raising=False)
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks" / "asv_suite"))
    import asv_harness as A

    A = importlib.reload(A)
    reg = plugins()
    expected = [n for n in reg.names() if reg.items[n].backend in ("serial", "sim", "threads")
                and "finite-sum" in reg.items[n].kinds]
    assert A.PLUGINS == expected and {"asysvrg-sim", "asysvrg-ps-sim", "sgd-serial"} <= set(A.PLUGINS)
    assert A.HarnessRuns.param_names == ("plugin", "workload") and A.HarnessRuns.params[0] == expected


def _pypi_reachable() -> bool:
    """asv builds each environment's own tools (pip, build, asv_runner, setuptools) from the package
    registry; nothing else is downloaded here (HARNESS_ASV_REUSE)."""
    import urllib.request

    index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")
    try:
        with urllib.request.urlopen(f"{index}/asv-runner/", timeout=10) as resp:
            return resp.status == 200
    except Exception:  # noqa: BLE001 - DNS, refused, proxy: no registry
        return False


def _scratch_copy(dst: Path) -> list[str]:
    """This checkout's files (tracked and untracked, not ignored: what a commit of it would hold)
    as a fresh git repository with one commit; returns the git command prefix."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                           check=True, timeout=60).stdout.decode().split("\0")
    for f in filter(None, files):
        src = ROOT / f
        if src.is_file():
            (dst / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / f)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "init.defaultBranch=main"]
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "base"]):
        subprocess.run(git + cmd, cwd=dst, check=True, capture_output=True, timeout=60)
    return git


@pytest.mark.skipif(importlib.util.find_spec("virtualenv") is None, reason="virtualenv not installed (asv's builder)")
def test_asv_continuous_between_two_commits_finds_a_planted_regression(tmp_path):
    """`asv continuous BASE HEAD` as its users run it, on a scratch copy of this repository with a
    second commit that plants a bug (svrg-serial applies half the step size it is asked for): asv
    builds a virtualenv, builds and installs each commit's wheel (dependencies reused from this
    venv), runs the benchmarks against each commit's own code, and reports the regression (exit 1):
    the theory checker's verdicts turn to 'violated' (the run no longer describes what was applied)
    and updates to target move by more than asv's factor."""
    if not _pypi_reachable():
        pytest.skip("the package registry is unreachable: asv builds its environment's tools from it")
    py = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if shutil.which(py) is None:
        pytest.skip(f"no {py} on PATH: asv's virtualenv builder looks the interpreter up by that name")
    repo = tmp_path / "repo"
    repo.mkdir()
    git = _scratch_copy(repo)
    base = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    svrg = repo / "plugins" / "serial" / "svrg.py"
    text = svrg.read_text()
    assert 'n, b, eta = wl.n, p["b"], p["eta"]\n' in text
    svrg.write_text(text.replace('n, b, eta = wl.n, p["b"], p["eta"]\n', 'n, b, eta = wl.n, p["b"], p["eta"] / 2\n'))
    subprocess.run(git + ["commit", "-qam", "svrg-serial applies half the step size it is asked for (a planted bug)"], cwd=repo, check=True,
                   capture_output=True, timeout=60)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()

    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, **TINY, "HOME": str(home), "HARNESS_ASV_REUSE": sys.prefix, "PIP_NO_INPUT": "1"}
    env.pop("VIRTUAL_ENV", None)
    subprocess.run([str(ASV), "machine", "--yes", "--machine", "ci"], cwd=repo, env=env, capture_output=True,
                   check=True, timeout=120)
    proc = subprocess.run([str(ASV), "continuous", "--machine", "ci", "--bench",
                           "track_updates_to_target|track_bound_violations", "-a", "repeat=1", "-a", "rounds=1",
                           "--factor", "1.1", base, head], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=540)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "PERFORMANCE DECREASED" in out, out[-4000:]

    results = {}
    for f in (repo / ".asv" / "results" / "ci").glob("*.json"):
        if f.name != "machine.json":
            data = json.loads(f.read_text())
            results[data["commit_hash"]] = data["results"]
    assert set(results) == {base, head}, sorted(results)
    updates = {c: results[c]["asv_harness.HarnessRuns.track_updates_to_target"][0][0] for c in (base, head)}
    violations = {c: results[c]["asv_harness.HarnessRuns.track_bound_violations"][0][0] for c in (base, head)}
    assert violations[base] == 0 and violations[head] >= 1, (violations, out[-3000:])
    assert not 1 / 1.1 <= updates[head] / updates[base] <= 1.1, updates  # each commit measured its own code
    rows = {ln.split("|")[5].strip(): ln.split("|")[1].strip() for ln in out.splitlines()
            if ln.lstrip().startswith("|") and "asv_harness." in ln}
    assert rows == {"asv_harness.HarnessRuns.track_bound_violations('svrg-serial', 'ridge')": "+",
                    "asv_harness.HarnessRuns.track_updates_to_target('svrg-serial', 'ridge')":
                        "+" if updates[head] > updates[base] else "-"}, out[-3000:]
    # the environment asv built holds each commit's harness, and nothing big was downloaded into it
    (site,) = (repo / ".asv" / "env").glob("*/lib/python*/site-packages")
    assert not (site / "numpy").exists() and not (site / "torch").exists()
    # a wheel per commit: HEAD's installed first (asv logs it), then BASE's over it
    assert f"Installing {head[:8]}" in out, out[-3000:]
    installed = (site / "harness" / "plugins" / "serial" / "svrg.py").read_text()  # BASE's, run after HEAD's
    assert 'p["eta"]\n' in installed and 'p["eta"] / 2' not in installed


def test_a_declined_cell_is_skipped_before_setup_and_silently(monkeypatch, capsys):
    """A cell its plugin declines (cocoa-mpi's local SDCA solver is closed-form for the squared loss:
    not logreg) is listed in asv's ``skip_params``: asv_runner skips it before setup, printing
    nothing (no "asv: skipped" line per cell and benchmark under `asv run --quick`)."""
    from asv_runner.discovery import get_benchmark_from_name

    monkeypatch.setenv("HARNESS_ASV_PLUGINS", "cocoa-mpi,svrg-serial")
    monkeypatch.setenv("HARNESS_ASV_WORKLOADS", "logreg,ridge")
    monkeypatch.setattr(sys, "path", list(sys.path))  # asv_runner puts the suite's folder on it
    for name in [m for m in sys.modules if m.endswith("asv_harness")]:
        monkeypatch.delitem(sys.modules, name)
    cells = [("cocoa-mpi", "logreg"), ("cocoa-mpi", "ridge"), ("svrg-serial", "logreg"), ("svrg-serial", "ridge")]
    bench = get_benchmark_from_name(str(ROOT / "benchmarks" / "asv_suite"),
                                    f"asv_harness.HarnessRuns.track_updates_to_target-{cells.index(cells[0])}")
    assert bench._skip_tuples == [("cocoa-mpi", "logreg")]
    assert tuple(bench._current_params) == cells[0]
    assert bench.do_setup() is True  # skipped, before the class's setup could raise NotImplementedError
    assert "skipped" not in capsys.readouterr().out
