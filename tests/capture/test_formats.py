"""Container log formats for ``tracklog ingest`` (issue 15 §2): sniffed, forced, own times, --follow."""

from __future__ import annotations

import calendar
import gzip
import json
import os
import subprocess
import time

import pytest

import tracklog
from tests.capture.capture_support import PYTHON, TIMEOUT, cli, env, only_run, output_lines, script
from tracklog.capture._follow import FollowedFile
from tracklog.capture._formats import cri_line, docker_line, journald_line, parse_time, sniff, text_line

BASE = calendar.timegm((2026, 12, 1, 10, 0, 0, 0, 0, 0))


def _has_own_times(run: tracklog.Run) -> bool:
    return hasattr(run.workspace.store, "set_run_origin")


def test_times_parse_with_fractions_and_offsets():
    assert parse_time(b"2026-12-01T10:00:00Z") == BASE
    assert parse_time(b"2026-12-01T10:00:00.123456789Z") == pytest.approx(BASE + 0.123456789, abs=1e-6)
    assert parse_time(b"2026-12-01T12:00:01.5+02:00") == BASE + 1.5
    assert parse_time(b"2026-12-01T09:00:00-0100") == BASE
    assert parse_time(b"2026-13-01T10:00:00Z") is None
    assert parse_time(b"2026-12-01T10:00:00.12xZ") is None
    assert parse_time(b"not a time") is None


def test_each_format_is_sniffed_from_its_first_line():
    assert sniff(b'{"log":"hello\\n","stream":"stdout","time":"2026-12-01T10:00:00.1Z"}') == "docker"
    assert sniff(b'{"__CURSOR":"s=1","__REALTIME_TIMESTAMP":"1764583200000000","MESSAGE":"hi"}') == "journald"
    assert sniff(b"2026-12-01T10:00:00.123456789Z stdout F hello") == "cri"
    assert sniff(b"2026-12-01T10:00:00.123456789Z hello") == "text"
    assert sniff(b'{"metric": "loss", "value": 1}') == "text"
    assert sniff(b"plain words") == "text"


def test_line_decoders():
    assert cri_line(b"2026-12-01T10:00:00Z stderr P part") == (BASE, "stderr", b"part", False)
    assert cri_line(b"2026-12-01T10:00:00Z stdout F") == (BASE, "stdout", b"", True)
    assert cri_line(b"garbage line") == (None, None, b"garbage line", True)
    assert docker_line(b'{"log":"a\\n","stream":"stderr","time":"2026-12-01T10:00:00Z"}') == (BASE, "stderr", b"a", True)
    assert docker_line(b'{"log":"piece","stream":"stdout","time":"2026-12-01T10:00:00Z"}')[3] is False
    entry = {"MESSAGE": [104, 105, 255], "__REALTIME_TIMESTAMP": str(BASE * 1_000_000 + 250_000)}
    assert journald_line(json.dumps(entry).encode()) == (BASE + 0.25, None, b"hi\xff", True)
    assert text_line(b"2026-12-01T10:00:00Z x") == (BASE, None, b"x", True)


CRI = (
    b"2026-12-01T10:00:00.000000000Z stdout F starting trainer\n"
    b"2026-12-01T10:00:01.500000000Z stdout F step=1 loss=0.5\n"
    b"2026-12-01T10:00:02.000000000Z stderr F warning: 3 retries left\n"
    b"2026-12-01T10:00:03.000000000Z stdout P {\"metric\": \"loss\", \n"
    b"2026-12-01T10:00:03.100000000Z stdout P \"value\": 0.25, \n"
    b"2026-12-01T10:00:03.200000000Z stdout F \"step\": 2}\n"
    b"2026-12-01T10:00:04.250000000Z stdout F the loss was 0.1 at the end\n"
    b"2026-12-01T10:01:00.000000000Z stdout F done\n"
)


