"""The CLI as a user types it: every mistake is one line and exit code 2; runs are stored."""

import json
import re
import sys

import pytest

from conftest import needs_torch, run_cli


def _one_line_error(proc, needle):
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("harness: error:") and needle in lines[0], lines[0]
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("args, needle", [
    (["run", "--plugin", "sgd-serail", "--workload", "logreg"], "did you mean: sgd-serial"),
    (["run", "--plugin", "sgd-serial", "--workload", "logreg2"], "unknown workload 'logreg2'"),
    (["run", "--plugin", "sgd-serial", "--workload", "logreg", "--param", "etaa=1"],
     "unknown parameter 'etaa' of plugin sgd-serial (did you mean: eta, beta?; see: harness list plugins sgd-serial)"),
    (["run", "--plugin", "sgd-serial", "--workload", "logreg", "--workload-param", "nn=1"],
     "unknown parameter 'nn' of workload logreg (did you mean: n?; see: harness list workloads logreg)"),
    (["run", "--plugin", "nosuch", "--workload", "logreg"], "unknown plugin 'nosuch' (see: harness list plugins)"),
    (["list", "plugins", "sgd-serial", "nosuch"], "unknown plugin 'nosuch' (see: harness list plugins)"),
    (["list", "workloads", "logreg2"], "unknown workload 'logreg2' (did you mean: logreg?; see: harness list workloads)"),
    (["list", "theorems", "nosuch"], "unknown theorem 'nosuch' (see: harness list theorems)"),
    (["report", "--out", "/proc/nope"], "/proc is not writable (it accepts no new files)"),  # not "No such file"
    (["check-theorem", "nosuch.thm"], "unknown theorem 'nosuch.thm' (see: harness list theorems)"),
    (["check-theorem", "asysvrg.thm-2.4"], "unknown theorem 'asysvrg.thm-2.4' (did you mean: asysvrg.thm-2.4.1, "),
    (["run", "--plugin", "sgd-serial", "--workload", "logreg", "--param", "eta=-1"], "expected float in (0.0, inf)"),
    (["run", "--plugin", "sgd-serial", "--workload", "logreg", "--param", "b=0"], "expected int in [1, inf)"),
    (["run", "--plugin", "sgd-serial", "--workload", "logreg", "--workload-param", "density=3"], "density"),
    (["run", "--plugin", "sgd-serial", "--workload", "logreg", "--budget", "hours=1"], "bad budget key"),
    (["run", "--plugin", "sgd-serial", "--workload", "logreg", "--seeds", "x"], "bad seeds"),
    (["run", "--plugin", "sgd-serial", "--workload", "logreg", "--param", "eta"], "key=value"),
    (["run", "nonexistent.toml"], "suite file not found"),
    (["run", "asysvgr"], "suite file not found: asysvgr (did you mean: asysvrg, asysvrg_paper?; see: harness list suites)"),
    (["run", "-w", "logreg"], "--workload needs --plugin"),                      # not "a suite file ..., not both"
    (["run", "-w", "logreg", "--param", "eta=1"], "--workload needs --plugin"),  # not "--param applies to ..."
    (["run", "tour", "-w", "logreg"], "give either a suite file or --plugin/--workload, not both"),
    (["runs", "show", "42"], "no run #42"),
    (["report", "suites/asysvrg.toml"], "(a suite's runs: --suite asysvrg)"),
    (["theory", "check", "x7"], "run ids are integers"),
    (["frobnicate"], "invalid choice"),
    (["list", "gadgets"], "invalid choice"),
])
def test_user_mistakes_are_one_line_exit_2(args, needle):
    _one_line_error(run_cli(*args, timeout=120), needle)


def test_malformed_suite_names_the_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[[run]]\nplugin = "sgd-serial"\nworkload = logreg\n')
    _one_line_error(run_cli("run", str(bad)), "line 4")
    meaning = tmp_path / "meaning.toml"
    meaning.write_text('[[run]]\nplugin = "sgd-serial"\nworkload = "logreg"\nparms = {eta = 1}\n')
    _one_line_error(run_cli("run", str(meaning)), "[[run]] #1: unknown key 'parms'")
    resolved = tmp_path / "resolved.toml"  # found when the run is resolved, not while reading: named the same
    resolved.write_text('[[run]]\nplugin = "sgd-serial"\nworkload = "ridge"\n[[run]]\nplugin = "sgd-seral"\n'
                        'workload = "logreg"\n')
    _one_line_error(run_cli("run", str(resolved)), "resolved.toml: [[run]] #2: unknown plugin 'sgd-seral'")


