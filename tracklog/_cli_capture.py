"""``tracklog run -- COMMAND`` and ``tracklog ingest``: existing programs and logs become runs."""

from __future__ import annotations

import argparse
import errno
import os
import shlex
import sys
from typing import Any

from . import _config, _context
from ._errors import RunNotFoundError, TracklogError
from .workspace import Experiment, Workspace

_RUN_USAGE = (
    "tracklog run [--experiment E] [--name N] [--tag K=V ...] [--param K=V ...] "
    "[--outputs DIR] [--quiet] [--no-logging-capture] [--otlp] -- COMMAND [ARGS...]"
)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``run`` and ``ingest``."""
    run = subparsers.add_parser(
        "run",
        usage=_RUN_USAGE,
        help="run a command as a run: its output, exit status and ./outputs are recorded",
        description="Run COMMAND as a child process inside a new run. Its stdout and stderr go to the "
        "run's logs/std_log.txt (and on to your terminal), JSON lines with metric/metrics/tags on stdout "
        "become metrics and tags, Python logging records go to logs/python.log, files it leaves in "
        "./outputs are collected, and its exit status ends the run and becomes tracklog's own.",
    )
    run.add_argument("--experiment", "-e", help="experiment name (default: the parent run's, else Default)")
    run.add_argument("--name", "-n", help="run name (default: the script, module or program name)")
    run.add_argument("--tag", action="append", default=[], metavar="K=V", help="set a tag (repeatable)")
    run.add_argument("--param", action="append", default=[], metavar="K=V", help="set a param (repeatable)")
    run.add_argument("--outputs", default="outputs", metavar="DIR", help="folder collected at the end (default ./outputs)")
    run.add_argument("--quiet", "-q", action="store_true", help="record the output without echoing it")
    run.add_argument(
        "--no-logging-capture",
        action="store_true",
        help="do not capture Python logging records of the command (no sitecustomize bootstrap)",
    )
    run.add_argument("--otlp", action="store_true", help="route records to OTLP too (sets TRACKLOG_OTLP=1)")
    run.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    run.set_defaults(func=cmd_run)

    ingest = subparsers.add_parser(
        "ingest",
        help="read a log stream (docker logs -t, kubectl logs, a saved file) into a run",
        description="Read lines from FILE (or - for stdin) into a run's logs/std_log.txt. A leading RFC 3339 "
        "timestamp (docker logs -t) becomes the line's time; JSON lines with metric/metrics/tags become "
        "metrics and tags.",
    )
    ingest.add_argument("--run", "-r", dest="run_id", help="an existing run to add to")
    ingest.add_argument("--experiment", "-e", help="experiment of the new run (default Default)")
    ingest.add_argument("--name", "-n", help="name of the new run (default: the file name, or ingest)")
    ingest.add_argument("--stream", default="stdout", help="stream name the lines are recorded under (default stdout)")
    ingest.add_argument("--echo", action="store_true", help="also copy the input to stdout")
    ingest.add_argument("file", nargs="?", default="-", help="a log file, or - for stdin (default)")
    ingest.set_defaults(func=cmd_ingest)


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not key:
            raise TracklogError(f"{flag} {item!r}: give KEY=VALUE (or KEY alone for a tag)")
        if not sep and flag == "--param":
            raise TracklogError(f"--param {item!r}: give KEY=VALUE")
        pairs[key] = value
    return pairs


def _parent(workspace: Workspace) -> Any:
    """The run named by TRACKLOG_RUN_ID (we run inside it), or None."""
    run_id = os.environ.get(_config.ENV_RUN_ID)
    if not run_id:
        return None
    try:
        return workspace.get_run(run_id)
    except RunNotFoundError:
        print(
            f"tracklog: TRACKLOG_RUN_ID={run_id} is not a run of {workspace.location}; "
            "starting a top-level run",
            file=sys.stderr,
        )
        return None


def _say(text: str) -> None:
    """A note for a person at a terminal; kept off pipes so wrapped output stays byte-identical."""
    if sys.stderr.isatty():
        print(f"tracklog: {text}", file=sys.stderr, flush=True)


def cmd_run(args: argparse.Namespace) -> int:
    from ._capture_process import (
        ChildProcess,
        child_env,
        collect_outputs,
        default_run_name,
        outputs_snapshot,
        signal_name,
    )
    from .run import Run

    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise TracklogError("give the command to run after --, e.g. tracklog run -- python train.py")
    tags = _pairs(args.tag, "--tag")
    params = _pairs(args.param, "--param")
    workspace = Workspace(args.workspace)
    parent = _parent(workspace)
    if args.experiment:
        experiment = Experiment(workspace, args.experiment)
    elif parent is not None:
        experiment = parent.experiment
    else:
        experiment = Experiment(workspace, _context.default_experiment())
    if args.otlp:
        os.environ["TRACKLOG_OTLP"] = "1"
    run = Run._start(experiment, args.name or default_run_name(command), parent=parent)
    outputs = os.path.abspath(args.outputs)
    try:
        run.set_tags(tags)
        run.log_params(params)
        run.tag("tracklog.command", shlex.join(command))
        before = outputs_snapshot(outputs)
        env = child_env(
            run,
            os.environ,
            logging_capture=not args.no_logging_capture,
            otlp=args.otlp,
            live=not args.quiet and sys.stdout.isatty(),
        )
        child = ChildProcess(run, command, env, echo=not args.quiet)
        try:
            child.start()
        except OSError as exc:
            reason = exc.strerror or str(exc)
            run.fail(error=f"cannot run {command[0]!r}: {reason}")
            print(f"tracklog: cannot run {command[0]!r}: {reason}", file=sys.stderr)
            return 127 if exc.errno == errno.ENOENT else 126
        _say(f"run {run.id} in experiment {experiment.name!r}")
        status = child.wait()
        collect_outputs(run, outputs, before)
        run.tag("tracklog.exit_code", status)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            run.cancel()
        else:
            run.fail(exc)
        raise
    code = child.returncode
    assert code is not None
    if child.interrupted:
        run.cancel()
    elif code == 0:
        run.complete()
    elif code < 0:
        run.fail(error=f"killed by {signal_name(-code)}")
    else:
        run.fail(error=f"exit code {code}")
    _say(f"run {run.id} {run.status} (exit status {status})")
    return status


def cmd_ingest(args: argparse.Namespace) -> int:
    from ._ingest import ingest_stream
    from .run import Run

    workspace = Workspace(args.workspace)
    if args.run_id:
        if args.experiment or args.name:
            raise TracklogError("give either --run ID or --experiment/--name for a new run, not both")
        run = workspace.get_run(args.run_id)
        owned = False
    else:
        name = args.name or (os.path.basename(args.file) if args.file != "-" else "ingest")
        experiment = Experiment(workspace, args.experiment or _context.default_experiment())
        run = Run._start(experiment, name)
        owned = True
    try:
        if args.file == "-":
            lines = ingest_stream(run, sys.stdin.buffer, args.stream, echo=sys.stdout.buffer if args.echo else None)
        else:
            try:
                handle = open(args.file, "rb")
            except OSError as exc:
                raise TracklogError(f"cannot read {args.file}: {exc.strerror or exc}") from exc
            with handle:
                lines = ingest_stream(run, handle, args.stream, echo=sys.stdout.buffer if args.echo else None)
    except BaseException as exc:
        if owned:
            if isinstance(exc, KeyboardInterrupt):
                run.cancel()
            else:
                run.fail(exc)
        raise
    if owned:
        run.complete()
    else:
        run.flush()
    print(f"tracklog: {lines} lines into run {run.id}", file=sys.stderr)
    return 0
