"""The import contracts of docs/architecture.md (pyproject.toml [tool.importlinter]) hold: no import
loops, one-way layers, no backend importing another, catalogs imported by no module. import-linter
reads the package from disk, and only an installed copy holds harness.plugins / .theory / .suites
under harness/: the tree is installed into a temporary site directory first (as .ci/run does)."""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    pytest.importorskip("importlinter")
    target = tmp_path_factory.mktemp("installed") / "site"
    src = tmp_path_factory.mktemp("src")                   # a copy: the build leaves nothing in the tree
    for name in ("harness", "plugins", "theory", "suites"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                           "--target", str(target), str(src)], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        pytest.skip(f"pip cannot install the tree here: {proc.stderr[-500:]}")
    return target


def test_import_contracts_hold(site):
    lint = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run([str(lint), str(ROOT / "pyproject.toml")], capture_output=True, text=True, timeout=300,
                          cwd=site, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert len(contracts) >= 5 and f"Contracts: {len(contracts)} kept, 0 broken." in proc.stdout


def test_import_graph_has_no_loops_nor_upward_arrows(site):
    proc = subprocess.run([sys.executable, str(ROOT / ".ci" / "import_graph.py"), "--list"], capture_output=True,
                          text=True, timeout=300, env={"PYTHONPATH": str(site)})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "import loops (strongly connected components > 1 module): 0  (modules in them: 0)" in lines, proc.stdout
    assert lines[2].startswith("upward arrows: 0  sideways arrows (backend -> other backend, theory <-> shared): 0"), \
        proc.stdout
    assert lines[2].endswith("plugins/suites -> harness internals (not harness.api): 0"), proc.stdout


@pytest.mark.parametrize("where, line", [
    ("plugins/serial/_door.py", "from harness._core.errors import UserError\n"),
    ("suites/_door.py", "from harness.run.store import Store\n"),
])
def test_a_plugin_or_workload_importing_past_the_api_breaks_the_one_door_contract(site, tmp_path, where, line):
    """harness.api is the only harness module plugins/ and suites/ may import: one import past it, in
    an installed copy, is a broken contract naming the module."""
    copy = tmp_path / "site"
    shutil.copytree(site, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "harness" / where).write_text(line)
    lint = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run([str(lint), str(ROOT / "pyproject.toml")], capture_output=True, text=True, timeout=300,
                          cwd=copy, env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "harness.api is the one door" in proc.stdout and "BROKEN" in proc.stdout, proc.stdout[-3000:]
    assert "harness." + where.removesuffix(".py").replace("/", ".") in proc.stdout


def test_shared_algorithm_pieces_are_defined_once():
    """The pieces several backends use are defined once, in harness.plugins.algorithms, and used by
    the backends that need them (not redefined beside them)."""
    import ast

    shared = {"partition": "partition", "eta_t": "schedules", "round_size": "schedules", "node_shares": "schedules",
              "Schedule": "schedules", "inner_iterations": "svrg", "derived": "svrg", "sgd_warm_start": "svrg",
              "loss_grad_sum": "linear", "invariant_error": "linear", "Steps": "steps"}
    where: dict[str, list[str]] = {}
    users: dict[str, set[str]] = {}
    for path in sorted((ROOT / "plugins").rglob("*.py")):
        tree = ast.parse(path.read_text())
        rel = path.relative_to(ROOT / "plugins").as_posix()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in shared:
                where.setdefault(node.name, []).append(rel)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("harness.plugins.algorithms"):
                for alias in node.names:
                    users.setdefault(alias.name, set()).add(rel.split("/")[0])
    assert where == {name: [f"algorithms/{mod}.py"] for name, mod in shared.items()}
    assert users["sgd_warm_start"] == {"serial", "threads", "sim"}
    assert users["partition"] >= {"mpi", "sim"} and users["Schedule"] >= {"mpi", "sim"}
    # SVRG's inner-loop length m: computed once (svrg.derived, also PluginSpec.derived for eta=theory), reported
    assert users["derived"] >= {"serial", "threads", "sim", "mpi"}
