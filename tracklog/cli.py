"""The ``tracklog`` command: ``tracklog ls | show | metrics | logs ...``.

Each command group lives in its own ``_cli_*`` module exposing ``register(subparsers)``;
this module only assembles them and turns TracklogError into a one-line message.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from ._errors import TracklogError

# Modules that add sub-commands; each has register(subparsers) -> None.
_COMMAND_MODULES = ("tracklog._cli_runs", "tracklog._cli_ui", "tracklog._cli_capture", "tracklog._cli_sync")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered sub-command."""
    import importlib

    parser = argparse.ArgumentParser(
        prog="tracklog",
        description="Experiment runs from the logging your programs already do.",
    )
    parser.add_argument(
        "--workspace",
        "-w",
        default=None,
        help="workspace folder (default: $TRACKLOG_WORKSPACE or ./.tracklog)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in _COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except TracklogError as exc:
        print(f"tracklog: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
