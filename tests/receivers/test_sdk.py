"""The OpenTelemetry SDK's own OTLP exporters, in a separate process, write runs through a
real ``tracklog receive``: logs, run data from record conventions, metrics and spans."""

from __future__ import annotations

import json

import pytest

import tracklog
from tests.receivers.conftest import send, wait_for


def _runs(workspace, experiment: str = "Default") -> list:
    ws = tracklog.Workspace(workspace, create=False)
    try:
        return list(ws.get_experiment(experiment).get_runs())
    except tracklog.TracklogError:
        return []


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_sdk_exporters_write_a_run_per_service(receive, tmp_path, protocol: str) -> None:
    """Logs, a metric attribute, params/tags, a counter, a histogram and a span all land in one run."""
    receiver = receive()
    endpoint = receiver.http if protocol == "http" else receiver.grpc
    send(protocol, endpoint, "--records", "50", "--service", "checkout", "--experiment", "shop")
    assert receiver.stop() == 0, receiver.stderr
    (run,) = _runs(tmp_path / "ws", "shop")
    assert run.status == "Completed"
    assert run.name == "checkout"
    logs = run.get_logs()
    assert [r["message"] for r in logs[:2]] == ["step 0 done", "step 1 done"]
    assert logs[0]["logger"] == "sender.scope" and logs[0]["level"] == "INFO"
    assert logs[-1]["attributes"]["ids"] == [1, 2, 3]
    history = run.get_metric_history("loss")
    assert [p.step for p in history] == list(range(50))
    assert history[1].value == pytest.approx(0.5)
    assert run.get_params()["lr"] == "0.01"
    tags = run.get_tags()
    assert tags["team"] == "payments" and tags["service.name"] == "checkout"
    metrics = run.get_metrics()
    assert metrics["requests{route=/a}"] == 3
    assert metrics["latency.count{route=/a}"] == 2
    assert metrics["latency.sum{route=/a}"] == pytest.approx(20.0)
    assert metrics["latency.min{route=/a}"] == pytest.approx(7.5)
    assert metrics["latency.max{route=/a}"] == pytest.approx(12.5)
    assert metrics["span.handle.duration_ms"] >= 10
    (span,) = run.get_logs(filename="spans.jsonl")
    assert span["message"] == "handle" and len(span["trace_id"]) == 32 and len(span["span_id"]) == 16
    assert span["attributes"] == {"order": 7} and span["kind"] == "INTERNAL"
    json.dumps(span)


def test_attribute_values_that_would_collide_are_quoted_in_series_names(receive, tmp_path) -> None:
    """{a: "1,b=2"} and {a: "1", b: "2"} are two series: a value holding a separator is quoted
    (Prometheus style, with \\" and \\\\ escaped); plain values are spelled as ever."""
    receiver = receive()
    odd = [{"a": "1,b=2"}, {"a": "1", "b": "2"}, {"q": 'say "hi" \\ {x}'}, {"l": ["x", "y,z"]}]
    send("http", receiver.http, "--records", "0", "--no-traces", "--counter-attrs", json.dumps(odd))
    receiver.stop()
    (run,) = _runs(tmp_path / "ws")
    got = {name: value for name, value in run.get_metrics().items() if name.startswith("requests")}
    assert got == {"requests{route=/a}": 3, 'requests{a="1,b=2"}': 10, "requests{a=1,b=2}": 20,
                   'requests{q="say \\"hi\\" \\\\ {x}"}': 30, 'requests{l=[x,"y,z"]}': 40}


def test_service_instances_get_their_own_runs(receive, tmp_path) -> None:
    """Two instances of a service are two runs; no tracklog.experiment means Default."""
    receiver = receive()
    send("http", receiver.http, "--records", "3", "--instance", "a", "--no-traces", "--no-metrics")
    send("http", receiver.http, "--records", "3", "--instance", "b", "--no-traces", "--no-metrics")
    receiver.stop()
    runs = _runs(tmp_path / "ws")
    assert sorted(r.get_tags()["service.instance.id"] for r in runs) == ["a", "b"]


def test_run_id_attribute_joins_an_existing_run_and_leaves_it_running(receive, tmp_path) -> None:
    """tracklog.run_id joins that run (as a `tracklog run` child does); the receiver never ends it."""
    ws = tracklog.Workspace(tmp_path / "ws")
    run = tracklog.Experiment(ws, "mine").start_logging("job")
    receiver = receive()
    send("grpc", receiver.grpc, "--records", "5", "--run-id", run.id, "--no-traces")
    receiver.stop()
    assert len(run.get_metric_history("loss")) == 5
    assert run.status == "Running"
    assert _runs(tmp_path / "ws") == []
    run.complete()


