"""A receiver never sends what it takes back to itself: ``TRACKLOG_OTLP`` in its environment
routes nothing, and tracklog's routing of a run of its own workspace is not stored twice."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import requests

import tracklog

from .conftest import wait_for

_ONE_RECORD = json.dumps({"resourceLogs": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "one"}}]},
    "scopeLogs": [{"logRecords": [{"body": {"stringValue": "hello"}, "attributes": [
        {"key": "metric", "value": {"stringValue": "m"}}, {"key": "value", "value": {"doubleValue": 1.0}}]}]}],
}]})

#: A program that logs into its run in WORKSPACE and routes it to ENDPOINT (tracklog's own routing).
_ROUTED = """
import sys, tracklog
from tracklog.exporters import flush_routing, route_to_otlp, stop_routing
route_to_otlp(sys.argv[2])
run = tracklog.Workspace(sys.argv[1]).experiment("exp").start_logging("routed")
for step in range(3):
    run.log("loss", 1.0 / (step + 1))
run.flush()
assert flush_routing(30)
run.complete()
stop_routing(5)
"""


#: The same, in two exports, with a tag and a param; prints the run's id.
_ROUTED_TWICE = """
import logging, sys, tracklog
from tracklog.exporters import flush_routing, route_to_otlp, stop_routing
from tracklog.handlers import RunHandler
route_to_otlp(sys.argv[2])
run = tracklog.Workspace(sys.argv[1]).experiment("exp").start_logging("routed")
logging.getLogger("train").addHandler(RunHandler(run))
run.tag("team", "vision")
logging.getLogger("train").warning("starting", extra={"params": {"lr": 0.1}})
run.log_param("batch", 32)  # the run API's params are routed too
tracklog.MlflowClient(sys.argv[1]).log_param(run.id, "optimizer", "adam")  # and the MLflow names'
for step in range(3):
    run.log("loss", 1.0 / (step + 1))
run.flush()
assert flush_routing(30)
run.log("loss", 0.25)
run.flush()
assert flush_routing(30)
run.complete()
stop_routing(5)
print(run.id)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_tracklog_otlp_in_the_receivers_environment_routes_nothing_back(receive, tmp_path) -> None:
    """TRACKLOG_OTLP=1 with the endpoint at the receiver's own port: one record in, one stored."""
    port = _free_port()
    receiver = receive("--http-port", str(port), env={
        "TRACKLOG_OTLP": "1", "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
        "OTEL_BLRP_SCHEDULE_DELAY": "100"})
    reply = requests.post(receiver.http + "/v1/logs", data=_ONE_RECORD,
                          headers={"Content-Type": "application/json"}, timeout=30)
    assert reply.status_code == 200
    time.sleep(2)  # routing, were it on, would have sent the record back a few times by now
    assert receiver.stop() == 0
    (run,) = tracklog.Workspace(tmp_path / "ws", create=False).get_runs()
    assert len(run.get_logs()) == 1 and len(run.get_metric_history("m")) == 1
    assert "TRACKLOG_OTLP is set, but a receiver does not route" in receiver.stderr


