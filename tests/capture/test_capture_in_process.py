"""``run.capture_output()`` and ``tracklog.capture_output()``: this process's output into the run."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

import tracklog
from tests.capture.capture_support import PYTHON, TIMEOUT, env, only_run, output_lines, script, stream_bytes, tracklog_run


def test_print_is_teed_into_std_log_and_still_reaches_the_original(run, capsys):
    with run.capture_output():
        print("hello from print")
        print(json.dumps({"metric": "loss", "value": 0.25, "step": 4}))
        sys.stderr.write("direct to stderr\n")
    shown = capsys.readouterr()
    assert shown.out == 'hello from print\n{"metric": "loss", "value": 0.25, "step": 4}\n'
    assert shown.err == "direct to stderr\n"
    out = stream_bytes(run, "stdout")
    assert out == b'hello from print\n{"metric": "loss", "value": 0.25, "step": 4}\n'
    assert stream_bytes(run, "stderr") == b"direct to stderr\n"
    assert [(p.step, p.value) for p in run.get_metric_history("loss")] == [(4, 0.25)]


def test_warnings_and_a_logging_handler_made_inside_the_block_are_captured(tmp_path):
    path = script(tmp_path, "warn.py", """
        import logging, sys, warnings
        import tracklog
        run = tracklog.Experiment(tracklog.Workspace(sys.argv[1]), "w").start_logging("w")
        with run.capture_output():
            warnings.warn("a warning shown on stderr")
            logging.basicConfig(format="%(levelname)s %(message)s")
            logging.warning("a log line on stderr")
        run.complete()
    """)
    done = subprocess.run([PYTHON, str(path), str(tmp_path / "ws")], env=env(), capture_output=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    assert b"UserWarning: a warning shown on stderr" in done.stderr
    err = stream_bytes(only_run(tmp_path / "ws"), "stderr")
    assert err == done.stderr and err.endswith(b"WARNING a log line on stderr\n")


def test_the_streams_are_put_back_exactly_also_after_an_exception(run):
    before = (sys.stdout, sys.stderr)
    with pytest.raises(RuntimeError):
        with run.capture_output():
            assert sys.stdout is not before[0]
            print("before the error")
            raise RuntimeError("boom")
    assert (sys.stdout, sys.stderr) == before
    assert stream_bytes(run, "stdout") == b"before the error\n"


def test_progress_redraws_and_an_unfinished_line_are_recorded(run):
    with run.capture_output():
        for pct in (10, 60, 100):
            sys.stderr.write(f"\rprogress {pct}%")
            sys.stderr.flush()
        sys.stderr.write("\n")
        sys.stdout.write("no newline")
    assert stream_bytes(run, "stderr") == b"\rprogress 10%\rprogress 60%\rprogress 100%\n"
    (last,) = output_lines(run, "stdout")
    assert last.data == b"no newline" and not last.complete


def test_tracklog_capture_output_uses_the_current_run(experiment):
    with experiment.start_logging("current") as current:
        with tracklog.capture_output():
            print("to the current run")
    assert stream_bytes(current, "stdout") == b"to the current run\n"


def test_nested_captures_do_not_record_twice(run):
    with run.capture_output():
        with run.capture_output():
            print("once")
    assert stream_bytes(run, "stdout") == b"once\n"


def test_a_stream_kept_after_the_capture_ends_writes_through_without_recording(run):
    with run.capture_output():
        kept = sys.stdout
        print("inside")
    kept.write("after\n")
    kept.flush()
    assert stream_bytes(run, "stdout") == b"inside\n"


def test_a_stream_without_a_binary_buffer_is_teed_too(run, monkeypatch):
    target = io.StringIO()
    monkeypatch.setattr(sys, "stdout", target)
    with run.capture_output():
        print("into StringIO")
    assert sys.stdout is target
    assert target.getvalue() == "into StringIO\n"
    assert stream_bytes(run, "stdout") == b"into StringIO\n"


FD_SCRIPT = """
    import os, subprocess, sys
    import tracklog
    ws = tracklog.Workspace(sys.argv[1])
    run = tracklog.Experiment(ws, "fd").start_logging("fd")
    before = [os.fstat(fd) for fd in (1, 2)]
    try:
        with run.capture_output(fd=True):
            print("python print")
            sys.stdout.flush()
            os.write(1, b"raw fd write\\n")
            os.write(2, b"raw stderr write\\n")
            subprocess.run(["sh", "-c", "echo from a subprocess; echo subprocess err >&2"], check=True)
            raise KeyError("escapes the block")
    except KeyError:
        pass
    after = [os.fstat(fd) for fd in (1, 2)]
    same = all((a.st_dev, a.st_ino) == (b.st_dev, b.st_ino) for a, b in zip(before, after))
    print("restored" if same else "NOT RESTORED")
    os.write(1, b"after the block\\n")
    run.complete()
"""


def test_fd_capture_records_c_level_and_subprocess_output_and_restores_the_descriptors(tmp_path):
    path = script(tmp_path, "fd.py", FD_SCRIPT)
    out_file, err_file = tmp_path / "out.txt", tmp_path / "err.txt"
    with open(out_file, "wb") as out, open(err_file, "wb") as err:
        done = subprocess.run([PYTHON, str(path), str(tmp_path / "ws")], env=env(), stdout=out, stderr=err, timeout=TIMEOUT)
    assert done.returncode == 0, err_file.read_bytes()
    console = out_file.read_bytes()
    assert console == b"python print\nraw fd write\nfrom a subprocess\nrestored\nafter the block\n"
    assert err_file.read_bytes() == b"raw stderr write\nsubprocess err\n"
    run = only_run(tmp_path / "ws")
    assert stream_bytes(run, "stdout") == b"python print\nraw fd write\nfrom a subprocess\n"
    assert stream_bytes(run, "stderr") == b"raw stderr write\nsubprocess err\n"


def test_under_tracklog_run_capture_output_for_the_same_run_does_not_record_twice(tmp_path):
    path = script(tmp_path, "both.py", """
        import tracklog
        with tracklog.capture_output():
            print("recorded once")
    """)
    done = tracklog_run(tmp_path / "ws", PYTHON, path)
    assert done.returncode == 0, done.stderr
    assert stream_bytes(only_run(tmp_path / "ws"), "stdout") == b"recorded once\n"


def test_threads_printing_at_once_are_recorded_exactly_as_the_console_got_them(run, capsys):
    import threading

    def worker(n: int) -> None:
        for i in range(3000):
            sys.stdout.write(f"thread {n} line {i}\n")

    with run.capture_output():
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    console = capsys.readouterr().out.encode()
    assert stream_bytes(run, "stdout") == console
    assert sorted(console.splitlines()) == sorted(f"thread {n} line {i}".encode() for n in range(4) for i in range(3000))


def test_get_logs_reads_captured_output_back_structured(run):
    """run.get_logs(filename="std_log.txt") gives one record per captured line, by stream."""
    import sys as _sys

    with run.capture_output():
        print("hello out")
        print("hello err", file=_sys.stderr)
    lines = run.get_logs(filename="std_log.txt")
    assert [(r["stream"], r["message"]) for r in lines] == [("stdout", "hello out"), ("stderr", "hello err")]
    assert [r["message"] for r in run.get_logs(logger="stderr", filename="std_log.txt")] == ["hello err"]
    assert lines[0]["data"] == b"hello out" and lines[0]["ts"] > 0
