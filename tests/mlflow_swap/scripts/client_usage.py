"""MlflowClient as scripts use it: create runs by hand, log_batch, read back, end them."""

import os
import tempfile
import time

import mlflow
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

client = MlflowClient()
exp_id = client.create_experiment("swap-client", tags={"owner": "team-a"})
assert client.get_experiment(exp_id).tags["owner"] == "team-a"
run = client.create_run(exp_id, run_name="r-client", tags={"kind": "manual"})
rid = run.info.run_id
assert run.info.status == "RUNNING" and run.info.run_name == "r-client"

client.log_param(rid, "n", 3)
for step in range(4):
    client.log_metric(rid, "m", step * 0.5, step=step)
now = int(time.time() * 1000)
client.log_batch(
    rid,
    metrics=[Metric("b1", 1.0, now, 0), Metric("b1", 2.0, now, 1)],
    params=[Param("p1", "x")],
    tags=[RunTag("t1", "y")],
)
client.set_tag(rid, "temp", "z")
client.delete_tag(rid, "temp")
history = client.get_metric_history(rid, "m")
assert [(h.step, h.value) for h in history] == [(0, 0.0), (1, 0.5), (2, 1.0), (3, 1.5)]

with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "notes.txt")
    with open(path, "w") as f:
        f.write("notes")
    client.log_artifact(rid, path)
    client.log_artifact(rid, path, artifact_path="docs")
assert sorted(f.path for f in client.list_artifacts(rid)) == ["docs", "notes.txt"]
assert [(f.path, f.is_dir) for f in client.list_artifacts(rid, "docs")] == [("docs/notes.txt", False)]
with tempfile.TemporaryDirectory() as folder:
    local = client.download_artifacts(rid, "docs/notes.txt", folder)
    with open(local) as f:
        assert f.read() == "notes"

client.set_terminated(rid, "FINISHED")
done = client.get_run(rid)
assert done.info.status == "FINISHED" and done.info.end_time is not None
assert done.data.params == {"n": "3", "p1": "x"}
assert done.data.metrics == {"m": 1.5, "b1": 2.0}
assert done.data.tags["t1"] == "y" and done.data.tags["kind"] == "manual" and "temp" not in done.data.tags
assert [r.info.run_id for r in client.search_runs([exp_id], "params.n = '3'")] == [rid]
assert [e.name for e in client.search_experiments(filter_string="name = 'swap-client'")] == ["swap-client"]

second = mlflow.tracking.MlflowClient().create_run(exp_id, run_name="r-killed")
mlflow.tracking.MlflowClient().set_terminated(second.info.run_id, "KILLED")
assert client.get_run(second.info.run_id).info.status == "KILLED"
print("ok")
