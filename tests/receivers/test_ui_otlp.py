"""``tracklog ui --otlp`` serves the page and the OTLP endpoints together, and stops as
``tracklog receive`` does."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import requests

import tracklog
from tests.receivers.conftest import send, wait_for


def test_ui_with_otlp_takes_data_it_then_shows(tmp_path) -> None:
    """Data sent to the UI's OTLP port becomes a run the UI's own API lists."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracklog", "ui", "-w", str(tmp_path / "ws"), "--port", "0", "--otlp",
         "--otlp-http-port", "0", "--otlp-grpc-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )
    try:
        first, second = proc.stdout.readline(), proc.stdout.readline()  # type: ignore[union-attr]
        page = re.search(r"(http://[\d.]+:\d+)/", first)
        otlp = re.search(r"OTLP/HTTP at (http://[\d.]+:\d+)", second)
        assert page and otlp, (first, second, proc.stderr.read() if proc.poll() is not None else "")  # type: ignore[union-attr]
        send("http", otlp[1], "--records", "3", "--service", "from-ui", "--no-traces", "--no-metrics")
        assert wait_for(lambda: "from-ui" in requests.get(page[1] + "/api/runs", timeout=30).text, timeout=30)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)


def test_sigterm_to_ui_with_otlp_stores_what_it_acknowledged(tmp_path) -> None:
    """SIGTERM right after a 200: tracklog ui --otlp exits 0 with every record stored, its run Completed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracklog", "ui", "-w", str(tmp_path / "ws"), "--port", "0", "--otlp",
         "--otlp-http-port", "0", "--otlp-grpc-port", "off"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )
    try:
        proc.stdout.readline()  # type: ignore[union-attr]
        otlp = re.search(r"OTLP/HTTP at (http://[\d.]+:\d+)", proc.stdout.readline())  # type: ignore[union-attr]
        assert otlp, proc.stderr.read() if proc.poll() is not None else ""  # type: ignore[union-attr]
        records = [{"body": {"stringValue": f"r{i}"}, "attributes": [
            {"key": "metric", "value": {"stringValue": "m"}}, {"key": "value", "value": {"doubleValue": i}}]}
            for i in range(500)]
        body = {"resourceLogs": [{"resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "uisvc"}}]}, "scopeLogs": [{"logRecords": records}]}]}
        reply = requests.post(otlp[1] + "/v1/logs", json=body, timeout=30)
        assert reply.status_code == 200
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    (run,) = tracklog.Workspace(tmp_path / "ws", create=False).get_runs()
    assert run.status == "Completed"
    assert len(run.get_logs()) == 500 and len(run.get_metric_history("m")) == 500
