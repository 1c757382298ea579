"""Run a command as a child process and record its output, exit and files into a run.

One thread (the caller's) services both pipes with a selector, so a child that
floods stdout and stderr at once never blocks on a full pipe; each chunk read
is echoed as it came, then recorded. Ctrl-C and SIGTERM sent to us go on to
the child; the child's exit status becomes the run's status and our own. A child
asked to end by SIGTERM or SIGHUP has TERM_GRACE seconds to do so (a Python child
flushes and exits, see the bootstrap) before it is killed with SIGKILL.
"""

from __future__ import annotations

import os
import select
import selectors
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Mapping, Sequence

from .. import _config, _diag
from ._gate import ParsedMetricGate
from ._recognise import MetricRules
from ._recorder import OutputRecorder
from ._sigint import GroupSigintWitness
from ._tensorboard import TensorBoardSync, TensorBoardWatcher

if TYPE_CHECKING:
    from ..run import Run  # the type only: a child run uploads ./outputs through it

#: Bytes asked of a pipe per read; pipes are also enlarged to this where the OS allows.
READ_SIZE = 1 << 20
#: Seconds we keep reading after the child exits, for output of grandchildren still holding the pipes.
EXIT_GRACE = 2.0
#: Signals passed on to the child (and that mark the run canceled).
FORWARDED = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
#: Forwarded signals that ask the child to end: it gets TERM_GRACE seconds, then SIGKILL.
ENDING = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
#: Seconds a child has to exit after SIGTERM or SIGHUP. Within `docker stop`'s 10 s, so that
#: we still end the run ourselves when the sender's own grace is the tightest in common use.
TERM_GRACE = 5.0
_F_SETPIPE_SZ = 1031  # Linux fcntl


def signal_name(number: int) -> str:
    """``SIGKILL`` for 9, or ``signal 64`` for a number without a name."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def enlarge_pipe(fd: int) -> None:
    """Give a pipe READ_SIZE bytes of room where the OS allows: fewer, bigger reads."""
    try:
        import fcntl

        fcntl.fcntl(fd, _F_SETPIPE_SZ, READ_SIZE)
    except (ImportError, OSError):
        pass  # not Linux, or above the system's pipe-max-size: the default size works too


def _terminal_delivers_sigint() -> bool:
    """True when Ctrl-C on our terminal already reaches the child (same foreground group).

    Only a guess, used when no witness can tell (see ``_sigint``): it cannot see a
    ``kill -INT`` of our pid alone, nor a group signal sent without a terminal.
    """
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd):
                return os.tcgetpgrp(fd) == os.getpgrp()
        except (OSError, AttributeError):  # AttributeError: no process groups (Windows)
            continue
    return False


class _Echo:
    """Our own stdout or stderr for the child's bytes; stops quietly if it goes away."""

    def __init__(self, fd: int | None) -> None:
        self.fd = fd

    def write(self, data: bytes) -> None:
        fd = self.fd
        if fd is None:
            return
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:  # an inherited non-blocking terminal or pipe: wait for room
                select.select([], [fd], [], 1.0)
            except OSError:
                self.fd = None  # the reader of our output left (EPIPE); capture goes on
                return


