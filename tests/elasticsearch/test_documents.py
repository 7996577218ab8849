"""The ecs and otel mappings: golden documents, collision handling, odd values, deterministic ids."""

from __future__ import annotations

import json
import math
import os
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from otel_bridge.exporters.elasticsearch.documents import (
    TRUNCATED,
    clean_value,
    format_ns,
    resolve_collisions,
    to_document,
)
from tests.elasticsearch.conftest import GOLDEN

T0 = 1_717_243_200_123_456_789  # 2024-06-01T12:00:00.123456789Z
RESOURCE = Resource(
    {
        "service.name": "shop",
        "service.version": "2.3.1",
        "deployment.environment.name": "production",
        "host.name": "web-1",
        "team": "payments",
        "telemetry.sdk.language": "python",
    }
)
STACK = (
    "Traceback (most recent call last):\n"
    '  File "/app/shop.py", line 17, in place\n'
    "    total = amount / count\n"
    "ZeroDivisionError: division by zero\n"
)


def make_record(
    body: Any = "order 42 placed",
    attributes: dict[str, Any] | None = None,
    severity: SeverityNumber = SeverityNumber.INFO,
    text: str = "INFO",
    traced: bool = True,
) -> ReadableLogRecord:
    context = None
    if traced:
        span = NonRecordingSpan(
            SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, False, TraceFlags(1))
        )
        context = trace.set_span_in_context(span)
    record = LogRecord(
        timestamp=T0,
        observed_timestamp=T0 + 1_000,
        context=context,
        severity_text=text,
        severity_number=severity,
        body=body,
        attributes=attributes if attributes is not None else {},
    )
    return ReadableLogRecord(
        log_record=record, resource=RESOURCE, instrumentation_scope=InstrumentationScope("shop.orders", "1.0")
    )


CASES: dict[str, ReadableLogRecord] = {
    "plain": make_record(
        attributes={
            "order.id": 42,
            "http.request.method": "POST",
            "code.file.path": "/app/shop.py",
            "code.line.number": 17,
            "code.function.name": "place",
        }
    ),
    "exception": make_record(
        body="payment failed",
        severity=SeverityNumber.ERROR,
        text="ERROR",
        attributes={
            "exception.type": "ZeroDivisionError",
            "exception.message": "division by zero",
            "exception.stacktrace": STACK,
            "order.id": 42,
        },
    ),
    "collision": make_record(
        attributes={
            "code.function": "legacy_name",
            "code.function.name": "place",
            "a": 1,
            "a.b": 2,
            "a.b.c": 3,
            "message": "an attribute called message",
            "log": "an attribute called log",
        },
        traced=False,
    ),
    "odd_values": make_record(
        body={"user": "u1", "items": [1, 2], "raw": b"\x00\xff"},
        attributes={
            "blob": b"\x00\x01\x02",
            "huge": "y" * 300,
            "mixed": [1, "a", True],
            "nan": math.nan,
            "object": object.__new__(type("Thing", (), {"__str__": lambda self: "<thing>"})),
            "big": 2**70,
        },
        severity=SeverityNumber.WARN,
        text="WARN",
    ),
}


def render(name: str, mapping: str) -> dict[str, Any]:
    max_chars = 100 if name == "odd_values" else 256 * 1024
    doc = to_document(CASES[name], "logs-shop-default", mapping, ("logs", "shop", "default"), max_chars=max_chars)
    return {"_index": doc.index, "_id": doc.id, "_source": json.loads(doc.source)}