def test_a_cri_log_becomes_a_run_with_its_lines_times_streams_and_joined_pieces(tmp_path):
    log = tmp_path / "0.log"
    log.write_bytes(CRI)
    ws = tmp_path / "ws"
    done = cli(ws, "ingest", str(log))
    assert done.returncode == 0, done.stderr
    assert b"8 lines (cri) into run" in done.stderr
    run = only_run(ws)
    lines = output_lines(run)
    assert [(l.stream, l.data) for l in lines] == [
        ("stdout", b"starting trainer"),
        ("stdout", b"step=1 loss=0.5"),
        ("stderr", b"warning: 3 retries left"),
        ("stdout", b'{"metric": "loss", "value": 0.25, "step": 2}'),
        ("stdout", b"the loss was 0.1 at the end"),
        ("stdout", b"done"),
    ]
    assert [round(l.ts - BASE, 6) for l in lines] == [0.0, 1.5, 2.0, 3.0, 4.25, 60.0]
    assert [(p.step, p.value) for p in run.get_metric_history("loss")] == [(1, 0.5), (2, 0.25)]
    if _has_own_times(run):  # the start and end of the run: the first and last line's times
        info = run.info
        assert (info.start_time, info.end_time) == (BASE, BASE + 60)


def test_a_docker_json_file_log_with_a_split_long_line(tmp_path):
    long = "x" * 20000
    entries = [
        {"log": "hello\n", "stream": "stdout", "time": "2026-12-01T10:00:00.25Z"},
        {"log": long[:16384], "stream": "stdout", "time": "2026-12-01T10:00:01Z"},
        {"log": long[16384:] + "\n", "stream": "stdout", "time": "2026-12-01T10:00:01.1Z"},
        {"log": "level=warn msg=\"slow\" latency=0.25\n", "stream": "stderr", "time": "2026-12-01T10:00:02Z"},
    ]
    log = tmp_path / "c-json.log"
    log.write_text("".join(json.dumps(e) + "\n" for e in entries))
    ws = tmp_path / "ws"
    done = cli(ws, "ingest", str(log))
    assert done.returncode == 0, done.stderr
    run = only_run(ws)
    lines = output_lines(run)
    assert [(l.stream, l.data) for l in lines] == [
        ("stdout", b"hello"), ("stdout", long.encode()), ("stderr", b'level=warn msg="slow" latency=0.25')]
    assert [round(l.ts - BASE, 6) for l in lines] == [0.25, 1.0, 2.0]
    assert [p.value for p in run.get_metric_history("latency")] == [0.25]


def test_journald_json_output(tmp_path):
    entries = [
        {"__CURSOR": "s=1", "__REALTIME_TIMESTAMP": str(BASE * 1_000_000), "MESSAGE": "epoch: 1, loss: 0.5"},
        {"__CURSOR": "s=2", "__REALTIME_TIMESTAMP": str(BASE * 1_000_000 + 500_000), "MESSAGE": [98, 255]},
    ]
    log = tmp_path / "journal.json"
    log.write_text("".join(json.dumps(e) + "\n" for e in entries))
    ws = tmp_path / "ws"
    assert cli(ws, "ingest", str(log)).returncode == 0
    run = only_run(ws)
    assert [(l.data, round(l.ts - BASE, 6)) for l in output_lines(run)] == [(b"epoch: 1, loss: 0.5", 0.0), (b"b\xff", 0.5)]
    assert [(p.step, p.value) for p in run.get_metric_history("loss")] == [(1, 0.5)]


def test_format_forces_a_reading(tmp_path):
    ws = tmp_path / "ws"
    line = b'{"log":"hi\\n","stream":"stdout","time":"2026-12-01T10:00:00Z"}\n'
    assert cli(ws, "ingest", "--format", "text", "-", input=line).returncode == 0
    assert [l.data for l in output_lines(only_run(ws))] == [line.rstrip(b"\n")]
    bad = cli(tmp_path / "ws2", "ingest", "--format", "syslog", "-", input=b"x\n")
    assert bad.returncode != 0 and b"invalid choice" in bad.stderr


