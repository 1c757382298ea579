"""TRACKLOG_OTLP=1 routes a whole child process to the collector with no code change."""

from __future__ import annotations

import subprocess
import sys

import pytest

import tracklog

from ..conftest import python_env

# A script that knows nothing about OTLP: MLflow-style API plus stdlib logging.
_SCRIPT = """
import logging, sys
import tracklog
from tracklog.handlers import RunHandler

tracklog.set_tracking_uri(sys.argv[1])
logging.basicConfig(level=logging.INFO, handlers=[RunHandler(), logging.StreamHandler()])
with tracklog.start_run() as run:
    tracklog.log_metric("loss", 0.5)
    logging.getLogger("train").info("epoch done", extra={"metric": "acc", "value": 0.9})
    print(run.info.run_id)
"""


def _run_child(tmp_path, **env):  # type: ignore[no-untyped-def]
    """Run the script; its run id and its stderr."""
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(tmp_path / "ws")],
        env=python_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1], proc.stderr


def test_tracklog_otlp_routes_an_unchanged_script_over_the_otel_environment(receiver, tmp_path):
    run_id, _ = _run_child(
        tmp_path,
        TRACKLOG_OTLP="1",
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL=receiver.protocol,
        OTEL_SERVICE_NAME="trainer",
        OTEL_RESOURCE_ATTRIBUTES="deployment.environment=test",
    )
    records = receiver.logs()
    metrics = {r["attributes"]["metric"]: r for r in records if r["event_name"] == "tracklog.metric"}
    assert set(metrics) == {"loss", "acc"}
    assert [r["body"] for r in records if r["scope"] == "train"] == ["epoch done"]
    resource = metrics["loss"]["resource"]
    assert resource["tracklog.run_id"] == run_id
    assert resource["service.name"] == "trainer"
    assert resource["deployment.environment"] == "test"
    assert {m["name"] for m in receiver.metrics()} == {"loss", "acc"}
    # The run store is written as usual.
    run = tracklog.Workspace(tmp_path / "ws").get_run(run_id)
    assert run.get_metrics() == {"loss": 0.5, "acc": 0.9}


@pytest.mark.parametrize("value", ["0", "false", ""])
def test_tracklog_otlp_off_values_leave_routing_off(http_receiver, tmp_path, value):
    _run_child(tmp_path, TRACKLOG_OTLP=value, OTEL_EXPORTER_OTLP_ENDPOINT=http_receiver.url)
    assert http_receiver.logs() == [] and http_receiver.metrics() == []


def test_a_bad_otel_protocol_warns_and_leaves_the_script_running(tmp_path):
    run_id, stderr = _run_child(tmp_path, TRACKLOG_OTLP="1", OTEL_EXPORTER_OTLP_PROTOCOL="http/json")
    assert "OTLP routing could not start" in stderr and "http/json" in stderr
    run = tracklog.Workspace(tmp_path / "ws").get_run(run_id)
    assert run.get_metrics() == {"loss": 0.5, "acc": 0.9}


def test_tracklog_run_otlp_routes_the_commands_output_and_records(receiver, tmp_path):
    child = "import logging; print('hello from the child', flush=True); logging.warning('careful')"
    proc = subprocess.run(
        [sys.executable, "-m", "tracklog", "--workspace", str(tmp_path / "ws"), "run", "--otlp", "--",
         sys.executable, "-c", child],
        env=python_env(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL=receiver.protocol),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    records = receiver.logs()
    lines = [r for r in records if r["attributes"].get("log.iostream") == "stdout"]
    assert [r["body"] for r in lines] == ["hello from the child"]
    warnings = [r for r in records if r["body"] == "careful"]
    assert len(warnings) == 1 and warnings[0]["severity_text"] == "WARN"
    (run,) = tracklog.Workspace(tmp_path / "ws").get_runs()
    assert {r["resource"]["tracklog.run_id"] for r in records} == {run.id}
