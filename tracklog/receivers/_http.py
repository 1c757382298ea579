"""OTLP/HTTP: ``POST /v1/logs``, ``/v1/metrics``, ``/v1/traces``, as the OTLP spec says.

200 with the Export*ServiceResponse (``partial_success`` for refused records) in the
request's encoding; 400 for a body that does not parse (one warning per path); 401 without the bearer
token when one is set; 404 for another path; 411 with neither a Content-Length nor a
chunked body (``_body``); 413 for a body over the limit, compressed or decompressed,
chunked or not; 415 for another content type or encoding; 501 for a transfer coding
other than chunked; 429 (queue full) or 503 (store stalled, or the receiver stopping:
then the connection is closed too) with ``Retry-After``, which exporters retry.
Failures carry a ``google.rpc.Status`` body. A connection that sends nothing for the read
timeout (``DEFAULT_READ_TIMEOUT``, 30 s), mid-body or between requests, is closed and
answered nothing: it no longer holds its thread.
"""

from __future__ import annotations

import hmac
import json
import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf import json_format
from google.rpc import status_pb2

from .. import _diag
from ._body import BadFraming, LengthRequired, Stalled, UnknownCoding, read_body
from ._decode import JSON, PROTOBUF, BadRequest, TooLarge, Unsupported, content_type, decode, encode, inflate
from ._export import SIGNALS, Busy, Closing, Exporter
from ._runs import RUN_ID_KEY
from ._settings import DEFAULT_READ_TIMEOUT

__all__ = ["OTLPHTTPServer"]

_logger = logging.getLogger("tracklog.receivers")

#: gRPC status codes in the error bodies (google.rpc.Code).
_INVALID_ARGUMENT, _UNAUTHENTICATED, _UNAVAILABLE, _RESOURCE_EXHAUSTED, _UNIMPLEMENTED = 3, 16, 14, 8, 12


class OTLPHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that hands OTLP requests to an :class:`Exporter`."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], exporter: Exporter, token: str | None, max_bytes: int,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> None:
        super().__init__(address, _Handler)
        self.exporter = exporter
        self.token = token
        self.max_bytes = max_bytes
        #: Seconds a connection may send nothing before it is closed, unanswered.
        self.read_timeout = read_timeout

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection that broke mid-request: a debug line, not a traceback on stderr."""
        _logger.debug("tracklog: OTLP/HTTP connection from %s failed", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: OTLPHTTPServer

    def setup(self) -> None:
        """Give the connection the server's read timeout: a client that stalls (before its
        request line, or mid-body) no longer holds its thread forever."""
        self.timeout = self.server.read_timeout
        super().setup()

    def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
        media = PROTOBUF
        try:
            signal = SIGNALS.get(self.path.split("?", 1)[0])
            if signal is None:
                self._fail(404, _UNIMPLEMENTED, f"no OTLP endpoint {self.path}: use /v1/logs, /v1/metrics or /v1/traces", media, close=True)
                return
            if not self._authorised():
                self._fail(401, _UNAUTHENTICATED, "missing or wrong bearer token", media, close=True)
                return
            media = content_type(self.headers.get("Content-Type"))
            if "Transfer-Encoding" in self.headers and "Content-Length" in self.headers:
                self.close_connection = True  # RFC 9112 6.3: the chunked framing wins, then close
            body = read_body(self.rfile, self.headers, self.server.max_bytes)
            body = inflate(body, self.headers.get("Content-Encoding"), self.server.max_bytes)
            request = decode(body, media, signal.request())
            response = self.server.exporter.export(signal, request, self.headers.get(RUN_ID_KEY))
        except Stalled as exc:
            _logger.debug("tracklog: OTLP/HTTP connection from %s closed: %s", self.client_address, exc)
            self.close_connection = True  # nothing is answered: the client is not reading
        except LengthRequired as exc:
            self._fail(411, _INVALID_ARGUMENT, str(exc), media, close=True)
        except UnknownCoding as exc:
            self._fail(501, _UNIMPLEMENTED, str(exc), media, close=True)
        except Unsupported as exc:
            self._fail(415, _INVALID_ARGUMENT, str(exc), media, close=True)  # JSON when asked in JSON
        except TooLarge as exc:
            self._fail(413, _RESOURCE_EXHAUSTED, str(exc), media, close=True)
        except BadFraming as exc:
            self._fail(400, _INVALID_ARGUMENT, str(exc), media, close=True)
        except BadRequest as exc:
            # The exporter drops the batch on a 400 and may log nothing: say it here, once.
            _diag.warn_once(("otlp-bad-request", self.path), "tracklog: an OTLP/HTTP request to %s from %s "
                            "was refused (400), nothing of it stored: %s (later ones are not shown)",
                            self.path, self.client_address[0], exc)
            self._fail(400, _INVALID_ARGUMENT, str(exc), media)
        except Closing as exc:
            self._fail(503, _UNAVAILABLE, str(exc), media, retry_after=exc.retry_after, close=True)
        except Busy as exc:
            self._fail(503 if exc.stalled else 429, _UNAVAILABLE, str(exc), media,
                       retry_after=exc.retry_after)
        except Exception:  # a bug of ours: the client may retry, the receiver keeps serving
            _logger.exception("tracklog: the OTLP receiver failed on a request to %s", self.path)
            self._fail(503, _UNAVAILABLE, "the receiver failed on this request; see its log", media, retry_after=1)
        else:
            self._send(200, encode(response, media), media)

    def _authorised(self) -> bool:
        token = self.server.token
        if not token:
            return True
        given = self.headers.get("Authorization") or ""
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())

    def _fail(
        self, code: int, rpc_code: int, message: str, media: str, *, close: bool = False,
        retry_after: float | None = None,
    ) -> None:
        status = status_pb2.Status(code=rpc_code, message=message)
        body = (
            json.dumps(json_format.MessageToDict(status)).encode() if media == JSON else status.SerializeToString()
        )
        if close:
            self.close_connection = True
        headers = {} if retry_after is None else {"Retry-After": str(max(1, round(retry_after)))}
        self._send(code, body, media, headers, close)

    def _send(self, code: int, body: bytes, media: str, headers: dict[str, str] | None = None,
              close: bool = False) -> None:
        self.send_response(code)
        self.send_header("Content-Type", media)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:  # the client went away (its timeout): it retries or gives up
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's name)
        _logger.debug("tracklog receiver: " + format, *args)
