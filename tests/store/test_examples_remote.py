"""The examples, unchanged, against an MLflow server: only TRACKLOG_TRACKING_URI differs."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from ..conftest import python_env

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples")


@pytest.mark.parametrize(
    "command",
    [
        ["structlog_metrics.py"],
        ["structlog_stdlib_bridge.py"],
        ["otel_into_run.py"],
        ["capture_in_process.py"],
        ["-m", "tracklog", "run", "--experiment", "remote-capture", "--", sys.executable, "capture_train.py"],
    ],
    ids=lambda command: command[0] if command[0] != "-m" else "tracklog-run-capture_train",
)
def test_example_logs_into_the_server(command, mlflow_uri, mlflow_client, tmp_path):
    """Each example runs as written with the server as its tracking URI; its run lands there."""
    env = python_env(
        TRACKLOG_TRACKING_URI=mlflow_uri,
        TRACKLOG_SPOOL_DIR=str(tmp_path / "spool"),
        MLFLOW_DISABLE_TELEMETRY="true",
    )
    argv = [sys.executable] + [os.path.join(EXAMPLES, c) if c.endswith(".py") else c for c in command]
    experiments = [e.experiment_id for e in mlflow_client.search_experiments()]
    before = {r.info.run_id for r in mlflow_client.search_runs(experiments)}
    result = subprocess.run(argv, env=env, capture_output=True, timeout=180, cwd=tmp_path)
    output = result.stdout.decode() + result.stderr.decode()
    assert result.returncode == 0, output
    assert "could not be delivered" not in output
    after = [r for e in mlflow_client.search_experiments() for r in mlflow_client.search_runs([e.experiment_id])]
    new = [r for r in after if r.info.run_id not in before]
    assert new, output
    printed = set(re.findall(r"\b[0-9a-f]{32}\b", result.stdout.decode()))
    assert printed <= {r.data.tags.get("tracklog._run_id", r.info.run_id) for r in new}  # tracklog's ids
    for run in new:
        assert run.info.status == "FINISHED"
    assert any(run.data.metrics for run in new), [r.data for r in new]
    spool = tmp_path / "spool"
    assert not spool.exists() or os.listdir(spool) == []  # everything delivered, nothing left behind
