"""The one internal event type: every source builds these, every sink consumes them."""

from __future__ import annotations

from typing import Any, NamedTuple

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
