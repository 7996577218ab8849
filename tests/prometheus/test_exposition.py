"""Naming, labels, collisions, histogram buckets and exponential conversion on the endpoint text."""

from __future__ import annotations

import re
from typing import Any

import pytest
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Buckets,
    ExponentialHistogramDataPoint,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.metrics.view import (
    ExplicitBucketHistogramAggregation,
    ExponentialBucketHistogramAggregation,
    View,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

import otel_bridge
from otel_bridge.exporters.prometheus.model import Family, Hist, subtract, sum_into
from otel_bridge.exporters.prometheus.translate import (
    TranslateOptions,
    TranslateReport,
    exponential_to_hist,
    family_name,
    make_labels,
    translate,
)
from tests.prometheus.conftest import scrape, value_of


@pytest.mark.parametrize(
    ("name", "unit", "expected"),
    [
        ("orders", "", "orders"),
        ("http.server.request.duration", "s", "http_server_request_duration_seconds"),
        ("latency_seconds", "s", "latency_seconds"),
        ("payload", "By", "payload_bytes"),
        ("requests", "{request}", "requests"),
        ("speed", "m/s", "speed_meters_per_second"),
        ("ratio", "1", "ratio"),
        ("orders_total", "", "orders"),  # rendered as orders_total, never orders_total_total
        ("2xx.count", "", "_xx_count"),
    ],
)
def test_family_names(name: str, unit: str, expected: str) -> None:
    assert family_name(name, unit)[0] == expected


def test_total_is_only_stripped_from_counters() -> None:
    assert family_name("queue_total", "", counter=False)[0] == "queue_total"


def test_colliding_attribute_keys_are_joined_in_key_order() -> None:
    assert make_labels([{"a_b": "v2", "a.b": "v1"}]) == (("a_b", "v1;v2"),)
    assert make_labels([{"n": 3, "flag": True, "list": ["x", 1]}]) == (
        ("flag", "true"),
        ("list", '["x", 1]'),
        ("n", "3"),
    )


def test_endpoint_text(make_reader: Any) -> None:
    reader, provider = make_reader(
        resource={"service.name": "shop", "team": "payments"}, resource_constant_labels=["team"]
    )
    meter = provider.get_meter("shop.orders", "1.0")
    orders = meter.create_counter("orders", description="Orders placed")
    orders.add(1, {"a.b": "v1", "a_b": "v2"})
    orders.add(2, {"region": "eu"})
    # The same instrument name in a second scope: still one family, one HELP and one TYPE line.
    provider.get_meter("shop.billing").create_counter("orders", description="Orders placed").add(4)
    meter.create_histogram("op.duration", unit="s").record(0.2)
    meter.create_histogram("op.size", unit="By").record(1000)
    meter.create_histogram("op.ms", unit="ms").record(120)
    text = scrape(reader.endpoint.url())

    for kind in ("HELP", "TYPE"):
        lines = re.findall(rf"^# {kind} (\S+)", text, flags=re.M)
        assert len(lines) == len(set(lines)), f"duplicate {kind} lines: {lines}"
    assert text.count("# TYPE orders_total counter") == 1
    assert "# HELP orders_total Orders placed" in text
    scope = 'otel_scope_name="shop.orders",otel_scope_version="1.0"'
    assert value_of(text, f'orders_total{{a_b="v1;v2",{scope},team="payments"}}') == 1
    assert value_of(text, f'orders_total{{{scope},region="eu",team="payments"}}') == 2
    assert value_of(text, 'orders_total{otel_scope_name="shop.billing",team="payments"}') == 4
    info = next(line for line in text.splitlines() if line.startswith("target_info{"))
    assert 'service_name="shop"' in info and 'team="payments"' in info

    # Unit-aware default buckets: seconds, bytes, and the SDK's own (ms) default.
    les = re.findall(r'op_duration_seconds_bucket\{le="([^"]+)"', text)
    assert les[:3] == ["0.005", "0.01", "0.025"] and les[-2:] == ["10.0", "+Inf"]
    assert value_of(text, f'op_duration_seconds_bucket{{le="0.25",{scope},team="payments"}}') == 1
    assert value_of(text, f'op_duration_seconds_bucket{{le="0.1",{scope},team="payments"}}') == 0
    assert re.findall(r'op_size_bytes_bucket\{le="([^"]+)"', text)[:2] == ["64.0", "256.0"]
    assert 'op_ms_milliseconds_bucket{le="5000.0"' in text


def test_views_and_advisories_beat_the_unit_default(make_reader: Any) -> None:
    reader, provider = make_reader(
        views=[View(instrument_name="viewed", aggregation=ExplicitBucketHistogramAggregation([1.0, 2.0]))]
    )
    meter = provider.get_meter("m")
    meter.create_histogram("viewed", unit="s").record(1.5)
    meter.create_histogram("advised", unit="s", explicit_bucket_boundaries_advisory=[0.5]).record(0.1)
    text = scrape(reader.endpoint.url())
    assert re.findall(r'viewed_seconds_bucket\{le="([^"]+)"', text) == ["1.0", "2.0", "+Inf"]
    assert re.findall(r'advised_seconds_bucket\{le="([^"]+)"', text) == ["0.5", "+Inf"]


def test_exponential_point_converts_with_exact_count_and_sum() -> None:
    point = ExponentialHistogramDataPoint(
        attributes={},
        start_time_unix_nano=0,
        time_unix_nano=1,
        count=6,
        sum=10.5,
        scale=0,
        zero_count=1,
        positive=Buckets(offset=0, bucket_counts=[2, 0, 1]),  # (1,2], (2,4], (4,8]
        negative=Buckets(offset=1, bucket_counts=[2]),  # [-4,-2)
        flags=0,
        min=-3,
        max=5,
    )
    hist = exponential_to_hist(point)
    assert hist.bounds == (-2.0, 0.0, 2.0, 4.0, 8.0)
    assert hist.counts == [2, 1, 2, 0, 1, 0]
    assert hist.count == 6 and hist.sum == 10.5


def test_exponential_view_is_served_as_classic_buckets(make_reader: Any) -> None:
    reader, provider = make_reader(
        views=[View(instrument_name="exp", aggregation=ExponentialBucketHistogramAggregation(max_size=4))]
    )
    h = provider.get_meter("m").create_histogram("exp")
    for v in (0.001, 1, 50, 1e6, 0):  # wide range: forces rescaling
        h.record(v)
    provider.get_meter("m").create_counter("after").add(1)
    text = scrape(reader.endpoint.url())
    assert value_of(text, 'exp_count{otel_scope_name="m"}') == 5
    assert value_of(text, 'exp_bucket{le="+Inf",otel_scope_name="m"}') == 5
    assert value_of(text, 'after_total{otel_scope_name="m"}') == 1  # the rest of the scrape is intact
    assert reader.stats.count("failed") == 0


def test_hist_arithmetic_on_different_bounds() -> None:
    a = Hist((1.0, 2.0), [1, 1, 0], 2.5)
    b = Hist((2.0,), [3, 1], 9.0)
    merged = a.plus(b)
    assert merged.bounds == (1.0, 2.0) and merged.count == 6 and merged.sum == 11.5
    assert merged.cumulative_at(2.0) == 5
    target: dict[str, Family] = {}
    sum_into(target, [Family("x", "counter", samples={(): 2.0}), Family("g", "gauge", origin="gauge")])
    sum_into(target, [Family("x", "counter", samples={(): 3.0})])
    assert target["x"].samples[()] == 5.0 and "g" not in target
    assert subtract([Family("x", "counter", samples={(): 9.0})], target)[0].samples[()] == 4.0


def test_cardinality_overflow_is_visible_once(port: int, caplog: pytest.LogCaptureFixture) -> None:
    bridge = otel_bridge.configure_otel(
        {
            "metrics": {"exporters": ["prometheus"], "cardinality_limit": 3},
            "exporters": {"prometheus": {"host": "127.0.0.1", "port": port}},
        }
    )
    users = bridge.meter_provider.get_meter("m").create_counter("logins")
    for i in range(10):
        users.add(1, {"user": str(i)})
    url = f"http://127.0.0.1:{port}/metrics"
    with caplog.at_level("WARNING", logger="otel_bridge.prometheus"):
        scrape(url)
        text = scrape(url)
    assert 'logins_total{otel_metric_overflow="true",otel_scope_name="m"}' in text
    warnings = [r for r in caplog.records if "cardinality limit" in r.getMessage()]
    assert len(warnings) == 1 and "'logins'" in warnings[0].getMessage()
    assert bridge.status()["exporters"]["prometheus"]["overflowed_metrics"] == ["logins"]
    # The self-metric on the same endpoint (read at collection: it shows what earlier scrapes found).
    overflowed = 'otel_bridge_metrics_overflowed{exporter="prometheus",otel_scope_name="otel_bridge",type="prometheus"}'
    assert value_of(text, overflowed) == 1


def test_exemplars_in_openmetrics_only(make_reader: Any) -> None:
    reader, provider = make_reader()
    meter = provider.get_meter("m")
    orders, latency = meter.create_counter("orders"), meter.create_histogram("lat", unit="s")
    with TracerProvider().get_tracer("t").start_as_current_span("work") as span:
        orders.add(2)
        latency.record(0.3)
        ctx = span.get_span_context()
    ids = f'span_id="{ctx.span_id:016x}",trace_id="{ctx.trace_id:032x}"'
    openmetrics = scrape(reader.endpoint.url(), {"Accept": "application/openmetrics-text; version=1.0.0"})
    assert f'orders_total{{otel_scope_name="m"}} 2.0 # {{{ids}}} 2.0' in openmetrics
    assert f'lat_seconds_bucket{{le="0.5",otel_scope_name="m"}} 1.0 # {{{ids}}} 0.3' in openmetrics
    assert " # {" not in scrape(reader.endpoint.url())  # the classic text format has no exemplars

    fam = reader.own_families()[0]
    assert Family.from_json(fam.to_json()) == fam  # snapshots (multi-process) keep them


def test_an_untranslatable_metric_is_skipped_and_reported() -> None:
    def counter(name: str, value: Any) -> Metric:
        point = NumberDataPoint(attributes={}, start_time_unix_nano=0, time_unix_nano=1, value=value)
        return Metric(name, "", "", Sum([point], AggregationTemporality.CUMULATIVE, is_monotonic=True))

    data = MetricsData(
        [
            ResourceMetrics(
                Resource.create({}),
                [ScopeMetrics(InstrumentationScope("s"), [counter("bad", "not a number"), counter("good", 2)], "")],
                "",
            )
        ]
    )
    report = TranslateReport()
    families = translate(data, TranslateOptions(), report)
    assert [f.name for f in families] == ["good"]
    assert report.failed == {"bad"}


def test_target_info_and_scope_labels_can_be_switched_off(make_reader: Any) -> None:
    reader, provider = make_reader(target_info=False, scope_labels=False, prefix="shop")
    provider.get_meter("m", "2.0").create_counter("orders").add(1)
    text = scrape(reader.endpoint.url())
    assert "target_info" not in text and "otel_scope" not in text
    assert value_of(text, "shop_orders_total") == 1
