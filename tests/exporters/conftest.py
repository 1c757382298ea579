"""Real OTLP receivers on 127.0.0.1 (HTTP and gRPC) that decode what they get with
``opentelemetry-proto``, plus a closed port, for the routing tests."""

from __future__ import annotations

import gzip
import socket
import threading
import time
import zlib
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import pytest
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.logs.v1 import logs_pb2

from tracklog._provenance import PROVENANCE_TAG_NAMES
from tracklog.exporters import _routing


_HAS_EVENT_NAME = "event_name" in logs_pb2.LogRecord.DESCRIPTOR.fields_by_name


def _value(any_value: Any) -> Any:
    """An OTLP AnyValue as a Python value."""
    kind = any_value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return tuple(_value(v) for v in any_value.array_value.values)
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in any_value.kvlist_value.values}
    return getattr(any_value, kind)


def _attrs(key_values: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in key_values}


class Receiver:
    """What a collector received, decoded: log records and metric points, flat."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.log_requests: list[Any] = []
        self.metric_requests: list[Any] = []
        self.headers: list[dict[str, str]] = []
        self.delay = 0.0
        self.url = ""

    def add_logs(self, request: Any, headers: dict[str, str]) -> None:
        with self.lock:
            self.log_requests.append(request)
            self.headers.append(headers)

    def add_metrics(self, request: Any, headers: dict[str, str]) -> None:
        with self.lock:
            self.metric_requests.append(request)
            self.headers.append(headers)

    def logs(self, provenance: bool = False) -> list[dict[str, Any]]:
        """Every log record received: body, severity, attributes, resource, scope, ...

        The tag records of the provenance every run starts with (tracklog.user, ...) are
        left out unless ``provenance``: the tests that count records are not about them.
        """
        out = []
        with self.lock:
            requests = list(self.log_requests)
        for request in requests:
            for resource_logs in request.resource_logs:
                resource = _attrs(resource_logs.resource.attributes)
                for scope_logs in resource_logs.scope_logs:
                    for record in scope_logs.log_records:
                        attributes = _attrs(record.attributes)
                        if not provenance and any(
                            key.startswith("tags.") and key[5:] in PROVENANCE_TAG_NAMES for key in attributes
                        ):
                            continue
                        # Before the OTLP event_name field (SDK < 1.39) it travels as an attribute.
                        event_name = record.event_name if _HAS_EVENT_NAME else attributes.pop("event.name", "")
                        out.append({
                            "resource": resource,
                            "scope": scope_logs.scope.name,
                            "body": _value(record.body),
                            "severity_number": record.severity_number,
                            "severity_text": record.severity_text,
                            "attributes": attributes,
                            "event_name": event_name,
                            "time": record.time_unix_nano / 1e9,
                            "trace_id": record.trace_id.hex(),
                            "span_id": record.span_id.hex(),
                        })
        return out

    def metrics(self) -> list[dict[str, Any]]:
        """Every metric data point received, with its metric name, kind and resource."""
        out = []
        with self.lock:
            requests = list(self.metric_requests)
        for request in requests:
            for resource_metrics in request.resource_metrics:
                resource = _attrs(resource_metrics.resource.attributes)
                for scope_metrics in resource_metrics.scope_metrics:
                    for metric in scope_metrics.metrics:
                        kind = metric.WhichOneof("data")
                        for point in getattr(metric, kind).data_points:
                            value = getattr(point, point.WhichOneof("value")) if kind in ("gauge", "sum") else None
                            out.append({
                                "resource": resource,
                                "name": metric.name,
                                "kind": kind,
                                "value": value,
                                "attributes": _attrs(point.attributes),
                                "time": point.time_unix_nano / 1e9,
                            })
        return out

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 20.0) -> bool:
        """Poll ``predicate`` until true or ``timeout`` seconds passed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return predicate()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    receiver: Receiver

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        encoding = (self.headers.get("Content-Encoding") or "").lower()
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        receiver = self.server.receiver  # type: ignore[attr-defined]
        if receiver.delay:
            time.sleep(receiver.delay)
        headers = {k.lower(): v for k, v in self.headers.items()}
        if self.path == "/v1/logs":
            request = logs_service_pb2.ExportLogsServiceRequest.FromString(body)
            receiver.add_logs(request, headers)
            reply = logs_service_pb2.ExportLogsServiceResponse().SerializeToString()
        elif self.path == "/v1/metrics":
            request = metrics_service_pb2.ExportMetricsServiceRequest.FromString(body)
            receiver.add_metrics(request, headers)
            reply = metrics_service_pb2.ExportMetricsServiceResponse().SerializeToString()
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: Any) -> None:
        """Quiet: the test output is not the place for access logs."""


@pytest.fixture
def http_receiver():
    """An OTLP/HTTP receiver on 127.0.0.1 (POST /v1/logs, /v1/metrics); ``.url`` is its base."""
    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.receiver = receiver  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield receiver
    finally:
        receiver.delay = 0
        server.shutdown()
        server.server_close()


class _LogsServicer(logs_service_pb2_grpc.LogsServiceServicer):
    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver

    def Export(self, request: Any, context: Any) -> Any:  # noqa: N802 (gRPC's name)
        if self.receiver.delay:
            time.sleep(self.receiver.delay)
        self.receiver.add_logs(request, dict(context.invocation_metadata()))
        return logs_service_pb2.ExportLogsServiceResponse()


class _MetricsServicer(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver

    def Export(self, request: Any, context: Any) -> Any:  # noqa: N802 (gRPC's name)
        if self.receiver.delay:
            time.sleep(self.receiver.delay)
        self.receiver.add_metrics(request, dict(context.invocation_metadata()))
        return metrics_service_pb2.ExportMetricsServiceResponse()


@pytest.fixture
def grpc_receiver():
    """An OTLP/gRPC receiver on 127.0.0.1 built on opentelemetry-proto's service stubs."""
    import grpc

    receiver = Receiver()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(_LogsServicer(receiver), server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_MetricsServicer(receiver), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    receiver.url = f"http://127.0.0.1:{port}"
    try:
        yield receiver
    finally:
        receiver.delay = 0
        server.stop(grace=None)


@pytest.fixture(params=["http/protobuf", "grpc"])
def receiver(request):
    """A live receiver for each OTLP protocol; ``receiver.protocol`` says which."""
    fixture = "http_receiver" if request.param == "http/protobuf" else "grpc_receiver"
    live = request.getfixturevalue(fixture)
    live.protocol = request.param
    return live


@pytest.fixture
def closed_port() -> str:
    """The base URL of a 127.0.0.1 port nothing listens on (a collector that is down)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(autouse=True)
def _no_route_left():
    """Every test ends with routing off, even when it fails half-way."""
    yield
    _routing.stop_routing(timeout=2.0)
