"""The structlog examples run as written: RunProcessor, and the stdlib bridge recipe."""

from __future__ import annotations

import os
import subprocess
import sys

import tracklog

from ..conftest import python_env

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples")


def _run(name: str, cwd) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    proc = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, name)],
        cwd=cwd, env=python_env(), capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def _only_run(tmp_path) -> tracklog.Run:  # type: ignore[no-untyped-def]
    runs = list(tracklog.Workspace(tmp_path / ".tracklog").get_runs())
    assert len(runs) == 1
    return runs[0]


def test_structlog_metrics_example_records_metrics_and_still_prints(tmp_path):
    proc = _run("structlog_metrics.py", tmp_path)
    assert "epoch done" in proc.stdout and "loss=0.5" in proc.stdout
    run = _only_run(tmp_path)
    assert run.get_metrics() == {"loss": [1.0, 0.5, 1.0 / 3], "acc": [0.6, 0.7, 0.8]}
    assert run.get_params() == {"lr": "0.01", "epochs": "3"} and run.get_tags()["model"] == "mlp"
    assert [r["message"] for r in run.get_logs()] == ["config"] + ["epoch done"] * 3


def test_structlog_stdlib_bridge_example_delivers_keys_as_record_fields(tmp_path):
    proc = _run("structlog_stdlib_bridge.py", tmp_path)
    assert "name_=mlp" in proc.stderr  # the console rendering by ProcessorFormatter
    run = _only_run(tmp_path)
    assert [p.step for p in run.get_metric_history("loss")] == [0, 1, 2]
    assert run.get_params() == {"lr": "0.01"}
    first = run.get_logs(logger="train")[0]
    assert first["message"] == "starting" and first["extra"] == {"name_": "mlp"}
