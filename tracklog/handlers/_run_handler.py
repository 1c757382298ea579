"""RunHandler: a stdlib ``logging.Handler`` that turns records into run data and log lines."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .. import _context, _diag
from .._conventions import FIELDS, accepts_data, convention_events
from .._event import LOG, Event

if TYPE_CHECKING:
    from ..run import Run

__all__ = ["RunHandler"]

# LogRecord attributes that are not the user's extra fields.
# Convention fields are recorded as run data, so the log line's "extra" leaves them out.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"} | FIELDS
_N_STANDARD = len(vars(logging.LogRecord("", 0, "", 0, "", (), None)))


class RunHandler(logging.Handler):
    """Send log records to a run: every record to ``logs/<filename>``, and the
    ``metric``/``metrics``/``tag(s)``/``param(s)`` fields of ``extra=`` to the
    run's metrics, tags and params.

    With ``run=None`` each record goes to the current run (``Run.get_context()``).
    ``extras=True`` also keeps the record's other ``extra=`` fields in the log line.
    """

    #: Lets the zero-change capture bootstrap spot a RunHandler without importing tracklog.
    _tracklog_run_handler = True

    def __init__(
        self,
        run: Run | None = None,
        level: int | str = logging.NOTSET,
        filename: str = "python.log",
        extras: bool = True,
    ) -> None:
        super().__init__(level)
        from .._paths import check_file_name

        self.run = run
        self.filename = check_file_name(filename)
        self.extras = extras

    def _target(self) -> Run | None:
        run = self.run
        if run is not None:
            return run
        # Inside tracklog's own handling (the writer thread), never start a run.
        return _context.current_run(create=not _diag.inside())

    def handle(self, record: logging.LogRecord) -> logging.LogRecord | bool:
        """Filter, then emit without the handler lock: emit only enqueues, and is thread-safe."""
        if self.filters:
            result = self.filter(record)
            if not result:
                return False
            if isinstance(result, logging.LogRecord):
                record = result
        self.emit(record)
        return record

    def emit(self, record: logging.LogRecord) -> None:
        try:
            run = self.run or self._target()
            if run is None:
                return
            fields = record.__dict__
            # One pass over the optional keys: how many convention keys, how many
            # other known non-extras; whatever else is beyond the standard is extra.
            conventions = (
                ("metric" in fields) + ("metrics" in fields) + ("tag" in fields)
                + ("tags" in fields) + ("param" in fields) + ("params" in fields)
            )
            known = conventions + ("value" in fields) + ("step" in fields) + ("message" in fields) + (
                "asctime" in fields
            )
            attrs = None
            if record.exc_info or record.exc_text or record.stack_info:
                attrs = self._exc_attrs(record)
            if self.extras and len(fields) > _N_STANDARD + known:
                names = fields.keys() - _STANDARD
                if names:
                    attrs = attrs or {}
                    attrs["extra"] = {name: fields[name] for name in names}  # encoded by the writer
            log_event = Event(
                run.id, LOG, self.filename, None, None, record.created,
                record.levelno, record.name, record.getMessage(), attrs,
            )
            pipeline = run._core.pipeline
            # tracklog's own records carry no convention fields, so this cannot recurse;
            # inside the writer thread, records only become log lines.
            if conventions and not _diag.inside() and accepts_data(run, "records"):
                events = convention_events(run, fields, record.created)
                events.append(log_event)
                pipeline.put_many(events)
            else:
                pipeline.put(log_event)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

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
            run = self.run or _context.current_run(create=False)
            if run is not None and run._core.has_pipeline():
                run._core.flush(timeout=30.0)
        except Exception:
            _diag.logger.debug("tracklog: RunHandler.flush failed", exc_info=True)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            super().close()

    def __repr__(self) -> str:
        level = logging.getLevelName(self.level)
        target = self.run.id if self.run is not None else "current run"
        return f"<RunHandler {target} ({level})>"


_DEFAULT_FORMATTER = logging.Formatter()

