import bz2

import numpy as np
import pytest
import scipy.sparse as sp

from harness._core.errors import UserError
from harness._core.registry import build_workload
from harness.suites.libsvm import load_libsvm, save_libsvm


def test_roundtrip_and_one_based(tmp_path):
    rng = np.random.default_rng(0)
    X = sp.random(30, 12, density=0.3, random_state=1, format="csr")
    y = np.where(rng.random(30) > 0.5, 1.0, -1.0)
    save_libsvm(tmp_path / "a.svm", X, y)
    X2, y2 = load_libsvm(tmp_path / "a.svm", n_features=12)
    assert np.allclose(X2.toarray(), X.toarray()) and np.array_equal(y, y2)


def test_formats_comments_compression_and_labels(tmp_path):
    text = "# header\n+1 1:0.5 3:2\n-1 2:1.5  # trailing\n\n+1 3:-1\n"
    (tmp_path / "b.svm").write_text(text)
    with bz2.open(tmp_path / "b.svm.bz2", "wt") as fh:
        fh.write(text)
    for name in ("b.svm", "b.svm.bz2"):
        X, y = load_libsvm(tmp_path / name)
        assert X.shape == (3, 3) and list(y) == [1, -1, 1]
        assert X[0, 2] == 2.0 and X[2, 2] == -1.0
    # {1, 2} labels (covtype style) map to {-1, +1} in the workload
    (tmp_path / "c.svm").write_text("1 1:1\n2 2:1\n1 1:0.5 2:0.5\n2 1:0.1\n")
    w = build_workload("libsvm", {"path": str(tmp_path / "c.svm"), "lam": 0.1})
    assert set(w.y) == {-1.0, 1.0}
    assert np.isfinite(w.f_star) and w.sparse


def test_malformed_lines_name_file_and_line(tmp_path):
    (tmp_path / "bad.svm").write_text("+1 1:0.5\n-1 2=3\n")
    with pytest.raises(UserError, match=r"bad.svm:2: malformed"):
        load_libsvm(tmp_path / "bad.svm")
    with pytest.raises(UserError, match="not found"):
        load_libsvm(tmp_path / "missing.svm")
    with pytest.raises(UserError, match="needs --workload-param path"):
        build_workload("libsvm", {}).X
