"""The command line itself: global options on either side of the sub-command, --version,
typos and bad option values as one line on stderr with exit status 2."""

from __future__ import annotations

import sys

import pytest

import tracklog
from tests.cli.conftest import one_line, tracklog_process


@pytest.mark.parametrize("command", [["ls"], ["show", "latest"], ["metrics", "latest"], ["logs", "latest"]])
def test_the_workspace_option_works_before_or_after_the_subcommand(tracklog_main, workspace, finished, command):
    """`tracklog -w W CMD`, `tracklog CMD -w W` and `tracklog CMD --workspace=W` print the same."""
    before = tracklog_main("--workspace", workspace.path, *command)
    assert before.code == 0, before.err
    for after in (["--workspace", workspace.path], ["-w", workspace.path], [f"--workspace={workspace.path}"]):
        done = tracklog_main(*command, *after)
        assert (done.code, done.out, done.err) == (0, before.out, before.err)


def test_a_workspace_given_before_the_subcommand_is_not_reset_by_its_default(tracklog_main, workspace, finished):
    """The sub-command's own --workspace has no default that would overwrite the one given first."""
    done = tracklog_main("-w", workspace.path, "show", finished.id)  # cwd holds no ./.tracklog
    assert done.code == 0 and finished.id in done.out


def test_run_and_ingest_take_the_workspace_after_the_subcommand(tracklog_main, tmp_path):
    """`tracklog ingest FILE --workspace W` and `tracklog run -w W -- CMD` write into W."""
    log = tmp_path / "saved.log"
    log.write_text("one\ntwo\n")
    ws = tmp_path / "after-ws"
    assert tracklog_main("ingest", log, "--workspace", ws).code == 0
    assert tracklog_main("ingest", log, "--run", "latest", "-w", ws).code == 0
    (run,) = tracklog.Workspace(ws).get_runs()
    assert [r["message"] for r in run.get_logs(filename="std_log.txt")] == ["one", "two", "one", "two"]
    done = tracklog_process("run", "-w", ws, "--quiet", "--", sys.executable, "-c", "print('hi')")
    assert done.code == 0, done.err
    assert len(list(tracklog.Workspace(ws).get_runs())) == 2


def test_version_prints_tracklog_and_its_version(tracklog_main):
    """`tracklog --version` (and `-V`, also after a sub-command) prints `tracklog <version>`."""
    assert tracklog_process("--version") == (0, f"tracklog {tracklog.__version__}\n", "")
    assert tracklog_main("-V").out == f"tracklog {tracklog.__version__}\n"
    assert tracklog_main("ls", "--version").out == f"tracklog {tracklog.__version__}\n"


def test_a_mistyped_command_suggests_the_nearest_one_in_one_line():
    """`tracklog sohw` says "did you mean 'show'?" in one line on stderr and exits 2."""
    done = tracklog_process("sohw", "latest")
    assert done.code == 2 and done.out == ""
    assert one_line(done.err) == "tracklog: no command 'sohw'; did you mean 'show'? (tracklog --help lists the commands)"
    done = tracklog_process("-w", "somewhere", "xyzzy")
    assert done.code == 2 and "no command 'xyzzy'" in one_line(done.err) and "ls, show" in done.err


def test_an_unknown_level_is_one_line_and_exit_2_never_a_traceback(workspace, finished):
    """`tracklog logs latest --level LOUD` names the levels there are, in one line."""
    done = tracklog_process("logs", "latest", "--level", "LOUD", "-w", workspace.path)
    assert done.code == 2 and done.out == ""
    line = one_line(done.err)
    assert line.startswith("tracklog logs: argument --level/-l: unknown level 'LOUD'") and "WARNING" in line


def test_a_level_is_read_in_any_case_or_as_a_number(tracklog_main, workspace, finished):
    """--level warning, --level WARNING and --level 30 all hide the debug record."""
    for level in ("warning", "WARNING", "30"):
        done = tracklog_main("-w", workspace.path, "logs", "latest", "--level", level)
        assert done.code == 0 and "loud warning" in done.out and "quiet detail" not in done.out


@pytest.mark.parametrize(
    "args, option",
    [
        (["ui", "--port", "99999"], "--port"),
        (["ui", "--port", "eighty"], "--port"),
        (["sync", "latest", "--to", "http://127.0.0.1:9", "--timeout", "-1"], "--timeout"),
        (["sync", "--pending", "--timeout", "soon"], "--timeout"),
        (["logs", "latest", "--file", "../../etc/passwd"], "--file"),
        (["run", "--param", "lr", "--", "true"], "--param"),
        (["run", "--tag", "=x", "--", "true"], "--tag"),
        (["show"], "required"),
        (["ls", "--no-such-option"], "unrecognized"),
    ],
)
def test_a_bad_option_value_is_one_line_and_exit_2(tracklog_main, workspace, finished, args, option):
    """Every option with a constrained value is checked by the parser: one line on stderr, exit 2."""
    done = tracklog_main("-w", workspace.path, *args)
    assert done.code == 2 and done.out == ""
    line = one_line(done.err)
    assert line.startswith(("tracklog: ", f"tracklog {args[0]}: ")) and option in line and line.endswith("--help")
    assert "tracklog: tracklog" not in line
