"""Step two of three: a validated configuration → resource, sampler, views and the three providers.

Pure in the sense that matters: it builds and returns objects and touches no global state (the
exporters it builds may open sockets or files; nothing is installed anywhere until ``install``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor
from opentelemetry.sdk._logs.export import LogRecordExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import (
    OsResourceDetector,
    ProcessResourceDetector,
    Resource,
    ResourceDetector,
    _HostResourceDetector,
    get_aggregated_resources,
)
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter

from otel_bridge._internal.batching import (
    CountedLogExporter,
    CountedSpanExporter,
    CountingBatchLogProcessor,
    CountingBatchSpanProcessor,
)
from otel_bridge._internal.redact import redact_text
from otel_bridge._internal.self_metrics import register_self_metrics
from otel_bridge._internal.stats import StatsRegistry
from otel_bridge.bridge import run_bounded
from otel_bridge.config.errors import ConfigError, Problem
from otel_bridge.config.models import BridgeConfig, SamplerConfig
from otel_bridge.config.views import build_views, cardinality_limits
from otel_bridge.exporters import registry
from otel_bridge.exporters.base import BuildContext, Signal

_DETECTORS: dict[str, Callable[[], ResourceDetector]] = {
    "host": _HostResourceDetector,
    "os": OsResourceDetector,
    "process": ProcessResourceDetector,
}


def build_resource(config: BridgeConfig) -> Resource:
    """Resource precedence, lowest first: SDK defaults, ``OTEL_RESOURCE_ATTRIBUTES``,
    ``OTEL_SERVICE_NAME``, the detectors, ``resource.attributes``, then ``service.*``."""
    attributes: dict[str, Any] = dict(config.resource.attributes)
    service = config.service
    for key, value in (
        ("service.name", service.name),
        ("service.version", service.version),
        ("service.namespace", service.namespace),
        ("service.instance.id", service.instance_id),
        ("deployment.environment.name", service.environment),
    ):
        if value:
            attributes[key] = value
    detectors = [_DETECTORS[name]() for name in config.resource.detectors]
    detected = get_aggregated_resources(detectors, Resource.get_empty(), timeout=2) if detectors else None
    base = Resource.create({})  # SDK defaults + the OTEL_* environment variables
    explicit = Resource(attributes)
    return base.merge(detected).merge(explicit) if detected is not None else base.merge(explicit)


def build_sampler(sampler: SamplerConfig) -> Any:
    """``traces.sampler`` → an SDK sampler."""
    from opentelemetry.sdk.trace import sampling

    kind = sampler.type
    root: Any
    base = kind.removeprefix("parentbased_")
    if base == "always_on":
        root = sampling.ALWAYS_ON
    elif base == "always_off":
        root = sampling.ALWAYS_OFF
    else:
        root = sampling.TraceIdRatioBased(sampler.ratio)
    return sampling.ParentBased(root) if kind.startswith("parentbased_") else root


@dataclass
class Built:
    """The result of :func:`build`: providers not yet installed, and what ``Bridge`` needs to run."""

    tracer_provider: TracerProvider
    logger_provider: LoggerProvider
    meter_provider: MeterProvider
    stats: StatsRegistry
    log_level: int
    starters: list[Callable[[], None]] = field(default_factory=list)


def _component(ctx: BuildContext) -> Any:
    spec = registry.get(ctx.stats.type)
    assert spec is not None  # validation resolved every used entry
    try:
        made = spec.build(ctx)
        # A plain SDK exporter counts nothing itself: count its results for status().
        if isinstance(made, SpanExporter) and not spec.counts_itself:
            made = CountedSpanExporter(made, ctx.stats)
        elif isinstance(made, LogRecordExporter) and not spec.counts_itself:
            made = CountedLogExporter(made, ctx.stats)
        return made
    except Exception as exc:
        # e.g. an unreadable CA file: a configuration problem, reported like the others, secret-free.
        message = redact_text(f"cannot start ({type(exc).__name__}: {exc})")
        raise ConfigError([Problem(f"exporters.{ctx.name}", message)]) from None


def _expect(made: Any, kind: type, ctx: BuildContext) -> Any:
    if not isinstance(made, kind):
        problem = f"type '{ctx.stats.type}' built a {type(made).__name__} for {ctx.signal}, not a {kind.__name__}"
        raise ConfigError([Problem(f"exporters.{ctx.name}", problem)])
    return made


def build(config: BridgeConfig, config_dir: Path | None = None) -> Built:
    """Builds the three providers of ``config``; exporters shared across signals share one stats entry."""
    resource = build_resource(config)
    stats = StatsRegistry()
    shared: dict[Any, Any] = {}
    starters: list[Callable[[], None]] = []
    started: set[str] = set()

    def context(name: str, signal: Signal) -> BuildContext:
        type_name, options = config.resolved[name]
        spec = registry.get(type_name)
        assert spec is not None
        ctx = BuildContext(
            name=name,
            signal=signal,
            options=options,
            resource=resource,
            stats=stats.get(name, type_name, spec.describe(options)),
            shared=shared,
            config_dir=config_dir,
            cardinality_limit=config.metrics.cardinality_limit,
        )
        if spec.on_start is not None and name not in started:
            started.add(name)
            starters.append(functools.partial(spec.on_start, ctx))
        return ctx

    tracer_provider = TracerProvider(
        resource=resource, sampler=build_sampler(config.traces.sampler), shutdown_on_exit=False
    )
    logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
    readers: list[MetricReader] = []
    try:
        for name in config.traces.exporters:
            ctx = context(name, "traces")
            made = _component(ctx)
            if isinstance(made, SpanExporter):
                made = CountingBatchSpanProcessor(made, ctx.options.batch, ctx.stats)
            tracer_provider.add_span_processor(_expect(made, SpanProcessor, ctx))
        for name in config.logs.exporters:
            ctx = context(name, "logs")
            made = _component(ctx)
            if isinstance(made, LogRecordExporter):
                made = CountingBatchLogProcessor(made, ctx.options.batch, ctx.stats)
            logger_provider.add_log_record_processor(_expect(made, LogRecordProcessor, ctx))
        for name in config.metrics.exporters:
            ctx = context(name, "metrics")
            made = _component(ctx)
            if isinstance(made, MetricExporter):
                made = PeriodicExportingMetricReader(
                    made,
                    export_interval_millis=getattr(ctx.options, "interval_ms", 60000),
                    cardinality_limits=cardinality_limits(config.metrics.cardinality_limit),
                )
            readers.append(_expect(made, MetricReader, ctx))
    except BaseException:
        # Exporters built before the failing one may run threads or hold ports: stop them, bounded.
        def stop() -> None:
            tracer_provider.shutdown()
            logger_provider.shutdown()
            for reader in readers:
                reader.shutdown(timeout_millis=1000)

        run_bounded("abandon", stop, 5.0)
        raise
    meter_provider = MeterProvider(
        metric_readers=readers,
        resource=resource,
        views=build_views(config.metrics.views, config.metrics.cardinality_limit),
        shutdown_on_exit=False,
    )
    if config.metrics.self_metrics and readers:
        register_self_metrics(meter_provider, stats)
    return Built(
        tracer_provider=tracer_provider,
        logger_provider=logger_provider,
        meter_provider=meter_provider,
        stats=stats,
        log_level=logging.getLevelName(config.logs.level),
        starters=starters,
    )
