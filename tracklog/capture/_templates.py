"""Line templates: a job's repeated logfmt metric line, read a whole chunk at a time.

A training loop prints one line shape thousands of times (``step=12 loss=0.31
acc=0.9``). Once the per-line recogniser has read such a line, a template made
from it (its keys in order, and for each value whether it is text, the step or
a metric) reads a whole chunk of output with bytes operations that run in C
(split, slice, join, ``map(float, ...)``), and its columns become one POINTS
event per metric (see ``tracklog.pipeline.event``).

A template takes a chunk only when every line of it is read the same way by the
per-line recogniser: each line starts with the first key and has exactly the
template's keys in order, a number where it had a metric (an integer where it
had the step; a fraction where a preferred step field is a metric), text where
it had text; no quote, ``]``, tab, backspace or lone ``\\r``; no value the
conventions would convert or warn about (an int beyond 64 bits). Any other
chunk goes to the per-line recogniser, as before.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from .._errors import InvalidNameError
from .._values import check_name
from ..pipeline.event import POINTS

#: Tokens a template line may have.
MAX_TOKENS = 64
#: A logfmt key, as the per-line recogniser reads it too.
NAME = rb"[A-Za-z_][\w.\-/]*"
_KEY = re.compile(NAME)
# A plain integer among the values of a column joined by spaces.
_INT_TOKEN = re.compile(rb"(?:^| )[-+]?\d+(?= |$)")
_INT64 = 2**63
# What a field of the template is: never a metric (a TEXT_KEYS field), text, the step,
# a metric, or a metric that must stay fractional (a step field preferred to the step).
_ANY, _TEXT, _STEP, _METRIC, _FRACTION = range(5)


class LineTemplate:
    """One line shape: its keys in order, what each value is, and the metric names."""

    __slots__ = ("fields", "first", "number", "width")

    def __init__(self, fields: list[tuple[bytes, int, str]], number: Callable[[bytes], Any]) -> None:
        self.fields = fields  # (b"key=", kind, metric name)
        self.first = fields[0][0]
        self.width = len(fields)
        self.number = number

    def points(self, target: Any, block: bytes, lines: int, ts: float) -> list[tuple[Any, ...]] | None:
        """POINTS events for ``block`` when every one of its ``lines`` is this shape, else None."""
        first, width = self.first, self.width
        # With no first key after a space, and the first key on every line's first token
        # (the column check below), each line starts a row of exactly `width` tokens.
        if (
            b" " + first in block
            or b'"' in block or b"]" in block or b"\x08" in block
            or b"\t" in block or b"\x0b" in block or b"\x0c" in block
            or (b"\r" in block and block.count(b"\r") != block.count(b"\r\n"))
        ):
            return None
        tokens = block.split()
        if len(tokens) != lines * width:
            return None
        steps: list[int] | None = None
        found = []
        for index, (key, kind, name) in enumerate(self.fields):
            # Tokens hold no space, so " key=" starts a token: split there, every token has the key.
            joined = b" ".join(tokens[index::width])
            values = joined.split(b" " + key)
            if len(values) != lines or not values[0].startswith(key):
                return None
            if kind == _ANY:
                continue
            values[0] = values[0][len(key):]
            if kind == _TEXT:
                number = self.number
                if any(value and number(value) is not None for value in values):
                    return None
                continue
            if b"_" in joined and joined.count(b"_") != lines * key.count(b"_"):
                return None  # int() and float() read 1_000; the per-line recogniser does not
            signed = (b"-" in joined and joined.count(b"-") != lines * key.count(b"-")) or b"+" in joined
            # Every value has a "." (float() reads at most one per value): none is an integer.
            dotted = joined.count(b".") == lines * (key.count(b".") + 1)
            numbers = _numbers(values, kind, signed, dotted)
            if numbers is None:
                return None
            if kind == _FRACTION and name.lower() != "epoch" and any(map(whole_step, numbers)):
                return None  # step=12.0 would be the line's step: the per-line path decides
            if kind == _STEP:
                steps = numbers
            else:
                found.append((name, numbers))
        # Everything is read: only now the step counters move.
        counters = target.steps
        run_id = target.run_id
        events = []
        top = max(steps) if found and steps is not None else 0
        for name, values in found:
            if steps is None:
                start = counters.get(name, 0)
                counters[name] = start + lines
                these: list[int] = list(range(start, start + lines))
            else:
                these = steps
                if top >= counters.get(name, 0):
                    counters[name] = top + 1
            events.append((run_id, POINTS, name, values, these, ts, 0, "", "", None))
        return events


def whole_step(value: Any) -> bool:
    """A float the per-line recogniser takes as a step (``step=12.0``): whole, within int64."""
    return type(value) is float and value.is_integer() and abs(value) < _INT64


def _numbers(values: list[bytes], kind: int, signed: bool, dotted: bool) -> list[Any] | None:
    """A column's values as the per-line recogniser reads them (``signed``: some carry a
    sign; ``dotted``: each has a "."), or None when one is not a number of the kind, or an
    int beyond 64 bits."""
    if dotted:
        if kind == _STEP:
            return None  # a fractional step: the per-line path decides
        try:
            return list(map(float, values))
        except ValueError:
            return None  # text where the template has a metric
    try:
        ints: list[Any] = list(map(int, values))
    except ValueError:
        if kind == _STEP:
            return None  # a fractional or text step: the per-line path decides
        try:
            floats: list[Any] = list(map(float, values))
        except ValueError:
            return None  # text where the template has a metric
        if not any(map(bytes.isdigit, values)) and (not signed or _INT_TOKEN.search(b" ".join(values)) is None):
            return floats
        if kind == _FRACTION:
            return None  # an integer there would be the line's step
        mixed = [int(v) if _INT_TOKEN.fullmatch(v) else float(v) for v in values]
        if any(type(v) is int and not -_INT64 <= v < _INT64 for v in mixed):
            return None
        return mixed
    if kind == _FRACTION:
        return None
    if max(ints) >= _INT64 or (signed and min(ints) < -_INT64):
        return None
    return ints


def step_cases(step_keys: tuple[str, ...]) -> dict[str, int]:
    """Each step key in the cases programs print it (``step``, ``Step``, ``STEP``), to its rank."""
    return {case: rank for rank, key in enumerate(step_keys) for case in (key, key.capitalize(), key.upper())}


def learn(
    line: bytes,
    number: Callable[[bytes], Any],
    step_keys: tuple[str, ...],
    text_keys: frozenset[str],
) -> LineTemplate | None:
    """The template of a logfmt line without quotes, or None when it has no metric to read.

    ``number`` is the per-line recogniser's number reader; ``step_keys`` and
    ``text_keys`` its step fields (in order of preference) and its never-metric fields.
    """
    tokens = line.split()
    if b'"' in line or not tokens or len(tokens) > MAX_TOKENS:
        return None
    keys, raws = [], []
    for token in tokens:
        key, sep, raw = token.partition(b"=")
        if not sep or _KEY.fullmatch(key) is None:
            return None
        keys.append(key)
        raws.append(raw)
    if len(set(keys)) != len(keys):
        return None
    try:
        names = [key.decode("ascii") for key in keys]
    except UnicodeDecodeError:
        return None
    values = [number(raw) if raw else None for raw in raws]
    rank = len(step_keys)
    step_at = None
    cases = step_cases(step_keys)  # step fields count as the per-line path reads them (Step=11)
    lowered = [step_keys[cases[name]] if name in cases else name for name in names]
    for i, (name, value) in enumerate(zip(lowered, values)):
        if name in step_keys and name != "epoch" and whole_step(value):
            return None  # a step printed as step=12.0: read line by line
        if name in step_keys and type(value) is int and step_keys.index(name) < rank:
            rank, step_at = step_keys.index(name), i
    fields: list[tuple[bytes, int, str]] = []
    for i, (key, name, low, value) in enumerate(zip(keys, names, lowered, values)):
        if name in text_keys:
            kind = _ANY
        elif value is None:
            kind = _TEXT
        elif i == step_at:
            kind = _STEP
        else:
            try:
                name = check_name(name)
            except InvalidNameError:
                return None
            # A step field preferred to the line's step must stay fractional, or it would be the step.
            kind = _FRACTION if low in step_keys and step_keys.index(low) < rank else _METRIC
        fields.append((key + b"=", kind, name))
    if not any(kind in (_METRIC, _FRACTION) for _, kind, _ in fields):
        return None
    return LineTemplate(fields, number)
