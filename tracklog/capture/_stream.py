"""In-process capture: tee ``sys.stdout``/``sys.stderr`` (and with ``fd=True`` fds 1 and 2) into a run.

``sys.stdout`` is replaced by a C ``TextIOWrapper`` built like the original
(encoding, errors, line buffering) over a tee: print() runs at C speed and
tracklog's Python code sees only whole buffers (one call per 64 KiB, or per
line where the original is line-buffered). Each buffer goes to the original
stream first, then to the run. With ``fd=True`` the file descriptors are
redirected into pipes read by a thread, which catches C extensions and
subprocesses too; both are put back exactly as they were on exit.
"""

from __future__ import annotations

import io
import os
import selectors
import sys
import threading
import time
from typing import IO, TYPE_CHECKING, Any

from .._threads import start_thread
from ..pipeline import current
from ._process import ENV_OUTPUT_CAPTURED, enlarge_pipe
from ._recorder import OutputRecorder

if TYPE_CHECKING:
    from ..pipeline.target import HasTarget

_BUFFER = 1 << 16
#: Seconds ``stop()`` waits for a subprocess that still holds a captured descriptor.
FD_DRAIN_TIMEOUT = 5.0


class _ToOriginal:
    """A tee's flush, fileno and isatty: those of the stream it wraps."""

    __slots__ = ()
    original: Any

    def flush(self) -> None:
        self.original.flush()

    def fileno(self) -> int:
        return self.original.fileno()

    def isatty(self) -> bool:
        return self.original.isatty()


class _TeeBuffer(_ToOriginal):
    """The binary layer under our text wrapper: writes to the original stream, then records.

    A plain object rather than a BufferedWriter over a RawIOBase: the C
    TextIOWrapper checks ``buffer.closed`` on every write, and a slot is the
    cheapest answer, which keeps print() as fast as without capture.
    """

    __slots__ = ("original", "target", "recorder", "eager", "closed", "lock")

    def __init__(self, original: IO[str], recorder: OutputRecorder) -> None:
        self.original = original
        self.target = original.buffer  # type: ignore[attr-defined]
        self.recorder: OutputRecorder | None = recorder
        # Pass our bytes on at once where the original would have (a terminal, -u).
        self.eager = bool(getattr(original, "line_buffering", False) or getattr(original, "write_through", False))
        self.closed = False
        self.lock = threading.Lock()  # threads printing at once: keep each buffer's bytes together

    def readable(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def write(self, data: Any) -> int:
        with self.lock:
            self.original.flush()  # anything written straight to the original goes out first
            target = self.target
            view = memoryview(data)
            size = len(view)
            while view:  # an unbuffered original (python -u) is a raw file: writes may be partial
                written = target.write(view)
                if not written:
                    break
                view = view[written:]
            if self.eager:
                target.flush()
            recorder = self.recorder
            if recorder is not None:
                recorder.feed(bytes(data))
        return size

    @property
    def name(self) -> Any:
        return getattr(self.original, "name", None)

    def close(self) -> None:
        # Closing our wrapper (or its garbage collection) never closes the original.
        self.recorder = None
        self.closed = True


class _TeeText(_ToOriginal, io.TextIOBase):
    """The fallback for an original without a binary buffer (StringIO, notebooks)."""

    def __init__(self, original: IO[str], recorder: OutputRecorder) -> None:
        super().__init__()
        self.original = original
        self.recorder: OutputRecorder | None = recorder
        self.lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self.lock:
            written = self.original.write(text)
            recorder = self.recorder
            if recorder is not None:
                recorder.feed(text.encode("utf-8", "surrogateescape"))
        return written if isinstance(written, int) else len(text)

    @property
    def encoding(self) -> Any:  # type: ignore[override]
        return getattr(self.original, "encoding", "utf-8")

    def close(self) -> None:
        self.recorder = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.original, name)


def _tee(original: IO[str], recorder: OutputRecorder) -> tuple[IO[str], Any]:
    """A stream like ``original`` that also records; and the object to detach on stop."""
    buffer = getattr(original, "buffer", None)
    encoding = getattr(original, "encoding", None)
    if buffer is not None and encoding and hasattr(buffer, "write"):
        tee = _TeeBuffer(original, recorder)
        wrapper = io.TextIOWrapper(
            tee,  # type: ignore[arg-type]
            encoding=encoding,
            errors=getattr(original, "errors", None) or "strict",
            line_buffering=bool(getattr(original, "line_buffering", False)),
            write_through=bool(getattr(original, "write_through", False)),
        )
        wrapper._CHUNK_SIZE = _BUFFER  # type: ignore[attr-defined]
        return wrapper, tee
    text = _TeeText(original, recorder)
    return text, text  # type: ignore[return-value]


