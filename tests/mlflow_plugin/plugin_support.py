"""Helpers for the MLflow plugin tests: real scripts in subprocesses, a real `mlflow server`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.store.conftest import MLflowServer

PYTHON = sys.executable
TRACKLOG = os.path.join(os.path.dirname(sys.executable), "tracklog")
SCRIPTS = Path(__file__).parent / "scripts"
#: Generous: an MLflow import and an sklearn fit take seconds on a slow shared machine.
TIMEOUT = 600


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without MLflow's and tracklog's settings, telemetry off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "TRACKLOG_"))}
    env.update(MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def run_script(script: str | Path, cwd: Path, *, tracking_uri: str | None, args: list[str] | None = None,
               under_tracklog_run: str | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
    """Run a script unchanged; with ``under_tracklog_run`` (a workspace) as ``tracklog run``'s child."""
    env = clean_env(**extra)
    if tracking_uri is not None:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    command = [PYTHON, str(script), *(args or [])]
    if under_tracklog_run is not None:
        command = [TRACKLOG, "run", "--workspace", under_tracklog_run, "--", *command]
    done = subprocess.run(command, check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    return done


class TracklogMLflowServer(MLflowServer):
    """``mlflow server --backend-store-uri tracklog:PATH`` on 127.0.0.1, two workers."""

    def __init__(self, root: Path, workspace: Path) -> None:
        super().__init__(root, f"tracklog:{workspace}")
        self.workspace = workspace

    def start(self, timeout: float = 180.0) -> None:
        super().start(timeout)


def mlflow_record(client: Any, experiment_name: str) -> dict[str, dict[str, Any]]:
    """What an MLflow store holds for one experiment, by run name: params, metric histories,
    tag keys, artifact files (run and logged-model files, model files by their path in the model)."""
    experiment = client.get_experiment_by_name(experiment_name)
    record = {}
    for run in client.search_runs([experiment.experiment_id]):
        run_id = run.info.run_id
        metrics = {
            key: [(m.step, m.value) for m in client.get_metric_history(run_id, key)] for key in run.data.metrics
        }
        files = _walk(client, run_id, "")
        for model in client.search_logged_models([experiment.experiment_id]):
            if model.source_run_id == run_id:
                files |= {f"model:{model.name}/{name}" for name in _model_files(model.artifact_location)}
        record[run.info.run_name] = {
            "params": dict(run.data.params), "metrics": metrics, "tags": set(run.data.tags), "files": files,
        }
    return record


def _walk(client: Any, run_id: str, path: str) -> set[str]:
    names = set()
    for item in client.list_artifacts(run_id, path or None):
        names |= _walk(client, run_id, item.path) if item.is_dir else {item.path}
    return names


def _model_files(location: str) -> set[str]:
    folder = location.removeprefix("file://")
    return {
        os.path.relpath(os.path.join(d, f), folder).replace(os.sep, "/")
        for d, _, files in os.walk(folder) for f in files
    }
