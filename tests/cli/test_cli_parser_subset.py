"""A command line that names a sub-command builds only the parsers of the module adding it
(``tracklog run`` skips the other eight), and says, prints and exits exactly as the full parser."""

from __future__ import annotations

import argparse
import contextlib
import io

import pytest

from tracklog import cli

_ALL = list(cli._COMMANDS)


def test_the_command_table_is_what_the_modules_register_in_help_order() -> None:
    """``cli._COMMANDS`` names every sub-command, in ``--help``'s order, with the module that adds it."""
    assert cli.build_parser().commands == _ALL
    for module in cli._COMMAND_MODULES:
        subparsers = argparse.ArgumentParser().add_subparsers()
        cli.command_module(module).register(subparsers)
        assert list(subparsers.choices) == [name for name, owner in cli._COMMANDS.items() if owner == module]


def test_tracklog_run_builds_only_the_capture_commands() -> None:
    """``tracklog run ...`` (global options before or after it) builds ``run`` and ``ingest`` only."""
    for argv in (["run", "--", "true"], ["-w", "ws", "run", "--quiet", "--", "true"], ["--workspace=ws", "run"]):
        assert cli.build_parser(cli._command_name(argv, stop_at_help=True)).commands == ["run", "ingest"]


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["-h", "run"],
        ["--help", "ls"],
        ["-w", "run", "--help"],
        [],
        ["-w", "ws"],
        ["--", "run"],
    ],
)
def test_the_top_level_help_and_no_command_build_every_parser(argv: list[str]) -> None:
    """The top-level help (before any command), no command, or only ``--`` build every command's parser."""
    assert cli.build_parser(cli._command_name(argv, stop_at_help=True)).commands == _ALL


def _outcome(parser: cli._Parser, argv: list[str]) -> tuple[object, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            args = parser.parse_args(argv)
            result: object = sorted((k, repr(v)) for k, v in vars(args).items() if k != "func")
        except SystemExit as exc:
            result = ("exit", exc.code)
    return result, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    "argv",
    [[name, "--help"] for name in _ALL]
    + [
        ["run"],
        ["run", "--quiet", "--no-tensorboard", "--", "true"],
        ["-w", "ws", "run", "--name", "n", "--tag", "a=b", "--", "python", "x.py"],
        ["run", "--bogus", "--", "true"],
        ["ingest", "--format", "nope", "f"],
        ["ls", "--limit", "x"],
        ["show"],
        ["--workspace", "ws", "metrics", "latest", "loss"],
        ["models", "ls"],
        ["models"],
        ["sync", "--bogus"],
        ["--version", "ls"],
    ],
)
def test_a_named_command_parses_and_fails_as_with_every_parser(argv: list[str]) -> None:
    """With only its module's parsers, a command line parses to the same values, or prints the same
    help or error and exits with the same status, as with every command's parser built."""
    subset = cli.build_parser(cli._command_name(argv, stop_at_help=True))
    assert len(subset.commands) < len(_ALL)
    assert _outcome(subset, argv) == _outcome(cli.build_parser(), argv)


def test_main_keeps_an_unknown_commands_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown command still gets the one-line "did you mean", exit status 2, from every command's name."""
    assert cli.main(["rn", "--", "true"]) == 2
    assert capsys.readouterr().err.strip() == (
        "tracklog: no command 'rn'; did you mean 'run'? (tracklog --help lists the commands)"
    )
    assert cli.main(["zzzz"]) == 2
    assert capsys.readouterr().err.strip().endswith("the commands are " + ", ".join(_ALL))
