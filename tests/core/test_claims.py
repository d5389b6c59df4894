"""A paper's claims as checks (issue 25, items 4 and 7): a suite's [[report.claims]] is judged on the measured
figures as reproduced / not reproduced / not testable at this scale, with the figure and the reason, in the
report, its meta.json and `harness report --json`; every shipped suite declares its claims this way. The
report's price of the guarantee: theory-chosen against tuned runs beside the bound's slack.
"""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path

import pytest

from conftest import run_cli
from harness.run.claims import NOT_REPRODUCED, NOT_TESTABLE, REPRODUCED, judge, validate
from harness._core.errors import UserError
from harness.run.store import RunRecord

SUITES = Path(__file__).resolve().parents[2] / "suites"


def _rec(plugin, workers, seed, times, subopts, params=None, target=1e-3, info=None, acc=None):
    pts = [{"updates": 10.0 * i, "time_s": t, "subopt": s, **({"test_acc": acc} if acc is not None else {})}
           for i, (t, s) in enumerate(zip(times, subopts))]
    return RunRecord(id=None, hash=f"{plugin}{workers}{seed}", plugin=plugin, workload="w", workload_params={},
                     params=params or {}, workers=workers, seed=seed, status="budget",
                     target={"metric": "subopt", "value": target}, points=pts, info=info or {})


def _speedup_runs(t2):
    """a plugin at 1 and 2 workers: 1 worker reaches 1e-3 at 4 s, 2 workers at t2 s."""
    return [_rec("ps", 1, s, [0, 2, 4], [1, 1e-2, 1e-3]) for s in (0, 1)] + \
           [_rec("ps", 2, s, [0, t2 / 2, t2], [1, 1e-2, 1e-3]) for s in (0, 1)]


def test_speedup_claim_reproduced_not_reproduced_and_preconditions():
    claim = validate([{"text": "near-linear speedup", "check": "speedup", "a": {"plugin": "ps"}, "workers": 2,
                       "at_least": 1.6}], "s.toml")[0]
    got = judge(claim, _speedup_runs(2.0))
    assert got["status"] == REPRODUCED and got["figure"] == pytest.approx(2.0) and "speedup 2x at 2 workers" in got["reason"]
    got = judge(claim, _speedup_runs(5.0))
    assert got["status"] == NOT_REPRODUCED and got["figure"] == pytest.approx(0.8) and "< 1.6x" in got["reason"]
    for req, words in [({"cores": 10_000}, "cores free"), ({"min_time_s": 100.0}, "under the 100 s"),
                       ({"seeds": 3}, "fewer than the 3 it needs")]:
        got = judge({**claim, "requires": req}, _speedup_runs(2.0))
        assert got["status"] == NOT_TESTABLE and words in got["reason"], got
    got = judge({**claim, "workers": 3}, _speedup_runs(2.0))
    assert got["status"] == NOT_TESTABLE and "workers [1, 2]" in got["reason"]
    got = judge({**claim, "a": {"plugin": "nope"}}, _speedup_runs(2.0))
    assert got["status"] == NOT_TESTABLE and "no run with points matches a (plugin=nope)" in got["reason"]


