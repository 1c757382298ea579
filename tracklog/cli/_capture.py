"""``tracklog run -- COMMAND`` and ``tracklog ingest``: existing programs and logs become runs."""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import shlex
import signal
import sys
from typing import IO, TYPE_CHECKING, Any

from .. import _config, _project_config, capture
from .._errors import RunNotFoundError, TracklogError
from .._types import CANCELED, COMPLETED, FAILED
from .._lifecycle import end_runs_on
from ..capture import (
    FORMATS,
    ChildProcess,
    FollowedFile,
    MetricRules,
    child_env,
    collect_outputs,
    default_run_name,
    find_event_files,
    find_synced_run,
    ingest_tensorboard,
    outputs_snapshot,
    read_by_others,
    signal_name,
)
from ..pipeline import current
from ..run import Run
from ..workspace import Experiment, Workspace
from ._common import UsageError, note, resolve_run
from ._format import plural

if TYPE_CHECKING:
    from ..capture import IngestResult

_RUN_USAGE = (
    "tracklog run [--workspace DIR] [--experiment E] [--name N] [--tag K=V ...] [--param K=V ...] "
    "[--outputs DIR] [--quiet] [--no-logging-capture] [--otlp] [--tensorboard DIR | --no-tensorboard] "
    "[--metrics PATTERN ...] [--no-metrics] -- COMMAND [ARGS...]"
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
    run.add_argument("--tag", action="append", default=[], type=tag_pair, metavar="K=V",
                     help="set a tag; K alone is a valueless tag (repeatable)")
    run.add_argument("--param", action="append", default=[], type=param_pair, metavar="K=V",
                     help="set a param (repeatable; a param has one value)")
    run.add_argument("--outputs", default="outputs", metavar="DIR", help="folder collected at the end (default ./outputs)")
    run.add_argument("--quiet", "-q", action="store_true", help="record the output without echoing it")
    run.add_argument(
        "--no-logging-capture",
        action="store_true",
        help="do not capture Python logging records of the command (no sitecustomize bootstrap)",
    )
    run.add_argument("--otlp", action="store_true", help="route records to OTLP too (sets TRACKLOG_OTLP=1)")
    run.add_argument("--tensorboard", metavar="DIR",
                     help="folder watched for new TensorBoard event files, synced live (default: the working directory)")
    run.add_argument("--no-tensorboard", action="store_true", help="do not watch for TensorBoard event files")
    _metric_options(run)
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
    ingest.add_argument("--format", default="auto", choices=FORMATS,
                        help="the log's format (default auto: sniffed from the first lines; see docs/capture.md)")
    ingest.add_argument("--follow", "-f", action="store_true",
                        help="tail FILE (across rotation) into a live run until idle, or until --pid exits")
    ingest.add_argument("--idle", type=float, default=None, metavar="SECONDS",
                        help="with --follow: stop after this long without new lines (default 60; 0: never)")
    ingest.add_argument("--pid", type=int, metavar="PID", help="with --follow: stop once process PID has exited")
    _metric_options(ingest)
    ingest.add_argument("--tensorboard", metavar="LOGDIR",
                        help="read the TensorBoard event files under LOGDIR instead of a log stream (see docs/tensorboard.md)")
    ingest.add_argument("file", nargs="?", default="-", help="a log file, or - for stdin (default)")
    ingest.set_defaults(func=cmd_ingest)


def _metric_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--metrics", action="append", default=[], metavar="PATTERN",
                        help="also read metrics from lines matching PATTERN: a regex with groups name and value "
                        "(and step), or NAME=REGEX with one group for the value (repeatable)")
    parser.add_argument("--no-metrics", action="store_true",
                        help="no built-in metric recognisers (JSON, logfmt, key: value, dict lines, tqdm)")


def metric_rules(args: argparse.Namespace) -> MetricRules:
    """The metric recognition of a run or ingest: the project file's settings, then the options."""
    project = _project_config.load()
    return MetricRules(
        builtin=project.builtin_metrics and not args.no_metrics,
        patterns=[*project.metrics, *args.metrics],
    )


def tag_pair(text: str) -> tuple[str, str]:
    """A --tag value: KEY=VALUE, or KEY alone for a valueless tag."""
    key, _sep, value = text.partition("=")
    if not key:
        raise argparse.ArgumentTypeError(f"{text!r}: give KEY=VALUE (or KEY alone for a valueless tag)")
    return key, value


def param_pair(text: str) -> tuple[str, str]:
    """A --param value: KEY=VALUE."""
    key, sep, value = text.partition("=")
    if not key or not sep:
        raise argparse.ArgumentTypeError(f"{text!r}: give KEY=VALUE")
    return key, value