def test_instances_joining_one_run_keep_their_counters_apart(receive, tmp_path) -> None:
    """Two instrumented processes under one run (both carry its tracklog.run_id) never share a
    series: the first instance keeps the plain names, the other's series carry instance=b."""
    ws = tracklog.Workspace(tmp_path / "ws")
    run = tracklog.Experiment(ws, "mine").start_logging("job")
    receiver = receive()
    common = ("--records", "0", "--run-id", run.id, "--no-traces")
    send("http", receiver.http, *common, "--instance", "a")
    send("grpc", receiver.grpc, *common, "--instance", "b", "--counter-attrs", json.dumps([{"route": "/a"}]))
    send("http", receiver.http, *common, "--instance", "a")
    send("http", receiver.http, *common, "--instance", "c", "--service", "worker")
    receiver.stop()
    got = {name: [p.value for p in run.get_metric_history(name)] for name in run.get_metrics() if "{" in name}
    assert got["requests{route=/a}"] == [3, 3]  # instance a, twice: never b's 13
    assert got["requests{instance=b,route=/a}"] == [13]
    assert got["requests{instance=worker/c,route=/a}"] == [3]
    assert got["latency.count{instance=b,route=/a}"] == [2] and got["latency.count{route=/a}"] == [2, 2]
    assert run.status == "Running"
    run.complete()


def test_idle_service_run_completes_or_fails_by_its_last_record(receive, tmp_path) -> None:
    """After --idle seconds without data a run ends: Failed when its last record is an ERROR with an exception."""
    receiver = receive("--idle", "1")
    send("http", receiver.http, "--records", "2", "--service", "ok", "--no-traces", "--no-metrics")
    send("http", receiver.http, "--records", "2", "--service", "bad", "--fail", "--no-traces", "--no-metrics")
    ws = tracklog.Workspace(tmp_path / "ws", create=False)

    def ended() -> dict[str, str]:
        found = {r.name: r.status for r in ws.get_experiment("Default").get_runs()}
        return found if "Running" not in found.values() and len(found) == 2 else {}

    assert wait_for(ended, timeout=60) == {"ok": "Completed", "bad": "Failed"}
    bad = next(r for r in ws.get_experiment("Default").get_runs() if r.name == "bad")
    assert "ValueError: bad input" in (bad.info.error or "")
    send("http", receiver.http, "--records", "1", "--service", "ok", "--no-traces", "--no-metrics")
    assert wait_for(lambda: len(list(ws.get_experiment("Default").get_runs())) == 3, timeout=30)


def test_a_failed_runs_error_states_the_exception_once(receive, tmp_path) -> None:
    """A JavaScript stack already opens with "Error: card declined": it is the error as it is.
    Python's SDK sends a traceback that opens with "Traceback": "ValueError: bad input" goes first."""
    receiver = receive()
    send("http", receiver.http, "--records", "0", "--service", "js", "--js-error", "--no-traces", "--no-metrics")
    send("http", receiver.http, "--records", "0", "--service", "py", "--raise", "--no-traces", "--no-metrics")
    receiver.stop()
    errors = {r.name: r.info.error for r in _runs(tmp_path / "ws")}
    assert errors["js"] == "Error: card declined\n    at charge (/app/svc.js:61:11)\n    at main (/app/svc.js:80:3)"
    assert errors["py"].startswith("ValueError: bad input\nTraceback (most recent call last):\n")
    assert errors["py"].rstrip().endswith("ValueError: bad input")


def test_a_services_run_has_the_services_provenance_not_the_receivers(receive, tmp_path) -> None:
    """The SDK's ProcessResourceDetector: the run's command, user and Python are the
    sender's; nothing of the receiver's own process (its command, working directory) is
    stamped on it, and the receiver makes no ./outputs in its folder."""
    import getpass
    import platform

    receiver = receive()
    done = send("http", receiver.http, "--records", "2", "--no-traces", "--no-metrics", "--detect-process")
    assert receiver.stop() == 0, receiver.stderr
    (run,) = _runs(tmp_path / "ws")
    tags = run.get_tags()
    assert "otlp_sender.py" in tags["tracklog.command"] and "--detect-process" in tags["tracklog.command"]
    assert "receive" not in tags["tracklog.command"].split()
    assert tags["tracklog.python"] == platform.python_version()
    if "tracklog.user" in tags:  # process.owner needs psutil in the sender
        assert tags["tracklog.user"] == getpass.getuser()
    assert "tracklog.cwd" not in tags and "tracklog.version" in tags
    assert not (tmp_path / "outputs").exists() and done.returncode == 0
