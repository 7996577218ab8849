"""Index naming: plain, strftime on the record's time, data streams, per-record routing."""

from __future__ import annotations

import pytest

from otel_bridge.exporters.elasticsearch.index import IndexNamer, data_stream_parts, sanitize
from otel_bridge.exporters.elasticsearch.options import RoutingOptions
from otel_bridge.exporters.elasticsearch.template import template_body

JUNE_1 = 1_717_243_200_000_000_000  # 2024-06-01T12:00:00Z
DEC_31 = 1_735_689_599_000_000_000  # 2024-12-31T23:59:59Z


def test_plain_index() -> None:
    assert IndexNamer("app-logs").name(JUNE_1) == "app-logs"


def test_dated_pattern_uses_the_record_time_in_utc() -> None:
    namer = IndexNamer("logs-%Y.%m.%d")
    assert namer.name(JUNE_1) == "logs-2024.06.01"
    assert namer.name(DEC_31) == "logs-2024.12.31"  # not "now": a late record goes to its own day
    assert namer.template_patterns() == ["logs-*.*.*"]


def test_data_stream_names() -> None:
    assert data_stream_parts("logs-shop-default") == ("logs", "shop", "default")
    assert data_stream_parts("logs-shop.otel-default") == ("logs", "shop.otel", "default")
    assert data_stream_parts("app-logs") is None
    assert data_stream_parts("logs-a-b-c") is None


def test_routing_by_attribute_then_resource_then_default() -> None:
    namer = IndexNamer("logs-generic-default", RoutingOptions(attribute="event.dataset", index="logs-{value}-default"))
    assert namer.name(JUNE_1, {"event.dataset": "Payments/API"}) == "logs-payments_api-default"
    assert namer.name(JUNE_1, {}, {"event.dataset": "audit"}) == "logs-audit-default"
    assert namer.name(JUNE_1, {}) == "logs-generic-default"
    assert namer.template_patterns() == ["logs-*-default", "logs-generic-default"]


def test_routing_placeholder_is_required() -> None:
    with pytest.raises(ValueError, match="placeholder"):
        RoutingOptions(attribute="x", index="logs-fixed")


def test_sanitize() -> None:
    assert sanitize("Shop-EU West") == "shop_eu_west"
    assert sanitize("***") == "unknown"


def test_template_for_a_data_stream_and_for_otel_attributes() -> None:
    body = template_body(IndexNamer("logs-shop-default"), "otel")
    assert body["data_stream"] == {}
    assert body["template"]["mappings"]["properties"]["attributes"]["subobjects"] is False
    dated = template_body(IndexNamer("app-%Y.%m"), "ecs")
    assert "data_stream" not in dated
    assert dated["template"]["mappings"]["properties"]["@timestamp"]["type"] == "date_nanos"


@pytest.mark.parametrize("bad", ["Logs-Shop-default", "logs shop", "_logs", "logs/x", "logs#1", "logs:x", "..", "-x"])
def test_index_names_elasticsearch_refuses_are_config_errors(bad: str) -> None:
    # Otherwise every document would be refused (400 invalid_index_name_exception), at run time, forever.
    from pydantic import ValidationError

    from otel_bridge.exporters.elasticsearch.file_sink import FileOptions
    from otel_bridge.exporters.elasticsearch.options import ElasticsearchOptions

    with pytest.raises(ValidationError, match="index"):
        ElasticsearchOptions(index=bad)
    with pytest.raises(ValidationError, match="index"):
        FileOptions(path="x.ndjson", index=bad)
    if bad != "..":  # "..-{value}" is a valid (hidden) name
        with pytest.raises(ValidationError, match="index"):
            RoutingOptions(attribute="a", index=bad + "-{value}")


def test_valid_index_names_and_patterns_pass() -> None:
    from otel_bridge.exporters.elasticsearch.options import ElasticsearchOptions

    for good in ("logs-shop-default", "app-%Y.%m.%d", "logs-%Y-%m", ".ds-like", "app_logs+1"):
        assert ElasticsearchOptions(index=good).index == good
    assert RoutingOptions(attribute="a", index="logs-{value}-default").index == "logs-{value}-default"
