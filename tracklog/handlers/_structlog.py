"""structlog processors: event dicts into runs, and safe handover to stdlib logging.

``RunProcessor`` sits anywhere in a structlog chain, records the event in the
run and passes the event dict on unchanged, so your renderer still prints it.
``SafeKeysProcessor`` goes right before ``structlog.stdlib.render_to_log_kwargs``
so keys such as ``name`` or ``msg`` cannot make ``logging`` raise ``KeyError``.
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
from typing import TYPE_CHECKING, Any, Collection, Mapping, MutableMapping

from .. import _diag
from .._paths import check_file_name
from .._values import is_number, safe_repr
from ..pipeline import current
from ..pipeline.conventions import (
    KEYS,
    accepts_data,
    convention_events,
    has_conventions,
    used_fields,
)
from ..pipeline.event import LOG, Event
from . import _handoff

if TYPE_CHECKING:
    from ..pipeline.target import HasTarget

__all__ = ["NUMERIC", "RunProcessor", "SafeKeysProcessor"]

EventDict = MutableMapping[str, Any]

#: ``RunProcessor(metrics=NUMERIC)``: every key with a number value is a metric.
NUMERIC = "numeric"

_LEVELS = {
    "debug": logging.DEBUG, "info": logging.INFO, "msg": logging.INFO, "log": logging.INFO,
    "warning": logging.WARNING, "warn": logging.WARNING, "error": logging.ERROR,
    "exception": logging.ERROR, "critical": logging.CRITICAL, "fatal": logging.CRITICAL,
}
#: Keys structlog's own processors add; never metrics, and not repeated in the log line.
META = frozenset({"event", "level", "logger", "timestamp", "exc_info", "stack_info", "exception"})
#: Keys never taken as metrics by ``metrics=NUMERIC``.
DEFAULT_EXCLUDE = frozenset({
    "step", "value", "timestamp", "lineno", "pid", "process", "thread", "stacklevel", "exc_info", "stack_info",
})


class RunProcessor:
    """A structlog processor that records each event in a run and returns it unchanged.

    Every event becomes a line of the run's log file (``logs=False`` turns that off,
    e.g. when the same events also reach a ``RunHandler`` through stdlib logging).
    The record conventions always apply (``metric``/``value``/``step``, ``metrics``,
    ``tag(s)``, ``param(s)``); ``metrics`` chooses which other keys are metrics:

    * ``None`` (default): only the conventions;
    * a list of key names, e.g. ``["loss", "acc"]``: those keys;
    * ``"numeric"`` (:data:`NUMERIC`): every key whose value is a number, except
      ``step`` and the keys in ``exclude``.

    ``step=`` in the event is the step of its metrics. A failure never reaches your
    code: the event goes on unchanged and tracklog warns once.
    """

    def __init__(
        self,
        run: HasTarget | None = None,
        metrics: Collection[str] | str | None = None,
        *,
        exclude: Collection[str] = DEFAULT_EXCLUDE,
        logs: bool = True,
        filename: str = "python.log",
    ) -> None:
        self.run = run
        self._numeric = False
        self._keys: tuple[str, ...] = ()
        if isinstance(metrics, str):
            if metrics != NUMERIC:
                raise ValueError(
                    f"metrics={metrics!r}: pass a list of key names (metrics=[{metrics!r}]), "
                    f"{NUMERIC!r} for every numeric key, or None for the metric/metrics convention only"
                )
            self._numeric = True
        elif metrics is not None:
            self._keys = tuple(metrics)
        self._exclude = frozenset(exclude) | META | frozenset(KEYS)
        self.logs = logs
        self.filename = check_file_name(filename)
        _handoff.watch(self)

    def __call__(self, logger: Any, method_name: str, event_dict: EventDict) -> EventDict:
        if _diag.io_threads and _diag.own_io(_logger_name(logger, event_dict)):
            return event_dict  # emitted by tracklog's own I/O: passed on, never run data
        try:
            self._record(logger, method_name, event_dict)
        except RecursionError:
            raise
        except Exception as exc:
            _diag.warn_once(
                ("structlog", type(exc).__name__),
                "tracklog: RunProcessor could not record an event (%s: %s); events pass on unchanged",
                type(exc).__name__,
                exc,
            )
        return event_dict

    def _record(self, logger: Any, method_name: str, event_dict: EventDict) -> None:
        if _handoff.watching:
            _handoff.forget_event()
        ts = event_dict.get("timestamp")
        if type(ts) is not float or ts - ts != 0.0:  # not a float, or NaN or infinite
            ts = time.time()
        selected = self._selected(event_dict)
        run = self.run or current.current_run(create=False)
        if run is None:
            # A plain event never starts a run: it waits for the run that starts next.
            run = current.run_for(bool(selected) or has_conventions(event_dict))
            if run is None:
                if self.logs:
                    current.hold(self._log_event("", logger, method_name, event_dict, ts, bool(selected)))
                return
        target = run.target
        events: list[Event] = []
        if (selected or has_conventions(event_dict)) and not _diag.inside():
            with _diag.handling():
                if accepts_data(target, "events"):
                    fields: Any = event_dict
                    if selected:
                        fields = dict(event_dict)
                        existing = fields.get("metrics")
                        fields["metrics"] = {**existing, **selected} if isinstance(existing, dict) else selected
                    events = convention_events(target, fields, ts)
                    if has_conventions(event_dict):
                        # structlog's stdlib bridge may hand this event to a RunHandler.
                        _handoff.mark_event(
                            target.run_id, event_dict, self.filename if self.logs else None,
                            _logger_name(logger, event_dict),
                        )
        if self.logs:
            events.append(self._log_event(target.run_id, logger, method_name, event_dict, ts, bool(selected)))
        if events:
            target.pipeline.put_many(events)

    def _selected(self, event_dict: EventDict) -> dict[str, Any] | None:
        """The event's keys chosen as metrics (besides the conventions)."""
        if self._keys:
            chosen = {k: event_dict[k] for k in self._keys if k in event_dict}
            return chosen or None
        if self._numeric:
            exclude = self._exclude
            chosen = {k: v for k, v in event_dict.items() if k not in exclude and is_number(v)}
            return chosen or None
        return None

    def _log_event(
        self, run_id: str, logger: Any, method_name: str, event_dict: EventDict, ts: float, selected: bool
    ) -> Event:
        level_name = event_dict.get("level")
        key = level_name.lower() if isinstance(level_name, str) else method_name
        level = _LEVELS.get(key, logging.INFO)
        name = _logger_name(logger, event_dict) or "structlog"
        used = used_fields(event_dict)
        if selected:
            used = used | {"step"}  # the step of the keys taken as metrics
        attrs = event_attrs(event_dict, used, True)
        return Event(run_id, LOG, self.filename, None, None, ts, level, name, event_message(event_dict), attrs or None)


