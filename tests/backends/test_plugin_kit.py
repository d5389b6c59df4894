"""The kit for plugin authors: the worked outside plugin of docs/plugins.md passes `harness
check-plugin`, the built-in plugins pass it, a plugin that breaks the contract fails it with a clear
message, broken entry points are stderr warnings (exit 2 under --strict), and py.typed ships."""

import json
import re
import tomllib

from conftest import ROOT, run_cli

DOC = ROOT / "docs" / "plugins.md"


def _doc_package(tmp_path):
    """Write the files of the guide's worked example (code blocks that start with '# my_solvers/...')."""
    blocks = re.findall(r"```(?:python|toml)\n(# (my-solvers/|my_solvers/)(\S+)\n.*?)```", DOC.read_text(), re.S)
    written = {}
    for text, top, rest in blocks:
        path = tmp_path / "my_solvers" / rest if top == "my_solvers/" else tmp_path / rest
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written[top + rest] = path
    (tmp_path / "my_solvers" / "__init__.py").write_text("")
    return written


def test_guide_example_plugin_passes_check_plugin(tmp_path):
    files = _doc_package(tmp_path)
    assert {"my_solvers/catalog.py", "my_solvers/sgd.py", "my-solvers/pyproject.toml"} <= set(files)
    meta = tomllib.loads(files["my-solvers/pyproject.toml"].read_text())
    assert meta["project"]["entry-points"]["harness.plugins"] == {"my_solvers": "my_solvers.catalog:PLUGINS"}
    env = {"PYTHONPATH": str(tmp_path), "HARNESS_EXTRA_PLUGINS": "my_solvers.catalog:PLUGINS"}
    proc = run_cli("check-plugin", "my-sgd", "--json", env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = json.loads(proc.stdout)
    assert found["ok"] and {f["check"] for f in found["findings"]} == {
        "theorems", "loads", "runs", "curve", "budget", "progress", "applied", "accounting", "delays", "deterministic"}
    (audit,) = [f for f in found["findings"] if f["check"] == "delays"]   # the guide's SGD is honest, and audited
    assert audit["ok"] is True and "updates explained: step" in audit["message"], audit


def test_check_plugin_names_a_forgotten_samples_and_counts_the_budget_at_the_reported_b(tmp_path):
    """The guide's plugin at b = 16 that ticks without samples= (what the guide warns about): the
    monitor counts one sample per update, so the run spends 16x its epoch budget. `budget` counts the
    epochs at the b it reports (it passed: '3.0 epochs for a budget of 3'), and both findings name the cause."""
    files = _doc_package(tmp_path)
    sgd, catalog = files["my_solvers/sgd.py"], files["my_solvers/catalog.py"]
    sgd.write_text(sgd.read_text().replace(", samples=t * p[\"b\"]", "").replace(", samples=0", ""))
    catalog.write_text(catalog.read_text().replace('Param("b", 1,', 'Param("b", 16,'))
    assert "samples=" not in sgd.read_text() and 'Param("b", 16,' in catalog.read_text()
    env = {"PYTHONPATH": str(tmp_path), "HARNESS_EXTRA_PLUGINS": "my_solvers.catalog:PLUGINS"}
    proc = run_cli("check-plugin", "my-sgd", env=env, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    fails = [line for line in proc.stdout.splitlines() if line.startswith("FAIL my-sgd")]
    assert any(re.match(r"FAIL my-sgd \(finite-sum\) budget: 4[78](\.\d+)? epochs at the reported b = 16 for a budget "
                        r"of 3 \(allowed up to 3\.\d+; the run counted 3(\.\d+)? at b = 1\): pass samples= to mon\.tick",
                        line) for line in fails), fails
    assert any(line.startswith("FAIL my-sgd (finite-sum) accounting: reports b = 16 but its samples and updates imply "
                               "b = 1: pass samples= to mon.tick") for line in fails), fails
    assert proc.stdout.rstrip().endswith("1 plugin checked: 2 checks failed"), proc.stdout[-300:]


def test_builtin_plugins_pass_check_plugin():
    """Every in-process built-in plugin through the command (the launched MPI/torch ones go through
    the same checks in test_contract.py)."""
    proc = run_cli("check-plugin", "--all", "--backend", "serial", "--backend", "sim", "--backend", "threads",
                   "--json", timeout=400)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr
    found = json.loads(proc.stdout)
    assert found["ok"] and len({f["plugin"] for f in found["findings"]}) >= 15


BROKEN = '''
import numpy as np
from harness._core.params import Param
from harness._core.plugin import PluginSpec

def run(ctx):  # ignores the budget, ticks 3 times, never moves w
    w = np.zeros(ctx.workload.dim)
    for t in (0, 10_000, 20_000):
        ctx.monitor.tick(t, w, samples=t, force=True)

PLUGINS = [PluginSpec("lazy-sgd", "sgd", "serial", "lazy_plug:run", params=(Param("eta", 0.1),),
                      theorems=("asysvrg.thm-2.4.1",))]
'''


def test_contract_breaker_fails_with_clear_messages(tmp_path):
    (tmp_path / "lazy_plug.py").write_text(BROKEN)
    env = {"PYTHONPATH": str(tmp_path), "HARNESS_EXTRA_PLUGINS": "lazy_plug:PLUGINS"}
    proc = run_cli("check-plugin", "lazy-sgd", env=env, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    assert "FAIL lazy-sgd (finite-sum) curve: 3 points; report at least 5" in out
    assert "FAIL lazy-sgd (finite-sum) progress:" in out and "it must decrease" in out
    assert ("FAIL lazy-sgd (-) theorems: asysvrg.thm-2.4.1 is about svrg, asysvrg, not the plugin's algorithm sgd "
            "(a theorem judges only the algorithms it is about; if this algorithm is a case of it, say so: "
            "PluginSpec(covers=('asysvrg.thm-2.4.1',))); asysvrg.thm-2.4.1 reads parameter(s) b, m") in out, out
    # it links a theorem and does not say what step it applied: the checker would judge the stored one
    assert ("FAIL lazy-sgd (finite-sum) applied: call ctx.applied(eta=...) with the values the update "
            "loop used") in out, out
    assert "checks failed" in out


def test_broken_entry_point_warns_and_strict_exits_2(tmp_path):
    (tmp_path / "broken_plug.py").write_text("import not_a_real_module_xyz\n")
    env = {"PYTHONPATH": str(tmp_path), "HARNESS_EXTRA_PLUGINS": "broken_plug:PLUGINS"}
    relaxed = run_cli("list", "plugins", env=env, timeout=60)
    assert relaxed.returncode == 0 and "sgd-serial" in relaxed.stdout and "broken_plug" not in relaxed.stdout
    assert "harness: warning: broken plugin entry point 'broken_plug:PLUGINS'" in relaxed.stderr
    strict = run_cli("--strict", "list", "plugins", env=env, timeout=60)
    assert strict.returncode == 2 and strict.stdout == ""
    assert strict.stderr.strip().splitlines() == [
        "harness: error: broken plugin entry point 'broken_plug:PLUGINS': "
        "ModuleNotFoundError: No module named 'not_a_real_module_xyz'"]
    check = run_cli("check-plugin", "broken_plug:PLUGINS", env=env, timeout=60)
    assert check.returncode == 2 and "is broken" in check.stderr


def test_py_typed_ships():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "py.typed" in meta["tool"]["setuptools"]["package-data"]["harness"]
    assert (ROOT / "harness" / "py.typed").exists()
