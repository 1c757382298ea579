"""One exit handler with ordered phases, and the excepthook that tells exit how the
interpreter is ending.

At interpreter exit the phases run in order: OTLP routes stop (while runs are still
open, so their drop counts are recorded), then the runs this process started end
(completed, failed on an uncaught exception, canceled on Ctrl-C), then every pipeline
flushes, then stores close (a remote store delivers what is left and reports the rest).
Modules register into a phase; none registers its own ``atexit``.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import traceback
from typing import Callable

from . import _diag

__all__ = ["CLOSE", "END_RUNS", "FLUSH", "STOP_ROUTES", "at_exit", "uncaught"]

STOP_ROUTES = 0
END_RUNS = 1
FLUSH = 2
CLOSE = 3
_PHASES = (STOP_ROUTES, END_RUNS, FLUSH, CLOSE)

_hooks: dict[int, list[Callable[[], None]]] = {phase: [] for phase in _PHASES}
_lock = threading.Lock()
_uncaught: str | None = None


def at_exit(phase: int, hook: Callable[[], None]) -> None:
    """Call ``hook()`` once at interpreter exit, in ``phase`` (registration order within it)."""
    with _lock:
        if hook not in _hooks[phase]:
            _hooks[phase].append(hook)


def uncaught() -> str | None:
    """How the interpreter is ending: a traceback's text, "KeyboardInterrupt", or None."""
    return _uncaught


def set_uncaught(text: str | None) -> None:
    """Record (or forget, with None) an uncaught exception; tests use this."""
    global _uncaught
    _uncaught = text


def _excepthook(exc_type, exc, tb):  # type: ignore[no-untyped-def]
    global _uncaught
    if not issubclass(exc_type, (KeyboardInterrupt, SystemExit)):
        _uncaught = "".join(traceback.format_exception(exc_type, exc, tb))
    elif issubclass(exc_type, KeyboardInterrupt):
        _uncaught = "KeyboardInterrupt"
    _previous_excepthook(exc_type, exc, tb)


def _run_exit_phases() -> None:
    for phase in _PHASES:
        with _lock:
            hooks = list(_hooks[phase])
        for hook in hooks:
            try:
                hook()
            except Exception:
                _diag.logger.debug("tracklog: exit hook %r failed", hook, exc_info=True)


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()


_previous_excepthook = sys.excepthook
sys.excepthook = _excepthook
atexit.register(_run_exit_phases)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
