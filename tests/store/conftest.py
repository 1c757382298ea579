"""A real MLflow tracking server (started once per session) and a loopback proxy in front of it."""

from __future__ import annotations

import http.server
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

mlflow = pytest.importorskip("mlflow", reason="mlflow is in the test extra: pip install -e .[test]")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "TRACKLOG_"))}
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["DO_NOT_TRACK"] = "true"
    return env


class MLflowServer:
    """``mlflow server`` on 127.0.0.1, two workers, with a SQLite backend (or the one given,
    such as ``tracklog:PATH``); stop() and start() keep port and data."""

    def __init__(self, root: Path, backend_store_uri: str | None = None) -> None:
        self.root = root
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.db = root / "mlflow.db"
        self.artifacts = root / "artifacts"
        self.backend_store_uri = backend_store_uri
        self.log = root / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> None:
        backend = ["--backend-store-uri", self.backend_store_uri] if self.backend_store_uri else [
            "--backend-store-uri", f"sqlite:///{self.db}", "--artifacts-destination", str(self.artifacts),
        ]
        command = [
            sys.executable, "-m", "mlflow", "server", *backend,
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", "2",
        ]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=_server_env(),
                cwd=self.root, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {self.log.read_text()[-3000:]}")
            try:
                if requests.get(self.uri + "/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"mlflow server did not start within {timeout}s: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)  # the server and its workers: our own process group
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        _reap_group(proc.pid)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the workers leave the port a moment later
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.1)


def _reap_group(pgid: int, timeout: float = 15.0) -> None:
    """Wait for the rest of the server's process group (job consumers) to exit; kill stragglers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory):
    """One real MLflow tracking server for the whole session."""
    server = MLflowServer(tmp_path_factory.mktemp("mlflow-server"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _remote_env(tmp_path, monkeypatch):
    """Spools under the test's folder; no telemetry from MLflow's own client."""
    monkeypatch.setenv("TRACKLOG_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DO_NOT_TRACK", "true")


@pytest.fixture
def mlflow_uri(mlflow_server: MLflowServer) -> str:
    return mlflow_server.uri


@pytest.fixture
def mlflow_client(mlflow_uri: str):
    from mlflow import MlflowClient

    return MlflowClient(mlflow_uri)


def unique(prefix: str = "exp") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# -- a recording reverse proxy: credentials seen, outages on demand, TLS ---------------------


class Proxy:
    """Forwards HTTP(S) on 127.0.0.1 to ``upstream``, recording request headers.

    ``stop()`` makes the server unreachable (connection refused); ``start()`` brings it
    back on the same port.
    """

    def __init__(self, upstream: str, tls: ssl.SSLContext | None = None) -> None:
        self.upstream = upstream
        self.tls = tls
        self.port = free_port()
        scheme = "https" if tls else "http"
        self.uri = f"{scheme}://127.0.0.1:{self.port}"
        self.headers: list[dict[str, str]] = []
        #: Statuses to answer the next requests whose path contains the key with (429, 503, ...).
        self.fail_next: dict[str, list[int]] = {}
        #: Bodies containing this bytes string are refused with HTTP 400, as MLflow refuses bad data.
        self.refuse_containing: bytes | None = None
        self.refused = 0
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._session = requests.Session()

    def start(self) -> None:
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            # One request per connection: stop() then really cuts every client off.
            protocol_version = "HTTP/1.0"

            def _forward(self) -> None:
                proxy.headers.append({k.lower(): v for k, v in self.headers.items()})
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                for part, statuses in proxy.fail_next.items():
                    if part in self.path and statuses:
                        self._answer(statuses.pop(0), b'{"error_code": "TEMPORARILY_UNAVAILABLE"}')
                        return
                if proxy.refuse_containing and body and proxy.refuse_containing in body:
                    proxy.refused += 1
                    self._answer(400, b'{"error_code": "INVALID_PARAMETER_VALUE", "message": "refused"}')
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "authorization")}
                answer = proxy._session.request(
                    self.command, proxy.upstream + self.path, data=body, headers=headers, timeout=60
                )
                self._answer(answer.status_code, answer.content)

            def _answer(self, status: int, content: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_DELETE = _forward

            def log_message(self, *args: Any) -> None:
                pass

        class Server(http.server.ThreadingHTTPServer):
            allow_reuse_address = True
            daemon_threads = True

        server = Server(("127.0.0.1", self.port), Handler)
        if self.tls is not None:
            server.socket = self.tls.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(10)


@pytest.fixture
def proxy(mlflow_uri: str):
    """A plain-HTTP recording proxy to the session's MLflow server."""
    proxy = Proxy(mlflow_uri)
    proxy.start()
    yield proxy
    proxy.stop()


def mlflow_id(client: Any, run_id: str) -> str:
    """The MLflow server's id of a run tracklog created (its ``tracklog._run_id`` tag), as an
    MLflow user finds it; a run tracklog did not create keeps its id."""
    experiments = [e.experiment_id for e in client.search_experiments()]
    found = client.search_runs(experiments, filter_string=f"tags.`tracklog._run_id` = '{run_id}'")
    return found[0].info.run_id if found else run_id


# -- servers that fail: one answering 500 to everything, one that accepts and never answers ----


class ErrorServer:
    """HTTP on 127.0.0.1 answering every request with 500 (a tracking server whose database is down)."""

    def __init__(self) -> None:
        self.requests = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def _fail(self) -> None:
                server.requests += 1
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                body = b'{"error_code": "INTERNAL_ERROR", "message": "database is down"}'
                self.send_response(500)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _fail

            def log_message(self, *args: Any) -> None:
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class SilentServer:
    """A socket on 127.0.0.1 that accepts connections and never answers (a hung server)."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.uri = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.accepted.append(conn)  # held open, never read from or written to

    def close(self) -> None:
        self._sock.close()
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def error_server():
    server = ErrorServer()
    yield server
    server.close()


@pytest.fixture
def silent_server():
    server = SilentServer()
    yield server
    server.close()
