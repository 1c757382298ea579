"""The ``tracklog`` command: ``tracklog ls | show | metrics | logs ...``.

Each command group lives in its own module of this package exposing ``register(subparsers)``;
this module only assembles them, gives every sub-command the global options, and
turns every error into one line on stderr: exit status 2 for a wrong command line
(argparse's convention), 1 for a TracklogError.

A command line that names a command imports and builds only the module that adds it
(PEP 562 ``__getattr__`` below): ``tracklog run`` loads ``_capture``, not the receiver's,
the UI's or the listings' modules. ``tracklog --help`` and an unknown command load them all.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any, NoReturn

from .._errors import TracklogError
from .._lifecycle import Terminated
from ._common import UsageError, add_global_options, say

#: The modules that add sub-commands (each has ``register(subparsers) -> None``), in the
#: order ``--help`` lists their commands.
_COMMAND_MODULES = ("_runs", "_logs", "_ui", "_capture", "_sync", "_receive", "_models")

#: Each sub-command and the module that adds it, in the order ``--help`` lists them
#: (tests/cli checks this against what the modules register).
_COMMANDS = {
    "ls": "_runs",
    "show": "_runs",
    "metrics": "_runs",
    "logs": "_logs",
    "ui": "_ui",
    "run": "_capture",
    "ingest": "_capture",
    "sync": "_sync",
    "receive": "_receive",
    "models": "_models",
}

#: Top-level options that print the help of every command.
_HELP_OPTIONS = ("-h", "--help")

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


def build_parser(command: str | None = None) -> _Parser:
    """The argument parser with every registered sub-command, or only those of the module
    that adds ``command`` (``tracklog --help`` and an unknown command need them all)."""
    parser = _Parser(
        prog="tracklog",
        description="Experiment runs from the logging your programs already do.",
    )
    add_global_options(parser, top_level=True)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in (_COMMANDS[command],) if command in _COMMANDS else _COMMAND_MODULES:
        command_module(name).register(subparsers)
    for subparser in subparsers.choices.values():
        add_global_options(subparser, top_level=False)
    parser.commands = list(subparsers.choices)
    return parser


def command_module(name: str) -> ModuleType:
    """The command module ``name`` of this package (``"_capture"``), imported on first use."""
    module = globals().get(name)
    return module if isinstance(module, ModuleType) else __getattr__(name)


def __getattr__(name: str) -> Any:
    """A command module, imported the first time it is asked for (PEP 562). Each is imported
    by its full name: ``from . import _runs`` would ask this very function for ``_runs`` again."""
    if name == "_runs":
        import tracklog.cli._runs as module
    elif name == "_logs":
        import tracklog.cli._logs as module
    elif name == "_ui":
        import tracklog.cli._ui as module
    elif name == "_capture":
        import tracklog.cli._capture as module
    elif name == "_sync":
        import tracklog.cli._sync as module
    elif name == "_receive":
        import tracklog.cli._receive as module
    elif name == "_models":
        import tracklog.cli._models as module
    else:
        raise AttributeError(f"module 'tracklog.cli' has no attribute {name!r}")
    return module


def unknown_command(argv: Sequence[str], commands: Sequence[str]) -> str | None:
    """The sub-command name in ``argv`` when it is not one of ``commands``, else None."""
    name = _command_name(argv)
    return None if name is None or name in commands else name


def _command_name(argv: Sequence[str], *, stop_at_help: bool = False) -> str | None:
    """The first word of ``argv`` that is not a global option or its value: the sub-command's
    name (None with ``stop_at_help`` when the top-level ``--help``, listing them all, comes first)."""
    tokens = iter(argv)
    for token in tokens:
        if token == "--" or (stop_at_help and token in _HELP_OPTIONS):
            return None
        if token in _VALUE_OPTIONS:
            next(tokens, None)
        elif not token.startswith("-"):
            return token
    return None


def _no_such_command(name: str, commands: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, commands, n=1)
    if close:
        return f"tracklog: no command {name!r}; did you mean {close[0]!r}? (tracklog --help lists the commands)"
    return f"tracklog: no command {name!r}; the commands are {', '.join(commands)}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_command_name(argv, stop_at_help=True))
    typo = unknown_command(argv, list(_COMMANDS))
    if typo is not None:
        print(_no_such_command(typo, list(_COMMANDS)), file=sys.stderr)
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
    except Terminated as exc:  # SIGTERM/SIGHUP under end_runs_on: 128+N, as a shell reports it
        return int(exc.code)  # type: ignore[arg-type]
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
