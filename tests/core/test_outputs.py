"""Every output file is replaced atomically (a temporary file in the same folder, renamed over the
old one): on a real full disk (a 1 MiB tmpfs filled to the brim) ``gate --save-baseline``,
``runs export`` and ``report`` keep the previous file's bytes, name the file they could not write
(one line, exit 2) and leave no temporary file behind."""

from __future__ import annotations


import pytest

from conftest import fill_disk

SUITE = """
name = "tiny-out"
[defaults]
budget = "epochs=10"
seeds = 2
workload_params = { n = 200, d = 10, cond = 10.0, lam = 0.01 }

[[run]]
plugin = "svrg-serial"
workload = "ridge"
params = { eta = 0.1, b = 4 }
target = 1e-5
"""


def test_a_full_disk_leaves_every_previous_output_as_it_was(tmp_path, small_disk, cli):
    suite = tmp_path / "tiny.toml"
    suite.write_text(SUITE)
    base, export, report = small_disk / "base.json", small_disk / "runs.csv", small_disk / "report"
    cli("gate", str(suite), "--save-baseline", str(base), "-q", check=True)
    cli("runs", "export", str(export), check=True)
    cli("report", "--out", str(report), check=True)
    before = {p: p.read_bytes() for p in sorted(small_disk.rglob("*")) if p.is_file()}
    assert base in before and export in before and report / "index.html" in before
    filler = fill_disk(small_disk)

    for args, path, what in ((("gate", str(suite), "--save-baseline", str(base), "-q", "--use-cache"), base, "export"),
                             (("runs", "export", str(export)), export, "export"),
                             (("report", "--out", str(report)), report / "curves-0.png", "plot")):
        proc = cli(*args)
        assert proc.returncode == 2, proc.stderr
        errors = [line for line in proc.stderr.splitlines() if "error" in line]  # (a slow machine shows progress)
        assert errors == [f"harness: error: cannot write {what} {path}: No space left on device"]
    filler.unlink()
    after = {p: p.read_bytes() for p in sorted(small_disk.rglob("*")) if p.is_file()}
    assert after == before  # same files, same bytes: no truncated file and no temporary one left


def test_write_atomic_keeps_the_file_mode(tmp_path):
    from harness._core.paths import write_atomic

    p = tmp_path / "x.json"
    p.write_text("old")
    p.chmod(0o640)
    write_atomic(p, "new")
    assert p.read_text() == "new" and p.stat().st_mode & 0o777 == 0o640
    assert [q.name for q in tmp_path.iterdir()] == ["x.json"]




def test_a_failed_report_section_is_exit_1_not_0(tmp_path, monkeypatch, capsys):
    from harness.analysis import report
    from harness.cli import main

    suite = tmp_path / "tiny.toml"
    suite.write_text(SUITE)
    assert main(["run", str(suite), "--no-report", "-q"]) == 0

    def broken(records, outdir, store):
        raise RuntimeError("boom")

    monkeypatch.setattr(report, "theory_section", broken)   # a section that fails (the theory section's slot)
    capsys.readouterr()
    assert main(["report", "--suite", "tiny-out", "--out", str(tmp_path / "rep")]) == 1
    err = capsys.readouterr().err
    assert "report section" in err and "broken failed: RuntimeError: boom" in err
    assert (tmp_path / "rep" / "index.html").is_file()  # the rest of the report is written


def test_a_store_on_a_full_disk_says_so_and_stays_intact(tmp_path, small_disk, cli):
    """The real error ("database or disk is full"), not a second ROLLBACK's "no transaction is
    active"; what was stored before is intact; a full disk at open names the cause."""
    import sqlite3

    from harness.run.store import RunRecord, Store

    path = small_disk / "r.db"
    st = Store(path)
    rec = lambda i: RunRecord(None, f"h{i}", "p", "w", {}, {}, 1, i, "budget",  # noqa: E731
                              points=[{"updates": u, "subopt": 1.0 / (u + 1)} for u in range(2000)])
    st.save(rec(0))
    fill_disk(small_disk)
    with pytest.raises(sqlite3.OperationalError, match="^(database or disk is full|disk I/O error)$"):
        for i in range(1, 50):
            st.save(rec(i))
    proc = cli("--store", str(path), "run", "--plugin", "svrg-serial", "--workload", "ridge", "--no-report", "-q")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"harness: error: cannot open store {path} for writing: disk I/O error "
                                        "(no space left on the device holding it)"]
    (small_disk / "filler").unlink()
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT COUNT(*) FROM points WHERE run_id = 1").fetchone()[0] == 2000



