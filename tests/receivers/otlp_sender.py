"""A separate process that sends OTLP with the OpenTelemetry SDK's own exporters, as any
instrumented service would: log records (some with a metric attribute), a counter, a
histogram and spans. Prints one JSON line of what it sent when done. Its batch queue holds
every record, so what the SDK itself would drop under a slow receiver is not lost here.

    python otlp_sender.py --protocol http|grpc --endpoint URL [--records N] [--service NAME]
        [--run-id ID] [--experiment NAME] [--token T] [--fail] [--no-metrics] [--no-traces]
        [--raise] [--js-error]
        [--counter-attrs JSON]  # more attribute sets for the counter: the i-th adds 10 * (i + 1)
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import ProcessResourceDetector, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def _exporters(protocol: str, endpoint: str, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    if protocol == "http":
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return (
            OTLPLogExporter(endpoint=endpoint + "/v1/logs", headers=headers, timeout=60),
            OTLPMetricExporter(endpoint=endpoint + "/v1/metrics", headers=headers, timeout=60),
            OTLPSpanExporter(endpoint=endpoint + "/v1/traces", headers=headers, timeout=60),
        )
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    grpc_headers = tuple(headers.items()) or None
    return (
        OTLPLogExporter(endpoint=endpoint, insecure=True, headers=grpc_headers, timeout=60),
        OTLPMetricExporter(endpoint=endpoint, insecure=True, headers=grpc_headers, timeout=60),
        OTLPSpanExporter(endpoint=endpoint, insecure=True, headers=grpc_headers, timeout=60),
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--protocol", choices=("http", "grpc"), required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--records", type=int, default=10)
    parser.add_argument("--service", default="checkout")
    parser.add_argument("--instance", default="i-1")
    parser.add_argument("--experiment", default=None)
    parser.add_argument("--run-id", default=None)
    parser.add_argument("--token", default=None)
    parser.add_argument("--fail", action="store_true", help="end with an ERROR record carrying an exception")
    parser.add_argument("--raise", dest="raise_", action="store_true",
                        help="end with logger.exception() through the SDK's LoggingHandler")
    parser.add_argument("--js-error", action="store_true",
                        help="end with an ERROR record carrying what OpenTelemetry JS sends for an Error")
    parser.add_argument("--no-metrics", action="store_true")
    parser.add_argument("--counter-attrs", type=json.loads, default=[], help="a JSON list of attribute dicts")
    parser.add_argument("--no-traces", action="store_true")
    parser.add_argument("--announce", action="store_true", help="say 'sending' on stderr before the first record")
    parser.add_argument("--detect-process", action="store_true",
                        help="add the SDK's ProcessResourceDetector's attributes, command line included")
    args = parser.parse_args()

    attrs = {"service.name": args.service, "service.instance.id": args.instance}
    if args.experiment:
        attrs["tracklog.experiment"] = args.experiment
    if args.run_id:
        attrs["tracklog.run_id"] = args.run_id
    resource = Resource.create(attrs)
    if args.detect_process:
        resource = resource.merge(ProcessResourceDetector(include_command_args=True).detect())
    headers = {"authorization": f"Bearer {args.token}"} if args.token else {}
    log_exp, metric_exp, span_exp = _exporters(args.protocol, args.endpoint, headers)

    logs = LoggerProvider(resource=resource)
    logs.add_log_record_processor(BatchLogRecordProcessor(
        log_exp, max_export_batch_size=512, max_queue_size=max(2048, args.records + 16)
    ))
    otel_logger = logs.get_logger("sender.scope")
    from opentelemetry._logs import LogRecord, SeverityNumber

    if args.announce:
        print("sending", file=sys.stderr, flush=True)
    for i in range(args.records):
        otel_logger.emit(LogRecord(
            timestamp=time.time_ns(), body=f"step {i} done", severity_number=SeverityNumber.INFO,
            severity_text="INFO", attributes={"metric": "loss", "value": 1.0 / (i + 1), "step": i},
        ))
    otel_logger.emit(LogRecord(
        timestamp=time.time_ns(), body="settings", severity_number=SeverityNumber.INFO,
        attributes={"params.lr": 0.01, "tags.team": "payments", "ids": [1, 2, 3]},
    ))
    if args.fail:
        otel_logger.emit(LogRecord(
            timestamp=time.time_ns(), body="crashed", severity_number=SeverityNumber.ERROR, severity_text="ERROR",
            attributes={"exception.type": "ValueError", "exception.message": "bad input"},
        ))
    if args.js_error:  # err.name, err.message and err.stack, as a Node.js service logs them
        otel_logger.emit(LogRecord(
            timestamp=time.time_ns(), body="payment failed", severity_number=SeverityNumber.ERROR,
            severity_text="ERROR", attributes={
                "exception.type": "Error", "exception.message": "card declined",
                "exception.stacktrace": "Error: card declined\n    at charge (/app/svc.js:61:11)\n"
                                        "    at main (/app/svc.js:80:3)"},
        ))
    if args.raise_:
        from opentelemetry.sdk._logs import LoggingHandler

        std = logging.getLogger("sender.std")
        std.propagate = False
        std.addHandler(LoggingHandler(logger_provider=logs))
        try:
            raise ValueError("bad input")
        except ValueError:
            std.exception("crashed")
    sent = {"records": args.records}
    if not args.no_metrics:
        reader = PeriodicExportingMetricReader(metric_exp, export_interval_millis=60_000)
        meters = MeterProvider(resource=resource, metric_readers=[reader])
        meter = meters.get_meter("sender.meter")
        counter = meter.create_counter("requests")
        counter.add(3, {"route": "/a"})
        for i, extra in enumerate(args.counter_attrs):
            counter.add(10 * (i + 1), extra)
        meter.create_histogram("latency").record(12.5, {"route": "/a"})
        meter.create_histogram("latency").record(7.5, {"route": "/a"})
        meters.shutdown()
    if not args.no_traces:
        traces = TracerProvider(resource=resource)
        traces.add_span_processor(BatchSpanProcessor(span_exp))
        with traces.get_tracer("sender.tracer").start_as_current_span("handle") as span:
            span.set_attribute("order", 7)
            time.sleep(0.01)
        traces.shutdown()
    logs.shutdown()
    print(json.dumps(sent), flush=True)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(main())
