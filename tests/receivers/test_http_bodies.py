"""Request bodies off the wire, on a raw socket: chunked (as Node.js's and OkHttp's exporters
send them), by Content-Length, and what a body that breaks off gets."""

from __future__ import annotations

import gzip
import json
import socket
from urllib.parse import urlsplit

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2

import tracklog

_LOGS = json.dumps({"resourceLogs": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "node-svc"}}]},
    "scopeLogs": [{"scope": {"name": "app"}, "logRecords": [{
        "severityNumber": 9, "body": {"stringValue": "from node"},
        "attributes": [{"key": "metric", "value": {"stringValue": "m"}},
                       {"key": "value", "value": {"doubleValue": 1.5}}]}]}],
}]}).encode()


def _exchange(url: str, head: dict[str, str], body: bytes) -> bytes:
    """Send one POST /v1/logs with exactly these headers and body bytes; the status line."""
    where = urlsplit(url)
    lines = ["POST /v1/logs HTTP/1.1", f"Host: {where.netloc}", *(f"{k}: {v}" for k, v in head.items())]
    with socket.create_connection((where.hostname, where.port), timeout=30) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        answer = b""
        while b"\r\n" not in answer:
            data = conn.recv(65536)
            if not data:
                break
            answer += data
    return answer.split(b"\r\n", 1)[0]


def _chunked(payload: bytes, size: int = 7) -> bytes:
    pieces = [payload[i:i + size] for i in range(0, len(payload), size)]
    return b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\nX-Trailer: t\r\n\r\n"


def _messages(workspace) -> list[str]:  # type: ignore[no-untyped-def]
    return [line["message"] for run in tracklog.Workspace(workspace, create=False).get_runs()
            for line in run.get_logs()]


def test_chunked_bodies_are_taken_plain_and_gzipped(receive, tmp_path) -> None:
    """A chunked body with no Content-Length (Node.js; OkHttp with gzip) is decoded and stored."""
    receiver = receive()
    js = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    assert _exchange(receiver.http, js, _chunked(_LOGS)).endswith(b" 200 OK")
    zipped = {**js, "Content-Encoding": "gzip"}
    assert _exchange(receiver.http, zipped, _chunked(gzip.compress(_LOGS), 1000)).endswith(b" 200 OK")
    receiver.stop()
    assert _messages(tmp_path / "ws") == ["from node", "from node"]


def test_a_chunked_body_over_the_limit_is_413_and_no_length_is_411(receive, tmp_path) -> None:
    """The size limit holds for chunked bodies; 411 only with neither framing; 501 for another coding."""
    receiver = receive("--max-bytes", "1000")
    js = {"Content-Type": "application/json"}
    assert _exchange(receiver.http, {**js, "Transfer-Encoding": "chunked"},
                     _chunked(b" " * 2000 + _LOGS, 500)).endswith(b" 413 Request Entity Too Large")
    assert b" 411 " in _exchange(receiver.http, js, _LOGS)
    assert b" 501 " in _exchange(receiver.http, {**js, "Transfer-Encoding": "gzip, chunked"}, _LOGS)
    assert b" 400 " in _exchange(receiver.http, {**js, "Transfer-Encoding": "chunked"}, b"zz\r\n")
    receiver.stop()
    assert _messages(tmp_path / "ws") == []


def _cut_off(url: str, head: dict[str, str], sent: bytes) -> None:
    """Send the headers and the first bytes of a body, then go away (the client died)."""
    where = urlsplit(url)
    lines = ["POST /v1/logs HTTP/1.1", f"Host: {where.netloc}", *(f"{k}: {v}" for k, v in head.items())]
    with socket.create_connection((where.hostname, where.port), timeout=30) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + sent)
        conn.shutdown(socket.SHUT_WR)
        conn.recv(65536)  # the receiver's answer, or its close


def test_a_body_cut_off_mid_way_stores_nothing(receive, tmp_path) -> None:
    """A protobuf body cut at a resource boundary (a valid prefix), or chunked before its last
    chunk: the client got no 200, nothing of it is stored, and the receiver goes on serving."""
    request = logs_service_pb2.ExportLogsServiceRequest()
    for number in range(4):
        resource = request.resource_logs.add()
        resource.resource.attributes.add(key="service.name").value.string_value = f"svc{number}"
        resource.scope_logs.add().log_records.add().body.string_value = f"from svc{number}"
    body = request.SerializeToString()
    half = logs_service_pb2.ExportLogsServiceRequest(resource_logs=request.resource_logs[:2]).SerializeToString()
    assert body.startswith(half)  # what was sent would parse, as two whole services
    receiver = receive()
    pb = {"Content-Type": "application/x-protobuf"}
    _cut_off(receiver.http, {**pb, "Content-Length": str(len(body))}, half)
    _cut_off(receiver.http, {**pb, "Transfer-Encoding": "chunked"}, b"%x\r\n%s\r\n" % (len(half), half))
    _cut_off(receiver.http, {**pb, "Transfer-Encoding": "chunked"}, b"%x\r\n%s" % (len(body), half))
    whole = {"Content-Type": "application/json", "Content-Length": str(len(_LOGS))}
    assert _exchange(receiver.http, whole, _LOGS).endswith(b" 200 OK")
    receiver.stop()
    assert _messages(tmp_path / "ws") == ["from node"]


def _closed_within(conn: socket.socket, seconds: float) -> bytes:
    """What the receiver sent before closing ``conn``, which it must do within ``seconds``."""
    conn.settimeout(seconds)
    answer = b""
    while data := conn.recv(65536):
        answer += data
    return answer


def test_a_client_that_stalls_is_closed_unanswered_after_the_read_timeout(receive, tmp_path) -> None:
    """A client that stops mid-body, or sends nothing at all, is closed after the read timeout
    with no answer, and nothing of its body is stored; the receiver goes on serving."""
    receiver = receive("--read-timeout", "1")
    where = urlsplit(receiver.http)
    head = (f"POST /v1/logs HTTP/1.1\r\nHost: {where.netloc}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(_LOGS)}\r\n\r\n").encode()
    with socket.create_connection((where.hostname, where.port), timeout=30) as stalled, \
            socket.create_connection((where.hostname, where.port), timeout=30) as silent:
        stalled.sendall(head + _LOGS[:len(_LOGS) // 2])
        assert _closed_within(stalled, 15) == b""
        assert _closed_within(silent, 15) == b""
    whole = {"Content-Type": "application/json", "Content-Length": str(len(_LOGS))}
    assert _exchange(receiver.http, whole, _LOGS).endswith(b" 200 OK")
    receiver.stop()
    assert _messages(tmp_path / "ws") == ["from node"]
