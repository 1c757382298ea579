"""Azure ML v1 samples in the shape of MachineLearningNotebooks, with only the import swapped
(``from azureml.core import ...`` -> ``from tracklog import ...``); one unchanged under tracklog run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

import tracklog
from tracklog import (
    ActivityFailedException,
    Environment,
    Experiment,
    Model,
    PropertyConflictError,
    Run,
    ScriptRunConfig,
    Workspace,
)


def test_workspace_from_config_keeps_azure_names(tmp_path):
    assert Workspace.from_config().name == "local"  # no config: the default local workspace
    os.makedirs(".azureml")
    with open(".azureml/config.json", "w") as f:
        json.dump({"subscription_id": "sub", "resource_group": "rg", "workspace_name": "ws1"}, f)
    ws = Workspace.from_config()
    assert (ws.name, ws.subscription_id, ws.resource_group, ws.location) == ("ws1", "sub", "rg", "local")
    assert ws.path == str(tmp_path / ".tracklog")
    assert ws.get_details()["id"].endswith("/workspaces/ws1")
    assert ws.get_mlflow_tracking_uri() == "tracklog:" + ws.path
    written = Workspace.get("ws2", subscription_id="s", resource_group="r").write_config(path=str(tmp_path / "o"))
    again = Workspace.from_config(path=written)
    assert again.name == "ws2" and again.path == ws.path
    assert Workspace("sub", "rg", "ws3").name == "ws3"
    assert Workspace(again.get_mlflow_tracking_uri()).path == ws.path


def test_logging_api_notebook_tags_and_properties_after_completion():
    ws = Workspace.from_config()
    exp = Experiment(workspace=ws, name="logging-api-test")
    run = exp.start_logging(snapshot_directory=None)
    run.log(name="Accuracy", value=0.95)
    run.log_list(name="Fibonacci", value=[0, 1, 1, 2, 3, 5, 8])
    run.log_row(name="Cosine Wave", angle=0.5, cos=0.88)
    run.complete()
    fetched = Run(exp, run.id)
    fetched.tag("quality", "fantastic run")
    fetched.set_tags({"a": "1"})
    fetched.add_properties({"author": "azureml-user"})
    with pytest.raises(PropertyConflictError):
        fetched.add_properties({"author": "someone-else"})
    assert fetched.get_properties() == {"author": "azureml-user"} == fetched.properties
    assert "author" not in fetched.get_tags() and fetched.get_tags()["quality"] == "fantastic run"
    fetched.remove_tags(["a"])
    assert "a" not in fetched.get_tags()
    fetched.display_name = "renamed"
    fetched.description = "about it"
    assert (fetched.display_name, fetched.description, fetched.number) == ("renamed", "about it", 1)
    assert fetched.get_status() == "Completed" and fetched.type == "azureml.interactive"
    assert fetched.get_portal_url().endswith("/#/run/" + run.id)
    assert Run.get(ws, run.id) == run and list(Run.list(exp)) == [run]
    assert fetched.get_details()["properties"] == {"author": "azureml-user"}


def test_train_within_notebook_alpha_sweep_and_register_model():
    ws = Workspace.from_config()
    exp = Experiment(workspace=ws, name="train-within-notebook")
    best = None
    for alpha in (0.0, 0.5, 1.0):
        run = exp.start_logging()
        run.log("alpha_value", alpha)
        run.log("rmse", 1 + alpha)
        with open("outputs/model.pkl", "w") as f:  # start_logging made ./outputs
            f.write(f"alpha={alpha}")
        run.upload_file("outputs/model.pkl", "outputs/model.pkl")
        run.complete()
        best = best or run
    model = best.register_model(model_name="best_model", model_path="outputs/model.pkl", tags={"alpha": 0})
    assert (model.name, model.version, model.run_id) == ("best_model", 1, best.id)
    assert Model(ws, "best_model").version == 1 and [m.id for m in Model.list(ws)] == ["best_model:1"]
    assert open(model.download(target_dir="dl")).read() == "alpha=0.0"
    assert len(list(exp.get_runs())) == 3


def test_train_on_local_registers_a_model_path_written_with_dot_slash():
    """The train-on-local notebook's last cell: ``model_path='./outputs/...'`` names the run's
    file as download_file reads it, and so do ``outputs//x`` and ``outputs/./x``."""
    run = Experiment(Workspace.from_config(), "train-on-local").start_logging()
    with open("outputs/ridge_0.40.pkl", "w") as f:
        f.write("ridge")
    run.complete()
    model = run.register_model(model_name="best_ridge_model", model_path="./outputs/ridge_0.40.pkl")
    assert (model.version, open(model.download(target_dir="dl")).read()) == (1, "ridge")
    for spelling in ("outputs//ridge_0.40.pkl", "outputs/./ridge_0.40.pkl", "./outputs/"):
        assert run.register_model(model_name="best_ridge_model", model_path=spelling).run_id == run.id
    assert [m.version for m in Model.list(Workspace.from_config(), latest=False)] == [4, 3, 2, 1]
    with pytest.raises(FileNotFoundError):
        run.register_model(model_name="best_ridge_model", model_path="./outputs/missing.pkl")