def test_a_workload_whose_library_is_missing_is_skipped_naming_the_extra(tmp_path):
    """A base install (no torch) meeting a network workload skips that run with the extra to install,
    and runs the rest; a plugin that cannot take the workload is still the user's error."""
    import subprocess

    def run(*argv):
        code = ("import sys; sys.modules['torch'] = None; from harness.cli import main; "
                f"sys.exit(main({list(argv)!r}))")
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)

    proc = run("run", "--plugin", "mnag-serial", "--workload", "mlp", "--no-report", "--json")
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)["runs"]
    assert row["status"] == "skipped" and "pip install 'asyncopt-harness[torch]'" in row["reason"], row
    _one_line_error(run("run", "--plugin", "sgd-serial", "--workload", "mlp"), "pip install 'asyncopt-harness[torch]'")


@pytest.mark.slow
def test_run_store_list_show_export(tmp_path):
    args = ["run", "--plugin", "svrg-serial", "--workload", "ridge", "--workload-param", "n=300",
            "--workload-param", "d=10", "--param", "eta=0.02", "--budget", "epochs=5", "--seeds", "2",
            "--report", str(tmp_path / "rep")]
    first = run_cli(*args, check=True)
    assert "svrg-serial" in first.stdout and (tmp_path / "rep" / "index.html").exists()
    assert list((tmp_path / "rep").glob("*.png")) and (tmp_path / "rep" / "index.md").exists()
    again = run_cli(*args, "--json", check=True)
    runs = json.loads(again.stdout)["runs"]
    assert [r["cached"] for r in runs] == [True, True]  # same spec: cache hits
    forced = json.loads(run_cli(*args, "--json", "--force", check=True).stdout)["runs"]
    assert [r["cached"] for r in forced] == [False, False]
    listed = json.loads(run_cli("runs", "--json", check=True).stdout)
    # --force superseded the two runs: one row per run key, the new measurements
    assert [r["id"] for r in listed] == [r["id"] for r in forced] == [1, 2]   # a replaced key keeps its row id
    assert all(r["status"] == "budget" and r["n_points"] >= 5 for r in listed)
    shown = json.loads(run_cli("runs", "show", str(listed[0]["id"]), "--json", check=True).stdout)
    assert shown["env"]["python"] and shown["constants"]["L"] > 0
    text = run_cli("runs", "show", str(listed[0]["id"]), check=True).stdout
    for part in ("data", "code", "seed", "harness", "budget", "target"):  # the run key's parts
        assert f"  {part} " in text, text
    audit = shown["info"]["audit"]   # what the trajectory audit found is said, not only in --json
    assert audit["status"] == "audited" and f"trajectory audit ({audit['model']} updates): {audit['explained']} of" in text
    out = tmp_path / "runs.csv"
    run_cli("runs", "export", str(out), check=True)
    assert len(out.read_text().splitlines()) > 10
    rep = run_cli("report", "--out", str(tmp_path / "rep2"), check=True)
    assert "report:" in rep.stdout


