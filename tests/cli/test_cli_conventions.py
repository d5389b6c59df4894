"""The conventions a command-line user expects: `python -m harness`, --version, help on a bare
`harness`, --json everywhere, parameter columns that tell runs apart, libraries' warnings as our own
one-line messages, errors that name the real problem."""

import importlib.util
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
    out = run_cli("runs", check=True).stdout         # the differing parameters share one cell: eta differs, b not
    assert "eta=0.05" in out and "eta=0.2" in out and "b=" not in out, out
    wide = run_cli("runs", "list", "--wide", check=True).stdout
    header = next(ln for ln in wide.splitlines() if " id " in ln)
    assert " eta " in header and " b " not in header, wide  # --wide: one column each
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


def test_a_sub_command_error_names_the_command_once():
    proc = run_cli("list", "foo", timeout=60)
    line = proc.stderr.strip()
    assert proc.returncode == 2 and len(line.splitlines()) == 1, proc.stderr
    assert line.startswith("harness: error: list: argument what: invalid choice: 'foo'"), line
    assert "harness list" not in line
    top = run_cli("frobnicate", timeout=60)  # the top-level parser: no command name to add
    assert top.returncode == 2 and top.stderr.startswith("harness: error: argument command: invalid choice"), top.stderr


@pytest.mark.parametrize("plugin, workload", [("asgd-mpi", "logreg"), ("clars-torch", "mlp")])
def test_workers_beyond_the_machine_are_refused_for_launched_ranks(plugin, workload):
    """1000 MPI / torch ranks on this machine is a typo: one line, nothing started; the same count
    with --hostfile (ranks spread over machines) or --option oversubscribe=true passes this check."""
    from harness.run.manifest import usable_cores

    many = str(4 * usable_cores() + 1)
    proc = run_cli("run", "-p", plugin, "-w", workload, "--workers", many, "--no-report", timeout=60)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    ranks = int(many) + plugin.endswith("mpi")        # the parameter server's rank
    assert lines[0] == (f"harness: error: plugin {plugin}: {many} workers would start {ranks} "
                        f"{'mpi' if plugin.endswith('mpi') else 'torch'} processes on this machine's {usable_cores()} "
                        f"cores (at most {4 * usable_cores()} workers, 4 per core): give --hostfile to spread them over "
                        "machines, or --option oversubscribe=true"), lines[0]
    from harness.run.runner import RunSpec, resolve

    for options in ({"oversubscribe": "true"}, {"hostfile": "hosts"}):
        assert resolve(RunSpec(plugin, workload, workers=int(many), options=options)).spec.workers == int(many)


@pytest.mark.skipif(importlib.util.find_spec("distributed") is None, reason="dask.distributed not installed")
def test_runs_sent_to_a_cluster_are_not_bounded_by_this_machine():
    """With a dask scheduler (or SLURM) the ranks start on the cluster's machines: the same worker
    count passes the check and the next problem is the real one (no scheduler there)."""
    from harness.run.manifest import usable_cores

    many = str(4 * usable_cores() + 1)
    proc = run_cli("run", "-p", "asgd-mpi", "-w", "logreg", "--workers", many, "--executor", "dask", "--scheduler",
                   "tcp://127.0.0.1:9", "--no-report", env={"HARNESS_DASK_CONNECT_S": "1"}, timeout=60)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("harness: error: cannot reach the dask scheduler at tcp://127.0.0.1:9"), lines[0]


def test_a_run_of_a_single_update_draws_both_panels(tmp_path):
    """A run that applies one update has one point at updates > 0: the log-x panel shows it as a
    marker (not a blank panel), the legend is there, and matplotlib has nothing to warn about."""
    proc = run_cli("run", "-p", "sgd-serial", "-w", "ridge", "--workload-param", "n=200", "--workload-param", "d=5",
                   "--budget", "updates=1", "--report", str(tmp_path / "r"), "-q", timeout=120)
    assert proc.returncode == 0 and "warning" not in proc.stderr, proc.stderr
    assert (tmp_path / "r" / "curves-1.png").exists() or list((tmp_path / "r").glob("curves-*.png"))
    from harness.analysis.report import workload_figure
    from harness.run.store import Store

    (rec,) = Store().runs(with_points=True)
    assert rec.points[-1]["updates"] == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "No artists with labels found to put in legend" would raise
        fig = workload_figure([rec], "one update")
    try:
        axes = fig.axes
        assert len(axes) == 2 and all(ax.has_data() for ax in axes)
        (marker,) = axes[0].lines  # the single point at updates = 1
        assert list(marker.get_xdata()) == [1.0] and marker.get_marker() == "o"
        assert axes[0].get_legend() is not None
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)
