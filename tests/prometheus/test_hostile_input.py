"""Whatever the app records, the scrape answers 200 with every other metric intact and no duplicate
HELP/TYPE line; units follow the OTel spec."""

from __future__ import annotations

import re
import urllib.request
from typing import Any

import pytest
from opentelemetry.metrics import Observation

from otel_bridge.exporters.prometheus.translate import family_name
from tests.prometheus.conftest import value_of

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def _get(url: str, accept: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=5) as resp:
        return int(resp.status), resp.read().decode()


def _no_duplicate_metadata(text: str) -> None:
    for kind in ("HELP", "TYPE", "UNIT"):
        names = re.findall(rf"^# {kind} (\S+)", text, flags=re.M)
        assert len(names) == len(set(names)), f"duplicate {kind} lines: {sorted(names)}"


def test_strings_that_are_not_utf8_encodable_never_fail_the_scrape(make_reader: Any) -> None:
    # A lone surrogate (e.g. from os.fsdecode of a bad file name) passes the SDK's attribute checks.
    reader, provider = make_reader(resource={"service.name": "svc", "host.path": "/tmp/\udcff"})
    meter = provider.get_meter("m")
    meter.create_counter("odd", description="bad \ud800 help").add(1, {"path": "x\udcffy"})
    meter.create_counter("fine").add(3)
    for accept in (None, OPENMETRICS):
        status, text = _get(reader.endpoint.url(), accept)
        assert status == 200
        assert value_of(text, 'fine_total{otel_scope_name="m"}') == 3
        assert value_of(text, 'odd_total{otel_scope_name="m",path="x?y"}') == 1
        assert 'host_path="/tmp/?"' in text


def test_names_that_collide_after_suffixes_keep_the_first_and_warn(
    make_reader: Any, caplog: pytest.LogCaptureFixture
) -> None:
    reader, provider = make_reader()
    meter = provider.get_meter("m")
    meter.create_counter("jobs").add(1)  # jobs_total
    meter.create_gauge("jobs_total").set(7)  # would be a second `jobs_total`, of another type
    meter.create_histogram("lat").record(1)  # lat_bucket / lat_count / lat_sum
    meter.create_up_down_counter("lat_count").add(5)
    meter.create_gauge("target_info").set(1)  # taken by the resource
    meter.create_counter("after").add(2)
    with caplog.at_level("WARNING", logger="otel_bridge.prometheus"):
        for accept in (None, OPENMETRICS):
            status, text = _get(reader.endpoint.url(), accept)
            assert status == 200
            _no_duplicate_metadata(text)
            assert value_of(text, 'jobs_total{otel_scope_name="m"}') == 1
            assert value_of(text, 'lat_count{otel_scope_name="m"}') == 1
            assert 'jobs_total{otel_scope_name="m"} 7' not in text
            assert value_of(text, 'after_total{otel_scope_name="m"}') == 2
            assert len(re.findall(r"^target_info\{", text, flags=re.M)) == 1
    warned = sorted(r.getMessage() for r in caplog.records if "different types" in r.getMessage())
    assert len(warned) == 3, warned  # once per metric, not once per scrape
    assert any("'jobs_total'" in w for w in warned) and any("'lat_count'" in w for w in warned)


@pytest.mark.parametrize(
    ("name", "unit", "kind", "expected"),
    [
        ("cpu.utilization", "1", "gauge", "cpu_utilization_ratio"),  # spec: "1" → ratio (gauges)
        ("cache.hit_ratio", "1", "gauge", "cache_hit_ratio"),  # unit already in the name
        ("retries", "1", "counter", "retries"),  # counters: unitless, `_total` added when rendered
        ("queue.depth", "1", "updown", "queue_depth"),
        ("http.server.active_requests", "{request}", "updown", "http_server_active_requests"),
        ("rx", "By", "counter", "rx_bytes"),
        ("db.duration", "ms", "histogram", "db_duration_milliseconds"),
        ("uptime", "s", "gauge", "uptime_seconds"),
    ],
)
def test_unit_suffixes_follow_the_spec(name: str, unit: str, kind: str, expected: str) -> None:
    assert family_name(name, unit, counter=kind == "counter", gauge=kind == "gauge")[0] == expected


def test_ratio_gauge_on_the_endpoint(make_reader: Any) -> None:
    reader, provider = make_reader()
    meter = provider.get_meter("m")
    meter.create_observable_gauge("cpu.utilization", [lambda _o: [Observation(0.25)]], unit="1")
    meter.create_counter("retries", unit="1").add(2)
    _status, text = _get(reader.endpoint.url(), OPENMETRICS)
    assert value_of(text, 'cpu_utilization_ratio{otel_scope_name="m"}') == 0.25
    assert "# UNIT cpu_utilization_ratio ratio" in text
    assert value_of(text, 'retries_total{otel_scope_name="m"}') == 2


def test_a_histogram_attribute_named_le_skips_that_histogram_only(
    make_reader: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """``le`` is the bucket label: two series that differ only by an ``le`` attribute would collapse into
    duplicate bucket series. That histogram is left out with a warning; the rest is served."""
    reader, provider = make_reader()
    meter = provider.get_meter("m")
    weird = meter.create_histogram("weird")
    weird.record(1, {"le": "a"})
    weird.record(1, {"le": "b"})
    meter.create_counter("jobs").add(1, {"le": "fine on a counter"})
    with caplog.at_level("WARNING", logger="otel_bridge.prometheus"):
        _status, text = _get(reader.endpoint.url())
    assert "weird_" not in text
    assert value_of(text, 'jobs_total{le="fine on a counter",otel_scope_name="m"}') == 1
    assert any("'weird'" in r.getMessage() for r in caplog.records)
