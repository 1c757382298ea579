"""``tracklog ingest``: a saved or live log stream (docker, kubectl, a file) into a run.

The same rules as ``tracklog run``'s stdout: every line goes to ``logs/std_log.txt``
byte for byte, JSON lines that follow the record conventions also become
metrics and tags. A leading RFC 3339 timestamp, as ``docker logs -t`` and
``kubectl logs --timestamps`` put there, becomes the line's time and is taken
off the line.
"""

from __future__ import annotations

import calendar
import re
import time
from typing import IO, TYPE_CHECKING

from ._recorder import OutputRecorder

if TYPE_CHECKING:
    from ..pipeline.target import HasTarget

# 2026-11-24T00:14:28.123456789Z, 2026-11-24T00:14:28+02:00, then one space.
_STAMP = re.compile(
    rb"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:?\d{2}) "
)


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


def ingest_stream(run: HasTarget, stream: IO[bytes], stream_name: str = "stdout", echo: IO[bytes] | None = None) -> int:
    """Read ``stream`` to its end into ``run``; returns the number of lines recorded.

    Lines without a timestamp get the time they were read (right for a live
    ``docker logs -f``). Reads what is available as it comes, so a live pipe is
    recorded live.
    """
    recorder = OutputRecorder(run, stream_name, conventions=True)
    read = getattr(stream, "read1", None) or stream.read
    pending = b""
    lines = 0
    while True:
        chunk = read(1 << 20)
        if not chunk:
            break
        if echo is not None:
            echo.write(chunk)
            echo.flush()
        data = pending + chunk if pending else chunk
        cut = data.rfind(b"\n") + 1
        pending = data[cut:]
        now = time.time()
        if not cut:
            continue
        plain: list[bytes] = []  # consecutive lines without a timestamp go out as one chunk
        for line in data[: cut - 1].split(b"\n"):
            ts, rest = split_timestamp(line) if line[:1].isdigit() else (None, line)
            if ts is None:
                plain.append(line)
                continue
            if plain:
                recorder.feed(b"\n".join(plain) + b"\n", now)
                plain = []
            recorder.feed(rest + b"\n", ts)
        if plain:
            recorder.feed(b"\n".join(plain) + b"\n", now)
        lines += data.count(b"\n", 0, cut)
    if pending:
        ts, rest = split_timestamp(pending) if pending[:1].isdigit() else (None, pending)
        recorder.feed(rest, time.time() if ts is None else ts)
        recorder.close()
        lines += 1
    return lines
