"""Helpers for the capture tests: run the real CLI and child Pythons, read runs back."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from tests.conftest import python_env

import tracklog
from tracklog._output_format import OutputLine, read_output

PYTHON = sys.executable
TIMEOUT = 120


def env(**extra: str) -> dict[str, str]:
    """A child environment importing this checkout; TRACKLOG_* and RANK cleared."""
    base = python_env(**extra)
    for key in ("RANK", "LOCAL_RANK"):
        if key not in extra:
            base.pop(key, None)
    return base


def script(folder: Path, name: str, text: str) -> Path:
    """Write a dedented script file and return its path."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def tracklog_run(
    ws: Path, *command: str | os.PathLike[str], options: tuple[str, ...] = (), cwd: Path | None = None,
    extra_env: dict[str, str] | None = None, input: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """``python -m tracklog --workspace WS run OPTIONS -- COMMAND``, output captured."""
    argv = [PYTHON, "-m", "tracklog", "--workspace", str(ws), "run", *options, "--", *map(str, command)]
    return subprocess.run(
        argv, env=env(**(extra_env or {})), cwd=cwd, capture_output=True, timeout=TIMEOUT,
        stdin=subprocess.DEVNULL if input is None else None, input=input,
    )


def cli(ws: Path, *args: str, input: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    """Any ``python -m tracklog --workspace WS ...`` command, output captured."""
    argv = [PYTHON, "-m", "tracklog", "--workspace", str(ws), *args]
    return subprocess.run(
        argv, env=env(), cwd=cwd, capture_output=True, timeout=TIMEOUT, input=input,
        stdin=subprocess.DEVNULL if input is None else None,
    )


def runs(ws: Path) -> list[tracklog.Run]:
    """Every run of the workspace, newest first."""
    return list(tracklog.Workspace(ws).get_runs())


def only_run(ws: Path) -> tracklog.Run:
    (run,) = runs(ws)
    return run


def output_lines(run: tracklog.Run, stream: str | None = None) -> list[OutputLine]:
    """The run's captured lines (partial pieces joined), optionally of one stream."""
    run.flush()
    raw = run.workspace.store.iter_log_lines(run.id, "std_log.txt")
    return [line for line in read_output(raw) if stream is None or line.stream == stream]


def stream_bytes(run: tracklog.Run, stream: str) -> bytes:
    """One stream's bytes as the program wrote them, rebuilt from std_log.txt."""
    return b"".join(l.data + (b"\n" if l.complete else b"") for l in output_lines(run, stream))


def python_log(run: tracklog.Run) -> list[dict[str, Any]]:
    return run.get_logs()
