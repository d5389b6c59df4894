"""``python -m benchmarks``: one command, one table (Markdown + JSON), and the README section from it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT


@pytest.mark.slow
def test_python_m_benchmarks_writes_the_table_and_the_readme_section(tmp_path):
    """The monitor part alone (``--skip acbe``), one repeat asked (9 run): two rows with their ratios and target in the
    JSON and in the Markdown, the date, machine and load in the header; a wall-clock ratio taken with
    the load above the cores says it was not judged."""
    out = subprocess.run([sys.executable, "-m", "benchmarks", "--skip", "acbe", "--repeats", "1", "--out", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads((tmp_path / "performance.json").read_text())
    short, long_ = res["rows"]          # the 25-ms run of 10 epochs, and 40 epochs (the 0.1-s run)
    assert "10 epochs" in short["measure"] and "40 epochs" in long_["measure"]
    md = (tmp_path / "performance.md").read_text()
    for row in (short, long_):
        assert row["measure"].startswith("monitor") and row["target"] == "<= 1.02" and row["repeats"] == 9
        assert row["min"] <= row["median"] <= row["max"] and row["met"] == (row["median"] <= 1.02)
        assert f"| {row['measure']} |" in md
    assert "load average" in md and res["date"] in md
    assert ("not judged" in md) == any(row["load"] > res["cores"] for row in (short, long_))


def test_the_table_goes_between_the_readme_markers(tmp_path):
    from benchmarks.__main__ import MARK_BEGIN, MARK_END, markdown, put_in_readme

    res = {"date": "2026-12-06 12:00", "machine": "m", "cores": 2, "load_start": 9.0, "load_end": 3.0, "seconds": 1.0,
           "repeats": 3, "rows": [
               {"measure": "x per wall s", "anchor": "y", "min": 1.0, "median": 2.0, "max": 3.0, "target": ">= 1.5",
                "met": True, "load": 9.0, "clock": "wall", "repeats": 3},
               {"measure": "x per CPU s", "anchor": "y", "min": 1.0, "median": 1.2, "max": 3.0, "target": ">= 1.5",
                "met": False, "load": 9.0, "clock": "cpu", "repeats": 3}],
           "notes": ["benchopt side by side not run: no index"]}
    md = markdown(res)
    assert md.endswith("| 9.0 |\n\nbenchopt side by side not run: no index\n")
    assert "| x per wall s | y | 1 / 2 / 3 | >= 1.5 | yes (not judged: load above the cores) | 9.0 |" in md
    assert "| x per CPU s | y | 1 / 1.2 / 3 | >= 1.5 | no | 9.0 |" in md
    readme = tmp_path / "README.md"
    readme.write_text(f"# t\n\nbefore\n{MARK_BEGIN}\nold table\n{MARK_END}\nafter\n")
    put_in_readme(md, readme)
    text = readme.read_text()
    assert "old table" not in text and md in text and text.startswith("# t\n\nbefore\n") and text.endswith("after\n")
    put_in_readme(md, readme)                       # again: replaced, not appended
    assert readme.read_text() == text
    readme.write_text("no markers")
    with pytest.raises(SystemExit):
        put_in_readme(md, readme)
