"""Azure ML's ScriptRunConfig and Experiment.submit, run locally as ``tracklog run`` runs a command.

``submit`` starts the run, takes the snapshot of ``source_directory``, and starts the
script in a child process from a background thread, then returns at once. The child
gets the run's id and workspace (``child_env``), so ``Run.get_context()`` in it joins
the submitted run, and tracklog's bootstrap (with the ``azureml.core`` compatibility
package) on its path; its stdout and stderr go to ``logs/std_log.txt``; its
``./outputs`` are collected when it exits; its exit status ends the run (0 Completed,
a signal Canceled, anything else Failed), unless the script ended the run itself
(``run.fail(...)``, ``run.cancel()``): that ending is kept, as Azure keeps it.
``run.cancel()`` in the submitting process stops the script as Azure stops the job:
SIGTERM, then SIGKILL after the child's grace; the run ends Canceled.
``wait_for_completion(show_output=True)`` prints the output as it comes (what came
before first) and returns when it has ended.
"""

from __future__ import annotations

import os
import shlex
import sys
import threading
from typing import TYPE_CHECKING, Any, Sequence

from . import _diag
from ._azure_environment import Environment
from ._types import CANCELED, COMPLETED, FAILED
from .capture import ChildProcess, child_env, collect_outputs, outputs_snapshot, signal_name
from .run import Run, set_waiter

if TYPE_CHECKING:
    from .workspace import Experiment

__all__ = ["RunConfiguration", "ScriptRunConfig", "submit"]

#: The run type Azure gives a submitted script.
SCRIPT_RUN = "azureml.scriptrun"
#: Run in the child before the command: enter the source folder, then become the command
#: (same process, so its pipes and pid stay the ones ChildProcess watches).
_IN_FOLDER = "import os, sys; os.chdir(sys.argv[1]); os.execvp(sys.argv[2], sys.argv[2:])"


class RunConfiguration:
    """Azure's RunConfiguration: its environment (variables honoured) and target (local)."""

    def __init__(self, script: str | None = None, arguments: Sequence[Any] | None = None, **_ignored: Any) -> None:
        self.script = script
        self.arguments = list(arguments or [])
        self.environment = Environment()
        self.target = "local"
        self.node_count = 1


class ScriptRunConfig:
    """What to run: ``script`` (or ``command``) with ``arguments`` in ``source_directory``.

    ``environment`` and ``compute_target`` are accepted: the script runs in this Python
    on this machine (one note says so); the environment's ``environment_variables`` are set.
    """

    def __init__(
        self,
        source_directory: str | os.PathLike[str] | None = None,
        script: str | None = None,
        arguments: Sequence[Any] | None = None,
        run_config: RunConfiguration | None = None,
        _telemetry_values: object = None,
        compute_target: object = None,
        environment: Environment | None = None,
        distributed_job_config: object = None,
        resume_from: object = None,
        max_run_duration_seconds: int | None = None,
        command: str | Sequence[Any] | None = None,
        docker_runtime_config: object = None,
    ) -> None:
        self.source_directory = os.fspath(source_directory) if source_directory is not None else "."
        self.script = script
        self.arguments = [str(a) for a in (arguments or [])]
        self.command = command
        self.run_config = run_config or RunConfiguration(script, arguments)
        if environment is not None:
            self.run_config.environment = environment
        self.compute_target = compute_target or "local"
        self.run_config.target = self.compute_target
        self.max_run_duration_seconds = max_run_duration_seconds
        if script is None and command is None:
            raise ValueError("ScriptRunConfig needs script=... or command=...")

    @property
    def environment(self) -> Environment:
        return self.run_config.environment

    @environment.setter
    def environment(self, value: Environment) -> None:
        self.run_config.environment = value

    def argv(self) -> list[str]:
        """The child's command line."""
        if self.command is not None:
            parts = shlex.split(self.command) if isinstance(self.command, str) else [str(c) for c in self.command]
            if parts and parts[0] in ("python", "python3"):
                parts[0] = sys.executable
            return parts
        return [sys.executable, str(self.script), *self.arguments]

    def __repr__(self) -> str:
        return f"ScriptRunConfig(source_directory={self.source_directory!r}, script={self.script!r})"


#: Seconds ``run.cancel()`` gives a script it asked to stop before it had started.
_NOT_STARTED_GRACE = 5.0
#: The endings a script may give its run itself; the run keeps them, whatever its exit status.
_SCRIPT_ENDINGS = frozenset({COMPLETED, FAILED, CANCELED})


def _end_as_the_script_did(run: Run, status: str, error: str | None) -> None:
    """End this process's hold on ``run`` with the status the script gave it (Azure keeps a
    script's own ``run.fail(...)`` or ``run.cancel()``, also when it then exits 0)."""
    if status == FAILED:
        run.fail(error_details=error)
    elif status == CANCELED:
        run.cancel()
    else:
        run.complete()


