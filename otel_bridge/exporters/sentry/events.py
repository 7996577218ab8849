"""OTel exception span events and log records → Sentry error events, breadcrumbs and log items. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import format_span_id, format_trace_id

from otel_bridge.exporters.sentry import frames, semconv
from otel_bridge.exporters.sentry.convert import (
    MAX_BREADCRUMB_MESSAGE,
    MAX_MESSAGE,
    Settings,
    base_event,
    clean_attributes,
    hide_credentials,
    is_local_root,
    ns_to_s,
    span_id_hex,
    trace_id_hex,
    truncate,
)

MAX_BREADCRUMB_DATA_KEYS = 32
MAX_BREADCRUMB_VALUE = 256
EXCEPTION_KEYS = ("exception.type", "exception.message", "exception.stacktrace", "exception.escaped")


@dataclass(frozen=True)
class Breadcrumb:
    """A record or span event kept to explain a later error of the same trace."""

    timestamp: float
    level: str
    category: str
    message: str
    type: str = "default"
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The breadcrumb in Sentry's format."""
        out: dict[str, Any] = {
            "timestamp": self.timestamp,
            "type": self.type,
            "level": self.level,
            "category": self.category,
            "message": self.message,
        }
        if self.data:
            out["data"] = dict(self.data)
        return out


def sentry_level(number: SeverityNumber | None) -> str:
    """OTel severity → Sentry level; FATAL (Python CRITICAL) → ``fatal``."""
    value = number.value if number is not None else SeverityNumber.INFO.value
    if value >= SeverityNumber.FATAL.value:
        return "fatal"
    if value >= SeverityNumber.ERROR.value:
        return "error"
    if value >= SeverityNumber.WARN.value:
        return "warning"
    if value >= SeverityNumber.INFO.value:
        return "info"
    return "debug"


def log_level(number: SeverityNumber | None) -> str:
    """OTel severity → Sentry structured-log level (``trace`` … ``fatal``)."""
    value = number.value if number is not None else SeverityNumber.INFO.value
    for floor, name in ((21, "fatal"), (17, "error"), (13, "warn"), (9, "info"), (5, "debug")):
        if value >= floor:
            return name
    return "trace"


def body_text(record: ReadableLogRecord) -> str:
    """The record's body as text."""
    body = record.log_record.body
    return hide_credentials(body if isinstance(body, str) else ("" if body is None else repr(body)))


def _record_trace(record: ReadableLogRecord) -> tuple[str, str]:
    log = record.log_record
    trace_id = format_trace_id(log.trace_id) if log.trace_id else ""
    span_id = format_span_id(log.span_id) if log.span_id else ""
    return trace_id, span_id


def record_breadcrumb(record: ReadableLogRecord, settings: Settings) -> Breadcrumb:
    """A log record as a breadcrumb."""
    scope = record.instrumentation_scope.name if record.instrumentation_scope else ""
    log = record.log_record
    return Breadcrumb(
        timestamp=ns_to_s(log.timestamp or log.observed_timestamp),
        level=sentry_level(log.severity_number),
        category=scope or "log",
        message=truncate(body_text(record), MAX_BREADCRUMB_MESSAGE),
        type="log",
    )


def span_event_breadcrumb(span: ReadableSpan, event: Event, settings: Settings) -> Breadcrumb:
    """A non-exception span event as a breadcrumb (its data kept small: breadcrumbs are held in
    memory for every recent trace)."""
    small = replace(settings, max_value_length=min(settings.max_value_length, MAX_BREADCRUMB_VALUE))
    data = clean_attributes(event.attributes, small)
    return Breadcrumb(
        timestamp=ns_to_s(event.timestamp),
        level="info",
        category=truncate(span.name, 200),
        message=truncate(event.name, MAX_BREADCRUMB_MESSAGE),
        data=dict(list(data.items())[:MAX_BREADCRUMB_DATA_KEYS]),
    )


def _trace_context(trace_id: str, span_id: str, op: str | None = None) -> dict[str, Any]:
    context: dict[str, Any] = {"type": "trace", "trace_id": trace_id, "span_id": span_id}
    if op:
        context["op"] = op
    return context


def _finish(
    event: dict[str, Any], crumbs: Sequence[Breadcrumb], extra: dict[str, Any], trace: dict[str, Any] | None
) -> dict[str, Any]:
    if crumbs:
        event["breadcrumbs"] = {"values": [c.to_dict() for c in sorted(crumbs, key=lambda c: c.timestamp)]}
    if extra:
        event["extra"] = extra
    if trace is not None:
        event["contexts"]["trace"] = trace
    return event


def span_exception_event(
    span: ReadableSpan, event: Event, settings: Settings, event_id: str, crumbs: Sequence[Breadcrumb] = ()
) -> dict[str, Any]:
    """An error event for one ``exception`` span event, linked to the span's trace."""
    attrs = event.attributes or {}
    span_attrs = span.attributes or {}
    resource_attrs = dict(span.resource.attributes) if span.resource else {}
    out = base_event(resource_attrs, span_attrs, settings)
    mechanism: dict[str, Any] = {"type": "otel.span_event"}
    if "exception.escaped" in attrs:  # deprecated attribute; when absent we cannot tell
        mechanism["handled"] = str(attrs["exception.escaped"]).lower() != "true"
    out["exception"] = {"values": exception_values_from_attrs(attrs, mechanism, settings)}
    out.update({"event_id": event_id, "timestamp": ns_to_s(event.timestamp), "level": "error"})
    op, _ = semconv.op_and_description(span.name, span.kind, span_attrs)
    # On the transaction's own root span (a request handler's error), name the event as the
    # transaction is named ("POST /checkout" from the route), so Sentry lists it under it. A deeper
    # span does not know its root yet: its own name is the best there is.
    name = semconv.transaction_name(span.name, span.kind, span_attrs)[0] if is_local_root(span) else span.name
    out["transaction"] = truncate(name, 200)
    extra = clean_attributes(attrs, settings, skip=EXCEPTION_KEYS)
    return _finish(out, crumbs, extra, _trace_context(trace_id_hex(span), span_id_hex(span), op))


