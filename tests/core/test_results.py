"""Results as data: a parquet export read back with pandas has one column per parameter and
workload parameter and the run-level columns; filters are honoured; results.load gives the
same table in Python."""

import pytest

from conftest import have, run_cli

pytestmark = pytest.mark.skipif(not (have("pandas") and have("pyarrow")), reason="pandas/pyarrow not installed")


@pytest.fixture
def stored(tmp_path):
    common = ["-w", "ridge", "--workload-param", "n=200", "--workload-param", "d=5", "--budget", "epochs=2",
              "--no-report", "-q"]
    run_cli("run", "-p", "sgd-serial", "--param", "eta=0.05", "--param", "b=2", "--seeds", "2", *common, check=True)
    run_cli("run", "-p", "svrg-serial", "--param", "eta=0.02", "--param", "m=50", *common, check=True)
    run_cli("theory", "check", "3", check=True)  # a stored verdict for the svrg run
    return tmp_path


def test_parquet_export_one_column_per_parameter(stored):
    import pandas as pd

    out = stored / "points.parquet"
    run_cli("runs", "export", str(out), check=True)
    df = pd.read_parquet(out)
    assert set(df["run_id"]) == {1, 2, 3}
    for col in ("suite", "run_key", "git_commit", "status", "plugin", "workers", "seed", "updates", "subopt",
                "param.eta", "param.b", "param.m", "param.schedule", "workload.n", "workload.d", "workload.lam"):
        assert col in df.columns, (col, list(df.columns))
    sgd = df[df["plugin"] == "sgd-serial"]
    assert set(sgd["param.eta"]) == {0.05} and set(sgd["param.b"]) == {2} and sgd["param.m"].isna().all()
    assert set(df["workload.n"]) == {200}
    assert df[df["plugin"] == "svrg-serial"]["param.m"].eq(50).all()
    assert len(df) == sum(len(g) for _, g in df.groupby("run_id")) and df.groupby("run_id").size().min() >= 5
    assert any(c.startswith("verdict.asysvrg") for c in df.columns)
    assert (df["measured_s"] > 0).all() and "eval_s" in df.columns
    assert df["info.eval_seconds"].notna().all()                       # the run's scalar facts, one column each


def test_export_filters_and_runs_only(stored):
    import pandas as pd

    out = stored / "runs.parquet"
    run_cli("runs", "export", str(out), "--plugin", "sgd-serial", "--runs-only", check=True)
    df = pd.read_parquet(out)
    assert list(df["run_id"]) == [1, 2] and set(df["plugin"]) == {"sgd-serial"}
    assert df["final.subopt"].notna().all() and list(df["seed"]) == [0, 1]
    csv_out = stored / "svrg.csv"
    run_cli("runs", "export", str(csv_out), "--plugin", "svrg-serial", check=True)
    assert set(pd.read_csv(csv_out)["plugin"]) == {"svrg-serial"}


def test_results_load(stored):
    from harness.analysis import results

    runs = results.load(stored / "results.db")
    assert list(runs["run_id"]) == [1, 2, 3] and runs.loc[2, "param.m"] == 50
    pts = results.load(stored / "results.db", points=True, plugin="sgd-serial")
    assert set(pts["run_id"]) == {1, 2} and {"updates", "subopt", "param.eta"} <= set(pts.columns)
    assert pts.groupby("run_id")["updates"].apply(lambda s: s.is_monotonic_increasing).all()


def test_created_is_a_datetime_and_integer_columns_stay_integers(stored):
    """param.m is an integer that the SGD runs lack: Int64 with missing values, not float; created is
    a UTC timestamp in load(), in parquet and (ISO 8601 text) in CSV; the JSON export keeps Unix s."""
    import json

    import pandas as pd

    from harness.analysis.results import load

    runs = load()
    assert str(runs["param.m"].dtype) == "Int64" and runs["param.m"].isna().sum() == 2
    assert str(runs["workers"].dtype) == "Int64" and str(runs["param.eta"].dtype) == "float64"
    assert pd.api.types.is_datetime64_any_dtype(runs["created"]) and str(runs["created"].dt.tz) == "UTC"
    out = stored / "runs.parquet"
    run_cli("runs", "export", str(out), check=True)
    assert pd.api.types.is_datetime64_any_dtype(pd.read_parquet(out)["created"])
    csv = stored / "runs.csv"
    run_cli("runs", "export", str(csv), check=True)
    first = pd.read_csv(csv)["created"].iloc[0]
    assert pd.Timestamp(first).tzinfo is not None and str(first).startswith("20")
    js = stored / "runs.json"
    run_cli("runs", "export", str(js), check=True)
    assert isinstance(json.loads(js.read_text())["runs"][0]["created"], float)
