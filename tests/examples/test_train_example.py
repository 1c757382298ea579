"""examples/train.py runs as written and leaves its run in ./.tracklog."""

from __future__ import annotations

import os
import subprocess
import sys

import tracklog
from tests.conftest import python_env

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_train_example_runs_and_tracklog_show_latest_prints_it(tmp_path):
    """The README's first command: the example script, then `tracklog show latest`."""
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", "train.py")],
        cwd=tmp_path, capture_output=True, text=True, env=python_env(), timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "epoch 4 loss" in out.stderr  # the console handler still prints
    run_id = out.stdout.split()[-1]
    run = tracklog.Workspace(tmp_path / ".tracklog").get_run(run_id)
    metrics = run.get_metrics()
    assert len(metrics["loss"]) == 5 and metrics["final_loss"] == metrics["loss"][-1]
    assert set(metrics["weights"]) == {"epoch", "weight"}
    assert run.get_params() == {"lr": "0.1", "epochs": "5"}
    assert run.status == "Completed"
    assert len(run.get_logs(logger="train")) == 6
    show = subprocess.run(
        [sys.executable, "-m", "tracklog", "show", "latest"],
        cwd=tmp_path, capture_output=True, text=True, env=python_env(), timeout=60,
    )
    assert show.returncode == 0 and run_id in show.stdout and "final_loss" in show.stdout