@pytest.mark.parametrize("mapping", ["ecs", "otel"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str, mapping: str) -> None:
    got = render(name, mapping)
    path = GOLDEN / f"{name}.{mapping}.json"
    if os.environ.get("OTEL_BRIDGE_UPDATE_GOLDEN"):
        path.write_text(json.dumps(got, indent=2, sort_keys=True, ensure_ascii=False) + "\n", "utf-8")
    assert got == json.loads(path.read_text("utf-8"))
    assert_expandable(got["_source"])


def leaf_paths(value: Any, prefix: str = "") -> list[str]:
    """Every leaf path after Elasticsearch-style dot expansion (dotted keys become objects)."""
    if not isinstance(value, dict):
        return [prefix]
    paths: list[str] = []
    for key, child in value.items():
        paths += leaf_paths(child, f"{prefix}.{key}" if prefix else key)
    return paths


def assert_expandable(source: dict[str, Any]) -> None:
    """No path is both a value and an object once dots are expanded (ES would refuse the document)."""
    paths = leaf_paths(source)
    assert len(paths) == len(set(paths)), "the same field twice"
    as_set = set(paths)
    for path in paths:
        parts = path.split(".")
        for i in range(1, len(parts)):
            assert ".".join(parts[:i]) not in as_set, f"{'.'.join(parts[:i])} is a value and an object"


def test_collision_keeps_both_values() -> None:
    ecs = render("collision", "ecs")["_source"]
    assert ecs["code"]["function"] == {"value": "legacy_name", "name": "place"}
    assert ecs["a"] == {"value": 1, "b": {"value": 2, "c": 3}}
    assert ecs["message"] == "order 42 placed" and ecs["labels"]["message"] == "an attribute called message"
    assert ecs["log"]["value"] == "an attribute called log"
    otel = render("collision", "otel")["_source"]
    assert otel["attributes"]["code.function.value"] == "legacy_name"
    assert otel["attributes"]["code.function.name"] == "place"


def test_resolve_collisions_is_order_independent() -> None:
    a = resolve_collisions({"x": 1, "x.y": 2, "x.y.z": 3})
    b = resolve_collisions({"x.y.z": 3, "x.y": 2, "x": 1})
    assert a == b == {"x.value": 1, "x.y.value": 2, "x.y.z": 3}


def test_timestamp_keeps_nanoseconds() -> None:
    assert format_ns(T0) == "2024-06-01T12:00:00.123456789Z"
    assert format_ns(0) == "1970-01-01T00:00:00.000000000Z"
    assert render("plain", "ecs")["_source"]["@timestamp"] == "2024-06-01T12:00:00.123456789Z"


def test_ids_are_deterministic_and_content_based() -> None:
    first = to_document(CASES["plain"], "i", "ecs")
    again = to_document(make_record(attributes=dict(CASES["plain"].log_record.attributes or {})), "i", "ecs")
    other = to_document(make_record(body="something else"), "i", "ecs")
    assert first.id == again.id
    assert first.id != other.id
    assert len(first.id) == 26


def test_odd_values_never_lose_the_record() -> None:
    assert clean_value("z" * 10, 4) == "zzzz" + TRUNCATED
    assert clean_value(b"\x00", 10) == "AA=="
    assert clean_value([1, "a", True], 10) == ["1", "a", "true"]
    assert clean_value(float("inf"), 10) == "inf"
    ecs = render("odd_values", "ecs")["_source"]
    assert json.loads(ecs["message"])["user"] == "u1"
    assert ecs["otel_bridge"]["body"]["items"] == [1, 2]
    assert ecs["huge"].endswith(TRUNCATED)
    otel = render("odd_values", "otel")["_source"]
    assert otel["body"]["structured"]["raw"] == "AP8="
    assert otel["attributes"]["object"] == "<thing>"


def test_live_exception_without_attributes_still_fills_error_fields() -> None:
    try:
        raise ValueError("bad input")
    except ValueError as exc:
        record = LogRecord(timestamp=T0, body="failed", severity_number=SeverityNumber.ERROR, exception=exc)
    readable = ReadableLogRecord(log_record=record, resource=RESOURCE)
    source = json.loads(to_document(readable, "i", "ecs").source)
    assert source["error"]["type"] == "ValueError"
    assert source["error"]["message"] == "bad input"
    assert "raise ValueError" in source["error"]["stack_trace"]


@pytest.mark.parametrize("mapping", ["ecs", "otel"])
def test_awkward_attribute_names_still_give_a_valid_document(mapping: str) -> None:
    record = make_record(
        attributes={"labels": "x", "a..b": 1, "a.b": 2, "": 3, ".lead": 4, "@timestamp": "attr", "service": "s"}
    )
    source = json.loads(to_document(record, "i", mapping).source)
    assert_expandable(source)
    values = sorted(str(v) for v in _all_values(source))
    for expected in ("x", "1", "2", "3", "4", "attr", "s"):
        assert expected in values, f"{expected} lost"


def _all_values(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [v for child in value.values() for v in _all_values(child)]
    if isinstance(value, list):
        return [v for child in value for v in _all_values(child)]
    return [value]


@pytest.mark.parametrize("mapping", ["ecs", "otel"])
def test_rescue_folds_attributes_into_one_text_field(mapping: str) -> None:
    from otel_bridge.exporters.elasticsearch.documents import rescue

    doc = to_document(CASES["odd_values"], "i", mapping)
    safe = rescue(doc)
    assert safe is not None and safe.id == doc.id and safe.index == doc.index
    source = json.loads(safe.source)
    unmapped = json.loads(source["otel_bridge"]["unmapped"])
    assert source["@timestamp"] == "2024-06-01T12:00:00.123456789Z"
    assert source["trace" if mapping == "ecs" else "trace_id"]
    if mapping == "ecs":
        assert "blob" not in source and unmapped["blob"] == "AAEC" and source["service"]["name"] == "shop"
    else:
        assert "attributes" not in source and unmapped["attributes"]["blob"] == "AAEC"
        assert json.loads(source["body"]["text"])["user"] == "u1" and source["scope"] == {
            "name": "shop.orders",
            "version": "1.0",
        }
    assert rescue(safe) is None  # folded once only


def _keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [k for k, child in value.items() for k in (k, *_keys(child))]
    if isinstance(value, list):
        return [k for child in value for k in _keys(child)]
    return []


@pytest.mark.parametrize("mapping", ["ecs", "otel"])
def test_collisions_inside_mapping_values_at_several_depths(mapping: str) -> None:
    # Attribute values (and bodies) may be mappings: their keys collide and go invalid just the same.
    nested = {"x": 1, "x.y": 2, "x.y.z": 3, "": 4, "a..b": 5, "deep": {"k": 6, "k.v": 7, ".": {"w": 8}}}
    record = make_record(body={"payload": nested}, attributes={"ctx": nested, "ctx.x": 9})
    source = json.loads(to_document(record, "i", mapping).source)
    assert_expandable(source)
    for key in _keys(source):
        assert key and "" not in key.split("."), f"invalid field name {key!r}"
    values = [str(v) for v in _all_values(source)]
    for expected in map(str, range(1, 10)):
        assert values.count(expected) >= (2 if expected != "9" else 1), f"{expected} lost"


@pytest.mark.parametrize("mapping", ["ecs", "otel"])
def test_deep_or_cyclic_values_still_give_a_document(mapping: str) -> None:
    # A body is not cleaned by the SDK: a cycle or a very deep structure must not cost the record.
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(3000):
        node["k"] = {}
        node = node["k"]
    cyclic: dict[str, Any] = {"a": 1}
    cyclic["self"] = cyclic
    for body in (deep, cyclic, [cyclic, 2]):
        record = make_record(body=body, attributes={"nested": {"k": {"k": {"k": 1}}}})
        source = json.loads(to_document(record, "i", mapping).source)
        assert_expandable(source)
        assert "1" in [str(v) for v in _all_values(source)]
