"""Fixtures for the Prometheus exporter tests: the real server, scraping helpers, meter providers."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource

from otel_bridge.exporters.prometheus.factory import build_reader
from otel_bridge.exporters.prometheus.options import PrometheusOptions
from otel_bridge.exporters.prometheus.reader import PrometheusReader
from tests.servers.prometheus_server import PrometheusServer, find_binary, free_port, run_prometheus


@pytest.fixture
def prometheus() -> Callable[..., AbstractContextManager[PrometheusServer]]:
    """``with prometheus(["127.0.0.1:PORT"]) as prom:`` runs the real server; skips if it is absent."""
    if find_binary() is None:
        pytest.skip("the prometheus server binary is not installed (apt-get install prometheus)")
    return run_prometheus


@pytest.fixture
def port() -> int:
    return free_port()


def scrape(url: str, headers: dict[str, str] | None = None) -> str:
    """GET the endpoint and return its text (raises on HTTP errors)."""
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=5) as resp:
        return resp.read().decode()


def value_of(text: str, series: str) -> float | None:
    """The value of the exposition line starting with ``series`` (exact name+labels), or None."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


@pytest.fixture
def make_reader() -> Iterator[Callable[..., tuple[PrometheusReader, MeterProvider]]]:
    """Builds readers on 127.0.0.1:0 under a MeterProvider; shuts every one down afterwards."""
    made: list[MeterProvider] = []

    def make(views: Any = (), resource: dict[str, Any] | None = None, **options: Any) -> Any:
        options.setdefault("host", "127.0.0.1")
        options.setdefault("port", 0)
        options.setdefault("multiprocess", False)
        reader = build_reader(PrometheusOptions(**options))
        provider = MeterProvider(
            metric_readers=[reader],
            resource=Resource.create(resource or {"service.name": "prom-test"}),
            views=list(views),
            shutdown_on_exit=False,
        )
        made.append(provider)
        return reader, provider

    yield make
    for provider in made:
        provider.shutdown(timeout_millis=5000)
