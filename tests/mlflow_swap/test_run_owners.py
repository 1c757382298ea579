"""Who holds a run under the import swap: the process that logs into it, as MLflow sees it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import tracklog
from tests.mlflow_swap.conftest import clean_env

SCRIPT = textwrap.dedent(
    """
    import os, sys
    import tracklog as mlflow
    from tracklog.tracking import MlflowClient

    client = MlflowClient()
    step, path = sys.argv[1], sys.argv[2]
    if step == "finish":
        with mlflow.start_run() as run:
            mlflow.log_metric("loss", 1.0)
        open(path, "w").write(run.info.run_id)
    elif step == "resume":
        run_id = open(path).read()
        with mlflow.start_run(run_id=run_id):
            mlflow.log_metric("loss", 0.5, step=1)
            found = client.search_runs([client.get_run(run_id).info.experiment_id], "attributes.status = 'RUNNING'")
            print(client.get_run(run_id).info.status, client.get_run(run_id).info.end_time, len(found))
    elif step == "launch":
        experiment_id = mlflow.set_experiment("launcher").experiment_id
        open(path, "w").write(client.create_run(experiment_id, run_name="trial-0").info.run_id)
    elif step == "work":
        run_id = open(path).read()
        client.log_metric(run_id, "loss", 0.3)
        print(client.get_run(run_id).info.status, client.get_run(run_id).info.end_time)
    elif step == "adopt":
        run_id = open(path).read()
        mlflow.start_run(run_id=run_id)
        mlflow.log_metric("loss", 0.2)
        os._exit(0)  # dies without ending the run it holds
    """
)


def _run(tmp_path: Path, step: str, **env: str) -> str:
    script = tmp_path / "owners.py"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), step, "run_id.txt"], cwd=tmp_path, capture_output=True, text=True,
        env=clean_env(TRACKLOG_WORKSPACE=str(tmp_path / "ws"), **env), timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_run_resumed_by_id_from_a_new_process_is_running_while_it_logs(tmp_path):
    """start_run(run_id=...) in another process than the one that made the run: RUNNING, found by a RUNNING search."""
    _run(tmp_path, "finish")
    assert _run(tmp_path, "resume") == "RUNNING None 1"


def test_mlflow_run_id_resumes_in_a_new_process_as_running(tmp_path):
    """MLFLOW_RUN_ID, the launcher's way to hand a worker its run: RUNNING while the worker logs."""
    _run(tmp_path, "finish")
    run_id = (tmp_path / "run_id.txt").read_text()
    assert _run(tmp_path, "resume", MLFLOW_RUN_ID=run_id) == "RUNNING None 1"


def test_a_run_made_by_create_run_stays_running_until_someone_ends_it(tmp_path):
    """MlflowClient.create_run in a launcher that exits, then a worker logs by id: RUNNING, as in MLflow."""
    _run(tmp_path, "launch")
    assert _run(tmp_path, "work") == "RUNNING None"


def test_a_worker_that_resumed_a_made_run_and_died_leaves_it_crashed(tmp_path):
    """A worker holds the run it resumed: when it dies without ending it, the run reads Crashed."""
    _run(tmp_path, "launch")
    _run(tmp_path, "adopt")
    run = tracklog.Workspace(tmp_path / "ws").get_run((tmp_path / "run_id.txt").read_text())
    assert run.status == "Crashed"
