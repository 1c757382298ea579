"""Raw OTLP/HTTP requests with ``requests``: both encodings, gzip, and the spec's status codes."""

from __future__ import annotations

import gzip
import json
import time

import requests
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.resource.v1 import resource_pb2

import tracklog
from tracklog.receivers._runs import RECHECK

PB = {"Content-Type": "application/x-protobuf"}
JS = {"Content-Type": "application/json"}


def _kv(key: str, value: common_pb2.AnyValue) -> common_pb2.KeyValue:
    return common_pb2.KeyValue(key=key, value=value)


def _logs_request(*records: logs_pb2.LogRecord, resource: dict[str, str] | None = None) -> bytes:
    attrs = [_kv(k, common_pb2.AnyValue(string_value=v)) for k, v in (resource or {"service.name": "raw"}).items()]
    request = logs_service_pb2.ExportLogsServiceRequest(resource_logs=[logs_pb2.ResourceLogs(
        resource=resource_pb2.Resource(attributes=attrs),
        scope_logs=[logs_pb2.ScopeLogs(scope=common_pb2.InstrumentationScope(name="raw.scope"), log_records=records)],
    )])
    return request.SerializeToString()


def _only_run(workspace, experiment: str = "Default"):  # type: ignore[no-untyped-def]
    (run,) = tracklog.Workspace(workspace, create=False).get_experiment(experiment).get_runs()
    return run


def test_protobuf_logs_keep_attribute_types_and_ids(receive, tmp_path) -> None:
    """Arrays, kvlists, bytes, ints and doubles read back as the proto defines them; ids as hex."""
    receiver = receive()
    record = logs_pb2.LogRecord(
        time_unix_nano=1_700_000_000_000_000_000, severity_number=17, severity_text="ERROR",
        body=common_pb2.AnyValue(kvlist_value=common_pb2.KeyValueList(values=[_kv("k", common_pb2.AnyValue(int_value=1))])),
        trace_id=bytes(range(16)), span_id=bytes(range(8)),
        attributes=[
            _kv("list", common_pb2.AnyValue(array_value=common_pb2.ArrayValue(values=[
                common_pb2.AnyValue(int_value=1), common_pb2.AnyValue(string_value="x")]))),
            _kv("map", common_pb2.AnyValue(kvlist_value=common_pb2.KeyValueList(values=[
                _kv("deep", common_pb2.AnyValue(double_value=0.5))]))),
            _kv("blob", common_pb2.AnyValue(bytes_value=b"\x00\xff")),
            _kv("metrics.acc", common_pb2.AnyValue(double_value=0.9)),
        ],
    )
    reply = requests.post(receiver.http + "/v1/logs", data=_logs_request(record), headers=PB, timeout=30)
    assert reply.status_code == 200 and reply.headers["Content-Type"] == "application/x-protobuf"
    parsed = logs_service_pb2.ExportLogsServiceResponse.FromString(reply.content)
    assert parsed.partial_success.rejected_log_records == 0
    receiver.stop()
    run = _only_run(tmp_path / "ws")
    (line,) = run.get_logs()
    assert line["level"] == "ERROR" and line["logger"] == "raw.scope" and line["message"] == '{"k": 1}'
    assert line["trace_id"] == bytes(range(16)).hex() and line["span_id"] == bytes(range(8)).hex()
    assert line["attributes"]["list"] == [1, "x"]
    assert line["attributes"]["map"] == {"deep": 0.5}
    assert line["attributes"]["blob"] == "AP8="
    assert run.get_metrics()["acc"] == 0.9


