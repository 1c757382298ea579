"""The MLflow-style module functions write the same runs as the Azure-style API."""

from __future__ import annotations

import pytest

import tracklog


def test_mlflow_script_with_only_its_import_changed(tmp_path):
    """A typical MLflow script runs unchanged against tracklog and the run reads back."""
    mlflow = tracklog
    mlflow.set_tracking_uri(str(tmp_path / "ws"))
    mlflow.set_experiment("mnist")
    with mlflow.start_run(run_name="baseline", tags={"team": "vision"}) as run:
        mlflow.log_param("lr", 0.01)
        mlflow.log_params({"epochs": 3, "batch": 64})
        for epoch in range(3):
            mlflow.log_metric("loss", 1.0 / (epoch + 1), step=epoch)
        mlflow.log_metrics({"acc": 0.9, "f1": 0.8})
        mlflow.set_tag("model", "cnn")
        mlflow.set_tags({"data": "v2"})
        assert mlflow.active_run().info.run_id == run.id
    assert mlflow.active_run() is None
    fetched = tracklog.Workspace(tmp_path / "ws").get_run(run.id)
    assert fetched.experiment.name == "mnist"
    assert fetched.status == "Completed"
    assert fetched.get_metrics() == {"loss": [1.0, 0.5, 1.0 / 3], "acc": 0.9, "f1": 0.8}
    assert fetched.get_params() == {"lr": "0.01", "epochs": "3", "batch": "64"}
    assert fetched.get_tags()["model"] == "cnn" and fetched.get_tags()["team"] == "vision"


def test_start_run_while_active_needs_nested(tmp_path):
    """start_run() with an active run raises; nested=True makes a child run."""
    tracklog.set_tracking_uri(str(tmp_path / "ws"))
    parent = tracklog.start_run()
    with pytest.raises(tracklog.ActiveRunError, match="nested=True"):
        tracklog.start_run()
    child = tracklog.start_run(nested=True)
    assert child.parent.id == parent.id
    tracklog.end_run()
    assert tracklog.active_run().id == parent.id
    tracklog.end_run(status="KILLED")
    assert parent.status == "Canceled" and child.status == "Completed"


def test_end_run_failed_and_unknown_status(tmp_path):
    """end_run('FAILED') marks the run Failed; an unknown status word is refused."""
    tracklog.set_tracking_uri(str(tmp_path / "ws"))
    run = tracklog.start_run()
    with pytest.raises(ValueError, match="FINISHED"):
        tracklog.end_run(status="DONE")
    tracklog.end_run(status="FAILED")
    assert run.status == "Failed"


def test_both_vocabularies_write_the_same_run(tmp_path):
    """A run started MLflow-style is the current run for the Azure-style API, and vice versa."""
    tracklog.set_tracking_uri(str(tmp_path / "ws"))
    with tracklog.start_run() as run:
        tracklog.Run.get_context().log("azure", 1)
        tracklog.log_metric("mlflow", 2)
    assert run.get_metrics() == {"azure": 1, "mlflow": 2}


def test_under_tracklog_run_each_top_level_start_run_is_a_child_of_its_run(tmp_path, monkeypatch):
    """Inside `tracklog run` (TRACKLOG_RUN_ID set) a script's runs are children of that run, as
    on the MLflow plugin route: a sweep's loop starts one per value, in its own experiment."""
    ws = tracklog.Workspace(tmp_path / "ws")
    outer = tracklog.Experiment(ws, "e").start_logging()
    from tracklog.pipeline import current as _context

    _context.reset()
    monkeypatch.setenv("TRACKLOG_RUN_ID", outer.id)
    monkeypatch.setenv("TRACKLOG_WORKSPACE", ws.path)
    with tracklog.start_run() as first:
        tracklog.log_metric("x", 1)
    tracklog.set_experiment("sweep")
    for alpha in (0.1, 0.2):
        with tracklog.start_run(run_name=f"alpha-{alpha}"):
            tracklog.log_param("alpha", alpha)
    children = {child.name: child for child in outer.get_children()}
    assert len(children) == 3 and first.id != outer.id
    assert first.experiment.name == "e" and first.get_metrics() == {"x": 1}
    assert {children[f"alpha-{a}"].experiment.name for a in (0.1, 0.2)} == {"sweep"}
    assert outer.get_metrics() == {}


def test_start_run_by_id_reopens_a_finished_run(tmp_path):
    """start_run(run_id=...) resumes an ended run, as MLflow does."""
    tracklog.set_tracking_uri(str(tmp_path / "ws"))
    with tracklog.start_run() as first:
        tracklog.log_metric("x", 1)
    with tracklog.start_run(run_id=first.id):
        tracklog.log_metric("x", 2)
    assert first.get_metrics()["x"] == [1, 2]
    assert first.status == "Completed"
