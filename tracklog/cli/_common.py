"""What every ``tracklog`` command shares: its global options, its workspace and its run.

A command module adds its parser and calls these, so ``--workspace`` means the
same thing everywhere and every command that takes a run takes an id, a
unique prefix or ``latest``.
"""

from __future__ import annotations

import argparse
import sys

from .. import __version__, _config
from .._errors import TracklogError
from ..run import Run
from ..workspace import Workspace

#: Words that name the newest run of the workspace.
LATEST = ("latest", "last")

RUN_HELP = "run id, a unique prefix, or latest"


class UsageError(TracklogError):
    """The command line itself is wrong (exit status 2, like argparse's own errors)."""


class EmptyWorkspaceError(TracklogError):
    """The workspace holds no runs."""


def say(message: object, prog: str = "tracklog") -> str:
    """``prog: message``, without doubling a ``tracklog:`` the message already starts with."""
    text = str(message).strip()
    while text.startswith("tracklog:"):
        text = text[len("tracklog:"):].lstrip()
    return f"{prog}: {text}"


def note(message: str) -> None:
    """A one-line remark on stderr, off the command's own output."""
    print(say(message), file=sys.stderr, flush=True)


def add_global_options(parser: argparse.ArgumentParser, *, top_level: bool) -> None:
    """``--workspace`` and ``--version``, before the sub-command or after it.

    A sub-command's copy defaults to SUPPRESS, so ``tracklog -w W ls`` keeps the
    W given before the sub-command instead of overwriting it with a default.
    """
    parser.add_argument(
        "--workspace",
        "-w",
        metavar="DIR|URL",
        default=None if top_level else argparse.SUPPRESS,
        help="workspace folder or MLflow server URL (default: $TRACKLOG_WORKSPACE or ./.tracklog)",
    )
    parser.add_argument("--version", "-V", action="version", version=f"tracklog {__version__}")


def open_workspace(args: argparse.Namespace) -> Workspace:
    """The workspace named by --workspace (or the default), which must exist already."""
    return Workspace(args.workspace, create=False)


def local_location(given: str | None) -> str:
    """The local workspace folder for commands that never talk to a server (sync reads it)."""
    return given or _config.env(_config.ENV_WORKSPACE) or _config.DEFAULT_WORKSPACE


def resolve_run(workspace: Workspace, ref: str) -> Run:
    """The run ``ref`` names: a run id, a unique prefix of one, or ``latest`` (the run made last)."""
    if ref in LATEST:
        last = workspace.store.last_made_run()
        if last is None:
            raise EmptyWorkspaceError(f"no runs in workspace {workspace.path}")
        ref = last.run_id
    return workspace.get_run(ref)
