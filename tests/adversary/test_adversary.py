"""Adversarial findings (issues 24, 25, 26, 30): each test states what should happen; a finding not fixed yet
is a strict xfail saying why. The outside plugins are written against ``harness.api`` only, once, in the
installable package liars/ (algo.py, catalog.py, theorems.py)."""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp

pytestmark = pytest.mark.slow

from conftest import judge
from harness.api import Budget, UserError
from harness._core.registry import plugins
from harness.run.runner import RunSpec, execute

# the liars are the installable package's (liars/: `pip install tests/adversary/liars` gives the same plugins
# through entry points); here they are registered for each test only
sys.path.insert(0, str(Path(__file__).parent / "liars"))
from liars.catalog import PLUGINS as _LIARS  # noqa: E402

LIAR = {s.name: s for s in _LIARS}
WL = {"n": 200, "d": 10}
STEP, STALE, STALE_MPI, SVRG = LIAR["liar-step"], LIAR["liar-stale"], LIAR["liar-stale-mpi"], LIAR["liar-svrg"]


def _register(monkeypatch, *specs):
    for s in specs:
        monkeypatch.setitem(plugins().items, s.name, s)


def _verdict(store, spec, thm, workers=1, seeds=(0, 1, 2), updates=2000, **params):
    return judge(store, spec.name, thm, params, workers=workers, seeds=seeds, updates=updates)


@pytest.mark.parametrize("spec", [STEP, STALE], ids=lambda s: s.name)
def test_a_plugin_honest_only_on_the_probe_fails_check_plugins_audits(spec, monkeypatch):
    """check-plugin's delay/step audit runs one recognisable workload ('probe', n=64, eta=0.01,
    200 updates); a plugin that lies everywhere else passes it. Should: the audit must not be
    detectable (or the lie must be caught in the verdict)."""
    from harness.analysis.contract import delay_audit

    _register(monkeypatch, spec)
    check, passed, detail = delay_audit(spec)
    assert passed is False, f"the liar passes check-plugin's delay audit: {detail}"


@pytest.mark.parametrize("seed", [1, 3, 4])
def test_check_plugin_catches_a_step_lie_that_starts_late(seed, monkeypatch):
    """3 eta on the last 15% of its budget: check-plugin's audit run (300-600 updates) observed only its
    head and two seeded 64-update windows, and searched them in order for as long as the run took, so
    the lie went unseen on 7 of audit seeds 1-12 (these three among them); the audit run now observes
    and searches every update."""
    from harness.analysis.contract import delay_audit

    late = LIAR["liar-step-late"]
    _register(monkeypatch, late)
    check, passed, detail = delay_audit(late, seed=seed)
    assert passed is False and "step" in detail, f"seed {seed}: {detail}"


def test_three_times_the_step_is_not_holds(store, monkeypatch):
    _register(monkeypatch, STEP)
    v = _verdict(store, STEP, "minibatch.lem-1", eta=0.05)   # 3 x 0.05 is past the largest admissible 0.1107
    assert v.verdict != "holds", f"3x the reported step: {v.verdict}, {v.reason[:200]}"


@pytest.mark.parametrize("spec", [STALE, STALE_MPI], ids=lambda s: s.name)
def test_reading_20_updates_staler_than_reported_is_not_holds(spec, store, monkeypatch):
    _register(monkeypatch, spec)
    v = _verdict(store, spec, "minibatch.thm-4", workers=4, eta=0.01)
    assert v.verdict != "holds", f"reads 23 old, reports <= 3: {v.verdict}, {v.reason[:200]}"


def test_svrg_running_10x_m_with_samples_faked_to_the_reported_m_is_not_holds(store, monkeypatch):
    """The accounting audit trusts the samples the plugin itself reports to mon.tick."""
    from harness.theory.registry import get
    from harness._core.registry import build_workload

    _register(monkeypatch, SVRG)
    c = build_workload("ridge", WL).constants()
    eta = get("asysvrg.thm-2.4.1").solve("eta", {"L": c["L_max"], "Delta": 0.0, "b": 1.0, "m": 20.0,
                                                 "F0": c["f0_minus_fstar"]})["value"] / 2
    v = _verdict(store, SVRG, "asysvrg.thm-2.4.1", seeds=(0, 1), eta=eta, m=20)
    assert v.verdict != "holds", f"10x m with faked samples: {v.verdict}, {v.reason[:200]}"


