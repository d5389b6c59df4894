"""The conventions a command-line user expects: `python -m harness`, --version, help on a bare
`harness`, --json everywhere, parameter columns that tell runs apart, libraries' warnings as our own
one-line messages, errors that name the real problem."""

import json
import subprocess
import sys
import warnings

import pytest

from conftest import ROOT, run_cli


def test_python_m_harness_version_and_bare_help():
    ver = subprocess.run([sys.executable, "-m", "harness", "--version"], capture_output=True, text=True,
                         timeout=60, cwd=ROOT)
    assert ver.returncode == 0 and ver.stdout.startswith("harness 0."), ver
    bare = subprocess.run([sys.executable, "-m", "harness"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert bare.returncode == 0 and "usage: harness" in bare.stdout and "run" in bare.stdout, bare
    assert "runs" not in bare.stderr  # nothing was run


@pytest.mark.parametrize("command", ["list", "run", "runs", "report", "compare", "gate", "theory list",
                                     "theory show", "theory check", "theory solve"])
def test_every_command_has_json(command):
    proc = run_cli(*command.split(), "--help", timeout=60)
    assert proc.returncode == 0 and "--json" in proc.stdout, proc.stdout


def test_runs_table_shows_the_parameters_that_differ(tmp_path):
    for eta in ("0.05", "0.2"):
        run_cli("run", "-p", "sgd-serial", "-w", "ridge", "--workload-param", "n=200", "--workload-param", "d=5",
                "--param", f"eta={eta}", "--budget", "epochs=2", "--no-report", "-q", check=True)
    out = run_cli("runs", check=True).stdout
    header = next(ln for ln in out.splitlines() if " id " in ln)
    assert " eta " in header and " b " not in header, out  # eta differs, b does not
    assert "0.05" in out and "0.2" in out
    report = json.loads(run_cli("report", "1", "2", "--out", str(tmp_path / "r"), "--json", check=True).stdout)
    assert report["runs"] == [1, 2] and report["report"].endswith("index.html")
    plain = run_cli("report", "1", "2", "--out", str(tmp_path / "r2"), env={"HARNESS_PROGRESS_EVERY": "0.1"},
                    check=True)  # not a terminal: a progress line while the report is written
    assert "harness: 0/1 reports done" in plain.stderr and "report:" in plain.stdout


def test_library_warnings_become_one_line_messages(capsys):
    from harness.cli import library_warnings

    with library_warnings():
        for _ in range(3):  # said once
            warnings.warn_explicit("overflow encountered in exp", RuntimeWarning,
                                   "/x/site-packages/numpy/core/_methods.py", 10)
        warnings.warn_explicit("Data has no positive values", UserWarning, "/x/site-packages/matplotlib/axes.py", 3)
    err = capsys.readouterr().err.splitlines()
    assert err == ["harness: warning: overflow encountered in exp (numpy, RuntimeWarning)",
                   "harness: warning: Data has no positive values (matplotlib, UserWarning)"]


@pytest.mark.parametrize("args, needle", [
    (["report", "999999"], "no run #999999"),
    (["gate", "--current", "missing.json", "--baseline", "suites/gate-baseline.json"], "--current file not found"),
    (["run", "-p", "sgd-serial", "-w", "logreg", "--jobs", "-1"], "--jobs must be at least 1"),
])
def test_errors_name_the_real_problem(args, needle):
    proc = run_cli(*args, timeout=60)
    assert proc.returncode == 2 and needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
