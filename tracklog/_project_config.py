"""A project's own settings for tracklog: ``tracklog.toml``, or ``[tool.tracklog]`` in ``pyproject.toml``.

Found from the working directory upwards: the first directory holding a
``tracklog.toml`` (its top-level keys) or a ``pyproject.toml`` with a
``[tool.tracklog]`` table wins; in one directory ``tracklog.toml`` comes first.
Read with ``tomllib`` (Python 3.11+); on 3.10 with ``tomli`` when it is
installed, else not at all (one warning), since tracklog has no required
dependency and a project file only sets defaults the command line can give.
Keys tracklog does not know are left alone (a newer tracklog may read them).
"""

from __future__ import annotations

import os
from typing import Any

from . import _diag
from ._errors import TracklogError
from ._record import FrozenRecord

try:
    import tomllib as _toml
except ImportError:  # Python 3.10
    try:
        import tomli as _toml  # type: ignore[no-redef]
    except ImportError:
        _toml = None  # type: ignore[assignment]

FILES = ("tracklog.toml", "pyproject.toml")


class ProjectConfig(FrozenRecord):
    """The settings of one project file; ``path`` is None when there is none."""

    __slots__ = ("path", "metrics", "builtin_metrics", "extra")
    path: str | None
    #: --metrics patterns
    metrics: tuple[str, ...]
    #: false: as --no-metrics
    builtin_metrics: bool
    #: every key, as read
    extra: dict[str, Any]

    def __init__(
        self,
        path: str | None = None,
        metrics: tuple[str, ...] = (),
        builtin_metrics: bool = True,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.path = path
        self.metrics = metrics
        self.builtin_metrics = builtin_metrics
        self.extra = {} if extra is None else extra


def find(start: str | None = None) -> str | None:
    """The project file that applies in ``start`` (default: the working directory), or None."""
    folder = os.path.abspath(start or os.getcwd())
    while True:
        for name in FILES:
            path = os.path.join(folder, name)
            if os.path.isfile(path) and (name == "tracklog.toml" or _has_table(path)):
                return path
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _has_table(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            return b"[tool.tracklog]" in handle.read()
    except OSError:
        return False


def load(start: str | None = None) -> ProjectConfig:
    """The project's settings; an unreadable or malformed file is refused with its path."""
    path = find(start)
    if path is None:
        return ProjectConfig()
    if _toml is None:
        _diag.warn_once(("project-config", path), "tracklog: %s is not read on this Python (install tomli)", path)
        return ProjectConfig()
    try:
        with open(path, "rb") as handle:
            data = _toml.load(handle)
    except OSError as exc:
        raise TracklogError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:  # tomllib.TOMLDecodeError
        raise TracklogError(f"{path}: not valid TOML ({exc})") from exc
    if os.path.basename(path) == "pyproject.toml":
        data = data.get("tool", {}).get("tracklog", {})
    return _parse(path, data)


def _parse(path: str, data: Any) -> ProjectConfig:
    if not isinstance(data, dict):
        raise TracklogError(f"{path}: the tracklog settings must be a table")
    metrics = data.get("metrics", [])
    if isinstance(metrics, str):
        metrics = [metrics]
    if not isinstance(metrics, list) or not all(isinstance(item, str) for item in metrics):
        raise TracklogError(f"{path}: metrics must be a list of patterns (strings)")
    builtin = data.get("builtin-metrics", data.get("builtin_metrics", True))
    if not isinstance(builtin, bool):
        raise TracklogError(f"{path}: builtin-metrics must be true or false")
    return ProjectConfig(path, tuple(metrics), builtin, dict(data))
