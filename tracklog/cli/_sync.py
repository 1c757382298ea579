"""``tracklog sync``: push runs logged offline to an MLflow tracking server.

``tracklog sync RUN --to URI`` copies a run of the local workspace (and its child
runs) to the server, through the same mapping the remote store uses while a run
lives. It is idempotent: the remote run is found again by its
``tracklog.synced_from`` tag, metric points already on the server are skipped,
params are only added, and files of the same size are not sent again.

``tracklog sync --pending`` sends what processes that logged straight to a server
kept in their spool (``TRACKLOG_SPOOL_DIR``) because the server was unreachable.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import TextIO

from .. import _config, store
from .._errors import TracklogError
from ..store import counts_text
from ..workspace import Workspace
from ._common import local_location, resolve_run
from ._format import plural


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``tracklog sync``."""
    sync = subparsers.add_parser(
        "sync",
        help="push a local run to an MLflow tracking server, or send what a spool kept",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sync.add_argument("run", nargs="?", help="run id, a unique prefix, or latest, in the local workspace")
    sync.add_argument(
        "--to",
        metavar="URI",
        help="the MLflow tracking server, e.g. http://host:5000 "
        "(default: $TRACKLOG_TRACKING_URI, else $MLFLOW_TRACKING_URI)",
    )
    sync.add_argument("--pending", action="store_true", help="send what earlier processes kept in the spool")
    sync.add_argument("--no-children", action="store_true", help="leave the run's child runs out")
    sync.add_argument(
        "--timeout", type=seconds, default=300.0, help="seconds to wait for an unreachable server (default 300)"
    )
    sync.set_defaults(func=cmd_sync)


def seconds(text: str) -> float:
    """A --timeout value: a number of seconds, zero or more."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value < math.inf:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds: give one such as 300")
    return value


def cmd_sync(args: argparse.Namespace) -> int:
    if args.pending:
        return _sync_pending(args.to, args.timeout)
    if not args.run:
        raise TracklogError("name a run to sync (tracklog sync RUN --to URI), or use --pending")
    target = args.to or _default_target()
    if not target:
        raise TracklogError("give the MLflow server to sync to: --to http://host:5000")
    workspace = Workspace(local_location(args.workspace), create=False)
    info = resolve_run(workspace, args.run).info
    result = store.sync_run(
        workspace.store, info, target, children=not args.no_children, progress=_bar, say=_say
    )
    print(f"run {info.run_id} -> {result.server} run {result.remote_id}: {_summary(result.counts)}")
    return 0


def _default_target() -> str | None:
    for name in (_config.ENV_TRACKING_URI, _config.ENV_MLFLOW_TRACKING_URI):
        value = _config.env(name) or ""
        if value.startswith(("http://", "https://")):
            return value
    return None


def _summary(counts: dict[str, int]) -> str:
    return ", ".join(
        (
            plural(counts["runs"], "run"),
            plural(counts["new points"], "new point"),
            plural(counts["points already there"], "point") + " already there",
            plural(counts["params"], "param"),
            plural(counts["files"], "file"),
        )
    )


def _bar(label: str, total: int) -> Progress:
    return Progress(label, total, sys.stderr)


def _say(text: str) -> None:
    sys.stderr.write(text + "\n")


class Progress:
    """A progress bar on a stream: redrawn in place on a terminal, in steps of 25% elsewhere."""
    def __init__(self, label: str, total: int, stream: TextIO) -> None:
        self.label = label
        self.total = max(total, 0)
        self.done = 0
        self.stream = stream
        self._tty = bool(getattr(stream, "isatty", lambda: False)())
        self._drawn = -1.0
        self._quarter = -1
        self.update(0)

    def update(self, count: int) -> None:
        self.done = min(self.done + count, self.total) if self.total else 0
        fraction = self.done / self.total if self.total else 1.0
        now = time.monotonic()
        if self._tty:
            if fraction < 1.0 and now - self._drawn < 0.1:
                return
            self._drawn = now
            self.stream.write("\r" + self._line(fraction))
        else:
            quarter = int(fraction * 4)
            if quarter == self._quarter:
                return
            self._quarter = quarter
            self.stream.write(self._line(fraction) + "\n")
        self.stream.flush()

    def _line(self, fraction: float) -> str:
        filled = int(fraction * 30)
        bar = "#" * filled + "-" * (30 - filled)
        return f"{self.label} [{bar}] {fraction * 100:3.0f}% {self.done}/{self.total}"

    def close(self) -> None:
        if self._tty:
            self.stream.write("\r" + self._line(1.0 if not self.total else self.done / self.total) + "\n")
            self.stream.flush()


def _sync_pending(target: str | None, timeout: float) -> int:
    """Send every leftover spool to its server (or ``target``), and say how it went."""
    root, results = store.send_pending(target, timeout, _bar)
    if not results:
        print(f"nothing pending in {root}")
        return 0
    failed = 0
    for result in results:
        if result.delivered:
            print(f"{result.path}: delivered to {result.server}")
        else:
            failed += 1
            reason = f" ({result.reason})" if result.reason else ""
            print(f"{result.path}: {counts_text(result.left) or 'data'} still pending for {result.server}{reason}")
        if result.refused:
            print(f"{result.path}: the server refused {counts_text(result.refused)}")
    return 1 if failed else 0
