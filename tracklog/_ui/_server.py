"""The UI's HTTP server: the standard library's ThreadingHTTPServer, read-only.

The standard library keeps ``tracklog ui`` free of new dependencies; the page
is static files plus a small JSON API, which needs no framework. Only GET and
HEAD are answered; only the packaged static files and the workspace's runs
(through the Store's read methods) are ever served.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import json
import logging
import math
import mimetypes
import os
import re
import shutil
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

from .._azure_portal import UI_HOST, UI_PORT
from .._errors import InvalidNameError, RunNotFoundError, TracklogError
from .._paths import check_file_name
from .._tables import table_columns
from ..store import Store
from ..workspace import Workspace
from . import _api
from ._csv import safe_row
from ._series import SeriesSource

_log = logging.getLogger("tracklog.ui")

DEFAULT_HOST = UI_HOST
DEFAULT_PORT = UI_PORT

_RUN_ID = re.compile(r"^[0-9a-f]{1,64}$")
_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
#: File types a browser may show inline; anything else (HTML, SVG, scripts) downloads.
_INLINE = {
    "image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "text/plain",
}
_TEXT_SUFFIXES = (".txt", ".log", ".json", ".jsonl", ".csv", ".tsv", ".yaml", ".yml", ".md", ".py", ".cfg", ".ini", ".toml")

_PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'none'"
)
_FILE_CSP = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"


class HTTPError(Exception):
    """An error answer: status and a one-line message."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def _static_files() -> dict[str, tuple[bytes, str]]:
    """Every packaged static file by its URL name; nothing else is ever served as static."""
    found: dict[str, tuple[bytes, str]] = {}

    def walk(folder: Any, prefix: str) -> None:
        for item in folder.iterdir():
            name = prefix + item.name
            if item.is_dir():
                walk(item, name + "/")
            elif item.is_file():
                kind = mimetypes.guess_type(item.name)[0] or "application/octet-stream"
                if kind.startswith("text/") or kind in ("application/javascript", "image/svg+xml"):
                    kind += "; charset=utf-8"
                found[name] = (item.read_bytes(), kind)

    walk(resources.files(__package__).joinpath("static"), "")
    return found


def _is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


#: Seconds a connection may sit idle, or take to send its request, before it is closed.
TIMEOUT = 30.0
#: Connections served at once; more are answered 503 at once (a client that opens many is bounded).
MAX_CONNECTIONS = 64
_BUSY = (
    b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
    b"Connection: close\r\n\r\n"
    b'{"error":"the tracklog UI is serving too many connections; try again"}'
)


class UIServer(ThreadingHTTPServer):
    """Serves one workspace's runs, read-only; ``url`` says where.

    Each connection has its own daemon thread. One that sends nothing, or sends
    its request too slowly, is closed after ``timeout`` seconds; at most
    ``max_connections`` are served at once, so a client holding many open
    cannot exhaust the process.
    """

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128  # the listen backlog: a burst of connections is not dropped

    def __init__(
        self,
        workspace: Workspace,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        timeout: float = TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.request_timeout = float(timeout)
        self._slots = threading.BoundedSemaphore(max(1, max_connections))
        self.workspace = workspace
        self.store: Store = workspace.store
        self.source = SeriesSource(self.store)
        self.static = _static_files()
        self.host = host
        self.loopback = _is_loopback(host)
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host.strip("[]"), port), _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        """The address to open in a browser."""
        host = self.host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host in ("::",):
            host = "::1"
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"

    def server_close(self) -> None:
        super().server_close()
        self.source.close()

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve the connection on its own thread, or answer 503 when every slot is taken."""
        if not self._slots.acquire(blocking=False):
            _turn_away(request)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection's failure is logged at DEBUG, never printed (the base prints a traceback)."""
        _log.debug("tracklog ui: connection from %s failed", client_address, exc_info=True)

    def host_allowed(self, header: str | None) -> bool:
        """Refuse a foreign Host header on a loopback server (DNS rebinding)."""
        if not self.loopback or not header:
            return True
        name = header.strip()
        if name.startswith("["):
            name = name[: name.find("]") + 1] if "]" in name else name
        elif name.count(":") == 1:
            name = name.split(":", 1)[0]
        return _is_loopback(name.lower())


def _turn_away(request: socket.socket) -> None:
    """Tell a connection over the limit to come back, without waiting on it."""
    try:
        request.setblocking(False)
        request.send(_BUSY)
    except OSError:
        pass


