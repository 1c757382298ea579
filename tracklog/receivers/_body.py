"""An OTLP/HTTP request's body off the wire: by its Content-Length, or chunked, within the limit.

Node.js's OTLP exporter streams its body (``Transfer-Encoding: chunked``, no
Content-Length), and so does Java's OkHttp sender with gzip: a receiver that wanted a
Content-Length would refuse them all. A chunked body is decoded here, counted against
the same size limit as a declared one (over it: :class:`~._decode.TooLarge`, 413), its
chunk extensions ignored and its trailers read and dropped. A request with neither
header is :class:`LengthRequired` (411); another transfer coding is
:class:`UnknownCoding` (501, as RFC 9112 asks). A chunked body that ends before its
last chunk, or whose framing is not chunked framing, is :class:`BadFraming` (400, and
the connection is closed: what follows on it is not a request). A body shorter than its
Content-Length, or chunked and ending before its last chunk (the client went away
mid-body), is :class:`Truncated`: nothing of it is parsed, so nothing of it is stored,
though a protobuf prefix would parse (the client got no answer, and sends it again whole).
A client that sends nothing for the socket's timeout mid-body is :class:`Stalled`: nothing
is parsed either, and the connection is closed unanswered (it is not there to read one).
"""

from __future__ import annotations

import re
from email.message import Message
from typing import BinaryIO

from ._decode import BadRequest, TooLarge

__all__ = ["BadFraming", "LengthRequired", "Stalled", "Truncated", "UnknownCoding", "read_body"]

#: The longest chunk-size or trailer line taken (bytes): a size with extensions fits easily.
_LINE_MAX = 4096
#: The most trailer lines taken after the last chunk.
_TRAILERS_MAX = 64
_SIZE = re.compile(rb"[0-9A-Fa-f]{1,15}")


class BadFraming(BadRequest):
    """A body whose framing is broken (HTTP 400): the connection's next bytes cannot be
    trusted to start a request, so it is closed after the answer."""


class Truncated(BadFraming):
    """The body ended before its end (HTTP 400 if anyone still listens; nothing stored)."""


class Stalled(Exception):
    """The client sent nothing for the read timeout within the body: close, answer nothing."""


class LengthRequired(ValueError):
    """Neither a Content-Length nor a chunked body (HTTP 411)."""


class UnknownCoding(ValueError):
    """A transfer coding other than chunked (HTTP 501)."""


def read_body(rfile: BinaryIO, headers: Message, limit: int) -> bytes:
    """The body as it came (still compressed when it is): chunked, or by Content-Length;
    whole, or :class:`Truncated` (also when the connection fails mid-body), or
    :class:`Stalled` when the socket's timeout passed mid-body."""
    try:
        return _read(rfile, headers, limit)
    except TimeoutError as exc:
        raise Stalled(f"the client sent nothing for {exc} within the body") from exc
    except OSError as exc:  # reset mid-body: as a body that ended early
        raise Truncated(f"the connection failed within the body: {exc}") from exc


def _read(rfile: BinaryIO, headers: Message, limit: int) -> bytes:
    coding = headers.get("Transfer-Encoding")
    if coding is not None:
        if [part.strip().lower() for part in coding.split(",")] != ["chunked"]:
            raise UnknownCoding(f"transfer coding {coding!r}: send chunked, or a Content-Length")
        return _read_chunked(rfile, limit)
    length = headers.get("Content-Length")
    if length is None or not length.strip().isdigit():
        raise LengthRequired("a Content-Length or a chunked body is required")
    size = int(length)
    if size > limit:
        raise TooLarge(f"the body is over {limit} bytes")
    body = rfile.read(size)
    if len(body) < size:
        raise Truncated(f"the body ended after {len(body)} of its {size} bytes")
    return body


def _read_chunked(rfile: BinaryIO, limit: int) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        line = _line(rfile)
        size_text = line.split(b";", 1)[0].strip()
        if not _SIZE.fullmatch(size_text):
            raise BadFraming(f"a chunk size {size_text[:40]!r} that is not hex")
        size = int(size_text, 16)
        if size == 0:
            break
        total += size
        if total > limit:
            raise TooLarge(f"the body is over {limit} bytes")
        chunk = rfile.read(size)
        if len(chunk) < size:
            raise Truncated(f"the chunked body ended within a chunk ({len(chunk)} of {size} bytes)")
        parts.append(chunk)
        end = rfile.read(2)
        if len(end) < 2:
            raise Truncated("the chunked body ended after a chunk")
        if end != b"\r\n":
            raise BadFraming("a chunk that does not end with CRLF")
    for _ in range(_TRAILERS_MAX):
        if _line(rfile) in (b"\r\n", b"\n"):
            return b"".join(parts)
    raise BadFraming(f"more than {_TRAILERS_MAX} trailer lines")


def _line(rfile: BinaryIO) -> bytes:
    line = rfile.readline(_LINE_MAX + 1)
    if not line.endswith(b"\n"):
        if len(line) > _LINE_MAX:
            raise BadFraming(f"a chunk-size or trailer line over {_LINE_MAX} bytes")
        raise Truncated("the chunked body ended before its last chunk")
    return line
