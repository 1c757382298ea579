"""One exit with ordered phases, the excepthook that tells it how the interpreter is
ending, and the signals that end runs.

At interpreter exit the phases run in order: OTLP routes stop (while runs are still
open, so their drop counts are recorded), then the runs this process started end
(completed, failed on an uncaught exception, canceled on Ctrl-C or a signal given to
:func:`end_runs_on`), then every pipeline flushes, then stores close (a remote store
delivers what is left and reports the rest). Modules register into a phase; none
registers its own ``atexit``.

The phases run once per process, at the first of two exits: ``atexit``, or the
finalizers of ``multiprocessing``, which ends its children with ``os._exit`` (past
``atexit``) after running them. A ``multiprocessing`` child ended by SIGTERM
(``Pool.terminate()``, which ``with Pool()`` calls, or ``Process.terminate()``) first
flushes what it logged, then dies of the signal as it would have.
"""

from __future__ import annotations

import atexit
import os
import select
import signal
import sys
import threading
import time
import traceback
from types import FrameType
from typing import Any, Callable, NoReturn

from . import _diag
from ._threads import start_thread

__all__ = [
    "CLOSE", "END_RUNS", "FLUSH", "INTERRUPTED", "MULTIPROCESSING_EXIT_PRIORITY", "STOP_ROUTES",
    "TERMINATION_FLUSH_WAIT", "Terminated", "at_exit", "end_runs_on", "flush_on_termination",
    "handle_termination", "terminate", "uncaught",
]

STOP_ROUTES = 0
END_RUNS = 1
FLUSH = 2
CLOSE = 3
_PHASES = (STOP_ROUTES, END_RUNS, FLUSH, CLOSE)

#: What :func:`uncaught` says when Ctrl-C or a termination signal ends the interpreter:
#: the runs this process started end Canceled.
INTERRUPTED = "KeyboardInterrupt"
#: The exit priority of our ``multiprocessing.util.Finalize``: below every finalizer of
#: multiprocessing's own (queues, pools, managers, the join of the children), so the
#: phases run last and see what those logged.
MULTIPROCESSING_EXIT_PRIORITY = -100

_hooks: dict[int, list[Callable[[], None]]] = {phase: [] for phase in _PHASES}
_lock = threading.Lock()
_uncaught: str | None = None
_exited_in: int | None = None  # the pid whose exit phases ran (a forked child runs its own)
_multiprocessing_hooked = False
#: Signals given to end_runs_on, each with the handler ours replaced.
_replaced: dict[int, Any] = {}
#: How long a multiprocessing child given SIGTERM waits for its flush before it dies.
TERMINATION_FLUSH_WAIT = 5.0
#: How long after a SIGTERM its flush-first handler has to start before our thread sends
#: the signal to the main thread again (see _FlushOnSigterm).
KICK_AFTER = 0.5
#: flush(timeout): what that child calls (the engine sets it: every pipeline's flush).
_termination_flush: Callable[[float], None] | None = None


class Terminated(SystemExit, KeyboardInterrupt):
    """A termination signal, raised in the main thread by :func:`end_runs_on`'s handler.

    It unwinds like Ctrl-C (``except KeyboardInterrupt`` and ``finally`` run, a ``with run:``
    block cancels its run) and, uncaught, exits with status 128+N, as a shell reports
    signal N, with no traceback (it is a ``SystemExit``).
    """


def exiting() -> bool:
    """Whether this process's exit phases have begun (they end its runs)."""
    return _exited_in == os.getpid()


def at_exit(phase: int, hook: Callable[[], None]) -> None:
    """Call ``hook()`` once at interpreter exit, in ``phase`` (registration order within it)."""
    with _lock:
        if hook not in _hooks[phase]:
            _hooks[phase].append(hook)


def flush_on_termination(flush: Callable[[float], None]) -> None:
    """Set what a multiprocessing child given SIGTERM calls, with a timeout, before it dies."""
    global _termination_flush
    _termination_flush = flush


def uncaught() -> str | None:
    """How the interpreter is ending: a traceback's text, :data:`INTERRUPTED`, or None."""
    return _uncaught