@pytest.mark.parametrize("how", ["list", "nan"])
def test_odd_applied_values_are_refused_at_the_call_not_a_traceback_in_theory_check(how, store, monkeypatch):
    """ctx.applied(eta=[0.01]) and ctx.applied(eta=nan) are accepted; then `harness theory check`
    on the store dies with a traceback (TypeError: float() argument ... 'list' / TheoryError: gamma
    = nan is not a number) and the report's whole theory section is dropped (one warning, exit 0)."""
    from harness.run.checking import check

    odd = LIAR["liar-types"]
    _register(monkeypatch, odd)
    recs = [execute(RunSpec(odd.name, "ridge", {"eta": 0.01, "how": how}, WL, seed=0, budget=Budget(updates=300)), store)]
    if recs[0].status == "error":
        assert "ctx.applied" in recs[0].reason   # refused at the call: fine
        return
    check(recs)   # must not raise


# ---------------------------------------------------------------- theorem registry / check-theorem
def test_an_outside_entry_named_like_a_built_in_namespace_cannot_replace_the_built_in_theorems(monkeypatch):
    """An installed package with `[project.entry-points."harness.theorems"] minibatch = ...` that is
    found first replaces all five built-in minibatch theorems by its own (`theory list` shows the
    impostor's minibatch.lem-1, thm-2..5 vanish, every built-in SGD plugin's link breaks); the
    warning blames the *built-in* entry as the broken one."""
    from harness.theory import registry

    class Collide:      # an entry point named like the built-in namespace, found first
        name, value, dist = "minibatch", "liars.theorems:COLLIDE", type("D", (), {"name": "impostor"})()

        def load(self):
            from liars.theorems import COLLIDE

            return COLLIDE

    real = registry.entry_points
    monkeypatch.setattr(registry, "entry_points", lambda group: [Collide(), *real(group=group)])
    registry._load.cache_clear()
    try:
        thm = registry.get("minibatch.lem-1")
        assert "Bhardwaj" in str(thm.citation), f"minibatch.lem-1 is now {thm.citation}"
    finally:
        registry._load.cache_clear()


def _thm(**kw):
    from harness.theory.api import Applied, Condition, Constant, Paper, RunMap, Theorem, sym

    eta, L, F0, T = sym("eta L F0 T")
    base = dict(id="adv.t", title="t", citation=Paper("A", "B", "C", 2026).cite("1", "(1)", "Thm 1"), statement="s",
                symbols={"eta": "step", "L": "L", "F0": "F0", "T": "T"}, assumptions=["a"],
                conditions=[Condition("eta L <= 1", sp.LessThan(eta * L, 1), "c")],
                bound=2 * F0 / (eta * T), rate=1 / T, horizon="T", horizon_doc="it",
                measured="running_mean_grad_norm_sq", measured_doc="m", families=("gd",), solutions={"eta": 1 / L},
                runmap=RunMap(inputs={"eta": Applied("eta"), "L": Constant("L"), "F0": Constant("f0_minus_fstar")},
                              theory={"eta": "eta"}))
    for k, v in kw.items():
        base[k] = v(eta, L, F0, T) if callable(v) and k in ("bound", "conditions") else v
    return Theorem(**base)


