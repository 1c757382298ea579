"""route_to_otlp(): everything reaching a run also goes out over OTLP (http/protobuf and
grpc), decoded by a real receiver on 127.0.0.1."""

from __future__ import annotations

import logging
import time

import pytest

import tracklog
from tracklog import TracklogError
from tracklog.pipeline.event import OUTPUT, Event
from tracklog.exporters import current_route, flush_routing, route_to_otlp, stop_routing
from tracklog.handlers import RunHandler


def _logger(name: str, run) -> logging.Logger:  # type: ignore[no-untyped-def]
    log = logging.getLogger(name)
    log.propagate = False
    log.setLevel(logging.DEBUG)
    log.handlers[:] = [RunHandler(run)]
    return log


def _route(receiver, **extra):  # type: ignore[no-untyped-def]
    return route_to_otlp(endpoint=receiver.url, protocol=receiver.protocol, timeout=5, **extra)


def test_run_metrics_records_output_and_tags_go_out_with_the_runs_resource(receiver, run):
    sink = _route(receiver)
    log = _logger("routing.app", run)
    run.log("loss", 0.5)
    run.log("loss", 0.25, step=7)
    run.tag("team", "vision")
    log.warning("disk %s is full", "/data", extra={"device": "sda", "ctx": {"host": "n1"}})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("it failed")
    run.target.pipeline.put(Event(run.id, OUTPUT, "std_log.txt", b"epoch 1 done\n", None, time.time(), 0, "stdout"))
    assert flush_routing(20)

    records = receiver.logs()
    assert len(records) == 6
    for record in records:
        assert record["resource"]["service.name"] == "tracklog"
        assert record["resource"]["tracklog.run_id"] == run.id
        assert record["resource"]["tracklog.experiment"] == "test-exp"
    by_body = {r["body"]: r for r in records}

    warning = by_body["disk /data is full"]
    assert warning["severity_text"] == "WARN" and warning["severity_number"] == 13
    assert warning["scope"] == "routing.app"
    assert warning["attributes"] == {"device": "sda", "ctx.host": "n1"}
    error = by_body["it failed"]
    assert error["severity_number"] == 17
    assert "ValueError: boom" in error["attributes"]["exception.stacktrace"]
    assert error["attributes"]["exception.type"] == "ValueError"
    assert error["attributes"]["exception.message"] == "boom"

    points = [r for r in records if r["event_name"] == "tracklog.metric"]
    assert [(p["attributes"]["metric"], p["attributes"]["value"], p["attributes"]["step"]) for p in points] == [
        ("loss", 0.5, 0),
        ("loss", 0.25, 7),
    ]
    tag = by_body["tag team=vision"]
    assert tag["event_name"] == "tracklog.tag" and tag["attributes"] == {"tags.team": "vision"}
    output = by_body["epoch 1 done"]
    assert output["attributes"]["log.iostream"] == "stdout"
    assert output["attributes"]["log.file.name"] == "std_log.txt"

    # The run store is written regardless.
    assert [p.value for p in run.get_metric_history("loss")] == [0.5, 0.25]
    assert sink.dropped == 0 and sink.exported >= 6


def test_each_metric_name_also_goes_out_as_a_gauge_of_its_latest_value(receiver, run):
    _route(receiver)
    for i in range(5):
        run.log("loss", 1.0 / (i + 1))
    run.log("val acc", 0.75)
    run.log("note", "text values are log records only")
    assert flush_routing(20)
    gauges = {m["name"]: m for m in receiver.metrics()}
    assert set(gauges) == {"loss", "val_acc"}
    assert gauges["loss"]["kind"] == "gauge" and gauges["loss"]["value"] == pytest.approx(0.2)
    assert gauges["val_acc"]["attributes"] == {"tracklog.metric": "val acc"}
    assert gauges["loss"]["resource"]["tracklog.run_id"] == run.id
    stamp = run.get_metric_history("loss")[-1].timestamp
    assert gauges["loss"]["time"] == pytest.approx(stamp, abs=1e-3)


def test_runs_of_several_workspaces_each_carry_their_own_resource(receiver, run, tmp_path):
    _route(receiver)
    other = tracklog.Experiment(tracklog.Workspace(tmp_path / "other"), "other-exp").start_logging("b")
    run.log("a", 1)
    other.log("b", 2)
    child = run.child_run("child")
    child.log("c", 3)
    assert flush_routing(20)
    owners = {r["attributes"]["metric"]: r["resource"] for r in receiver.logs()}
    assert owners["a"]["tracklog.run_id"] == run.id
    assert (owners["b"]["tracklog.run_id"], owners["b"]["tracklog.experiment"]) == (other.id, "other-exp")
    assert owners["c"]["tracklog.run_id"] == child.id
    other.complete()
    child.complete()


