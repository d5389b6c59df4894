"""A suite's memory stays flat run after run, generated data is built once per machine (mapped from
the data cache by later runs and sessions), and a run that would not fit beside what the process
holds is refused with one line before it starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT, run_cli

# about 31 MB of CSR (n = 40000 training rows + 10000 test rows, d = 20000, 50 nonzeros per row)
WPARAMS = "{ n = 40000, d = 20000, sparse = true, density = 0.0025, lam = 1e-4 }"
SUITE = f"""
name = "flat"
[defaults]
budget = "epochs=1"
target = "none"
[[run]]
plugin = "sgd-serial"
workload = "logreg"
workload_params = {WPARAMS}
params = {{ eta = 0.5, b = 1 }}
seeds = 5
"""

# the suite as `harness run` executes it (every spec resolved first, then run one after another),
# with the resident memory of the process taken after each run
SCRIPT = textwrap.dedent("""
    import json, sys
    import psutil
    from harness._core import shared_data
    from harness.cli.run import run_specs
    from harness.run.runner import resolve
    from harness.run.store import Store
    from harness.run.suite import load_suite

    _, specs, _ = load_suite(sys.argv[1])
    specs = [resolve(s) for s in specs]
    store, rss, data, startup = Store(), [], [], []
    for spec in specs:
        rec = run_specs([spec], store, quiet=True)[0]
        assert rec.status in ("done", "budget"), (rec.status, rec.reason)
        rss.append(psutil.Process().memory_info().rss)
        data.append(rec.info["data"])
        startup.append(rec.info["startup_s"])
    print(json.dumps({"rss": rss, "data": data, "startup": startup, "builds": sum(shared_data.BUILDS.values())}))
