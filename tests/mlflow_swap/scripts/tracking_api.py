"""The fluent tracking API as scripts use it: experiments, a run as a context manager, reads."""

import mlflow

mlflow.set_experiment("swap-tracking")
with mlflow.start_run(run_name="r-baseline", tags={"team": "vision"}, description="first try") as run:
    assert mlflow.active_run().info.run_id == run.info.run_id
    assert run.info.status == "RUNNING"
    mlflow.log_param("lr", 0.01)
    mlflow.log_params({"epochs": 3, "optimizer": "adam"})
    for epoch in range(3):
        mlflow.log_metric("loss", 1.0 / (epoch + 1), step=epoch)
    mlflow.log_metric("lr_now", 0.001)
    mlflow.log_metric("lr_now", 0.0005, step=1, timestamp=1_700_000_000_000)
    mlflow.log_metrics({"acc": 0.91, "f1": 0.88})
    mlflow.set_tag("model", "cnn")
    mlflow.set_tags({"data": "v2", "temp": "x"})
    mlflow.delete_tag("temp")
    run_id = run.info.run_id

assert mlflow.active_run() is None
finished = mlflow.get_run(run_id)
assert finished.info.status == "FINISHED", finished.info.status
assert finished.info.end_time >= finished.info.start_time > 1e12  # milliseconds
assert finished.info.run_name == "r-baseline"
assert finished.data.metrics == {"loss": 1.0 / 3, "lr_now": 0.0005, "acc": 0.91, "f1": 0.88}
assert finished.data.params == {"lr": "0.01", "epochs": "3", "optimizer": "adam"}
assert finished.data.tags["team"] == "vision" and "temp" not in finished.data.tags
assert finished.data.tags["mlflow.note.content"] == "first try"
history = mlflow.MlflowClient().get_metric_history(run_id, "lr_now")
assert sorted((m.step, m.value) for m in history) == [(0, 0.001), (1, 0.0005)]
assert [m.timestamp for m in history if m.step == 1] == [1_700_000_000_000]
assert mlflow.last_active_run().info.run_id == run_id

created = mlflow.create_experiment("swap-created")
assert mlflow.get_experiment(created).name == "swap-created"
assert mlflow.get_experiment_by_name("swap-created").experiment_id == created
assert mlflow.get_experiment_by_name("no-such-experiment") is None
with mlflow.start_run(experiment_id=created, run_name="r-in-created"):
    mlflow.log_metric("score", 2.0)

try:
    with mlflow.start_run(run_name="r-fails"):
        mlflow.log_param("will", "fail")
        raise ValueError("boom")
except ValueError:
    pass
failed = mlflow.search_runs(filter_string="attributes.run_name = 'r-fails'", output_format="list")
assert [r.info.status for r in failed] == ["FAILED"]

frame = mlflow.search_runs(experiment_names=["swap-tracking"])
assert {"run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time",
        "metrics.loss", "params.lr", "tags.team"} <= set(frame.columns), list(frame.columns)
assert len(frame) == 2
best = mlflow.search_runs(filter_string="metrics.acc > 0.9", order_by=["metrics.acc DESC"], output_format="list")
assert [r.info.run_name for r in best] == ["r-baseline"]
print("ok")
