"""RunHandler: a stdlib ``logging.Handler`` that turns records into run data and log lines."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .. import _diag
from .._paths import check_file_name
from .._values import NAMES, record_time
from ..pipeline import current
from ..pipeline.conventions import (
    accepts_data,
    convention_events,
    has_conventions,
    used_fields,
)
from ..pipeline.event import LOG, line_head
from ..pipeline.target import RunTarget
from . import _handoff
from ._structlog import event_attrs, event_message

if TYPE_CHECKING:
    from ..pipeline.target import HasTarget

__all__ = ["RunHandler"]


# LogRecord attributes that are not the user's extra fields. Convention fields are
# recorded as run data, so the log line's "extra" leaves them out too (used_fields).
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
_N_STANDARD = len(vars(logging.LogRecord("", 0, "", 0, "", (), None)))
_LogRecord = logging.LogRecord


class RunHandler(logging.Handler):
    """Send log records to a run: every record to ``logs/<filename>``, and the
    ``metric``/``metrics``/``tag(s)``/``param(s)`` fields of ``extra=`` to the
    run's metrics, tags and params.

    With ``run=None`` each record goes to the current run (``Run.get_context()``); a
    run id (``"run": "<id>"`` in a ``dictConfig``) is that run of ``workspace`` (the
    default workspace when None). ``extras=True`` also keeps the record's other
    ``extra=`` fields in the log line. A record that reaches two RunHandlers of one run
    gives its points once, and its line once per file; an event a ``RunProcessor``
    recorded, handed on through structlog's stdlib bridge, is not recorded again.
    """

    #: Lets the zero-change capture bootstrap spot a RunHandler without importing tracklog.
    _tracklog_run_handler = True

    def __init__(
        self,
        run: HasTarget | str | None = None,
        level: int | str = logging.NOTSET,
        filename: str = "python.log",
        extras: bool = True,
        workspace: str | None = None,
    ) -> None:
        super().__init__(level)
        self.run = current.open_run(run, workspace) if isinstance(run, str) else run
        self.filename = filename
        self.extras = extras
        _handoff.watch(self)

    def _first_use(self, record: logging.LogRecord) -> HasTarget | None:
        """No run is current: one with run data starts a run; a plain record is held
        for the run that starts next (tracklog's own diagnostics included)."""
        fields = record.__dict__
        run = current.run_for(has_conventions(_wrapped_event(record) or fields))
        if run is None:
            created = record_time(record.created)
            current.hold(self._log_event("", record, fields, len(fields) - _N_STANDARD, frozenset(), created))
        return run

    @property
    def filename(self) -> str:
        """The run log file this handler writes, under the run's ``logs/``."""
        return self._filename

    @filename.setter
    def filename(self, filename: str) -> None:
        self._filename = check_file_name(filename)
        self._head: tuple[RunTarget | None, Any] = (None, None)  # made again for the new file

    def handle(self, record: logging.LogRecord) -> logging.LogRecord | bool:
        """Filter, then enqueue without the handler lock (enqueueing is thread-safe).

        The two common records (a plain one, and one with ``metric=``, ``value=`` and
        ``step=``) are enqueued right here, as one small tuple each (pipeline.event's
        LOG_LINE layouts): a Python call per record less than going through emit().
        """
        if self.filters:
            filtered = self._filtered(record)
            if filtered is None:
                return False
            record = filtered
        if _diag.io_threads and _diag.own_io(record.name):
            return record  # emitted by tracklog's own I/O (urllib3 under the sender): never run data
        try:
            run = self.run or current.current_run(create=False) or self._first_use(record)
            if run is None:
                return record
            target = run.target
            if _handoff.watching:
                self._emit_once(target, record)
                return record
            fields = record.__dict__
            # Fields beyond a bare LogRecord's: the user's extra= (and what formatters add).
            extra = len(fields) - _N_STANDARD
            if extra > 0 and "message" in fields:  # a Formatter ran: message, maybe asctime
                extra -= 1 + ("asctime" in fields)
            if type(record) is _LogRecord:
                # Fields are read from the dict: CPython 3.11 does not specialize attribute
                # reads of an object whose __dict__ was taken, and each one costs a full lookup.
                created = fields["created"]
                # A finite float time (x - x is NaN for NaN and the infinities) and no traceback.
                if type(created) is float and created - created == 0.0 and not (
                    fields["exc_info"] or fields["exc_text"] or fields["stack_info"]
                ):
                    # LogRecord.getMessage, inlined for a str msg (its call is a Python frame).
                    message = fields["msg"]
                    if type(message) is not str:
                        message = record.getMessage()
                    elif fields["args"]:
                        message = message % fields["args"]  # what getMessage does to a str msg
                    head = self._head
                    if head[0] is not target:
                        head = self._head = (target, line_head(target.run_id, self._filename))
                    if extra <= 0:  # a plain record: one log line
                        # Pipeline.put, inlined (see Pipeline.queue).
                        pipeline = target.pipeline
                        queue = pipeline.queue
                        queue.append((head[1], created, fields["levelno"], fields["name"], message))
                        if len(queue) >= pipeline.kick_at:
                            pipeline.kick()
                        return record
                    if extra == 2 or extra == 3:
                        # metric=, value=, step= (or no step) and nothing else: a log line and
                        # one point. Anything else, or a field missing: _emit_fields.
                        try:
                            name = fields["metric"]
                            value = fields["value"]
                            step = fields["step"] if extra == 3 else None
                        except KeyError:
                            name = None
                        # The type checks of tracklog._values, inlined: a name it accepted
                        # before, an int64 or float value, an int64 step or none. An int up to
                        # 2**30 - 1 (one digit) is compared first: CPython 3.11 compares such
                        # ints inline, and 2**63 by a call.
                        if (
                            type(name) is str
                            and name in NAMES
                            and (
                                type(value) is float
                                or (type(value) is int and (0 <= value <= 2**30 - 1 or -(2**63) <= value < 2**63))
                            )
                            and (
                                step is None
                                or (type(step) is int and (0 <= step <= 2**30 - 1 or -(2**63) <= step < 2**63))
                            )
                            and not target.closed
                        ):
                            # RunTarget.step_for and Pipeline.put, inlined: a call each
                            # is about a twentieth of this handler's cost per record.
                            steps = target.steps
                            last = steps.get(name, 0)
                            if step is None:
                                step = last
                            if step >= last:
                                steps[name] = step + 1
                            pipeline = target.pipeline
                            queue = pipeline.queue
                            queue.append((
                                head[1], created, fields["levelno"], fields["name"], message,
                                name, value, step,
                            ))
                            if len(queue) >= pipeline.kick_at:
                                pipeline.kick()
                            return record
            self._emit_fields(target, record, fields, extra)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)
        return record

    def _filtered(self, record: logging.LogRecord) -> logging.LogRecord | None:
        """The record the filters pass on (one of them may return a replacement), or None."""
        result = self.filter(record)
        if not result:
            return None
        return result if isinstance(result, logging.LogRecord) else record

    def _handle_by_emit(self, record: logging.LogRecord) -> logging.LogRecord | bool:
        """handle() for a subclass that overrides emit(): filter, then its emit()."""
        if self.filters:
            filtered = self._filtered(record)
            if filtered is None:
                return False
            record = filtered
        self.emit(record)
        return record

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # handle()'s fast path would pass by a subclass's own emit(): such a subclass
        # gets a handle() that calls it.
        super().__init_subclass__(**kwargs)
        if "emit" in cls.__dict__ and "handle" not in cls.__dict__:
            cls.handle = RunHandler._handle_by_emit  # type: ignore[method-assign]

    def emit(self, record: logging.LogRecord) -> None:
        """Send a record that passed the filters (handle() does this for the common records
        itself; this path, for callers of emit(), takes every record the general way)."""
        if _diag.io_threads and _diag.own_io(record.name):
            return
        try:
            run = self.run or current.current_run(create=False) or self._first_use(record)
            if run is None:
                return
            target = run.target
            if _handoff.watching:
                self._emit_once(target, record)
                return
            fields = record.__dict__
            extra = len(fields) - _N_STANDARD - ("message" in fields) - ("asctime" in fields)
            self._emit_fields(target, record, fields, extra)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def _emit_once(self, target: RunTarget, record: logging.LogRecord) -> None:
        """emit() once a second source exists: what another RunHandler or the RunProcessor
        already wrote of this record into this run is not written again."""
        data, line = _handoff.seen_record(record, target.run_id, self.filename)
        if line:
            return
        fields = record.__dict__
        extra = len(fields) - _N_STANDARD - ("message" in fields) - ("asctime" in fields)
        self._emit_fields(target, record, fields, extra, data=not data)
        _handoff.mark_record(record, target.run_id, self.filename)

    def _emit_fields(
        self, target: RunTarget, record: logging.LogRecord, fields: dict, extra: int, data: bool = True  # type: ignore[type-arg]
    ) -> None:
        """Any other record: run data from its conventions, its extras, a traceback."""
        wrapped = _wrapped_event(record)
        if wrapped is not None:
            self._emit_wrapped(target, record, wrapped, data)
            return
        created = record_time(record.created)
        used = used_fields(fields)
        events = _run_data(target, fields, used, created) if data else None
        log_event = self._log_event(target.run_id, record, fields, extra, used, created)
        pipeline = target.pipeline
        if events:
            events.append(log_event)  # type: ignore[arg-type]
            pipeline.put_many(events)
        else:
            pipeline.put(log_event)

    def _emit_wrapped(self, target: RunTarget, record: logging.LogRecord, event: dict, data: bool) -> None:  # type: ignore[type-arg]
        """A record from structlog's ``ProcessorFormatter.wrap_for_formatter``: its msg is
        the event dict, which holds the run data, the message and the other fields."""
        created = record_time(record.created)
        used = used_fields(event)
        events = (_run_data(target, event, used, created) if data else None) or []
        attrs = event_attrs(event, used, self.extras)
        if "exc_text" not in attrs:
            attrs.update(self._exc_attrs(record) or {})
        events.append((
            target.run_id, LOG, self.filename, None, None, created, record.levelno, record.name,
            event_message(event), attrs or None,
        ))
        target.pipeline.put_many(events)

    def _log_event(
        self,
        run_id: str,
        record: logging.LogRecord,
        fields: dict,  # type: ignore[type-arg]
        extra: int,
        used: frozenset[str],
        created: float,
    ) -> tuple:  # type: ignore[type-arg]
        """The record's log line as an event tuple: message, traceback and extra fields."""
        attrs = None
        if record.exc_info or record.exc_text or record.stack_info:
            attrs = self._exc_attrs(record)
        if self.extras and extra > len(used):
            names = fields.keys() - _STANDARD - used
            if names:
                attrs = attrs or {}
                attrs["extra"] = {name: fields[name] for name in names}  # encoded by the writer
        return (
            run_id, LOG, self.filename, None, None, created,
            record.levelno, record.name, record.getMessage(), attrs,
        )

    def _exc_attrs(self, record: logging.LogRecord) -> dict | None:  # type: ignore[type-arg]
        """The traceback and stack text, formatted now: frames change once the caller moves on."""
        attrs = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter().formatException(record.exc_info)
        if record.exc_text:
            attrs = {"exc_text": record.exc_text}
        if record.stack_info:
            attrs = attrs or {}
            attrs["stack_info"] = record.stack_info
        return attrs

    def _formatter(self) -> logging.Formatter:
        return self.formatter or _DEFAULT_FORMATTER

    def flush(self) -> None:
        """Wait until the records handled so far are in the run (logging.shutdown calls this)."""
        try:
            run = self.run or current.current_run(create=False)
            if run is not None:
                run.target.flush(timeout=30.0)
        except Exception:
            _diag.logger.debug("tracklog: RunHandler.flush failed", exc_info=True)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            _handoff.unwatch(self)
            super().close()

    def __repr__(self) -> str:
        level = logging.getLevelName(self.level)
        target = self.run.id if self.run is not None else "current run"
        return f"<RunHandler {target} ({level})>"


_DEFAULT_FORMATTER = logging.Formatter()


def _wrapped_event(record: logging.LogRecord) -> dict | None:  # type: ignore[type-arg]
    """The event dict of a record from structlog's ``ProcessorFormatter.wrap_for_formatter``
    (its msg, with ``_logger`` beside it), else None."""
    msg = record.msg
    return msg if type(msg) is dict and "_logger" in record.__dict__ else None


def _run_data(target: RunTarget, fields: Any, used: frozenset[str], created: float) -> list | None:  # type: ignore[type-arg]
    """The run data events of a record's convention fields, if it has any and the run takes
    them. tracklog's own records carry no convention fields, so this cannot recurse; inside
    the writer thread, records only become log lines."""
    if used and not _diag.inside() and accepts_data(target, "records"):
        return convention_events(target, fields, created)
    return None
