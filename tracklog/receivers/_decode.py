"""OTLP/HTTP request bodies to protobuf messages and back: the two encodings, gzip, limits.

The JSON encoding is the protobuf JSON mapping with the OTLP spec's exceptions:
trace and span ids are hex (not base64), enums may be ints, int64 may be strings,
keys camelCase or snake_case. The body is read within a size limit, compressed and
decompressed alike (a gzip bomb stops at the limit).
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

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
        json_format.ParseDict(_ids_to_base64(data, 0), message, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, RecursionError) as exc:
        raise BadRequest(f"the JSON body is not an OTLP request: {exc}") from exc
    return message


def encode(message: Message, media: str) -> bytes:
    """A response message in the request's encoding."""
    if media == PROTOBUF:
        return message.SerializeToString()
    return json.dumps(json_format.MessageToDict(message)).encode()


def _ids_to_base64(node: Any, depth: int) -> Any:
    """Hex trace and span ids as the base64 the protobuf JSON parser expects."""
    if depth > 64:
        raise BadRequest("the JSON body is nested too deeply")
    if isinstance(node, dict):
        out = {}
        for key, item in node.items():
            if key in _ID_FIELDS and isinstance(item, str):
                try:
                    item = base64.b64encode(bytes.fromhex(item)).decode("ascii")
                except ValueError as exc:
                    raise BadRequest(f"{key} {item!r} is not hex") from exc
            elif isinstance(item, (dict, list)):
                item = _ids_to_base64(item, depth + 1)
            out[key] = item
        return out
    if isinstance(node, list):
        return [_ids_to_base64(item, depth + 1) if isinstance(item, (dict, list)) else item for item in node]
    return node
