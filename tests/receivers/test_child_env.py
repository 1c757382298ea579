"""An OpenTelemetry-instrumented child of ``tracklog run`` joins that run through
``tracklog receive``: ``tracklog run`` names the run in OTEL_RESOURCE_ATTRIBUTES."""

from __future__ import annotations

import os
import subprocess
import sys

import tracklog
from tests.receivers.conftest import SENDER


def test_an_instrumented_child_of_tracklog_run_joins_its_run(receive, tmp_path) -> None:
    receiver = receive()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACKLOG_"))}
    env["OTEL_RESOURCE_ATTRIBUTES"] = "deployment.environment=test,tracklog.run_id=stale"
    done = subprocess.run(
        [sys.executable, "-m", "tracklog", "run", "-w", str(tmp_path / "ws"), "--experiment", "jobs",
         "--no-logging-capture", "--", sys.executable, str(SENDER), "--protocol", "http",
         "--endpoint", receiver.http, "--records", "5", "--no-traces", "--no-metrics"],
        capture_output=True, text=True, timeout=180, env=env,
    )
    assert done.returncode == 0, done.stderr
    assert receiver.stop() == 0, receiver.stderr
    ws = tracklog.Workspace(tmp_path / "ws", create=False)
    (run,) = ws.get_experiment("jobs").get_runs()  # the tracklog run's own run, and no other
    assert [p.step for p in run.get_metric_history("loss")] == list(range(5))
    assert run.status == "Completed"
    assert set(ws.experiments) == {"jobs"}  # no run per service.name beside it
