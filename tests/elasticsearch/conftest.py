"""Fixtures for the Elasticsearch exporter tests: the loopback ES 9 stand-in and record factories."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor
from opentelemetry.sdk.resources import Resource

from otel_bridge._internal.stats import ExporterStats
from otel_bridge.exporters.elasticsearch.exporter import ElasticsearchLogProcessor
from otel_bridge.exporters.elasticsearch.options import ElasticsearchOptions
from otel_bridge.exporters.elasticsearch.pipeline import Pipeline
from tests.servers.es_standin import ESStandIn

FIXTURES = Path(__file__).resolve().parents[1] / "../../shared/fixtures/elasticsearch"
GOLDEN = Path(__file__).resolve().parent / "golden"
RESOURCE = Resource({"service.name": "shop", "service.version": "2.3.1", "deployment.environment.name": "test"})


@pytest.fixture
def es() -> Iterator[ESStandIn]:
    """A running stand-in, stopped afterwards."""
    server = ESStandIn().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def dead_port() -> int:
    """A loopback port nobody listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fast_options(url: str, **overrides: Any) -> ElasticsearchOptions:
    """Options with tiny backoffs so retry tests run in milliseconds."""
    raw: dict[str, Any] = {
        "hosts": [url],
        "index": "logs-shop-default",
        "retry": {"initial_backoff": 0.005, "max_backoff": 0.05, "max_elapsed": 10},
        "request_timeout": 2,
        "batch": {"max_export_batch_size": 50, "schedule_delay_ms": 20},
    }
    raw.update(overrides)
    return ElasticsearchOptions.model_validate(raw)


class Harness:
    """A LoggerProvider wired to one Elasticsearch processor, with a counter-stamped emit()."""

    def __init__(self, options: ElasticsearchOptions, name: str = "es") -> None:
        self.stats = ExporterStats(name, "elasticsearch")
        self.pipeline = Pipeline(options, self.stats, name)
        self.processor: LogRecordProcessor = ElasticsearchLogProcessor(
            self.pipeline, options.batch, options.shutdown_timeout
        )
        self.provider = LoggerProvider(resource=RESOURCE, shutdown_on_exit=False)
        self.provider.add_log_record_processor(self.processor)
        self.logger = self.provider.get_logger("shop.orders")
        self.emitted = 0

    def emit(self, n: int, **attributes: Any) -> None:
        for _ in range(n):
            self.emitted += 1
            self.logger.emit(
                LogRecord(
                    timestamp=1_700_000_000_000_000_000 + self.emitted,
                    body=f"order {self.emitted}",
                    severity_text="INFO",
                    severity_number=SeverityNumber.INFO,
                    attributes={"seq": self.emitted, **attributes},
                )
            )

    def close(self) -> None:
        self.provider.shutdown()


@pytest.fixture
def harness() -> Iterator[Any]:
    """``harness(options)`` builds a :class:`Harness`; all are shut down afterwards."""
    made: list[Harness] = []

    def make(options: ElasticsearchOptions, name: str = "es") -> Harness:
        h = Harness(options, name)
        made.append(h)
        return h

    try:
        yield make
    finally:
        for h in made:
            h.close()


@pytest.fixture(autouse=True)
def _quiet_bridge_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="otel_bridge")