def test_json_encoding_per_the_otlp_mapping(receive, tmp_path) -> None:
    """JSON bodies: hex ids, int64 as strings, enums as ints, camelCase; the reply is JSON too."""
    receiver = receive()
    body = {"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "js"}},
                                    {"key": "tracklog.experiment", "value": {"stringValue": "web"}}]},
        "scopeLogs": [{"scope": {"name": "browser"}, "logRecords": [{
            "timeUnixNano": "1700000000000000000", "severityNumber": 9, "severityText": "INFO",
            "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
            "body": {"stringValue": "clicked"},
            "attributes": [{"key": "metric", "value": {"stringValue": "clicks"}},
                           {"key": "value", "value": {"intValue": "3"}}],
        }]}],
    }]}
    reply = requests.post(receiver.http + "/v1/logs", data=json.dumps(body), headers=JS, timeout=30)
    assert reply.status_code == 200, reply.text
    assert reply.headers["Content-Type"] == "application/json" and isinstance(reply.json(), dict)
    metrics = {"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "js"}},
                                    {"key": "tracklog.experiment", "value": {"stringValue": "web"}}]},
        "scopeMetrics": [{"metrics": [
            {"name": "queue", "gauge": {"dataPoints": [{"asInt": "12", "timeUnixNano": "1700000000000000000"}]}},
            {"name": "size", "exponentialHistogram": {"aggregationTemporality": 2, "dataPoints": [{
                "count": "4", "sum": 10.0, "min": 1.0, "max": 4.0, "scale": 0,
                "positive": {"offset": 0, "bucketCounts": ["1", "3"]}}]}},
        ]}],
    }]}
    reply = requests.post(receiver.http + "/v1/metrics", data=json.dumps(metrics), headers=JS, timeout=30)
    assert reply.status_code == 200, reply.text
    receiver.stop()
    run = _only_run(tmp_path / "ws", "web")
    (line,) = run.get_logs()
    assert line["trace_id"] == "5b8efff798038103d269b633813fc60c" and line["message"] == "clicked"
    got = run.get_metrics()
    assert got["clicks"] == 3 and got["queue"] == 12
    assert (got["size.count"], got["size.sum"], got["size.min"], got["size.max"]) == (4, 10.0, 1.0, 4.0)


def test_gzip_bodies_are_taken(receive, tmp_path) -> None:
    """Content-Encoding: gzip is undone before parsing."""
    receiver = receive()
    record = logs_pb2.LogRecord(body=common_pb2.AnyValue(string_value="zipped"))
    reply = requests.post(receiver.http + "/v1/logs", data=gzip.compress(_logs_request(record)),
                          headers={**PB, "Content-Encoding": "gzip"}, timeout=30)
    assert reply.status_code == 200
    receiver.stop()
    assert [r["message"] for r in _only_run(tmp_path / "ws").get_logs()] == ["zipped"]


def test_status_codes_for_bad_requests(receive) -> None:
    """400 bad payload, 404 other path, 415 other type or encoding, with a google.rpc.Status body."""
    receiver = receive()
    url = receiver.http + "/v1/logs"
    bad = requests.post(url, data=b"\xff\xff\xff", headers=PB, timeout=30)
    assert bad.status_code == 400 and status_pb2.Status.FromString(bad.content).message
    assert requests.post(url, data=b"{not json", headers=JS, timeout=30).status_code == 400
    assert requests.post(url, data=b"[]", headers=JS, timeout=30).status_code == 400
    assert requests.post(url, data=json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"traceId": "not-hex"}]}]}]}), headers=JS, timeout=30).status_code == 400
    assert requests.post(receiver.http + "/v1/other", data=b"", headers=PB, timeout=30).status_code == 404
    assert requests.post(url, data=b"x", headers={"Content-Type": "text/plain"}, timeout=30).status_code == 415
    assert requests.post(url, data=b"x", headers={**PB, "Content-Encoding": "br"}, timeout=30).status_code == 415
    # A JSON request is answered in JSON, as the OTLP spec says, an unknown encoding too.
    unknown = requests.post(url, data=b"{}", headers={**JS, "Content-Encoding": "br"}, timeout=30)
    assert unknown.status_code == 415 and unknown.headers["Content-Type"] == "application/json"
    assert "br" in unknown.json()["message"]
    assert requests.post(url, data=gzip.compress(b"x")[:-4], headers={**PB, "Content-Encoding": "gzip"},
                         timeout=30).status_code == 400


