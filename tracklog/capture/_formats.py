"""Container log formats for ``tracklog ingest``: each line to ``(time, stream, message, complete)``.

* ``text``: any lines; a leading RFC 3339 time (``docker logs -t``, ``kubectl logs
  --timestamps``) is the line's time and is taken off.
* ``docker``: Docker's json-file driver, ``{"log": "...\\n", "stream": "stdout",
  "time": "..."}``; a ``log`` without its ``\\n`` is a piece of a longer line.
* ``cri``: the CRI format of Kubernetes nodes, ``<time> <stream> <P|F> <message>``;
  ``P`` pieces are joined to the ``F`` that ends them.
* ``journald``: ``journalctl -o json``: ``MESSAGE`` (text, or a list of byte
  values) at ``__REALTIME_TIMESTAMP`` (microseconds).

``sniff`` picks the one most of the first lines are in. A line that does not
parse in its format is kept as text with no time of its own (the time it was
read), and ends a line in pieces before it rather than joining it.
"""

from __future__ import annotations

import calendar
import json
import re
from collections.abc import Callable
from typing import Any


#: ``(time or None, stream or None, message without its newline, complete)``
Line = tuple["float | None", "str | None", bytes, bool]

_HEAD = re.compile(rb"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})")
_ZONE = re.compile(rb"(\.\d+)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))")
_SECONDS: dict[bytes, float] = {}
_STREAMS = {b"stdout": "stdout", b"stderr": "stderr"}
_CRI = re.compile(rb"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:?\d{2}) (?:stdout|stderr) [PF] ")
_STAMPED = re.compile(rb"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:?\d{2}) ")


def parse_time(stamp: bytes) -> float | None:
    """Epoch seconds of an RFC 3339 time (``2026-12-01T10:00:00.123456789Z``), else None.

    The whole seconds are cached by their text: the lines of a log share them, so
    a line costs a dict lookup and a float of its fraction.
    """
    head = stamp[:19]
    base = _SECONDS.get(head)
    if base is None:
        match = _HEAD.fullmatch(head)
        if match is None:
            return None
        try:
            base = float(calendar.timegm(tuple(map(int, match.groups())) + (0, 0, 0)))  # type: ignore[arg-type]
        except (ValueError, OverflowError):
            return None
        if len(_SECONDS) >= 4096:
            _SECONDS.clear()
        _SECONDS[head] = base
    tail = stamp[19:]
    if tail[-1:] == b"Z" and tail[:1] in (b".", b"Z"):  # the common case: UTC with a fraction
        if len(tail) == 1:
            return base
        try:
            return base + float(tail[:-1][:10])
        except ValueError:
            return None
    zone = _ZONE.fullmatch(tail)
    if zone is None:
        return None
    frac, _z, sign, hours, minutes = zone.groups()
    ts = base + float(frac[:10]) if frac else base
    if sign is not None:
        ts -= (-1 if sign == b"-" else 1) * (int(hours) * 3600 + int(minutes) * 60)
    return ts


def text_line(line: bytes) -> Line:
    """A line of text, its leading RFC 3339 time (and the space after it) taken off when there is one."""
    if line[:1].isdigit() and _STAMPED.match(line) is not None:
        stamp, _sep, rest = line.partition(b" ")
        if stamp[10:11] == b" ":  # "2026-11-24 00:14:28Z": the time holds a space
            clock, _sep, rest = rest.partition(b" ")
            stamp = stamp + b"T" + clock
        ts = parse_time(stamp)
        if ts is not None:
            return ts, None, rest, True
    return None, None, line, True


def cri_line(line: bytes) -> Line:
    """A CRI log line: ``<time> <stream> <P|F> <message>``."""
    parts = line.split(b" ", 3)
    if len(parts) == 4:
        stream = _STREAMS.get(parts[1])
        tag = parts[2]
        if stream is not None and (tag == b"F" or tag == b"P"):
            ts = parse_time(parts[0])
            if ts is not None:
                return ts, stream, parts[3], tag == b"F"
    elif len(parts) == 3 and parts[2] in (b"F", b"P") and parts[1] in _STREAMS:  # an empty message
        ts = parse_time(parts[0])
        if ts is not None:
            return ts, _STREAMS[parts[1]], b"", parts[2] == b"F"
    return None, None, line, True


