"""``tracklog ui --otlp`` serves the page and the OTLP endpoints together."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import requests

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
