"""The current run: the innermost active run, else the env's run, else one started on first use.

Runs this process started and did not end are ended at interpreter exit:
completed, or failed when the interpreter exits through an uncaught exception.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import traceback
from collections import deque
from typing import TYPE_CHECKING

from . import _config, _diag

if TYPE_CHECKING:
    from .run import Run

_lock = threading.RLock()
_stack: list[Run] = []
_auto_run: Run | None = None
_env_run: Run | None = None
_env_run_key: tuple[str, str] | None = None
_started: list[Run] = []  # runs started by this process, ended at exit if still open
_uncaught: str | None = None
_default_experiment = "Default"


def set_default_experiment(name: str) -> None:
    """The experiment a run started on first use goes to (``set_experiment``)."""
    global _default_experiment
    _default_experiment = name


def default_experiment() -> str:
    return _default_experiment


def push(run: Run) -> None:
    """Make ``run`` the innermost active run."""
    with _lock:
        _stack.append(run)


def started(run: Run) -> None:
    """Remember a run this process started, so exit can end it."""
    with _lock:
        _started.append(run)


def ended(run: Run) -> None:
    """Forget a run that has ended: it is no longer active or current."""
    global _auto_run
    with _lock:
        _stack[:] = [r for r in _stack if r.id != run.id]
        _started[:] = [r for r in _started if r.id != run.id]
        if _auto_run is not None and _auto_run.id == run.id:
            _auto_run = None


def active() -> Run | None:
    """The innermost run started in this process and not yet ended, or None."""
    stack = _stack
    return stack[-1] if stack else None


def env_run() -> Run | None:
    """The run named by TRACKLOG_RUN_ID (in TRACKLOG_WORKSPACE), or None."""
    global _env_run, _env_run_key
    run_id = os.environ.get(_config.ENV_RUN_ID)
    if not run_id:
        return None
    key = (run_id, os.environ.get(_config.ENV_WORKSPACE, ""))
    with _lock:
        if _env_run is None or _env_run_key != key:
            from .workspace import Workspace

            workspace = Workspace(os.environ.get(_config.ENV_WORKSPACE) or None)
            _env_run = workspace.get_run(run_id)
            _env_run_key = key
        return _env_run


#: Plain records kept while no run is current, for the run that starts next (see hold()).
HELD_LIMIT = 10_000
_held: deque[tuple] = deque(maxlen=HELD_LIMIT)  # type: ignore[type-arg]
_held_dropped = 0


def hold(event: tuple) -> None:  # type: ignore[type-arg]
    """Keep a plain log event (any run id) while no run is current.

    A plain record never starts a run; the run that starts next in this process
    gets the last HELD_LIMIT held records in its log file, with their own times.
    """
    global _held_dropped
    if len(_held) == HELD_LIMIT:
        _held_dropped += 1
    _held.append(event)


def take_held(run_id: str) -> list[tuple]:  # type: ignore[type-arg]
    """The held records as events of ``run_id`` (oldest first), and forget them."""
    global _held_dropped
    if not _held:
        return []
    with _lock:
        items = []
        while _held:
            items.append((run_id, *_held.popleft()[1:10]))
        dropped, _held_dropped = _held_dropped, 0
    if dropped:
        _diag.logger.warning(
            "tracklog: %d log records from before run %s started were not kept (the limit is %d)",
            dropped, run_id, HELD_LIMIT,
        )
    return items


def run_for(data: bool) -> Run | None:
    """The run a source's record goes to. A record with run data (a metric, tag or param)
    may start one on first use, never from inside tracklog's own handling; a plain one never
    does (None: hold it)."""
    return current_run(create=data and not _diag.inside())


def current_run(create: bool = True) -> Run | None:
    """The innermost active run, else the env's run, else a run started on first use."""
    stack = _stack
    if stack:
        return stack[-1]
    run = env_run()
    if run is not None or not create:
        return run if run is not None else _auto_run
    return _auto()


def _auto() -> Run:
    global _auto_run
    with _lock:
        if _auto_run is None:
            from .workspace import Experiment, Workspace

            run = Experiment(Workspace(), _default_experiment).start_logging(_script_name(), tags=None)
            # start_logging pushed it; a run started on first use is a fallback, not
            # an active run, so start_run() later is not refused because of it.
            _stack[:] = [r for r in _stack if r.id != run.id]
            run._state.auto = True
            _auto_run = run
            _diag.logger.debug("tracklog: started run %s on first use", run.id)
        return _auto_run


def _script_name() -> str:
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else "python"
    return os.path.basename(argv0) or "python"


def _excepthook(exc_type, exc, tb):  # type: ignore[no-untyped-def]
    global _uncaught
    if not issubclass(exc_type, (KeyboardInterrupt, SystemExit)):
        _uncaught = "".join(traceback.format_exception(exc_type, exc, tb))
    elif issubclass(exc_type, KeyboardInterrupt):
        _uncaught = "KeyboardInterrupt"
    _previous_excepthook(exc_type, exc, tb)


_previous_excepthook = sys.excepthook
sys.excepthook = _excepthook


def _at_exit() -> None:
    """End what this process started, then flush every pipeline."""
    with _lock:
        runs = list(reversed(_started))
    for run in runs:
        try:
            if _uncaught == "KeyboardInterrupt":
                run.cancel()
            elif _uncaught:
                run.fail(error=_uncaught)
            else:
                run.complete()
        except Exception:
            _diag.logger.debug("tracklog: ending run %s at exit failed", run.id, exc_info=True)
    from .pipeline import flush_all

    flush_all(timeout=30.0)
    while _exit_hooks:
        hook = _exit_hooks.pop(0)
        try:
            hook()
        except Exception:
            _diag.logger.debug("tracklog: exit hook %r failed", hook, exc_info=True)


_exit_hooks: list = []  # type: ignore[type-arg]


def add_exit_hook(hook) -> None:  # type: ignore[no-untyped-def]
    """Call ``hook()`` once at interpreter exit, after runs are ended and pipelines flushed
    (a remote store delivers what is left and reports what it could not)."""
    with _lock:
        if hook not in _exit_hooks:
            _exit_hooks.append(hook)


def _after_fork_in_child() -> None:
    # A forked child (a DataLoader worker, multiprocessing) logs into the same runs
    # but does not own them: only the parent ends them at its exit.
    global _started, _lock
    _lock = threading.RLock()
    _started = []
    _held.clear()  # the parent's to deliver, not the child's


atexit.register(_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
