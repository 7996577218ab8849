"""Exporter type ``prometheus``: OTel metrics on a Prometheus pull endpoint.

Importing this package does not import ``prometheus_client``; :data:`SPEC` builds lazily.
Mount the endpoint into an existing app with :func:`wsgi_app` / :func:`asgi_app` (``serve: none``).
"""

from __future__ import annotations

from typing import Any

from otel_bridge.exporters.base import BuildContext, ExporterSpec
from otel_bridge.exporters.prometheus.options import PrometheusOptions

__all__ = ["SPEC", "PrometheusOptions", "asgi_app", "check", "wsgi_app"]

EXPONENTIAL_TYPES = frozenset({"base2_exponential_bucket_histogram", "exponential_bucket_histogram"})


def _build(ctx: BuildContext) -> Any:
    from otel_bridge.exporters.prometheus.factory import build_reader

    limit = getattr(ctx, "cardinality_limit", None)
    limits = None
    if limit:
        from otel_bridge.config.views import cardinality_limits

        limits = cardinality_limits(limit)
    return build_reader(ctx.options, ctx.stats, name=ctx.name, config_dir=ctx.config_dir, cardinality_limits=limits)


def _describe(options: PrometheusOptions) -> str:
    if options.serve == "none":
        where = "mounted via wsgi_app()/asgi_app()"
    else:
        scheme = "https" if options.certfile else "http"
        where = f"{scheme}://{options.host}:{options.port}{options.path}"
    extras = [x for x in ("basic auth" if options.basic_auth else "", _mp_label(options)) if x]
    return where + (f" ({', '.join(extras)})" if extras else "")


def _mp_label(options: PrometheusOptions) -> str:
    return {True: "multiprocess", False: "", "auto": ""}.get(options.multiprocess, "")  # type: ignore[arg-type]


def check(config: Any, name: str) -> list[tuple[str, str]]:
    """Config-time checks: an exponential-histogram view cannot be served by this exporter.

    Views apply to the whole MeterProvider, so with a Prometheus reader every metric they select
    would reach the text exposition, which has no native histograms. Rejecting beats converting:
    converted buckets move whenever the histogram's scale changes, which breaks ``rate()`` and
    ``histogram_quantile()``. (If one arrives anyway, the reader still converts it; see docs.)
    """
    problems: list[tuple[str, str]] = []
    metrics = getattr(config, "metrics", None)
    views = getattr(metrics, "views", None) or []
    for i, view in enumerate(views):
        aggregation = getattr(view, "aggregation", None)
        kind = aggregation if isinstance(aggregation, str) else getattr(aggregation, "type", None)
        if kind in EXPONENTIAL_TYPES:
            selector = getattr(view, "instrument_name", None) or getattr(view, "instrument_type", None) or "?"
            problems.append(
                (
                    f"metrics.views[{i}].aggregation.type",
                    f"'{kind}' (for {selector!s}) cannot be served by prometheus exporter '{name}': the "
                    "Prometheus text format has no exponential histograms. Use 'explicit_bucket_histogram' "
                    "with 'boundaries', or route this metric through an 'otlp' exporter only",
                )
            )
    return problems


def wsgi_app(bridge: Any = None, *, name: str | None = None) -> Any:
    """A WSGI app serving the metrics of ``bridge`` (or of the newest prometheus exporter), any path.

    Mount it in Flask/Django/etc. with ``serve: none`` in the YAML; basic auth still applies.
    """
    from otel_bridge.exporters.prometheus.factory import find_reader
    from otel_bridge.exporters.prometheus.server import make_app

    return make_app(lambda: find_reader(bridge, name))


def asgi_app(bridge: Any = None, *, name: str | None = None) -> Any:
    """The ASGI counterpart of :func:`wsgi_app` (Starlette/FastAPI ``app.mount("/metrics", ...)``)."""
    from otel_bridge.exporters.prometheus.factory import find_reader
    from otel_bridge.exporters.prometheus.server import make_asgi

    return make_asgi(lambda: find_reader(bridge, name))


SPEC = ExporterSpec(
    type="prometheus",
    signals=frozenset({"metrics"}),
    options=PrometheusOptions,
    build=_build,
    extra="prometheus",
    requires=("prometheus_client", "opentelemetry.exporter.prometheus"),
    describe=_describe,
    check=check,
)
