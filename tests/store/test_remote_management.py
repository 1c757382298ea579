"""``import tracklog as mlflow`` on an http(s) tracking URI: the management calls MLflow makes
over its REST API (delete, restore and rename a run, remove a tag; create one with tags,
tag, untag, rename, delete and restore an experiment) reach a real MLflow server, after what was logged before them."""

from __future__ import annotations

import time

import pytest

import tracklog as mlflow
from tracklog.exceptions import MlflowException
from tracklog.pipeline.event import TAG, Event

from .conftest import mlflow_id, unique


@pytest.fixture
def swap(mlflow_uri):
    mlflow.set_tracking_uri(mlflow_uri)
    mlflow.set_experiment(unique())
    yield mlflow.MlflowClient()
    while mlflow.active_run() is not None:
        mlflow.end_run()


def test_delete_run_and_restore_run_reach_the_server(swap, mlflow_client):
    with mlflow.start_run() as kept:
        pass
    with mlflow.start_run() as gone:
        mlflow.log_metric("loss", 0.5)
    experiment_id = mlflow.get_run(gone.info.run_id).info.experiment_id
    server_id = mlflow_id(mlflow_client, gone.info.run_id)
    swap.delete_run(gone.info.run_id)
    assert mlflow_client.get_run(server_id).info.lifecycle_stage == "deleted"
    assert mlflow.get_run(gone.info.run_id).info.lifecycle_stage == "deleted"
    listed = [r.info.run_id for r in mlflow.search_runs([experiment_id], output_format="list")]
    assert listed == [kept.info.run_id]
    mlflow.restore_run(gone.info.run_id)
    assert mlflow_client.get_run(server_id).info.lifecycle_stage == "active"
    assert mlflow.get_run(gone.info.run_id).data.metrics == {"loss": 0.5}
    assert len(mlflow.search_runs([experiment_id], output_format="list")) == 2


def test_delete_tag_right_after_set_tag_is_not_overtaken_by_it(swap, mlflow_client):
    """The queued set_tag reaches the server first, so the tag is gone, in MLflow's view too."""
    with mlflow.start_run() as run:
        mlflow.set_tags({"x": "y", "kept": "1"})
        mlflow.delete_tag("x")
    tags = mlflow_client.get_run(mlflow_id(mlflow_client, run.info.run_id)).data.tags
    assert "x" not in tags and tags["kept"] == "1"
    with pytest.raises(MlflowException) as missing:
        swap.delete_tag(run.info.run_id, "x")
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_the_stores_delete_tags_waits_for_the_tag_still_in_the_spool(mlflow_uri, mlflow_client):
    """Without any flush: the store delivers what it spooled before the call goes out."""
    run = mlflow.Experiment(mlflow.Workspace(mlflow_uri), unique()).start_logging()
    store = run.workspace.store
    store.write_batch([Event(run.id, TAG, "x", "y", None, time.time())])
    store.delete_tags(run.id, ["x"])
    run.complete()
    assert "x" not in mlflow_client.get_run(mlflow_id(mlflow_client, run.id)).data.tags
    assert "x" not in run.get_tags()


def test_update_run_name_and_azure_display_name_rename_the_run_on_the_server(swap, mlflow_client):
    with mlflow.start_run(run_name="before") as run:
        mlflow.log_param("p", 1)
        swap.update_run(run.info.run_id, name="after")
        assert mlflow.active_run().info.run_name == "after"
    server_run = mlflow_client.get_run(mlflow_id(mlflow_client, run.info.run_id))
    assert (server_run.info.run_name, server_run.data.tags["mlflow.runName"]) == ("after", "after")
    assert mlflow.get_run(run.info.run_id).info.run_name == "after"
    azure = mlflow.Run(mlflow.Experiment(mlflow.Workspace(), "unused"), run.info.run_id)
    azure.display_name = "third"
    assert mlflow_client.get_run(server_run.info.run_id).info.run_name == "third"