def test_default_suite_runs_and_reports(tmp_path):
    proc = run_cli("run", "--report", str(tmp_path / "r"), "-q", timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "report:" in proc.stdout
    assert (tmp_path / "r" / "index.html").exists()


@needs_torch   # the large-batch paper suite resolves resnet workloads
def test_scale_paper_selects_the_paper_sized_suites(cli):
    """``--scale paper`` swaps a suite for its *_paper.toml (every name and value resolved; sizes
    bigger than the small suite's); a suite without one is a user error."""
    from harness.cli.run import paper_scale
    from harness.run.runner import resolve
    from harness.run.suite import load_suite

    for name in ("asysvrg", "large_batch"):
        small = load_suite(name)[1]
        path = paper_scale(name)
        assert path.name == f"{name}_paper.toml"
        big = load_suite(path)[1]
        for spec in big:
            resolve(spec)
        n = lambda specs: max(s.workload_params.get("n", s.workload_params.get("n_train", 0)) for s in specs)  # noqa: E731
        assert n(big) > n(small) or max(s.workers for s in big) > max(s.workers for s in small)
    proc = cli("run", "gate", "--scale", "paper", timeout=60)
    assert proc.returncode == 2 and "harness: error: suite gate has no paper-scale version" in proc.stderr
    proc = cli("run", "--plugin", "sgd-serial", "--workload", "logreg", "--scale", "paper", timeout=60)
    assert proc.returncode == 2 and "--scale" in proc.stderr


def test_an_unknown_name_suggests_only_close_names():
    """`check-plugin nosuch` suggested dni-torch and mnag-torch (difflib at cutoff 0.5): an unknown
    name now suggests names that contain it or are close to it, or none."""
    from harness._core.errors import close_matches

    proc = run_cli("check-plugin", "nosuch", timeout=60)
    _one_line_error(proc, "unknown plugin 'nosuch'")
    assert "did you mean" not in proc.stderr
    _one_line_error(run_cli("check-plugin", "asysvrg-thread", timeout=60), "(did you mean: asysvrg-threads,")
    proc = run_cli("theory", "show", "nosuch", timeout=60)
    _one_line_error(proc, "unknown theorem 'nosuch'")
    assert "did you mean" not in proc.stderr
    _one_line_error(run_cli("theory", "show", "asysvrg.thm-2.4", timeout=60), "(did you mean: asysvrg.thm-2.4.1,")
    names = ["sgd-serial", "svrg-serial", "asysvrg-sim", "asysvrg-threads", "dni-torch", "mnag-torch"]
    assert close_matches("nosuch", names) == []
    assert close_matches("svrg", names) == ["svrg-serial", "asysvrg-sim", "asysvrg-threads"]
    assert close_matches("sgd-serail", names)[0] == "sgd-serial" and "dni-torch" not in close_matches("sgd-serail", names)
    assert close_matches("SGD-Serial ", names) == ["sgd-serial"]
    assert close_matches("sg", names) == []  # too short to be read as part of a name


def test_list_a_plugin_shows_its_parameters():
    """`harness list plugins NAME...`: what a plugin takes, readable (not only `--json`): its
    description, backend, workers, linked theorems and a table of parameters with default, domain,
    whether it accepts 'theory' and the doc; `list workloads NAME` the same for a workload."""
    from harness._core.registry import plugins, workloads

    proc = run_cli("list", "plugins", "sgd-serial", "asysvrg-mpi", timeout=60, check=True)
    out = proc.stdout
    assert out.startswith("sgd-serial: mini-batch SGD") and "\nasysvrg-mpi: " in out
    first = out.split("\nasysvrg-mpi: ")[0]
    for line in ("backend: serial", "workers: 1", "minibatch.thm-4", "sgd-serial: parameters"):
        assert line in first, line
    spec = plugins().get("sgd-serial")
    for p in spec.params:  # one row per parameter, with its default, domain and doc, from the spec itself
        row = next(r for r in first.splitlines() if r.startswith(f"│ {p.name} "))
        cells = [c.strip() for c in row.strip("│").split("│")]
        assert cells[0] == p.name and cells[2] == p.domain() and cells[3] == ("yes" if p.theory else "-"), cells
        assert cells[4] == p.doc
    assert any(r.startswith("│ eta ") and "│ yes " in r for r in first.splitlines())  # eta=theory is offered
    assert "sgd-serial: parameters (--param K=V; 'theory': eta=theory asks the linked theorem)" in first
    # a plugin none of whose parameters takes 'theory' (mnag's is lr) offers no eta=theory and no theory column
    mnag = run_cli("list", "plugins", "mnag-serial", timeout=60, check=True).stdout
    assert "mnag-serial: parameters (--param K=V)\n" in mnag and "=theory" not in mnag
    assert "theory" not in next(r for r in mnag.splitlines() if r.startswith("┃ name "))
    mpi = plugins().get("asysvrg-mpi")
    rest = out.split("\nasysvrg-mpi: ")[1]
    assert f"workers: {mpi.min_workers}" in rest and "backend: mpi" in rest
    doc = json.loads(run_cli("list", "plugins", "sgd-serial", "--json", check=True).stdout)
    (only,) = doc["plugins"]
    assert only["name"] == "sgd-serial" and only["params"]["eta"]["theory"] is True and only["max_workers"] == 1
    out = run_cli("list", "workloads", "logreg", check=True).stdout
    header = next(r for r in out.splitlines() if r.startswith("┃ name "))
    assert out.startswith("logreg (finite-sum): ") and "theory" not in header and "domain" in header
    assert all(f"│ {p.name} " in out for p in workloads().get("logreg").params)


@pytest.mark.slow
def test_report_index_links_every_report_folder(tmp_path):
    """`harness report` alone writes reports/all/ beside the store; the index page then links it as
    well as the run's latest/ and a suite's folder; paper and claim appear only where a suite's
    [report] gave them (no 'Paper: -')."""
    run_cli("run", "--plugin", "svrg-serial", "--workload", "ridge", "--workload-param", "n=200",
            "--workload-param", "d=10", "--budget", "epochs=2", "-q", check=True)
    suite = tmp_path / "mine.toml"
    suite.write_text('name = "mine"\n[report]\npaper = "000"\nclaim = "SVRG converges"\n'
                     '[[run]]\nplugin = "sgd-serial"\nworkload = "ridge"\nworkload_params = { n = 200, d = 10 }\n'
                     'budget = "epochs=2"\n')
    run_cli("run", str(suite), "-q", check=True)
    (tmp_path / "reports" / "mine" / "meta.json").unlink()  # a report written before meta.json existed
    rep = run_cli("report", check=True)
    root = tmp_path / "reports"
    assert f"report: {root / 'all' / 'index.html'}" in rep.stdout
    page = (root / "index.html").read_text()
    for name in ("all", "latest", "mine"):
        assert f"<a href='{name}/index.html'>" in page, name
    md = (root / "index.md").read_text()
    assert "](all/index.md)" in md and "](latest/index.md)" in md
    assert "Paper:</b> -" not in page and "Claim:</b> -" not in page and "**Paper:** -" not in md
    run_cli("run", str(suite), "-q", "--force", check=True)  # its meta.json back: paper and claim shown
    page = (root / "index.html").read_text()
    assert "<b>Paper:</b> 000" in page and "<b>Claim:</b> SVRG converges" in page
    assert page.count("<b>Paper:</b>") == 1  # only the suite that names one


def test_tau_max_is_the_largest_delay_in_run_table_and_report(tmp_path):
    """'tau max' means the largest delay measured: per run (run's table, the report's run table) the
    largest over the run's points, and in the report's summary of a configuration the largest over
    its seeds (what a maximum-delay condition reads), not the median of the seeds' maxima."""
    from harness.run.store import Store

    proc = run_cli("run", "-p", "asysgd-sim", "-w", "ridge", "--workload-param", "n=200", "--workload-param", "d=10",
                   "--param", "delay=geometric", "--param", "tau=3", "--seeds", "3", "--budget", "epochs=2", "-q",
                   check=True)
    per_run = {r.id: max(p["tau_max"] for p in r.points if p.get("tau_max") is not None) for r in Store().runs(with_points=True)}
    assert len(set(per_run.values())) > 1  # the seeds' maxima differ: median and max tell apart
    header = next(r for r in proc.stdout.splitlines() if r.startswith("┃ id "))
    col = [c.strip() for c in header.strip("┃").split("┃")].index("tau max")
    for row in proc.stdout.splitlines():
        if row.startswith("│ ") and row.split("│")[1].strip().isdigit():
            cells = [c.strip() for c in row.strip("│").split("│")]
            assert float(cells[col]) == per_run[int(cells[0])], row
    md = (tmp_path / "reports" / "latest" / "index.md").read_text()
    summary = md.split("## What was measured")[1]
    head, _, row = summary.strip().splitlines()[2:5]
    assert head.rstrip(" |").endswith("tau max (all seeds)") and "largest delay any seed measured" in summary
    assert float(row.rstrip(" |").rsplit("|", 1)[1]) == max(per_run.values()) > sorted(per_run.values())[1]


def test_points_and_schedule_from_the_command_line(cli):
    """``--points N`` thins (or thickens) a curve to about N points, planned from the budget; the
    schedule is part of the run's identity (another schedule is another run, not the cached one);
    ``--schedule`` takes the suite's [schedule] keys; a bad value is one line and exit 2."""
    base = ("run", "-p", "svrg-serial", "-w", "ridge", "--workload-param", "n=400", "--workload-param", "d=10",
            "--budget", "epochs=20", "--no-report", "--json", "-q")
    counts = {}
    for extra in ((), ("--points", "6"), ("--points", "30"), ("--schedule", "ratio=3")):
        out = cli(*base, *extra, check=True)
        (run,) = json.loads(out.stdout)["runs"]
        assert not run["cached"] and run["final"]["epochs"] == 20.0
        counts[extra] = run["points"]
    # about N: the first points are whole updates apart (1, 2, 3, ...), so a dense grid ends early
    assert counts[("--points", "6")] == 6 and 0.75 * 30 <= counts[("--points", "30")] <= 31
    assert counts[("--schedule", "ratio=3")] < counts[()]
    bad = cli(*base, "--schedule", "ratio=0.5")
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "ratio" in bad.stderr


def test_run_prints_what_its_report_concludes_under_its_path(tmp_path):
    """Under `report: PATH` one line counts the report's claims by status and the theorems' verdicts
    by kind, so the terminal says whether the report needs reading (it printed only the path)."""
    suite = tmp_path / "s.toml"
    suite.write_text("""name = "s"
[report]
claim = "b = 4 ends below b = 1 after the same samples"
[[report.claims]]
text = "b = 4 ends below b = 1"
check = "less"
a = { plugin = "sgd-serial", params = { eta = 0.05, b = 4 } }
b = { plugin = "sgd-serial", params = { eta = 0.05, b = 1 } }
metric = "final_subopt"
[defaults]
seeds = 2
budget = "epochs=2"
[[run]]
plugin = "sgd-serial"
workload = "ridge"
workload_params = { n = 200, d = 5 }
params = { eta = 0.05, b = [1, 4] }
""")
    proc = run_cli("run", str(suite), "--store", str(tmp_path / "h.db"), check=True)
    lines = proc.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("report: "))
    line = lines[at + 1]
    assert re.fullmatch(r"claims: 1 (not reproduced|reproduced|not testable at this scale); theorem verdicts \(one per "
                        r"run and linked theorem\): \d+ [a-z() -]+(, \d+ [a-z() -]+)*", line), line
    assert sum(map(int, re.findall(r"(\d+) (?:holds|inconclusive|violated|not-applicable)", line.split(":", 2)[2]))) == 4 * 2


