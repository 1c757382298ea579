"""The current run: this thread's innermost active run, else the run started last by
another thread and still active, else the environment's run, else one started on first
use.

Active runs are per thread, as MLflow's (a thread's ``start_run`` is not refused because
another thread has a run, and two threads each in their own run keep their points apart);
a thread with no run of its own logs into the run another thread started last, so a
DataLoader thread or a thread pool's records land in the training run. How the environment's run is opened, and how a run is started
on first use, is injected from above (:func:`set_openers`): the pipeline knows no
workspace and no ``Run``.

A plain record never starts a run: while no run is current it is held (see
:func:`hold`) for the run that starts next in this process.

The run a thread with none of its own logs into (the run made active last, else the one
started on first use) is also the one this process's children log into: whenever it
changes, the function handed to :func:`set_export` is told (it sets TRACKLOG_RUN_ID for
the processes started from then on; None puts back what there was).

When opening the environment's run or starting one fails (a damaged or unreadable
workspace), it is not tried again for RETRY_AFTER seconds: sources get no run and say
so once, explicit calls get the same error at once, and no record pays for a retry.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import deque
from typing import Callable

from .. import _config, _diag, _lifecycle
from .target import HasTarget

__all__ = [
    "ENDING_WAIT", "HELD_LIMIT", "RETRY_AFTER", "active", "before_end", "current_run", "elsewhere", "ended",
    "ending", "hold", "open_run", "push", "run_for", "set_export", "set_openers", "started", "started_runs",
    "take_held",
]

class _Local(threading.local):
    #: This thread's active runs, innermost last.
    stack: list[HasTarget] | None = None


class _Registry:
    """This process's runs as the sources see them: a stack per thread and a few fallbacks."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.local = _Local()
        #: Each thread's stack by thread id, for ended() (a new thread with a dead one's id
        #: replaces its entry).
        self.stacks: dict[int, list[HasTarget]] = {}
        #: Every active run of every thread, in the order they became active.
        self.stack: list[HasTarget] = []
        self.started: list[HasTarget] = []  # runs started by this process, ended at exit if still open
        self.auto: HasTarget | None = None
        self.env: HasTarget | None = None
        self.env_key: tuple[str, str] | None = None
        self.open_env: Callable[[str, str | None], HasTarget] | None = None
        self.start_auto: Callable[[str], HasTarget] | None = None
        self.export: Callable[[HasTarget | None], None] | None = None
        #: The run last handed to export (None: none, or what the process had put back).
        self.exported: HasTarget | None = None
        self.default_experiment = _config.DEFAULT_EXPERIMENT
        #: What failed when opening a run ("env", "auto"): the error and when (monotonic).
        self.failed: dict[str, tuple[Exception, float]] = {}


_registry = _Registry()

#: Seconds before an environment run or first-use run that failed to open is tried again.
RETRY_AFTER = 30.0

#: Plain records kept while no run is current, for the run that starts next (see hold()).
HELD_LIMIT = 10_000
_held: deque[tuple] = deque(maxlen=HELD_LIMIT)  # type: ignore[type-arg]
_held_dropped = 0


def set_openers(
    open_env: Callable[[str, str | None], HasTarget], start_auto: Callable[[str], HasTarget]
) -> None:
    """How to open TRACKLOG_RUN_ID's run (``open_env(run_id, workspace)``) and how to
    start a run on first use (``start_auto(experiment)``): the vocabulary layer's job."""
    _registry.open_env = open_env
    _registry.start_auto = start_auto


def set_export(export: Callable[[HasTarget | None], None]) -> None:
    """How to tell the child processes started from now on which run to log into
    (``export(run)``), or that there is none of this process's (``export(None)``): the
    vocabulary layer's job, as it knows where the run's workspace is."""
    _registry.export = export
    _exported_changed()


def _exported_changed() -> None:
    """Hand export the run a thread with no run of its own would log into, if it changed.
    Called with the lock held, or before any thread can race; it never raises."""
    reg = _registry
    run = reg.stack[-1] if reg.stack else reg.auto
    if run is reg.exported or reg.export is None:
        return
    reg.exported = run
    try:
        reg.export(run)
    except Exception:
        _diag.logger.debug("tracklog: telling child processes about run %s failed",
                           getattr(run, "id", None), exc_info=True)


