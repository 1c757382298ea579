"""``tracklog ls | show | metrics``: read a workspace's runs from the terminal.

``tracklog logs`` lives in ``_cli_logs``; what the commands share (the run a
reference names, the time and number formats) in ``_cli_common`` and ``_cli_format``.
"""

from __future__ import annotations

import argparse
import csv
import sys
from typing import TextIO

from .._errors import TracklogError
from .._provenance import PROVENANCE_TAG_NAMES, describe
from .._types import MetricPoint
from .._ui import plot_metric, safe_row
from ..run import Run
from ..store import Store
from ._common import RUN_HELP, EmptyWorkspaceError, open_workspace, resolve_run
from ._format import duration, number, point_time, summarize, table, when


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the read-only workspace commands."""
    ls = subparsers.add_parser("ls", help="list runs, newest first")
    ls.add_argument("--experiment", "-e", help="only this experiment's runs")
    ls.set_defaults(func=cmd_ls)

    show = subparsers.add_parser("show", help="one run: status, source, tags, params, metrics, files")
    show.add_argument("run", help=RUN_HELP)
    show.set_defaults(func=cmd_show)

    metrics = subparsers.add_parser("metrics", help="a run's metrics, or one metric's points")
    metrics.add_argument("run", help=RUN_HELP)
    metrics.add_argument("name", nargs="?", help="print every point of this metric")
    metrics.add_argument(
        "--csv", action="store_true", help="comma-separated output (every digit, and the time in epoch seconds too)"
    )
    metrics.add_argument("--plot", metavar="OUT.png", help="draw the metric into an image (needs matplotlib)")
    metrics.set_defaults(func=cmd_metrics)


def cmd_ls(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    store = workspace.store
    experiment_id = None
    if args.experiment:
        info = store.get_experiment(args.experiment)
        if info is None:
            raise TracklogError(f"no experiment {args.experiment!r} in workspace {workspace.path}")
        experiment_id = info.experiment_id
    runs = store.search_runs(experiment_id=experiment_id)
    if not runs:
        raise EmptyWorkspaceError(f"no runs in workspace {workspace.path}")
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
    table(rows)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    run = resolve_run(workspace, args.run)
    store = workspace.store
    out = sys.stdout
    _show_head(run, out)
    tags = run.get_tags()
    source = describe(tags)
    if source:
        out.write("\nsource:\n")
        width = max(len(label) for label, _value in source)
        for label, value in source:
            out.write(f"  {label:<{width}}  " + value.replace("\n", "\n" + " " * (width + 4)) + "\n")
    plain = {key: value for key, value in tags.items() if key not in PROVENANCE_TAG_NAMES}
    for title, mapping in (("tags", plain), ("params", run.get_params())):
        if mapping:
            out.write(f"\n{title}:\n")
            for key, value in mapping.items():
                out.write(f"  {key}" + (f" = {value}" if value != "" else "") + "\n")
    _show_metrics(store, run.id, out)
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


def _show_head(run: Run, out: TextIO) -> None:
    info = run.info
    out.write(f"run        {info.run_id}\n")
    out.write(f"experiment {info.experiment_name}\n")
    out.write(f"name       {info.name}\n")
    out.write(f"status     {info.status}\n")
    out.write(f"started    {when(info.start_time)}\n")
    so_far = "" if info.end_time is not None else "so far "
    out.write(f"ended      {when(info.end_time)}  ({so_far}{duration(info.start_time, info.end_time)})\n")
    if info.parent_run_id:
        out.write(f"parent     {info.parent_run_id}\n")
    if info.error:
        out.write("error      " + info.error.strip().replace("\n", "\n           ") + "\n")


def _show_metrics(store: Store, run_id: str, out: TextIO) -> None:
    summaries = summarize(store, run_id)
    if not summaries:
        return
    out.write("\nmetrics:\n")
    rows = [["  NAME", "LAST", "COUNT", "MIN", "MAX"]]
    rows += [["  " + s.name, s.last, str(s.count), s.low, s.high] for s in summaries]
    table(rows, out)


def cmd_metrics(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    run = resolve_run(workspace, args.run)
    store = workspace.store
    writer = csv.writer(sys.stdout) if args.csv else None
    if args.name is None:
        if args.plot:
            raise TracklogError("--plot draws one metric: tracklog metrics RUN NAME --plot out.png")
        summaries = summarize(store, run.id)
        if not summaries:
            raise TracklogError(f"run {run.id} has no metrics")
        rows = [["NAME", "KIND", "COUNT", "LAST", "MIN", "MAX"]]
        rows += [[s.name, s.kind, str(s.count), s.last, s.low, s.high] for s in summaries]
        if writer:
            writer.writerows(map(safe_row, rows))
        else:
            table(rows)
        return 0
    if args.name not in store.metric_kinds(run.id):
        raise TracklogError(f"run {run.id} has no metric {args.name!r} (tracklog metrics {args.run} lists them)")
    if args.plot:

        print(plot_metric(store, run.id, args.name, args.plot))
        return 0
    points = store.metric_history(run.id, args.name)
    if writer:
        # Every digit, and the time twice: ISO 8601 for people, epoch seconds for programs.
        writer.writerow(["step", "value", "time", "epoch_seconds", "rank"])
        writer.writerows(
            safe_row([p.step, number(p.value, exact=True), point_time(p.timestamp), repr(p.timestamp), _rank(p)])
            for p in points
        )
    else:
        table([["STEP", "VALUE", "TIME", "RANK"],
               *([str(p.step), number(p.value), point_time(p.timestamp), _rank(p)] for p in points)])
    return 0


def _rank(point: MetricPoint) -> str:
    return "" if point.rank is None else str(point.rank)
