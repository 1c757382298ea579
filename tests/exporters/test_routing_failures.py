"""A collector that is down or slow never blocks the caller, never costs run data, and
its drops are counted on the run with one warning; exit waits a bounded time."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time

import pytest

import tracklog
from tracklog.exporters import DROPPED_METRIC, flush_routing, route_to_otlp, stop_routing
from tracklog.handlers import RunHandler

from ..conftest import python_env

N = 2000


def _log_a_lot(run) -> float:  # type: ignore[no-untyped-def]
    """Log N metric points and N records; return the slowest single call, in seconds."""
    log = logging.getLogger("failures.app")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.handlers[:] = [RunHandler(run)]
    slowest = 0.0
    for i in range(N):
        t0 = time.perf_counter()
        run.log("loss", i * 0.5)
        log.info("step %d", i)
        slowest = max(slowest, time.perf_counter() - t0)
    return slowest


def _warnings(caplog) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.getMessage() for r in caplog.records if r.name == "tracklog" and "OTLP collector" in r.getMessage()]


def _check_complete_and_counted(run, sink) -> None:  # type: ignore[no-untyped-def]
    assert [p.value for p in run.get_metric_history("loss")] == [i * 0.5 for i in range(N)]
    assert len(run.get_logs(logger="failures.app")) == N
    history = run.get_metric_history(DROPPED_METRIC)
    assert history, "the drop count is recorded on the run"
    assert history[-1].value == sink.dropped
    assert [p.value for p in history] == sorted(p.value for p in history)


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_collector_down_costs_the_caller_nothing_and_drops_are_counted(closed_port, run, protocol, caplog):
    caplog.set_level(logging.WARNING, logger="tracklog")
    sink = route_to_otlp(endpoint=closed_port, protocol=protocol, timeout=1, shutdown_timeout=3)
    t0 = time.perf_counter()
    slowest = _log_a_lot(run)
    elapsed = time.perf_counter() - t0
    # Far below the exporter's 1 s timeout: the caller only enqueues.
    assert slowest < 0.5, slowest
    assert elapsed < 20, elapsed
    stop_routing()
    assert sink.exported == 0
    assert sink.dropped >= 2 * N  # every metric record and every log record
    _check_complete_and_counted(run, sink)
    assert len(_warnings(caplog)) == 1, [(r.threadName, r.getMessage()[:40]) for r in caplog.records]


def test_slow_collector_costs_the_caller_nothing_and_drops_are_counted(receiver, run, caplog):
    protocol = receiver.protocol
    caplog.set_level(logging.WARNING, logger="tracklog")
    receiver.delay = 3.0  # longer than the exporter's timeout: every export times out
    sink = route_to_otlp(endpoint=receiver.url, protocol=protocol, timeout=0.5, shutdown_timeout=2)
    slowest = _log_a_lot(run)
    assert slowest < 0.5, slowest
    t0 = time.perf_counter()
    clean = stop_routing()
    assert time.perf_counter() - t0 < 15  # bounded by shutdown_timeout, plus flushes
    assert clean is False
    assert sink.dropped >= 2 * N - sink.exported
    assert sink.dropped > 0
    _check_complete_and_counted(run, sink)
    assert len(_warnings(caplog)) == 1, [(r.threadName, r.getMessage()[:40]) for r in caplog.records]


def test_a_full_export_queue_drops_and_counts_instead_of_waiting(http_receiver, run):
    http_receiver.delay = 1.0
    sink = route_to_otlp(endpoint=http_receiver.url, timeout=5, max_queue_size=100, shutdown_timeout=1)
    slowest = _log_a_lot(run)
    assert slowest < 0.5, slowest
    run.flush()
    assert sink.dropped > 0  # the writer never waited for the collector
    http_receiver.delay = 0
    stop_routing()
    assert sink.dropped + sink.exported >= 2 * N
    _check_complete_and_counted(run, sink)


def test_recovery_after_an_outage_exports_new_records(http_receiver, closed_port, run):
    route_to_otlp(endpoint=closed_port, timeout=1)
    run.log("during", 1)
    assert flush_routing(20)
    route_to_otlp(endpoint=http_receiver.url, timeout=5)
    run.log("after", 2)
    assert flush_routing(20)
    assert [r["attributes"]["metric"] for r in http_receiver.logs()] == ["after"]
    assert run.get_metric_history(DROPPED_METRIC)[-1].value >= 1


_EXIT_SCRIPT = """
import json, sys, time
import tracklog
from tracklog.exporters import route_to_otlp

