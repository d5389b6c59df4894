"""An outside plugin package, as a third party ships one: its own distribution with its own entry
point in the ``harness.plugins`` group, built and installed by pip into a temporary site directory
(on PYTHONPATH for the CLI's processes), importing nothing of the harness but ``harness.api``.
Through the CLI as a user types it, the plugin is listed, runs, is compared with a built-in
plugin (``harness compare``) and is checked against the theorem it links (``harness theory check``).
Another package brings a backend of its own (a :class:`harness.api.Backend` record in its catalog)
and a plugin on it: listed, and ``harness check-plugin`` passes it."""

import ast
import json
import subprocess
import sys
import textwrap

import pytest

from conftest import run_cli

PYPROJECT = """
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "outside-solvers"
version = "0.1.0"
dependencies = ["asyncopt-harness"]

[project.entry-points."harness.plugins"]
outside = "outside_solvers.catalog:PLUGINS"

[tool.setuptools]
packages = ["outside_solvers"]
"""

CATALOG = '''
"""What the harness lists: metadata only."""
from harness.api import Param, PluginSpec

PLUGINS = [PluginSpec(
    "outside-sgd", "sgd", "serial", "outside_solvers.sgd:run", kinds=("finite-sum",),
    params=(Param("eta", 0.1, "float", low=0.0, open_low=True, theory=True, doc="constant step size"),
            Param("b", 1, "int", low=1, doc="mini-batch size")),
    theorems=("minibatch.lem-1",), deterministic=True,
    description="mini-batch SGD, w <- w - eta (1/b) sum_{i in B} grad f_i(w), in plain numpy")]
'''

SGD = '''
"""Mini-batch SGD (002 eq. (1)) in plain numpy, through the author API only."""
import numpy as np

from harness.api import RunContext, UserError


def run(ctx: RunContext):
    wl, p, mon = ctx.workload, ctx.params, ctx.monitor
    if 2 * p["b"] > wl.n:  # the plugin's own rule (b > n itself the harness refuses before any run)
        raise UserError(f"b = {p['b']} is more than half the data (n = {wl.n})")
    ctx.applied(eta=p["eta"], b=p["b"])                     # what the theory checker judges
    rng, w, t = ctx.rng, np.zeros(wl.dim), 0
    mon.tick(0, w, samples=0)
    while mon.running:
        k = mon.next_chunk(t)
        for _ in range(k):
            w -= p["eta"] * wl.batch_gradient(w, rng.integers(0, wl.n, size=p["b"]))
        t += k
        mon.tick(t, w, samples=t * p["b"])
'''

WORKLOAD = ["--workload", "ridge", "--workload-param", "n=200", "--workload-param", "d=10"]


def install(root, dist: str, package: str, modules: dict[str, str], entry: str):
    """Build and install an outside distribution (no build isolation: offline) into ``root/site``:
    ``modules`` its package's files, ``entry`` its ``harness.plugins`` entry point value."""
    src = root / dist
    (src / package).mkdir(parents=True)
    (src / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT).replace("outside-solvers", dist)
                                        .replace('outside = "outside_solvers.catalog:PLUGINS"', f"{package} = \"{entry}\"")
                                        .replace('packages = ["outside_solvers"]', f'packages = ["{package}"]'))
    (src / package / "__init__.py").write_text("")
    for name, text in modules.items():
        (src / package / name).write_text(text)
    target = root / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                           "--target", str(target), str(src)], capture_output=True, text=True, timeout=180)
    if proc.returncode != 0:
        pytest.skip(f"pip cannot build the outside distribution here: {proc.stderr[-500:]}")
    assert list(target.glob(f"{package}-0.1.0.dist-info/entry_points.txt"))
    return target


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    target = install(tmp_path_factory.mktemp("outside"), "outside-solvers", "outside_solvers",
                     {"catalog.py": CATALOG, "sgd.py": SGD}, "outside_solvers.catalog:PLUGINS")
    assert (target / "outside_solvers" / "sgd.py").exists()
    return target