def test_comparison_and_threshold_claims():
    fast = [_rec("svrg", 1, s, [0, 1, 2], [1, 1e-2, 1e-4], params={"eta": 0.05}, acc=0.9) for s in (0, 1)]
    slow = [_rec("sgd", 1, s, [0, 1, 2], [1, 1e-1, 1e-2], acc=0.12) for s in (0, 1)]
    theory = [_rec("svrg", 1, 0, [0, 1, 2], [1, 0.5, 0.4], params={"eta": 0.001}, info={"theory_choices": {"eta": 0.001}})]
    recs = fast + slow + theory
    less = {"text": "SVRG reaches the target first", "check": "less", "a": {"plugin": "svrg", "params": {"eta": 0.05}},
            "b": {"plugin": "sgd"}, "metric": "time_to_target"}
    got = judge(validate([less], "s")[0], recs)
    # a reaches the target at 2 s, b never (inf): reproduced, with no finite ratio to show
    assert got["status"] == REPRODUCED and got["figure"] is None and "a = 2 < 1 x b = inf" in got["reason"]
    # neither side reaches a tighter target: not testable, not 'not reproduced'
    tight = [_rec(r.plugin, 1, r.seed, [0, 1, 2], [1, 1e-2, 1e-4] if r.plugin == "svrg" else [1, 0.1, 0.01],
                  params=r.params, target=1e-9) for r in fast + slow]
    assert judge(less, tight)["status"] == NOT_TESTABLE
    worse = {**less, "metric": "final_subopt", "check": "more"}
    assert judge(worse, recs)["status"] == NOT_REPRODUCED
    # eta = "theory" selects the theory-chosen run only; a number never selects it
    got = judge({**less, "a": {"plugin": "svrg", "params": {"eta": "theory"}}, "metric": "final_subopt"}, recs)
    assert got["status"] == NOT_REPRODUCED and got["figure"] == pytest.approx(0.4 / 1e-2)
    assert judge({**less, "a": {"plugin": "svrg", "params": {"eta": 0.001}}}, recs)["status"] == NOT_TESTABLE
    chance = {"text": "training makes progress", "check": "above", "a": {"plugin": "sgd"}, "metric": "final:test_acc",
              "value": 0.1 + 0.05}
    got = judge(validate([chance], "s")[0], recs)
    assert got["status"] == NOT_REPRODUCED and got["figure"] == pytest.approx(0.12) and "= 0.12 (median of 2) < 0.15" in got["reason"]
    assert judge({**chance, "a": {"plugin": "svrg"}}, recs)["status"] == REPRODUCED
    got = judge({**chance, "metric": "final:rounds"}, recs)
    assert got["status"] == NOT_TESTABLE and "record no final:rounds" in got["reason"]


@pytest.mark.parametrize("bad, words", [
    ({"text": "x", "check": "faster"}, "check must be one of"),
    ({"text": "x", "check": "speedup", "a": {"plugin": "p"}}, "needs 'workers'"),
    ({"text": "x", "check": "above", "a": {"plugin": "p"}, "metric": "final:acc", "value": 1, "typo": 1}, "unknown key 'typo'"),
    ({"text": "x", "check": "above", "a": {"plug": "p"}, "metric": "final:acc", "value": 1}, "a selects runs by"),
    ({"text": "x", "check": "above", "a": {"plugin": "p"}, "metric": "acc", "value": 1}, "metric must be"),
    ({"check": "above"}, "text (the claim as the paper makes it) is required"),
])
def test_a_malformed_claim_is_one_line_naming_it(bad, words):
    with pytest.raises(UserError, match="claim #1") as exc:
        validate([bad], "s.toml")
    assert words in str(exc.value)


def test_every_shipped_suite_declares_every_claim_as_a_check():
    """Each suite with a [report] claim declares it as checks; every claim table validates."""
    for path in sorted(SUITES.glob("*.toml")):
        doc = tomllib.loads(path.read_text())
        rep = doc.get("report", {})
        if not rep.get("claim"):
            continue
        claims = validate(rep.get("claims", []), path.name)
        assert claims, f"{path.name}: its claim is not declared as checks ([[report.claims]])"


SUITE = '''name = "mine"
[report]
claim = "SGD ends lower than SVRG at the theory's step; SVRG's speedup"
[[report.claims]]
text = "SGD ends lower than SVRG at the theory's step"
check = "less"
a = { plugin = "sgd-serial" }
b = { plugin = "svrg-serial", params = { eta = "theory" } }
metric = "final_subopt"
[[report.claims]]
text = "SVRG at the theory's step ends lower than SGD"
check = "less"
a = { plugin = "svrg-serial", params = { eta = "theory" } }
b = { plugin = "sgd-serial" }
metric = "final_subopt"
[[report.claims]]
text = "near-linear speedup"
check = "speedup"
a = { plugin = "svrg-serial" }
workers = 2
at_least = 1.8
[defaults]
workload = "ridge"
workload_params = { n = 200, d = 10 }
budget = "epochs=5"
[[run]]
plugin = "sgd-serial"
params = { eta = 0.05 }
[[run]]
plugin = "svrg-serial"
params = { eta = "theory", m = 20 }
[[run]]
plugin = "svrg-serial"
params = { eta = 0.05 }
'''


