"""The one internal event type: every source builds these, every sink consumes them."""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

#: Metric-like kinds: a scalar series, a list, a table row, an image reference.
METRIC = "metric"
LIST = "list"
ROW = "row"
IMAGE = "image"
METRIC_KINDS = frozenset({METRIC, LIST, ROW, IMAGE})
TAG = "tag"
PARAM = "param"
#: A log record; ``name`` is the run log file it goes to (``python.log``).
LOG = "log"
#: A captured output line; ``name`` is the file, ``logger`` the stream, ``value`` bytes.
OUTPUT = "output"
#: A run's end: ``name`` its status, ``value`` its error text or None. For the sinks that
#: pass it on (OTLP routing); the stores keep a status through ``set_status`` and skip it.
STATUS = "status"
#: Many points of one metric at one time, as a fast-path layout only (see below).
POINTS = "points"


class Event(NamedTuple):
    """One thing that happened to a run.

    ``ts`` is seconds since the epoch. For metric kinds ``name``/``value``/``step``
    are the point; for ``tag``/``param`` the key and its string value; for ``log``
    ``name`` is the log file, ``level``/``logger``/``message`` the record and
    ``attrs`` its extra fields (``exc_text``, trace ids, ...).
    """

    run_id: str
    kind: str
    name: str
    value: Any
    step: int | None
    ts: float
    level: int = 0
    logger: str = ""
    message: str = ""
    attrs: dict[str, Any] | None = None


# -- the fast-path layouts -------------------------------------------------------
#
# Hot paths enqueue plain tuples rather than Events: the garbage collector stops
# tracking a plain tuple of atoms at its next pass, but never a NamedTuple, so a long
# queue of Events slows every collection on the caller's side. The layouts below exist;
# as_events() is the one place that turns them back into Events (the SQLite store also
# reads them by index, for speed).

#: A plain tuple of an Event's ten fields, in Event's order.
EVENT_FIELDS = 10
#: A third layout has Event's ten fields with kind POINTS: ``value`` is a list of
#: values and ``step`` a list of steps of the same length, all of metric ``name`` at
#: time ``ts`` (the metric lines of one chunk of output). It stands for one METRIC
#: event per point, in order; the run store takes the lists as they are.

#: RunHandler's plain log record, five fields: ``(head, ts, level, logger, message)``,
#: where ``head`` is the tuple ``(run_id, LOG, file name)`` one handler shares between
#: its records into one run. Half an Event's tuple: a burst of records held in the
#: queue costs the caller fewer fresh memory pages and a shorter collector pass.
LOG_LINE = 5
#: RunHandler's log record that carried one metric point: LOG_LINE's five fields, then
#: the point's ``name``, ``value`` and ``step`` (8 in all). It stands for two events,
#: the point first.
LOG_LINE_WITH_POINT = 8

#: Turns a plain tuple of Event's fields into an Event without a Python-level call.
_as_event = tuple.__new__


def line_head(run_id: str, filename: str) -> tuple[str, str, str]:
    """The ``head`` of a LOG_LINE: the run, the kind and the log file."""
    return (run_id, LOG, filename)


def log_line_fields(item: tuple[Any, ...]) -> tuple[Any, ...]:
    """A LOG_LINE (or LOG_LINE_WITH_POINT) item's log event as Event's ten fields."""
    head = item[0]
    return (head[0], LOG, head[2], None, None, item[1], item[2], item[3], item[4], None)


def as_events(items: Sequence[Any]) -> list[Event]:
    """Queue items (Events, or the plain-tuple layouts above) as Events."""
    events = []
    append = events.append
    for item in items:
        if type(item) is tuple:
            size = len(item)
            if size == EVENT_FIELDS:
                if item[1] == POINTS:
                    run_id, _, name, values, steps, ts = item[:6]
                    events.extend(
                        _as_event(Event, (run_id, METRIC, name, value, step, ts, 0, "", "", None))
                        for value, step in zip(values, steps)
                    )
                else:
                    append(_as_event(Event, item))
            else:
                if size == LOG_LINE_WITH_POINT:
                    name, value, step = item[5:]
                    run_id, ts = item[0][0], item[1]
                    append(_as_event(Event, (run_id, METRIC, name, value, step, ts, 0, "", "", None)))
                append(_as_event(Event, log_line_fields(item)))
        else:
            append(item)
    return events