def test_oversize_and_gzip_bomb_are_413(receive, tmp_path) -> None:
    """A body over the limit is 413 before it is read; so is a small gzip that inflates past it."""
    receiver = receive("--max-bytes", "100000")
    url = receiver.http + "/v1/logs"
    big = requests.post(url, data=b"\0" * 200_000, headers=PB, timeout=30)
    assert big.status_code == 413
    bomb = gzip.compress(b"\0" * 50_000_000)
    assert len(bomb) < 100_000
    assert requests.post(url, data=bomb, headers={**PB, "Content-Encoding": "gzip"}, timeout=30).status_code == 413
    ok = requests.post(url, data=_logs_request(logs_pb2.LogRecord(body=common_pb2.AnyValue(string_value="fine"))),
                       headers=PB, timeout=30)
    assert ok.status_code == 200
    assert receiver.proc.poll() is None


def test_unknown_run_id_is_a_partial_success(receive, tmp_path) -> None:
    """A resource naming a run that does not exist is refused alone, counted in partial_success."""
    receiver = receive()
    request = logs_service_pb2.ExportLogsServiceRequest.FromString(
        _logs_request(logs_pb2.LogRecord(body=common_pb2.AnyValue(string_value="lost")),
                      resource={"tracklog.run_id": "0" * 32})
    )
    request.resource_logs.extend(logs_service_pb2.ExportLogsServiceRequest.FromString(
        _logs_request(logs_pb2.LogRecord(body=common_pb2.AnyValue(string_value="kept")))).resource_logs)
    reply = requests.post(receiver.http + "/v1/logs", data=request.SerializeToString(), headers=PB, timeout=30)
    assert reply.status_code == 200
    partial = logs_service_pb2.ExportLogsServiceResponse.FromString(reply.content).partial_success
    assert partial.rejected_log_records == 1 and "0" * 32 in partial.error_message
    receiver.stop()
    assert [r["message"] for r in _only_run(tmp_path / "ws").get_logs()] == ["kept"]


def test_summary_and_sums_with_attributes(receive, tmp_path) -> None:
    """A sum per attribute set is its own series; a summary gives count and sum."""
    receiver = receive()
    def point(value: int, route: str) -> metrics_pb2.NumberDataPoint:
        return metrics_pb2.NumberDataPoint(as_int=value, time_unix_nano=1, attributes=[
            _kv("route", common_pb2.AnyValue(string_value=route))])
    request = metrics_service_pb2.ExportMetricsServiceRequest(resource_metrics=[metrics_pb2.ResourceMetrics(
        resource=resource_pb2.Resource(attributes=[_kv("service.name", common_pb2.AnyValue(string_value="m"))]),
        scope_metrics=[metrics_pb2.ScopeMetrics(metrics=[
            metrics_pb2.Metric(name="hits", sum=metrics_pb2.Sum(data_points=[point(1, "/a"), point(2, "/b")])),
            metrics_pb2.Metric(name="rt", summary=metrics_pb2.Summary(data_points=[
                metrics_pb2.SummaryDataPoint(count=5, sum=2.5, time_unix_nano=1)])),
        ])],
    )])
    reply = requests.post(receiver.http + "/v1/metrics", data=request.SerializeToString(), headers=PB, timeout=30)
    assert reply.status_code == 200
    receiver.stop()
    got = _only_run(tmp_path / "ws").get_metrics()
    assert got["hits{route=/a}"] == 1 and got["hits{route=/b}"] == 2
    assert got["rt.count"] == 5 and got["rt.sum"] == 2.5


