"""OpenTelemetry into a run: RunLogExporter and RunMetricExporter in an SDK set-up.

    python examples/otel_into_run.py

Every OTel log record becomes a line of the run's log (with trace and span ids);
attributes that follow the record conventions (``metric``/``value``/``step``,
``metrics.<name>``, ``tags.<name>``, ``params.<name>``) become run data. Metric
instruments become run metric series such as ``requests{route=/a}``.
"""

from __future__ import annotations

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.trace import TracerProvider

import tracklog
from tracklog.exporters import RunLogExporter, RunMetricExporter

tracklog.set_experiment("otel-demo")
with tracklog.start_run() as run:
    logs = LoggerProvider()
    logs.add_log_record_processor(BatchLogRecordProcessor(RunLogExporter(run)))
    reader = PeriodicExportingMetricReader(RunMetricExporter(run), export_interval_millis=1000)
    meters = MeterProvider(metric_readers=[reader])
    tracer = TracerProvider().get_tracer("demo")

    logger = logs.get_logger("demo")
    requests = meters.get_meter("demo").create_counter("requests")
    latency = meters.get_meter("demo").create_histogram("latency", unit="s")
    with tracer.start_as_current_span("epoch"):
        for step in range(3):
            logger.emit(body="epoch done", attributes={"metrics.loss": 1.0 / (step + 1), "step": step})
            requests.add(10, {"route": "/a"})
            latency.record(0.1 * (step + 1), {"route": "/a"})
    logger.emit(body="config", attributes={"params.lr": 0.01, "tags.model": "mlp"})

    logs.shutdown()  # exports what is batched
    meters.shutdown()  # one final metric export
    print("run", run.id)
    print("metrics:", sorted(run.get_metrics()))
    print("last log:", run.get_logs()[-1]["message"])
