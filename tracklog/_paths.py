"""Names of files inside a run: checked so nothing escapes the run's folder."""

from __future__ import annotations

import os
import posixpath
import shutil
from typing import IO, Iterable, Iterator

from ._errors import InvalidNameError


def check_file_name(name: str) -> str:
    """Return ``name`` as a clean relative POSIX path or raise InvalidNameError."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidNameError("a file name in the run is required, e.g. 'outputs/model.pt'")
    if "\x00" in name:
        raise InvalidNameError(f"file name {name!r} contains a NUL character")
    unified = name.replace("\\", "/")
    if unified.startswith("/") or posixpath.isabs(unified) or (len(unified) > 1 and unified[1] == ":"):
        raise InvalidNameError(
            f"file name {name!r} is absolute; give a name relative to the run, e.g. 'outputs/x.txt'"
        )
    parts = [p for p in unified.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise InvalidNameError(f"file name {name!r} contains '..'; names must stay inside the run")
    if not parts:
        raise InvalidNameError(f"file name {name!r} names no file")
    return "/".join(parts)


def join_inside(root: str, name: str) -> str:
    """The path of ``name`` under ``root``, refusing symlinks that lead outside it."""
    clean = check_file_name(name)
    path = os.path.join(root, *clean.split("/"))
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    if real != real_root and not real.startswith(real_root + os.sep):
        raise InvalidNameError(f"file name {name!r} leads outside the run's folder")
    return path


def folder_files(root: str, skip: Iterable[str | None] = ()) -> Iterator[tuple[str, str]]:
    """Each file under ``root`` as ``(path, name)``, ``name`` relative to ``root`` with "/",
    in name order. The folders in ``skip`` (the workspace, or the folder the files are
    copied into) are passed by, so copying "." from a project that holds its workspace
    copies neither the workspace nor the copy into itself."""
    skipped = {os.path.realpath(path) for path in skip if path and os.path.isdir(path)}
    for folder, dirs, names in os.walk(root):
        if skipped:
            dirs[:] = [d for d in dirs if os.path.realpath(os.path.join(folder, d)) not in skipped]
        dirs.sort()
        for file in sorted(names):
            path = os.path.join(folder, file)
            yield path, os.path.relpath(path, root).replace(os.sep, "/")


def copy_source(source: str | os.PathLike[str] | IO[bytes], dest: str) -> None:
    """Copy a local file, or everything a (binary or text) stream still holds, to ``dest``."""
    if isinstance(source, (str, os.PathLike)):
        shutil.copyfile(source, dest)
        return
    with open(dest, "wb") as out:
        while True:
            chunk = source.read(1 << 20)
            if not chunk:
                break
            out.write(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)
