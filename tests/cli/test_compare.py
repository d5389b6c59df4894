"""`harness compare`: the statistics, the table, the plot and the JSON, through the real CLI."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from harness.analysis import stats
from harness.analysis.compare import run_metrics
from harness.run.store import RunRecord, Store

WL = ["--workload", "logreg", "--workload-param", "n=300", "--workload-param", "d=10",
      "--workload-param", "cond=10", "--workload-param", "lam=0.01"]


# -- statistics -----------------------------------------------------------------------------------
def test_bootstrap_ci_brackets_the_median_and_is_reproducible():
    rng = np.random.default_rng(1)
    x = rng.lognormal(size=9)
    e1, e2 = stats.bootstrap_ci(x), stats.bootstrap_ci(x)
    assert e1 == e2
    assert e1.lo <= e1.value <= e1.hi
    assert e1.value == pytest.approx(np.median(x))
    assert e1.lo >= x.min() and e1.hi <= x.max()
    # one sample or identical samples: a zero-width interval
    assert stats.bootstrap_ci([3.0]).lo == stats.bootstrap_ci([3.0]).hi == 3.0
    assert stats.bootstrap_ci([2.0, 2.0, 2.0]).hi == 2.0


def test_infinite_times_to_target_are_ordered_not_nan():
    e = stats.bootstrap_ci([1.0, math.inf, math.inf])
    assert e.value == math.inf and e.hi == math.inf and e.lo in (1.0, math.inf)
    assert stats.median([1.0, 2.0, math.inf, math.inf]) == math.inf
    assert stats.median([1.0, 3.0]) == 2.0
    assert stats.ratio(math.inf, math.inf) == 1.0 and stats.ratio(1.0, math.inf) == 0.0
    assert stats.ratio(math.inf, 2.0) == math.inf
    # a side that never reaches the target is significantly worse than one that always does
    assert stats.is_different([1.0, 1.1, 0.9, 1.2, 1.0], [math.inf] * 5)[0]


def test_is_different_follows_asv_rule():
    a = [1.0, 1.1, 0.9, 1.05, 0.95]
    far = [2.0, 2.1, 1.9, 2.05, 1.95]
    near = [1.02, 1.12, 0.92, 1.0, 0.97]
    diff, how = stats.is_different(a, far)
    assert diff and how.startswith("Mann-Whitney")
    assert not stats.is_different(a, near)[0]
    # too few samples for Mann-Whitney to reach alpha: fall back to CI overlap
    diff, how = stats.is_different([1.0, 1.1], [2.0, 2.1])
    assert diff and "CIs disjoint" in how
    assert not stats.is_different([1.0, 2.1], [2.0, 2.2])[0]
    # one-sided: a slowdown is 'greater', a speed-up is not
    assert stats.is_different(a, far, alternative="greater")[0]
    assert not stats.is_different(far, a, alternative="greater")[0]
    assert stats.min_p_value(3, 3) == pytest.approx(0.1)


def test_geomean():
    assert stats.geomean([2.0, 8.0]) == pytest.approx(4.0)
    assert math.isnan(stats.geomean([]))
    assert stats.geomean([1.0, math.inf]) == math.inf


def test_run_metrics_reads_the_first_point_meeting_the_target():
    pts = [{"updates": 0, "time_s": 0.0, "subopt": 1.0}, {"updates": 10, "time_s": 0.5, "subopt": 1e-3},
           {"updates": 20, "time_s": 0.9, "subopt": 1e-5}, {"updates": 30, "time_s": 1.2, "subopt": 1e-7}]
    rec = RunRecord(id=1, hash="h", plugin="p", workload="w", workload_params={}, params={}, workers=1, seed=0,
                    status="budget", target={"metric": "subopt", "value": 1e-4}, points=pts)
    m = run_metrics(rec)
    assert (m["time_to_target"], m["updates_to_target"], m["final_subopt"]) == (0.9, 20.0, 1e-7)
    from harness._core.monitor import Target

    m = run_metrics(rec, Target("subopt", 1e-9))
    assert m["time_to_target"] == math.inf and m["updates_to_target"] == math.inf


# -- the command as a user types it ---------------------------------------------------------------
def harness(capsys, *args: str) -> tuple[int, str, str]:
    """The CLI's entry point in this process (the subprocess `cli` fixture pays the imports again)."""
    from harness.cli import main

    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_compare_two_plugins_table_plot_and_json(cli, tmp_path):
    out = tmp_path / "plots"
    proc = cli("compare", "sgd-serial", "svrg-serial", *WL, "--param", "eta=0.3", "--param", "b=4",
               "--budget", "epochs=20", "--target", "1e-4", "--seeds", "4", "--out", str(out), "--json", check=True)
    doc = json.loads(proc.stdout)
    assert doc["a"] == "sgd-serial" and doc["b"] == "svrg-serial"
    (g,) = doc["groups"]
    assert g["group"].startswith("logreg (cond=10") and g["a_seeds"] == [0, 1, 2, 3] == g["b_seeds"]
    rows = {m["metric"]: m for m in g["metrics"]}
    assert set(rows) == {"time_to_target", "updates_to_target", "final_subopt"}
    # recompute the medians from the stored runs: the table reports what the store holds
    store = Store()
    for side, ids in (("a", g["a_runs"]), ("b", g["b_runs"])):
        recs = [store.load(i) for i in ids]
        assert {r.plugin for r in recs} == {doc[side]}
        finals = [r.points[-1]["subopt"] for r in recs]
        assert rows["final_subopt"][side]["median"] == pytest.approx(np.median(finals))
        assert rows["final_subopt"][side]["ci_lo"] <= np.median(finals) <= rows["final_subopt"][side]["ci_hi"]
    # SVRG reaches 1e-4 on this strongly convex problem, constant-step SGD plateaus above it
    assert rows["updates_to_target"]["a"]["median"] == math.inf > rows["updates_to_target"]["b"]["median"]
    assert rows["updates_to_target"]["mark"] == "-" and rows["time_to_target"]["mark"] == "-"
    assert rows["final_subopt"]["mark"] == "-" and rows["final_subopt"]["significant"]
    r = rows["final_subopt"]
    assert r["ratio_b_over_a"] == pytest.approx(r["b"]["median"] / r["a"]["median"])
    assert doc["geomean"]["final_subopt"]["geomean_ratio"] == pytest.approx(r["ratio_b_over_a"])
    png = out / g["plot"].split("/")[-1]
    assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


