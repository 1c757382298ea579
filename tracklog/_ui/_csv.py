"""CSV cells a spreadsheet opens as data, never as a formula (CSV injection).

OWASP's guidance: a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return may be run as a formula by Excel, LibreOffice or Google Sheets,
so it gets a leading ``'``, which they read as "this is text" and do not show.
Numbers are data: a number, or text that is exactly one (``-0.5``, ``+1e5``,
``-inf``, as tracklog writes floats), is left as it is, so a numeric column
stays numeric for spreadsheets and for programs.
"""

from __future__ import annotations

import re
from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(
    r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?:inf|nan|infinity)",
    re.ASCII | re.IGNORECASE,
)


def spreadsheet_safe(cell: Any) -> Any:
    """``cell`` with a leading ``'`` when it is text a spreadsheet would read as a formula."""
    if isinstance(cell, str) and cell.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def safe_row(row: Any) -> list[Any]:
    """Every cell of a CSV row through :func:`spreadsheet_safe`."""
    return [spreadsheet_safe(cell) for cell in row]