def test_points_without_a_recorded_value_are_not_stored(receive, tmp_path) -> None:
    """FLAG_NO_RECORDED_VALUE (a staleness marker) on a gauge or histogram point, and a sum point
    with no value set, store nothing: never a 0 in the series."""
    receiver = receive()
    stale = metrics_pb2.DataPointFlags.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK
    request = metrics_service_pb2.ExportMetricsServiceRequest(resource_metrics=[metrics_pb2.ResourceMetrics(
        resource=resource_pb2.Resource(attributes=[_kv("service.name", common_pb2.AnyValue(string_value="m"))]),
        scope_metrics=[metrics_pb2.ScopeMetrics(metrics=[
            metrics_pb2.Metric(name="temp", gauge=metrics_pb2.Gauge(data_points=[
                metrics_pb2.NumberDataPoint(as_double=5.0, time_unix_nano=1),
                metrics_pb2.NumberDataPoint(flags=stale, time_unix_nano=2)])),
            metrics_pb2.Metric(name="hits", sum=metrics_pb2.Sum(data_points=[
                metrics_pb2.NumberDataPoint(time_unix_nano=1), metrics_pb2.NumberDataPoint(as_int=3, time_unix_nano=2)])),
            metrics_pb2.Metric(name="rt", histogram=metrics_pb2.Histogram(data_points=[
                metrics_pb2.HistogramDataPoint(flags=stale, time_unix_nano=1)])),
        ])],
    )])
    reply = requests.post(receiver.http + "/v1/metrics", data=request.SerializeToString(), headers=PB, timeout=30)
    assert reply.status_code == 200
    receiver.stop()
    run = _only_run(tmp_path / "ws")
    assert [p.value for p in run.get_metric_history("temp")] == [5.0]
    assert [p.value for p in run.get_metric_history("hits")] == [3]
    assert not any(name.startswith("rt.") for name in run.get_metrics())


def test_run_data_for_an_ended_run_is_reported_rejected(receive, tmp_path) -> None:
    """Into a run that has ended, metric points and records with run data are counted in
    partial_success with a message saying so; the records' lines are still kept."""
    receiver = receive()
    ended = tracklog.Workspace(tmp_path / "ws").experiment("jobs").start_logging("done")
    ended.complete()
    owner = {"tracklog.run_id": ended.id}
    metric = [_kv("metric", common_pb2.AnyValue(string_value="m")), _kv("value", common_pb2.AnyValue(double_value=1.0))]
    logs = _logs_request(logs_pb2.LogRecord(body=common_pb2.AnyValue(string_value="with data"), attributes=metric),
                         logs_pb2.LogRecord(body=common_pb2.AnyValue(string_value="plain")), resource=owner)
    reply = requests.post(receiver.http + "/v1/logs", data=logs, headers=PB, timeout=30)
    partial = logs_service_pb2.ExportLogsServiceResponse.FromString(reply.content).partial_success
    assert reply.status_code == 200 and partial.rejected_log_records == 1
    assert f"run {ended.id} has ended" in partial.error_message
    points = metrics_service_pb2.ExportMetricsServiceRequest(resource_metrics=[metrics_pb2.ResourceMetrics(
        resource=resource_pb2.Resource(attributes=[_kv("tracklog.run_id", common_pb2.AnyValue(string_value=ended.id))]),
        scope_metrics=[metrics_pb2.ScopeMetrics(metrics=[metrics_pb2.Metric(name="g", gauge=metrics_pb2.Gauge(
            data_points=[metrics_pb2.NumberDataPoint(as_double=1.0), metrics_pb2.NumberDataPoint(as_double=2.0)]))])],
    )])
    reply = requests.post(receiver.http + "/v1/metrics", data=points.SerializeToString(), headers=PB, timeout=30)
    partial = metrics_service_pb2.ExportMetricsServiceResponse.FromString(reply.content).partial_success
    assert reply.status_code == 200 and partial.rejected_data_points == 2 and ended.id in partial.error_message
    receiver.stop()
    run = tracklog.Workspace(tmp_path / "ws", create=False).get_run(ended.id)
    assert [line["message"] for line in run.get_logs()] == ["with data", "plain"]
    assert run.get_metrics() == {}


