"""A ``$TMPDIR`` that fills while a launched job starts (found by the adversarial tester breaker26):
the folder is made (``tempfile`` finds room for its probe) but the job's files no longer fit. The
cause must be named: it was 'rank 0: no heartbeat for 60 s ... (hung)', the ENOSPC lost with the job's
stderr on the same full disk; the parent now says the run folder's file system is full."""

from __future__ import annotations

import os

import pytest

from conftest import fill_disk, run_cli


@pytest.mark.mpi
@pytest.mark.slow
def test_a_full_tmpdir_under_an_mpi_job_is_named_not_blamed_on_a_hung_rank(tmp_path, small_disk):
    filler = fill_disk(small_disk)
    os.truncate(filler, max(0, filler.stat().st_size - 12 * 1024))  # room for tempfile's probe and little else
    proc = run_cli("run", "-p", "asysvrg-mpi", "-n", "2", "-w", "logreg", "--workload-param", "n=2000",
                   "--budget", "epochs=1", "--option", "hung_after_s=5", "--no-report", "-q", cwd=tmp_path,
                   timeout=120, env={"TMPDIR": str(small_disk), "HARNESS_STORE": str(tmp_path / "s.db"),
                                     "HARNESS_CACHE": str(tmp_path / "cache")})
    text = proc.stdout + proc.stderr
    assert "hung" not in text, text[-1500:]
    assert "No space left" in text or "full" in text, text[-1500:]
