"""A run's end takes what the global OTel SDK providers still hold, so records and metric
values logged inside ``with start_run()`` land in that run, never in a stray one after it;
metric steps count per run; the SDK's temporality and aggregation choices are honoured;
a custom level keeps its name."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import warnings

import pytest
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import Counter, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader

import tracklog
from tests.conftest import python_env
from tracklog._otel_fields import std_level
from tracklog.exporters import RunLogExporter, RunMetricExporter

#: A service-style script: global providers with a long batch delay and export interval,
#: so nothing is exported by the time each run ends unless the end asks for it.
SCRIPT = r"""
import json, logging, sys, time
import tracklog
from opentelemetry import _logs, metrics
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from tracklog.exporters import RunLogExporter, RunMetricExporter

tracklog.set_tracking_uri(sys.argv[1])
logs = LoggerProvider()
logs.add_log_record_processor(BatchLogRecordProcessor(RunLogExporter(), schedule_delay_millis=60_000))
_logs.set_logger_provider(logs)
reader = PeriodicExportingMetricReader(RunMetricExporter(), export_interval_millis=3_600_000)
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
log = logging.getLogger("train")
log.propagate = False
log.addHandler(LoggingHandler(logger_provider=logs))
log.setLevel(logging.INFO)
requests = metrics.get_meter("svc").create_counter("requests")

ids = []
for epochs in (2, 1):
    with tracklog.start_run() as run:
        for epoch in range(epochs):
            log.info("epoch done", extra={"metric": "loss", "value": 1.0 / (epoch + 1), "step": epoch})
            requests.add(3)
        ids.append(run.info.run_id)
print(json.dumps(ids))
"""


def test_records_and_metrics_inside_start_run_land_in_that_run_not_a_stray_one(tmp_path):
    ws = str(tmp_path / "ws")
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, ws], env=python_env(), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    first, second = json.loads(done.stdout)
    workspace = tracklog.Workspace(ws)
    assert sorted(r.id for r in workspace.get_runs()) == sorted([first, second])  # no stray run
    run1, run2 = workspace.get_run(first), workspace.get_run(second)
    assert [(p.step, p.value) for p in run1.get_metric_history("loss")] == [(0, 1.0), (1, 0.5)]
    assert [r["message"] for r in run1.get_logs()] == ["epoch done", "epoch done"]
    assert [(p.step, p.value) for p in run1.get_metric_history("requests")] == [(0, 6)]
    # The second run's steps start again at 0; the counter is cumulative, as the SDK's.
    assert [(p.step, p.value) for p in run2.get_metric_history("requests")] == [(0, 9)]
    assert [p.step for p in run2.get_metric_history("loss")] == [0]
    # The reader's export at exit repeats the values the second run's end took: no warning.
    assert "are not kept" not in done.stderr


def test_new_metric_values_after_the_run_ended_are_refused_with_one_warning(tmp_path, caplog):
    tracklog.set_tracking_uri(str(tmp_path / "ws"))
    reader = PeriodicExportingMetricReader(RunMetricExporter(), export_interval_millis=3_600_000)
    provider = MeterProvider(metric_readers=[reader])
    counter = provider.get_meter("svc").create_counter("requests")
    with tracklog.start_run() as run:
        counter.add(2)
        assert reader.force_flush(10_000)
    with caplog.at_level(logging.WARNING, logger="tracklog"):
        assert reader.force_flush(10_000)  # the same values again: nothing lost, nothing said
        assert not [r for r in caplog.records if "are not kept" in r.getMessage()]
        counter.add(1)
        reader.force_flush(10_000)
    provider.shutdown()
    assert [r.getMessage() for r in caplog.records if "are not kept" in r.getMessage()] == [
        f"tracklog: OpenTelemetry metrics exported after run {run.info.run_id} ended, with no run active, "
        "are not kept (no run is started for them)"
    ]
    assert [r.id for r in tracklog.Workspace(str(tmp_path / "ws")).get_runs()] == [run.info.run_id]


def test_delta_temporality_gives_each_intervals_count(run):
    exporter = RunMetricExporter(run, preferred_temporality={Counter: AggregationTemporality.DELTA})
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(metric_readers=[reader])
    counter = provider.get_meter("app").create_counter("requests")
    counter.add(2)
    assert reader.force_flush(10_000)
    counter.add(3)
    assert reader.force_flush(10_000)
    provider.shutdown()
    assert [(p.step, p.value) for p in run.get_metric_history("requests")][:2] == [(0, 2), (1, 3)]


def test_a_custom_level_keeps_its_name_through_the_sdk(run):
    logging.addLevelName(25, "NOTICE")
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(RunLogExporter(run)))
    log = logging.getLogger("notice.app")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        log.handlers[:] = [LoggingHandler(logger_provider=provider)]
    log.log(25, "disk nearly full")
    provider.shutdown()
    [record] = run.get_logs()
    assert (record["level"], record["levelno"]) == ("NOTICE", 25)


def test_an_unknown_level_name_from_elsewhere_is_kept_in_the_line_and_renames_nothing(run):
    # INFO3 with a name this process never registered (a Java or Go service's AUDIT).
    assert std_level(11, "AUDIT_TRAIL") == 22
    assert logging.getLevelName(22) == "Level 22"  # the process's own levels keep their names
    assert std_level(10, "DEBUG") == 21  # a standard name defers to the number
    assert std_level(0, "Level 27") == 27
    assert std_level(None, None) == logging.INFO
    if not hasattr(__import__("opentelemetry.sdk._logs", fromlist=["x"]), "ReadableLogRecord"):
        pytest.skip("SDKs before 1.39 have no keyword Logger.emit")
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(RunLogExporter(run)))
    provider.get_logger("svc").emit(body="audited", severity_number=SeverityNumber.INFO3, severity_text="AUDIT_TRAIL")
    provider.shutdown()
    [record] = run.get_logs()
    assert (record["levelno"], record["severity_text"]) == (22, "AUDIT_TRAIL")


#: The OTel docs' set-up with a collector that is down, beside tracklog's exporter, and the
#: SDK's own warnings reaching the same provider through the root logger.
DEAD_COLLECTOR = r"""
import logging, sys, time
import tracklog
from opentelemetry._logs import set_logger_provider
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from tracklog.exporters import RunLogExporter

