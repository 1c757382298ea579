"""tracklog's own diagnostics: the ``tracklog`` logger, warn-once, and a recursion guard.

Inside the guard, records only become log lines (the OTLP exporters' DEBUG diagnostics
land in the run's log). What other libraries log while tracklog talks to a remote store
(urllib3 under the MLflow sender) would feed back into that store forever: a source that
sees one passes it on to the user's other handlers, never into a run (see :func:`own_io`).
"""

from __future__ import annotations

import logging
import os
import threading

logger = logging.getLogger("tracklog")

_warned: set[object] = set()
_warned_lock = threading.Lock()


class _Guard(threading.local):
    depth = 0  # a class default: reading it in a fresh thread raises no AttributeError
    io = 0  # above 0 while the thread talks to a remote store (see doing_io)


#: Per-thread state: ``guard.depth`` is above 0 while the thread handles a record for
#: tracklog, or does tracklog's own I/O (the writer, the sender, the OTLP thread).
guard = _Guard()

#: How many threads are inside :class:`doing_io` now. While it is 0 a source skips
#: :func:`own_io`: reading ``guard.io`` costs a thread-local lookup on every record.
io_threads = 0
_io_lock = threading.Lock()


#: Distinct warnings one process gives; past it, one last warning says so.
WARN_LIMIT = 1000


def warn_once(key: object, msg: str, *args: object) -> None:
    """Log ``msg`` as a warning the first time ``key`` is seen in this process (at most
    WARN_LIMIT distinct warnings: a stream of ever-new bad names stays bounded)."""
    with _warned_lock:
        if key in _warned:
            return
        if len(_warned) >= WARN_LIMIT:
            if _LIMIT_KEY in _warned:
                return
            key, msg, args = _LIMIT_KEY, "tracklog: %d distinct warnings given; no more are shown", (WARN_LIMIT,)
        _warned.add(key)
    logger.warning(msg, *args)


_LIMIT_KEY = ("warn-limit",)


def _after_fork_in_child() -> None:
    global _warned_lock, _io_lock, io_threads
    _warned_lock = threading.Lock()
    _io_lock = threading.Lock()
    io_threads = guard.io  # only the forking thread lives on in the child


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def reset_warnings() -> None:
    """Forget which warnings were given (tests use this)."""
    with _warned_lock:
        _warned.clear()


def inside() -> bool:
    """True while this thread is already handling a record for tracklog, or doing its I/O."""
    return guard.depth > 0


def own_io(logger_name: str) -> bool:
    """True for a record emitted by tracklog's own remote I/O (inside :class:`doing_io`)
    and not from the ``tracklog`` logger, whose warnings do belong in the run's log."""
    return guard.io > 0 and not logger_name.startswith("tracklog")


class handling:
    """Context manager marking this thread as inside tracklog's record handling."""

    __slots__ = ()

    def __enter__(self) -> None:
        guard.depth += 1

    def __exit__(self, *exc: object) -> None:
        guard.depth -= 1


class doing_io:
    """Context manager: this thread talks to a remote store. Inside the guard, and what
    other libraries log meanwhile never goes into a run (see :func:`own_io`)."""

    __slots__ = ()

    def __enter__(self) -> None:
        global io_threads
        guard.depth += 1
        guard.io += 1
        with _io_lock:
            io_threads += 1

    def __exit__(self, *exc: object) -> None:
        global io_threads
        with _io_lock:
            io_threads -= 1
        guard.io -= 1
        guard.depth -= 1
