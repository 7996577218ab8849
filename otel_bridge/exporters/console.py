"""``console``: the SDK's console exporters, for development and the first run."""

from __future__ import annotations

import sys
from typing import Any, Literal

from pydantic import Field

from otel_bridge.exporters.base import BuildContext, ExporterOptions, ExporterSpec


class ConsoleOptions(ExporterOptions):
    stream: Literal["stdout", "stderr"] = "stdout"
    interval_ms: float = Field(60000, gt=0, description="Metric export interval.")


def _build(ctx: BuildContext) -> Any:
    options: ConsoleOptions = ctx.options
    out = sys.stdout if options.stream == "stdout" else sys.stderr
    if ctx.signal == "traces":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter(out=out)
    if ctx.signal == "logs":
        from opentelemetry.sdk._logs.export import ConsoleLogRecordExporter

        return ConsoleLogRecordExporter(out=out)
    from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

    return ConsoleMetricExporter(out=out)


SPEC = ExporterSpec(
    type="console",
    signals=frozenset({"traces", "logs", "metrics"}),
    options=ConsoleOptions,
    build=_build,
    describe=lambda options: options.stream,
)
