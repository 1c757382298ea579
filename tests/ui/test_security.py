"""The UI is read-only, local by default, and never serves anything outside the workspace."""

from __future__ import annotations

import os
import shutil
import socket

import pytest

import tracklog
from tests.ui.conftest import Client
from tracklog._ui import DEFAULT_HOST, make_server

SECRET = b"top secret, outside the workspace"


@pytest.fixture
def run_with_files(workspace, tmp_path):
    """A finished run with a file, plus a secret file next to (outside) the workspace."""
    (tmp_path / "secret.txt").write_bytes(SECRET)
    run = tracklog.Experiment(workspace, "e").start_logging("r")
    note = tmp_path / "note.txt"
    note.write_text("inside")
    run.upload_file("outputs/note.txt", str(note))
    run.complete()
    return run


def test_the_default_address_is_loopback_only(workspace):
    """Without --host the server binds 127.0.0.1, never all interfaces."""
    assert DEFAULT_HOST == "127.0.0.1"
    server = make_server(workspace, port=0)
    try:
        assert server.server_address[0] == "127.0.0.1"
        assert server.url == f"http://127.0.0.1:{server.port}/"
        assert server.loopback is True
    finally:
        server.server_close()


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_writing_methods_are_refused(client, run_with_files, method):
    """Anything but GET/HEAD answers 405 and changes nothing."""
    for path in ("/api/runs", f"/api/runs/{run_with_files.id}", "/"):
        answer = client.request(method, path)
        assert answer.status == 405, (method, path)
        assert answer.headers["allow"] == "GET, HEAD"
    assert client.json(f"/api/runs/{run_with_files.id}")["run"]["status"] == "Completed"


def test_head_answers_headers_only(client, run_with_files):
    """HEAD gives the status and headers of GET without a body."""
    answer = client.request("HEAD", "/api/runs")
    assert answer.status == 200 and answer.body == b""


@pytest.mark.parametrize(
    "path",
    [
        "/static/../tracklog.db",
        "/static/%2e%2e/%2e%2e/secret.txt",
        "/static/..%2f..%2fsecret.txt",
        "/static/%2e%2e%5csecret.txt",
        "/../secret.txt",
        "/%2e%2e/%2e%2e/secret.txt",
        "//etc/passwd",
        "/static//etc/passwd",
        "/static/%2Fetc%2Fpasswd",
        "/etc/passwd",
        "/tracklog.db",
        "/runs",
    ],
)
def test_static_paths_cannot_leave_the_package(client, run_with_files, path):
    """Traversal in the page path ('..', '%2e%2e', encoded slashes, absolute) is a 404."""
    answer = client.get(path)
    assert answer.status == 404, path
    assert SECRET not in answer.body and b"SQLite format" not in answer.body


@pytest.mark.parametrize(
    "name",
    [
        "../../../secret.txt",
        "%2e%2e/%2e%2e/%2e%2e/secret.txt",
        "outputs/../../../secret.txt",
        "..%2F..%2F..%2Fsecret.txt",
        "%2Fetc%2Fpasswd",
        "/etc/passwd",
        "C:%5Cwindows%5Cwin.ini",
        "..%5C..%5Csecret.txt",
        "outputs%00.txt",
    ],
)
def test_file_names_cannot_leave_the_run(client, run_with_files, name):
    """A run file name with '..', an absolute path or a NUL is refused (400/404), never served."""
    answer = client.get(f"/api/runs/{run_with_files.id}/file?name={name}")
    assert answer.status in (400, 404), name
    assert SECRET not in answer.body


def test_log_file_names_cannot_leave_the_logs_folder(client, run_with_files):
    """The log viewer's file= parameter gets the same checks."""
    for name in ("../../../../secret.txt", "%2e%2e/%2e%2e/%2e%2e/%2e%2e/secret.txt", "/etc/passwd"):
        answer = client.get(f"/api/runs/{run_with_files.id}/logs?file={name}")
        assert answer.status in (400, 404), name
        assert SECRET not in answer.body


