"""OTLP/HTTP request bodies to protobuf messages and back: the two encodings, gzip, limits.

The JSON encoding is the protobuf JSON mapping with the OTLP spec's exceptions:
trace and span ids are hex (not base64), enums may be ints, int64 may be strings,
keys camelCase or snake_case. An integer beyond int64 (``"intValue": 1.18e+21``, as
OpenTelemetry JS spells a large integer-valued number, or ``"18446744073709551615"``) is
taken as the nearest double, with one warning per attribute, as tracklog stores ints beyond
64 bits elsewhere; the protobuf parser would refuse the whole request for it. The body is
read within a size limit, compressed and decompressed alike (a gzip bomb stops at the limit).
"""

from __future__ import annotations

import base64
import json
import math
import re
import zlib
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from .. import _diag

__all__ = [
    "JSON",
    "PROTOBUF",
    "BadRequest",
    "TooLarge",
    "Unsupported",
    "decode",
    "encode",
    "inflate",
]

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

#: Fields holding ids: hex in OTLP/JSON, bytes (base64 in the protobuf JSON mapping) here.
_ID_FIELDS = frozenset({"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"})
#: int64 fields of a value (AnyValue, a data point, an exemplar) and their double twins.
_INT_FIELDS = {"intValue": "doubleValue", "int_value": "double_value", "asInt": "asDouble", "as_int": "as_double"}
_INT64 = range(-(2**63), 2**63)
_INTEGER = re.compile(r"\s*[-+]?\d+\s*")


class BadRequest(ValueError):
    """The body is not a valid request of its encoding (HTTP 400)."""


class TooLarge(ValueError):
    """The body, or what it decompresses to, is over the limit (HTTP 413)."""


class Unsupported(ValueError):
    """A content type or encoding the receiver does not speak (HTTP 415)."""


def content_type(header: str | None) -> str:
    """The media type of a Content-Type header; Unsupported unless protobuf or JSON."""
    media = (header or "").split(";", 1)[0].strip().lower()
    if media in (PROTOBUF, JSON):
        return media
    raise Unsupported(f"content type {media or '(none)'!r}: send {PROTOBUF} or {JSON}")


def inflate(body: bytes, encoding: str | None, limit: int) -> bytes:
    """The body with its Content-Encoding (gzip, or none) undone, at most ``limit`` bytes."""
    coding = (encoding or "identity").strip().lower()
    if coding in ("identity", ""):
        return body
    if coding not in ("gzip", "deflate"):
        raise Unsupported(f"content encoding {coding!r}: send gzip or none")
    inflater = zlib.decompressobj(wbits=47 if coding == "gzip" else 15)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise BadRequest(f"the {coding} body does not decompress: {exc}") from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise TooLarge(f"the body decompresses to more than {limit} bytes")
    if not inflater.eof:
        raise BadRequest(f"the {coding} body is truncated")
    return out


def decode(body: bytes, media: str, message: Message) -> Message:
    """Fill ``message`` from the body in its encoding; BadRequest when it is not one."""
    if media == PROTOBUF:
        try:
            message.ParseFromString(body)
        except (DecodeError, RuntimeError, ValueError) as exc:
            raise BadRequest(f"the protobuf body does not parse: {exc}") from exc
        return message
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadRequest(f"the JSON body does not parse: {exc}") from exc
    if not isinstance(data, dict):
        raise BadRequest("the JSON body is not an object")
    try:
        json_format.ParseDict(_prepared(data, 0, ""), message, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, RecursionError) as exc:
        raise BadRequest(f"the JSON body is not an OTLP request: {exc}") from exc
    return message


def encode(message: Message, media: str) -> bytes:
    """A response message in the request's encoding."""
    if media == PROTOBUF:
        return message.SerializeToString()
    return json.dumps(json_format.MessageToDict(message)).encode()


def _prepared(node: Any, depth: int, key: str) -> Any:
    """The JSON tree as the protobuf JSON parser takes it: hex trace and span ids as base64,
    an integer beyond int64 as a double; ``key`` names the attribute or metric being read, for the
    warning."""
    if depth > 64:
        raise BadRequest("the JSON body is nested too deeply")
    if isinstance(node, dict):
        label = node.get("key", node.get("name"))  # an attribute's key, a metric's name
        if isinstance(label, str):
            key = label
        out = {}
        for name, item in node.items():
            if name in _ID_FIELDS and isinstance(item, str):
                try:
                    item = base64.b64encode(bytes.fromhex(item)).decode("ascii")
                except ValueError as exc:
                    raise BadRequest(f"{name} {item!r} is not hex") from exc
            elif name in _INT_FIELDS:
                wide = _beyond_int64(item)
                if wide is not None:
                    _diag.warn_once(("otlp-wide-int", key or name), "tracklog: OTLP %s %s is beyond 64 bits: "
                                    "taken as the nearest float, %r", key or name, item, wide)
                    name, item = _INT_FIELDS[name], wide
            elif isinstance(item, (dict, list)):
                item = _prepared(item, depth + 1, key)
            out[name] = item
        return out
    if isinstance(node, list):
        return [_prepared(item, depth + 1, key) if isinstance(item, (dict, list)) else item for item in node]
    return node


def _beyond_int64(item: Any) -> float | None:
    """The nearest float of an integer (a JSON number or decimal string) outside int64, else
    None (the parser takes it, or says why not)."""
    if isinstance(item, float):
        if not math.isfinite(item) or not item.is_integer():
            return None
        number = int(item)
    elif isinstance(item, int) and not isinstance(item, bool):
        number = item
    elif isinstance(item, str) and len(item) < 400 and _INTEGER.fullmatch(item):
        number = int(item)
    else:
        return None
    if number in _INT64:
        return None
    try:
        return float(number)
    except OverflowError:  # beyond even a double (a 400-digit string): the parser refuses it
        return None