def test_runs_show_names_the_theorem_that_chose_a_theory_parameter():
    """eta=theory with several linked theorems takes one theorem's choice: runs show says which, and why."""
    run_cli("run", "--plugin", "sgd-serial", "--workload", "ridge", "--workload-param", "n=200", "--workload-param",
            "d=8", "--param", "eta=theory", "--budget", "updates=300", "--no-report", check=True)
    shown = json.loads(run_cli("runs", "show", "1", "--json", check=True).stdout)
    choice = shown["info"]["theory_choices"]["eta"]
    text = run_cli("runs", "show", "1", check=True).stdout
    assert f"eta = {choice['value']:.6g} chosen by {choice['theorem']}" in text, text


def test_runs_show_gives_each_verdict_its_reason(tmp_path):
    """A stored verdict is shown with its reason: 'not-applicable' alone left the user to find out
    which condition failed (only `theory check` said)."""
    run_cli("run", "-p", "svrg-serial", "-w", "logreg", "--workload-param", "n=300", "--workload-param", "d=10",
            "--param", "eta=0.5", "--budget", "updates=200", "--report", str(tmp_path / "rep"), check=True)
    verdicts = json.loads(run_cli("runs", "show", "1", "--json", check=True).stdout)["verdicts"]
    text = run_cli("runs", "show", "1", check=True).stdout
    assert verdicts and all(v["reason"] for v in verdicts.values())
    for thm, v in verdicts.items():
        assert f"theorem {thm}: {v['verdict']}\n  why: {v['reason'][:60]}" in text, text


