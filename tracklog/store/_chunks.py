"""Packing metric points into chunks (arrays in BLOBs) and unpacking them again.

A chunk holds one metric's points from one written batch, in arrival order.
Steps and times are int64/float64 arrays; values are float64 or int64 arrays
when they are all of one numeric type, else a JSON list (strings, mixed).
"""

from __future__ import annotations

import gc
import json
import math
import struct
import sys
from array import array
from contextlib import contextmanager
from functools import partial
from itertools import repeat
from typing import Any, Iterator, Sequence

from .._types import MetricPoint

_LITTLE = sys.byteorder == "little"
_INT64 = (-(2**63), 2**63 - 1)
_make_point = partial(tuple.__new__, MetricPoint)
_FLOAT = {float}
_INT = {int}
_NUMBERS = {float, int}


def _pack(typecode: str, items: Sequence[Any]) -> bytes:
    # struct converts each item with PyFloat_AsDouble / PyLong_AsLongLong: about twice as
    # fast as array(typecode, items), which parses every item as an argument. Little endian.
    return struct.pack(f"<{len(items)}{typecode}", *items)


def _unpack(typecode: str, blob: bytes) -> array:  # type: ignore[type-arg]
    packed = array(typecode)
    packed.frombytes(blob)
    if not _LITTLE:
        packed.byteswap()
    return packed


def pack_chunk(steps: list[int], values: list[Any], times: list[float]) -> dict[str, Any]:
    """The columns of one chunk row for these points (same length, arrival order)."""
    # Whole-list operations that run in C: a chunk holds up to a batch of points.
    types = set(map(type, values))
    if types == _FLOAT:
        encoding, vals = "f8", _pack("d", values)
    elif types == _INT and _INT64[0] <= min(values) and max(values) <= _INT64[1]:
        encoding, vals = "i8", _pack("q", values)
    else:
        encoding = "json"
        vals = json.dumps(values, ensure_ascii=False).encode("utf-8")
    if types == _INT or (types <= _NUMBERS and math.isfinite(sum(values))):
        numeric = values  # a NaN or an infinity would make the sum one of them
    else:
        numeric = [v for v in values if (type(v) is float or type(v) is int) and math.isfinite(v)]
    ordered = steps == sorted(steps)
    if ordered:
        min_step, max_step, last_index = steps[0], steps[-1], len(steps) - 1
    else:
        min_step, max_step = min(steps), max(steps)
        # The value at the highest step, the latest to arrive among equals.
        last_index = len(steps) - 1 - steps[::-1].index(max_step)
    last = values[last_index]
    # The points of one output chunk share its time: one packed time, repeated.
    ts = _pack("d", times[:1]) * len(times) if times.count(times[0]) == len(times) else _pack("d", times)
    return {
        "count": len(steps),
        "min_step": min_step,
        "max_step": max_step,
        "ordered": int(ordered),
        "min_value": min(numeric) if numeric else None,
        "max_value": max(numeric) if numeric else None,
        "last_value": None if last != last else last,  # NULL stands for NaN
        "first_ts": times[0],
        "last_ts": times[-1],
        "encoding": encoding,
        "steps": _pack("q", steps),
        "vals": vals,
        "ts": ts,
    }


def unpack_values(encoding: str, blob: bytes) -> list[Any]:
    """A chunk's values as a list."""
    if encoding == "f8":
        return _unpack("d", blob).tolist()
    if encoding == "i8":
        return _unpack("q", blob).tolist()
    return json.loads(blob)


@contextmanager
def collector_paused() -> Iterator[None]:
    """The garbage collector paused while a read builds many MetricPoints at once.

    A MetricPoint is a NamedTuple, which the collector never stops tracking (it untracks
    plain tuples only), so every pass over a growing list of them walks it all again:
    two thirds of the time a million-point history took to read. It is enabled again
    afterwards, unless the program had it off itself.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def unpack_points(
    encoding: str, steps: bytes, vals: bytes, ts: bytes, rank: int | None
) -> list[MetricPoint]:
    """A chunk's points as MetricPoint tuples, in arrival order."""
    return list(
        map(
            _make_point,
            zip(_unpack("q", steps), unpack_values(encoding, vals), _unpack("d", ts), repeat(rank)),
        )
    )
