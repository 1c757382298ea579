"""Fixtures for the web UI: a real server on 127.0.0.1 and a plain HTTP client."""

from __future__ import annotations

import http.client
import json
import threading
from typing import Any, Iterator, NamedTuple

import pytest

from tracklog._ui import make_server


class Answer(NamedTuple):
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """Raw HTTP against the UI server: paths are sent exactly as given (no normalising)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    def request(self, method: str, path: str, headers: dict[str, str] | None = None) -> Answer:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            conn.putrequest(method, path, skip_host=bool(headers and "Host" in headers))
            for key, value in (headers or {}).items():
                conn.putheader(key, value)
            conn.endheaders()
            res = conn.getresponse()
            return Answer(res.status, {k.lower(): v for k, v in res.getheaders()}, res.read())
        finally:
            conn.close()

    def get(self, path: str, headers: dict[str, str] | None = None) -> Answer:
        return self.request("GET", path, headers)

    def json(self, path: str) -> Any:
        answer = self.get(path)
        assert answer.status == 200, (path, answer.status, answer.body[:300])
        assert answer.headers["content-type"] == "application/json"
        return answer.json()


@pytest.fixture
def serve():
    """Start a UI server for a workspace on 127.0.0.1 (a free port); stopped after the test."""
    servers = []

    def start(workspace, host: str = "127.0.0.1", port: int = 0, **options):
        server = make_server(workspace, host, port, **options)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        thread.start()
        servers.append((server, thread))
        return server

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def client(workspace, serve) -> Iterator[Client]:
    """A client of a server on the test's workspace."""
    server = serve(workspace)
    yield Client("127.0.0.1", server.port)
