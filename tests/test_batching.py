"""The batch processors report their queue and every drop into the exporter's stats."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_bridge._internal.batching import CountingBatchSpanProcessor
from otel_bridge._internal.stats import ExporterStats
from otel_bridge.exporters.base import BatchOptions


class BlockedExporter(SpanExporter):
    def __init__(self) -> None:
        self.release = threading.Event()
        self.exported = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.release.wait(10)
        self.exported += len(spans)
        return SpanExportResult.SUCCESS


def test_queue_full_drops_are_counted_and_queue_is_visible() -> None:
    stats = ExporterStats("blocked", "test")
    exporter = BlockedExporter()
    processor = CountingBatchSpanProcessor(
        exporter, BatchOptions(max_queue_size=10, max_export_batch_size=10, schedule_delay_ms=60000), stats
    )
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")
    for i in range(25):
        tracer.start_span(f"s{i}").end()
    # The worker may have taken one batch of 10 off the queue; everything beyond capacity is counted.
    dropped = stats.dropped().get("queue_full", 0)
    assert dropped + stats.queued() + exporter.exported <= 25
    assert dropped >= 5
    assert stats.snapshot()["dropped"] == dropped
    exporter.release.set()
    provider.shutdown()