@pytest.mark.slow
def test_runs_show_says_how_a_threads_run_wrote_its_coordinates(tmp_path):
    """``info["writes"]`` is said by ``runs show``, not only in ``--json``: the mode asked and applied and
    why (one thread: plain stores), and the dense rows' atomic scheme HARNESS_THREADS_ATOMIC picked."""
    pytest.importorskip("numba")
    env = {"HARNESS_STORE": str(tmp_path / "r.db")}
    common = ("-w", "logreg", "--workload-param", "n=300", "--workload-param", "d=10", "--budget", "epochs=1",
              "--no-report", "-q")
    run_cli("run", "-p", "hogwild-threads", *common, "--workers", "1", env=env, check=True, timeout=120)
    run_cli("run", "-p", "asysvrg-threads", *common, "--workers", "2", env=env | {"HARNESS_THREADS_ATOMIC": "cas"},
            check=True, timeout=120)
    one, two = (run_cli("runs", "show", i, env=env, check=True).stdout for i in ("1", "2"))
    assert "writes: atomic asked, plain applied (one thread: no concurrent writer" in one, one
    assert "dense rows by" not in one
    assert "writes: atomic asked, atomic applied (as asked); dense rows by compare-and-swap pairs;" in two, two
    shown = json.loads(run_cli("runs", "show", "2", "--json", env=env, check=True).stdout)
    assert shown["info"]["writes"]["lost"] == 0
    assert '  options   {"env": {"HARNESS_THREADS_ATOMIC": "cas"}}' in two   # the run key's part
    # the scheme is part of the run key: the default scheme is another run, the same one a cache hit
    again = ("run", "-p", "asysvrg-threads", *common, "--workers", "2", "--json")
    assert [r["cached"] for r in json.loads(run_cli(*again, env=env, check=True, timeout=120).stdout)["runs"]] == [False]
    assert "dense rows by row lock" in run_cli("runs", "show", "3", env=env, check=True).stdout
    cached = run_cli(*again, env=env | {"HARNESS_THREADS_ATOMIC": "cas"}, check=True, timeout=120).stdout
    assert [r["cached"] for r in json.loads(cached)["runs"]] == [True]
    # nothing but the threads kernels reads it: a serial run under it is the same run
    serial = ("run", "-p", "sgd-serial", *common, "--json")
    assert [r["cached"] for r in json.loads(run_cli(*serial, env=env, check=True, timeout=120).stdout)["runs"]] == [False]
    under = run_cli(*serial, env=env | {"HARNESS_THREADS_ATOMIC": "cas", "HARNESS_THREADS_TX": "0"}, check=True,
                    timeout=120).stdout
    assert [r["cached"] for r in json.loads(under)["runs"]] == [True]


