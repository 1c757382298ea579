"""MLflow's default experiment "0" on the plugin route: a new workspace's Default has that
id, and "0" stays experiment 0 after a rename, as on MLflow's own stores."""

from __future__ import annotations

import pytest

mlflow = pytest.importorskip("mlflow", reason="mlflow is in the test extra: pip install -e .[test]")


def test_experiment_0_is_the_default_and_stays_itself_after_a_rename(tmp_path) -> None:
    mlflow.set_tracking_uri(f"tracklog:{tmp_path / 'ws'}")
    try:
        with mlflow.start_run() as run:
            mlflow.log_metric("loss", 0.5)
        client = mlflow.MlflowClient()
        assert run.info.experiment_id == "0"
        assert client.get_experiment("0").name == "Default"
        client.create_experiment("other")
        client.rename_experiment("0", "baseline")
        assert client.get_experiment("0").name == "baseline"
        found = client.search_runs(["0"])
        names = sorted((e.experiment_id, e.name) for e in client.search_experiments())
    finally:
        mlflow.set_tracking_uri(None)
    assert [r.info.run_id for r in found] == [run.info.run_id]
    assert names == [("0", "baseline"), ("1", "other")]


def test_a_new_workspace_lists_default_as_experiment_0_as_mlflows_store_does(tmp_path) -> None:
    """MLflow's stores always hold experiment 0: search_experiments lists it, and so pages on."""
    listed = {}
    for uri in (f"sqlite:///{tmp_path / 'mlflow.db'}", f"tracklog:{tmp_path / 'ws'}"):
        client = mlflow.MlflowClient(uri)
        client.create_experiment("mine")
        first = client.search_experiments(max_results=1)
        listed[uri.split(":")[0]] = (
            sorted((e.experiment_id, e.name) for e in client.search_experiments()), len(first), first.token is not None,
        )
    assert listed["tracklog"] == listed["sqlite"] == ([("0", "Default"), ("1", "mine")], 1, True)
