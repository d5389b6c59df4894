import subprocess
import sys
import textwrap

from harness import registry
from harness.registry import plugins, workloads


def test_builtin_plugins_and_workloads_listed():
    names = plugins().names()
    assert {"sgd-serial", "svrg-serial"} <= set(names)
    assert {"logreg", "ridge", "digits", "libsvm"} <= set(workloads().names())


def test_listing_does_not_import_torch_or_mpi4py():
    code = textwrap.dedent("""
        import sys
        from harness.registry import plugins, workloads
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

    from harness.plugin import PluginSpec

    with pytest.raises(ValueError, match="backend"):
        PluginSpec("x", "sgd", "quantum", "m:f")
    with pytest.raises(ValueError, match="impl"):
        PluginSpec("x", "sgd", "serial", "no-colon")


def test_unknown_name_gets_closest_match():
    import pytest

    from harness.errors import UserError

    with pytest.raises(UserError, match="did you mean: sgd-serial"):
        plugins().get("sgd-serail")
    registry._cache.clear()
