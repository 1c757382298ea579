"""Credentials and TLS: taken from MLflow's environment variables, never written anywhere."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import logging
import os
import re
import ssl
import subprocess
import sys

import pytest
import requests

import tracklog
from tracklog.handlers import RunHandler
from tracklog.store import RemoteError

from ..conftest import python_env
from .conftest import Proxy, mlflow_id, unique

TOKEN = "tok-3f9a1c7e5d2b8a640e1f"
PASSWORD = "pw-8c2e4a6f1b3d5e7a9c0b"


def _every_byte_under(root) -> bytes:
    data = b""
    for folder, _dirs, files in os.walk(root):
        for name in files:
            with open(os.path.join(folder, name), "rb") as handle:
                data += handle.read()
    return data


def _log_everything(uri: str, tmp_path) -> tuple[tracklog.Run, str]:
    """Log metrics, tags, params, files and records (urllib3's DEBUG ones too) into a run."""
    log_file = tmp_path / "app.log"
    root = logging.getLogger()
    file_handler = logging.FileHandler(log_file)
    root.addHandler(file_handler)
    root.setLevel(logging.DEBUG)
    run = tracklog.Experiment(tracklog.Workspace(uri), unique()).start_logging("secret")
    run_handler = RunHandler(run)
    root.addHandler(run_handler)
    try:
        logging.getLogger("app").info("training", extra={"metric": "loss", "value": 0.5, "tags": {"t": "v"}})
        run.log_param("lr", 0.1)
        (tmp_path / "f.txt").write_text("data")
        run.upload_file("outputs/f.txt", str(tmp_path / "f.txt"))
        run.get_metrics()
        run.complete()
    finally:
        root.removeHandler(run_handler)
        root.removeHandler(file_handler)
        file_handler.close()
    return run, log_file.read_text()


def _assert_nowhere(secret: str, run: tracklog.Run, log_text: str, mlflow_server, mlflow_client, tmp_path) -> None:
    assert "Starting new HTTP" in log_text  # urllib3's DEBUG records were really logged
    assert secret not in log_text
    seen = mlflow_client.get_run(mlflow_id(mlflow_client, run.id))
    assert secret not in repr(seen.data.tags) + repr(seen.data.params) + repr(seen.info)
    assert [r["message"] for r in run.get_logs() if r["logger"] == "app"] == ["training"]
    assert secret not in repr(run.get_logs())
    assert secret.encode() not in _every_byte_under(mlflow_server.root)  # database and artifacts
    assert secret.encode() not in _every_byte_under(tmp_path)  # spool, our files


def test_token_is_sent_as_bearer_and_never_stored_or_logged(proxy, mlflow_server, mlflow_client, tmp_path, monkeypatch):
    """MLFLOW_TRACKING_TOKEN goes out as 'Bearer ...' and appears in no run data, file or log."""
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", TOKEN)
    run, log_text = _log_everything(proxy.uri, tmp_path)
    assert proxy.headers and all(h.get("authorization") == f"Bearer {TOKEN}" for h in proxy.headers)
    _assert_nowhere(TOKEN, run, log_text, mlflow_server, mlflow_client, tmp_path)


def test_username_and_password_are_sent_as_basic_auth(proxy, mlflow_server, mlflow_client, tmp_path, monkeypatch):
    """MLFLOW_TRACKING_USERNAME/PASSWORD go out as Basic auth (before a token, as in MLflow)."""
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", TOKEN)
    run, log_text = _log_everything(proxy.uri, tmp_path)
    expected = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    assert proxy.headers and all(h.get("authorization") == expected for h in proxy.headers)
    _assert_nowhere(PASSWORD, run, log_text, mlflow_server, mlflow_client, tmp_path)


@pytest.fixture
def tls_proxy(mlflow_uri, tmp_path):
    """An HTTPS proxy to the server with a self-signed certificate for 127.0.0.1."""
    crypto = pytest.importorskip("cryptography")
    del crypto
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    proxy = Proxy(mlflow_uri, tls=context)
    proxy.start()
    yield proxy, str(cert_path)
    proxy.stop()


def test_tls_is_verified_unless_told_otherwise(tls_proxy, mlflow_client, monkeypatch):
    """An untrusted certificate is refused; its CA bundle, or MLFLOW_TRACKING_INSECURE_TLS=true, let it through."""
    proxy, cert_path = tls_proxy
    with pytest.raises(RemoteError, match="TLS"):
        tracklog.Workspace(proxy.uri).get_experiment("any")  # a read asks the server at once

    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", cert_path)
    trusted = tracklog.Experiment(tracklog.Workspace(proxy.uri + "/"), unique()).start_logging("ca")
    trusted.log("m", 1)
    trusted.complete()
    assert mlflow_client.get_metric_history(mlflow_id(mlflow_client, trusted.id), "m")[0].value == 1.0

    monkeypatch.delenv("MLFLOW_TRACKING_SERVER_CERT_PATH")
    monkeypatch.setenv("MLFLOW_TRACKING_INSECURE_TLS", "true")
    insecure = tracklog.Experiment(tracklog.Workspace(proxy.uri + "//"), unique()).start_logging("insecure")
    insecure.log("m", 2)
    insecure.complete()
    assert mlflow_client.get_metric_history(mlflow_id(mlflow_client, insecure.id), "m")[0].value == 2.0


def test_credentials_written_in_the_url_are_used_and_never_shown(proxy, mlflow_client, tmp_path):
    """http://user:pass@host: sent as Basic auth, and absent from Workspace.path, its repr,
    Experiment's repr, get_tracking_uri(), exception texts, `tracklog ui`'s start line and JSON."""
    host = proxy.uri.split("://", 1)[1]
    uri = f"http://alice:{PASSWORD}@{host}"
    ws = tracklog.Workspace(uri)
    exp = tracklog.Experiment(ws, unique())
    shown = [ws.path, repr(ws), repr(exp), ws.path, repr(ws.store)]
    assert ws.path == proxy.uri
    try:
        tracklog.set_tracking_uri(uri)
        shown.append(tracklog.get_tracking_uri())
        assert tracklog.get_tracking_uri() == proxy.uri
    finally:
        tracklog.workspace.set_default_location(None)

    run = exp.start_logging("url-credentials")
    run.log("m", 1.0)
    run.complete()
    expected = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    assert proxy.headers and all(h.get("authorization") == expected for h in proxy.headers)
    assert mlflow_client.get_metric_history(mlflow_id(mlflow_client, run.id), "m")[0].value == 1.0

    errors = []
    for refused in (
        lambda: ws.get_run("f" * 32),
        lambda: ws.get_experiment(unique("missing")),
        lambda: tracklog.Workspace(f"http://alice:{PASSWORD}@127.0.0.1:9").get_experiment("x"),
        lambda: tracklog.Workspace(f"ftp://alice:{PASSWORD}@files.example"),
    ):
        with pytest.raises(tracklog.TracklogError) as caught:
            refused()
        errors.append(str(caught.value))
    assert "127.0.0.1:9" in errors[2] and "files.example" in errors[3], errors

    env = python_env(TRACKLOG_SPOOL_DIR=str(tmp_path / "spool"), MLFLOW_DISABLE_TELEMETRY="true")
    ui = subprocess.Popen(
        [sys.executable, "-m", "tracklog", "--workspace", uri, "ui", "--port", "0"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
    )
    try:
        start_line = ui.stdout.readline().decode()
        address = re.search(r" at (http://\S+)", start_line)
        assert address, start_line + ui.stderr.read1().decode()
        answer = requests.get(address.group(1).rstrip("/") + "/api/experiments", timeout=60)
        assert answer.status_code == 200 and answer.json()["workspace"] == proxy.uri
        shown += [start_line, answer.text]
    finally:
        ui.terminate()
        ui.wait(30)
    for text in shown + errors:
        assert PASSWORD not in text and "alice" not in text, text
