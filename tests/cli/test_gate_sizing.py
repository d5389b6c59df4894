"""The gate's timed group sized from what the machine measures (``size = {...}`` in a suite entry,
:mod:`harness.run.sizing`): the rule on modelled machines, suite errors, and through the real CLI a
fake fast and a fake slow machine (the planted clocks of ``HARNESS_PLANT=slowdown=F``) and a planted
slowdown caught against a baseline sized here."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from harness._core.errors import UserError
from harness._core.monitor import Budget, Target
from harness.run.runner import RunSpec
from harness.run.sizing import Sizing, choose_size, nice, size_groups, sizes_from

# one timed group: SVRG on a small logistic regression, sized so that one run takes 0.05-0.2 CPU
# seconds to its target (from n = 20000: ~15 ms on a quiet 2-core Xeon); few points, little evaluation
TIMED = """
name = "tiny-timed"
[[run]]
plugin = "svrg-serial"
workload = "logreg"
workload_params = {{ n = 20000, d = 20, cond = 10.0, lam = 0.001 }}
params = {{ eta = 0.2, b = 4 }}
seeds = {seeds}
budget = "epochs=50"
target = 1e-7
schedule = {{ points = 12 }}
size = {{ param = "n", seconds = [{lo}, {hi}], min = 2000, max = 300000 }}
"""


def _spec(n: int = 100_000, seed: int = 0) -> RunSpec:
    spec = RunSpec("svrg-serial", "logreg", {"eta": 0.2}, {"n": n, "d": 5}, seed=seed, budget=Budget(epochs=5.0),
                   target=Target("subopt", 1e-6))
    spec.size = Sizing("n", (0.1, 0.4), 1000, 2_000_000)
    return spec


@pytest.mark.parametrize("name, seconds", [
    ("fast, linear", lambda n: 2e-7 * n),          # n = 100000 takes 20 ms: grow it
    ("slow, linear", lambda n: 1e-5 * n),          # 1 s: shrink it
    ("set-up cost", lambda n: 0.09 + 1e-7 * n),    # affine: just under the window
    ("caches", lambda n: 0.05 * (n / 1e5) ** 1.7),  # superlinear
])
def test_the_size_lands_in_the_window_on_a_modelled_machine(name, seconds):
    calls = []

    def measure(spec):
        calls.append(spec)
        return seconds(spec.workload_params["n"])

    choice = choose_size([_spec(seed=s) for s in (3, 1, 2)], _spec().size, measure=measure)
    assert choice.fits and 0.1 <= seconds(choice.value) <= 0.4, choice.probes
    assert len(choice.probes) <= 3 and choice.value == nice(choice.value)
    assert all(c.seed == 1 and c.suite is None for c in calls)  # the group's first run, not stored as the suite's


def test_a_bound_stops_the_size_and_says_it_does_not_fit():
    spec = _spec()
    choice = choose_size([spec], spec.size, measure=lambda s: 1e-9 * s.workload_params["n"])  # far too fast
    assert choice.value == 2_000_000 and not choice.fits
    assert choice.to_dict()["fits"] is False and "n=2000000" in choice.describe()


def test_a_check_runs_the_baselines_size_never_its_own():
    specs = [_spec(seed=s) for s in range(5)]
    sized, choices = size_groups(specs, measure=lambda s: 1e-5 * s.workload_params["n"])
    (choice,) = choices
    assert {s.workload_params["n"] for s in sized} == {choice.value} and choice.value != 100_000
    meta = [c.to_dict() for c in choices]
    again, notes = sizes_from(specs, json.loads(json.dumps(meta)))  # as read back from the baseline file
    assert [s.workload_params for s in again] == [s.workload_params for s in sized]
    assert notes == [f"sized group svrg-serial on logreg: run at n={choice.value}, the size the baseline chose"]
    # a baseline that names no size for the group (an older one, or another group): the suite's value, said
    same, notes = sizes_from(specs, [])
    assert [s.workload_params["n"] for s in same] == [100_000] * 5 and "names no size" in notes[0]


@pytest.mark.parametrize("size, message", [
    ('{ param = "m", seconds = [0.1, 0.4] }', "param must name one of the entry's workload_params (n, d)"),
    ('{ param = "n", seconds = [0.4, 0.1] }', "seconds must be [lo, hi] with 0 < lo < hi"),
    ('{ param = "n", seconds = [0.1, 0.4], step = 2 }', "unknown key 'step'"),
    ('{ param = "n", seconds = [0.1, 0.4], min = 0 }', "min must be a positive integer"),
    # found by breaker26: a bound outside the workload's own domain (n >= 2) was taken; a sizing that reached
    # it would fail there, after its probes had run
    ('{ param = "n", seconds = [0.1, 0.4], min = 1 }', "size: min = 1 is outside the domain of logreg's n"),
    ('"n"', "size must be a table"),
])
def test_a_bad_size_names_the_file_and_entry(tmp_path, size, message):
    from harness.run.suite import load_suite

    path = tmp_path / "s.toml"
    path.write_text(f'[[run]]\nplugin = "svrg-serial"\nworkload = "logreg"\nworkload_params = {{ n = 1000, d = 5 }}\n'
                    f'size = {size}\n')
    with pytest.raises(UserError, match=r"s\.toml: \[\[run\]\] #1") as err:
        load_suite(path)
    assert message in str(err.value)
    path.write_text('[[run]]\nplugin = "svrg-serial"\nworkload = "logreg"\nparams = { eta = [0.1, 0.2] }\n'
                    'workload_params = { n = 1000 }\nsize = { param = "n", seconds = [0.1, 0.4] }\n')
    with pytest.raises(UserError, match="only seeds may be a list in a sized entry"):
        load_suite(path)


def test_a_window_under_the_floor_is_refused_before_any_work(tmp_path, cli):
    suite = tmp_path / "t.toml"
    suite.write_text(TIMED.format(lo=0.01, hi=0.04, seeds=5))
    proc = cli("gate", str(suite), "--save-baseline", str(tmp_path / "b.json"), "-q",
               env={"HARNESS_STORE": str(tmp_path / "s.db")}, timeout=60)
    assert proc.returncode == 2 and not (tmp_path / "b.json").exists() and not (tmp_path / "s.db").exists()
    (line,) = proc.stderr.strip().splitlines()
    assert "size: seconds starts at 0.01 s, under the gate's 50 ms floor" in line and "[[run]] #1" in line


def _save(cli, tmp_path, name: str, plant: str = "", seeds: int = 5) -> dict:
    suite = tmp_path / "timed.toml"
    suite.write_text(TIMED.format(lo=0.05, hi=0.2, seeds=seeds))
    base = tmp_path / f"{name}.json"
    proc = cli("gate", str(suite), "--save-baseline", str(base), "-q", timeout=300,
               env={"HARNESS_STORE": str(tmp_path / f"{name}.db"), "HARNESS_PLANT": plant})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "sized here: n=" in proc.stdout
    return json.loads(base.read_text())


@pytest.mark.slow
def test_a_fast_and_a_slow_machine_size_the_group_apart(tmp_path, cli):
    """The planted clocks stand for other machines: ``slowdown=4`` reads every time 4x longer (a
    slow machine), ``slowdown=0.25`` 4x shorter (a fast one). Each picks an n whose runs, as it
    measures them, land in the window; the fast one a larger n; the baseline's runs are at that n."""
    sizes = {}
    for name, plant in (("slow", "slowdown=4"), ("fast", "slowdown=0.25")):
        doc = _save(cli, tmp_path, name, plant, seeds=2)
        (sized,) = doc["meta"]["sized"]
        assert sized["param"] == "n" and sized["window_s"] == [0.05, 0.2], sized
        assert {r["workload_params"]["n"] for r in doc["runs"]} == {sized["value"]}
        assert sized["fits"] or sized["value"] in (2000, 300_000), sized  # in the window, or stopped at a bound
        sizes[name] = sized["value"]
    # 16x between the clocks, the window 4x wide: at least 4x in time between the runs the two chose
    # (more n on the fast one; n grows more slowly than the time where the data outgrows the caches)
    assert sizes["fast"] >= 2 * sizes["slow"], sizes


