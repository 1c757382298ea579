"""The run log files' line format: one JSON object per record (JSON Lines).

JSON keeps multi-line messages, tracebacks and attributes unambiguous, lets
many processes append to one file, and reads back structured
(``run.get_logs()``); ``tracklog logs`` renders the classic text view.

Lines are UTF-8. Text that UTF-8 cannot encode (a lone surrogate, as
``os.fsdecode`` makes of an undecodable byte in a file name) is written as its
JSON escape (``\udcff``), so it reads back as the same str. Lines written
before held such a byte raw; they read back the same way. A field that cannot
be encoded at all (an object whose ``repr`` raises) becomes a placeholder; the
line is always written.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from json.encoder import encode_basestring as _quote  # C-accelerated, keeps non-ASCII
from typing import Any, Iterable

from . import _diag
from ._values import clean_text
from .pipeline.event import EVENT_FIELDS, Event, log_line_fields

# The last whole second seen and its text, as one tuple: threads swap it whole.
_second: list[tuple[int, str]] = [(-1, "")]
_strftime, _gmtime = time.strftime, time.gmtime


#: Times a line can carry: from the epoch up to the year 9999.
_MAX_TS = 253402300800.0


def _odd_time(ts: Any) -> float:
    """A record time outside the epoch..9999 (or NaN): the nearest one, with one warning."""
    fixed = 0.0 if ts != ts or ts < 0 else _MAX_TS - 1
    _diag.warn_once(("log-time", fixed), "tracklog: log record time %r is out of range; written as %r", ts, fixed)
    return fixed


_level_names: dict[int, str] = {}


def _level(levelno: int) -> str:
    """The level's name as logging gives it. Only registered names are kept: a level
    named later (``logging.addLevelName(25, "NOTICE")`` after a first record at 25) is
    not read as ``Level 25`` for ever after."""
    name = _level_names.get(levelno)
    if name is None:
        name = logging.getLevelName(levelno)
        if name != f"Level {levelno}":
            _level_names[levelno] = name
    return name


def _default(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"
    return text if type(text) is str else f"<unprintable {type(value).__name__}>"


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
#: Not any field's value: the cached text of encode_records' last line is to be made again.
_STALE = object()


#: The part of a line fixed by its level, logger and rank, between "time" and "message".
_heads: dict[tuple[int, str, int | None], str] = {}
_MAX_HEADS = 4096


def _head(levelno: int, logger: str, rank: int | None) -> str:
    if len(_heads) >= _MAX_HEADS:
        _heads.clear()
    level = _level(levelno)
    head = (
        f'Z","level":{_quote(level)},"logger":{_quote(logger)},'
        + ("" if rank is None else f'"rank":{rank},')
        + '"message":'
    )
    if levelno in _level_names:  # a level with no name yet may get one (see _level)
        _heads[(levelno, logger, rank)] = head
    return head


def _attrs_text(attrs: dict[str, Any]) -> str:
    parts = []
    for key, value in attrs.items():
        if type(value) is dict:
            inner = ",".join(f"{_quote(str(k))}:{_json(v)}" for k, v in value.items())
            parts.append(f",{_quote(key)}:{{{inner}}}")
        else:
            parts.append(f",{_quote(key)}:{_json(value)}")
    return "".join(parts)


def encode_record(event: Event, rank: int | None) -> bytes:
    """One log event as a JSON line (bytes, newline-terminated), for a store that encodes
    one event at a time: the line :func:`encode_records` writes for it."""
    return encode_records((event,), rank)


def encode_records(events: Iterable[Event], rank: int | None) -> bytes:
    """Log events as JSON lines (bytes, each line newline-terminated), in order.

    The writer thread encodes every record, so this is built for speed: one call
    per batch of a file's lines, the level/logger part from a cache, the time text
    cached per second, each line one f-string. "ts" is written to the microsecond,
    as "time" is (a float's repr would cost the writer a quarter of its time per line).
    A run of lines with one level, logger and message and no attributes (a metric
    logged in a loop) reuses the text between the two times: only the microseconds
    are formatted per line.
    """
    parts: list[str] = []
    append = parts.append
    heads = _heads
    whole, text = _second[0]
    # The second whose text is cached, as floats: a time in [low, high) is in range
    # and shares the text. No time matches before a first second is cached.
    low, high = (float(whole), whole + 1.0) if whole >= 0 else (_INF, -_INF)
    start = f'{{"time":"{text}.'
    # The line's text between the two times, and after the second, for the last
    # level, logger and message seen (_STALE: work it out again).
    last_level: Any = _STALE
    last_logger: Any = _STALE
    last_message: Any = _STALE
    middle = end = ""
    for event in events:
        # Read by index: the writer hands plain tuples of Event's fields too, and RunHandler's
        # shorter LOG_LINE layouts (see pipeline.event), which have no attributes.
        try:
            if len(event) < 10:  # EVENT_FIELDS, as a constant: this loop is the writer's hottest
                ts = event[1]
                message = event[4]
                logger = event[3]
                level = event[2]
                attrs = None
            else:
                ts = event[5]
                message = event[8]
                logger = event[7]
                level = event[6]
                attrs = event[9]
            if not low <= ts < high:
                if not 0.0 <= ts < _MAX_TS:
                    ts = _odd_time(ts)
                whole = int(ts)
                text = _strftime("%Y-%m-%dT%H:%M:%S", _gmtime(whole))
                low = float(whole)
                high = low + 1.0
                start = f'{{"time":"{text}.'
                last_message = _STALE  # the middle holds the second
            micros = "%06d" % ((ts - low) * 1e6)  # %d truncates, as int() would
            if message is not last_message or logger is not last_logger or level is not last_level or attrs:
                head = heads.get((level, logger, rank)) or _head(level, logger, rank)
                levelno = level if type(level) is int else "%d" % level
                if attrs:
                    last_message = _STALE
                    append(
                        f'{start}{micros}{head}{_quote(message)}{_attrs_text(attrs)}'
                        f',"ts":{whole}.{micros},"levelno":{levelno}}}\n'
                    )
                    continue
                middle = f'{head}{_quote(message)},"ts":{whole}.'
                end = f',"levelno":{levelno}}}\n'
                last_message, last_logger, last_level = message, logger, level
            # An f-string: a fifth cheaper than the same line as one %-format of its values.
            append(f"{start}{micros}{middle}{micros}{end}")
        except Exception:
            # A field of the wrong type (a custom LogRecord, a filter's edit) or an attribute
            # that cannot be encoded: the line is still written, so a point that shares its
            # queue item is not lost with it.
            last_message = _STALE
            append(_coerced_line(event, rank))
    _second[0] = (whole, text)
    lines = "".join(parts)
    try:
        return lines.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates sit inside JSON strings; \udcff is their JSON escape.
        return lines.encode("utf-8", "backslashreplace")


def _coerced_line(event: Event, rank: int | None) -> str:
    """The line of a log event whose fields are not the types encode_record takes."""
    if len(event) < EVENT_FIELDS:
        event = log_line_fields(event)
    try:
        ts = float(event[5])
    except Exception:
        ts = 0.0
    if not 0.0 <= ts < _MAX_TS:
        ts = _odd_time(ts)
    whole = int(ts)
    micros = int((ts - whole) * 1e6)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    level = event[6] if type(event[6]) is int else 0
    attrs = event[9] if type(event[9]) is dict else None
    head = _head(level, _text(event[7]), rank if type(rank) is int else None)
    try:
        extra = _attrs_text(attrs) if attrs else ""
    except Exception:
        extra = _attrs_text(_safe_attrs(attrs)) if attrs else ""
    return '{"time":"%s.%06d%s%s%s,"ts":%d.%06d,"levelno":%d}\n' % (
        text, micros, head, _quote(_text(event[8])), extra, whole, micros, level,
    )


def _safe_attrs(attrs: dict[Any, Any]) -> dict[str, Any]:
    """Attributes as values each known to encode: a failing one becomes its repr text."""
    safe: dict[str, Any] = {}
    for key, value in list(attrs.items()):
        name = _text(key)
        if type(value) is dict:
            safe[name] = {_text(k): _safe_value(v) for k, v in list(value.items())}
        else:
            safe[name] = _safe_value(value)
    return safe


def _safe_value(value: Any) -> Any:
    try:
        _json(value)
    except Exception:  # a circular list, a dict with odd keys, a repr that raises
        return _default(value)
    return value


def _text(value: Any) -> str:
    try:
        return value if type(value) is str else str(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"


def decode_record(line: bytes | str) -> dict[str, Any] | None:
    """A JSON line back into a dict, or None for a line that is not one of ours.

    A line with bytes that are not UTF-8 (written raw before lone surrogates were
    escaped) reads with those bytes as the surrogates ``os.fsdecode`` makes of them.
    """
    try:
        record = json.loads(line)
    except UnicodeDecodeError:
        try:
            record = json.loads(line.decode("utf-8", "surrogateescape"))  # type: ignore[union-attr]
        except ValueError:
            return None
    except ValueError:
        return None
    if not isinstance(record, dict) or "message" not in record:
        return None
    return record


def local_time(ts: float, timespec: str = "milliseconds") -> str:
    """A time as ISO 8601 in the local zone, with its offset: the one time format of the text views."""
    try:
        return datetime.fromtimestamp(ts).astimezone().isoformat(timespec=timespec)
    except (OverflowError, OSError, ValueError, TypeError):
        return repr(ts)


#: Fields of a record whose key/value pairs a console would print after the message.
_FIELD_GROUPS = ("extra", "attributes")


def render_text(record: dict[str, Any]) -> str:
    """The classic text view of a record: time, level, logger, message, key=value fields, traceback.

    The time is the local one (as ``tracklog ls`` and ``show`` give it); the
    record's ``extra=`` fields, structlog key/values and OpenTelemetry attributes
    follow the message as ``key=value``, sorted by key, as structlog's console prints them.
    """
    ts = record.get("ts")
    when = local_time(ts) if isinstance(ts, (int, float)) else record.get("time", "")
    rank = record.get("rank")
    where = f"{record.get('logger', '')}" + (f" [rank {rank}]" if rank is not None else "")
    text = f"{when} {record.get('level', ''):<8} {where}: {record.get('message', '')}"
    for group in _FIELD_GROUPS:
        fields = record.get(group)
        if isinstance(fields, dict) and fields:
            text += " " + " ".join(f"{key}={_field_value(fields[key])}" for key in sorted(fields))
    exc = record.get("exc_text")
    if exc:
        text += "\n" + exc
    stack = record.get("stack_info")
    if stack:
        text += "\n" + stack
    # A lone surrogate (an undecodable byte of a file name) shows as its escape: any console prints it.
    return text if text.isascii() else clean_text(text)


def _field_value(value: Any) -> str:
    """A field's value as a console shows it: a plain word bare, anything else as JSON."""
    if isinstance(value, str) and value and not any(c.isspace() or c in "=\"'" for c in value):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)
