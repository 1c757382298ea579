"""HTTP to an MLflow tracking server: a requests Session with retries, credentials and TLS.

Credentials and TLS settings come from MLflow's own environment variables, so a
machine set up for ``mlflow`` works unchanged: ``MLFLOW_TRACKING_USERNAME`` and
``MLFLOW_TRACKING_PASSWORD`` (Basic, taking precedence as in MLflow), else
``MLFLOW_TRACKING_TOKEN`` (Bearer); TLS verified unless
``MLFLOW_TRACKING_INSECURE_TLS=true``, against ``MLFLOW_TRACKING_SERVER_CERT_PATH``
when set. Credentials live only in the session: never in a URL we log or store.
"""

from __future__ import annotations

import os
import urllib.parse
from typing import IO, Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .. import _diag
from .._errors import TracklogError
from ._names import display_uri

__all__ = ["RemoteAPIError", "RemoteError", "RemoteUnavailableError", "RestClient", "display_uri"]

API = "/api/2.0/mlflow/"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
#: HTTP statuses worth retrying: throttled, or the server (or a proxy before it) failing.
RETRY_STATUSES = (429, 500, 502, 503, 504)


class RemoteError(TracklogError):
    """The MLflow tracking server refused a request or could not be reached."""


class RemoteUnavailableError(RemoteError):
    """The server could not be reached (``status`` None), or kept failing (5xx, 429) after retries."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RemoteAPIError(RemoteError):
    """The server answered a request with an error (4xx): ``status`` and MLflow's ``code``."""

    def __init__(self, message: str, status: int, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _retry(attempts: int, idempotent: bool) -> Retry:
    """urllib3's retry policy: connection errors always; 429/5xx only for idempotent calls."""
    return Retry(
        total=attempts,
        connect=attempts,
        read=attempts if idempotent else 0,
        status=attempts if idempotent else 0,
        other=0,
        backoff_factor=0.25,
        backoff_max=4.0,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=None,  # MLflow's write endpoints are POSTs; log-batch is idempotent
        respect_retry_after_header=True,
        raise_on_status=False,
    )


class RestClient:
    """Calls to one MLflow server's REST API and artifact proxy, with retries.

    ``attempts`` is how many times urllib3 retries a connection error, a 429 or a
    5xx (with exponential backoff) before the call raises RemoteUnavailableError.
    """

    def __init__(self, uri: str, *, attempts: int = 3, timeout: float = 60.0) -> None:
        parts = urllib.parse.urlsplit(uri)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RemoteError(f"not an MLflow server URL: {display_uri(uri)!r} (use http://host:port)")
        self.uri = display_uri(uri)
        self.timeout = timeout
        user = urllib.parse.unquote(parts.username) if parts.username else None
        password = urllib.parse.unquote(parts.password) if parts.password else None
        self._auth_from_url = (user, password) if user is not None else None
        # Passed with every request: a session-level setting loses to REQUESTS_CA_BUNDLE.
        self._verify: bool | str = True
        self._session = self._make_session(_retry(attempts, True))
        self._once = self._make_session(_retry(attempts, False))

    def _make_session(self, retry: Retry) -> requests.Session:
        session = requests.Session()
        adapter = HTTPAdapter(max_retries=retry, pool_maxsize=4)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.trust_env = True  # proxies from the environment, as mlflow does
        user = os.environ.get("MLFLOW_TRACKING_USERNAME")
        password = os.environ.get("MLFLOW_TRACKING_PASSWORD")
        token = os.environ.get("MLFLOW_TRACKING_TOKEN")
        if self._auth_from_url is not None:
            session.auth = (self._auth_from_url[0], self._auth_from_url[1] or "")
        elif user and password:
            session.auth = (user, password)
        elif token:
            session.headers["Authorization"] = f"Bearer {token}"
        if _env_true("MLFLOW_TRACKING_INSECURE_TLS"):
            self._verify = False
            import urllib3

            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        elif os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH"):
            self._verify = os.environ["MLFLOW_TRACKING_SERVER_CERT_PATH"]
        client_cert = os.environ.get("MLFLOW_TRACKING_CLIENT_CERT_PATH")
        if client_cert:
            session.cert = client_cert
        session.headers["User-Agent"] = "tracklog"
        return session

    # -- the REST API -----------------------------------------------------------

    def call(
        self,
        method: str,
        endpoint: str,
        body: dict[str, Any] | None = None,
        *,
        idempotent: bool = True,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """One REST call (``endpoint`` like ``runs/get``); the decoded JSON answer."""
        session = self._session if idempotent else self._once
        url = self.uri + API + endpoint
        kwargs: dict[str, Any] = {"params": body} if method == "GET" else {"json": body or {}}
        response = self._send(session, method, url, timeout, **kwargs)
        return _decode(response, endpoint, self.uri)

    def _send(
        self, session: requests.Session, method: str, url: str, timeout: float | None, **kwargs: Any
    ) -> requests.Response:
        try:
            # Connecting takes at most 10 s; an answer may take ``timeout`` between bytes.
            limits = (min(10.0, timeout or self.timeout), timeout or self.timeout)
            # Inside the guard on every thread: what urllib3 logs here is tracklog's own I/O,
            # passed on to the user's handlers but never into a run (see _diag.own_io).
            with _diag.doing_io():
                response = session.request(method, url, timeout=limits, verify=self._verify, **kwargs)
        except requests.exceptions.SSLError as exc:
            raise RemoteUnavailableError(
                f"TLS to the MLflow server at {self.uri} failed ({_reason(exc)}); set "
                "MLFLOW_TRACKING_SERVER_CERT_PATH to its CA bundle, or "
                "MLFLOW_TRACKING_INSECURE_TLS=true to skip verification"
            ) from None
        except requests.exceptions.RequestException as exc:
            raise RemoteUnavailableError(
                f"cannot reach the MLflow server at {self.uri}: {_reason(exc)}"
            ) from None
        if response.status_code in RETRY_STATUSES:
            raise RemoteUnavailableError(
                f"the MLflow server at {self.uri} answered HTTP {response.status_code} "
                f"after retries: {_message(response)}",
                response.status_code,
            )
        return response

    # -- the artifact proxy -----------------------------------------------------

    def _artifact_url(self, path: str) -> str:
        return self.uri + ARTIFACTS + "/" + urllib.parse.quote(path.lstrip("/"), safe="/")

    def put_artifact(self, path: str, data: bytes | IO[bytes], timeout: float | None = None) -> None:
        """Upload one file to ``path`` (relative to the proxy's root); overwrites.

        ``data`` may be a file object with ``__len__``: it is streamed, not read into memory.
        """
        response = self._send(self._session, "PUT", self._artifact_url(path), timeout, data=data)
        _decode(response, "artifact upload", self.uri)

    def get_artifact(self, path: str, timeout: float | None = None) -> bytes | None:
        """The file at ``path``, or None when there is none."""
        response = self._send(self._session, "GET", self._artifact_url(path), timeout)
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            _decode(response, "artifact download", self.uri)
        return response.content

    def list_artifacts(self, path: str) -> list[dict[str, Any]]:
        """Entries directly under ``path``: ``{"path": basename, "is_dir", "file_size"}``."""
        response = self._send(self._session, "GET", self.uri + ARTIFACTS, None, params={"path": path})
        return list(_decode(response, "artifact listing", self.uri).get("files", []))

    def answers(self, timeout: float) -> bool:
        """Whether the server answers HTTP now (``/health``, one try within ``timeout`` s):
        any answer but 429 or 5xx. Refused, silent, or failing: False."""
        try:
            self._send(self._once, "GET", self.uri + "/health", timeout)
        except RemoteError:
            return False
        return True

    def close(self) -> None:
        self._session.close()
        self._once.close()


def _reason(exc: BaseException) -> str:
    """A short reason for a requests exception, without URLs' query strings or headers."""
    inner = exc.args[0] if exc.args else exc
    reason = getattr(inner, "reason", None)
    text = str(reason if reason is not None else inner)
    return text if len(text) < 300 else text[:300] + "..."


def _message(response: requests.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return (response.text or response.reason or "")[:300]
    if isinstance(payload, dict):
        return str(payload.get("message") or payload)[:2000]
    return str(payload)[:300]


def _decode(response: requests.Response, what: str, uri: str) -> dict[str, Any]:
    if response.status_code >= 400:
        try:
            code = str(response.json().get("error_code", ""))
        except (ValueError, AttributeError):
            code = ""
        hint = ""
        if response.status_code in (401, 403):
            hint = (
                " (set MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and "
                "MLFLOW_TRACKING_PASSWORD)"
            )
        raise RemoteAPIError(
            f"the MLflow server at {uri} refused {what}: HTTP {response.status_code} "
            f"{code} {_message(response)}{hint}".replace("  ", " "),
            response.status_code,
            code,
        )
    if not response.content:
        return {}
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}
