"""The OpenTelemetry examples run as written, against a real receiver where they need one."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import tracklog

from ..conftest import python_env

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples")


def _run(name: str, cwd, **env) -> str:  # type: ignore[no-untyped-def]
    proc = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, name)],
        cwd=cwd, env=python_env(**env), capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _only_run(tmp_path) -> tracklog.Run:  # type: ignore[no-untyped-def]
    runs = list(tracklog.Workspace(tmp_path / ".tracklog").get_runs())
    assert len(runs) == 1
    return runs[0]


@pytest.mark.skipif(
    not hasattr(__import__("opentelemetry.sdk._logs", fromlist=["x"]), "ReadableLogRecord"),
    reason="the example uses Logger.emit(body=...), OpenTelemetry SDK 1.39+",
)
def test_otel_into_run_example_fills_a_run(tmp_path):
    _run("otel_into_run.py", tmp_path)
    run = _only_run(tmp_path)
    metrics = run.get_metrics()
    assert metrics["loss"] == [1.0, 0.5, 1.0 / 3]
    assert metrics["latency.count{route=/a}"]
    assert metrics["requests{route=/a}"]
    assert run.get_params() == {"lr": "0.01"} and run.get_tags()["model"] == "mlp"
    traced = [r for r in run.get_logs() if r["message"] == "epoch done"]
    assert len(traced) == 3 and all(len(r["trace_id"]) == 32 for r in traced)


def test_otel_route_to_collector_example_reaches_the_receiver(receiver, tmp_path):
    out = _run(
        "otel_route_to_collector.py", tmp_path,
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL=receiver.protocol,
    )
    run = _only_run(tmp_path)
    assert f"run {run.id} exported" in out and "dropped 0" in out
    records = receiver.logs()
    assert [r["attributes"]["value"] for r in records if r["event_name"] == "tracklog.metric"] == [1.0, 0.5, 1.0 / 3]
    assert [r["body"] for r in records if r["scope"] == "train"] == [f"epoch {i} done" for i in range(3)]
    assert {r["resource"]["tracklog.run_id"] for r in records} == {run.id}
    assert [m["value"] for m in receiver.metrics() if m["name"] == "loss"] == [1.0 / 3]
