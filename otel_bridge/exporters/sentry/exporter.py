"""The SDK-facing components: span exporter, log exporter and the log processor in front of it.

``SentrySpanExporter()`` and ``SentryLogExporter()`` also work with no arguments (reading
``SENTRY_DSN``, ``SENTRY_ENVIRONMENT``, ``SENTRY_RELEASE``) for ``OTEL_TRACES_EXPORTER=sentry`` /
``OTEL_LOGS_EXPORTER=sentry``; two such instances with one DSN share one transport.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk._logs import LogRecordProcessor, ReadableLogRecord, ReadWriteLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_bridge._internal import guard
from otel_bridge._internal.batching import CountingBatchLogProcessor, CountingBatchSpanProcessor
from otel_bridge._internal.redact import redact_text
from otel_bridge._internal.stats import ExporterStats
from otel_bridge.exporters.sentry.assemble import BreadcrumbStore
from otel_bridge.exporters.sentry.convert import Settings
from otel_bridge.exporters.sentry.options import EnvelopeFileOptions, SentryOptions
from otel_bridge.exporters.sentry.pipeline import Pipeline, SharedState, shared_state

logger = logging.getLogger("otel_bridge.sentry")

# Shared state of exporters made without a configuration (entry points), by DSN.
_STANDALONE: dict[Any, Any] = {}


def _sdk_version() -> str:
    try:
        return version("otel-bridge")
    except PackageNotFoundError:
        return "0.0.0"


def build_pipeline(
    options: SentryOptions | EnvelopeFileOptions,
    stats: ExporterStats,
    shared: dict[Any, Any],
    config_dir: Path | None = None,
    name: str | None = None,
) -> Pipeline:
    """The pipeline of exporter ``name`` (one for its span and log sides), on the sink shared by every
    exporter with the same target. Each call registers one more user of that sink."""
    if name is not None:
        existing = shared.get(("sentry-pipeline", name))
        if isinstance(existing, Pipeline):
            existing.state.acquire()
            return existing
    if isinstance(options, SentryOptions):
        dsn = options.dsn.get_secret_value()

        def make() -> SharedState:
            from otel_bridge.exporters.sentry.client import SentryHttpSink

            sink = SentryHttpSink(dsn, options)
            return SharedState(sink, BreadcrumbStore(options.max_breadcrumbs), public_key=sink.public_key)

        state = shared_state(shared, ("sentry", dsn), make)
    else:
        from otel_bridge.exporters.sentry.envelope_file import EnvelopeFileSink, public_key_of

        directory = Path(options.directory)
        if not directory.is_absolute() and config_dir is not None:
            directory = config_dir / directory
        file_options = options

        def make_file() -> SharedState:
            return SharedState(
                EnvelopeFileSink(directory, file_options.max_files),
                BreadcrumbStore(file_options.max_breadcrumbs),
                public_key=public_key_of(file_options),
            )

        state = shared_state(shared, ("envelope_file", str(directory.resolve())), make_file)
    pipeline = Pipeline(options, state, stats, Settings.from_options(options, _sdk_version()))
    if name is not None:
        shared[("sentry-pipeline", name)] = pipeline
    return pipeline


def _standalone_pipeline() -> Pipeline | None:
    # Behind the SDK's own logging handler nothing filters our transport's log records: drop them at
    # their loggers when they come from our threads.
    guard.quiet_client_loggers()
    dsn = os.environ.get("SENTRY_DSN", "").strip()
    if not dsn:
        logger.warning("SENTRY_DSN is not set: the sentry exporter sends nothing")
        return None
    try:
        options = SentryOptions(
            dsn=dsn,  # type: ignore[arg-type]
            environment=os.environ.get("SENTRY_ENVIRONMENT") or None,
            release=os.environ.get("SENTRY_RELEASE") or None,
        )
        return build_pipeline(options, ExporterStats("sentry", "sentry"), _STANDALONE)
    except Exception as exc:  # an app must start even with a bad SENTRY_* setting
        logger.warning("the sentry exporter sends nothing: %s", redact_text(str(exc)))
        return None


class _Lifecycle:
    """Shutdown-once bookkeeping shared by both exporters."""

    def __init__(self, pipeline: Pipeline | None, shutdown_timeout_s: float, standalone: bool = False) -> None:
        self.pipeline = pipeline
        self._timeout_s = shutdown_timeout_s
        self._lock = threading.Lock()
        self.closed = False
        # Behind the SDK's own batch processor (entry points), whose force_flush never reaches the
        # exporter: each export waits (bounded) for its envelopes, as the OTLP exporters do.
        self.standalone = standalone

    def delivered(self) -> None:
        """In standalone mode, waits up to the shutdown bound for the envelopes just queued."""
        if self.standalone and self.pipeline is not None:
            self.pipeline.state.sink.flush(self._timeout_s)

    def flush(self, timeout_millis: float) -> bool:
        if self.pipeline is None or self.closed:
            return True
        try:
            with guard.suppressed():
                self.pipeline.sweep()
                return self.pipeline.state.sink.flush(timeout_millis / 1000)
        except Exception:
            logger.exception("sentry flush failed")
            return False

    def close(self, drain: bool, timeout_millis: float | None = None) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
        pipeline = self.pipeline
        if pipeline is None:
            return
        try:
            with guard.suppressed():
                if drain:
                    pipeline.drain()
                bound = self._timeout_s if timeout_millis is None else min(self._timeout_s, timeout_millis / 1000)
                pipeline.state.release(max(bound, 0.0))
        except Exception:
            logger.exception("sentry shutdown failed")


class SentrySpanExporter(SpanExporter):
    """Spans → Sentry transactions; ``exception`` span events → error events."""

    def __init__(self, pipeline: Pipeline | None = None, shutdown_timeout_s: float = 5.0) -> None:
        standalone = pipeline is None
        pipeline = _standalone_pipeline() if standalone else pipeline
        self._life = _Lifecycle(pipeline, shutdown_timeout_s, standalone)

    @property
    def pipeline(self) -> Pipeline | None:
        """The pipeline behind this exporter (None when unconfigured)."""
        return self._life.pipeline

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Groups and converts ``spans``; never raises."""
        pipeline = self._life.pipeline
        if self._life.closed:
            return SpanExportResult.FAILURE
        if pipeline is None:
            return SpanExportResult.SUCCESS
        started = time.monotonic()
        try:
            with guard.suppressed():
                pipeline.export_spans(spans)
                self._life.delivered()
        except Exception:
            logger.exception("sentry span export failed")
            pipeline.stats.add("failed", len(spans))
            return SpanExportResult.FAILURE
        finally:
            pipeline.stats.observe_latency(time.monotonic() - started)
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Releases timed-out orphans and waits for the transport."""
        return self._life.flush(timeout_millis)

    def shutdown(self, timeout_millis: float | None = None) -> None:
        """Sends held spans, flushes within the bound (and within ``timeout_millis``, which the SDK's
        batch processor passes as what is left of its own), stops; idempotent."""
        self._life.close(drain=True, timeout_millis=timeout_millis)


class SentryLogExporter(LogRecordExporter):
    """Log records at or above ``min_log_level`` → error events (and Sentry logs when enabled)."""

    def __init__(self, pipeline: Pipeline | None = None, shutdown_timeout_s: float = 5.0) -> None:
        standalone = pipeline is None
        pipeline = _standalone_pipeline() if standalone else pipeline
        self._life = _Lifecycle(pipeline, shutdown_timeout_s, standalone)
        # Set by SentryLogProcessor, which records breadcrumbs at emit time instead.
        self.crumbs_at_emit = False

    @property
    def pipeline(self) -> Pipeline | None:
        """The pipeline behind this exporter (None when unconfigured)."""
        return self._life.pipeline

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        """Converts ``batch``; never raises."""
        pipeline = self._life.pipeline
        if self._life.closed:
            return LogRecordExportResult.FAILURE
        if pipeline is None:
            return LogRecordExportResult.SUCCESS
        started = time.monotonic()
        try:
            with guard.suppressed():
                pipeline.export_logs(batch, add_crumbs=not self.crumbs_at_emit)
                self._life.delivered()
        except Exception:
            logger.exception("sentry log export failed")
            pipeline.stats.add("failed", len(batch))
            return LogRecordExportResult.FAILURE
        finally:
            pipeline.stats.observe_latency(time.monotonic() - started)
        return LogRecordExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Waits for the transport."""
        return self._life.flush(timeout_millis)

    def shutdown(self, timeout_millis: float | None = None) -> None:
        """Flushes within the bound (and ``timeout_millis``) and stops; idempotent."""
        self._life.close(drain=False, timeout_millis=timeout_millis)