def set_uncaught(text: str | None) -> None:
    """Record (or forget, with None) an uncaught exception; tests use this."""
    global _uncaught
    _uncaught = text


def end_runs_on(*signums: int) -> None:
    """Let each signal end this process's runs, as Ctrl-C does, instead of killing it unflushed.

    On the signal, a :class:`Terminated` is raised in the main thread: ``finally`` and
    ``with`` blocks run, the runs this process started end Canceled, everything logged is
    flushed, and the process exits with status 128+N. A Python handler set before this
    call runs first; a handler the program sets later replaces this one. A second signal
    gets the handler this one replaced (by default: the process ends at once). Once exit
    has begun, the first signal is let go (exit is already under way, within its bounded
    waits). Call it from the main thread (``signal`` demands it).
    """
    for signum in signums:
        previous = signal.getsignal(signum)
        if previous is handle_termination:
            continue
        signal.signal(signum, handle_termination)
        _replaced[signum] = previous


def terminate(signum: int) -> NoReturn:
    """End the interpreter because of signal ``signum``: runs end Canceled, exit status 128+N."""
    global _uncaught
    _uncaught = INTERRUPTED
    raise Terminated(128 + signum)


def handle_termination(signum: int, frame: FrameType | None) -> None:
    """The handler of a signal that ends runs (:func:`end_runs_on`, and ``tracklog run``'s
    bootstrap for SIGTERM): give the signal back its previous handler, then terminate."""
    previous = _give_back(signum)
    if _exited_in == os.getpid():
        return  # exit is under way: let it finish; the next signal gets the previous handler
    if callable(previous):
        previous(signum, frame)  # chained; if it raises, its exception ends the program instead
    terminate(signum)


def _give_back(signum: int) -> Any:
    """Put back the handler end_runs_on replaced for ``signum`` (the default if none); return it."""
    previous = _replaced.pop(signum, None)
    if previous is None:
        previous = signal.SIG_DFL  # None: a handler not set from Python, which cannot be put back
    try:
        if signal.getsignal(signum) is not previous:
            signal.signal(signum, previous)
    except (ValueError, OSError, TypeError):
        pass  # not the main thread: left as it is; our handler only raises there
    return previous


def _describe(exc_type: Any, exc: Any, tb: Any) -> None:
    global _uncaught
    if issubclass(exc_type, KeyboardInterrupt):
        _uncaught = INTERRUPTED  # Ctrl-C, or a Terminated (a SystemExit too)
    elif not issubclass(exc_type, SystemExit):
        _uncaught = "".join(traceback.format_exception(exc_type, exc, tb))


def _excepthook(exc_type, exc, tb):  # type: ignore[no-untyped-def]
    _describe(exc_type, exc, tb)
    _previous_excepthook(exc_type, exc, tb)


def _run_exit_phases() -> None:
    global _exited_in
    if _exited_in == os.getpid():
        return
    _exited_in = os.getpid()  # from here a signal given to end_runs_on lets exit finish
    held = _hold_off_sigterm()
    try:
        for phase in _PHASES:
            if phase == CLOSE and held:
                # What is left is delivery to a remote server, which its spool keeps on
                # disk for `tracklog sync --pending`: a SIGTERM may end that wait.
                held = False
                _set_handler(signal.SIGTERM, signal.SIG_DFL)
            with _lock:
                hooks = list(_hooks[phase])
            for hook in hooks:
                try:
                    hook()
                except Exception:
                    _diag.logger.debug("tracklog: exit hook %r failed", hook, exc_info=True)
    finally:
        for signum in list(_replaced):
            if signal.getsignal(signum) is handle_termination:
                _give_back(signum)
        if held:
            _set_handler(signal.SIGTERM, signal.SIG_DFL)