def _broken():
    from harness.theory.api import Applied, Condition, Constant, RunMap

    return {
        # declared rate 1/T, bound constant in T (the horizon does not appear): passes "does not grow"
        "bound without the horizon": dict(bound=lambda eta, L, F0, T: 2 * F0 / (eta * L)),
        # 'eta > 0' for a positive symbol: always true -- issue 24 item 5 says "and not always true"
        "always-true conditions": dict(conditions=lambda eta, L, F0, T: [Condition("eta > 0", sp.StrictGreaterThan(eta, 0), "c")]),
        # a workload constant no workload has
        "run map reads a constant that does not exist": dict(
            runmap=RunMap(inputs={"eta": Applied("eta"), "L": Constant("no_such_constant"), "F0": Constant("f0_minus_fstar")},
                          theory={"eta": "eta"})),
    }


@pytest.mark.parametrize("what", list(_broken()))
def test_check_theorem_fails_a_broken_theorem(what):
    from harness.theory.api import assert_theorem_passes

    thm = _thm(**_broken()[what])
    with pytest.raises(AssertionError):
        assert_theorem_passes(thm)


# ---------------------------------------------------------------- untrusted files (issue 30)
def _dag_pickle(depth: int = 90) -> bytes:
    """{b'x': L_depth} with L_{i+1} = [L_i, L_i]: 1.7 KB, 2^90 nodes when walked as a tree."""
    out = bytearray(b"\x80\x02]r" + struct.pack("<I", 1) + b"0")
    for i in range(1, depth):
        out += b"](j" + struct.pack("<I", i) + b"j" + struct.pack("<I", i) + b"er" + struct.pack("<I", i + 1) + b"0"
    out += b"}(U\x01xj" + struct.pack("<I", depth) + b"u."
    return bytes(out)


def test_a_tiny_cifar_batch_of_shared_lists_is_refused_quickly_not_walked_forever(tmp_path):
    """suites/cifar.py's _no_pending walks the unpickled object as a tree with no visited set: a
    1.7 KB batch hangs `harness run ... data=cifar` forever (burning a core) instead of one line."""
    f = tmp_path / "data_batch_1"
    f.write_bytes(_dag_pickle())
    code = ("from harness.api import UserError\nfrom harness.suites.cifar import read_batch\n"
            f"try:\n read_batch({str(f)!r})\nexcept UserError as e:\n print('REFUSED', e)\n")
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("read_batch still running after 20 s on a 1.7 KB file")
    assert "REFUSED" in out.stdout, out.stdout + out.stderr


def test_an_idx_header_whose_size_product_wraps_is_one_line(tmp_path):
    """dims 65536^4 = 2^64 wraps to 0 in np.prod(int64): the size check passes an empty body, then
    reshape raises ValueError -> a traceback from `harness run -w mlp --workload-param data=mnist`."""
    from harness.suites.mnist import read_idx

    f = tmp_path / "train-images-idx3-ubyte"
    f.write_bytes(b"\x00\x00\x08\x04" + struct.pack(">4I", 65536, 65536, 65536, 65536))
    with pytest.raises(UserError):
        read_idx(f)


def test_a_suite_file_cannot_read_a_data_file_outside_its_folder(tmp_path):
    """A shared suite's `workload_params = { path = "../../../etc/passwd" }` is read, and the error
    prints the file's first line ('/etc/passwd:1: bad label 'root:x:0:0:...')."""
    (tmp_path / "s").mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-LINE\n")
    suite = tmp_path / "s" / "esc.toml"
    suite.write_text('name = "esc"\n[defaults]\nworkload = "libsvm"\nworkload_params = { path = "../secret.txt" }\n'
                     'budget = "updates=10"\n[[run]]\nplugin = "sgd-serial"\n')
    harness = Path(sys.executable).parent / "harness"
    out = subprocess.run([str(harness), "run", str(suite), "--store", str(tmp_path / "x.db")], capture_output=True,
                         text=True, timeout=120, env={**os.environ, "HARNESS_CACHE": str(tmp_path / "cache")})
    assert "TOPSECRET" not in out.stdout + out.stderr, out.stderr
    assert out.returncode == 2 and "outside" in out.stderr, out.stderr


# ---------------------------------------------------------------- covers: a momentum method judged by SGD's lemma
HB = LIAR["liar-heavy-ball"]


