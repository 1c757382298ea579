"""OTLPReceiver: the HTTP and gRPC servers, the runs they write into, and their settings.

Loopback by default. Any other address needs a bearer token, checked on every
request (HTTP ``Authorization``, gRPC ``authorization`` metadata): without one the
receiver refuses to start. Nothing from the wire ever names a file: data goes to
the run's own ``python.log`` and ``spans.jsonl``.
"""

from __future__ import annotations

import threading
from typing import Any

from .._threads import start_thread
from ._export import Exporter
from ._grpc import start_grpc
from ._http import OTLPHTTPServer
from ._runs import AttachRun, OpenRun, Runs
from ._settings import (
    DEFAULT_GRPC_PORT,
    DEFAULT_HOST,
    DEFAULT_HTTP_PORT,
    DEFAULT_IDLE,
    DEFAULT_MAX_BYTES,
    DEFAULT_READ_TIMEOUT,
    ReceiverConfigError,
    is_loopback,
)

__all__ = [
    "DEFAULT_GRPC_PORT",
    "DEFAULT_HOST",
    "DEFAULT_HTTP_PORT",
    "DEFAULT_IDLE",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_READ_TIMEOUT",
    "OTLPReceiver",
    "ReceiverConfigError",
    "is_loopback",
]

class OTLPReceiver:
    """OTLP/HTTP and OTLP/gRPC into runs; ``None`` for a port leaves that protocol off, 0 picks a free one."""

    def __init__(
        self,
        open_run: OpenRun,
        attach_run: AttachRun,
        *,
        host: str = DEFAULT_HOST,
        http_port: int | None = DEFAULT_HTTP_PORT,
        grpc_port: int | None = DEFAULT_GRPC_PORT,
        token: str | None = None,
        idle: float = DEFAULT_IDLE,
        max_bytes: int = DEFAULT_MAX_BYTES,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        queue_limit: int,
    ) -> None:
        if not is_loopback(host) and not token:
            raise ReceiverConfigError(
                f"the receiver would listen on {host}, beyond this machine, with no token: give --token "
                "(or TRACKLOG_RECEIVER_TOKEN) so every request must carry it, or listen on 127.0.0.1"
            )
        if idle <= 0:
            raise ReceiverConfigError(f"--idle {idle!r}: give a number of seconds above 0")
        if not read_timeout > 0:
            raise ReceiverConfigError(f"read timeout {read_timeout!r}: give a number of seconds above 0")
        self.host = host
        self.token = token or None
        self.runs = Runs(open_run, attach_run, idle)
        self.exporter = Exporter(self.runs, queue_limit)
        self._http: OTLPHTTPServer | None = None
        self._http_thread: threading.Thread | None = None
        self._grpc: Any = None
        self.http_port: int | None = None
        self.grpc_port: int | None = None
        try:
            if http_port is not None:
                self._http = OTLPHTTPServer(
                    (host, http_port), self.exporter, self.token, max_bytes, read_timeout
                )
                self.http_port = self._http.server_address[1]
            if grpc_port is not None:
                where = f"[{host}]:{grpc_port}" if ":" in host else f"{host}:{grpc_port}"
                self._grpc, self.grpc_port = start_grpc(where, self.exporter, self.token, max_bytes)
        except (OSError, RuntimeError) as exc:
            self._stop_servers()
            raise ReceiverConfigError(
                f"cannot listen on {host}: {getattr(exc, 'strerror', None) or exc} "
                "(pick other ports, or 0 for free ones)"
            ) from exc

    @property
    def http_url(self) -> str | None:
        """The OTLP/HTTP base URL (exporters append /v1/logs, ...), or None when HTTP is off."""
        if self.http_port is None:
            return None
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.http_port}"

    def start(self) -> None:
        """Serve in background threads."""
        self.runs.start()
        if self._http is not None:
            self._http_thread = start_thread(
                self._http.serve_forever, "tracklog-otlp-http", kwargs={"poll_interval": 0.2}
            )

    def close(self) -> None:
        """Stop taking requests, end the runs the receiver started, and flush what it took.

        Requests are refused first (503 / UNAVAILABLE, also on connections kept alive,
        whose threads outlive the listening socket), so none is taken after its run ended
        and every one answered 200 is in the queue the runs' ends and the caller's flush
        store."""
        self.exporter.begin_closing()
        self._stop_servers()
        self.runs.close()
        self.exporter.close()

    def _stop_servers(self) -> None:
        if self._grpc is not None:
            self._grpc.stop(grace=2).wait(5)
            self._grpc = None
        if self._http is not None:
            if self._http_thread is not None:
                self._http.shutdown()
            self._http.server_close()
            self._http = None