def test_set_experiment_tag_reaches_a_new_experiment_and_reads_back(mlflow_uri, mlflow_client):
    """set_experiment's creation is queued; the tag waits for it, and both views read it."""
    mlflow.set_tracking_uri(mlflow_uri)
    name = unique()
    mlflow.set_experiment(name)
    mlflow.set_experiment_tag("team", "vision")
    mlflow.set_experiment_tags({"stage": 2})
    assert mlflow_client.get_experiment_by_name(name).tags == {"team": "vision", "stage": "2"}
    assert mlflow.get_experiment_by_name(name).tags == {"team": "vision", "stage": "2"}


def test_rename_experiment_on_the_server_and_its_old_name_is_free_again(mlflow_uri, mlflow_client):
    mlflow.set_tracking_uri(mlflow_uri)
    old, new, taken = unique(), unique(), unique()
    mlflow.set_experiment(old)
    with mlflow.start_run() as first:
        pass
    client = mlflow.MlflowClient()
    client.create_experiment(taken)
    experiment_id = mlflow.get_experiment_by_name(old).experiment_id
    client.rename_experiment(experiment_id, new)
    assert mlflow_client.get_experiment(experiment_id).name == new
    assert mlflow.get_experiment(experiment_id).name == new and mlflow.get_experiment_by_name(old) is None
    with pytest.raises(MlflowException) as refused:
        client.rename_experiment(experiment_id, taken)
    assert refused.value.error_code == "BAD_REQUEST"  # MLflow's SQL store: a UNIQUE constraint
    mlflow.set_experiment(old)  # made anew, as MLflow does: not the renamed one
    with mlflow.start_run() as second:
        pass
    again = mlflow_client.get_experiment_by_name(old)
    assert again is not None and again.experiment_id != experiment_id
    assert mlflow_client.get_run(mlflow_id(mlflow_client, second.info.run_id)).info.experiment_id == again.experiment_id
    assert mlflow.get_run(first.info.run_id).info.experiment_id == experiment_id


def test_create_experiment_with_tags_and_a_location_reaches_the_server(swap, mlflow_client):
    """MLflow's docstring shape: create_experiment(name, artifact_location, tags); the name
    taken is MLflow's RESOURCE_ALREADY_EXISTS."""
    name = unique()
    experiment_id = swap.create_experiment(name, artifact_location="s3://bucket/exp", tags={"team": "nlp"})
    seen = mlflow_client.get_experiment_by_name(name)
    assert seen.experiment_id == experiment_id
    assert seen.tags["team"] == "nlp" and seen.artifact_location == "s3://bucket/exp"
    assert mlflow.get_experiment(experiment_id).tags["team"] == "nlp"
    with pytest.raises(MlflowException) as taken:
        swap.create_experiment(name)
    assert taken.value.error_code == "RESOURCE_ALREADY_EXISTS"


def test_delete_experiment_tag_and_delete_and_restore_experiment_reach_the_server(swap, mlflow_client):
    name = unique()
    experiment_id = swap.create_experiment(name, tags={"a": "1", "b": "2"})
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_metric("m", 1.0)
    server_id = mlflow_id(mlflow_client, run.info.run_id)
    swap.delete_experiment_tag(experiment_id, "a")
    assert set(mlflow_client.get_experiment(experiment_id).tags) >= {"b"}
    assert "a" not in mlflow_client.get_experiment(experiment_id).tags
    swap.delete_experiment(experiment_id)
    assert mlflow_client.get_experiment(experiment_id).lifecycle_stage == "deleted"
    assert mlflow.get_experiment(experiment_id).lifecycle_stage == "deleted"
    assert mlflow_client.get_run(server_id).info.lifecycle_stage == "deleted"
    swap.restore_experiment(experiment_id)
    assert mlflow_client.get_experiment(experiment_id).lifecycle_stage == "active"
    assert mlflow.get_run(run.info.run_id).info.lifecycle_stage == "active"
    assert mlflow.get_run(run.info.run_id).data.metrics == {"m": 1.0}