class _FdCapture:
    """File descriptors 1 and 2 redirected into pipes; a thread echoes and records what comes."""

    def __init__(self, recorders: dict[int, OutputRecorder]) -> None:
        self._recorders = recorders
        self._saved: dict[int, int] = {}
        self._reads: dict[int, int] = {}  # read end -> captured fd
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> None:
        try:
            for fd in self._recorders:
                saved = os.dup(fd)
                self._saved[fd] = saved
                read_end, write_end = os.pipe()
                enlarge_pipe(read_end)
                os.dup2(write_end, fd)
                os.close(write_end)
                self._reads[read_end] = fd
        except BaseException:
            self.stop()
            raise
        self._thread = start_thread(self._pump, "tracklog-fd-capture")

    def _pump(self) -> None:
        selector = selectors.DefaultSelector()
        for read_end in self._reads:
            selector.register(read_end, selectors.EVENT_READ)
        while selector.get_map():
            ready = selector.select(0.1)
            if not ready and self._stop.is_set():
                break  # something still holds a captured descriptor; stop() gave up waiting
            for key, _mask in ready:
                try:
                    data = os.read(key.fd, 1 << 20)
                except OSError:
                    data = b""
                if not data:
                    selector.unregister(key.fd)
                    continue
                fd = self._reads[key.fd]
                _write_all(self._saved[fd], data)
                self._recorders[fd].feed(data)
        selector.close()

    def stop(self) -> None:
        """Put the descriptors back, then read what was left in the pipes."""
        for fd, saved in self._saved.items():
            os.dup2(saved, fd)
        thread = self._thread
        if thread is not None:
            thread.join(FD_DRAIN_TIMEOUT)
            self._stop.set()
            thread.join(1.0)
        for read_end in self._reads:
            _close(read_end)
        for saved in self._saved.values():
            _close(saved)
        self._reads.clear()
        self._saved.clear()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
    except OSError:
        pass  # the original destination went away; capture goes on


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _writes_to(stream: Any, fd: int) -> bool:
    try:
        return stream.fileno() == fd
    except (AttributeError, OSError, ValueError):
        return False


class OutputCapture:
    """Tee this process's output into a run's ``logs/std_log.txt`` while active.

    Use as ``with run.capture_output():`` (or ``tracklog.capture_output()`` for
    the current run). ``fd=True`` also captures file descriptors 1 and 2: C
    extensions and subprocesses. Printed JSON lines following the record
    conventions become metrics and tags, as with ``tracklog run``. In a process
    whose output ``tracklog run`` already records for the same run, it does
    nothing, so lines are not recorded twice.
    """

    def __init__(self, run: HasTarget | None = None, fd: bool = False) -> None:
        self.run = run
        self.fd = fd
        self._active = False
        self._streams: list[tuple[str, Any, Any, Any]] = []  # (name, original, replacement, detach)
        self._fds: _FdCapture | None = None
        self._recorders: list[OutputRecorder] = []

    def start(self) -> OutputCapture:
        """Begin capturing (``__enter__`` calls this)."""
        if self._active:
            return self
        run = self.run or current.current_run()
        assert run is not None
        self.run = run
        self._active = True
        if os.environ.get(ENV_OUTPUT_CAPTURED) == run.id:
            return self  # tracklog run records this process's output already
        fd_streams: set[str] = set()
        if self.fd:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (AttributeError, OSError, ValueError):
                    pass
            recorders = {1: self._recorder(run, "stdout"), 2: self._recorder(run, "stderr")}
            self._fds = _FdCapture(recorders)
            self._fds.start()
            fd_streams = {name for name, number in (("stdout", 1), ("stderr", 2))
                          if _writes_to(getattr(sys, name), number)}
        for name in ("stdout", "stderr"):
            original = getattr(sys, name)
            if name in fd_streams or original is None or isinstance(original, _TeeText):
                continue
            if isinstance(getattr(original, "buffer", None), _TeeBuffer):
                continue  # already teed by an outer capture
            replacement, detach = _tee(original, self._recorder(run, name))
            setattr(sys, name, replacement)
            self._streams.append((name, original, replacement, detach))
        return self

    def _recorder(self, run: HasTarget, stream: str) -> OutputRecorder:
        # The writer drains at its own interval: waking it per MiB would hold up the program.
        recorder = OutputRecorder(run, stream, conventions=stream == "stdout", wake=False)
        self._recorders.append(recorder)
        return recorder

    def stop(self) -> None:
        """Stop capturing: flush, put every stream and descriptor back, record what was left."""
        if not self._active:
            return
        self._active = False
        try:
            for name, original, replacement, detach in reversed(self._streams):
                try:
                    replacement.flush()
                except (OSError, ValueError):
                    pass
                detach.recorder = None  # anyone still holding our stream now writes straight through
                setattr(sys, name, original)
            self._streams.clear()
            if self._fds is not None:
                for stream in (sys.stdout, sys.stderr):
                    try:
                        stream.flush()
                    except (AttributeError, OSError, ValueError):
                        pass
                self._fds.stop()
                self._fds = None
        finally:
            now = time.time()
            for recorder in self._recorders:
                recorder.close(now)
            self._recorders.clear()

    def __enter__(self) -> OutputCapture:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def capture_output(fd: bool = False) -> OutputCapture:
    """Tee this process's stdout and stderr into the current run's ``logs/std_log.txt``.

    A context manager: ``with tracklog.capture_output(): ...``; ``fd=True`` also
    captures file descriptors 1 and 2 (C extensions, subprocesses).
    """
    return OutputCapture(None, fd)
