"""tracklog's background threads, started with the asynchronous signals blocked.

A signal sent to a process (``Pool.terminate()``'s SIGTERM, Ctrl-C's SIGINT) goes to any
thread that does not block it. Taken by one of ours, it only sets Python's flag: a main
thread blocked in C (a Pool worker waiting on its queue's semaphore) is never woken to
run its handler, and the process never ends. Blocked in our threads, it goes to the main
thread, whose blocking call returns EINTR and runs the handler. A thread inherits its
creator's mask, so the mask is set around ``start()``: there is no moment at which the
new thread can take a signal. Not for a thread that starts processes: they would inherit
the mask, and ignore SIGTERM.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["start_thread"]

#: Signals a thread raises for itself (or that cannot be blocked): never blocked.
_SYNCHRONOUS = ("SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL", "SIGTRAP", "SIGABRT", "SIGSYS", "SIGPIPE", "SIGKILL", "SIGSTOP")


def _asynchronous() -> frozenset[int]:
    if not hasattr(signal, "pthread_sigmask"):
        return frozenset()  # Windows: no thread masks, and no such signals
    skip = {getattr(signal, name) for name in _SYNCHRONOUS if hasattr(signal, name)}
    return frozenset(s for s in signal.valid_signals() if s not in skip)


_BLOCKED = _asynchronous()


def start_thread(
    target: Callable[..., Any], name: str, *, daemon: bool = True, kwargs: dict[str, Any] | None = None
) -> threading.Thread:
    """A started thread running ``target(**kwargs)`` that takes no process-directed signal."""
    thread = threading.Thread(target=target, name=name, daemon=daemon, kwargs=kwargs)
    if not _BLOCKED:
        thread.start()
        return thread
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _BLOCKED)
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return thread
