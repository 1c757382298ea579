"""Loopback by default; a token, when set, is checked on every HTTP and gRPC request."""

from __future__ import annotations

import subprocess
import sys

import grpc
import pytest
import requests
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc

import tracklog
from tests.receivers.conftest import send

PB = {"Content-Type": "application/x-protobuf"}
EMPTY = logs_service_pb2.ExportLogsServiceRequest().SerializeToString()


def test_requests_without_the_token_are_refused(receive, tmp_path) -> None:
    """HTTP 401 and gRPC UNAUTHENTICATED without the bearer token; the SDK with it gets through."""
    receiver = receive("--token", "s3cret")
    url = receiver.http + "/v1/logs"
    assert requests.post(url, data=EMPTY, headers=PB, timeout=30).status_code == 401
    wrong = requests.post(url, data=EMPTY, headers={**PB, "Authorization": "Bearer nope"}, timeout=30)
    assert wrong.status_code == 401
    right = requests.post(url, data=EMPTY, headers={**PB, "Authorization": "Bearer s3cret"}, timeout=30)
    assert right.status_code == 200
    with grpc.insecure_channel(receiver.grpc) as channel:
        stub = logs_service_pb2_grpc.LogsServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.Export(logs_service_pb2.ExportLogsServiceRequest(), timeout=30)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        stub.Export(logs_service_pb2.ExportLogsServiceRequest(), timeout=30,
                    metadata=(("authorization", "Bearer s3cret"),))
    send("grpc", receiver.grpc, "--records", "2", "--token", "s3cret", "--no-traces", "--no-metrics")
    send("http", receiver.http, "--records", "2", "--token", "s3cret", "--service", "h", "--no-traces",
         "--no-metrics")
    receiver.stop()
    runs = list(tracklog.Workspace(tmp_path / "ws", create=False).get_experiment("Default").get_runs())
    assert sorted(len(r.get_metric_history("loss")) for r in runs) == [2, 2]


def test_token_comes_from_the_environment(receive) -> None:
    """TRACKLOG_RECEIVER_TOKEN stands in for --token."""
    receiver = receive(env={"TRACKLOG_RECEIVER_TOKEN": "envtoken"})
    assert requests.post(receiver.http + "/v1/logs", data=EMPTY, headers=PB, timeout=30).status_code == 401


def test_public_address_without_a_token_does_not_start(tmp_path) -> None:
    """--host 0.0.0.0 with no token: exit 1 and a message that says what to do."""
    done = subprocess.run(
        [sys.executable, "-m", "tracklog", "receive", "-w", str(tmp_path / "ws"), "--host", "0.0.0.0",
         "--http-port", "0", "--grpc-port", "0"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 1
    assert "--token" in done.stderr and "127.0.0.1" in done.stderr