def set_default_experiment(name: str) -> None:
    """The experiment a run started on first use goes to (``set_experiment``)."""
    _registry.default_experiment = name


def default_experiment() -> str:
    return _registry.default_experiment


def push(run: HasTarget) -> None:
    """Make ``run`` this thread's innermost active run."""
    reg = _registry
    with reg.lock:
        own = reg.local.stack
        if own is None:
            own = reg.local.stack = []
            reg.stacks[threading.get_ident()] = own
        own.append(run)
        reg.stack.append(run)
        _exported_changed()


def leave(run: HasTarget) -> None:
    """This thread stops having ``run`` as its innermost active run, without ending it."""
    reg = _registry
    with reg.lock:
        own = reg.local.stack
        if own and own[-1] is run:
            own.pop()
            for index in range(len(reg.stack) - 1, -1, -1):
                if reg.stack[index] is run:
                    del reg.stack[index]
                    break
            _exported_changed()


def started(run: HasTarget) -> None:
    """Remember a run this process started, so exit can end it."""
    with _registry.lock:
        _registry.started.append(run)


def started_runs() -> list[HasTarget]:
    """The runs this process started and has not ended, newest first."""
    with _registry.lock:
        return list(reversed(_registry.started))


#: Seconds each before-end hook may take (see before_end).
ENDING_WAIT = 2.0

_before_end: list[Callable[[float], None]] = []


def before_end(hook: Callable[[float], None]) -> None:
    """Call ``hook(seconds)`` as any run is about to end, while it is still current and
    open: a source that buffers records elsewhere (an OTel SDK batch processor) hands them
    over, within ``seconds``. Registering the same hook again does nothing."""
    with _registry.lock:
        if hook not in _before_end:
            _before_end.append(hook)


def ending(run: HasTarget) -> None:
    """``run`` is about to end: run the before-end hooks (a hook's failure is logged, at debug)."""
    if not _before_end:
        return
    for hook in list(_before_end):
        try:
            hook(ENDING_WAIT)
        except Exception:
            _diag.logger.debug("tracklog: a hook before run %s ends failed", run.id, exc_info=True)


def ended(run: HasTarget) -> None:
    """Forget a run that has ended: it is no longer active or current, in any thread."""
    reg = _registry
    with reg.lock:
        for own in reg.stacks.values():
            own[:] = [r for r in own if r.id != run.id]
        reg.stack[:] = [r for r in reg.stack if r.id != run.id]
        reg.started[:] = [r for r in reg.started if r.id != run.id]
        if reg.auto is not None and reg.auto.id == run.id:
            reg.auto = None
        _exported_changed()


def active() -> HasTarget | None:
    """This thread's innermost run not yet ended, or None (MLflow's active run)."""
    own = _registry.local.stack
    return own[-1] if own else None


def elsewhere() -> HasTarget | None:
    """The run another thread made active last and has not ended, or None."""
    stack = _registry.stack
    return stack[-1] if stack else None


def env_run() -> HasTarget | None:
    """The run named by TRACKLOG_RUN_ID (in TRACKLOG_WORKSPACE), or None. Raises what
    opening it raised (a run not found, a damaged workspace): again at once, without
    reopening, for RETRY_AFTER seconds."""
    run_id = _config.env(_config.ENV_RUN_ID)
    if not run_id:
        return None
    reg = _registry
    key = (run_id, _config.env(_config.ENV_WORKSPACE) or "")
    with reg.lock:
        if reg.env is None or reg.env_key != key:
            if reg.open_env is None:
                return None
            failed = _failed_recently("env")
            if failed is not None:
                raise failed.with_traceback(None)
            workspace = _config.env(_config.ENV_WORKSPACE) or None
            reg.env = _opening("env", reg.open_env, run_id, workspace)
            reg.env_key = key
        return reg.env


def open_run(run_id: str, workspace: str | None = None) -> HasTarget:
    """The run with this id, to log into: the active run of that id in this process if
    there is one, else opened in ``workspace`` (the default workspace when None). Raises
    what opening it raises (a run not found)."""
    reg = _registry
    with reg.lock:
        for run in (*reg.stack, *reg.started):
            if run.id == run_id:
                return run
        if reg.open_env is None:
            raise RuntimeError("tracklog: no run opener is set")
    return reg.open_env(run_id, workspace)


