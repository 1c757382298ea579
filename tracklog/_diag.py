"""tracklog's own diagnostics: the ``tracklog`` logger, warn-once, and a recursion guard."""

from __future__ import annotations

import logging
import os
import threading

logger = logging.getLogger("tracklog")

_warned: set[object] = set()
_warned_lock = threading.Lock()


class _Guard(threading.local):
    depth = 0  # a class default: reading it in a fresh thread raises no AttributeError


_guard = _Guard()


def warn_once(key: object, msg: str, *args: object) -> None:
    """Log ``msg`` as a warning the first time ``key`` is seen in this process."""
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    logger.warning(msg, *args)


def _after_fork_in_child() -> None:
    global _warned_lock
    _warned_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def reset_warnings() -> None:
    """Forget which warnings were given (tests use this)."""
    with _warned_lock:
        _warned.clear()


def inside() -> bool:
    """True while this thread is already handling a record for tracklog."""
    return _guard.depth > 0


class handling:
    """Context manager marking this thread as inside tracklog's record handling."""

    __slots__ = ()

    def __enter__(self) -> None:
        _guard.depth += 1

    def __exit__(self, *exc: object) -> None:
        _guard.depth -= 1