run = tracklog.Experiment(tracklog.Workspace(sys.argv[1]), "exit").start_logging("r")
route_to_otlp(endpoint=sys.argv[2], timeout=20)
for i in range(500):
    run.log("loss", i)
print(json.dumps({"run": run.id, "t": time.time()}), flush=True)
"""


def test_exit_waits_for_a_slow_collector_at_most_the_shutdown_timeout(http_receiver, tmp_path):
    http_receiver.delay = 30.0  # the exporter would wait 20 s per batch
    started = time.time()
    proc = subprocess.run(
        [sys.executable, "-c", _EXIT_SCRIPT, str(tmp_path / "ws"), http_receiver.url],
        env=python_env(TRACKLOG_OTLP_SHUTDOWN_TIMEOUT="1"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    ended = time.time()
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    assert ended - info["t"] < 10, ended - info["t"]  # 1 s bound, plus interpreter teardown
    assert ended - started < 30
    # One warning on stderr, not the SDK's error per batch.
    assert proc.stderr.count("OTLP collector") == 1, proc.stderr
    assert "Failed to export" not in proc.stderr
    run = tracklog.Workspace(tmp_path / "ws").get_run(info["run"])
    assert run.status == "Completed"
    assert len(run.get_metric_history("loss")) == 500
    assert run.get_metric_history(DROPPED_METRIC)[-1].value >= 500


def test_sdk_exporter_diagnostics_land_in_the_run_log_without_feeding_back(closed_port, run):
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    root.addHandler(RunHandler(run))
    sink = route_to_otlp(endpoint=closed_port, timeout=1)
    run.log("x", 1)
    assert flush_routing(20)
    assert flush_routing(20)
    dropped_once = sink.dropped
    time.sleep(1.5)  # a feedback loop would keep exporting (and dropping) diagnostics
    assert flush_routing(20)
    assert sink.dropped == dropped_once
    stop_routing()
    # The SDK exporter's own records (or, with SDKs whose exporters raise, tracklog's
    # record of what the export raised).
    diagnostics = run.get_logs(logger="opentelemetry") or run.get_logs(logger="tracklog.otlp")
    assert diagnostics, "the exporter's diagnostics are in the run's log file"
    assert {r["level"] for r in diagnostics} == {"DEBUG"}


def test_no_loop_with_the_sdks_own_logging_handler_and_run_exporter_on_the_root_logger(http_receiver, run):
    import warnings

    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor

    from tracklog.exporters import RunLogExporter

    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(RunLogExporter(run)))
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        root.addHandler(LoggingHandler(logger_provider=provider))
    root.addHandler(RunHandler(run))
    route_to_otlp(endpoint=http_receiver.url, timeout=5)
    app = logging.getLogger("loop.app")
    for i in range(5):
        app.info("record %d", i)
    assert flush_routing(20)
    first = len(http_receiver.logs())
    time.sleep(1.5)
    assert flush_routing(20)
    assert flush_routing(20)
    received = http_receiver.logs()
    assert len(received) == first  # nothing keeps coming back
    # Each record reached the run twice (RunHandler and the OTel path), so it goes out
    # twice; SDKs before 1.39 label the OTel copy with the SDK's own scope, which
    # tracklog never re-exports.
    new_sdk = hasattr(__import__("opentelemetry.sdk._logs", fromlist=["x"]), "ReadableLogRecord")
    bodies = sorted(r["body"] for r in received if r["scope"] == "loop.app")
    assert bodies == sorted((2 if new_sdk else 1) * [f"record {i}" for i in range(5)])
    assert not [r for r in received if r["scope"].startswith(("opentelemetry", "urllib3"))]
    # Both inputs recorded the app's records in the run (RunHandler and the OTel path).
    assert len(run.get_logs(logger="loop.app")) == (10 if new_sdk else 5)
    provider.shutdown()
