"""Logs → Elasticsearch: the ``elasticsearch`` exporter type.

Importing this package does not import the ``elasticsearch`` client; ``build`` does.
"""

from __future__ import annotations

from typing import Any

from otel_bridge.exporters.base import BuildContext, ExporterSpec
from otel_bridge.exporters.elasticsearch.options import ElasticsearchOptions, describe

__all__ = ["SPEC", "ElasticsearchOptions"]


def build(ctx: BuildContext) -> Any:
    """An :class:`ElasticsearchLogProcessor` (own bounded queue and sender thread) for ``ctx``."""
    from otel_bridge.exporters.elasticsearch.exporter import ElasticsearchLogProcessor
    from otel_bridge.exporters.elasticsearch.pipeline import Pipeline

    options: ElasticsearchOptions = ctx.options
    if not ctx.stats.target:
        ctx.stats.target = describe(options)
    pipeline = Pipeline(options, ctx.stats, ctx.name)
    return ElasticsearchLogProcessor(pipeline, options.batch, options.shutdown_timeout)


SPEC = ExporterSpec(
    type="elasticsearch",
    signals=frozenset({"logs"}),
    options=ElasticsearchOptions,
    build=build,
    extra="elasticsearch",
    requires=("elasticsearch",),
    describe=describe,
)