def test_run_data_for_a_run_its_owner_ended_meanwhile_is_reported_rejected(receive, tmp_path) -> None:
    """A run that was live when its data first came, then ended by its owner (another
    process): within a second (runs.RECHECK) its later run data is refused as above."""
    receiver = receive()
    run = tracklog.Workspace(tmp_path / "ws").experiment("jobs").start_logging("service")
    owner = {"tracklog.run_id": run.id}

    def send(value: float) -> logs_service_pb2.ExportLogsPartialSuccess:
        metric = [_kv("metric", common_pb2.AnyValue(string_value="m")),
                  _kv("value", common_pb2.AnyValue(double_value=value))]
        logs = _logs_request(logs_pb2.LogRecord(body=common_pb2.AnyValue(string_value=f"at {value}"),
                                                attributes=metric), resource=owner)
        reply = requests.post(receiver.http + "/v1/logs", data=logs, headers=PB, timeout=30)
        assert reply.status_code == 200
        return logs_service_pb2.ExportLogsServiceResponse.FromString(reply.content).partial_success

    assert send(1.0).rejected_log_records == 0
    run.complete()
    time.sleep(RECHECK + 0.2)
    partial = send(2.0)
    assert partial.rejected_log_records == 1 and f"run {run.id} has ended" in partial.error_message
    receiver.stop()
    ended = tracklog.Workspace(tmp_path / "ws", create=False).get_run(run.id)
    assert ended.get_status() == "Completed"
    assert [p.value for p in ended.get_metric_history("m")] == [1.0]
    assert [line["message"] for line in ended.get_logs()] == ["at 1.0", "at 2.0"]


def test_replicas_without_an_instance_id_keep_their_counters_apart(receive, tmp_path) -> None:
    """Replicas of one service with no service.instance.id, told apart by the pod (a collector's
    k8s.pod.name) or the host and process.pid, are runs of their own: no cumulative counter
    mixes another's values into its series."""
    receiver = receive()

    def replica(resource: dict[str, str], value: int, at: int) -> dict:  # type: ignore[type-arg]
        return {"resource": {"attributes": [{"key": k, "value": {"stringValue": v}} for k, v in resource.items()]},
                "scopeMetrics": [{"metrics": [{"name": "http.requests", "sum": {
                    "aggregationTemporality": 2, "isMonotonic": True,
                    "dataPoints": [{"startTimeUnixNano": "1", "timeUnixNano": str(at), "asInt": str(value)}]}}]}]}

    replicas = [({"service.name": "api", "k8s.pod.name": "api-a"}, 1000),
                ({"service.name": "api", "k8s.pod.name": "api-b"}, 3),
                ({"service.name": "worker", "host.name": "h", "process.pid": "1"}, 50),
                ({"service.name": "worker", "host.name": "h", "process.pid": "2"}, 7)]
    for interval in range(3):
        body = {"resourceMetrics": [replica(resource, start + interval, (interval + 1) * 10**9)
                                    for resource, start in replicas]}
        assert requests.post(receiver.http + "/v1/metrics", data=json.dumps(body), headers=JS,
                             timeout=30).status_code == 200
    receiver.stop()
    runs = list(tracklog.Workspace(tmp_path / "ws", create=False).get_runs())
    series = sorted([p.value for p in run.get_metric_history("http.requests")] for run in runs)
    assert series == [[3, 4, 5], [7, 8, 9], [50, 51, 52], [1000, 1001, 1002]]
    assert sorted(run.get_tags().get("k8s.pod.name", "") for run in runs) == ["", "", "api-a", "api-b"]


