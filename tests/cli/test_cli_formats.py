"""How the read commands say things: one time format (ISO 8601, local zone with its offset)
in ls, show, logs and metrics; durations to the millisecond; metrics summarised per kind,
numbers to 6 significant digits; where a run came from under "source"."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta, timezone

import pytest

from tests.cli.conftest import tracklog_process
from tests.conftest import python_env
from tracklog.handlers import RunHandler

#: A zone of +05:30 (POSIX TZ offsets count west): far from UTC, and not a whole hour.
TZ = "XST-05:30"
ZONE = timezone(timedelta(hours=5, minutes=30))
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{3})?\+05:30"
EPOCH_FLOAT = re.compile(r"\b1\d{9}\.\d+")


def _in_zone(*args: str):
    return tracklog_process(*args, env=python_env(TZ=TZ))


def test_ls_show_logs_and_metrics_give_times_in_one_format_and_the_local_zone(workspace, finished):
    """Every time printed is ISO 8601 with the local offset, never UTC 'Z' text or epoch seconds."""
    info = finished.info
    started = datetime.fromtimestamp(info.start_time, ZONE).isoformat(timespec="seconds")
    outputs = {}
    for command in (["ls"], ["show", "latest"], ["logs", "latest"], ["metrics", "latest", "loss"]):
        done = _in_zone("-w", workspace.path, *command)
        assert done.code == 0, done.err
        outputs[command[0]] = done.out
        assert re.search(ISO, done.out), (command, done.out)
        assert not EPOCH_FLOAT.search(done.out) and not re.search(r"\d\dZ\b", done.out), (command, done.out)
    assert started in outputs["ls"] and f"started    {started}\n" in outputs["show"]
    record = finished.get_logs()[0]
    logged = datetime.fromtimestamp(record["ts"], ZONE).isoformat(timespec="milliseconds")
    assert outputs["logs"].splitlines()[0].startswith(f"{logged} DEBUG    cli-demo: quiet detail")
    point = finished.get_metric_history("loss")[0]
    table = outputs["metrics"].splitlines()
    assert table[0].split() == ["STEP", "VALUE", "TIME", "RANK"]
    assert table[1].split() == ["0", "1", datetime.fromtimestamp(point.timestamp, ZONE).isoformat(timespec="milliseconds")]


def test_metrics_csv_gives_the_time_and_names_the_epoch_seconds_column(tracklog_main, workspace, finished):
    """--csv keeps every digit, and gives both the ISO time and the raw epoch seconds, named so."""
    rows = tracklog_main("-w", workspace.path, "metrics", "latest", "loss", "--csv").out.splitlines()
    assert rows[0] == "step,value,time,epoch_seconds,rank"
    point = finished.get_metric_history("loss")[2]
    step, value, when, epoch, rank = rows[3].split(",")
    assert (step, value, float(epoch), rank) == ("2", repr(1 / 3), point.timestamp, "")
    assert datetime.fromisoformat(when).timestamp() == pytest.approx(point.timestamp, abs=0.001)


@pytest.mark.parametrize(
    "seconds, shown", [(0.012, "0.012s"), (7.5, "7.500s"), (123.456, "2m03.456s"), (3723.456, "1h02m03.456s")]
)
def test_durations_have_millisecond_precision(tracklog_main, workspace, experiment, seconds, shown):
    """ls and show give a run's length to the millisecond: 0.012s, 2m03.456s, 1h02m03.456s."""
    run = experiment.start_logging("timed")
    run.complete()
    workspace.store.set_status(run.id, "Completed", run.info.start_time + seconds)
    ls = tracklog_main("-w", workspace.path, "ls").out.splitlines()
    assert ls[1].split()[-1] == shown
    show = tracklog_main("-w", workspace.path, "show", run.id).out
    assert re.search(rf"^ended      {ISO[:-7]}\S+  \({re.escape(shown)}\)$", show, re.MULTILINE), show


