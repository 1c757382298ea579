"""The run log files' line format: one JSON object per record (JSON Lines).

JSON keeps multi-line messages, tracebacks and attributes unambiguous, lets
many processes append to one file, and reads back structured
(``run.get_logs()``); ``tracklog logs`` renders the classic text view.
"""

from __future__ import annotations

import json
import logging
import time
from json.encoder import encode_basestring as _quote  # C-accelerated, keeps non-ASCII
from typing import Any

from ._event import Event


_second_cache: list = [None, ""]  # the last whole second seen, and its text


def _iso(ts: float) -> str:
    whole = int(ts)
    micros = int((ts - whole) * 1e6)
    cache = _second_cache
    if cache[0] != whole:
        cache[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        cache[0] = whole
    return f"{cache[1]}.{micros:06d}Z"


_level_names: dict[int, str] = {}


def _level(levelno: int) -> str:
    name = _level_names.get(levelno)
    if name is None:
        name = _level_names[levelno] = logging.getLevelName(levelno)
    return name


def _default(value: Any) -> str:
    return repr(value)


def _json(value: Any) -> str:
    """One JSON value; scalars by hand (fast), the rest through json.dumps."""
    kind = type(value)
    if kind is str:
        return _quote(value)
    if kind is float:
        if value != value:
            return "NaN"
        if value in (_INF, -_INF):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if kind is int:
        return str(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False, default=_default)


_INF = float("inf")


def encode_record(event: Event, rank: int | None) -> bytes:
    """One log event as a JSON line (bytes, newline-terminated)."""
    parts = [
        '{"time":"', _iso(event.ts), '","level":', _quote(_level(event.level)),
        ',"logger":', _quote(event.logger), ',"message":', _quote(event.message),
    ]
    if rank is not None:
        parts.append(f',"rank":{rank}')
    attrs = event.attrs
    if attrs:
        for key, value in attrs.items():
            if type(value) is dict:
                inner = ",".join(f"{_quote(str(k))}:{_json(v)}" for k, v in value.items())
                parts.append(f",{_quote(key)}:{{{inner}}}")
            else:
                parts.append(f",{_quote(key)}:{_json(value)}")
    parts.append(f',"ts":{event.ts!r},"levelno":{event.level}}}\n')
    return "".join(parts).encode("utf-8", "surrogateescape")


def decode_record(line: bytes | str) -> dict[str, Any] | None:
    """A JSON line back into a dict, or None for a line that is not one of ours."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or "message" not in record:
        return None
    return record


def render_text(record: dict[str, Any]) -> str:
    """The classic text view of a record: time, level, logger, message, traceback."""
    when = record.get("time", "")
    rank = record.get("rank")
    where = f"{record.get('logger', '')}" + (f" [rank {rank}]" if rank is not None else "")
    text = f"{when} {record.get('level', ''):<8} {where}: {record.get('message', '')}"
    exc = record.get("exc_text")
    if exc:
        text += "\n" + exc
    stack = record.get("stack_info")
    if stack:
        text += "\n" + stack
    return text