def test_an_int_beyond_64_bits_in_json_is_a_float_and_the_batch_is_kept(receive, tmp_path) -> None:
    """An intValue beyond int64, as OpenTelemetry JS sends a large integer-valued number
    (``1.18e+21``) or as a decimal string, is the nearest float with one warning; the rest of
    the request is stored (before, the whole batch was a 400)."""
    receiver = receive()

    def record(step: int, big: object) -> dict:  # type: ignore[type-arg]
        return {"timeUnixNano": str(1_700_000_000_000_000_000 + step), "body": {"stringValue": f"step {step}"},
                "attributes": [{"key": "metrics.loss", "value": {"doubleValue": 0.5 - step / 10}},
                               {"key": "step", "value": {"intValue": step}},
                               {"key": "params.seed", "value": {"intValue": "7"}},
                               {"key": "big", "value": {"intValue": big}},
                               {"key": "value", "value": {"intValue": big}}]}

    body = {"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "js"}}]},
        "scopeLogs": [{"scope": {"name": "svc"}, "logRecords": [
            record(0, 1.1805916207174113e21), record(1, "18446744073709551615"), record(2, "1" * 30)]}],
    }]}
    reply = requests.post(receiver.http + "/v1/logs", data=json.dumps(body), headers=JS, timeout=30)
    assert reply.status_code == 200, reply.text
    points = {"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "js"}}]},
        "scopeMetrics": [{"metrics": [
            {"name": "bytes", "gauge": {"dataPoints": [{"asInt": "18446744073709551615", "timeUnixNano": "1"}]}},
            {"name": "small", "gauge": {"dataPoints": [{"asInt": "3", "timeUnixNano": "1"}]}}]}]}]}
    reply = requests.post(receiver.http + "/v1/metrics", data=json.dumps(points), headers=JS, timeout=30)
    assert reply.status_code == 200, reply.text
    bad = requests.post(receiver.http + "/v1/logs", data=b'{"resourceLogs": [{"scopeLogs": 5}]}', headers=JS,
                        timeout=30)
    assert bad.status_code == 400
    assert requests.post(receiver.http + "/v1/logs", data=b"{nope", headers=JS, timeout=30).status_code == 400
    receiver.stop()
    run = _only_run(tmp_path / "ws")
    assert [p.value for p in run.get_metric_history("loss")] == [0.5, 0.4, 0.3]
    assert run.get_params() == {"seed": "7"}
    lines = run.get_logs()
    assert [line["attributes"]["big"] for line in lines] == [1.1805916207174113e21, 2.0**64, float("1" * 30)]
    got = run.get_metrics()
    assert got["bytes"] == 2.0**64 and type(got["bytes"]) is float and got["small"] == 3
    assert receiver.stderr.count("beyond 64 bits") == 3  # big, value, asInt: one warning each
    assert receiver.stderr.count("was refused (400)") == 1


def test_exports_redelivered_out_of_order_take_steps_by_arrival_and_keep_their_times(receive, tmp_path) -> None:
    """After an outage a newer export may come before an older one: each point's step is the
    next of its series as it arrives, and its stored timestamp is its own."""
    receiver = receive()

    def export(value: int, seconds: int) -> None:
        body = {"resourceMetrics": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "late"}}]},
            "scopeMetrics": [{"metrics": [{"name": "hits", "sum": {"aggregationTemporality": 2, "isMonotonic": True,
                                                                   "dataPoints": [{"asInt": str(value),
                                                                                   "timeUnixNano": str(seconds * 10**9)}]}}]}]}]}
        assert requests.post(receiver.http + "/v1/metrics", data=json.dumps(body), headers=JS, timeout=30).ok

    export(30, 1_700_000_030)
    export(10, 1_700_000_010)  # redelivered late
    export(40, 1_700_000_040)
    receiver.stop()
    history = _only_run(tmp_path / "ws").get_metric_history("hits")
    assert [(p.step, p.value, p.timestamp) for p in history] == [
        (0, 30, 1_700_000_030), (1, 10, 1_700_000_010), (2, 40, 1_700_000_040)]
