import subprocess
import sys
import textwrap

from harness._core import registry
from harness._core.registry import plugins, workloads


def test_builtin_plugins_and_workloads_listed():
    names = plugins().names()
    assert {"sgd-serial", "svrg-serial"} <= set(names)
    assert {"logreg", "ridge", "digits", "libsvm"} <= set(workloads().names())


def test_listing_does_not_import_torch_or_mpi4py():
    code = textwrap.dedent("""
        import sys
        from harness._core.registry import plugins, workloads
        plugins(); workloads()
        from harness.cli import main
        main(["list", "plugins"]); main(["list", "workloads"])
        heavy = [m for m in ("torch", "mpi4py", "numba", "sklearn") if m in sys.modules]
        print("HEAVY", heavy)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout


def test_broken_third_party_plugin_is_reported_not_fatal(tmp_path, monkeypatch):
    (tmp_path / "broken_plug.py").write_text("import not_a_real_module_xyz\n")
    (tmp_path / "badmeta_plug.py").write_text("PLUGINS = ['not a spec']\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("HARNESS_EXTRA_PLUGINS", "broken_plug:PLUGINS,badmeta_plug:PLUGINS")
    reg = plugins(refresh=True)
    assert "sgd-serial" in reg.names()
    assert "not_a_real_module_xyz" in reg.problems["broken_plug:PLUGINS"]
    assert "PluginSpec" in reg.problems["badmeta_plug:PLUGINS"]


def test_bad_metadata_is_rejected_at_declaration():
    import pytest

    from harness._core.plugin import PluginSpec

    with pytest.raises(ValueError, match="backend"):
        PluginSpec("x", "sgd", "", "m:f")
    with pytest.raises(ValueError, match="impl"):
        PluginSpec("x", "sgd", "serial", "no-colon")


def test_a_plugin_on_a_backend_no_entry_registers_is_a_problem_and_a_registered_one_is_used(tmp_path, monkeypatch):
    """Backends are records registered beside the plugins (the same entry points); a plugin's backend
    must be one of them, and what the harness needs to know about it is read off the record."""
    import pytest

    from harness._core.errors import UserError
    from harness.run.executors import slots_of
    from harness.run.runner import RunSpec, resolve

    (tmp_path / "quantum_plug.py").write_text(textwrap.dedent("""
        from harness.api import Backend, PluginSpec
        PLUGINS = [PluginSpec("q-sgd", "sgd", "quantum", "harness.plugins.serial.sgd:run"),
                   Backend("pool", worker_cores=1, contract_workers=3),
                   PluginSpec("p-sgd", "sgd", "pool", "harness.plugins.serial.sgd:run", max_workers=8)]
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("HARNESS_EXTRA_PLUGINS", "quantum_plug:PLUGINS")
    reg = plugins(refresh=True)
    assert "q-sgd" not in reg.names() and "backend 'quantum' is not registered" in reg.problems["q-sgd"]
    with pytest.raises(UserError, match="plugin 'q-sgd' is broken: backend 'quantum' is not registered"):
        reg.get("q-sgd")
    assert registry.backend_of(reg.get("p-sgd")) == registry.backends().get("pool")
    assert {"serial", "threads", "sim", "mpi", "torch", "pool"} <= set(registry.backends().names())
    res = resolve(RunSpec("p-sgd", "ridge", workers=3))
    assert slots_of(res, 8) == 3 and res.backend.in_process       # one core per worker, from the record
    from harness.analysis.contract import contract_workers

    assert contract_workers(reg.get("p-sgd")) == 3
    registry._cache.clear()


def test_unknown_name_gets_closest_match():
    import pytest

    from harness._core.errors import UserError

    with pytest.raises(UserError, match="did you mean: sgd-serial"):
        plugins().get("sgd-serail")
    registry._cache.clear()


BAD_LINKS = '''
from harness.api import Param, PluginSpec

PLUGINS = [
    PluginSpec("ghost-linked", "sgd", "serial", "links_plug:run", theorems=("nope.thm-9",)),
    PluginSpec("underdeclared", "svrg", "serial", "links_plug:run", params=(Param("eta", 0.1),),
               theorems=("asysvrg.thm-2.4.1",)),
]
'''


def test_listing_checks_theorem_links(tmp_path):
    """At listing time: a linked theorem id that does not exist, and a parameter the theorem's
    adapter reads (Theorem.reads) that the plugin does not declare, are reported (stderr, one line
    each, status column), and the listing still succeeds."""
    from conftest import run_cli

    from harness.theory.registry import get

    reads = set(get("asysvrg.thm-2.4.1").reads)
    assert {"b", "m"} <= reads and "eta" in reads
    (tmp_path / "links_plug.py").write_text(BAD_LINKS)
    env = {"PYTHONPATH": str(tmp_path), "HARNESS_EXTRA_PLUGINS": "links_plug:PLUGINS"}
    proc = run_cli("list", "plugins", env=env, timeout=120)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    warnings = [ln for ln in proc.stderr.splitlines() if "bad theorem link" in ln]
    assert warnings == [
        "harness: warning: plugin 'ghost-linked' has a bad theorem link: nope.thm-9: no such theorem (harness theory list)",
        "harness: warning: plugin 'underdeclared' has a bad theorem link: asysvrg.thm-2.4.1 reads parameter(s) "
        + ", ".join(r for r in get("asysvrg.thm-2.4.1").reads if r != "eta") + ", which the plugin does not declare"]
    rows = {ln.split()[1]: ln for ln in proc.stdout.splitlines() if ln.startswith("│")}
    assert "bad theorem" in rows["ghost-linked"] and "bad theorem" in rows["underdeclared"]
    assert "ok" in rows["sgd-serial"]          # the built-in plugins' links hold
    assert not [ln for ln in proc.stderr.splitlines() if "bad theorem link" in ln and "sgd-serial" in ln]


def test_each_workload_declares_the_constants_it_provides():
    """WorkloadSpec(constants=...) is what check-theorem holds a run map's Constant sources to: the
    finite-sum workloads' constants() (a tiny instance built) give exactly the declared names."""
    from harness._core.registry import workloads
    from harness.theory.registry import workload_constants

    reg = workloads()
    for name, params in (("ridge", {"n": 20, "d": 3}), ("logreg", {"n": 20, "d": 3}), ("probe", {"n": 4})):
        spec = reg.get(name)
        assert set(spec.build(params).constants()) == set(spec.constants), name
    assert all(reg.get(n).constants for n in reg.names()), [n for n in reg.names() if not reg.get(n).constants]
    assert {"L", "L_max", "f0_minus_fstar", "n_params"} <= workload_constants()