def test_a_gzipd_log_is_read_as_its_lines_from_a_file_and_from_stdin(tmp_path):
    """A rotated *.gz log (kubelet, Docker) is decompressed on the way in, from a file or a pipe:
    the same lines, times and metrics as the plain log; the run is named without the .gz."""
    log = tmp_path / "0.log.20261201-100000.gz"
    log.write_bytes(gzip.compress(CRI))
    for name, args, data in (("file", (str(log),), None), ("stdin", ("--name", "piped", "-"), log.read_bytes())):
        ws = tmp_path / name
        done = cli(ws, "ingest", *args, input=data)
        assert done.returncode == 0, done.stderr
        assert b"8 lines (cri) into run" in done.stderr, done.stderr
        run = only_run(ws)
        assert run.name == ("0.log.20261201-100000" if name == "file" else "piped")
        assert [l.data for l in output_lines(run)][:2] == [b"starting trainer", b"step=1 loss=0.5"]
        assert [(p.step, p.value) for p in run.get_metric_history("loss")] == [(1, 0.5), (2, 0.25)]


#: Writes the file argv[1] to stdout in two writes, its first byte alone, then the rest.
FIRST_BYTE_ALONE = """
    import os, sys, time
    data = open(sys.argv[1], "rb").read()
    os.write(1, data[:1])
    time.sleep(0.3)
    os.write(1, data[1:])
"""


def test_gzip_on_a_pipe_whose_first_read_is_one_byte_is_still_decompressed(tmp_path):
    """A pipe that delivers gzip's first byte alone: its second is waited for, so the data is read
    decompressed, not stored as binary; text starting with that byte stays text, whole."""
    writer = script(tmp_path, "writer.py", FIRST_BYTE_ALONE)
    for name, data, lines in (
        ("gz", gzip.compress(CRI), [b"starting trainer", b"step=1 loss=0.5"]),
        ("text", b"\x1fstep=1 loss=0.5\nstep=2 loss=0.4\n", [b"\x1fstep=1 loss=0.5", b"step=2 loss=0.4"]),
    ):
        (tmp_path / name).write_bytes(data)
        feed = subprocess.Popen([PYTHON, str(writer), str(tmp_path / name)], stdout=subprocess.PIPE)
        try:
            done = subprocess.run(
                [PYTHON, "-m", "tracklog", "--workspace", str(tmp_path / f"ws-{name}"), "ingest", "-"],
                stdin=feed.stdout, env=env(), capture_output=True, timeout=TIMEOUT,
            )
        finally:
            feed.stdout.close()
            feed.wait(timeout=TIMEOUT)
        assert done.returncode == 0, done.stderr
        assert [l.data for l in output_lines(only_run(tmp_path / f"ws-{name}"))][:2] == lines


def test_follow_refuses_a_gzipd_file_before_a_run_starts(tmp_path):
    """--follow tails text that grows; a *.gz is refused, saying to ingest it without --follow."""
    log = tmp_path / "0.log.gz"
    log.write_bytes(gzip.compress(CRI))
    done = cli(tmp_path / "ws", "ingest", "--follow", "--idle", "0.5", str(log))
    assert done.returncode != 0
    assert b"is gzip'd, not a log that grows: ingest it without --follow" in done.stderr, done.stderr
    assert not (tmp_path / "ws" / "runs").exists()