@pytest.mark.slow
def test_a_planted_slowdown_is_caught_at_the_baselines_size(tmp_path, cli):
    """A baseline sized here; the gate against it, through the CLI: unchanged code is judged in time
    (not 'too short') and passes; with a planted 3x slowdown (the monitor's clocks 3x fast: slower
    code, to the gate) it fails on time_to_target, at the baseline's n -- a build that sized itself
    would have picked a smaller problem and looked as fast."""
    doc = _save(cli, tmp_path, "base")
    n = doc["meta"]["sized"][0]["value"]
    suite, env = tmp_path / "timed.toml", {"HARNESS_STORE": str(tmp_path / "base.db")}
    rules = ("--fail", "time_to_target:50%", "--fail", "updates_to_target:0%")

    def gate(plant: str):
        proc = cli("gate", str(suite), "--baseline", str(tmp_path / "base.json"), *rules, "--json", timeout=300,
                   env={**env, "HARNESS_PLANT": plant})
        return proc.returncode, json.loads(proc.stdout)

    code, ok = gate("")
    (timed,) = [c for c in ok["checks"] if c["rule"] == "time_to_target:50%"]
    assert timed["outcome"] != "not judged", timed
    assert code == 0, ok
    code, slow = gate("slowdown=3")
    (timed,) = [c for c in slow["checks"] if c["rule"] == "time_to_target:50%"]
    assert code == 1 and timed["outcome"] == "REGRESSION" and timed["ratio"] > 2, timed
    assert "CPU seconds" in timed["how"] and f"run at n={n}, the size the baseline chose" in slow["notes"][0]
    # the deterministic checks are the same runs: unchanged
    assert all(c["outcome"] == "ok" for c in slow["checks"] if c["rule"].startswith("updates_to_target"))
    assert math.isfinite(timed["ratio"])


@pytest.mark.parametrize("value, message", [
    (10**9, "at n=1000000000, outside the suite's size bounds min 10000 .. max 1000000"),
    (1, "at n=1, outside the suite's size bounds min 10000 .. max 1000000"),
    # in the bounds, but not the size its runs have: every group ran (15 s), then 'could not judge'
    (20000, "at n=20000, but none of its runs of svrg-serial on logreg ran at that size (n = 100000, 400)"),
])
def test_a_baseline_edited_to_a_size_outside_the_bounds_is_refused_before_any_run(tmp_path, cli, value, message):
    """The shipped baseline with its sized n edited by hand (or the suite's bounds changed since): n = 10**9
    ran the other groups, then the timed group at a billion samples. Refused before any run, one line."""
    root = Path(__file__).resolve().parents[2]
    doc = json.loads((root / "suites" / "gate-baseline.json").read_text())
    doc["meta"]["sized"][0]["value"] = value
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(doc))
    proc = cli("gate", str(root / "suites" / "gate.toml"), "--baseline", str(edited), "-q", timeout=60,
               env={"HARNESS_STORE": str(tmp_path / "s.db")})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert message in line, line
    if (tmp_path / "s.db").exists():  # opened, nothing run
        import sqlite3

        with sqlite3.connect(tmp_path / "s.db") as con:
            assert con.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0
