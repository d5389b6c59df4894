"""The theory CLI as a user types it, the registry's coverage of the shared theorem ids, and the bound
report (`harness report`: HTML, Markdown and PNGs with bound envelopes)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

# the shared id convention (common context): every one of these must be encoded
CONVENTION = (
    ["asysvrg.thm-2.3.1", "asysvrg.thm-2.3.2", "asysvrg.thm-2.4.1", "asysvrg.thm-2.4.2"]
    + [f"dfsdca.thm-3.4.{i}" for i in (1, 2, 3, 4)]
    + ["large_batch.thm-4.2.1", "large_batch.thm-4.3.1", "large_batch.cor-4.3.1", "large_batch.thm-4.3.2",
       "large_batch.cor-4.3.2", "large_batch.cor-4.3.3", "ddg.thm-5.4.1", "ddg.thm-5.4.2",
       "features_replay.thm-6.4.1", "features_replay.thm-6.4.2", "minibatch.lem-1"]
    + [f"minibatch.thm-{i}" for i in (2, 3, 4, 5)] + ["growing_batch.thm-2", "growing_batch.thm-3"])



def test_registry_covers_the_convention_and_cites_papers():
    from harness.theory.registry import all_theorems, get

    ids = [t.id for t in all_theorems()]
    assert sorted(ids) == sorted(CONVENTION)
    for t in all_theorems():
        c = t.citation
        assert c.paper.authors and c.paper.title and c.paper.venue and 2000 < c.paper.year < 2100, t.id
        assert c.section and c.equations and c.theorem, t.id
        assert not re.search(r"\d{3}_[0-9a-f]{16}", c.text() + t.show()), t.id   # no seed file names
        s = t.summary()
        # conditions, or none beyond the symbols' domains (check-theorem fails a condition the domains imply)
        assert s["id"] == t.id and (s["conditions"] or s["domains"]) and s["rate"]
        assert get(t.id) is t
        t.show()  # renders
    from harness.theory.errors import TheoryError

    with pytest.raises(TheoryError, match="did you mean"):
        get("asysvrg.thm-2.4.9")


def test_list_theorems_json(cli):
    out = cli("list", "theorems", "--json", check=True)
    listed = [t["id"] for t in json.loads(out.stdout)["theorems"]]
    assert sorted(listed) == sorted(CONVENTION)
    out = cli("theory", "list", "--json", check=True)
    d = json.loads(out.stdout)
    assert "left_out" in d and len(d["theorems"]) == len(CONVENTION)


def test_theory_show_and_solve_json(cli):
    out = cli("theory", "show", "asysvrg.thm-2.4.1", "--json", "--set", "L=1", "--set", "eta=0.001", "--set", "Delta=0",
              "--set", "b=1", "--set", "m=10", "--set", "F0=1", "--set", "T=100", check=True)
    d = json.loads(out.stdout)
    assert d["citation"]["authors"] == "Zhouyuan Huo" and d["citation"]["theorem"] == "Theorem 2.4.1"
    assert d["citation"]["year"] == 2020 and "Gamma_0" in d["pretty"]
    assert d["evaluation"]["all_hold"] and d["evaluation"]["bound"] > 0

    out = cli("theory", "solve", "dfsdca.thm-3.4.2", "--for", "eta", "--set", "L=1", "--set", "H=100", "--set", "tau=3",
              "--set", "lam=0.1", "--set", "n=49990", "--set", "A0=1", "--set", "B0=1", "--json", check=True)
    d = json.loads(out.stdout)
    assert d["value"] == pytest.approx(1 / (4 * 100 * 9 + 4999 + 2), rel=1e-6)
    assert d["value"] == pytest.approx(d["closed_form_value"], rel=1e-6)


def test_show_evaluates_a_list_for_an_input_that_meets_a_free_constant(cli):
    """`--set m=1,2,3` on a theorem with a free constant (beta): one bound per m, each the bound of that m alone
    at the chosen beta (the candidates of beta and the list did not broadcast: 'operands could not be
    broadcast together', exit 2; breaker30)."""
    sets = ["--set", "L=1", "--set", "b=2", "--set", "Delta=2", "--set", "d=10", "--set", "eta=0.01", "--set", "F0=1",
            "--set", "T=100"]
    d = json.loads(cli("theory", "show", "asysvrg.thm-2.3.1", *sets, "--set", "m=1,2,3", "--json", check=True).stdout)
    ev = d["evaluation"]
    assert ev["all_hold"] and len(ev["bound"]) == 3
    beta = ev["free_chosen"]["beta"]
    for m, bound in zip((1, 2, 3), ev["bound"]):
        one = json.loads(cli("theory", "show", "asysvrg.thm-2.3.1", *sets, "--set", f"m={m}", "--set", f"beta={beta}",
                             "--json", check=True).stdout)["evaluation"]
        assert bound == pytest.approx(one["bound"], rel=1e-12)


def test_solve_says_when_the_answer_is_the_search_limit_not_the_theorems(cli):
    """No condition of Theorem 2.3.1 bounds b at these values: the answer is the search's end, and the text says
    so (it printed 'largest admissible b = 10000000' as if the theorem set it; only --json carried the note)."""
    sets = ("--set", "L=1", "--set", "F0=1", "--set", "m=20", "--set", "d=50", "--set", "Delta=1", "--set", "eta=0.1")
    out = cli("theory", "solve", "asysvrg.thm-2.3.1", "--for", "b", *sets, check=True).stdout
    assert "b admissible up to the search limit 10000000: no condition fails there" in out, out
    assert "largest admissible" not in out
    d = json.loads(cli("theory", "solve", "asysvrg.thm-2.3.1", "--for", "b", *sets, "--json", check=True).stdout)
    assert d["value"] == 10_000_000 and d["note"] == "admissible up to the search limit 1e+07"
    bound = cli("theory", "solve", "asysvrg.thm-2.3.1", "--for", "eta", *sets[:-2], "--set", "b=4", check=True).stdout
    assert "largest admissible eta = " in bound and "(binding: " in bound and "search limit" not in bound


def test_the_rate_cell_names_its_two_slopes_and_what_the_second_is():
    from harness.cli.theory import _rate_cell

    against_bound = {"ok": False, "against": "slower than", "fitted_slope": -0.1597, "reference_slope": -1.0,
                     "bound_slope": -1.0}
    assert _rate_cell(against_bound) == "slower than the bound (slope -0.1597 vs -1)"
    against_rate = {"ok": True, "against": "like", "fitted_slope": -0.98, "reference_slope": -1.0}
    assert _rate_cell(against_rate) == "like the rate (slope -0.98 vs -1)"


def test_theory_cli_user_errors(cli):
    bad = cli("theory", "show", "asysvrg.thm-9")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "unknown theorem" in bad.stderr
    bad = cli("theory", "solve", "asysvrg.thm-2.4.1", "--for", "eta", "--set", "L=1")
    assert bad.returncode == 2 and "give a value for" in bad.stderr and "Traceback" not in bad.stderr
    bad = cli("theory", "check", "999")
    assert bad.returncode == 2 and "no run #999" in bad.stderr


@pytest.mark.slow
def test_run_check_and_report_from_the_command_line(cli, tmp_path):
    run = cli("run", "--plugin", "svrg-serial", "--workload", "ridge", "--param", "eta=theory", "--param", "m=20",
              "--workload-param", "n=200", "--workload-param", "d=10", "--budget", "epochs=20", "--seeds", "2",
              "--no-report", "--json", check=True)
    runs = json.loads(run.stdout)["runs"]
    ids = [str(r["id"]) for r in runs]
    assert len(ids) == 2
    from harness.run.store import Store

    for r in Store().runs(ids=[int(i) for i in ids]):
        assert r.info["theory_choices"]["eta"]["theorem"] == "asysvrg.thm-2.4.1"
    from harness._core.output import fmt

    listed = cli("runs", "list", "--plugin", "svrg-serial", check=True).stdout
    step = Store().runs(ids=[int(ids[0])])[0].params["eta"]
    assert f"{fmt(step)} (theory)" in listed                       # the step the theory chose, said so
    chk = cli("theory", "check", *ids, "--json", check=True)
    verdicts = {d["theorem"]: d for d in json.loads(chk.stdout)["verdicts"]}
    assert verdicts["asysvrg.thm-2.4.1"]["verdict"] == "holds"
    assert verdicts["asysvrg.thm-2.4.2"]["verdict"] == "not-applicable"

    out = tmp_path / "rep"
    cli("report", *ids, "--out", str(out), check=True)
    html = (out / "index.html").read_text()
    md = (out / "index.md").read_text()
    pngs = sorted(p.name for p in out.glob("bound-*.png"))
    assert pngs and all((out / p).stat().st_size > 5000 for p in pngs)
    assert "Theory: bounds, conditions and verdicts" in md and "asysvrg.thm-2.4.1: **holds**" in md
    assert "c_1 <= beta/2" in md and pngs[0] in md and pngs[0] in html
    assert "<b>holds</b>" in html and "not-applicable" in html


def test_the_verdict_legend_names_every_cause_a_report_shows(cli):
    """The legend printed by `theory show` and every report names each cause of 'violated' and of
    'holds (unverified)' the checker applies: the tour's sgd-serial reports its applied values and its
    Theorem 4 verdict is 'holds (unverified)' because the delays were not audited; a legend that only
    says 'did not report the values it applied' misleads the reader of that verdict."""
    text = json.loads(cli("theory", "show", "minibatch.thm-4", "--json", check=True).stdout)["verdict_test"]
    unverified = text.split("**holds (unverified)**")[1].split("**inconclusive**")[0]
    assert "ctx.applied" in unverified and "delays" in unverified and "trajectory audit" in unverified
    violated = text.split("**violated**")[1].split("**holds**")[0]
    assert "iterates" in violated and "staleness" in violated


def test_a_flag_whose_cause_the_reason_already_says_shows_its_head_only():
    from harness.cli.theory import _flag_cell

    cause = "a run on threads: its interleaving is not replayable"
    reason = f"holds at every point. Unverified: the theorem reads the delays the run reports ({cause})"
    flag = f"unaudited: delays self-reported ({cause})"
    assert _flag_cell(flag, reason) == "unaudited: delays self-reported"
    assert _flag_cell(flag, "holds at every point") == flag                 # the reason does not say it: kept whole
    assert _flag_cell("trajectory: seed 0: a step of 0.2", reason) == "trajectory: seed 0: a step of 0.2"


def test_show_explains_its_symbols_prints_squares_as_squares_and_the_legend_on_request(cli):
    """`theory show` names what each symbol of the printed bound means (the text had none: only --json
    did), prints the variance bound sigma2 as a square (sympy made it sigma-sub-2), and prints the
    verdict legend only with --explain (it repeated ~150 words under every theorem)."""
    out = cli("theory", "show", "minibatch.thm-4", check=True).stdout
    symbols = out.split("Symbols:\n")[1].split("\n\n")[0]
    assert re.search(r"^  sigma2 \(σ²\) +per-sample variance bound", symbols, re.M), symbols
    assert re.search(r"^  K +iterations", symbols, re.M) and "M_l" not in symbols   # only the symbols it uses
    bound = out.split("Bound on")[1].split("Rate:")[0]
    assert "σ²" in bound and "σ₂" not in out
    assert "H0 is" not in out and "harness theory show minibatch.thm-4 --explain" in out
    explained = cli("theory", "show", "minibatch.thm-4", "--explain", check=True).stdout
    assert "How a verdict is decided: H0 is 'E[measured] <= bound'" in explained
    ddg_out = cli("theory", "show", "ddg.thm-5.4.2", check=True).stdout
    ddg = ddg_out.split("Symbols:\n")[1].split("\n\n")[0]
    assert re.search(r"^  gamma0 \(γ₀\) ", ddg, re.M) and "M_K" not in ddg   # M_K is under Definitions
    assert "γ_E" in ddg_out and not re.search(r"γ\s*\+\s*polygamma", ddg_out)   # Euler's constant, not a step's gamma


def test_a_step_outside_the_conditions_is_named_with_the_step_the_theorem_allows(cli):
    """A failing condition whose side blew up (c_1 = inf, Gamma_0 = -inf at eta = 0.5) says so in words,
    and the reason names the step the theorem admits at the run's other values; that step, given back
    to the theorem, meets every condition."""
    cli("run", "-p", "svrg-serial", "-w", "logreg", "--workload-param", "n=300", "--workload-param", "d=10",
        "--param", "eta=0.5", "--budget", "updates=200", "--no-report", check=True)
    verdicts = {v["theorem"]: v for v in json.loads(cli("theory", "check", "1", "--json", check=True).stdout)["verdicts"]}
    for tid, v in verdicts.items():
        assert v["verdict"] == "not-applicable", v
        m = re.search(r"so: eta = 0\.5 is too large for this theorem: with the run's other values it admits "
                      rf"eta <= ([0-9.e+-]+)(, and --param eta=theory takes eta = [0-9.e+-]+)? \(harness theory solve "
                      rf"{re.escape(tid)} --for eta\)", v["reason"])
        assert m, v["reason"]
        sets = [f"{k}={x!r}" for k, x in v["values"].items() if k not in ("eta", *v["free_chosen"])]
        shown = json.loads(cli("theory", "show", tid, "--json", *(a for s in sets for a in ("--set", s)),
                               "--set", f"eta={float(m.group(1)) * 0.99!r}", check=True).stdout)["evaluation"]
        assert all(c["holds"] for c in shown["conditions"] if c.get("gating", True)), shown["conditions"]
    blown = verdicts["asysvrg.thm-2.4.1"]["reason"]
    assert "(c_1 is +infinity at these values: it blows up)" in blown and "--param eta=theory takes eta = " in blown


def test_a_citation_says_eq_for_one_equation_and_eqs_for_several(cli):
    """'eqs. (4.65)' named one equation as several."""
    listed = {t["id"]: t["citation_text"] for t in json.loads(cli("theory", "list", "--json", check=True).stdout)["theorems"]}
    assert "Corollary 4.3.3 (Sec. 4.3), eq. (4.65). " in listed["large_batch.cor-4.3.3"]
    assert "eqs. (2.34)-(2.45). " in listed["asysvrg.thm-2.4.1"]
    assert not [t for t, c in listed.items() if re.search(r"eqs\. \([^()]*\)\.", c)]
