"""Snapshots of a source folder, as Azure ML keeps them with a run.

``submit`` and ``start_logging(snapshot_directory=...)`` copy the folder into the
run under ``snapshot/``. Files matched by ``.amlignore`` (or, when there is none,
``.gitignore``) are left out, as are ``.git``, ``__pycache__``, the ``outputs`` and
``logs`` folders (the run keeps those itself) and the workspace folder when it lies
inside. A snapshot is bounded as Azure's is (``MAX_FILES`` files, ``MAX_BYTES``
bytes): a folder over the bound gets no snapshot and one warning, and the run goes on.
"""

from __future__ import annotations

import fnmatch
import os
from typing import Iterable

from . import _diag
from ._record import FrozenRecord

#: The run's files under this prefix are its snapshot.
PREFIX = "snapshot/"
#: Azure's bounds for a snapshot.
MAX_FILES = 2000
MAX_BYTES = 300 * 1024 * 1024
_ALWAYS_SKIPPED = (".git", "__pycache__", ".ipynb_checkpoints", "outputs", "logs", ".azureml", ".tracklog")


class _Rule(FrozenRecord):
    """One line of an ignore file, parsed."""

    __slots__ = ("pattern", "negate", "directory_only", "anchored")
    pattern: str
    negate: bool
    directory_only: bool
    anchored: bool

    def __init__(self, pattern: str, negate: bool, directory_only: bool, anchored: bool) -> None:
        self.pattern = pattern
        self.negate = negate
        self.directory_only = directory_only
        self.anchored = anchored

    def matches(self, rel: str, is_dir: bool) -> bool:
        if self.directory_only and not is_dir:
            return False
        if self.anchored:
            return fnmatch.fnmatchcase(rel, self.pattern)
        return fnmatch.fnmatchcase(os.path.basename(rel), self.pattern) or fnmatch.fnmatchcase(
            rel, "*/" + self.pattern
        ) or fnmatch.fnmatchcase(rel, self.pattern)


def ignore_rules(folder: str) -> list[_Rule]:
    """The rules of ``.amlignore``, else ``.gitignore``, at the folder's top (gitignore syntax)."""
    for name in (".amlignore", ".gitignore"):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as handle:
                return _parse(handle)
    return []


def _parse(lines: Iterable[str]) -> list[_Rule]:
    rules = []
    for raw in lines:
        line = raw.rstrip("\n").rstrip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        if negate:
            line = line[1:]
        directory_only = line.endswith("/")
        line = line.rstrip("/")
        anchored = "/" in line
        line = line.lstrip("/")
        if line:
            rules.append(_Rule(line, negate, directory_only, anchored))
    return rules


def _ignored(rules: list[_Rule], rel: str, is_dir: bool) -> bool:
    ignored = False
    for rule in rules:
        if rule.matches(rel, is_dir):
            ignored = not rule.negate
    return ignored


def snapshot_files(folder: str, skip: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(relative name, path) of each file a snapshot of ``folder`` keeps, sorted;
    ``skip`` are absolute folders to leave out (the workspace)."""
    root = os.path.abspath(folder)
    skipped = {os.path.abspath(s) for s in skip}
    rules = ignore_rules(root)
    found = []
    for current, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(current, root).replace(os.sep, "/")
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        dirs[:] = sorted(
            d for d in dirs
            if d not in _ALWAYS_SKIPPED
            and os.path.join(current, d) not in skipped
            and not _ignored(rules, rel_dir + d, True)
        )
        for name in sorted(files):
            rel = rel_dir + name
            if not _ignored(rules, rel, False):
                found.append((rel, os.path.join(current, name)))
    return found


def take(run: object, folder: str, skip: Iterable[str] = ()) -> int:
    """Copy a snapshot of ``folder`` into ``run`` (its ``upload_file``); the files kept."""
    files = snapshot_files(folder, skip)
    size = 0
    for _rel, path in files:
        try:
            size += os.path.getsize(path)
        except OSError:
            pass
    if len(files) > MAX_FILES or size > MAX_BYTES:
        _diag.warn_once(
            ("snapshot", os.path.abspath(folder)),
            "tracklog: no snapshot of %s: %d files, %d MB is over the bound of %d files, %d MB; "
            "list what to leave out in .amlignore",
            folder, len(files), size // (1024 * 1024), MAX_FILES, MAX_BYTES // (1024 * 1024),
        )
        return 0
    upload = run.upload_file  # type: ignore[attr-defined]
    kept = 0
    for rel, path in files:
        try:
            upload(PREFIX + rel, path)
            kept += 1
        except (OSError, ValueError) as exc:  # a file that vanished or a name the run refuses
            _diag.logger.warning("tracklog: snapshot left out %s: %s", rel, exc)
    return kept