def test_charts_read_back(tmp_path):
    run = Experiment(Workspace(), "charts").start_logging(outputs=None)
    cm = {"schema_type": "confusion_matrix", "schema_version": "1.0.0",
          "data": {"class_labels": ["a", "b"], "matrix": [[1, 0], [2, 3]]}}
    run.log_confusion_matrix("cm", cm)
    run.log_residuals("res", {"data": {"bin_edges": [0, 1, 2], "bin_counts": [3, 4]}})
    run.log_predictions("pred", {"data": {"bin_averages": [1], "bin_errors": [0.1], "bin_counts": [2], "bin_edges": [0, 1]}})
    run.log_accuracy_table("acc", {"data": {"probability_tables": [[[1, 0, 0, 1]]]}})
    with pytest.raises(ValueError):
        run.log_residuals("bad", {"data": {}})
    metrics = run.get_metrics()
    assert metrics["cm"]["data"]["matrix"] == [[1, 0], [2, 3]] and metrics["res"]["schema_type"] == "residuals"
    assert set(metrics) == {"cm", "res", "pred", "acc"}


def test_manage_runs_children_fail_and_wait():
    exp = Experiment(Workspace(), "manage-runs")
    parent = exp.start_logging(outputs=None)
    children = parent.create_children(count=3)
    for i, child in enumerate(children):
        child.log("i", i)
        child.complete()
    grand = children[0].child_run("grand")
    grand.complete()
    assert len(parent.get_children()) == 3 and len(parent.get_children(recursive=True)) == 4
    assert set(parent.get_metrics(recursive=True)) == {parent.id, grand.id, *(c.id for c in children)}
    assert [r.id for r in exp.get_runs()] == [parent.id]
    assert len(list(exp.get_runs(include_children=True))) == 5
    assert parent.child_run(run_id=grand.id.replace(grand.id, children[1].id)) == children[1]
    parent.fail(error_details="bad data", error_code="UserError")
    with pytest.raises(ActivityFailedException):
        parent.wait_for_completion()
    details = parent.wait_for_completion(raise_on_error=False)
    assert details["error"]["error"] == {"code": "UserError", "message": "bad data"}


def test_train_on_local_script_run_config(tmp_path, capsys):
    src = tmp_path / "scripts"
    src.mkdir()
    (src / "train.py").write_text(textwrap.dedent("""
        import os, sys
        from tracklog import Run
        run = Run.get_context()
        print("training with", sys.argv[1:])
        run.log("alpha", float(sys.argv[2]))
        os.makedirs("outputs", exist_ok=True)
        open("outputs/model.pkl", "w").write("m")
    """))
    (src / ".amlignore").write_text("*.big\n")
    (src / "data.big").write_text("x")
    env = Environment("user-managed-env")
    env.python.user_managed_dependencies = True
    exp = Experiment(Workspace(), "train-on-local")
    config = ScriptRunConfig(source_directory=str(src), script="train.py", arguments=["--alpha", 0.5], environment=env)
    run = exp.submit(config)
    details = run.wait_for_completion(show_output=True)
    assert details["status"] == "Completed" and run.get_status() == "Completed"
    assert "training with ['--alpha', '0.5']" in capsys.readouterr().out
    assert run.get_metrics() == {"alpha": 0.5}
    files = run.get_file_names()
    assert "outputs/model.pkl" in files and "snapshot/train.py" in files and "snapshot/data.big" not in files
    assert "training with" in run.get_details_with_logs()["logFiles"]["logs/std_log.txt"]
    restored = run.restore_snapshot(path=str(tmp_path / "restored"))
    assert os.path.isfile(os.path.join(restored, "train.py"))
    assert run.type == "azureml.scriptrun"
    assert run.download_files(prefix="outputs", output_directory=str(tmp_path / "d")) == [
        str(tmp_path / "d" / "outputs" / "model.pkl")]


def test_failing_submitted_script_fails_its_run(tmp_path):
    (tmp_path / "bad.py").write_text("raise SystemExit(3)\n")
    run = Experiment(Workspace(), "bad").submit(ScriptRunConfig(source_directory=str(tmp_path), script="bad.py"))
    assert run.wait_for_completion(raise_on_error=False)["status"] == "Failed"


def test_unchanged_v1_script_under_tracklog_run(tmp_path):
    """The zero-change path: azureml-core is not installed; tracklog run's stand-in serves it."""
    script = tmp_path / "hello.py"
    script.write_text(textwrap.dedent("""
        from azureml.core import Run
        run = Run.get_context()
        from azureml.core.run import Run as SameRun
        import azureml.core
        print("azureml.core", azureml.core.VERSION)
        for i in range(3):
            run.log("accuracy", 0.5 + i / 10)
        run.tag("kind", "v1")
    """))
    plain = subprocess.run([sys.executable, "-c", "import azureml.core"], capture_output=True)
    assert plain.returncode != 0  # never installed into site-packages
    done = subprocess.run([sys.executable, "-m", "tracklog", "run", "--", sys.executable, str(script)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    (run,) = tracklog.Workspace().get_runs()
    assert run.get_metrics() == {"accuracy": [0.5, 0.6, 0.7]} and run.get_tags()["kind"] == "v1"


def test_tracklog_models_lists_registered_versions(tmp_path):
    run = Experiment(Workspace(), "m").start_logging()
    with open("outputs/model.pkl", "w") as f:
        f.write("m")
    run.register_model("clf", "outputs/model.pkl")
    run.complete()
    done = subprocess.run([sys.executable, "-m", "tracklog", "models"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "clf" in done.stdout and "outputs/model.pkl" in done.stdout