def event_attrs(event_dict: Mapping[str, Any], used: frozenset[str], extras: bool) -> dict[str, Any]:
    """A log line's attrs from an event dict: the other keys as ``extra`` (convention
    fields are run data, so the line leaves them out) and the traceback as ``exc_text``."""
    attrs: dict[str, Any] = {}
    if extras:
        extra = {k: v for k, v in event_dict.items() if k not in META and k not in used}
        if extra:
            attrs["extra"] = extra
    exc_text = exception_text(event_dict)
    if exc_text:
        attrs["exc_text"] = exc_text
    return attrs


def event_message(event_dict: Mapping[str, Any]) -> str:
    """The event's message: its ``event`` key as text."""
    message = event_dict.get("event", "")
    return message if type(message) is str else message_text(message)


def exception_text(event_dict: Mapping[str, Any]) -> str | None:
    """The event's traceback as text: structlog's rendered ``exception``, its
    ``dict_tracebacks`` list, or an ``exc_info`` not yet formatted."""
    rendered = event_dict.get("exception")
    if isinstance(rendered, str):
        return rendered  # structlog's format_exc_info already ran
    if isinstance(rendered, list) and rendered:
        text = _traceback_text(rendered)
        if text:
            return text
    exc_info = event_dict.get("exc_info")
    if not exc_info:
        return None
    if exc_info is True:
        exc_info = sys.exc_info()
    elif isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    if not isinstance(exc_info, tuple) or exc_info[0] is None:
        return None
    return "".join(traceback.format_exception(*exc_info)).rstrip("\n")


