"""The run log's JSON lines: the batch encoder writes exactly the lines of the one-event encoder."""

from __future__ import annotations

import enum
import itertools

from tracklog._logfile import decode_record, encode_record, encode_records


class _Level(enum.IntEnum):
    CUSTOM = 25


_TIMES = [1700000000.123456, 1700000000.9999999, 1700000001.0, 0.0, 5, True, float("nan"), -1.0, 1e300, None, "x"]
_LEVELS = [20, 0, _Level.CUSTOM, True, 20.7, "x"]
_MESSAGES = ["plain", 'é "quoted"\nsecond line', "caf\udcff", 3]
_ATTRS = [None, {}, {"exc_text": "Traceback ..."}, {"extra": {"n": 1, "list": [1, 2], "inf": float("inf")}}]


def _events() -> list[tuple]:  # type: ignore[type-arg]
    return [
        ("run", "log", "python.log", None, None, ts, level, "train", message, attrs)
        for ts, level, message, attrs in itertools.product(_TIMES, _LEVELS, _MESSAGES, _ATTRS)
    ]


def test_encode_records_writes_the_lines_encode_record_writes():
    """Odd times (NaN, out of range, not a number), levels, messages and attributes: one
    batch gives the same bytes as the events one at a time, and every line reads back."""
    events = _events()
    for rank in (None, 3):
        one_by_one = b"".join(encode_record(event, rank) for event in events)
        assert encode_records(events, rank) == one_by_one
        lines = one_by_one.splitlines()
        assert len(lines) == len(events)
        assert all(decode_record(line) is not None for line in lines)


def test_encode_records_of_nothing_is_empty():
    assert encode_records([], None) == b""
