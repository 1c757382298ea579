"""Metric lines in plain output: logfmt, ``key: value`` (Keras), Python dicts (Hugging Face), tqdm postfixes.

A recogniser reads the whole lines of an output block (as ``OutputRecorder``
hands them over) and turns those that are, as a whole, one of the shapes below
into metric events; every other line, and every line, stays text in
``std_log.txt``. Only whole lines match, so a number inside prose is never a
metric. The shapes, tried in this order on the text after a line's last ``\\r``
(a redrawn progress bar's final picture):

* JSON objects following the record conventions (``{"metric": ...}``), as before;
* Python dict lines (``{'loss': 0.52, 'epoch': 0.1}``; transformers 5 quotes the
  numbers), read with ``ast.literal_eval`` up to ``MAX_DICT`` bytes;
* tqdm bars ending in a postfix (``... 9.53it/s, loss=0.3]``): the postfix pairs;
* logfmt (``step=12 loss=0.31``, ``level=info msg="epoch done" loss=0.3``): every
  token is ``key=value``;
* ``key: value`` pairs (a space after the colon, or none on a line of two or more pairs) split by `` - ``, `` | ``, ``,`` or ``;`` (``loss: 0.3120 -
  accuracy: 0.8906``), after an optional Keras progress prefix (``32/32 [====] -
  1s 3ms/step``); a line ``Epoch 3/10`` makes 3 the step of the pair lines after it.

Only numeric values become metrics. The step is the integer value of the first of
``STEP_KEYS`` in the line, its key in lower, Capitalised or UPPER case (``step=12.0`` counts, an ``epoch`` only as an int; that
field is then not a metric), else the next step
per metric; a fractional ``epoch`` (0.25), and any ``epoch`` of a Python dict line
(the Trainer's progress: 0.25, ..., then '1'), is a metric named ``epoch``. User
patterns (``--metrics``) run on every line in addition. The cheap checks come
first: a block with none of ``=``, ``:``, ``{`` costs one scan per byte class.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._errors import TracklogError
from ..pipeline.conventions import convention_events, has_conventions
from ._templates import NAME, LineTemplate, learn, step_cases, whole_step

if TYPE_CHECKING:
    from ..pipeline.event import Event
    from ..pipeline.target import RunTarget

#: Fields whose integer value is a line's step, in order of preference.
STEP_KEYS = ("step", "global_step", "iteration", "iter", "epoch")
#: Each step key in lower, Capitalised and UPPER case, to its rank: matched with one exact lookup.
_STEP_RANK = step_cases(STEP_KEYS)
_NO_RANK = len(STEP_KEYS)
_EPOCH_RANK = _STEP_RANK["epoch"]  # an epoch is the step only as an int
#: Numeric logfmt fields that describe the line, not a measurement: never metrics.
TEXT_KEYS = frozenset(
    {"time", "ts", "timestamp", "t", "pid", "tid", "line", "lineno", "port", "id", "trace_id", "span_id"}
)
#: Longest Python dict line given to ``ast.literal_eval``.
MAX_DICT = 8192
#: Longest line any built-in recogniser looks at.
MAX_LINE = 16384

_NAME = NAME
_LOGFMT_TOKEN = re.compile(rb'(' + _NAME + rb')=("(?:[^"\\]|\\.)*"|[^\s"]*)')
_LOGFMT_LINE = re.compile(rb'[ \t]*(?:' + _NAME + rb'=(?:"(?:[^"\\]|\\.)*"|[^\s"]*)[ \t]+)*'
                          + _NAME + rb'=(?:"(?:[^"\\]|\\.)*"|[^\s"]*)[ \t]*')
_NAME_ONLY = re.compile(_NAME)
_NUMBER = re.compile(rb"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|nan|inf)", re.IGNORECASE)
_INTEGER = re.compile(rb"[-+]?\d+")
_EPOCH = re.compile(rb"\s*Epoch\s+(\d+)(?:\s*/\s*\d+)?\s*:?\s*", re.IGNORECASE)
# Group 2 is the space after the colon. Without one, a pair only on a line of two or more
# ("loss:0.3, acc:0.9"): alone, "cuda:0", "localhost:8080", "python:3.11" are names, not pairs.
_PAIR = re.compile(rb"\s*(" + _NAME + rb")\s*:(\s*)(\S+)\s*")
_SEPARATOR = re.compile(rb"\s+[-|]\s+|\s*[,;]\s*|\t+")
# Keras's progress prefix: "32/32 [=====] - 1s 3ms/step", "32/32 ━━━━ 1s 3ms/step", "32/32 - 0s".
_PROGRESS = re.compile(rb"\s*\d+/\d+(?:\s+[^\s:]+)*\s*")
# Segments that carry no metric: "ETA: 3s", "1s", "3ms/step", "123ms/epoch".
_NOISE = re.compile(rb"\s*(?:ETA:\s*\S+|\d+(?:\.\d+)?(?:s|ms|us|\xc2\xb5s)(?:/\w+)?(?:\s+\d+(?:\.\d+)?(?:s|ms|us)/\w+)?)\s*")
# tqdm: "desc: 100%|####| 10/10 [00:01<00:00,  9.53it/s, loss=0.3, acc=0.9]".
_TQDM = re.compile(rb".*\d\S*\s+\[[\d:]+(?:<[\d:?]+)?,\s*[^,\]]*(?:/s|/it|it/s|s/it)\s*,\s*([^\[\]]*)\]\s*")
# Terminal escapes (colours, cursor moves) as Keras 3, rich and coloured loggers print them.
_ANSI = re.compile(rb"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")


def _number(raw: bytes) -> float | int | None:
    """The number ``raw`` spells (an int when it is one), else None; ``nan``/``inf`` count."""
    if raw.isdigit():
        return int(raw)
    first = raw[:1]
    if not (first.isdigit() or first in b"-+.nNiI") or not first:
        return None  # the cheap rejection of text values (level=info)
    if b"_" in raw:
        return None  # float() reads 1_000; a log's 1_000 is rarely a number
    try:
        value = float(raw)
    except ValueError:
        return None
    if first in b"-+" and raw[1:].isdigit():
        return int(raw)
    return value


def _with_step(pairs: list[tuple[str, Any]], default: int | None = None) -> dict[str, Any] | None:
    """Convention fields from a line's numeric pairs: the first of STEP_KEYS with an int value is
    the step (its key in lower, Capitalised or UPPER case: ``step``, ``Epoch: 3``, ``STEP=11``)."""
    step_key = None
    best = _NO_RANK
    for name, value in pairs:
        if name in _STEP_RANK:
            rank = _STEP_RANK[name]
            if rank < best and (type(value) is int or (rank != _EPOCH_RANK and whole_step(value))):
                best, step_key = rank, name
    if step_key is None:
        if not pairs:
            return None
        metrics = dict(pairs)
        return {"metrics": metrics, "step": default} if default is not None else {"metrics": metrics}
    metrics = {}
    step = None
    for name, value in pairs:
        if name == step_key and step is None:
            step = int(value)
        else:
            metrics[name] = value
    return {"metrics": metrics, "step": step} if metrics else None


def logfmt(line: bytes) -> dict[str, Any] | None:
    """Convention fields of a logfmt line (every token ``key=value``), else None."""
    if b'"' in line:  # quoted values: the full grammar
        if _LOGFMT_LINE.fullmatch(line) is None:
            return None
        items = _LOGFMT_TOKEN.findall(line)
    else:  # the common case, split at C speed
        items = []
        for token in line.split():
            key, sep, raw = token.partition(b"=")
            if not sep or _NAME_ONLY.fullmatch(key) is None:
                return None
            items.append((key, raw))
        if not items:
            return None
    pairs: list[tuple[str, Any]] = []
    for key, raw in items:
        if raw[:1] == b'"':
            raw = raw[1:-1]
        value = _number(raw) if raw else None
        if value is not None:
            name = key.decode("ascii")
            if name not in TEXT_KEYS:
                pairs.append((name, value))
    return _with_step(pairs)


def tqdm_postfix(line: bytes) -> dict[str, Any] | None:
    """Convention fields of a tqdm bar's ``key=value`` postfix, else None."""
    match = _TQDM.fullmatch(line)
    if match is None:
        return None
    pairs: list[tuple[str, Any]] = []
    for item in match.group(1).split(b","):
        key, sep, raw = item.strip().partition(b"=")
        if not sep or re.fullmatch(_NAME, key) is None:
            return None
        value = _number(raw.strip())
        if value is not None:
            pairs.append((key.decode("ascii"), value))
    return _with_step(pairs)


