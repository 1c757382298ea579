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
longer the ones read there. A writer that did not open the file in append mode
(``prog > file``) writes on at its old offset after a ``copytruncate``, so the
file then starts with a hole of NUL bytes: that file, no shorter than what was
read, is the same one truncated, read on from the position, and the hole's NULs
(also those met at the start after a truncation) are skipped, never stored. A
path that is briefly missing during a rotation is waited for.
"""

from __future__ import annotations

import os
import time

#: Seconds between looks at a file that has nothing new.
POLL = 0.2
#: Bytes at the start of a followed file kept to tell a truncated and refilled file from a grown one.
FINGERPRINT = 1024
#: The first two bytes of gzip data (RFC 1952).
GZIP_MAGIC = b"\x1f\x8b"
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
        self._holes = False  # once truncated: NULs at the start of a read are a non-append writer's hole
        self._last = time.monotonic()

    def read1(self, size: int = 1 << 20) -> bytes:
        """New bytes, waiting for them; ``b""`` when following ends."""
        while True:
            if self._head and self._refilled():
                self._restart()
            data = self._file.read(size)
            if data and self._holes and data[:1] == b"\0":
                data = self._skip_hole(data)
                if not data:
                    continue
            if data:
                self._took(data)
                self._last = time.monotonic()
                return data
            if self._switched():
                continue
            if self.pid is not None and not pid_alive(self.pid):
                data = self._file.read(size)  # what it wrote just before it exited
                if data and self._holes and data[:1] == b"\0":
                    data = self._skip_hole(data)
                if data:
                    self._took(data)
                    return data
                return b""
            if self.idle and time.monotonic() - self._last >= self.idle:
                return b""
            time.sleep(self.poll)

    read = read1

    def gzipped(self) -> bool:
        """True when the file, not yet read, starts with gzip's magic bytes: a compressed log, no growing text."""
        return self._position == 0 and self._file.peek(len(GZIP_MAGIC))[: len(GZIP_MAGIC)] == GZIP_MAGIC

    def _took(self, data: bytes) -> None:
        """Move past ``data``; the file's first bytes are kept as its fingerprint."""
        if self._position == len(self._head) < FINGERPRINT:
            self._head = (self._head + data)[:FINGERPRINT]
        self._position += len(data)

    def _skip_hole(self, data: bytes) -> bytes:
        """Move past the NULs ``data`` starts with (a hole, never stored); the rest of it."""
        rest = data.lstrip(b"\0")
        self._took(data[: len(data) - len(rest)])
        return rest

    def _refilled(self) -> bool:
        """True when the file's first bytes are no longer those read there: truncated and written again.

        A start that is now NUL bytes, in a file no shorter than the position, is a hole a
        non-append writer left by writing on at its old offset: the file was truncated, but its
        new data lies past the position, so reading goes on from there (False).
        """
        if _PREAD is None:
            return False
        try:
            start = _PREAD(self._file.fileno(), len(self._head), 0)
            if start == self._head:
                return False
            hole = start.count(0) == len(start) == len(self._head)
            if hole and os.fstat(self._file.fileno()).st_size >= self._position:
                self._head = start
                self._holes = True
                self.truncations += 1
                return False
        except OSError:
            return False
        return True

    def _restart(self) -> None:
        """Read the (truncated) file again from its start."""
        self._file.seek(0)
        self._position = 0
        self._head = b""
        self._holes = True
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
            self._holes = False
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