def exception_values_from_attrs(
    attrs: Mapping[str, Any], mechanism: dict[str, Any], settings: Settings
) -> list[dict[str, Any]]:
    """Exception values from the ``exception.*`` attributes (frames parsed from the stacktrace)."""
    type_name = attrs.get("exception.type")
    message = attrs.get("exception.message")
    stack = attrs.get("exception.stacktrace")
    values = frames.exceptions_from_text(
        str(stack or ""),
        str(type_name) if type_name is not None else None,
        str(message) if message is not None else None,
        mechanism,
    )
    for value in values:
        value["value"] = truncate(hide_credentials(str(value.get("value", ""))), settings.max_value_length)
    return values


def record_exception_values(record: ReadableLogRecord, settings: Settings) -> list[dict[str, Any]]:
    """Exception values of a log record: the live exception if the handler passed it, else attributes."""
    mechanism = {"type": "logging", "handled": True}
    live = getattr(record.log_record, "exception", None)
    if isinstance(live, BaseException):
        values = frames.exceptions_from_live(live, mechanism)
        for value in values:
            value["value"] = truncate(hide_credentials(str(value.get("value", ""))), settings.max_value_length)
        return values
    attrs = record.log_record.attributes or {}
    if attrs.get("exception.type") is None and attrs.get("exception.stacktrace") is None:
        return []
    return exception_values_from_attrs(attrs, mechanism, settings)


def log_error_event(
    record: ReadableLogRecord,
    settings: Settings,
    event_id: str,
    crumbs: Sequence[Breadcrumb] = (),
    exception_values: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An error event for one log record at or above the error floor."""
    log = record.log_record
    attrs = dict(log.attributes or {})
    out = base_event(dict(record.resource.attributes), attrs, settings)
    values = record_exception_values(record, settings) if exception_values is None else exception_values
    if values:
        out["exception"] = {"values": values}
    scope = record.instrumentation_scope.name if record.instrumentation_scope else ""
    out.update(
        {
            "event_id": event_id,
            "timestamp": ns_to_s(log.timestamp or log.observed_timestamp),
            "level": sentry_level(log.severity_number),
            "logger": truncate(scope or "otel", 64),
            "logentry": {"formatted": truncate(body_text(record), MAX_MESSAGE)},
        }
    )
    extra = clean_attributes(attrs, settings, skip=EXCEPTION_KEYS)
    if log.severity_text:
        extra["otel.severity_text"] = log.severity_text
    trace_id, span_id = _record_trace(record)
    trace = _trace_context(trace_id, span_id) if trace_id and span_id else None
    return _finish(out, crumbs, extra, trace)


def _typed(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"value": value, "type": "boolean"}
    if isinstance(value, int):
        return {"value": value, "type": "integer"}
    if isinstance(value, float):
        return {"value": value, "type": "double"}
    if isinstance(value, str):
        return {"value": value, "type": "string"}
    return {"value": repr(value), "type": "string"}


def log_item(record: ReadableLogRecord, settings: Settings) -> dict[str, Any]:
    """A Sentry structured-log item (``log`` envelope item payload entry) with typed attributes."""
    log = record.log_record
    resource_attrs = dict(record.resource.attributes)
    attrs: dict[str, Any] = {}
    for key, cleaned in clean_attributes(log.attributes, settings).items():
        attrs[key] = cleaned if not isinstance(cleaned, (list, dict)) else repr(cleaned)
    scope = record.instrumentation_scope.name if record.instrumentation_scope else ""
    if scope:
        attrs["logger.name"] = scope
    number = log.severity_number.value if log.severity_number is not None else 9
    attrs["sentry.severity_number"] = number
    attrs["sentry.severity_text"] = log.severity_text or log_level(log.severity_number)
    attrs["sentry.sdk.name"] = settings.sdk_name
    attrs["sentry.sdk.version"] = settings.sdk_version
    attrs["sentry.origin"] = "auto.otel"
    base = base_event(resource_attrs, {}, settings)
    for key in ("release", "environment"):
        if key in base:
            attrs[f"sentry.{key}"] = base[key]
    if resource_attrs.get("service.name"):
        attrs.setdefault("service.name", str(resource_attrs["service.name"]))
    item: dict[str, Any] = {
        "timestamp": ns_to_s(log.timestamp or log.observed_timestamp),
        "level": log_level(log.severity_number),
        "body": truncate(body_text(record), MAX_MESSAGE),
        "attributes": {key: _typed(value) for key, value in attrs.items()},
    }
    trace_id, span_id = _record_trace(record)
    if trace_id:
        item["trace_id"] = trace_id
    if span_id:
        item["span_id"] = span_id
    return item