def make_server(
    workspace: Workspace | str | None = None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    timeout: float = TIMEOUT,
    max_connections: int = MAX_CONNECTIONS,
) -> UIServer:
    """A UI server for ``workspace`` (which must exist), bound but not yet serving."""
    if not isinstance(workspace, Workspace):
        workspace = Workspace(workspace, create=False)
    return UIServer(workspace, host, port, timeout=timeout, max_connections=max_connections)


#: Query numbers are 64-bit integers (steps, offsets, widths): anything else is a 400.
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_INTEGER = re.compile(r"\s*[+-]?[0-9]{1,19}\s*", re.ASCII)
_DECIMAL = re.compile(r"\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,3})?\s*", re.ASCII)
#: Error messages are cut to this many characters.
MAX_MESSAGE = 300
#: The most compared runs a page may ask for at once.
MAX_COMPARE = 100


def _shown(raw: str) -> str:
    """A query value quoted for an error message, cut short so the answer stays short."""
    return repr(raw if len(raw) <= 40 else raw[:40] + "...")


def _int(query: dict[str, list[str]], key: str, default: int | None = None) -> int | None:
    """A whole-number query parameter (``1e3`` and ``1.5`` are read as 1000 and 1); 400 otherwise."""
    raw = query.get(key, [None])[0]
    if raw in (None, ""):
        return default
    value: int | None = None
    if _INTEGER.fullmatch(raw):
        value = int(raw)
    elif len(raw) <= 64 and _DECIMAL.fullmatch(raw):
        number = float(raw)
        value = int(number) if math.isfinite(number) else None
    if value is None:
        raise HTTPError(HTTPStatus.BAD_REQUEST, f"{key} must be a number, not {_shown(raw)}")
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise HTTPError(HTTPStatus.BAD_REQUEST, f"{key} must lie between -2**63 and 2**63-1")
    return value


def _level(query: dict[str, list[str]]) -> int | None:
    """The log viewer's minimum level: a level name (any case) or a plain number; 400 otherwise."""
    raw = (query.get("level", [""])[0] or "").strip()
    if not raw:
        return None
    named = _LEVELS.get(raw.upper())
    if named is not None:
        return named
    if re.fullmatch(r"[0-9]{1,9}", raw, re.ASCII):
        return int(raw)
    raise HTTPError(
        HTTPStatus.BAD_REQUEST,
        f"unknown level {_shown(raw)}: use DEBUG, INFO, WARNING, ERROR, CRITICAL or a number",
    )


def _one(query: dict[str, list[str]], key: str) -> str:
    values = query.get(key)
    if not values or not values[0]:
        raise HTTPError(HTTPStatus.BAD_REQUEST, f"the query needs {key}=...")
    return values[0]


