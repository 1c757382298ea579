"""One record, recorded once: what this thread's RunProcessor or RunHandler has just
written as run data, so a second source the same record reaches does not write it again.

structlog's stdlib bridge hands an event a RunProcessor recorded on to ``logging``, where
a RunHandler sees its ``metric``/``value`` fields again; a record reaching two RunHandlers
(one on the root logger, one on a child; one added twice by a re-run notebook cell)
would give each point twice. Nothing here costs anything until a second source exists:
``watching`` stays False while the process has one RunHandler and no RunProcessor.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import Any, Mapping

from ..pipeline.conventions import FIELDS

__all__ = ["forget_event", "mark_event", "mark_record", "seen_record", "unwatch", "watch"]

#: True while this process has more than one RunHandler or RunProcessor (see watch()).
watching = False
_sources: weakref.WeakSet[Any] = weakref.WeakSet()


def watch(source: Any) -> None:
    """A RunHandler or RunProcessor was made: while two or more live, they check for repeats."""
    _sources.add(source)
    weakref.finalize(source, _recount)
    _recount()


def unwatch(source: Any) -> None:
    """A RunHandler was closed."""
    _sources.discard(source)
    _recount()


def _recount() -> None:
    global watching
    watching = sum(1 for _ in _sources) > 1


class _Last(threading.local):
    record: Any = None  # a weak reference to the LogRecord a RunHandler handled last
    wrote: tuple[tuple[str, str], ...] = ()  # the (run id, file) it went to
    event: tuple[tuple[str, Any], ...] | None = None  # the convention fields RunProcessor recorded
    event_run = ""
    event_file: str | None = None  # the file RunProcessor wrote its line to, if it did
    event_message: Any = None  # the event's message object: the bridged record's msg
    event_logger = ""
    event_at = 0.0


_last = _Last()

#: Seconds within which a LogRecord can be the event RunProcessor just recorded.
_HANDOFF_WINDOW = 1.0


def mark_record(record: Any, run_id: str, filename: str) -> None:
    """A RunHandler wrote ``record`` (its line, and its run data) into ``run_id``. Held by
    a weak reference: a record's traceback (and the frames' locals) is not kept alive."""
    last = _last
    if _is(last.record, record):
        last.wrote = (*last.wrote, (run_id, filename))
    else:
        try:
            last.record = weakref.ref(record)
        except TypeError:  # a record class with __slots__ and no __weakref__: not seen again
            last.record = None
        last.wrote = ((run_id, filename),)


def _is(ref: Any, record: Any) -> bool:
    return ref is not None and ref() is record


def seen_record(record: Any, run_id: str, filename: str) -> tuple[bool, bool]:
    """(its run data, its line in ``filename``) already written into ``run_id`` by another
    RunHandler, or by the RunProcessor whose event this record is."""
    last = _last
    if _is(last.record, record):
        data = line = False
        for run, file in last.wrote:
            if run == run_id:
                data = True
                line = line or file == filename
        if data:
            return data, line
    if last.event is not None and _is_last_event(record, run_id):
        return True, last.event_file == filename
    return False, False


def _signature(fields: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple((key, fields[key]) for key in _ORDER if key in fields)


_ORDER = tuple(sorted(FIELDS))


def mark_event(run_id: str, fields: Mapping[str, Any], filename: str | None, logger: str) -> None:
    """RunProcessor recorded the run data of an event with these fields into ``run_id``
    (and its line into ``filename``, unless None), from ``logger``."""
    last = _last
    last.event = _signature(fields)
    last.event_run = run_id
    last.event_file = filename
    last.event_message = fields.get("event")
    last.event_logger = logger
    last.event_at = time.time()


def forget_event() -> None:
    """RunProcessor took a new event: the one before it was not handed on (or was, already)."""
    _last.event = None


def _is_last_event(record: Any, run_id: str) -> bool:
    """Whether ``record`` is the event RunProcessor just recorded in this thread into this
    run, handed on by structlog's stdlib bridge: its message is the event's own message
    object (``render_to_log_kwargs``), or its msg the event dict holding it
    (``ProcessorFormatter.wrap_for_formatter``), from the same logger, moments later, with
    the same objects under the same convention keys. A record a plain ``logging`` call
    made, with equal values, is never it."""
    last = _last
    if last.event_run != run_id or not -0.01 <= record.created - last.event_at < _HANDOFF_WINDOW:
        return False
    msg = record.msg
    wrapped = isinstance(msg, dict)
    message = msg.get("event") if wrapped else msg
    if message is not last.event_message or (last.event_logger and record.name != last.event_logger):
        return False
    fields = msg if wrapped else record.__dict__
    signature = _signature(fields)
    event = last.event
    if event is None or len(signature) != len(event):
        return False
    if any(a[0] != b[0] or a[1] is not b[1] for a, b in zip(signature, event)):
        return False
    last.event = None  # one record per event
    return True
