"""The remote store as MLflow users see it: read back with MLflow's own client."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time

import tracklog
from tracklog.handlers import RunHandler
from tracklog.store import MLflowStore, SQLiteStore

from ..conftest import python_env
from .conftest import mlflow_id, unique


def _artifacts(client, run_id: str, path: str | None = None) -> list[str]:
    run_id = mlflow_id(client, run_id) if path is None else run_id
    found = []
    for entry in client.list_artifacts(run_id, path):
        found.extend(_artifacts(client, run_id, entry.path) if entry.is_dir else [entry.path])
    return sorted(found)


def _download(client, run_id: str, path: str, tmp_path) -> bytes:
    from mlflow.artifacts import download_artifacts

    local = download_artifacts(run_id=mlflow_id(client, run_id), artifact_path=path, dst_path=str(tmp_path / "dl"),
                               tracking_uri=client.tracking_uri)
    with open(local, "rb") as handle:
        return handle.read()


def test_mlflow_client_sees_metrics_params_tags_files_and_children(mlflow_uri, mlflow_client, tmp_path, monkeypatch):
    """Everything logged through tracklog reads back with MlflowClient as MLflow data."""
    ws = tracklog.Workspace(mlflow_uri)
    exp = tracklog.Experiment(ws, unique())
    run = exp.start_logging("seen")
    for step in range(50):
        run.log("loss", 1.0 / (step + 1))
    run.log_list("acc", [0.1, 0.2])
    run.log_row("Wave", angle=0.5, sin=0.48, label="a")
    run.log("note", "text value")
    run.tag("team", "vision")
    run.log_param("lr", 0.01)
    (tmp_path / "cfg.yaml").write_text("a: 1\n")
    run.upload_file("outputs/cfg.yaml", str(tmp_path / "cfg.yaml"))
    logger = logging.getLogger(unique("app"))
    logger.addHandler(RunHandler(run))
    logger.warning("hello from %s", "tracklog")
    child = run.child_run("child")
    child.log("c", 1)
    child.complete()
    run.complete()

    seen = mlflow_client.get_run(mlflow_id(mlflow_client, run.id))
    assert seen.info.status == "FINISHED" and seen.info.run_name == "seen"
    assert seen.data.params == {"lr": "0.01"}
    assert seen.data.tags["team"] == "vision"
    history = mlflow_client.get_metric_history(mlflow_id(mlflow_client, run.id), "loss")
    assert sorted((m.step, m.value) for m in history) == [(s, 1.0 / (s + 1)) for s in range(50)]
    assert sorted((m.step, m.value) for m in mlflow_client.get_metric_history(mlflow_id(mlflow_client, run.id), "acc")) == [(0, 0.1), (1, 0.2)]
    assert [(m.step, m.value) for m in mlflow_client.get_metric_history(mlflow_id(mlflow_client, run.id), "Wave.angle")] == [(0, 0.5)]
    assert {"logs/python.log", "outputs/cfg.yaml", "tables/Wave.json", "metrics/note.jsonl"} <= set(
        _artifacts(mlflow_client, run.id)
    )
    log_lines = _download(mlflow_client, run.id, "logs/python.log", tmp_path).splitlines()
    assert json.loads(log_lines[0])["message"] == "hello from tracklog"
    child_tags = mlflow_client.get_run(mlflow_id(mlflow_client, child.id)).data.tags
    assert child_tags["mlflow.parentRunId"] == mlflow_id(mlflow_client, run.id)  # MLflow's UI nests it
    assert child_tags["tracklog._parent"] == run.id

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)  # load_table searches with the global URI
    table = mlflow_client.load_table(exp.id, "tables/Wave.json", run_ids=[mlflow_id(mlflow_client, run.id)])
    assert list(table.columns) == ["angle", "sin", "label"] and table["label"].tolist() == ["a"]


def test_run_statuses_map_to_mlflow_statuses(mlflow_uri, mlflow_client):
    """Completed, Failed and Canceled become FINISHED, FAILED and KILLED."""
    exp = tracklog.Experiment(tracklog.Workspace(mlflow_uri), unique())
    runs = [exp.start_logging(name) for name in ("done", "failed", "canceled")]
    runs[0].complete()
    runs[1].fail("bad input")
    runs[2].cancel()
    statuses = [mlflow_client.get_run(mlflow_id(mlflow_client, r.id)).info.status for r in runs]
    assert statuses == ["FINISHED", "FAILED", "KILLED"]
    assert mlflow_client.get_run(mlflow_id(mlflow_client, runs[1].id)).info.end_time is not None
    assert runs[1].info.error == "bad input"


def test_tracking_uri_selects_the_remote_store(mlflow_uri, tmp_path, monkeypatch):
    """set_tracking_uri, TRACKLOG_TRACKING_URI and an http MLFLOW_TRACKING_URI select the server."""
    from tracklog import workspace as workspace_module

    assert isinstance(tracklog.Workspace(mlflow_uri).store, MLflowStore)
    tracklog.set_tracking_uri(mlflow_uri)
    assert isinstance(tracklog.Workspace().store, MLflowStore)
    assert tracklog.get_tracking_uri() == mlflow_uri
    assert os.environ["TRACKLOG_TRACKING_URI"] == mlflow_uri  # for the processes it starts
    workspace_module.set_default_location(None)
    monkeypatch.delenv("TRACKLOG_TRACKING_URI")

    monkeypatch.setenv("TRACKLOG_WORKSPACE", str(tmp_path / "local"))
    assert isinstance(tracklog.Workspace().store, SQLiteStore)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db")  # MLflow's own backend: ignored
    assert isinstance(tracklog.Workspace().store, SQLiteStore)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
    assert tracklog.Workspace().path == mlflow_uri
    monkeypatch.setenv("TRACKLOG_TRACKING_URI", str(tmp_path / "first"))
    assert tracklog.Workspace().path == str(tmp_path / "first")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.setenv("TRACKLOG_TRACKING_URI", mlflow_uri)
    with tracklog.start_run() as run:
        tracklog.log_metric("m", 1)
    assert isinstance(run.workspace.store, MLflowStore)


def test_log_files_are_uploaded_while_the_run_lives(mlflow_uri, mlflow_client, monkeypatch):
    """Without any flush, logs/python.log reaches the server within the upload interval."""
    monkeypatch.setenv("TRACKLOG_UPLOAD_INTERVAL", "0.5")
    run = tracklog.Experiment(tracklog.Workspace(mlflow_uri), unique()).start_logging("live")
    logger = logging.getLogger(unique("live"))
    logger.addHandler(RunHandler(run))
    logger.warning("first")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (
        mlflow_id(mlflow_client, run.id) == run.id  # the sender has not created the run yet
        or "logs/python.log" not in _artifacts(mlflow_client, run.id)
    ):
        time.sleep(0.2)
    assert "logs/python.log" in _artifacts(mlflow_client, run.id), "log file not uploaded while the run lives"
    logger.warning("second")
    run.complete()
    assert [r["message"] for r in run.get_logs()] == ["first", "second"]


def test_log_batch_limits_are_respected_for_large_batches(mlflow_uri, mlflow_client):
    """Thousands of points, hundreds of tags and params arrive whole (log-batch limits: 1000/100/100)."""
    run = tracklog.Experiment(tracklog.Workspace(mlflow_uri), unique()).start_logging("big")
    logger = logging.getLogger(unique("big"))
    logger.setLevel(logging.INFO)
    logger.addHandler(RunHandler(run))
    logger.info("many", extra={"tags": {f"t{i}": "v" * 100 for i in range(250)},
                               "params": {f"p{i}": str(i) for i in range(150)}})
    for step in range(2500):
        run.log("m", float(step))
    run.complete()
    seen = mlflow_client.get_run(mlflow_id(mlflow_client, run.id))
    assert len(mlflow_client.get_metric_history(mlflow_id(mlflow_client, run.id), "m")) == 2500
    assert len([k for k in seen.data.tags if k[0] == "t" and k[1:].isdigit()]) == 250
    assert len(seen.data.params) == 150


def test_conflicting_param_in_a_record_is_reported_and_other_data_kept(mlflow_uri, mlflow_client, caplog):
    """A record re-setting a param warns (as on SQLite); its metric and the rest still arrive."""
    run = tracklog.Experiment(tracklog.Workspace(mlflow_uri), unique()).start_logging("conflict")
    run.log_param("lr", "0.1")
    logger = logging.getLogger(unique("conflict"))
    logger.setLevel(logging.INFO)
    logger.addHandler(RunHandler(run))
    with caplog.at_level(logging.WARNING, logger="tracklog"):
        logger.info("x", extra={"params": {"lr": "0.2", "other": "1"}, "metric": "m", "value": 3})
        run.flush()
    run.complete()
    seen = mlflow_client.get_run(mlflow_id(mlflow_client, run.id))
    assert seen.data.params == {"lr": "0.1", "other": "1"}
    assert [m.value for m in mlflow_client.get_metric_history(mlflow_id(mlflow_client, run.id), "m")] == [3.0]
    assert any("refused params lr" in r.getMessage() for r in caplog.records)


def test_tracklog_run_logs_a_command_into_the_server(mlflow_uri, mlflow_client, tmp_path):
    """`tracklog run` against a server: output, logging records and exit status arrive."""
    name = unique()
    script = "import logging; print('hello stdout'); logging.warning('a warning'); print('{\"metric\": \"m\", \"value\": 2}')"
    env = python_env(TRACKLOG_SPOOL_DIR=str(tmp_path / "spool"), MLFLOW_DISABLE_TELEMETRY="true")
    result = subprocess.run(
        [sys.executable, "-m", "tracklog", "--workspace", mlflow_uri, "run", "--experiment", name, "--",
         sys.executable, "-c", script],
        env=env, capture_output=True, timeout=120, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr.decode()
    exp = mlflow_client.get_experiment_by_name(name)
    (seen,) = mlflow_client.search_runs([exp.experiment_id])
    assert seen.info.status == "FINISHED"
    assert [m.value for m in mlflow_client.get_metric_history(mlflow_id(mlflow_client, seen.info.run_id), "m")] == [2.0]
    run = tracklog.Workspace(mlflow_uri).get_run(seen.info.run_id)
    assert "a warning" in [r["message"] for r in run.get_logs()]
    output = b"".join(run.workspace.store.iter_log_lines(run.id, "std_log.txt"))
    assert b"stdout | hello stdout\n" in output


def test_cli_reads_runs_on_the_server(mlflow_uri, capsys):
    """tracklog ls / show / metrics / logs work with --workspace http://..."""
    from tracklog import cli

    exp = tracklog.Experiment(tracklog.Workspace(mlflow_uri), unique())
    run = exp.start_logging("cli")
    run.log("loss", 0.5)
    logger = logging.getLogger(unique("cli"))
    logger.addHandler(RunHandler(run))
    logger.warning("visible line")
    run.complete()
    assert cli.main(["--workspace", mlflow_uri, "ls", "--experiment", exp.name]) == 0
    assert run.id[:12] in capsys.readouterr().out
    assert cli.main(["--workspace", mlflow_uri, "metrics", run.id]) == 0
    assert "loss" in capsys.readouterr().out
    assert cli.main(["--workspace", mlflow_uri, "logs", run.id]) == 0
    assert "visible line" in capsys.readouterr().out
    assert cli.main(["--workspace", mlflow_uri, "show", run.id[:10]]) == 0
    assert "Completed" in capsys.readouterr().out


