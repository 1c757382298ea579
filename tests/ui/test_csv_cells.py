"""CSV downloads are safe to open in a spreadsheet: formula-like text is escaped, numbers are not."""

from __future__ import annotations

import csv
import io

import pytest

from tracklog._ui._csv import spreadsheet_safe

FORMULAS = [
    "=1+1", "=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3+cmd|' /C calc'!A0", "@SUM(A1:A9)",
    "\t=1", "\r=1", "-", "+", "=", "-x", "+inf+1", "-1-1", "-0.5e", "--1",
]
NUMBERS_AS_TEXT = ["-0.5", "+1", "-1e-05", "1e300", "-inf", "inf", "nan", "-nan", "0", "-0", ".5", "-.5", "+1.5E+10"]


@pytest.mark.parametrize("text", FORMULAS)
def test_formula_like_text_gets_a_leading_quote(text):
    """Text starting with = + - @ tab or CR that is not a plain number is prefixed with '."""
    assert spreadsheet_safe(text) == "'" + text


@pytest.mark.parametrize("value", [-0.5, -1, -(2**63), float("-inf"), 0, 3.25, True, None, *NUMBERS_AS_TEXT])
def test_numbers_and_number_text_are_left_alone(value):
    """A number, or text that is exactly one (as tracklog writes floats: '-0.5', '-inf'), stays as it is."""
    assert spreadsheet_safe(value) is value


@pytest.mark.parametrize("text", ["plain", " =1 (a space first)", "a=1", "'quoted", "", "1-2", "é=1"])
def test_other_text_is_left_alone(text):
    """Text that does not start with a formula character is not touched."""
    assert spreadsheet_safe(text) == text


def _rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8"))))


def test_the_ui_csv_of_a_string_metric_escapes_formulas(client, run):
    """A string metric holding a formula downloads as text ('=...), a negative number as itself."""
    run.log("m", "=HYPERLINK(\"http://evil\",\"click\")", step=0)
    run.log("m", "-2+3+cmd|' /C calc'!A0", step=1)
    run.log("m", "-0.5", step=2)
    run.log("m", "@SUM(A1)", step=3)
    run.flush()
    rows = _rows(client.get(f"/api/runs/{run.id}/csv?name=m").body)
    assert [r[1] for r in rows[1:]] == [
        "'=HYPERLINK(\"http://evil\",\"click\")", "'-2+3+cmd|' /C calc'!A0", "-0.5", "'@SUM(A1)",
    ]


def test_the_ui_csv_of_a_numeric_metric_keeps_negative_numbers_raw(client, run):
    """A numeric series with negative values downloads every value unquoted and unprefixed."""
    for i, value in enumerate([-0.5, -1.0, 2.0, float("-inf"), -1e-05]):
        run.log("loss", value, step=i)
    run.flush()
    body = client.get(f"/api/runs/{run.id}/csv?name=loss").body
    assert b"'" not in body
    assert [r[1] for r in _rows(body)[1:]] == ["-0.5", "-1.0", "2.0", "-inf", "-1e-05"]


def test_the_ui_csv_of_a_table_escapes_its_header_and_text_cells(client, run):
    """A table's column names and text cells are escaped; its numeric column stays numeric."""
    run.log_row("t", **{"=cmd": "=1+1", "x": -0.5, "@note": "-ok-"})
    run.flush()
    rows = _rows(client.get(f"/api/runs/{run.id}/csv?name=t").body)
    header = dict(zip(rows[0], rows[1]))
    assert header == {"step": "0", "'=cmd": "'=1+1", "x": "-0.5", "'@note": "'-ok-"}