def test_a_gzipd_log_cut_short_keeps_the_lines_before_the_break_and_says_so(tmp_path):
    """gzip data that breaks off (a copy taken mid-write): the lines before the break are read,
    one line says the data broke off, the run completes."""
    whole = gzip.compress(b"".join(b"step=%d loss=0.5\n" % i for i in range(2000)))
    log = tmp_path / "cut.log.gz"
    log.write_bytes(whole[: len(whole) // 2])
    ws = tmp_path / "ws"
    done = cli(ws, "ingest", str(log))
    assert done.returncode == 0, done.stderr
    assert b"the gzip data breaks off" in done.stderr, done.stderr
    run = only_run(ws)
    assert run.status == "Completed"
    steps = [p.step for p in run.get_metric_history("loss")]
    assert 0 < len(steps) < 2000 and steps == list(range(len(steps)))


def test_a_format_that_parses_few_lines_says_how_many(tmp_path):
    """--format docker on a CRI log keeps every line as text, and says so once at the end;
    a log that parses is not warned about."""
    log = tmp_path / "0.log"
    log.write_bytes(CRI)
    wrong = cli(tmp_path / "ws", "ingest", "--format", "docker", str(log))
    assert wrong.returncode == 0, wrong.stderr
    assert wrong.stderr.count(b"only 0 of 8 lines parsed as docker (--format docker)") == 1, wrong.stderr
    right = cli(tmp_path / "ws2", "ingest", "--format", "cri", str(log))
    assert right.returncode == 0 and b"parsed as" not in right.stderr, right.stderr


def test_the_format_is_sniffed_from_most_of_the_first_lines_and_a_torn_line_joins_no_piece(tmp_path):
    """A CRI log whose first line is a torn leftover is still read as CRI; an app's JSON log with
    `log` and `time` among its keys is not Docker's (its `log` is not joined to the next line);
    a torn line after a CRI `P` piece ends that piece instead of being joined to it."""
    cases = {
        "torn_first.log": (
            b"ss=1 torn half line left by copytruncate\n"
            b"2026-12-01T10:00:01.000000000Z stdout F step=1 loss=0.5\n"
            b"2026-12-01T10:00:02.000000000Z stdout F step=2 loss=0.4\n",
            "cri", [b"ss=1 torn half line left by copytruncate", b"step=1 loss=0.5", b"step=2 loss=0.4"]),
        "app.jsonl": (
            b'{"time":"2026-01-01T00:00:00Z","level":"INFO","msg":"start","log":"x"}\n'
            b"step=3 loss=0.1\n",
            "text", [b'{"time":"2026-01-01T00:00:00Z","level":"INFO","msg":"start","log":"x"}', b"step=3 loss=0.1"]),
        "torn_last.log": (
            b"2026-12-01T10:00:00.000000000Z stdout F a\n"
            b'2026-12-01T10:00:01.000000000Z stdout P {"metric": "loss",\n'
            b"2026-12-01T10:00:01.1000\n",
            "cri", [b"a", b'{"metric": "loss",', b"2026-12-01T10:00:01.1000"]),
    }
    for name, (data, fmt, lines) in cases.items():
        assert sniff(data) == fmt, name
        log = tmp_path / name
        log.write_bytes(data)
        ws = tmp_path / f"ws-{name}"
        done = cli(ws, "ingest", str(log))
        assert done.returncode == 0, done.stderr
        run = only_run(ws)
        assert [l.data for l in output_lines(run)] == lines, name
    torn_first = only_run(tmp_path / "ws-torn_first.log")
    assert [(p.step, p.value) for p in torn_first.get_metric_history("loss")] == [(1, 0.5), (2, 0.4)]
    assert only_run(tmp_path / "ws-app.jsonl").get_metrics() == {"loss": 0.1}


def test_follow_tails_a_rotating_file_until_the_writer_exits(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    writer = script(tmp_path, "writer.py", f"""
        import os, time
        path = {str(log)!r}
        deadline = time.monotonic() + 60
        while not os.path.exists({str(tmp_path / "ws" / "runs")!r}) and time.monotonic() < deadline:
            time.sleep(0.05)  # the follower has the file open once its run exists
        def write(text):
            with open(path, "a") as handle:
                handle.write(text)
            time.sleep(0.3)
        write("step=1 loss=0.9\\n")
        write("step=2 loss=0.8\\n")
        os.rename(path, path + ".1")           # rotation: a new file under the same name
        write("step=3 loss=0.7\\n")
        with open(path, "w"):                  # truncation (copytruncate)
            pass
        time.sleep(0.5)
        write("step=4 loss=0.6\\n")
        write("the end\\n")
    """)
    proc = subprocess.Popen([PYTHON, str(writer)], env=env())
    ws = tmp_path / "ws"
    follow = subprocess.Popen(
        [PYTHON, "-m", "tracklog", "--workspace", str(ws), "ingest", "--follow", "--pid", str(proc.pid),
         "--idle", "60", str(log)],
        env=env(), stdin=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    assert proc.wait(timeout=TIMEOUT) == 0
    _out, err = follow.communicate(timeout=TIMEOUT)
    assert follow.returncode == 0, err
    run = only_run(ws)
    assert run.status == "Completed"
    assert [l.data for l in output_lines(run)] == [
        b"step=1 loss=0.9", b"step=2 loss=0.8", b"step=3 loss=0.7", b"step=4 loss=0.6", b"the end"]
    assert [p.step for p in run.get_metric_history("loss")] == [1, 2, 3, 4]


def test_follow_sees_a_copytruncate_refilled_past_where_it_was_read(tmp_path):
    """copytruncate, then a burst that refills the file past the old read position before the
    follower looks again: the changed first bytes show the truncation, and the new content is
    read from its start (no line lost, none torn)."""
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    writer = script(tmp_path, "writer.py", f"""
        import os, shutil, time
        path = {str(log)!r}
        deadline = time.monotonic() + 60
        while not os.path.exists({str(tmp_path / "ws" / "runs")!r}) and time.monotonic() < deadline:
            time.sleep(0.05)  # the follower has the file open once its run exists
        handle = open(path, "a", buffering=1)
        for i in range(1, 4):
            handle.write(f"step={{i}} loss=0.{{i}}\\n")
            time.sleep(0.3)
        shutil.copy(path, path + ".1")
        handle.truncate(0)  # copytruncate, then at once more than was there before
        handle.write("".join(f"step={{i}} loss={{i / 100}}\\n" for i in range(4, 40)))
        handle.close()
        time.sleep(0.5)
    """)
    proc = subprocess.Popen([PYTHON, str(writer)], env=env())
    ws = tmp_path / "ws"
    follow = subprocess.Popen(
        [PYTHON, "-m", "tracklog", "--workspace", str(ws), "ingest", "--follow", "--pid", str(proc.pid), str(log)],
        env=env(), stdin=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    assert proc.wait(timeout=TIMEOUT) == 0
    _out, err = follow.communicate(timeout=TIMEOUT)
    assert follow.returncode == 0, err
    run = only_run(ws)
    assert [p.step for p in run.get_metric_history("loss")] == list(range(1, 40))
    assert len(output_lines(run)) == 39


def test_followed_file_sees_a_truncated_file_refilled_past_its_position(tmp_path):
    """In process: truncated and written again longer than before, between two reads."""
    path = tmp_path / "f.log"
    path.write_bytes(b"one\ntwo\n")
    with FollowedFile(str(path), idle=0.3, poll=0.05) as followed:
        assert followed.read1() == b"one\ntwo\n"
        path.write_bytes(b"three\nfour\nfive\n")  # truncated, then refilled past the old end
        assert followed.read1() == b"three\nfour\nfive\n"
        with open(path, "ab") as handle:
            handle.write(b"six\n")  # grown: read on from where it was
        assert followed.read1() == b"six\n"
        assert followed.read1() == b""
        assert (followed.truncations, followed.rotations) == (1, 0)


def test_followed_file_skips_the_hole_a_non_append_writer_leaves_after_copytruncate(tmp_path):
    """A writer without O_APPEND (``prog > file``) writes on at its old offset after a
    copytruncate: the NUL hole before its new line is skipped, never returned, whether the
    follower looks before or after that write."""
    path = tmp_path / "f.log"
    writer = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        os.write(writer, b"".join(b"step=%d loss=0.%d padding-padding\n" % (i, i) for i in range(50)))
        with FollowedFile(str(path), idle=0.3, poll=0.05) as followed:
            assert followed.read1().count(b"\n") == 50
            os.truncate(path, 0)                       # copytruncate, after the copy
            os.write(writer, b"step=50 loss=0.5\n")   # lands at the old offset
            assert followed.read1() == b"step=50 loss=0.5\n"
            os.truncate(path, 0)
            assert followed.read1(1) == b""            # idle: seen truncated and empty
            os.write(writer, b"step=51 loss=0.51\n")
            assert followed.read1() == b"step=51 loss=0.51\n"
            assert followed.truncations == 2
    finally:
        os.close(writer)


def test_follow_stops_after_idle_seconds(tmp_path):
    log = tmp_path / "quiet.log"
    log.write_bytes(b"loss: 0.5\n")
    start = time.monotonic()
    done = cli(tmp_path / "ws", "ingest", "--follow", "--idle", "0.5", str(log))
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - start < TIMEOUT
    assert [p.value for p in only_run(tmp_path / "ws").get_metric_history("loss")] == [0.5]


def test_followed_file_sees_truncation_and_rotation_in_process(tmp_path):
    path = tmp_path / "f.log"
    path.write_bytes(b"one\ntwo\n")
    with FollowedFile(str(path), idle=0.3, poll=0.05) as followed:
        assert followed.read1() == b"one\ntwo\n"
        path.write_bytes(b"3\n")  # shorter than what was read: truncated
        assert followed.read1() == b"3\n"
        os.rename(path, str(path) + ".1")
        path.write_bytes(b"new\n")
        assert followed.read1() == b"new\n"
        assert followed.read1() == b""  # idle
        assert (followed.truncations, followed.rotations) == (1, 1)


def test_follow_and_pid_options_are_checked_before_a_run_starts(tmp_path):
    ws = tmp_path / "ws"
    assert b"--idle and --pid go with --follow" in cli(ws, "ingest", "--pid", "1", "x.log").stderr
    assert b"--follow reads a file" in cli(ws, "ingest", "--follow", "-").stderr
    assert b"cannot read" in cli(ws, "ingest", "--follow", str(tmp_path / "missing.log")).stderr
    assert not (ws / "runs").exists()


def test_sigterm_ends_a_follow_canceled_with_what_it_read(tmp_path):
    # `docker stop` or systemd ends a tailer with SIGTERM: the run ends as on Ctrl-C.
    log = tmp_path / "app.log"
    log.write_bytes(b"step=1 loss=0.5\n")
    ws = tmp_path / "ws"
    follow = subprocess.Popen(
        [PYTHON, "-m", "tracklog", "--workspace", str(ws), "ingest", "--follow", "--idle", "0", str(log)],
        env=env(), stdin=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        runs = list(tracklog.Workspace(str(ws)).get_runs()) if (ws / "tracklog.db").exists() else []
        if runs and runs[0].get_metric_history("loss"):
            break
        time.sleep(0.1)
    follow.terminate()
    _out, err = follow.communicate(timeout=TIMEOUT)
    assert follow.returncode == 128 + 15, err
    run = only_run(ws)
    assert run.status == "Canceled"
    assert [p.value for p in run.get_metric_history("loss")] == [0.5]


def test_a_utf8_byte_order_mark_does_not_hide_the_first_line(tmp_path):
    log = tmp_path / "win.log"
    log.write_bytes(b"\xef\xbb\xbf2026-12-01T10:00:00Z step=1 loss=0.5\r\n2026-12-01T10:00:01Z step=2 loss=0.4\r\n")
    done = cli(tmp_path / "ws", "ingest", str(log))
    assert done.returncode == 0, done.stderr
    run = only_run(tmp_path / "ws")
    assert [(p.step, p.value) for p in run.get_metric_history("loss")] == [(1, 0.5), (2, 0.4)]
    if _has_own_times(run):
        assert run.info.start_time == BASE
    docker = tmp_path / "docker.log"
    docker.write_bytes(b"\xef\xbb\xbf" + json.dumps(
        {"log": "step=1 loss=0.5\n", "stream": "stdout", "time": "2026-12-01T10:00:00Z"}).encode() + b"\n")
    done = cli(tmp_path / "ws2", "ingest", str(docker))
    assert done.returncode == 0, done.stderr
    assert [p.value for p in only_run(tmp_path / "ws2").get_metric_history("loss")] == [0.5]


def test_latest_is_the_run_made_last_even_when_an_ingested_log_is_older(tmp_path):
    ws = tmp_path / "ws"
    assert cli(ws, "run", "--", "echo", "hello").returncode == 0
    log = tmp_path / "kubelet.log"
    log.write_bytes(b"2026-12-01T10:00:00.000000000Z stdout F trainer says hi\n")
    done = cli(ws, "ingest", "--name", "trainer-0", str(log))
    assert done.returncode == 0, done.stderr
    shown = cli(ws, "logs", "latest", "--file", "std_log.txt")
    assert shown.returncode == 0, shown.stderr
    assert b"trainer says hi" in shown.stdout and b"hello" not in shown.stdout
