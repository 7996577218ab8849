"""Fixtures for the Sentry exporter: a loopback receiver whose every event must pass Relay, and a
small bridge (tracer provider + logger) wired to the exporter through its spec, as the lead's
``configure_otel`` does."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from otel_bridge._internal.handler import BridgeLoggingHandler
from otel_bridge._internal.stats import ExporterStats
from otel_bridge.exporters.base import BuildContext
from otel_bridge.exporters.sentry import SPEC
from otel_bridge.exporters.sentry.exporter import SentryLogProcessor, SentrySpanExporter, SentrySpanProcessor
from tests.sentry.helpers import assert_relay_accepts
from tests.servers.sentry_receiver import SentryReceiver, running_receiver

RESOURCE = Resource.create(
    {
        "service.name": "shop",
        "service.version": "2.3.1",
        "deployment.environment.name": "production",
        "host.name": "web-1",
    }
)


@pytest.fixture
def receiver() -> Iterator[SentryReceiver]:
    """A running receiver; on teardown every event and transaction it got must pass Relay."""
    with running_receiver() as server:
        yield server
        for kind in ("event", "transaction"):
            for payload in server.payloads(kind):
                assert_relay_accepts(payload)


@dataclass
class MiniBridge:
    """Providers wired to one ``sentry`` exporter entry, plus the exporter's stats."""

    tracer_provider: TracerProvider
    logger_provider: LoggerProvider
    span_exporter: SentrySpanExporter
    log_processor: SentryLogProcessor
    stats: ExporterStats
    logger: logging.Logger

    def flush(self) -> None:
        """Exports everything queued and waits for the transport."""
        assert self.tracer_provider.force_flush(5000)
        assert self.logger_provider.force_flush(5000)

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.logger_provider.shutdown()


@pytest.fixture
def make_bridge() -> Iterator[Callable[..., MiniBridge]]:
    """``make_bridge(options_dict)`` → a :class:`MiniBridge`; all are shut down afterwards."""
    made: list[MiniBridge] = []
    handlers: list[tuple[logging.Logger, logging.Handler]] = []

    def make(options: dict[str, Any], name: str = "sentry", logger_name: str = "shop.orders") -> MiniBridge:
        opts = SPEC.options.model_validate(options)
        stats = ExporterStats(name, SPEC.type)
        shared: dict[Any, Any] = {}

        def ctx(signal: Any) -> BuildContext:
            return BuildContext(name=name, signal=signal, options=opts, resource=RESOURCE, stats=stats, shared=shared)

        span_processor = SPEC.build(ctx("traces"))
        assert isinstance(span_processor, SentrySpanProcessor)
        span_exporter = span_processor.exporter
        log_processor = SPEC.build(ctx("logs"))
        tracer_provider = TracerProvider(resource=RESOURCE)
        tracer_provider.add_span_processor(span_processor)
        logger_provider = LoggerProvider(resource=RESOURCE)
        logger_provider.add_log_record_processor(log_processor)
        logger = logging.getLogger(logger_name)
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        handler = BridgeLoggingHandler(logger_provider=logger_provider)
        logger.addHandler(handler)
        handlers.append((logger, handler))
        bridge = MiniBridge(tracer_provider, logger_provider, span_exporter, log_processor, stats, logger)
        made.append(bridge)
        return bridge

    try:
        yield make
    finally:
        for logger, handler in handlers:
            logger.removeHandler(handler)
        for bridge in made:
            bridge.shutdown()