def _env_run_or_none() -> HasTarget | None:
    """env_run() for the sources: a run that cannot be opened is one warning, and None."""
    try:
        return env_run()
    except Exception as exc:
        _diag.warn_once(
            ("env-run", _config.env(_config.ENV_RUN_ID)),
            "tracklog: cannot log into run %s named by %s (%s); records go to another run or "
            "wait for one (tried again after %g s)",
            _config.env(_config.ENV_RUN_ID), _config.ENV_RUN_ID, exc, RETRY_AFTER,
        )
        return None


def _failed_recently(what: str) -> Exception | None:
    """The error of a failed ``what`` ("env", "auto") while it is not to be retried, else None."""
    failed = _registry.failed.get(what)
    if failed is None or time.monotonic() - failed[1] >= RETRY_AFTER:
        return None
    return failed[0]


def _opening(what: str, opener: Callable[..., HasTarget], *args: str | None) -> HasTarget:
    """``opener(*args)``, remembering a failure so it is not retried for RETRY_AFTER seconds."""
    try:
        run = opener(*args)
    except Exception as exc:
        _registry.failed[what] = (exc, time.monotonic())
        raise
    _registry.failed.pop(what, None)
    return run


def current_run(create: bool = True) -> HasTarget | None:
    """This thread's innermost active run, else the one another thread made active last,
    else the env's run, else a run started on first use."""
    reg = _registry
    own = reg.local.stack
    if own:
        return own[-1]
    stack = reg.stack
    if stack:
        return stack[-1]
    run = _env_run_or_none()
    if run is not None or not create:
        return run if run is not None else _registry.auto
    return _auto()


def run_for(data: bool) -> HasTarget | None:
    """The run a source's record goes to. A record with run data (a metric, tag or param)
    may start one on first use, never from inside tracklog's own handling; a plain one never
    does (None: hold it). Never raises: a run that cannot start is one warning, and None."""
    try:
        return current_run(create=data and not _diag.inside())
    except Exception as exc:
        _diag.warn_once(
            ("auto-run", type(exc)), "tracklog: cannot start a run for this process's records "
            "(%s); their metrics, tags and params are not kept, their log lines wait for a run "
            "(tried again after %g s)", exc, RETRY_AFTER,
        )
        return None


def _auto() -> HasTarget | None:
    reg = _registry
    with reg.lock:
        if reg.auto is None and reg.start_auto is not None:
            if _lifecycle.exiting():
                # The process is exiting and has ended its runs: a record from a thread that
                # lives on (a daemon) starts none, which nobody would end (it would read
                # Crashed). Its run data is not recorded; its line waits, and is gone at exit.
                _diag.warn_once(
                    ("auto-run", "exiting"), "tracklog: run data logged while the process exits, "
                    "after its runs ended, is not recorded (a daemon thread's?)",
                )
                return None
            failed = _failed_recently("auto")
            if failed is not None:
                raise failed.with_traceback(None)
            run = _opening("auto", reg.start_auto, reg.default_experiment)
            # The starter pushed it; a run started on first use is a fallback, not
            # an active run, so start_run() later is not refused because of it.
            own = reg.local.stack
            if own is not None:
                own[:] = [r for r in own if r.id != run.id]
            reg.stack[:] = [r for r in reg.stack if r.id != run.id]
            reg.auto = run
            _exported_changed()
            _diag.logger.debug("tracklog: started run %s on first use", run.id)
        return reg.auto


def script_name() -> str:
    """The name a run gets when none is given: the script's file name."""
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else "python"
    return os.path.basename(argv0) or "python"


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
    with _registry.lock:
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


def reset() -> None:
    """Forget every run and held record (tests, and a forked child's fresh start)."""
    reg = _registry
    reg.lock = threading.RLock()
    reg.local = _Local()
    reg.stacks = {}
    reg.stack.clear()
    reg.started.clear()
    reg.auto = reg.env = None
    reg.env_key = None
    reg.default_experiment = _config.DEFAULT_EXPERIMENT
    reg.failed.clear()
    _held.clear()
    _exported_changed()


def _after_fork_in_child() -> None:
    # A forked child (a DataLoader worker, multiprocessing) logs into the same runs
    # but does not own them: only the parent ends them at its exit. The parent's held
    # records are the parent's to deliver.
    _registry.lock = threading.RLock()
    _registry.started.clear()
    _held.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
