"""``tracklog ingest``: a saved or live log stream (docker, kubectl, journald, a file) into a run.

The same rules as ``tracklog run``'s output: every message goes to
``logs/std_log.txt`` byte for byte, metric lines (``_recognise``) also become
metrics and tags. The container formats of ``_formats`` are sniffed from the
first lines (or named): a line's own time becomes its record's time and is taken
off, its own stream (stdout/stderr) its stream, and pieces of one long line are
joined. ``IngestResult`` says the first and last line's times, which the CLI
makes the run's start and end, and how many lines had no time of their own
(in a container format: did not parse in it). A gzip'd log (kubelet and Docker
rotate to ``*.gz``) is read as its decompressed lines (``decompressed``).
"""

from __future__ import annotations

import calendar
import gzip
import re
import time
import zlib
from typing import IO, TYPE_CHECKING

from .._record import Record
from ._follow import GZIP_MAGIC
from ._formats import DECODERS, sniff
from ._recognise import MetricRules
from ._recorder import OutputRecorder

if TYPE_CHECKING:
    from ..pipeline.target import HasTarget

# 2026-11-24T00:14:28.123456789Z, 2026-11-24T00:14:28+02:00, then one space.
_STAMP = re.compile(
    rb"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:?\d{2}) "
)
#: Bytes a line in pieces (CRI ``P``, Docker's 16 KiB splits) may gather before it is recorded as it stands.
MAX_JOINED = 4 << 20


#: The UTF-8 byte order mark some Windows tools write at the start of a file.
_BOM = b"\xef\xbb\xbf"


def split_timestamp(line: bytes) -> tuple[float | None, bytes]:
    """``(epoch seconds, rest of the line)`` for a line starting with an RFC 3339 time, else ``(None, line)``."""
    match = _STAMP.match(line)
    if match is None:
        return None, line
    year, month, day, hour, minute, second, frac, zone = match.groups()
    try:
        ts = float(calendar.timegm((int(year), int(month), int(day), int(hour), int(minute), int(second), 0, 0, 0)))
    except (ValueError, OverflowError):
        return None, line
    if frac:
        ts += float(frac[:10])  # nanoseconds are more than a float keeps; microseconds stay exact
    if zone not in (b"Z", b"z"):
        sign = -1 if zone[:1] == b"-" else 1
        digits = zone[1:].replace(b":", b"")
        ts -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return ts, line[match.end():]


class GunzippedInput:
    """A gzip stream read as its decompressed bytes (several members too, as ``cat a.gz b.gz`` makes).

    Data that is damaged or cut short ends the stream where it breaks: what came
    before is read, and ``damage`` says what was wrong.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self._gzip = gzip.GzipFile(fileobj=raw, mode="rb")
        self.damage: str | None = None

    def read1(self, size: int = -1) -> bytes:
        """The next decompressed bytes; b"" at the end, or from where the data broke."""
        if self.damage is not None:
            return b""
        try:
            return self._gzip.read1(size)
        except (EOFError, OSError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            self.damage = str(exc) or type(exc).__name__
            return b""

    read = read1


def decompressed(stream: IO[bytes]) -> IO[bytes] | GunzippedInput | RejoinedInput:
    """``stream`` itself, or its decompressed bytes when it starts with gzip's magic bytes.

    Needs a ``peek`` (a file opened ``rb``, ``sys.stdin.buffer``); a stream without
    one is read as it is.
    """
    peek = getattr(stream, "peek", None)
    if peek is None:
        return stream
    head = peek(len(GZIP_MAGIC))[: len(GZIP_MAGIC)]
    if head == GZIP_MAGIC[:1]:
        # A pipe's first read gave gzip's first byte alone: wait for the second (or the end).
        head = stream.read(len(GZIP_MAGIC))
        stream = RejoinedInput(head, stream)
    return GunzippedInput(stream) if head == GZIP_MAGIC else stream


class RejoinedInput:
    """``stream`` with ``head``, bytes already read from it, put back in front."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self._head = head
        self._stream = stream

    def read1(self, size: int = -1) -> bytes:
        """What is left of ``head`` (up to ``size``), else the stream's next bytes."""
        if not self._head:
            read = getattr(self._stream, "read1", None) or self._stream.read
            return read(size)
        return self._take(size)

    def read(self, size: int | None = -1) -> bytes:
        """As ``read1``, but to the end for ``size`` -1 or None."""
        if not self._head:
            return self._stream.read(size)
        if size is None or size < 0:
            return self._take(-1) + self._stream.read()
        return self._take(size)

    def _take(self, size: int | None) -> bytes:
        """Up to ``size`` bytes of ``head`` (all of it for -1 or None), taken off it."""
        head = self._head
        cut = len(head) if size is None or size < 0 else size
        self._head = head[cut:]
        return head[:cut]


class IngestResult(Record):
    """What one ingest read: lines, the format, the first and last line's own times (None: none had
    one), and how many lines had no time of their own (in a container format: did not parse in it)."""

    __slots__ = ("lines", "format", "first", "last", "untimed")
    lines: int
    format: str
    first: float | None
    last: float | None
    untimed: int

    def __init__(
        self,
        lines: int = 0,
        format: str = "text",
        first: float | None = None,
        last: float | None = None,
        untimed: int = 0,
    ) -> None:
        self.lines = lines
        self.format = format
        self.first = first
        self.last = last
        self.untimed = untimed


