"""Azure child runs seen through the swap's MlflowClient: named and nested as MLflow's own children."""

from __future__ import annotations

import tracklog
from tracklog.tracking import MlflowClient


def test_azure_child_runs_carry_mlflows_parent_and_name_tags(tmp_path):
    """child_run and create_children: mlflow.parentRunId and mlflow.runName, found by search_runs."""
    ws = tracklog.Workspace(tmp_path / "ws")
    parent = tracklog.Experiment(ws, "az-children").start_logging()
    parent.display_name = "parent-run"
    child = parent.child_run("fold-1")
    child.complete()
    (made,) = parent.create_children(count=1)
    made.complete()
    parent.complete()
    client = MlflowClient(f"tracklog:{ws.path}")
    experiment_id = client.get_experiment_by_name("az-children").experiment_id
    found = client.search_runs([experiment_id], f"tags.`mlflow.parentRunId` = '{parent.id}'")
    assert sorted(r.info.run_id for r in found) == sorted([child.id, made.id])
    assert client.get_run(child.id).data.tags["mlflow.runName"] == "fold-1"
    assert client.get_run(parent.id).data.tags["mlflow.runName"] == "parent-run"
    assert "mlflow.parentRunId" not in client.get_run(parent.id).data.tags
    assert client.get_parent_run(child.id).info.run_id == parent.id
    assert len(client.search_runs([experiment_id], "tags.`mlflow.runName` = 'fold-1'")) == 1