def _harness_imports(path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    return {m for m in names if m.split(".")[0] == "harness"}


@pytest.mark.slow
def test_outside_plugin_runs_compares_and_is_checked(site, tmp_path):
    for module in ("catalog.py", "sgd.py"):                  # the author module, nothing else of ours
        assert _harness_imports(site / "outside_solvers" / module) == {"harness.api"}
    env = {"PYTHONPATH": str(site), "HARNESS_STORE": str(tmp_path / "store.db")}

    listed = json.loads(run_cli("list", "plugins", "--json", env=env, timeout=120, check=True).stdout)
    spec = next(p for p in listed["plugins"] if p["name"] == "outside-sgd")
    assert spec["theorems"] == ["minibatch.lem-1"] and not listed["problems"] and not listed["link_problems"]

    run = run_cli("run", "--plugin", "outside-sgd", *WORKLOAD, "--param", "eta=0.05", "--param", "b=4",
                  "--seeds", "2", "--budget", "epochs=5", "--no-report", "--json", env=env, timeout=180, check=True)
    runs = json.loads(run.stdout)["runs"]
    assert [r["status"] for r in runs] == ["budget", "budget"]
    from harness.run.store import Store

    for rec in Store(tmp_path / "store.db").runs(ids=[r["id"] for r in runs], with_points=True):
        assert rec.plugin == "outside-sgd" and rec.points[-1]["subopt"] < 0.1 * rec.points[0]["subopt"]
    # it sets no max_workers: a serial backend runs one worker, so 4 is refused (it was stored as a
    # 4-worker run and would have appeared in speedup plots)
    four = run_cli("run", "--plugin", "outside-sgd", *WORKLOAD, "--workers", "4", "--no-report", env=env, timeout=120)
    assert four.returncode == 2 and four.stderr.splitlines() == [
        "harness: error: plugin outside-sgd runs with 1 worker (serial backend), got 4"]

    cmp = run_cli("compare", "outside-sgd", "sgd-serial", *WORKLOAD, "--param", "eta=0.05", "--param", "b=4",
                  "--seeds", "2", "--budget", "epochs=5", "--no-plot", "--json", "--quiet", env=env, timeout=240,
                  check=True)
    result = json.loads(cmp.stdout)
    assert (result["a"], result["b"]) == ("outside-sgd", "sgd-serial")
    (group,) = result["groups"]
    assert group["a_seeds"] == group["b_seeds"] == [0, 1]
    final = next(m for m in group["metrics"] if m["metric"] == "final_subopt")
    assert 0 < final["a"]["median"] < float("inf") and 0 < final["b"]["median"] < float("inf")

    ids = [str(r["id"]) for r in runs]
    chk = run_cli("theory", "check", *ids, "--json", env=env, timeout=180, check=True)
    verdicts = {v["theorem"]: v for v in json.loads(chk.stdout)["verdicts"]}
    assert verdicts["minibatch.lem-1"]["verdict"] == "holds", verdicts["minibatch.lem-1"]

    bad = run_cli("run", "--plugin", "outside-sgd", *WORKLOAD, "--param", "b=150", "--budget", "epochs=1",
                  env=env, timeout=120)
    assert bad.returncode == 2 and "harness: error: b = 150 is more than half the data (n = 200)" in bad.stderr
    assert "Traceback" not in bad.stderr
    bad = run_cli("run", "--plugin", "outside-sgd", *WORKLOAD, "--param", "b=1000", "--budget", "epochs=1",
                  env=env, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "plugin outside-sgd: mini-batch b=1000 is larger than the workload's n=200 training samples" in bad.stderr


TOY_CATALOG = '''
"""A backend of this package's own, and the plugins on it."""
from harness.api import Backend, Param, PluginSpec

TOY = Backend("toy", worker_cores=1, contract_workers=1, description="full-gradient steps in this process")

PLUGINS = [
    TOY,
    PluginSpec("toy-gd", "gd", "toy", "toy_backend.gd:run", params=(Param("eta", 0.2, "float", low=0.0, open_low=True),),
               max_workers=1, deterministic=True, description="mini-batch SGD, batches of 8, on a backend of its own"),
    PluginSpec("orphan-gd", "gd", "nowhere", "toy_backend.gd:run", description="on a backend nobody registers"),
]
'''

TOY_GD = '''
import numpy as np

from harness.api import RunContext


def run(ctx: RunContext):
    wl, mon, w, t, b = ctx.workload, ctx.monitor, np.zeros(ctx.workload.dim), 0, 8
    mon.tick(0, w, samples=0)
    while mon.running:
        k = mon.next_chunk(t)
        for _ in range(k):
            w -= ctx.params["eta"] * wl.batch_gradient(w, ctx.rng.integers(0, wl.n, size=b))
        t += k
        mon.tick(t, w, samples=t * b)
'''


@pytest.mark.slow
def test_an_outside_backend_and_its_plugin_are_listed_and_pass_the_contract(tmp_path_factory, tmp_path):
    target = install(tmp_path_factory.mktemp("toy"), "toy-backend", "toy_backend",
                     {"catalog.py": TOY_CATALOG, "gd.py": TOY_GD}, "toy_backend.catalog:PLUGINS")
    for module in ("catalog.py", "gd.py"):
        assert _harness_imports(target / "toy_backend" / module) == {"harness.api"}
    env = {"PYTHONPATH": str(target), "HARNESS_STORE": str(tmp_path / "store.db")}

    backends = json.loads(run_cli("list", "backends", "--json", env=env, timeout=120, check=True).stdout)["backends"]
    toy = next(b for b in backends if b["name"] == "toy")
    assert toy["plugins"] == ["toy-gd"] and not toy["launched"] and toy["server_ranks"] == 0
    assert {"serial", "threads", "sim", "mpi", "torch"} <= {b["name"] for b in backends}

    listed = json.loads(run_cli("list", "plugins", "--json", env=env, timeout=120, check=True).stdout)
    assert next(p for p in listed["plugins"] if p["name"] == "toy-gd")["backend"] == "toy"
    # a plugin on a backend no entry registers is not listed: it is a problem, named with the reason
    assert "orphan-gd" not in {p["name"] for p in listed["plugins"]}
    assert "backend 'nowhere' is not registered" in listed["problems"]["orphan-gd"]

    checked = run_cli("check-plugin", "toy-gd", "--json", env=env, timeout=240)
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-2000:]
    findings = json.loads(checked.stdout)
    assert findings["ok"] and {f["check"] for f in findings["findings"] if f["ok"]} == \
        {"loads", "runs", "curve", "budget", "progress", "deterministic"}, findings

    orphan = run_cli("run", "--plugin", "orphan-gd", *WORKLOAD, "--budget", "updates=5", env=env, timeout=120)
    assert orphan.returncode == 2 and "backend 'nowhere' is not registered" in orphan.stderr
    assert "Traceback" not in orphan.stderr
