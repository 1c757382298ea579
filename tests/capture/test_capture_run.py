"""``tracklog run -- COMMAND`` with real child processes: output, exit status, signals, files."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests.capture.capture_support import PYTHON, TIMEOUT, env, only_run, output_lines, runs, script, stream_bytes, tracklog_run


def test_flooding_both_pipes_at_once_keeps_every_line_in_order(tmp_path):
    """200,000 lines written to stdout and stderr in turns, blocking writes: no deadlock, nothing lost."""
    child = script(tmp_path, "flood.py", """
        import os
        for block in range(200):
            for fd, name in ((1, "out"), (2, "err")):
                lines = "".join(f"{name} {block * 500 + i}\\n" for i in range(500))
                data = lines.encode()
                while data:
                    data = data[os.write(fd, data):]
    """)
    done = tracklog_run(tmp_path / "ws", PYTHON, child)
    assert done.returncode == 0, done.stderr[-2000:]
    expected_out = b"".join(b"out %d\n" % i for i in range(100_000))
    expected_err = b"".join(b"err %d\n" % i for i in range(100_000))
    assert done.stdout == expected_out  # echoed live, byte for byte
    assert done.stderr == expected_err
    run = only_run(tmp_path / "ws")
    assert stream_bytes(run, "stdout") == expected_out
    assert stream_bytes(run, "stderr") == expected_err
    assert run.status == "Completed"


def test_invalid_utf8_binary_and_a_1mb_line_are_kept_byte_for_byte(tmp_path):
    child = script(tmp_path, "bytes.py", """
        import sys
        out = sys.stdout.buffer
        out.write(b"caf\\xe9 is latin-1, \\xff\\xfe is nothing\\n")
        out.write(bytes(b for b in range(256) if b != 10) + b"\\n")
        out.write(b"x" * 1_000_000 + b"\\n")
        out.write(b"crlf line\\r\\n")
        out.write(b"the end, without a newline")
        out.flush()
        sys.stderr.buffer.write(b"err \\x80\\x81\\n")
    """)
    done = tracklog_run(tmp_path / "ws", PYTHON, child)
    expected = (
        b"caf\xe9 is latin-1, \xff\xfe is nothing\n"
        + bytes(b for b in range(256) if b != 10) + b"\n"
        + b"x" * 1_000_000 + b"\n"
        + b"crlf line\r\n"
        + b"the end, without a newline"
    )
    assert done.returncode == 0
    assert done.stdout == expected
    run = only_run(tmp_path / "ws")
    assert stream_bytes(run, "stdout") == expected
    assert stream_bytes(run, "stderr") == b"err \x80\x81\n"
    lines = output_lines(run, "stdout")
    assert [len(l.data) for l in lines][2] == 1_000_000
    assert lines[-1].complete is False  # the last line never got its newline
    assert "\ufffd" in lines[0].text  # views decode with replacement


def test_exit_status_zero_completes_and_nonzero_fails_with_the_code(tmp_path):
    ok = tracklog_run(tmp_path / "ws", PYTHON, "-c", "print('fine')", options=("--name", "ok"))
    bad = tracklog_run(tmp_path / "ws", PYTHON, "-c", "import sys; sys.exit(3)", options=("--name", "bad"))
    assert ok.returncode == 0 and bad.returncode == 3
    by_name = {r.name: r for r in runs(tmp_path / "ws")}
    assert by_name["ok"].status == "Completed"
    assert by_name["bad"].status == "Failed"
    assert by_name["bad"].info.error == "exit code 3"
    assert by_name["bad"].get_tags()["tracklog.exit_code"] == "3"


@pytest.mark.parametrize(("ending", "status", "error"), [
    ("run.fail(error_details='bad shard 7')", "Failed", "bad shard 7"),
    ("run.cancel()", "Canceled", None),
])
def test_a_run_the_command_ended_itself_keeps_its_status(tmp_path, ending, status, error):
    """A script that ends its own run (Azure's run.fail(...) or run.cancel() on Run.get_context())
    and then exits 0 keeps that status and error: tracklog run does not make it Completed."""
    child = script(tmp_path, "job.py", f"""
        import tracklog
        run = tracklog.Run.get_context()
        run.log("loss", 0.5)
        {ending}
    """)
    done = tracklog_run(tmp_path / "ws", PYTHON, child)
    assert done.returncode == 0, done.stderr
    run = only_run(tmp_path / "ws")
    assert (run.status, run.info.error) == (status, error)
    assert run.get_tags()["tracklog.exit_code"] == "0"
    assert run.get_metrics() == {"loss": 0.5}


def test_a_child_killed_by_sigkill_fails_the_run_with_the_signal_name(tmp_path):
    done = tracklog_run(tmp_path / "ws", PYTHON, "-c", "import os, signal; print('bye', flush=True); os.kill(os.getpid(), signal.SIGKILL)")
    assert done.returncode == 128 + signal.SIGKILL
    run = only_run(tmp_path / "ws")
    assert run.status == "Failed"
    assert "SIGKILL" in run.info.error
    assert stream_bytes(run, "stdout") == b"bye\n"


def _start_waiting_child(tmp_path, body: str) -> subprocess.Popen[bytes]:
    child = script(tmp_path, "wait.py", body)
    argv = [PYTHON, "-m", "tracklog", "--workspace", str(tmp_path / "ws"), "run", "--", PYTHON, str(child)]
    proc = subprocess.Popen(argv, env=env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the child's "ready", echoed live
    assert line == b"ready\n", (line, proc.stderr.read() if proc.poll() is not None else b"")
    return proc


def test_sigterm_is_forwarded_the_run_canceled_and_the_exit_code_passed_on(tmp_path):
    proc = _start_waiting_child(tmp_path, """
        import signal, sys, time
        def stop(signum, frame):
            print("got", signal.Signals(signum).name, flush=True)
            sys.exit(7)
        signal.signal(signal.SIGTERM, stop)
        print("ready", flush=True)
        time.sleep(60)
    """)
    try:
        proc.send_signal(signal.SIGTERM)
        out, _err = proc.communicate(timeout=TIMEOUT)
    finally:
        proc.kill()
    assert out == b"got SIGTERM\n"
    assert proc.returncode == 7
    run = only_run(tmp_path / "ws")
    assert run.status == "Canceled"
    assert stream_bytes(run, "stdout") == b"ready\ngot SIGTERM\n"


def test_a_child_dying_of_a_forwarded_sigterm_gives_128_plus_15(tmp_path):
    proc = _start_waiting_child(tmp_path, """
        import time
        print("ready", flush=True)
        time.sleep(60)
    """)
    try:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=TIMEOUT)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM
    assert only_run(tmp_path / "ws").status == "Canceled"


def test_sigint_sent_to_tracklog_run_reaches_the_child_as_keyboard_interrupt(tmp_path):
    proc = _start_waiting_child(tmp_path, """
        import time
        try:
            print("ready", flush=True)
            time.sleep(60)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            raise SystemExit(130)
    """)
    try:
        proc.send_signal(signal.SIGINT)
        out, _err = proc.communicate(timeout=TIMEOUT)
    finally:
        proc.kill()
    assert out == b"interrupted\n"
    assert proc.returncode == 130
    assert only_run(tmp_path / "ws").status == "Canceled"


def test_a_missing_command_exits_127_and_fails_the_run(tmp_path):
    done = tracklog_run(tmp_path / "ws", "no-such-command-tracklog-test")
    assert done.returncode == 127
    assert b"cannot run 'no-such-command-tracklog-test'" in done.stderr
    run = only_run(tmp_path / "ws")
    assert run.status == "Failed"


def test_quiet_records_without_echoing(tmp_path):
    done = tracklog_run(tmp_path / "ws", PYTHON, "-c", "print('hidden'); import sys; print('also', file=sys.stderr)", options=("--quiet",))
    assert done.returncode == 0
    assert done.stdout == b"" and done.stderr == b""
    run = only_run(tmp_path / "ws")
    assert stream_bytes(run, "stdout") == b"hidden\n"
    assert stream_bytes(run, "stderr") == b"also\n"


def test_json_lines_on_stdout_become_metrics_tags_and_params(tmp_path):
    child = script(tmp_path, "report.py", """
        import json, sys
        for step in range(3):
            print(json.dumps({"metric": "loss", "value": 1.0 / (step + 1), "step": step}))
        print(json.dumps({"metrics": {"acc": 0.9, "f1": 0.8}, "step": 2}))
        print(json.dumps({"tags": {"model": "resnet"}, "params": {"lr": 0.1}}))
        print('{"not": "conventions"}')
        print('{broken json')
        print(json.dumps({"metric": "on_stderr", "value": 1}), file=sys.stderr)
    """)
    done = tracklog_run(tmp_path / "ws", PYTHON, child)
    assert done.returncode == 0
    run = only_run(tmp_path / "ws")
    assert [p.value for p in run.get_metric_history("loss")] == [1.0, 0.5, 1.0 / 3]
    assert [p.step for p in run.get_metric_history("loss")] == [0, 1, 2]
    metrics = run.get_metrics()
    assert metrics["acc"] == 0.9 and metrics["f1"] == 0.8
    assert "on_stderr" not in metrics  # only stdout carries the conventions
    assert run.get_tags()["model"] == "resnet"
    assert run.get_params()["lr"] == "0.1"
    assert len(output_lines(run, "stdout")) == 7  # the JSON lines are log lines too


def test_tags_params_name_and_experiment_from_the_command_line(tmp_path):
    done = tracklog_run(
        tmp_path / "ws", PYTHON, "-c", "pass",
        options=("--experiment", "cli-exp", "--name", "named", "--tag", "team=vision", "--tag", "baseline", "--param", "lr=0.01"),
    )
    assert done.returncode == 0
    run = only_run(tmp_path / "ws")
    assert (run.experiment.name, run.name) == ("cli-exp", "named")
    assert run.get_tags()["team"] == "vision" and run.get_tags()["baseline"] == ""
    assert run.get_params() == {"lr": "0.01"}


def test_the_run_is_named_after_the_script(tmp_path):
    child = script(tmp_path, "train_model.py", "pass\n")
    tracklog_run(tmp_path / "ws", PYTHON, "-u", child)
    assert only_run(tmp_path / "ws").name == "train_model.py"


def test_files_left_in_outputs_are_collected_and_older_untouched_files_are_not(tmp_path):
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    (outputs / "stale.txt").write_text("from an earlier run")
    child = script(tmp_path, "save.py", """
        import os
        os.makedirs("outputs/sub", exist_ok=True)
        open("outputs/model.txt", "w").write("weights")
        open("outputs/sub/data.bin", "wb").write(bytes(range(256)))
    """)
    done = tracklog_run(tmp_path / "ws", PYTHON, child, cwd=tmp_path)
    assert done.returncode == 0
    run = only_run(tmp_path / "ws")
    files = run.get_file_names()
    assert "outputs/model.txt" in files and "outputs/sub/data.bin" in files
    assert "outputs/stale.txt" not in files
    target = tmp_path / "copy.bin"
    run.download_file("outputs/sub/data.bin", target)
    assert target.read_bytes() == bytes(range(256))


def test_outputs_option_names_another_folder_and_a_failed_run_still_collects(tmp_path):
    child = script(tmp_path, "save.py", """
        import os, sys
        os.makedirs("results", exist_ok=True)
        open("results/partial.txt", "w").write("half done")
        sys.exit(1)
    """)
    done = tracklog_run(tmp_path / "ws", PYTHON, child, options=("--outputs", "results"), cwd=tmp_path)
    assert done.returncode == 1
    run = only_run(tmp_path / "ws")
    assert run.status == "Failed"
    assert "outputs/partial.txt" in run.get_file_names()


def test_the_child_logs_into_the_same_run_through_the_env(tmp_path):
    child = script(tmp_path, "api.py", """
        import os, tracklog
        run = tracklog.Run.get_context()
        run.log("from_api", 42)
        tracklog.log_metric("from_fluent", 7)
        print(os.environ["TRACKLOG_RUN_ID"])
    """)
    done = tracklog_run(tmp_path / "ws", PYTHON, child)
    assert done.returncode == 0, done.stderr
    run = only_run(tmp_path / "ws")
    assert done.stdout.decode().strip() == run.id
    metrics = run.get_metrics()
    assert metrics["from_api"] == 42 and metrics["from_fluent"] == 7
    assert run.status == "Completed"


def test_a_tracklog_run_inside_a_run_makes_a_child_run(tmp_path):
    inner = script(tmp_path, "inner.py", """
        import logging
        logging.basicConfig(level=logging.INFO)
        logging.info("inside", extra={"metric": "inner_metric", "value": 1})
        print("inner output")
    """)
    ws = tmp_path / "ws"
    done = tracklog_run(ws, PYTHON, "-m", "tracklog", "run", "--name", "inner", "--", PYTHON, inner, options=("--name", "outer"))
    assert done.returncode == 0, done.stderr
    by_name = {r.name: r for r in runs(ws)}
    outer, inner_run = by_name["outer"], by_name["inner"]
    assert inner_run.parent == outer
    assert [c.id for c in outer.get_children()] == [inner_run.id]
    assert inner_run.get_metrics() == {"inner_metric": 1}
    assert outer.get_metrics() == {}
    assert stream_bytes(inner_run, "stdout") == b"inner output\n"
    assert stream_bytes(outer, "stdout") == b"inner output\n"  # the outer run sees its child's output too
    assert inner_run.status == outer.status == "Completed"


def test_tracklog_logs_shows_progress_bars_collapsed_but_stores_every_redraw(tmp_path):
    child = script(tmp_path, "bar.py", """
        import sys, time
        for pct in (0, 50, 100):
            sys.stderr.write(f"\\rtraining: {pct:3d}%")
            sys.stderr.flush()
            time.sleep(0.05)
        sys.stderr.write("\\n")
        print("done")
    """)
    ws = tmp_path / "ws"
    assert tracklog_run(ws, PYTHON, child).returncode == 0
    run = only_run(ws)
    assert stream_bytes(run, "stderr") == b"\rtraining:   0%\rtraining:  50%\rtraining: 100%\n"
    shown = subprocess.run(
        [PYTHON, "-m", "tracklog", "--workspace", str(ws), "logs", run.id, "--file", "std_log.txt"],
        env=env(), capture_output=True, timeout=TIMEOUT,
    )
    text = shown.stdout.decode()
    assert shown.returncode == 0, shown.stderr
    assert text.count("training") == 1 and "training: 100%" in text
    assert "stderr | training: 100%" in text and "stdout | done" in text


def test_ranked_tracklog_run_stamps_its_lines_with_the_rank(tmp_path):
    done = tracklog_run(tmp_path / "ws", PYTHON, "-c", "print('hello')", extra_env={"RANK": "3"})
    assert done.returncode == 0
    (line,) = output_lines(only_run(tmp_path / "ws"))
    assert line.rank == 3 and line.data == b"hello"


def test_otlp_flag_sets_the_switch_for_the_child(tmp_path):
    done = tracklog_run(
        tmp_path / "ws", PYTHON, "-c", "import os; print(os.environ.get('TRACKLOG_OTLP'))",
        options=("--otlp", "--no-logging-capture"),
        # No collector listens here: don't wait long for it at exit.
        extra_env={"TRACKLOG_OTLP_SHUTDOWN_TIMEOUT": "0.5", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"},
    )
    assert done.stdout == b"1\n"
    assert done.returncode == 0


def test_the_command_is_recorded_as_a_tag(tmp_path):
    tracklog_run(tmp_path / "ws", PYTHON, "-c", "print(1)")
    assert only_run(tmp_path / "ws").get_tags()["tracklog.command"] == f"{PYTHON} -c 'print(1)'"


def test_stdout_lines_carry_their_arrival_time(tmp_path):
    before = time.time()
    tracklog_run(tmp_path / "ws", PYTHON, "-c", "print('x')")
    (line,) = output_lines(only_run(tmp_path / "ws"))
    assert before - 1 <= line.ts <= time.time() + 1
    assert len(line.time) == 27 and line.time.endswith("Z")  # 2026-11-24T00:14:28.123456Z


def test_a_real_tqdm_bar_is_stored_whole_and_shown_at_its_last_state(tmp_path):
    pytest.importorskip("tqdm")
    child = script(tmp_path, "bar.py", """
        import time
        from tqdm import tqdm
        for _ in tqdm(range(5), desc="epochs", mininterval=0, ascii=True):
            time.sleep(0.02)
    """)
    ws = tmp_path / "ws"
    done = tracklog_run(ws, PYTHON, child)
    assert done.returncode == 0, done.stderr
    run = only_run(ws)
    assert stream_bytes(run, "stderr") == done.stderr  # every redraw, as tqdm wrote it
    assert done.stderr.count(b"\r") >= 5
    shown = subprocess.run(
        [PYTHON, "-m", "tracklog", "--workspace", str(ws), "logs", run.id, "--file", "std_log.txt"],
        env=env(), capture_output=True, timeout=TIMEOUT,
    ).stdout.decode()
    assert shown.count("epochs") == 1 and "5/5" in shown


def test_a_relative_workspace_reaches_the_child_as_an_absolute_path(tmp_path):
    done = subprocess.run(
        [PYTHON, "-m", "tracklog", "--workspace", "rel-ws", "run", "--", PYTHON, "-c",
         "import os; print(os.environ['TRACKLOG_WORKSPACE'])"],
        env=env(), cwd=tmp_path, capture_output=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL,
    )
    assert done.stdout.decode().strip() == str(tmp_path / "rel-ws")


def _read_until(fd: int, marker: bytes, timeout: float = 60.0) -> bytes:
    import select

    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the terminal closed: everything has been read
                break
            if not chunk:
                break
            seen += chunk
    return seen


def test_ctrl_c_at_a_terminal_reaches_the_child_once_and_cancels_the_run(tmp_path):
    """The terminal sends Ctrl-C to the whole foreground group: tracklog must not send a second one."""
    import fcntl
    import pty
    import termios

    child = script(tmp_path, "ctrlc.py", """
        import os, signal, time
        # Count deliveries at the C level: Python-level handlers may merge two close signals.
        read_end, write_end = os.pipe()
        os.set_blocking(write_end, False)
        signal.set_wakeup_fd(write_end)
        signal.signal(signal.SIGINT, lambda signum, frame: None)
        os.set_blocking(read_end, False)
        print("ready", flush=True)
        got = b""
        deadline = time.monotonic() + 30
        while not got and time.monotonic() < deadline:
            try:
                got = os.read(read_end, 100)
            except BlockingIOError:
                time.sleep(0.05)
        time.sleep(1.0)  # a second, forwarded SIGINT would arrive in here
        try:
            got += os.read(read_end, 100)
        except BlockingIOError:
            pass
        print(f"SIGINT {len(got)}", flush=True)
        print("exiting", flush=True)
    """)
    master, slave = pty.openpty()

    def take_terminal() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    argv = [PYTHON, "-m", "tracklog", "--workspace", str(tmp_path / "ws"), "run", "--", PYTHON, str(child)]
    proc = subprocess.Popen(
        argv, env=env(), stdin=slave, stdout=slave, stderr=slave, start_new_session=True, preexec_fn=take_terminal
    )
    os.close(slave)
    try:
        seen = _read_until(master, b"ready")
        assert b"ready" in seen, seen
        os.write(master, b"\x03")  # Ctrl-C
        seen += _read_until(master, b"Canceled")
        proc.wait(TIMEOUT)
    finally:
        proc.kill()
        os.close(master)
    text = seen.decode(errors="replace")
    assert "SIGINT 1" in text and "exiting" in text, text
    assert "tracklog: run " in text  # at a terminal, tracklog says which run
    assert proc.returncode == 0
    assert only_run(tmp_path / "ws").status == "Canceled"


def test_a_background_process_that_outlives_the_command_is_cut_off_after_the_grace(tmp_path):
    """A daemon the command leaves running is read for EXIT_GRACE more seconds, then its pipes close:
    tracklog run returns, the late line is not recorded, and its next write kills it (SIGPIPE).
    Started with its own output, the same daemon lives on."""
    for name, redirect in (("piped", ""), ("redirected", "> /dev/null 2>&1")):
        job = script(tmp_path, f"{name}.sh", f"""
            ( sleep 5; echo late; echo lived > {tmp_path / name}.txt ) {redirect} &
            echo started
        """)
        started = time.monotonic()
        done = tracklog_run(tmp_path / name, "sh", job)
        assert done.returncode == 0, done.stderr
        assert time.monotonic() - started < 4.5  # returned after the grace, not when the daemon ended
        assert [l.data for l in output_lines(only_run(tmp_path / name))] == [b"started"]
    time.sleep(6)
    assert not (tmp_path / "piped.txt").exists()  # killed by SIGPIPE at its first late write
    assert (tmp_path / "redirected.txt").read_text() == "lived\n"
