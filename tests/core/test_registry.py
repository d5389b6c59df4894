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
        PluginSpec("x", "sgd", "quantum", "m:f")
    with pytest.raises(ValueError, match="impl"):
        PluginSpec("x", "sgd", "serial", "no-colon")


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
