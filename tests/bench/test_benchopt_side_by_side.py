"""``benchmarks/benchopt_side_by_side.py``: the harness beside benchopt, which lives in a venv the
script builds. Its help and dry run need no benchopt; its kernel part compares the harness's kernels
with the benchopt benchmark's plain loops in this process; the whole side by side, in its quick mode,
builds the venv (once per test cache) and checks that both tools draw the same curve, bit for bit."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from conftest import ROOT

SCRIPT = ROOT / "benchmarks" / "benchopt_side_by_side.py"


def _script(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT)


def test_help_and_dry_run_need_no_benchopt(tmp_path):
    assert importlib.util.find_spec("benchopt") is None, "benchopt must not be a dependency of the project"
    out = _script("--help")
    assert out.returncode == 0 and "--quick" in out.stdout and "--dry-run" in out.stdout
    venv = tmp_path / "venv"
    out = _script("--quick", "--dry-run", "--venv", str(venv))
    assert out.returncode == 0, out.stderr
    assert f"benchopt venv: {venv} (to be built" in out.stdout and "benchopt==1.10.0" in out.stdout
    assert "run -p sgd-serial -w logreg --workload-param n=2000" in out.stdout
    assert "run -p svrg-serial" in out.stdout and "-s sgd-numba[eta=0.1]" in out.stdout and " -n 5 " in out.stdout
    assert not venv.exists()                     # a dry run builds nothing


@pytest.mark.parametrize("args, what", [(("--algs", "adam"), "--algs"), (("--sizes", "0"), "--sizes"),
                                        (("--repeats", "0"), "--repeats")])
def test_a_bad_argument_is_one_line_and_exit_2(args, what):
    out = _script(*args, "--dry-run")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and what in out.stderr


def test_the_harness_kernels_and_the_plain_loops_give_the_same_iterates():
    """The solver-only comparison times the same work: the harness's b = 1 SGD and SVRG kernels and
    the benchopt benchmark's plain numba loops end on bit-identical iterates from the same draws."""
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import benchopt_side_by_side as side
    finally:
        sys.path.remove(str(SCRIPT.parent))
    res = side.kernel_ratios(2000, epochs=2, repeats=2)
    for alg in ("sgd", "svrg"):
        assert res[alg]["bit_for_bit"], alg
        assert len(res[alg]["ratio"]["values"]) == 2 and res[alg]["ratio"]["min"] > 0


@pytest.mark.slow
@pytest.mark.timeout(900)   # the first time: the venv's build (pip, a few minutes on a loaded machine)
def test_quick_side_by_side_draws_the_same_curves_or_says_why_not(tmp_path):
    """--quick: benchopt 1.10 in its own venv (built under the test cache the first time, minutes;
    skipped with the reason where no package index can be reached) and the harness, SGD and SVRG,
    6 points over 5 epochs on the default logreg: the same points and values, bit for bit; the SVRG
    epoch budget stops at 5.00 epochs."""
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import benchopt_side_by_side as side
    finally:
        sys.path.remove(str(SCRIPT.parent))
    exe, why = side.ensure_venv(side.default_venv())
    if exe is None:
        pytest.skip(f"benchopt's venv could not be built: {why}")
    out = _script("--quick", "--json", str(tmp_path / "res.json"), timeout=280)
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads((tmp_path / "res.json").read_text())
    assert res["skipped"] is None and set(res["side_by_side"]) == {"sgd n=2000", "svrg n=2000"}
    for cell in res["side_by_side"].values():
        assert cell["agreement"] == {"points": 6, "same_points": True, "bit_for_bit": True, "max_rel_diff": 0.0}
        assert cell["wall_ratio"]["median"] > 0 and cell["cpu_ratio"]["median"] > 0
        assert cell["harness_parts"]["measured"]["median"] > 0
    assert res["epochs_check"] == {"2000": 5.0}
    assert "| sgd n=2000 |" in out.stdout and "bit for bit (6)" in out.stdout
