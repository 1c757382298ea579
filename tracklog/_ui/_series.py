"""Metric series for charts: the min and the max per pixel bucket, from the store's chunks.

A chart is a few thousand pixels wide at most, so the page never needs more
than two points per pixel column. The embedded store keeps points in chunks
that carry their step range and min/max: a chunk that falls inside one bucket
is merged from that summary, the others are unpacked and reduced with the
builtin ``min``/``max`` over array slices. That keeps 50 series of 100,000
points well under a second in pure Python (no numpy needed).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Sequence

from .._types import MetricPoint
from ..pipeline.event import LIST, METRIC
from ..store import Chunk, KeySummary, Store, bucket_count, numbers

_NAN = float("nan")
_INF = float("inf")
_NEG_INF = -_INF


def series_json(x: list[Any], y: list[Any], points: int, downsampled: bool) -> dict[str, Any]:
    """The JSON shape of a chart series; non-finite values become null (a gap)."""
    return {
        "x": x,
        "y": [v if v is None or math.isfinite(v) else None for v in y],
        "points": points,
        "downsampled": downsampled,
    }


def _sorted_chunk(steps: Sequence[int], values: Sequence[float]) -> tuple[Sequence[int], Sequence[float]]:
    order = sorted(range(len(steps)), key=steps.__getitem__)
    return [steps[i] for i in order], [values[i] for i in order]


def downsample(
    chunks: Sequence[Chunk], buckets: int, lo: int | None = None, hi: int | None = None
) -> dict[str, Any]:
    """Min/max per bucket of the points with lo <= step <= hi; all points when few.

    Each bucket gives at most two points, at its first and last step, ordered
    so that a rising or falling curve stays one line. Buckets holding only
    NaN give a null (a gap in the chart).
    """
    live = [c for c in chunks if c.count]
    if not live:
        return series_json([], [], 0, False)
    lo = min(c.min_step for c in live) if lo is None else lo
    hi = max(c.max_step for c in live) if hi is None else hi
    live = [c for c in live if c.max_step >= lo and c.min_step <= hi]
    total = sum(_points_in(c, lo, hi) for c in live)
    if total <= 2 * bucket_count(buckets) and all(c.steps is not None for c in live):
        return _all_points(live, lo, hi)
    span = hi - lo + 1
    buckets = bucket_count(buckets, span)
    count = [0] * buckets
    vmin: list[Any] = [None] * buckets
    vmax: list[Any] = [None] * buckets
    first_step: list[Any] = [None] * buckets
    last_step: list[Any] = [None] * buckets
    first_val: list[Any] = [None] * buckets
    last_val: list[Any] = [None] * buckets

    def merge(b: int, n: int, s0: int, s1: int, mn: Any, mx: Any, v0: Any, v1: Any) -> None:
        if count[b] == 0 or s0 < first_step[b]:
            first_step[b], first_val[b] = s0, v0
        if count[b] == 0 or s1 >= last_step[b]:
            last_step[b], last_val[b] = s1, v1
        count[b] += n
        if mn is not None and (vmin[b] is None or mn < vmin[b]):
            vmin[b] = mn
        if mx is not None and (vmax[b] is None or mx > vmax[b]):
            vmax[b] = mx

    in_points = 0
    for chunk in live:
        inside = chunk.min_step >= lo and chunk.max_step <= hi
        b0 = (max(chunk.min_step, lo) - lo) * buckets // span
        b1 = (min(chunk.max_step, hi) - lo) * buckets // span
        if inside and b0 == b1 and chunk.steps is None:
            # The whole chunk lies in one bucket: its stored summary is enough.
            merge(b0, chunk.count, chunk.min_step, chunk.max_step,
                  chunk.min_value, chunk.max_value, None, None)
            in_points += chunk.count
            continue
        steps, values = chunk.steps, chunk.values
        if steps is None or values is None:
            raise ValueError("a chunk spanning several buckets must carry its points")
        if not chunk.ordered:
            steps, values = _sorted_chunk(steps, values)
        start = bisect_left(steps, lo)
        stop = len(steps) if hi >= chunk.max_step else bisect_left(steps, hi + 1)
        in_points += stop - start
        while start < stop:
            b = (steps[start] - lo) * buckets // span
            edge = lo + ((b + 1) * span + buckets - 1) // buckets
            end = bisect_left(steps, edge, start, stop)
            part = values[start:end]
            mn, mx = min(part), max(part)
            if not (_NEG_INF < mn and mx < _INF):  # NaN (min/max cannot skip it first) or inf
                finite = [v for v in part if _NEG_INF < v < _INF]
                mn, mx = (min(finite), max(finite)) if finite else (None, None)
            merge(b, end - start, steps[start], steps[end - 1], mn, mx, part[0], part[-1])
            start = end
    x: list[Any] = []
    y: list[Any] = []
    for b in range(buckets):
        if not count[b]:
            continue
        low, high = vmin[b], vmax[b]
        s0, s1 = first_step[b], last_step[b]
        if low is None:
            x.append(s0)
            y.append(None)
        elif low == high and s0 == s1:
            x.append(s0)
            y.append(low)
        else:
            v0, v1 = first_val[b], last_val[b]
            falling = v0 is not None and v1 is not None and v0 > v1
            x.extend((s0, s1))
            y.extend((high, low) if falling else (low, high))
    return series_json(x, y, in_points, True)


def _points_in(chunk: Chunk, lo: int, hi: int) -> int:
    """How many of the chunk's points have lo <= step <= hi (all, when not loaded)."""
    steps = chunk.steps
    if (chunk.min_step >= lo and chunk.max_step <= hi) or steps is None:
        return chunk.count
    if chunk.ordered:
        return bisect_right(steps, hi) - bisect_left(steps, lo)
    return sum(1 for s in steps if lo <= s <= hi)


