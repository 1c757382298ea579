"""How the ``tracklog`` commands write things for people: times, durations, numbers, counts.

One function per kind of value, so ``ls``, ``show``, ``logs`` and ``metrics``
say a time, a number or a metric the same way.
"""

from __future__ import annotations

import json
import math
import sys
import time
from typing import Any, NamedTuple, TextIO

from .._logfile import local_time
from ..pipeline.event import IMAGE, LIST, ROW
from ..store import Store


def when(ts: float | None) -> str:
    """A run's start or end: ISO 8601 to the second, local zone with its offset; '-' when unset."""
    return "-" if ts is None else local_time(ts, "seconds")


def point_time(ts: float) -> str:
    """A metric point's or log line's time: as :func:`when`, to the millisecond."""
    return local_time(ts, "milliseconds")


def duration(start: float, end: float | None) -> str:
    """How long a run took (or has taken so far), to the millisecond: 0.012s, 2m03.456s, 1h02m03.456s."""
    seconds = max(0.0, (end if end is not None else time.time()) - start)
    if 0.0 < seconds < 0.0005:
        return "<0.001s"
    millis = round(seconds * 1000)
    minutes, millis = divmod(millis, 60_000)
    if not minutes:
        return f"{millis / 1000:.3f}s"
    hours, minutes = divmod(minutes, 60)
    secs = f"{millis // 1000:02d}.{millis % 1000:03d}s"
    return f"{hours}h{minutes:02d}m{secs}" if hours else f"{minutes}m{secs}"


def number(value: Any, exact: bool = False) -> str:
    """A metric value: floats to 6 significant digits (every digit when ``exact``), the rest as they are."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return repr(value) if exact else f"{value:.6g}"
    if value is None:
        return "-"
    return str(value).replace("\n", "\\n")


def plural(count: int, word: str, words: str | None = None) -> str:
    """``1 line``, ``2 lines``; ``words`` for a plural that is not ``word + "s"``."""
    return f"{count} {word if count == 1 else (words or word + 's')}"


def table(rows: list[list[str]], out: TextIO | None = None) -> None:
    """Rows as left-aligned columns two spaces apart; the first row is usually the header."""
    out = out or sys.stdout
    if not rows:
        return
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(max(map(len, rows)))]
    for row in rows:
        out.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() + "\n")


class MetricSummary(NamedTuple):
    """One metric of a run as ``show`` and ``metrics`` print it."""

    name: str
    kind: str
    count: int
    last: str
    low: str = ""
    high: str = ""


def summarize(store: Store, run_id: str) -> list[MetricSummary]:
    """Every metric of the run: the last value, the count and, for a numeric series, min and max.

    A list or a table is named as such (``list of 5``, ``table 3 rows × 2 columns``),
    never shown as its last element.
    """
    summaries = []
    for name, kind in store.metric_kinds(run_id).items():
        values = [point.value for point in store.metric_history(run_id, name)]
        summaries.append(_summary(name, kind, values))
    return summaries


def _summary(name: str, kind: str, values: list[Any]) -> MetricSummary:
    count = len(values)
    if kind == LIST:
        return MetricSummary(name, kind, count, f"list of {count}")
    if kind == ROW:
        columns: dict[str, None] = {}
        for value in values:
            columns.update(dict.fromkeys(_row(value)))
        return MetricSummary(name, "table", count, f"table {plural(count, 'row')} × {plural(len(columns), 'column')}")
    last = number(values[-1]) if values else "-"
    if kind == IMAGE:
        return MetricSummary(name, kind, count, f"image {last}")
    numeric = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    known = [v for v in numeric if v == v]  # NaN has no place in an order
    if count > 1 and len(numeric) == count and known:
        return MetricSummary(name, kind, count, last, number(min(known)), number(max(known)))
    return MetricSummary(name, kind, count, last)


def _row(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    try:
        row = json.loads(value)
    except (TypeError, ValueError):
        return {}
    return row if isinstance(row, dict) else {}
