"""Odd query values are a 400 with a short message, never a 500; idle connections time out."""

from __future__ import annotations

import itertools
import json
import select
import socket
import time
from urllib.parse import quote

import pytest

import tracklog
from tests.ui.conftest import Client
from tracklog._ui import make_server
from tracklog._ui._server import TIMEOUT

#: Values a hand-written URL, a fuzzer or a bad link might send for any parameter.
ODD_VALUES = [
    "", "0", "-1", "-0.5", "1.5", "1e400", "-1e400", "nan", "inf", "-inf", "9" * 5000, "1" * 30,
    "-9223372036854775809", "9223372036854775808", "²", "%C2%B2", "١٢", "%D9%A1%D9%A2", "0x10", "+5",
    "%205%20", "%00", "%FF", "%ED%A0%80", "a" * 5000, "..%2F..", "%0d%0a", "null", "[]",
    "DEBUG", "debug", "1,2", ",", "%2C%2C%2C",
]


@pytest.fixture
def full_run(workspace, tmp_path):
    """A run with a series, a string metric, a table, a list, a log file and a file."""
    run = tracklog.Experiment(workspace, "e").start_logging("r")
    for i in range(300):
        run.log("loss", 1 / (i + 1), step=i)
    run.log("note", "hello")
    run.log_row("t", x=1, y=2.5)
    run.log_list("l", [1, 2, 3])
    note = tmp_path / "note.txt"
    note.write_text("inside")
    run.upload_file("outputs/note.txt", str(note))
    logs = tmp_path / "python.log"
    logs.write_text(json.dumps({"time": "t", "level": "INFO", "levelno": 20, "message": "m"}) + "\n")
    run.upload_file("logs/python.log", str(logs))
    run.complete()
    return run


def _endpoints(run_id: str) -> dict[str, list[str]]:
    """Every API path with the query parameters it reads."""
    return {
        "/api/experiments": ["width"],
        "/api/runs": ["experiment", "width"],
        "/api/compare": ["runs", "name", "width"],
        f"/api/runs/{run_id}": ["width"],
        f"/api/runs/{run_id}/charts": ["width"],
        f"/api/runs/{run_id}/series": ["name", "width", "xmin", "xmax"],
        f"/api/runs/{run_id}/logs": ["file", "offset", "level", "tail"],
        f"/api/runs/{run_id}/csv": ["name"],
        f"/api/runs/{run_id}/file": ["name", "download"],
    }


def _q(value: str) -> str:
    """The value as a URL carries it: non-ASCII characters percent-encoded, the rest as given."""
    return quote(value, safe="".join(chr(c) for c in range(33, 127)))


#: A valid value for each parameter, so that one odd parameter at a time is tried.
def _valid(run_id: str) -> dict[str, str]:
    return {"runs": run_id, "name": "loss", "file": "python.log", "width": "300"}


def test_odd_query_values_never_answer_500(client, full_run):
    """Every endpoint, every parameter, every odd value (alone, and all at once): no 500."""
    failures = []
    for path, params in _endpoints(full_run.id).items():
        base = _valid(full_run.id)
        for param, value in itertools.product(params, ODD_VALUES):
            query = {**{k: v for k, v in base.items() if k in params}, param: value}
            url = path + "?" + "&".join(f"{k}={_q(v)}" for k, v in query.items())
            answer = client.get(url)
            if answer.status >= 500 or answer.status not in (200, 400, 404):
                failures.append((url[:120], answer.status, answer.body[:200]))
            elif answer.status in (400, 404):
                message = answer.json()["error"]
                if len(message) > 300:
                    failures.append((url[:120], "a long message", message[:100]))
        for value in ODD_VALUES:  # every parameter odd at once, and each given twice
            url = path + "?" + "&".join(f"{k}={_q(value)}&{k}=1" for k in params)
            answer = client.get(url)
            if answer.status >= 500:
                failures.append((url[:120], answer.status, answer.body[:200]))
    assert not failures, "\n".join(map(repr, failures))


@pytest.mark.parametrize("level", ["²", "%C2%B2", "9" * 5000, "-5", "1.5", "WARN", "١٢"])
def test_a_bad_log_level_is_a_400_with_a_short_message(client, full_run, level):
    """level=² or a 5,000-digit level is refused with a 400 saying which levels exist."""
    answer = client.get(f"/api/runs/{full_run.id}/logs?level={_q(level)}")
    assert answer.status == 400, answer.body[:200]
    message = answer.json()["error"]
    assert "level" in message and len(message) < 200