class _ScriptProcess:
    """The child process of one submitted run, pumped in a background thread."""

    def __init__(self, run: Run, config: ScriptRunConfig) -> None:
        self.run = run
        self.config = config
        self.folder = os.path.abspath(config.source_directory)
        self.done = threading.Event()
        self.printed = 0  # bytes of std_log.txt lines already shown by wait_for_completion
        self.thread = threading.Thread(target=self._main, name=f"tracklog-submit-{run.id[:8]}")
        self.child: ChildProcess | None = None
        self.canceled = False  # run.cancel() asked the script to stop

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        """Azure's cancel of a submitted run: SIGTERM to the script, SIGKILL if it is still
        there after its grace (``ChildProcess.term_grace``, as under ``tracklog run``); returns
        once the watcher has ended the run Canceled (or after a second grace, if the script's
        pipes stay open)."""
        if threading.current_thread() is self.thread or self.done.is_set():
            return  # the watcher ending the run itself, or the script is over
        self.canceled = True
        child = self.child
        grace = child.term_grace if child is not None else _NOT_STARTED_GRACE
        self._signal(terminate=True)
        if not self.done.wait(grace):
            self._signal(terminate=False)
            self.done.wait(grace)

    def _signal(self, terminate: bool) -> None:
        """SIGTERM (or SIGKILL) to the script's process, if it is running."""
        proc = self.child.proc if self.child is not None else None
        if proc is None or proc.poll() is not None:
            return
        try:
            proc.terminate() if terminate else proc.kill()
        except OSError:
            pass  # it has just exited

    def _main(self) -> None:
        run = self.run
        outputs = os.path.join(self.folder, "outputs")
        try:
            before = outputs_snapshot(outputs)
            env = child_env(run, os.environ, live=False)
            env.update({str(k): str(v) for k, v in self.config.environment.environment_variables.items()})
            argv = [sys.executable, "-c", _IN_FOLDER, self.folder, *self.config.argv()]
            child = self.child = ChildProcess(run, argv, env, echo=False)
            child.start()
            if self.canceled:  # run.cancel() came before the script started
                self._signal(terminate=True)
            status = child.wait()
            collect_outputs(run, outputs, before)
            run.tag("tracklog.exit_code", status)
            code = child.returncode
            ended = run.info  # the stored record, which the script itself may have ended
            if ended.status in _SCRIPT_ENDINGS:  # run.fail(...), run.cancel(), run.complete()
                _end_as_the_script_did(run, ended.status, ended.error)
            elif self.canceled:
                run.cancel()
            elif code == 0:
                run.complete()
            elif code is not None and code < 0:
                run.cancel() if child.interrupted else run.fail(error_details=f"killed by {signal_name(-code)}")
            else:
                run.fail(error_details=f"exit code {code}", error_code="UserError")
        except BaseException as exc:  # never raise in a thread nobody joins; the run says what happened
            _diag.logger.warning("tracklog: the submitted run %s failed to run: %s", run.id, exc)
            try:
                run.fail(error_details=exc)
            except Exception:
                pass
        finally:
            self.done.set()

    def wait(self, show_output: bool) -> None:
        """Wait for the child to exit; ``show_output`` prints its output meanwhile."""
        while not self.done.wait(0.2 if show_output else 1.0):
            if show_output:
                self._show()
        self.thread.join()
        if show_output:
            self._show()

    def _show(self) -> None:
        self.run.flush()
        lines = self.run.get_logs(filename="std_log.txt")
        for line in lines[self.printed:]:
            out = sys.stderr if line["stream"] == "stderr" else sys.stdout
            out.write(line["message"] + ("\n" if line["complete"] else ""))
        sys.stdout.flush()
        self.printed = len(lines)


def submit(experiment: Experiment, config: ScriptRunConfig, tags: dict[str, object] | None = None) -> Run:
    """Start ``config``'s script under a new run of ``experiment``; the run, at once."""
    folder = os.path.abspath(config.source_directory)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"ScriptRunConfig: no source_directory {config.source_directory!r}")
    if config.script is not None and not os.path.isfile(os.path.join(folder, config.script)):
        raise FileNotFoundError(f"ScriptRunConfig: no script {config.script!r} in {folder}")
    _note_ignored(config)
    name = os.path.basename(config.script) if config.script else os.path.basename(config.argv()[0])
    run = Run._start(
        experiment, name, tags=tags, run_type=SCRIPT_RUN, make_current=False, snapshot_directory=folder
    )
    run.tag("tracklog.command", shlex.join(config.argv()))
    process = _ScriptProcess(run, config)
    set_waiter(run.id, process)
    process.start()
    return run


def _note_ignored(config: ScriptRunConfig) -> None:
    env = config.environment
    target = config.compute_target
    if env.name != "tracklog-local" or getattr(env.python, "conda_dependencies", None) is not None:
        _diag.warn_once(
            ("environment",),
            "tracklog: the Environment %r is not built; submitted scripts run in this Python (%s), "
            "with its environment_variables set",
            env.name,
            sys.executable,
        )
    if target not in ("local", None) and not (isinstance(target, str) and target.lower() == "local"):
        _diag.warn_once(
            ("compute_target",), "tracklog: compute_target %r is ignored; scripts run on this machine", target
        )
