"""The OpenTelemetry SDK names that moved between releases, resolved once.

The logs SDK is not stable yet: 1.39 renamed ``LogExporter`` to
``LogRecordExporter`` and replaced ``LogData`` (an SDK ``LogRecord`` carrying its
resource) by ``ReadableLogRecord`` (an API ``LogRecord`` plus resource and
scope). tracklog supports both shapes; nothing else in tracklog imports them.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk import _logs as _sdk_logs
from opentelemetry.sdk._logs import export as _sdk_logs_export

from .._otel_fields import std_level

__all__ = [
    "LogExportResult",
    "LogExporterBase",
    "make_log_record",
    "record_parts",
    "severity_number",
    "severity_text",
    "std_level",
]

if hasattr(_sdk_logs_export, "LogRecordExporter"):
    LogExporterBase: Any = _sdk_logs_export.LogRecordExporter
    LogExportResult: Any = _sdk_logs_export.LogRecordExportResult
else:  # SDK < 1.39
    LogExporterBase = _sdk_logs_export.LogExporter
    LogExportResult = _sdk_logs_export.LogExportResult

_READABLE = getattr(_sdk_logs, "ReadableLogRecord", None)

if _READABLE is not None:
    from opentelemetry._logs import LogRecord as _APILogRecord
    from opentelemetry.context import Context

    _EMPTY_CONTEXT = Context()

    def make_log_record(
        resource: Any,
        scope: Any,
        timestamp_ns: int,
        observed_ns: int,
        level: int,
        body: Any,
        attributes: Mapping[str, Any] | None,
        event_name: str | None = None,
        trace_id: int = 0,
        span_id: int = 0,
    ) -> Any:
        """One record in the shape the installed SDK's exporters take."""
        number, text = _severity(level)
        record = _APILogRecord(
            timestamp=timestamp_ns,
            observed_timestamp=observed_ns,
            context=_EMPTY_CONTEXT,
            severity_text=text,
            severity_number=number,
            body=body,
            attributes=attributes,
            event_name=event_name,
        )
        if trace_id:
            record.trace_id = trace_id
            record.span_id = span_id
        return _READABLE(record, resource, scope)

else:  # SDK < 1.39: LogData(SDK LogRecord with its resource, scope)
    from opentelemetry.sdk._logs import LogData as _LogData
    from opentelemetry.sdk._logs import LogRecord as _SDKLogRecord
    from opentelemetry.trace import TraceFlags

    def make_log_record(
        resource: Any,
        scope: Any,
        timestamp_ns: int,
        observed_ns: int,
        level: int,
        body: Any,
        attributes: Mapping[str, Any] | None,
        event_name: str | None = None,
        trace_id: int = 0,
        span_id: int = 0,
    ) -> Any:
        """One record in the shape the installed SDK's exporters take."""
        if event_name:
            attributes = {**(attributes or {}), "event.name": event_name}
        number, text = _severity(level)
        record = _SDKLogRecord(
            timestamp=timestamp_ns,
            observed_timestamp=observed_ns,
            trace_id=trace_id,
            span_id=span_id,
            trace_flags=TraceFlags(TraceFlags.DEFAULT),
            severity_text=text,
            severity_number=number,
            body=body,
            resource=resource,
            attributes=attributes,
        )
        return _LogData(record, scope)


_SEVERITIES: dict[int, tuple[SeverityNumber, str]] = {}


def _severity(level: int) -> tuple[SeverityNumber, str]:
    pair = _SEVERITIES.get(level)
    if pair is None:
        pair = _SEVERITIES[level] = (severity_number(level), severity_text(level))
    return pair


def record_parts(item: Any) -> tuple[Any, Any, Any]:
    """(API-style log record, resource, scope) of whatever an exporter was given."""
    record = item.log_record
    resource = getattr(item, "resource", None) or getattr(record, "resource", None)
    return record, resource, getattr(item, "instrumentation_scope", None)


_TEXT = {logging.WARNING: "WARN", logging.CRITICAL: "FATAL"}
# First severity number of each stdlib decade: DEBUG 5, INFO 9, WARN 13, ERROR 17, FATAL 21.
_DECADE_START = {10: 5, 20: 9, 30: 13, 40: 17, 50: 21}


def severity_number(level: int) -> SeverityNumber:
    """A stdlib level as an OTel severity (as the SDK's LoggingHandler maps it; 1-9 is TRACE)."""
    if level <= 0:
        return SeverityNumber.UNSPECIFIED
    if level < 10:
        return SeverityNumber.TRACE
    if level >= 53:
        return SeverityNumber.FATAL4
    decade = level // 10 * 10
    return SeverityNumber(_DECADE_START[decade] + min(level - decade, 3))


def severity_text(level: int) -> str:
    """The OTel severity text: the stdlib level name, WARNING as WARN and CRITICAL as FATAL."""
    text = _TEXT.get(level)
    if text is None:
        text = logging.getLevelName(level) if level > 0 else "UNSPECIFIED"
    return text