def test_help_lists_every_environment_variable_with_its_domain():
    """``harness --help`` (and docs/cli.md, generated from the parser) names the variables a user may
    set: the threads kernels' HARNESS_THREADS_ATOMIC beside HARNESS_THREADS_TX, with their values."""
    from harness._core.environment import CHOICES, NUMBERS, SWITCHES

    text = " ".join(run_cli("--help", check=True, timeout=60).stdout.split())
    for name in (*NUMBERS, *SWITCHES, *CHOICES, "HARNESS_STORE", "HARNESS_CACHE", "HARNESS_MEMORY_LIMIT"):
        assert f" {name} " in text, name
    assert "HARNESS_THREADS_ATOMIC how the threads kernels write a dense row" in text
    assert "one of lock|tx|cas, default lock" in text and "0 or 1, default 1" in text


def test_runs_show_says_where_the_audits_unexplained_updates_went():
    """A newcomer read '128 of 192 observed updates explained' as a red flag: the line now says which
    were not explained, which read an iterate or snapshot from before their window (not kept), and
    which were not searched."""
    from harness.cli.runs import _unexplained

    assert _unexplained({"explained": 192, "tried": 192, "observed": 192, "unexplained": 0}) == ""
    assert _unexplained({"explained": 128, "tried": 192, "observed": 192, "unexplained": 0}) == (
        " (64 reading an iterate or snapshot from before their window, which was not kept)")
    assert _unexplained({"explained": 20, "tried": 25, "observed": 30, "unexplained": 5}) == (
        " (5 not explained; 5 not searched or not moving the iterate)")


