"""``tracklog ingest --follow FILE``: a growing log file read like a pipe, across rotation and truncation.

``FollowedFile.read1`` returns new bytes as the writer adds them and ``b""``
(the end) once nothing came for ``idle`` seconds, or the process ``pid`` has
exited and everything it wrote is read. Rotation: when the path names another
file (inode or device changed, as ``logrotate`` and Docker's ``max-file`` do),
the old file is read to its end and the new one from its start; when the file
was truncated (``copytruncate``, ``> file``), reading starts again at its start.
Truncation shows as a file shorter than what was read, or, when the writer
refilled it past that point before we looked, as a file whose first bytes
(``FINGERPRINT`` of them, checked before each read, as log shippers do) are no
longer the ones read there. A path that is briefly missing during a rotation is
waited for.
"""

from __future__ import annotations

import os
import time

#: Seconds between looks at a file that has nothing new.
POLL = 0.2
#: Bytes at the start of a followed file kept to tell a truncated and refilled file from a grown one.
FINGERPRINT = 1024
_PREAD = getattr(os, "pread", None)  # POSIX; without it only a shorter file shows a truncation


def pid_alive(pid: int) -> bool:
    """True while process ``pid`` runs (a zombie, exited but not yet reaped, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rpartition(b")")[2].split()[:1]
    except OSError:
        return True
    return state != [b"Z"]


class FollowedFile:
    """Bytes of ``path`` as they are written, until idle for ``idle`` seconds (0: never) or ``pid`` exits."""

    def __init__(self, path: str, idle: float = 60.0, pid: int | None = None, poll: float = POLL) -> None:
        self.path = path
        self.idle = idle
        self.pid = pid
        self.poll = poll
        self.rotations = 0
        self.truncations = 0
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        stat = os.fstat(self._file.fileno())
        self._identity = (stat.st_dev, stat.st_ino)
        self._position = 0
        self._head = b""  # the file's first bytes as read (up to FINGERPRINT)
        self._last = time.monotonic()

    def read1(self, size: int = 1 << 20) -> bytes:
        """New bytes, waiting for them; ``b""`` when following ends."""
        while True:
            if self._head and self._refilled():
                self._restart()
            data = self._file.read(size)
            if data:
                self._took(data)
                self._last = time.monotonic()
                return data
            if self._switched():
                continue
            if self.pid is not None and not pid_alive(self.pid):
                data = self._file.read(size)  # what it wrote just before it exited
                if data:
                    self._took(data)
                    return data
                return b""
            if self.idle and time.monotonic() - self._last >= self.idle:
                return b""
            time.sleep(self.poll)

    read = read1

    def _took(self, data: bytes) -> None:
        """Move past ``data``; the file's first bytes are kept as its fingerprint."""
        if self._position == len(self._head) < FINGERPRINT:
            self._head = (self._head + data)[:FINGERPRINT]
        self._position += len(data)

    def _refilled(self) -> bool:
        """True when the file's first bytes are no longer those read there: truncated and written again."""
        if _PREAD is None:
            return False
        try:
            return _PREAD(self._file.fileno(), len(self._head), 0) != self._head
        except OSError:
            return False

    def _restart(self) -> None:
        """Read the (truncated) file again from its start."""
        self._file.seek(0)
        self._position = 0
        self._head = b""
        self.truncations += 1

    def _switched(self) -> bool:
        """At the end of the open file: True when the path now names a new or truncated file."""
        try:
            stat = os.stat(self.path)
        except OSError:
            return False  # moved away, the new file not made yet: keep waiting
        if (stat.st_dev, stat.st_ino) != self._identity:
            try:
                new = open(self.path, "rb")  # noqa: SIM115
            except OSError:
                return False
            self._file.close()
            self._file = new
            fresh = os.fstat(new.fileno())
            self._identity = (fresh.st_dev, fresh.st_ino)
            self._position = 0
            self._head = b""
            self.rotations += 1
            return True
        if stat.st_size < self._position:
            self._restart()
            return True
        return False

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> FollowedFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
