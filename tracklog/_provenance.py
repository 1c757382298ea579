"""Where a run came from: user, host, Python, tracklog, command line, working directory, git.

MLflow records ``mlflow.user`` and ``mlflow.source.*`` for every run, W&B the host,
program and git state; tracklog records the same as ``tracklog.*`` tags when a run
starts, and a remote MLflow store sends them under MLflow's own tag names.
"""

from __future__ import annotations

import getpass
import os
import platform
import shlex
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping

from ._version import __version__

__all__ = ["PROVENANCE_TAG_NAMES", "TO_MLFLOW", "collect", "describe", "with_mlflow_names"]

USER = "tracklog.user"
HOST = "tracklog.host"
PYTHON = "tracklog.python"
VERSION = "tracklog.version"
COMMAND = "tracklog.command"
CWD = "tracklog.cwd"
SOURCE = "tracklog.source"
GIT_COMMIT = "tracklog.git.commit"
GIT_BRANCH = "tracklog.git.branch"
GIT_DIRTY = "tracklog.git.dirty"
GIT_REPO = "tracklog.git.repo"

#: tracklog's provenance tags under the names MLflow's own client gives them.
TO_MLFLOW = {
    USER: "mlflow.user",
    SOURCE: "mlflow.source.name",
    GIT_COMMIT: "mlflow.source.git.commit",
    GIT_BRANCH: "mlflow.source.git.branch",
    GIT_REPO: "mlflow.source.git.repoURL",
}
_FROM_MLFLOW = {mlflow: ours for ours, mlflow in TO_MLFLOW.items()}

#: Every tag name :func:`describe` reads (tracklog's and MLflow's).
PROVENANCE_TAG_NAMES = frozenset(
    {USER, HOST, PYTHON, VERSION, COMMAND, CWD, SOURCE, GIT_COMMIT, GIT_BRANCH, GIT_DIRTY, GIT_REPO}
    | set(_FROM_MLFLOW)
    | {"mlflow.source.type", "mlflow.gitRepoURL"}
)

#: The source type MLflow's client records for a script run on this machine.
SOURCE_TYPE_TAG = "mlflow.source.type"


def with_mlflow_names(tags: Mapping[str, str]) -> dict[str, str]:
    """``tags`` with tracklog's provenance also under MLflow's names (``mlflow.user``,
    ``mlflow.source.name`` and ``.type``, git), where those are not set: MLflow's UI
    columns and its ``tags.mlflow.user`` filters read them."""
    out = dict(tags)
    for ours, theirs in TO_MLFLOW.items():
        if ours in out and theirs not in out:
            out[theirs] = out[ours]
    if SOURCE in out and SOURCE_TYPE_TAG not in out:
        out[SOURCE_TYPE_TAG] = "LOCAL"
    return out


_GIT_TIMEOUT = 2.0
_cache: dict[str, str] | None = None
_cache_lock = threading.Lock()


def collect() -> dict[str, str]:
    """This process's provenance as tags; read once per process (git runs at most 3 times)."""
    global _cache
    with _cache_lock:
        if _cache is None or _cache.get(CWD) != os.getcwd():
            _cache = _collect()
        return dict(_cache)


def _collect() -> dict[str, str]:
    argv = sys.argv if sys.argv and sys.argv[0] else []
    tags = {
        USER: _user(),
        HOST: socket.gethostname(),
        PYTHON: platform.python_version(),
        VERSION: __version__,
        COMMAND: shlex.join([os.path.basename(sys.executable) or "python", *argv]),
        CWD: os.getcwd(),
    }
    script = sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c", "-m") else ""
    if script and _is_tracklog_cli(script):
        # tracklog run/ingest: the program is the job, in the working directory, not tracklog's
        # own files (whose git, in a checkout of tracklog, would be tracklog's repository).
        script = ""
    if script and os.path.exists(script):
        tags[SOURCE] = os.path.abspath(script)
    tags.update(_git(os.path.dirname(os.path.abspath(script)) if tags.get(SOURCE) else os.getcwd()))
    return tags


_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def _is_tracklog_cli(script: str) -> bool:
    """True for ``python -m tracklog`` (its ``__main__.py``) and the ``tracklog`` console script."""
    path = os.path.abspath(script)
    return path.startswith(_PACKAGE + os.sep) or os.path.basename(path) == "tracklog"


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name and no USER/LOGNAME (some containers)
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def _git(folder: str) -> dict[str, str]:
    """Commit, branch, dirty flag and origin URL of the repository holding ``folder``."""
    # One git process for both: the commit, then the branch name ("HEAD" when detached).
    heads = (_git_output(folder, "rev-parse", "HEAD", "--abbrev-ref", "HEAD") or "").splitlines()
    if not heads or not heads[0]:
        return {}
    commit, branch = heads[0], heads[1] if len(heads) > 1 else None
    tags = {GIT_COMMIT: commit}
    if branch and branch != "HEAD":
        tags[GIT_BRANCH] = branch
    status = _git_output(folder, "status", "--porcelain", "--untracked-files=no")
    if status is not None:
        tags[GIT_DIRTY] = "true" if status else "false"
    origin = _git_output(folder, "config", "--get", "remote.origin.url")
    if origin:
        tags[GIT_REPO] = _without_credentials(origin)
    return tags


def _git_output(folder: str, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _without_credentials(url: str) -> str:
    """``https://user:token@host/x`` as ``https://host/x``: a token never becomes a tag."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        return f"{scheme}://{rest.split('@', 1)[1]}"
    return url


def describe(tags: dict[str, str]) -> list[tuple[str, str]]:
    """The provenance in ``tags`` as (label, value) pairs for people, in a fixed order."""
    ours = {_FROM_MLFLOW.get(key, key): value for key, value in tags.items() if key in PROVENANCE_TAG_NAMES}
    pairs = [
        (label, ours[key])
        for label, key in (
            ("user", USER),
            ("host", HOST),
            ("python", PYTHON),
            ("tracklog", VERSION),
            ("command", COMMAND),
            ("cwd", CWD),
            ("source", SOURCE),
        )
        if ours.get(key)
    ]
    commit = ours.get(GIT_COMMIT)
    if commit:
        notes = [n for n in (ours.get(GIT_BRANCH), "dirty" if ours.get(GIT_DIRTY) == "true" else None) if n]
        pairs.append(("git", f"{commit[:12]} ({', '.join(notes)})" if notes else commit[:12]))
        if ours.get(GIT_REPO):
            pairs.append(("repository", ours[GIT_REPO]))
    return pairs