def test_records_of_a_process_sharing_the_run_are_merged(mlflow_uri, tmp_path):
    """A second process logging into the run (TRACKLOG_RUN_ID) adds to, never overwrites, its logs."""
    run = tracklog.Experiment(tracklog.Workspace(mlflow_uri), unique()).start_logging("shared")
    logger = logging.getLogger(unique("parent"))
    logger.addHandler(RunHandler(run))
    logger.warning("from the parent")
    run.flush()
    code = (
        "import logging, tracklog\n"
        "from tracklog.handlers import RunHandler\n"
        "logging.getLogger().addHandler(RunHandler())\n"
        "logging.warning('from the child')\n"
        "tracklog.Run.get_context().log('child_metric', 1)\n"
    )
    env = python_env(TRACKLOG_RUN_ID=run.id, TRACKLOG_WORKSPACE=mlflow_uri,
                     TRACKLOG_SPOOL_DIR=str(tmp_path / "child-spool"), MLFLOW_DISABLE_TELEMETRY="true")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120, cwd=tmp_path)
    logger.warning("parent again")
    run.complete()
    assert [r["message"] for r in run.get_logs()] == ["from the parent", "from the child", "parent again"]
    assert run.get_metrics("child_metric") == {"child_metric": 1}
    assert os.listdir(tmp_path / "child-spool") == []  # everything delivered: the spool is gone


