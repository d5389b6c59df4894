import json
import multiprocessing as mp
import sqlite3

import pytest

from harness.analysis.results import export
from harness.run.store import RunRecord, Store


def _rec(i, status="done", h=None):
    return RunRecord(id=None, hash=h or f"h{i}", plugin="p", workload="w", workload_params={"n": 1},
                     params={"eta": 0.1}, workers=1, seed=i, status=status,
                     points=[{"updates": u, "time_s": 0.1 * u, "subopt": 1.0 / (u + 1), "extra": {"k": u}} for u in range(5)])


def test_save_load_roundtrip(store):
    rid = store.save(_rec(0))
    r = store.load(rid)
    assert r.params == {"eta": 0.1} and len(r.points) == 5
    assert r.points[3] == {"updates": 3, "time_s": pytest.approx(0.3), "subopt": 0.25, "extra": {"k": 3}}
    store.save_verdict(rid, "x.thm-1", "holds", {"slack": 2.0})
    assert store.verdicts(rid) == {"x.thm-1": {"verdict": "holds", "slack": 2.0}}


def test_cache_only_successful_runs(store):
    store.save(_rec(0, "error", h="same"))
    assert store.find_cached("same") is None
    rid = store.save(_rec(1, "budget", h="same"))
    hit = store.find_cached("same")
    assert hit.id == rid and hit.cached


@pytest.mark.parametrize("status", ["interrupted", "error", "timeout"])
def test_a_run_not_carried_out_never_replaces_a_measured_one(store, status):
    """A --force rerun stopped by Ctrl-C (or one that errors / times out) keeps the finished run of
    the same key; a measured rerun (budget, diverged) replaces it as before."""
    good = store.save(_rec(0, "budget", h="k"))
    again = _rec(0, status, h="k")
    assert store.save(again) is None and again.id is None
    assert f"run #{good} with the same key finished and is kept" in again.reason
    assert [(r.id, r.status) for r in store.runs()] == [(good, "budget")]
    newer = store.save(_rec(0, "diverged", h="k"))
    assert [(r.id, r.status) for r in store.runs()] == [(newer, "diverged")]
    assert store.save(_rec(0, status, h="fresh")) is not None          # nothing to keep: stored


def test_export_json_csv_parquet(store, tmp_path):
    for i in range(3):
        store.save(_rec(i))
    data = json.loads(export(store, tmp_path / "r.json").read_text())
    assert len(data["runs"]) == 3 and len(data["runs"][0]["points"]) == 5
    lines = export(store, tmp_path / "r.csv").read_text().strip().splitlines()
    assert len(lines) == 1 + 15 and lines[0].startswith("run_id,suite,run_key")
    pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    assert pq.read_table(export(store, tmp_path / "r.parquet")).num_rows == 15


def _writer(path, offset, count):
    s = Store(path)
    for i in range(count):
        s.save(_rec(offset + i))


def test_two_processes_writing_lose_no_rows(tmp_path):
    path = tmp_path / "shared.db"
    Store(path)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, k * 1000, 40)) for k in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    con = sqlite3.connect(path)
    assert con.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 80
    assert con.execute("SELECT COUNT(*) FROM points").fetchone()[0] == 400
    seeds = sorted(r[0] for r in con.execute("SELECT seed FROM runs"))
    assert seeds == list(range(40)) + list(range(1000, 1040))


def test_a_cached_run_belongs_to_every_suite_that_asks_for_it(tmp_path):
    """Two suites with the same run: the second is a cache hit, and its report still finds the run
    (one row per run key, a membership per suite); --force keeps both memberships."""
    from conftest import run_cli

    body = ('[[run]]\nplugin = "svrg-serial"\nworkload = "ridge"\nworkload_params = {n = 200, d = 5}\n'
            'budget = "epochs=2"\nseeds = 1\n')
    for name in ("s1", "s2"):
        (tmp_path / f"{name}.toml").write_text(f'name = "{name}"\n' + body)
    env = {"HARNESS_STORE": str(tmp_path / "r.db")}
    run_cli("run", str(tmp_path / "s1.toml"), "--no-report", env=env, check=True)
    run_cli("run", str(tmp_path / "s2.toml"), "--no-report", env=env, check=True)
    st = Store(tmp_path / "r.db")
    assert len(st.runs()) == 1
    assert [r.id for r in st.runs(suite="s1")] == [r.id for r in st.runs(suite="s2")] == [st.runs()[0].id]
    run_cli("report", "--suite", "s2", "--out", str(tmp_path / "rep"), env=env, check=True)
    run_cli("run", str(tmp_path / "s2.toml"), "--no-report", "--force", env=env, check=True)
    assert len(st.runs()) == 1 and len(st.runs(suite="s1")) == 1 and len(st.runs(suite="s2")) == 1


