"""A real Prometheus server scrapes the bridge's endpoint; checked through its query API."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View

import otel_bridge


def _value(result: list[dict[str, Any]]) -> float:
    assert len(result) == 1, result
    return float(result[0]["value"][1])


def test_configure_otel_yaml_scraped_by_real_prometheus(prometheus: Any, port: int) -> None:
    bridge = otel_bridge.configure_otel(
        {
            "service": {"name": "shop", "version": "2.3.1"},
            "metrics": {
                "exporters": ["prometheus"],
                "views": [
                    {
                        "instrument_name": "order.size",
                        "aggregation": {"type": "explicit_bucket_histogram", "boundaries": [1, 5, 10]},
                    }
                ],
            },
            "exporters": {"prometheus": {"host": "127.0.0.1", "port": port}},
        }
    )
    meter = bridge.meter_provider.get_meter("shop.orders", "1.0")
    orders = meter.create_counter("orders", description="Orders placed")
    with bridge.tracer_provider.get_tracer("t").start_as_current_span("checkout") as span:
        orders.add(5, {"status": "ok"})  # recorded inside a sampled span: carries an exemplar
        trace_id = format(span.get_span_context().trace_id, "032x")
    orders.add(2, {"status": "failed"})
    latency = meter.create_histogram("order.latency", unit="s")
    for seconds in (0.003, 0.02, 0.02, 0.3, 4.0):
        latency.record(seconds)
    size = meter.create_histogram("order.size", unit="{item}")
    for n in (1, 3, 7, 30):
        size.record(n)
    active = meter.create_up_down_counter("orders.active")
    active.add(4)
    active.add(-1)

    with prometheus([f"127.0.0.1:{port}"]) as prom:
        # The bridge's own metrics (registered by configure_otel) reach the same endpoint.
        own = prom.wait_for('otel_bridge_exporter_sent_total{exporter="prometheus"}', lambda r: len(r) == 1)
        assert float(own[0]["value"][1]) >= 0

        ok = prom.wait_for('orders_total{status="ok"}')
        assert _value(ok) == 5
        assert ok[0]["metric"]["otel_scope_name"] == "shop.orders"
        assert _value(prom.query("sum(orders_total)")) == 7

        # unit s → _seconds with second-sized default buckets.
        assert _value(prom.query("order_latency_seconds_count")) == 5
        assert abs(_value(prom.query("order_latency_seconds_sum")) - 4.343) < 1e-9
        assert _value(prom.query('order_latency_seconds_bucket{le="0.005"}')) == 1
        assert _value(prom.query('order_latency_seconds_bucket{le="0.025"}')) == 3
        assert _value(prom.query('order_latency_seconds_bucket{le="0.5"}')) == 4
        assert _value(prom.query('order_latency_seconds_bucket{le="+Inf"}')) == 5
        # Buckets from the YAML view; "{item}" is an annotation and adds no suffix.
        buckets = {r["metric"]["le"]: float(r["value"][1]) for r in prom.query("order_size_bucket")}
        assert buckets == {"1.0": 1, "5.0": 2, "10.0": 3, "+Inf": 4}

        # An up-down counter is a gauge.
        assert _value(prom.query("orders_active")) == 3
        meta = prom._get("/api/v1/metadata", metric="orders_active")["data"]["orders_active"]
        assert meta[0]["type"] == "gauge"

        info = prom.query("target_info")
        assert len(info) == 1
        assert info[0]["metric"]["service_name"] == "shop"
        assert info[0]["metric"]["service_version"] == "2.3.1"

        # Exemplars (OpenMetrics) link the counter to the trace that produced it.
        exemplars = prom.exemplars('orders_total{status="ok"}')
        assert exemplars, "no exemplar stored"
        assert exemplars[0]["exemplars"][-1]["labels"]["trace_id"] == trace_id

        # Scrapes are counted as "sent" in status() and in the self-metric.
        prom.wait_for('otel_bridge_exporter_sent_total{exporter="prometheus"} >= 2', timeout_s=10)
        status = bridge.status()["exporters"]["prometheus"]
        assert status["sent"] >= 2
        assert status["failed"] == 0
        assert status["endpoint"] == f"http://127.0.0.1:{port}/metrics"
        assert all(t["health"] == "up" for t in prom.targets())


def test_exponential_histogram_arriving_at_runtime_never_breaks_the_scrape(prometheus: Any, make_reader: Any) -> None:
    # Views built in code bypass the config-time check; the reader must still serve the whole scrape.
    reader, provider = make_reader(
        views=[View(instrument_name="payload", aggregation=ExponentialBucketHistogramAggregation())]
    )
    meter = provider.get_meter("m")
    payload = meter.create_histogram("payload", unit="By")
    for n in (100, 200, 400, 0):
        payload.record(n)
    meter.create_counter("jobs").add(3)
    with prometheus([f"127.0.0.1:{reader.endpoint.server.port}"]) as prom:
        assert _value(prom.wait_for("jobs_total")) == 3
        assert _value(prom.wait_for("payload_bytes_count")) == 4
        assert _value(prom.query("payload_bytes_sum")) == 700
        assert _value(prom.query('payload_bytes_bucket{le="0.0"}')) == 1  # the zero bucket
        assert _value(prom.query('payload_bytes_bucket{le="+Inf"}')) == 4
        assert all(t["health"] == "up" for t in prom.targets())
    assert reader.stats.count("failed") == 0
