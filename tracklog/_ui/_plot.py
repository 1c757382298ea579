"""``tracklog metrics RUN NAME --plot out.png``: one metric as a PNG, for terminals.

matplotlib is optional (the ``plot`` extra) and imported only here, only when asked.
The chart follows the web page's rules: a series or a list is a line over step,
a table with two numeric columns is a line with x = its first column.
"""

from __future__ import annotations

import math
from typing import Any

from .._errors import TracklogError
from .._tables import table_columns
from ..store import Store
from ._series import SeriesSource, chart_type

#: Pixel columns of the saved figure; the series is downsampled to this many buckets.
_WIDTH = 1600


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display needed
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise TracklogError(
            "--plot needs matplotlib, which is not installed: pip install 'tracklog[plot]' "
            "(or pip install matplotlib)"
        ) from exc
    return plt


def plot_metric(store: Store, run_id: str, name: str, path: str) -> str:
    """Draw one metric of a run into an image file; returns a one-line description."""
    source = SeriesSource(store)
    try:
        summary = next((s for s in source.summaries(run_id) if s.name == name), None)
        if summary is None:
            raise TracklogError(f"run {run_id} has no metric {name!r}")
        kind = chart_type(summary)
        if kind in ("text", "image"):
            raise TracklogError(
                f"metric {name!r} holds {'strings' if kind == 'text' else 'images'}; "
                "only numbers can be plotted (tracklog metrics RUN NAME prints it)"
            )
        plt = _pyplot()
        figure, axes = plt.subplots(figsize=(9, 4.5), dpi=110)
        try:
            if kind == "table":
                what = _plot_table(axes, source, run_id, name)
            else:
                series = source.series(run_id, name, _WIDTH)
                axes.plot(series["x"], [math.nan if v is None else v for v in series["y"]],
                          linewidth=1.2, label=name)
                axes.set_xlabel("step")
                what = f"{series['points']} point{'' if series['points'] == 1 else 's'}"
            axes.set_title(name)
            axes.grid(True, alpha=0.3)
            figure.tight_layout()
            figure.savefig(path)
        finally:
            plt.close(figure)
    finally:
        source.close()
    return f"{name}: {what} -> {path}"


def _plot_table(axes: Any, source: SeriesSource, run_id: str, name: str) -> str:
    _total, pairs = source.values(run_id, name, 0)
    columns, cells = table_columns([value for _step, value in pairs])
    numeric = [
        i for i in range(len(columns))
        if cells and all(isinstance(row[i], (int, float)) and not isinstance(row[i], bool) for row in cells)
    ]
    if len(numeric) < 2 or numeric[0] != 0:
        raise TracklogError(
            f"table {name!r} needs a numeric first column and another numeric column to plot "
            f"(its columns: {', '.join(columns) or 'none'})"
        )
    order = sorted(range(len(cells)), key=lambda r: cells[r][0])
    xs = [cells[r][0] for r in order]
    for i in numeric[1:]:
        axes.plot(xs, [cells[r][i] for r in order], linewidth=1.2, label=columns[i])
    axes.set_xlabel(columns[0])
    axes.legend()
    return f"{len(cells)} rows"
