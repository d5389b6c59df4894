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
