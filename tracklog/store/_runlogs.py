"""Appending log lines to the run folders' log files, keeping what a full disk refused.

A batch's rows are committed before its lines are appended, so an append that fails
(disk full, file-size limit) must not fail the batch: the writer would write its rows
again. What could not be appended waits here, in order, and goes first next time.
"""

from __future__ import annotations

import os
import threading
from typing import Callable

#: Given a run id and a file name under its logs/ folder, the file's path.
PathOf = Callable[[str, str], str]


class LogAppender:
    """Appends chunks of lines per (run id, file name); keeps what could not be written."""

    def __init__(self, path_of: PathOf) -> None:
        self._path_of = path_of
        self._pending: dict[tuple[str, str], bytes] = {}
        self._lock = threading.Lock()
        self.error: OSError | None = None

    @property
    def pending(self) -> bool:
        """Whether lines wait for space (or for the file-size limit to rise)."""
        return bool(self._pending)

    def retry(self) -> None:
        """Append what waits; raises the OSError again when it still cannot be written."""
        with self._lock:
            self._write_pending()
            if self._pending:
                assert self.error is not None
                raise self.error

    def append(self, chunks: dict[tuple[str, str], bytes]) -> None:
        """Append each chunk to its file, after what waits; what fails waits. Never raises."""
        with self._lock:
            pending = self._pending
            for key, data in chunks.items():
                before = pending.get(key)
                pending[key] = data if before is None else before + data
            self._write_pending()

    def forget(self) -> int:
        """Drop what waits (a process giving up at exit); the number of bytes dropped."""
        with self._lock:
            dropped = sum(len(data) for data in self._pending.values())
            self._pending = {}
            return dropped

    def _write_pending(self) -> None:
        left: dict[tuple[str, str], bytes] = {}
        for key, data in self._pending.items():
            rest = data if left else self._write(key, data)
            if rest:
                left[key] = rest
        self._pending = left

    def _write(self, key: tuple[str, str], data: bytes) -> bytes:
        """Append ``data``; the part that could not be written (b"" when all was)."""
        view = memoryview(data)
        try:
            path = self._path_of(*key)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
        except OSError as exc:
            self.error = exc
            return bytes(view)
        return b""
