"""Non-finite numbers as JSON text, and table rows as JSON: written once, read once.

JSON has no NaN or infinities, so metric cells and values travel as the strings
``"NaN"``, ``"Infinity"`` and ``"-Infinity"``. A table metric is stored as one JSON
object per row; readers pivot the rows into columns here, and nowhere else.

In a row a bare ``"NaN"`` is the float, as rows have always been written; a str
cell whose text is one of those three is written as a one-element list
(``["NaN"]``), which no other cell is (cells are numbers, str or null), so every
row, old or new, reads back unambiguously: floats as floats, strings as strings.
The lists survive any JSON round trip (the MLflow store's table files).
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping, Sequence

__all__ = ["NONFINITE", "columns", "encode_row", "from_text", "table_columns", "to_text"]

#: The JSON text of each non-finite float.
NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def to_text(value: Any) -> Any:
    """``value``, with a non-finite float as its JSON text."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    return value


def from_text(value: Any) -> Any:
    """``value``, with the JSON text of a non-finite float as that float."""
    if isinstance(value, str):
        return NONFINITE.get(value, value)
    return value


def encode_row(row: Mapping[str, Any]) -> str:
    """One table row as the JSON object the stores keep."""
    return json.dumps({str(k): _cell_text(v) for k, v in row.items()}, ensure_ascii=False)


def _cell_text(value: Any) -> Any:
    if type(value) is str:
        return [value] if value in NONFINITE else value
    return to_text(value)


def _cell(value: Any) -> Any:
    """A decoded cell: the text of a non-finite float is that float; ``["NaN"]`` is the str."""
    kind = type(value)
    if kind is str:
        return NONFINITE.get(value, value)
    if kind is list and len(value) == 1 and type(value[0]) is str:
        return value[0]
    return value


def _decode(text: Any) -> dict[str, Any]:
    try:
        row = json.loads(text) if isinstance(text, str) else {}
    except ValueError:
        row = {}
    return row if isinstance(row, dict) else {}


def table_columns(rows: Sequence[Any]) -> tuple[list[str], list[list[Any]]]:
    """Rows (JSON objects as text) as column names in first-seen order, and cells;
    a missing cell is None, a non-finite number's text its float, ``["NaN"]`` the str."""
    decoded = [_decode(text) for text in rows]
    names: dict[str, None] = {}
    for row in decoded:
        for key in row:
            names.setdefault(key, None)
    names_list = list(names)
    return names_list, [[_cell(row.get(name)) for name in names_list] for row in decoded]


def columns(rows: Sequence[Any]) -> dict[str, list[Any]]:
    """Rows pivoted into ``{column: [cell, ...]}`` (Azure ML's table shape)."""
    names, cells = table_columns(rows)
    return {name: [row[i] for row in cells] for i, name in enumerate(names)}
