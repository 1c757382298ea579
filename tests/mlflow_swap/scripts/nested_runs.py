"""Nested runs in the style of mlflow/examples/hyperparam: a parent run, one child per trial."""

import mlflow

mlflow.set_experiment("swap-nested")
with mlflow.start_run(run_name="r-search") as parent:
    mlflow.log_param("strategy", "grid")
    best = None
    for i, alpha in enumerate([0.1, 0.5, 1.0]):
        with mlflow.start_run(run_name=f"r-alpha-{i}", nested=True):
            mlflow.log_param("alpha", alpha)
            rmse = (alpha - 0.4) ** 2
            mlflow.log_metric("rmse", rmse)
            best = rmse if best is None else min(best, rmse)
        assert mlflow.active_run().info.run_id == parent.info.run_id
    mlflow.log_metric("best_rmse", best)
    try:
        mlflow.start_run(run_name="r-never")
    except Exception as exc:
        assert "already active" in str(exc) and "nested=True" in str(exc), exc
    else:
        raise SystemExit("start_run inside an active run must raise")

children = mlflow.search_runs(
    filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'", output_format="list"
)
assert sorted(c.info.run_name for c in children) == ["r-alpha-0", "r-alpha-1", "r-alpha-2"]
assert all(c.info.status == "FINISHED" for c in children)

with mlflow.start_run(run_name="r-late-child", parent_run_id=parent.info.run_id):
    mlflow.log_metric("late", 1)
late = mlflow.search_runs(filter_string="attributes.run_name = 'r-late-child'", output_format="list")[0]
assert late.data.tags["mlflow.parentRunId"] == parent.info.run_id
print("ok")
