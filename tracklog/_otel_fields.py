"""OpenTelemetry data read back as tracklog's: attributes to record fields, severities to
levels, metric series to run metric names.

A leaf, so that every OTel source shares one reading: the SDK exporters into runs
(``tracklog.exporters``) and the OTLP receiver (``tracklog.receivers``), which must
not import each other.

* :func:`unflatten`: keys under the convention containers ``metrics.``, ``tags.``
  and ``params.`` are nested back one level, splitting at the first dot only, so
  ``metrics.val.loss`` is the metric ``val.loss``. Every other key stays as it is
  (``http.method`` is not a dict). An attribute whose value is already a map (OTel
  log attributes may hold maps) is used as is.
* :func:`std_level`: an OTel severity number and text as a stdlib level (a custom
  level's name kept).
* :func:`series_name`: one run metric per instrument and attribute set,
  ``requests{route=/a}``; a key or value that would make the name ambiguous is quoted.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

__all__ = ["NESTED_KEYS", "series_name", "std_level", "unflatten", "unknown_level_name"]

#: Convention containers whose dotted keys are nested back by :func:`unflatten`.
NESTED_KEYS = frozenset({"metrics", "tags", "params"})


def unflatten(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """OTel attributes back into record fields: ``metrics.loss`` nests under ``metrics``."""
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        head, dot, rest = key.partition(".")
        if dot and rest and head in NESTED_KEYS:
            container = out.get(head)
            if not isinstance(container, dict):
                container = out[head] = {}
            container[rest] = value
        elif key in NESTED_KEYS and isinstance(value, Mapping):
            container = out.get(key)
            if isinstance(container, dict):
                container.update(value)
            else:
                out[key] = dict(value)
        elif key in NESTED_KEYS and isinstance(out.get(key), dict):
            continue  # a dotted form already filled the container; it wins
        else:
            out[key] = value
    return out


_TEXT_LEVELS = {
    "TRACE": 5, "DEBUG": 10, "INFO": 20, "WARN": 30, "WARNING": 30,
    "ERROR": 40, "FATAL": 50, "CRITICAL": 50,
}


def std_level(number: Any, text: str | None) -> int:
    """An OTel severity back as a stdlib level; no severity at all reads as INFO.

    A standard name defers to the number (DEBUG2 is 11). A name this process knows
    (``logging.addLevelName(25, "NOTICE")``) or ``Level 25`` is that level exactly: the
    number alone maps 25 to INFO4, read back as 23. A name it does not know (a NOTICE
    from another process or language) leaves the number's level; the log line keeps the
    name as ``severity_text`` (see :func:`unknown_level_name`). No name is registered
    with ``logging``: that would rename the level for the whole process.
    """
    value = getattr(number, "value", number) or 0
    level = _number_level(value)
    if not text:
        return logging.INFO if level is None else level
    standard = _TEXT_LEVELS.get(text.upper())
    if standard is not None:
        return standard if level is None else level
    return _named_level(text.strip(), logging.INFO if level is None else level)


def unknown_level_name(level: int, text: str | None) -> str | None:
    """The severity text to keep beside ``std_level``'s level: a name this process does
    not give that level (a foreign NOTICE), else None."""
    if not text or text.upper() in _TEXT_LEVELS:
        return None
    name = text.strip()
    return None if logging.getLevelName(level) == name or name == f"Level {level}" else name


def _number_level(value: int) -> int | None:
    if 1 <= value <= 4:
        return 5
    if 5 <= value <= 24:
        start = 5 + (value - 5) // 4 * 4
        return (start - 5) // 4 * 10 + 10 + (value - start)
    return None


def _named_level(name: str, fallback: int) -> int:
    known = logging.getLevelName(name)
    if type(known) is int:
        return known
    if name.startswith("Level ") and name[6:].isdigit():
        return int(name[6:])
    return fallback


def series_name(name: str, attributes: Mapping[str, Any] | None, suffix: str = "") -> str:
    """The run metric for one OTel series: ``requests{route=/a}``, ``latency.count{route=/a}``.

    A key or value holding ``,``, ``=``, ``{``, ``}``, ``"`` or ``\\`` (or starting with ``[``,
    as only a list does) is quoted as Prometheus quotes label values, ``a="1,b=2"`` with ``\\"`` and
    ``\\\\`` escaped, so that two attribute sets never share a name (``{a: "1,b=2"}`` and
    ``{a: "1", b: "2"}``); every other name is spelled plainly. A list is ``[x,y]``, its items
    quoted by the same rule (and when they hold a bracket)."""
    base = f"{name}.{suffix}" if suffix else name
    if not attributes:
        return base
    labels = ",".join(f"{_quoted(str(key))}={_label(value)}" for key, value in sorted(attributes.items()))
    return f"{base}{{{labels}}}"


#: Characters that would make a series name ambiguous unless the text holding them is quoted.
_SPECIAL = frozenset(',={}"\\')
_IN_LIST = _SPECIAL | {"[", "]"}


def _label(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return "[" + ",".join(_quoted(str(v), _IN_LIST) for v in value) + "]"
    return _quoted(str(value))


def _quoted(text: str, special: frozenset[str] = _SPECIAL) -> str:
    """``text`` as it is, or in double quotes with ``"`` and ``\\`` escaped when it holds one of
    ``special`` (or starts with ``[``, which only a list may)."""
    if not text.startswith("[") and special.isdisjoint(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