def test_compare_markdown_and_cache(capsys, tmp_path):
    args = ("compare", "sgd-serial", "svrg-serial", *WL, "--workload", "ridge", "--param", "eta=0.05", "--param",
            "b=4", "--budget", "epochs=5", "--seeds", "2", "--no-plot", "--format", "markdown")
    code, md, _ = harness(capsys, *args)
    assert code == 0
    assert md.startswith("## sgd-serial [eta=0.05, b=4] (A) vs svrg-serial [eta=0.05, b=4] (B)")  # set away from defaults
    assert md.count("### ") == 2 and "| metric |" in md and "**geometric mean of B/A:**" in md
    assert "![" not in md  # --no-plot
    n_runs = Store().count()[0]
    assert n_runs == 2 * 2 * 2
    code, md2, _ = harness(capsys, *args)  # everything is cached now: nothing runs again
    assert code == 0 and Store().count()[0] == n_runs
    assert md2 == md


def test_compare_two_sides_that_never_reach_the_target_say_so(capsys):
    """No seed of A or B reached the target: the to-target rows read 'neither reached the target'
    with no mark and no ratio, not '=' / 'identical' (inf == inf), and the summary says why."""
    args = ("compare", "sgd-serial", "svrg-serial", *WL, "--budget", "epochs=2", "--target", "1e-12",
            "--seeds", "2", "--no-plot")
    code, md, _ = harness(capsys, *args, "--format", "markdown")
    assert code == 0
    assert "| time to target (s) | inf | inf | - | neither reached the target |" in md
    assert "| updates to target | inf | inf | - | neither reached the target |" in md
    assert "identical" not in md.split("**geometric mean")[0] and "| = |" not in md
    assert "time to target (s) - (no finite ratio: 1 group where neither side reached it)" in md
    code, out, _ = harness(capsys, *args, "--json")
    rows = {m["metric"]: m for m in json.loads(out)["groups"][0]["metrics"]}
    for m in ("time_to_target", "updates_to_target"):
        assert rows[m]["mark"] == "" and rows[m]["test"] == "neither reached the target" and not rows[m]["significant"]
    assert rows["final_subopt"]["mark"] in "+-~"  # the curves still differ: that row is judged as usual
    code, table, _ = harness(capsys, *args)
    assert code == 0 and table.count("neither reached the target") >= 2