class _Lines:
    """Decoded lines into one recorder per stream: timed lines in batches, untimed runs as one chunk."""

    def __init__(self, run: HasTarget, stream_name: str, rules: MetricRules, result: IngestResult) -> None:
        self.run = run
        self.stream_name = stream_name
        self.rules = rules
        self.result = result
        self.recorders: dict[str, OutputRecorder] = {}
        self.untimed: list[bytes] = []
        self.untimed_stream = stream_name
        self.timed: list[tuple[float, bytes]] = []
        self.timed_stream = stream_name
        self.pieces: dict[str, tuple[float | None, bytearray]] = {}

    def recorder(self, name: str) -> OutputRecorder:
        recorder = self.recorders.get(name)
        if recorder is None:
            recorder = OutputRecorder(self.run, name, conventions=self.rules.recogniser())
            self.recorders[name] = recorder
        return recorder

    def add(self, ts: float | None, stream: str | None, message: bytes, complete: bool, now: float) -> None:
        name = stream or self.stream_name
        if not complete or name in self.pieces:
            if ts is None and stream is None and name in self.pieces:
                # A line that did not parse (a torn one) continues no piece: the piece is a line
                # as it stands, then this one is.
                started, joined = self.pieces.pop(name)
                self.add(started, name, bytes(joined), True, now)
                self.add(ts, stream, message, complete, now)
                return
            started, joined = self.pieces.get(name) or (ts, bytearray())
            joined += message
            if not complete and len(joined) < MAX_JOINED:
                self.pieces[name] = (started, joined)
                return
            self.pieces.pop(name, None)
            ts, message = started, bytes(joined)
        if ts is None:
            if self.timed or (self.untimed and name != self.untimed_stream):
                self.flush(now)
            self.untimed_stream = name
            self.untimed.append(message)
            return
        if self.untimed or (self.timed and name != self.timed_stream):
            self.flush(now)
        result = self.result
        if result.first is None:
            result.first = ts
        result.last = ts
        self.timed_stream = name
        self.timed.append((ts, message))

    def last_piece(self, ts: float | None, stream: str | None, message: bytes, now: float) -> None:
        """The end of the input, without a newline: recorded as a partial line, as it stands."""
        self.flush(now)
        name = stream or self.stream_name
        if ts is not None:
            self.result.first = ts if self.result.first is None else self.result.first
            self.result.last = ts
        else:
            self.result.untimed += 1
        if ts is None and stream is None and name in self.pieces:  # a torn end continues no piece
            started, joined = self.pieces.pop(name)
            self.recorder(name).feed(bytes(joined) + b"\n", now if started is None else started)
        started, joined = self.pieces.pop(name, (ts, bytearray()))
        self.recorder(name).feed(bytes(joined) + message, now if started is None else started)

    def flush(self, now: float) -> None:
        """Record the lines gathered so far (at the end of each chunk read, and when the kind changes)."""
        if self.untimed:
            self.recorder(self.untimed_stream).feed(b"\n".join(self.untimed) + b"\n", now)
            self.result.untimed += len(self.untimed)
            self.untimed = []
        if self.timed:
            self.recorder(self.timed_stream).feed_lines(self.timed)
            self.timed = []

    def close(self, now: float) -> None:
        self.flush(now)
        for name, (started, joined) in list(self.pieces.items()):
            self.recorder(name).feed(bytes(joined) + b"\n", now if started is None else started)
        self.pieces.clear()
        for recorder in self.recorders.values():
            recorder.close(now)


def ingest_lines(
    run: HasTarget,
    stream: IO[bytes],
    stream_name: str = "stdout",
    echo: IO[bytes] | None = None,
    fmt: str = "auto",
    metrics: MetricRules | None = None,
) -> IngestResult:
    """Read ``stream`` to its end into ``run`` in format ``fmt`` (``auto``: sniffed from the first lines).

    Lines without a time of their own get the time they were read (right for a
    live ``docker logs -f``). Reads what is available as it comes, so a live
    pipe or a followed file is recorded live.
    """
    result = IngestResult(format=fmt)
    sink = _Lines(run, stream_name, MetricRules() if metrics is None else metrics, result)
    decode = None if fmt == "auto" else DECODERS[fmt]
    read = getattr(stream, "read1", None) or stream.read
    pending = b""
    first = True
    while True:
        chunk = read(1 << 20)
        if not chunk:
            break
        if first:
            first = False
            if chunk.startswith(_BOM):  # a Windows editor's or PowerShell's UTF-8 mark, not a line's text
                chunk = chunk[len(_BOM):]
                if not chunk:
                    continue
        if echo is not None:
            echo.write(chunk)
            echo.flush()
        data = pending + chunk if pending else chunk
        cut = data.rfind(b"\n") + 1
        pending = data[cut:]
        if not cut:
            continue
        if decode is None:
            result.format = sniff(data[:cut])
            decode = DECODERS[result.format]
        now = time.time()
        add = sink.add
        for line in data[: cut - 1].split(b"\n"):
            add(*decode(line), now)
        sink.flush(now)
        result.lines += data.count(b"\n", 0, cut)
    now = time.time()
    if pending:
        if decode is None:
            result.format = sniff(pending)
            decode = DECODERS[result.format]
        ts, name, message, _complete = decode(pending)
        sink.last_piece(ts, name, message, now)
        result.lines += 1
    sink.close(now)
    return result


def ingest_stream(run: HasTarget, stream: IO[bytes], stream_name: str = "stdout", echo: IO[bytes] | None = None) -> int:
    """Read ``stream`` to its end into ``run`` (format sniffed); returns the number of lines recorded."""
    return ingest_lines(run, stream, stream_name, echo).lines
