"""The run log files' line format: one JSON object per record (JSON Lines).

JSON keeps multi-line messages, tracebacks and attributes unambiguous, lets
many processes append to one file, and reads back structured
(``run.get_logs()``); ``tracklog logs`` renders the classic text view.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from ._event import Event


def _iso(ts: float) -> str:
    whole = int(ts)
    micros = int(round((ts - whole) * 1e6))
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{micros:06d}Z"


def _default(value: Any) -> str:
    return repr(value)


def encode_record(event: Event, rank: int | None) -> bytes:
    """One log event as a JSON line (bytes, newline-terminated)."""
    record: dict[str, Any] = {
        "time": _iso(event.ts),
        "level": logging.getLevelName(event.level),
        "logger": event.logger,
        "message": event.message,
    }
    if rank is not None:
        record["rank"] = rank
    attrs = event.attrs
    if attrs:
        record.update(attrs)
    record["ts"] = event.ts
    record["levelno"] = event.level
    return (json.dumps(record, ensure_ascii=False, default=_default) + "\n").encode("utf-8", "replace")


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
