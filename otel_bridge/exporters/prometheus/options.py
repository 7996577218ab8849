"""The ``prometheus`` exporter entry of the YAML, validated without importing ``prometheus_client``."""

from __future__ import annotations

import itertools
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from otel_bridge.exporters.base import ExporterOptions, StrictModel

# Bucket boundaries by instrument unit, used for histograms that have neither a view nor an advisory.
# Seconds: the OTel semantic-conventions advisory for ``http.server.request.duration``.
SECONDS_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
# Milliseconds: the SDK's own default (it is sized for ms).
MILLISECONDS_BUCKETS: tuple[float, ...] = (0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000)
# Bytes: powers of four from 64 B to 64 MiB.
BYTES_BUCKETS: tuple[float, ...] = tuple(float(64 * 4**i) for i in range(11))

DEFAULT_UNIT_BUCKETS: dict[str, list[float]] = {
    "s": list(SECONDS_BUCKETS),
    "ms": list(MILLISECONDS_BUCKETS),
    "By": list(BYTES_BUCKETS),
}


class BasicAuth(StrictModel):
    """HTTP basic authentication required by the metrics endpoint."""

    username: str = Field(..., min_length=1)
    password: SecretStr


class PrometheusOptions(ExporterOptions):
    """Options of an exporter of type ``prometheus`` (a pull endpoint; ``batch`` is unused)."""

    host: str = Field("localhost", description="Interface the endpoint binds (OTel's default: localhost).")
    port: int = Field(9464, ge=0, le=65535, description="TCP port; 0 picks a free one (tests).")
    path: str = Field("/metrics", description="URL path of the endpoint on its own port.")
    serve: Literal["port", "none"] = Field(
        "port", description="'port': own HTTP server; 'none': mount wsgi_app()/asgi_app() in your app."
    )
    certfile: str | None = Field(None, description="PEM certificate: serve HTTPS.")
    keyfile: str | None = Field(None, description="PEM private key of certfile (if not inside it).")
    basic_auth: BasicAuth | None = None
    target_info: bool = Field(True, description="Publish the resource as target_info.")
    scope_labels: bool = Field(True, description="Add otel_scope_name/otel_scope_version labels.")
    resource_constant_labels: list[str] = Field(
        default_factory=list, description="Resource attribute keys copied as labels onto every series."
    )
    prefix: str = Field("", description="Prepended (with '_') to every metric name.")
    unit_buckets: dict[str, list[float]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_UNIT_BUCKETS.items()},
        description="Default histogram boundaries by instrument unit (views and advisories win).",
    )
    multiprocess: bool | Literal["auto"] = Field(
        "auto", description="Aggregate forked workers on one endpoint; 'auto' = on under gunicorn."
    )
    multiprocess_dir: str | None = Field(None, description="Shared snapshot directory (default: tmp, per port).")
    multiprocess_interval_ms: float = Field(1000, gt=0, description="How often each worker writes its snapshot.")
    multiprocess_gauge: Literal["pid", "sum", "max", "min"] = Field(
        "pid", description="Gauges across workers: one series per pid, or aggregated."
    )

    @field_validator("path")
    @classmethod
    def _absolute_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with '/'")
        return value

    @field_validator("unit_buckets")
    @classmethod
    def _increasing(cls, value: dict[str, list[float]]) -> dict[str, list[float]]:
        for unit, bounds in value.items():
            if any(b <= a for a, b in itertools.pairwise(bounds)):
                raise ValueError(f"boundaries for unit {unit!r} must be strictly increasing")
        return value

    @model_validator(mode="after")
    def _tls_pair(self) -> PrometheusOptions:
        if self.keyfile and not self.certfile:
            raise ValueError("keyfile needs certfile")
        return self
