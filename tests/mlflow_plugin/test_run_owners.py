"""Who holds a run on the plugin route: the process that logs into it, as MLflow sees it."""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import tracklog
from tests.mlflow_plugin.plugin_support import PYTHON, TIMEOUT, clean_env, run_script

SCRIPT = textwrap.dedent(
    """
    import sys, time
    import mlflow
    from mlflow.tracking import MlflowClient

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
            print(client.get_run(run_id).info.status, client.get_run(run_id).info.end_time)
    elif step == "launch":
        experiment_id = mlflow.set_experiment("launcher").experiment_id
        open(path, "w").write(client.create_run(experiment_id, run_name="trial-0").info.run_id)
    elif step == "work":
        run_id = open(path).read()
        client.log_metric(run_id, "loss", 0.3)
        print(client.get_run(run_id).info.status, client.get_run(run_id).info.end_time)
    elif step == "hang":
        run = mlflow.start_run()
        open(path, "w").write(run.info.run_id)
        time.sleep(600)
    """
)


def _run(tmp_path: Path, step: str) -> str:
    script = tmp_path / "owners.py"
    script.write_text(SCRIPT)
    done = run_script(script, tmp_path, tracking_uri=f"tracklog:{tmp_path / 'ws'}", args=[step, "run_id.txt"])
    return done.stdout.strip()


def test_a_run_resumed_by_id_from_a_new_process_is_running_while_it_logs(tmp_path):
    """start_run(run_id=...) in another process than the one that made the run: RUNNING, no end time."""
    _run(tmp_path, "finish")
    assert _run(tmp_path, "resume") == "RUNNING None"


def test_a_run_made_by_create_run_stays_running_after_its_launcher_exits(tmp_path):
    """MlflowClient.create_run in a launcher that exits, then a worker logs by id: RUNNING, as in MLflow."""
    _run(tmp_path, "launch")
    assert _run(tmp_path, "work") == "RUNNING None"


def test_a_fluent_run_whose_process_is_killed_still_reads_failed(tmp_path):
    """The crash check stays: a start_run() run whose process dies unended reads FAILED."""
    script = tmp_path / "owners.py"
    script.write_text(SCRIPT)
    env = clean_env(MLFLOW_TRACKING_URI=f"tracklog:{tmp_path / 'ws'}")
    proc = subprocess.Popen([PYTHON, str(script), "hang", "run_id.txt"], cwd=tmp_path, env=env)
    ids = tmp_path / "run_id.txt"
    try:
        deadline = time.monotonic() + TIMEOUT
        while not (ids.exists() and ids.read_text()):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(0.5)  # the run's first heartbeat and tags are written
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(TIMEOUT)
    run = tracklog.Workspace(tmp_path / "ws").get_run(ids.read_text())
    assert run.status == "Crashed"