def colon_pairs(line: bytes, epoch: int | None) -> dict[str, Any] | None:
    """Convention fields of a ``key: value`` line (Keras), else None; ``epoch`` is the default step.

    A pair with no space after its colon (``loss:0.3``) counts only on a line of two or
    more pairs: alone it is a name (``cuda:0``, ``localhost:8080``).
    """
    segments = _SEPARATOR.split(line)
    if segments and _PROGRESS.fullmatch(segments[0]) is not None:
        segments = segments[1:]
    pairs: list[tuple[str, Any]] = []
    tight = 0  # pairs with no space after the colon
    kept_out = 0  # pairs of TEXT_KEYS: no metric, but a pair of the line
    for segment in segments:
        match = _PAIR.fullmatch(segment)
        if match is None:
            if not segment.strip() or _NOISE.fullmatch(segment) is not None:
                continue
            return None
        space, raw = match.group(2, 3)
        value = _number(raw)
        if value is None:
            if _NOISE.fullmatch(segment) is not None:
                continue
            return None
        if not space:
            tight += 1
        name = match.group(1).decode("ascii")
        if name.lower() not in TEXT_KEYS:
            pairs.append((name, value))
        else:
            kept_out += 1
    if tight and len(pairs) + kept_out < 2:
        return None  # a lone "cuda:0": a name
    return _with_step(pairs, epoch)