def test_headers_argument_reaches_the_collector(receiver, run):
    _route(receiver, headers={"X-Api-Key": "secret"})
    run.log("x", 1)
    assert flush_routing(20)
    assert receiver.headers and all(h.get("x-api-key") == "secret" for h in receiver.headers)


def test_service_name_argument_beats_the_environment(http_receiver, run, monkeypatch):
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test,service.name=attr")
    route_to_otlp(endpoint=http_receiver.url, service_name="from-arg", timeout=5)
    run.log("x", 1)
    assert flush_routing(20)
    resource = http_receiver.logs()[0]["resource"]
    assert resource["service.name"] == "from-arg"
    assert resource["deployment.environment"] == "test"


def test_service_name_comes_from_otel_service_name_then_resource_attributes(http_receiver, run, monkeypatch):
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=attr")
    route_to_otlp(endpoint=http_receiver.url, timeout=5)
    run.log("x", 1)
    assert flush_routing(20)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "env-name")
    route_to_otlp(endpoint=http_receiver.url, timeout=5)
    run.log("y", 1)
    assert flush_routing(20)
    names = {r["attributes"]["metric"]: r["resource"]["service.name"] for r in http_receiver.logs()}
    assert names == {"x": "attr", "y": "env-name"}


def test_endpoint_protocol_and_headers_come_from_the_otel_environment(grpc_receiver, run, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", grpc_receiver.url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-team=vision")
    route_to_otlp(timeout=5)
    run.log("x", 1)
    assert flush_routing(20)
    assert [r["attributes"]["metric"] for r in grpc_receiver.logs()] == ["x"]
    assert grpc_receiver.headers[0]["x-team"] == "vision"


def test_per_signal_protocols_and_endpoints_are_honoured(grpc_receiver, http_receiver, run, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", grpc_receiver.url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", http_receiver.url + "/v1/metrics")
    route_to_otlp(timeout=5)
    run.log("x", 1.5)
    assert flush_routing(20)
    assert [r["attributes"]["metric"] for r in grpc_receiver.logs()] == ["x"]
    assert [m["name"] for m in http_receiver.metrics()] == ["x"]
    assert not http_receiver.logs() and not grpc_receiver.metrics()


def test_arguments_beat_the_environment(http_receiver, closed_port, run, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", closed_port)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    route_to_otlp(endpoint=http_receiver.url, protocol="http/protobuf", timeout=5)
    run.log("x", 1)
    assert flush_routing(20)
    assert len(http_receiver.logs()) == 1


@pytest.mark.parametrize("protocol", ["http/json", "carrier-pigeon"])
def test_an_unusable_protocol_is_a_clear_error(protocol, monkeypatch):
    with pytest.raises(TracklogError, match="grpc or http/protobuf"):
        route_to_otlp(protocol=protocol)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
    with pytest.raises(TracklogError):
        route_to_otlp()
    assert current_route() is None


def test_pipelines_created_after_the_call_are_routed_too(http_receiver, tmp_path):
    route_to_otlp(endpoint=http_receiver.url, timeout=5)
    later = tracklog.Experiment(tracklog.Workspace(tmp_path / "later"), "later").start_logging("r")
    later.log("late", 1)
    assert flush_routing(20)
    assert [r["attributes"]["metric"] for r in http_receiver.logs()] == ["late"]
    later.complete()


def test_routing_again_replaces_the_route_and_stop_ends_it(http_receiver, grpc_receiver, run):
    first = route_to_otlp(endpoint=http_receiver.url, timeout=5)
    run.log("one", 1)
    second = route_to_otlp(endpoint=grpc_receiver.url, protocol="grpc", timeout=5)
    run.log("two", 2)
    assert flush_routing(20)
    assert stop_routing() is True
    run.log("three", 3)
    run.flush()
    assert [r["attributes"]["metric"] for r in http_receiver.logs()] == ["one"]
    assert [r["attributes"]["metric"] for r in grpc_receiver.logs()] == ["two"]
    assert first not in run.target.pipeline.sinks and second not in run.target.pipeline.sinks
    assert current_route() is None
    assert [p.value for p in run.get_metric_history("three")] == [3]


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_forked_child_exports_its_own_records_once_over_fresh_connections(http_receiver, run):
    import os

    route_to_otlp(endpoint=http_receiver.url, timeout=5)
    run.log("parent", 1)
    assert flush_routing(20)
    pid = os.fork()
    if pid == 0:  # the child: log, export, and leave without running the parent's atexit
        code = 1
        try:
            run.log("child", 2)
            code = 0 if flush_routing(20) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    names = [r["attributes"]["metric"] for r in http_receiver.logs()]
    assert sorted(names) == ["child", "parent"]