def test_a_commit_the_full_disk_rolled_back_raises_the_full_disk_not_a_second_rollback(small_disk, cli):
    """A reader's open connection keeps the store's WAL files (a report reading while a run
    writes), so the write gets as far as COMMIT, which the full disk fails: SQLite rolls the
    transaction back itself, and a second ROLLBACK would raise "cannot rollback - no transaction is
    active" in place of the real error (in ``Store.save`` and in ``harness run``'s one line). What
    was stored before stays, intact."""
    import sqlite3

    from harness.run.store import RunRecord, Store

    path = small_disk / "r.db"
    st = Store(path)
    rec = lambda i: RunRecord(None, f"h{i}", "p", "w", {}, {}, 1, i, "budget",  # noqa: E731
                              points=[{"updates": u, "subopt": 1.0 / (u + 1)} for u in range(2000)])
    st.save(rec(0))
    reader = sqlite3.connect(path)
    try:
        reader.execute("SELECT COUNT(*) FROM runs").fetchone()
        assert (small_disk / "r.db-wal").exists()
        filler = fill_disk(small_disk)
        with pytest.raises(sqlite3.OperationalError, match="^database or disk is full$"):
            st.save(rec(1))
        proc = cli("--store", str(path), "run", "--plugin", "svrg-serial", "--workload", "ridge", "--budget",
                   "updates=10", "--no-report", "-q")
        assert (proc.returncode, proc.stderr) == (2, f"harness: error: results store {path}: database or disk is full "
                                                     "(no space left on the device holding it)\n")
    finally:
        reader.close()
    filler.unlink()
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT hash, (SELECT COUNT(*) FROM points) FROM runs").fetchall() == [("h0", 2000)]

def test_a_run_whose_report_hits_a_full_disk_says_its_runs_are_stored(tmp_path, small_disk, cli):
    suite = tmp_path / "tiny.toml"
    suite.write_text(SUITE)
    fill_disk(small_disk)
    proc = cli("run", str(suite), "--report", str(small_disk / "rep"), "-q")
    assert proc.returncode == 2
    assert [line for line in proc.stderr.splitlines() if "error" in line] == [
        f"harness: error: cannot write plot {small_disk / 'rep' / 'curves-0.png'}: No space left on device "
        "(the 2 runs are stored: `harness report` writes the report again)"]
    from harness.run.store import Store

    assert [r.status for r in Store(tmp_path / "results.db").runs()] == ["budget", "budget"]


def test_a_job_whose_run_folder_fills_names_the_file_and_the_full_disk(small_disk):
    """A rank whose disk filled leaves an empty error report (its write died on ENOSPC): the run's
    reason names the file and the full disk (it read 'JSONDecodeError: Expecting value')."""
    import sys
    import types

    from harness._core.errors import PluginFailure
    from harness._core.launch import run_job
    from harness._core.monitor import Monitor

    child = ("import sys\n"
             "from harness._core.launch import write_error\n"
             "with open(sys.argv[1] + '/filler', 'wb', buffering=0) as fh:  # the disk filled to the brim\n"
             "    for size in (65536, 4096, 512, 1):\n"
             "        try:\n"
             "            while True:\n"
             "                fh.write(bytes(size))\n"
             "        except OSError:\n"
             "            pass\n"
             "try:\n"
             "    write_error(sys.argv[1], 0, RuntimeError('boom'))\n"
             "except OSError:\n"
             "    pass\n"
             "sys.exit(1)\n")
    ctx = types.SimpleNamespace(workdir=small_disk / "job", options={}, monitor=Monitor(lambda w: {}),
                                child_spec=lambda: {})
    with pytest.raises(PluginFailure) as err:
        run_job(ctx, [sys.executable, "-c", child, str(small_disk / "job")], timeout_s=60)
    assert str(err.value) == (f"the job's error report file error-0.json in {small_disk / 'job'} is empty "
                              "(no space left on the device holding it)")