def test_a_quick_run_never_reads_0_0s(tracklog_main, workspace, experiment):
    """A run shorter than a tenth of a second still shows how long it took, in milliseconds."""
    run = experiment.start_logging("quick")
    run.complete()
    shown = tracklog_main("-w", workspace.path, "ls").out.splitlines()[1].split()[-1]
    assert re.fullmatch(r"(\d+\.\d{3}|<0\.001)s", shown) and shown != "0.0s"


def _metrics_block(text: str) -> dict[str, list[str]]:
    block = text.split("\nmetrics:\n", 1)[1].split("\n\n", 1)[0]
    rows = [re.split(r"\s{2,}", line.strip()) for line in block.splitlines()]
    assert rows[0] == ["NAME", "LAST", "COUNT", "MIN", "MAX"]
    return {row[0]: row[1:] for row in rows[1:]}


def test_show_gives_each_metric_its_last_value_count_min_and_max(tracklog_main, workspace, experiment):
    """A numeric series shows last, count, min and max; a list and a table say what they are."""
    run = experiment.start_logging("summary")
    for value in (2.5, 1234.56789, 0.1):
        run.log("loss", value)
    run.log("phase", "train")
    run.log("phase", "eval")
    run.log("epochs", 12)
    run.log_list("accuracy", [0.5, 0.6, 0.7, 0.8, 0.9])
    run.log_table("wave", {"angle": [0.1, 0.2, 0.3], "sine": [0.09, 0.19, 0.29]})
    run.complete()
    metrics = _metrics_block(tracklog_main("-w", workspace.path, "show", run.id).out)
    assert metrics == {
        "loss": ["0.1", "3", "0.1", "1234.57"],
        "phase": ["eval", "2"],
        "epochs": ["12", "1"],
        "accuracy": ["list of 5", "5"],
        "wave": ["table 3 rows × 2 columns", "3"],
    }
    summary = tracklog_main("-w", workspace.path, "metrics", run.id).out
    assert re.search(r"^loss\s+metric\s+3\s+0\.1\s+0\.1\s+1234\.57$", summary, re.MULTILINE), summary
    assert re.search(r"^accuracy\s+list\s+5\s+list of 5$", summary, re.MULTILINE), summary
    points = tracklog_main("-w", workspace.path, "metrics", run.id, "loss").out
    assert "1234.57" in points and "1234.56789" not in points


def test_show_prints_the_runs_source_and_leaves_provenance_out_of_its_tags(tracklog_main, workspace, experiment):
    """Provenance tags (tracklog.* and MLflow's) are shown under "source:", the other tags under "tags:"."""
    run = experiment.start_logging("traced")
    run.set_tags({
        "tracklog.user": "alice",
        "mlflow.user": "alice",
        "tracklog.python": "3.11.7",
        "tracklog.git.commit": "abc1234def5678",
        "tracklog.git.branch": "main",
        "tracklog.git.dirty": "true",
        "model": "ridge",
    })
    run.complete()
    text = tracklog_main("-w", workspace.path, "show", run.id).out
    source = text.split("\nsource:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    pairs = dict(re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in source)
    assert pairs["user"] == "alice" and pairs["python"] == "3.11.7"
    assert pairs["git"] == "abc1234def56 (main, dirty)"
    tags = text.split("\ntags:\n", 1)[1].split("\n\n", 1)[0]
    assert "model = ridge" in tags
    assert "tracklog.git" not in tags and "mlflow.user" not in tags and "tracklog.python" not in tags


def test_log_records_are_timed_to_the_millisecond(tracklog_main, workspace, run):
    """A log line's time has milliseconds: records a few ms apart stay apart."""
    logger = logging.getLogger("cli-ms")
    logger.addHandler(RunHandler(run))
    logger.propagate = False
    logger.warning("one")
    run.complete()
    line = tracklog_main("-w", workspace.path, "logs", run.id).out.splitlines()[0]
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d WARNING  cli-ms: one$", line), line
