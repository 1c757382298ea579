"""SIGTERM to ``tracklog run``: a Python child flushes and ends; one that will not is killed after a grace."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import tracklog
from tests.capture.capture_support import PYTHON, TIMEOUT, env, only_run, script
from tracklog.capture import child_env
from tracklog.capture._process import TERM_GRACE

#: Logs points as fast as it can into the run of ``tracklog run`` (by run.log and by a
#: logging record the bootstrap captures); says how many it logged on its way out.
LOGGER = """
    import logging, time, tracklog
    run = tracklog.Run.get_context()
    log = logging.getLogger("train")
    logging.basicConfig(level=logging.INFO, handlers=[logging.NullHandler()])
    n = 0
    try:
        while True:
            run.log("loss", n, step=n)
            log.info("step", extra={"metric": "acc", "value": n, "step": n})
            n += 1
            if n == 20_000:
                print("ready", flush=True)
    finally:
        print("logged", n, flush=True)
"""


def _start(tmp_path, body: str) -> subprocess.Popen[bytes]:
    child = script(tmp_path, "child.py", body)
    argv = [PYTHON, "-m", "tracklog", "--workspace", str(tmp_path / "ws"), "run", "--", PYTHON, str(child)]
    proc = subprocess.Popen(argv, env=env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line == b"ready\n", (line, proc.stderr.read() if proc.poll() is not None else b"")
    return proc


def test_sigterm_to_tracklog_run_loses_no_point_the_python_child_logged(tmp_path):
    """The forwarded SIGTERM ends the Python child as sys.exit(143) would: every point it
    logged before the signal is stored, the run is Canceled, the exit status is 143."""
    proc = _start(tmp_path, LOGGER)
    try:
        time.sleep(0.5)  # logging flat out, a good part of it not yet written
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err.decode()
    last = out.splitlines()[-1].decode()
    assert last.startswith("logged "), (out[-200:], err.decode())
    logged = int(last.split()[1])
    run = only_run(tmp_path / "ws")
    assert run.status == "Canceled"
    for name in ("loss", "acc"):
        steps = [p.step for p in run.get_metric_history(name)]
        # the signal may land between the two calls of one round, or before the count moves
        assert steps == list(range(len(steps))), name
        assert logged <= len(steps) <= logged + 1, (name, logged, len(steps))


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace_and_the_run_canceled(tmp_path):
    """tracklog run does not wait forever on a child that ignores SIGTERM: SIGKILL after TERM_GRACE."""
    proc = _start(tmp_path, """
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ready", flush=True)
        time.sleep(600)
    """)
    try:
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=TIMEOUT)
        took = time.monotonic() - started
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGKILL
    assert took >= TERM_GRACE - 0.5  # it had its grace
    assert b"did not exit within" in err
    assert only_run(tmp_path / "ws").status == "Canceled"


def test_a_handler_the_script_sets_replaces_the_bootstraps(tmp_path):
    """The bootstrap's SIGTERM handler is only a default: the script's own handler decides."""
    proc = _start(tmp_path, """
        import signal, sys, time
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(5))
        print("ready", flush=True)
        time.sleep(600)
    """)
    try:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=TIMEOUT)
    finally:
        proc.kill()
    assert proc.returncode == 5
    assert only_run(tmp_path / "ws").status == "Canceled"


def test_the_bootstrap_handles_a_default_sigterm_and_leaves_an_ignored_one_ignored(tmp_path, workspace):
    """The bootstrap takes SIGTERM only at its default; one inherited as ignored (nohup-style) stays so."""
    run = tracklog.Experiment(workspace, "probe").start_logging()
    probe = script(tmp_path, "probe.py", """
        import signal
        handler = signal.getsignal(signal.SIGTERM)
        print(getattr(handler, "__name__", handler))
    """)
    child = env(**child_env(run, {}, logging_capture=True))
    child["PYTHONPATH"] = child["PYTHONPATH"] + os.pathsep + env()["PYTHONPATH"]
    seen = {}
    for start in (signal.SIG_DFL, signal.SIG_IGN):
        done = subprocess.run(
            [PYTHON, str(probe)], env=child, capture_output=True, timeout=TIMEOUT,
            preexec_fn=lambda start=start: signal.signal(signal.SIGTERM, start),
        )
        assert done.returncode == 0, done.stderr.decode()
        seen[start] = done.stdout.decode().strip()
    run.complete()
    assert seen == {signal.SIG_DFL: "_on_sigterm", signal.SIG_IGN: "1"}  # SIG_IGN prints as 1


#: Cleans up on the first Ctrl-C; a second one during its cleanup would cut it short and say so.
CLEANS_UP = """
    import sys, time
    print("ready", flush=True)
    try:
        while True:
            time.sleep(0.05)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        try:
            time.sleep(1.0)
        except KeyboardInterrupt:
            print("interrupted again", flush=True)
        print("cleaned up", flush=True)
        sys.exit(3)
