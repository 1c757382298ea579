"""The capture examples run as written."""

from __future__ import annotations

import json
import os
import subprocess

import tracklog
from tests.capture.capture_support import PYTHON, TIMEOUT, env, only_run, output_lines, python_log, tracklog_run

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "examples")


def test_capture_train_example_under_tracklog_run(tmp_path):
    example = os.path.join(EXAMPLES, "capture_train.py")
    done = tracklog_run(tmp_path / "ws", PYTHON, example, options=("--experiment", "demo"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    run = only_run(tmp_path / "ws")
    assert (run.experiment.name, run.name, run.status) == ("demo", "capture_train.py", "Completed")
    assert len(run.get_metric_history("loss")) == len(run.get_metric_history("weight")) == 5
    assert run.get_params() == {"lr": "0.3"}
    assert run.get_tags()["converged"] == "true"
    assert len(python_log(run)) == 6
    assert "outputs/model.json" in run.get_file_names()
    bars = [l.text for l in output_lines(run, "stderr") if "epoch 4:" in l.text]
    assert bars == ["\repoch 4:  50%\repoch 4: 100%"]


def test_capture_in_process_example(tmp_path):
    done = subprocess.run(
        [PYTHON, os.path.join(EXAMPLES, "capture_in_process.py")],
        cwd=tmp_path, env=env(), capture_output=True, timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode().splitlines()
    assert lines[:3] == ["plain print() output", json.dumps({"metric": "accuracy", "value": 0.93}), "from a child process"]
    run = tracklog.Workspace(tmp_path / ".tracklog").get_run(lines[-1])
    captured = [l.text for l in output_lines(run)]
    assert "from a child process" in captured and "a warning-like line on stderr" in captured
    assert run.get_metrics() == {"accuracy": 0.93}


def test_capture_ingest_example(tmp_path):
    done = subprocess.run(
        ["sh", os.path.join(EXAMPLES, "capture_ingest.sh")],
        cwd=tmp_path, env=env(TRACKLOG_CLI=f"{PYTHON} -m tracklog"), capture_output=True, timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    run = only_run(tmp_path / ".tracklog")
    assert (run.experiment.name, run.name) == ("containers", "fake-container")
    assert [p.value for p in run.get_metric_history("loss")] == [0.52, 0.31]
    assert run.get_tags()["image"] == "trainer:1.4"
