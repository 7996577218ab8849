"""``otlp``: the SDK's OTLP exporters (http/protobuf or grpc), the path to a Collector."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SecretStr

from otel_bridge._internal.redact import redact_url
from otel_bridge.exporters.base import BuildContext, ExporterOptions, ExporterSpec

_HTTP_PATHS = {"traces": "/v1/traces", "logs": "/v1/logs", "metrics": "/v1/metrics"}


class OtlpOptions(ExporterOptions):
    endpoint: str = Field("http://localhost:4318", description="Base URL; http adds /v1/<signal>.")
    protocol: Literal["http/protobuf", "grpc"] = "http/protobuf"
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    timeout_s: float = Field(10.0, gt=0)
    compression: Literal["none", "gzip"] = "none"
    insecure: bool | None = Field(None, description="grpc only: plaintext; default from the URL scheme.")
    interval_ms: float = Field(60000, gt=0, description="Metric export interval.")


def _build(ctx: BuildContext) -> Any:
    options: OtlpOptions = ctx.options
    headers = {k: v.get_secret_value() for k, v in options.headers.items()} or None
    if options.protocol == "grpc":
        return _build_grpc(ctx.signal, options, headers)
    from opentelemetry.exporter.otlp.proto.http import Compression

    compression = Compression.Gzip if options.compression == "gzip" else Compression.NoCompression
    endpoint = options.endpoint.rstrip("/") + _HTTP_PATHS[ctx.signal]
    common: dict[str, Any] = {
        "endpoint": endpoint,
        "headers": headers,
        "timeout": options.timeout_s,
        "compression": compression,
    }
    if ctx.signal == "traces":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(**common)
    if ctx.signal == "logs":
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

        return OTLPLogExporter(**common)
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter(**common)


def _build_grpc(signal: str, options: OtlpOptions, headers: dict[str, str] | None) -> Any:
    from grpc import Compression as GrpcCompression

    insecure = options.insecure if options.insecure is not None else options.endpoint.startswith("http://")
    common: dict[str, Any] = {
        "endpoint": options.endpoint,
        "headers": headers,
        "timeout": options.timeout_s,
        "insecure": insecure,
        "compression": GrpcCompression.Gzip if options.compression == "gzip" else GrpcCompression.NoCompression,
    }
    if signal == "traces":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(**common)
    if signal == "logs":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

        return OTLPLogExporter(**common)
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter(**common)


def _check(config: Any, name: str) -> list[tuple[str, str]]:
    import importlib.util

    options: OtlpOptions = config.resolved[name][1]
    if options.protocol == "grpc" and importlib.util.find_spec("opentelemetry.exporter.otlp.proto.grpc") is None:
        return [
            (
                f"exporters.{name}.protocol",
                "grpc needs opentelemetry-exporter-otlp-proto-grpc, which is missing: pip install 'otel-bridge[grpc]'",
            )
        ]
    return []


SPEC = ExporterSpec(
    type="otlp",
    signals=frozenset({"traces", "logs", "metrics"}),
    options=OtlpOptions,
    build=_build,
    requires=("opentelemetry.exporter.otlp.proto.http",),
    describe=lambda options: f"{options.protocol} {redact_url(options.endpoint)}",
    check=_check,
)