def python_dict(line: bytes) -> dict[str, Any] | None:
    """Convention fields of a Python dict line as Hugging Face's Trainer prints it, else None."""
    if len(line) > MAX_DICT or not line.rstrip().endswith(b"}"):
        return None
    try:
        value = ast.literal_eval(line.decode("utf-8"))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError, UnicodeDecodeError):
        return None
    if not isinstance(value, dict):
        return None
    pairs: list[tuple[str, Any]] = []
    for key, item in value.items():
        if not isinstance(key, str):
            return None
        if isinstance(item, str):
            item = _number(item.strip().encode("ascii", "replace"))
        if type(item) in (int, float) and key not in TEXT_KEYS:
            # The Trainer's epoch is progress (0.25, then '1' at the end), never the step.
            pairs.append((key, float(item) if key == "epoch" else item))
    return _with_step(pairs)


def _events(target: RunTarget, fields: dict[str, Any], ts: float) -> list[Event]:
    """The events of recognised fields; a line's metrics one by one, through the conventions' fast path."""
    metrics = fields.get("metrics")
    if type(metrics) is not dict or not (len(fields) == 1 or (len(fields) == 2 and "step" in fields)):
        return convention_events(target, fields, ts)  # a JSON line: every convention applies
    step = fields.get("step")
    events: list[Event] = []
    for name, value in metrics.items():
        events.extend(convention_events(target, {"metric": name, "value": value, "step": step}, ts))
    return events


