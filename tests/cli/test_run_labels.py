"""A run is labelled by the parameters that tell it apart: those that differ between the runs shown
and those set away from the plugin's declared default (a newcomer saw ddg-sim's ``schedule=inv``
nowhere in the tour, though it is why the run ends at chance). A parameter at its default stays
hidden, so labels stay short."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli

SMALL = ("-w", "logreg", "--workload-param", "n=200", "--workload-param", "d=5", "--budget", "epochs=1")


def _params_cells(table: str) -> list[str]:
    """The 'params' column of a rich table on stdout, one cell per row."""
    lines = table.splitlines()
    header = next(line for line in lines if "┃" in line and "plugin" in line)
    col = [c.strip() for c in header.split("┃")].index("params")
    return [[c.strip() for c in line.split("│")][col] for line in lines if line.startswith("│")]


def test_a_single_run_shows_the_parameters_it_set_in_the_plugins_order():
    out = run_cli("run", "-p", "svrg-serial", *SMALL, "--param", "b=4", "--param", "eta=0.5", "--no-report",
                  check=True).stdout
    assert _params_cells(out) == ["eta=0.5 b=4"], out      # declared order (eta, then b), not the typed one
    listed = run_cli("runs", "list", check=True).stdout
    assert _params_cells(listed) == ["eta=0.5 b=4"], listed


def test_a_non_default_parameter_shared_by_every_run_is_shown_and_defaults_are_not():
    out = run_cli("run", "-p", "sgd-serial", *SMALL, "--param", "schedule=inv", "--param", "eta=0.1",
                  "--param", "t0=0", "--seeds", "2", "--no-report", check=True).stdout
    # eta = 0.1 and t0 = 0 (one epoch, n/b) are sgd-serial's declared defaults, asked for explicitly: hidden
    assert _params_cells(out) == ["schedule=inv", "schedule=inv"], out
    assert "eta=" not in out and "t0=" not in out


def test_a_run_at_its_defaults_has_no_params_column():
    out = run_cli("run", "-p", "sgd-serial", *SMALL, "--param", "eta=0.1", "--param", "b=1", "--no-report",
                  check=True).stdout
    header = next(line for line in out.splitlines() if "plugin" in line)
    assert "params" not in header and "eta=" not in out and "b=1" not in out, out


def test_runs_json_still_has_every_parameter():
    """Only the tables hide defaults: --json carries the whole resolved parameter set."""
    out = run_cli("run", "-p", "sgd-serial", *SMALL, "--no-report", "--json", check=True).stdout
    (run,) = json.loads(out)["runs"]
    from harness.run.store import Store

    rec = Store().load(run["id"])
    assert {"eta", "b", "schedule", "t0"} <= set(rec.params)


TOUR_LIKE = """name = "labels"
[defaults]
workload = "logreg"
workload_params = { n = 200, d = 5 }
budget = "epochs=1"
seeds = 1
target = "none"
[[run]]   # like the tour's ddg-sim: the step and batch of its neighbour, and a schedule away from the default
plugin = "sgd-serial"
params = { eta = 0.05, schedule = "inv" }
[[run]]   # like the tour's ddg-torch: the same step and batch, nothing else set away from the default
plugin = "svrg-serial"
params = { eta = 0.05, b = 1, m = 0 }
"""


@pytest.mark.slow
def test_the_report_names_a_non_default_parameter_no_other_run_varies(tmp_path):
    suite = tmp_path / "labels.toml"
    suite.write_text(TOUR_LIKE)
    run_cli("run", str(suite), "-q", "--report", str(tmp_path / "rep"), check=True)
    md = (tmp_path / "rep" / "index.md").read_text()
    html = (tmp_path / "rep" / "index.html").read_text()
    # the run table: step and batch always, the schedule where it is not the default; SVRG's m = 0 is its default
    assert "| sgd-serial | eta=0.05, b=1, schedule=inv |" in md, md
    assert "| svrg-serial | eta=0.05, b=1 |" in md, md
    # the measured summary (one row per configuration) and the plots' legends use the same labels
    assert "| logreg (d=5, n=200) | sgd-serial [eta=0.05, b=1, schedule=inv] |" in md, md
    assert "| logreg (d=5, n=200) | svrg-serial [eta=0.05, b=1] |" in md, md
    assert "sgd-serial [eta=0.05, b=1, schedule=inv] (n=1)" in html                  # a curve's legend entry
    assert "svrg-serial [eta=0.05, b=1] (n=1)" in html and "m=0" not in md


@pytest.mark.slow
def test_compare_names_what_sets_each_side_apart():
    """Two sides of one plugin were both called 'sgd-serial': each now carries its parameters set away
    from the default or from the other side's (the JSON keeps the plugin name, with the parameters beside)."""
    out = run_cli("compare", "sgd-serial", "sgd-serial", *SMALL, "--param-a", "schedule=inv", "--param", "eta=0.1",
                  "--seeds", "1", "--no-plot", check=True).stdout
    assert out.splitlines()[0].split() == ["A", "=", "sgd-serial", "[schedule=inv]", "B", "=", "sgd-serial",
                                           "[schedule=constant]"], out
    doc = json.loads(run_cli("compare", "sgd-serial", "sgd-serial", *SMALL, "--param-a", "schedule=inv",
                             "--seeds", "1", "--no-plot", "--json", check=True).stdout)
    assert (doc["a"], doc["a_params"], doc["b"], doc["b_params"]) == (
        "sgd-serial", {"schedule": "inv"}, "sgd-serial", {"schedule": "constant"})
