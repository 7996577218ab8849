"""The SDK's batch processors, with their queue and drops reported into :class:`ExporterStats`.

The SDK's processors already do what the hot path needs (a bounded deque, a worker thread, exports
under suppress-instrumentation). What they lack is per-exporter accounting: their drop counter goes
to an internal metric that is off by default. We hand them a metrics sink that writes to our stats.
This touches one private attribute of the 1.45 SDK, which is why the SDK is pinned to that line;
``tests/test_batching.py`` fails if the hook stops counting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk._logs import ReadWriteLogRecord
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from otel_bridge._internal.stats import ExporterStats
from otel_bridge.exporters.base import BatchOptions


class _StatsSink:
    """Implements the SDK's ``ProcessorMetricsT`` protocol on top of :class:`ExporterStats`."""

    def __init__(self, stats: ExporterStats) -> None:
        self._stats = stats

    def register_queue_size(self, get_queue_size: Callable[[], int]) -> None:
        self._stats.add_queue_probe(get_queue_size)

    def drop_items(self, count: int, error_type: str = "queue_full") -> None:
        self._stats.drop(error_type, count)

    def finish_items(self, count: int) -> None:
        pass


def _hook(processor: BatchSpanProcessor | BatchLogRecordProcessor, stats: ExporterStats) -> None:
    inner = processor._batch_processor
    sink = _StatsSink(stats)
    inner._metrics = sink
    queue = inner._queue
    sink.register_queue_size(lambda: len(queue))


def _export_counted(exporter: Any, batch: Sequence[Any], stats: ExporterStats, success: Any, failure: Any) -> Any:
    started = time.monotonic()
    try:
        result = exporter.export(batch)
    except Exception:  # a third-party exporter that raises: counted, never raised into the worker
        result = failure
    stats.observe_latency(time.monotonic() - started)
    stats.add("sent" if result == success else "failed", len(batch))
    return result


class CountedSpanExporter(SpanExporter):
    """Counts what a plain SDK span exporter (console, OTLP …) delivered or failed, and its latency."""

    def __init__(self, exporter: SpanExporter, stats: ExporterStats) -> None:
        self._exporter = exporter
        self._stats = stats

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        return _export_counted(  # type: ignore[no-any-return]
            self._exporter, spans, self._stats, SpanExportResult.SUCCESS, SpanExportResult.FAILURE
        )

    def shutdown(self) -> None:
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporter.force_flush(timeout_millis)


class CountedLogExporter(LogRecordExporter):
    """Counts what a plain SDK log exporter delivered or failed, and its latency."""

    def __init__(self, exporter: LogRecordExporter, stats: ExporterStats) -> None:
        self._exporter = exporter
        self._stats = stats

    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        return _export_counted(  # type: ignore[no-any-return]
            self._exporter, batch, self._stats, LogRecordExportResult.SUCCESS, LogRecordExportResult.FAILURE
        )

    def shutdown(self) -> None:
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return bool(self._exporter.force_flush(timeout_millis))


class CountingBatchSpanProcessor(BatchSpanProcessor):
    """``BatchSpanProcessor`` whose queue length and drops show in ``stats``."""

    def __init__(self, exporter: SpanExporter, options: BatchOptions, stats: ExporterStats) -> None:
        super().__init__(
            exporter,
            max_queue_size=options.max_queue_size,
            max_export_batch_size=min(options.max_export_batch_size, options.max_queue_size),
            schedule_delay_millis=options.schedule_delay_ms,
            export_timeout_millis=options.export_timeout_ms,
        )
        _hook(self, stats)


class CountingBatchLogProcessor(BatchLogRecordProcessor):
    """``BatchLogRecordProcessor`` with stats, and an optional severity floor checked before queueing."""

    def __init__(
        self,
        exporter: LogRecordExporter,
        options: BatchOptions,
        stats: ExporterStats,
        min_severity: int | None = None,
    ) -> None:
        super().__init__(
            exporter,
            max_queue_size=options.max_queue_size,
            max_export_batch_size=min(options.max_export_batch_size, options.max_queue_size),
            schedule_delay_millis=options.schedule_delay_ms,
            export_timeout_millis=options.export_timeout_ms,
        )
        self._min_severity = min_severity
        if min_severity is None:
            # No floor: the SDK's own on_emit, without an extra call on the app's thread.
            self.on_emit = BatchLogRecordProcessor.on_emit.__get__(self)  # type: ignore[method-assign]
        _hook(self, stats)

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        floor = self._min_severity
        if floor is not None:
            number = log_record.log_record.severity_number
            if number is None or number.value < floor:
                return
        super().on_emit(log_record)