def test_compare_an_export_against_a_plugin_reruns_the_same_grid(capsys, tmp_path):
    harness(capsys, "run", "--plugin", "svrg-serial", "--workload", "ridge", "--workload-param", "n=200",
        "--workload-param", "d=10", "--param", "eta=0.05", "--seeds", "0,3", "--budget", "epochs=4", "--target",
        "1e-2", "--no-report", "-q")  # reached at every seed (two runs that never reach it compare as 'neither')
    base = tmp_path / "base.json"
    assert harness(capsys, "runs", "export", str(base))[0] == 0
    # no --target: judged at the 1e-2 the exported runs were stopped at (not the default 1e-4 they never reach)
    code, out, _ = harness(capsys, "compare", str(base), "svrg-serial", "--json", "--no-plot", "--force")
    assert code == 0
    doc = json.loads(out)
    (g,) = doc["groups"]
    assert g["a_seeds"] == g["b_seeds"] == [0, 3]
    rows = {m["metric"]: m for m in g["metrics"]}
    # the serial plugin is deterministic: the rerun reproduces the updates and the suboptimality exactly
    assert rows["updates_to_target"]["mark"] == "=" and rows["final_subopt"]["mark"] == "="
    assert rows["final_subopt"]["ratio_b_over_a"] == 1.0
    # the two forced reruns (the file's budget and target) superseded the exported rows: one row per key,
    # under the ids the rows had (a replaced key keeps its row id: readers holding it still find the run)
    assert Store().count()[0] == 2 and sorted(g["b_runs"]) == [1, 2]
    reruns = [r for r in Store().runs() if r.id in g["b_runs"]]
    assert all(r.budget == {"epochs": 4.0} and r.target["value"] == 1e-2 for r in reruns)
    code, out, _ = harness(capsys, "compare", str(base), "svrg-serial", "--json", "--no-plot", "--target", "1e-9")
    (g,) = json.loads(out)["groups"]                          # an asked target wins over the stored one
    assert {m["metric"]: m for m in g["metrics"]}["updates_to_target"]["mark"] != "="


def test_compare_user_mistakes_are_one_line(capsys, tmp_path):
    (tmp_path / "x.json").write_text("{}")
    for args, says in ((("sgd-serail", "svrg-serial", "--workload", "logreg"), "did you mean: sgd-serial"),
                       (("sgd-serial", "svrg-serial"), "--workload"),
                       ((str(tmp_path / "missing.json"), "svrg-serial"), "not found"),
                       ((str(tmp_path / "x.json"), "svrg-serial"), "not a harness JSON export"),
                       (("sgd-serial", "svrg-serial", "-w", "logreg", "--alpha", "2"), "--alpha")):
        code, out, err = harness(capsys, "compare", *args)
        assert code == 2 and says in err and len(err.strip().splitlines()) == 1, (args, err)
    assert Store().count()[0] == 0  # nothing ran


def test_compare_page_is_named_and_renders_its_markup(capsys, tmp_path):
    """The HTML page showed `**geometric mean of B/A:**` and the marks' backticks literally, and the
    terminal output named only the PNG, never the page."""
    out = tmp_path / "cmp"
    code, text, _ = harness(capsys, "compare", "sgd-serial", "svrg-serial", *WL, "--param", "eta=0.05", "--param",
                            "b=4", "--budget", "epochs=3", "--seeds", "2", "--out", str(out))
    assert code == 0
    page = out / "index.html"
    assert f"page: {page}" in " ".join(text.split())
    body = re.sub(r"(?s)<(script|style)\b.*?</\1>", "", page.read_text())  # the page's text, not its code
    assert "<b>geometric mean of B/A:</b>" in body and "<code>+</code> B larger" in body
    assert "**" not in body and "`" not in body
