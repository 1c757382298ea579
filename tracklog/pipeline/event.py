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
# queue of Events slows every collection on the caller's side. Two layouts exist;
# as_events() is the one place that turns them back into Events.

#: A plain tuple of an Event's ten fields, in Event's order.
EVENT_FIELDS = 10
#: A log record that carried one metric point: the log event's ten fields, then the
#: point's name, value and step (13 in all). It stands for two events, the point first.
LOG_WITH_POINT = 13
#: A third layout has Event's ten fields with kind POINTS: ``value`` is a list of
#: values and ``step`` a list of steps of the same length, all of metric ``name`` at
#: time ``ts`` (the metric lines of one chunk of output). It stands for one METRIC
#: event per point, in order; the run store takes the lists as they are.

#: Turns a plain tuple of Event's fields into an Event without a Python-level call.
_as_event = tuple.__new__


def as_events(items: Sequence[Any]) -> list[Event]:
    """Queue items (Events, or the plain-tuple layouts above) as Events."""
    events = []
    append = events.append
    for item in items:
        if type(item) is tuple:
            if len(item) == EVENT_FIELDS:
                if item[1] == POINTS:
                    run_id, _, name, values, steps, ts = item[:6]
                    events.extend(
                        _as_event(Event, (run_id, METRIC, name, value, step, ts, 0, "", "", None))
                        for value, step in zip(values, steps)
                    )
                else:
                    append(_as_event(Event, item))
            else:
                run_id, _, _, _, _, ts, _, _, _, _, name, value, step = item
                append(_as_event(Event, (run_id, METRIC, name, value, step, ts, 0, "", "", None)))
                append(_as_event(Event, item[:EVENT_FIELDS]))
        else:
            append(item)
    return events
