"""Interactive reports in a real browser: headless Chromium loads a report from disk with the network
off, the plots are drawn by the page's own script, and no request leaves the machine."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from browser import load, needs_browser
from conftest import run_cli

def drawn_figures(page: Path, dom: str) -> tuple[int, list[int]]:
    """How many interactive figures the page holds, and the panel count each one's script drew."""
    figures = page.read_text().count('<figure class="hplot"><script')
    return figures, [int(n) for n in re.findall(r'data-drawn="(\d+)"', dom)]


@needs_browser
@pytest.mark.slow
def test_report_plots_are_drawn_offline_and_request_nothing(tmp_path):
    out = tmp_path / "report"
    run_cli("run", "-p", "svrg-serial", "-w", "ridge", "--param", "eta=theory", "--budget", "epochs=3", "--seeds", "2",
            "--report", str(out), check=True)                # curves and the theorem's bound envelope
    page = out / "index.html"
    html = page.read_text()
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=['\"]?(https?:)?//", html)  # nothing fetched by design
    dom, requests = load(page, tmp_path)
    figures, drawn = drawn_figures(page, dom)
    assert figures >= 2 and len(drawn) == figures and all(n >= 1 for n in drawn), (figures, drawn)
    assert "<canvas" in dom and "u-legend" in dom          # uPlot's own elements, made by the script
    assert "each seed" in dom                             # per-seed curves on demand
    assert requests == []
    assert "all reports" in html and "Contents:" in html  # the way back to the index, the table of contents
    assert (out / "curves-0.png").stat().st_size > 1000   # the PNGs are still written (Markdown, CI logs)
    assert (out / "bound-0.png").stat().st_size > 1000
    # a still page (no cursor) has empty read-outs: no legend entry ends in a dangling ':'
    probe = out / "probe.html"
    probe.write_text(html + LEGEND_PROBE)
    shown = re.search(r'<pre id="probe">(.*?)</pre>', load(probe, tmp_path)[0], re.S).group(1).splitlines()
    assert shown and all(line == "none|none|" for line in shown), shown


# appended to a copy of a page: each shown legend row's th::after, its value's ::before and its value
LEGEND_PROBE = """<script>setTimeout(function () { var out = [];
document.querySelectorAll('.u-legend .u-series').forEach(function (r) { if (r.style.display === 'none') return;
  var v = r.querySelector('.u-value'); out.push(getComputedStyle(r.querySelector('th'), '::after').content + '|' +
  getComputedStyle(v, '::before').content + '|' + v.textContent); });
var p = document.createElement('pre'); p.id = 'probe'; p.textContent = out.join('\\n'); document.body.appendChild(p);
}, 1500);</script>"""


@needs_browser
def test_the_request_check_catches_a_page_that_loads_from_a_cdn(tmp_path):
    """The check above can fail: a page that loads its script from the network is caught."""
    bad = tmp_path / "bad" / "index.html"
    bad.parent.mkdir()
    bad.write_text('<html><head><script src="https://cdn.jsdelivr.net/npm/uplot/dist/uPlot.iife.min.js"></script>'
                   "</head><body>x</body></html>")
    _, requests = load(bad, tmp_path)
    assert any("cdn.jsdelivr.net" in u for u in requests), requests


@needs_browser
@pytest.mark.slow
def test_compare_page_is_drawn_offline(tmp_path):
    out = tmp_path / "cmp"
    run_cli("compare", "sgd-serial", "svrg-serial", "-w", "logreg", "--param", "eta=0.5", "--budget", "epochs=3",
            "--seeds", "2", "--out", str(out), check=True)
    page = out / "index.html"
    dom, requests = load(page, tmp_path)
    figures, drawn = drawn_figures(page, dom)
    assert figures >= 1 and len(drawn) == figures, (figures, drawn)
    assert requests == [] and "<canvas" in dom


def test_figure_spec_reads_lines_bands_scales_and_on_demand_series_back():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from harness._core.interactive import ONDEMAND, figure_spec

    x = np.array([1.0, 10.0, 100.0])
    fig, ax = plt.subplots()
    ax.plot(x, [3.0, 2.0, 1.0], color="#ff0000", label="median")
    ax.fill_between(x, [2.0, 1.5, 0.5], [4.0, 3.0, 2.0], color="#ff0000", alpha=0.2)
    ax.plot(x, [3.5, 0.0, 1.2], visible=False, gid=ONDEMAND + "seed 0", label="_seed")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("updates")
    fig.suptitle("t")
    spec = figure_spec(fig)
    plt.close(fig)
    (panel,) = spec["panels"]
    assert spec["title"] == "t" and panel["xlog"] and panel["ylog"] and panel["xlabel"] == "updates"
    assert panel["x"] == [1.0, 10.0, 100.0]
    names = [s["name"] for s in panel["series"]]
    assert names == ["median", "seed 0", "", ""]            # lines first, then the band's two edges
    median, seed, hi, lo = panel["series"]
    assert median["y"] == [3.0, 2.0, 1.0] and median["show"] and median["color"] == "#ff0000"
    assert not seed["show"] and seed["y"] == [3.5, None, 1.2]   # hidden at first; 0 has no place on a log axis
    assert hi["y"] == [4.0, 3.0, 2.0] and lo["y"] == [2.0, 1.5, 0.5] and hi["edge"]
    assert panel["bands"] == [[3, 4, "#ff0000"]]
    json.dumps(spec, allow_nan=False)                        # what the page parses
