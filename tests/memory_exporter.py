"""An in-memory exporter type for tests: ``memory`` keeps what it receives per entry name."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_bridge.exporters.base import BuildContext, ExporterOptions, ExporterSpec

INSTANCES: dict[str, dict[str, Any]] = {}


class MemoryOptions(ExporterOptions):
    pass


def _build(ctx: BuildContext) -> Any:
    made: Any
    if ctx.signal == "traces":
        made = InMemorySpanExporter()
    elif ctx.signal == "logs":
        made = InMemoryLogRecordExporter()
    else:
        made = InMemoryMetricReader()
    INSTANCES.setdefault(ctx.name, {})[ctx.signal] = made
    return made


SPEC = ExporterSpec(
    type="memory",
    signals=frozenset({"traces", "logs", "metrics"}),
    options=MemoryOptions,
    build=_build,
    describe=lambda options: "in memory",
)


def memory_config(**sections: Any) -> dict[str, Any]:
    """A configuration routing every signal to one ``memory`` exporter named ``mem``."""
    config: dict[str, Any] = {
        "service": {"name": "test-service"},
        "traces": {"exporters": ["mem"]},
        "logs": {"level": "INFO", "exporters": ["mem"]},
        "metrics": {"exporters": ["mem"]},
        "exporters": {"mem": {"type": "memory", "batch": {"schedule_delay_ms": 60000}}},
    }
    config.update(sections)
    return config
