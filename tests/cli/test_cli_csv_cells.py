"""``tracklog metrics --csv`` escapes formula-like cells, and leaves numbers as numbers."""

from __future__ import annotations

import csv
import io


def test_metrics_csv_escapes_formulas_and_keeps_negative_numbers(tracklog_main, workspace, experiment):
    """A string point '=...' is written as text (a leading '); -0.5 and -inf stay raw."""
    run = experiment.start_logging("r")
    for i, value in enumerate(["=1+1", "@SUM(A1)", "-2+3+cmd|' /C calc'!A0", "\t=1"]):
        run.log("note", value, step=i)
    for i, value in enumerate([-0.5, float("-inf"), -3]):
        run.log("loss", value, step=i)
    run.log("=evil", -1.5)
    run.complete()
    out = tracklog_main("-w", workspace.path, "metrics", "latest", "note", "--csv").out
    values = [row[1] for row in csv.reader(io.StringIO(out))][1:]
    assert values == ["'=1+1", "'@SUM(A1)", "'-2+3+cmd|' /C calc'!A0", "'\t=1"]
    out = tracklog_main("-w", workspace.path, "metrics", "latest", "loss", "--csv").out
    assert [row[1] for row in csv.reader(io.StringIO(out))][1:] == ["-0.5", "-inf", "-3"]
    assert "'" not in out
    out = tracklog_main("-w", workspace.path, "metrics", "latest", "--csv").out
    rows = {row[0]: row for row in csv.reader(io.StringIO(out))}
    assert "'=evil" in rows and "=evil" not in rows
    assert rows["'=evil"][3] == "-1.5"  # its last value, a number, unprefixed
    assert rows["loss"][4:] == ["-inf", "-0.5"]  # min and max