""")


def _suite_in_process(tmp_path, cache, session: int):
    suite = tmp_path / "flat.toml"
    suite.write_text(SUITE)
    env = {**os.environ, "HARNESS_CACHE": str(cache), "HARNESS_STORE": str(tmp_path / f"r{session}.db"),
           # compiled kernels from the tests' shared cache: this test is about data, not compiling
           "NUMBA_CACHE_DIR": str(ROOT / ".harness" / "test-cache" / "numba")}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(suite)], capture_output=True, text=True, env=env,
                          timeout=400, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_suite_memory_is_flat_and_data_built_once(tmp_path):
    cache = tmp_path / "cache"
    first = _suite_in_process(tmp_path, cache, 1)
    size = first["data"][0]["bytes"]
    assert size > 20e6
    # five runs, one dataset: built by the first run's resolution, then the process's pool
    assert first["builds"] == 1
    assert [d["source"] for d in first["data"]] == ["built"] + ["memory"] * 4
    # after the last run the process holds what it held after the first, within a margin far below
    # one dataset (each run used to keep its own copy: +30 MB a run)
    grown = first["rss"][-1] - first["rss"][0]
    assert grown < max(0.3 * size, 8 << 20), (grown, first["rss"])
    # start-up (data, constants) is paid by the first run only
    assert all(s < 2.0 for s in first["startup"][1:]), first["startup"]
    # a new session (its own store: every run is measured again) maps the data from the data cache
    # and reads the constants from the constants cache: nothing generated or solved again
    again = _suite_in_process(tmp_path, cache, 2)
    assert again["builds"] == 0
    assert again["data"][0]["source"] == "disk" and again["data"][0]["content"] == first["data"][0]["content"]
    assert again["startup"][0] < 0.5 * first["startup"][0] or again["startup"][0] < 2.0, (first, again)


def test_run_that_does_not_fit_beside_what_is_held_is_refused(tmp_path):
    """HARNESS_MEMORY_LIMIT caps what this process and its ranks may hold: a workload estimated at
    ~40 MB is refused, with one line and before any work, under a limit just above what a bare
    harness process holds; the same run goes on without the limit."""
    run = ("run", "--plugin", "sgd-serial", "--workload", "ridge", "--workload-param", "n=200000",
           "--workload-param", "d=20", "--budget", "updates=10", "--no-report", "-q")
    proc = run_cli(*run, env={"HARNESS_MEMORY_LIMIT": "120M", "HARNESS_CACHE": str(tmp_path / "c")}, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "beside the" in lines[0] and "HARNESS_MEMORY_LIMIT=120.0 MiB" in lines[0], lines
    assert "ridge needs about" in lines[0]
    bad = run_cli(*run, env={"HARNESS_MEMORY_LIMIT": "lots"}, timeout=120)
    assert bad.returncode == 2 and "HARNESS_MEMORY_LIMIT" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_memory_check_counts_held_memory_and_ranks(monkeypatch):
    """The check adds the process's resident memory to the run's need (and a rank's interpreter per
    launched process): the same workload fits alone and not beside a large held amount."""
    from harness._core import memory
    from harness._core.errors import UserError
    from harness._core.registry import build_workload
    from harness._core.workload import check_memory

    wl = build_workload("ridge", {"n": 2000, "d": 20})
    need = wl.memory_needed(0)
    assert wl.memory_needed(3) == need + 3 * (memory.RANK_BYTES + need)  # small data: each rank builds its own
    monkeypatch.setenv("HARNESS_MEMORY_LIMIT", str(10 << 30))
    monkeypatch.setattr(memory, "held_bytes", lambda pid=None: 1 << 30)
    check_memory(wl)
    monkeypatch.setattr(memory, "held_bytes", lambda pid=None: (10 << 30) - need // 2)
    with pytest.raises(UserError, match="beside the"):
        check_memory(wl)
    monkeypatch.setattr(memory, "held_bytes", lambda pid=None: (10 << 30) - 2 * memory.RANK_BYTES)
    check_memory(wl)
    with pytest.raises(UserError, match="3 launched processes"):
        check_memory(wl, ranks=3)


def test_parse_bytes():
    from harness._core.memory import parse_bytes

    assert parse_bytes("8G") == 8 << 30 and parse_bytes("512m") == 512 << 20 and parse_bytes("1.5GiB") == 3 << 29
    assert parse_bytes("1000") == 1000
    with pytest.raises(ValueError):
        parse_bytes("lots")


def test_generator_fingerprint_follows_the_generators_own_code(tmp_path, monkeypatch):
    """Generated data is cached by its recipe and its generator's code: an edit to a module the
    generator imports (its own package) is new data; an unrelated module of the package is not."""
    from harness._core import identity

    pkg = tmp_path / "gen_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "workload.py").write_text("from .draw import features\n")
    (pkg / "draw.py").write_text("def features(rng, n):\n    return rng.standard_normal(n)\n")
    (pkg / "other.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(identity, "_code_memo", {})
    before = identity.module_fingerprint("gen_pkg.workload")
    (pkg / "other.py").write_text("X = 2\n")
    monkeypatch.setattr(identity, "_code_memo", {})
    assert identity.module_fingerprint("gen_pkg.workload") == before
    (pkg / "draw.py").write_text("def features(rng, n):\n    return 0.3 * rng.standard_normal(n)\n")
    monkeypatch.setattr(identity, "_code_memo", {})
    assert identity.module_fingerprint("gen_pkg.workload") != before


def test_pool_is_bounded_and_keeps_the_newest():
    from harness._core.shared_data import Pool

    pool = Pool(max_bytes=100, max_entries=3)
    for k in "abcd":
        pool.put(k, k, 10)
    assert pool.get("a") is None and all(pool.get(k) == k for k in "bcd")  # at most 3 entries
    pool.put("big", "big", 95)  # over the byte bound: the older ones go, the newest stays
    assert pool.get("big") == "big" and len(pool) == 1
    pool.put("huge", "huge", 500)  # alone over the bound: kept (a run is using it)
    assert pool.get("huge") == "huge" and pool.get("big") is None


@pytest.mark.slow
def test_progress_shows_start_up_and_a_suite_prints_its_peak_memory(tmp_path):
    """Not a terminal: the plain progress line names the current run's start-up seconds (until its
    budget starts) and what the process holds; the suite ends with its peak memory; each run stores
    its start-up."""
    suite = tmp_path / "s.toml"
    suite.write_text('name = "s"\n[[run]]\nplugin = "sgd-serial"\nworkload = "logreg"\n'
                     'workload_params = { n = 3000, d = 20 }\nbudget = "seconds=1"\ntarget = "none"\nseeds = 2\n')
    proc = run_cli("run", str(suite), "--no-report", env={"HARNESS_PROGRESS_EVERY": "0.2"}, timeout=180, check=True)
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("harness: ")]
    running = [ln for ln in lines if "(now: sgd-serial" in ln]
    assert running and all(", start-up " in ln and " held" in ln for ln in running), proc.stderr
    assert lines[-1].startswith("harness: peak memory ") and lines[-1].split()[4] in ("MiB", "GiB"), lines[-1]
    from harness.run.store import Store

    runs = Store().runs(suite="s")
    assert len(runs) == 2 and all(0 <= r.info["startup_s"] < 120 for r in runs)
    # --budget with a suite replaces every entry's (it was ignored: `--budget seconds=3` ran the suite's own)
    run_cli("run", str(suite), "--no-report", "-q", "--budget", "updates=50", "--seeds", "1", timeout=180, check=True)
    short = [r for r in Store().runs(suite="s") if r.budget.get("updates") == 50]
    assert len(short) == 1 and short[0].budget.get("seconds") is None