def _hold_off_sigterm() -> bool:
    """SIGTERM at its default is ignored until the runs are ended and flushed (a bounded
    wait): a process already ending, such as a Pool worker that got its stop sentinel just
    before ``terminate()``, finishes flushing instead of dying halfway. True if held off."""
    try:
        current = signal.getsignal(signal.SIGTERM)
        if current == signal.SIG_DFL or _flushes_first(current):
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            return True
    except (ValueError, OSError, AttributeError):
        pass  # not the main thread, or no SIGTERM here
    return False


def _set_handler(signum: int, handler: Any) -> None:
    try:
        signal.signal(signum, handler)
    except (ValueError, OSError, TypeError):
        pass


def _at_multiprocessing_exit() -> None:
    # Called by multiprocessing's _exit_function in a child's bootstrap, in a ``finally``
    # while the target's exception (if any) is still in flight; no excepthook sees it.
    exc_type, exc, tb = sys.exc_info()
    if exc_type is not None and _uncaught is None:
        _describe(exc_type, exc, tb)
    _run_exit_phases()


class _FlushOnSigterm:
    """SIGTERM in a multiprocessing child: flush, then die of the signal as its default does.

    ``Pool.terminate()`` SIGTERMs workers idle since their last task, which an unflushed
    writer would otherwise lose. The handler runs in the main thread between two bytecodes,
    perhaps inside one of our own locks, so it takes none: it asks a thread of ours
    through a pipe and waits for the answer on another, at most TERMINATION_FLUSH_WAIT.
    A main thread inside a long C call that holds the GIL runs the handler after it.

    A Python handler can miss its signal where the default would not: a SIGTERM taken
    by another thread of the program, or one that lands just before the main thread
    blocks in C (a Pool worker waiting on its queue's lock), only sets a flag, and the
    main thread never looks at it again, so ``Pool.terminate()`` would wait for ever.
    The signal's C handler also writes to the wakeup fd (ours, when nobody else uses
    it): our thread sees the SIGTERM there, and if the handler has not started within
    ``KICK_AFTER`` seconds, sends SIGTERM to the main thread itself, which interrupts
    its blocking call and runs the handler.
    """

    def __init__(self) -> None:
        self._pid = os.getpid()
        self._ask_r, self._ask_w = os.pipe()
        self._done_r, self._done_w = os.pipe()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)  # the C handler must never block on it
        self._main = threading.main_thread().ident
        self.started = False  # set first thing by handle()
        start_thread(self._serve, "tracklog-sigterm-flush")

    def watch_wakeups(self) -> None:
        """Main thread: have signals also written to our wakeup pipe, unless the program
        (asyncio's loop) has a wakeup fd of its own, which is left alone."""
        try:
            previous = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
            if previous != -1:
                signal.set_wakeup_fd(previous)
        except (ValueError, OSError):
            pass

    def _serve(self) -> None:
        termed_at: float | None = None
        while True:
            wait = None if termed_at is None else max(0.0, termed_at + KICK_AFTER - time.monotonic())
            try:
                ready, _, _ = select.select([self._ask_r, self._wake_r], [], [], wait)
                if self._wake_r in ready:
                    if signal.SIGTERM in os.read(self._wake_r, 512) and termed_at is None:
                        termed_at = time.monotonic()
                if self._ask_r in ready:
                    if not os.read(self._ask_r, 1):
                        return
                    self._flush()
                    termed_at = None
                elif termed_at is not None and time.monotonic() >= termed_at + KICK_AFTER:
                    termed_at = None
                    if not self.started and self._main is not None and self._is_the_handler():
                        signal.pthread_kill(self._main, signal.SIGTERM)  # the handler missed it
            except OSError:
                return

    def _is_the_handler(self) -> bool:
        """Still SIGTERM's handler: a handler the program set since then is not ours to kick."""
        handler = signal.getsignal(signal.SIGTERM)
        return getattr(handler, "__self__", None) is self

    def forget_wakeups(self) -> None:
        """In a forked child: the wakeup pipe is the parent's thread's; stop writing to it."""
        try:
            previous = signal.set_wakeup_fd(-1)
            if previous not in (-1, self._wake_w):
                signal.set_wakeup_fd(previous)
        except (ValueError, OSError):
            pass

    def _flush(self) -> None:
        flush = _termination_flush
        try:
            if flush is not None:
                flush(TERMINATION_FLUSH_WAIT)
        except Exception:
            _diag.logger.debug("tracklog: flush on SIGTERM failed", exc_info=True)
        os.write(self._done_w, b"x")

    def handle(self, signum: int, frame: FrameType | None) -> None:
        self.started = True
        _set_handler(signum, signal.SIG_DFL)  # a second SIGTERM ends the process at once
        pid = os.getpid()
        if _exited_in == pid:
            return  # exit is under way and flushes: let it finish
        if pid == self._pid:
            try:
                os.write(self._ask_w, b"x")
                select.select([self._done_r], [], [], TERMINATION_FLUSH_WAIT + 1.0)
            except (OSError, ValueError):
                pass
        os.kill(pid, signum)


