"""RunLogExporter and RunMetricExporter plugged into a real OpenTelemetry SDK set-up."""

from __future__ import annotations

import logging
import warnings

import pytest
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from tracklog.exporters import RunLogExporter, RunMetricExporter, series_name

# SDKs before 1.39 have no keyword Logger.emit, and their LoggingHandler names every
# record's scope after its own module instead of the stdlib logger.
_NEW_SDK = hasattr(__import__("opentelemetry.sdk._logs", fromlist=["x"]), "ReadableLogRecord")


def _emit(logger, body, attributes=None):  # type: ignore[no-untyped-def]
    """Emit one OTel log record through the SDK's Logger, on any supported SDK."""
    if _NEW_SDK:
        logger.emit(body=body, attributes=attributes)
    else:
        import time

        from opentelemetry.sdk._logs import LogRecord

        logger.emit(LogRecord(timestamp=time.time_ns(), body=body, attributes=attributes))


def _otel_logger(provider: LoggerProvider, name: str) -> logging.Logger:
    """A stdlib logger whose records go through the SDK's LoggingHandler only."""
    log = logging.getLogger(name)
    log.propagate = False
    log.setLevel(logging.DEBUG)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        handler = LoggingHandler(logger_provider=provider)
    log.handlers[:] = [handler]
    return log


@pytest.fixture
def log_provider(run):
    provider = LoggerProvider(resource=Resource.create({"service.name": "svc"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(RunLogExporter(run)))
    yield provider
    provider.shutdown()


def test_every_record_becomes_a_run_log_line_with_time_severity_body_and_attributes(run, log_provider):
    log = _otel_logger(log_provider, "otel.app")
    log.warning("disk %s is full", "/data", extra={"device": "sda", "ctx": {"host": "n1"}})
    log.debug("details")
    records = run.get_logs()
    assert [r["message"] for r in records] == ["disk /data is full", "details"]
    first = records[0]
    assert first["level"] == "WARNING" and first["levelno"] == logging.WARNING
    assert first["logger"] == ("otel.app" if _NEW_SDK else "opentelemetry.sdk._logs._internal")
    assert first["attributes"]["device"] == "sda"
    if _NEW_SDK:  # older SDKs drop map-valued attributes
        assert first["attributes"]["ctx"] == {"host": "n1"}
    assert abs(first["ts"] - records[1]["ts"]) < 60
    assert records[1]["level"] == "DEBUG"


def test_trace_and_span_ids_of_the_active_span_are_kept(run, log_provider):
    tracer = TracerProvider().get_tracer("t")
    log = _otel_logger(log_provider, "otel.traced")
    with tracer.start_as_current_span("work") as span:
        log.info("inside a span")
        context = span.get_span_context()
    record = run.get_logs()[0]
    assert record["trace_id"] == f"{context.trace_id:032x}"
    assert record["span_id"] == f"{context.span_id:016x}"


def test_convention_attributes_become_metrics_tags_and_params(run, log_provider):
    logger = log_provider.get_logger("direct")
    _emit(logger, "epoch", {"metric": "loss", "value": 0.5, "step": 4})
    _emit(logger, "epoch", {"metrics.acc": 0.9, "metrics.val.loss": 1.5, "step": 4})
    _emit(logger, "meta", {"tags.team": "vision", "params.lr": 0.01})
    history = run.get_metric_history("loss")
    assert [(p.step, p.value) for p in history] == [(4, 0.5)]
    assert run.get_metrics("acc") == {"acc": 0.9}
    assert run.get_metric_history("val.loss")[0].step == 4
    assert run.get_tags()["team"] == "vision"
    assert run.get_params()["lr"] == "0.01"
    assert [r["message"] for r in run.get_logs()] == ["epoch", "epoch", "meta"]


def test_map_bodies_and_missing_severity_are_readable(run, log_provider):
    logger = log_provider.get_logger("direct")
    _emit(logger, {"k": [1, 2]})
    record = run.get_logs()[0]
    assert record["message"] == '{"k": [1, 2]}'
    assert record["levelno"] == logging.INFO


def test_records_after_the_run_ended_still_reach_the_log_but_not_the_metrics(run, log_provider):
    run.complete()
    _emit(log_provider.get_logger("late"), "late", {"metric": "late", "value": 1})
    assert run.get_metrics() == {}
    assert [r["message"] for r in run.get_logs()] == ["late"]


def test_batch_processor_with_no_run_given_uses_the_current_run(run):
    provider = LoggerProvider()
    exporter = RunLogExporter()
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter, schedule_delay_millis=50))
    _emit(provider.get_logger("x"), "to the current run")
    assert provider.force_flush(10_000)
    assert exporter.force_flush(10_000)
    provider.shutdown()
    assert [r["message"] for r in run.get_logs()] == ["to the current run"]


def test_series_names_carry_sorted_attributes_and_histogram_suffixes():
    assert series_name("requests", {}) == "requests"
    assert series_name("requests", {"route": "/a", "code": 200}) == "requests{code=200,route=/a}"
    assert series_name("latency", {"route": "/a"}, "count") == "latency.count{route=/a}"
    assert series_name("r", {"a": "1,b=2"}) == 'r{a="1,b=2"}' != series_name("r", {"a": "1", "b": "2"})
    assert series_name("r", {"a": '"\\'}) == 'r{a="\\"\\\\"}'
    assert series_name("r", {"a": "[x]"}) == 'r{a="[x]"}' != series_name("r", {"a": ["x"]}) == "r{a=[x]}"


def test_counters_gauges_and_histograms_become_run_metric_series(run):
    reader = PeriodicExportingMetricReader(RunMetricExporter(run), export_interval_millis=3_600_000)
    provider = MeterProvider(metric_readers=[reader])
    meter = provider.get_meter("app")
    requests = meter.create_counter("requests")
    queue = meter.create_up_down_counter("queue")
    temperature = meter.create_gauge("temperature")
    latency = meter.create_histogram("latency")

    requests.add(2, {"route": "/a"})
    requests.add(1, {"route": "/b"})
    queue.add(5)
    queue.add(-2)
    temperature.set(21.5)
    for value in (0.1, 0.3, 0.2):
        latency.record(value, {"route": "/a"})
    assert reader.force_flush(10_000)  # export 0
    requests.add(3, {"route": "/a"})
    assert reader.force_flush(10_000)  # export 1
    provider.shutdown()  # a final export

    metrics = run.get_metrics()
    assert [(p.step, p.value) for p in run.get_metric_history("requests{route=/a}")][:2] == [(0, 2), (1, 5)]
    assert run.get_metric_history("requests{route=/b}")[0].value == 1
    assert run.get_metric_history("queue")[0].value == 3
    assert run.get_metric_history("temperature")[0].value == 21.5
    assert run.get_metric_history("latency.count{route=/a}")[0].value == 3
    assert run.get_metric_history("latency.sum{route=/a}")[0].value == pytest.approx(0.6)
    assert run.get_metric_history("latency.min{route=/a}")[0].value == pytest.approx(0.1)
    assert run.get_metric_history("latency.max{route=/a}")[0].value == pytest.approx(0.3)
    assert "latency{route=/a}" not in metrics


def test_metric_points_keep_the_data_point_time(run):
    import time

    reader = PeriodicExportingMetricReader(RunMetricExporter(run), export_interval_millis=3_600_000)
    provider = MeterProvider(metric_readers=[reader])
    provider.get_meter("app").create_counter("c").add(1)
    before = time.time()
    reader.force_flush(10_000)
    after = time.time()
    provider.shutdown()
    point = run.get_metric_history("c")[0]
    assert before - 1 <= point.timestamp <= after + 1