class Pattern:
    """One ``--metrics`` pattern: a regex with groups name/value[/step], or ``NAME=REGEX`` for one metric."""

    __slots__ = ("name", "regex", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.name: str | None = None
        source = text
        if "(?P<name>" not in text:  # NAME=REGEX: the value is the regex's value group, else its first
            name, sep, source = text.partition("=")
            if not sep or not name or re.fullmatch(r"[A-Za-z_][\w.\-/]*", name) is None:
                raise TracklogError(
                    f"--metrics {text!r}: give a regex with groups (?P<name>...) and (?P<value>...), "
                    "or NAME=REGEX with one group for the value"
                )
            self.name = name
        try:
            self.regex = re.compile(source)
        except re.error as exc:
            raise TracklogError(f"--metrics {text!r}: not a regular expression ({exc})") from exc
        groups = self.regex.groupindex
        if self.name is None and "name" not in groups:
            raise TracklogError(f"--metrics {text!r}: a regex needs a (?P<name>...) group, or write NAME=REGEX")
        if self.name is not None and "value" not in groups and self.regex.groups < 1:
            raise TracklogError(f"--metrics {text!r}: the regex needs a group around the value")

    def fields(self, line: str) -> dict[str, Any] | None:
        """Convention fields of the first match in ``line``, else None."""
        match = self.regex.search(line)
        if match is None:
            return None
        groups = self.regex.groupindex
        raw = match.group("value") if "value" in groups else match.group(1)
        name = self.name if self.name is not None else match.group("name")
        value = _number(raw.strip().encode("ascii", "replace")) if raw else None
        if value is None or not name:
            return None
        fields: dict[str, Any] = {"metrics": {name: value}}
        if "step" in groups and match.group("step"):
            step = _number(match.group("step").strip().encode("ascii", "replace"))
            if type(step) is int:
                fields["step"] = step
        return fields


class MetricRules:
    """What turns lines into metrics for one run: the built-in recognisers on or off, and user patterns."""

    def __init__(self, builtin: bool = True, patterns: Sequence[str] = ()) -> None:
        self.builtin = builtin
        self.patterns = [Pattern(text) for text in patterns]

    def recogniser(self, json_lines: bool = True) -> Recogniser | None:
        """A recogniser for one stream (it keeps that stream's Keras epoch); None when nothing is on."""
        if not self.builtin and not self.patterns:
            return None
        return Recogniser(self.builtin, self.patterns, json_lines and self.builtin)


class Recogniser:
    """Metric events from the whole lines of output blocks of one stream."""

    __slots__ = ("builtin", "epoch", "json", "patterns", "template")

    def __init__(self, builtin: bool = True, patterns: Sequence[Pattern] = (), json_lines: bool = True) -> None:
        self.builtin = builtin
        self.patterns = list(patterns)
        self.json = json_lines
        self.epoch: int | None = None
        #: The shape of the last logfmt line read one by one: tried first on a whole block.
        self.template: LineTemplate | None = None

    def events(self, target: RunTarget, block: bytes, ts: float) -> list[Event]:
        """The metric, tag and param events of ``block`` (whole lines); never raises."""
        if (not self.patterns and b"=" not in block and b":" not in block and b"{" not in block
                and b"poch" not in block):
            return []  # the cheap rejection: none of the shapes (nor an "Epoch 3/10" line) is possible
        if self.builtin and not self.patterns and b"=" in block and b"\x1b" not in block:
            found = self._by_template(target, block, ts)
            if found is not None:
                return found  # type: ignore[return-value]  # POINTS tuples (see pipeline.event)
        events: list[Event] = []
        for line in block.split(b"\n"):
            if not line:
                continue
            if b"\r" in line:
                line = line[line.rfind(b"\r", 0, len(line) - 1) + 1:].rstrip(b"\r")
            if b"\x08" in line:  # Keras 2 and 3 redraw a terminal line with backspaces
                line = line[line.rfind(b"\x08") + 1:]
            if b"\x1b" in line:  # Keras 3 colours its progress lines
                line = _ANSI.sub(b"", line)
            fields = self._fields(line) if self.builtin else None
            if fields is not None:
                events.extend(_events(target, fields, ts))
            if self.patterns:  # in addition to the built-in shapes, on every line
                text = line.decode("utf-8", "replace")
                for pattern in self.patterns:
                    found_fields = pattern.fields(text)
                    if found_fields is not None:
                        events.extend(_events(target, found_fields, ts))
        return events

    def _by_template(self, target: RunTarget, block: bytes, ts: float) -> list[tuple[Any, ...]] | None:
        """The block's points read by the template of its lines' shape, when all of them have it."""
        lines = block.count(b"\n") + (not block.endswith(b"\n"))
        template = self.template
        if template is not None and block.startswith(template.first):
            found = template.points(target, block, lines, ts)
            if found is not None:
                return found
        if lines < 2:
            return None
        # A new shape (or the first): learn it from the block's first line, then try it on the block.
        end = block.find(b"\n")
        line = block[:end] if end >= 0 else block
        if b"=" not in line or line[-1:] == b"]" or logfmt(line) is None:
            return None
        template = learn(line, _number, STEP_KEYS, TEXT_KEYS)
        if template is None:
            return None
        self.template = template
        return template.points(target, block, lines, ts)

    def line_events(self, target: RunTarget, line: bytes, ts: float) -> list[Event]:
        """The events of one line without its newline (the batch path of ``tracklog ingest``)."""
        if not self.patterns and b"=" not in line and b":" not in line and b"{" not in line and b"poch" not in line:
            return []
        return self.events(target, line, ts)

    def _fields(self, line: bytes) -> dict[str, Any] | None:
        first = line[:1]
        if first == b"{":
            if line[1:2] == b"'":
                return python_dict(line)
            if not self.json or len(line) > (1 << 24):
                return None
            try:
                fields = json.loads(line)
            except (ValueError, RecursionError):
                return None
            return fields if isinstance(fields, dict) and has_conventions(fields) else None
        if len(line) > MAX_LINE:
            return None
        if b"=" in line:
            end = line[-1:]
            if end == b" ":  # tqdm pads a redraw shorter than the one before with spaces
                end = line.rstrip(b" ")[-1:]
            fields = tqdm_postfix(line) if end == b"]" else logfmt(line)
            if fields is not None or b": " not in line:
                return fields  # else a Keras bar: "[=====] - loss: 0.3"
        if b":" in line:
            return colon_pairs(line, self.epoch)
        if first in b"Ee " and line.lstrip()[:5].lower() == b"epoch":
            match = _EPOCH.fullmatch(line)
            if match is not None:
                self.epoch = int(match.group(1))
        return None