def test_a_symlink_inside_a_run_pointing_outside_is_not_followed(workspace, client, run_with_files, tmp_path):
    """A symlinked file or folder in a run's folder that leads outside is neither listed nor served."""
    run_dir = os.path.join(workspace.path, "runs", run_with_files.id)
    os.symlink(tmp_path / "secret.txt", os.path.join(run_dir, "outputs", "link.txt"))
    os.symlink(tmp_path, os.path.join(run_dir, "outputs", "linkdir"))
    os.symlink(tmp_path / "secret.txt", os.path.join(run_dir, "logs-secret.log"))
    files = [f["name"] for f in client.json(f"/api/runs/{run_with_files.id}")["files"]]
    assert "outputs/note.txt" in files
    assert not any("link" in f or "secret" in f for f in files)
    for name in ("outputs/link.txt", "outputs/linkdir/secret.txt", "logs-secret.log"):
        answer = client.get(f"/api/runs/{run_with_files.id}/file?name={name}")
        assert answer.status in (400, 404), name
        assert SECRET not in answer.body
    assert client.get(f"/api/runs/{run_with_files.id}/file?name=outputs/note.txt").body == b"inside"


def test_a_symlinked_log_file_is_not_followed(workspace, client, run_with_files, tmp_path):
    """logs/<file> that is a symlink to outside the run is refused by the log viewer too."""
    logs = os.path.join(workspace.path, "runs", run_with_files.id, "logs")
    os.makedirs(logs, exist_ok=True)
    os.symlink(tmp_path / "secret.txt", os.path.join(logs, "evil.log"))
    answer = client.get(f"/api/runs/{run_with_files.id}/logs?file=evil.log")
    assert answer.status in (400, 404)
    assert SECRET not in answer.body


def test_run_ids_are_checked_before_any_lookup(client, run_with_files):
    """Only hex run ids route; '..' or paths in the run id position are 404."""
    for run_id in ("..", "%2e%2e", "..%2f..", "%2Fetc", "abc/../..", "ABCDEF"):
        answer = client.get(f"/api/runs/{run_id}/file?name=outputs/note.txt")
        assert answer.status == 404, run_id
        assert b"inside" not in answer.body


def test_uploaded_html_downloads_instead_of_rendering(workspace, client, tmp_path):
    """A run's HTML or SVG file is sent as an attachment in a sandbox, so it cannot script the UI."""
    page = tmp_path / "x.html"
    page.write_text("<script>alert(1)</script>")
    run = tracklog.Experiment(workspace, "e").start_logging("r")
    run.upload_file("outputs/x.html", str(page))
    run.upload_file("outputs/x.svg", str(page))
    run.complete()
    for name in ("outputs/x.html", "outputs/x.svg"):
        answer = client.get(f"/api/runs/{run.id}/file?name={name}")
        assert answer.status == 200
        assert answer.headers["content-type"] == "application/octet-stream"
        assert answer.headers["content-disposition"].startswith("attachment")
        assert answer.headers["content-security-policy"].startswith("sandbox")
        assert answer.headers["x-content-type-options"] == "nosniff"


def test_a_foreign_host_header_is_refused_on_a_loopback_server(client):
    """DNS rebinding: a request naming another host is 403; localhost names are fine."""
    assert client.get("/api/runs", headers={"Host": "evil.example:5005"}).status == 403
    for host in ("localhost:5005", "127.0.0.1", "[::1]:80", "127.0.0.1:1"):
        assert client.get("/api/runs", headers={"Host": host}).status == 200, host


def test_another_host_can_be_chosen_explicitly(workspace, serve):
    """--host 0.0.0.0 is the user's choice; the server then answers other Host names too."""
    server = serve(workspace, host="0.0.0.0")
    assert server.loopback is False and server.server_address[0] == "0.0.0.0"
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(b"GET /api/experiments HTTP/1.0\r\nHost: my-box:1\r\n\r\n")
        assert sock.makefile("rb").readline().startswith(b"HTTP/1.0 200")


def _secret_folder(tmp_path, name: str = "outside"):
    """A folder outside the workspace holding secret files where a run's files would be."""
    folder = tmp_path / name
    (folder / "outputs").mkdir(parents=True)
    (folder / "logs").mkdir()
    (folder / "outputs" / "secret.txt").write_bytes(SECRET)
    (folder / "logs" / "python.log").write_bytes(
        b'{"time": "t", "level": "ERROR", "levelno": 40, "message": "' + SECRET + b'"}\n'
    )
    (folder / "logs" / "std_log.txt").write_bytes(SECRET + b"\n")
    return folder