def test_a_remote_run_carries_its_provenance_under_mlflows_tag_names(mlflow_uri, mlflow_client, tmp_path):
    """A script in a git repository logging to an MLflow server: mlflow.user and
    mlflow.source.git.* as MLflow's own client names them, the rest as tracklog.* tags."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for args in (["init", "-q", "-b", "main"], ["config", "user.email", "t@example.com"], ["config", "user.name", "t"]):
        subprocess.run(["git", *args], cwd=repo, check=True)
    script = repo / "train.py"
    script.write_text(
        "import sys, tracklog\n"
        "run = tracklog.Experiment(tracklog.Workspace(sys.argv[1]), sys.argv[2]).start_logging('p')\n"
        "run.log('x', 1)\nrun.complete()\nprint(run.id)\n"
    )
    subprocess.run(["git", "add", "train.py"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "one"], cwd=repo, check=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    done = subprocess.run(
        [sys.executable, str(script), mlflow_uri, unique()], cwd=tmp_path, env=python_env(),
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    tags = mlflow_client.get_run(mlflow_id(mlflow_client, done.stdout.split()[-1])).data.tags
    assert tags["mlflow.source.git.commit"] == commit and tags["mlflow.source.git.branch"] == "main"
    assert tags["mlflow.source.name"] == str(script) and tags["mlflow.user"]
    assert tags["tracklog.python"] and tags["tracklog.git.dirty"] == "false"
    assert "tracklog.user" not in tags and "tracklog.git.commit" not in tags