@pytest.mark.slow
def test_claims_in_the_report_its_meta_json_and_report_json(tmp_path):
    suite = tmp_path / "mine.toml"
    suite.write_text(SUITE)
    run_cli("run", str(suite), "-q", "--report", str(tmp_path / "rep"), check=True)
    md = (tmp_path / "rep" / "index.md").read_text()
    assert "## The paper's claims, checked" in md
    assert "| SGD ends lower than SVRG at the theory's step | less |" in md and "**reproduced**" in md
    assert "**not reproduced**" in md and "**not testable at this scale**" in md
    assert "eta=theory (" in md and "eta=0.05" in md          # the run table tells the two steps apart
    # the price of the guarantee: the theory-chosen SVRG against the tuned one, beside the bound's slack
    price = md.split("## The price of the guarantee")[1].split("\n## ")[0]
    row = next(x for x in price.splitlines() if x.startswith("| ridge"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert float(cells[6]) > 1 and cells[7].startswith("asysvrg.thm-2.4.1: ") and "(holds)" in cells[7]
    meta = json.loads((tmp_path / "rep" / "meta.json").read_text())
    assert [c["status"] for c in meta["claims"]] == [REPRODUCED, NOT_REPRODUCED, NOT_TESTABLE]
    assert meta["claims"][0]["figure"] < 1 and "final_subopt: a = " in meta["claims"][0]["reason"]
    out = json.loads(run_cli("report", "--suite", "mine", "--json", "--out", str(tmp_path / "again"), cwd=tmp_path,
                             check=True).stdout)
    assert [c["status"] for c in out["claims"]] == [REPRODUCED, NOT_REPRODUCED, NOT_TESTABLE]
    bad = tmp_path / "bad.toml"
    bad.write_text(SUITE.replace('check = "speedup"', 'check = "faster"'))
    proc = run_cli("run", str(bad), "-q")
    assert proc.returncode == 2 and "claim #3: check must be one of" in proc.stderr and proc.stderr.count("\n") == 1


@pytest.mark.slow
def test_run_json_carries_the_claims_as_report_json_does(tmp_path):
    """``run --json`` prints ``{"report", "runs", "claims"}``: the claims the report wrote to its meta.json
    (the schema of ``report --json``), judged here too under --no-report, and [] for a run without a suite."""
    suite = tmp_path / "mine.toml"
    suite.write_text(SUITE)
    out = json.loads(run_cli("run", str(suite), "--json", "--report", str(tmp_path / "rep"), cwd=tmp_path,
                             check=True).stdout)
    assert set(out) == {"report", "runs", "claims"} and out["report"] == str(tmp_path / "rep" / "index.html")
    assert [r["plugin"] for r in out["runs"]] == ["sgd-serial", "svrg-serial", "svrg-serial"]
    meta = json.loads((tmp_path / "rep" / "meta.json").read_text())
    assert out["claims"] == meta["claims"]
    assert [c["status"] for c in out["claims"]] == [REPRODUCED, NOT_REPRODUCED, NOT_TESTABLE]
    report = json.loads(run_cli("report", "--suite", "mine", "--json", "--out", str(tmp_path / "again"), cwd=tmp_path,
                                check=True).stdout)
    assert [{k: c[k] for k in ("text", "status", "figure")} for c in report["claims"]] == \
        [{k: c[k] for k in ("text", "status", "figure")} for c in out["claims"]]
    cached = json.loads(run_cli("run", str(suite), "--json", "--no-report", cwd=tmp_path, check=True).stdout)
    assert cached["report"] is None and all(r["cached"] for r in cached["runs"])
    assert [(c["status"], c["figure"]) for c in cached["claims"]] == [(c["status"], c["figure"]) for c in out["claims"]]
    flags = json.loads(run_cli("run", "-p", "sgd-serial", "-w", "ridge", "--workload-param", "n=200", "--workload-param",
                               "d=10", "--param", "eta=0.05", "--budget", "epochs=5", "--no-report", "--json",
                               cwd=tmp_path, check=True).stdout)
    assert flags["claims"] == [] and flags["runs"][0]["cached"]


def test_rounds_to_the_level_b_ends_at_read_from_the_plugins_extra():
    """Growing-batch plugins record the rounds completed in each point's extra: the report's x axis
    (RunRecord.column) and the claim 'reaches the accuracy of constant sizes in fewer rounds' read it."""
    def run(plugin, subopts, rounds):
        r = _rec(plugin, 3, 0, list(range(len(subopts))), subopts, params={"sizes": plugin})
        for p, k in zip(r.points, rounds):
            p["extra"] = {"rounds": k, "note": "text"}
        return r

    grow = run("power", [1, 1e-2, 1e-3, 1e-4], [0, 3, 6, 9])
    const = run("constant", [1, 1e-1, 1e-2, 2e-3], [0, 10, 20, 30])
    assert list(grow.column("rounds")) == [0, 3, 6, 9] and all(map(lambda v: v != v, grow.column("note")))
    claim = validate([{"text": "fewer rounds", "check": "less", "a": {"plugin": "power"}, "b": {"plugin": "constant"},
                       "metric": "to_level:rounds"}], "s")[0]
    got = judge(claim, [grow, const])
    assert got["status"] == REPRODUCED and got["figure"] == pytest.approx(6 / 30)   # 2e-3 reached at round 6 vs 30
    assert "the level b ends at: suboptimality 0.002" in got["reason"]
    with pytest.raises(UserError, match="needs a check less or more"):
        validate([{**claim, "check": "above", "value": 1}], "s")


def _grid(plugin, finals, seeds=(0, 1), param="eta", acc=None, target=1e-3, **params):
    """Runs of ``plugin`` at each value of ``param`` in ``finals`` (value -> the final suboptimality of each seed)."""
    out = []
    for v, ends in finals.items():
        for seed, end in zip(seeds, ends):
            out.append(_rec(plugin, 1, seed, [0, 1, 2], [1.0, max(end, 1e-12) * 10, end], params={param: v, **params},
                            target=target, acc=None if acc is None else acc[v]))
    return out


def test_a_tuned_side_is_judged_at_its_best_value_of_the_grid_it_ran():
    """The paper's protocol ("each method trains with the best tuned learning rate", Huo & Huang 2017): a side
    with tuned = "eta" is judged on the runs of the eta whose median figure is best; the reason names it and
    the grid, the verdict's 'tuned' holds it."""
    svrg = _grid("svrg", {0.05: [5e-5, 6e-5], 0.2: [3e-10, 2e-10], 0.5: [2e-8, 1e-8]})
    theory = [_rec("svrg", 1, 0, [0, 1, 2], [1, 0.1, 1e-12], params={"eta": 0.001}, info={"theory_choices": {"eta": 0.001}})]
    claim = validate([{"text": "SVRG converges linearly", "check": "below", "metric": "final_subopt", "value": 1e-9,
                       "a": {"plugin": "svrg", "tuned": "eta"}}], "s")[0]
    assert claim["a"]["tuned"] == {"param": ["eta"], "by": ["final_subopt"]}
    got = judge(claim, svrg + theory)          # the theory-chosen run is no grid value, though it ends lowest
    assert got["status"] == REPRODUCED and got["figure"] == pytest.approx(2.5e-10)
    assert got["reason"].startswith("a: best tuned eta = 0.2 of {0.05, 0.2, 0.5} by final_subopt (median 2.5e-10); "
                                    "final_subopt = 2.5e-10 (median of 2)"), got["reason"]
    assert got["tuned"]["a"]["value"] == 0.2 and got["tuned"]["a"]["grid"] == [0.05, 0.2, 0.5]
    # untuned, the same claim at one shared step says something else
    assert judge({**claim, "a": {"plugin": "svrg", "params": {"eta": 0.05}}}, svrg)["status"] == NOT_REPRODUCED
    # both sides tuned, each on its own grid, by a named metric with a tie-break: sgd's two steps tie on the
    # target (never reached: inf) and the final suboptimality decides
    sgd = _grid("sgd", {0.05: [1e-3, 2e-3], 0.1: [4e-4, 5e-4]}, target=1e-9)
    less = validate([{"text": "SVRG ends below SGD", "check": "less", "metric": "final_subopt",
                      "a": {"plugin": "svrg", "tuned": "eta"},
                      "b": {"plugin": "sgd", "tuned": {"param": "eta", "by": ["time_to_target", "final_subopt"]}}}], "s")[0]
    got = judge(less, svrg + sgd)
    assert got["status"] == REPRODUCED and "b: best tuned eta = 0.1 of {0.05, 0.1} by time_to_target, then final_subopt " \
        "(median inf)" in got["reason"], got["reason"]
    assert got["tuned"]["b"]["figure"] == {"0.05": math.inf, "0.1": math.inf}


def test_tuning_ties_missing_figures_higher_is_better_and_joint_grids():
    # a tie goes to the smallest value
    tie = _grid("p", {0.5: [1e-3, 1e-3], 0.1: [1e-3, 1e-3]})
    got = judge(validate([{"text": "t", "check": "below", "metric": "final_subopt", "value": 1,
                           "a": {"plugin": "p", "tuned": "eta"}}], "s")[0], tie)
    assert got["tuned"]["a"]["value"] == 0.1 and "best tuned eta = 0.1 of {0.1, 0.5}" in got["reason"]
    # accuracy is better high: the best tuned step has the highest test accuracy, not the lowest
    acc = _grid("p", {0.1: [0.5, 0.5], 0.2: [0.5, 0.5], 0.4: [0.5, 0.5]}, acc={0.1: 0.7, 0.2: 0.9, 0.4: 0.8})
    above = validate([{"text": "accurate", "check": "above", "metric": "final:test_acc", "value": 0.85,
                       "a": {"plugin": "p", "tuned": "eta"}}], "s")[0]
    got = judge(above, acc)
    assert got["status"] == REPRODUCED and got["tuned"]["a"]["value"] == 0.2 and got["figure"] == pytest.approx(0.9)
    # a value whose runs lack the figure is not ranked (here: 0.2 records no test accuracy), and is still shown
    partial = [r for r in acc if r.params["eta"] != 0.2] + _grid("p", {0.2: [0.5, 0.5]})
    got = judge(above, partial)
    assert got["tuned"]["a"]["value"] == 0.4 and "of {0.1, 0.2, 0.4}" in got["reason"]
    assert got["tuned"]["a"]["figure"]["0.2"] is None
    # no value records it: not testable, saying why
    got = judge({**above, "metric": "final:rounds", "a": {"plugin": "p", "tuned": {"param": ["eta"], "by": ["final:rounds"]}}},
                acc)
    assert got["status"] == NOT_TESTABLE and got["reason"] == "a: no value of eta in {0.1, 0.2, 0.4} records final:rounds: " \
        "nothing to tune by"
    # no run has the parameter of its own (theory-chosen or absent)
    got = judge({**above, "a": {"plugin": "p", "tuned": {"param": ["beta"], "by": ["final_subopt"]}}}, acc)
    assert got["status"] == NOT_TESTABLE and "no run has a value of its own for beta" in got["reason"]
    # a joint grid: (eta, beta) pairs
    joint = [r for eta in (0.1, 0.2) for beta, end in ((0.5, 1e-3 * eta), (1.0, 1e-4 / eta))
             for r in _grid("p", {eta: [end, end]}, beta=beta)]
    got = judge(validate([{"text": "t", "check": "below", "metric": "final_subopt", "value": 1,
                           "a": {"plugin": "p", "tuned": ["eta", "beta"]}}], "s")[0], joint)
    assert got["tuned"]["a"]["value"] == [0.1, 0.5] and "best tuned (eta, beta) = (0.1, 0.5) of {(0.1, 0.5), (0.1, 1), " \
        "(0.2, 0.5), (0.2, 1)}" in got["reason"], got["reason"]


@pytest.mark.parametrize("tuned, words", [
    (3, "the tuned parameter must be a name or a list of distinct names"),
    ([], "the tuned parameter must be a name"),
    ({"by": "final_subopt"}, "takes param (a parameter or a list of them) and by"),
    ({"param": "eta", "why": 1}, "takes param"),
    ({"param": "eta", "by": "speed"}, "metric must be one of"),
    ({"param": "eta", "by": "to_level:rounds"}, "by cannot be to_level:rounds"),
    ({"param": "b"}, "'b' is both tuned and fixed in params"),
])
def test_a_malformed_tuning_is_one_line_naming_the_claim(tuned, words):
    claim = {"text": "x", "check": "below", "a": {"plugin": "p", "params": {"b": 1}, "tuned": tuned},
             "metric": "final_subopt", "value": 1}
    with pytest.raises(UserError, match=r"s.toml: claim #1: a.tuned") as exc:
        validate([claim], "s.toml")
    assert words in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(UserError, match="takes no tuning"):
        validate([{"text": "x", "check": "speedup", "a": {"plugin": "p", "tuned": "eta"}, "workers": 2, "at_least": 1}], "s")
    with pytest.raises(UserError, match="name the metric to tune by"):
        validate([{"text": "x", "check": "less", "a": {"plugin": "p"}, "b": {"plugin": "q", "tuned": "eta"},
                   "metric": "to_level:rounds"}], "s")


TUNED_SUITE = '''name = "tuned"
[report]
claim = "SGD at its best tuned step ends below 1e-2"
[[report.claims]]
text = "SGD at its best tuned step ends below 1e-2"
check = "below"
a = { plugin = "sgd-serial", tuned = "eta" }
metric = "final_subopt"
value = 1e-2
[defaults]
workload = "ridge"
workload_params = { n = 200, d = 5 }
budget = "epochs=3"
[[run]]
plugin = "sgd-serial"
params = { eta = [0.0001, 0.05] }
'''


@pytest.mark.slow
def test_a_suite_claim_tuned_over_a_two_value_grid(tmp_path):
    """As a user types it: a suite runs eta over {1e-4, 0.05}; its claim is judged at the best of them, and the
    JSON (and the report's table) say which, of which grid."""
    suite = tmp_path / "tuned.toml"
    suite.write_text(TUNED_SUITE)
    out = json.loads(run_cli("run", str(suite), "--json", "--report", str(tmp_path / "rep"), cwd=tmp_path,
                             check=True).stdout)
    (claim,) = out["claims"]
    assert claim["tuned"]["a"]["value"] == 0.05 and claim["tuned"]["a"]["grid"] == [0.0001, 0.05]
    assert claim["reason"].startswith("a: best tuned eta = 0.05 of {0.0001, 0.05} by final_subopt (median "), claim
    assert claim["status"] == REPRODUCED, claim
    assert "a: best tuned eta = 0.05 of {0.0001, 0.05}" in (tmp_path / "rep" / "index.md").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(TUNED_SUITE.replace('tuned = "eta"', 'tuned = { param = "eta", by = "speed" }'))
    proc = run_cli("run", str(bad), "-q")
    assert proc.returncode == 2 and "claim #1: a.tuned: metric must be one of" in proc.stderr and proc.stderr.count("\n") == 1


def test_a_comparison_inside_the_runs_spread_says_it_is_weak_evidence():
    """Medians 1.01x apart with the seeds spread wider (minibatch's MPI claim) keep their status, but the
    reason says the order is within the runs' spread, with both ranges; sides that separate run by run
    say nothing more."""
    claim = validate([{"text": "N = 8 ends above N = 1", "check": "more", "a": {"plugin": "p8"}, "b": {"plugin": "p1"},
                       "metric": "final_subopt"}], "s.toml")[0]
    close = ([_rec("p8", 1, s, [0, 1], [1, v]) for s, v in enumerate((0.9e-3, 1.01e-3, 1.2e-3))]
             + [_rec("p1", 1, s, [0, 1], [1, v]) for s, v in enumerate((0.8e-3, 1.0e-3, 1.1e-3))])
    got = judge(claim, close)
    assert got["status"] == REPRODUCED and "within the runs' spread: a 0.0009-0.0012, 1 x b 0.0008-0.0011" in got["reason"]
    apart = ([_rec("p8", 1, s, [0, 1], [1, v]) for s, v in enumerate((2e-3, 3e-3))]
             + [_rec("p1", 1, s, [0, 1], [1, v]) for s, v in enumerate((1e-3, 1.1e-3))])
    got = judge(claim, apart)
    assert got["status"] == REPRODUCED and "spread" not in got["reason"]
