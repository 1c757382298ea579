"""OTLP/gRPC: the collector's LogsService, MetricsService and TraceService, on grpcio.

The bearer token (when set) is checked in every call's ``authorization`` metadata
(UNAUTHENTICATED without it). A full pipeline answers UNAVAILABLE with a
``google.rpc.RetryInfo`` in the status details, which OTLP exporters retry after
the delay it names. Messages over the size limit are refused by grpcio itself
(RESOURCE_EXHAUSTED), compressed or not.
"""

from __future__ import annotations

import hmac
import logging
from concurrent import futures
from typing import Any

import grpc
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from ._export import LOGS, METRICS, TRACES, Busy, Exporter, Signal
from ._runs import RUN_ID_KEY

__all__ = ["start_grpc"]

_logger = logging.getLogger("tracklog.receivers")


class _Service:
    def __init__(self, exporter: Exporter, token: str | None) -> None:
        self.exporter = exporter
        self.token = token

    def _export(self, signal: Signal, request: Any, context: grpc.ServicerContext) -> Any:
        metadata = dict(context.invocation_metadata() or ())
        if self.token and not hmac.compare_digest(
            str(metadata.get("authorization", "")).encode(), f"Bearer {self.token}".encode()
        ):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")
        try:
            return self.exporter.export(signal, request, metadata.get(RUN_ID_KEY))
        except Busy as exc:
            _abort_busy(context, exc)
        except Exception:  # a bug of ours: the client may retry, the receiver keeps serving
            _logger.exception("tracklog: the OTLP receiver failed on a gRPC request")
            context.abort(grpc.StatusCode.UNAVAILABLE, "the receiver failed on this request; see its log")
        raise AssertionError("unreachable")  # context.abort raises


def _abort_busy(context: grpc.ServicerContext, exc: Busy) -> None:
    delay = duration_pb2.Duration()
    delay.FromNanoseconds(int(exc.retry_after * 1e9))
    info = error_details_pb2.RetryInfo(retry_delay=delay)
    status = status_pb2.Status(code=grpc.StatusCode.UNAVAILABLE.value[0], message=str(exc))
    status.details.add().Pack(info)
    context.set_trailing_metadata((("grpc-status-details-bin", status.SerializeToString()),))
    context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))


class _Logs(_Service, logs_service_pb2_grpc.LogsServiceServicer):
    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 (gRPC's name)
        return self._export(LOGS, request, context)


class _Metrics(_Service, metrics_service_pb2_grpc.MetricsServiceServicer):
    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        return self._export(METRICS, request, context)


class _Traces(_Service, trace_service_pb2_grpc.TraceServiceServicer):
    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        return self._export(TRACES, request, context)


def start_grpc(address: str, exporter: Exporter, token: str | None, max_bytes: int) -> tuple[grpc.Server, int]:
    """A started gRPC server on ``address`` (``host:port``; port 0 picks one) and its port."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="tracklog-otlp-grpc"),
        options=[("grpc.max_receive_message_length", max_bytes), ("grpc.so_reuseport", 0)],
    )
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(_Logs(exporter, token), server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_Metrics(exporter, token), server)
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_Traces(exporter, token), server)
    port = server.add_insecure_port(address)
    if not port:
        raise OSError(f"cannot listen on {address}")
    server.start()
    return server, port
