"""A byte stream into OUTPUT events: whole lines in chunks, JSON lines to metrics and tags.

Every capture path (``tracklog run``'s pipes, ``capture_output()``, file
descriptors) feeds its bytes here as they arrive. Per chunk, not per line: one
OUTPUT event carries every whole line of a chunk, and only lines that start
with ``{`` are parsed as JSON, which keeps a million-line flood cheap.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Iterator

from .. import _diag
from .._output_format import FILENAME
from ..pipeline.conventions import convention_events, has_conventions
from ..pipeline.event import OUTPUT, Event
from ._recognise import Recogniser

if TYPE_CHECKING:
    from ._gate import ParsedMetricGate
    from ..pipeline.target import HasTarget, RunTarget

#: A line still without its newline is recorded in pieces once it holds this many bytes.
MAX_PENDING = 4 << 20
#: Bytes of output after which the pipeline's writer is woken, not left to its interval.
WAKE_BYTES = 1 << 20
#: Bytes of output that may wait for the writer; past this the producer waits (memory stays bounded).
MAX_UNWRITTEN = 32 << 20


def json_lines(block: bytes) -> Iterator[bytes]:
    """The lines of ``block`` (newline-separated) that start with ``{``."""
    if block.startswith(b"{"):
        start = 0
    else:
        found = block.find(b"\n{")
        if found < 0:
            return
        start = found + 1
    while True:
        end = block.find(b"\n", start)
        if end < 0:
            yield block[start:]
            return
        yield block[start:end]
        found = block.find(b"\n{", end)
        if found < 0:
            return
        start = found + 1


def convention_events_of(target: RunTarget, block: bytes, ts: float) -> list[Event]:
    """Metric, tag and param events from the JSON lines of ``block`` that follow the conventions."""
    events: list[Event] = []
    for line in json_lines(block):
        try:
            fields = json.loads(line)
        except (ValueError, RecursionError):  # not JSON, an int over 4300 digits, nesting too deep
            continue
        if isinstance(fields, dict) and has_conventions(fields):
            events.extend(convention_events(target, fields, ts))
    return events


class OutputRecorder:
    """Records one output stream of one run into ``logs/std_log.txt``.

    ``feed`` takes bytes exactly as read (any chunking); whole lines go out at
    once, a trailing partial line waits for its newline. A partial line that
    redraws with ``\\r`` (a progress bar) or grows past ``MAX_PENDING`` is
    recorded as it stands, marked partial, so nothing waits forever.
    ``conventions`` turns metric lines into metrics and tags: True for the
    built-in recognisers (JSON lines, logfmt, ``key: value``, Python dicts, tqdm
    postfixes; ``_recognise``), or a ``Recogniser`` of its own (stdout, ingest).
    ``wake`` wakes the pipeline's writer every ``WAKE_BYTES`` instead of leaving
    it to its interval: right when the producer is another process (``tracklog
    run``), not inside the program, whose threads the writer would hold up.
    ``gate`` holds the metric points read from the lines until it is known whether the
    job logs those names in-process (``_gate``; ``tracklog run`` only).
    """

    def __init__(
        self,
        run: HasTarget,
        stream: str,
        conventions: bool | Recogniser | None = False,
        filename: str = FILENAME,
        wake: bool = True,
        gate: ParsedMetricGate | None = None,
    ) -> None:
        self.run = run
        self.stream = stream
        self.recogniser = Recogniser() if conventions is True else conventions or None
        self.conventions = self.recogniser is not None
        self.filename = filename
        self.wake = wake
        self.gate = gate
        self._pending = bytearray()
        self._carry = b""  # a redrawn line's picture recorded as partial: its end's metrics are read with it
        self._target = run.target
        self._run_id = run.target.run_id
        self._pipeline = run.target.pipeline
        self._unsent = 0
        self._unwritten = 0

    def feed(self, data: bytes, ts: float | None = None) -> None:
        """Record ``data``; never raises (a failure is one warning on the tracklog logger)."""
        if not data:
            return
        try:
            self._feed(data, time.time() if ts is None else ts)
        except Exception:
            _diag.logger.warning("tracklog: recording %s output failed", self.stream, exc_info=True)

    def _feed(self, data: bytes, ts: float) -> None:
        pending = self._pending
        cut = data.rfind(b"\n") + 1
        if not cut:
            pending += data
            self._maybe_partial(ts)
            return
        if pending:
            pending += data[:cut]
            block = bytes(pending)
            pending.clear()
        else:
            block = data if cut == len(data) else data[:cut]
        event = Event(self._run_id, OUTPUT, self.filename, block, None, ts, 0, self.stream)
        recogniser = self.recogniser
        events = None
        if recogniser is not None:
            carry = self._carry
            if carry:
                self._carry = b""
                events = recogniser.events(self._target, carry + block, ts)
            else:
                events = recogniser.events(self._target, block, ts)
            if events and self.gate is not None:
                events = self.gate.split(events)
        if events:
            events.append(event)
            self._pipeline.put_many(events)
        else:
            self._pipeline.put(event)
        self._sent(len(block))
        if cut < len(data):
            pending += data[cut:]
            self._maybe_partial(ts)

    def feed_lines(self, lines: list[tuple[float, bytes]]) -> None:
        """Record whole lines (without their newlines), each at its own time, as one batch; never raises.

        ``tracklog ingest``'s path for container logs, where every line carries a
        time: one OUTPUT event per line (its time is in the file), queued together.
        """
        try:
            if self._pending:
                self._emit_partial(lines[0][0] if lines else time.time())
            run_id, filename, stream = self._run_id, self.filename, self.stream
            recogniser = self.recogniser
            target = self._target
            events: list[Any] = []
            append = events.append
            size = 0
            for ts, line in lines:
                if recogniser is not None:
                    found = recogniser.line_events(target, line, ts)
                    if found:
                        events.extend(found)
                data = line + b"\n"
                size += len(data)
                append((run_id, OUTPUT, filename, data, None, ts, 0, stream, "", None))
            self._pipeline.put_many(events)
            self._sent(size)
        except Exception:
            _diag.logger.warning("tracklog: recording %s output failed", self.stream, exc_info=True)

    def _sent(self, size: int) -> None:
        # The pipeline counts events, not bytes; big chunks need their own pacing.
        self._unsent += size
        if self._unsent >= WAKE_BYTES:
            self._unwritten += self._unsent
            self._unsent = 0
            if self._unwritten >= MAX_UNWRITTEN and not _diag.inside():
                self._unwritten = 0
                self._pipeline.flush()  # backpressure: wait for the writer to catch up
            elif self.wake:
                self._pipeline.wake()

    def _maybe_partial(self, ts: float) -> None:
        pending = self._pending
        # A redraw (text after a \r) is a complete picture; a lone trailing \r may be half a CRLF.
        redraw = pending.rfind(b"\r")
        if len(pending) >= MAX_PENDING or 0 <= redraw < len(pending) - 1:
            self._emit_partial(ts)

    def _emit_partial(self, ts: float) -> None:
        data = bytes(self._pending)
        self._pending.clear()
        if self.recogniser is not None:
            # Keep the line's last picture (bounded): its newline may come in a later write.
            redraw = data.rfind(b"\r", 0, len(data) - 1)
            carry = data[redraw + 1:] if redraw >= 0 else self._carry + data
            self._carry = carry if len(carry) <= 1 << 16 else b""
        self._pipeline.put(Event(self._run_id, OUTPUT, self.filename, data, None, ts, 0, self.stream))
        self._sent(len(data))

    def close(self, ts: float | None = None) -> None:
        """Record what is left of a line that never got its newline; its metrics are read,
        as a whole line's are (the stream has ended: nothing more can come after it)."""
        try:
            if self._pending:
                when = time.time() if ts is None else ts
                self._emit_partial(when)
                last, self._carry = self._carry, b""
                if last and self.recogniser is not None:
                    events = self.recogniser.events(self._target, last, when)
                    if events and self.gate is not None:
                        events = self.gate.split(events)
                    if events:
                        self._pipeline.put_many(events)
        except Exception:
            _diag.logger.warning("tracklog: recording %s output failed", self.stream, exc_info=True)