def test_a_momentum_method_claiming_covers_is_not_a_plain_holds_of_sgds_lemma(store, monkeypatch):
    """Issue 24's own example (momentum 0.9 'holds' under SGD's Lemma 1) still reproduces through
    PluginSpec(covers=...): no link problem, verdict 'holds', and nothing in the verdict says it rests
    on the plugin's unverified claim that heavy_ball is a case of sgd."""
    _register(monkeypatch, HB)
    v = _verdict(store, HB, "minibatch.lem-1", eta=0.005)
    assert v.verdict != "holds" or "covers" in (v.reason + " ".join(v.flags)), v.reason[:300]


# ---------------------------------------------------------------- hostile store (issue 30: stores are not trusted)
@pytest.mark.parametrize("info", ["{" * 1000, '{"x":' + "[" * 100000 + "]" * 100000 + "}"], ids=["invalid", "deep"])
def test_a_store_with_a_malformed_info_column_is_one_line_and_exit_2(info, tmp_path):
    """`harness report --store evil.db`: JSONDecodeError / RecursionError tracebacks, exit 1."""
    import sqlite3

    harness = Path(sys.executable).parent / "harness"
    env = {**os.environ, "HARNESS_CACHE": str(tmp_path / "cache")}
    db = tmp_path / "evil.db"
    subprocess.run([str(harness), "run", "-p", "sgd-serial", "-w", "ridge", "--workload-param", "n=200",
                    "--workload-param", "d=10", "--budget", "updates=100", "--store", str(db)],
                   capture_output=True, timeout=120, env=env, check=True)
    with sqlite3.connect(db) as c:
        c.execute("update runs set info=?", (info,))
    out = subprocess.run([str(harness), "report", "--store", str(db), "--out", str(tmp_path / "rep")],
                         capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr[-500:]


SVRG_WARM = LIAR["liar-svrg-warm"]


def test_reporting_warm_epochs_does_not_switch_off_the_accounting_audit(store, monkeypatch):
    from harness.theory.registry import get
    from harness._core.registry import build_workload

    _register(monkeypatch, SVRG_WARM)
    c = build_workload("ridge", WL).constants()
    eta = get("asysvrg.thm-2.4.1").solve("eta", {"L": c["L_max"], "Delta": 0.0, "b": 1.0, "m": 20.0,
                                                 "F0": c["f0_minus_fstar"]})["value"] / 2
    v = _verdict(store, SVRG_WARM, "asysvrg.thm-2.4.1", seeds=(0, 1), eta=eta, m=20)
    assert v.verdict != "holds", f"10x m, honest samples, warm_epochs=1 reported: {v.verdict}, {v.reason[:200]}"


# ---------------------------------------------------------------- leftovers (issue 26 item 1)
def _harness(*argv, tmp_path, timeout=60):
    env = {**os.environ, "HARNESS_CACHE": str(tmp_path / "cache")}
    return subprocess.run([str(Path(sys.executable).parent / "harness"), *argv], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=tmp_path)


@pytest.mark.parametrize("argv", [["runs", "list", "--store", "{fifo}"], ["runs", "export", "{fifo}"]])
def test_a_fifo_as_store_or_export_is_refused_not_a_hang(argv, tmp_path):
    """`harness runs list --store FIFO` and `harness runs export FIFO` still hang in open()."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    try:
        out = _harness(*[a.format(fifo=fifo) for a in argv], tmp_path=tmp_path, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail(f"harness {' '.join(argv)} hangs on a FIFO")
    assert out.returncode == 2, out.stderr


@pytest.mark.parametrize("flag", ["--param", "--param-a", "--param-b"])
def test_compare_refuses_a_parameter_neither_side_has(flag, tmp_path):
    """harness/cli/sides.py:_known_params drops unknown names silently, even side-specific ones."""
    out = _harness("compare", "sgd-serial", "svrg-serial", "-w", "ridge", "--workload-param", "n=200",
                   "--workload-param", "d=10", "--budget", "updates=50", "--seeds", "1", "--no-plot", flag, "etaa=0.5",
                   tmp_path=tmp_path, timeout=120)
    assert out.returncode == 2 and "etaa" in out.stderr, (out.returncode, out.stderr[-300:])


# ---------------------------------------------------------------- the trajectory audit (issue 25): liars and honest runs
def test_three_times_the_step_on_a_third_of_the_updates_is_violated(store, monkeypatch):
    """The median step was the reported one: a lie on a minority of the updates got 'holds'."""
    _register(monkeypatch, LIAR["liar-step-sometimes"])
    v = _verdict(store, LIAR["liar-step-sometimes"], "minibatch.lem-1", seeds=(0,), eta=0.03)
    assert v.verdict == "violated", v.reason[:300]
    assert "applied step 0.09 on more than 10% of the updates inferred from the iterates (median 0.03) vs eta = 0.03" in v.reason


def test_a_batch_that_shrinks_to_one_after_8_updates_is_violated(store, monkeypatch):
    """After 8 updates of b = 4 the search looked for b = 4 only, and one sample i is the multiset
    (i, i, i, i): 'holds' with b = 4 inferred."""
    _register(monkeypatch, LIAR["liar-b-later"])
    v = _verdict(store, LIAR["liar-b-later"], "minibatch.lem-1", seeds=(0,), eta=0.03, b=4)
    assert v.verdict == "violated", v.reason[:300]
    # on most updates, or on some (how many the timed search of b = 4 reaches depends on the load)
    assert re.search(r"a mini-batch of 1 (on \d+ of \d+ updates )?inferred from the iterates", v.reason), v.reason[:300]


def test_plain_sgd_reported_as_svrg_is_violated(store, monkeypatch):
    """Every update an SGD step at 3 eta, reported as SVRG with eta, b, m: 'holds (unverified)' (delay
    theorems) or 'holds' (the others), the audit's finding dropped as 'not the figures of svrg'."""
    _register(monkeypatch, LIAR["liar-sgd-as-svrg"])
    v = _verdict(store, LIAR["liar-sgd-as-svrg"], "asysvrg.thm-2.4.1", seeds=(0,), eta=0.001, m=20)
    assert v.verdict == "violated" and "its updates are SGD steps" in v.reason, v.reason[:300]


@pytest.mark.xfail(strict=True, reason="a plugin honest exactly while next_chunk returns 1 (the observation windows) "
                                       "is not seen: docs/plugins.md, 'What the audits see'")
def test_a_liar_honest_only_in_one_update_chunks_is_not_holds(store, monkeypatch):
    _register(monkeypatch, LIAR["liar-step-unobserved"])
    v = _verdict(store, LIAR["liar-step-unobserved"], "minibatch.lem-1", seeds=(0,), eta=0.03)
    assert v.verdict != "holds", v.reason[:300]


@pytest.mark.parametrize("workload", ["ridge", "logreg"])
def test_honest_async_sgd_on_a_tiny_l2_weight_is_not_violated(workload, store):
    """With lam = 1e-6 a sample's gradient keeps its direction x_i at every read: the freshest read
    explained each stale update with the step eta r_i(stale) / r_i(fresh), and an honest asgd-sim was
    'violated' (applied step 0.01002 vs eta = 0.01). The least step among the reads that explain it is
    taken."""
    v = judge(store, "asgd-sim", "minibatch.thm-4", {"eta": 0.01, "M": 1}, workload=workload,
              wparams={"n": 200, "d": 10, "lam": 1e-6}, workers=4)
    assert v.verdict == "holds", v.reason[:300]


def test_honest_sgd_whose_batches_repeat_samples_is_not_violated(store):
    """b = 2 of n = 2 with replacement: half the batches are one sample twice (a batch of one)."""
    v = judge(store, "sgd-serial", "minibatch.lem-1", {"eta": 0.01, "b": 2}, wparams={"n": 2, "d": 10}, seeds=(0, 1))
    assert v.verdict == "holds", v.reason[:300]