tracklog.set_tracking_uri(sys.argv[1])
provider = LoggerProvider()
provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter(endpoint=sys.argv[2], timeout=5)))
provider.add_log_record_processor(BatchLogRecordProcessor(RunLogExporter(), schedule_delay_millis=60_000))
set_logger_provider(provider)
logging.basicConfig(level=logging.INFO, handlers=[LoggingHandler(logger_provider=provider)])
started = time.monotonic()
with tracklog.start_run() as run:
    logging.info("hello")
print(run.info.run_id, time.monotonic() - started, flush=True)
"""


def test_a_run_ends_at_once_when_the_providers_other_exporter_has_no_collector(tmp_path):
    """Only the processors that export into runs are flushed at a run's end: a dead
    collector beside them (whose retries feed the SDK's warnings back into the provider)
    is not waited for; before, the flush never returned."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ws = str(tmp_path / "ws")
    done = subprocess.run(
        [sys.executable, "-c", DEAD_COLLECTOR, ws, f"http://127.0.0.1:{port}/v1/logs"],
        env=python_env(), capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    run_id, took = done.stdout.split()
    assert float(took) < tracklog.pipeline.current.ENDING_WAIT + 1.0
    assert [r["message"] for r in tracklog.Workspace(ws).get_run(run_id).get_logs()] == ["INFO:root:hello"]


FORKED = r"""
import json, multiprocessing as mp, sys
import tracklog
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from tracklog.exporters import RunMetricExporter

tracklog.set_tracking_uri(sys.argv[1])
metrics.set_meter_provider(MeterProvider(metric_readers=[PeriodicExportingMetricReader(RunMetricExporter(), export_interval_millis=3_600_000)]))
requests = metrics.get_meter("svc").create_counter("requests")

def child(queue):
    with tracklog.start_run(run_name="child", nested=True) as run:
        tracklog.log_metric("child_loss", 0.1)
    queue.put(run.info.run_id)

if __name__ == "__main__":
    ctx = mp.get_context("fork")
    with tracklog.start_run(run_name="parent") as parent:
        requests.add(5)
        queue = ctx.Queue()
        worker = ctx.Process(target=child, args=(queue,))
        worker.start()
        child_id = queue.get(timeout=60)
        worker.join(60)
    print(json.dumps([parent.info.run_id, child_id]))
"""


def test_a_forked_childs_run_end_leaves_the_parents_otel_state_alone(tmp_path):
    ws = str(tmp_path / "ws")
    script = tmp_path / "forked.py"
    script.write_text(FORKED)
    done = subprocess.run(
        [sys.executable, str(script), ws], env=python_env(), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    parent, child = json.loads(done.stdout)
    workspace = tracklog.Workspace(ws)
    assert workspace.get_run(child).get_metrics() == {"child_loss": 0.1}
    assert workspace.get_run(parent).get_metrics() == {"requests": 5}