def _assert_nothing_served(client, run_id, names):
    detail = client.json(f"/api/runs/{run_id}")
    assert not any("secret" in f["name"] for f in detail["files"]), detail["files"]
    for name in names:
        answer = client.get(f"/api/runs/{run_id}/file?name={name}")
        assert answer.status in (403, 404), (name, answer.status)
        assert SECRET not in answer.body
    for log in ("python.log", "std_log.txt"):
        answer = client.get(f"/api/runs/{run_id}/logs?file={log}")
        assert answer.status in (403, 404), (log, answer.status)
        assert SECRET not in answer.body


def test_a_run_folder_that_is_a_symlink_out_of_the_workspace_is_not_served(workspace, client, tmp_path):
    """runs/<id> itself a symlink to a folder outside: its files are neither listed nor served."""
    run = tracklog.Experiment(workspace, "e").start_logging("r")
    run.complete()
    run_dir = os.path.join(workspace.path, "runs", run.id)
    shutil.rmtree(run_dir)
    os.symlink(_secret_folder(tmp_path), run_dir)
    _assert_nothing_served(client, run.id, ["outputs/secret.txt", "logs/python.log", "logs/std_log.txt"])
    assert client.json(f"/api/runs/{run.id}")["run"]["status"] == "Completed"  # the run itself shows


def test_a_runs_folder_that_is_a_symlink_out_of_the_workspace_is_not_served(workspace, client, tmp_path):
    """The whole runs/ folder a symlink to outside the workspace: nothing under it is served."""
    run = tracklog.Experiment(workspace, "e").start_logging("r")
    run.complete()
    runs = os.path.join(workspace.path, "runs")
    outside = tmp_path / "runs-elsewhere"
    outside.mkdir()
    shutil.copytree(_secret_folder(tmp_path), outside / run.id)
    shutil.rmtree(runs)
    os.symlink(outside, runs)
    _assert_nothing_served(client, run.id, ["outputs/secret.txt", "logs/python.log"])


@pytest.mark.parametrize("sub", ["logs", "outputs"])
def test_a_symlinked_logs_or_outputs_folder_is_not_served(workspace, client, tmp_path, sub):
    """logs/ or outputs/ of a run a symlink to a folder outside: refused, the rest still served."""
    run = tracklog.Experiment(workspace, "e").start_logging("r")
    note = tmp_path / "note.txt"
    note.write_text("inside")
    run.upload_file("extra/note.txt", str(note))
    run.complete()
    run_dir = os.path.join(workspace.path, "runs", run.id)
    shutil.rmtree(os.path.join(run_dir, sub), ignore_errors=True)
    os.symlink(_secret_folder(tmp_path) / sub, os.path.join(run_dir, sub))
    names = ["outputs/secret.txt"] if sub == "outputs" else ["logs/python.log", "logs/std_log.txt"]
    detail = client.json(f"/api/runs/{run.id}")
    assert not any("secret" in f["name"] for f in detail["files"])
    for name in names:
        answer = client.get(f"/api/runs/{run.id}/file?name={name}")
        assert answer.status in (400, 403, 404), name
        assert SECRET not in answer.body
    if sub == "logs":
        answer = client.get(f"/api/runs/{run.id}/logs?file=python.log")
        assert answer.status in (400, 403, 404) and SECRET not in answer.body
    assert client.get(f"/api/runs/{run.id}/file?name=extra/note.txt").body == b"inside"


def test_a_workspace_reached_through_a_symlink_is_served(tmp_path, serve):
    """The workspace folder itself behind a symlink (a data disk) is fine: its runs are inside it."""
    real = tmp_path / "disk" / "ws"
    workspace = tracklog.Workspace(real)
    run = tracklog.Experiment(workspace, "e").start_logging("r")
    note = tmp_path / "note.txt"
    note.write_text("inside")
    run.upload_file("outputs/note.txt", str(note))
    run.complete()
    link = tmp_path / "ws-link"
    os.symlink(real, link)
    server = serve(tracklog.Workspace(link, create=False))
    client = Client("127.0.0.1", server.port)
    assert client.get(f"/api/runs/{run.id}/file?name=outputs/note.txt").body == b"inside"
    assert [f["name"] for f in client.json(f"/api/runs/{run.id}")["files"]] == ["outputs/note.txt"]
