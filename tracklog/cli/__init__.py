"""The ``tracklog`` command: ``tracklog ls | show | metrics | logs ...``.

Each command group lives in its own module of this package exposing ``register(subparsers)``;
this module only assembles them, gives every sub-command the global options, and
turns every error into one line on stderr: exit status 2 for a wrong command line
(argparse's convention), 1 for a TracklogError.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from .._errors import TracklogError
from . import _capture, _logs, _models, _receive, _runs, _sync, _ui
from ._common import UsageError, add_global_options, say

# Modules that add sub-commands; each has register(subparsers) -> None.
_COMMAND_MODULES = (_runs, _logs, _ui, _capture, _sync, _receive, _models)

#: Global options that take a value: skipped when looking for the sub-command's name.
_VALUE_OPTIONS = ("--workspace", "-w")


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr (no usage block), exit status 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: The sub-command names, once build_parser has registered them.
        self.commands: list[str] = []

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{say(message, self.prog)}; see {self.prog} --help\n")


def build_parser() -> _Parser:
    """The argument parser with every registered sub-command."""
    parser = _Parser(
        prog="tracklog",
        description="Experiment runs from the logging your programs already do.",
    )
    add_global_options(parser, top_level=True)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _COMMAND_MODULES:
        module.register(subparsers)
    for subparser in subparsers.choices.values():
        add_global_options(subparser, top_level=False)
    parser.commands = list(subparsers.choices)
    return parser


def unknown_command(argv: Sequence[str], commands: Sequence[str]) -> str | None:
    """The sub-command name in ``argv`` when it is not one of ``commands``, else None."""
    tokens = iter(argv)
    for token in tokens:
        if token == "--":
            return None
        if token in _VALUE_OPTIONS:
            next(tokens, None)
        elif not token.startswith("-"):
            return None if token in commands else token
    return None


def _no_such_command(name: str, commands: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, commands, n=1)
    if close:
        return f"tracklog: no command {name!r}; did you mean {close[0]!r}? (tracklog --help lists the commands)"
    return f"tracklog: no command {name!r}; the commands are {', '.join(commands)}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    typo = unknown_command(argv, parser.commands)
    if typo is not None:
        print(_no_such_command(typo, parser.commands), file=sys.stderr)
        return 2
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(say(exc), file=sys.stderr)
        return 2
    except TracklogError as exc:
        print(say(exc), file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