class _Handler(BaseHTTPRequestHandler):
    server: UIServer
    server_version = "tracklog-ui"
    protocol_version = "HTTP/1.0"

    # -- connection ----------------------------------------------------------------

    def setup(self) -> None:
        """Time the connection out when idle, and bound the time its request may take to arrive."""
        self.timeout = self.server.request_timeout
        super().setup()
        self._head_lock = threading.Lock()
        self._head_done = False
        self._deadline = threading.Timer(self.timeout, self._too_slow)
        self._deadline.daemon = True
        self._deadline.start()

    def parse_request(self) -> bool:
        """Parse the request line and headers; once they are in, the request's deadline is off."""
        try:
            return super().parse_request()
        finally:
            with self._head_lock:
                self._head_done = True
            self._deadline.cancel()

    def finish(self) -> None:
        self._deadline.cancel()
        super().finish()

    def _too_slow(self) -> None:
        """The request did not arrive in time (a slow-loris client): close its connection."""
        with self._head_lock:
            if self._head_done:
                return
            self._head_done = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- methods -----------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 (the standard library's names)
        self._answer(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(head=True)

    def _refuse(self) -> None:
        self._send_json(
            {"error": "the tracklog UI is read-only: only GET and HEAD are answered"},
            HTTPStatus.METHOD_NOT_ALLOWED,
            head=False,
            extra={"Allow": "GET, HEAD"},
        )

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _refuse

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        _log.debug("%s " + format, self.address_string(), *args)

    # -- dispatch ------------------------------------------------------------------

    def _answer(self, head: bool) -> None:
        try:
            if not self.server.host_allowed(self.headers.get("Host")):
                raise HTTPError(HTTPStatus.FORBIDDEN, "this server answers only to localhost names")
            split = urlsplit(self.path)
            raw_parts = split.path.split("/")[1:]
            parts = [unquote(p) for p in raw_parts]
            if any(p in (".", "..") or "/" in p or "\\" in p or "\x00" in p for p in parts):
                raise HTTPError(HTTPStatus.NOT_FOUND, "no such page")
            query = parse_qs(split.query)
            self._route(parts, query, head)
        except HTTPError as exc:
            self._error(exc.status, str(exc), head)
        except (RunNotFoundError, _api.NotFoundError, FileNotFoundError) as exc:
            self._error(HTTPStatus.NOT_FOUND, str(exc.args[0] if exc.args else exc), head)
        except (InvalidNameError, TracklogError) as exc:
            self._error(HTTPStatus.BAD_REQUEST, str(exc), head)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
        except Exception as exc:  # one bad request must not stop the server
            _log.exception("tracklog ui: error answering %s", self.path[:200])
            try:
                self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"{type(exc).__name__}: {exc}", head)
            except OSError:
                pass

    def _error(self, status: HTTPStatus, message: str, head: bool) -> None:
        """An error answer with a one-line message, cut short (a query value may be huge)."""
        if len(message) > MAX_MESSAGE:
            message = message[: MAX_MESSAGE - 3] + "..."
        self._send_json({"error": message}, status, head)

    def _route(self, parts: list[str], query: dict[str, list[str]], head: bool) -> None:
        server = self.server
        store, source = server.store, server.source
        if parts in ([""], ["index.html"]):
            return self._static("index.html", head)
        if parts == ["favicon.ico"]:
            return self._static("favicon.svg", head)
        if parts[0] == "static" and len(parts) > 1:
            return self._static("/".join(parts[1:]), head)
        if parts[0] != "api" or len(parts) < 2:
            raise HTTPError(HTTPStatus.NOT_FOUND, "no such page")
        width = max(10, min(4000, _int(query, "width", 800) or 800))
        if parts[1:] == ["experiments"]:
            payload = _api.experiments(store)
            payload["workspace"] = server.workspace.path
            return self._send_json(payload, HTTPStatus.OK, head)
        if parts[1:] == ["runs"]:
            experiment = query.get("experiment", [None])[0] or None
            if experiment is not None and experiment not in {
                e.experiment_id for e in store.list_experiments()
            }:
                raise HTTPError(HTTPStatus.NOT_FOUND, f"no experiment {_shown(experiment)}")
            return self._send_json(_api.runs(store, experiment), HTTPStatus.OK, head)
        if parts[1:] == ["compare"]:
            ids = [r for r in _one(query, "runs").split(",") if r]
            if len(ids) > MAX_COMPARE:
                raise HTTPError(HTTPStatus.BAD_REQUEST, f"compare at most {MAX_COMPARE} runs at once")
            for run_id in ids:
                self._check_run_id(run_id)
            name = query.get("name", [None])[0] or None
            return self._send_json(_api.compare(store, source, ids, name, width), HTTPStatus.OK, head)
        if parts[1] == "runs" and len(parts) in (3, 4):
            run_id = self._check_run_id(parts[2])
            action = parts[3] if len(parts) == 4 else ""
            handler = self._run_actions().get(action)
            if handler is not None:
                return handler(run_id, query, width, head)
        raise HTTPError(HTTPStatus.NOT_FOUND, "no such API")

    def _run_actions(self) -> dict[str, Callable[[str, dict[str, list[str]], int, bool], None]]:
        return {
            "": self._run,
            "charts": self._charts,
            "series": self._series,
            "logs": self._logs,
            "csv": self._csv,
            "file": self._file,
        }

    @staticmethod
    def _check_run_id(run_id: str) -> str:
        if not _RUN_ID.match(run_id):
            raise HTTPError(HTTPStatus.NOT_FOUND, f"no run {_shown(run_id)}")
        return run_id

    # -- API answers -----------------------------------------------------------------

    def _run(self, run_id: str, query: dict[str, list[str]], width: int, head: bool) -> None:
        payload = _api.run_detail(self.server.store, self.server.source, run_id)
        self._send_json(payload, HTTPStatus.OK, head)

    def _charts(self, run_id: str, query: dict[str, list[str]], width: int, head: bool) -> None:
        payload = _api.charts(self.server.store, self.server.source, run_id, width)
        self._send_json(payload, HTTPStatus.OK, head)

    def _series(self, run_id: str, query: dict[str, list[str]], width: int, head: bool) -> None:
        lo, hi = _int(query, "xmin"), _int(query, "xmax")
        payload = _api.series(
            self.server.store, self.server.source, run_id, _one(query, "name"), width, lo, hi
        )
        self._send_json(payload, HTTPStatus.OK, head)

    def _logs(self, run_id: str, query: dict[str, list[str]], width: int, head: bool) -> None:
        minimum = _level(query)
        payload = _api.logs(
            self.server.store,
            run_id,
            query.get("file", ["python.log"])[0] or "python.log",
            _int(query, "offset"),
            minimum,
            _int(query, "tail", 256 * 1024) or 0,
        )
        self._send_json(payload, HTTPStatus.OK, head)

    def _csv(self, run_id: str, query: dict[str, list[str]], width: int, head: bool) -> None:
        store = self.server.store
        name = _one(query, "name")
        info = store.get_run(run_id)
        kind = store.metric_kinds(info.run_id).get(name)
        if kind is None:
            raise _api.NotFoundError(f"run {info.run_id} has no metric {name!r}")
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:80] or "metric"
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/csv; charset=utf-8")
        self.send_header("Content-Disposition", f'attachment; filename="{info.run_id[:12]}-{safe}.csv"')
        self._common_headers()
        self.end_headers()
        if head:
            return
        points = store.metric_history(info.run_id, name)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if kind == "row":
            columns, cells = table_columns([p.value for p in points])
            writer.writerow(safe_row(["step", *columns]))
            rows: Any = ([p.step, *[_csv_cell(v) for v in row]] for p, row in zip(points, cells))
        else:
            writer.writerow(["step", "value", "timestamp", "rank"])
            rows = (
                [p.step, _csv_cell(p.value), repr(p.timestamp), "" if p.rank is None else p.rank]
                for p in points
            )
        for index, row in enumerate(rows):
            writer.writerow(safe_row(row))
            if index % 20000 == 19999:
                self.wfile.write(buffer.getvalue().encode("utf-8"))
                buffer.seek(0)
                buffer.truncate()
        self.wfile.write(buffer.getvalue().encode("utf-8"))

    def _file(self, run_id: str, query: dict[str, list[str]], width: int, head: bool) -> None:
        store = self.server.store
        name = check_file_name(_one(query, "name"))
        info = store.get_run(run_id)
        handle = _api.open_run_file(store, info.run_id, name)
        with handle:
            kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
            if name.lower().endswith(_TEXT_SUFFIXES):
                kind = "text/plain"
            download = query.get("download", ["0"])[0] not in ("", "0")
            self.send_response(HTTPStatus.OK)
            if kind in _INLINE and not download:
                self.send_header("Content-Type", kind + ("; charset=utf-8" if kind == "text/plain" else ""))
                self.send_header("Content-Disposition", "inline")
            else:
                base = re.sub(r'["\\\r\n]', "_", name.rsplit("/", 1)[-1])
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Disposition", f'attachment; filename="{base}"')
            try:
                self.send_header("Content-Length", str(os.fstat(handle.fileno()).st_size))
            except (OSError, AttributeError, io.UnsupportedOperation):
                pass
            self.send_header("Content-Security-Policy", _FILE_CSP)
            self._common_headers(csp=False)
            self.end_headers()
            if not head:
                shutil.copyfileobj(handle, self.wfile, 1 << 20)

    # -- responses ----------------------------------------------------------------------

    def _static(self, name: str, head: bool) -> None:
        found = self.server.static.get(name)
        if found is None:
            raise HTTPError(HTTPStatus.NOT_FOUND, "no such page")
        body, kind = found
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self._common_headers()
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _send_json(
        self, payload: Any, status: HTTPStatus, head: bool, extra: dict[str, str] | None = None
    ) -> None:
        body = json.dumps(payload, allow_nan=False, separators=(",", ":")).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self._common_headers()
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _common_headers(self, csp: bool = True) -> None:
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Referrer-Policy", "no-referrer")
        if csp:
            self.send_header("Content-Security-Policy", _PAGE_CSP)


def _csv_cell(value: Any) -> Any:
    if isinstance(value, float):
        return repr(value)
    return "" if value is None else value