def _traceback_text(stacks: list[Any]) -> str | None:
    """structlog's ``dict_tracebacks`` (one dict per exception, the raised one first, then
    its causes) as Python prints a traceback: the first cause first."""
    parts = []
    inner: Mapping[str, Any] | None = None
    for stack in reversed(stacks):
        if not isinstance(stack, Mapping):
            return None
        lines = ["Traceback (most recent call last):"]
        for frame in stack.get("frames") or ():
            if isinstance(frame, Mapping):
                lines.append(f'  File "{frame.get("filename")}", line {frame.get("lineno")}, in {frame.get("name")}')
        value = stack.get("exc_value")
        lines.append(f"{stack.get('exc_type')}: {value}" if value not in (None, "") else str(stack.get("exc_type")))
        if inner is not None:  # how the one printed before led to this one
            parts.append(
                "\nThe above exception was the direct cause of the following exception:\n"
                if inner.get("is_cause") else
                "\nDuring handling of the above exception, another exception occurred:\n"
            )
        parts.append("\n".join(lines))
        inner = stack
    return "\n".join(parts)


# LogRecord attribute names; ``exc_info`` and ``stack_info`` are left alone because
# render_to_log_kwargs passes them to logging as keyword arguments, not as extra.
RESERVED = (
    frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}
) - {"exc_info", "stack_info"}


class SafeKeysProcessor:
    """Put right before ``structlog.stdlib.render_to_log_kwargs``: event keys that are
    ``LogRecord`` attributes (``name``, ``msg``, ``args``, ``module``, ...) would make
    ``logging`` raise ``KeyError("Attempt to overwrite ...")`` in your code.

    By default they are renamed with ``suffix`` (``name`` -> ``name_``); with
    ``nest="fields"`` they are moved into one dict under that key instead.
    """

    def __init__(self, suffix: str = "_", nest: str | None = None) -> None:
        if nest is not None and nest in RESERVED:
            raise ValueError(f"nest={nest!r} is itself a LogRecord attribute; choose another key")
        if nest is None and not suffix:
            raise ValueError("suffix must not be empty when nest is not given")
        self.suffix = suffix
        self.nest = nest

    def __call__(self, logger: Any, method_name: str, event_dict: EventDict) -> EventDict:
        if RESERVED.isdisjoint(event_dict):
            return event_dict
        if self.nest is not None:
            nested = {k: v for k, v in event_dict.items() if k in RESERVED}
            out = {k: v for k, v in event_dict.items() if k not in RESERVED}
            existing = out.get(self.nest)
            out[self.nest] = {**existing, **nested} if isinstance(existing, dict) else nested
            return out
        out = {}
        for key, value in event_dict.items():
            if key in RESERVED:
                new = key + self.suffix
                while new in RESERVED or new in event_dict:
                    new += self.suffix
                key = new
            out[key] = value
        return out


def _logger_name(logger: Any, event_dict: EventDict) -> str:
    """The event's logger name: structlog's ``logger`` key, else the bound logger's name."""
    name = event_dict.get("logger")
    if not isinstance(name, str):
        try:
            name = getattr(logger, "name", "")
        except Exception:  # a logger whose __getattr__ raises
            return ""
    return name if isinstance(name, str) else ""


def message_text(message: Any) -> str:
    """A non-str event as its text: a str subclass as it is, else its repr (never raising)."""
    return str.__str__(message) if isinstance(message, str) else safe_repr(message, 1 << 30)