def test_runs_show_reads_old_and_odd_audits():
    """Stored audits from before ``unexplained`` was recorded, and odd ones (a count that does not add
    up, missing figures): the line accounts for every observed update it can and never names a
    negative count, and ``runs show`` does not fail on them."""
    from types import SimpleNamespace

    from harness.cli.runs import _facts_lines, _unexplained

    # before 2026-12-07 the audit kept no 'unexplained': the tried ones not explained are not split
    assert _unexplained({"explained": 5, "tried": 8, "observed": 10}) == (
        " (3 not explained or reading an iterate or snapshot from before their window; "
        "2 not searched or not moving the iterate)")
    assert _unexplained({"explained": 5, "tried": 8, "observed": 8, "unexplained": 9}) == " (3 not explained)"
    assert _unexplained({"explained": 5, "tried": 8, "observed": 8, "unexplained": -2}) == (
        " (3 reading an iterate or snapshot from before their window, which was not kept)")
    assert _unexplained({"explained": "?", "tried": None, "observed": 4}) == " (4 not searched or not moving the iterate)"
    rec = SimpleNamespace(info={"audit": {"status": "audited", "model": "sgd", "explained": 3, "observed": 4, "tried": 4}})
    assert _facts_lines(rec) == ["trajectory audit (sgd updates): 3 of 4 observed updates explained (1 not explained or "
                                 "reading an iterate or snapshot from before their window): step ?, reads up to 0 "
                                 "updates old"]
    assert _facts_lines(SimpleNamespace(info={"audit": "audited"})) == []


def test_runs_show_says_what_the_audit_explained_by_the_written_l2_term_and_what_its_delays_did_not_excuse(tmp_path):
    """asysvrg-sim with a fixed delay, as a user types it: ``runs show`` says on how many of the stale reads the
    audit found the l2 term at the iterate the update wrote (its kernels' read-modify-write), the figure
    ``info["audit"]["l2_written"]`` that only ``--json`` gave; and, for an audit whose delays would excuse more
    misses than the delays of the updates whose reads were all kept make likely, how many of the misses count for
    that."""
    from harness.cli.runs import _unexplained

    env = {"HARNESS_STORE": str(tmp_path / "r.db")}
    run_cli("run", "-p", "asysvrg-sim", "-w", "logreg", "--param", "eta=0.05", "--param", "b=1", "--param", "tau=4",
            "--param", "delay=fixed", "--workload-param", "n=300", "--workload-param", "d=10",
            "--workload-param", "lam=0.01", "--budget", "epochs=2", "--no-report", env=env, check=True)
    a = json.loads(run_cli("runs", "show", "1", "--json", env=env, check=True).stdout)["info"]["audit"]
    stale = sum(v for k, v in a["delays"].items() if k != "0")
    assert a["status"] == "audited" and stale >= 100 and 0 < a["l2_written"] <= stale, a
    text = " ".join(run_cli("runs", "show", "1", env=env, check=True).stdout.split())
    assert (f"l2 term at the written iterate, as a read-modify-write applies it, on {a['l2_written']} of the {stale} "
            "stale reads") in text, text
    capped = {"explained": 100, "tried": 240, "observed": 256, "unexplained": 120, "excused": 20,
              "excuse": {"expected": 8.5, "allowed": 20, "by_delay": 120, "counted": 100, "sample": 100}}
    assert _unexplained(capped) == (" (120 not explained, 100 of them may have read before their window, but the "
                                    "delays of the updates whose reads were all kept make only 20 such misses likely; "
                                    "20 reading an iterate or snapshot from before their window, which was not kept; "
                                    "16 not searched or not moving the iterate)")
    assert _unexplained({**capped, "excuse": {**capped["excuse"], "counted": 0}}).startswith(" (120 not explained; 20")
