"""Deterministic OTel spans and log records for the pure conversion tests (fixed ids and clock)."""

from __future__ import annotations

from typing import Any

from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    set_span_in_context,
)

TRACE_ID = 0x5B8EFFF798038103D269B633813FC60C
ROOT_ID = 0xEEE19B7EC3C1B174
T0 = 1_700_000_000_000_000_000  # ns
MS = 1_000_000

RESOURCE = Resource(
    {
        "service.name": "shop",
        "service.version": "2.3.1",
        "deployment.environment.name": "production",
        "host.name": "web-1",
        "process.runtime.name": "cpython",
        "process.runtime.version": "3.11.7",
        "os.type": "linux",
    }
)
SCOPE = InstrumentationScope("shop.web")

STACKTRACE = """Traceback (most recent call last):
  File "/srv/shop/orders.py", line 42, in place_order
    charge(order)
  File "/srv/shop/payments.py", line 7, in charge
    raise PaymentError("card declined")
          ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
shop.payments.PaymentError: card declined
"""


def ctx(span_id: int, remote: bool = False) -> SpanContext:
    return SpanContext(TRACE_ID, span_id, is_remote=remote, trace_flags=TraceFlags(TraceFlags.SAMPLED))


def span(
    name: str,
    span_id: int,
    parent: int | None,
    start_ms: int,
    end_ms: int,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: dict[str, Any] | None = None,
    status: Status | None = None,
    events: tuple[Event, ...] = (),
    remote_parent: bool = False,
) -> ReadableSpan:
    return ReadableSpan(
        name=name,
        context=ctx(span_id),
        parent=ctx(parent, remote=remote_parent) if parent is not None else None,
        resource=RESOURCE,
        attributes=attributes or {},
        events=events,
        kind=kind,
        status=status or Status(StatusCode.UNSET),
        start_time=T0 + start_ms * MS,
        end_time=T0 + end_ms * MS,
        instrumentation_scope=SCOPE,
    )


def request_spans() -> list[ReadableSpan]:
    """An HTTP request: server root, a DB query, an outgoing HTTP call, a failing step."""
    exception = Event(
        "exception",
        {
            "exception.type": "PaymentError",
            "exception.message": "card declined",
            "exception.stacktrace": STACKTRACE,
            "exception.escaped": "False",
            "order.id": 7,
        },
        timestamp=T0 + 35 * MS,
    )
    return [
        span(
            "SELECT shop.orders",
            0x1001,
            ROOT_ID,
            5,
            9,
            SpanKind.CLIENT,
            {"db.system.name": "postgresql", "db.query.text": "SELECT * FROM orders WHERE id = $1"},
        ),
        span(
            "POST",
            0x1002,
            ROOT_ID,
            10,
            30,
            SpanKind.CLIENT,
            {
                "http.request.method": "POST",
                "url.full": "https://payments.example/v1/charges?token=abc&page=2",
                "http.response.status_code": 429,
            },
            Status(StatusCode.ERROR),
        ),
        span(
            "charge",
            0x1003,
            ROOT_ID,
            31,
            36,
            attributes={"sentry.op": "payment.charge", "password": "hunter2", "amounts": (1.5, 2.5)},
            status=Status(StatusCode.ERROR, "card declined"),
            events=(Event("retrying", {"attempt": 2}, timestamp=T0 + 33 * MS), exception),
        ),
        span(
            "POST /orders/{id}",
            ROOT_ID,
            0xABCDEF,
            0,
            40,
            SpanKind.SERVER,
            {
                "http.request.method": "POST",
                "http.route": "/orders/{id}",
                "url.path": "/orders/7",
                "url.scheme": "https",
                "server.address": "shop.example",
                "http.response.status_code": 200,
                "enduser.id": "customer-7",
                "enduser.role": "admin",
                "client.address": "203.0.113.9",
            },
            remote_parent=True,
        ),
    ]


def log_record(
    body: str,
    severity: SeverityNumber,
    attributes: dict[str, Any] | None = None,
    at_ms: int = 20,
    span_id: int | None = 0x1002,
    exception: BaseException | None = None,
) -> ReadableLogRecord:
    context = set_span_in_context(NonRecordingSpan(ctx(span_id))) if span_id is not None else None
    record = LogRecord(
        timestamp=T0 + at_ms * MS,
        observed_timestamp=T0 + at_ms * MS,
        context=context,
        severity_text=severity.name,
        severity_number=severity,
        body=body,
        attributes=attributes or {},
        exception=exception,
    )
    return ReadableLogRecord(
        log_record=record, resource=RESOURCE, instrumentation_scope=InstrumentationScope("shop.orders")
    )
