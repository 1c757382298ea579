"""MLflow 3's log_model links the run's metrics to the model by logging them again with its
model_id: on the plugin route the run keeps each point once, as MLflow's own sqlite store does."""

from __future__ import annotations

from typing import Any

import pytest

mlflow = pytest.importorskip("mlflow", reason="mlflow is in the test extra: pip install -e .[test]")
pytest.importorskip("sklearn", reason="scikit-learn makes the logged model")

from mlflow.entities import Metric  # noqa: E402
from mlflow.sklearn import log_model  # noqa: E402
from sklearn.linear_model import Ridge  # noqa: E402

import tracklog  # noqa: E402


def _after_log_model(uri: str) -> dict[str, Any]:
    """A metric, then log_model, then a new metric given the model's id: what MLflow reads back."""
    mlflow.set_tracking_uri(uri)
    try:
        with mlflow.start_run() as run:
            mlflow.log_metric("alpha", 0.03)
            model = log_model(
                Ridge().fit([[0], [1]], [0, 1]), name="model", pip_requirements=["scikit-learn"]
            )
            mlflow.log_metric("r2", 0.5, step=1, model_id=model.model_id)
        client = mlflow.MlflowClient()
        run_id = run.info.run_id
        linked = client.get_logged_model(model.model_id).metrics
        (searched,) = client.search_logged_models([run.info.experiment_id])
        return {
            "run_id": run_id,
            "history": {k: [(m.step, m.value) for m in client.get_metric_history(run_id, k)] for k in ("alpha", "r2")},
            "metrics": client.get_run(run_id).data.metrics,
            "linked": sorted((m.key, m.step, m.value, m.run_id == run_id) for m in linked),
            "searched": sorted((m.key, m.step, m.value) for m in searched.metrics),
        }
    finally:
        mlflow.set_tracking_uri(None)


def test_log_model_links_the_runs_metrics_without_storing_them_twice(tmp_path) -> None:
    """One point per metric in the run's history, both linked to the model, as in MLflow's sqlite
    store; Azure's get_metrics() of the same run still reads the scalar 0.03, not a list."""
    ours = _after_log_model(f"tracklog:{tmp_path / 'ws'}")
    theirs = _after_log_model(f"sqlite:///{tmp_path / 'mlflow.db'}")
    expected = {
        "history": {"alpha": [(0, 0.03)], "r2": [(1, 0.5)]},
        "metrics": {"alpha": 0.03, "r2": 0.5},
        "linked": [("alpha", 0, 0.03, True), ("r2", 1, 0.5, True)],
        "searched": [("alpha", 0, 0.03), ("r2", 1, 0.5)],
    }
    assert {k: v for k, v in theirs.items() if k != "run_id"} == expected
    assert {k: v for k, v in ours.items() if k != "run_id"} == expected
    assert tracklog.Workspace(tmp_path / "ws").get_run(ours["run_id"]).get_metrics() == {"alpha": 0.03, "r2": 0.5}


def test_a_new_point_logged_with_a_model_id_is_kept_even_when_its_value_repeats(tmp_path) -> None:
    """Only an exact repeat (same step, value and time) is skipped: the same value at another
    step or time, given a model_id, is a point of its own."""
    client = mlflow.MlflowClient(f"tracklog:{tmp_path / 'ws'}")
    run_id = client.create_run(client.create_experiment("e")).info.run_id
    model_id = client.create_logged_model(client.get_run(run_id).info.experiment_id, source_run_id=run_id).model_id
    client.log_metric(run_id, "loss", 0.5, timestamp=1000, step=0)
    client.log_batch(run_id, metrics=[
        Metric("loss", 0.5, 1000, 0, model_id=model_id),
        Metric("loss", 0.5, 2000, 0, model_id=model_id),
        Metric("loss", 0.5, 1000, 1, model_id=model_id),
    ])
    history = [(m.step, m.timestamp) for m in client.get_metric_history(run_id, "loss")]
    assert sorted(history) == [(0, 1000), (0, 2000), (1, 1000)]
    assert len(client.get_logged_model(model_id).metrics) == 3