class SentrySpanProcessor(SpanProcessor):
    """The counting batch processor in front of :class:`SentrySpanExporter`, whose ``force_flush``
    also releases timed-out orphans and waits for the transport."""

    def __init__(self, exporter: SentrySpanExporter, batch_options: Any, stats: ExporterStats) -> None:
        self.exporter = exporter
        self._batch = CountingBatchSpanProcessor(exporter, batch_options, stats)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Nothing to do when a span starts."""

    def on_end(self, span: ReadableSpan) -> None:
        """Queues the ended span; never raises."""
        self._batch.on_end(span)

    def shutdown(self) -> None:
        """Exports what is queued, sends held spans, stops; idempotent."""
        self._batch.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Exports what is queued, then waits for the transport."""
        queued = self._batch.force_flush(timeout_millis)
        return self.exporter.force_flush(timeout_millis) and queued


class SentryLogProcessor(LogRecordProcessor):
    """Keeps breadcrumbs at emit time and queues only records the exporter will send.

    Records below the error floor (and below the Sentry-logs level) never enter the queue, so INFO
    traffic costs one breadcrumb append, not a queue slot.
    """

    def __init__(self, exporter: SentryLogExporter, batch_options: Any, stats: ExporterStats) -> None:
        pipeline = exporter.pipeline
        self._pipeline = pipeline
        exporter.crumbs_at_emit = True
        self._exporter = exporter
        floor = pipeline.queue_floor if pipeline is not None else None
        self._batch = CountingBatchLogProcessor(exporter, batch_options, stats, min_severity=floor)

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        """Breadcrumb for its trace, then the batch queue if severe enough; never raises."""
        try:
            if self._pipeline is not None:
                self._pipeline.add_breadcrumb(log_record)  # type: ignore[arg-type]
            self._batch.on_emit(log_record)
        except Exception:
            logger.exception("sentry log processor failed")

    def shutdown(self) -> None:
        """Flushes the queue and shuts the exporter down; idempotent."""
        self._batch.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Exports what is queued and waits for the transport (the SDK's batch flush does not)."""
        queued = self._batch.force_flush(timeout_millis)
        return self._exporter.force_flush(timeout_millis) and queued
