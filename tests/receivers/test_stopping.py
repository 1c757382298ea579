"""Stopping a receiver (SIGTERM) while clients send: what was answered 200 is stored, in the
run it was sent to, and what comes after is told to retry, also on kept-alive connections."""

from __future__ import annotations

import http.client
import signal
import time
from urllib.parse import urlsplit

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.resource.v1 import resource_pb2

import tracklog

BATCH = 200


def _batch(number: int) -> bytes:
    records = [logs_pb2.LogRecord(body=common_pb2.AnyValue(string_value=f"b{number} r{i}"))
               for i in range(BATCH)]
    service = common_pb2.KeyValue(key="service.name", value=common_pb2.AnyValue(string_value="kept-alive"))
    return logs_service_pb2.ExportLogsServiceRequest(resource_logs=[logs_pb2.ResourceLogs(
        resource=resource_pb2.Resource(attributes=[service]),
        scope_logs=[logs_pb2.ScopeLogs(log_records=records)])]).SerializeToString()


def test_after_sigterm_a_kept_alive_connection_gets_503_and_every_200_is_stored(receive, tmp_path) -> None:
    """Batches on one kept-alive connection across SIGTERM: 503 with Retry-After once the
    receiver stops, every batch answered 200 stored, and one run (none opened after its end)."""
    receiver = receive()
    where = urlsplit(receiver.http)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    acked, answer, number = 0, None, 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if number == 3:
            receiver.proc.send_signal(signal.SIGTERM)
        try:
            conn.request("POST", "/v1/logs", body=_batch(number), headers={"Content-Type": "application/x-protobuf"})
            answer = conn.getresponse()
            answer.read()
        except (OSError, http.client.HTTPException) as exc:  # the process is gone: no 503 was seen
            answer = exc
            break
        if answer.status != 200:
            break
        acked += BATCH
        number += 1
    assert isinstance(answer, http.client.HTTPResponse), answer
    assert answer.status == 503 and answer.getheader("Retry-After") and answer.getheader("Connection") == "close"
    assert receiver.stop() == 0, receiver.stderr
    (run,) = tracklog.Workspace(tmp_path / "ws", create=False).get_runs()
    assert run.status == "Completed" and len(run.get_logs()) == acked >= 3 * BATCH
