"""Ctrl-C during a run keeps the points measured so far, stored with status 'interrupted'."""

import json
import os
import signal
import subprocess
import sys
import time

from conftest import ROOT, run_cli


def test_sigint_keeps_points(tmp_path):
    args = ["run", "--plugin", "sgd-serial", "--workload", "logreg", "--workload-param", "n=3000",
            "--workload-param", "d=60", "--param", "eta=0.01", "--no-report", "-q"]
    # a first short run computes (and caches) the workload's constants and compiles the kernels
    run_cli(*args, "--budget", "updates=10", "--store", str(tmp_path / "warm.db"), check=True)
    # Ctrl-C as typed in a terminal: a test runner started in the background (as CI may be) has
    # SIGINT ignored, and a child would inherit that; the user's terminal does not
    tmp = tmp_path / "t"
    tmp.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", *args, "--budget", "seconds=120"],
                            cwd=ROOT, env={**os.environ, "TMPDIR": str(tmp)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 90
    # the run's work folder appears once its monitor is built (start-up took over 5 s at load 10):
    # Ctrl-C a few seconds after that, when its first points (t = 0, 1, 2, ...) are taken
    while not list(tmp.glob("harness-sgd-serial-*")) and proc.poll() is None and time.time() < deadline - 30:
        time.sleep(0.05)
    time.sleep(3.0)
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=max(10, deadline - time.time()))
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 130, err
    runs = json.loads(run_cli("runs", "--json", check=True).stdout)
    assert len(runs) == 1
    assert runs[0]["status"] == "interrupted" and runs[0]["n_points"] >= 1


def test_the_interrupt_message_counts_exactly_what_was_stored():
    from types import SimpleNamespace as R

    from harness.cli.run import interrupted_summary

    runs = [R(id=1, status="budget", points=[{}] * 9), R(id=2, status="interrupted", points=[{}] * 4),
            R(id=3, status="interrupted", points=[]),
            R(id=None, status="interrupted", points=[{}])]  # a --force rerun kept out by Store.save
    assert interrupted_summary(runs) == ("3 runs stored: 1 finished, 1 'interrupted' with the points measured so far "
                                         "(4 points), 1 'interrupted' without points, 1 'interrupted' not stored: "
                                         "the finished run of the same key is kept")
    assert interrupted_summary([R(id=None, status="interrupted", points=[])]) == \
        "0 runs stored: 1 'interrupted' not stored: the finished run of the same key is kept"