"""

#: In a new session (start_new_session), makes the tty named in argv[1] its controlling terminal by
#: opening it, then runs argv[2:].
WITH_TERMINAL = "import os, sys; os.close(os.open(sys.argv[1], os.O_RDWR)); os.execv(sys.argv[2], sys.argv[2:])"


def _interrupted_once(tmp_path, send, *, terminal: str | None = None) -> None:
    """Start ``tracklog run`` on CLEANS_UP in a session of its own, ``send(proc)`` a SIGINT once the
    child is ready, and check the child got exactly one: its cleanup ran whole, the run is Canceled."""
    child = script(tmp_path, "child.py", CLEANS_UP)
    argv = [PYTHON, "-m", "tracklog", "--workspace", str(tmp_path / "ws"), "run", "--", PYTHON, str(child)]
    if terminal is not None:
        argv = [PYTHON, "-c", WITH_TERMINAL, terminal, *argv]
    proc = subprocess.Popen(
        argv, env=env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line == b"ready\n", (line, proc.stderr.read() if proc.poll() is not None else b"")
        time.sleep(0.3)  # the child is in its loop
        send(proc)
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        proc.kill()
    assert out == b"interrupted\ncleaned up\n", (out, err.decode())
    assert proc.returncode == 3, err.decode()
    assert only_run(tmp_path / "ws").status == "Canceled"


def test_ctrl_c_at_a_terminal_reaches_the_child_once(tmp_path):
    """Ctrl-C typed at tracklog run's controlling terminal (a real pty; tracklog's own output
    redirected away from it) reaches the child once: from the terminal, not again from us."""
    master, slave = os.openpty()
    try:
        _interrupted_once(tmp_path, lambda proc: os.write(master, b"\x03"), terminal=os.ttyname(slave))
    finally:
        os.close(master)
        os.close(slave)


def test_sigint_to_the_whole_process_group_reaches_the_child_once(tmp_path):
    """A SIGINT sent to tracklog run's process group (killpg, as a supervisor does) reaches the child once."""
    _interrupted_once(tmp_path, lambda proc: os.killpg(proc.pid, signal.SIGINT))


def test_sigint_to_tracklog_runs_pid_alone_is_passed_on_once(tmp_path):
    """A SIGINT sent to tracklog run's pid only (kill -INT PID) is passed on to the child, once."""
    _interrupted_once(tmp_path, lambda proc: proc.send_signal(signal.SIGINT))


#: tracklog run in process, with a Popen that sends a SIGINT to the whole group just before the
#: command starts: after our handlers and the witness are in place, before the child exists.
SIGINT_BEFORE_THE_CHILD = """
    import os, signal, subprocess, sys, time
    from tracklog.cli import main
    real = subprocess.Popen
    class BeforeTheChild(real):
        def __init__(self, args, *rest, **options):
            if args[-1] == "child.py":
                time.sleep(0.4)  # the witness is ready
                os.killpg(os.getpgrp(), signal.SIGINT)
                time.sleep(0.05)
            super().__init__(args, *rest, **options)
    subprocess.Popen = BeforeTheChild
    sys.argv = ["tracklog", "--workspace", sys.argv[1], "run", "--", sys.executable, "child.py"]
    main()
"""


def test_a_group_sigint_before_the_child_exists_is_passed_on(tmp_path):
    """A SIGINT to the group that arrives after tracklog run's handlers are in place but before the
    child exists never reached the child: it is passed on (the child ends by it), not taken as the group's."""
    script(tmp_path, "child.py", "import time\ntime.sleep(1.5)\nprint('not interrupted', flush=True)\n")
    runner = script(tmp_path, "runner.py", SIGINT_BEFORE_THE_CHILD)
    proc = subprocess.Popen(
        [PYTHON, str(runner), str(tmp_path / "ws")], cwd=tmp_path, env=env(), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        proc.kill()
    assert b"not interrupted" not in out, err.decode()
    assert only_run(tmp_path / "ws").status == "Canceled"


#: In a session of its own: witnesses asked about a group SIGINT sent while each is still starting.
WITNESS_WHILE_STARTING = """
    import os, signal, time
    from tracklog.capture._sigint import GroupSigintWitness
    signal.signal(signal.SIGINT, lambda *_: None)
    answers = []
    for delay in (0.0, 0.0, 0.005, 0.01, 0.02):
        witness = GroupSigintWitness()
        time.sleep(delay)
        os.killpg(os.getpgrp(), signal.SIGINT)  # Ctrl-C while the witness starts
        answers.append(witness.group_got_it())
        witness.close()
    print(answers)
"""


def test_a_group_sigint_while_the_witness_starts_is_answered_as_the_groups(tmp_path):
    """The witness starts with SIGINT blocked, so a Ctrl-C during its startup is answered (the
    group got it) instead of killing it, which read as unknown and let the child get it twice."""
    witness = script(tmp_path, "witness.py", WITNESS_WHILE_STARTING)
    done = subprocess.run(
        [PYTHON, str(witness)], env=env(), stdin=subprocess.DEVNULL, capture_output=True,
        timeout=TIMEOUT, start_new_session=True,
    )
    assert done.stdout == b"[True, True, True, True, True]\n", done.stderr.decode()