def test_routing_of_a_run_in_the_receivers_own_workspace_is_not_stored_twice(receive, tmp_path) -> None:
    """A program routing its run to a receiver on the same workspace: each point once, one warning."""
    receiver = receive()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACKLOG_"))}
    done = subprocess.run([sys.executable, "-c", _ROUTED, str(tmp_path / "ws"), receiver.http],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert receiver.stop() == 0
    (run,) = tracklog.Workspace(tmp_path / "ws", create=False).get_runs()
    assert [p.step for p in run.get_metric_history("loss")] == [0, 1, 2]
    assert receiver.stderr.count("tracklog routed its data here") == 1


def test_routing_from_another_workspace_rebuilds_the_run(receive, tmp_path) -> None:
    """A run routed from another workspace becomes one run there: its name, experiment, every
    point once (not the gauges too), its tags, params (of records, the run API and the MLflow
    names) and lines; it ends by the idle rule."""
    receiver = receive("--idle", "2")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACKLOG_"))}
    done = subprocess.run([sys.executable, "-c", _ROUTED_TWICE, str(tmp_path / "source"), receiver.http],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    central = tracklog.Workspace(tmp_path / "ws", create=False)
    (run,) = wait_for(lambda: [r for r in central.get_runs() if r.get_status() == "Completed"], timeout=30)
    assert receiver.stop() == 0
    assert (run.name, run.experiment.name) == ("routed", "exp")
    assert [(p.step, p.value) for p in run.get_metric_history("loss")] == [(0, 1.0), (1, 0.5), (2, 1 / 3), (3, 0.25)]
    tags = run.get_tags()
    assert tags["team"] == "vision" and tags["tracklog.source_run_id"] == done.stdout.strip()
    assert run.get_params() == {"lr": "0.1", "batch": "32", "optimizer": "adam"}
    assert "starting" in [line["message"] for line in run.get_logs()]
    assert "routed its data here" not in receiver.stderr


#: Three runs routed to ENDPOINT, ended three ways.
_ROUTED_ENDS = """
import sys, tracklog
from tracklog.exporters import flush_routing, route_to_otlp, stop_routing
route_to_otlp(sys.argv[2])
experiment = tracklog.Workspace(sys.argv[1]).experiment("exp")
for name in ("done", "failed", "canceled"):
    run = experiment.start_logging(name)
    run.log("loss", 0.5)
    {"done": run.complete, "failed": lambda: run.fail("bad lr"), "canceled": run.cancel}[name]()
assert flush_routing(30)
stop_routing(5)
"""

#: A run left open when an exception ends the program: it ends Failed at exit.
_ROUTED_CRASH = """
import sys, tracklog
from tracklog.exporters import route_to_otlp
route_to_otlp(sys.argv[2])
run = tracklog.Workspace(sys.argv[1]).experiment("exp").start_logging("crashed")
run.log("loss", 0.5)
raise ValueError("bad lr")
"""


def test_a_rebuilt_run_ends_when_its_routing_says_so(receive, tmp_path) -> None:
    """Routing sends each run's end: the rebuilt runs end at once (no idle wait) as the
    program ended them, Completed, Failed with its error, Canceled, and Failed with the
    traceback for a run an uncaught exception ended at exit."""
    receiver = receive()  # the idle rule would wait 300 s
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACKLOG_"))}
    done = subprocess.run([sys.executable, "-c", _ROUTED_ENDS, str(tmp_path / "source"), receiver.http],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    crash = subprocess.run([sys.executable, "-c", _ROUTED_CRASH, str(tmp_path / "source"), receiver.http],
                           capture_output=True, text=True, timeout=120, env=env)
    assert crash.returncode == 1 and "ValueError: bad lr" in crash.stderr
    central = tracklog.Workspace(tmp_path / "ws", create=False)

    def ended() -> dict[str, str]:
        runs = {run.name: run.get_status() for run in central.get_runs()}
        return runs if len(runs) == 4 and "Running" not in runs.values() else {}

    assert wait_for(ended, timeout=30) == {
        "done": "Completed", "failed": "Failed", "canceled": "Canceled", "crashed": "Failed"}
    runs = {run.name: run for run in central.get_runs()}
    assert runs["failed"].get_details()["error"]["error"]["message"] == "bad lr"
    assert "ValueError: bad lr" in runs["crashed"].get_details()["error"]["error"]["message"]
    assert [len(run.get_metric_history("loss")) for run in runs.values()] == [1, 1, 1, 1]
    assert receiver.stop() == 0


#: A run that pauses past the receiver's idle time, then ends without logging again.
_ROUTED_PAUSE = """
import sys, time, tracklog
from tracklog.exporters import flush_routing, route_to_otlp, stop_routing
route_to_otlp(sys.argv[2])
run = tracklog.Workspace(sys.argv[1]).experiment("exp").start_logging("paused")
run.log("loss", 0.5)
run.flush()
assert flush_routing(30)
time.sleep(float(sys.argv[3]))
run.complete()
assert flush_routing(30)
stop_routing(5)
"""


def test_the_end_of_a_rebuilt_run_the_idle_rule_ended_opens_no_new_run(receive, tmp_path) -> None:
    """A run idle past --idle is ended by the receiver; its end arriving later alone opens
    no second, empty run."""
    receiver = receive("--idle", "1")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACKLOG_"))}
    done = subprocess.run([sys.executable, "-c", _ROUTED_PAUSE, str(tmp_path / "source"), receiver.http, "3"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert receiver.stop() == 0
    (run,) = tracklog.Workspace(tmp_path / "ws", create=False).get_runs()
    assert (run.name, run.get_status(), len(run.get_metric_history("loss"))) == ("paused", "Completed", 1)
