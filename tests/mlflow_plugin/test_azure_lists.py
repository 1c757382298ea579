"""An Azure ML v1 script's list metric, read back through MLflow: a series whose last
value is among the run's metrics, as the MLflow server holds it (the sync maps it so)."""

from __future__ import annotations

import pytest

mlflow = pytest.importorskip("mlflow", reason="mlflow is in the test extra: pip install -e .[test]")

import tracklog  # noqa: E402


def test_an_azure_list_metric_is_a_series_with_its_last_value_among_the_runs_metrics(tmp_path) -> None:
    ws = tracklog.Workspace(str(tmp_path / "ws"))
    run = tracklog.Experiment(ws, "azure-notebook").start_logging()
    run.log("loss", 0.5)
    run.log_list("accuracies", [0.6, 0.7, 0.8])
    run.complete()
    mlflow.set_tracking_uri(f"tracklog:{tmp_path / 'ws'}")
    try:
        seen = mlflow.get_run(run.id).data.metrics
        history = [(m.step, m.value) for m in mlflow.MlflowClient().get_metric_history(run.id, "accuracies")]
        found = mlflow.search_runs(experiment_names=["azure-notebook"], filter_string="metrics.accuracies > 0.7")
    finally:
        mlflow.set_tracking_uri(None)
    assert seen == {"loss": 0.5, "accuracies": 0.8}
    assert history == [(0, 0.6), (1, 0.7), (2, 0.8)]
    assert list(found["run_id"]) == [run.id]
    import tracklog as swapped

    swapped.set_tracking_uri(f"tracklog:{tmp_path / 'ws'}")
    assert swapped.get_run(run.id).data.metrics == {"loss": 0.5, "accuracies": 0.8}
