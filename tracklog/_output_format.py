"""The ``logs/std_log.txt`` line format: captured output, byte for byte, one header per line.

Each line of the file is ``<time> <stream>[ rank=<n>][ partial] | <the raw bytes>``:

    2026-11-24T00:14:28.123456Z stdout | epoch 1 loss 0.31
    2026-11-24T00:14:28.123456Z stderr rank=3 | Traceback (most recent call last):

The bytes after `` | `` are exactly what the program wrote (invalid UTF-8, ``\\r``
redraws and all); only views decode them, with replacement. ``partial`` marks a
piece that had no newline after it yet: a progress bar still redrawing, the end
of a stream without a final newline, or a piece of a line longer than the
recorder's limit; readers join it to what follows on the same stream.

Writing it is a few ``bytes`` operations per chunk of lines, whatever the lines
hold (no escaping), which keeps ``tracklog run`` close to plain redirection.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Iterable, Iterator, NamedTuple

from .pipeline.event import Event

FILENAME = "std_log.txt"
SEP = b" | "
_PARTIAL = b" partial"


def _iso(ts: float) -> bytes:
    whole = int(ts)
    micros = int(round((ts - whole) * 1e6))
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    return (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{micros:06d}Z").encode()


def _stream_token(name: str) -> bytes:
    token = (name or "output").replace(" ", "_").replace("|", "_").replace("\n", "_")
    return token.encode("utf-8", "replace")


def encode_output(event: Event, rank: int | None) -> bytes:
    """One OUTPUT event (a chunk of whole lines, maybe ending in a partial one) as file lines.

    Every line of the chunk gets the chunk's time: lines are read in chunks as
    they arrive, so a line's time is when tracklog received it.
    """
    # Read by index: the run store gets the pipeline's plain tuples too (Pipeline.put).
    data = event[3]
    if not isinstance(data, bytes):
        data = bytes(data) if isinstance(data, (bytearray, memoryview)) else str(data).encode("utf-8", "surrogateescape")
    if not data:
        return b""
    head = _iso(event[5]) + b" " + _stream_token(event[7])
    if rank is not None:
        head += b" rank=%d" % rank
    cut = data.rfind(b"\n") + 1
    out = b""
    if cut:
        whole = data if cut == len(data) else data[:cut]
        prefix = head + SEP
        out = prefix + whole[:-1].replace(b"\n", b"\n" + prefix) + b"\n"
    if cut < len(data):
        out += head + _PARTIAL + SEP + data[cut:] + b"\n"
    return out


class OutputLine(NamedTuple):
    """One captured line read back: its time, stream, rank and raw bytes (no newline)."""

    time: str
    stream: str
    rank: int | None
    data: bytes
    complete: bool

    @property
    def ts(self) -> float:
        """The time as seconds since the epoch (0.0 when unreadable)."""
        return parse_time(self.time)

    @property
    def text(self) -> str:
        """The line decoded for display: UTF-8 with replacement characters."""
        return self.data.decode("utf-8", "replace")


def parse_time(text: str) -> float:
    """Our header's ``2026-11-24T00:14:28.123456Z`` as epoch seconds (0.0 if malformed)."""
    try:
        whole, _, frac = text.rstrip("Z").partition(".")
        seconds = datetime.fromisoformat(whole).replace(tzinfo=timezone.utc).timestamp()
        return seconds + (float("0." + frac) if frac else 0.0)
    except (ValueError, OverflowError):
        return 0.0


def _parse(raw: bytes) -> tuple[str, str, int | None, bool, bytes] | None:
    line = raw[:-1] if raw.endswith(b"\n") else raw
    head, sep, data = line.partition(SEP)
    if not sep:
        return None
    tokens = head.split(b" ")
    if len(tokens) < 2 or not tokens[0].endswith(b"Z"):
        return None
    rank = None
    partial = False
    for token in tokens[2:]:
        if token.startswith(b"rank=") and token[5:].lstrip(b"-").isdigit():
            rank = int(token[5:])
        elif token == b"partial":
            partial = True
    return tokens[0].decode("ascii", "replace"), tokens[1].decode("utf-8", "replace"), rank, partial, data


class OutputReader:
    """Turns std_log.txt lines back into whole output lines, joining partial pieces.

    Feed it raw file lines in order; each call returns the lines it completed.
    ``finish()`` returns what is left (output that never got its newline).
    """

    def __init__(self) -> None:
        self._open: dict[tuple[str, int | None], list[tuple[str, bytes]]] = {}

    def feed(self, raw: bytes) -> list[OutputLine]:
        parsed = _parse(raw)
        if parsed is None:
            # Not one of our lines (hand-written, or an older format): shown as it is.
            text = raw[:-1] if raw.endswith(b"\n") else raw
            return [OutputLine("", "", None, text, True)] if text else []
        when, stream, rank, partial, data = parsed
        key = (stream, rank)
        pieces = self._open.get(key)
        if partial:
            self._open.setdefault(key, []).append((when, data))
            return []
        if pieces:
            del self._open[key]
            return [OutputLine(pieces[0][0], stream, rank, b"".join(p[1] for p in pieces) + data, True)]
        return [OutputLine(when, stream, rank, data, True)]

    def finish(self) -> list[OutputLine]:
        left = [
            OutputLine(pieces[0][0], stream, rank, b"".join(p[1] for p in pieces), False)
            for (stream, rank), pieces in self._open.items()
        ]
        self._open.clear()
        return left


def read_output(raw_lines: Iterable[bytes]) -> Iterator[OutputLine]:
    """Every captured line of a std_log.txt, partial pieces joined, in file order."""
    reader = OutputReader()
    for raw in raw_lines:
        yield from reader.feed(raw)
    yield from reader.finish()


def collapse_redraws(text: str) -> str:
    """A line redrawn with ``\\r`` (tqdm, pip) as its last drawn state; CRLF endings dropped."""
    if "\r" not in text:
        return text
    body = text[:-1] if text.endswith("\r") else text
    for segment in reversed(body.split("\r")):
        if segment:
            return segment
    return ""


def render_line(line: OutputLine, collapse: bool = True) -> str:
    """The view ``tracklog logs`` prints for one captured line."""
    text = line.text
    if collapse:
        text = collapse_redraws(text)
    if not line.stream:
        return text
    rank = f" [rank {line.rank}]" if line.rank is not None else ""
    return f"{line.time} {line.stream}{rank} | {text}"


class StdLogView:
    """``tracklog logs`` for std_log.txt: feed raw file lines, get printable text back.

    ``streams`` keeps only those streams (``--logger stdout``).
    """

    def __init__(self, streams: Iterable[str] | None = None, collapse: bool = True) -> None:
        self._reader = OutputReader()
        self._streams = set(streams) if streams else None
        self._collapse = collapse

    def _show(self, lines: list[OutputLine]) -> list[str]:
        keep = self._streams
        return [render_line(l, self._collapse) for l in lines if keep is None or l.stream in keep]

    def feed(self, raw: bytes) -> list[str]:
        return self._show(self._reader.feed(raw))

    def finish(self) -> list[str]:
        return self._show(self._reader.finish())