def _params(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """The --param pairs as a dict; one key given two values is refused (params are immutable)."""
    params: dict[str, str] = {}
    for key, value in pairs:
        if params.get(key, value) != value:
            raise UsageError(
                f"--param {key} is given twice ({params[key]!r} and {value!r}); a param has one value "
                "(use --tag, or log a metric, for values that change)"
            )
        params[key] = value
    return params


def _parent(workspace: Workspace) -> Any:
    """The run named by TRACKLOG_RUN_ID (we run inside it), or None."""
    run_id = _config.env(_config.ENV_RUN_ID)
    if not run_id:
        return None
    try:
        return workspace.get_run(run_id)
    except RunNotFoundError:
        note(f"TRACKLOG_RUN_ID={run_id} is not a run of {workspace.path}; starting a top-level run")
        return None


def _say(text: str) -> None:
    """A note for a person at a terminal; kept off pipes so wrapped output stays byte-identical."""
    if sys.stderr.isatty():
        note(text)


def cmd_run(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise UsageError("give the command to run after --, e.g. tracklog run -- python train.py")
    tags = dict(args.tag)
    params = _params(args.param)
    rules = metric_rules(args)
    workspace = Workspace(args.workspace)
    parent = _parent(workspace)
    if args.experiment:
        experiment = Experiment(workspace, args.experiment)
    elif parent is not None:
        experiment = parent.experiment
    else:
        experiment = Experiment(workspace, current.default_experiment())
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
        tensorboard = None if args.no_tensorboard else (args.tensorboard or os.getcwd())
        child = ChildProcess(run, command, env, echo=not args.quiet, tensorboard=tensorboard, metrics=rules)
        try:
            child.start()
        except OSError as exc:
            reason = exc.strerror or str(exc)
            run.fail(error=f"cannot run {command[0]!r}: {reason}")
            note(f"cannot run {command[0]!r}: {reason}")
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
    _end_run(run, child)
    _say(f"run {run.id} {run.status} (exit status {status})")
    return status


def _end_run(run: Run, child: ChildProcess) -> None:
    """End the run as the command's exit says, unless the command ended it itself.

    A command that ended its own run (``run.fail(...)``, ``run.cancel()`` or
    ``run.complete()`` on ``Run.get_context()``) said how it went: that status and
    its error stay, whatever the exit status (which is still the tag ``tracklog.exit_code``).
    """
    code = child.returncode
    assert code is not None
    left = run.info
    if left.status == COMPLETED:
        run.complete()
    elif left.status == FAILED:
        run.fail(error=left.error)
    elif left.status == CANCELED:
        run.cancel()
    elif child.interrupted:
        run.cancel()
    elif code == 0:
        run.complete()
    elif code < 0:
        run.fail(error=f"killed by {signal_name(-code)}")
    else:
        run.fail(error=f"exit code {code}")


def cmd_ingest(args: argparse.Namespace) -> int:
    if args.run_id and (args.experiment or args.name):
        raise UsageError("give either --run RUN or --experiment/--name for a new run, not both")
    if args.tensorboard:
        return _ingest_tensorboard(args)
    if args.follow and args.file == "-":
        raise UsageError("--follow reads a file; pipe a live stream in instead (docker logs -f C | tracklog ingest -)")
    if (args.pid is not None or args.idle is not None) and not args.follow:
        raise UsageError("--idle and --pid go with --follow")
    rules = metric_rules(args)
    # Everything that can be refused is checked before a workspace or a run is created.
    if args.file == "-":
        source: Any = contextlib.nullcontext(sys.stdin.buffer)
    elif args.follow:
        source = _follow_input(args.file, 60.0 if args.idle is None else args.idle, args.pid)
    else:
        source = _open_input(args.file)
    # `docker stop`, systemd and kill end a tailer with SIGTERM (a closed terminal with SIGHUP):
    # the run ends Canceled with what was read, as on Ctrl-C, and the exit status is 128+N.
    end_runs_on(signal.SIGTERM, signal.SIGHUP)
    with source as raw:
        stream = raw if args.follow else capture.decompressed(raw)  # kubelet and Docker rotate to *.gz
        if args.run_id:
            run = resolve_run(Workspace(args.workspace, create=False), args.run_id)
            owned = False
        else:
            name = args.name or (_log_name(args.file) if args.file != "-" else "ingest")
            experiment = Experiment(Workspace(args.workspace), args.experiment or current.default_experiment())
            run = Run._start(experiment, name)
            owned = True
        echo = sys.stdout.buffer if args.echo else None
        try:
            result = capture.ingest_lines(run, stream, args.stream, echo=echo, fmt=args.format, metrics=rules)
        except BaseException as exc:
            if owned:
                if isinstance(exc, KeyboardInterrupt):
                    run.cancel()
                else:
                    run.fail(exc)
            raise
    if owned:
        run.complete()
        if not args.follow:
            _own_times(run, result.first, result.last)
    else:
        run.flush()
    fmt = f" ({result.format})" if result.format != "text" else ""
    note(f"{plural(result.lines, 'line')}{fmt} into run {run.id}")
    damage = getattr(stream, "damage", None)
    if damage is not None:
        note(f"{args.file}: the gzip data breaks off ({damage}); the lines before it were read")
    _warn_if_few_parsed(result, forced=args.format != "auto")
    return 0


def _log_name(path: str) -> str:
    """A run name for a log file: its name, without the ``.gz`` of a rotated one."""
    name = os.path.basename(path)
    return name[:-3] if name.endswith(".gz") and len(name) > 3 else name


def _warn_if_few_parsed(result: IngestResult, *, forced: bool) -> None:
    """One line when fewer than half the lines parsed in a container format (a wrong --format, say)."""
    if result.format == "text" or not result.lines or result.untimed * 2 <= result.lines:
        return
    parsed = max(0, result.lines - result.untimed)
    how = f"--format {result.format}" if forced else f"sniffed as {result.format}"
    note(
        f"only {parsed} of {plural(result.lines, 'line')} parsed as {result.format} ({how}); "
        "the others were kept as text at the time they were read: is the format right?"
    )


def _own_times(run: Run, first: float | None, last: float | None) -> None:
    """A saved log's run starts and ends at its first and last line's own times, not at the ingest."""
    if first is None or last is None:
        return
    store = run.workspace.store
    set_origin = getattr(store, "set_run_origin", None)  # the SQLite store's; elsewhere the ingest's times stay
    if set_origin is None:
        return
    try:
        set_origin(run.id, first, run.info.user_id)
        store.set_status(run.id, run.status, max(first, last), None)
    except TracklogError as exc:
        note(f"the run keeps the ingest's own start and end time ({exc})")


def _follow_input(path: str, idle: float, pid: int | None) -> FollowedFile:
    try:
        followed = FollowedFile(path, idle=idle, pid=pid)
    except OSError as exc:
        raise TracklogError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if followed.gzipped():
        followed.close()
        raise UsageError(f"{path} is gzip'd, not a log that grows: ingest it without --follow")
    return followed


def _ingest_tensorboard(args: argparse.Namespace) -> int:
    """``ingest --tensorboard LOGDIR``: into --run, else the run that holds LOGDIR already, else a new one."""
    if args.file != "-":
        raise UsageError(f"give either a log FILE or --tensorboard LOGDIR, not both ({args.file!r})")
    if not os.path.isdir(args.tensorboard):
        what = "is not a folder" if os.path.exists(args.tensorboard) else "does not exist"
        raise TracklogError(f"--tensorboard {args.tensorboard} {what}; give the folder the event files are in")
    if args.run_id:
        run, owned = resolve_run(Workspace(args.workspace, create=False), args.run_id), False
        experiment = run.experiment
    else:
        experiment = Experiment(Workspace(args.workspace), args.experiment or current.default_experiment())
        run, owned = find_synced_run(experiment, args.tensorboard), False
    # Files other runs read already are theirs (jobs that reuse one log folder), not new.
    others = read_by_others(experiment, args.tensorboard, run)
    if run is None:
        if not find_event_files(args.tensorboard):
            note(f"no TensorBoard event files (*tfevents*) under {args.tensorboard}; no run was made")
            return 0
        name = args.name or os.path.basename(os.path.abspath(args.tensorboard))
        run, owned = Run._start(experiment, name), True
    try:
        counts, children = ingest_tensorboard(run, args.tensorboard, skip=others)
    except BaseException as exc:
        if owned:
            run.cancel() if isinstance(exc, KeyboardInterrupt) else run.fail(exc)
        raise
    if owned:
        run.complete()
    if not any(counts):
        note(f"nothing new under {args.tensorboard} for run {run.id}")
        return 0
    added = f"{plural(counts.points, 'point')}, {plural(counts.texts, 'text')}, {plural(counts.images, 'image')}"
    kids = f" and {plural(len(children), 'child run')}" if children else ""
    note(f"{added} into run {run.id}{kids}" + (f"; {counts.damaged} damaged records skipped" if counts.damaged else ""))
    return 0


def _open_input(path: str) -> IO[bytes]:
    try:
        return open(path, "rb")
    except OSError as exc:
        raise TracklogError(f"cannot read {path}: {exc.strerror or exc}") from exc