@pytest.mark.parametrize("level", ["warning", "ERROR", "25", "0"])
def test_good_log_levels_still_filter(client, full_run, level):
    """Level names (any case) and plain numbers filter the log as before."""
    answer = client.get(f"/api/runs/{full_run.id}/logs?level={level}")
    assert answer.status == 200
    expected = 1 if level in ("0",) else 0
    assert len(answer.json()["records"]) == expected


@pytest.mark.parametrize(
    "query", ["xmin=9223372036854775808", "xmax=-9223372036854775809", "xmin=1e300", "xmin=nan", "xmax=inf"]
)
def test_a_step_range_outside_int64_is_a_400(client, full_run, query):
    """Steps are 64-bit: a zoom range beyond that is refused, not a database overflow."""
    answer = client.get(f"/api/runs/{full_run.id}/series?name=loss&{query}")
    assert answer.status == 400, answer.body[:200]
    assert "xm" in answer.json()["error"]


def test_an_inverted_or_negative_step_range_is_an_empty_series(client, full_run):
    """xmin > xmax, or a range wholly below step 0, answers an empty series (200)."""
    for query in ("xmin=200&xmax=100", "xmin=-50&xmax=-1"):
        answer = client.json(f"/api/runs/{full_run.id}/series?name=loss&{query}")
        assert answer["x"] == [] and answer["points"] == 0, query
    answer = client.json(f"/api/runs/{full_run.id}/series?name=loss&xmin=-5&xmax=4")
    assert answer["x"] == [0, 1, 2, 3, 4]


def _closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed the connection (EOF or reset), None if still open."""
    start = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - start


def test_an_idle_connection_is_closed_after_the_timeout_while_others_are_served(workspace, serve, full_run):
    """Connections that send nothing are closed after `timeout`; requests meanwhile are answered."""
    server = serve(workspace, timeout=1.0)
    idle = [socket.create_connection(("127.0.0.1", server.port), timeout=30) for _ in range(8)]
    try:
        client = Client("127.0.0.1", server.port)
        for _ in range(5):
            assert client.get("/api/runs").status == 200
        for sock in idle:
            waited = _closed_within(sock, 30)
            assert waited is not None, "an idle connection was never closed"
    finally:
        for sock in idle:
            sock.close()


def test_a_request_dripped_byte_by_byte_is_cut_off(workspace, serve, full_run):
    """A client that keeps sending its headers a byte at a time (each byte well inside the
    timeout) is disconnected once the request has taken longer than the timeout in all."""
    server = serve(workspace, timeout=1.0)
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(b"GET /api/runs HTTP/1.0\r\nX-Pad: ")
        start = time.monotonic()
        closed = False
        while not closed and time.monotonic() - start < 30:
            time.sleep(0.05)
            try:
                sock.sendall(b"a")
                if select.select([sock], [], [], 0)[0]:
                    closed = sock.recv(4096) == b""  # EOF; an answer would mean it was served
            except OSError:
                closed = True
        assert closed, "a request that never ends held its connection for 30 s"


def test_connections_over_the_limit_are_answered_503_at_once(workspace, serve, full_run):
    """With every slot held by an idle client, a new one gets a 503 at once, and 200 once they time out."""
    server = serve(workspace, timeout=2.0, max_connections=3)
    idle = [socket.create_connection(("127.0.0.1", server.port), timeout=30) for _ in range(3)]
    try:
        time.sleep(0.3)  # let the server accept them
        client = Client("127.0.0.1", server.port)
        assert client.get("/api/runs").status == 503
        deadline = time.monotonic() + 60
        while client.get("/api/runs").status != 200:
            assert time.monotonic() < deadline, "the slots were never freed"
            time.sleep(0.2)
    finally:
        for sock in idle:
            sock.close()


def test_the_default_timeout_is_documented(workspace):
    """The server times connections out after TIMEOUT seconds unless told otherwise."""
    server = make_server(workspace, port=0)
    try:
        assert server.request_timeout == TIMEOUT == 30.0
    finally:
        server.server_close()