class ChildProcess:
    """A command run under a run: output recorded (and echoed), signals forwarded, status kept.

    ``start()`` spawns it; ``wait()`` pumps its output until it exits and
    returns the exit status as a shell reports it (128+N after signal N).
    """

    def __init__(
        self,
        run: Run,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        echo: bool = True,
        exit_grace: float = EXIT_GRACE,
        term_grace: float = TERM_GRACE,
        tensorboard: str | None = None,
        metrics: MetricRules | None = None,
    ) -> None:
        self.run = run
        self.metrics = MetricRules() if metrics is None else metrics  # metric lines on stdout and stderr
        self.argv = list(argv)
        self.env = dict(env)
        self.echo = echo
        self.exit_grace = exit_grace
        self.term_grace = term_grace
        self.tensorboard = tensorboard  # a folder watched for new TensorBoard event files, or None
        self.tensorboard_watcher: TensorBoardWatcher | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.interrupted: str | None = None  # the name of the first signal we forwarded
        self.returncode: int | None = None
        self.killed = False  # True when it outlived term_grace after SIGTERM/SIGHUP and got SIGKILL
        self._kill_at: float | None = None  # monotonic: when a child asked to end gets SIGKILL
        self._pending_signals: list[int] = []
        self._previous: dict[int, object] = {}
        self._witness: GroupSigintWitness | None = None  # tells a group's SIGINT from one sent to us

    # -- signals -------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: object) -> None:
        if self.interrupted is None:
            self.interrupted = signal_name(signum)
        proc = self.proc
        if proc is None:
            self._pending_signals.append(signum)
            return
        if signum in ENDING and self._kill_at is None:
            self._kill_at = time.monotonic() + self.term_grace
        if signum == signal.SIGINT and self._child_got_sigint(proc):
            return  # sent to our whole group (a terminal's Ctrl-C, killpg): the child has it already
        self._pass_on(proc, signum)

    def _pass_on(self, proc: subprocess.Popen[bytes], signum: int) -> None:
        try:
            proc.send_signal(signum)
        except (ProcessLookupError, OSError):
            pass

    def _replay_pending(self, proc: subprocess.Popen[bytes]) -> None:
        """Pass on every signal that came before the child existed: none of them reached it.

        For a SIGINT the witness's answer to it is read and dropped, so that it is not taken
        for the answer to a later one.
        """
        pending, self._pending_signals = self._pending_signals, []
        for signum in pending:
            if signum in ENDING and self._kill_at is None:
                self._kill_at = time.monotonic() + self.term_grace
            if signum == signal.SIGINT and self._witness is not None:
                self._witness.group_got_it()
            self._pass_on(proc, signum)

    def _child_got_sigint(self, proc: subprocess.Popen[bytes]) -> bool:
        """Whether the SIGINT we just got reached the child too (sent to our process group)."""
        try:
            if os.getpgid(proc.pid) != os.getpgrp():
                return False  # the child left our group: nothing sent to the group reaches it
        except OSError:
            return False  # already gone: passing it on is harmless
        answer = None if self._witness is None else self._witness.group_got_it()
        return _terminal_delivers_sigint() if answer is None else answer

    def _kill_if_overdue(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL a child asked to end TERM_GRACE seconds ago that is still running."""
        if self._kill_at is None or self.killed or time.monotonic() < self._kill_at or proc.poll() is not None:
            return
        self.killed = True
        _diag.logger.warning(
            "tracklog: the command did not exit within %g s of being asked to; killed it (SIGKILL)",
            self.term_grace,
        )
        try:
            proc.kill()
        except (ProcessLookupError, OSError):
            pass

    def _reap(self, proc: subprocess.Popen[bytes]) -> None:
        """Wait for the child to exit; one asked to end is killed once its grace is over."""
        while proc.returncode is None:
            if self._kill_at is None or self.killed:
                proc.wait()
                return
            try:
                proc.wait(max(0.0, self._kill_at - time.monotonic()) + 0.01)
            except subprocess.TimeoutExpired:
                self._kill_if_overdue(proc)

    def _install_handlers(self) -> None:
        if os.name != "posix":
            return
        for signum in FORWARDED:
            try:
                self._previous[signum] = signal.signal(signum, self._on_signal)
            except (ValueError, OSError):
                pass  # not the main thread: signals stay as they are

    def _restore_handlers(self) -> None:
        for signum, previous in self._previous.items():
            try:
                signal.signal(signum, previous)  # type: ignore[arg-type]
            except (ValueError, OSError, TypeError):
                pass
        self._previous.clear()

    def _close_witness(self) -> None:
        witness, self._witness = self._witness, None
        if witness is not None:
            witness.close()

    # -- running -------------------------------------------------------------------

    def start(self) -> None:
        """Spawn the command; OSError (no such file, not executable) propagates."""
        if self.tensorboard is not None and self.tensorboard_watcher is None:
            # Event files already there belong to earlier jobs: only new ones are synced.
            self.tensorboard_watcher = TensorBoardWatcher(TensorBoardSync(self.run, self.tensorboard, skip_existing=True))
        self._install_handlers()
        if self._previous:  # our handlers are in place: SIGINT is ours to judge
            self._witness = GroupSigintWitness()
        try:
            self.proc = subprocess.Popen(
                self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env, bufsize=0
            )
        except BaseException:
            self._restore_handlers()
            self._close_witness()
            raise
        self._replay_pending(self.proc)
        if self.tensorboard_watcher is not None:
            self.tensorboard_watcher.start()

    def wait(self) -> int:
        """Record the child's output until it exits; its status, shell style."""
        proc = self.proc
        assert proc is not None and proc.stdout is not None and proc.stderr is not None
        run = self.run
        # A metric the job logs in-process wins over the same name read from its output:
        # the store tells which names the run has from writers other than us (see _gate).
        gate = ParsedMetricGate(run.target.pipeline, lambda: run.workspace.store.metric_counts(run.id))
        recorders = {
            proc.stdout.fileno(): (
                OutputRecorder(run, "stdout", conventions=self.metrics.recogniser(), gate=gate),
                _Echo(1 if self.echo else None),
            ),
            proc.stderr.fileno(): (
                OutputRecorder(run, "stderr", conventions=self.metrics.recogniser(json_lines=False), gate=gate),
                _Echo(2 if self.echo else None),
            ),
        }
        try:
            self._pump(proc, recorders)
        finally:
            for recorder, _echo in recorders.values():
                recorder.close()
            for pipe in (proc.stdout, proc.stderr):
                pipe.close()
            self._reap(proc)
            gate.close()  # the job has exited, its writer flushed: decide what is still held
            self._restore_handlers()
            self._close_witness()
            if self.tensorboard_watcher is not None:
                self.tensorboard_watcher.stop()  # the last sync: what the child wrote before it exited
        code = proc.returncode
        self.returncode = code
        return 128 - code if code < 0 else code

    def _pump(self, proc: subprocess.Popen[bytes], recorders: dict) -> None:  # type: ignore[type-arg]
        selector = selectors.DefaultSelector()
        for fd in recorders:
            enlarge_pipe(fd)
            selector.register(fd, selectors.EVENT_READ)
        read = os.read
        deadline: float | None = None
        next_poll = 0.0
        try:
            while selector.get_map():
                timeout = 0.25 if deadline is None else max(0.0, deadline - time.monotonic())
                ready = selector.select(timeout)
                now = time.time()
                for key, _mask in ready:
                    fd = key.fd
                    try:
                        data = read(fd, READ_SIZE)
                    except OSError:
                        data = b""
                    recorder, echo = recorders[fd]
                    if not data:
                        selector.unregister(fd)
                        continue
                    echo.write(data)
                    recorder.feed(data, now)
                mono = time.monotonic()
                if deadline is None:
                    if mono >= next_poll or not ready:
                        next_poll = mono + 0.25
                        self._kill_if_overdue(proc)
                        if proc.poll() is not None:
                            deadline = mono + self.exit_grace
                elif mono >= deadline:
                    _diag.logger.debug("tracklog: the child exited; its pipes stay open, stopped reading")
                    break
        finally:
            selector.close()


def outputs_snapshot(folder: str) -> dict[str, tuple[int, int]]:
    """Each file under ``folder`` with its (mtime_ns, size), to tell later which files changed."""
    found: dict[str, tuple[int, int]] = {}
    if not os.path.isdir(folder):
        return found
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            try:
                stat = os.stat(path)
            except OSError:
                continue
            found[os.path.relpath(path, folder)] = (stat.st_mtime_ns, stat.st_size)
    return found


def collect_outputs(run: Run, folder: str, before: Mapping[str, tuple[int, int]]) -> list[str]:
    """Upload the files under ``folder`` that are new or changed since ``before``, as ``outputs/...``."""
    uploaded: list[str] = []
    for rel, stamp in sorted(outputs_snapshot(folder).items()):
        if before.get(rel) == stamp:
            continue
        name = "outputs/" + rel.replace(os.sep, "/")
        try:
            run.upload_file(name, os.path.join(folder, rel))
            uploaded.append(name)
        except (OSError, ValueError) as exc:
            print(f"tracklog: could not collect {rel!r} from {folder}: {exc}", file=sys.stderr)
    return uploaded


# -- the child's environment -----------------------------------------------------------

#: Set for the child: the run whose output ``tracklog run`` records (``capture_output()`` then skips it).
ENV_OUTPUT_CAPTURED = "TRACKLOG_OUTPUT_CAPTURED"
#: "0" turns the bootstrap's logging capture off in a child (``--no-logging-capture``).
ENV_LOGGING_CAPTURE = "TRACKLOG_LOGGING_CAPTURE"
#: The folder holding this tracklog package, for a child Python that cannot import it itself.
ENV_BOOTSTRAP_HOME = "TRACKLOG_BOOTSTRAP_HOME"
ENV_OTLP = "TRACKLOG_OTLP"
#: The MLFLOW_TRACKING_URI that tracklog run set for the child (the bootstrap's cue; see child_env).
ENV_MLFLOW_URI_SET = "TRACKLOG_MLFLOW_URI_SET"
BOOTSTRAP_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_bootstrap")


def child_env(
    run: Run,
    base: Mapping[str, str],
    *,
    logging_capture: bool = True,
    otlp: bool = False,
    live: bool = False,
) -> dict[str, str]:
    """The environment for a command run under ``run``: the run's id and workspace, the bootstrap.

    ``live`` (echoing to a terminal) makes a Python child's output unbuffered so
    it shows as it comes, as it would on the terminal without tracklog.
    """
    env = dict(base)
    location = run.workspace.child_location()
    env[_config.ENV_RUN_ID] = run.id
    env[_config.ENV_WORKSPACE] = location
    env.pop(ENV_MLFLOW_URI_SET, None)
    if (
        logging_capture
        and "://" not in location
        and not location.startswith(("file:", "sqlite:"))
        and _config.ENV_MLFLOW_TRACKING_URI not in env
    ):
        # The child's MLflow logs into this workspace; its runs become the run's children
        # (docs/mlflow.md). The bootstrap takes the variable away again in a Python that has
        # no tracklog installed: its MLflow would know no store for the tracklog: scheme.
        uri = "tracklog:" + os.path.abspath(location)
        env[_config.ENV_MLFLOW_TRACKING_URI] = env[ENV_MLFLOW_URI_SET] = uri
    # An OpenTelemetry-instrumented child, in any language, names the run in its resource,
    # so what it exports to `tracklog receive` joins this run (docs/otel_structlog.md).
    resource = [
        pair for pair in env.get("OTEL_RESOURCE_ATTRIBUTES", "").split(",")
        if pair.strip() and pair.split("=", 1)[0].strip() != "tracklog.run_id"
    ]
    env["OTEL_RESOURCE_ATTRIBUTES"] = ",".join([*resource, f"tracklog.run_id={run.id}"])
    if env.get(_config.ENV_TRACKING_URI):
        env[_config.ENV_TRACKING_URI] = location
    env[ENV_OUTPUT_CAPTURED] = run.id
    entries = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and os.path.abspath(p) != BOOTSTRAP_DIR]
    if logging_capture:
        entries.insert(0, BOOTSTRAP_DIR)
        env[ENV_BOOTSTRAP_HOME] = os.path.dirname(os.path.dirname(BOOTSTRAP_DIR))
        env.pop(ENV_LOGGING_CAPTURE, None)
    else:
        env[ENV_LOGGING_CAPTURE] = "0"
    if entries:
        env["PYTHONPATH"] = os.pathsep.join(entries)
    else:
        env.pop("PYTHONPATH", None)
    if otlp:
        env[ENV_OTLP] = "1"
    if live:
        env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def default_run_name(argv: Sequence[str]) -> str:
    """A run name from a command: the script or module for Python, else the program's name."""
    program = os.path.basename(argv[0]) or argv[0]
    if program.startswith("python"):
        args = iter(argv[1:])
        for arg in args:
            if arg == "-m":
                return next(args, program)
            if arg == "-c":
                return f"{program} -c"
            if arg in ("-X", "-W", "-Q"):
                next(args, None)
            elif not arg.startswith("-"):
                return os.path.basename(arg) or arg
    return program
