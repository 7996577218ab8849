"""Pure conversion: golden snapshots of transactions, error events and log items, and the mapping
rules one by one. Regenerate the snapshots with ``UPDATE_GOLDEN=1``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from opentelemetry._logs import SeverityNumber
from opentelemetry.trace import SpanKind, StatusCode

from otel_bridge.exporters.sentry import semconv
from otel_bridge.exporters.sentry.convert import Settings, transaction_event
from otel_bridge.exporters.sentry.events import (
    Breadcrumb,
    log_error_event,
    log_item,
    sentry_level,
    span_exception_event,
)
from otel_bridge.exporters.sentry.options import DEFAULT_SCRUB_KEYS
from tests.sentry import samples
from tests.sentry.helpers import assert_relay_accepts

GOLDEN = Path(__file__).with_name("golden")
SETTINGS = Settings(
    tags={"team": "payments"},
    tag_attributes=("http.route", "host.name"),
    scrub_keys=DEFAULT_SCRUB_KEYS,
    sdk_version="1.2.3",
)


def check_golden(name: str, value: Any) -> None:
    path = GOLDEN / f"{name}.json"
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(text), f"{name} differs from {path}"


def test_transaction_golden() -> None:
    *children, root = samples.request_spans()
    tx = transaction_event(root, children, SETTINGS, "0" * 31 + "1")
    assert_relay_accepts(tx)
    check_golden("transaction", tx)
    trace = tx["contexts"]["trace"]
    assert trace["parent_span_id"] == "0000000000abcdef"  # remote parent kept for distributed tracing
    assert tx["user"] == {"id": "customer-7", "data": {"enduser.role": "admin"}}
    ops = [(s["op"], s["description"], s["status"]) for s in tx["spans"]]
    assert ops == [
        ("db", "SELECT * FROM orders WHERE id = $1", "ok"),
        ("http.client", "POST https://payments.example/v1/charges", "resource_exhausted"),
        ("payment.charge", "charge", "internal_error"),
    ]
    assert tx["spans"][2]["data"]["password"] == "[Filtered]"
    assert tx["spans"][1]["data"]["url.full"] == "https://payments.example/v1/charges?token=[Filtered]&page=2"
    assert tx["spans"][2]["data"]["amounts"] == [1.5, 2.5]
    assert tx["tags"] == {"team": "payments", "http.route": "/orders/{id}", "host.name": "web-1"}


def test_span_exception_event_golden() -> None:
    span = samples.request_spans()[2]
    event = next(e for e in span.events if e.name == "exception")
    crumb = Breadcrumb(timestamp=1_700_000_000.033, level="info", category="charge", message="retrying")
    payload = span_exception_event(span, event, SETTINGS, "0" * 31 + "2", [crumb])
    assert_relay_accepts(payload)
    check_golden("span_exception_event", payload)
    [value] = payload["exception"]["values"]
    assert [f["function"] for f in value["stacktrace"]["frames"]] == ["place_order", "charge"]
    assert value["stacktrace"]["frames"][1]["context_line"] == 'raise PaymentError("card declined")'
    assert value["mechanism"] == {"type": "otel.span_event", "handled": True}
    assert payload["extra"] == {"order.id": 7}


def test_log_events_golden() -> None:
    error = samples.log_record(
        "charge failed",
        SeverityNumber.ERROR,
        {
            "exception.type": "PaymentError",
            "exception.message": "card declined",
            "exception.stacktrace": samples.STACKTRACE,
            "order.id": 7,
            "api_token": "abc",
        },
    )
    payload = log_error_event(error, SETTINGS, "0" * 31 + "3")
    assert_relay_accepts(payload)
    check_golden("log_error_event", payload)
    assert payload["extra"]["api_token"] == "[Filtered]"
    assert payload["contexts"]["trace"] == {
        "type": "trace",
        "trace_id": "5b8efff798038103d269b633813fc60c",
        "span_id": "0000000000001002",
    }
    fatal = samples.log_record("disk full", SeverityNumber.FATAL, span_id=None)
    fatal_event = log_error_event(fatal, SETTINGS, "0" * 31 + "4")
    assert_relay_accepts(fatal_event)
    assert fatal_event["level"] == "fatal" and "trace" not in fatal_event["contexts"]
    check_golden("log_item", log_item(error, SETTINGS))


def test_live_exception_chain_gives_frames_with_source() -> None:
    def inner() -> None:
        raise KeyError("sku")

    try:
        try:
            inner()
        except KeyError as exc:
            raise RuntimeError("lookup failed") from exc
    except RuntimeError as exc:
        record = samples.log_record("boom", SeverityNumber.ERROR, exception=exc)
    payload = log_error_event(record, SETTINGS, "0" * 31 + "5")
    assert_relay_accepts(payload)
    first, last = payload["exception"]["values"]
    assert (first["type"], last["type"]) == ("KeyError", "RuntimeError")
    assert "mechanism" not in first and last["mechanism"]["type"] == "logging"
    assert first["stacktrace"]["frames"][-1]["context_line"] == 'raise KeyError("sku")'
    assert first["stacktrace"]["frames"][-1]["module"] == __name__


@pytest.mark.parametrize(
    ("number", "level"),
    [
        (SeverityNumber.DEBUG, "debug"),
        (SeverityNumber.INFO, "info"),
        (SeverityNumber.WARN, "warning"),
        (SeverityNumber.ERROR, "error"),
        (SeverityNumber.ERROR4, "error"),
        (SeverityNumber.FATAL, "fatal"),
    ],
)
def test_levels(number: SeverityNumber, level: str) -> None:
    assert sentry_level(number) == level


@pytest.mark.parametrize(
    ("attrs", "otel", "expected"),
    [
        ({"http.response.status_code": 200}, StatusCode.UNSET, "ok"),
        ({"http.response.status_code": 404}, StatusCode.UNSET, "not_found"),
        ({"http.status_code": 401}, StatusCode.ERROR, "unauthenticated"),
        ({"http.response.status_code": 418}, StatusCode.ERROR, "invalid_argument"),
        ({"http.response.status_code": 504}, StatusCode.ERROR, "deadline_exceeded"),
        ({"http.response.status_code": 502}, StatusCode.ERROR, "internal_error"),
        ({"rpc.grpc.status_code": 5}, StatusCode.ERROR, "not_found"),
        ({"rpc.grpc.status_code": 14}, StatusCode.ERROR, "unavailable"),
        ({"rpc.grpc.status_code": 0}, StatusCode.UNSET, "ok"),
        ({}, StatusCode.ERROR, "internal_error"),
        ({}, StatusCode.OK, "ok"),
        ({}, StatusCode.UNSET, "ok"),
    ],
)
def test_status_mapping(attrs: dict[str, Any], otel: StatusCode, expected: str) -> None:
    assert semconv.span_status(otel, attrs) == expected


@pytest.mark.parametrize(
    ("name", "kind", "attrs", "expected"),
    [
        ("GET", SpanKind.SERVER, {"http.method": "GET", "http.target": "/a?b=1"}, ("http.server", "GET /a")),
        (
            "x",
            SpanKind.CLIENT,
            {"rpc.system": "grpc", "rpc.service": "Cart", "rpc.method": "Add"},
            ("grpc.client", "Cart/Add"),
        ),
        ("x", SpanKind.SERVER, {"rpc.system": "thrift"}, ("rpc.server", "x")),
        (
            "send",
            SpanKind.PRODUCER,
            {"messaging.system": "kafka", "messaging.destination.name": "orders"},
            ("queue.publish", "orders"),
        ),
        (
            "recv",
            SpanKind.CONSUMER,
            {"messaging.system": "rabbitmq", "messaging.operation.type": "receive"},
            ("queue.receive", "recv"),
        ),
        ("q", SpanKind.CLIENT, {"db.system": "redis"}, ("db", "q")),
        ("work", SpanKind.INTERNAL, {"sentry.op": "task", "sentry.description": "nightly"}, ("task", "nightly")),
        ("work", SpanKind.INTERNAL, {}, ("work", "work")),
    ],
)
def test_op_and_description(name: str, kind: SpanKind, attrs: dict[str, Any], expected: tuple[str, str]) -> None:
    assert semconv.op_and_description(name, kind, attrs) == expected


def test_pii_only_when_allowed() -> None:
    *children, root = samples.request_spans()
    with_pii = Settings(send_default_pii=True, scrub_keys=DEFAULT_SCRUB_KEYS)
    tx = transaction_event(root, children, with_pii, "0" * 32)
    assert tx["user"]["ip_address"] == "203.0.113.9"
    assert tx["contexts"]["trace"]["data"]["client.address"] == "203.0.113.9"
    assert_relay_accepts(tx)
    tx = transaction_event(root, children, SETTINGS, "0" * 32)
    assert "ip_address" not in tx["user"] and "client.address" not in tx["contexts"]["trace"]["data"]


def test_unicode_and_huge_values_pass_relay() -> None:
    *children, root = samples.request_spans()
    huge = samples.span(
        "ünïcødé ✓ 日本語 🚀" * 30,
        0x2001,
        samples.ROOT_ID,
        1,
        2,
        attributes={"blob": "é" * 500_000, "nan": float("nan"), "list": ["a" * 20_000] * 3, "bytes": b"\xff\x00"},
    )
    tx = transaction_event(root, [*children, huge], SETTINGS, "0" * 32)
    assert_relay_accepts(tx)
    data = tx["spans"][0]["data"]
    assert len(data["blob"]) == SETTINGS.max_value_length and data["nan"] == "nan"


@pytest.mark.parametrize(
    ("version", "environment", "release", "env"),
    [
        ("latest", "None", None, None),
        (".", "prod/eu", None, "prod-eu"),
        ("1.0\n/beta", "x" * 80, "1.0 -beta", "x" * 64),
        ("v" * 300, "staging", "v" * 200, "staging"),
    ],
)
def test_release_and_environment_relay_would_refuse(
    version: str, environment: str, release: str | None, env: str | None
) -> None:
    resource = samples.Resource({"service.version": version, "deployment.environment": environment})
    root = samples.span("job", 0x77, None, 0, 1)
    root._resource = resource
    tx = transaction_event(root, [], Settings(), "0" * 32)
    assert_relay_accepts(tx)
    assert tx.get("release") == release and tx.get("environment") == env


@pytest.mark.parametrize("bad", [{"release": "latest"}, {"release": "a/b"}, {"environment": "None"}])
def test_options_refuse_what_sentry_refuses(bad: dict[str, str]) -> None:
    from pydantic import ValidationError

    from otel_bridge.exporters.sentry.options import SentryOptions

    with pytest.raises(ValidationError):
        SentryOptions.model_validate({"dsn": "https://k@o1.ingest.sentry.io/42", **bad})


def test_tags_are_made_acceptable() -> None:
    settings = Settings(tags={"région": "eu", "team name": "a\nb", "empty": " ", "long": "v" * 300})
    root = samples.span("job", 0x77, None, 0, 1)
    tx = transaction_event(root, [], settings, "0" * 32)
    assert_relay_accepts(tx)
    assert tx["tags"] == {"r_gion": "eu", "team_name": "a b", "long": "v" * 200}


def test_span_links_are_kept() -> None:
    from opentelemetry.trace import Link

    linked = samples.SpanContext(0x1234, 0x5678, is_remote=True, trace_flags=samples.TraceFlags(1))
    link = Link(linked, {"messaging.batch": True, "token": "s3cr3t", "ids": (1, 2)})
    child = samples.span("consume", 0x2001, samples.ROOT_ID, 1, 2)
    child._links = (link,)
    root = samples.span("batch", samples.ROOT_ID, None, 0, 5)
    root._links = (link,)
    tx = transaction_event(root, [child], SETTINGS, "0" * 32)
    expected = [
        {
            "trace_id": f"{0x1234:032x}",
            "span_id": f"{0x5678:016x}",
            "sampled": True,
            "attributes": {"messaging.batch": True, "token": "[Filtered]", "ids": [1, 2]},
        }
    ]
    assert tx["contexts"]["trace"]["links"] == expected and tx["spans"][0]["links"] == expected
    normalized = assert_relay_accepts(tx)
    assert normalized["spans"][0]["links"] == expected


def _recorded_event(exc: BaseException | None = None, attributes: dict[str, Any] | None = None) -> Any:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=samples.RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("t").start_as_current_span("job") as span:
        if exc is not None:
            span.record_exception(exc)
        else:
            span.add_event("exception", attributes or {})
    [finished] = memory.get_finished_spans()
    return span_exception_event(finished, finished.events[0], SETTINGS, "0" * 32)


def test_chained_exceptions_from_span_event_text_in_sentry_order() -> None:
    """``raise X from Y`` and an implicit ``__context__``, recorded by the SDK as text: one value per
    exception, oldest first, each with its frames; only the newest carries the mechanism."""

    def lookup() -> None:
        raise KeyError("sku")

    def load() -> None:
        try:
            lookup()
        except KeyError as exc:
            raise LookupError("no product") from exc

    try:
        try:
            load()
        except LookupError:
            {}["cleanup"]
    except KeyError as exc:
        event = _recorded_event(exc)
    assert_relay_accepts(event)
    values = event["exception"]["values"]
    assert [(v["type"], v["value"]) for v in values] == [
        ("KeyError", "'sku'"),
        ("LookupError", "no product"),
        ("KeyError", "'cleanup'"),
    ]
    assert [v["stacktrace"]["frames"][-1]["function"] for v in values] == [
        "lookup",
        "load",
        values[2]["stacktrace"]["frames"][-1]["function"],
    ]
    assert all(v["stacktrace"]["frames"] for v in values)
    assert ["mechanism" in v for v in values] == [False, False, True]


@pytest.mark.parametrize(
    "attributes",
    [
        {
            "exception.type": "java.lang.IllegalStateException",
            "exception.message": "boom",
            "exception.stacktrace": "java.lang.IllegalStateException: boom\n\tat com.example.Foo.bar(Foo.java:10)\n"
            "Caused by: java.io.IOException: disk\n\tat com.example.Io.read(Io.java:5)\n",
        },
        {"exception.stacktrace": "goroutine 1 [running]:\nmain.main()\n\t/tmp/x.go:5 +0x1d\nexit status 2"},
        {"exception.type": "Error", "exception.message": "x" * 100_000},
        {"exception.message": "no type, no stack"},
        {},
    ],
    ids=["java", "go-without-type", "huge-message", "message-only", "empty"],
)
def test_exception_events_without_python_stacktrace_pass_relay(attributes: dict[str, Any]) -> None:
    event = _recorded_event(attributes=attributes)
    assert_relay_accepts(event)
    [value] = event["exception"]["values"]
    assert "stacktrace" not in value and value["type"]


def test_exception_on_the_root_span_is_named_like_its_transaction() -> None:
    exception = next(e for e in samples.request_spans()[2].events if e.name == "exception")
    root = samples.span(
        "POST",  # what an HTTP server instrumentation names the span before the route is known
        samples.ROOT_ID,
        None,
        0,
        40,
        SpanKind.SERVER,
        {"http.request.method": "POST", "http.route": "/orders/{id}"},
        events=(exception,),
    )
    event = span_exception_event(root, exception, SETTINGS, "0" * 31 + "3")
    transaction = transaction_event(root, [], SETTINGS, "0" * 32)
    assert event["transaction"] == transaction["transaction"] == "POST /orders/{id}"
    assert_relay_accepts(event)
    child = samples.request_spans()[2]
    assert span_exception_event(child, exception, SETTINGS, "0" * 31 + "4")["transaction"] == "charge"
