"""``tracklog ls | show | metrics | logs``: read a workspace from the terminal."""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from typing import Any

from ._errors import TracklogError
from ._logfile import decode_record, render_text
from ._types import RUNNING
from .workspace import Workspace


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the read-only workspace commands."""
    ls = subparsers.add_parser("ls", help="list runs, newest first")
    ls.add_argument("--experiment", "-e", help="only this experiment's runs")
    ls.set_defaults(func=cmd_ls)

    show = subparsers.add_parser("show", help="one run: status, tags, params, metrics, files")
    show.add_argument("run", help="run id, a unique prefix, or latest")
    show.set_defaults(func=cmd_show)

    metrics = subparsers.add_parser("metrics", help="a run's metrics, or one metric's points")
    metrics.add_argument("run", help="run id, a unique prefix, or latest")
    metrics.add_argument("name", nargs="?", help="print every point of this metric")
    metrics.add_argument("--csv", action="store_true", help="comma-separated output")
    metrics.add_argument("--plot", metavar="OUT.png", help="draw the metric into an image (needs matplotlib)")
    metrics.set_defaults(func=cmd_metrics)

    logs = subparsers.add_parser("logs", help="a run's log records")
    logs.add_argument("run", help="run id, a unique prefix, or latest")
    logs.add_argument("--level", "-l", help="minimum level, e.g. WARNING")
    logs.add_argument("--logger", help="only this logger and its children")
    logs.add_argument("--file", default="python.log", help="log file under logs/ (default python.log)")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing while the run is running")
    logs.set_defaults(func=cmd_logs)


class EmptyWorkspaceError(TracklogError):
    """The workspace holds no runs."""


def find_run(workspace: Workspace, run_id: str):  # type: ignore[no-untyped-def]
    """The run with this id or prefix; ``latest`` names the newest run."""
    if run_id in ("latest", "last"):
        runs = workspace.store.search_runs()
        if not runs:
            raise EmptyWorkspaceError(f"no runs in workspace {workspace.location}")
        run_id = runs[0].run_id
    return workspace.get_run(run_id)


def open_workspace(args: argparse.Namespace) -> Workspace:
    """The workspace named by --workspace (or the default), which must exist."""
    return Workspace(args.workspace, create=False)


def when(ts: float | None) -> str:
    """A timestamp as local time, or '-'."""
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def duration(start: float, end: float | None) -> str:
    """A run's length as 1h02m03s / 2m03s / 3.4s."""
    seconds = (end if end is not None else time.time()) - start
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def fmt(value: Any, exact: bool = False) -> str:
    """A metric value for a table: 6 significant digits, or every digit when ``exact``."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return repr(value) if exact else f"{value:.6g}"
    return str(value)


def _table(rows: list[list[str]], out: Any = None) -> None:
    out = out or sys.stdout
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() + "\n")


def cmd_ls(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    store = workspace.store
    experiment_id = None
    if args.experiment:
        info = store.get_experiment(args.experiment)
        if info is None:
            raise TracklogError(f"no experiment {args.experiment!r} in workspace {workspace.location}")
        experiment_id = info.experiment_id
    runs = store.search_runs(experiment_id=experiment_id)
    if not runs:
        raise EmptyWorkspaceError(f"no runs in workspace {workspace.location}")
    rows = [["RUN ID", "EXPERIMENT", "NAME", "STATUS", "STARTED", "DURATION"]]
    for info in runs:
        rows.append(
            [
                info.run_id[:12],
                info.experiment_name,
                ("  " if info.parent_run_id else "") + info.name,
                info.status,
                when(info.start_time),
                duration(info.start_time, info.end_time),
            ]
        )
    _table(rows)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    run = find_run(workspace, args.run)
    info = run.info
    out = sys.stdout
    out.write(f"run        {info.run_id}\n")
    out.write(f"experiment {info.experiment_name}\n")
    out.write(f"name       {info.name}\n")
    out.write(f"status     {info.status}\n")
    out.write(f"started    {when(info.start_time)}\n")
    out.write(f"ended      {when(info.end_time)}  ({duration(info.start_time, info.end_time)})\n")
    if info.parent_run_id:
        out.write(f"parent     {info.parent_run_id}\n")
    if info.error:
        out.write("error      " + info.error.strip().replace("\n", "\n           ") + "\n")
    for title, mapping in (("tags", run.get_tags()), ("params", run.get_params())):
        if mapping:
            out.write(f"\n{title}:\n")
            for key, value in mapping.items():
                out.write(f"  {key}" + (f" = {value}" if value != "" else "") + "\n")
    store = workspace.store
    kinds = store.metric_kinds(run.id)
    if kinds:
        last = store.last_values(run.id)
        out.write("\nmetrics (last value):\n")
        rows = []
        for name, kind in kinds.items():
            value = last.get(name)
            shown = "(table)" if kind == "row" else fmt(value)
            rows.append(["  " + name, shown])
        _table(rows, out)
    files = store.list_files(run.id)
    if files:
        out.write("\nfiles:\n")
        for name in files:
            out.write(f"  {name}\n")
    children = store.search_runs(parent_run_id=run.id)
    if children:
        out.write("\nchildren:\n")
        for child in children:
            out.write(f"  {child.run_id[:12]}  {child.name}  {child.status}\n")
    return 0


def cmd_metrics(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    run = find_run(workspace, args.run)
    store = workspace.store
    kinds = store.metric_kinds(run.id)
    writer = csv.writer(sys.stdout) if args.csv else None
    if args.name is None:
        if args.plot:
            raise TracklogError("--plot draws one metric: tracklog metrics RUN NAME --plot out.png")
        if not kinds:
            raise TracklogError(f"run {run.id} has no metrics")
        last = store.last_values(run.id)
        rows = [["NAME", "KIND", "POINTS", "LAST"]]
        for name, kind in kinds.items():
            count = len(store.metric_history(run.id, name))
            rows.append([name, kind, str(count), fmt(last.get(name))])
        if writer:
            writer.writerows(rows)
        else:
            _table(rows)
        return 0
    if args.name not in kinds:
        raise TracklogError(f"run {run.id} has no metric {args.name!r} (tracklog metrics {args.run} lists them)")
    if args.plot:
        from ._ui._plot import plot_metric

        print(plot_metric(store, run.id, args.name, args.plot))
        return 0
    points = store.metric_history(run.id, args.name)
    header = ["step", "value", "timestamp", "rank"]
    exact = bool(writer)
    rows = [
        [str(p.step), fmt(p.value, exact), repr(p.timestamp), "" if p.rank is None else str(p.rank)]
        for p in points
    ]
    if writer:
        writer.writerow(header)
        writer.writerows(rows)
    else:
        _table([[h.upper() for h in header], *rows])
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    from .run import _levelno

    workspace = open_workspace(args)
    run = find_run(workspace, args.run)
    minimum = _levelno(args.level)
    store = workspace.store
    out = sys.stdout
    printed = 0
    view = _std_log_view(args.file, args.logger)
    while True:
        # Read the status first: lines written before the run ended are then caught below.
        finished = not args.follow or store.get_run(run.id).status != RUNNING
        for index, raw in enumerate(store.iter_log_lines(run.id, args.file)):
            if index < printed:
                continue
            if not raw.endswith(b"\n"):
                break  # a line still being written; picked up on the next pass
            printed += 1
            if view is not None:
                out.writelines(text + "\n" for text in view.feed(raw))
                continue
            text = _render(raw, minimum, args.logger)
            if text is not None:
                out.write(text + "\n")
        if finished and view is not None:
            out.writelines(text + "\n" for text in view.finish())
        out.flush()
        if finished:
            return 0
        time.sleep(0.5)


def _std_log_view(filename: str, logger: str | None) -> Any:
    """For captured output (std_log.txt): a view joining partial pieces, \\r redraws collapsed."""
    if filename != "std_log.txt":
        return None
    from ._capture_format import StdLogView

    return StdLogView(streams=[logger] if logger else None)


def _render(raw: bytes, minimum: int | None, logger: str | None) -> str | None:
    """One log line as text, or None when the filters drop it."""
    record = decode_record(raw)
    if record is None:
        return raw.decode("utf-8", "replace").rstrip("\n")
    if minimum is not None and record.get("levelno", 0) < minimum:
        return None
    name = record.get("logger", "")
    if logger and not (name == logger or name.startswith(logger + ".")):
        return None
    return render_text(record)
