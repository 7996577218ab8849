"""What must never leave the process: secrets in nested data and URLs, and, without
``send_default_pii``, client IP addresses (also in forwarded-for headers), cookies and auth headers."""

from __future__ import annotations

import json
from typing import Any

from opentelemetry._logs import SeverityNumber
from opentelemetry.trace import SpanKind

from otel_bridge.exporters.sentry.convert import Settings, transaction_event
from otel_bridge.exporters.sentry.events import log_error_event, log_item, span_exception_event
from otel_bridge.exporters.sentry.options import DEFAULT_SCRUB_KEYS
from tests.sentry import samples
from tests.sentry.helpers import assert_relay_accepts

SETTINGS = Settings(scrub_keys=DEFAULT_SCRUB_KEYS, tag_attributes=("client.address", "http.route"))
SECRETS = [f"SECRET{i}" for i in range(1, 10)]
ADDRESSES = [f"203.0.113.{i}" for i in range(1, 12)]

SERVER_ATTRS: dict[str, Any] = {
    "http.request.method": "GET",
    "http.route": "/x",
    "http.request.header.x-forwarded-for": ("203.0.113.1, 10.0.0.1",),
    "http.request.header.x-real-ip": ("203.0.113.2",),
    "http.request.header.forwarded": ("for=203.0.113.3",),
    "http.request.header.cookie": ("sid=SECRET1",),
    "http.request.header.authorization": ("Bearer SECRET2",),
    "http.response.header.set-cookie": ("sid=SECRET3",),
    "network.peer.address": "203.0.113.4",
    "net.peer.ip": "203.0.113.5",
    "client.address": "203.0.113.6",
    "redirect_to": "https://bob:SECRET4@idp.example/cb?code=1",
    "repo": "https://SECRET1@git.example/shop.git?b=%2Fmain",
    "next": "https://shop.example/?access_token=SECRET5&page=2",
}
NESTED: dict[str, Any] = {
    "ctx": {"user": {"password": "SECRET6", "name": "bob"}, "headers": {"Authorization": "SECRET7"}},
    "items": [{"api_key": "SECRET8"}],
    "client.address": "203.0.113.7",
    "callback": "https://h.example/hook?token=SECRET9",
}


def _leaks(payload: Any) -> list[str]:
    text = json.dumps(payload, ensure_ascii=False)
    return [needle for needle in [*SECRETS, *ADDRESSES] if needle in text]


def test_server_span_without_pii_sends_no_address_cookie_or_auth() -> None:
    root = samples.span("GET /x", samples.ROOT_ID, None, 0, 5, SpanKind.SERVER, SERVER_ATTRS)
    tx = transaction_event(root, [], SETTINGS, "0" * 32)
    assert_relay_accepts(tx)
    assert _leaks(tx) == []
    data = tx["contexts"]["trace"]["data"]
    assert data["http.route"] == "/x" and data["next"] == "https://shop.example/?access_token=[Filtered]&page=2"
    assert data["redirect_to"] == "https://bob:[Filtered]@idp.example/cb?code=1"
    assert data["repo"] == "https://[Filtered]@git.example/shop.git?b=%2Fmain"


def test_server_span_with_pii_keeps_addresses_but_never_secrets() -> None:
    settings = Settings(scrub_keys=DEFAULT_SCRUB_KEYS, send_default_pii=True)
    root = samples.span("GET /x", samples.ROOT_ID, None, 0, 5, SpanKind.SERVER, SERVER_ATTRS)
    tx = transaction_event(root, [], settings, "0" * 32)
    assert [leak for leak in _leaks(tx) if leak.startswith("SECRET")] == []
    assert tx["contexts"]["trace"]["data"]["http.request.header.x-forwarded-for"] == ["203.0.113.1, 10.0.0.1"]


def test_nested_data_is_scrubbed_in_events_log_items_and_span_events() -> None:
    record = samples.log_record("boom", SeverityNumber.ERROR, attributes=NESTED)
    event = log_error_event(record, SETTINGS, "0" * 32)
    assert_relay_accepts(event)
    assert _leaks(event) == []
    assert event["extra"]["ctx"]["user"] == {"password": "[Filtered]", "name": "bob"}
    item = log_item(record, SETTINGS)
    assert _leaks(item) == []
    exception = samples.Event("exception", {"exception.type": "E", **NESTED}, timestamp=samples.T0)
    span = samples.span("s", 0x1003, samples.ROOT_ID, 1, 2, events=(exception,))
    event = span_exception_event(span, exception, SETTINGS, "0" * 32)
    assert_relay_accepts(event)
    assert _leaks(event) == []


def test_credentials_in_messages_and_exception_values_are_hidden() -> None:
    """A driver's error message often carries the connection URL, password included."""
    from otel_bridge.exporters.sentry.events import record_breadcrumb

    url = "postgres://app:SECRET1@db.internal:5432/shop"
    try:
        raise ConnectionError(f"could not connect to {url}")
    except ConnectionError as exc:
        record = samples.log_record(f"database down: {url}", SeverityNumber.ERROR, exception=exc)
    event = log_error_event(record, SETTINGS, "0" * 32)
    assert_relay_accepts(event)
    assert _leaks(event) == [] and "db.internal" in event["logentry"]["formatted"]
    assert _leaks(record_breadcrumb(record, SETTINGS).to_dict()) == []
    assert _leaks(log_item(record, SETTINGS)) == []
    exception = samples.Event(
        "exception",
        {"exception.type": "OperationalError", "exception.message": url, "exception.stacktrace": f"E: {url}"},
        timestamp=samples.T0,
    )
    span = samples.span("s", 0x1003, samples.ROOT_ID, 1, 2, events=(exception,))
    event = span_exception_event(span, exception, SETTINGS, "0" * 32)
    assert _leaks(event) == []