def test_a_replaced_run_keeps_its_id_and_a_stale_verdict_is_not_stored(store):
    """Another process replacing a run key (``run --force``) keeps the row's id, so ids printed or
    held elsewhere still name the run key; a verdict computed from the replaced content is dropped,
    and one for a deleted run is no IntegrityError (the report's theory section failed on it)."""
    first = _rec(0, "budget", h="k")
    rid = store.save(first)
    again = _rec(0, "target", h="k")
    again.created = first.created + 1.0
    assert store.save(again) == rid and store.load(rid).status == "target"
    assert store.save_verdict(rid, "x.thm", "holds", {}, measured=first.created) is False
    assert store.verdicts(rid) == {}
    assert store.save_verdict(rid, "x.thm", "holds", {}, measured=again.created) is True
    assert store.save(_rec(0, "budget", h="k")) == rid and store.verdicts(rid) == {}  # verdicts go with content
    store.delete([rid])
    assert store.save_verdict(rid, "x.thm", "holds", {}) is False


def test_two_runs_of_one_suite_at_once_print_ids_that_stay_valid(tmp_path):
    """Two real `harness run --force` of one suite on one store at once, and a report beside them:
    every id either printed names a stored run afterwards, one row per key, the database intact,
    and the report exits 0 with no failed section."""
    import os
    import subprocess
    import sys

    from conftest import ROOT, run_cli

    suite = tmp_path / "s.toml"
    suite.write_text('name = "two"\n[[run]]\nplugin = "svrg-serial"\nworkload = "ridge"\n'
                     'workload_params = {n = 200, d = 5}\nparams = {eta = "theory", m = 20}\nbudget = "epochs=3"\nseeds = 3\n')
    env = {"HARNESS_STORE": str(tmp_path / "r.db")}
    run_cli("run", str(suite), "--no-report", env=env, check=True)
    full_env = {**os.environ, **env}
    cmd = [sys.executable, "-m", "harness.cli"]
    procs = [subprocess.Popen(cmd + ["run", str(suite), "--force", "--no-report", "--json", "-q"], cwd=ROOT,
                              env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    procs.append(subprocess.Popen(cmd + ["report", "--suite", "two", "--out", str(tmp_path / "rep")], cwd=ROOT,
                                  env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [o[1] for o in outs]
    assert "failed" not in outs[2][1], outs[2][1]
    printed = {r["id"] for out, _ in outs[:2] for r in json.loads(out)["runs"]}
    st = Store(tmp_path / "r.db")
    assert printed == {r.id for r in st.runs()} and len(printed) == 3
    for rid in printed:
        run_cli("runs", "show", str(rid), env=env, check=True)
    con = sqlite3.connect(tmp_path / "r.db")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("PRAGMA foreign_key_check").fetchall() == []


def _legacy(path, *, drop_index=True, version=0):
    con = sqlite3.connect(path)
    if drop_index:
        con.execute("DROP INDEX IF EXISTS runs_key")
    con.execute(f"PRAGMA user_version = {version}")
    con.commit()
    return con


def test_a_store_from_before_versions_keeps_the_measured_row_of_a_key(tmp_path):
    """An older layout (no unique key index) holding an `error` row newer than a `budget` row of
    the same key: opening it for writing migrates it and keeps the measured row (the README's rule)."""
    path = tmp_path / "old.db"
    good = Store(path).save(_rec(0, "budget", h="k"))
    con = _legacy(path)
    cols = "hash, created, plugin, workload, workload_params, params, workers, seed, status"
    con.execute(f"INSERT INTO runs ({cols}) SELECT hash, created + 1, plugin, workload, workload_params, params, "
                "workers, seed, 'error' FROM runs")
    con.commit()
    assert con.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 2
    con.close()
    st = Store(path)
    assert [(r.id, r.status) for r in st.runs()] == [(good, "budget")]
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 1


def test_a_store_of_a_newer_layout_is_refused_before_any_work(tmp_path, cli):
    """A column a newer version added, or a newer schema version: one line, exit 2, nothing run
    (the run was computed, then lost on 'NOT NULL constraint failed')."""
    path = tmp_path / "new.db"
    Store(path)
    con = sqlite3.connect(path)
    con.execute("ALTER TABLE runs ADD COLUMN energy_j REAL NOT NULL DEFAULT 0")
    con.commit()
    args = ("run", "--plugin", "svrg-serial", "--workload", "ridge", "--workload-param", "n=200", "--budget",
            "epochs=1", "--seeds", "1", "--no-report")
    for argv in (("--store", str(path), *args), ("--store", str(path), "runs", "list")):
        proc = cli(*argv, timeout=60)
        assert proc.returncode == 2 and proc.stderr.splitlines() == [
            f"harness: error: store {path} is not in this harness's layout (unknown columns energy_j): written by "
            "another version (give another --store)"], proc.stderr
    path2 = tmp_path / "newer.db"
    Store(path2)
    _legacy(path2, drop_index=False, version=7).close()
    proc = cli("--store", str(path2), *args, timeout=60)
    assert proc.returncode == 2 and proc.stderr.splitlines() == [
        f"harness: error: store {path2} has schema version 7, newer than this harness's 1: written by a newer "
        "harness (upgrade it, or give another --store)"]
