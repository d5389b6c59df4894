"""What a user who installs the package meets first: suites by name, baselines by name, install hints
that name the real distribution and survive the table renderer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_cli


def test_list_suites_names_every_shipped_suite_with_its_paper_runs_and_claims():
    from harness.suites import shipped_suites

    proc = run_cli("list", "suites", "--json", check=True)
    rows = {r["name"]: r for r in json.loads(proc.stdout)["suites"]}
    assert set(rows) == set(shipped_suites()) and {"tour", "asysvrg", "gate"} <= set(rows)
    assert isinstance(rows["tour"]["runs"], int) and rows["tour"]["runs"] > 0 and rows["tour"]["claims"]
    table = run_cli("list", "suites", check=True).stdout
    assert "asysvrg" in table and "time (2 cores)" in table
    # the column was '-' for every suite: no suite file set `time`; the README's table of suites has them
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for name in ("tour", "asysvrg", "dfsdca", "large_batch", "ddg_fr", "minibatch", "growing_batch"):
        assert rows[name]["time"].endswith(" s"), (name, rows[name]["time"])
        if name != "tour":
            assert f"| `{name}` |" in readme and f"| {rows[name]['time']} |" in readme, name
    one = run_cli("list", "suites", "tour", check=True).stdout
    assert "claims:" in one and "runs:" in one


def test_an_unknown_suite_is_one_line_with_the_known_ones():
    proc = run_cli("list", "suites", "asysvgr")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "unknown suite 'asysvgr'" in proc.stderr and "asysvrg" in proc.stderr


@pytest.mark.slow
def test_the_guides_suite_example_runs_as_written(tmp_path):
    """docs/workflows.md's 'Writing a suite' example is a working suite: its grid expands as its
    comments say and its report checks its claim (a shorter budget and one seed, from the command line)."""
    import re

    guide = (Path(__file__).resolve().parents[2] / "docs" / "workflows.md").read_text()
    text = re.search(r"```toml\n(# my-suite\.toml\n.*?)```", guide, re.S).group(1)
    (tmp_path / "my-suite.toml").write_text(text)
    proc = run_cli("run", "my-suite.toml", "--budget", "updates=100", "--seeds", "1", "--report", "rep", "--json",
                   cwd=tmp_path, check=True)
    runs = json.loads(proc.stdout)["runs"]
    assert len(runs) == 2 * 2 + 1 and {r["plugin"] for r in runs} == {"sgd-serial", "svrg-serial"}
    assert "| SVRG ends below SGD after the same epochs | less |" in (tmp_path / "rep" / "index.md").read_text()


def test_a_shipped_baseline_is_found_by_its_suite_name(tmp_path, monkeypatch):
    from harness.suites import SUITES_DIR, baseline_path

    assert baseline_path("gate") == SUITES_DIR / "gate-baseline.json"
    own = tmp_path / "gate"                       # a file of that name wins where it exists
    own.write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert baseline_path("gate").resolve() == own.resolve()
    proc = run_cli("gate", "--baseline", "nosuch-suite", cwd=tmp_path)
    assert proc.returncode == 2 and "nosuch-suite" in proc.stderr


def test_a_skipped_runs_install_hint_names_the_distribution_and_prints_as_written(tmp_path):
    """rich read '[mpi]' as markup and printed pip install 'harness'; the hint names the package
    index's distribution, asyncopt-harness (``harness`` there is another project)."""
    code = ("import sys; sys.modules['mpi4py'] = None; from harness.cli import main; "
            "sys.exit(main(['run', '--plugin', 'asysvrg-mpi', '--workload', 'logreg', '--budget', 'epochs=1']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert "(pip install 'asyncopt-harness[mpi]')" in proc.stdout, proc.stdout   # piped output: 200 columns
    # the reason is a line under the table, not inside the status cell (where, at 100 columns, it
    # folded every header and number of the tour's table onto several lines)
    (line,) = [x for x in proc.stdout.splitlines() if "pip install" in x]
    assert line.startswith("skipped #") and line.endswith("needs mpi4py (pip install 'asyncopt-harness[mpi]')"), line


def test_runs_list_fits_100_columns_and_wide_or_chosen_columns_show_more(tmp_path):
    for args in (["-p", "sgd-serial", "-p", "svrg-serial", "--param", "eta=0.5", "--seeds", "2"],
                 ["-p", "svrg-serial", "--param", "eta=theory", "--param", "b=4"],
                 ["-p", "asysvrg-sim", "--workers", "3"]):
        run_cli("run", *args, "-w", "ridge", "--workload-param", "n=300", "--budget", "epochs=2", "--no-report", "-q",
                check=True)
    narrow = run_cli("runs", "list", env={"COLUMNS": "100"}, check=True).stdout
    lines = narrow.splitlines()
    assert max(map(len, lines)) <= 100, narrow
    assert "params" in narrow and "eta=0.5" in narrow and "(theory)" in narrow and "suite" not in narrow
    wide = run_cli("runs", "list", "--wide", check=True).stdout
    assert all(c in wide for c in ("eta", "eval s", "wall s", "suite"))
    chosen = run_cli("runs", "list", "--columns", "id,plugin,eta", check=True).stdout
    header = next(line for line in chosen.splitlines() if "plugin" in line)
    assert [c.strip() for c in header.strip("┃ ").split("┃")] == ["id", "plugin", "eta"]
    bad = run_cli("runs", "list", "--columns", "id,nosuch")
    assert bad.returncode == 2 and "unknown column 'nosuch'" in bad.stderr and bad.stderr.count("\n") == 1
