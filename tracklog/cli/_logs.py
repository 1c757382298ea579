"""``tracklog logs RUN``: a run's log records (or captured output) as text, optionally followed."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Iterable

from .._errors import TracklogError
from .._logfile import decode_record, render_text
from .._output_format import OutputLine, OutputReader, render_line
from .._types import RUNNING
from ..store import Store
from ._common import RUN_HELP, note, open_workspace, resolve_run
from ._format import point_time

DEFAULT_FILE = "python.log"
#: The file ``tracklog run`` and ``tracklog ingest`` record output into.
OUTPUT_FILE = "std_log.txt"
_LEVELS = "DEBUG, INFO, WARNING, ERROR or CRITICAL"


class LogFileNotFoundError(TracklogError):
    """The run has no log file of the name asked for."""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``tracklog logs``."""
    logs = subparsers.add_parser("logs", help="a run's log records")
    logs.add_argument("run", help=RUN_HELP)
    logs.add_argument("--level", "-l", type=level, metavar="LEVEL", help=f"minimum level: {_LEVELS} (or a number)")
    logs.add_argument("--logger", help="only this logger and its children (for std_log.txt: stdout or stderr)")
    logs.add_argument(
        "--file", default=DEFAULT_FILE, type=log_file, metavar="NAME",
        help=f"log file under logs/ (default {DEFAULT_FILE}; {OUTPUT_FILE} for captured output)",
    )
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing while the run is running")
    logs.set_defaults(func=cmd_logs)


def level(text: str) -> int:
    """A --level value: a level name in any case, or a number."""
    if text.strip().isdigit():
        return int(text)
    number = logging.getLevelName(text.strip().upper())
    if not isinstance(number, int):
        raise argparse.ArgumentTypeError(f"unknown level {text!r}: use {_LEVELS}")
    return number


def log_file(text: str) -> str:
    """A --file value: a name under the run's logs/ (a leading ``logs/`` is allowed)."""
    name = text.strip().replace("\\", "/").removeprefix("logs/")
    if not name or name.startswith("/") or ".." in name.split("/"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a log file name: give one such as {DEFAULT_FILE}")
    return name


def log_files(store: Store, run_id: str) -> list[str]:
    """The names of the run's log files (under logs/)."""
    return [name[len("logs/"):] for name in store.list_files(run_id) if name.startswith("logs/")]


def require_file(store: Store, run_id: str, filename: str) -> None:
    """Raise LogFileNotFoundError, naming the files there are, when the run has no such log file."""
    present = log_files(store, run_id)
    if filename in present:
        return
    if not present:
        raise LogFileNotFoundError(f"run {run_id} has no log file {filename}: it has no log files")
    hint = f"tracklog logs {run_id[:12]} --file {present[0]}"
    raise LogFileNotFoundError(
        f"run {run_id} has no log file {filename}; its log files: {', '.join(present)} ({hint})"
    )


def cmd_logs(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    run = resolve_run(workspace, args.run)
    store = workspace.store
    follow = args.follow
    if follow and run.info.status != RUNNING:
        note(f"run {run.id[:12]} has finished ({run.info.status}); printing its log once")
        follow = False
    if not follow:
        require_file(store, run.id, args.file)
    view = OutputView(args.logger) if args.file == OUTPUT_FILE else RecordView(args.level, args.logger)
    out = sys.stdout
    printed = 0
    while True:
        # Read the status first: lines written before the run ended are then caught below.
        finished = not follow or store.get_run(run.id).status != RUNNING
        for index, raw in enumerate(store.iter_log_lines(run.id, args.file)):
            if index < printed:
                continue
            if not raw.endswith(b"\n"):
                break  # a line still being written; picked up on the next pass
            printed += 1
            out.writelines(text + "\n" for text in view.feed(raw))
        if finished:
            out.writelines(text + "\n" for text in view.finish())
            out.flush()
            if not printed:
                require_file(store, run.id, args.file)  # the run ended without ever writing it
            return 0
        out.flush()
        time.sleep(0.5)


class RecordView:
    """python.log and other record files: each JSON line as text, filtered by level and logger."""

    def __init__(self, minimum: int | None, logger: str | None) -> None:
        self.minimum = minimum
        self.logger = logger

    def feed(self, raw: bytes) -> list[str]:
        record = decode_record(raw)
        if record is None:
            return [raw.decode("utf-8", "replace").rstrip("\n")]
        if self.minimum is not None and record.get("levelno", 0) < self.minimum:
            return []
        name = record.get("logger", "")
        if self.logger and not (name == self.logger or name.startswith(self.logger + ".")):
            return []
        return [render_text(record)]

    def finish(self) -> list[str]:
        return []


class OutputView:
    """std_log.txt: partial pieces joined, ``\\r`` redraws collapsed, times in the local zone."""

    def __init__(self, stream: str | None) -> None:
        self._reader = OutputReader()
        self._stream = stream

    def _show(self, lines: Iterable[OutputLine]) -> list[str]:
        shown = []
        for line in lines:
            if self._stream is not None and line.stream != self._stream:
                continue
            ts = line.ts if line.time else 0.0
            shown.append(render_line(line._replace(time=point_time(ts)) if ts else line))
        return shown

    def feed(self, raw: bytes) -> list[str]:
        return self._show(self._reader.feed(raw))

    def finish(self) -> list[str]:
        return self._show(self._reader.finish())