def _loads(line: bytes) -> Any:
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        return None


def docker_line(line: bytes) -> Line:
    """A Docker json-file line: ``log`` at ``time`` on ``stream``."""
    entry = _loads(line) if line[:1] == b"{" else None
    if not isinstance(entry, dict) or not isinstance(entry.get("log"), str):
        return None, None, line, True
    text: str = entry["log"]
    complete = text.endswith("\n")
    message = (text[:-1] if complete else text).encode("utf-8", "surrogateescape")
    stamp = entry.get("time")
    ts = parse_time(stamp.encode("ascii", "replace")) if isinstance(stamp, str) else None
    stream = entry.get("stream")
    return ts, stream if isinstance(stream, str) and stream else None, message, complete


def journald_line(line: bytes) -> Line:
    """A ``journalctl -o json`` entry: ``MESSAGE`` at ``__REALTIME_TIMESTAMP``."""
    entry = _loads(line) if line[:1] == b"{" else None
    if not isinstance(entry, dict) or "MESSAGE" not in entry:
        return None, None, line, True
    raw = entry["MESSAGE"]
    if isinstance(raw, str):
        message = raw.encode("utf-8", "surrogateescape")
    elif isinstance(raw, list) and all(type(b) is int and 0 <= b < 256 for b in raw):
        message = bytes(raw)  # journald's form of a message that is not UTF-8
    else:
        message = b"" if raw is None else str(raw).encode()
    if message.endswith(b"\n"):
        message = message[:-1]
    ts: float | None = None
    micros = entry.get("__REALTIME_TIMESTAMP")
    if isinstance(micros, str) and micros.isdigit():
        ts = int(micros) / 1e6
    return ts, None, message, True


DECODERS: dict[str, Callable[[bytes], Line]] = {
    "text": text_line,
    "docker": docker_line,
    "cri": cri_line,
    "journald": journald_line,
}


#: Non-empty lines ``sniff`` looks at.
SNIFF_LINES = 20
#: The keys of a Docker json-file entry (``attrs`` with ``--log-opt labels/env``): an app's JSON log
#: that happens to have ``log`` and ``time`` among others is not one.
_DOCKER_KEYS = frozenset({"log", "stream", "time", "attrs"})


def _line_format(line: bytes) -> str:
    """The format one line is in: docker, journald, cri, else text."""
    line = line.strip()
    if line[:1] == b"{":
        entry = _loads(line)
        if isinstance(entry, dict):
            if (isinstance(entry.get("log"), str) and ("time" in entry or "stream" in entry)
                    and entry.keys() <= _DOCKER_KEYS):
                return "docker"
            if "MESSAGE" in entry and ("__REALTIME_TIMESTAMP" in entry or "__CURSOR" in entry):
                return "journald"
        return "text"
    if _CRI.match(line + b" ") is not None:
        return "cri"
    return "text"


def sniff(head: bytes) -> str:
    """The format of a log from its first lines (up to SNIFF_LINES non-empty ones of ``head``):
    the container format more than half of them are in, else text.

    One torn line at the start (left by ``copytruncate``) does not make a CRI log text,
    and one JSON line that looks like Docker's does not make an app log Docker's.
    """
    counts: dict[str, int] = {}
    seen = start = 0
    while seen < SNIFF_LINES and start < len(head):
        end = head.find(b"\n", start)
        if end < 0:
            end = len(head)
        line = head[start:end]
        start = end + 1
        if not line.strip():
            continue
        seen += 1
        found = _line_format(line)
        counts[found] = counts.get(found, 0) + 1
    for name, count in counts.items():
        if name != "text" and count * 2 > seen:
            return name
    return "text"
