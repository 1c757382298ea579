"""``tracklog ingest``: docker/kubectl log streams and saved files into a run."""

from __future__ import annotations

import calendar

import tracklog
from tests.capture.capture_support import cli, only_run, output_lines
from tracklog.capture._ingest import split_timestamp

DOCKER_STREAM = (
    b"2026-11-24T00:14:28.123456789Z starting the container\n"
    b'2026-11-24T00:14:29.500000000Z {"metric": "loss", "value": 0.5, "step": 1}\n'
    b'2026-11-24T00:14:30Z {"metrics": {"loss": 0.25, "acc": 0.9}, "step": 2}\n'
    b'2026-11-24T00:14:31.000000000Z {"tags": {"container": "trainer-1"}}\n'
    b"2026-11-24T02:14:32.25+02:00 an offset timestamp\n"
    b"2026-11-24T00:14:33.000000000Z bytes \xff\xfe kept\n"
)

BASE = calendar.timegm((2026, 11, 24, 0, 14, 28, 0, 0, 0))


def test_a_docker_style_timestamped_stream_becomes_a_run_with_the_lines_times(tmp_path):
    ws = tmp_path / "ws"
    done = cli(ws, "ingest", "--experiment", "containers", "--name", "trainer-1", "-", input=DOCKER_STREAM)
    assert done.returncode == 0, done.stderr
    assert b"6 lines into run" in done.stderr
    run = only_run(ws)
    assert (run.experiment.name, run.name, run.status) == ("containers", "trainer-1", "Completed")
    lines = output_lines(run)
    assert [l.data for l in lines] == [
        b"starting the container",
        b'{"metric": "loss", "value": 0.5, "step": 1}',
        b'{"metrics": {"loss": 0.25, "acc": 0.9}, "step": 2}',
        b'{"tags": {"container": "trainer-1"}}',
        b"an offset timestamp",
        b"bytes \xff\xfe kept",
    ]
    assert [round(l.ts - BASE, 6) for l in lines] == [0.123457, 1.5, 2.0, 3.0, 4.25, 5.0]
    history = run.get_metric_history("loss")
    assert [(p.step, p.value) for p in history] == [(1, 0.5), (2, 0.25)]
    assert round(history[0].timestamp - BASE, 6) == 1.5  # the metric keeps the line's time
    assert run.get_metrics()["acc"] == 0.9
    assert run.get_tags()["container"] == "trainer-1"


def test_ingest_adds_a_saved_log_file_to_an_existing_run(tmp_path, experiment):
    run = experiment.start_logging("existing")
    run.complete()
    saved = tmp_path / "pod.log"
    saved.write_bytes(b"line one\nline two\n{\"metric\": \"m\", \"value\": 3}\nlast line without newline")
    done = cli(experiment.workspace.path, "ingest", "--run", run.id, str(saved))
    assert done.returncode == 0, done.stderr
    again = tracklog.Workspace(experiment.workspace.path).get_run(run.id)
    assert again.status == "Completed"  # adding logs does not change how the run ended
    lines = output_lines(again)
    assert [l.data for l in lines] == [b"line one", b"line two", b'{"metric": "m", "value": 3}', b"last line without newline"]
    assert lines[-1].complete is False
    assert again.get_metrics() == {"m": 3}


def test_a_file_name_names_the_new_run(tmp_path):
    saved = tmp_path / "worker-3.log"
    saved.write_bytes(b"hello\n")
    assert cli(tmp_path / "ws", "ingest", str(saved)).returncode == 0
    assert only_run(tmp_path / "ws").name == "worker-3.log"


def test_a_missing_file_is_a_one_line_error(tmp_path):
    done = cli(tmp_path / "ws", "ingest", str(tmp_path / "nope.log"))
    assert done.returncode == 1
    assert done.stderr.startswith(b"tracklog: cannot read")


def test_rfc3339_timestamps_are_parsed_and_other_lines_left_alone():
    assert split_timestamp(b"2026-11-24T00:14:28Z x") == (float(BASE), b"x")
    assert split_timestamp(b"2026-11-24 00:14:28.5-01:30 x") == (BASE + 0.5 + 5400, b"x")
    assert split_timestamp(b"2026-11-24T00:14:28Z") == (None, b"2026-11-24T00:14:28Z")  # no space after: not a prefix
    assert split_timestamp(b"12:00 lunch") == (None, b"12:00 lunch")