def _flushes_first(handler: Any) -> bool:
    """True when ``handler`` is a _FlushOnSigterm's (a multiprocessing child's SIGTERM)."""
    return isinstance(getattr(handler, "__self__", None), _FlushOnSigterm)


def _flush_on_sigterm() -> None:
    """Give this multiprocessing child the SIGTERM handler that flushes first, if SIGTERM
    is at its default (a handler of the program's own is left alone) and we are able to."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        return
    try:
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            flusher = _FlushOnSigterm()
            signal.signal(signal.SIGTERM, flusher.handle)
            flusher.watch_wakeups()
    except (ValueError, OSError, RuntimeError):
        pass  # no signals here, or no thread could start


def _finalize_at_multiprocessing_exit(_token: object = None) -> None:
    util = sys.modules.get("multiprocessing.util")
    if util is not None:
        util.Finalize(None, _at_multiprocessing_exit, exitpriority=MULTIPROCESSING_EXIT_PRIORITY)
        _flush_on_sigterm()


def _hook_multiprocessing() -> None:
    """Have a multiprocessing child run the exit phases before its ``os._exit``.

    A child's bootstrap clears the finalizers it inherited, then calls the after-fork
    hooks registered with multiprocessing: ours registers the finalizer there, in the
    child. multiprocessing itself is never imported here; without it nothing is needed.
    """
    global _multiprocessing_hooked
    util = sys.modules.get("multiprocessing.util")
    if util is None or _multiprocessing_hooked:
        return
    _multiprocessing_hooked = True
    # Held by a weak dictionary: a module-level function stays alive.
    util.register_after_fork(_finalize_at_multiprocessing_exit, _finalize_at_multiprocessing_exit)
    process = sys.modules.get("multiprocessing.process")
    if process is None:
        return
    if process.parent_process() is not None or getattr(process.current_process(), "_inheriting", False):
        # tracklog imported inside a child already past its bootstrap (a spawned or
        # forked target that imports tracklog itself), or by the main module a spawned
        # child imports before its bootstrap (which, spawned, runs no after-fork hook and
        # clears no finalizer): no after-fork hook will run for us.
        _finalize_at_multiprocessing_exit()


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()
    # A forked child starts with the signals at their defaults: end_runs_on is the parent's
    # choice, and a Python handler in a child that blocks in C (a Pool worker waiting on
    # its queue's lock) can miss the signal, so Pool.terminate() would wait on it forever.
    for signum in list(_replaced):
        if signal.getsignal(signum) is handle_termination:
            if getattr(_give_back(signum), "_tracklog_sigterm", False):
                _set_handler(signum, signal.SIG_DFL)  # tracklog run's bootstrap's: the parent's too
    _replaced.clear()
    handler = signal.getsignal(signal.SIGTERM) if hasattr(signal, "SIGTERM") else None
    if _flushes_first(handler):
        _set_handler(signal.SIGTERM, signal.SIG_DFL)  # its thread did not survive the fork
        handler.__self__.forget_wakeups()  # type: ignore[union-attr]
    _hook_multiprocessing()  # multiprocessing may have been imported after tracklog


_previous_excepthook = sys.excepthook
sys.excepthook = _excepthook
atexit.register(_run_exit_phases)
_hook_multiprocessing()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
