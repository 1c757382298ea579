"""MLflow's search grammar over entity rows: ``filter_string`` clauses joined by AND, and ``order_by``.

Covers what scripts write: ``metrics.acc > 0.9 and params.model = 'cnn'``,
``tags.`mlflow.runName` LIKE 'base%'``, ``attributes.status = 'FINISHED'``,
``run_name IN ('a', 'b')``, ``tags.x IS NULL``; ``order_by=["metrics.acc DESC"]``.
Rows are dicts keyed by ``(section, name)``, section one of attributes, metrics, params, tags.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from ._mlflow_entities import Experiment, MlflowRequestError, Run

__all__ = ["experiment_row", "filter_rows", "order_rows", "parse_filter", "run_row"]

_T = TypeVar("_T")
Row = Mapping[tuple[str, str], Any]
Clause = Callable[[Row], bool]

_SECTIONS = {
    "metric": "metrics", "metrics": "metrics",
    "param": "params", "params": "params", "parameter": "params", "parameters": "params",
    "tag": "tags", "tags": "tags",
    "attribute": "attributes", "attributes": "attributes", "attr": "attributes", "run": "attributes",
}
_ALIASES = {"created": "start_time", "Created": "start_time", "run name": "run_name", "runName": "run_name"}

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*")
     |(?P<op>!=|<>|>=|<=|==|=|>|<)
     |(?P<lp>\()|(?P<rp>\))|(?P<comma>,)
     |(?P<num>-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
     |(?P<word>`[^`]*`|[A-Za-z_][\w\-:/]*(?:\.(?:`[^`]*`|"[^"]*"|[\w\-:/]+))*)
    )""",
    re.VERBOSE,
)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise MlflowRequestError(f"invalid filter string {text!r}: cannot read it at {text[pos:]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "`\"'":
        inner = text[1:-1]
        return inner.replace("''", "'") if text[0] == "'" else inner
    return text


def key_of(text: str) -> tuple[str, str]:
    """``metrics.acc`` -> ("metrics", "acc"); a bare name is an attribute (``status``, ``run_name``)."""
    text = text.strip()
    head, dot, rest = text.partition(".")
    if dot and head.lower() in _SECTIONS and rest:
        name = _unquote(rest)
        section = _SECTIONS[head.lower()]
    else:
        section, name = "attributes", _unquote(text)
    if section == "attributes":
        name = _ALIASES.get(name, name)
    return section, name


def _value(token: tuple[str, str]) -> Any:
    kind, text = token
    if kind == "str":
        return _unquote(text)
    if kind == "num":
        return float(text)
    raise MlflowRequestError(f"invalid filter value {text!r}: quote strings ('...'), numbers are bare")


def _like(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts = (".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _compare(op: str, have: Any, want: Any) -> bool:
    if isinstance(want, float) and not isinstance(have, (int, float)):
        try:
            have = float(have)
        except (TypeError, ValueError):
            return False
    elif isinstance(want, str) and isinstance(have, (int, float)):
        want_number = _maybe_number(want)
        if want_number is None:
            have = str(have)
        else:
            want = want_number
    if op in ("=", "=="):
        return bool(have == want)
    if op in ("!=", "<>"):
        return bool(have != want)
    try:
        return bool({">": have > want, ">=": have >= want, "<": have < want, "<=": have <= want}[op])
    except TypeError:
        return False


def _maybe_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _clause(key: tuple[str, str], op: str, want: Any) -> Clause:
    if op in ("IS NULL", "IS NOT NULL"):
        present = op == "IS NOT NULL"
        return lambda row: (row.get(key) is not None) == present
    if op in ("LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE"):
        pattern = _like(str(want), "ILIKE" in op)
        negate = op.startswith("NOT")
        return lambda row: row.get(key) is not None and (pattern.fullmatch(str(row[key])) is None) == negate
    if op in ("IN", "NOT IN"):
        wanted = {str(v) if not isinstance(v, float) else v for v in want}
        negate = op == "NOT IN"
        return lambda row: row.get(key) is not None and ((row[key] in wanted or str(row[key]) in wanted) != negate)
    return lambda row: row.get(key) is not None and _compare(op, row[key], want)


def parse_filter(text: str | None) -> list[Clause]:
    """The clauses of an MLflow filter string (AND only, as MLflow's own grammar)."""
    if not text or not text.strip():
        return []
    tokens = _tokens(text)
    clauses: list[Clause] = []
    i = 0
    while i < len(tokens):
        if tokens[i][0] != "word":
            raise MlflowRequestError(f"invalid filter string {text!r}: expected a key at {tokens[i][1]!r}")
        key = key_of(tokens[i][1])
        i += 1
        words = [t[1].upper() for t in tokens[i:i + 3]]
        if i < len(tokens) and tokens[i][0] == "op":
            op, i = tokens[i][1], i + 1
        elif words[:3] == ["IS", "NOT", "NULL"]:
            op, i = "IS NOT NULL", i + 3
        elif words[:2] == ["IS", "NULL"]:
            op, i = "IS NULL", i + 2
        elif words[:1] and words[0] == "NOT" and len(words) > 1 and words[1] in ("IN", "LIKE", "ILIKE"):
            op, i = "NOT " + words[1], i + 2
        elif words[:1] and words[0] in ("IN", "LIKE", "ILIKE"):
            op, i = words[0], i + 1
        else:
            raise MlflowRequestError(f"invalid filter string {text!r}: expected a comparison after {key[1]!r}")
        want: Any = None
        if op.endswith("IN"):
            if i >= len(tokens) or tokens[i][0] != "lp":
                raise MlflowRequestError(f"invalid filter string {text!r}: IN needs a list: ('a', 'b')")
            i += 1
            want = []
            while i < len(tokens) and tokens[i][0] != "rp":
                if tokens[i][0] != "comma":
                    want.append(_value(tokens[i]))
                i += 1
            i += 1
        elif not op.endswith("NULL"):
            if i >= len(tokens):
                raise MlflowRequestError(f"invalid filter string {text!r}: a value is missing at its end")
            want = _value(tokens[i])
            i += 1
        clauses.append(_clause(key, op, want))
        if i < len(tokens):
            if tokens[i][0] != "word" or tokens[i][1].upper() != "AND":
                raise MlflowRequestError(
                    f"invalid filter string {text!r}: clauses join with AND only (MLflow has no OR), "
                    f"found {tokens[i][1]!r}"
                )
            i += 1
    return clauses


def filter_rows(items: Iterable[_T], row_of: Callable[[_T], Row], filter_string: str | None) -> list[_T]:
    """The items whose row meets every clause of ``filter_string``."""
    clauses = parse_filter(filter_string)
    return [item for item in items if all(clause(row_of(item)) for clause in clauses)]


def _order_term(term: str) -> tuple[tuple[str, str], bool]:
    text = term.strip()
    descending = False
    upper = text.upper()
    if upper.endswith(" DESC"):
        text, descending = text[:-5], True
    elif upper.endswith(" ASC"):
        text = text[:-4]
    return key_of(text), descending


def order_rows(items: list[_T], row_of: Callable[[_T], Row], order_by: Sequence[str] | None) -> list[_T]:
    """``items`` sorted by each ``order_by`` term (``"metrics.acc DESC"``); as on MLflow's file
    store, a NaN comes after every number, either way, and a missing value after that."""
    for term in reversed(list(order_by or [])):
        key, descending = _order_term(term)
        present, nans, missing = [], [], []
        for item in items:
            value = row_of(item).get(key)
            if value is None:
                missing.append(item)
            elif isinstance(value, float) and math.isnan(value):
                nans.append(item)
            else:
                present.append(item)
        try:
            present.sort(key=lambda item: row_of(item)[key], reverse=descending)
        except TypeError:
            present.sort(key=lambda item: str(row_of(item)[key]), reverse=descending)
        items = present + nans + missing
    return items


def run_row(run: Run) -> dict[tuple[str, str], Any]:
    """A run entity as a search row."""
    row: dict[tuple[str, str], Any] = {("attributes", k): v for k, v in vars(run.info).items()}
    row[("attributes", "run_uuid")] = run.info.run_id
    row.update({("metrics", k): v for k, v in run.data.metrics.items()})
    row.update({("params", k): v for k, v in run.data.params.items()})
    row.update({("tags", k): v for k, v in run.data.tags.items()})
    return row


def experiment_row(experiment: Experiment) -> dict[tuple[str, str], Any]:
    """An experiment entity as a search row."""
    row: dict[tuple[str, str], Any] = {
        ("attributes", k): v for k, v in vars(experiment).items() if k != "tags"
    }
    row.update({("tags", k): v for k, v in experiment.tags.items()})
    return row
