"""``type: sentry``: spans → transactions, exceptions and ERROR+ records → linked error events.

Importing this package does not import ``sentry_sdk``; :func:`build_component` does, lazily.
"""

from __future__ import annotations

from typing import Any

from otel_bridge._internal.redact import redact_url
from otel_bridge.exporters.base import BuildContext, ExporterSpec
from otel_bridge.exporters.sentry.options import EnvelopeFileOptions, SentryOptions

__all__ = ["SPEC", "EnvelopeFileOptions", "SentryOptions", "build_component"]


def build_component(ctx: BuildContext) -> Any:
    """A span processor (traces) or a log processor (logs) for ``ctx``; shares one sink per target."""
    from otel_bridge.exporters.sentry.exporter import (
        SentryLogExporter,
        SentryLogProcessor,
        SentrySpanExporter,
        SentrySpanProcessor,
        build_pipeline,
    )

    options = ctx.options
    timeout_s = options.batch.export_timeout_ms / 1000
    pipeline = build_pipeline(options, ctx.stats, ctx.shared, ctx.config_dir, name=ctx.name)
    if ctx.signal == "traces":
        return SentrySpanProcessor(SentrySpanExporter(pipeline, shutdown_timeout_s=timeout_s), options.batch, ctx.stats)
    if ctx.signal == "logs":
        exporter = SentryLogExporter(pipeline, shutdown_timeout_s=timeout_s)
        return SentryLogProcessor(exporter, options.batch, ctx.stats)
    raise ValueError(f"the {options.type or 'sentry'} exporter does not handle {ctx.signal}")


def _describe(options: SentryOptions) -> str:
    return f"sentry {redact_url(options.dsn.get_secret_value())}"


SPEC = ExporterSpec(
    type="sentry",
    signals=frozenset({"traces", "logs"}),
    options=SentryOptions,
    build=build_component,
    extra="sentry",
    requires=("sentry_sdk",),
    describe=_describe,
)