def _all_points(chunks: Sequence[Chunk], lo: int, hi: int) -> dict[str, Any]:
    pairs: list[tuple[int, Any]] = []
    for chunk in chunks:
        if chunk.steps is None or chunk.values is None:
            raise ValueError("chunk points are needed to list every point")
        pairs.extend(p for p in zip(chunk.steps, chunk.values) if lo <= p[0] <= hi)
    pairs.sort(key=lambda p: p[0])  # stable: equal steps keep their arrival order
    x = [p[0] for p in pairs]
    y = [None if p[1] != p[1] else p[1] for p in pairs]
    return series_json(x, y, len(pairs), False)


def chunks_from_points(points: Sequence[MetricPoint]) -> list[Chunk]:
    """Points read through the generic Store API as one chunk (for stores without chunks)."""
    if not points:
        return []
    pairs = sorted(((p.step, p.value) for p in points), key=lambda p: p[0])
    steps = [p[0] for p in pairs]
    values = numbers([p[1] for p in pairs])
    finite = [v for v in values if math.isfinite(v)]
    return [
        Chunk(
            len(steps), steps[0], steps[-1], True,
            min(finite) if finite else None, max(finite) if finite else None, steps, values,
        )
    ]


class SeriesSource:
    """Chart data for one workspace: fast chunk reads on the embedded store, else Store reads."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.reader = store.series_reader()

    def close(self) -> None:
        """Release the reader's connections."""
        if self.reader is not None:
            self.reader.close()

    def snapshot(self) -> AbstractContextManager[None]:
        """Reads inside the block see one snapshot of the store (one read transaction)."""
        return self.reader.snapshot() if self.reader is not None else nullcontext()

    def summaries(self, run_id: str) -> list[KeySummary]:
        """Every metric of the run with its kind and size."""
        if self.reader is not None:
            return self.reader.summaries(run_id)
        result = []
        for name, kind in self.store.metric_kinds(run_id).items():
            points = self.store.metric_history(run_id, name)
            steps = [p.step for p in points]
            values = [p.value for p in points]
            numeric = any(
                (type(v) is float or type(v) is int) and math.isfinite(v) for v in values
            )
            text = any(isinstance(v, str) for v in values)
            result.append(
                KeySummary(name, kind, len(points), min(steps, default=None),
                           max(steps, default=None), numeric, text)
            )
        return result

    def series(
        self, run_id: str, name: str, buckets: int, lo: int | None = None, hi: int | None = None
    ) -> dict[str, Any]:
        """One numeric metric downsampled to ``buckets`` pixel buckets over [lo, hi]."""
        if self.reader is not None:
            chunks = self.reader.chunks(run_id, name, buckets, lo, hi)
        else:
            chunks = chunks_from_points(self.store.metric_history(run_id, name))
        return downsample(chunks, buckets, lo, hi)

    def values(self, run_id: str, name: str, limit: int = 0) -> tuple[int, list[tuple[int, Any]]]:
        """(total count, the last ``limit`` (step, value) pairs) of a metric, values as stored."""
        if self.reader is not None:
            return self.reader.raw_values(run_id, name, limit)
        points = self.store.metric_history(run_id, name)
        pairs = [(p.step, p.value) for p in points]
        return len(pairs), pairs[-limit:] if limit else pairs


def chart_type(summary: KeySummary) -> str:
    """How the page shows a metric, after Azure ML's rules.

    A repeated scalar or a list: a line over step ('line'); a single scalar:
    a value ('value'); strings: a table ('text'); rows: 'table' (charted when
    two columns are numeric); images: 'image'.
    """
    if summary.kind == "row":
        return "table"
    if summary.kind == "image":
        return "image"
    if not summary.numeric and summary.text:
        return "text"
    if summary.kind == METRIC and summary.count == 1:
        return "value"
    if summary.kind in (METRIC, LIST):
        return "line"
    return "text"


